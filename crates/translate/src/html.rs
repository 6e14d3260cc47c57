//! Tolerant HTML handling for listings.
//!
//! Only text nodes and the `alt` and `title` attributes are translated;
//! every tag, attribute and entity is written back byte for byte. The
//! tokenizer never fails: a `<` that starts no tag is text, an unterminated
//! tag or comment becomes text, and unbalanced inline tags are kept where
//! they are. Each such repair is returned as an [`HtmlIssue`] so the
//! listing is flagged for review.
//!
//! Text between block boundaries forms a [`Run`]: its text pieces, inline
//! tag pairs (`b`, `i`, `a`, `span`, ...) and atomic pieces (`<br>`,
//! `<img>`, `<code>…</code>`, elements marked `translate="no"`, entities
//! other than the five basic ones). The pipeline translates a run as plain
//! text, with atomic pieces as mask tokens, then puts each tag pair back
//! around the translation of its content.
//!
//! A hand-written tokenizer is used instead of html5ever or lol_html
//! because the output must keep untouched markup byte for byte (html5ever
//! serializes a normalized tree) and inline tags must be grouped into runs
//! that span several text nodes (lol_html streams text chunks one node at
//! a time).

use serde::Serialize;

/// Inline elements whose tags are put back around the translated words.
const INLINE: &[&str] = &[
    "a", "abbr", "b", "bdi", "cite", "em", "font", "i", "label", "mark", "q", "s", "small", "span",
    "strong", "sub", "sup", "u",
];

/// Elements that sit inside a run as one untranslated token.
const INLINE_VOID: &[&str] = &["br", "img", "wbr", "input"];

/// Elements whose content is never translated.
const VERBATIM: &[&str] = &[
    "code", "kbd", "pre", "samp", "script", "style", "textarea", "var",
];

/// Attributes whose values are translated.
const TRANSLATED_ATTRIBUTES: &[&str] = &["alt", "title"];

/// A repair made while reading malformed HTML.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HtmlIssue {
    pub problem: String,
    pub detail: String,
}

/// A piece of a text run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunItem {
    /// Text with the basic entities decoded.
    Text(String),
    /// An inline opening tag and the index of its closing tag in the run.
    Open { raw: String, close: usize },
    /// An inline closing tag.
    Close { raw: String },
    /// Markup kept as one untranslated token.
    Atomic(String),
}

/// Text between block boundaries, translated as one unit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Run {
    pub items: Vec<RunItem>,
}

/// A piece of a parsed document.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Markup or white space written as it was.
    Verbatim(String),
    /// A text run to translate.
    Run(Run),
}

/// A tag with translatable attributes. At its place, the pieces contain
/// the marker [`tag_marker`] of its index in [`Document::tags`].
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeTag {
    pub raw: String,
    /// Byte ranges in `raw` of the values to translate (entities encoded).
    pub values: Vec<(usize, usize)>,
}

/// A parsed listing description.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    pub pieces: Vec<Piece>,
    pub tags: Vec<AttributeTag>,
    pub issues: Vec<HtmlIssue>,
}

/// Marker standing for `Document::tags[index]` in pieces; NUL never occurs
/// in HTML text, so markers cannot clash with content.
pub fn tag_marker(index: usize) -> String {
    format!("\u{0}{index}\u{0}")
}

/// Checks whether `text` looks like HTML: a tag or an entity.
pub fn looks_like_html(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/'))
        || text.contains("&amp;")
        || text.contains("&nbsp;")
        || text.contains("&#")
}

#[derive(Debug, Clone)]
enum Token {
    Text(String),
    Tag(Tag),
    /// Comment, doctype or processing instruction.
    Other(String),
}

#[derive(Debug, Clone)]
struct Tag {
    raw: String,
    name: String,
    closing: bool,
    self_closing: bool,
    /// (name, value range in `raw`) per attribute.
    attributes: Vec<(String, Option<(usize, usize)>)>,
}

impl Tag {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(attribute, _)| attribute == name)
            .map(|(_, range)| range.map_or("", |(start, end)| &self.raw[start..end]))
    }

    /// Checks whether the element is marked not to be translated.
    fn is_no_translate(&self) -> bool {
        self.attribute("translate")
            .is_some_and(|v| v.eq_ignore_ascii_case("no"))
            || self
                .attribute("class")
                .is_some_and(|v| v.split_whitespace().any(|c| c == "notranslate"))
    }
}

