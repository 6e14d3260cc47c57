//! `mercator embed`: sentence embeddings as JSON, or the cosine of two texts.

use anyhow::bail;
use clap::Args;
use mercator_models::embed::{cosine, Embedder};
use mercator_models::fetch::model_name_or_default;
use mercator_models::manifest::Role;
use mercator_models::store::ModelStore;

use crate::Global;

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Texts to embed (with --similarity: exactly two).
    #[arg(required = true)]
    texts: Vec<String>,
    /// Print the cosine similarity of the two texts instead of vectors.
    #[arg(long)]
    similarity: bool,
    /// Installed embedding model (default: all-minilm-l6-v2).
    #[arg(long)]
    model: Option<String>,
    /// Task prompt of the model to put before each text, e.g. STS, query or
    /// document for embeddinggemma-300m.
    #[arg(long, value_name = "NAME")]
    prompt: Option<String>,
    /// Texts per forward pass.
    #[arg(long, default_value_t = mercator_models::embed::DEFAULT_BATCH_SIZE as u64,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    batch_size: u64,
}

pub fn execute(global: &Global, args: EmbedArgs) -> anyhow::Result<()> {
    if args.similarity && args.texts.len() != 2 {
        bail!(
            "--similarity takes exactly two texts, got {}",
            args.texts.len()
        );
    }
    if let Some(index) = args.texts.iter().position(|text| text.trim().is_empty()) {
        bail!(
            "text {} is empty; an empty text has no meaning to embed, so give it some words",
            index + 1
        );
    }
    let store = ModelStore::new(&global.data_dir);
    let name = model_name_or_default(args.model.as_deref(), Role::Embedding);
    let dir = store.require(&name, Role::Embedding)?;
    let embedder = Embedder::load(&dir)?;

    let prompt = match &args.prompt {
        Some(prompt_name) => match embedder.prompt(prompt_name) {
            Some(prompt) => prompt.to_string(),
            None => bail!(
                "--prompt {prompt_name}: model {name} has no such prompt; {}",
                match embedder.prompt_names() {
                    names if names.is_empty() => "it has none, so leave out --prompt".to_string(),
                    names => format!("use one of: {}", names.join(", ")),
                }
            ),
        },
        None => String::new(),
    };
    let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed_prompted(&prompt, &texts, args.batch_size as usize)?;

    if args.similarity {
        let similarity = cosine(&vectors[0], &vectors[1]);
        if global.json {
            println!(
                "{}",
                serde_json::json!({ "model": name, "cosine": similarity })
            );
        } else {
            println!("{similarity:.4}");
        }
        return Ok(());
    }
    let out: Vec<_> = args
        .texts
        .iter()
        .zip(&vectors)
        .map(|(text, vector)| serde_json::json!({ "text": text, "embedding": vector }))
        .collect();
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
