//! The model registry, API keys and customer events, in the store.
//!
//! Every training run records a [`ModelVersion`] with its data range,
//! parameters and metrics. Promotion appends a row to the promotion log;
//! the current version of a kind and dataset is the one promoted last, so
//! a rollback is one more promotion and the log keeps the whole story.
//! API keys are stored as SHA-256 hashes only. Events (views, clicks,
//! carts, purchases) posted to the API are kept for the next training.

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use crate::store::{Store, StoreError};

/// One trained model as recorded in the registry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    /// Version number, increasing across kinds.
    pub id: i64,
    /// `recommend` or `propensity`.
    pub kind: String,
    /// Dataset the model was trained on.
    pub dataset: String,
    /// UTC time of recording.
    pub created_at: String,
    /// First order line used.
    pub data_from: String,
    /// Last order line used.
    pub data_to: String,
    /// Training parameters as JSON.
    pub params: serde_json::Value,
    /// Evaluation metrics as JSON.
    pub metrics: serde_json::Value,
    /// Name of the metric that gates promotion.
    pub metric_name: String,
    /// Its value.
    pub metric_value: f64,
    /// Artefact path relative to the data dir.
    pub artifact: String,
    /// Whether this is the current version.
    pub current: bool,
}

/// A version to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewModelVersion<'a> {
    pub kind: &'a str,
    pub dataset: &'a str,
    pub data_from: &'a str,
    pub data_to: &'a str,
    pub params: &'a serde_json::Value,
    pub metrics: &'a serde_json::Value,
    pub metric_name: &'a str,
    pub metric_value: f64,
    pub artifact: &'a str,
}

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKeyRecord {
    pub name: String,
    /// First characters of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// An interaction posted to the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub customer_id: String,
    pub sku: String,
    /// `view`, `click`, `add_to_cart` or `purchase`.
    pub kind: String,
    pub occurred_at: NaiveDateTime,
}

/// Start of the reason of a promotion made by [`Store::rollback_model`].
const ROLLBACK_REASON: &str = "rollback from version";

/// Start of the reason of the row [`Store::retire_model`] writes: it names
/// the retired version and leaves none current.
const RETIRE_REASON: &str = "retired version";

