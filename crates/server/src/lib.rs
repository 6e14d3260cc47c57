//! Mercator's HTTP API: recommendations, similar items, purchase
//! propensity, demand forecasts, customer events, listing translation with
//! quality scores and OpenAI-compatible chat completions, behind API keys.
//!
//! [`serve`] binds the address, starts a background task that reloads the
//! promoted models and the active API keys from the store every
//! [`ServeConfig::reload_every`], and shuts down gracefully on SIGINT or
//! SIGTERM. Handlers live in [`routes`], request checks in [`params`],
//! model artefacts on disk in [`artifacts`] and the shared state in
//! [`state`].
//!
//! Models are read from the registry: `mercator train recommend` and
//! `mercator train propensity` record and promote versions, and a newly
//! promoted version is served at the next reload, without a restart.

pub mod artifacts;
pub mod chat;
pub mod error;
pub mod openapi;
pub mod params;
pub mod routes;
pub mod state;
pub mod translate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tracing::{info, warn};

pub use state::AppState;

/// Where and what to serve.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Data dir holding the store and model artefacts.
    pub data_dir: PathBuf,
    /// Dataset whose models are served.
    pub dataset: String,
    /// Address to bind.
    pub addr: SocketAddr,
    /// Interval between checks for a newly promoted model and key changes.
    pub reload_every: Duration,
    /// Model of the chat completions endpoints, if one was loaded.
    pub chat: Option<Arc<chat::ChatModel>>,
    /// Recommendation replies kept for repeated requests (0: none).
    pub reply_cache: usize,
    /// Glossary and quality model of the translation endpoints; without
    /// it they run with no glossary and the text checks alone.
    pub translate: Option<Arc<translate::TranslateService>>,
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let mut state = AppState::open(&config.data_dir, &config.dataset)?;
    state.chat = config.chat.clone();
    if let Some(service) = &config.translate {
        state.translate = Some(Arc::clone(service));
    }
    state.set_reply_capacity(config.reply_cache);
    let state = Arc::new(state);
    reload(&state).await;

    let reloader = {
        let state = Arc::clone(&state);
        let every = config.reload_every;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                reload(&state).await;
            }
        })
    };

    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; choose another --port or stop the process using it",
                config.addr
            )
        })?;
    let bound = listener.local_addr()?;
    info!(addr = %bound, dataset = %config.dataset, "serving");
    println!("listening on http://{bound}");

    axum::serve(listener, routes::router(Arc::clone(&state)))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server stopped with an error")?;
    reloader.abort();
    info!("server stopped");
    Ok(())
}

/// Reloads keys and models off the async workers.
async fn reload(state: &Arc<AppState>) {
    let state = Arc::clone(state);
    let outcome = tokio::task::spawn_blocking(move || state.reload()).await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            warn!(error = %format!("{err:#}"), "reload failed; serving the previous models")
        }
        Err(err) => warn!(error = %err, "reload task panicked"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            warn!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => info!("SIGINT received, shutting down"),
        () = terminate => info!("SIGTERM received, shutting down"),
    }
}
