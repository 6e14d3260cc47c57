//! State shared by the handlers: the served models and forecast run, the
//! active key hashes and the events received since the models were trained.
//!
//! [`AppState::reload`] runs on a blocking thread: it reads the promoted
//! versions from the registry and loads an artefact only when its version
//! changed, then swaps it in; requests in flight keep the `Arc` of the
//! model they started with.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context;
use chrono::NaiveDateTime;
use mercator_data::registry::{hash_api_key, Event, ModelVersion};
use mercator_data::Store;
use mercator_forecast::snapshot::{self, ForecastSnapshot};
use mercator_recommend::offline::RecentEvent;
use mercator_recommend::propensity_model::PropensityModel;
use mercator_recommend::RecommendModel;
use tracing::info;

use crate::artifacts;

/// A model with the registry version it came from.
pub struct Served<T> {
    /// Registry version id.
    pub version: i64,
    /// The model.
    pub model: T,
}

/// Everything the handlers share.
pub struct AppState {
    data_dir: PathBuf,
    /// Dataset whose models are served.
    pub dataset: String,
    store: Mutex<Store>,
    key_hashes: RwLock<HashSet<String>>,
    recommend: RwLock<Option<Arc<Served<RecommendModel>>>>,
    propensity: RwLock<Option<Arc<Served<PropensityModel>>>>,
    forecast: RwLock<Option<Arc<Served<ForecastSnapshot>>>>,
    /// Recommendation replies already sent, by request.
    replies: RwLock<HashMap<ReplyKey, CachedReply>>,
    /// Most replies kept; 0 turns the cache off.
    reply_capacity: usize,
    /// Model of the chat completions endpoints, when the server loaded one.
    pub chat: Option<Arc<crate::chat::ChatModel>>,
    /// Listing translation and translation quality.
    pub translate: Option<Arc<crate::translate::TranslateService>>,
    /// Events per customer since the served model's data end.
    events: RwLock<HashMap<String, Vec<RecentEvent>>>,
}

/// Recommendation replies kept when the server sets no other number.
pub const DEFAULT_REPLY_CAPACITY: usize = 20_000;

/// What a recommendation reply depends on besides the model and the
/// customer's events.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyKey {
    pub customer_id: String,
    pub k: usize,
    pub country: Option<String>,
    pub exclude_purchased: bool,
}

/// A serialized reply, the model version that produced it and how many of
/// the customer's events it took into account.
#[derive(Debug, Clone)]
pub struct CachedReply {
    pub version: i64,
    pub events_seen: usize,
    pub body: axum::body::Bytes,
}

/// Weight of an event kind in a customer's profile.
pub fn event_weight(kind: &str) -> Option<f32> {
    match kind {
        "view" => Some(0.3),
        "click" => Some(0.5),
        "add_to_cart" => Some(0.8),
        "purchase" => Some(1.0),
        _ => None,
    }
}

/// Adds stored events to the per-customer profiles, skipping unknown kinds.
fn add_events(profiles: &mut HashMap<String, Vec<RecentEvent>>, events: &[Event]) {
    for event in events {
        let Some(weight) = event_weight(&event.kind) else {
            continue;
        };
        profiles
            .entry(event.customer_id.clone())
            .or_default()
            .push(RecentEvent {
                sku: event.sku.clone(),
                weight,
                purchase: event.kind == "purchase",
            });
    }
}

impl AppState {
    /// Opens the store of `data_dir`; no model is loaded yet.
    pub fn open(data_dir: &Path, dataset: &str) -> anyhow::Result<AppState> {
        let store = Store::open(data_dir)
            .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
        Ok(AppState {
            data_dir: data_dir.to_path_buf(),
            dataset: dataset.to_string(),
            store: Mutex::new(store),
            key_hashes: RwLock::new(HashSet::new()),
            recommend: RwLock::new(None),
            propensity: RwLock::new(None),
            forecast: RwLock::new(None),
            replies: RwLock::new(HashMap::new()),
            reply_capacity: DEFAULT_REPLY_CAPACITY,
            chat: None,
            translate: Some(Arc::new(crate::translate::TranslateService::new(
                data_dir.to_path_buf(),
                Default::default(),
                None,
            ))),
            events: RwLock::new(HashMap::new()),
        })
    }