/// Splits `html` into text, tags and other markup without failing.
fn tokenize(html: &str, issues: &mut Vec<HtmlIssue>) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    let bytes = html.as_bytes();

    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let next = bytes.get(i + 1).copied().unwrap_or(b' ');
        let end = if html[i..].starts_with("<!--") {
            match html[i + 4..].find("-->") {
                Some(offset) => Some(i + 4 + offset + 3),
                None => {
                    issues.push(HtmlIssue {
                        problem: "unterminated_comment".into(),
                        detail: "a comment has no closing -->; the rest is kept as text".into(),
                    });
                    None
                }
            }
        } else if next.is_ascii_alphabetic() || next == b'/' || next == b'!' || next == b'?' {
            match find_tag_end(html, i + 1) {
                Some(end) => Some(end),
                None => {
                    issues.push(HtmlIssue {
                        problem: "unclosed_tag".into(),
                        detail: format!(
                            "tag {:?} has no closing '>'; it is kept as text",
                            truncate(&html[i..], 40)
                        ),
                    });
                    None
                }
            }
        } else {
            None
        };
        let Some(end) = end else {
            i += 1;
            continue;
        };

        if text_start < i {
            tokens.push(Token::Text(html[text_start..i].to_string()));
        }
        let raw = &html[i..end];
        tokens.push(if next.is_ascii_alphabetic() || next == b'/' {
            Token::Tag(parse_tag(raw))
        } else {
            Token::Other(raw.to_string())
        });
        i = end;
        text_start = end;
    }
    if text_start < html.len() {
        tokens.push(Token::Text(html[text_start..].to_string()));
    }
    tokens
}

/// End of the tag starting before `from`, skipping `>` inside quotes.
/// A `<` outside quotes means the tag was never closed.
fn find_tag_end(html: &str, from: usize) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (offset, &byte) in html.as_bytes()[from..].iter().enumerate() {
        match (quote, byte) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(byte),
            (None, b'>') => return Some(from + offset + 1),
            (None, b'<') => return None,
            _ => {}
        }
    }
    None
}

fn parse_tag(raw: &str) -> Tag {
    let inner_start = if raw.starts_with("</") { 2 } else { 1 };
    let closing = inner_start == 2;
    let body_end = raw.len() - 1;
    let self_closing = raw[..body_end].trim_end().ends_with('/');
    let bytes = raw.as_bytes();

    let mut i = inner_start;
    while i < body_end && !bytes[i].is_ascii_whitespace() && bytes[i] != b'/' && bytes[i] != b'>' {
        i += 1;
    }
    let name = raw[inner_start..i].to_ascii_lowercase();

    let mut attributes = Vec::new();
    while i < body_end {
        while i < body_end && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < body_end
            && !bytes[i].is_ascii_whitespace()
            && !matches!(bytes[i], b'=' | b'/' | b'>')
        {
            i += 1;
        }
        if name_start == i {
            i += 1;
            continue;
        }
        let attribute = raw[name_start..i].to_ascii_lowercase();
        while i < body_end && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = None;
        if i < body_end && bytes[i] == b'=' {
            i += 1;
            while i < body_end && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < body_end && matches!(bytes[i], b'"' | b'\'') {
                let quote = bytes[i];
                let start = i + 1;
                let end = raw[start..body_end]
                    .find(quote as char)
                    .map_or(body_end, |o| start + o);
                value = Some((start, end));
                i = (end + 1).min(body_end);
            } else {
                let start = i;
                while i < body_end && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                value = Some((start, i));
            }
        }
        attributes.push((attribute, value));
    }
    Tag {
        raw: raw.to_string(),
        name,
        closing,
        self_closing,
        attributes,
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// Parses a description into verbatim markup, text runs and tags with
/// translatable attributes.
pub fn parse(html: &str) -> Document {
    let mut issues = Vec::new();
    let tokens = tokenize(html, &mut issues);
    let mut builder = Builder::default();

    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Text(text) => builder.text(text),
            Token::Other(raw) => builder.block(Piece::Verbatim(raw.clone())),
            Token::Tag(tag)
                if !tag.closing
                    && (VERBATIM.contains(&tag.name.as_str()) || tag.is_no_translate())
                    && !tag.self_closing =>
            {
                // The whole element, content included, is kept as it is.
                let end = matching_close(&tokens, i, &tag.name);
                if end.is_none() {
                    issues.push(HtmlIssue {
                        problem: "unbalanced_tag".into(),
                        detail: format!(
                            "<{}> is never closed; the rest is left untranslated",
                            tag.name
                        ),
                    });
                }
                let last = end.unwrap_or(tokens.len() - 1);
                let raw: String = tokens[i..=last].iter().map(token_raw).collect();
                let inline = !matches!(
                    tag.name.as_str(),
                    "pre" | "script" | "style" | "textarea" | "div" | "p" | "ul" | "ol" | "table"
                );
                if inline {
                    builder.atomic(raw);
                } else {
                    builder.block(Piece::Verbatim(raw));
                }
                i = last + 1;
                continue;
            }
            Token::Tag(tag) => {
                let raw = builder.tag_raw(tag);
                let name = tag.name.as_str();
                if INLINE.contains(&name) && !tag.self_closing {
                    builder.inline(tag, raw);
                } else if INLINE_VOID.contains(&name) || INLINE.contains(&name) {
                    builder.atomic(raw);
                } else {
                    builder.block(Piece::Verbatim(raw));
                }
            }
        }
        i += 1;
    }
    builder.finish(&mut issues);
    Document {
        pieces: builder.pieces,
        tags: builder.tags,
        issues,
    }
}

