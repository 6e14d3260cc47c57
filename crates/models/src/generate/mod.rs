//! Text generation behind one trait, [`TextGenerator`], with two backends:
//! [`llama::LlamaGenerator`] runs a local GGUF model through llama.cpp and
//! [`openai::OpenAiGenerator`] calls an OpenAI-compatible
//! `/v1/chat/completions` endpoint (llama.cpp server, vLLM, Ollama, hosted
//! APIs).
//!
//! Both stream: the callback receives each piece of text as soon as it is
//! known not to be part of a stop string.

#[cfg(feature = "llama")]
pub mod llama;
pub mod openai;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use crate::{ModelError, Result};

/// Options of one generation request.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub prompt: String,
    /// Maximum number of generated tokens.
    pub max_tokens: usize,
    /// Sampling temperature; 0 picks the most likely token every step.
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest token set whose probability sum
    /// reaches `top_p` (1.0 keeps all).
    pub top_p: f32,
    /// Seed of the sampler; the same seed and options give the same text.
    pub seed: u32,
    /// Generation ends before the first occurrence of any of these strings.
    pub stop: Vec<String>,
    /// Wrap the prompt in the model's chat template when it has one.
    pub use_chat_template: bool,
    /// Earlier turns of a conversation, oldest first; `prompt` is the user
    /// turn that follows them.
    pub history: Vec<ChatMessage>,
    /// Set to true to stop the generation early, for example when the
    /// client that asked for it has gone.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    /// Roles a conversation may contain.
    pub const ROLES: [&'static str; 3] = ["system", "user", "assistant"];
}

impl GenerateRequest {
    /// A request with the defaults of `mercator generate`.
    pub fn new(prompt: impl Into<String>) -> Self {
        GenerateRequest {
            prompt: prompt.into(),
            max_tokens: 128,
            temperature: 0.8,
            top_p: 0.95,
            seed: 42,
            stop: Vec::new(),
            use_chat_template: true,
            history: Vec::new(),
            cancel: None,
        }
    }

    /// Tells whether the caller asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    /// Rejects an empty prompt and out-of-range sampling options.
    pub fn validate(&self) -> Result<()> {
        if self.prompt.trim().is_empty() {
            return Err(ModelError::EmptyPrompt);
        }
        if self.max_tokens == 0 {
            return Err(ModelError::InvalidOption(
                "max tokens must be at least 1".into(),
            ));
        }
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(ModelError::InvalidOption(format!(
                "temperature must be 0 or more, got {}",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ModelError::InvalidOption(format!(
                "top-p must be in (0, 1], got {}",
                self.top_p
            )));
        }
        if let Some(message) = self
            .history
            .iter()
            .find(|m| !ChatMessage::ROLES.contains(&m.role.as_str()))
        {
            return Err(ModelError::InvalidOption(format!(
                "message role {:?} is not one of system, user, assistant",
                message.role
            )));
        }
        if self.stop.iter().any(String::is_empty) {
            return Err(ModelError::InvalidOption(
                "stop strings must not be empty".into(),
            ));
        }
        Ok(())
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A stop string was generated (it is not part of the text).
    Stop,
    /// The model produced its end-of-text token.
    EndOfText,
    /// `max_tokens` tokens were generated.
    Length,
    /// The caller cancelled the request.
    Cancelled,
}

/// Result of one request.
#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    pub text: String,
    pub finish_reason: FinishReason,
    /// Tokens in the prompt after templating; 0 when the backend does not report it.
    pub prompt_tokens: usize,
    /// Tokens generated, including those of a stop string.
    pub output_tokens: usize,
    /// Time to process the prompt in seconds.
    pub prompt_seconds: f64,
    /// Time to generate the output in seconds.
    pub output_seconds: f64,
}

/// A backend that turns a prompt into text.
pub trait TextGenerator {
    /// Checks that `request` can run: valid options, and for local models a
    /// prompt and output that fit the context. Costs no generation.
    fn check(&self, request: &GenerateRequest) -> Result<()> {
        request.validate()
    }

