//! The glossary: terms with a fixed translation per target language.
//!
//! A glossary is a CSV file with the header `term,translation,target_lang`.
//! An empty translation means "do not translate" (brands, product lines).
//! Matching ignores case, respects word boundaries and also finds the
//! English plural of a term (`mug` matches `mugs`, `battery` matches
//! `batteries`). Every match becomes a protected span, so the engine never
//! sees the term and the glossary's translation is enforced.

use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use mercator_data::ingest::lines::{describe_error, unclosed_quote, LineIndex, UNCLOSED_QUOTE};

use crate::lang::normalize_code;
use crate::protect::{Span, SpanKind};

/// One glossary row.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub term: String,
    /// `None` means the term is kept as written (do not translate).
    pub translation: Option<String>,
    pub target_lang: String,
    /// Line of the row in its file (1-based, header is line 1).
    pub line: u64,
}

/// Failure to read a glossary file.
#[derive(Debug, thiserror::Error)]
pub enum GlossaryError {
    #[error("cannot read glossary {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "glossary {path} line {line}: expected 3 columns (term,translation,target_lang), found {found}; quote a field that contains a comma"
    )]
    ColumnCount {
        path: PathBuf,
        line: u64,
        found: usize,
    },
    #[error("glossary {path} line {line}: the term is empty; give the source-language term in the first column")]
    EmptyTerm { path: PathBuf, line: u64 },
    #[error("glossary {path} line {line}: target_lang is empty; give a language code such as es")]
    EmptyLanguage { path: PathBuf, line: u64 },
    #[error("glossary {path} line {line}: invalid CSV: {message}")]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
}

/// All glossary rows, for every target language.
#[derive(Debug, Clone, Default)]
pub struct Glossary {
    pub entries: Vec<Entry>,
}

impl Glossary {
    /// Reads a glossary CSV file.
    pub fn load(path: &Path) -> Result<Glossary, GlossaryError> {
        let text =
            mercator_data::ingest::lines::read_utf8(path).map_err(|cause| GlossaryError::Read {
                path: path.to_path_buf(),
                cause,
            })?;
        Glossary::parse(path, &text)
    }

    /// Parses glossary CSV text; `path` names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Glossary, GlossaryError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(text.as_bytes());
        let mut entries = Vec::new();
        if let Some(line) = unclosed_quote(text.as_bytes()) {
            return Err(GlossaryError::Csv {
                path: path.to_path_buf(),
                line,
                message: UNCLOSED_QUOTE.to_string(),
            });
        }
        let mut lines = LineIndex::of(text.as_bytes());
        for (index, record) in reader.records().enumerate() {
            let record = record.map_err(|err| {
                let (line, message) = describe_error(&err, &mut lines);
                GlossaryError::Csv {
                    path: path.to_path_buf(),
                    line,
                    message,
                }
            })?;
            let line = lines.line_of(record.position());
            if index == 0
                && record
                    .get(0)
                    .is_some_and(|f| f.trim().eq_ignore_ascii_case("term"))
            {
                continue;
            }
            if record.len() == 1 && record[0].trim().is_empty() {
                continue;
            }
            if record.len() != 3 {
                return Err(GlossaryError::ColumnCount {
                    path: path.to_path_buf(),
                    line,
                    found: record.len(),
                });
            }
            let term = record[0].trim();
            if term.is_empty() {
                return Err(GlossaryError::EmptyTerm {
                    path: path.to_path_buf(),
                    line,
                });
            }
            if record[2].trim().is_empty() {
                return Err(GlossaryError::EmptyLanguage {
                    path: path.to_path_buf(),
                    line,
                });
            }
            let translation = record[1].trim();
            entries.push(Entry {
                term: term.to_string(),
                translation: (!translation.is_empty()).then(|| translation.to_string()),
                target_lang: normalize_code(&record[2]),
                line,
            });
        }
        Ok(Glossary { entries })
    }

    /// Builds the matcher for one target language.
    pub fn for_target(&self, target: &str) -> GlossaryMatcher {
        let target = normalize_code(target);
        let entries: Vec<Entry> = self
            .entries
            .iter()
            .filter(|entry| entry.target_lang == target || entry.target_lang == "*")
            .cloned()
            .collect();
        GlossaryMatcher::new(entries, target)
    }

    /// Terms to keep untranslated in every language, such as brands.
    pub fn do_not_translate(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|entry| entry.translation.is_none())
            .map(|entry| entry.term.as_str())
            .collect()
    }
}

