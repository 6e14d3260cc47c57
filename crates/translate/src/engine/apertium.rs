//! Apertium, the rule-based engine, run as a process per batch.
//!
//! Facts this module relies on (Apertium 3.8.3 with apertium-eng-spa
//! 0.8.1): modes are named with ISO 639-3 codes (`eng-spa`) and listed by
//! `apertium -l`; one process per batch translates thousands of sentences a
//! second while one per segment costs about 0.1 s; segments separated by a
//! single newline can be merged or reordered, but a blank line between
//! them keeps them apart. Apertium's own HTML mode moves and duplicates
//! inline tags, so the pipeline sends it masked plain text (`-f txt`).
//! Output marks (`*` unknown word, `#` generation error, `@` missing from
//! the bilingual dictionary) are counted for quality estimation, then
//! removed.

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use regex::Regex;

use super::{Engine, EngineError, EngineOutput};
use crate::lang::{Language, LanguagePair};

/// The Apertium engine with the modes installed on this machine.
#[derive(Debug, Clone)]
pub struct Apertium {
    binary: String,
    /// (pair, mode name) for each plain `xxx-yyy` mode.
    modes: Vec<(LanguagePair, String)>,
    /// Acronyms each mode's dictionary lacks, as "mode acronym", learned
    /// from its output so that later segments send a stand-in at once.
    lacking: Arc<Mutex<HashSet<String>>>,
}

impl Apertium {
    /// Finds the `apertium` binary on `PATH` and lists its modes.
    pub fn detect() -> Result<Apertium, EngineError> {
        Apertium::with_binary("apertium")
    }

    /// Uses the Apertium binary at `binary`.
    pub fn with_binary(binary: &str) -> Result<Apertium, EngineError> {
        let output =
            Command::new(binary)
                .arg("-l")
                .output()
                .map_err(|err| EngineError::NotInstalled {
                    engine: "apertium".to_string(),
                    detail: format!("cannot run {binary:?}: {err}"),
                    install: "apt-get install apertium apertium-eng-spa".to_string(),
                })?;
        let listing = String::from_utf8_lossy(&output.stdout);
        let modes = parse_modes(&listing);
        tracing::debug!(modes = modes.len(), "apertium modes listed");
        Ok(Apertium {
            binary: binary.to_string(),
            modes,
            lacking: Arc::default(),
        })
    }

    fn mode(&self, pair: &LanguagePair) -> Result<&str, EngineError> {
        self.modes
            .iter()
            .find(|(candidate, _)| candidate == pair)
            .map(|(_, mode)| mode.as_str())
            .ok_or_else(|| EngineError::UnsupportedPair {
                engine: "apertium".to_string(),
                pair: pair.clone(),
                supported: super::describe_pairs(self),
            })
    }

