//! Generation mechanics with Gemma 3 270M (a base model, so the tests check
//! seeds, stop strings, limits and errors rather than the quality of the
//! text), and the OpenAI-compatible client against a loopback peer.

#![cfg(feature = "llama")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use mercator_models::defaults;
use mercator_models::generate::llama::LlamaGenerator;
use mercator_models::generate::openai::OpenAiGenerator;
use mercator_models::generate::{FinishReason, GenerateRequest, TextGenerator, TokenScorer};
use mercator_models::ModelError;

const PROMPT: &str = "The best way to pack fragile items for international shipping is";

fn generator() -> LlamaGenerator {
    LlamaGenerator::load(&common::model_dir(&defaults::LLM))
        .unwrap()
        .with_context_tokens(512)
}

fn request(max_tokens: usize) -> GenerateRequest {
    GenerateRequest {
        max_tokens,
        temperature: 0.8,
        top_p: 0.95,
        seed: 7,
        use_chat_template: false,
        ..GenerateRequest::new(PROMPT)
    }
}

fn run(
    generator: &mut LlamaGenerator,
    request: &GenerateRequest,
) -> mercator_models::generate::Generation {
    generator.generate(request, &mut |_| {}).unwrap()
}

#[test]
fn same_seed_gives_same_text() {
    let mut generator = generator();
    let first = run(&mut generator, &request(24));
    let second = run(&mut generator, &request(24));
    assert!(!first.text.is_empty());
    assert_eq!(first.text, second.text);
}

#[test]
fn streamed_pieces_add_up_to_text() {
    let mut generator = generator();
    let mut streamed = String::new();
    let generation = generator
        .generate(&request(24), &mut |piece| streamed.push_str(piece))
        .unwrap();
    assert_eq!(streamed, generation.text);
}

#[test]
fn max_tokens_limits_output() {
    let mut generator = generator();
    let generation = run(&mut generator, &request(5));
    assert!(
        generation.output_tokens <= 5,
        "{} tokens",
        generation.output_tokens
    );
    assert_eq!(generation.finish_reason, FinishReason::Length);
}

#[test]
fn stop_string_ends_generation() {
    let mut generator = generator();
    let free = run(&mut generator, &request(40));
    // Stop at the third word of the unconstrained output.
    let words: Vec<&str> = free.text.split_whitespace().collect();
    assert!(
        words.len() >= 4,
        "output too short to pick a stop word: {:?}",
        free.text
    );
    let stop = words[2].to_string();
    let expected = &free.text[..free.text.find(&stop).unwrap()];

    let stopped = run(
        &mut generator,
        &GenerateRequest {
            stop: vec![stop.clone()],
            ..request(40)
        },
    );
    assert_eq!(stopped.finish_reason, FinishReason::Stop);
    assert_eq!(stopped.text, expected, "stop {stop:?}");
}

#[test]
fn prompt_over_context_is_rejected() {
    let mut generator = generator();
    let long_prompt = "ship the parcel to Berlin ".repeat(200);
    let result = generator.generate(&GenerateRequest::new(long_prompt), &mut |_| {});
    assert!(
        matches!(result, Err(ModelError::ContextExceeded { .. })),
        "{:?}",
        result.err()
    );
}

#[test]
fn output_over_context_is_rejected() {
    let mut generator = generator();
    let result = generator.generate(&request(600), &mut |_| {});
    assert!(
        matches!(result, Err(ModelError::ContextExceeded { .. })),
        "{:?}",
        result.err()
    );
}

#[test]
fn empty_prompt_is_rejected() {
    let mut generator = generator();
    let result = generator.generate(&GenerateRequest::new(""), &mut |_| {});
    assert!(
        matches!(result, Err(ModelError::EmptyPrompt)),
        "{:?}",
        result.err()
    );
}

/// Reads an HTTP request's headers and returns its JSON body.
fn read_request_body(stream: &std::net::TcpStream) -> serde_json::Value {
    let mut reader = BufReader::new(stream);
    let mut content_length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            content_length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn endpoint_error_status_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = read_request_body(&stream);
        let body = r#"{"error":{"message":"the request exceeds the available context size"}}"#;
        write!(
            stream,
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });

    let mut client = OpenAiGenerator::new(&url, "gemma").unwrap();
    let result = client.generate(&request(20), &mut |_| {});
    server.join().unwrap();
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("exceeds the available context"),
        "{message}"
    );
}

/// A server that streams a piece every 200 ms for 4 s is cut off at the
/// limit on the whole reply, not only when a read stalls.
#[test]
fn endpoint_timeout_limits_the_whole_streamed_reply() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = read_request_body(&stream);
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        for _ in 0..20 {
            let event = "data: {\"choices\":[{\"delta\":{\"content\":\"word \"}}]}\n\n";
            if stream.write_all(event.as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });

    let mut client =
        OpenAiGenerator::with_timeout(&url, "gemma", std::time::Duration::from_secs(1)).unwrap();
    let started = std::time::Instant::now();
    let result = client.generate(&request(50), &mut |_| {});
    let elapsed = started.elapsed();
    let message = result.unwrap_err().to_string();
    assert!(message.contains("--timeout"), "{message}");
    assert!(elapsed < std::time::Duration::from_secs(3), "{elapsed:?}");
    drop(client);
    server.join().unwrap();
}

#[test]
fn scorer_prefers_fluent_text() {
    let generator = generator();
    let prompt = "English: The red mug holds hot coffee.\nSpanish:";
    let total = |text: &str| -> f32 {
        let logprobs = generator.continuation_logprobs(prompt, text).unwrap();
        assert!(!logprobs.is_empty());
        assert!(logprobs.iter().all(|lp| lp.is_finite() && *lp <= 0.0));
        logprobs.iter().sum()
    };
    let fluent = total(" La taza roja contiene café caliente.");
    let scrambled = total(" caliente taza café La contiene roja.");
    assert!(fluent > scrambled + 5.0, "{fluent} vs {scrambled}");
    // The same text always gets the same scores.
    assert_eq!(
        generator
            .continuation_logprobs(prompt, " La taza roja.")
            .unwrap(),
        generator
            .continuation_logprobs(prompt, " La taza roja.")
            .unwrap()
    );
}

#[test]
fn scorer_handles_empty_text_and_long_input() {
    let generator = generator();
    assert!(generator
        .continuation_logprobs("Spanish:", "")
        .unwrap()
        .is_empty());
    let long = "word ".repeat(2000);
    let err = generator
        .continuation_logprobs("Spanish:", &long)
        .unwrap_err();
    assert!(err.to_string().contains("more than the context"), "{err}");
}
