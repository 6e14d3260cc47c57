//! Protected spans: text the engine must not touch.
//!
//! URLs, emails, placeholders (`%s`, `%1$s`, `{name}`, `{{name}}`), SKUs and
//! model numbers, brand names, glossary terms, converted measures and
//! inline markup are replaced by `⟦n⟧` tokens before the engine runs and
//! put back after. Apertium copies such tokens through unchanged, unlike
//! `{name}` (which it translates) or bare brand names (which it may move or
//! inflect). [`restore`] reports every token the engine lost or repeated.

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

/// What a protected span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    Url,
    Email,
    Placeholder,
    ModelNumber,
    Brand,
    Glossary,
    Measure,
    Size,
    Price,
    Entity,
    Markup,
    /// A hashtag or handle: `#sale`, `@shop`.
    SocialTag,
    /// A decade: `90s`, `1990's`, which Apertium reads as a number and a
    /// verb ("90 es").
    Decade,
}

/// A span found in a source text, before masking.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Byte range in the text.
    pub start: usize,
    pub end: usize,
    pub kind: SpanKind,
    /// Text written in place of the token after translation.
    pub replacement: String,
}

/// A masked span, as the pipeline remembers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mask {
    pub id: usize,
    pub kind: SpanKind,
    /// Text of the span in the source.
    pub source: String,
    /// Text written in the translation.
    pub replacement: String,
}

/// The masks of one text run; ids are unique within it.
#[derive(Debug, Clone, Default)]
pub struct MaskTable {
    pub masks: Vec<Mask>,
}

impl MaskTable {
    /// Adds a mask and returns its token.
    pub fn push(&mut self, kind: SpanKind, source: &str, replacement: &str) -> String {
        let id = self.masks.len() + 1;
        self.masks.push(Mask {
            id,
            kind,
            source: source.to_string(),
            replacement: replacement.to_string(),
        });
        token(id)
    }

    pub fn get(&self, id: usize) -> Option<&Mask> {
        id.checked_sub(1).and_then(|index| self.masks.get(index))
    }
}

/// The token that stands for mask `id`.
pub fn token(id: usize) -> String {
    format!("⟦{id}⟧")
}

/// Matches a mask token, tolerating spaces an engine may insert.
pub fn token_regex() -> &'static Regex {
    static TOKEN: OnceLock<Regex> = OnceLock::new();
    TOKEN.get_or_init(|| Regex::new(r"⟦\s*(\d+)\s*⟧").expect("valid regex"))
}

/// Ids of the tokens in `text`, in order.
pub fn token_ids(text: &str) -> Vec<usize> {
    token_regex()
        .captures_iter(text)
        .filter_map(|caps| caps[1].parse().ok())
        .collect()
}

/// Replaces `spans` in `text` by tokens registered in `table`.
///
/// Spans are taken in order of start, and a span that overlaps one already
/// taken is dropped, so detectors listed first win on ties.
pub fn apply(text: &str, spans: &[Span], table: &mut MaskTable) -> String {
    let mut ordered: Vec<(usize, &Span)> = spans.iter().enumerate().collect();
    ordered.sort_by_key(|(priority, span)| (span.start, *priority, usize::MAX - span.end));

    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for (_, span) in ordered {
        if span.start < cursor || span.end <= span.start || span.end > text.len() {
            continue;
        }
        out.push_str(&text[cursor..span.start]);
        out.push_str(&table.push(span.kind, &text[span.start..span.end], &span.replacement));
        cursor = span.end;
    }
    out.push_str(&text[cursor..]);
    out
}

/// A problem found when putting masked spans back.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum SpanIssue {
    /// The engine dropped the token; its text was appended at the end.
    Lost { kind: SpanKind, text: String },
    /// The engine repeated the token; the extra copies were removed.
    Repeated { kind: SpanKind, text: String },
    /// The output holds a token the source did not have; it was removed.
    Unexpected { id: usize },
}

