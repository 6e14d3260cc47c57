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
    fn other_text_is_left_alone() {
        for text in ["Camiseta", "'quoted'", "", "10 = diez"] {
            assert_eq!(to_cell(text), text);
            assert_eq!(from_cell(text), text);
        }
    }
}