    /// Runs one Apertium process over `segments`, separated by blank lines.
    fn run_batch(&self, mode: &str, segments: &[String]) -> Result<Vec<String>, String> {
        let mut input = String::new();
        // Output parts that come from a barrier, not from a segment.
        let mut barriers = Vec::new();
        let mut parts = 0;
        for segment in segments {
            // A newline inside a segment would let Apertium merge it with
            // its neighbour; it is white space to the translation anyway.
            input.push_str(&segment.replace(['\n', '\r'], " "));
            input.push_str("\n\n");
            parts += 1;
            if let Some(barrier) = barrier_after(segment) {
                input.push_str(barrier);
                input.push_str("\n\n");
                barriers.push(parts);
                parts += 1;
            }
        }

        let mut child = Command::new(&self.binary)
            .args(["-f", "txt", mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot start {}: {err}", self.binary))?;
        let mut stdin = child.stdin.take().ok_or("no stdin for apertium")?;
        // Write from a thread so a full output pipe cannot block the input.
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child
            .wait_with_output()
            .map_err(|err| format!("apertium did not finish: {err}"))?;
        writer
            .join()
            .map_err(|_| "apertium input writer panicked".to_string())?
            .map_err(|err| format!("cannot write to apertium: {err}"))?;
        if !output.status.success() {
            return Err(format!(
                "apertium {mode} exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }

        let text = String::from_utf8_lossy(&output.stdout);
        let outputs = split_blank_lines(&text);
        if outputs.len() != parts {
            // The caller splits the batch until the counts agree.
            return Ok(outputs);
        }
        Ok(outputs
            .into_iter()
            .enumerate()
            .filter(|(index, _)| !barriers.contains(index))
            .map(|(_, output)| output)
            .collect())
    }

    /// Translates `segments`, splitting the batch in halves until each part
    /// comes back with one output per input, so one bad segment fails alone.
    fn translate_split(&self, mode: &str, segments: &[String]) -> Vec<Result<String, String>> {
        match self.run_batch(mode, segments) {
            Ok(outputs) if outputs.len() == segments.len() => outputs.into_iter().map(Ok).collect(),
            Ok(outputs) if segments.len() == 1 => {
                vec![Err(format!(
                    "apertium returned {} segments for 1",
                    outputs.len()
                ))]
            }
            Err(message) if segments.len() == 1 => vec![Err(message)],
            result => {
                if let Err(message) = &result {
                    tracing::warn!(error = %message, segments = segments.len(), "apertium batch failed, splitting");
                }
                let middle = segments.len() / 2;
                let mut results = self.translate_split(mode, &segments[..middle]);
                results.extend(self.translate_split(mode, &segments[middle..]));
                results
            }
        }
    }
}

impl Engine for Apertium {
    fn name(&self) -> &str {
        "apertium"
    }

    fn closed_vocabulary(&self) -> bool {
        true
    }

    fn pairs(&self) -> Vec<LanguagePair> {
        self.modes.iter().map(|(pair, _)| pair.clone()).collect()
    }

    fn translate(
        &self,
        pair: &LanguagePair,
        segments: &[String],
    ) -> Result<Vec<Result<EngineOutput, String>>, EngineError> {
        let mode = self.mode(pair)?.to_string();
        let mut results = vec![Ok(EngineOutput::default()); segments.len()];

        // Blank segments would vanish between the blank-line separators.
        let (indices, texts): (Vec<usize>, Vec<String>) = segments
            .iter()
            .enumerate()
            .filter(|(_, segment)| !segment.trim().is_empty())
            .map(|(i, segment)| (i, segment.trim().to_string()))
            .unzip();
        if texts.is_empty() {
            return Ok(results);
        }

        let english = pair.source == "en";
        let prepared: Vec<Prepared> = texts
            .iter()
            .map(|text| Prepared::new(text, english))
            .collect();
        // Acronyms Apertium misreads, or lacks as an earlier output showed,
        // go with a stand-in from the start (see [`AcronymSwap`]).
        let lacking = |acronym: &str| {
            let lacking = self.lacking.lock().unwrap_or_else(|p| p.into_inner());
            lacking.contains(&format!("{mode} {acronym}"))
        };
        let upfront: Vec<Option<AcronymSwap>> = prepared
            .iter()
            .map(|p| {
                let plain = english && p.stand_in.is_none();
                plain.then(|| AcronymSwap::find(&p.sent, lacking)).flatten()
            })
            .collect();
        let sent: Vec<String> = (prepared.iter().zip(&upfront))
            .map(|(p, swap)| swap.as_ref().map_or(&p.sent, |swap| &swap.sent).clone())
            .collect();
        let mut outputs = self.translate_split(&mode, &sent);
        // The genitive rules can repeat or drop a stand-in name. A segment
        // whose output does not contain it once is sent again without it.
        let mut retry = Vec::new();
        for (index, (output, prepared)) in outputs.iter_mut().zip(&prepared).enumerate() {
            if let (Ok(text), Some(stand_in)) = (output.as_mut(), &prepared.stand_in) {
                match stand_in.restore(text) {
                    // Apertium may still miss the genitive: "John es regalo
                    // muy propio" for "John's very own gift".
                    Some(restored) if pair.target != "es" || stand_in.spanish_genitive(text) => {
                        *text = restored
                    }
                    _ => retry.push(index),
                }
            }
        }
        let mut case_sources: Vec<&str> = prepared.iter().map(|p| p.named.as_str()).collect();
        if !retry.is_empty() {
            let plain: Vec<String> = retry
                .iter()
                .map(|&index| prepared[index].without_stand_in.clone())
                .collect();
            for (index, output) in retry.iter().zip(self.translate_split(&mode, &plain)) {
                outputs[*index] = output;
                case_sources[*index] = &texts[*index];
            }
        }
        // An acronym Apertium marked unknown is learned, and its segment is
        // sent again with a stand-in. A segment whose stand-in did not come
        // back is sent again as it is.
        if english {
            let mut again: Vec<(usize, String, Option<AcronymSwap>)> = Vec::new();
            for (index, output) in outputs.iter_mut().enumerate() {
                let Ok(raw) = output.as_mut() else { continue };
                if let Some(swap) = &upfront[index] {
                    match swap.restore(raw) {
                        Some(restored) => *raw = restored,
                        None => again.push((index, prepared[index].sent.clone(), None)),
                    }
                    continue;
                }
                // A segment with a possessive's stand-in names keeps them.
                let sent = match &prepared[index].stand_in {
                    None => &prepared[index].sent,
                    Some(_) if retry.contains(&index) => &prepared[index].without_stand_in,
                    Some(_) => continue,
                };
                let unknown = |acronym: &str| raw.contains(&format!("*{acronym}"));
                if let Some(swap) = AcronymSwap::find(sent, |a| unknown(a) || lacking(a)) {
                    let mut learned = self.lacking.lock().unwrap_or_else(|p| p.into_inner());
                    for (acronym, _) in &swap.swaps {
                        if unknown(acronym) {
                            learned.insert(format!("{mode} {acronym}"));
                        }
                    }
                    again.push((index, swap.sent.clone(), Some(swap)));
                }
            }
            if !again.is_empty() {
                let texts: Vec<String> = again.iter().map(|(_, text, _)| text.clone()).collect();
                for ((index, _, swap), output) in
                    again.iter().zip(self.translate_split(&mode, &texts))
                {
                    let restored = match swap {
                        Some(swap) => output.ok().and_then(|text| swap.restore(&text)).map(Ok),
                        None => Some(output),
                    };
                    if let Some(restored) = restored {
                        outputs[*index] = restored;
                    }
                }
            }
        }
        // German capitalizes nouns, so there a capital does not mark the start.
        let keep_capitals = pair.target == "de";
        for (((index, source), output), case_source) in indices
            .into_iter()
            .zip(&texts)
            .zip(outputs)
            .zip(case_sources)
        {
            results[index] = output.map(|text| {
                let mut output = strip_marks(&text, source);
                unmark_tokens(&mut output);
                // A possessive left after a token is lost ("para ⟦1⟧
                // cumpleaños"): it counts as a word the engine did not know.
                for token in crate::protect::token_regex().find_iter(case_source) {
                    if possessive_at(case_source, token.end()) {
                        output.unknown_words.push(format!("{}'s", token.as_str()));
                    }
                }
                if !keep_capitals {
                    output.text = follow_initial_case(case_source, &output.text);
                }
                output
            });
        }
        Ok(results)
    }
}

/// Apertium capitalizes the first word of every segment. A segment whose
/// source starts in lower case (an attribute value such as "red", a list
/// item, the rest of a sentence after a tag) keeps a lower-case start:
/// "rojo", not "Rojo". Acronyms ("USB") stay as they are.
fn follow_initial_case(source: &str, output: &str) -> String {
    let source_starts_lower = source
        .chars()
        .find(|c| c.is_alphabetic())
        .is_some_and(char::is_lowercase);
    let Some((start, first)) = output.char_indices().find(|(_, c)| c.is_alphabetic()) else {
        return output.to_string();
    };
    let next = output[start + first.len_utf8()..].chars().next();
    if !source_starts_lower || !first.is_uppercase() || next.is_some_and(char::is_uppercase) {
        return output.to_string();
    }
    let end = start + first.len_utf8();
    format!(
        "{}{}{}",
        &output[..start],
        first.to_lowercase(),
        &output[end..]
    )
}

/// Apertium's English genitive rules read an apostrophe and an "'s" up to
/// six words later as a quotation, across segments too: "Girls' red
/// hoodie" before "Men's red hoodie" made the second "Hombres' algodón
/// rojo" instead of "… de los hombres". These seven periods, sent after a
/// segment with a loose apostrophe, keep the next segment out of reach;
/// their output is dropped.
const BARRIER: &str = ". . . . . . .";

/// A sentence end, sent after a segment without one. A blank line does not
/// end a sentence for Apertium's transfer rules, which moved words across
/// it: "Tile garden no" before "Mr. Smith's red mug" came out as "Señor de
/// núm" and "de jardín de azulejo Smith…". Its output is dropped.
const SENTENCE_END: &str = ".";

/// Returns what to send after `segment` to keep the next one out of reach
/// of Apertium's rules, if anything.
fn barrier_after(segment: &str) -> Option<&'static str> {
    if has_loose_apostrophe(segment) {
        return Some(BARRIER);
    }
    let end = segment.trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, '"' | '”' | '»' | ')' | ']' | '\'' | '’')
    });
    (!end.ends_with(['.', '!', '?', '…'])).then_some(SENTENCE_END)
}

/// Tells whether `segment` has an apostrophe or single quote that is not
/// between two letters: "Girls' hoodie", "'Model 10'".
fn has_loose_apostrophe(segment: &str) -> bool {
    let chars: Vec<char> = segment.chars().collect();
    chars.iter().enumerate().any(|(index, &c)| {
        matches!(c, '\'' | '’' | '‘')
            && !(index > 0
                && chars[index - 1].is_alphanumeric()
                && chars
                    .get(index + 1)
                    .is_some_and(|next| next.is_alphanumeric()))
    })
}

/// Writes English plural possessives as "s's": "Girls' hoodie" becomes
/// "Girls's hoodie". An apostrophe after an opening quote mark ("the
/// 'best sellers' list") is a closing quote and stays.
fn plural_possessives(text: &str) -> String {
    static POSSESSIVE: OnceLock<Regex> = OnceLock::new();
    let possessive =
        POSSESSIVE.get_or_init(|| Regex::new(r"(?i)(\p{L}s)(['’])(\s)").expect("valid regex"));
    let mut out = String::with_capacity(text.len() + 8);
    let mut cursor = 0;
    for caps in possessive.captures_iter(text) {
        let whole = caps.get(0).expect("whole match");
        let quoted = text[..whole.start()]
            .char_indices()
            .any(|(index, c)| matches!(c, '\'' | '‘') && crate::segment::opens_quote(text, index));
        if quoted {
            continue;
        }
        let mark = caps.get(2).expect("group 2");
        out.push_str(&text[cursor..mark.end()]);
        out.push('s');
        cursor = mark.end();
    }
    out.push_str(&text[cursor..]);
    out
}

/// A segment as sent to Apertium, with the edits its English analyser
/// needs.
struct Prepared {
    /// The text with plural possessives as "s's" and a stand-in name,
    /// which decides the case of the output's start.
    named: String,
    stand_in: Option<StandIn>,
    /// The text sent: `named`, with word-like mask tokens where it has a
    /// possessive.
    sent: String,
    /// The text to send when the stand-in name does not come back.
    without_stand_in: String,
}

impl Prepared {
    fn new(text: &str, english: bool) -> Prepared {
        if !english {
            return Prepared {
                named: text.to_string(),
                stand_in: None,
                sent: text.to_string(),
                without_stand_in: text.to_string(),
            };
        }
        // Apertium's English analyser reads a plural possessive ("Girls'
        // hoodie") as a quote mark and leaves it, but translates "Girls's
        // hoodie" as "… de las chicas".
        let plain = coordinated_possessives(&plural_possessives(text));
        let stand_in = StandIn::find(&plain);
        let named = match &stand_in {
            Some(stand_in) => stand_in.apply(&plain),
            None => plain.clone(),
        };
        Prepared {
            sent: word_tokens(&named),
            without_stand_in: word_tokens(&plain),
            named,
            stand_in,
        }
    }
}

/// Tells whether a possessive "'s" starts at byte `at` of `text`.
fn possessive_at(text: &str, at: usize) -> bool {
    let rest = &text[at..];
    rest.strip_prefix("'s")
        .or_else(|| rest.strip_prefix("’s"))
        .is_some_and(|after| !after.chars().next().is_some_and(char::is_alphanumeric))
}

/// Writes the mask tokens of a text with a possessive as unknown words:
/// "⟦x1⟧" for "⟦1⟧". The genitive rules read the digit of a token as a
/// number in the possessor's noun phrase and move the words around it,
/// breaking the token: "⟦1⟧ women's shoes" came out as "⟦Los zapatos de
/// 1⟧ mujeres", "⟦x1⟧ women's shoes" as "⟦x1⟧ los zapatos de las mujeres".
fn word_tokens(text: &str) -> String {
    if !text.char_indices().any(|(at, _)| possessive_at(text, at)) {
        return text.to_string();
    }
    crate::protect::token_regex()
        .replace_all(text, "⟦x${1}⟧")
        .into_owned()
}

/// Turns the word-like tokens of [`word_tokens`] back into mask tokens,
/// and takes them off the unknown words.
fn unmark_tokens(output: &mut EngineOutput) {
    static WORD_TOKEN: OnceLock<Regex> = OnceLock::new();
    let word_token = WORD_TOKEN.get_or_init(|| Regex::new(r"⟦\s*x(\d+)\s*⟧").expect("valid regex"));
    if !output.text.contains("⟦") {
        return;
    }
    output.text = word_token.replace_all(&output.text, "⟦${1}⟧").into_owned();
    output.unknown_words.retain(|word| {
        !(word.starts_with('x') && word.len() > 1 && word[1..].chars().all(|c| c.is_ascii_digit()))
    });
}

/// Proper names in Apertium's English dictionary, which it leaves
/// untranslated.
const STAND_IN_NAMES: [&str; 3] = ["John", "Mary", "Paul"];

/// Proper names standing in for the mask tokens of a possessive.
///
/// To Apertium a mask token is an unknown word, and its genitive rules
/// drop the "'s" after one: "Gift box for ⟦1⟧'s birthday" came out as
/// "Caja de regalo para ⟦1⟧ cumpleaños". With a name from its dictionary
/// in the token's place, the same rules give "… para el cumpleaños de
/// John", and the token then takes the name's place. Tokens side by side
/// ("⟦1⟧ ⟦2⟧'s notebook", a first and last name) share one name, and a
/// token coordinated with the possessor ("⟦1⟧ and ⟦2⟧'s album") gets its
/// own. Only a segment with one possessive is edited: the rules mix up
/// several ("John's birthday and Mary's friends").
#[derive(Debug, Clone, PartialEq)]
struct StandIn {
    /// Each run of tokens, as written, with its name.
    runs: Vec<(String, &'static str)>,
}

impl StandIn {
    /// Finds the tokens that make the possessor of the only possessive of
    /// `text`, and names `text` does not contain.
    fn find(text: &str) -> Option<StandIn> {
        let possessives: Vec<usize> = text
            .char_indices()
            .map(|(at, _)| at)
            .filter(|&at| possessive_at(text, at))
            .collect();
        let [possessive] = possessives[..] else {
            return None;
        };

        let tokens: Vec<regex::Match<'_>> = crate::protect::token_regex().find_iter(text).collect();
        // The run of tokens that ends at `end`, joined by single spaces.
        let run_before = |end: usize| -> Option<usize> {
            let mut start = tokens.iter().find(|token| token.end() == end)?.start();
            while let Some(token) = tokens
                .iter()
                .find(|token| token.end() + 1 == start && &text[token.end()..start] == " ")
            {
                start = token.start();
            }
            Some(start)
        };

        // "Gift for ⟦1⟧'s." has no possessed noun, and Apertium reads
        // "John's." as "John is".
        let after = text[possessive..]
            .strip_prefix("'s")
            .or_else(|| text[possessive..].strip_prefix("’s"))?;
        let followed = after
            .strip_prefix(' ')
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_alphabetic() || c == '⟦'));
        if !followed {
            return None;
        }