    /// Sets how many recommendation replies are kept (0: none).
    pub fn set_reply_capacity(&mut self, capacity: usize) {
        self.reply_capacity = capacity;
    }

    /// Returns the reply sent earlier for `key`, if the model that made it
    /// is still the served one.
    pub fn cached_reply(&self, key: &ReplyKey, version: i64) -> Option<axum::body::Bytes> {
        let replies = self.replies.read().ok()?;
        replies
            .get(key)
            .filter(|reply| reply.version == version)
            .map(|reply| reply.body.clone())
    }

    /// Keeps a reply for later requests, unless an event of the customer
    /// arrived while it was computed. A full cache is emptied first, so
    /// memory stays bounded.
    pub fn keep_reply(&self, key: ReplyKey, reply: CachedReply) {
        if self.reply_capacity == 0 {
            return;
        }
        if let Ok(mut replies) = self.replies.write() {
            // Checked under the cache lock: `record_events` adds events
            // before it takes this lock to drop the customer's replies, so
            // either this sees the new event or that drops this reply.
            if self.customer_event_count(&key.customer_id) != reply.events_seen {
                return;
            }
            if replies.len() >= self.reply_capacity {
                replies.clear();
            }
            replies.insert(key, reply);
        }
    }

    /// Whether `key` is an active API key.
    pub fn is_valid_key(&self, key: &str) -> bool {
        let hash = hash_api_key(key);
        self.key_hashes
            .read()
            .map(|hashes| hashes.contains(&hash))
            .unwrap_or(false)
    }

    /// The served recommendation model, if one is promoted.
    pub fn recommend(&self) -> Option<Arc<Served<RecommendModel>>> {
        self.recommend.read().ok().and_then(|m| m.clone())
    }

    /// The served propensity model, if one is promoted.
    pub fn propensity(&self) -> Option<Arc<Served<PropensityModel>>> {
        self.propensity.read().ok().and_then(|m| m.clone())
    }

    /// The served forecast run, if `mercator forecast` has recorded one.
    pub fn forecast(&self) -> Option<Arc<Served<ForecastSnapshot>>> {
        self.forecast.read().ok().and_then(|m| m.clone())
    }

    /// Events of a customer received since the model's data end.
    pub fn customer_events(&self, customer_id: &str) -> Vec<RecentEvent> {
        self.events
            .read()
            .ok()
            .and_then(|events| events.get(customer_id).cloned())
            .unwrap_or_default()
    }

    /// Counts a customer's events received since the model's data end,
    /// without copying them.
    fn customer_event_count(&self, customer_id: &str) -> usize {
        self.events
            .read()
            .ok()
            .and_then(|events| events.get(customer_id).map(Vec::len))
            .unwrap_or(0)
    }

    /// Stores events and adds them to the in-memory profiles.
    pub fn record_events(&self, events: &[Event]) -> anyhow::Result<()> {
        {
            let mut store = self
                .store
                .lock()
                .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
            store.insert_events(&self.dataset, events)?;
        }
        {
            let mut memory = self
                .events
                .write()
                .map_err(|_| anyhow::anyhow!("event lock poisoned"))?;
            add_events(&mut memory, events);
        }
        // New events change these customers' lists; dropped only after the
        // events are in memory (see `keep_reply`).
        if let Ok(mut replies) = self.replies.write() {
            let customers: HashSet<&str> = events.iter().map(|e| e.customer_id.as_str()).collect();
            replies.retain(|key, _| !customers.contains(key.customer_id.as_str()));
        }
        Ok(())
    }

