//! Assembling translated fields: sentences joined, tags placed, masks
//! restored, casing applied, segments scored.

use std::collections::BTreeSet;

use mercator_models::embed::cosine;

use crate::casing;
use crate::catalog::Listing;
use crate::estimator::Evidence;
use crate::glossary::GlossaryMatcher;
use crate::html::{self, Piece};
use crate::lang::Language;
use crate::protect::{self, SpanIssue, SpanKind};
use crate::qe::{self, Signals};

use super::plan::{FieldPlan, RunPlan};
use super::{FieldReport, GlossaryUse, ListingReport, Options, Origin, SegmentReport, Unit};

/// Builds the report and translated listing of one listing.
pub(crate) fn listing(
    source: &Listing,
    fields: Vec<(String, FieldPlan)>,
    units: &[Unit],
    target: &Language,
    glossary: &GlossaryMatcher,
    options: &Options,
) -> ListingReport {
    let mut translated = source.clone();
    translated.source_lang = Some(
        source
            .source_lang
            .clone()
            .unwrap_or_else(|| options.source_lang.clone()),
    );
    translated.bullets.clear();
    let mut reports = Vec::new();
    let mut uses = Vec::new();

    for (name, plan) in fields {
        let field = field(&name, plan, units, target, glossary, options, &mut uses);
        match name.as_str() {
            "title" => translated.title = field.output.clone(),
            "description" => translated.description = field.output.clone(),
            _ if name.starts_with("bullets[") => translated.bullets.push(field.output.clone()),
            _ => {
                let key = name.trim_start_matches("attributes[").trim_end_matches(']');
                translated
                    .attributes
                    .insert(key.to_string(), field.output.clone());
            }
        }
        reports.push(field);
    }

    let score = reports
        .iter()
        .filter(|field| !field.source.trim().is_empty())
        .map(|field| field.score)
        .fold(100.0, f64::min);
    let flags: BTreeSet<String> = reports
        .iter()
        .flat_map(|field| field.flags.iter().cloned())
        .collect();
    ListingReport {
        sku: source.sku.clone(),
        score,
        flags: flags.into_iter().collect(),
        fields: reports,
        glossary: uses,
        translated,
    }
}

/// State shared by the runs of one field.
struct FieldState<'a> {
    name: &'a str,
    units: &'a [Unit],
    target: &'a Language,
    glossary: &'a GlossaryMatcher,
    options: &'a Options,
    segments: Vec<SegmentReport>,
    field_signals: Signals,
    flags: BTreeSet<String>,
    uses: Vec<GlossaryUse>,
}

