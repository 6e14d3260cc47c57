//! Quality estimation: a score from 0 to 100 per segment, with reasons.
//!
//! Each check yields a signal (0 when clean); the score is 100 minus the
//! weighted signals, clamped to 0..=100. The text checks find gross
//! failures (untranslated text, lost spans, broken tags, unknown words);
//! on human MQM scores of customer-support translations (WMT 2022 chat
//! task) their rank correlation stays below 0.3, because most human
//! errors there are mistranslations in fluent text. With a scoring model
//! (`--qe-model`, any GGUF model), a language model reads each output
//! after its source and its surprise becomes two more signals. With a
//! multilingual embedding model, the distance between the meanings of
//! source and output becomes a third. The `translate_bench` example
//! measures both against the same MQM scores.

use std::collections::HashMap;
use std::sync::OnceLock;

use lingua::{LanguageDetector, LanguageDetectorBuilder};
use regex::Regex;
use serde::Serialize;

use crate::metrics;
use crate::protect::token_regex;

/// Measurable problems of one translated segment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Signals {
    /// 1 when the output is not in the target language at all: a copy of
    /// the source, text identified as another language, or letters of
    /// another script (Cyrillic or Chinese for a Latin-script target).
    pub untranslated: f64,
    /// How unlikely the target language is next to the most likely one,
    /// from language identification: 1 - 2 × target / top confidence,
    /// within 0..1. It is 0 while the target has half the top confidence,
    /// which close languages share on short texts. Of some 5,000 human
    /// translations from Tatoeba into Spanish, German, French, Italian and
    /// Portuguese (two words or more), 2 get above 0.5. Of 1,000 English
    /// sentences read as Spanish, 955 do.
    pub wrong_language: f64,
    /// Source numbers missing from the output plus numbers it adds, so a
    /// changed number counts 2, however many others are right.
    pub number_mismatch: f64,
    /// Protected spans lost, repeated or invented.
    pub span_problems: f64,
    /// |ln(actual length ratio / expected ratio)|, beyond a tolerance.
    pub length_deviation: f64,
    /// Share of output words that repeat a word n-gram the source does not repeat.
    pub repetition: f64,
    /// Question and exclamation marks and final punctuation that differ
    /// between source and output, up to 1.
    pub punctuation_mismatch: f64,
    /// ln(source words / 5) for sentences longer than five words: longer
    /// sentences carry more errors, which is the strongest single
    /// predictor of human error scores in the calibration data.
    pub source_complexity: f64,
    /// Share of words the engine marked unknown.
    pub unknown_words: f64,
    /// 1 - chrF/100 between the source and the back-translation.
    pub round_trip: f64,
    /// Tags that could not be placed and were moved or repaired.
    pub tag_problems: f64,
    /// Glossary terms whose translation is missing from the output.
    pub glossary_violations: f64,
    /// 1 - similarity of a fuzzy translation-memory match.
    pub fuzzy_match: f64,
    /// 1 when the engine failed on the segment.
    pub engine_error: f64,
    /// Surprise of a language model at the output after its source: the
    /// output's total negative log-probability beyond the first 20 nats,
    /// in units of 10 nats. Only with a scoring model (`--qe-model`).
    pub lm_surprise: f64,
    /// The least likely output token under the same model, in nats beyond
    /// 4, over 4: one badly wrong word in an otherwise fluent output.
    pub lm_worst_token: f64,
    /// How far the output's meaning is from the source's under a
    /// multilingual embedding model: (0.95 - cosine) / 0.1, from 0. Only
    /// with an embedding model (`--qe-model embeddinggemma-300m`).
    pub meaning_drift: f64,
    /// Characters of the source text without mask tokens: the longer the
    /// text, the more reliable its length ratio. Not a signal.
    #[serde(skip)]
    pub source_chars: usize,
}

/// Weight of each signal, in score points per unit of signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Weights {
    pub untranslated: f64,
    pub wrong_language: f64,
    pub number_mismatch: f64,
    pub span_problems: f64,
    pub length_deviation: f64,
    pub repetition: f64,
    pub punctuation_mismatch: f64,
    pub source_complexity: f64,
    pub unknown_words: f64,
    pub round_trip: f64,
    pub tag_problems: f64,
    pub glossary_violations: f64,
    pub fuzzy_match: f64,
    pub engine_error: f64,
    pub lm_surprise: f64,
    pub lm_worst_token: f64,
    pub meaning_drift: f64,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            untranslated: 45.0,
            wrong_language: 20.0,
            number_mismatch: 32.0,
            span_problems: 35.0,
            length_deviation: 30.0,
            repetition: 40.0,
            punctuation_mismatch: 10.0,
            source_complexity: 5.0,
            unknown_words: 60.0,
            round_trip: 40.0,
            tag_problems: 20.0,
            glossary_violations: 35.0,
            fuzzy_match: 100.0,
            engine_error: 100.0,
            lm_surprise: LM_SURPRISE_WEIGHT,
            lm_worst_token: LM_WORST_TOKEN_WEIGHT,
            meaning_drift: MEANING_DRIFT_WEIGHT,
        }
    }
}

impl Signals {
    /// Signal values in the order of [`Signals::NAMES`].
    pub fn values(&self) -> [f64; 17] {
        [
            self.untranslated,
            self.wrong_language,
            self.number_mismatch,
            self.span_problems,
            self.length_deviation,
            self.repetition,
            self.punctuation_mismatch,
            self.source_complexity,
            self.unknown_words,
            self.round_trip,
            self.tag_problems,
            self.glossary_violations,
            self.fuzzy_match,
            self.engine_error,
            self.lm_surprise,
            self.lm_worst_token,
            self.meaning_drift,
        ]
    }

    pub const NAMES: [&'static str; 17] = [
        "untranslated",
        "wrong_language",
        "number_mismatch",
        "span_problems",
        "length_deviation",
        "repetition",
        "punctuation_mismatch",
        "source_complexity",
        "unknown_words",
        "round_trip",
        "tag_problems",
        "glossary_violations",
        "fuzzy_match",
        "engine_error",
        "lm_surprise",
        "lm_worst_token",
        "meaning_drift",
    ];

    /// Score from 0 (unusable) to 100 (no problem found).
    pub fn score(&self, weights: &Weights) -> f64 {
        let penalty: f64 = self
            .values()
            .iter()
            .zip(weights.values())
            .map(|(signal, weight)| signal * weight)
            .sum();
        (100.0 - penalty).min(self.cap(weights)).clamp(0.0, 100.0)
    }

    /// Returns the highest score that gross failures leave, whatever else
    /// the segment gets right: a text cut short or padded, changed
    /// numbers, and an output that loops.
    ///
    /// A length counts as gross when it is some 2.5 times off the
    /// expected one, or 1.65 times for a source of 40 characters or more,
    /// whose ratio varies less. Of the WMT 2022 chat translations with
    /// such sources, 15 in 4,100 are that far off, and 13 of those carry
    /// human-marked errors. The cap then falls below the review threshold.
    pub fn cap(&self, weights: &Weights) -> f64 {
        let mut cap: f64 = 100.0;
        let severe_length = self.length_deviation > SEVERE_LENGTH_DEVIATION
            || (self.source_chars >= LONG_SOURCE_CHARS
                && self.length_deviation > SEVERE_LONG_LENGTH_DEVIATION);
        if severe_length {
            cap = cap.min(100.0 - weights.length_deviation * (1.0 + self.length_deviation));
        }
        if self.number_mismatch > 0.0 {
            cap = cap.min(100.0 - weights.number_mismatch * self.number_mismatch);
        }
        if self.repetition >= SEVERE_REPETITION {
            cap = cap.min(100.0 - weights.repetition * (1.0 + self.repetition));
        }
        cap
    }

    /// Names of the signals that indicate a problem, for `qe_flags`:
    /// above 0.05, or above 0.5 for the language-identification confidence,
    /// which is rarely certain on short titles, and for the least likely
    /// token. Source complexity and language-model surprise grow with
    /// length: they are risks, not problems, and never flags.
    pub fn flags(&self) -> Vec<&'static str> {
        Signals::NAMES
            .iter()
            .zip(self.values())
            .filter(|(name, _)| !matches!(**name, "source_complexity" | "lm_surprise"))
            .filter(|(name, value)| {
                let threshold = match **name {
                    "wrong_language" | "lm_worst_token" => 0.5,
                    // A cosine below 0.75: 5% of a calibration sample, and
                    // 64% of those have human-marked errors (37% of the rest).
                    "meaning_drift" => MEANING_DRIFT_FLAG,
                    _ => 0.05,
                };
                *value > threshold
            })
            .map(|(name, _)| *name)
            .collect()
    }
}

impl Weights {
    pub fn values(&self) -> [f64; 17] {
        [
            self.untranslated,
            self.wrong_language,
            self.number_mismatch,
            self.span_problems,
            self.length_deviation,
            self.repetition,
            self.punctuation_mismatch,
            self.source_complexity,
            self.unknown_words,
            self.round_trip,
            self.tag_problems,
            self.glossary_violations,
            self.fuzzy_match,
            self.engine_error,
            self.lm_surprise,
            self.lm_worst_token,
            self.meaning_drift,
        ]
    }
}

