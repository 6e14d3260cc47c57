//! Ingest of order exports into the store.
//!
//! [`ingest_file`] streams a CSV, CSV.gz or Parquet file, maps its columns to
//! the canonical fields (see [`mapping`]), parses and classifies each row
//! (see [`crate::clean`]) and writes the lines and the file's cleaning
//! account in one transaction: an error or a kill part-way through leaves
//! the store as it was.

pub mod error;
pub mod lines;
pub mod mapping;
pub mod reader;
pub mod values;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use rusqlite::params;
use sha2::{Digest, Sha256};

pub use error::{IngestError, InvalidValue, RowLocation};
pub use mapping::{ColumnMapping, Field};
use reader::{ProgressCounter, RawRow, RowReader};
use values::DateFormat;

use crate::clean::{classify, Bucket, CleaningAccount};
use crate::store::{ensure_dataset, Store};

/// Rejected rows kept in an [`IngestSummary`] to show the user.
const MAX_REPORTED_REJECTIONS: usize = 5;

/// Rows between two progress callbacks.
const PROGRESS_EVERY_ROWS: u64 = 8192;

/// How to read one file.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Dataset (shop) the lines belong to.
    pub dataset: String,
    /// Columns named by the user; unnamed fields use the known export names.
    pub mapping: ColumnMapping,
    /// Stop at the first rejected row instead of counting it.
    pub strict: bool,
    /// strftime pattern of the date column; detected from the first date when absent.
    pub date_format: Option<String>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            dataset: "default".to_string(),
            mapping: ColumnMapping::default(),
            strict: false,
            date_format: None,
        }
    }
}

/// A row counted as rejected, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub location: RowLocation,
    /// The field at fault; `None` when the whole row is malformed.
    pub field: Option<Field>,
    pub column: String,
    pub value: String,
    pub problem: String,
}

/// Outcome of one ingest.
#[derive(Debug, Clone)]
pub struct IngestSummary {
    pub path: PathBuf,
    pub sha256: String,
    /// Rows read from the file, header excluded.
    pub rows_read: u64,
    /// Rows per cleaning bucket; adds up to `rows_read`.
    pub account: CleaningAccount,
    /// True when this file was already in the dataset and nothing was written.
    pub already_ingested: bool,
    /// First rejected rows, for display.
    pub rejections: Vec<Rejection>,
}

/// Positions of the canonical fields in the file's header.
struct Columns {
    index: [Option<usize>; 8],
    names: [String; 8],
    n_header: usize,
    us_dates: bool,
}

/// A row whose fields all parsed.
struct ParsedRow {
    invoice: String,
    sku: String,
    description: String,
    quantity: i64,
    invoiced_at: NaiveDateTime,
    unit_price: f64,
    customer_id: Option<String>,
    country: String,
}