fn field(
    name: &str,
    plan: FieldPlan,
    units: &[Unit],
    target: &Language,
    glossary: &GlossaryMatcher,
    options: &Options,
    uses: &mut Vec<GlossaryUse>,
) -> FieldReport {
    let mut state = FieldState {
        name,
        units,
        target,
        glossary,
        options,
        segments: Vec::new(),
        field_signals: Signals::default(),
        flags: BTreeSet::new(),
        uses: Vec::new(),
    };

    let (source, output) = match plan {
        FieldPlan::Unchanged { source } => {
            state.flags.insert("same_language".into());
            (source.clone(), source)
        }
        FieldPlan::Corrected {
            source,
            text,
            similarity,
            pair,
        } => {
            // A person wrote it, yet the text checks still apply: a
            // correction in the wrong language or with a changed number is
            // not trusted blindly.
            let check = qe::check_correction(&source, &text, &pair.source, &pair.target);
            state.field_signals = check.signals;
            let fuzzy = 1.0 - similarity;
            state.field_signals.fuzzy_match = fuzzy;
            state.flags.insert(if fuzzy > 0.0 {
                "human_fuzzy".into()
            } else {
                "human".into()
            });
            (source, text)
        }
        FieldPlan::Text {
            source,
            upper_case,
            run,
        } => {
            let mut output = state.run(&run);
            if upper_case {
                output = casing::apply_title_case(&output, target.code);
            }
            (source, output)
        }
        FieldPlan::Html {
            source,
            document,
            runs,
            attributes,
        } => {
            for issue in &document.issues {
                state
                    .flags
                    .insert(format!("malformed_html:{}", issue.problem));
                state.field_signals.tag_problems += 1.0;
            }
            let mut output = String::with_capacity(source.len() * 5 / 4);
            for (piece, run) in document.pieces.iter().zip(&runs) {
                match (piece, run) {
                    (Piece::Verbatim(raw), _) => output.push_str(raw),
                    (Piece::Run(_), Some(run)) => output.push_str(&state.run(run)),
                    (Piece::Run(_), None) => {}
                }
            }
            // Put the tags with translated attributes in place of their markers.
            for (index, (tag, values)) in document.tags.iter().zip(&attributes).enumerate() {
                let mut raw = String::with_capacity(tag.raw.len());
                let mut cursor = 0;
                for (&(start, end), value_run) in tag.values.iter().zip(values) {
                    raw.push_str(&tag.raw[cursor..start]);
                    raw.push_str(&html::escape_attribute(&state.run(value_run)));
                    cursor = end;
                }
                raw.push_str(&tag.raw[cursor..]);
                output = output.replace(&html::tag_marker(index), &raw);
            }
            (source, output)
        }
    };

    let weights = &options.weights;
    let mut total_weight = 0.0;
    let mut weighted = 0.0;
    for segment in &state.segments {
        let weight = segment.source.chars().count().max(1) as f64;
        total_weight += weight;
        weighted += weight * segment.score;
        state.flags.extend(segment.flags.iter().cloned());
    }
    let mut segment_score = if total_weight > 0.0 {
        weighted / total_weight
    } else {
        100.0
    };
    // A lost protected span or a failed segment leaves visibly broken text,
    // so the field scores no higher than that segment, however long the
    // rest of the field is.
    for segment in &state.segments {
        if segment
            .flags
            .iter()
            .any(|flag| flag == "span_problems" || flag == "engine_error")
        {
            segment_score = segment_score.min(segment.score);
        }
    }
    let score = (segment_score - (100.0 - state.field_signals.score(weights))).clamp(0.0, 100.0);
    for flag in state.field_signals.flags() {
        state.flags.insert(flag.to_string());
    }
    uses.append(&mut state.uses);

    FieldReport {
        field: name.to_string(),
        source,
        output,
        score: round1(score),
        flags: state.flags.into_iter().collect(),
        segments: state.segments,
    }
}

