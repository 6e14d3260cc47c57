//! OpenAI-compatible chat completions from the model `mercator serve --llm`
//! loaded: `POST /v1/chat/completions` and `GET /v1/models`.
//!
//! Any client of the OpenAI chat API works against it, `mercator generate
//! --endpoint` included. Supported request fields: `model` (must name the
//! served model or be omitted), `messages` (the last one from the user),
//! `max_tokens` or `max_completion_tokens`, `temperature`, `top_p`, `seed`,
//! `stop` (a string or up to 4 strings) and `stream`. Other fields that
//! clients commonly send, such as `user` or `presence_penalty`, are
//! ignored. Unsupported fields that would change the reply (`n` above 1,
//! `tools`, `logprobs`, `response_format`) get a 400.
//!
//! One request is generated at a time: requests wait for the model in turn.
//! With `"stream": true` the reply is a stream of server-sent events, one
//! `chat.completion.chunk` per piece of text, a last chunk with the finish
//! reason and the token usage, then `data: [DONE]`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mercator_models::generate::{
    ChatMessage, FinishReason, GenerateRequest, Generation, TextGenerator,
};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::error::ApiError;

/// Most tokens one request may ask for.
pub const MAX_TOKENS_LIMIT: usize = 8192;

/// Tokens generated when the request sets no limit.
pub const DEFAULT_MAX_TOKENS: usize = 256;

/// A text generator shared by the chat endpoints.
pub struct ChatModel {
    /// Name clients send as `model`.
    pub name: String,
    generator: Mutex<Box<dyn TextGenerator + Send>>,
}

impl std::fmt::Debug for ChatModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatModel")
            .field("name", &self.name)
            .finish()
    }
}

impl ChatModel {
    /// Wraps a loaded generator under `name`.
    pub fn new(name: impl Into<String>, generator: Box<dyn TextGenerator + Send>) -> Self {
        ChatModel {
            name: name.into(),
            generator: Mutex::new(generator),
        }
    }

    /// Runs one request on the calling thread, waiting for the model if it
    /// is busy. `checked` receives the outcome of the request's check before
    /// any text is generated; a request that fails it is not generated.
    fn generate(
        &self,
        request: &GenerateRequest,
        checked: impl FnOnce(Result<(), ApiError>),
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation, ApiError> {
        let mut generator = self
            .generator
            .lock()
            .map_err(|_| ApiError::internal("the chat model lock is poisoned"))?;
        if let Err(err) = generator.check(request) {
            let err = api_error(err);
            checked(Err(err.clone()));
            return Err(err);
        }
        checked(Ok(()));
        if request.is_cancelled() {
            return Err(ApiError::bad_request(
                "the client left before generation started",
            ));
        }
        generator.generate(request, on_text).map_err(api_error)
    }
}

/// Turns a generation error into a reply: the client's mistakes are 400s.
fn api_error(err: mercator_models::ModelError) -> ApiError {
    use mercator_models::ModelError;
    match err {
        ModelError::EmptyPrompt | ModelError::InvalidOption(_) => {
            ApiError::bad_request(err.to_string())
        }
        ModelError::ContextExceeded {
            prompt_tokens,
            max_tokens,
            context_tokens,
        } => ApiError::bad_request(format!(
            "the prompt ({prompt_tokens} tokens) plus max_tokens ({max_tokens}) exceeds the \
             context of {context_tokens} tokens; shorten the messages or lower max_tokens"
        )),
        other => ApiError::internal(other),
    }
}

/// Sets a request's cancel flag when dropped: a reply future that axum
/// drops because the client disconnected stops its generation.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Reads `messages`: each has a role and a content that is a string or a
/// list of text parts, as OpenAI's API accepts. The `developer` role is
/// OpenAI's newer name for `system`.
fn parse_messages(messages: &Value) -> Result<Vec<ChatMessage>, ApiError> {
    let bad = ApiError::bad_request;
    let Some(list) = messages.as_array() else {
        return Err(bad("field messages must be a list of messages".to_string()));
    };
    let mut parsed = Vec::with_capacity(list.len());
    for (idx, message) in list.iter().enumerate() {
        let Some(object) = message.as_object() else {
            return Err(bad(format!(
                "messages[{idx}] is not an object with a role and a content"
            )));
        };
        if let Some(field) = object
            .keys()
            .find(|key| !["role", "content", "name"].contains(&key.as_str()))
        {
            return Err(bad(format!(
                "messages[{idx}].{field} is not supported; remove it"
            )));
        }
        let role = match object.get("role").and_then(Value::as_str) {
            Some("developer") => "system".to_string(),
            Some(role) => role.to_string(),
            None => {
                return Err(bad(format!(
                    "messages[{idx}].role is missing or not a string"
                )))
            }
        };
        let content = match object.get("content") {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(parts)) => {
                let mut text = String::new();
                for (part_idx, part) in parts.iter().enumerate() {
                    match (part["type"].as_str(), part["text"].as_str()) {
                        (Some("text"), Some(piece)) => text.push_str(piece),
                        _ => {
                            return Err(bad(format!(
                                "messages[{idx}].content[{part_idx}] is not a text part; this \
                                 server reads only {{\"type\": \"text\", \"text\": ...}} parts"
                            )))
                        }
                    }
                }
                text
            }
            _ => {
                return Err(bad(format!(
                    "messages[{idx}].content is missing; send a string or a list of text parts"
                )))
            }
        };
        parsed.push(ChatMessage { role, content });
    }
    Ok(parsed)
}