        let start = run_before(possessive)?;
        let mut runs = vec![(start, possessive)];
        let head = text[..start].to_lowercase();
        let joined = [" and ", " or ", " & "]
            .iter()
            .find(|joint| head.ends_with(*joint));
        if let Some(joint) = joined {
            let end = start - joint.len();
            if let Some(other) = run_before(end) {
                runs.insert(0, (other, end));
            }
        }

        let lower = text.to_lowercase();
        let mut names = STAND_IN_NAMES
            .into_iter()
            .filter(|name| !lower.contains(&name.to_lowercase()));
        let runs = runs
            .into_iter()
            .map(|(start, end)| Some((text[start..end].to_string(), names.next()?)))
            .collect::<Option<Vec<_>>>()?;
        Some(StandIn { runs })
    }

    /// Writes the names in place of their tokens.
    fn apply(&self, text: &str) -> String {
        self.runs
            .iter()
            .fold(text.to_string(), |text, (run, name)| {
                text.replacen(run, name, 1)
            })
    }

    /// Tells whether a Spanish `output` writes the genitive: the first
    /// name after "de" ("el cumpleaños de John"), and no name followed by
    /// "es" ("is").
    fn spanish_genitive(&self, output: &str) -> bool {
        let Some((_, first)) = self.runs.first() else {
            return false;
        };
        let lower = output.to_lowercase();
        let after_de = [" de ", " del "]
            .iter()
            .any(|de| lower.contains(&format!("{de}{}", first.to_lowercase())));
        let read_as_is = self.runs.iter().any(|(_, name)| {
            output
                .match_indices(&format!("{name} es"))
                .any(|(at, found)| !output[at + found.len()..].starts_with(char::is_alphabetic))
        });
        after_de && !read_as_is
    }