/// Ingests `path` into `store`, calling `on_progress` with the input bytes read so far.
pub fn ingest_file(
    store: &mut Store,
    path: &Path,
    options: &IngestOptions,
    on_progress: &mut dyn FnMut(u64),
) -> Result<IngestSummary, IngestError> {
    if path.is_dir() {
        return Err(IngestError::Directory {
            path: path.to_path_buf(),
        });
    }
    if let Some(pattern) = options
        .date_format
        .as_ref()
        .or(options.mapping.date_format.as_ref())
    {
        if !values::validate_date_pattern(pattern) {
            return Err(IngestError::InvalidDatePattern {
                pattern: pattern.clone(),
            });
        }
    }
    let sha256 = file_sha256(path)?;
    // TODO: a file recorded with some rows rejected cannot be re-read with
    // corrected options, because its hash marks it as ingested.
    if let Some(source) = store.find_source(&options.dataset, &sha256)? {
        tracing::info!(dataset = %options.dataset, source_id = source.id, "file already ingested");
        return Ok(IngestSummary {
            path: path.to_path_buf(),
            sha256,
            rows_read: source.rows_read,
            account: source.account,
            already_ingested: true,
            rejections: Vec::new(),
        });
    }

    let counter = ProgressCounter::default();
    let mut reader = RowReader::open(path, counter.clone())?;
    let columns = resolve_columns(path, reader.header(), &options.mapping)?;
    let mut date_format = options
        .date_format
        .clone()
        .or_else(|| options.mapping.date_format.clone())
        .map(DateFormat::Pattern);

    let tx = store.transaction()?;
    let dataset_id = ensure_dataset(&tx, &options.dataset)?;
    tx.execute(
        "INSERT INTO sources (dataset_id, path, sha256, rows_read, buckets, ingested_at)
         VALUES (?1, ?2, ?3, 0, '{}', datetime('now'))",
        params![dataset_id, path.display().to_string(), sha256],
    )?;
    let source_id = tx.last_insert_rowid();

    let mut account = CleaningAccount::default();
    let mut rejections = Vec::new();
    let mut rows_read = 0u64;
    {
        let mut insert = tx.prepare(
            "INSERT OR IGNORE INTO order_lines (dataset_id, source_id, line_no, row_hash,
                 invoice, sku, description, quantity, invoiced_at, unit_price,
                 customer_id, country, kind)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        while let Some(raw) = reader.next_row()? {
            rows_read += 1;
            if rows_read % PROGRESS_EVERY_ROWS == 0 {
                on_progress(counter.get());
            }

            let row = match parse_row(path, &raw, &columns, &mut date_format)? {
                Ok(row) => row,
                Err((bucket, rejection)) => {
                    if options.strict {
                        return Err(strict_error(path, rejection));
                    }
                    account.add(bucket);
                    if rejections.len() < MAX_REPORTED_REJECTIONS {
                        rejections.push(rejection);
                    }
                    continue;
                }
            };

            let kind = classify(
                &row.invoice,
                &row.sku,
                &row.description,
                row.quantity,
                row.unit_price,
            );
            let line_no = match raw.location {
                RowLocation::Line(n) | RowLocation::Row(n) => n as i64,
            };
            let inserted = insert.execute(params![
                dataset_id,
                source_id,
                line_no,
                row_hash(&row),
                row.invoice,
                row.sku,
                row.description,
                row.quantity,
                row.invoiced_at.and_utc().timestamp(),
                row.unit_price,
                row.customer_id,
                row.country,
                kind.as_str(),
            ])?;
            if inserted == 0 {
                account.add(Bucket::Duplicate);
            } else {
                account.add(Bucket::of_line(kind, row.customer_id.is_some()));
            }
        }
    }
    on_progress(counter.get());
    if rows_read == 0 {
        return Err(IngestError::NoRows {
            path: path.to_path_buf(),
        });
    }
    // A file none of whose rows could be read is almost always a wrong
    // mapping or date format; recording it would block a corrected retry.
    let rejected: u64 = Bucket::ALL
        .iter()
        .filter(|b| b.is_rejected())
        .map(|b| account.get(*b))
        .sum();
    if rejected == rows_read {
        let first = rejections
            .first()
            .map(|r| format!("{}: {} {:?}", r.location, r.problem, r.value))
            .unwrap_or_default();
        return Err(IngestError::NothingStored {
            path: path.to_path_buf(),
            rows_read,
            first,
        });
    }

    let buckets = serde_json::to_string(&account.to_map()).unwrap_or_else(|_| "{}".to_string());
    tx.execute(
        "UPDATE sources SET rows_read = ?1, buckets = ?2 WHERE id = ?3",
        params![rows_read as i64, buckets, source_id],
    )?;
    tx.commit()?;
    tracing::info!(
        dataset = %options.dataset,
        source_id,
        rows_read,
        stored = account.stored(),
        "ingest committed"
    );
    Ok(IngestSummary {
        path: path.to_path_buf(),
        sha256,
        rows_read,
        account,
        already_ingested: false,
        rejections,
    })
}

/// SHA-256 of the file's bytes, hex-encoded.
pub fn file_sha256(path: &Path) -> Result<String, IngestError> {
    let io_error = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_error)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Names the export columns that may hold `field`, for error messages.
fn expected_columns(field: Field) -> String {
    let mut names: Vec<&str> = mapping::PRESETS.iter().map(|p| p.column(field)).collect();
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    names.join(" or ")
}

fn resolve_columns(
    path: &Path,
    header: &[String],
    user: &ColumnMapping,
) -> Result<Columns, IngestError> {
    let columns_list = header.join(", ");
    let mut index = [None; 8];
    let mut names: [String; 8] = Default::default();
    for field in Field::ALL {
        let found = if let Some(column) = user.column(field) {
            let i = mapping::find_column(header, column).ok_or_else(|| {
                IngestError::MappedColumnMissing {
                    path: path.to_path_buf(),
                    field,
                    column: column.to_string(),
                    columns: columns_list.clone(),
                }
            })?;
            Some(i)
        } else {
            mapping::PRESETS
                .iter()
                .find_map(|p| mapping::find_column(header, p.column(field)))
        };
        if found.is_none() && field.is_required() {
            return Err(IngestError::MissingColumn {
                path: path.to_path_buf(),
                field,
                expected: expected_columns(field),
                columns: columns_list,
            });
        }
        if let Some(i) = found {
            names[field.index()] = header[i].clone();
        }
        index[field.index()] = found;
    }
    let us_dates = mapping::detect_preset(header).is_some_and(|p| p.us_dates);
    Ok(Columns {
        index,
        names,
        n_header: header.len(),
        us_dates,
    })
}

