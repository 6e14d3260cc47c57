//! Local GGUF models through llama.cpp (`llama-cpp-2` crate).
//!
//! The model is loaded once; every request gets a fresh context of
//! [`LlamaGenerator::context_tokens`] tokens, so requests never see each
//! other's state. Works the same for base models (which continue the text)
//! and instruction-tuned ones (whose GGUF carries a chat template that is
//! applied to the prompt).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tracing::{debug, warn};

use super::{FinishReason, GenerateRequest, Generation, StopMatcher, TextGenerator, TokenScorer};
use crate::{ModelError, Result};

/// Context size when the caller sets none, capped by the model's training
/// context.
pub const DEFAULT_CONTEXT_TOKENS: u32 = 4096;

/// Tokens decoded per `llama_decode` call while reading the prompt.
const PROMPT_BATCH_TOKENS: usize = 512;

/// llama.cpp's backend may be initialized once per process.
fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    let backend = BACKEND.get_or_init(|| {
        llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
        LlamaBackend::init().map_err(|err| err.to_string())
    });
    backend
        .as_ref()
        .map_err(|reason| ModelError::Generation(format!("llama.cpp backend: {reason}")))
}

/// A GGUF model loaded with llama.cpp.
pub struct LlamaGenerator {
    model: LlamaModel,
    path: PathBuf,
    context_tokens: u32,
    threads: Option<i32>,
}

impl LlamaGenerator {
    /// Loads the single `.gguf` file of the model folder `dir` (or `dir`
    /// itself when it is a GGUF file).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = find_gguf(dir)?;
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default())
            .map_err(|err| ModelError::Load {
                path: path.clone(),
                reason: format!("llama.cpp could not read the GGUF file ({err}); it may be truncated or corrupt, run `mercator models verify`"),
            })?;
        let context_tokens = DEFAULT_CONTEXT_TOKENS.min(model.n_ctx_train().max(1));
        debug!(path = %path.display(), context_tokens, "GGUF model loaded");
        Ok(LlamaGenerator {
            model,
            path,
            context_tokens,
            threads: None,
        })
    }

    /// Sets the context size in tokens (prompt plus output), capped by the
    /// model's training context.
    pub fn with_context_tokens(mut self, tokens: u32) -> Self {
        let trained = self.model.n_ctx_train().max(16);
        self.context_tokens = tokens.clamp(16, trained);
        if self.context_tokens != tokens {
            warn!(
                requested = tokens,
                used = self.context_tokens,
                "context size is outside what the model supports; using the nearest allowed size"
            );
        }
        self
    }

    /// Sets the number of CPU threads (llama.cpp's default when unset).
    pub fn with_threads(mut self, threads: i32) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Context size of each request in tokens.
    pub fn context_tokens(&self) -> u32 {
        self.context_tokens
    }

    /// Returns true when the GGUF file carries a chat template.
    pub fn has_chat_template(&self) -> bool {
        self.model.chat_template(None).is_ok()
    }

    /// Path of the loaded GGUF file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tokenizes `request.prompt`, through the chat template when requested
    /// and available.
    pub fn prompt_tokens(&self, request: &GenerateRequest) -> Result<Vec<LlamaToken>> {
        let template = if request.use_chat_template {
            self.model.chat_template(None).ok()
        } else {
            None
        };
        let tokens = match template {
            Some(template) => {
                let turns = request
                    .history
                    .iter()
                    .map(|m| (m.role.as_str(), m.content.as_str()))
                    .chain([("user", request.prompt.as_str())]);
                let messages = turns
                    .map(|(role, content)| {
                        LlamaChatMessage::new(role.into(), content.into())
                            .map_err(|err| ModelError::Generation(err.to_string()))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let text = self
                    .model
                    .apply_chat_template(&template, &messages, true)
                    .map_err(|err| ModelError::Generation(format!("chat template: {err}")))?;
                let mut tokens = self.model.vocab().tokenize(text.as_bytes(), true, true);
                // Templates usually start with the BOS token, which add_special adds again.
                let bos = self.model.vocab().bos();
                if tokens.len() >= 2 && tokens[0] == bos && tokens[1] == bos {
                    tokens.remove(0);
                }
                tokens
            }
            None => {
                // Without a template the turns are read as one text, in order.
                let mut text = String::new();
                for message in &request.history {
                    text.push_str(&message.content);
                    text.push_str("\n\n");
                }
                text.push_str(&request.prompt);
                self.model.vocab().tokenize(text.as_bytes(), true, false)
            }
        };
        Ok(tokens)
    }

    /// Tokenizes the prompt and checks that it and the output fit the context.
    fn fitting_prompt(&self, request: &GenerateRequest) -> Result<Vec<LlamaToken>> {
        let prompt = self.prompt_tokens(request)?;
        let context_tokens = self.context_tokens as usize;
        if prompt.len() + request.max_tokens > context_tokens {
            return Err(ModelError::ContextExceeded {
                prompt_tokens: prompt.len(),
                max_tokens: request.max_tokens,
                context_tokens,
            });
        }
        Ok(prompt)
    }

    fn sampler(&self, request: &GenerateRequest) -> LlamaSampler {
        if request.temperature == 0.0 {
            return LlamaSampler::greedy();
        }
        LlamaSampler::chain_simple([
            LlamaSampler::top_p(request.top_p, 1),
            LlamaSampler::temp(request.temperature),
            LlamaSampler::dist(request.seed),
        ])
    }

    /// Creates a context of `context_tokens` tokens that decodes up to
    /// `batch_tokens` tokens per call.
    fn new_context(&self, context_tokens: u32, batch_tokens: u32) -> Result<LlamaContext<'_>> {
        let mut params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(context_tokens))
            .with_n_batch(batch_tokens)
            .with_n_ubatch(batch_tokens);
        if let Some(threads) = self.threads {
            params = params.with_n_threads(threads).with_n_threads_batch(threads);
        }
        self.model
            .new_context(backend()?, params)
            .map_err(|err| failed("creating the context", &err))
    }
}