impl FieldState<'_> {
    /// Translated text of a run, with tags placed and masks restored.
    fn run(&mut self, run: &RunPlan) -> String {
        let mut joined = String::with_capacity(run.masked.len() * 5 / 4);
        let mut cursor = 0;
        for &(start, end, unit) in &run.sentences {
            joined.push_str(&run.masked[cursor..start]);
            let source = &run.masked[start..end];
            let output = match unit {
                Some(index) => self.sentence(run, source, &self.units[index]),
                None => source.to_string(),
            };
            joined.push_str(&output);
            cursor = end;
        }
        joined.push_str(&run.masked[cursor..]);

        let with_tags = self.place_tags(run, &joined);
        let expected: Vec<usize> = protect::token_ids(&run.masked);
        let (restored, issues) = protect::restore(&with_tags, &run.table, &expected);
        // Lost or repeated spans were reported per sentence; the restore
        // above only repairs the text.
        let _ = issues;

        for &(mask_id, entry_index) in &run.glossary_masks {
            if let Some(mask) = run.table.get(mask_id) {
                let entry = self.glossary.entry(entry_index);
                self.uses.push(GlossaryUse {
                    term: entry.term.clone(),
                    matched: mask.source.clone(),
                    written: mask.replacement.clone(),
                    field: self.name.to_string(),
                    enforced: restored.contains(&mask.replacement),
                });
            }
        }
        format!("{}{}{}", run.lead, restored, run.trail)
    }

    /// Output of one sentence (masked), with its quality estimate recorded.
    fn sentence(&mut self, run: &RunPlan, source: &str, unit: &Unit) -> String {
        let (output, unknown_words, error) = match &unit.output {
            Some(Ok(output)) => (output.text.clone(), output.unknown_words.len(), None),
            Some(Err(message)) => (source.to_string(), 0, Some(message.clone())),
            None => (
                source.to_string(),
                0,
                Some("no translation produced".to_string()),
            ),
        };

        let mut signals = qe::text_signals(&qe::Segment {
            source,
            output: &output,
            source_lang: &unit.pair.source,
            target_lang: &unit.pair.target,
            expected_length_ratio: self.target.length_ratio_from_english,
            identify_language: !unit.closed_vocabulary,
        });
        let source_ids = protect::token_ids(source);
        let (_, issues) = protect::restore(&output, &run.table, &source_ids);
        let mut glossary_violations = 0.0;
        for issue in &issues {
            if let SpanIssue::Lost {
                kind: SpanKind::Glossary | SpanKind::Brand,
                ..
            } = issue
            {
                glossary_violations += 1.0;
            }
        }
        signals.span_problems = issues.len() as f64;
        signals.glossary_violations = glossary_violations;
        let words = qe::strip_tokens(&output).split_whitespace().count().max(1);
        signals.unknown_words = unknown_words as f64 / words as f64;
        if unit.origin == Origin::MemoryFuzzy {
            signals.fuzzy_match = 1.0 - unit.similarity;
        }
        if error.is_some() {
            signals = Signals {
                engine_error: 1.0,
                ..Signals::default()
            };
        }
        if let Some(back) = &unit.back_translation {
            signals.round_trip = qe::round_trip_signal(source, back);
        }
        if let (Some(Ok(logprobs)), None) = (&unit.lm_score, &error) {
            qe::set_lm_signals(&mut signals, logprobs);
        }
        if let (Some(Ok((source_vector, output_vector))), None) = (&unit.embeddings, &error) {
            signals.meaning_drift =
                qe::meaning_drift(f64::from(cosine(source_vector, output_vector)));
        }

        let mut score = signals.score(&self.options.weights);
        let mut estimator_skipped = false;
        if let (Some(estimator), None) = (&self.options.estimator, &error) {
            let clean = |text: &str| {
                qe::strip_tokens(text)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let (plain_source, plain_output) = (clean(source), clean(&output));
            let pair = format!("{}-{}", unit.pair.source, unit.pair.target);
            let evidence = Evidence {
                signals: &signals,
                source: &plain_source,
                translation: &plain_output,
                pair: &pair,
                logprobs: match &unit.lm_score {
                    Some(Ok(logprobs)) => Some(logprobs.as_slice()),
                    _ => None,
                },
                baseline: unit.lm_baseline.as_deref(),
                vectors: match &unit.embeddings {
                    Some(Ok((s, t))) => Some((s.as_slice(), t.as_slice())),
                    _ => None,
                },
            };
            match estimator.inputs.features(&evidence) {
                Ok(features) => score = estimator.score(&features, &signals, &self.options.weights),
                Err(reason) => {
                    tracing::debug!(reason = %reason, "estimator skipped a segment");
                    estimator_skipped = true;
                }
            }
        }
        let mut flags: Vec<String> = signals.flags().into_iter().map(str::to_string).collect();
        for issue in &issues {
            flags.push(match issue {
                SpanIssue::Lost { kind, .. } => format!("lost_{}", kind_name(*kind)),
                SpanIssue::Repeated { kind, .. } => format!("repeated_{}", kind_name(*kind)),
                SpanIssue::Unexpected { .. } => "unexpected_placeholder".to_string(),
            });
        }
        if matches!(unit.lm_score, Some(Err(_)))
            || matches!(unit.embeddings, Some(Err(_)))
            || estimator_skipped
        {
            flags.push("qe_model_skipped".to_string());
        }
        flags.dedup();
        self.segments.push(SegmentReport {
            source: unmask(source, run),
            output: unmask(&output, run),
            origin: unit.origin,
            score: round1(score),
            flags,
            signals,
            error,
        });
        output
    }

    /// Inserts the inline tag pairs of `run` into its translation.
    fn place_tags(&mut self, run: &RunPlan, translated: &str) -> String {
        if run.tag_pairs.is_empty() {
            return if run.html {
                html::escape_text(translated)
            } else {
                translated.to_string()
            };
        }
        let lower = translated.to_lowercase();
        let searchable = lower.len() == translated.len();
        let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(run.tag_pairs.len());
        // Pairs left out of the output.
        let mut dropped: Vec<usize> = Vec::new();

        for pair in &run.tag_pairs {
            let (floor, ceiling) = match pair.parent {
                Some(parent) => ranges[parent],
                None => (0, translated.len()),
            };
            let whole = pair.start == 0 && pair.end == run.masked.len();
            let content = run.masked[pair.start..pair.end].trim();
            let found = if whole {
                Some((0, translated.len()))
            } else if content.is_empty() {
                let at = proportional(pair.start, run.masked.len(), translated, floor, ceiling);
                Some((at, at))
            } else {
                let needle = match pair.unit.and_then(|u| self.units[u].output.as_ref()) {
                    Some(Ok(output)) => output.text.trim().to_string(),
                    _ => content.to_string(),
                };
                let haystack = if searchable { &lower } else { translated };
                let needle_cased = if searchable {
                    needle.to_lowercase()
                } else {
                    needle.clone()
                };
                find_words(haystack, &needle_cased, floor, ceiling)
                    // In the sentence the words may agree with others:
                    // "cómodo" alone, "una silla cómoda" in context.
                    .or_else(|| find_by_stems(haystack, &needle_cased, floor, ceiling))
            };
            let is_quote = super::plan::QUOTES
                .iter()
                .any(|(open, _)| pair.open == open.to_string());
            let range = match found {
                Some(range) => range,
                // Quote marks at a guessed place read as a typo, so a quoted
                // phrase the translation lost is written without them.
                None if is_quote => {
                    self.field_signals.tag_problems += 0.25;
                    self.flags.insert("quote_dropped".to_string());
                    dropped.push(ranges.len());
                    (floor, floor)
                }
                None => {
                    self.field_signals.tag_problems += 0.25;
                    self.flags.insert("tag_moved".to_string());
                    let start =
                        proportional(pair.start, run.masked.len(), translated, floor, ceiling);
                    let end = proportional(pair.end, run.masked.len(), translated, floor, ceiling);
                    // Content that had words keeps at least one word.
                    (start, end.max(word_end(translated, start, ceiling)))
                }
            };
            ranges.push((range.0.clamp(floor, ceiling), range.1.clamp(floor, ceiling)));
        }

        // At one position: closing tags first (inner first), then opening
        // tags (outer first). An element with empty content is written as
        // its opening and closing tag together, among the openings.
        let depth = |mut index: usize| {
            let mut depth = 0;
            while let Some(parent) = run.tag_pairs[index].parent {
                depth += 1;
                index = parent;
            }
            depth
        };
        let mut insertions: Vec<(usize, i64, String)> = Vec::new();
        for (index, (pair, &(start, end))) in run.tag_pairs.iter().zip(&ranges).enumerate() {
            if dropped.contains(&index) {
                continue;
            }
            let depth = depth(index) as i64;
            let order = depth * 1_000 + index as i64;
            if start == end {
                insertions.push((
                    start,
                    1_000_000 + order,
                    format!("{}{}", pair.open, pair.close),
                ));
            } else {
                insertions.push((start, 1_000_000 + order, pair.open.clone()));
                insertions.push((end, -order, pair.close.clone()));
            }
        }
        insertions.sort_by_key(|(position, order, _)| (*position, *order));

        let mut out = String::with_capacity(translated.len() + 64);
        let mut cursor = 0;
        for (position, _, tag) in insertions {
            let text = &translated[cursor..position];
            out.push_str(&if run.html {
                html::escape_text(text)
            } else {
                text.to_string()
            });
            out.push_str(&tag);
            cursor = position;
        }
        let rest = &translated[cursor..];
        out.push_str(&if run.html {
            html::escape_text(rest)
        } else {
            rest.to_string()
        });
        out
    }
}

