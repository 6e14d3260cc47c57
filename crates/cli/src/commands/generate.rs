//! `mercator generate`: text from a local GGUF model or an
//! OpenAI-compatible endpoint, streamed to standard output.

use std::io::Write;

use clap::Args;
use mercator_models::generate::openai::OpenAiGenerator;
use mercator_models::generate::{GenerateRequest, TextGenerator, TokenScorer};

use crate::Global;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Text the model continues (or replies to, when it has a chat template).
    #[arg(long)]
    prompt: String,
    /// Maximum number of generated tokens.
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    /// Sampler seed; the same seed and options give the same text.
    #[arg(long, default_value_t = 42)]
    seed: u32,
    /// Sampling temperature (0: always the most likely token).
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Nucleus sampling threshold in (0, 1].
    #[arg(long, default_value_t = 0.95)]
    top_p: f32,
    /// End generation before this string (repeatable).
    #[arg(long = "stop")]
    stop: Vec<String>,
    /// Installed GGUF model (default: gemma-3-270m).
    #[arg(long, conflicts_with = "endpoint")]
    model: Option<String>,
    /// OpenAI-compatible server, for example http://127.0.0.1:8080.
    #[arg(long)]
    endpoint: Option<String>,
    /// Model name sent to the endpoint.
    #[arg(long, default_value = "default", requires = "endpoint")]
    endpoint_model: String,
    /// Seconds the endpoint may take for the whole reply.
    #[arg(long, default_value_t = 300, requires = "endpoint",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// Send the prompt as raw text, without the model's chat template.
    #[arg(long)]
    raw: bool,
    /// Context size in tokens (prompt plus output) for local models.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(16..=1_048_576))]
    context: u32,
}

pub fn execute(global: &Global, args: GenerateArgs) -> anyhow::Result<()> {
    let request = GenerateRequest {
        prompt: args.prompt.clone(),
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        seed: args.seed,
        stop: args.stop.clone(),
        use_chat_template: !args.raw,
        history: Vec::new(),
        cancel: None,
    };
    request.validate()?;

    let mut generator: Box<dyn TextGenerator> = match &args.endpoint {
        Some(endpoint) => Box::new(OpenAiGenerator::with_timeout(
            endpoint,
            &args.endpoint_model,
            std::time::Duration::from_secs(args.timeout),
        )?),
        None => load_local(global, args.model.as_deref(), args.context)?.1,
    };

    let stream = !global.json;
    let mut stdout = std::io::stdout();
    let generation = generator.generate(&request, &mut |piece| {
        if stream {
            let _ = stdout.write_all(piece.as_bytes());
            let _ = stdout.flush();
        }
    })?;

    if global.json {
        println!("{}", serde_json::to_string_pretty(&generation)?);
    } else {
        println!();
        if !global.quiet {
            eprintln!(
                "[{} prompt tokens, {} output tokens, {:.1} tokens/s, finish: {:?}]",
                generation.prompt_tokens,
                generation.output_tokens,
                generation.output_tokens as f64 / generation.output_seconds.max(1e-9),
                generation.finish_reason
            );
        }
    }
    Ok(())
}

/// Loads an installed GGUF model (`name`, or the default LLM) with a
/// context of `context` tokens. Returns the model's name and the generator.
#[cfg(feature = "llama")]
pub fn load_local(
    global: &Global,
    name: Option<&str>,
    context: u32,
) -> anyhow::Result<(String, Box<dyn TextGenerator + Send>)> {
    let (name, generator) = load_llama(global, name, context)?;
    Ok((name, Box::new(generator)))
}

/// Loads an installed GGUF model to score translations with.
#[cfg(feature = "llama")]
pub fn load_scorer(global: &Global, name: &str) -> anyhow::Result<Box<dyn TokenScorer>> {
    // A sentence and its translation fit in far less than the default.
    let (_, generator) = load_llama(global, Some(name), 2048)?;
    Ok(Box::new(generator))
}

#[cfg(feature = "llama")]
fn load_llama(
    global: &Global,
    name: Option<&str>,
    context: u32,
) -> anyhow::Result<(String, mercator_models::generate::llama::LlamaGenerator)> {
    use mercator_models::fetch::model_name_or_default;
    use mercator_models::generate::llama::LlamaGenerator;
    use mercator_models::manifest::Role;
    use mercator_models::store::ModelStore;

    let store = ModelStore::new(&global.data_dir);
    let name = model_name_or_default(name, Role::Llm);
    let dir = store.require(&name, Role::Llm)?;
    let generator = LlamaGenerator::load(&dir)?.with_context_tokens(context);
    Ok((name, generator))
}

/// Stands in for [`load_scorer`] in builds without llama.cpp.
#[cfg(not(feature = "llama"))]
pub fn load_scorer(_global: &Global, _name: &str) -> anyhow::Result<Box<dyn TokenScorer>> {
    anyhow::bail!(
        "this build has no local GGUF runtime for --qe-model; rebuild with the `llama` feature"
    )
}

/// Stands in for [`load_local`] in builds without llama.cpp.
#[cfg(not(feature = "llama"))]
pub fn load_local(
    _global: &Global,
    _name: Option<&str>,
    _context: u32,
) -> anyhow::Result<(String, Box<dyn TextGenerator + Send>)> {
    anyhow::bail!(
        "this build has no local GGUF runtime; use --endpoint URL or rebuild with the `llama` feature"
    )
}