/// Finds the glossary terms of one target language in a text.
#[derive(Debug, Clone)]
pub struct GlossaryMatcher {
    entries: Vec<Entry>,
    target: String,
    /// (entry index, plural form?) per pattern.
    patterns: Vec<(usize, bool)>,
    automaton: Option<AhoCorasick>,
}

impl GlossaryMatcher {
    fn new(entries: Vec<Entry>, target: String) -> GlossaryMatcher {
        let mut forms = Vec::new();
        let mut patterns = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let singular = std::iter::once((entry.term.clone(), false));
            let plurals = english_plurals(&entry.term).into_iter().map(|p| (p, true));
            for (form, plural) in singular.chain(plurals) {
                for variant in apostrophe_variants(&form) {
                    forms.push(variant);
                    patterns.push((index, plural));
                }
            }
        }
        let automaton = (!forms.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&forms)
                .expect("glossary patterns are plain strings")
        });
        GlossaryMatcher {
            entries,
            target,
            patterns,
            automaton,
        }
    }

    /// Builds an empty matcher, for runs without a glossary.
    pub fn empty(target: &str) -> GlossaryMatcher {
        GlossaryMatcher::new(Vec::new(), normalize_code(target))
    }

    /// Finds the terms in `text` as spans whose replacement is the
    /// glossary translation (or the term itself for do-not-translate).
    ///
    /// `canonical_case` writes do-not-translate terms as the glossary
    /// spells them, for titles whose case was normalized.
    pub fn find(&self, text: &str, canonical_case: bool) -> Vec<(Span, usize)> {
        let Some(automaton) = &self.automaton else {
            return Vec::new();
        };
        let mut spans = Vec::new();
        for found in automaton.find_iter(text) {
            if !at_word_boundary(text, found.start(), found.end()) {
                continue;
            }
            let (index, plural) = self.patterns[found.pattern().as_usize()];
            let entry = &self.entries[index];
            let matched = &text[found.start()..found.end()];
            let replacement = match &entry.translation {
                None if canonical_case => entry.term.clone(),
                None => matched.to_string(),
                Some(translation) => {
                    let form = if plural {
                        pluralize(translation, &self.target)
                    } else {
                        translation.clone()
                    };
                    match_initial_case(&form, matched)
                }
            };
            spans.push((
                Span {
                    start: found.start(),
                    end: found.end(),
                    kind: if entry.translation.is_none() {
                        SpanKind::Brand
                    } else {
                        SpanKind::Glossary
                    },
                    replacement,
                },
                index,
            ));
        }
        spans
    }

    pub fn entry(&self, index: usize) -> &Entry {
        &self.entries[index]
    }
}

fn at_word_boundary(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    !is_word(before) && !is_word(after)
}

/// `form` as written, and with its straight apostrophes curly or its
/// curly ones straight: "Levi's" also matches "Levi’s" and the reverse.
fn apostrophe_variants(form: &str) -> Vec<String> {
    let mut variants = vec![form.to_string()];
    for (from, to) in [('\'', '’'), ('’', '\'')] {
        if form.contains(from) {
            variants.push(form.replace(from, &to.to_string()));
        }
    }
    variants
}