/// Puts the spans of `expected` back into `translated`.
///
/// A lost span is appended at the end, so no protected text disappears,
/// and every repair is returned as an issue.
pub fn restore(
    translated: &str,
    table: &MaskTable,
    expected: &[usize],
) -> (String, Vec<SpanIssue>) {
    let mut issues = Vec::new();
    let mut seen: Vec<usize> = Vec::new();
    let mut out = String::with_capacity(translated.len());
    let mut cursor = 0;

    for caps in token_regex().captures_iter(translated) {
        let whole = caps.get(0).expect("match has a whole group");
        out.push_str(&translated[cursor..whole.start()]);
        cursor = whole.end();
        let id: usize = caps[1].parse().unwrap_or(0);
        match table.get(id) {
            Some(mask) if expected.contains(&id) => {
                if seen.contains(&id) {
                    issues.push(SpanIssue::Repeated {
                        kind: mask.kind,
                        text: mask.source.clone(),
                    });
                } else {
                    seen.push(id);
                    out.push_str(&mask.replacement);
                }
            }
            _ => issues.push(SpanIssue::Unexpected { id }),
        }
    }
    out.push_str(&translated[cursor..]);

    for id in expected {
        if seen.contains(id) {
            continue;
        }
        if let Some(mask) = table.get(*id) {
            issues.push(SpanIssue::Lost {
                kind: mask.kind,
                text: mask.source.clone(),
            });
            // An engine may move words inside a token ("⟦El zapato de 1⟧");
            // the span then goes where its id is, else at the end.
            if let Some(repaired) = replace_in_broken_token(&out, *id, &mask.replacement) {
                out = repaired;
                continue;
            }
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&mask.replacement);
        }
    }
    // Bracket halves of broken tokens never reach the output.
    if out.contains(['⟦', '⟧']) {
        out = out.replace(['⟦', '⟧'], "");
    }
    (out, issues)
}

/// Replaces the id in the first broken token that contains it as a word
/// ("⟦El zapato de 1⟧" for id 1) by `replacement`, keeping the other words.
fn replace_in_broken_token(text: &str, id: usize, replacement: &str) -> Option<String> {
    static BROKEN: OnceLock<Regex> = OnceLock::new();
    let broken = BROKEN.get_or_init(|| Regex::new(r"⟦([^⟦⟧]*)⟧").expect("valid regex"));
    let id_text = id.to_string();
    let found = broken
        .captures_iter(text)
        .find(|caps| caps[1].split_whitespace().any(|word| word == id_text))?;
    let inner: Vec<&str> = found[1]
        .split_whitespace()
        .map(|word| if word == id_text { replacement } else { word })
        .collect();
    let whole = found.get(0).expect("whole match");
    Some(format!(
        "{}{}{}",
        &text[..whole.start()],
        inner.join(" "),
        &text[whole.end()..]
    ))
}