    /// Puts the tokens back in place of their names, or returns `None`
    /// unless the output contains each name exactly once.
    fn restore(&self, output: &str) -> Option<String> {
        let mut restored = output.to_string();
        for (run, name) in &self.runs {
            if restored.matches(name).count() != 1 {
                return None;
            }
            restored = restored.replacen(name, run, 1);
        }
        Some(restored)
    }
}

/// Acronyms in Apertium's English dictionary that the Spanish output
/// keeps as they are, read as nouns: "GPS lamp" gives "Lámpara de GPS".
const STAND_IN_ACRONYMS: [&str; 4] = ["GPS", "DVD", "PC", "CD"];

/// Acronyms Apertium reads as English words: "LED lamp" came out as
/// "Lámpara dirigida" (led, the past of lead).
const MISREAD_ACRONYMS: [&str; 1] = ["LED"];

/// Known acronyms standing in for those Apertium does not know or misreads.
///
/// An unknown word before a noun stays in front of it with the article
/// repeated ("El *HDMI el cable" for "The HDMI cable"), and "LED" is read
/// as a verb. With an acronym of its dictionary in their place, Apertium
/// writes "El cable de GPS", and the acronym then takes its place back:
/// "El cable de HDMI", "Lámpara de LED".
#[derive(Debug, Clone, PartialEq)]
struct AcronymSwap {
    /// Each acronym, with the one standing in for it.
    swaps: Vec<(String, &'static str)>,
    /// The text to send, with the stand-ins.
    sent: String,
}

/// Matches a word of two to five capitals: a possible acronym or stand-in.
fn capitals_regex() -> &'static Regex {
    static WORD: OnceLock<Regex> = OnceLock::new();
    WORD.get_or_init(|| Regex::new(r"\b[A-Z]{2,5}\b").expect("valid regex"))
}

