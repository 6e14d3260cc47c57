//! The embedded store: one SQLite file in WAL mode inside the data dir.
//!
//! Order lines belong to a named dataset (a shop). Each ingested file is a
//! source row carrying its SHA-256 and its cleaning account, so a file is
//! never ingested twice into the same dataset. Schema changes are numbered
//! migrations applied on open.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::DateTime;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use rusqlite_migration::{Migrations, M};

use crate::clean::CleaningAccount;
use crate::order::{LineKind, OrderLine};

/// File name of the store inside the data dir.
pub const DB_FILE: &str = "mercator.db";

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE datasets (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE sources (
    id          INTEGER PRIMARY KEY,
    dataset_id  INTEGER NOT NULL REFERENCES datasets(id),
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    rows_read   INTEGER NOT NULL,
    buckets     TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    UNIQUE (dataset_id, sha256)
);
CREATE TABLE order_lines (
    id          INTEGER PRIMARY KEY,
    dataset_id  INTEGER NOT NULL REFERENCES datasets(id),
    source_id   INTEGER NOT NULL REFERENCES sources(id),
    line_no     INTEGER NOT NULL,
    row_hash    BLOB NOT NULL,
    invoice     TEXT NOT NULL,
    sku         TEXT NOT NULL,
    description TEXT NOT NULL,
    quantity    INTEGER NOT NULL,
    invoiced_at INTEGER NOT NULL,
    unit_price  REAL NOT NULL,
    customer_id TEXT,
    country     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    UNIQUE (dataset_id, row_hash)
);
CREATE INDEX order_lines_by_time ON order_lines (dataset_id, invoiced_at);
"#,
    r#"
CREATE TABLE model_versions (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    dataset      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    data_from    TEXT NOT NULL,
    data_to      TEXT NOT NULL,
    params       TEXT NOT NULL,
    metrics      TEXT NOT NULL,
    metric_name  TEXT NOT NULL,
    metric_value REAL NOT NULL,
    artifact     TEXT NOT NULL
);
CREATE TABLE model_promotions (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    version_id  INTEGER NOT NULL REFERENCES model_versions(id),
    promoted_at TEXT NOT NULL,
    reason      TEXT NOT NULL
);
CREATE INDEX model_promotions_by_kind ON model_promotions (kind, dataset, id);
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    dataset     TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    sku         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX events_by_customer ON events (dataset, customer_id, occurred_at);
"#,
];

/// Failure to open, migrate, read or write the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data dir {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot migrate store {path}: {source}")]
    Migrate {
        path: PathBuf,
        source: rusqlite_migration::Error,
    },
    #[error("dataset {0:?} not found in the store; ingest orders into it first")]
    UnknownDataset(String),
    #[error("store {path} contains an invalid value: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("model version {0} not found; list versions with `mercator models history`")]
    UnknownModelVersion(i64),
    #[error("an active API key is already named {0:?}; choose another --name or revoke it first")]
    DuplicateKeyName(String),
    #[error("store query failed: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// One ingested file, as recorded in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub id: i64,
    pub path: String,
    pub sha256: String,
    pub rows_read: u64,
    pub account: CleaningAccount,
    pub ingested_at: String,
}

/// Handle on the SQLite store of one data dir.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
}

impl Store {
    /// Opens (creating when absent) the store in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let open_error = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_error)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_error)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_error)?;
        // A 64 MiB page cache (negative means KiB) keeps the content-hash
        // index of a large ingest in memory instead of spilling it page by
        // page to the write-ahead log.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(open_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_error)?;