/// Finds `needle` in `haystack[floor..ceiling]` as whole words: "rojo"
/// is not found inside "rojos", nor "e" inside "Letra".
fn find_words(
    haystack: &str,
    needle: &str,
    floor: usize,
    ceiling: usize,
) -> Option<(usize, usize)> {
    if needle.is_empty() {
        return None;
    }
    let word_char = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let starts_word = word_char(needle.chars().next());
    let ends_word = word_char(needle.chars().next_back());
    haystack[floor..ceiling]
        .match_indices(needle)
        .map(|(offset, _)| (floor + offset, floor + offset + needle.len()))
        .find(|&(start, end)| {
            let before = haystack[..start].chars().next_back();
            let after = haystack[end..].chars().next();
            let glued_before = starts_word && word_char(before);
            let glued_after = ends_word && word_char(after);
            !glued_before && !glued_after
        })
}

/// Finds the words of `needle` in `haystack[floor..ceiling]` by their
/// stems, so that another ending still matches: the first word's stem, and
/// the last word's within a few words after it. Returns the byte range from
/// the first word's start to the last word's end.
fn find_by_stems(
    haystack: &str,
    needle: &str,
    floor: usize,
    ceiling: usize,
) -> Option<(usize, usize)> {
    let stem = |word: &str| -> String {
        let chars: Vec<char> = word.chars().collect();
        let cut = match chars.len() {
            0..=3 => 0,
            4 => 1,
            _ => 2,
        };
        chars[..chars.len() - cut].iter().collect()
    };

    let stems: Vec<String> = needle
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(stem)
        .collect();
    let (first, last) = (stems.first()?, stems.last()?);
    if first.chars().count() < 3 || last.chars().count() < 3 {
        return None;
    }

    // The words of the haystack, with their byte ranges.
    let mut words: Vec<(usize, usize, &str)> = Vec::new();
    let mut start = None;
    for (offset, c) in haystack[floor..ceiling].char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(offset),
            (false, Some(from)) => {
                words.push((
                    floor + from,
                    floor + offset,
                    &haystack[floor + from..floor + offset],
                ));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        words.push((floor + from, ceiling, &haystack[floor + from..ceiling]));
    }

    // A stem matches a word that starts with it and adds a short ending.
    let matches = |word: &str, stem: &str| {
        word.starts_with(stem) && word.chars().count() <= stem.chars().count() + 3
    };
    for (index, &(word_start, word_end, word)) in words.iter().enumerate() {
        if !matches(word, first) {
            continue;
        }
        if stems.len() == 1 {
            return Some((word_start, word_end));
        }
        let window = words.iter().skip(index + 1).take(stems.len() + 1);
        if let Some(&(_, end, _)) = window.into_iter().find(|(_, _, w)| matches(w, last)) {
            return Some((word_start, end));
        }
    }
    None
}