/// Parses one row. The outer error is fatal (a date format that cannot be
/// detected); the inner one is a rejected row with its bucket.
#[allow(clippy::type_complexity)]
fn parse_row(
    path: &Path,
    raw: &RawRow,
    columns: &Columns,
    date_format: &mut Option<DateFormat>,
) -> Result<Result<ParsedRow, (Bucket, Rejection)>, IngestError> {
    let value = |field: Field| -> &str {
        columns.index[field.index()]
            .and_then(|i| raw.values.get(i))
            .and_then(|v| v.as_deref())
            .map(str::trim)
            .unwrap_or("")
    };
    let reject = |bucket: Bucket, field: Field, problem: &str| {
        Err((
            bucket,
            Rejection {
                location: raw.location,
                field: Some(field),
                column: columns.names[field.index()].clone(),
                value: value(field).to_string(),
                problem: problem.to_string(),
            },
        ))
    };

    if raw.values.len() != columns.n_header {
        return Ok(Err((
            Bucket::MalformedRow,
            Rejection {
                location: raw.location,
                field: None,
                column: String::new(),
                value: raw
                    .values
                    .iter()
                    .map(|v| v.as_deref().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(","),
                problem: format!(
                    "row has {} fields but the header has {}",
                    raw.values.len(),
                    columns.n_header
                ),
            },
        )));
    }

    for field in [Field::Invoice, Field::Sku] {
        if value(field).is_empty() {
            return Ok(reject(Bucket::MissingField, field, "missing value"));
        }
    }

    let Some(quantity) = values::parse_quantity(value(Field::Quantity)) else {
        return Ok(reject(
            Bucket::InvalidNumber,
            Field::Quantity,
            "invalid quantity, expected a whole number",
        ));
    };
    let Some(unit_price) = values::parse_price(value(Field::UnitPrice)) else {
        return Ok(reject(
            Bucket::InvalidNumber,
            Field::UnitPrice,
            "invalid price, expected a number with a '.' decimal point",
        ));
    };

    let date_text = value(Field::InvoicedAt);
    if date_text.is_empty() {
        return Ok(reject(
            Bucket::InvalidDate,
            Field::InvoicedAt,
            "missing date",
        ));
    }
    if date_format.is_none() {
        let detected = DateFormat::detect(date_text, columns.us_dates);
        *date_format = Some(
            detected.ok_or_else(|| unrecognized_date(path, raw.location, columns, date_text))?,
        );
    }
    let Some(invoiced_at) = date_format.as_ref().and_then(|f| f.parse(date_text)) else {
        return Ok(reject(
            Bucket::InvalidDate,
            Field::InvoicedAt,
            "date not in the file's date format",
        ));
    };

    let country = value(Field::Country);
    Ok(Ok(ParsedRow {
        invoice: value(Field::Invoice).to_string(),
        sku: value(Field::Sku).to_string(),
        description: value(Field::Description).to_string(),
        quantity,
        invoiced_at,
        unit_price,
        customer_id: values::normalize_customer_id(value(Field::CustomerId)),
        country: if country.is_empty() {
            "Unspecified".to_string()
        } else {
            country.to_string()
        },
    }))
}

fn unrecognized_date(
    path: &Path,
    location: RowLocation,
    columns: &Columns,
    date_text: &str,
) -> IngestError {
    IngestError::InvalidValue(Box::new(InvalidValue {
        path: path.to_path_buf(),
        location,
        column: columns.names[Field::InvoicedAt.index()].clone(),
        field: Some(Field::InvoicedAt),
        value: date_text.to_string(),
        problem: "date in an unrecognized format".to_string(),
        fix: format!(
            "recognized formats are {}; pass --date-format with the file's strftime pattern, \
             for example --date-format '%d.%m.%Y %H:%M'",
            DateFormat::recognized_examples(columns.us_dates)
        ),
    }))
}

fn strict_error(path: &Path, rejection: Rejection) -> IngestError {
    IngestError::InvalidValue(Box::new(InvalidValue {
        path: path.to_path_buf(),
        location: rejection.location,
        column: rejection.column,
        field: rejection.field,
        value: rejection.value,
        problem: rejection.problem,
        fix: "correct the row, or run without --strict to count it as rejected and go on"
            .to_string(),
    }))
}

/// Identity of a row's content: the first 16 bytes of SHA-256 over its fields.
fn row_hash(row: &ParsedRow) -> [u8; 16] {
    let mut hasher = Sha256::new();
    for part in [
        row.invoice.as_bytes(),
        row.sku.as_bytes(),
        row.description.as_bytes(),
        &row.quantity.to_le_bytes(),
        &row.invoiced_at.and_utc().timestamp().to_le_bytes(),
        &row.unit_price.to_bits().to_le_bytes(),
        row.customer_id.as_deref().unwrap_or("").as_bytes(),
        row.country.as_bytes(),
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut hash = [0u8; 16];
    hash.copy_from_slice(&digest[..16]);
    hash
}
