//! The folder of installed models: `<data dir>/models/NAME/`.
//!
//! Every install is written into a staging folder inside the models folder
//! and renamed into place only when all files and the manifest are written,
//! so an error or a kill part-way leaves either the old model or nothing.
//! Start from [`ModelStore`].

use std::path::{Path, PathBuf};

use serde::Serialize;
use tracing::{debug, info, warn};

use crate::defaults;
use crate::manifest::{scan_files, sha256_file, Manifest, Role, Source};
use crate::{ModelError, Result};

/// Prefix of staging folders; `list` skips them and `install` removes
/// leftovers from killed runs.
const STAGING_PREFIX: &str = ".staging-";

/// Age after which a staging folder counts as left over from a killed run.
const STALE_STAGING_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The models folder of one data directory.
#[derive(Debug, Clone)]
pub struct ModelStore {
    root: PathBuf,
}

/// The installed models, readable or not.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub models: Vec<Manifest>,
    pub broken: Vec<BrokenModel>,
}

/// An installed model whose manifest cannot be read.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenModel {
    pub name: String,
    /// Why the manifest was rejected.
    pub reason: String,
}

/// Outcome of checking one installed model.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub name: String,
    /// The model's role; unknown when its manifest cannot be read.
    pub role: Option<Role>,
    /// One line per problem found; empty when the files match the manifest.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Returns true when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl ModelStore {
    /// Opens the models folder of `data_dir` (created on first install).
    pub fn new(data_dir: &Path) -> Self {
        ModelStore {
            root: data_dir.join("models"),
        }
    }

    /// Returns the models folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Folder of the model `name`, whether installed or not.
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Returns true when `name` has a manifest in the store.
    pub fn contains(&self, name: &str) -> bool {
        self.model_dir(name)
            .join(crate::manifest::MANIFEST_FILE)
            .is_file()
    }

    /// Reads the manifest of an installed model, or explains how to get it.
    pub fn manifest(&self, name: &str) -> Result<Manifest> {
        validate_name(name)?;
        if !self.contains(name) {
            return Err(self.not_installed(name));
        }
        Manifest::read(&self.model_dir(name))
    }

    /// Returns the folder of an installed model after checking its role.
    pub fn require(&self, name: &str, role: Role) -> Result<PathBuf> {
        let manifest = self.manifest(name)?;
        if manifest.role != role {
            return Err(ModelError::WrongRole {
                name: name.to_string(),
                expected: role.to_string(),
                actual: manifest.role.to_string(),
            });
        }
        Ok(self.model_dir(name))
    }

    /// Lists the manifests of all installed models, sorted by name. Models
    /// whose manifest cannot be read are left out with a warning; see
    /// [`ModelStore::scan`] for them.
    pub fn list(&self) -> Result<Vec<Manifest>> {
        let inventory = self.scan()?;
        for broken in &inventory.broken {
            warn!(model = %broken.name, reason = %broken.reason, "skipping a model with an unreadable manifest");
        }
        Ok(inventory.models)
    }

    /// Reads every installed model's manifest, sorted by name. One unreadable
    /// manifest does not hide the others: it is reported in
    /// [`Inventory::broken`].
    pub fn scan(&self) -> Result<Inventory> {
        let mut inventory = Inventory::default();
        if !self.root.is_dir() {
            return Ok(inventory);
        }
        let read_dir =
            std::fs::read_dir(&self.root).map_err(|err| ModelError::io(&self.root, err))?;
        for entry in read_dir {
            let entry = entry.map_err(|err| ModelError::io(&self.root, err))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !self.contains(&name) {
                continue;
            }
            match Manifest::read(&entry.path()) {
                Ok(manifest) => inventory.models.push(manifest),
                Err(err) => inventory.broken.push(BrokenModel {
                    name,
                    reason: err.to_string(),
                }),
            }
        }
        inventory.models.sort_by(|a, b| a.name.cmp(&b.name));
        inventory.broken.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(inventory)
    }

    /// Installs a model atomically: `populate` writes the model files into
    /// an empty staging folder, then the files are hashed into a manifest
    /// and the folder is renamed to `<models>/NAME`, replacing any earlier
    /// version. On error the staging folder is removed.
    pub fn install(
        &self,
        name: &str,
        role: Role,
        source: Source,
        populate: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<Manifest> {
        validate_name(name)?;
        std::fs::create_dir_all(&self.root).map_err(|err| ModelError::io(&self.root, err))?;
        self.remove_stale_staging();

        let staging = tempfile::Builder::new()
            .prefix(&format!("{STAGING_PREFIX}{}-{name}-", std::process::id()))
            .tempdir_in(&self.root)
            .map_err(|err| ModelError::io(&self.root, err))?;
        populate(staging.path())?;

        let files = scan_files(staging.path())?;
        if files.is_empty() {
            return Err(ModelError::EmptySource {
                path: staging.path().to_path_buf(),
            });
        }
        let manifest = Manifest {
            name: name.to_string(),
            role,
            source,
            files,
        };
        manifest.write(staging.path())?;

        self.replace(name, staging)?;
        info!(
            model = name,
            files = manifest.files.len(),
            "model installed"
        );
        Ok(manifest)
    }

    /// Moves a finished staging folder to `<models>/NAME`. An existing
    /// version is first renamed aside, so the name always points at a
    /// complete model.
    fn replace(&self, name: &str, staging: tempfile::TempDir) -> Result<()> {
        let target = self.model_dir(name);
        let staged = staging.keep();
        let mut old_version = None;
        if target.exists() {
            let aside = self.root.join(format!("{STAGING_PREFIX}{name}-old"));
            let _ = std::fs::remove_dir_all(&aside);
            std::fs::rename(&target, &aside).map_err(|err| ModelError::io(&target, err))?;
            old_version = Some(aside);
        }
        if let Err(err) = std::fs::rename(&staged, &target) {
            let _ = std::fs::remove_dir_all(&staged);
            if let Some(aside) = &old_version {
                let _ = std::fs::rename(aside, &target);
            }
            return Err(ModelError::io(&target, err));
        }
        if let Some(aside) = old_version {
            let _ = std::fs::remove_dir_all(aside);
        }
        Ok(())
    }

    /// Removes staging folders left by a killed install: those whose
    /// process has exited, and those of unknown owner not changed for an
    /// hour. A folder of a running process is kept, because that process
    /// may still be writing it.
    fn remove_stale_staging(&self) {
        let Ok(read_dir) = std::fs::read_dir(&self.root) else {
            return;
        };
        for entry in read_dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let age = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok());
            let Some(rest) = name.strip_prefix(STAGING_PREFIX) else {
                continue;
            };
            // A folder whose owner is known goes when that process has
            // exited, however old; other folders go after an hour.
            let is_stale = match staging_owner(rest).and_then(process_is_running) {
                Some(running) => !running,
                None => age.is_some_and(|age| age > STALE_STAGING_AGE),
            };
            if is_stale {
                debug!(folder = %name, "removing stale staging folder");
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Checks that every file of the manifest is present with its recorded
    /// size and SHA-256. Loading the model is a separate step
    /// ([`crate::fetch::load_check`]).
    pub fn verify_files(&self, name: &str) -> Result<VerifyReport> {
        let manifest = self.manifest(name)?;
        let dir = self.model_dir(name);
        let mut problems = Vec::new();
        if manifest.name != name {
            problems.push(format!(
                "manifest names the model {:?}, but its folder is {name:?}",
                manifest.name
            ));
        }
        for file in &manifest.files {
            // A manifest lists files inside its own folder only; anything
            // else was edited by hand and is not read.
            let inside = std::path::Path::new(&file.path)
                .components()
                .all(|part| matches!(part, std::path::Component::Normal(_)));
            if !inside {
                problems.push(format!(
                    "{}: the manifest points outside the model folder",
                    file.path
                ));
                continue;
            }
            let path = dir.join(&file.path);
            let Ok(metadata) = std::fs::metadata(&path) else {
                problems.push(format!("{}: missing", file.path));
                continue;
            };
            if metadata.len() != file.size {
                problems.push(format!(
                    "{}: size is {} bytes, manifest records {}",
                    file.path,
                    metadata.len(),
                    file.size
                ));
                continue;
            }
            let actual = sha256_file(&path)?;
            if actual != file.sha256 {
                problems.push(format!(
                    "{}: sha256 is {actual}, manifest records {}",
                    file.path, file.sha256
                ));
            }
        }
        Ok(VerifyReport {
            name: name.to_string(),
            role: Some(manifest.role),
            problems,
        })
    }

    fn not_installed(&self, name: &str) -> ModelError {
        let hint = if defaults::find(name).is_some() {
            format!("fetch it with `mercator models pull {name}`")
        } else {
            format!("add it with `mercator models add {name} --path DIR`")
        };
        ModelError::NotInstalled {
            name: name.to_string(),
            dir: self.root.clone(),
            hint,
        }
    }
}

/// Process id in a staging folder name after the prefix
/// (`PID-NAME-RANDOM`), when it has one.
fn staging_owner(rest: &str) -> Option<u32> {
    rest.split('-').next()?.parse().ok()
}

/// Tells whether process `pid` is alive; `None` where that cannot be
/// checked (no `/proc`).
fn process_is_running(pid: u32) -> Option<bool> {
    if pid == std::process::id() {
        return Some(true);
    }
    let proc_root = Path::new("/proc");
    proc_root
        .join("self")
        .exists()
        .then(|| proc_root.join(pid.to_string()).exists())
}

/// Accepts names that are safe as one folder name on every platform.
pub fn validate_name(name: &str) -> Result<()> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if name.is_empty() || name.starts_with('.') || !valid_chars {
        return Err(ModelError::InvalidName {
            name: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local_source() -> Source {
        Source::Local {
            path: PathBuf::from("/nowhere"),
        }
    }

    #[test]
    fn install_writes_manifest_with_hashes() {
        let data = tempfile::tempdir().unwrap();
        let store = ModelStore::new(data.path());
        let manifest = store
            .install("tiny", Role::Embedding, local_source(), |dir| {
                std::fs::write(dir.join("a.txt"), b"abc").map_err(|e| ModelError::io(dir, e))
            })
            .unwrap();
        assert_eq!(manifest.files.len(), 1);
        assert_eq!(store.manifest("tiny").unwrap(), manifest);
    }

    fn install_tiny(store: &ModelStore, name: &str) {
        store
            .install(name, Role::Embedding, local_source(), |dir| {
                std::fs::write(dir.join("a.txt"), b"abc").map_err(|e| ModelError::io(dir, e))
            })
            .unwrap();
    }

    #[test]
    fn install_removes_staging_of_exited_process_at_once() {
        let data = tempfile::tempdir().unwrap();
        let store = ModelStore::new(data.path());
        std::fs::create_dir_all(store.root()).unwrap();
        // A pid above the kernel's maximum (4194304) never runs.
        let killed = store
            .root()
            .join(format!("{STAGING_PREFIX}4999999-tiny-abc"));
        let running = store
            .root()
            .join(format!("{STAGING_PREFIX}{}-tiny-def", std::process::id()));
        std::fs::create_dir(&killed).unwrap();
        std::fs::create_dir(&running).unwrap();

        install_tiny(&store, "tiny");

        assert!(!killed.exists(), "the exited process' folder must go");
        assert!(
            running.exists(),
            "a running process' fresh folder must stay"
        );
    }

    #[test]
    fn verify_refuses_files_outside_the_model_folder() {
        let data = tempfile::tempdir().unwrap();
        let store = ModelStore::new(data.path());
        install_tiny(&store, "tiny");
        let manifest_path = store.model_dir("tiny").join(crate::manifest::MANIFEST_FILE);
        let text = std::fs::read_to_string(&manifest_path).unwrap();
        std::fs::write(
            &manifest_path,
            text.replace("\"a.txt\"", "\"../../secret\""),
        )
        .unwrap();

        let report = store.verify_files("tiny").unwrap();

        assert!(!report.is_ok());
        assert!(
            report.problems[0].contains("outside the model folder"),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn unreadable_manifest_does_not_hide_other_models() {
        let data = tempfile::tempdir().unwrap();
        let store = ModelStore::new(data.path());
        install_tiny(&store, "good");
        install_tiny(&store, "bad");
        std::fs::write(
            store.model_dir("bad").join(crate::manifest::MANIFEST_FILE),
            "{ not json",
        )
        .unwrap();

        let inventory = store.scan().unwrap();

        assert_eq!(inventory.models.len(), 1);
        assert_eq!(inventory.models[0].name, "good");
        assert_eq!(inventory.broken.len(), 1);
        assert_eq!(inventory.broken[0].name, "bad");
        assert_eq!(store.list().unwrap().len(), 1);
    }

    #[test]
    fn failed_install_leaves_models_folder_empty() {
        let data = tempfile::tempdir().unwrap();
        let store = ModelStore::new(data.path());
        let result = store.install("tiny", Role::Embedding, local_source(), |dir| {
            std::fs::write(dir.join("half.bin"), b"half").unwrap();
            Err(ModelError::Embedding("simulated failure".into()))
        });
        assert!(result.is_err());
        let leftovers: Vec<_> = std::fs::read_dir(store.root()).unwrap().collect();
        assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    }

    #[test]
    fn failed_reinstall_keeps_previous_version() {
        let data = tempfile::tempdir().unwrap();
        let store = ModelStore::new(data.path());
        store
            .install("tiny", Role::Embedding, local_source(), |dir| {
                std::fs::write(dir.join("a.txt"), b"v1").map_err(|e| ModelError::io(dir, e))
            })
            .unwrap();
        let _ = store.install("tiny", Role::Embedding, local_source(), |_| {
            Err(ModelError::Embedding("simulated failure".into()))
        });
        let content = std::fs::read(store.model_dir("tiny").join("a.txt")).unwrap();
        assert_eq!(content, b"v1");
    }

    #[test]
    fn verify_reports_truncated_file() {
        let data = tempfile::tempdir().unwrap();
        let store = ModelStore::new(data.path());
        store
            .install("tiny", Role::Embedding, local_source(), |dir| {
                std::fs::write(dir.join("w.bin"), b"0123456789").map_err(|e| ModelError::io(dir, e))
            })
            .unwrap();
        std::fs::write(store.model_dir("tiny").join("w.bin"), b"01234").unwrap();
        let report = store.verify_files("tiny").unwrap();
        assert_eq!(report.problems.len(), 1);
        assert!(report.problems[0].contains("size is 5 bytes"));
    }

    #[test]
    fn verify_reports_altered_file() {
        let data = tempfile::tempdir().unwrap();
        let store = ModelStore::new(data.path());
        store
            .install("tiny", Role::Embedding, local_source(), |dir| {
                std::fs::write(dir.join("w.bin"), b"0123456789").map_err(|e| ModelError::io(dir, e))
            })
            .unwrap();
        std::fs::write(store.model_dir("tiny").join("w.bin"), b"0123456780").unwrap();
        let report = store.verify_files("tiny").unwrap();
        assert!(report.problems[0].contains("sha256 is"));
    }

    #[test]
    fn missing_default_names_pull_command() {
        let data = tempfile::tempdir().unwrap();
        let store = ModelStore::new(data.path());
        let message = store.manifest("all-minilm-l6-v2").unwrap_err().to_string();
        assert!(
            message.contains("mercator models pull all-minilm-l6-v2"),
            "{message}"
        );
    }

    #[test]
    fn missing_custom_model_names_add_command() {
        let data = tempfile::tempdir().unwrap();
        let store = ModelStore::new(data.path());
        let message = store.manifest("my-model").unwrap_err().to_string();
        assert!(
            message.contains("mercator models add my-model --path"),
            "{message}"
        );
    }

    #[test]
    fn name_with_slash_is_rejected() {
        assert!(validate_name("../etc").is_err());
    }
}