impl TokenScorer for LlamaGenerator {
    /// Forced decoding of `continuation` after `prompt`, in one batch. The
    /// two texts are tokenized apart, so the continuation's first token
    /// starts at its first character.
    fn continuation_logprobs(&self, prompt: &str, continuation: &str) -> Result<Vec<f32>> {
        let vocab = self.model.vocab();
        let mut tokens = vocab.tokenize(prompt.as_bytes(), true, false);
        let prompt_len = tokens.len();
        if prompt_len == 0 {
            return Err(ModelError::Generation(
                "the prompt to score after is empty".into(),
            ));
        }
        let wanted = vocab.tokenize(continuation.as_bytes(), false, false);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        tokens.extend_from_slice(&wanted);
        if tokens.len() > self.context_tokens as usize {
            return Err(ModelError::Generation(format!(
                "the text to score has {} tokens, more than the context of {} tokens",
                tokens.len(),
                self.context_tokens
            )));
        }
        let batch_tokens = tokens.len();
        // The KV cache only needs to hold this text.
        let context_tokens = batch_tokens.next_multiple_of(256) as u32;
        let mut context = self.new_context(context_tokens, batch_tokens as u32)?;
        let mut batch = LlamaBatch::new(batch_tokens, 1);
        for (position, token) in tokens.iter().enumerate() {
            // Logits at position p predict token p + 1.
            let wants_logits = position + 1 >= prompt_len && position + 1 < tokens.len();
            batch
                .add(*token, position as i32, &[0], wants_logits)
                .map_err(|err| failed("building the batch", &err))?;
        }
        context
            .decode(&mut batch)
            .map_err(|err| failed("reading the text", &err))?;
        let logprobs = wanted
            .iter()
            .enumerate()
            .map(|(i, token)| {
                let logits = context.get_logits_ith((prompt_len - 1 + i) as i32);
                log_softmax_at(logits, token.0 as usize)
            })
            .collect();
        Ok(logprobs)
    }
}

fn failed(what: &str, err: &dyn std::fmt::Display) -> ModelError {
    ModelError::Generation(format!("{what}: {err}"))
}

/// ln softmax(logits)[index], computed stably.
fn log_softmax_at(logits: &[f32], index: usize) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    (f64::from(logits[index] - max) - sum.ln()) as f32
}

impl TextGenerator for LlamaGenerator {
    fn check(&self, request: &GenerateRequest) -> Result<()> {
        request.validate()?;
        self.fitting_prompt(request).map(drop)
    }