fn token_raw(token: &Token) -> &str {
    match token {
        Token::Text(text) | Token::Other(text) => text,
        Token::Tag(tag) => &tag.raw,
    }
}

/// Index of the tag closing the element opened at `open`.
fn matching_close(tokens: &[Token], open: usize, name: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (offset, token) in tokens[open..].iter().enumerate() {
        if let Token::Tag(tag) = token {
            if tag.name != name || tag.self_closing {
                continue;
            }
            if tag.closing {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(open + offset);
                }
            } else {
                depth += 1;
            }
        }
    }
    None
}

/// Collects pieces, grouping text and inline markup into runs.
#[derive(Default)]
struct Builder {
    pieces: Vec<Piece>,
    run: Run,
    /// Open inline tags of the current run: (name, item index).
    open: Vec<(String, usize)>,
    tags: Vec<AttributeTag>,
    issues: Vec<HtmlIssue>,
}

impl Builder {
    /// Raw text of `tag`, or a marker when it has attributes to translate.
    fn tag_raw(&mut self, tag: &Tag) -> String {
        let values: Vec<(usize, usize)> = tag
            .attributes
            .iter()
            .filter(|(name, _)| TRANSLATED_ATTRIBUTES.contains(&name.as_str()))
            .filter_map(|(_, value)| *value)
            .filter(|(start, end)| tag.raw[*start..*end].chars().any(char::is_alphabetic))
            .collect();
        if values.is_empty() || tag.is_no_translate() {
            return tag.raw.clone();
        }
        self.tags.push(AttributeTag {
            raw: tag.raw.clone(),
            values,
        });
        tag_marker(self.tags.len() - 1)
    }

    fn text(&mut self, raw: &str) {
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            let (before, after) = rest.split_at(amp);
            self.push_text(before);
            let entity_len = after[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
                .filter(|&len| len > 0 && after[1 + len..].starts_with(';'))
                .map(|len| len + 2);
            match entity_len {
                Some(len) => {
                    let entity = &after[..len];
                    match decode_basic(entity) {
                        Some(decoded) => self.push_text(decoded),
                        None => self.run.items.push(RunItem::Atomic(entity.to_string())),
                    }
                    rest = &after[len..];
                }
                None => {
                    self.push_text("&");
                    rest = &after[1..];
                }
            }
        }
        self.push_text(rest);
    }

