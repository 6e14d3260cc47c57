//! `mercator models`: fetch, list, verify and add model weights.
//!
//! Models live under `<data dir>/models/NAME/`; downloads are cached under
//! `$MERCATOR_CACHE_DIR` (default: the user's cache folder), outside the
//! checkout.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;
use mercator_models::defaults;
use mercator_models::fetch;
use mercator_models::manifest::Role;
use mercator_models::store::{ModelStore, VerifyReport};

use crate::Global;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List trained versions of a model (recommendations, propensity, forecasts, translation
    /// quality), newest first.
    History(super::registry::RegistryArgs),
    /// Make the previously promoted trained version current again.
    Rollback(super::registry::RegistryArgs),
    /// Fetch models by name (no name: the embedding, LLM and speech defaults).
    Pull {
        /// Names of default models; see `mercator models list --available`.
        names: Vec<String>,
        /// Fetch again even when the model is installed.
        #[arg(long)]
        force: bool,
    },
    /// List installed models (with --available, also the models `pull` fetches by name).
    List {
        /// Also list the models `pull` fetches by name.
        #[arg(long)]
        available: bool,
    },
    /// Check installed models: files present, checksums, and that they load.
    Verify {
        /// Models to check (default: all installed).
        names: Vec<String>,
        /// Only check files and checksums, without loading the models.
        #[arg(long)]
        no_load: bool,
    },
    /// Install a model from a local folder or a Hugging Face repository.
    Add {
        /// Name under which the model is installed.
        name: String,
        /// Folder containing the model files.
        #[arg(long, conflicts_with = "hf_repo", required_unless_present = "hf_repo")]
        path: Option<PathBuf>,
        /// Hugging Face model repository, for example `sentence-transformers/all-MiniLM-L6-v2`.
        #[arg(long)]
        hf_repo: Option<String>,
        /// Revision (branch, tag or commit) of the Hugging Face repository.
        #[arg(long, default_value = "main", requires = "hf_repo")]
        revision: String,
        /// Files to download from the repository (default: all).
        #[arg(long = "file", requires = "hf_repo")]
        files: Vec<String>,
        /// Replace a model already installed under this name.
        #[arg(long)]
        force: bool,
        /// Model role: embedding, llm, speech or translation (detected from the files of
        /// a local folder when not given).
        #[arg(long)]
        role: Option<Role>,
    },
}

pub fn execute(global: &Global, command: ModelsCommand) -> anyhow::Result<()> {
    let store = ModelStore::new(&global.data_dir);
    match command {
        ModelsCommand::History(args) => {
            super::registry::execute(global, super::registry::RegistryCommand::History(args))
        }
        ModelsCommand::Rollback(args) => {
            super::registry::execute(global, super::registry::RegistryCommand::Rollback(args))
        }
        ModelsCommand::Pull { names, force } => pull(global, &store, &names, force),
        ModelsCommand::List { available } => list(global, &store, available),
        ModelsCommand::Verify { names, no_load } => verify(global, &store, &names, !no_load),
        ModelsCommand::Add {
            name,
            path,
            hf_repo,
            revision,
            files,
            force,
            role,
        } => {
            if store.contains(&name) && !force {
                bail!(
                    "a model named {name:?} is already installed; choose another name, \
                     or pass --force to replace it"
                );
            }
            let manifest = match (path, hf_repo) {
                (Some(path), _) => {
                    let role = match role.or_else(|| fetch::detect_role(&path)) {
                        Some(role) => role,
                        None => bail!(
                            "cannot tell the role of {}; pass --role embedding, llm, speech or translation",
                            path.display()
                        ),
                    };
                    fetch::add_local(&store, &name, role, &path)
                        .map_err(|err| not_added(&name, err))?
                }
                (None, Some(repo)) => {
                    let Some(role) = role else {
                        bail!("--role is required with --hf-repo");
                    };
                    fetch::hub::add_from_hub(&store, &name, role, &repo, &revision, &files)
                        .map_err(|err| not_added(&name, err))?
                }
                (None, None) => bail!("give --path DIR or --hf-repo REPO"),
            };
            if global.json {
                println!("{}", serde_json::to_string_pretty(&manifest)?);
            } else if !global.quiet {
                println!(
                    "added {} ({}, {} files, {})",
                    manifest.name,
                    manifest.role,
                    manifest.files.len(),
                    human_size(manifest.total_size())
                );
            }
            Ok(())
        }
    }
}

fn pull(global: &Global, store: &ModelStore, names: &[String], force: bool) -> anyhow::Result<()> {
    let models: Vec<&defaults::DefaultModel> = if names.is_empty() {
        defaults::ALL.iter().collect()
    } else {
        names
            .iter()
            .map(|name| {
                defaults::find(name).ok_or_else(|| mercator_models::ModelError::UnknownDefault {
                    name: name.clone(),
                    known: known_names(),
                })
            })
            .collect::<Result<_, _>>()?
    };

    let mut manifests = Vec::new();
    for model in models {
        let was_installed = store.contains(model.name);
        let manifest = fetch::pull_default(store, model, force)
            .with_context(|| format!("pulling {}", model.name))?;
        if !global.quiet && !global.json {
            let state = if was_installed && !force {
                "already installed"
            } else {
                "installed"
            };
            println!(
                "{}: {state} ({}, {})",
                manifest.name,
                manifest.role,
                human_size(manifest.total_size())
            );
        }
        manifests.push(manifest);
    }
    if global.json {
        println!("{}", serde_json::to_string_pretty(&manifests)?);
    }
    Ok(())
}