/// SHA-256 of an API key in lower-case hex: what the store keeps.
pub fn hash_api_key(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn now() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Store {
    /// Records a trained version; does not promote it.
    pub fn record_model_version(
        &mut self,
        version: &NewModelVersion<'_>,
    ) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO model_versions (kind, dataset, created_at, data_from, data_to, params,
                 metrics, metric_name, metric_value, artifact)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                version.kind,
                version.dataset,
                now(),
                version.data_from,
                version.data_to,
                version.params.to_string(),
                version.metrics.to_string(),
                version.metric_name,
                version.metric_value,
                version.artifact,
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Makes `version_id` the current version of its kind and dataset.
    pub fn promote_model_version(
        &mut self,
        version_id: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        let changed = self.conn.execute(
            "INSERT INTO model_promotions (kind, dataset, version_id, promoted_at, reason)
             SELECT kind, dataset, id, ?2, ?3 FROM model_versions WHERE id = ?1",
            params![version_id, now(), reason],
        )?;
        if changed == 0 {
            return Err(StoreError::UnknownModelVersion(version_id));
        }
        Ok(())
    }

    /// Id of the current version of `kind` for `dataset`, if any.
    fn promoted_version_id(&self, kind: &str, dataset: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.promotion_stack(kind, dataset)?.last().copied())
    }

    /// Replays the promotions of `kind` for `dataset` as a stack: a
    /// promotion pushes its version, and a rollback or a retirement pops
    /// the current one. The top is the current version.
    fn promotion_stack(&self, kind: &str, dataset: &str) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT version_id, reason FROM model_promotions
             WHERE kind = ?1 AND dataset = ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![kind, dataset], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut stack = Vec::new();
        for row in rows {
            let (version_id, reason) = row?;
            if reason.starts_with(ROLLBACK_REASON) || reason.starts_with(RETIRE_REASON) {
                stack.pop();
            } else {
                stack.push(version_id);
            }
        }
        Ok(stack)
    }

    /// The current version of `kind` for `dataset`, if any was promoted.
    pub fn current_model_version(
        &self,
        kind: &str,
        dataset: &str,
    ) -> Result<Option<ModelVersion>, StoreError> {
        let id = self.promoted_version_id(kind, dataset)?;
        match id {
            Some(id) => Ok(self
                .model_versions(kind, dataset)?
                .into_iter()
                .find(|v| v.id == id)),
            None => Ok(None),
        }
    }

    /// Every version of `kind` for `dataset`, newest first.
    pub fn model_versions(
        &self,
        kind: &str,
        dataset: &str,
    ) -> Result<Vec<ModelVersion>, StoreError> {
        let current = self.promoted_version_id(kind, dataset)?;
        let mut stmt = self.conn.prepare(
            "SELECT id, kind, dataset, created_at, data_from, data_to, params, metrics,
                    metric_name, metric_value, artifact
             FROM model_versions WHERE kind = ?1 AND dataset = ?2 ORDER BY id DESC",
        )?;
        let rows = stmt.query_map(params![kind, dataset], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, f64>(9)?,
                r.get::<_, String>(10)?,
            ))
        })?;
        let mut versions = Vec::new();
        for row in rows {
            let (
                id,
                kind,
                dataset,
                created_at,
                data_from,
                data_to,
                params,
                metrics,
                name,
                value,
                artifact,
            ) = row?;
            let parse = |text: &str, what: &str| {
                serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
                    path: self.path.clone(),
                    message: format!("{what} of model version {id}: {e}"),
                })
            };
            versions.push(ModelVersion {
                id,
                kind,
                dataset,
                created_at,
                data_from,
                data_to,
                params: parse(&params, "params")?,
                metrics: parse(&metrics, "metrics")?,
                metric_name: name,
                metric_value: value,
                artifact,
                current: Some(id) == current,
            });
        }
        Ok(versions)
    }

    /// Promotes the version that was current before the current one.
    /// Returns `(from, to)` version ids, or `None` when there is nothing to
    /// roll back to.
    ///
    /// Promotions replay as a stack: a promotion pushes its version and a
    /// rollback pops one, so repeated rollbacks keep walking back instead
    /// of toggling between the last two versions.
    pub fn rollback_model(
        &mut self,
        kind: &str,
        dataset: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let stack = self.promotion_stack(kind, dataset)?;
        let [.., previous, current] = stack[..] else {
            return Ok(None);
        };
        self.promote_model_version(previous, &format!("{ROLLBACK_REASON} {current}"))?;
        Ok(Some((current, previous)))
    }

    /// Leaves no version of `kind` current when the current one is the
    /// only one promoted, as a rollback past it: quality scores then use
    /// their hand-set weights. Returns the retired version, or `None` when
    /// there is none or an earlier one to roll back to.
    pub fn retire_model(&mut self, kind: &str, dataset: &str) -> Result<Option<i64>, StoreError> {
        let stack = self.promotion_stack(kind, dataset)?;
        let [only] = stack[..] else {
            return Ok(None);
        };
        self.promote_model_version(only, &format!("{RETIRE_REASON} {only}"))?;
        Ok(Some(only))
    }

    /// Stores a new key by its hash; fails when the name is taken by an
    /// active key.
    pub fn create_api_key(
        &mut self,
        name: &str,
        prefix: &str,
        key_hash: &str,
    ) -> Result<(), StoreError> {
        let taken: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM api_keys WHERE name = ?1 AND revoked_at IS NULL",
            [name],
            |r| r.get(0),
        )?;
        if taken > 0 {
            return Err(StoreError::DuplicateKeyName(name.to_string()));
        }
        self.conn.execute(
            "INSERT INTO api_keys (name, prefix, key_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, prefix, key_hash, now()],
        )?;
        Ok(())
    }

    /// Every key, oldest first.
    pub fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, prefix, created_at, revoked_at FROM api_keys ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(ApiKeyRecord {
                name: r.get(0)?,
                prefix: r.get(1)?,
                created_at: r.get(2)?,
                revoked_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Hashes of the keys not revoked.
    pub fn active_key_hashes(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key_hash FROM api_keys WHERE revoked_at IS NULL")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes the active key called `name`; returns whether one was found.
    pub fn revoke_api_key(&mut self, name: &str) -> Result<bool, StoreError> {
        let changed = self.conn.execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
            params![name, now()],
        )?;
        Ok(changed > 0)
    }

    /// Appends events in one transaction.
    pub fn insert_events(&mut self, dataset: &str, events: &[Event]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO events (dataset, customer_id, sku, kind, occurred_at, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let received_at = now();
            for event in events {
                stmt.execute(params![
                    dataset,
                    event.customer_id,
                    event.sku,
                    event.kind,
                    event.occurred_at.and_utc().timestamp(),
                    received_at,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Events of `dataset` at or after `since`, oldest first.
    pub fn events_since(
        &self,
        dataset: &str,
        since: NaiveDateTime,
    ) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT customer_id, sku, kind, occurred_at FROM events
             WHERE dataset = ?1 AND occurred_at >= ?2 ORDER BY occurred_at, id",
        )?;
        let rows = stmt.query_map(params![dataset, since.and_utc().timestamp()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut events = Vec::new();
        for row in rows {
            let (customer_id, sku, kind, seconds) = row?;
            let occurred_at = DateTime::from_timestamp(seconds, 0)
                .ok_or_else(|| StoreError::Corrupt {
                    path: self.path.clone(),
                    message: format!("event time {seconds} out of range"),
                })?
                .naive_utc();
            events.push(Event {
                customer_id,
                sku,
                kind,
                occurred_at,
            });
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version<'a>(value: f64, params: &'a serde_json::Value) -> NewModelVersion<'a> {
        NewModelVersion {
            kind: "recommend",
            dataset: "shop",
            data_from: "2011-01-01",
            data_to: "2011-12-09",
            params,
            metrics: params,
            metric_name: "validation_ndcg_at_10",
            metric_value: value,
            artifact: "models/x.json",
        }
    }

    #[test]
    fn rollback_returns_to_previous_promotion() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let params = serde_json::json!({});
        let v1 = store.record_model_version(&version(0.1, &params)).unwrap();
        store.promote_model_version(v1, "first").unwrap();
        let v2 = store.record_model_version(&version(0.2, &params)).unwrap();
        store.promote_model_version(v2, "better").unwrap();
        assert_eq!(
            store
                .current_model_version("recommend", "shop")
                .unwrap()
                .unwrap()
                .id,
            v2
        );

        assert_eq!(
            store.rollback_model("recommend", "shop").unwrap(),
            Some((v2, v1))
        );
        let current = store
            .current_model_version("recommend", "shop")
            .unwrap()
            .unwrap();
        assert_eq!(current.id, v1);
        assert!(current.current);
        let history = store.model_versions("recommend", "shop").unwrap();
        assert_eq!(history.len(), 2);
        assert!(!history[0].current);
    }

    #[test]
    fn repeated_rollback_walks_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let params = serde_json::json!({});
        let mut ids = Vec::new();
        for value in [0.1, 0.2, 0.3] {
            let id = store
                .record_model_version(&version(value, &params))
                .unwrap();
            store.promote_model_version(id, "better").unwrap();
            ids.push(id);
        }

        let first = store.rollback_model("recommend", "shop").unwrap();
        assert_eq!(first, Some((ids[2], ids[1])));
        let second = store.rollback_model("recommend", "shop").unwrap();
        assert_eq!(second, Some((ids[1], ids[0])));
        assert_eq!(store.rollback_model("recommend", "shop").unwrap(), None);
        let current = store.current_model_version("recommend", "shop").unwrap();
        assert_eq!(current.unwrap().id, ids[0]);
    }

    #[test]
    fn rollback_without_earlier_version_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.rollback_model("recommend", "shop").unwrap(), None);
        let params = serde_json::json!({});
        let v1 = store.record_model_version(&version(0.1, &params)).unwrap();
        store.promote_model_version(v1, "first").unwrap();
        assert_eq!(store.rollback_model("recommend", "shop").unwrap(), None);
    }

    #[test]
    fn retiring_the_only_version_leaves_none_current() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.retire_model("recommend", "shop").unwrap(), None);
        let params = serde_json::json!({});
        let v1 = store.record_model_version(&version(0.1, &params)).unwrap();
        store.promote_model_version(v1, "first").unwrap();
        let v2 = store.record_model_version(&version(0.2, &params)).unwrap();
        store.promote_model_version(v2, "better").unwrap();
        // An earlier version is there to roll back to.
        assert_eq!(store.retire_model("recommend", "shop").unwrap(), None);
        assert_eq!(
            store.rollback_model("recommend", "shop").unwrap(),
            Some((v2, v1))
        );
        assert_eq!(store.retire_model("recommend", "shop").unwrap(), Some(v1));
        assert!(store
            .current_model_version("recommend", "shop")
            .unwrap()
            .is_none());
        let history = store.model_versions("recommend", "shop").unwrap();
        assert_eq!(history.len(), 2);
        assert!(history.iter().all(|v| !v.current));
        assert_eq!(store.rollback_model("recommend", "shop").unwrap(), None);
        assert_eq!(store.retire_model("recommend", "shop").unwrap(), None);
        // A new promotion is current again, with nothing before it.
        store.promote_model_version(v2, "retrained").unwrap();
        let current = store.current_model_version("recommend", "shop").unwrap();
        assert_eq!(current.unwrap().id, v2);
        assert_eq!(store.rollback_model("recommend", "shop").unwrap(), None);
    }

    #[test]
    fn revoked_key_is_not_active() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.create_api_key("web", "mk_ab", "hash1").unwrap();
        assert!(store.create_api_key("web", "mk_cd", "hash2").is_err());
        assert_eq!(
            store.active_key_hashes().unwrap(),
            vec!["hash1".to_string()]
        );
        assert!(store.revoke_api_key("web").unwrap());
        assert!(store.active_key_hashes().unwrap().is_empty());
        assert!(!store.revoke_api_key("web").unwrap());
    }
}
