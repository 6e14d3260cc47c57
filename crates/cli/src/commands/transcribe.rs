//! `mercator transcribe`: speech-to-text of one audio file.

use std::path::PathBuf;

use clap::Args;

use crate::Global;

#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Audio file (WAV, FLAC, MP3, Ogg Vorbis).
    file: PathBuf,
    /// Installed Whisper model (default: whisper-tiny-en).
    #[arg(long)]
    model: Option<String>,
    /// Beam size (1: greedy search).
    #[arg(long, default_value_t = 5)]
    beam_size: usize,
}

#[cfg(feature = "whisper")]
pub fn execute(global: &Global, args: TranscribeArgs) -> anyhow::Result<()> {
    use mercator_models::fetch::model_name_or_default;
    use mercator_models::manifest::Role;
    use mercator_models::speech::Transcriber;
    use mercator_models::store::ModelStore;

    if args.file.is_dir() {
        anyhow::bail!(
            "{} is a folder; give an audio file (WAV, FLAC, MP3 or Ogg)",
            args.file.display()
        );
    }
    if !args.file.is_file() {
        anyhow::bail!("audio file not found: {}", args.file.display());
    }
    let store = ModelStore::new(&global.data_dir);
    let name = model_name_or_default(args.model.as_deref(), Role::Speech);
    let dir = store.require(&name, Role::Speech)?;
    let transcriber = Transcriber::load(&dir)?.with_beam_size(args.beam_size);
    let transcript = transcriber.transcribe_file(&args.file)?;

    if global.json {
        println!("{}", serde_json::to_string_pretty(&transcript)?);
    } else {
        println!("{}", transcript.text);
    }
    Ok(())
}

#[cfg(not(feature = "whisper"))]
pub fn execute(_global: &Global, _args: TranscribeArgs) -> anyhow::Result<()> {
    anyhow::bail!("this build has no speech-to-text runtime; rebuild with the `whisper` feature")
}