/// Parses and checks a chat completions body.
///
/// Returns the generation request and whether the client asked for a stream.
pub fn parse_request(body: &[u8], served: &str) -> Result<(GenerateRequest, bool), ApiError> {
    let bad = |message: String| ApiError::bad_request(message);
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        bad(format!(
            "invalid chat completions body: {err}; send JSON with a messages array"
        ))
    })?;
    let Some(object) = value.as_object() else {
        return Err(bad("the chat completions body must be a JSON object".into()));
    };
    for field in ["tools", "functions", "logprobs", "response_format"] {
        if object
            .get(field)
            .is_some_and(|v| !v.is_null() && v != &json!(false))
        {
            return Err(bad(format!(
                "field {field:?} is not supported by this server; remove it"
            )));
        }
    }
    if let Some(n) = object.get("n").filter(|v| !v.is_null()) {
        if n.as_u64() != Some(1) {
            return Err(bad(format!(
                "field n = {n} is not supported; only n = 1 is"
            )));
        }
    }
    if let Some(model) = object.get("model").filter(|v| !v.is_null()) {
        let Some(model) = model.as_str() else {
            return Err(bad(format!("field model = {model} is not a string")));
        };
        if model != served && model != "default" {
            return Err(ApiError::not_found(format!(
                "model {model:?} is not served here; use \"{served}\" (see GET /v1/models)"
            )));
        }
    }

    let messages = match object.get("messages") {
        Some(messages) => parse_messages(messages)?,
        None => return Err(bad("field messages is missing".into())),
    };
    let Some((last, history)) = messages.split_last() else {
        return Err(bad(
            "field messages is empty; send at least one user message".into(),
        ));
    };
    if last.role != "user" {
        return Err(bad(format!(
            "the last message has role {:?}; it must be the user's",
            last.role
        )));
    }

    let number = |name: &str| -> Result<Option<f64>, ApiError> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or_else(|| bad(format!("field {name} = {value} is not a number"))),
        }
    };
    let max_tokens = match number("max_completion_tokens")?.or(number("max_tokens")?) {
        None => DEFAULT_MAX_TOKENS,
        Some(n) if n >= 1.0 && n <= MAX_TOKENS_LIMIT as f64 && n.fract() == 0.0 => n as usize,
        Some(n) => {
            return Err(bad(format!(
                "max_tokens = {n} is out of range; use a whole number from 1 to {MAX_TOKENS_LIMIT}"
            )))
        }
    };
    let seed = match number("seed")? {
        // Without a seed every request samples differently, as OpenAI's API does.
        None => (nanos() % u128::from(u32::MAX)) as u32,
        Some(n) if n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0 => n as u32,
        Some(n) => {
            return Err(bad(format!(
                "seed = {n} is out of range; use a whole number from 0 to {}",
                u32::MAX
            )))
        }
    };
    let stop = match object.get("stop") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(stop)) => vec![stop.clone()],
        Some(Value::Array(items)) if items.len() <= 4 => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("stop item {item} is not a string")))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(bad(format!(
                "field stop = {other} must be a string or a list of up to 4 strings"
            )))
        }
    };
    let stream = match object.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(stream)) => *stream,
        Some(other) => return Err(bad(format!("field stream = {other} is not a boolean"))),
    };

    let request = GenerateRequest {
        prompt: last.content.clone(),
        max_tokens,
        temperature: number("temperature")?.unwrap_or(1.0) as f32,
        top_p: number("top_p")?.unwrap_or(1.0) as f32,
        seed,
        stop,
        use_chat_template: true,
        history: history.to_vec(),
        cancel: None,
    };
    request
        .validate()
        .map_err(|err| bad(format!("{err}; fix the request body")))?;
    Ok((request, stream))
}

