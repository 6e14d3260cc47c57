//! `mercator keys create|list|revoke`: API keys of `mercator serve`.
//!
//! A key is 32 random bytes in hex behind the prefix `mk_`. It is printed
//! once at creation; the store keeps only its SHA-256.

use clap::Subcommand;
use mercator_data::registry::hash_api_key;
use rand::RngCore;

use crate::commands::ingest::open_store;
use crate::Global;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once.
    Create {
        /// Name of the key's holder, for example the shop front.
        #[arg(long)]
        name: String,
    },
    /// List keys (names and prefixes, never the keys).
    List,
    /// Revoke the active key with this name.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

pub fn execute(global: &Global, command: KeysCommand) -> anyhow::Result<()> {
    let mut store = open_store(&global.data_dir)?;
    match command {
        KeysCommand::Create { name } => {
            let name = name.trim().to_string();
            if name.is_empty() || name.chars().count() > 64 {
                anyhow::bail!("--name {name:?} must have 1 to 64 characters");
            }
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let key: String = std::iter::once("mk_".to_string())
                .chain(bytes.iter().map(|b| format!("{b:02x}")))
                .collect();
            let prefix = &key[..9];
            store.create_api_key(&name, prefix, &hash_api_key(&key))?;
            if global.json {
                println!("{}", serde_json::json!({ "name": name, "key": key }));
            } else {
                println!("{key}");
                if !global.quiet {
                    eprintln!("store this key now: it is not shown again");
                }
            }
        }
        KeysCommand::List => {
            let keys = store.api_keys()?;
            if global.json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else if keys.is_empty() {
                println!("no API keys; create one with `mercator keys create --name NAME`");
            } else {
                for key in keys {
                    let status = match &key.revoked_at {
                        Some(at) => format!("revoked {at}"),
                        None => "active".to_string(),
                    };
                    println!(
                        "{:<20} {}...  created {}  {status}",
                        key.name, key.prefix, key.created_at
                    );
                }
            }
        }
        KeysCommand::Revoke { name } => {
            if !store.revoke_api_key(&name)? {
                anyhow::bail!("no active API key named {name:?}; see `mercator keys list`");
            }
            if !global.quiet {
                println!("revoked {name:?}");
            }
        }
    }
    Ok(())
}