    /// Generates text for `request`, calling `on_text` with each new piece.
    fn generate(
        &mut self,
        request: &GenerateRequest,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation>;
}

/// Scores how well a text fits after a prompt, token by token, without
/// generating. Local models implement it; chat-completions endpoints do not
/// return the log-probabilities of given text.
pub trait TokenScorer {
    /// Natural-log probability of each token of `continuation` after
    /// `prompt`; empty for an empty continuation.
    fn continuation_logprobs(&self, prompt: &str, continuation: &str) -> Result<Vec<f32>>;
}

/// Tracks generated text against stop strings while streaming.
///
/// Text that could still turn out to be the start of a stop string is held
/// back until the next piece decides it.
#[derive(Debug)]
pub struct StopMatcher {
    stops: Vec<String>,
    text: String,
    emitted: usize,
    stopped: bool,
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> Self {
        StopMatcher {
            stops: stops.to_vec(),
            text: String::new(),
            emitted: 0,
            stopped: false,
        }
    }

    /// Adds a piece of output. Returns the text now safe to show and whether
    /// a stop string was found (after which further pieces are ignored).
    pub fn push(&mut self, piece: &str) -> (String, bool) {
        if self.stopped {
            return (String::new(), true);
        }
        self.text.push_str(piece);

        let first_stop = self
            .stops
            .iter()
            .filter_map(|stop| self.text.find(stop.as_str()))
            .min();
        if let Some(position) = first_stop {
            self.text.truncate(position);
            self.stopped = true;
            return (self.take_until(position), true);
        }

        let safe_end = self.text.len() - self.held_back_len();
        (self.take_until(safe_end), false)
    }

    /// Returns the text not yet shown; call once generation ends.
    pub fn finish(&mut self) -> String {
        let end = self.text.len();
        self.take_until(end)
    }

    /// The whole output so far, without any stop string.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Length of the longest suffix of the text that is a proper prefix of
    /// a stop string.
    fn held_back_len(&self) -> usize {
        let mut longest = 0;
        for stop in &self.stops {
            for (boundary, _) in stop.char_indices().skip(1) {
                if boundary > longest && self.text.ends_with(&stop[..boundary]) {
                    longest = boundary;
                }
            }
        }
        longest
    }

    fn take_until(&mut self, end: usize) -> String {
        if end <= self.emitted {
            return String::new();
        }
        let piece = self.text[self.emitted..end].to_string();
        self.emitted = end;
        piece
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut matcher = StopMatcher::new(&stops);
        let mut streamed = String::new();
        let mut stopped = false;
        for piece in pieces {
            let (shown, hit) = matcher.push(piece);
            streamed.push_str(&shown);
            if hit {
                stopped = true;
                break;
            }
        }
        streamed.push_str(&matcher.finish());
        (streamed, matcher.text().to_string(), stopped)
    }

    #[test]
    fn stop_split_across_pieces_is_cut() {
        let (streamed, text, stopped) = run(&["\n\n"], &["Hello", "\n", "\nWorld"]);
        assert_eq!(text, "Hello");
        assert_eq!(streamed, "Hello");
        assert!(stopped);
    }

    #[test]
    fn partial_stop_prefix_is_released() {
        let (streamed, _, stopped) = run(&["END"], &["a E", "N", "x"]);
        assert_eq!(streamed, "a ENx");
        assert!(!stopped);
    }

    #[test]
    fn earliest_stop_wins() {
        let (_, text, _) = run(&["b", "a"], &["xab"]);
        assert_eq!(text, "x");
    }

    #[test]
    fn empty_prompt_is_rejected() {
        let request = GenerateRequest::new("   ");
        assert!(matches!(request.validate(), Err(ModelError::EmptyPrompt)));
    }

    #[test]
    fn top_p_above_one_is_rejected() {
        let mut request = GenerateRequest::new("hi");
        request.top_p = 1.5;
        assert!(request.validate().is_err());
    }
}