/// Position in `translated` matching `position` of `length`, moved to the
/// nearest word boundary and kept within `floor..=ceiling`.
fn proportional(
    position: usize,
    length: usize,
    translated: &str,
    floor: usize,
    ceiling: usize,
) -> usize {
    let share = position as f64 / length.max(1) as f64;
    let mut at = floor + ((ceiling - floor) as f64 * share) as usize;
    while at < ceiling && !translated.is_char_boundary(at) {
        at += 1;
    }
    while at > floor
        && at < ceiling
        && !translated[..at].ends_with(' ')
        && !translated[at..].starts_with(' ')
    {
        at -= 1;
        while at > floor && !translated.is_char_boundary(at) {
            at -= 1;
        }
    }
    at
}

/// End of the word starting at or after `start`, at most `ceiling`.
fn word_end(text: &str, start: usize, ceiling: usize) -> usize {
    let rest = &text[start..ceiling];
    let word_start = rest.len() - rest.trim_start().len();
    let word_length = rest[word_start..]
        .find(' ')
        .unwrap_or(rest.len() - word_start);
    start + word_start + word_length
}

/// Masked text with each token written back as its source text.
fn unmask(text: &str, run: &RunPlan) -> String {
    protect::token_regex()
        .replace_all(text, |caps: &regex::Captures<'_>| {
            caps[1]
                .parse()
                .ok()
                .and_then(|id| run.table.get(id))
                .map_or_else(|| caps[0].to_string(), |mask| mask.replacement.clone())
        })
        .into_owned()
}

fn kind_name(kind: SpanKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}