        let migrations = Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect());
        migrations
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migrate {
                path: path.clone(),
                source,
            })?;
        Ok(Store { conn, path })
    }

    /// Path of the SQLite file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a write transaction; dropping it without commit rolls everything back.
    pub fn transaction(&mut self) -> Result<Transaction<'_>, StoreError> {
        Ok(self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }

    /// Id of dataset `name`, if it exists.
    pub fn dataset_id(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT id FROM datasets WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Names of all datasets with their order-line counts.
    pub fn datasets(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT d.name, (SELECT COUNT(*) FROM order_lines o WHERE o.dataset_id = d.id)
             FROM datasets d ORDER BY d.name",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The source with this content hash in dataset `name`, if that file was ingested before.
    pub fn find_source(
        &self,
        name: &str,
        sha256: &str,
    ) -> Result<Option<SourceRecord>, StoreError> {
        let Some(dataset_id) = self.dataset_id(name)? else {
            return Ok(None);
        };
        let mut sources = self.sources_where(dataset_id, Some(sha256))?;
        Ok(sources.pop())
    }

    /// Every source ingested into dataset `name`, oldest first.
    pub fn sources(&self, name: &str) -> Result<Vec<SourceRecord>, StoreError> {
        let dataset_id = self
            .dataset_id(name)?
            .ok_or_else(|| StoreError::UnknownDataset(name.to_string()))?;
        self.sources_where(dataset_id, None)
    }

    fn sources_where(
        &self,
        dataset_id: i64,
        sha256: Option<&str>,
    ) -> Result<Vec<SourceRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, path, sha256, rows_read, buckets, ingested_at FROM sources
             WHERE dataset_id = ?1 AND (?2 IS NULL OR sha256 = ?2) ORDER BY id",
        )?;
        let rows = stmt.query_map(params![dataset_id, sha256], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut sources = Vec::new();
        for row in rows {
            let (id, path, sha256, rows_read, buckets, ingested_at) = row?;
            let map: BTreeMap<String, u64> =
                serde_json::from_str(&buckets).map_err(|e| StoreError::Corrupt {
                    path: self.path.clone(),
                    message: format!("buckets of source {id}: {e}"),
                })?;
            sources.push(SourceRecord {
                id,
                path,
                sha256,
                rows_read: rows_read as u64,
                account: CleaningAccount::from_map(&map),
                ingested_at,
            });
        }
        Ok(sources)
    }

    /// Number of stored order lines in dataset `name` (0 when it does not exist).
    pub fn count_lines(&self, name: &str) -> Result<u64, StoreError> {
        let count: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM order_lines o JOIN datasets d ON d.id = o.dataset_id
             WHERE d.name = ?1",
            [name],
            |r| r.get(0),
        )?;
        Ok(count as u64)
    }

    /// Loads every stored line of dataset `name`, oldest first.
    pub fn order_lines(&self, name: &str) -> Result<Vec<OrderLine>, StoreError> {
        let dataset_id = self
            .dataset_id(name)?
            .ok_or_else(|| StoreError::UnknownDataset(name.to_string()))?;
        let mut stmt = self.conn.prepare(
            "SELECT invoice, sku, description, quantity, invoiced_at, unit_price,
                    customer_id, country, kind
             FROM order_lines WHERE dataset_id = ?1 ORDER BY invoiced_at, id",
        )?;
        let mut rows = stmt.query([dataset_id])?;
        let mut lines = Vec::new();
        while let Some(row) = rows.next()? {
            let seconds: i64 = row.get(4)?;
            let kind: String = row.get(8)?;
            let corrupt = |message: String| StoreError::Corrupt {
                path: self.path.clone(),
                message,
            };
            let invoiced_at = DateTime::from_timestamp(seconds, 0)
                .ok_or_else(|| corrupt(format!("invoiced_at {seconds} out of range")))?
                .naive_utc();
            let kind =
                LineKind::parse(&kind).ok_or_else(|| corrupt(format!("line kind {kind:?}")))?;
            lines.push(OrderLine {
                invoice: row.get(0)?,
                sku: row.get(1)?,
                description: row.get(2)?,
                quantity: row.get(3)?,
                invoiced_at,
                unit_price: row.get(5)?,
                customer_id: row.get(6)?,
                country: row.get(7)?,
                kind,
            });
        }
        Ok(lines)
    }
}

/// Returns the id of dataset `name`, creating it inside `tx` when absent.
pub(crate) fn ensure_dataset(tx: &Transaction<'_>, name: &str) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO datasets (name, created_at) VALUES (?1, datetime('now'))",
        [name],
    )?;
    Ok(
        tx.query_row("SELECT id FROM datasets WHERE name = ?1", [name], |r| {
            r.get(0)
        })?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_twice_keeps_schema() {
        let dir = tempfile::tempdir().unwrap();
        Store::open(dir.path()).unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.datasets().unwrap(), vec![]);
        assert_eq!(store.count_lines("default").unwrap(), 0);
    }

    #[test]
    fn unknown_dataset_is_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = store.order_lines("shop").unwrap_err();
        assert!(err.to_string().contains("\"shop\""), "{err}");
    }
}