    fn generate(
        &mut self,
        request: &GenerateRequest,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        request.validate()?;
        let prompt = self.fitting_prompt(request)?;

        let mut context = self.new_context(self.context_tokens, PROMPT_BATCH_TOKENS as u32)?;

        // Read the prompt in batches; only its last token needs logits.
        let prompt_start = Instant::now();
        let mut batch = LlamaBatch::new(PROMPT_BATCH_TOKENS, 1);
        let n_chunks = prompt.len().div_ceil(PROMPT_BATCH_TOKENS);
        for (chunk_idx, chunk) in prompt.chunks(PROMPT_BATCH_TOKENS).enumerate() {
            batch.clear();
            let is_last_chunk = chunk_idx + 1 == n_chunks;
            for (offset, token) in chunk.iter().enumerate() {
                let position = (chunk_idx * PROMPT_BATCH_TOKENS + offset) as i32;
                let wants_logits = is_last_chunk && offset + 1 == chunk.len();
                batch
                    .add(*token, position, &[0], wants_logits)
                    .map_err(|err| failed("building the prompt batch", &err))?;
            }
            context
                .decode(&mut batch)
                .map_err(|err| failed("reading the prompt", &err))?;
        }
        let prompt_seconds = prompt_start.elapsed().as_secs_f64();

        let output_start = Instant::now();
        let mut sampler = self.sampler(request);
        let mut matcher = StopMatcher::new(&request.stop);
        let mut utf8 = Utf8Buffer::default();
        let mut position = prompt.len() as i32;
        let mut output_tokens = 0;
        let mut finish_reason = FinishReason::Length;
        while output_tokens < request.max_tokens {
            if request.is_cancelled() {
                finish_reason = FinishReason::Cancelled;
                break;
            }
            let token = sampler.sample(&context, batch.n_tokens() - 1);
            sampler.accept(token);
            output_tokens += 1;
            if self.model.vocab().is_eog(token) {
                finish_reason = FinishReason::EndOfText;
                break;
            }

            let bytes = self.model.vocab().token_to_piece(token, false, None);
            let (shown, stopped) = matcher.push(&utf8.push(&bytes));
            if !shown.is_empty() {
                on_text(&shown);
            }
            if stopped {
                finish_reason = FinishReason::Stop;
                break;
            }

            batch.clear();
            batch
                .add(token, position, &[0], true)
                .map_err(|err| failed("building the output batch", &err))?;
            position += 1;
            context
                .decode(&mut batch)
                .map_err(|err| failed("generating", &err))?;
        }
        if finish_reason != FinishReason::Stop {
            let (shown, _) = matcher.push(&utf8.finish());
            let rest = shown + &matcher.finish();
            if !rest.is_empty() {
                on_text(&rest);
            }
        }

        Ok(Generation {
            text: matcher.text().to_string(),
            finish_reason,
            prompt_tokens: prompt.len(),
            output_tokens,
            prompt_seconds,
            output_seconds: output_start.elapsed().as_secs_f64(),
        })
    }
}

/// Joins token pieces into valid UTF-8: a character split across tokens is
/// held until its last byte arrives.
#[derive(Debug, Default)]
struct Utf8Buffer {
    pending: Vec<u8>,
}

impl Utf8Buffer {
    fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let valid_len = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            // An incomplete sequence at the end waits for more bytes; an
            // invalid one in the middle is replaced below.
            Err(err) if err.error_len().is_none() => err.valid_up_to(),
            Err(_) => self.pending.len(),
        };
        let complete: Vec<u8> = self.pending.drain(..valid_len).collect();
        String::from_utf8_lossy(&complete).into_owned()
    }

    fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&rest).into_owned()
    }
}

/// Finds the GGUF file of a model folder: the folder must contain exactly one.
fn find_gguf(dir: &Path) -> Result<PathBuf> {
    if dir.is_file() {
        return Ok(dir.to_path_buf());
    }
    let read_dir = std::fs::read_dir(dir).map_err(|err| ModelError::io(dir, err))?;
    let mut ggufs: Vec<PathBuf> = read_dir
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "gguf"))
        .collect();
    match ggufs.len() {
        1 => Ok(ggufs.remove(0)),
        0 => Err(ModelError::Load {
            path: dir.to_path_buf(),
            reason: "no .gguf file in the folder".into(),
        }),
        n => Err(ModelError::Load {
            path: dir.to_path_buf(),
            reason: format!("{n} .gguf files in the folder; keep one per model"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_across_pieces_is_joined() {
        let mut buffer = Utf8Buffer::default();
        let euro = "€".as_bytes();
        assert_eq!(buffer.push(&euro[..2]), "");
        assert_eq!(buffer.push(&euro[2..]), "€");
    }

    #[test]
    fn folder_without_gguf_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find_gguf(dir.path()).is_err());
    }
}