impl AcronymSwap {
    /// Finds the acronyms of `text` that Apertium misreads or `lacks`, and
    /// stand-ins `text` does not contain.
    fn find(text: &str, lacks: impl Fn(&str) -> bool) -> Option<AcronymSwap> {
        let words: Vec<&str> = capitals_regex()
            .find_iter(text)
            .map(|found| found.as_str())
            .collect();
        let mut acronyms: Vec<&str> = words
            .iter()
            .copied()
            .filter(|&word| crate::casing::is_acronym(word))
            .filter(|&word| MISREAD_ACRONYMS.contains(&word) || lacks(word))
            .collect();
        acronyms.sort_unstable();
        acronyms.dedup();
        let mut free = STAND_IN_ACRONYMS
            .into_iter()
            .filter(|stand_in| !words.contains(stand_in));
        let swaps = acronyms
            .into_iter()
            .map(|acronym| Some((acronym.to_string(), free.next()?)))
            .collect::<Option<Vec<_>>>()?;
        if swaps.is_empty() {
            return None;
        }
        let sent = capitals_regex()
            .replace_all(text, |word: &regex::Captures<'_>| {
                let word = &word[0];
                swaps
                    .iter()
                    .find(|(acronym, _)| acronym == word)
                    .map_or(word, |(_, stand_in)| *stand_in)
                    .to_string()
            })
            .into_owned();
        Some(AcronymSwap { swaps, sent })
    }

    /// Puts the acronyms back in place of their stand-ins, or returns
    /// `None` unless each stand-in came out, unmarked, as often as its
    /// acronym went in.
    fn restore(&self, output: &str) -> Option<String> {
        let count = |text: &str, stand_in: &str| {
            capitals_regex()
                .find_iter(text)
                .filter(|found| found.as_str() == stand_in)
                .count()
        };
        for (_, stand_in) in &self.swaps {
            if count(output, stand_in) != count(&self.sent, stand_in)
                || output.contains(&format!("*{stand_in}"))
            {
                return None;
            }
        }
        let restored = capitals_regex().replace_all(output, |word: &regex::Captures<'_>| {
            let word = &word[0];
            self.swaps
                .iter()
                .find(|(_, stand_in)| *stand_in == word)
                .map_or(word, |(acronym, _)| acronym.as_str())
                .to_string()
        });
        Some(restored.into_owned())
    }
}