/// Penalty per 10 nats of language-model surprise. Both weights and the 20
/// free nats were tuned with Gemma 3 270M on half of the WMT 2022 chat MQM data.
pub const LM_SURPRISE_WEIGHT: f64 = 15.0;
/// Penalty per unit of [`Signals::lm_worst_token`].
pub const LM_WORST_TOKEN_WEIGHT: f64 = 10.0;
/// Surprise, in nats, that a sentence of ordinary length costs nothing.
const LM_FREE_NATS: f64 = 20.0;

/// Penalty per unit of [`Signals::meaning_drift`] (0.1 of cosine), fitted
/// with the language-model signals on half of the WMT 2022 chat MQM data.
pub const MEANING_DRIFT_WEIGHT: f64 = 11.0;
/// `meaning_drift` above which a segment is flagged (cosine below 0.75).
const MEANING_DRIFT_FLAG: f64 = 2.0;

/// Converts the cosine of the source's and the output's multilingual
/// embeddings into [`Signals::meaning_drift`].
pub fn meaning_drift(cosine: f64) -> f64 {
    ((0.95 - cosine) / 0.1).max(0.0)
}

/// Sets the language-model signals from the log-probabilities of the
/// output's tokens.
pub fn set_lm_signals(signals: &mut Signals, logprobs: &[f32]) {
    let total: f64 = logprobs.iter().map(|&lp| -f64::from(lp)).sum();
    let worst = logprobs
        .iter()
        .map(|&lp| -f64::from(lp))
        .fold(0.0, f64::max);
    signals.lm_surprise = (total - LM_FREE_NATS).max(0.0) / 10.0;
    signals.lm_worst_token = ((worst - 4.0) / 4.0).max(0.0);
}

/// Builds the text a scoring model reads before a translation, and the
/// translation as it continues that text. Mask tokens are left out.
pub fn lm_prompt(
    source: &str,
    source_lang: &str,
    output: &str,
    target_lang: &str,
) -> (String, String) {
    let name = |code: &str| {
        crate::lang::Language::lookup(code).map_or_else(|| code.to_string(), |l| l.name.to_string())
    };
    let clean = |text: &str| {
        strip_tokens(text)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    (
        format!(
            "{}: {}\n{}:",
            name(source_lang),
            clean(source),
            name(target_lang)
        ),
        format!(" {}", clean(output)),
    )
}

/// Builds the prompt of the language model's reading of a translation
/// without its source: the target language's name alone ("Spanish:"),
/// followed by the continuation of [`lm_prompt`].
pub fn lm_baseline_prompt(target_lang: &str) -> String {
    let name = crate::lang::Language::lookup(target_lang)
        .map_or_else(|| target_lang.to_string(), |l| l.name.to_string());
    format!("{name}:")
}

/// Builds the language detector once, with the languages the crate enables.
fn detector() -> &'static LanguageDetector {
    static DETECTOR: OnceLock<LanguageDetector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        LanguageDetectorBuilder::from_languages(&[
            lingua::Language::English,
            lingua::Language::Spanish,
            lingua::Language::German,
            lingua::Language::French,
            lingua::Language::Italian,
            lingua::Language::Portuguese,
            lingua::Language::Catalan,
        ])
        .build()
    })
}

fn lingua_language(code: &str) -> Option<lingua::Language> {
    Some(match code {
        "en" => lingua::Language::English,
        "es" => lingua::Language::Spanish,
        "de" => lingua::Language::German,
        "fr" => lingua::Language::French,
        "it" => lingua::Language::Italian,
        "pt" => lingua::Language::Portuguese,
        "ca" => lingua::Language::Catalan,
        _ => return None,
    })
}

/// `length_deviation` from which the length is a gross failure: a ratio
/// about 2.5 times off the expected one. Of WMT 2022 chat translations,
/// under 1% reach it.
const SEVERE_LENGTH_DEVIATION: f64 = 0.5;

/// Share of repeated word pairs from which an output counts as looping
/// ("versandt versandt versandt …"), a failure human scores of fluent
/// translations rarely show.
const SEVERE_REPETITION: f64 = 0.3;

/// Source length from which the length ratio varies little.
const LONG_SOURCE_CHARS: usize = 40;

/// `length_deviation` from which the length of a translation of a long
/// source is a gross failure: a ratio about 1.65 times off.
const SEVERE_LONG_LENGTH_DEVIATION: f64 = 0.1;

/// `length_deviation` of an empty output for a source with words: enough
/// to put it far below the review threshold.
const EMPTY_OUTPUT_DEVIATION: f64 = 3.0;

/// Inputs of the text checks of one segment.
pub struct Segment<'a> {
    /// Source text; mask tokens are ignored.
    pub source: &'a str,
    /// Output text; mask tokens are ignored.
    pub output: &'a str,
    pub source_lang: &'a str,
    pub target_lang: &'a str,
    /// Expected output/source length ratio.
    pub expected_length_ratio: f64,
    /// Whether to identify the output's language (`wrong_language`, and
    /// `untranslated` for text still in the source language). Off for the
    /// output of a closed-vocabulary engine, whose unknown words already
    /// list the words that stayed in the source language.
    pub identify_language: bool,
}

/// Computes the text-only signals: language, numbers, length, repetition.
pub fn text_signals(segment: &Segment<'_>) -> Signals {
    let source = strip_tokens(segment.source);
    let output = strip_tokens(segment.output);
    let mut signals = Signals::default();

    let source_words = words(&source);
    let output_words = words(&output);
    let copy = normalize(&source) == normalize(&output);
    // A single word of five letters or more is read too: "Holzstuhl" for a
    // Spanish target reads 1.00 German. Only a clear verdict counts there,
    // which one in 300 correct words gets (mostly loanwords).
    let single_word = output_words.len() == 1 && !copy && output_words[0].chars().count() >= 5;
    // Technical strings ("image/jpeg", "v2.1", "#PRS_ORG#") are copied
    // as they are, so only plain words make a copy untranslated.
    let plain = plain_words(&source);
    if copy
        && (plain >= 3 && !is_model_name(&output) || plain == 2 && !is_name(&output))
        && !reads_as(&source, segment.target_lang)
    {
        signals.untranslated = 1.0;
    } else if copy && is_model_name(&output) {
        // A model name kept as it is reads as no language in particular.
        // Other names still go through language identification: on the WMT
        // 2022 chat data, most two-word copies in title case were
        // untranslated text.
    } else if crate::lang::Language::lookup(segment.target_lang).is_some()
        && foreign_script(&source, &output)
    {
        signals.untranslated = 1.0;
        signals.wrong_language = 1.0;
    } else if (output_words.len() >= 2 || single_word) && segment.identify_language {
        if let Some(target_lang) = lingua_language(segment.target_lang) {
            // One pass gives the confidence of every language. Close
            // languages share the confidence on short texts ("Bolso azul con
            // cremallera" reads 0.35 Spanish, 0.30 Catalan), so the target
            // is measured against the most likely language: from half of
            // its confidence down, the output reads as another language.
            let confidences = detector().compute_language_confidence_values(&output);
            let (mut target, mut top) = (0.0, 0.0f64);
            for (language, value) in confidences {
                if language == target_lang {
                    target = value;
                }
                top = top.max(value);
            }
            if top > 0.0 {
                let wrong = (1.0 - 2.0 * target / top).clamp(0.0, 1.0);
                // Clearly another language: the source's, or a third one.
                let clear = wrong >= 0.8 && top >= 0.5;
                if clear {
                    signals.untranslated = 1.0;
                }
                if clear || !single_word {
                    signals.wrong_language = wrong;
                }
            }
        }
    }

    signals.number_mismatch =
        number_mismatch(&source, &output, segment.source_lang, segment.target_lang);

    (signals.length_deviation, signals.source_chars) = length_deviation(
        segment.source,
        segment.output,
        segment.expected_length_ratio,
    );
    signals.repetition = repetition(&source_words, &output_words);
    signals.punctuation_mismatch = punctuation_mismatch(&source, &output);
    signals.source_complexity = (source_words.len() as f64 / 5.0).ln().max(0.0);
    signals
}

/// Characters from which the translation of a source under 10
/// characters is checked for length: an acronym spelled out ("Se ruega
/// confirmación de asistencia" for "RSVP") stays below it.
const SHORT_SOURCE_LIMIT: usize = 40;

/// Characters a mask token counts for in the length ratio.
const TOKEN_CHARS: usize = 5;

