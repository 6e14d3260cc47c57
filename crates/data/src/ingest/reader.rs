//! Streaming row readers for CSV, gzip-compressed CSV and Parquet.
//!
//! Each reader yields the header once and then one [`RawRow`] at a time, so
//! a file of any size is read in constant memory. Gzip is recognized by its
//! magic bytes, not by the file name.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::reader::RowIter;
use parquet::record::Field as ParquetField;

use super::error::{IngestError, RowLocation};
use super::lines::{IndexingReader, LineIndex};

/// One data row: its place in the file and its values in header order.
/// A value is `None` when the row is shorter than the header or the cell is null.
pub struct RawRow {
    pub location: RowLocation,
    pub values: Vec<Option<String>>,
}

/// Reader over one export file.
pub enum RowReader {
    Csv(CsvRows),
    Parquet(ParquetRows),
}

/// Rows of a plain or gzip-compressed CSV file.
pub struct CsvRows {
    path: PathBuf,
    reader: csv::Reader<IndexingReader<Box<dyn Read>>>,
    lines: Arc<Mutex<LineIndex>>,
    record: csv::ByteRecord,
    header: Vec<String>,
    gzip: bool,
    last_line: u64,
}

/// Rows of a Parquet file, read through the record API.
pub struct ParquetRows {
    path: PathBuf,
    rows: Box<RowIter<'static>>,
    header: Vec<String>,
    rows_read: u64,
}

/// Bytes of the input consumed so far, for progress display.
#[derive(Clone, Default)]
pub struct ProgressCounter(Arc<AtomicU64>);

impl ProgressCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct CountingReader<R> {
    inner: R,
    counter: ProgressCounter,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl RowReader {
    /// Opens `path`, choosing the format from its first bytes, and reads the header.
    pub fn open(path: &Path, counter: ProgressCounter) -> Result<RowReader, IngestError> {
        let mut magic = [0u8; 4];
        let n_magic = File::open(path)
            .and_then(|mut f| f.read(&mut magic))
            .map_err(io_error(path))?;
        if n_magic == 0 {
            return Err(IngestError::Empty {
                path: path.to_path_buf(),
            });
        }
        if &magic[..n_magic] == b"PAR1" {
            return ParquetRows::open(path, counter).map(RowReader::Parquet);
        }
        let gzip = n_magic >= 2 && magic[..2] == [0x1f, 0x8b];
        CsvRows::open(path, counter, gzip).map(RowReader::Csv)
    }

    /// Column names of the file, trimmed.
    pub fn header(&self) -> &[String] {
        match self {
            RowReader::Csv(rows) => &rows.header,
            RowReader::Parquet(rows) => &rows.header,
        }
    }

    /// Reads the next data row; `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<RawRow>, IngestError> {
        match self {
            RowReader::Csv(rows) => rows.next_row(),
            RowReader::Parquet(rows) => rows.next_row(),
        }
    }
}