    /// Reads the promoted version of `kind` for `dataset` from the shared
    /// store, for services that load their models on request.
    pub fn promoted_version(
        &self,
        kind: &str,
        dataset: &str,
    ) -> anyhow::Result<Option<ModelVersion>> {
        let store = self
            .store
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        Ok(store.current_model_version(kind, dataset)?)
    }

    /// Refreshes the key hashes and loads newly promoted models.
    pub fn reload(&self) -> anyhow::Result<()> {
        let store = self
            .store
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        let hashes: HashSet<String> = store.active_key_hashes()?.into_iter().collect();
        if let Ok(mut current) = self.key_hashes.write() {
            *current = hashes;
        }

        let promoted = store.current_model_version("recommend", &self.dataset)?;
        let loaded = self.recommend().map(|m| m.version);
        if let Some(version) = promoted.filter(|v| Some(v.id) != loaded) {
            let model = artifacts::load_recommend(&self.data_dir, &version.artifact)?;
            let since = model.generators.cutoff;
            let events = store.events_since(&self.dataset, since)?;
            let mut by_customer = HashMap::new();
            add_events(&mut by_customer, &events);
            if let Ok(mut current) = self.events.write() {
                *current = by_customer;
            }
            if let Ok(mut current) = self.recommend.write() {
                *current = Some(Arc::new(Served {
                    version: version.id,
                    model,
                }));
            }
            if let Ok(mut replies) = self.replies.write() {
                replies.clear();
            }
            info!(version = version.id, "loaded recommendation model");
        }

        let promoted = store.current_model_version("propensity", &self.dataset)?;
        let loaded = self.propensity().map(|m| m.version);
        if let Some(version) = promoted.filter(|v| Some(v.id) != loaded) {
            let model = artifacts::load_propensity(&self.data_dir, &version.artifact)?;
            if let Ok(mut current) = self.propensity.write() {
                *current = Some(Arc::new(Served {
                    version: version.id,
                    model,
                }));
            }
            info!(version = version.id, "loaded propensity model");
        }

        let promoted = store.current_model_version(snapshot::KIND, &self.dataset)?;
        let loaded = self.forecast().map(|m| m.version);
        if let Some(version) = promoted.filter(|v| Some(v.id) != loaded) {
            let model = artifacts::load_forecast(&self.data_dir, &version.artifact)?;
            let n_series = model.series.len();
            if let Ok(mut current) = self.forecast.write() {
                *current = Some(Arc::new(Served {
                    version: version.id,
                    model,
                }));
            }
            info!(version = version.id, n_series, "loaded forecast run");
        }
        Ok(())
    }

    /// Time of the served recommendation model's data end, if any.
    pub fn recommend_cutoff(&self) -> Option<NaiveDateTime> {
        self.recommend().map(|m| m.model.generators.cutoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(customer_id: &str) -> ReplyKey {
        ReplyKey {
            customer_id: customer_id.to_string(),
            k: 10,
            country: None,
            exclude_purchased: true,
        }
    }

    fn reply(events_seen: usize) -> CachedReply {
        CachedReply {
            version: 1,
            events_seen,
            body: axum::body::Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn reply_made_before_an_event_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(dir.path(), "shop").unwrap();
        state.keep_reply(key("c1"), reply(0));
        assert!(state.cached_reply(&key("c1"), 1).is_some());

        let event = Event {
            customer_id: "c1".to_string(),
            sku: "22423".to_string(),
            kind: "view".to_string(),
            occurred_at: chrono::Utc::now().naive_utc(),
        };
        state.record_events(&[event]).unwrap();
        assert!(state.cached_reply(&key("c1"), 1).is_none());
        // A reply computed from the events before this one arrives late.
        state.keep_reply(key("c1"), reply(0));
        assert!(state.cached_reply(&key("c1"), 1).is_none());
        state.keep_reply(key("c1"), reply(1));
        assert!(state.cached_reply(&key("c1"), 1).is_some());
        // Another version's reply is never served.
        assert!(state.cached_reply(&key("c1"), 2).is_none());
    }
}
