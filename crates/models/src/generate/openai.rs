//! Generation through an OpenAI-compatible `/v1/chat/completions` endpoint.
//!
//! The request sets `"stream": true`, so the server sends server-sent
//! events. Each `data:` line contains a JSON chunk whose
//! `choices[0].delta.content` is the next piece of text, and
//! `data: [DONE]` ends the stream. A server that
//! answers with one JSON body instead is read as well. The bearer token is
//! taken from `OPENAI_API_KEY` when set and is never logged.

use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tracing::debug;

use super::{FinishReason, GenerateRequest, Generation, StopMatcher, TextGenerator};
use crate::{ModelError, Result};

/// Longest a request may take, generation included, unless the caller sets
/// another limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Client of one OpenAI-compatible server.
pub struct OpenAiGenerator {
    url: String,
    model: String,
    api_key: Option<String>,
    client: reqwest::blocking::Client,
    /// Limit on the whole reply; the client's own timeout only bounds each
    /// read, which a steady stream never hits.
    timeout: Duration,
}

impl OpenAiGenerator {
    /// Creates a client for `endpoint`: a base URL such as
    /// `http://127.0.0.1:8080` or `.../v1`, or the full
    /// `.../v1/chat/completions` URL. `model` is sent as the `model` field.
    pub fn new(endpoint: &str, model: &str) -> Result<Self> {
        Self::with_timeout(endpoint, model, DEFAULT_TIMEOUT)
    }

    /// Like [`OpenAiGenerator::new`], with a limit on the whole request,
    /// generation included.
    pub fn with_timeout(endpoint: &str, model: &str, timeout: Duration) -> Result<Self> {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(ModelError::Endpoint {
                url: endpoint.to_string(),
                reason: "the URL must start with http:// or https://, for example \
                         http://127.0.0.1:8080"
                    .to_string(),
            });
        }
        let url = chat_completions_url(endpoint);
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .build()
            .map_err(|err| ModelError::Endpoint {
                url: url.clone(),
                reason: err.to_string(),
            })?;
        Ok(OpenAiGenerator {
            url,
            model: model.to_string(),
            api_key: std::env::var("OPENAI_API_KEY")
                .ok()
                .filter(|key| !key.is_empty()),
            client,
            timeout,
        })
    }

    /// Returns the full URL that requests are sent to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn request_body(&self, request: &GenerateRequest) -> Value {
        let mut messages = json!(request.history);
        if let Some(list) = messages.as_array_mut() {
            list.push(json!({"role": "user", "content": request.prompt}));
        }
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "stream": true,
        });
        if !request.stop.is_empty() {
            body["stop"] = json!(request.stop);
        }
        body
    }

    fn endpoint_error(&self, reason: impl Into<String>) -> ModelError {
        ModelError::Endpoint {
            url: self.url.clone(),
            reason: reason.into(),
        }
    }
}

impl TextGenerator for OpenAiGenerator {
    fn generate(
        &mut self,
        request: &GenerateRequest,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        request.validate()?;
        let start = Instant::now();
        let mut http = self
            .client
            .post(&self.url)
            .json(&self.request_body(request));
        if let Some(key) = &self.api_key {
            http = http.bearer_auth(key);
        }
        let response = http
            .send()
            .map_err(|err| self.endpoint_error(describe_send_error(&err)))?;

        let status = response.status();
        if !status.is_success() {
            let body = response.text().unwrap_or_default();
            let hint = match status.as_u16() {
                401 | 403 if self.api_key.is_none() => {
                    "; the server wants a key: set OPENAI_API_KEY"
                }
                401 | 403 => "; the key in OPENAI_API_KEY was refused",
                404 => "; check the URL and --endpoint-model",
                _ => "",
            };
            return Err(self.endpoint_error(format!("HTTP {status}: {}{hint}", body.trim())));
        }
        let is_event_stream = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));

        let mut state = StreamState::new(request);
        if is_event_stream {
            self.read_events(response, start, &mut state, on_text)?;
        } else {
            let body: Value = response
                .json()
                .map_err(|err| self.endpoint_error(format!("invalid JSON body: {err}")))?;
            let Some(content) = body["choices"][0]["message"]["content"].as_str() else {
                return Err(self.endpoint_error(format!(
                    "the reply has no choices[0].message.content, so it is not a chat \
                     completion: {}",
                    truncate(&body.to_string(), 300)
                )));
            };
            state.apply_chunk(
                content,
                body["choices"][0]["finish_reason"].as_str(),
                on_text,
            );
            state.read_usage(&body);
        }
        Ok(state.finish(start, on_text))
    }
}