/// Counts the visible characters: runs of white space count as one
/// space, a run of punctuation ("-----", "_._.") as one mark, and
/// characters that take no room (zero-width spaces, direction marks, soft
/// hyphens, combining marks) not at all. Leading and trailing space does
/// not count.
fn visible_chars(text: &str) -> usize {
    let takes_room = |c: &char| {
        !matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{0300}'..='\u{036F}' | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
            | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}')
    };
    let mut count = 0;
    // A word of punctuation alone (". . .", "- - -") is padding.
    let words = text
        .split_whitespace()
        .filter(|word| word.chars().any(char::is_alphanumeric));
    for (index, word) in words.enumerate() {
        let mut previous = None;
        for c in word.chars().filter(takes_room) {
            if c.is_alphanumeric() || previous.is_none_or(char::is_alphanumeric) {
                count += 1;
            }
            previous = Some(c);
        }
        count += usize::from(index > 0);
    }
    count
}

/// Counts the words of `text` made of letters alone (with inner hyphens
/// and apostrophes): "Type: image/jpeg" has one, "Red T-shirt" two.
fn plain_words(text: &str) -> usize {
    text.split_whitespace()
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|word| {
            word.chars().next().is_some_and(char::is_alphabetic)
                && word
                    .chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '’'))
        })
        .count()
}

/// Measures how far the output's length is from the expected one:
/// |ln(actual ratio / expected ratio)| beyond a factor of 1.5, and the
/// source's visible characters.
fn length_deviation(source_text: &str, output_text: &str, expected_ratio: f64) -> (f64, usize) {
    let source = strip_tokens(source_text);
    let output = strip_tokens(output_text);
    let mut deviation = 0.0;
    // A mask token stands for a span both sides share, such as a
    // placeholder: it counts as a short word, so that the text around it
    // alone does not set the ratio.
    let tokens = |text: &str| token_regex().find_iter(text).count() * TOKEN_CHARS;
    let source_chars = visible_chars(&source) + tokens(source_text);
    let output_chars = visible_chars(&output) + tokens(output_text);
    // A source under 10 characters ("Red mug", "BOGO") may take a few
    // words more in the target, but not a sentence of claims it does not
    // make.
    if (source_chars >= 10 || output_chars >= SHORT_SOURCE_LIMIT)
        && source_chars > 0
        && output_chars > 0
    {
        let ratio = output_chars as f64 / source_chars as f64;
        // Ratios within a factor of 1.5 of the expected one are normal.
        deviation = ((ratio / expected_ratio).ln().abs() - 0.4).max(0.0);
    } else if source.chars().any(char::is_alphanumeric) && output_chars == 0 {
        // Nothing came out for a real text: all of it is missing.
        deviation = EMPTY_OUTPUT_DEVIATION;
    }

    (deviation, source_chars)
}

/// Counts the source's words that come back unchanged in the output: the
/// lower-case ones, then the others. A lower-case word kept as it is
/// ("now" in "Tap Repair now") is mostly left untranslated. A capitalized
/// one is as often a name as a label left in English ("Tap Sign Out").
/// Placeholders ("#NAME#", "{name}"), e-mail addresses and identifiers
/// are not words.
pub fn copied_words(source: &str, output: &str) -> (usize, usize) {
    let kept: std::collections::HashSet<&str> = letter_words(output).collect();
    letter_words(source)
        .filter(|word| kept.contains(word))
        .fold((0, 0), |(lower, other), word| {
            if word.chars().all(|c| !c.is_uppercase()) {
                (lower + 1, other)
            } else {
                (lower, other + 1)
            }
        })
}

/// Words of two letters or more, outside placeholders and identifiers.
fn letter_words(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
        .filter(|token| !token.contains(['#', '@', '_', '{', '}', '⟦', '⟧']))
        .flat_map(|token| {
            token.split(|c: char| !(c.is_alphabetic() || matches!(c, '-' | '\'' | '’')))
        })
        .map(|word| word.trim_matches(|c: char| !c.is_alphabetic()))
        .filter(|word| word.chars().filter(|c| c.is_alphabetic()).count() >= 2)
}

/// Tells whether `text` reads clearly as the language `code`: a copy of a
/// source already written in the target language ("Type: image/jpeg" in
/// a German chat translated to English) is a correct translation.
fn reads_as(text: &str, code: &str) -> bool {
    let Some(language) = lingua_language(code) else {
        return false;
    };
    let confidences = detector().compute_language_confidence_values(text);
    confidences
        .first()
        .is_some_and(|(top, value)| *top == language && *value >= 0.5)
}

/// Tells whether every word of `text` starts with a capital, contains a
/// capital inside ("iPhone", "eBay") or contains a digit, as names and
/// model names do ("Nike Air Max 90"): a copy of one may be right, in any
/// language.
fn is_name(text: &str) -> bool {
    text.split_whitespace().all(|word| {
        word.chars().any(|c| c.is_ascii_digit() || c.is_uppercase())
            || word.chars().all(|c| !c.is_alphabetic())
    })
}

/// Tells whether `text` is a product's model name: a name ([`is_name`])
/// of three plain words at most, with a code of letters and digits or a
/// capital after a small letter in a word ("Samsung Galaxy S24 Ultra",
/// "iPhone 15 Pro Max"). A title in title case ("Coffee Mug 2") has
/// neither, and a longer one names the product too ("iPhone 15 Pro Max
/// Leather Case").
///
/// NOTE: brand names without a code ("Samsung Galaxy Buds") fail this
/// test, so a copy of one still counts as untranslated.
fn is_model_name(text: &str) -> bool {
    let camel = |word: &str| {
        let chars: Vec<char> = word.chars().collect();
        chars
            .windows(2)
            .any(|w| w[0].is_lowercase() && w[1].is_uppercase())
    };
    let code = |word: &str| {
        word.chars().any(|c| c.is_ascii_digit()) && word.chars().any(char::is_alphabetic)
    };
    is_name(text)
        && plain_words(text) <= 3
        && text
            .split_whitespace()
            .any(|word| code(word) || camel(word))
}

/// Tells whether most letters of `output` are outside the Latin script,
/// which every language of [`crate::lang::LANGUAGES`] uses, while the
/// source's letters are not: Cyrillic, Greek, Arabic or Chinese output for
/// a Spanish target, for example.
fn foreign_script(source: &str, output: &str) -> bool {
    let non_latin_share = |text: &str| {
        let (mut letters, mut non_latin) = (0usize, 0usize);
        for c in text.chars().filter(|c| c.is_alphabetic()) {
            letters += 1;
            // Latin letters end at U+024F; U+1E00..U+1EFF adds accented ones.
            if !(c <= '\u{024F}' || ('\u{1E00}'..='\u{1EFF}').contains(&c)) {
                non_latin += 1;
            }
        }
        if letters == 0 {
            0.0
        } else {
            non_latin as f64 / letters as f64
        }
    };
    non_latin_share(output) > 0.5 && non_latin_share(source) < 0.2
}

/// Text without mask tokens.
pub fn strip_tokens(text: &str) -> String {
    token_regex().replace_all(text, " ").into_owned()
}

fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Returns the numbers of `text` as written, with the minus sign they
/// carry: "10", "26,7", "1,250", "-5", ".5", and "1 250" with a space or
/// a no-break space between thousands. A hyphen or dash after a letter or
/// digit is no sign ("SKU-123", "5-10", "5 – 10").
fn numbers(text: &str) -> Vec<&str> {
    number_spans(text)
        .into_iter()
        .map(|(start, end)| &text[start..end])
        .collect()
}

/// Returns the byte ranges of the numbers [`numbers`] reads.
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    static NUMBER: OnceLock<Regex> = OnceLock::new();
    let number = NUMBER.get_or_init(|| {
        Regex::new(r"[-\u{2212}\u{2013}]?\d+(?:[.,\u{a0}\u{202f}]\d+)*").expect("valid regex")
    });
    let mut found: Vec<(usize, usize)> = Vec::new();
    for m in number.find_iter(text) {
        let (mut start, end) = (m.start(), m.end());
        let before = |at: usize| text[..at].chars().next_back();
        if text[start..end].starts_with(['-', '\u{2212}', '\u{2013}']) {
            // After a space, a dash is a sign unless a number comes before
            // the space, as in a range.
            let sign_allowed = match before(start) {
                None => true,
                Some(c) if c.is_whitespace() => !text[..start]
                    .trim_end()
                    .ends_with(|c: char| c.is_ascii_digit()),
                Some(c) => "([{:=~/\"'«“‘".contains(c),
            };
            if !sign_allowed {
                start += text[start..].chars().next().map_or(0, char::len_utf8);
            }
        } else if before(start) == Some('.')
            && before(start - 1).is_none_or(|c| c.is_whitespace() || c == '(')
        {
            // ".5" is 0.5, but "No.5" is number 5.
            start -= 1;
        }
        // "1 250": a group of three digits after a space continues the number.
        if let Some(last) = found.last_mut() {
            let gap = &text[last.1..start];
            let head = &text[last.0..last.1];
            let group = text[start..end]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or("");
            let head_group = head
                .rsplit(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or("");
            if gap == " "
                && group.len() == 3
                && (1..=3).contains(&head_group.len())
                && !head.contains([',', '.'])
            {
                last.1 = end;
                continue;
            }
        }
        found.push((start, end));
    }
    found
}

