//! Planning a field: parse, normalize casing, mask, split into sentences.

use crate::casing;
use crate::glossary::GlossaryMatcher;
use crate::html::{self, Document, Piece, RunItem};
use crate::lang::{Language, LanguagePair};
use crate::locale::{self, RateTable};
use crate::protect::{self, MaskTable, SpanKind};

use super::{Origin, Unit};

/// Facts about the listing and the run that planning needs.
pub(crate) struct Context<'a> {
    pub sku: &'a str,
    pub pair: &'a LanguagePair,
    pub target: &'a Language,
    pub glossary: &'a GlossaryMatcher,
    pub rates: &'a RateTable,
    /// Title and description, to tell shoes from clothing for sizes.
    pub listing_text: &'a str,
}

/// Translation plan of one field.
#[derive(Debug, Clone)]
pub enum FieldPlan {
    /// The listing is already in the target language: kept as it is.
    Unchanged { source: String },
    /// A human correction of the whole field replaces the translation.
    Corrected {
        source: String,
        text: String,
        similarity: f64,
        pair: LanguagePair,
    },
    /// Plain text: one run.
    Text {
        source: String,
        upper_case: bool,
        run: RunPlan,
    },
    /// HTML: one plan per run piece, and per attribute value of each tag.
    Html {
        source: String,
        document: Document,
        runs: Vec<Option<RunPlan>>,
        attributes: Vec<Vec<RunPlan>>,
    },
}

/// A text run ready for the engine.
#[derive(Debug, Clone, Default)]
pub struct RunPlan {
    pub table: MaskTable,
    /// White space before and after the translated part, kept as is.
    pub lead: String,
    pub trail: String,
    /// Masked, trimmed text.
    pub masked: String,
    /// Byte ranges of sentences in `masked`, with their unit index; `None`
    /// when the sentence has nothing to translate.
    pub sentences: Vec<(usize, usize, Option<usize>)>,
    pub tag_pairs: Vec<TagPair>,
    /// The run is written in HTML, so text is escaped on output.
    pub html: bool,
    /// (mask id, glossary entry index) of glossary and brand masks.
    pub glossary_masks: Vec<(usize, usize)>,
}

/// An inline element around part of a run.
#[derive(Debug, Clone)]
pub struct TagPair {
    pub open: String,
    pub close: String,
    /// Byte range of the content in `RunPlan::masked`.
    pub start: usize,
    pub end: usize,
    /// Unit translating the content alone.
    pub unit: Option<usize>,
    /// Index of the enclosing pair.
    pub parent: Option<usize>,
}

/// Plans one field, adding its segments to `units`.
pub(crate) fn field(text: &str, context: &Context<'_>, units: &mut Vec<Unit>) -> FieldPlan {
    if !html::looks_like_html(text) {
        let upper_case = casing::is_upper_case(text);
        let normalized = if upper_case {
            casing::to_sentence_case(text)
        } else {
            text.to_string()
        };
        let run = run(
            &quoted_items(&normalized),
            context,
            upper_case,
            false,
            units,
        );
        return FieldPlan::Text {
            source: text.to_string(),
            upper_case,
            run,
        };
    }

    let document = html::parse(text);
    let upper_case = casing::is_upper_case(&visible_text(&document));
    let runs = document
        .pieces
        .iter()
        .map(|piece| match piece {
            Piece::Run(items) => Some(run(&items.items, context, upper_case, true, units)),
            Piece::Verbatim(_) => None,
        })
        .collect();
    let attributes = document
        .tags
        .iter()
        .map(|tag| {
            tag.values
                .iter()
                .map(|&(start, end)| {
                    let value = html::decode_attribute(&tag.raw[start..end]);
                    run(&quoted_items(&value), context, false, false, units)
                })
                .collect()
        })
        .collect();
    FieldPlan::Html {
        source: text.to_string(),
        document,
        runs,
        attributes,
    }
}

/// Opening and closing quote marks of the quoted phrases that become
/// inline pairs.
pub(crate) const QUOTES: [(char, char); 4] = [('\'', '\''), ('"', '"'), ('‘', '’'), ('“', '”')];

/// Splits plain text at quoted phrases ("The 'Model 10' lamp"), each
/// becoming an inline pair of its quote marks. Apertium moves quote marks
/// with the words around them ("Men's 'Classic' shirt" came out as "Los
/// hombres es camisa'Clásica'"), while an inline pair is placed around the
/// translation of its content. An opening mark starts a word; its closing
/// mark ends one, and an apostrophe inside a word ("Men's") is neither.
fn quoted_items(text: &str) -> Vec<RunItem> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |index: usize| chars.get(index).map(|&(_, c)| c);
    let mut items = Vec::new();
    let mut cursor = 0;
    let mut index = 0;
    while index < chars.len() {
        let (start, c) = chars[index];
        let opens = QUOTES
            .iter()
            .find(|(open, _)| *open == c)
            .map(|&(_, close)| close);
        let Some(close) = opens.filter(|_| crate::segment::opens_quote(text, start)) else {
            index += 1;
            continue;
        };
        let end = (index + 2..chars.len()).find(|&j| {
            chars[j].1 == close
                && !at(j - 1).is_some_and(char::is_whitespace)
                && !at(j + 1).is_some_and(char::is_alphanumeric)
        });
        let Some(end) = end else {
            index += 1;
            continue;
        };
        let (close_start, _) = chars[end];
        let after = close_start + close.len_utf8();
        if start > cursor {
            items.push(RunItem::Text(text[cursor..start].to_string()));
        }
        let open_index = items.len();
        items.push(RunItem::Open {
            raw: c.to_string(),
            close: open_index + 2,
        });
        items.push(RunItem::Text(
            text[start + c.len_utf8()..close_start].to_string(),
        ));
        items.push(RunItem::Close {
            raw: close.to_string(),
        });
        cursor = after;
        index = end + 1;
    }
    if cursor < text.len() || items.is_empty() {
        items.push(RunItem::Text(text[cursor..].to_string()));
    }
    items
}

