//! Line numbers of CSV records.
//!
//! The `csv` crate numbers a record by the line where its parser started,
//! which is one too low after a `\r\n` line end and before any blank line.
//! Files saved by spreadsheets end their lines with `\r\n`, so errors would
//! point at the line above the bad one. [`LineIndex`] reads the same bytes as
//! the parser and maps a record's byte offset to the line its text starts on.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};

/// Index of the lines that contain text, for the bytes fed so far.
#[derive(Debug, Default)]
pub struct LineIndex {
    /// (byte offset, line number) of each line's first byte that is not a
    /// line end, from the oldest still needed.
    starts: VecDeque<(u64, u64)>,
    /// Bytes fed so far.
    fed: u64,
    /// Line number of the next byte.
    line: u64,
    /// Whether the next byte starts a line.
    at_line_start: bool,
    /// Whether the last byte was `\r`, so a `\n` now ends no further line.
    after_cr: bool,
}

impl LineIndex {
    pub fn new() -> LineIndex {
        LineIndex {
            line: 1,
            at_line_start: true,
            ..LineIndex::default()
        }
    }

    /// Indexes all of `text`.
    pub fn of(text: &[u8]) -> LineIndex {
        let mut index = LineIndex::new();
        index.feed(text);
        index
    }

    /// Indexes the next bytes of the input.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            match byte {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.line += 1;
                    self.at_line_start = true;
                    self.after_cr = byte == b'\r';
                }
                _ => {
                    if self.at_line_start {
                        self.starts.push_back((self.fed, self.line));
                        self.at_line_start = false;
                    }
                    self.after_cr = false;
                }
            }
            self.fed += 1;
        }
    }

    /// Returns the line of the record whose parse began at byte `offset`,
    /// which is the line of the first text at or after it. Offsets must
    /// come in increasing order, because the index drops the lines before
    /// the last offset given.
    pub fn line_at(&mut self, offset: u64) -> u64 {
        while self.starts.len() > 1 && self.starts[0].0 < offset {
            self.starts.pop_front();
        }
        match self.starts.front() {
            Some(&(start, line)) if start >= offset => line,
            // Past the last text: the line the input ends on.
            _ => self.line,
        }
    }

    /// `line_at` for a position reported by the `csv` crate.
    pub fn line_of(&mut self, position: Option<&csv::Position>) -> u64 {
        position.map_or(self.line, |p| self.line_at(p.byte()))
    }
}

/// Reads a text file, naming the line of the first byte that is not
/// UTF-8 ("line 2: byte 0xE9 is not UTF-8; save the file as UTF-8").
/// Spreadsheets often save CSV as Latin-1 or Windows-1252.
pub fn read_utf8(path: &std::path::Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    String::from_utf8(bytes).map_err(|err| {
        let bytes = err.as_bytes();
        let at = err.utf8_error().valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "line {line}: byte 0x{:02X} is not UTF-8; save the file as UTF-8 \
                 (\"CSV UTF-8\" in a spreadsheet)",
                bytes[at]
            ),
        )
    })
}

/// Message for a quote that [`unclosed_quote`] found.
pub const UNCLOSED_QUOTE: &str =
    "a quoted field opens here and is not closed right before a comma or line end, so the rows \
     after it would be read into it; close the quote or double the quote character inside it (\"\")";

/// Finds the line where a quoted CSV field opens that is not closed right
/// before a comma or a line end. The `csv` crate reads on into that field
/// until some later quote, so a forgotten quote would silently swallow the
/// rows after it.
pub fn unclosed_quote(text: &[u8]) -> Option<u64> {
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let (mut line, mut opened, mut after_cr) = (1u64, 0u64, false);
    for &byte in text {
        let line_end = byte == b'\r' || (byte == b'\n' && !after_cr);
        after_cr = byte == b'\r';
        state = match (state, byte) {
            (State::FieldStart, b'"') => {
                opened = line;
                State::Quoted
            }
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            // A doubled quote inside quotes is one quote.
            (State::QuoteInQuoted, b'"') => State::Quoted,
            // Text right after the closing quote: the quote closed a field
            // that a forgotten quote opened earlier.
            (State::QuoteInQuoted, byte) if !matches!(byte, b',' | b'\n' | b'\r') => {
                return Some(opened)
            }
            (_, b',' | b'\n' | b'\r') => State::FieldStart,
            _ => State::Unquoted,
        };
        if line_end {
            line += 1;
        }
    }
    (state == State::Quoted).then_some(opened)
}

