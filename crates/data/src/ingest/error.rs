//! Errors of ingest, each naming the file, the line and the field, and the fix.

use std::path::PathBuf;

use super::mapping::{Field, MappingError};
use crate::store::StoreError;

/// Place of a row in its file: a CSV line or a Parquet row, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLocation {
    Line(u64),
    Row(u64),
}

impl std::fmt::Display for RowLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowLocation::Line(n) => write!(f, "line {n}"),
            RowLocation::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// Why an ingest failed; the store is left as it was before.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is empty: expected a header row naming the order columns")]
    Empty { path: PathBuf },
    #[error("{path} is a directory; pass the path of an order export file")]
    Directory { path: PathBuf },
    #[error(
        "{path}: none of its {rows_read} rows could be stored (first rejected: {first}); \
         fix the column mapping or --date-format and ingest it again"
    )]
    NothingStored {
        path: PathBuf,
        rows_read: u64,
        first: String,
    },
    #[error(
        "invalid --date-format {pattern:?}: it has an unknown % directive; use strftime \
         directives such as '%d.%m.%Y %H:%M'"
    )]
    InvalidDatePattern { pattern: String },
    #[error("{path} has a header but no order rows")]
    NoRows { path: PathBuf },
    #[error(
        "{path}: gzip data is truncated or corrupt after line {line} ({source}); \
         the file was cut off or damaged, so copy or export it again"
    )]
    Decompress {
        path: PathBuf,
        line: u64,
        source: std::io::Error,
    },
    #[error("{path} line {line}: malformed CSV: {message}")]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error(
        "{path} line {line}, column {column:?}: invalid UTF-8 bytes; convert the file \
         to UTF-8, for example with `iconv -f WINDOWS-1252 -t UTF-8`"
    )]
    InvalidUtf8 {
        path: PathBuf,
        line: u64,
        column: String,
    },
    #[error(
        "{path}: no column for field {field} (expected {expected}); columns are: {columns}; \
         map one with --map {field}=COLUMN"
    )]
    MissingColumn {
        path: PathBuf,
        field: Field,
        expected: String,
        columns: String,
    },
    #[error(
        "{path}: the mapping {field}={column:?} names a column that is not in the file; \
         columns are: {columns}"
    )]
    MappedColumnMissing {
        path: PathBuf,
        field: Field,
        column: String,
        columns: String,
    },
    #[error(transparent)]
    InvalidValue(Box<InvalidValue>),
    #[error(
        "{path}: cannot read Parquet: {message}; the file is damaged or incomplete, \
         so copy or export it again"
    )]
    Parquet { path: PathBuf, message: String },
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A value that cannot be read, with its place and the fix.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path} {location}{}: {problem}: {value:?}; {fix}",
    describe_field(column, field)
)]
pub struct InvalidValue {
    pub path: PathBuf,
    pub location: RowLocation,
    pub column: String,
    /// The field at fault; `None` when the whole row is malformed.
    pub field: Option<Field>,
    pub value: String,
    pub problem: String,
    pub fix: String,
}

fn describe_field(column: &str, field: &Option<Field>) -> String {
    match field {
        Some(field) => format!(", column {column:?} (field {field})"),
        None => String::new(),
    }
}

impl From<rusqlite::Error> for IngestError {
    fn from(err: rusqlite::Error) -> Self {
        IngestError::Store(StoreError::from(err))
    }
}