fn visible_text(document: &Document) -> String {
    let mut text = String::new();
    for piece in &document.pieces {
        if let Piece::Run(run) = piece {
            for item in &run.items {
                if let RunItem::Text(part) = item {
                    text.push_str(part);
                }
            }
        }
    }
    text
}

/// Masks a run's items and splits it into sentence units.
fn run(
    items: &[RunItem],
    context: &Context<'_>,
    upper_case: bool,
    html: bool,
    units: &mut Vec<Unit>,
) -> RunPlan {
    let mut plan = RunPlan {
        html,
        ..RunPlan::default()
    };
    let mut masked = String::new();
    // Open tags: (item index of the open tag, pair index).
    let mut open: Vec<(usize, usize)> = Vec::new();

    for (index, item) in items.iter().enumerate() {
        match item {
            RunItem::Text(text) => {
                let text = if upper_case && html {
                    casing::to_sentence_case(text)
                } else {
                    text.clone()
                };
                masked.push_str(&mask_text(&text, context, upper_case, html, &mut plan));
            }
            RunItem::Atomic(raw) => {
                masked.push_str(&plan.table.push(SpanKind::Markup, raw, raw));
            }
            RunItem::Open { raw, close } => {
                let close_raw = match items.get(*close) {
                    Some(RunItem::Close { raw }) => raw.clone(),
                    _ => String::new(),
                };
                open.push((index, plan.tag_pairs.len()));
                plan.tag_pairs.push(TagPair {
                    open: raw.clone(),
                    close: close_raw,
                    start: masked.len(),
                    end: masked.len(),
                    unit: None,
                    parent: open.iter().rev().nth(1).map(|(_, pair)| *pair),
                });
            }
            RunItem::Close { .. } => {
                if let Some((_, pair)) = open.pop() {
                    plan.tag_pairs[pair].end = masked.len();
                }
            }
        }
    }

    // Keep outer white space out of the engine's reach.
    let trimmed_start = masked.len() - masked.trim_start().len();
    let trimmed_end = masked.trim_end().len().max(trimmed_start);
    plan.lead = masked[..trimmed_start].to_string();
    plan.trail = masked[trimmed_end..].to_string();
    plan.masked = masked[trimmed_start..trimmed_end].to_string();
    for pair in &mut plan.tag_pairs {
        pair.start = pair
            .start
            .saturating_sub(trimmed_start)
            .min(plan.masked.len());
        pair.end = pair
            .end
            .saturating_sub(trimmed_start)
            .min(plan.masked.len());
    }

    for (start, end) in crate::segment::sentences(&plan.masked) {
        let sentence = &plan.masked[start..end];
        let unit =
            needs_translation(sentence).then(|| push_unit(units, context.pair, sentence, true));
        plan.sentences.push((start, end, unit));
    }
    let whole = (0, plan.masked.len());
    for pair in &mut plan.tag_pairs {
        let content = plan.masked[pair.start..pair.end].trim();
        if (pair.start, pair.end) != whole && needs_translation(content) {
            pair.unit = Some(push_unit(units, context.pair, content, false));
        }
    }
    plan
}

fn push_unit(units: &mut Vec<Unit>, pair: &LanguagePair, text: &str, sentence: bool) -> usize {
    units.push(Unit {
        pair: pair.clone(),
        text: text.to_string(),
        sentence,
        output: None,
        origin: Origin::Unchanged,
        similarity: 0.0,
        back_translation: None,
        lm_score: None,
        lm_baseline: None,
        embeddings: None,
        closed_vocabulary: false,
    });
    units.len() - 1
}

/// Checks whether `text` has a letter outside mask tokens.
pub(crate) fn needs_translation(text: &str) -> bool {
    protect::token_regex()
        .replace_all(text, "")
        .chars()
        .any(char::is_alphabetic)
}

/// Replaces protected spans, glossary terms and locale rewrites by tokens.
fn mask_text(
    text: &str,
    context: &Context<'_>,
    upper_case: bool,
    html: bool,
    plan: &mut RunPlan,
) -> String {
    let mut spans = protect::detect(text, context.sku);
    let glossary = context.glossary.find(text, upper_case);
    let first_glossary = spans.len();
    spans.extend(glossary.iter().map(|(span, _)| span.clone()));
    spans.extend(locale::detect(
        text,
        context.target,
        context.listing_text,
        context.rates,
    ));
    if html {
        for span in &mut spans {
            span.replacement = html::escape_text(&span.replacement);
        }
    }

    // Glossary spans come first on ties, so register them by position.
    let before = plan.table.masks.len();
    let masked = protect::apply(text, &reorder(&spans, first_glossary), &mut plan.table);
    for mask in &plan.table.masks[before..] {
        if matches!(mask.kind, SpanKind::Glossary | SpanKind::Brand) {
            if let Some((_, entry)) = glossary
                .iter()
                .find(|(span, _)| text[span.start..span.end] == mask.source)
            {
                plan.glossary_masks.push((mask.id, *entry));
            }
        }
    }
    masked
}

/// Puts glossary spans before the others so they win ties at one start.
fn reorder(spans: &[protect::Span], first_glossary: usize) -> Vec<protect::Span> {
    let mut ordered: Vec<protect::Span> = spans[first_glossary..].to_vec();
    ordered.extend_from_slice(&spans[..first_glossary]);
    ordered
}