/// Finds URLs, emails, placeholders and model numbers in `text`, plus the
/// listing's own SKU.
pub fn detect(text: &str, sku: &str) -> Vec<Span> {
    static PATTERNS: OnceLock<Vec<(SpanKind, Regex)>> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        let compile = |pattern: &str| Regex::new(pattern).expect("valid regex");
        vec![
            (
                SpanKind::Url,
                compile(r#"(?i)\b(?:https?://|www\.)[^\s<>"'{}]+[^\s<>"'{}.,;:!?)\]]"#),
            ),
            (
                SpanKind::Email,
                compile(r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b"),
            ),
            (
                SpanKind::Placeholder,
                compile(concat!(
                    r"%\([\w.-]+\)[-+0#]*\d*(?:\.\d+)?[sSdDifuxXeEgGc]",
                    r"|%(?:\d+\$)?[-+0#]*\d*(?:\.\d+)?[sSdDifuxXeEgGc@]",
                    r"|\{\{\s*[\w.-]+\s*\}\}|\{\s*[\w.-]*\s*\}",
                )),
            ),
            (
                SpanKind::Decade,
                compile(r"(?i)(?:\B'|\b)(?:\d{2}|\d{4})['’]?s\b"),
            ),
            // Codes that mix letters and digits: 85123A, XR-500, AB12-C.
            (
                SpanKind::ModelNumber,
                compile(r"\b(?:[A-Z]+[-/]?\d[\w/-]*|\d+[-/]?[A-Z][A-Z0-9/-]*)\b"),
            ),
        ]
    });

    let mut spans = Vec::new();
    for (kind, pattern) in patterns {
        for found in pattern.find_iter(text) {
            if *kind == SpanKind::ModelNumber && !is_model_number(found.as_str()) {
                continue;
            }
            // "%d" in "50%discount" starts a word, not a placeholder. The
            // printf space flag is left out for the same reason: "100% cotton".
            if *kind == SpanKind::Placeholder
                && found.as_str().starts_with('%')
                && text[found.end()..].starts_with(char::is_alphanumeric)
            {
                continue;
            }
            // "50'S" from a title in capitals is written "50's".
            let replacement = if *kind == SpanKind::Decade {
                found.as_str().to_lowercase()
            } else {
                found.as_str().to_string()
            };
            spans.push(Span {
                start: found.start(),
                end: found.end(),
                kind: *kind,
                replacement,
            });
        }
    }

    // Hashtags and handles start a word: "C#" and emails are not ones.
    static SOCIAL: OnceLock<Regex> = OnceLock::new();
    let social = SOCIAL.get_or_init(|| {
        Regex::new(r"(?:^|[\s(\[])([#@][\p{L}_][\p{L}\p{N}_]*)").expect("valid regex")
    });
    for caps in social.captures_iter(text) {
        let found = caps.get(1).expect("group 1");
        spans.push(Span {
            start: found.start(),
            end: found.end(),
            kind: SpanKind::SocialTag,
            replacement: found.as_str().to_string(),
        });
    }

    let sku = sku.trim();
    if sku.len() >= 3 {
        let mut from = 0;
        while let Some(offset) = text[from..].find(sku) {
            let start = from + offset;
            spans.push(Span {
                start,
                end: start + sku.len(),
                kind: SpanKind::ModelNumber,
                replacement: sku.to_string(),
            });
            from = start + sku.len();
        }
    }
    spans
}