/// Returns the digits of a number without signs and separators, for
/// numbers no reading fits ("12.5.2023").
fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// Returns the value of a written number, with its count of decimals,
/// where `decimal` separates the decimals and the other mark (or a
/// no-break space) groups thousands. Returns `None` where the marks do not
/// fit that reading ("19.99" with a decimal comma).
fn value_with(number: &str, decimal: char) -> Option<(f64, i32)> {
    let (negative, unsigned) = match number.strip_prefix(['-', '\u{2212}', '\u{2013}']) {
        Some(unsigned) => (true, unsigned),
        None => (false, number),
    };
    let (whole, fraction) = match unsigned.split_once(decimal) {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    if fraction.is_some_and(|f| !f.chars().all(|c| c.is_ascii_digit())) {
        return None;
    }
    let groups: Vec<&str> = whole.split(|c: char| !c.is_ascii_digit()).collect();
    let grouped = groups.len() > 1;
    if grouped
        && (groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3))
    {
        return None;
    }
    let digits = groups.concat();
    let value: f64 = match fraction {
        Some(fraction) => format!("{digits}.{fraction}").parse().ok()?,
        None => digits.parse().ok()?,
    };
    let decimals = fraction.map_or(0, |f| f.len() as i32);
    Some((if negative { -value } else { value }, decimals))
}

/// Lists the values a written number may mean, each with its decimals:
/// "1,250" is 1250, or 1.25 where the comma is the decimal separator;
/// "19.99" is only 19.99, since a thousands group has three digits.
fn readings(number: &str) -> Vec<(f64, i32)> {
    let mut readings: Vec<(f64, i32)> = ['.', ',']
        .into_iter()
        .filter_map(|decimal| value_with(number, decimal))
        .collect();
    readings.dedup();
    readings
}

/// Lists the values a number written in a language whose decimal
/// separator is `decimal` means: its reading with that separator where the
/// marks fit it, and otherwise the other one ("19.99" in Spanish is still
/// 19.99, but "2.500" is 2500). Without a language, every reading.
fn readings_in(number: &str, decimal: Option<char>) -> Vec<(f64, i32)> {
    let Some(decimal) = decimal else {
        return readings(number);
    };
    let other = if decimal == '.' { ',' } else { '.' };
    value_with(number, decimal)
        .or_else(|| value_with(number, other))
        .into_iter()
        .collect()
}

/// Tells whether two written numbers may mean the same value: "1,250" and
/// "1.250", "26.7" and "26,7", but not "19.99" and "1.999", nor "-5" and
/// "5". Numbers no reading fits compare their digits.
fn same_number(a: &str, b: &str) -> bool {
    same_number_in((a, None), (b, None))
}

/// Tells whether two numbers, each with the decimal separator of its
/// language where known, mean the same value.
fn same_number_in(
    (a, a_decimal): (&str, Option<char>),
    (b, b_decimal): (&str, Option<char>),
) -> bool {
    let (a_readings, b_readings) = (readings_in(a, a_decimal), readings_in(b, b_decimal));
    if a_readings.is_empty() || b_readings.is_empty() {
        return digits(a) == digits(b);
    }
    a_readings
        .iter()
        .any(|(x, _)| b_readings.iter().any(|(y, _)| x == y))
}

/// Tells whether one number is the other rounded: "177" for "176,7",
/// "567" for "566,99", "1,1" for "1,13", "180" for "176,7".
fn rounds_to(a: &str, b: &str) -> bool {
    rounds_to_in((a, None), (b, None))
}

/// Tells whether one number is the other rounded, each read with the
/// decimal separator of its language where known.
fn rounds_to_in(
    (a, a_decimal): (&str, Option<char>),
    (b, b_decimal): (&str, Option<char>),
) -> bool {
    readings_in(a, a_decimal).iter().any(|&(x, x_decimals)| {
        readings_in(b, b_decimal).iter().any(|&(y, y_decimals)| {
            let tolerance = 0.5 * 10f64.powi(-x_decimals.min(y_decimals));
            // A converted value ("176,7") may also be given to the nearest
            // ten ("180 °C" for an oven), within 2% of it.
            let to_tens = x_decimals > 0
                && y_decimals == 0
                && y % 10.0 == 0.0
                && (x - y).abs() <= 5.0
                && (x - y).abs() <= 0.02 * x.abs();
            (x - y).abs() <= tolerance + 1e-9 || to_tens
        })
    })
}

/// Counts missing plus extra numbers. A number matches the same value,
/// or else a rounding of it, as a translator writes a converted measure
/// ("177 °C" for 350 °F).
fn number_mismatch(source: &str, output: &str, source_lang: &str, target_lang: &str) -> f64 {
    number_mismatch_with(source, output, source_lang, target_lang, &[], false)
}

/// Counts as [`number_mismatch`] does, with `optional` numbers that the
/// output may add. A `localized` source contains measures already
/// written the target's way ("1.250 g" for "1,250 g"), so its numbers are
/// read either way.
fn number_mismatch_with(
    source: &str,
    output: &str,
    source_lang: &str,
    target_lang: &str,
    optional: &[&str],
    localized: bool,
) -> f64 {
    // "m²" contains the 2 of "m2".
    let superscripts = |text: &str| text.replace('²', "2").replace('³', "3");
    let (source, output) = (superscripts(source), superscripts(output));
    let (source, output) = (source.as_str(), output.as_str());
    let decimal = |code: &str| crate::lang::Language::lookup(code).map(|l| l.decimal_separator);
    let source_decimal = if localized {
        None
    } else {
        decimal(source_lang)
    };
    let decimals = (source_decimal, decimal(target_lang));
    let (mut source_left, mut output_left) =
        match_numbers(numbers(source), numbers(output), decimals);
    // Numbers joined at a space may be two: "2 100 ml" is 2 bottles of
    // 100 ml as often as 2100 ml.
    fn split(numbers: Vec<&str>) -> Vec<&str> {
        numbers
            .into_iter()
            .flat_map(|number| number.split(' '))
            .collect()
    }
    if source_left
        .iter()
        .chain(&output_left)
        .any(|n| n.contains(' '))
    {
        (source_left, output_left) =
            match_numbers(split(source_left), split(output_left), decimals);
    }
    // A small number may be written out: "Set of 2" as "Juego de dos".
    source_left.retain(|number| !number_word_in(number, output, target_lang));
    output_left.retain(|number| !number_word_in(number, source, source_lang));
    output_left.retain(|number| {
        !optional
            .iter()
            .any(|extra| same_number(extra, number) || rounds_to(extra, number))
    });
    (source_left.len() + output_left.len()) as f64
}

/// Tells whether `text` writes the whole number `number` (1 to 12) as a
/// word of the language `code`: "dos" for 2 in Spanish, "eine" for 1 in
/// German.
fn number_word_in(number: &str, text: &str, code: &str) -> bool {
    const WORDS: [(&str, [&str; 12]); 7] = [
        (
            "en",
            [
                "one|a|an",
                "two|pair",
                "three",
                "four",
                "five",
                "six",
                "seven",
                "eight",
                "nine",
                "ten",
                "eleven",
                "twelve|dozen",
            ],
        ),
        (
            "es",
            [
                "un|uno|una",
                "dos|par",
                "tres",
                "cuatro",
                "cinco",
                "seis",
                "siete",
                "ocho",
                "nueve",
                "diez",
                "once",
                "doce|docena",
            ],
        ),
        (
            "de",
            [
                "ein|eine|einen|einem|einer|eins",
                "zwei|paar",
                "drei",
                "vier",
                "fünf",
                "sechs",
                "sieben",
                "acht",
                "neun",
                "zehn",
                "elf",
                "zwölf|dutzend",
            ],
        ),
        (
            "fr",
            [
                "un|une",
                "deux|paire",
                "trois",
                "quatre",
                "cinq",
                "six",
                "sept",
                "huit",
                "neuf",
                "dix",
                "onze",
                "douze|douzaine",
            ],
        ),
        (
            "it",
            [
                "un|uno|una",
                "due|paio",
                "tre",
                "quattro",
                "cinque",
                "sei",
                "sette",
                "otto",
                "nove",
                "dieci",
                "undici",
                "dodici|dozzina",
            ],
        ),
        (
            "pt",
            [
                "um|uma",
                "dois|duas|par",
                "três",
                "quatro",
                "cinco",
                "seis",
                "sete",
                "oito",
                "nove",
                "dez",
                "onze",
                "doze|dúzia",
            ],
        ),
        (
            "ca",
            [
                "un|una",
                "dos|dues|parell",
                "tres",
                "quatre",
                "cinc",
                "sis",
                "set",
                "vuit",
                "nou",
                "deu",
                "onze",
                "dotze|dotzena",
            ],
        ),
    ];
    let Ok(value @ 1..=12) = number.parse::<usize>() else {
        return false;
    };
    let Some((_, words)) = WORDS.iter().find(|(language, _)| *language == code) else {
        return false;
    };
    let spelled: Vec<&str> = words[value - 1].split('|').collect();
    text.split(|c: char| !c.is_alphabetic())
        .any(|word| spelled.contains(&word.to_lowercase().as_str()))
}