/// Keeps the last "'s" of coordinated possessives: "Men's and women's
/// shoes" becomes "Men and women's shoes". Apertium read the first "'s" as
/// "is" ("Los hombres es y los zapatos de las mujeres"), but translates
/// the edited form as "Los zapatos de los hombres y las mujeres".
fn coordinated_possessives(text: &str) -> String {
    static COORDINATED: OnceLock<Regex> = OnceLock::new();
    let coordinated = COORDINATED.get_or_init(|| {
        Regex::new(r"(?i)(\b\p{L}+|⟦\d+⟧)['’]s(\s+(?:and|or|&)\s+(?:\p{L}+|⟦\d+⟧)['’]s\b)")
            .expect("valid regex")
    });
    coordinated
        .replace_all(text, |caps: &regex::Captures<'_>| {
            // "It's and …" is a contraction, not a possessive.
            let word = caps[1].to_lowercase();
            if [
                "it", "that", "what", "there", "here", "he", "she", "who", "let",
            ]
            .contains(&word.as_str())
            {
                caps[0].to_string()
            } else {
                format!("{}{}", &caps[1], &caps[2])
            }
        })
        .into_owned()
}

/// Parses `apertium -l`: one mode a line, keeping `xxx-yyy` modes and
/// skipping variants (`spa-eng_US`) and debugging modes.
fn parse_modes(listing: &str) -> Vec<(LanguagePair, String)> {
    let mut modes = Vec::new();
    for mode in listing.split_whitespace() {
        let Some((source, target)) = mode.split_once('-') else {
            continue;
        };
        let plain = |code: &str| code.chars().all(|c| c.is_ascii_lowercase());
        if !plain(source) || !plain(target) {
            continue;
        }
        let pair = LanguagePair::new(source, target);
        if !modes.iter().any(|(known, _)| known == &pair) {
            modes.push((pair, mode.to_string()));
        }
    }
    modes
}

/// Splits Apertium output at blank lines.
fn split_blank_lines(text: &str) -> Vec<String> {
    static SEPARATOR: OnceLock<Regex> = OnceLock::new();
    let separator = SEPARATOR.get_or_init(|| Regex::new(r"\n[ \t]*\n").expect("valid regex"));
    let trimmed = text.trim_end_matches(['\n', ' ', '\t']);
    if trimmed.trim().is_empty() {
        return Vec::new();
    }
    separator
        .split(trimmed)
        .map(|part| part.trim_matches('\n').to_string())
        .collect()
}

/// Removes Apertium's word marks, collecting the marked words.
///
/// `*` before a word is always a mark. `#` and `@` are marks only when
/// `source` has none of them: Apertium copies a `#1` or `@shop` of the
/// input, and those must stay.
fn strip_marks(text: &str, source: &str) -> EngineOutput {
    static MARK: OnceLock<Regex> = OnceLock::new();
    // A mark starts a word: at the start, or after anything that is not a
    // letter or digit (space, punctuation, a mask token's bracket).
    let mark = MARK.get_or_init(|| {
        Regex::new(r"(^|[^\p{L}])([*#@])([\p{L}\p{N}](?:[\p{L}\p{N}']|-[\p{L}\p{N}])*)")
            .expect("valid regex")
    });
    let mut unknown_words = Vec::new();
    let stripped = mark.replace_all(text, |caps: &regex::Captures<'_>| {
        let sign = &caps[2];
        let after_digit = caps[1].starts_with(|c: char| c.is_numeric());
        // "10*pcs" is an unknown word glued to a number; "5*3" is not a mark.
        let kept = if after_digit {
            !caps[3].starts_with(|c: char| c.is_alphabetic())
                || source.contains(&format!("{sign}{}", &caps[3]))
        } else {
            sign != "*" && source.contains(sign)
        };
        if kept {
            return caps[0].to_string();
        }
        unknown_words.push(caps[3].to_string());
        format!("{}{}", &caps[1], &caps[3])
    });
    // Apertium can glue a marked word to the word before it: "'Model"
    // read as "'m" + "odel" comes out as "soy*odel".
    static GLUED: OnceLock<Regex> = OnceLock::new();
    let glued = GLUED.get_or_init(|| {
        Regex::new(r"(\p{L})\*([\p{L}\p{N}][\p{L}\p{N}'-]*)").expect("valid regex")
    });
    let text = if source.contains('*') {
        stripped.into_owned()
    } else {
        glued
            .replace_all(&stripped, |caps: &regex::Captures<'_>| {
                unknown_words.push(caps[2].to_string());
                format!("{}{}", &caps[1], &caps[2])
            })
            .into_owned()
    };
    EngineOutput {
        text,
        unknown_words,
    }
}