/// Whether a letter-and-digit token is a code rather than a measure such
/// as `10CM` or an ordinal such as `3RD`.
fn is_model_number(token: &str) -> bool {
    static MEASURE: OnceLock<Regex> = OnceLock::new();
    let measure = MEASURE.get_or_init(|| {
        Regex::new(r"^\d+(?:st|nd|rd|th|cm|mm|m|kg|g|ml|l|pc|pcs|x|d)$").expect("valid regex")
    });
    !measure.is_match(&token.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(String, SpanKind)> {
        detect(text, "")
            .into_iter()
            .map(|span| (text[span.start..span.end].to_string(), span.kind))
            .collect()
    }

    #[test]
    fn detect_finds_urls_emails_placeholders_codes() {
        let found = kinds("See https://shop.example/a?b=1. Mail help@shop.example, {name} %1$s {{count}} model XR-500 and 85123A, 10CM");
        let texts: Vec<&str> = found.iter().map(|(text, _)| text.as_str()).collect();
        assert!(texts.contains(&"https://shop.example/a?b=1"), "{texts:?}");
        assert!(texts.contains(&"help@shop.example"), "{texts:?}");
        assert!(texts.contains(&"{name}"), "{texts:?}");
        assert!(texts.contains(&"%1$s"), "{texts:?}");
        assert!(texts.contains(&"{{count}}"), "{texts:?}");
        assert!(texts.contains(&"XR-500"), "{texts:?}");
        assert!(texts.contains(&"85123A"), "{texts:?}");
        assert!(!texts.contains(&"10CM"), "{texts:?}");
    }

    #[test]
    fn percentages_are_no_placeholders() {
        for text in [
            "100% cotton T-shirt",
            "100% down jacket",
            "70% savings on 50% silk",
            "Save 50%discount",
        ] {
            assert!(
                !kinds(text)
                    .iter()
                    .any(|(_, kind)| *kind == SpanKind::Placeholder),
                "{text}: {:?}",
                kinds(text)
            );
        }
        let found = kinds(
            "Hi %(name)s, { name } and %s's gift, 100%d, HELLO %S! https://shop.example/{ id }",
        );
        let texts: Vec<&str> = found.iter().map(|(text, _)| text.as_str()).collect();
        assert!(texts.contains(&"%(name)s"), "{texts:?}");
        assert!(texts.contains(&"{ name }"), "{texts:?}");
        assert!(texts.contains(&"%s"), "{texts:?}");
        assert!(texts.contains(&"%d"), "{texts:?}");
        assert!(texts.contains(&"%S"), "{texts:?}");
        assert!(texts.contains(&"{ id }"), "{texts:?}");
    }

    #[test]
    fn detect_finds_decades() {
        let text = "Hits of the 90's, the 1990s and the '80s, 50'S, not 1995 or 90 sec";
        let decades: Vec<&str> = detect(text, "")
            .into_iter()
            .filter(|span| span.kind == SpanKind::Decade)
            .map(|span| &text[span.start..span.end])
            .collect();
        assert_eq!(decades, ["90's", "1990s", "'80s", "50'S"]);
        let capitals = detect("50'S CHRISTMAS", "");
        assert_eq!(capitals[0].replacement, "50's");
    }

    #[test]
    fn detect_finds_hashtags_and_handles() {
        let found = kinds(
            "Use #sale today, follow @mercator_store (or [@shop]) in C# at help@shop.example",
        );
        let tags: Vec<&str> = found
            .iter()
            .filter(|(_, kind)| *kind == SpanKind::SocialTag)
            .map(|(text, _)| text.as_str())
            .collect();
        assert_eq!(tags, vec!["#sale", "@mercator_store", "@shop"]);
    }

    /// Masks "Use {name} at XR-500" into "Use ⟦1⟧ at ⟦2⟧".
    fn masked_example() -> MaskTable {
        let mut table = MaskTable::default();
        let masked = apply(
            "Use {name} at XR-500",
            &detect("Use {name} at XR-500", ""),
            &mut table,
        );
        assert_eq!(masked, "Use ⟦1⟧ at ⟦2⟧");
        table
    }

    #[test]
    fn restore_reports_lost_and_repeated_spans() {
        let table = masked_example();

        let (text, issues) = restore("Usa ⟦1⟧ en ⟦ 2 ⟧", &table, &[1, 2]);
        assert_eq!(text, "Usa {name} en XR-500");
        assert!(issues.is_empty());

        let (text, issues) = restore("Usa ⟦1⟧ ⟦1⟧", &table, &[1, 2]);
        assert_eq!(text, "Usa {name} XR-500");
        assert_eq!(issues.len(), 2);
        assert!(matches!(issues[0], SpanIssue::Repeated { .. }));
        assert!(matches!(issues[1], SpanIssue::Lost { .. }));
    }

    #[test]
    fn restore_repairs_broken_tokens() {
        let table = masked_example();

        // Words moved inside a token: the span takes the id's place.
        let (text, issues) = restore("⟦Usa el 1⟧ en ⟦2⟧", &table, &[1, 2]);
        assert_eq!(text, "Usa el {name} en XR-500");
        assert_eq!(issues.len(), 1);
        // Bracket halves never reach the output.
        let (text, _) = restore("Usa ⟦ en 1 ⟦2⟧", &table, &[1, 2]);
        assert!(!text.contains(['⟦', '⟧']), "{text}");
        assert!(text.contains("{name}"), "{text}");
        assert!(text.contains("XR-500"), "{text}");
    }
}
