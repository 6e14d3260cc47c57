//! The `mercator` binary: every job as a subcommand.
//!
//! Layout: `commands/` has one file per subcommand, `report/` writes the
//! run report (JSON, HTML with inline SVG charts, terminal summary), and
//! `progress` draws progress bars only on a terminal.

mod commands;
mod progress;
mod report;
mod sample;
mod spreadsheet;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Mercator: self-hosted AI toolkit for cross-border e-commerce.
#[derive(Debug, Parser)]
#[command(name = "mercator", version, about)]
struct Cli {
    /// Folder of the store and model artefacts.
    #[arg(
        long,
        global = true,
        env = "MERCATOR_DATA_DIR",
        default_value = "./mercator-data"
    )]
    data_dir: PathBuf,

    /// Print nothing but errors (and JSON with --json).
    #[arg(long, short, global = true)]
    quiet: bool,

    /// Print results as JSON on standard output.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read a shop export into the store.
    #[command(subcommand)]
    Ingest(commands::ingest::IngestCommand),
    /// Run the main job: ingest, clean, train and evaluate models, write a report.
    Run(commands::run::RunArgs),
    /// List the datasets in the store and the files ingested into them.
    Datasets,
    /// Forecast demand per SKU, country, category or total, with intervals and charts.
    Forecast(commands::forecast::ForecastArgs),
    /// Model weights (pull, list, verify, add) and trained versions (history, rollback).
    #[command(subcommand)]
    Models(commands::models::ModelsCommand),
    /// Sentence embeddings of texts, or the cosine similarity of two.
    Embed(commands::embed::EmbedArgs),
    /// Generate text with a local GGUF model or an OpenAI-compatible endpoint.
    Generate(commands::generate::GenerateArgs),
    /// Transcribe an audio file (WAV, FLAC, MP3, OGG) to text with timestamps.
    Transcribe(commands::transcribe::TranscribeArgs),
    /// Translate a catalog into other languages, with quality scores and a review queue.
    Translate(Box<commands::translate::TranslateArgs>),
    /// Train a model on a stored dataset and register it.
    #[command(subcommand)]
    Train(commands::train::TrainCommand),
    /// Manage the API keys of `mercator serve`.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Serve recommendations, propensity, forecasts, events and chat completions over HTTP.
    Serve(commands::serve::ServeArgs),
}

/// Options every command receives.
#[derive(Debug, Clone)]
pub struct Global {
    pub data_dir: PathBuf,
    pub quiet: bool,
    pub json: bool,
}

fn main() -> ExitCode {
    // Output piped into `head` and the like ends quietly when the reader
    // closes, as with other command-line tools, instead of panicking.
    #[cfg(unix)]
    // SAFETY: restores the default disposition of SIGPIPE before any
    // thread starts; no handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    init_logging(cli.quiet);
    let global_json = cli.json;
    let global = Global {
        data_dir: cli.data_dir,
        quiet: cli.quiet,
        json: cli.json,
    };
    let result = match cli.command {
        Command::Ingest(command) => commands::ingest::execute(&global, command),
        Command::Run(args) => commands::run::execute(&global, args),
        Command::Datasets => commands::datasets::execute(&global),
        Command::Forecast(args) => commands::forecast::execute(&global, args),
        Command::Models(command) => commands::models::execute(&global, command),
        Command::Embed(args) => commands::embed::execute(&global, args),
        Command::Generate(args) => commands::generate::execute(&global, args),
        Command::Transcribe(args) => commands::transcribe::execute(&global, args),
        Command::Translate(args) => commands::translate::execute(&global, *args),
        Command::Train(command) => commands::train::execute(&global, command),
        Command::Keys(command) => commands::keys::execute(&global, command),
        Command::Serve(args) => commands::serve::execute(&global, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::debug!(error = ?err, "command failed");
            if global_json {
                // Scripts that asked for JSON get the error as JSON too.
                let error = serde_json::json!({ "error": format!("{err:#}") });
                eprintln!("{error}");
            } else {
                eprintln!("error: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error; `RUST_LOG` overrides the default level
/// (`warn`, or `error` with `--quiet`). llama.cpp's own warnings about
/// model metadata are shown only at `RUST_LOG=llama-cpp-2=warn`.
fn init_logging(quiet: bool) {
    let default = if quiet {
        "error"
    } else {
        "warn,llama-cpp-2=error"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