impl CsvRows {
    fn open(path: &Path, counter: ProgressCounter, gzip: bool) -> Result<CsvRows, IngestError> {
        let file = File::open(path).map_err(io_error(path))?;
        let counting = CountingReader {
            inner: file,
            counter,
        };
        let input: Box<dyn Read> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(counting)))
        } else {
            Box::new(counting)
        };
        let (input, lines) = IndexingReader::new(input);
        let reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(input);
        let mut rows = CsvRows {
            path: path.to_path_buf(),
            reader,
            lines,
            record: csv::ByteRecord::new(),
            header: Vec::new(),
            gzip,
            last_line: 0,
        };

        if !rows.read_record()? || rows.record.iter().all(|f| f.is_empty()) {
            return Err(IngestError::Empty {
                path: path.to_path_buf(),
            });
        }
        let names = decode_record(path, 1, &rows.record, &[])?;
        rows.header = names
            .into_iter()
            .map(|name| {
                // A UTF-8 byte-order mark may precede the first column name.
                let name = name.unwrap_or_default();
                name.trim_start_matches('\u{feff}').trim().to_string()
            })
            .collect();
        Ok(rows)
    }

    /// Line of the record that began at `position`.
    fn line_of(&self, position: Option<&csv::Position>) -> u64 {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .line_of(position)
    }

    fn read_record(&mut self) -> Result<bool, IngestError> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(more) => {
                if more {
                    self.last_line = self.line_of(self.record.position());
                }
                Ok(more)
            }
            Err(err) => {
                let line = match err.position() {
                    Some(position) => self.line_of(Some(position)),
                    None => self.last_line + 1,
                };
                let path = self.path.clone();
                Err(match err.into_kind() {
                    csv::ErrorKind::Io(source) if self.gzip => IngestError::Decompress {
                        path,
                        line: self.last_line,
                        source,
                    },
                    csv::ErrorKind::Io(source) => IngestError::Io { path, source },
                    other => IngestError::Csv {
                        path,
                        line,
                        message: format!("{other:?}"),
                    },
                })
            }
        }
    }

    fn next_row(&mut self) -> Result<Option<RawRow>, IngestError> {
        loop {
            if !self.read_record()? {
                return Ok(None);
            }
            // Blank lines are not rows.
            if self.record.len() == 1 && self.record[0].is_empty() {
                continue;
            }
            let values = decode_record(&self.path, self.last_line, &self.record, &self.header)?;
            return Ok(Some(RawRow {
                location: RowLocation::Line(self.last_line),
                values,
            }));
        }
    }
}

impl ParquetRows {
    fn open(path: &Path, counter: ProgressCounter) -> Result<ParquetRows, IngestError> {
        let parquet_error = |e: parquet::errors::ParquetError| IngestError::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let file = File::open(path).map_err(io_error(path))?;
        let reader = SerializedFileReader::new(file).map_err(parquet_error)?;
        let header = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .root_schema()
            .get_fields()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        // The record API decodes whole row groups, so progress jumps to the
        // file size at open instead of following each row.
        let size = std::fs::metadata(path).map_err(io_error(path))?.len();
        counter.0.store(size, Ordering::Relaxed);
        Ok(ParquetRows {
            path: path.to_path_buf(),
            rows: Box::new(RowIter::from_file_into(Box::new(reader))),
            header,
            rows_read: 0,
        })
    }

    fn next_row(&mut self) -> Result<Option<RawRow>, IngestError> {
        let Some(row) = self.rows.next() else {
            return Ok(None);
        };
        self.rows_read += 1;
        let row = row.map_err(|e| IngestError::Parquet {
            path: self.path.clone(),
            message: format!("row {}: {e}", self.rows_read),
        })?;
        let values = row
            .get_column_iter()
            .map(|(_, field)| parquet_value(field))
            .collect();
        Ok(Some(RawRow {
            location: RowLocation::Row(self.rows_read),
            values,
        }))
    }
}

fn decode_record(
    path: &Path,
    line: u64,
    record: &csv::ByteRecord,
    header: &[String],
) -> Result<Vec<Option<String>>, IngestError> {
    record
        .iter()
        .enumerate()
        .map(|(i, bytes)| match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Some(text.to_string())),
            Err(_) => Err(IngestError::InvalidUtf8 {
                path: path.to_path_buf(),
                line,
                column: header
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", i + 1)),
            }),
        })
        .collect()
}

/// Text form of a Parquet value; whole doubles (ids stored as float) lose their `.0`.
fn parquet_value(field: &ParquetField) -> Option<String> {
    match field {
        ParquetField::Null => None,
        ParquetField::Str(s) => Some(s.clone()),
        ParquetField::Double(v) if v.is_nan() => None,
        ParquetField::Double(v) if v.fract() == 0.0 && v.abs() < 1e15 => {
            Some(format!("{}", *v as i64))
        }
        ParquetField::Float(v) if v.is_nan() => None,
        ParquetField::TimestampMillis(ms) => chrono::DateTime::from_timestamp_millis(*ms)
            .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string()),
        ParquetField::TimestampMicros(us) => chrono::DateTime::from_timestamp_micros(*us)
            .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string()),
        other => Some(other.to_string().trim_matches('"').to_string()),
    }
}