fn list(global: &Global, store: &ModelStore, available: bool) -> anyhow::Result<()> {
    let inventory = store.scan()?;
    let installed = inventory.models;
    if global.json {
        let defaults_json: Vec<_> = known_models()
            .map(|(model, default)| {
                let packages: Vec<String> = model
                    .packages
                    .iter()
                    .map(|(package, version)| format!("{package}=={version}"))
                    .collect();
                serde_json::json!({
                    "name": model.name,
                    "role": model.role,
                    "packages": packages,
                    "description": model.description,
                    "default": default,
                    "installed": store.contains(model.name),
                })
            })
            .collect();
        let mut out = serde_json::json!({ "installed": installed, "broken": inventory.broken });
        if available {
            out["available"] = serde_json::json!(defaults_json);
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }

    if installed.is_empty() && inventory.broken.is_empty() && !global.quiet {
        println!("no models installed; fetch the defaults with `mercator models pull`");
    }
    for manifest in &installed {
        println!(
            "{:<28} {:<9} {:>9}  {}",
            manifest.name,
            manifest.role.as_str(),
            human_size(manifest.total_size()),
            source_label(&manifest.source)
        );
    }
    for broken in &inventory.broken {
        println!(
            "{:<28} broken: {}; {}",
            broken.name,
            broken.reason,
            reinstall_advice(&broken.name, None)
        );
    }
    if available {
        println!("\navailable with `mercator models pull NAME` (* also pulled without a name):");
        for (model, default) in known_models() {
            println!(
                "{:<28} {:<9} {}{}",
                model.name,
                model.role.as_str(),
                model.description,
                if default { " *" } else { "" }
            );
        }
    }
    Ok(())
}

fn verify(global: &Global, store: &ModelStore, names: &[String], load: bool) -> anyhow::Result<()> {
    let names: Vec<String> = if names.is_empty() {
        let inventory = store.scan()?;
        let mut all: Vec<String> = inventory.models.into_iter().map(|m| m.name).collect();
        all.extend(inventory.broken.into_iter().map(|b| b.name));
        all.sort();
        all
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        bail!("no models installed; fetch the defaults with `mercator models pull`");
    }

    let mut reports = Vec::new();
    for name in &names {
        let mut report = match store.verify_files(name) {
            Ok(report) => report,
            // A model that is not installed stays an error; an unreadable
            // manifest is one failed model among the others.
            Err(err) if !store.contains(name) => return Err(err.into()),
            Err(err) => VerifyReport {
                name: name.clone(),
                role: None,
                problems: vec![err.to_string()],
            },
        };
        if load && report.is_ok() {
            if let Err(err) = fetch::load_check(store, name) {
                report.problems.push(format!("load failed: {err}"));
            }
        }
        reports.push(report);
    }

    if global.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for report in &reports {
            if report.is_ok() {
                if !global.quiet {
                    let checked = if load { "files and loading" } else { "files" };
                    println!("{}: ok ({checked})", report.name);
                }
            } else {
                for problem in &report.problems {
                    println!("{}: {problem}", report.name);
                }
                let source = store.manifest(&report.name).ok().map(|m| m.source);
                println!(
                    "{}: {}",
                    report.name,
                    reinstall_advice(&report.name, source.as_ref())
                );
            }
        }
    }
    let n_failed = reports.iter().filter(|report| !report.is_ok()).count();
    if n_failed > 0 {
        bail!(
            "{n_failed} of {} models failed verification; reinstall each one as its last line says",
            reports.len()
        );
    }
    Ok(())
}

/// Explains a failed `models add`; files that do not load get the fixes for
/// that case. An installed model of the same name is kept either way.
fn not_added(name: &str, err: mercator_models::ModelError) -> anyhow::Error {
    match err {
        mercator_models::ModelError::Load { .. } | mercator_models::ModelError::Io { .. } => {
            anyhow::anyhow!(
                "{name:?} was not installed because its files failed to load ({err}); \
             check the folder, or pass --role if the detected role is wrong"
            )
        }
        other => other.into(),
    }
}

/// Says how to reinstall `name`: pull a default again, or add a local or
/// Hugging Face model again from where it came from.
fn reinstall_advice(name: &str, source: Option<&mercator_models::manifest::Source>) -> String {
    use mercator_models::manifest::Source;
    match source {
        Some(Source::Local { path }) => format!(
            "add it again with `mercator models add {name} --path {} --force`",
            path.display()
        ),
        Some(Source::HuggingFace { repo, .. }) => format!(
            "add it again with `mercator models add {name} --hf-repo {repo} --force`"
        ),
        _ if defaults::find(name).is_some() => {
            format!("fetch it again with `mercator models pull --force {name}`")
        }
        _ => format!(
            "remove the folder {name} under the models folder and add the model again with `mercator models add`"
        ),
    }
}

/// Lists every model `pull` fetches by name, with whether it is pulled without a name.
fn known_models() -> impl Iterator<Item = (&'static defaults::DefaultModel, bool)> {
    defaults::ALL
        .iter()
        .map(|model| (model, true))
        .chain(defaults::OPTIONAL.iter().map(|model| (model, false)))
}

fn known_names() -> String {
    known_models()
        .map(|(model, _)| model.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn source_label(source: &mercator_models::manifest::Source) -> String {
    use mercator_models::manifest::Source;
    match source {
        Source::Local { path } => format!("local {}", path.display()),
        Source::HuggingFace { repo, revision } => format!("huggingface {repo}@{revision}"),
        Source::Pypi { packages } => format!("pypi {}", packages.join(" ")),
    }
}

/// Formats a byte count with a binary unit.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