    fn push_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(RunItem::Text(last)) = self.run.items.last_mut() {
            last.push_str(text);
        } else {
            self.run.items.push(RunItem::Text(text.to_string()));
        }
    }

    fn atomic(&mut self, raw: String) {
        self.run.items.push(RunItem::Atomic(raw));
    }

    fn inline(&mut self, tag: &Tag, raw: String) {
        if tag.closing {
            match self.open.iter().rposition(|(name, _)| *name == tag.name) {
                Some(position) => {
                    // Tags opened inside this one and never closed stay
                    // where they are as atomic tokens.
                    for (_, index) in self.open.split_off(position + 1) {
                        self.demote(index);
                    }
                    let (_, open_index) = self.open.pop().expect("position is valid");
                    let close_index = self.run.items.len();
                    if let RunItem::Open { close, .. } = &mut self.run.items[open_index] {
                        *close = close_index;
                    }
                    self.run.items.push(RunItem::Close { raw });
                }
                None => self.run.items.push(RunItem::Atomic(raw)),
            }
        } else {
            self.open.push((tag.name.clone(), self.run.items.len()));
            self.run.items.push(RunItem::Open {
                raw,
                close: usize::MAX,
            });
        }
    }

    /// Turns an unclosed opening tag into an atomic token.
    fn demote(&mut self, index: usize) {
        if let RunItem::Open { raw, .. } = &self.run.items[index] {
            self.run.items[index] = RunItem::Atomic(raw.clone());
        }
    }

    fn block(&mut self, piece: Piece) {
        self.flush_run();
        self.pieces.push(piece);
    }

    fn flush_run(&mut self) {
        for (name, index) in std::mem::take(&mut self.open) {
            self.issues.push(HtmlIssue {
                problem: "unbalanced_tag".into(),
                detail: format!("<{name}> is not closed before the end of its block"),
            });
            self.demote(index);
        }
        let run = std::mem::take(&mut self.run);
        if !run.items.is_empty() {
            self.pieces.push(Piece::Run(run));
        }
    }

    fn finish(&mut self, issues: &mut Vec<HtmlIssue>) {
        self.flush_run();
        issues.append(&mut self.issues);
    }
}

/// Decodes the five basic entities, which are re-encoded on output.
fn decode_basic(entity: &str) -> Option<&'static str> {
    Some(match entity {
        "&amp;" => "&",
        "&lt;" => "<",
        "&gt;" => ">",
        "&quot;" => "\"",
        "&#39;" | "&apos;" => "'",
        _ => return None,
    })
}

/// Escapes text for an HTML text node.
pub fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes text for a double- or single-quoted attribute value.
pub fn escape_attribute(text: &str) -> String {
    escape_text(text)
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Decodes the basic entities of an attribute value.
pub fn decode_attribute(value: &str) -> String {
    value
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(document: &Document) -> Vec<&Run> {
        document
            .pieces
            .iter()
            .filter_map(|piece| match piece {
                Piece::Run(run) => Some(run),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn parse_groups_inline_tags_into_runs() {
        let document = parse("<p>Buy the <b>red <i>big</i></b> car</p><ul><li>One</li></ul>");
        assert!(document.issues.is_empty(), "{:?}", document.issues);
        let runs = runs(&document);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].items.len(), 8);
        assert!(matches!(runs[0].items[1], RunItem::Open { close: 6, .. }));
    }

    #[test]
    fn parse_keeps_code_and_no_translate_atomic() {
        let document =
            parse(r#"<p>Run <code>ls -l</code> with <span translate="no">Acme</span>.</p>"#);
        let runs = runs(&document);
        let atomics: Vec<&RunItem> = runs[0]
            .items
            .iter()
            .filter(|item| matches!(item, RunItem::Atomic(_)))
            .collect();
        assert_eq!(atomics.len(), 2);
    }

    #[test]
    fn parse_tolerates_malformed_markup() {
        let document = parse("<p>Red <b>car</p> and <i a='1'");
        let problems: Vec<&str> = document.issues.iter().map(|i| i.problem.as_str()).collect();
        assert!(problems.contains(&"unbalanced_tag"), "{problems:?}");
        assert!(problems.contains(&"unclosed_tag"), "{problems:?}");
    }

    #[test]
    fn parse_marks_alt_and_title_not_href() {
        let document = parse(r#"<a href="/red-car" title="Red car">car</a>"#);
        assert_eq!(document.tags.len(), 1);
        let tag = &document.tags[0];
        assert_eq!(tag.values.len(), 1);
        assert_eq!(&tag.raw[tag.values[0].0..tag.values[0].1], "Red car");
    }
}
