//! Language codes and the locale conventions the pipeline writes in.
//!
//! Users name languages with ISO 639-1 codes (`es`), engines often with
//! ISO 639-3 (`spa`, as Apertium modes do); [`Language::lookup`] accepts
//! both and regional forms such as `pt-BR`.

use std::fmt;

/// A language whose locale conventions Mercator applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Language {
    /// ISO 639-1 code, the one used in file names and reports.
    pub code: &'static str,
    /// ISO 639-3 code.
    pub iso3: &'static str,
    /// English name.
    pub name: &'static str,
    /// Decimal separator of the locale's numbers.
    pub decimal_separator: char,
    /// Thousands separator of the locale's numbers.
    pub thousands_separator: char,
    /// Whether the locale measures in metric units.
    pub metric: bool,
    /// Currency of the main market of the language, ISO 4217.
    pub currency: &'static str,
    /// Typical length of a translation from English, in characters per
    /// source character; used to flag length outliers.
    pub length_ratio_from_english: f64,
}

const fn language(
    code: &'static str,
    iso3: &'static str,
    name: &'static str,
    decimal_comma: bool,
    currency: &'static str,
    length_ratio_from_english: f64,
) -> Language {
    Language {
        code,
        iso3,
        name,
        decimal_separator: if decimal_comma { ',' } else { '.' },
        thousands_separator: if decimal_comma { '.' } else { ',' },
        metric: !matches!(code.as_bytes(), b"en"),
        currency,
        length_ratio_from_english,
    }
}

/// Languages with known conventions; engines may support more pairs, whose
/// languages then get English number conventions.
pub const LANGUAGES: &[Language] = &[
    language("en", "eng", "English", false, "USD", 1.0),
    language("es", "spa", "Spanish", true, "EUR", 1.15),
    language("de", "deu", "German", true, "EUR", 1.15),
    language("fr", "fra", "French", true, "EUR", 1.18),
    language("it", "ita", "Italian", true, "EUR", 1.12),
    language("pt", "por", "Portuguese", true, "EUR", 1.12),
    language("ca", "cat", "Catalan", true, "EUR", 1.15),
    language("gl", "glg", "Galician", true, "EUR", 1.12),
    language("nl", "nld", "Dutch", true, "EUR", 1.12),
];

impl Language {
    /// Finds a language by ISO 639-1 or 639-3 code, ignoring case and any
    /// region suffix (`pt-BR`, `en_US`).
    pub fn lookup(code: &str) -> Option<&'static Language> {
        let base = code
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        LANGUAGES
            .iter()
            .find(|language| language.code == base || language.iso3 == base)
    }

    /// Formats `value` with `decimals` digits after the separator, trailing
    /// zeros of the fraction removed, in this locale's convention.
    pub fn format_number(&self, value: f64, decimals: usize) -> String {
        let text = format!("{:.*}", decimals, value.abs());
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole.to_string(), fraction.trim_end_matches('0')),
            None => (text.clone(), ""),
        };

        // Group thousands only from five digits on, as style guides of
        // Spanish, German and French do for four-digit numbers.
        let mut grouped = String::new();
        if whole.len() > 4 {
            for (i, digit) in whole.chars().enumerate() {
                if i > 0 && (whole.len() - i) % 3 == 0 {
                    grouped.push(self.thousands_separator);
                }
                grouped.push(digit);
            }
        } else {
            grouped = whole;
        }

        let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
            "-"
        } else {
            ""
        };
        if fraction.is_empty() {
            format!("{sign}{grouped}")
        } else {
            format!("{sign}{grouped}{}{fraction}", self.decimal_separator)
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// A translation direction named by ISO 639-1 codes where known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct LanguagePair {
    pub source: String,
    pub target: String,
}

impl LanguagePair {
    /// Builds a pair, normalizing each code to ISO 639-1 when it is known.
    pub fn new(source: &str, target: &str) -> LanguagePair {
        LanguagePair {
            source: normalize_code(source),
            target: normalize_code(target),
        }
    }

    /// The opposite direction.
    pub fn reversed(&self) -> LanguagePair {
        LanguagePair {
            source: self.target.clone(),
            target: self.source.clone(),
        }
    }
}

impl fmt::Display for LanguagePair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.source, self.target)
    }
}

/// ISO 639-1 code of `code` when known, else `code` in lower case.
pub fn normalize_code(code: &str) -> String {
    match Language::lookup(code) {
        Some(language) => language.code.to_string(),
        None => code.trim().to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_accepts_iso3_and_region() {
        assert_eq!(Language::lookup("spa").unwrap().code, "es");
        assert_eq!(Language::lookup("pt-BR").unwrap().code, "pt");
        assert!(Language::lookup("xx").is_none());
    }

    #[test]
    fn format_number_uses_decimal_comma() {
        let spanish = Language::lookup("es").unwrap();
        assert_eq!(spanish.format_number(26.67, 1), "26,7");
        assert_eq!(spanish.format_number(408.0, 0), "408");
        assert_eq!(spanish.format_number(12345.5, 1), "12.345,5");
        assert_eq!(spanish.format_number(1.10, 2), "1,1");
        let english = Language::lookup("en").unwrap();
        assert_eq!(english.format_number(26.67, 1), "26.7");
    }
}
