//! `mercator serve`: the HTTP API (see the `mercator-server` crate).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use mercator_server::chat::ChatModel;
use mercator_server::translate::TranslateService;
use mercator_server::{serve, ServeConfig};

use crate::Global;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Dataset whose promoted models are served.
    #[arg(long, default_value = "default")]
    pub dataset: String,

    /// Seconds between checks for newly promoted models and key changes.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub reload_seconds: u64,

    /// Installed GGUF model to answer `POST /v1/chat/completions` with
    /// (for example gemma-3-270m); without it those endpoints return 503.
    #[arg(long, value_name = "NAME")]
    pub llm: Option<String>,

    /// Context size in tokens (prompt plus output) of the --llm model.
    #[arg(long, default_value_t = 4096, requires = "llm",
          value_parser = clap::value_parser!(u32).range(16..=1_048_576))]
    pub llm_context: u32,

    /// Recommendation replies kept in memory for repeated requests; 0 turns
    /// the cache off. Replies are dropped when the customer sends events or
    /// a new model is promoted.
    #[arg(long, default_value_t = mercator_server::state::DEFAULT_REPLY_CAPACITY)]
    pub reply_cache: usize,

    /// Glossary CSV (term,translation,target_lang) that every
    /// `POST /v1/translations` request uses.
    #[arg(long, value_name = "FILE")]
    pub glossary: Option<std::path::PathBuf>,

    /// Installed multilingual embedding model (embeddinggemma-300m) that
    /// adds the meaning comparison to the translation quality scores.
    #[arg(long, value_name = "NAME")]
    pub qe_model: Option<String>,

    /// Worker threads (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

pub fn execute(global: &Global, args: ServeArgs) -> anyhow::Result<()> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.threads {
        runtime.worker_threads(usize::from(threads));
    }
    let runtime = runtime.build().context("cannot start the async runtime")?;
    let chat = match &args.llm {
        Some(name) => {
            let (name, generator) =
                crate::commands::generate::load_local(global, Some(name), args.llm_context)?;
            Some(Arc::new(ChatModel::new(name, generator)))
        }
        None => None,
    };
    let glossary = match &args.glossary {
        Some(path) => mercator_translate::glossary::Glossary::load(path)?,
        None => Default::default(),
    };
    let embedder = match &args.qe_model {
        Some(name) => {
            let (scorer, embedder) =
                crate::commands::translate::load_qe_models(global, std::slice::from_ref(name))?;
            if scorer.is_some() {
                bail!(
                    "--qe-model {name}: the server takes an embedding model \
                     (embeddinggemma-300m), not a language model"
                );
            }
            embedder
        }
        None => None,
    };
    let mut translate = TranslateService::new(global.data_dir.clone(), glossary, embedder);
    if let Some(name) = &args.qe_model {
        translate = translate.with_embedding_name(name);
    }
    let translate = Arc::new(translate);
    runtime.block_on(serve(ServeConfig {
        data_dir: global.data_dir.clone(),
        dataset: args.dataset,
        addr: SocketAddr::new(args.host, args.port),
        reload_every: Duration::from_secs(args.reload_seconds),
        chat,
        reply_cache: args.reply_cache,
        translate: Some(translate),
    }))
}