/// Debian package of the Apertium data for `pair`, to name in errors.
pub fn package_for(pair: &LanguagePair) -> String {
    let iso3 = |code: &str| {
        Language::lookup(code)
            .map(|language| language.iso3.to_string())
            .unwrap_or_else(|| code.to_string())
    };
    format!("apertium-{}-{}", iso3(&pair.source), iso3(&pair.target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_possessives_get_an_s() {
        assert_eq!(
            plural_possessives("Girls' red hoodie"),
            "Girls's red hoodie"
        );
        assert_eq!(plural_possessives("Kids’ shoes"), "Kids’s shoes");
        assert_eq!(
            plural_possessives("Kids' and ladies' coats"),
            "Kids's and ladies's coats"
        );
        // Singular names ending in s take the same form.
        assert_eq!(plural_possessives("James' book"), "James's book");
        for kept in ["Women's hoodie", "the 'best sellers' list", "Girls'"] {
            assert_eq!(plural_possessives(kept), kept);
        }
    }

    #[test]
    fn stand_in_replaces_possessive_token() {
        let stand_in = StandIn::find("Gift box for ⟦1⟧'s birthday.").unwrap();
        assert_eq!(stand_in.runs, [("⟦1⟧".to_string(), "John")]);
        assert_eq!(
            stand_in.apply("Gift box for ⟦1⟧'s birthday."),
            "Gift box for John's birthday."
        );
        assert_eq!(
            stand_in.restore("Caja de regalo para el cumpleaños de John."),
            Some("Caja de regalo para el cumpleaños de ⟦1⟧.".to_string())
        );
        assert_eq!(stand_in.restore("El John de John"), None);
        assert_eq!(stand_in.restore("Caja de regalo"), None);
        // A name the text contains is not used.
        assert_eq!(
            StandIn::find("John loves ⟦2⟧’s mugs").map(|s| s.runs),
            Some(vec![("⟦2⟧".to_string(), "Mary")])
        );
        for kept in [
            "Gift for ⟦1⟧'s.",
            "⟦1⟧'s",
            "⟦1⟧'s birthday and ⟦2⟧'s friends",
            "Women's ⟦1⟧ shoes",
            "⟦1⟧'sx",
            "Gift box for ⟦1⟧",
        ] {
            assert_eq!(StandIn::find(kept), None, "{kept}");
        }
    }

    #[test]
    fn stand_in_covers_token_runs_and_pairs() {
        let side_by_side = StandIn::find("⟦1⟧ ⟦2⟧'s notebook").unwrap();
        assert_eq!(side_by_side.runs, [("⟦1⟧ ⟦2⟧".to_string(), "John")]);
        let pair = StandIn::find("⟦1⟧ and ⟦2⟧'s album").unwrap();
        assert_eq!(
            pair.runs,
            [("⟦1⟧".to_string(), "John"), ("⟦2⟧".to_string(), "Mary")]
        );
        assert_eq!(
            pair.restore("El álbum de John y Mary"),
            Some("El álbum de ⟦1⟧ y ⟦2⟧".to_string())
        );
    }

    #[test]
    fn coordinated_possessives_keep_last() {
        assert_eq!(
            coordinated_possessives("Men's and women's shoes"),
            "Men and women's shoes"
        );
        assert_eq!(
            coordinated_possessives("Boys’s & girls’s hoodies"),
            "Boys & girls’s hoodies"
        );
        for kept in [
            "Men's shoes and women's hats",
            "It's and that's all",
            "Women's shoes",
        ] {
            assert_eq!(coordinated_possessives(kept), kept);
        }
    }

    #[test]
    fn lower_case_sources_keep_a_lower_case_start() {
        assert_eq!(follow_initial_case("red", "Rojo"), "rojo");
        assert_eq!(
            follow_initial_case("solid oak", "Roble sólido"),
            "roble sólido"
        );
        assert_eq!(
            follow_initial_case("⟦1⟧ red mug", "⟦1⟧ Taza roja"),
            "⟦1⟧ taza roja"
        );
        assert_eq!(follow_initial_case("usb cable", "USB cable"), "USB cable");
        assert_eq!(follow_initial_case("Red mug", "Taza roja"), "Taza roja");
        assert_eq!(follow_initial_case("3 mugs", "3 Tazas"), "3 tazas");
    }

    #[test]
    fn parse_modes_maps_iso3_and_skips_variants() {
        let modes = parse_modes("  eng-spa\n  spa-eng\n  spa-eng_US\n");
        assert_eq!(modes.len(), 2);
        assert_eq!(modes[0].0, LanguagePair::new("en", "es"));
        assert_eq!(modes[0].1, "eng-spa");
    }

    #[test]
    fn strip_marks_counts_unknown_words() {
        let output = strip_marks(
            "Rojo *WOOLLY *hottie corazón #blanco, 5 * 3",
            "Red WOOLLY hottie heart white, 5 * 3",
        );
        assert_eq!(output.text, "Rojo WOOLLY hottie corazón blanco, 5 * 3");
        assert_eq!(output.unknown_words, vec!["WOOLLY", "hottie", "blanco"]);
        let hyphenated = strip_marks("*jean-*paul", "Jean-Paul");
        assert_eq!(hyphenated.text, "jean-paul");
        let glued = strip_marks("Banda de 10*pcs en 2*xl, 5*3", "Pack of 10pcs in 2xl, 5*3");
        assert_eq!(glued.text, "Banda de 10pcs en 2xl, 5*3");
        assert_eq!(glued.unknown_words, vec!["pcs", "xl"]);
        let after_word = strip_marks("El soy*odel 10' lámpara", "The 'Model 10' lamp");
        assert_eq!(after_word.text, "El soyodel 10' lámpara");
        assert_eq!(after_word.unknown_words, vec!["odel"]);
        // A star the source has between letters stays.
        let kept = strip_marks("Marca A*B", "Brand A*B");
        assert_eq!(kept.text, "Marca A*B");
    }

    #[test]
    fn strip_marks_next_to_tokens_and_markup() {
        // What Apertium 3.8.3 eng-spa returns for masked text and for
        // stray markup of malformed HTML.
        let output = strip_marks(
            "El ⟦1⟧*wrold⟦2⟧ es rojo <*b>*Unclosed *x&*amp;",
            "The ⟦1⟧wrold⟦2⟧ is red <b>Unclosed x&amp;",
        );
        assert_eq!(output.text, "El ⟦1⟧wrold⟦2⟧ es rojo <b>Unclosed x&amp;");
        assert_eq!(
            output.unknown_words,
            vec!["wrold", "b", "Unclosed", "x", "amp"]
        );
    }

    #[test]
    fn strip_marks_keeps_source_signs() {
        let output = strip_marks(
            "Valorado #1 vendedor, sigue @tienda, C# código, #*hashtag",
            "Rated #1 seller, follow @shop, C# code, #hashtag",
        );
        assert_eq!(
            output.text,
            "Valorado #1 vendedor, sigue @tienda, C# código, #hashtag"
        );
        assert_eq!(output.unknown_words, vec!["hashtag"]);
    }

    #[test]
    fn split_blank_lines_keeps_segments_apart() {
        assert_eq!(split_blank_lines("Uno.\n\nDos\n\n"), vec!["Uno.", "Dos"]);
        assert!(split_blank_lines("\n\n").is_empty());
    }

    #[test]
    fn acronym_swap_restores_lacking_and_misread() {
        let swap = AcronymSwap::find("The HDMI cable, the LED lamp and the USB hub.", |a| {
            a == "HDMI"
        })
        .unwrap();
        assert_eq!(
            swap.swaps,
            [("HDMI".to_string(), "GPS"), ("LED".to_string(), "DVD")]
        );
        assert_eq!(swap.sent, "The GPS cable, the DVD lamp and the USB hub.");
        assert_eq!(
            swap.restore("El cable de GPS, la lámpara de DVD y el hub de USB."),
            Some("El cable de HDMI, la lámpara de LED y el hub de USB.".to_string())
        );
        // A stand-in dropped, repeated or marked unknown keeps the first output.
        assert_eq!(swap.restore("El cable, la lámpara de DVD."), None);
        assert_eq!(swap.restore("GPS GPS DVD"), None);
        assert_eq!(swap.restore("*GPS DVD"), None);
        // A stand-in inside a longer word is not one.
        assert_eq!(
            swap.restore("GPS, DVD y GPSX"),
            Some("HDMI, LED y GPSX".to_string())
        );
    }

    #[test]
    fn acronym_swap_skips_known_and_taken() {
        // Known acronyms and capitalized words are left to Apertium.
        assert_eq!(AcronymSwap::find("USB hub for the TV", |_| false), None);
        assert_eq!(AcronymSwap::find("THE HOLDER", |_| true), None);
        // A text with GPS and PC gets the stand-ins it does not contain.
        let swap = AcronymSwap::find("LED lamp with GPS and a PC", |_| false).unwrap();
        assert_eq!(swap.swaps, [("LED".to_string(), "DVD")]);
        assert_eq!(swap.sent, "DVD lamp with GPS and a PC");
    }
}