/// Pairs source and output numbers of the same value, or else a rounding
/// of it. Returns the numbers of each side left unpaired.
fn match_numbers<'a>(
    source: Vec<&'a str>,
    output: Vec<&'a str>,
    (source_decimal, output_decimal): (Option<char>, Option<char>),
) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut output_left = output;
    let mut source_left = Vec::new();
    for number in source {
        match output_left
            .iter()
            .position(|o| same_number_in((o, output_decimal), (number, source_decimal)))
        {
            Some(index) => {
                output_left.remove(index);
            }
            None => source_left.push(number),
        }
    }
    source_left.retain(|number| {
        match output_left
            .iter()
            .position(|o| rounds_to_in((number, source_decimal), (o, output_decimal)))
        {
            Some(index) => {
                output_left.remove(index);
                false
            }
            None => true,
        }
    });
    (source_left, output_left)
}

fn repetition(source_words: &[String], output_words: &[String]) -> f64 {
    if output_words.len() < 4 {
        return 0.0;
    }
    let count = |words: &[String]| {
        let mut counts: HashMap<(String, String), usize> = HashMap::new();
        for pair in words.windows(2) {
            *counts
                .entry((pair[0].clone(), pair[1].clone()))
                .or_default() += 1;
        }
        counts
    };
    let repeats = |counts: HashMap<(String, String), usize>| -> usize {
        counts.values().map(|n| n.saturating_sub(1)).sum()
    };
    let extra = repeats(count(output_words)).saturating_sub(repeats(count(source_words)));
    extra as f64 / (output_words.len() - 1) as f64
}

/// Counts differences in `?`, `!` and final punctuation, up to 1.
fn punctuation_mismatch(source: &str, output: &str) -> f64 {
    let count = |text: &str, mark: char| text.chars().filter(|c| *c == mark).count();
    let mut differences = 0;
    for mark in ['?', '!'] {
        differences += count(source, mark).abs_diff(count(output, mark));
    }
    // An odd number of double quote marks, of any style ("x", «x», “x”),
    // shows a quotation broken in two. Counts are not compared: on the WMT
    // 2022 chat data, translators drop or add quotes freely, and comparing
    // them lowered the agreement with human scores (0.30 to 0.23 on en-fr).
    let quotes = |text: &str| {
        text.chars()
            .filter(|c| matches!(c, '"' | '“' | '”' | '«' | '»' | '„'))
            .count()
    };
    if quotes(output) % 2 == 1 && quotes(source) % 2 == 0 {
        differences += 1;
    }
    let final_mark = |text: &str| {
        text.trim_end()
            .chars()
            .last()
            .filter(|c| matches!(c, '.' | '?' | '!' | ':'))
    };
    if final_mark(source) != final_mark(output) {
        differences += 1;
    }
    (differences as f64 / 2.0).min(1.0)
}

/// Computes the round-trip signal from a back-translation.
pub fn round_trip_signal(source: &str, back_translation: &str) -> f64 {
    let source = strip_tokens(source);
    let back = strip_tokens(back_translation);
    if words(&source).len() < 3 {
        return 0.0;
    }
    1.0 - metrics::chrf(&[back], &[source]) / 100.0
}

/// Result of the text checks of a translation against its source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairCheck {
    /// The text-check signals, with the markup compared separately.
    pub signals: Signals,
    /// Score of the translation against its source, 0 to 100.
    pub score: f64,
    /// Names of the signals that indicate a problem.
    pub flags: Vec<&'static str>,
    /// URLs, emails, placeholders, model numbers and hashtags of the source
    /// that the translation lacks; a storefront would break without them.
    pub missing_spans: Vec<String>,
    /// URLs and emails of the translation that the source does not have.
    pub new_links: Vec<String>,
}

impl PairCheck {
    /// Recomputes the score and flags after a signal changed.
    pub fn rescore(&mut self, weights: &Weights) {
        self.score = self.signals.score(weights);
        self.flags = self.signals.flags();
    }
}

/// Checks a translation made anywhere (by an engine or a person) against
/// its source with the text checks, after removing markup. It also
/// compares the markup and lists the dropped protected spans and the added
/// links, which count as span problems.
pub fn check_pair(
    source: &str,
    translation: &str,
    source_lang: &str,
    target_lang: &str,
) -> PairCheck {
    let (written, translation_text) = (strip_markup(source), strip_markup(translation));
    // Measures and sizes converted for the target ("10.5 inches" to "26,7
    // cm") are what a correct translation contains, so the numbers are
    // compared with the source as the pipeline would localize it.
    let (source_text, optional) = match crate::lang::Language::lookup(target_lang) {
        Some(target) => localized(&written, target, &translation_text),
        None => (written.clone(), Vec::new()),
    };
    let ratio = |code: &str| {
        crate::lang::Language::lookup(code).map_or(1.1, |l| l.length_ratio_from_english)
    };
    // The text checks read the source as written: a copy of the localized
    // source ("Cable 1,8 m" for "Cable 6 ft (1.8 m)") is a translation.
    let expected_ratio = ratio(target_lang) / ratio(source_lang);
    let mut signals = text_signals(&Segment {
        source: &written,
        output: &translation_text,
        source_lang,
        target_lang,
        expected_length_ratio: expected_ratio,
        identify_language: true,
    });
    // A translation may write out the units that localization gives as
    // symbols ("2,5 metros"), or drop the imperial value it replaced: its
    // length may follow either source.
    let (localized_deviation, _) =
        length_deviation(&source_text, &translation_text, expected_ratio);
    signals.length_deviation = signals.length_deviation.min(localized_deviation);
    // A converted value given beside a kept one ("10,5 pulgadas (26,7
    // cm)") is no extra number, and a value with another unit is wrong.
    let optional: Vec<&str> = optional.iter().map(String::as_str).collect();
    signals.number_mismatch = number_mismatch_with(
        &source_text,
        &translation_text,
        source_lang,
        target_lang,
        &optional,
        true,
    ) + changed_units(&source_text, &translation_text);
    // Markup is searched too: a link target is an attribute. A span that
    // is a measure or size ("350F") is localized, not kept.
    let localized_spans = match crate::lang::Language::lookup(target_lang) {
        Some(target) => crate::locale::detect(source, target, source, &Default::default()),
        None => Vec::new(),
    };
    let mut missing_spans = Vec::new();
    for span in crate::protect::detect(source, "") {
        // A translator may write a decade the target's way ("los años 90").
        if span.kind == crate::protect::SpanKind::Decade {
            continue;
        }
        if localized_spans
            .iter()
            .any(|local| local.start < span.end && span.start < local.end)
        {
            continue;
        }
        let text = &source[span.start..span.end];
        let expected = source.matches(text).count();
        // A translator may space a quantity and its unit ("12 V" for "12V").
        let found = if span.kind == crate::protect::SpanKind::ModelNumber {
            let squeeze = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            squeeze(translation).matches(text).count()
        } else {
            translation.matches(text).count()
        };
        if found < expected && !missing_spans.iter().any(|m| m == text) {
            missing_spans.push(text.to_string());
        }
    }
    let mut new_links = Vec::new();
    for span in crate::protect::detect(translation, "") {
        let text = &translation[span.start..span.end];
        let is_link = matches!(
            span.kind,
            crate::protect::SpanKind::Url | crate::protect::SpanKind::Email
        );
        if is_link && !source.contains(text) && !new_links.iter().any(|l| l == text) {
            new_links.push(text.to_string());
        }
    }
    signals.span_problems = (missing_spans.len() + new_links.len()) as f64;
    signals.tag_problems = tag_difference(source, translation) as f64;
    let mut check = PairCheck {
        signals,
        score: 0.0,
        flags: Vec::new(),
        missing_spans,
        new_links,
    };
    check.rescore(&Weights::default());
    check
}