/// Generates the reply to one chat completions request with `model`.
///
/// The generation stops when the client disconnects: a dropped reply
/// future, or a stream whose receiver is gone, sets the request's cancel
/// flag, which the generator checks before every token.
pub async fn complete(
    model: Arc<ChatModel>,
    mut request: GenerateRequest,
    stream: bool,
) -> Response {
    let id = format!("chatcmpl-{:x}", nanos());
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let cancel = Arc::new(AtomicBool::new(false));
    request.cancel = Some(Arc::clone(&cancel));
    if !stream {
        let _guard = CancelOnDrop(cancel);
        let task_model = Arc::clone(&model);
        let outcome =
            tokio::task::spawn_blocking(move || task_model.generate(&request, |_| {}, &mut |_| {}))
                .await;
        return match outcome {
            Ok(Ok(generation)) => Json(json!({
                "id": id,
                "object": "chat.completion",
                "created": created,
                "model": model.name,
                "choices": [{
                    "index": 0,
                    "message": { "role": "assistant", "content": generation.text },
                    "finish_reason": finish_reason(generation.finish_reason),
                }],
                "usage": usage(&generation),
            }))
            .into_response(),
            Ok(Err(err)) => err.into_response(),
            Err(err) => ApiError::internal(err).into_response(),
        };
    }

    // The generator runs on a blocking thread and sends events through a
    // channel. The reply starts only once the request passed its check, so
    // a prompt over the context is a 400 here too, not an event in a 200.
    let (sender, receiver) = mpsc::unbounded_channel::<Event>();
    let (checked_sender, checked) = oneshot::channel::<Result<(), ApiError>>();
    let name = model.name.clone();
    let first = Event::default().data(
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": name,
            "choices": [{ "index": 0, "delta": {"role": "assistant", "content": ""},
                          "finish_reason": null }],
        })
        .to_string(),
    );
    let chunk = move |delta: Value, finish: Value, usage: Option<Value>| -> Event {
        let mut body = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": name,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        });
        if let Some(usage) = usage {
            body["usage"] = usage;
        }
        Event::default().data(body.to_string())
    };
    let guard = CancelOnDrop(Arc::clone(&cancel));
    tokio::task::spawn_blocking(move || {
        let send = |event: Event| {
            if sender.send(event).is_err() {
                cancel.store(true, Ordering::Relaxed);
            }
        };
        let outcome = model.generate(
            &request,
            |result| {
                let _ = checked_sender.send(result);
            },
            &mut |piece| send(chunk(json!({"content": piece}), Value::Null, None)),
        );
        match outcome {
            Ok(generation) => send(chunk(
                json!({}),
                json!(finish_reason(generation.finish_reason)),
                Some(usage(&generation)),
            )),
            Err(err) => {
                warn!(error = %err.message, "chat completion failed during streaming");
                let body = json!({ "error": { "message": err.message } });
                send(Event::default().data(body.to_string()));
            }
        }
        send(Event::default().data("[DONE]"));
    });
    match checked.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return err.into_response(),
        Err(_) => {
            return ApiError::internal("the chat model stopped before its check").into_response()
        }
    }
    let events = futures_util::stream::unfold(
        (Some(first), receiver, guard),
        |(first, mut receiver, guard)| async move {
            if let Some(event) = first {
                return Some((Ok::<_, Infallible>(event), (None, receiver, guard)));
            }
            receiver
                .recv()
                .await
                .map(|event| (Ok(event), (None, receiver, guard)))
        },
    );
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `GET /v1/models`: the served model in OpenAI's list format.
pub fn models_list(model: &ChatModel) -> Value {
    json!({
        "object": "list",
        "data": [{ "id": model.name, "object": "model", "created": 0, "owned_by": "mercator" }],
    })
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::Stop | FinishReason::EndOfText | FinishReason::Cancelled => "stop",
    }
}