/// English plural forms of the last word of `term`.
fn english_plurals(term: &str) -> Vec<String> {
    let lower = term.to_ascii_lowercase();
    if !lower
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphabetic())
    {
        return Vec::new();
    }
    let mut forms = Vec::new();
    if let Some(stem) = lower.strip_suffix('y') {
        if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) {
            forms.push(format!("{}ies", &term[..term.len() - 1]));
        }
    }
    if lower.ends_with(['s', 'x', 'z']) || lower.ends_with("ch") || lower.ends_with("sh") {
        forms.push(format!("{term}es"));
    } else {
        forms.push(format!("{term}s"));
    }
    forms
}

/// Plural of a translation: the regular rule of the target language for
/// its first word (Spanish and French noun phrases put the noun first).
fn pluralize(translation: &str, target: &str) -> String {
    let (head, rest) = match translation.split_once(' ') {
        Some((head, rest)) => (head, format!(" {rest}")),
        None => (translation, String::new()),
    };
    let plural_head = match target {
        _ if head.ends_with(['s', 'x']) => head.to_string(),
        "es" | "ca" | "gl" => {
            if head.ends_with(['a', 'e', 'i', 'o', 'u', 'á', 'é', 'ó']) {
                format!("{head}s")
            } else if let Some(stem) = head.strip_suffix('z') {
                format!("{stem}ces")
            } else {
                format!("{head}es")
            }
        }
        "fr" | "pt" => format!("{head}s"),
        // TODO: German, Italian and Dutch plurals are irregular; the
        // singular glossary form is written for now.
        _ => head.to_string(),
    };
    format!("{plural_head}{rest}")
}

/// Capitalizes `text` when `matched` starts with a capital letter.
fn match_initial_case(text: &str, matched: &str) -> String {
    if matched.chars().next().is_some_and(char::is_uppercase) {
        let mut chars = text.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glossary(text: &str) -> Glossary {
        Glossary::parse(Path::new("terms.csv"), text).unwrap()
    }

    #[test]
    fn parse_reads_do_not_translate_rows() {
        let glossary = glossary("term,translation,target_lang\nmug,taza,es\nAcme,,es\n");
        assert_eq!(glossary.entries.len(), 2);
        assert_eq!(glossary.entries[1].translation, None);
        assert_eq!(glossary.entries[1].line, 3);
    }

    #[test]
    fn parse_names_line_of_wrong_column_count() {
        let err = Glossary::parse(
            Path::new("terms.csv"),
            "term,translation,target_lang\nmug,taza,es\nlamp,lámpara\n",
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("terms.csv line 3"), "{message}");
        assert!(message.contains("found 2"), "{message}");
    }

    #[test]
    fn find_matches_plural_and_case() {
        let matcher =
            glossary("term,translation,target_lang\nt-light holder,portavelas,es\nAcme,,es\n")
                .for_target("es");
        let spans = matcher.find("Two T-Light Holders by ACME.", false);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].0.replacement, "Portavelas");
        assert_eq!(spans[1].0.replacement, "ACME");
        let canonical = matcher.find("Made by acme", true);
        assert_eq!(canonical[0].0.replacement, "Acme");
    }

    #[test]
    fn find_matches_either_apostrophe() {
        let matcher =
            glossary("term,translation,target_lang\nLevi's,,es\nkid’s cap,gorra infantil,es\n")
                .for_target("es");
        let text = "Levi’s jeans and a kid's cap";
        let found: Vec<&str> = matcher
            .find(text, false)
            .iter()
            .map(|(span, _)| &text[span.start..span.end])
            .collect();
        assert_eq!(found, ["Levi’s", "kid's cap"]);
    }

    #[test]
    fn find_respects_word_boundaries() {
        let matcher = glossary("term,translation,target_lang\nmug,taza,es\n").for_target("es");
        assert!(matcher.find("smuggler", false).is_empty());
        assert_eq!(matcher.find("two mugs", false)[0].0.replacement, "tazas");
    }
}