/// Line and plain description of a `csv` error, for messages that name
/// the line the way a text editor counts it.
pub fn describe_error(err: &csv::Error, lines: &mut LineIndex) -> (u64, String) {
    let line = lines.line_of(err.position());
    let message = match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "{len} {} where the header has {expected_len}; quote fields that contain commas",
            if *len == 1 { "field" } else { "fields" }
        ),
        csv::ErrorKind::Utf8 { .. } => {
            "not valid UTF-8; save the file as UTF-8 (iconv -f latin1 -t utf-8)".to_string()
        }
        _ => err.to_string(),
    };
    (line, message)
}

/// A reader that indexes the lines of what it passes on.
pub struct IndexingReader<R> {
    inner: R,
    index: Arc<Mutex<LineIndex>>,
}

impl<R> IndexingReader<R> {
    /// Wraps `inner`; the returned index follows what has been read.
    pub fn new(inner: R) -> (IndexingReader<R>, Arc<Mutex<LineIndex>>) {
        let index = Arc::new(Mutex::new(LineIndex::new()));
        (
            IndexingReader {
                inner,
                index: Arc::clone(&index),
            },
            index,
        )
    }
}

impl<R: Read> Read for IndexingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .feed(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line of every record of `text`, as the index gives it.
    fn record_lines(text: &str) -> Vec<u64> {
        let mut index = LineIndex::of(text.as_bytes());
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        reader
            .records()
            .map(|record| index.line_of(record.unwrap().position()))
            .collect()
    }

    #[test]
    fn read_utf8_names_bad_byte_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.csv");
        std::fs::write(&path, b"sku,title\nA1,Caf\xe9 mug\n").unwrap();
        let err = read_utf8(&path).unwrap_err().to_string();
        assert!(err.starts_with("line 2: byte 0xE9 is not UTF-8"), "{err}");
        std::fs::write(&path, "sku,title\nA1,Café mug\n").unwrap();
        assert_eq!(read_utf8(&path).unwrap(), "sku,title\nA1,Café mug\n");
    }

    #[test]
    fn numbers_lines_with_any_line_end() {
        assert_eq!(record_lines("a,b\nx,1\ny,2\n"), [2, 3]);
        assert_eq!(record_lines("a,b\r\nx,1\r\ny,2\r\n"), [2, 3]);
        assert_eq!(record_lines("a,b\rx,1\ry,2"), [2, 3]);
    }

    #[test]
    fn counts_blank_lines_and_quoted_line_breaks() {
        assert_eq!(record_lines("a,b\nx,1\n\n\ny,2\n"), [2, 5]);
        assert_eq!(record_lines("a,b\r\nx,\"two\r\nlines\"\r\ny,2\r\n"), [2, 4]);
    }

    #[test]
    fn finds_the_quote_left_open() {
        assert_eq!(unclosed_quote(b"a,b\nx,\"closed\"\ny,2\n"), None);
        assert_eq!(unclosed_quote(b"a,b\r\nx,\"two\r\nlines\"\r\n"), None);
        assert_eq!(unclosed_quote(b"a,b\nx,\"say \"\"hi\"\"\"\n"), None);
        // A quote inside an unquoted field is text.
        assert_eq!(unclosed_quote(b"a,b\nx,5\" screen\n"), None);
        assert_eq!(
            unclosed_quote(b"a,b\r\nx,1\r\ny,\"Great mug\r\nz,3\r\n"),
            Some(3)
        );
        // A second forgotten quote closes the first one.
        assert_eq!(
            unclosed_quote(b"a,b\nx,\"Great mug\ny,2\nz,\"Fine mug\nw,4\n"),
            Some(2)
        );
    }

    #[test]
    fn describes_short_rows_by_line() {
        let text = "a,b\r\n\r\nx,1\r\ny\r\n";
        let mut index = LineIndex::of(text.as_bytes());
        let err = csv::Reader::from_reader(text.as_bytes())
            .records()
            .find_map(Result::err)
            .unwrap();
        let (line, message) = describe_error(&err, &mut index);
        assert_eq!(line, 4);
        assert!(
            message.starts_with("1 field where the header has 2"),
            "{message}"
        );
    }

    #[test]
    fn follows_a_reader_in_small_reads() {
        let text = "a,b\r\nx,1\r\n\r\ny,2\r\n";
        let (reader, index) = IndexingReader::new(text.as_bytes());
        let mut csv_reader = csv::ReaderBuilder::new()
            .buffer_capacity(3)
            .from_reader(reader);
        let lines: Vec<u64> = csv_reader
            .records()
            .map(|record| index.lock().unwrap().line_of(record.unwrap().position()))
            .collect();
        assert_eq!(lines, [2, 4]);
    }
}