fn usage(generation: &Generation) -> Value {
    json!({
        "prompt_tokens": generation.prompt_tokens,
        "completion_tokens": generation.output_tokens,
        "total_tokens": generation.prompt_tokens + generation.output_tokens,
    })
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<(GenerateRequest, bool), ApiError> {
        parse_request(body.as_bytes(), "gemma-3-270m")
    }

    #[test]
    fn conversation_becomes_history_and_prompt() {
        let (request, stream) = parse(
            r#"{"model": "gemma-3-270m", "stream": true, "seed": 3, "stop": "\n",
                "messages": [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "Hello"}]}"#,
        )
        .unwrap();
        assert!(stream);
        assert_eq!(request.prompt, "Hello");
        assert_eq!(request.history.len(), 1);
        assert_eq!(request.history[0].role, "system");
        let (parts, _) = parse(
            r#"{"messages": [{"role": "developer", "content": "Be brief."},
                             {"role": "user", "content": [{"type": "text", "text": "Hel"},
                                                          {"type": "text", "text": "lo"}]}]}"#,
        )
        .unwrap();
        assert_eq!(parts.history[0].role, "system");
        assert_eq!(parts.prompt, "Hello");
        for (body, fragment) in [
            (
                r#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}"#,
                "content[0] is not a text part",
            ),
            (
                r#"{"messages": [{"role": "user", "content": 5}]}"#,
                "content is missing",
            ),
            (
                r#"{"messages": [{"role": "user", "content": "x", "tool_calls": []}]}"#,
                "tool_calls",
            ),
            (r#"{"messages": [{"content": "x"}]}"#, "role is missing"),
            (r#"{"messages": "hi"}"#, "must be a list"),
            (
                r#"{"model": 5, "messages": [{"role": "user", "content": "x"}]}"#,
                "not a string",
            ),
        ] {
            let err = parse(body).unwrap_err();
            assert!(err.message.contains(fragment), "{body}: {}", err.message);
        }
        assert_eq!(request.seed, 3);
        assert_eq!(request.stop, vec!["\n".to_string()]);
        assert_eq!(request.max_tokens, DEFAULT_MAX_TOKENS);
    }

    #[test]
    fn bad_requests_name_the_field() {
        let cases = [
            (r#"{"messages": []}"#, "empty"),
            (
                r#"{"messages": [{"role": "assistant", "content": "x"}]}"#,
                "user",
            ),
            (
                r#"{"messages": [{"role": "robot", "content": "x"}, {"role": "user", "content": "y"}]}"#,
                "robot",
            ),
            (
                r#"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}"#,
                "max_tokens",
            ),
            (
                r#"{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}"#,
                "temperature",
            ),
            (
                r#"{"messages": [{"role": "user", "content": "x"}], "n": 2}"#,
                "n = 2",
            ),
            (
                r#"{"messages": [{"role": "user", "content": "x"}], "tools": [{}]}"#,
                "tools",
            ),
            (
                r#"{"messages": [{"role": "user", "content": "  "}]}"#,
                "empty",
            ),
            (r#"{"messages": "hi"}"#, "messages"),
            ("[1]", "object"),
        ];
        for (body, expected) in cases {
            let err = parse(body).unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST, "{body}");
            assert!(err.message.contains(expected), "{body}: {}", err.message);
        }
    }

    #[test]
    fn unknown_model_is_not_found() {
        let err = parse(r#"{"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}"#)
            .unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::NOT_FOUND);
        assert!(err.message.contains("gemma-3-270m"), "{}", err.message);
    }
}