impl OpenAiGenerator {
    fn read_events(
        &self,
        response: impl Read,
        start: Instant,
        state: &mut StreamState,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<()> {
        for line in BufReader::new(response).lines() {
            if start.elapsed() > self.timeout {
                return Err(self.endpoint_error(format!(
                    "the server did not finish the reply within {} s (raise the limit with \
                     --timeout)",
                    self.timeout.as_secs_f64()
                )));
            }
            let line =
                line.map_err(|err| self.endpoint_error(format!("reading the stream: {err}")))?;
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                break;
            }
            let chunk: Value = serde_json::from_str(data)
                .map_err(|err| self.endpoint_error(format!("invalid event `{data}`: {err}")))?;
            if let Some(message) = chunk["error"]["message"].as_str() {
                return Err(self.endpoint_error(message.to_string()));
            }
            let content = chunk["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap_or("");
            state.apply_chunk(
                content,
                chunk["choices"][0]["finish_reason"].as_str(),
                on_text,
            );
            state.read_usage(&chunk);
            if state.stopped {
                debug!("stop string found in the stream; closing it");
                break;
            }
        }
        Ok(())
    }
}

/// Text, counts and finish reason gathered while reading a response.
struct StreamState {
    matcher: StopMatcher,
    finish_reason: FinishReason,
    stopped: bool,
    pieces: usize,
    prompt_tokens: usize,
    output_tokens: Option<usize>,
    first_piece_at: Option<Instant>,
}

impl StreamState {
    fn new(request: &GenerateRequest) -> Self {
        StreamState {
            matcher: StopMatcher::new(&request.stop),
            finish_reason: FinishReason::EndOfText,
            stopped: false,
            pieces: 0,
            prompt_tokens: 0,
            output_tokens: None,
            first_piece_at: None,
        }
    }

    fn apply_chunk(&mut self, content: &str, finish: Option<&str>, on_text: &mut dyn FnMut(&str)) {
        if !content.is_empty() && !self.stopped {
            self.first_piece_at.get_or_insert_with(Instant::now);
            self.pieces += 1;
            let (shown, stopped) = self.matcher.push(content);
            if !shown.is_empty() {
                on_text(&shown);
            }
            if stopped {
                self.stopped = true;
                self.finish_reason = FinishReason::Stop;
            }
        }
        match finish {
            Some("length") => self.finish_reason = FinishReason::Length,
            Some("stop") if !self.stopped => self.finish_reason = FinishReason::EndOfText,
            _ => {}
        }
    }

    fn read_usage(&mut self, body: &Value) {
        if let Some(prompt) = body["usage"]["prompt_tokens"].as_u64() {
            self.prompt_tokens = prompt as usize;
        }
        if let Some(completion) = body["usage"]["completion_tokens"].as_u64() {
            self.output_tokens = Some(completion as usize);
        }
    }

    fn finish(mut self, start: Instant, on_text: &mut dyn FnMut(&str)) -> Generation {
        if !self.stopped {
            let rest = self.matcher.finish();
            if !rest.is_empty() {
                on_text(&rest);
            }
        }
        let first_piece_at = self.first_piece_at.unwrap_or_else(Instant::now);
        Generation {
            text: self.matcher.text().to_string(),
            finish_reason: self.finish_reason,
            prompt_tokens: self.prompt_tokens,
            // Without a usage block each streamed chunk counts as one token,
            // which is what llama.cpp's server and vLLM send.
            output_tokens: self.output_tokens.unwrap_or(self.pieces),
            prompt_seconds: first_piece_at.duration_since(start).as_secs_f64(),
            output_seconds: first_piece_at.elapsed().as_secs_f64(),
        }
    }
}

/// Names the cause of a request that got no response: the innermost
/// error (connection refused, unknown host, timeout) and what to check.
fn describe_send_error(err: &reqwest::Error) -> String {
    let mut cause = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    let hint = if err.is_connect() {
        "; check that the server is running and listening at this address"
    } else if err.is_timeout() {
        "; the server did not finish in time (raise the limit with --timeout)"
    } else {
        ""
    };
    format!("{cause}{hint}")
}

/// The first `max` characters of `text`, with `...` when cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// Appends the path `/v1/chat/completions` unless the URL already ends in it.
fn chat_completions_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/chat/completions") {
        base.to_string()
    } else if base.ends_with("/v1") {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_gets_full_path() {
        assert_eq!(
            chat_completions_url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
    }

    #[test]
    fn v1_url_gets_chat_path() {
        assert_eq!(
            chat_completions_url("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
    }

    #[test]
    fn full_url_is_kept() {
        let url = "http://127.0.0.1:8080/v1/chat/completions";
        assert_eq!(chat_completions_url(url), url);
    }
}
