//! CSV cells that a person opens in a spreadsheet.
//!
//! Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@`
//! as a formula, so a product text such as `=HYPERLINK(...)` could act when
//! a reviewer opens the file. Such cells are written with a leading
//! apostrophe, which spreadsheets show as plain text, and the apostrophe is
//! removed again when the file is read back.

use std::borrow::Cow;

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Tells whether `text` needs an apostrophe in front. That is when it
/// starts like a formula, or with apostrophes before one, because reading
/// the file back would otherwise take its own apostrophe for the added one.
fn needs_apostrophe(text: &str) -> bool {
    text.trim_start_matches('\'').starts_with(FORMULA_START)
}

/// `text` as a cell a spreadsheet shows as text.
pub fn to_cell(text: &str) -> Cow<'_, str> {
    if needs_apostrophe(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// `text` as a cell of a catalog for marketplaces and spreadsheets alike.
/// Only text that reads as a formula gets the apostrophe: a start of `=`,
/// `@`, tab or CR, or `+` or `-` with a call, a sheet reference, a pipe or
/// another `=` after it. "-20% off" and "+2 colors" stay as written, since
/// a marketplace import would keep the apostrophe.
pub fn to_catalog_cell(text: &str) -> Cow<'_, str> {
    let formula = match text.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => text.contains(['(', '!', '|', '=']),
        _ => false,
    };
    if formula {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Returns the text of a cell written by [`to_cell`], possibly edited since.
pub fn from_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_apostrophe(rest) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text_and_read_back() {
        for text in [
            "=1+1", "+34 600", "-20% off", "@SUM(A1)", "\t=x", "'=quoted", "''+x",
        ] {
            let cell = to_cell(text);
            assert_eq!(cell, format!("'{text}"));
            assert_eq!(from_cell(&cell), text);
        }
    }

    #[test]
    fn catalog_cells_escape_only_formulas() {
        for text in [
            "=HYPERLINK(\"http://127.0.0.1\")",
            "@SUM(A1)",
            "+cmd|' /C calc'!A0",
            "-2+3+cmd|x",
            "-1=1",
        ] {
            assert_eq!(to_catalog_cell(text), format!("'{text}"));
        }
        for text in ["-20% off", "+2 colors", "Camiseta (roja)", "'quoted'"] {
            assert_eq!(to_catalog_cell(text), text);
        }
    }

    #[test]
    fn other_text_is_left_alone() {
        for text in ["Camiseta", "'quoted'", "", "10 = diez"] {
            assert_eq!(to_cell(text), text);
            assert_eq!(from_cell(text), text);
        }
    }
}
