//! Hugging Face repositories as a model source, through the `hf-hub` crate.
//!
//! Files are downloaded into `<cache>/huggingface` and copied into the
//! model folder. `HF_TOKEN` is read for gated repositories and `HF_ENDPOINT`
//! for mirrors, as in the Python client.
//! NOTE: this path needs access to huggingface.co (or a mirror) and has no
//! automated test here; the copy and manifest steps it shares with the
//! other sources are tested.

use std::path::Path;

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Repo, RepoType};
use tracing::info;

use crate::manifest::{Manifest, Role, Source};
use crate::speech::ensure_preprocessor_config;
use crate::store::ModelStore;
use crate::{ModelError, Result};

/// Downloads `files` of the model repository `repo` at `revision` (every
/// file of the repository when `files` is empty) and installs them as `name`.
pub fn add_from_hub(
    store: &ModelStore,
    name: &str,
    role: Role,
    repo: &str,
    revision: &str,
    files: &[String],
) -> Result<Manifest> {
    let failed = |reason: String| ModelError::HubFailed {
        repo: repo.to_string(),
        reason,
    };
    let mut builder = ApiBuilder::from_env()
        .with_cache_dir(super::cache_dir().join("huggingface"))
        .with_progress(false);
    if let Some(endpoint) = std::env::var_os("HF_ENDPOINT") {
        builder = builder.with_endpoint(endpoint.to_string_lossy().into_owned());
    }
    let api = builder.build().map_err(|err| failed(err.to_string()))?;
    let api_repo = api.repo(Repo::with_revision(
        repo.to_string(),
        RepoType::Model,
        revision.to_string(),
    ));

    let wanted: Vec<String> = if files.is_empty() {
        let info = api_repo.info().map_err(|err| failed(err.to_string()))?;
        info.siblings
            .into_iter()
            .map(|sibling| sibling.rfilename)
            .filter(|file| !file.starts_with('.'))
            .collect()
    } else {
        files.to_vec()
    };

    let mut downloaded = Vec::with_capacity(wanted.len());
    for file in &wanted {
        info!(repo, file = %file, "downloading from Hugging Face");
        let path = api_repo
            .get(file)
            .map_err(|err| failed(format!("{file}: {err}")))?;
        downloaded.push((file.clone(), path));
    }

    let source = Source::HuggingFace {
        repo: repo.to_string(),
        revision: revision.to_string(),
    };
    store.install(name, role, source, |staging| {
        for (file, cached) in &downloaded {
            copy_into(cached, &staging.join(file))?;
        }
        if role == Role::Speech {
            ensure_preprocessor_config(staging)?;
        }
        super::check_loads(staging, role)
    })
}

fn copy_into(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|err| ModelError::io(parent, err))?;
    }
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|err| ModelError::io(from, err))
}
