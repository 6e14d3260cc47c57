//! The error type every operation of this crate returns.
//!
//! Messages name the value that failed and, where one exists, the command
//! that fixes it (for example the `mercator models pull` line for a model
//! that is not installed).

use std::path::PathBuf;

/// Errors from fetching, verifying and running models.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model `{name}` is not installed in {dir}; {hint}")]
    NotInstalled {
        name: String,
        dir: PathBuf,
        hint: String,
    },

    #[error("model `{name}` has the role {actual}, but this needs a model with the role {expected}; `mercator models list` shows the roles")]
    WrongRole {
        name: String,
        expected: String,
        actual: String,
    },

    #[error("unknown model `{name}`: the models `pull` fetches by name are {known}")]
    UnknownDefault { name: String, known: String },

    #[error("invalid model name `{name}`: use lower-case letters, digits, `.`, `_` and `-`")]
    InvalidName { name: String },

    // The cause is part of the message and not a `#[source]`, so an error
    // chain prints it once.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("invalid manifest {path}: {source}")]
    InvalidManifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("`{command}` failed for package `{package}` ({status}): {stderr}")]
    PipFailed {
        command: String,
        package: String,
        status: String,
        stderr: String,
    },

    #[error("invalid wheel {path}: {reason}")]
    InvalidWheel { path: PathBuf, reason: String },

    #[error(
        "hash mismatch in wheel {wheel} for `{file}`: RECORD has sha256={expected}, \
         the file has sha256={actual}; delete the wheel and pull again"
    )]
    WheelHashMismatch {
        wheel: PathBuf,
        file: String,
        expected: String,
        actual: String,
    },

    #[error("checksum mismatch for {path}: expected sha256 {expected}, found {actual}")]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("Hugging Face download of `{repo}` failed: {reason}")]
    HubFailed { repo: String, reason: String },

    #[error("source folder {path} contains no files")]
    EmptySource { path: PathBuf },

    #[error("failed to load model from {path}: {reason}")]
    Load { path: PathBuf, reason: String },

    #[error("embedding failed: {0}")]
    Embedding(String),

    #[error("the prompt is empty")]
    EmptyPrompt,

    #[error(
        "prompt ({prompt_tokens} tokens) plus max tokens ({max_tokens}) exceeds the \
         context of {context_tokens} tokens; shorten the prompt or lower --max-tokens"
    )]
    ContextExceeded {
        prompt_tokens: usize,
        max_tokens: usize,
        context_tokens: usize,
    },

    #[error("invalid generation option: {0}")]
    InvalidOption(String),

    #[error("generation failed: {0}")]
    Generation(String),

    #[error("request to {url} failed: {reason}")]
    Endpoint { url: String, reason: String },

    #[error("{path} is not a readable audio file: {reason}")]
    NotAudio { path: PathBuf, reason: String },

    #[error("transcription failed: {0}")]
    Transcription(String),

    #[error("translation failed: {0}")]
    Translation(String),
}

impl ModelError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }
}