/// Returns `text` as a translation into `target` may write it, with each
/// measure and size on the target's units and charts. Where `translation`
/// keeps the source's value, that value stays as the source writes it
/// ("55 pulgadas" for "55 inches"). A kept measure needs a unit of the
/// source's system after it in the translation. Also returns the
/// converted values the translation may add beside kept ones ("10,5
/// pulgadas (26,7 cm)").
fn localized(
    text: &str,
    target: &crate::lang::Language,
    translation: &str,
) -> (String, Vec<String>) {
    let rates = crate::locale::RateTable::default();
    let mut spans = crate::locale::detect(text, target, text, &rates);
    spans.sort_by_key(|span| span.start);
    let translation_numbers = number_spans(translation);
    let present = |number: &str| {
        translation_numbers
            .iter()
            .any(|&(start, end)| same_number(number, &translation[start..end]))
    };
    let mut out = String::with_capacity(text.len());
    let mut optional = Vec::new();
    let mut cursor = 0;
    for span in spans {
        if span.start < cursor {
            continue;
        }
        out.push_str(&text[cursor..span.start]);
        let raw = &text[span.start..span.end];
        let raw_numbers = numbers(raw);
        let kept = !raw_numbers.is_empty()
            && raw_numbers.iter().all(|number| present(number))
            && (span.kind != crate::protect::SpanKind::Measure
                || raw_numbers.iter().any(|number| {
                    translation_numbers.iter().any(|&(start, end)| {
                        same_number(number, &translation[start..end])
                            && imperial_unit_at(&translation[end..])
                    })
                }));
        let converted = numbers(&span.replacement).iter().all(|number| {
            translation_numbers.iter().any(|&(start, end)| {
                let written = &translation[start..end];
                same_number(number, written) || rounds_to(number, written)
            })
        });
        // A size's replacement gives the source's size too: "EU 42 (US 9)".
        let both_in_replacement = raw_numbers.iter().all(|number| {
            numbers(&span.replacement)
                .iter()
                .any(|written| same_number(number, written))
        });
        match (kept, converted) {
            (true, true) if !both_in_replacement => {
                out.push_str(raw);
                optional.extend(numbers(&span.replacement).into_iter().map(str::to_string));
            }
            (true, false) => out.push_str(raw),
            _ => out.push_str(&span.replacement),
        }
        cursor = span.end;
    }
    out.push_str(&text[cursor..]);
    (out, optional)
}

/// Returns the unit that starts `text` (after spaces or a hyphen), as a
/// canonical name in any language Mercator writes: "kg" for "kg",
/// "kilos" and "Kilogramm", "in" for "pulgadas" and "pulg.".
fn unit_at(text: &str) -> Option<&'static str> {
    const UNITS: [(&str, &str); 18] = [
        (
            "mm",
            r"mm|mil[ií]met(?:er|re|ro|ri)s?|millimet(?:er|re|ro|ri)s?|millimètres?",
        ),
        (
            "cm",
            r"cm|cent[ií]met(?:er|re|ro|ri)s?|zentimeter|centimètres?",
        ),
        (
            "km",
            r"km|kil[oó]met(?:er|re|ro|ri)s?|kilomètres?|chilometri|quil[oô]metros?",
        ),
        ("mg", r"mg|mil[ií]gramos?|milligram(?:s|m|mes?|mi)?"),
        (
            "kg",
            r"kg|kilos?|kilogram(?:s|m|mes?|os?)?|chilogrammi|quilos?|quilogramas?",
        ),
        ("ml", r"ml|mil[ií]litros?|millilit(?:er|re)s?|millilitri"),
        ("cl", r"cl|cent[ií]litros?|centilit(?:er|re)s?"),
        ("floz", r"fl\.?\s?oz|fluid\s+ounces?|onzas?\s+l[ií]quidas?"),
        (
            "C",
            r"°\s?c|ºc|grados?\s+(?:celsius|cent[ií]grados?)|celsius",
        ),
        ("F", r"°\s?f|ºf|grados?\s+fahrenheit|fahrenheit"),
        (
            "in",
            r#"in\.?|inch(?:es)?|pulgadas?|pulg\.?|zoll|pouces?|pollici|polegadas?|"|″"#,
        ),
        ("ft", r"ft\.?|feet|foot|pies?|fu(?:ß|ss)|pieds?|piedi|pés?"),
        ("lb", r"lbs?\.?|pounds?|libras?|pfund|livres?|libbre"),
        ("oz", r"oz\.?|ounces?|onzas?|unzen?|onces?|once|onças?"),
        (
            "gal",
            r"gal\.?|gallons?|gal[oó]n|galones|gallonen?|gallone|gal[ãa]o|gal[õo]es",
        ),
        ("m", r"m|met(?:er|re|ro|ri)s?|mètres?"),
        ("g", r"g|gr\.?|gramos?|grams?|gramm|grammes?|grammi|gramas?"),
        ("l", r"l|lit(?:er|re|ro|ri)s?|litres?"),
    ];
    static UNIT: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    let units = UNIT.get_or_init(|| {
        UNITS
            .iter()
            .map(|(name, pattern)| {
                let regex = Regex::new(&format!(
                    r"(?i)^[\s\u{{a0}}-]*(?:{pattern})(?:[^\p{{L}}]|$)"
                ))
                .expect("valid regex");
                (*name, regex)
            })
            .collect()
    });
    units
        .iter()
        .find(|(_, regex)| regex.is_match(text))
        .map(|(name, _)| *name)
}

/// Counts the source's measures whose value the translation gives only
/// with another unit ("500 kg" for "500 g", "150 pulgadas" for "150 cm"),
/// rounded or not ("15 cm" for "15,24 m"), two for each, as a changed
/// number.
fn changed_units(source: &str, translation: &str) -> f64 {
    let translation_numbers = number_spans(translation);
    let mut changed = 0.0;
    for (start, end) in number_spans(source) {
        let Some(unit) = unit_at(&source[end..]) else {
            continue;
        };
        let number = &source[start..end];
        let units: Vec<Option<&str>> = translation_numbers
            .iter()
            .filter(|&&(from, to)| {
                let found = &translation[from..to];
                same_number(number, found) || rounds_to(number, found)
            })
            .map(|&(_, to)| unit_at(&translation[to..]))
            .collect();
        if !units.is_empty()
            && units
                .iter()
                .all(|found| found.is_some_and(|found| found != unit))
        {
            changed += 2.0;
        }
    }
    changed
}

/// Tells whether `text` starts with a US or imperial unit, in English or
/// a target language: "pulgadas", "Zoll", "lb", "°F".
fn imperial_unit_at(text: &str) -> bool {
    matches!(
        unit_at(text),
        Some("in" | "ft" | "lb" | "oz" | "floz" | "gal" | "F")
    )
}

/// `text` with every tag replaced by a space.
pub fn strip_markup(text: &str) -> String {
    static TAG: OnceLock<Regex> = OnceLock::new();
    static ENTITY: OnceLock<Regex> = OnceLock::new();
    let tag = TAG.get_or_init(|| Regex::new(r"<[^>]*>").expect("valid regex"));
    // Entities become their characters, so "&#233;" is no number 233.
    let entity = ENTITY.get_or_init(|| {
        Regex::new(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z]{2,8}));")
            .expect("valid regex")
    });
    let text = tag.replace_all(text, " ");
    entity
        .replace_all(&text, |caps: &regex::Captures<'_>| {
            let code = match (caps.get(1), caps.get(2)) {
                (Some(decimal), _) => decimal.as_str().parse().ok(),
                (_, Some(hex)) => u32::from_str_radix(hex.as_str(), 16).ok(),
                _ => None,
            };
            match (
                code.and_then(char::from_u32),
                caps.get(3).map(|m| m.as_str()),
            ) {
                (Some(c), _) => c.to_string(),
                (None, Some("amp")) => "&".to_string(),
                (None, Some("quot")) => "\"".to_string(),
                (None, Some("apos")) => "'".to_string(),
                (None, Some("lt")) => "<".to_string(),
                (None, Some("gt")) => ">".to_string(),
                _ => " ".to_string(),
            }
        })
        .into_owned()
}

/// [`check_pair`] for a human correction of a whole field: its length
/// makes a text risky, not wrong, since a person already read this one.
pub fn check_correction(
    source: &str,
    correction: &str,
    source_lang: &str,
    target_lang: &str,
) -> PairCheck {
    let mut check = check_pair(source, correction, source_lang, target_lang);
    check.signals.source_complexity = 0.0;
    check.rescore(&Weights::default());
    check
}

/// Number of opening and closing tags, counted by name, that one text has
/// and the other lacks.
fn tag_difference(a: &str, b: &str) -> usize {
    static TAG_NAME: OnceLock<Regex> = OnceLock::new();
    let tag_name =
        TAG_NAME.get_or_init(|| Regex::new(r"<(/?)([A-Za-z][A-Za-z0-9-]*)").expect("valid regex"));
    let mut counts: HashMap<String, i64> = HashMap::new();
    for (text, sign) in [(a, 1), (b, -1)] {
        for caps in tag_name.captures_iter(text) {
            let name = format!("{}{}", &caps[1], caps[2].to_ascii_lowercase());
            *counts.entry(name).or_default() += sign;
        }
    }
    counts
        .values()
        .map(|count| count.unsigned_abs() as usize)
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn correction_check_finds_dropped_placeholders() {
        let check = check_correction(
            "<p>Hello {name}, see https://shop.example/a for order 85123A.</p>",
            "<p>Hola, mira el pedido.</p>",
            "en",
            "es",
        );
        assert_eq!(
            check.missing_spans,
            vec!["https://shop.example/a", "{name}", "85123A"]
        );
        assert!(check.flags.contains(&"span_problems"), "{:?}", check.flags);
        assert!(check.score < 70.0, "{}", check.score);
    }

    #[test]
    fn correction_check_passes_a_good_correction() {
        let check = check_correction(
            "<p>Hello {name}, your <b>red mug</b> ships in 2 days.</p>",
            "<p>Hola {name}, tu <b>taza roja</b> se envía en 2 días.</p>",
            "en",
            "es",
        );
        assert!(check.missing_spans.is_empty());
        assert!(check.new_links.is_empty());
        assert!(check.flags.is_empty(), "{:?}", check.flags);
        assert!(check.score > 90.0, "{}", check.score);
    }

    #[test]
    fn pair_check_reads_entities_as_characters() {
        let check = check_pair(
            "<p>Caf&eacute; mug, 2 pack</p>",
            "<p>Taza de caf&#233;, paquete de 2</p>",
            "en",
            "es",
        );
        assert_eq!(check.signals.number_mismatch, 0.0, "{check:?}");
    }

    #[test]
    fn pair_check_accepts_rounded_measures() {
        for (source, translation) in [
            ("Oven safe to 350F", "Apto para horno hasta 177 °C"),
            ("Weight 1,250 lbs", "Peso 567 kg"),
        ] {
            let check = check_pair(source, translation, "en", "es");
            assert!(check.missing_spans.is_empty(), "{translation}: {check:?}");
            assert_eq!(check.signals.number_mismatch, 0.0, "{translation}");
        }
    }

    #[test]
    fn pair_check_accepts_localized_measures_and_sizes() {
        for (source, translation) in [
            ("Height: 10.5 inches", "Altura: 26,7 cm"),
            (
                "Men's running shoe, US size 9",
                "Zapatilla de hombre, EU 42 (US 9)",
            ),
        ] {
            let check = check_pair(source, translation, "en", "es");
            assert_eq!(check.signals.number_mismatch, 0.0, "{source}");
        }
        let wrong = check_pair("Height: 10.5 inches", "Altura: 30 cm", "en", "es");
        assert!(wrong.signals.number_mismatch > 0.0);
    }

    #[test]
    fn number_check_values_and_signs() {
        let mismatch = |source: &str, output: &str| number_mismatch(source, output, "en", "es");
        // The same value in the target's format, or as the source wrote it.
        for (source, output) in [
            ("Price $19.99", "Precio 19,99 $"),
            ("Price $19.99", "Precio 19.99 $"),
            ("1,250 pieces", "1.250 piezas"),
            ("1,250 pieces", "1\u{a0}250 pièces"),
            ("Store at -5 °C", "Conservar a -5 °C"),
            ("Store at -5 °C", "Conservar a \u{2212}5 °C"),
            ("SKU-123, sizes 5-10", "SKU-123, tallas 5 a 10"),
            ("Delivered 12.5.2023", "Entregado el 12.5.2023"),
            ("1,000,000 views", "1 000 000 visitas"),
            ("Now $12,499.00", "Ahora 12 499,00 $"),
            (
                "Pack of 2 100 ml bottles",
                "Paquete de 2 botellas de 100 ml",
            ),
            ("Add .5 cups", "Añadir 0,5 tazas"),
            ("Store at –5 °C", "Conservar a -5 °C"),
            ("Sizes 5 – 10", "Tallas 5-10"),
            ("Chanel No.5", "Chanel n.º 5"),
            ("Set of 2 mugs", "Juego de dos tazas"),
            ("1 red mug", "Una taza roja"),
            ("Covers 5 m2", "Cubre 5 m²"),
            ("Set of two mugs", "Juego de 2 tazas"),
        ] {
            assert_eq!(mismatch(source, output), 0.0, "{source} -> {output}");
        }
        // A decimal point read as a thousands group, a dropped sign.
        for (source, output) in [
            ("Price $19.99", "Preis 1.999 $"),
            ("Store at -5 °C", "Bei 5 °C lagern"),
            ("Weight 0.5 kg", "Peso 5 kg"),
            ("1,000,000 views", "1 000 visitas"),
            ("Store at –5 °C", "Conservar a 5 °C"),
            ("Set of 2 mugs", "Juego de tres tazas"),
            // "2.500" is 2500 in Spanish.
            ("Bag of 2.5 kg", "Bolsa de 2.500 kg"),
            ("Mug 19.99 EUR", "Taza 19.990 EUR"),
        ] {
            assert!(mismatch(source, output) > 0.0, "{source} -> {output}");
        }
        // One changed number among several right ones still sends the
        // segment to review.
        let changed = signals(
            "Set of 4 bowls, 800 ml each, 15 cm wide and 6 cm high.",
            "Juego de 4 cuencos, 8 ml cada uno, 15 cm de ancho y 6 cm de alto.",
        );
        assert!(changed.score(&Weights::default()) < 70.0, "{changed:?}");
        let dropped = signals("Pack of 12 AA batteries", "Paquete de pilas AA");
        assert!(dropped.score(&Weights::default()) < 70.0, "{dropped:?}");
    }

    #[test]
    fn pair_check_accepts_kept_units_and_spaced_codes() {
        // (source, translation, whether its numbers are right)
        for (source, translation, right) in [
            ("55 inch TV", "Televisor de 55 pulgadas", true),
            (
                "12V adapter, 16GB card",
                "Adaptador de 12 V, tarjeta de 16 GB",
                true,
            ),
            // Both values, or the source's value in its own unit.
            (
                "Height: 10.5 inches",
                "Altura: 10,5 pulgadas (26,7 cm)",
                true,
            ),
            ("Bake at 350F", "Hornear a 350 °F (177 °C)", true),
            ("Holds 5 lbs", "Soporta 5 libras", true),
            (
                "Men's running shoe, US size 9",
                "Zapatilla de hombre, talla 9 US",
                true,
            ),
            // The source's value with a metric unit is a wrong value.
            ("Height: 10.5 inches", "Altura: 10,5 cm", false),
            ("Smart TV 55 in", "Smart TV de 55 cm", false),
            ("Bake at 350F", "Hornear a 350 °C", false),
            ("Holds 5 lbs", "Soporta 5 kg", false),
            ("6 ft (1.8 m) cable", "Cable de 6 pies (1,8 m)", true),
            ("Height: 10.5 inches", "Altura: 10,5 pulg.", true),
            // A metric value with another unit.
            ("Bag of 500 g", "Bolsa de 500 g", true),
            ("Bag of 500 g", "Bolsa de 500 gramos", true),
            ("Bag of 500 g", "Bolsa de 500 kg", false),
            ("Bag of 1,250 g", "Bolsa de 1.250 g", true),
            ("Bag of 2.5 kg", "Bolsa de 2,5 kg", true),
            ("Bag of 2.5 kg", "Bolsa de 2.500 kg", false),
            ("Tablecloth 150 cm", "Mantel de 150 pulgadas", false),
            ("Keep at 5 °C", "Mantener a 5 °F", false),
            ("Bottle 500 ml", "Botella de 500 l", false),
            // A converted value, rounded, with another unit.
            ("Hose 50 feet", "Manguera de 15 m", true),
            ("Hose 50 feet", "Manguera de 15 cm", false),
            ("Smart TV 55 in", "Smart TV de 140 cm", true),
            ("Smart TV 55 in", "Smart TV de 140 kg", false),
            ("Tank 5 gallons", "Tanque de 18,9 kg", false),
            // Rounded values of the same unit count once.
            ("Box 2 kg and 2.4 m", "Caja de 2 kg y 2,4 m", true),
        ] {
            let check = check_pair(source, translation, "en", "es");
            assert_eq!(
                check.signals.number_mismatch == 0.0,
                right,
                "{translation}: {check:?}"
            );
            assert!(check.missing_spans.is_empty(), "{translation}: {check:?}");
        }
    }

    #[test]
    fn looping_translation_scores_low() {
        let source = "Your order has been shipped and will arrive on Monday.";
        let looping =
            "Ihre Bestellung wurde versandt versandt versandt versandt versandt versandt.";
        let check = check_pair(source, looping, "en", "de");
        assert!(check.score < 70.0, "{check:?}");
        let fine = "Ihre Bestellung wurde versandt und kommt am Montag an.";
        assert!(check_pair(source, fine, "en", "de").score > 90.0);
    }

    #[test]
    fn empty_translation_scores_low() {
        let check = check_pair("Wooden chair", "", "en", "es");
        assert!(check.score < 20.0, "{}", check.score);
        assert!(
            check.flags.contains(&"length_deviation"),
            "{:?}",
            check.flags
        );
    }

    #[test]
    fn correction_check_flags_stripped_markup() {
        let check = check_correction(
            "<p>Hello, your <b>red mug</b> ships in <i>2 days</i>.</p>",
            "Hola, tu taza roja se envía en 2 días.",
            "en",
            "es",
        );
        assert_eq!(check.signals.tag_problems, 6.0);
        assert!(check.flags.contains(&"tag_problems"), "{:?}", check.flags);
        assert!(check.score < 70.0, "{}", check.score);
    }

    #[test]
    fn correction_check_finds_changed_links() {
        let check = check_correction(
            r#"See <a href="https://shop.example/x">the guide</a>."#,
            r#"Mira <a href="https://evil.example/x">la guía</a>."#,
            "en",
            "es",
        );
        assert_eq!(check.missing_spans, vec!["https://shop.example/x"]);
        assert_eq!(check.new_links, vec!["https://evil.example/x"]);
    }

    #[test]
    fn correction_check_flags_untranslated_and_numbers() {
        let check = check_correction(
            "The lamp is 40 cm tall and ships in three days.",
            "The lamp is 45 cm tall and ships in three days.",
            "en",
            "es",
        );
        assert!(check.flags.contains(&"untranslated"), "{:?}", check.flags);
        assert!(
            check.flags.contains(&"number_mismatch"),
            "{:?}",
            check.flags
        );
    }

    use super::*;

    fn signals(source: &str, output: &str) -> Signals {
        text_signals(&Segment {
            source,
            output,
            source_lang: "en",
            target_lang: "es",
            expected_length_ratio: 1.15,
            identify_language: true,
        })
    }

    #[test]
    fn cut_text_below_review_threshold() {
        let source = "Soft cotton socks with a reinforced heel, sold in packs of five pairs.";
        let whole = "Calcetines suaves de algodón con talón reforzado, en paquetes de cinco pares.";
        let cut = "Calcetines suaves de algodón con";
        let weights = Weights::default();
        assert!(signals(source, whole).score(&weights) > 80.0);
        let cut_score = signals(source, cut).score(&weights);
        assert!(cut_score < 70.0, "{cut_score}");
        // A short source may change length more: a title is not capped.
        let short = signals("Red mug, 350 ml", "Taza roja de cerámica esmaltada, 350 ml");
        assert!(short.score(&weights) > 70.0, "{short:?}");
    }

    #[test]
    fn length_ignores_padding_and_checks_short_sources() {
        let weights = Weights::default();
        let source = "Soft cotton socks with a reinforced heel, sold in packs of five pairs.";
        for padding in [
            " \u{a0}\u{200B}",
            "\u{00AD}\u{200F}\u{FE0F}\u{2800}",
            " .",
            "-",
            "_.",
        ] {
            let padded = format!("Calcetines suaves{}", padding.repeat(30));
            assert!(
                signals(source, &padded).score(&weights) < 70.0,
                "{padding:?}"
            );
        }
        let claims = signals(
            "Red mug",
            "Taza roja de cerámica artesanal, apta para microondas y lavavajillas.",
        );
        assert!(claims.length_deviation > 0.5, "{claims:?}");
        assert!(signals("Red mug", "Taza roja").length_deviation == 0.0);
    }

    #[test]
    fn clean_translation_scores_high() {
        let clean = signals("The red car is very fast.", "El coche rojo es muy rápido.");
        assert!(clean.score(&Weights::default()) > 80.0, "{clean:?}");
    }

    #[test]
    fn copy_of_source_is_untranslated() {
        let copy = signals("The red car is very fast.", "The red car is very fast.");
        assert_eq!(copy.untranslated, 1.0);
        assert!(copy.flags().contains(&"untranslated"));
        // A source already in the target language may be copied.
        let copied_english = text_signals(&Segment {
            source: "Please upload the photo of the receipt.",
            output: "Please upload the photo of the receipt.",
            source_lang: "de",
            target_lang: "en",
            expected_length_ratio: 1.0,
            identify_language: true,
        });
        assert_eq!(copied_english.untranslated, 0.0, "{copied_english:?}");
    }

    #[test]
    fn short_copies_and_single_foreign_words_are_untranslated() {
        for (source, output) in [
            ("Blue mug", "Blue mug"),
            ("Wooden chair", "Holzstuhl"),
            ("Wallet", "Portefeuille"),
            ("Red Ceramic Coffee Mug", "Red Ceramic Coffee Mug"),
            ("Red Ceramic Coffee Mug 2", "Red Ceramic Coffee Mug 2"),
            ("Coffee Cup 3 Pack", "Coffee Cup 3 Pack"),
            (
                "iPhone 15 Pro Max Leather Case",
                "iPhone 15 Pro Max Leather Case",
            ),
            ("Tap #PRS_ORG# Sign Out Now", "Tap #PRS_ORG# Sign Out Now"),
        ] {
            let wrong = signals(source, output);
            assert_eq!(wrong.untranslated, 1.0, "{output}: {wrong:?}");
        }
        // Names may stay as they are, and a correct word is not penalized.
        // A two-word copy that reads as a name is still identified: on the
        // WMT 2022 chat data, skipping it lowered the agreement with human
        // scores on en-fr from 0.30 to 0.23, since most such copies were
        // untranslated Title Case text.
        for (source, output) in [
            ("Nike Pegasus", "Nike Pegasus"),
            ("Apple iPhone", "Apple iPhone"),
            ("Bose QC45", "Bose QC45"),
            ("iPhone 15 Pro Max", "iPhone 15 Pro Max"),
            ("Samsung Galaxy S24 Ultra", "Samsung Galaxy S24 Ultra"),
            ("Lamp", "Lámpara"),
            ("Necklace", "Collar"),
            ("Bag", "Bolso"),
        ] {
            let kept = signals(source, output);
            assert_eq!(kept.untranslated, 0.0, "{output}: {kept:?}");
            assert!(kept.wrong_language < 0.1, "{output}: {kept:?}");
        }
    }

    #[test]
    fn output_in_another_language_or_script_scores_low() {
        let source = "The red car is very fast and cheap.";
        for output in [
            "Das rote Auto ist sehr schnell und billig.",
            "Красная машина очень быстрая и дешёвая.",
            "红色的汽车又快又便宜。",
            "السيارة الحمراء سريعة جدا ورخيصة.",
        ] {
            let wrong = signals(source, output);
            assert_eq!(wrong.untranslated, 1.0, "{output}: {wrong:?}");
            assert!(
                wrong.score(&Weights::default()) < 70.0,
                "{output}: {wrong:?}"
            );
        }
        // A source in another script may keep it, as a brand name does.
        let brand = signals("東京 ラーメン 店", "東京 ラーメン 店 de Tokio");
        assert_eq!(brand.untranslated, 0.0, "{brand:?}");
    }

    #[test]
    fn missing_number_is_flagged() {
        let missing = signals(
            "Pack of 12 glasses, 30 cl each.",
            "Paquete de vasos, 30 cl cada uno.",
        );
        assert!(missing.number_mismatch > 0.4, "{missing:?}");
        let kept = signals(
            "Pack of 12 glasses, 10.5 cl.",
            "Paquete de 12 vasos, 10,5 cl.",
        );
        assert_eq!(kept.number_mismatch, 0.0);
        // A converted measure that the translator rounded still matches.
        for (source, output) in [
            ("Oven safe to 176,7 °C", "Apto para horno hasta 177 °C"),
            ("Weight 566,99 kg", "Peso 567 kg"),
            ("Weight 1,13 kg", "Peso 1,1 kg"),
            ("Oven safe to 176,7 °C", "Apto para horno hasta 180 °C"),
            ("Weight 566,99 kg", "Peso 570 kg"),
        ] {
            assert_eq!(signals(source, output).number_mismatch, 0.0, "{output}");
        }
        // Another number is no rounding.
        for (source, output) in [
            ("Pack of 100", "Paquete de 101"),
            ("Pack of 2", "Paquete de 3"),
            ("Pack of 100", "Paquete de 110"),
            ("Height 26,7 cm", "Altura 30 cm"),
        ] {
            assert!(signals(source, output).number_mismatch > 0.0, "{output}");
        }
    }

    #[test]
    fn broken_quotation_is_flagged() {
        let broken = signals("Red \"Classic\" mug", "Taza \"Clásica\"\" roja");
        assert!(broken.punctuation_mismatch > 0.0, "{broken:?}");
        let restyled = signals("Red \"Classic\" mug", "Taza «Clásica» roja");
        assert_eq!(restyled.punctuation_mismatch, 0.0, "{restyled:?}");
    }

    #[test]
    fn lost_question_mark_is_flagged() {
        let lost = signals("Is the mug red?", "La taza es roja.");
        assert!(lost.punctuation_mismatch > 0.0, "{lost:?}");
        let kept = signals("Is the mug red?", "¿La taza es roja?");
        assert_eq!(kept.punctuation_mismatch, 0.0);
    }

    #[test]
    fn repeated_words_are_flagged() {
        let repeated = signals(
            "A nice big cup.",
            "Una taza grande una taza grande una taza grande una taza grande.",
        );
        assert!(repeated.repetition > 0.3, "{repeated:?}");
    }

    #[test]
    fn copied_words_skip_placeholders_and_identifiers() {
        assert_eq!(
            copied_words("Tap Repair now/Restore", "Tap Repair now/Restore"),
            (1, 3)
        );
        assert_eq!(
            copied_words(
                "Hi #NAME#, write to help@shop.example about {order_id} now",
                "Hallo #NAME#, schreiben Sie an help@shop.example wegen {order_id}"
            ),
            (0, 0)
        );
        // A word kept in another case is translated or reworded, not copied.
        assert_eq!(
            copied_words("Sync your e-reader", "Synchronisieren Sie Ihren E-Reader"),
            (0, 0)
        );
        assert_eq!(copied_words("I'm sorry", "Je suis désolé"), (0, 0));
    }
}
