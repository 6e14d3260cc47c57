//! Locale rules: imperial measures, clothing and shoe sizes, prices.
//!
//! Each rule finds a span in the source and gives the text the target
//! locale expects; the span is then protected, so the engine sees one token
//! and the converted value is written with the target's number format
//! ("10.5 inches" becomes "26,7 cm" in Spanish).

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use regex::{Captures, Regex};

use crate::lang::Language;
use crate::protect::{Span, SpanKind};

/// Exchange rates, from a CSV with the header `from,to,rate`.
#[derive(Debug, Clone, Default)]
pub struct RateTable {
    rates: HashMap<(String, String), f64>,
}

/// Failure to read a rate table.
#[derive(Debug, thiserror::Error)]
pub enum RateError {
    #[error("cannot read rate table {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error(
        "rate table {path} line {line}: {message}; expected from,to,rate such as USD,EUR,0.92"
    )]
    Invalid {
        path: String,
        line: u64,
        message: String,
    },
}

impl RateTable {
    /// Reads a `from,to,rate` CSV file.
    pub fn load(path: &Path) -> Result<RateTable, RateError> {
        let path_text = path.display().to_string();
        let text =
            mercator_data::ingest::lines::read_utf8(path).map_err(|cause| RateError::Read {
                path: path_text.clone(),
                cause,
            })?;
        let mut rates = HashMap::new();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        for (index, record) in reader.records().enumerate() {
            let line = index as u64 + 2;
            let invalid = |message: String| RateError::Invalid {
                path: path_text.clone(),
                line,
                message,
            };
            let record = record.map_err(|err| invalid(err.to_string()))?;
            if record.len() != 3 {
                return Err(invalid(format!("found {} columns", record.len())));
            }
            let rate: f64 = record[2]
                .trim()
                .parse()
                .ok()
                .filter(|rate: &f64| rate.is_finite() && *rate > 0.0)
                .ok_or_else(|| {
                    invalid(format!("rate {:?} is not a positive number", &record[2]))
                })?;
            rates.insert(
                (
                    record[0].trim().to_uppercase(),
                    record[1].trim().to_uppercase(),
                ),
                rate,
            );
        }
        Ok(RateTable { rates })
    }

    pub fn rate(&self, from: &str, to: &str) -> Option<f64> {
        self.rates.get(&(from.to_string(), to.to_string())).copied()
    }
}

/// Finds measures, sizes and prices to rewrite for `target`.
///
/// `context` is the whole listing text, used to tell shoes from clothing.
pub fn detect(text: &str, target: &Language, context: &str, rates: &RateTable) -> Vec<Span> {
    let mut spans = Vec::new();
    // Every measure, size and price has a number; most sentences have none.
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return spans;
    }
    if target.metric {
        spans.extend(measures(text, target));
    }
    for span in metric_values(text, target) {
        if !overlaps(&spans, span.start, span.end) {
            spans.push(span);
        }
    }
    spans.extend(sizes(text, target, context));
    spans.extend(prices(text, target, rates));
    spans
}

/// Imperial unit: (canonical name, regex alternative).
const UNITS: &str = r#"fl\.?\s?oz\.?|fluid\s+ounces?|inch(?:es)?|in\.|"|″|feet|foot|ft\.?|'|′|pounds?|lbs?\.?|ounces?|oz\.?|gallons?|gal\.?|°\s?F|º\s?F|degrees\s+Fahrenheit|deg(?:rees?)?\.?\s*F"#;

/// Joins the sides of a dimension: "10 x 20", "10×20", "12 by 10".
const TIMES: &str = r"(?:[x×]|by)";

/// A quantity: "10.5", "10,5", "1,000", "1/2", "1 1/2" or "1-1/2".
const QUANTITY: &str = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+[\s-]\d+/\d+|\d+/\d+|\d+(?:[.,]\d+)?)";

fn measure_regex() -> &'static Regex {
    static MEASURE: OnceLock<Regex> = OnceLock::new();
    MEASURE.get_or_init(|| {
        Regex::new(&format!(
            r#"(?i)\b({QUANTITY}(?:\s*{TIMES}\s*{QUANTITY})*)\s*-?\s*({UNITS})(?:\b|\s|$|[.,;:)])"#
        ))
        .expect("valid regex")
    })
}

/// Ends a measure: a word boundary, space, the end, or punctuation.
const MEASURE_END: &str = r"(?:\b|\s|$|[.,;:)])";

/// Builds the regexes of two-unit measures ("2 lb 3 oz", "5 ft 10 in",
/// "1 gal 2 fl oz"), with "and", "&", a comma or hyphens between. Each
/// captures the larger unit's count, the smaller unit's count and the
/// smaller unit. Its number is how many of the smaller unit make one of
/// the larger.
fn compound_regexes() -> &'static [(Regex, f64)] {
    static COMPOUND: OnceLock<Vec<(Regex, f64)>> = OnceLock::new();
    COMPOUND.get_or_init(|| {
        [
            (r"pounds?|lbs?\.?", r"ounces?|oz\.?", 16.0),
            (r"feet|foot|ft\.?|'|′", r#"inch(?:es)?|in\.?|"|″"#, 12.0),
            (r"gallons?|gal\.?", r"fl\.?\s?oz\.?|fluid\s+ounces?", 128.0),
        ]
        .into_iter()
        .map(|(large, small, per)| {
            let pattern = format!(
                r"(?i)\b(\d+)\s*-?\s*(?:{large})\s*(?:,|&|and)?\s*({QUANTITY})\s*-?\s*({small}){MEASURE_END}"
            );
            (Regex::new(&pattern).expect("valid regex"), per)
        })
        .collect()
    })
}

/// Dimensions that repeat their unit: "2 in x 4 in", "3 ft × 5 ft × 2 ft",
/// "12 in by 10 in", "5'x8'". A bare "in" counts here, where "x" or "by"
/// follows it, though "2 in stock" stays as it is.
fn dimension_regexes() -> &'static [Regex] {
    static DIMENSION: OnceLock<Vec<Regex>> = OnceLock::new();
    DIMENSION.get_or_init(|| {
        [r#"inch(?:es)?|in\.?|"|″"#, r"feet|foot|ft\.?|'|′"]
            .into_iter()
            .map(|unit| {
                let part = format!(r"{QUANTITY}\s*(?:{unit})");
                Regex::new(&format!(
                    r"(?i)\b({part}(?:\s*{TIMES}\s*{part})+)(?:\b|\s|$|[.,;:)])"
                ))
                .expect("valid regex")
            })
            .collect()
    })
}

/// Splits a dimension at its "x", "×" or "by".
fn dimension_parts(text: &str) -> Vec<&str> {
    static SPLIT: OnceLock<Regex> = OnceLock::new();
    SPLIT
        .get_or_init(|| Regex::new(&format!(r"(?i)\s*{TIMES}\s*")).expect("valid regex"))
        .split(text)
        .collect()
}

/// Matches a quantity with a bare "in" where the words around it make it
/// inches: at the end of the text or before punctuation ("TV 55 in",
/// "3/4 in, brass", "10 x 12 x 2 in") or before a word of size or of a
/// thing measured in inches ([`INCH_TAIL`]: "55in diagonal", "12 in
/// shaft"). "2 in stock" does not match. Group 1 is the quantity, group 2
/// the unit.
fn bare_inch_regex() -> &'static Regex {
    static BARE: OnceLock<Regex> = OnceLock::new();
    BARE.get_or_init(|| {
        Regex::new(&format!(
            r"(?i)\b({QUANTITY}(?:\s*{TIMES}\s*{QUANTITY})*)\s*-?\s*(in){INCH_TAIL}"
        ))
        .expect("valid regex")
    })
}

/// Pattern of the text after a bare "in" that is inches: the end,
/// punctuation, a metric length given beside it ("55 in (140 cm)"), or a
/// word of size or of a thing measured in inches.
const INCH_TAIL: &str = r"(?:\s*$|\s*[,;:)]|\s*[(/]\s*\d+(?:[.,]\d+)?\s*(?:mm|cm|m)\b|\s+(?:wide|long|tall|high|deep|thick|across|diagonal|diameter|dia|length|width|height|depth|inseam|waist|drop|screen|monitor|TV|HD|4K|LED|LCD|OLED|laptop|tablet|shaft|heel|platform|blade|wheels?|rims?|tires?|tyres?|pipe|hose|tube|cable|cord|strap|zipper|frame|canvas|print|mirror|pillow|cushion|pan|skillet|pot|plate|bowl|vase|ruler|doll|figure|subwoofer|speaker|woofer|saw|knife)\b)";

/// Matches a range with a bare "in" ("Screen 32-55 in"), with the groups
/// of [`range_regex`].
fn bare_inch_range_regex() -> &'static Regex {
    static RANGE: OnceLock<Regex> = OnceLock::new();
    RANGE.get_or_init(|| {
        Regex::new(&format!(
            r"(?i)\b({QUANTITY})\s*(?:-|–|to)\s*({QUANTITY})\s*-?\s*(in){INCH_TAIL}"
        ))
        .expect("valid regex")
    })
}

/// Matches a Fahrenheit temperature or range written with a bare "F":
/// "350F", "-20F", "100-450F", "32-40 F", "max=450 F". Groups 1 and 2 are
/// the ends (2 only for a range), group 3 the space before "F". A single
/// value counts from 100 up, or below zero with the "F" attached: "32F"
/// is as likely a bra size.
fn bare_fahrenheit_regex() -> &'static Regex {
    static BARE: OnceLock<Regex> = OnceLock::new();
    BARE.get_or_init(|| {
        Regex::new(r"(?:^|[\s(/:~=])(-?\d{1,3})(?:\s*(?:-|–|to)\s*(-?\d{1,3}))?(\s?)F\b")
            .expect("valid regex")
    })
}

/// Tells whether a unit is degrees Fahrenheit.
fn is_fahrenheit(unit: &str) -> bool {
    let unit = unit.to_lowercase();
    unit.starts_with('°') || unit.starts_with('º') || unit.starts_with("deg")
}

/// Returns the start of a minus sign right before `start` ("-40°F",
/// "(−40°F)"), unless the character there is a hyphen that joins words
/// ("A-40").
fn minus_before(text: &str, start: usize) -> Option<usize> {
    let mut before = text[..start].chars().rev();
    let sign = before.next().filter(|c| matches!(c, '-' | '−'))?;
    before
        .next()
        .is_none_or(|c| c.is_whitespace() || "(:=~/[".contains(c))
        .then(|| start - sign.len_utf8())
}

/// Tells whether a foot or inch mark after a number is really a quote
/// mark: one followed by a letter or digit ("90's"), one after a space,
/// or one that closes a quotation opened earlier ("'Model 10'").
fn mark_is_quote(text: &str, number_start: usize, unit: regex::Match<'_>) -> bool {
    let Some(mark) = unit
        .as_str()
        .chars()
        .next()
        .filter(|c| "'\"′″".contains(*c))
    else {
        return false;
    };
    if unit.as_str().chars().count() != 1 {
        return false;
    }

    let after = text[unit.end()..].chars().next();
    let before = text[..unit.start()].chars().next_back();
    if after.is_some_and(char::is_alphanumeric) || !before.is_some_and(|c| c.is_ascii_digit()) {
        return true;
    }

    // The mark closes a quotation when the last such mark before the
    // number opened one.
    let mut open = false;
    for (index, c) in text[..number_start].char_indices() {
        if c != mark {
            continue;
        }
        if crate::segment::opens_quote(text, index) {
            open = true;
        } else if text[..index]
            .chars()
            .next_back()
            .is_some_and(|p| !p.is_whitespace())
        {
            open = false;
        }
    }
    open
}

/// Matches a metric value or range right after a measure, in parentheses
/// or after a slash: " (1.8 m)", " / 237 ml", " (0-4 °C)". The groups are
/// `open`, `from`, `to`, `unit` and `close`. A parenthesis must be closed, and a slash must not.
fn metric_note_regex() -> &'static Regex {
    static NOTE: OnceLock<Regex> = OnceLock::new();
    NOTE.get_or_init(|| {
        Regex::new(&format!(
            r"^\s*(?P<open>[(/])\s*{METRIC_VALUE}\b(?P<close>\s*\))?"
        ))
        .expect("valid regex")
    })
}

/// Matches a range of one unit ("5-10 lbs", "8 to 12 inches"), capturing
/// the two quantities and the unit.
fn range_regex() -> &'static Regex {
    static RANGE: OnceLock<Regex> = OnceLock::new();
    RANGE.get_or_init(|| {
        Regex::new(&format!(
            r#"(?i)\b({QUANTITY})\s*(?:-|–|to)\s*(-?{QUANTITY})\s*-?\s*({UNITS}){MEASURE_END}"#
        ))
        .expect("valid regex")
    })
}

fn measures(text: &str, target: &Language) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    for (regex, per) in compound_regexes() {
        for caps in regex.captures_iter(text) {
            let large: f64 = caps[1].parse().unwrap_or(0.0);
            let Some(small) = quantity(&caps[2]) else {
                continue;
            };
            let unit = caps.get(3).expect("group 3");
            let total = format!("{}", large * per + small);
            let Some(rewritten) = convert(&total, unit.as_str(), target) else {
                continue;
            };
            let start = caps.get(1).expect("group 1").start();
            spans.push(measure_span(text, target, start, unit, rewritten));
        }
    }
    let ranges = range_regex()
        .captures_iter(text)
        .chain(bare_inch_range_regex().captures_iter(text));
    for caps in ranges {
        let whole = caps.get(0).expect("whole match");
        if overlaps(&spans, whole.start(), whole.end()) {
            continue;
        }
        let unit = caps.get(3).expect("group 3");
        let mut start = caps.get(1).expect("group 1").start();
        let mut from = caps[1].to_string();
        let fahrenheit = is_fahrenheit(unit.as_str());
        if let Some(sign) = minus_before(text, start).filter(|_| fahrenheit) {
            start = sign;
            from.insert(0, '-');
        }
        if caps[2].starts_with('-') && !fahrenheit {
            continue;
        }
        // "1-1/2" is one and a half, not a range down to a half.
        if !matches!((quantity(&from), quantity(&caps[2])), (Some(a), Some(b)) if a < b) {
            continue;
        }
        // Both ends share the unit that suits the larger one.
        let Some(rewritten) = convert(&format!("{from} x {}", &caps[2]), unit.as_str(), target)
        else {
            continue;
        };
        let rewritten = as_range(rewritten);
        spans.push(measure_span(text, target, start, unit, rewritten));
    }
    for regex in dimension_regexes() {
        for caps in regex.captures_iter(text) {
            let whole = caps.get(1).expect("group 1");
            if overlaps(&spans, whole.start(), whole.end()) {
                continue;
            }
            let parts = dimension_parts(whole.as_str());
            let unit_of = |part: &str| {
                part.trim()
                    .trim_start_matches(|c: char| c.is_ascii_digit() || " .,/-".contains(c))
                    .to_string()
            };
            let unit = unit_of(parts.last().expect("one part or more"));
            let numbers: Vec<String> = parts
                .iter()
                .map(|part| {
                    let part = part.trim();
                    part[..part.len() - unit_of(part).len()].trim().to_string()
                })
                .collect();
            let unit = if unit.to_ascii_lowercase().starts_with('f') || unit == "'" || unit == "′"
            {
                "feet"
            } else {
                "inches"
            };
            let Some(rewritten) = convert(&numbers.join(" x "), unit, target) else {
                continue;
            };
            spans.push(measure_span(text, target, whole.start(), whole, rewritten));
        }
    }
    for caps in bare_fahrenheit_regex().captures_iter(text) {
        let from = caps.get(1).expect("group 1");
        let whole_end = caps.get(0).expect("whole match").end();
        let value = |m: regex::Match<'_>| m.as_str().parse::<f64>().ok();
        let numbers = match caps.get(2) {
            Some(to) => match (value(from), value(to)) {
                (Some(a), Some(b)) if a < b => format!("{} x {}", from.as_str(), to.as_str()),
                _ => continue,
            },
            None => {
                let Some(a) = value(from) else { continue };
                let spaced = !caps[3].is_empty();
                if (a < 0.0 && spaced) || (0.0..100.0).contains(&a) {
                    continue;
                }
                from.as_str().to_string()
            }
        };
        if overlaps(&spans, from.start(), whole_end) {
            continue;
        }
        if let Some(rewritten) = convert(&numbers, "°F", target) {
            let (end, replacement) =
                metric_note(text, target, whole_end).unwrap_or((whole_end, as_range(rewritten)));
            spans.push(Span {
                start: from.start(),
                end,
                kind: SpanKind::Measure,
                replacement,
            });
        }
    }
    let found = measure_regex()
        .captures_iter(text)
        .map(|caps| (caps, false))
        .chain(
            bare_inch_regex()
                .captures_iter(text)
                .map(|caps| (caps, true)),
        );
    for (caps, bare_inch) in found {
        let numbers = caps.get(1).expect("group 1");
        let unit = caps.get(2).expect("group 2");
        // "Pack of 12 in a box" counts things.
        let counted = bare_inch
            && text[..numbers.start()]
                .split_whitespace()
                .next_back()
                .is_some_and(|word| word.eq_ignore_ascii_case("of"));
        if overlaps(&spans, numbers.start(), unit.end())
            || mark_is_quote(text, numbers.start(), unit)
            || counted
        {
            continue;
        }
        let mut start = numbers.start();
        let mut value = numbers.as_str().to_string();
        if let Some(sign) = minus_before(text, start).filter(|_| is_fahrenheit(unit.as_str())) {
            start = sign;
            value.insert(0, '-');
        }
        // "3 x 4 oz" is three of four ounces: the count stays.
        let parts = dimension_parts(&value);
        if parts.len() > 1 && !is_length(unit.as_str()) {
            let last = parts.last().expect("two parts or more");
            start += value.rfind(last).unwrap_or(0);
            value = last.to_string();
        }
        let Some(rewritten) = convert(&value, unit.as_str(), target) else {
            continue;
        };
        spans.push(measure_span(text, target, start, unit, rewritten));
    }
    spans
}

/// Tells whether a unit measures length, the only one a dimension
/// ("10 x 20 in") multiplies.
fn is_length(unit: &str) -> bool {
    let unit = unit.to_lowercase();
    ["in", "\"", "″", "f", "'", "′"]
        .iter()
        .any(|prefix| unit.starts_with(prefix))
        && !unit.starts_with("fl")
}

/// Pattern of a metric unit written out, in any case: "kilograms",
/// "Metres", "kilos". [`metric_symbol`] gives its symbol.
macro_rules! metric_unit_name {
    () => {
        r"(?i:(?:milli|centi|kilo)?(?:met(?:er|re)s?|lit(?:er|re)s?|gram(?:me)?s?)|kilos?)"
    };
}
/// Finds metric values ("3.5g", "250 ml", "2.5 kilos") and writes them in
/// the target's number format with a space before the unit symbol ("3,5
/// g", "2,5 kg"). Kept whole, they also stay out of the engine's reach:
/// Apertium split "3.5g tin" into "3.5lata de g", and kept the point of
/// "2.5 kilos".
fn metric_values(text: &str, target: &Language) -> Vec<Span> {
    static METRIC: OnceLock<Regex> = OnceLock::new();
    let metric = METRIC.get_or_init(|| {
        Regex::new(concat!(
            r"\b(\d+(?:[.,]\d+)?)(?:\s?((?i:mm|cm|km|mg|kg|ml|cl)|m|g|l|L)|\s(",
            metric_unit_name!(),
            r"))\b"
        ))
        .expect("valid regex")
    });
    metric
        .captures_iter(text)
        .filter_map(|caps| {
            let number = caps.get(1).expect("group 1");
            let whole = caps.get(0).expect("whole match");
            let symbol = match (caps.get(2), caps.get(3)) {
                // "3.5KG" in a title in capitals.
                (Some(symbol), _) => &symbol.as_str().to_lowercase(),
                (None, Some(name)) => metric_symbol(name.as_str())?,
                (None, None) => return None,
            };
            let value = format_as_written(number.as_str(), target)?;
            Some(Span {
                start: number.start(),
                end: whole.end(),
                kind: SpanKind::Measure,
                replacement: format!("{value} {symbol}"),
            })
        })
        .collect()
}

/// Symbol of a metric unit written out: "kg" for "kilograms" or "kilos".
fn metric_symbol(name: &str) -> Option<&'static str> {
    let name = name.to_lowercase();
    let name = name
        .trim_end_matches('s')
        .replace("metre", "meter")
        .replace("litre", "liter")
        .replace("gramme", "gram");
    Some(match name.as_str() {
        "millimeter" => "mm",
        "centimeter" => "cm",
        "meter" => "m",
        "kilometer" => "km",
        "milliliter" => "ml",
        "centiliter" => "cl",
        "liter" => "l",
        "milligram" => "mg",
        "gram" => "g",
        "kilogram" | "kilo" => "kg",
        _ => return None,
    })
}

/// Writes a number of the source in the target's format with the
/// decimals it was written with: "3.5" gives "3,5" in Spanish. A comma
/// before three digits separates thousands ("1,500" is 1500), as
/// [`quantity`] reads it.
fn format_as_written(number: &str, target: &Language) -> Option<String> {
    let value = quantity(number)?;
    let decimals = match number.rsplit_once(['.', ',']) {
        Some((_, fraction)) if number.contains(',') && fraction.len() == 3 => 0,
        Some((_, fraction)) => fraction.len(),
        None => 0,
    };
    Some(target.format_number(value, decimals))
}

/// Builds a measure span from `start` to the end of `unit`. When the
/// source already gives the metric value, after the measure ("6 ft
/// (1.8 m)", "8 oz / 237 ml") or before it ("10 m / 33 ft", "1.8 m (6
/// ft)"), that value replaces both, in the target's number format.
fn measure_span(
    text: &str,
    target: &Language,
    start: usize,
    unit: regex::Match<'_>,
    converted: String,
) -> Span {
    let end = unit_end(text, unit);
    let (start, end, replacement) = metric_before(text, target, start, end)
        .or_else(|| metric_note(text, target, unit.end()).map(|(end, value)| (start, end, value)))
        .unwrap_or((start, end, converted));
    Span {
        start,
        end,
        kind: SpanKind::Measure,
        replacement,
    }
}

/// A metric value or range and its unit: "1.8 m", "0-4 °C". The groups
/// are `from`, `to` and `unit`.
const METRIC_VALUE: &str = concat!(
    r"(?P<from>-?\d+(?:[.,]\d+)?)(?:\s*(?:-|–|to)\s*(?P<to>-?\d+(?:[.,]\d+)?))?",
    r"\s*(?P<unit>mm|cm|m|km|mg|g|kg|ml|cl|l|L|°\s?C|",
    metric_unit_name!(),
    ")"
);

/// Writes the metric value or range of `caps` ([`METRIC_VALUE`]) in the
/// target's number format, with its unit.
fn metric_text(caps: &Captures<'_>, target: &Language) -> Option<String> {
    let format = |number: &str| format_as_written(number, target);
    let value = match caps.name("to") {
        Some(to) => range_text(&format(&caps["from"])?, &format(to.as_str())?),
        None => format(&caps["from"])?,
    };
    let unit = caps["unit"].replace(char::is_whitespace, "");
    let unit = metric_symbol(&unit).map_or(unit, str::to_string);
    Some(format!("{value} {unit}"))
}

/// Finds the metric value or range the source gives right after `from`
/// (see [`metric_note_regex`]) and returns where it ends and the value in
/// the target's number format.
fn metric_note(text: &str, target: &Language, from: usize) -> Option<(usize, String)> {
    let note = metric_note_regex()
        .captures(&text[from..])
        .filter(|note| (&note["open"] == "(") == note.name("close").is_some())?;
    Some((
        from + note.get(0).expect("whole match").end(),
        metric_text(&note, target)?,
    ))
}

/// Finds a metric value the source gives right before the measure from
/// `start` to `end`, followed by a slash or an opening parenthesis ("10 m
/// / 33 ft", "1.8 m (6 ft)"). Returns where the value starts, where the
/// measure ends (after its closing parenthesis), and the value in the
/// target's number format.
fn metric_before(
    text: &str,
    target: &Language,
    start: usize,
    end: usize,
) -> Option<(usize, usize, String)> {
    static BEFORE: OnceLock<Regex> = OnceLock::new();
    let before = BEFORE.get_or_init(|| {
        Regex::new(&format!(r"\b{METRIC_VALUE}\s*(?P<open>[(/])\s*$")).expect("valid regex")
    });
    let caps = before.captures(&text[..start])?;
    let end = if &caps["open"] == "(" {
        let rest = &text[end..];
        let close = rest.len() - rest.trim_start().len();
        rest.trim_start()
            .starts_with(')')
            .then_some(end + close + 1)?
    } else {
        end
    };
    let value_start = caps.name("from").expect("group from").start();
    Some((value_start, end, metric_text(&caps, target)?))
}

/// Writes a converted pair "a × b unit" as the range "a–b unit".
fn as_range(converted: String) -> String {
    match converted.split_once(" × ") {
        Some((from, to)) => range_text(from, to),
        None => converted,
    }
}

/// Joins the ends of a range: "2,27–4,54", or "-23,3 – -17,8" with a
/// negative end, which an en dash right before its minus would hide.
fn range_text(from: &str, to: &str) -> String {
    if from.starts_with('-') || to.starts_with('-') {
        format!("{from} – {to}")
    } else {
        format!("{from}–{to}")
    }
}

/// Tells whether any of `spans` overlaps `start..end`.
fn overlaps(spans: &[Span], start: usize, end: usize) -> bool {
    spans
        .iter()
        .any(|span| span.start < end && start < span.end)
}

/// Reads a quantity: "10.5", "10,5", "1,000", "1/2", "1 1/2", "1-1/2",
/// "-20".
fn quantity(text: &str) -> Option<f64> {
    static THOUSANDS: OnceLock<Regex> = OnceLock::new();
    let text = text.trim();
    let thousands = THOUSANDS
        .get_or_init(|| Regex::new(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$").expect("valid regex"));
    if thousands.is_match(text) {
        return text.replace(',', "").parse().ok();
    }
    if let Some(magnitude) = text.strip_prefix('-') {
        return quantity(magnitude).map(|value| -value);
    }
    if let Some((whole, fraction)) = text.rsplit_once([' ', '-']) {
        return Some(whole.trim().parse::<f64>().ok()? + quantity(fraction)?);
    }
    match text.split_once('/') {
        Some((numerator, denominator)) => {
            let denominator: f64 = denominator.parse().ok()?;
            (denominator != 0.0).then_some(numerator.parse::<f64>().ok()? / denominator)
        }
        None => text.replace(',', ".").parse().ok(),
    }
}

/// End of a measure span at `unit`. A period after an abbreviated unit
/// that also ends the sentence stays in the text, so the sentence keeps its
/// full stop.
fn unit_end(text: &str, unit: regex::Match<'_>) -> usize {
    let rest = text[unit.end()..].trim_start();
    let ends_sentence = rest.is_empty() || rest.starts_with(|c: char| c.is_uppercase());
    if unit.as_str().ends_with('.') && ends_sentence {
        unit.end() - 1
    } else {
        unit.end()
    }
}

/// Converts "10.5" + "inches" (or "10 x 20" + "in.") to metric text.
fn convert(numbers: &str, unit: &str, target: &Language) -> Option<String> {
    let values: Vec<f64> = dimension_parts(numbers)
        .into_iter()
        .map(quantity)
        .collect::<Option<_>>()?;
    let unit = unit.to_ascii_lowercase().replace(char::is_whitespace, "");

    let (factor, offset, metric): (f64, f64, &str) = if unit.starts_with("fl")
        || unit.starts_with("fluid")
    {
        (29.5735, 0.0, "ml")
    } else if unit.starts_with("in") || unit == "\"" || unit == "″" {
        (2.54, 0.0, "cm")
    } else if (unit.starts_with("f") && !unit.contains("fahrenheit")) || unit == "'" || unit == "′"
    {
        (0.3048, 0.0, "m")
    } else if unit.starts_with("pound") || unit.starts_with("lb") {
        (453.592, 0.0, "g")
    } else if unit.starts_with("ounce") || unit.starts_with("oz") {
        (28.3495, 0.0, "g")
    } else if unit.starts_with("gal") {
        (3.78541, 0.0, "l")
    } else if unit.contains('f') {
        (5.0 / 9.0, -32.0, "°C")
    } else {
        return None;
    };
    let converted: Vec<f64> = values.iter().map(|v| (v + offset) * factor).collect();

    // Pick the unit from the largest value so a dimension list shares one.
    let largest = converted.iter().cloned().fold(0.0, f64::max);
    let (scale, unit_out, decimals) = match metric {
        "g" if largest >= 1000.0 => (0.001, "kg", 2),
        "g" => (1.0, "g", 0),
        "ml" if largest >= 1000.0 => (0.001, "l", 2),
        "ml" => (1.0, "ml", 0),
        "cm" if largest >= 1000.0 => (0.01, "m", 2),
        "cm" => (1.0, "cm", 1),
        "m" => (1.0, "m", 2),
        "l" => (1.0, "l", 2),
        _ => (1.0, metric, 1),
    };
    let parts: Vec<String> = converted
        .iter()
        .map(|v| target.format_number(v * scale, decimals))
        .collect();
    let separator = if parts.len() > 1 { " × " } else { "" };
    let joined = parts.join(separator);
    Some(if unit_out == "°C" {
        format!("{joined} °C")
    } else {
        format!("{joined} {unit_out}")
    })
}

/// A size or a range of sizes with the groups `from` and `to`.
const SIZE_RANGE: &str =
    r"(?P<from>\d{1,2}(?:[.,]5)?)(?:\s*(?:-|–|to)\s*(?P<to>\d{1,2}(?:[.,]5)?))?";

/// Matches a chart and a size without the word "size": "US 9", "UK 7-8".
/// Only footwear and women's garments are read this way, and only with
/// the chart in capitals, so "give us 9 days" stays as it is.
fn bare_size_regex() -> &'static Regex {
    static BARE: OnceLock<Regex> = OnceLock::new();
    BARE.get_or_init(|| {
        Regex::new(&format!(r"\b(?P<system>US|UK)\s+{SIZE_RANGE}\b")).expect("valid regex")
    })
}

/// More sizes after a size: ", 10, 11", "/10", " or 10".
fn more_sizes_regex() -> &'static Regex {
    static MORE: OnceLock<Regex> = OnceLock::new();
    MORE.get_or_init(|| {
        Regex::new(r"^(?:\s*(?:,|/|\bor\b|\band\b)\s*\d{1,2}(?:[.,]5)?\b)+").expect("valid regex")
    })
}

/// Size phrases: "US size 9", "UK women's sizes 4-8", "size US 9",
/// "size 9 (US)". Each has the named groups `system`, `from` and
/// optionally `gender` and `to` (the end of a range).
fn size_regexes() -> &'static [Regex] {
    static SIZE: OnceLock<Vec<Regex>> = OnceLock::new();
    SIZE.get_or_init(|| {
        let range = SIZE_RANGE;
        [
            format!(r"(?i)\b(?P<system>US|UK)\s+(?:(?P<gender>women'?s|ladies|men'?s)\s+)?(?:shoe\s+)?sizes?\s+{range}\b"),
            format!(r"(?i)\bsizes?\s+(?P<system>US|UK)\s+{range}\b"),
            format!(r"(?i)\bsizes?\s+{range}\s*(?:\((?P<system>US|UK)\)|(?P<system2>US|UK)\b)"),
        ]
        .iter()
        .map(|pattern| Regex::new(pattern).expect("valid regex"))
        .collect()
    })
}

/// A size or a range of sizes on one chart: "US 9", "9 UK", "EU 40", "EU
/// size 40", "US 8-11".
const CHART_SIZE: &str = r"(?:(?:US|UK|EU)\s*(?:sizes?\s+)?\d{1,2}(?:[.,]5)?(?:\s*[-–]\s*\d{1,2}(?:[.,]5)?)?|\d{1,2}(?:[.,]5)?(?:\s*[-–]\s*\d{1,2}(?:[.,]5)?)?\s*(?:US|UK|EU))";

/// Matches a list of one size on several charts: "size 9 US / 7 UK / 40 EU",
/// "US 9, UK 8, EU 42", "US 8-11 / UK 7-10", "size US 9 (UK 8)". The
/// separators are slash, comma, semicolon and bar, or a parenthesis around
/// the second chart.
fn size_list_regex() -> &'static Regex {
    static LIST: OnceLock<Regex> = OnceLock::new();
    LIST.get_or_init(|| {
        Regex::new(&format!(
            r"(?i)\b(?:sizes?\s*:?\s*)?{CHART_SIZE}(?:(?:\s*[/,;|]\s*{CHART_SIZE})+\b|\s*\(\s*{CHART_SIZE}(?:\s*[/,;|]\s*{CHART_SIZE})*\s*\))"
        ))
        .expect("valid regex")
    })
}

/// Matches an EU size: "EU 40", "EU size 40", "size 40 EU", "size 40 (EU)",
/// and "EU 42 (US 9 / UK 8)" as a whole, so localized text stays as it is.
fn eu_size_regex() -> &'static Regex {
    static EU: OnceLock<Regex> = OnceLock::new();
    EU.get_or_init(|| {
        Regex::new(
            r"(?i)\bEU\s*(?:sizes?\s+)?\d{1,2}(?:[.,]5)?\b(?:\s*\([^()]*\))?|\bsizes?\s+\d{1,2}(?:[.,]5)?\s*(?:\(EU\)|EU\b)",
        )
        .expect("valid regex")
    })
}

/// One entry of a size list: its chart ("US", "UK" or "EU") and its size,
/// or the ends of its range.
#[derive(Debug, Clone, PartialEq)]
struct ListEntry {
    system: String,
    from: f64,
    to: Option<f64>,
}

/// Reads the entries of a size list.
fn list_entries(list: &str) -> Vec<ListEntry> {
    static ENTRY: OnceLock<Regex> = OnceLock::new();
    let entry = ENTRY.get_or_init(|| {
        let sizes = r"\d{1,2}(?:[.,]5)?)(?:\s*[-–]\s*(?P<to{n}>\d{1,2}(?:[.,]5)?))?";
        Regex::new(&format!(
            r"(?i)(?P<s1>US|UK|EU)\s*(?:sizes?\s+)?(?P<n1>{}|(?P<n2>{}\s*(?P<s2>US|UK|EU)",
            sizes.replace("{n}", "1"),
            sizes.replace("{n}", "2"),
        ))
        .expect("valid regex")
    });
    let number = |text: &str| text.replace(',', ".").parse::<f64>().ok();
    entry
        .captures_iter(list)
        .filter_map(|caps| {
            let system = caps.name("s1").or(caps.name("s2"))?.as_str().to_uppercase();
            let from = number(caps.name("n1").or(caps.name("n2"))?.as_str())?;
            let to = match caps.name("to1").or(caps.name("to2")) {
                Some(to) => Some(number(to.as_str())?),
                None => None,
            };
            Some(ListEntry { system, from, to })
        })
        .collect()
}

/// Returns the EU size (or range) that every convertible entry of a list
/// agrees on within one size. It is `None` when an entry is off the
/// charts, a range runs backwards, or the entries contradict each other
/// ("US 9 / UK 5").
fn list_eu_size(entries: &[ListEntry], shoes: bool, men: bool) -> Option<(f64, Option<f64>)> {
    let mut agreed: Option<(f64, Option<f64>)> = None;
    for entry in entries {
        let from = eu_size(&entry.system, entry.from, shoes, men)?;
        let to = match entry.to {
            Some(to) if to <= entry.from => return None,
            Some(to) => Some(eu_size(&entry.system, to, shoes, men)?),
            None => None,
        };
        match agreed {
            None => agreed = Some((from, to)),
            Some((first_from, first_to)) => {
                let close = |a: f64, b: f64| (a - b).abs() <= 1.0;
                let ends_agree = match (first_to, to) {
                    (Some(a), Some(b)) => close(a, b),
                    (None, None) => true,
                    _ => false,
                };
                if !close(first_from, from) || !ends_agree {
                    return None;
                }
            }
        }
    }
    agreed
}

/// Words that make a listing footwear, for the shoe charts.
const SHOE_WORDS: [&str; 15] = [
    "shoe",
    "boot",
    "sneaker",
    "sandal",
    "trainer",
    "heel",
    "slipper",
    "loafer",
    "pump",
    "clog",
    "mule",
    "footwear",
    "moccasin",
    "espadrille",
    "runner",
];

/// Words of garments on the women's clothing chart.
const CLOTHING_WORDS: [&str; 16] = [
    "dress", "skirt", "blouse", "top", "jeans", "pants", "trousers", "jacket", "coat", "sweater",
    "jumper", "cardigan", "shirt", "leggings", "shorts", "jumpsuit",
];

/// Words of items whose sizes follow other charts (children's shoes,
/// rings, gloves, hats, bras): their sizes are left as they are.
const OTHER_CHART_WORDS: [&str; 13] = [
    "kid", "child", "children", "toddler", "infant", "baby", "youth", "boy", "girl", "ring",
    "glove", "hat", "bra",
];

/// Rewrites "US size 9" and "UK women's sizes 4-8" to EU sizes, written
/// with the target's decimal separator.
fn sizes(text: &str, target: &Language, context: &str) -> Vec<Span> {
    // Most segments have no size; the listing's words are read only when
    // one does.
    let has_size = size_regexes().iter().any(|regex| regex.is_match(text))
        || bare_size_regex().is_match(text)
        || eu_size_regex().is_match(text)
        || size_list_regex().is_match(text);
    if !has_size {
        return Vec::new();
    }
    let mut spans: Vec<Span> = Vec::new();
    // Sizes the source already gives on the EU chart are kept as written,
    // and so are the lists they belong to: the engine must not translate
    // "EU" ("UE" in Spanish) or split the list.
    for found in size_list_regex().find_iter(text) {
        if list_entries(found.as_str())
            .iter()
            .any(|entry| entry.system == "EU")
        {
            spans.push(Span {
                start: found.start(),
                end: found.end(),
                kind: SpanKind::Size,
                replacement: found.as_str().to_string(),
            });
        }
    }
    for found in eu_size_regex().find_iter(text) {
        if !overlaps(&spans, found.start(), found.end()) {
            spans.push(Span {
                start: found.start(),
                end: found.end(),
                kind: SpanKind::Size,
                replacement: found.as_str().to_string(),
            });
        }
    }
    let context_words = words(context);
    // Whole words and their plurals: "pump" must not match "pumpkin".
    let has_word = |word: &str| {
        context_words.iter().any(|token| {
            token
                .strip_prefix(word)
                .is_some_and(|rest| matches!(rest, "" | "s" | "es"))
        })
    };
    // A chart and a number that stay as written are kept together, so the
    // engine does not translate "US" ("EE.UU.") away from its size.
    let keep_bare = |spans: &mut Vec<Span>| {
        for found in bare_size_regex().find_iter(text) {
            if !overlaps(spans, found.start(), found.end()) {
                spans.push(Span {
                    start: found.start(),
                    end: found.end(),
                    kind: SpanKind::Size,
                    replacement: found.as_str().to_string(),
                });
            }
        }
        spans.sort_by_key(|span| span.start);
    };
    let garment = |words: &[&str]| words.iter().any(|word| has_word(word));
    if garment(&OTHER_CHART_WORDS) {
        keep_bare(&mut spans);
        return spans;
    }
    let shoes = SHOE_WORDS.iter().any(|word| has_word(word));
    // A list of US and UK sizes gets the EU size of its first entry, and
    // keeps the whole list after it: "EU 42 (US 9 / UK 8)".
    for found in size_list_regex().find_iter(text) {
        if overlaps(&spans, found.start(), found.end()) {
            continue;
        }
        let entries = list_entries(found.as_str());
        let men = last_gender(&words(&text[..found.start()]))
            .or_else(|| last_gender(&context_words))
            .unwrap_or(shoes);
        // A list off the charts, or one whose entries disagree, is kept as
        // written rather than split or converted.
        let show = |from: f64, to: Option<f64>| match to {
            Some(to) => format!("{}–{}", format_size(from, target), format_size(to, target)),
            None => format_size(from, target),
        };
        let replacement = match list_eu_size(&entries, shoes, men) {
            Some((from, to)) => {
                let listed: Vec<String> = entries
                    .iter()
                    .map(|entry| format!("{} {}", entry.system, show(entry.from, entry.to)))
                    .collect();
                format!("EU {} ({})", show(from, to), listed.join(" / "))
            }
            None => found.as_str().to_string(),
        };
        spans.push(Span {
            start: found.start(),
            end: found.end(),
            kind: SpanKind::Size,
            replacement,
        });
    }
    // A chart and a number without "size" count as a size on footwear,
    // and on women's garments; "give us 9 days" stays as it is.
    let clothing = garment(&CLOTHING_WORDS);
    let bare = (shoes || clothing).then(bare_size_regex);
    let regexes = size_regexes()
        .iter()
        .map(|regex| (regex, false))
        .chain(bare.map(|regex| (regex, true)));
    for (regex, is_bare) in regexes {
        for caps in regex.captures_iter(text) {
            let whole = caps.get(0).expect("whole match");
            if overlaps(&spans, whole.start(), whole.end()) {
                continue;
            }
            let rest = &text[whole.end()..];
            // "US 9, 10, 11": converting the first size alone would leave
            // the others to read as EU sizes, so the list stays as written.
            if let Some(more) = more_sizes_regex().find(rest) {
                let end = whole.end() + more.end();
                spans.push(Span {
                    start: whole.start(),
                    end,
                    kind: SpanKind::Size,
                    replacement: text[whole.start()..end].to_string(),
                });
                continue;
            }
            // "9.25", "9.0" and "9½" are not sizes the charts know.
            let mut next = rest.chars();
            if matches!(
                (next.next(), next.next()),
                (Some('.' | ','), Some('0'..='9')) | (Some('½' | '¼' | '¾'), _)
            ) {
                continue;
            }
            let system = caps
                .name("system")
                .or(caps.name("system2"))
                .map_or("", |m| m.as_str())
                .to_uppercase();
            // The gender words before the size, or else of the context.
            let before = words(&text[..whole.start()]);
            let nearby = if last_gender(&before).is_some() || before.iter().any(|w| w == "unisex") {
                &before
            } else {
                &context_words
            };
            // "Men's and women's shoes" and "unisex shoes" are sized on the
            // men's chart when they are shoes, and left as written otherwise.
            let unisex = caps.name("gender").is_none() && is_unisex(nearby);
            if unisex && !shoes {
                continue;
            }
            let gender = match caps.name("gender") {
                Some(gender) => Some(gender.as_str().to_lowercase().starts_with("men")),
                None if unisex => Some(true),
                None => last_gender(nearby),
            };
            // Without "size", a garment's chart must be a women's one.
            if is_bare && !shoes && gender != Some(false) {
                continue;
            }
            // Unisex shoes are sized on the men's chart in the US and UK;
            // men's clothing is not mapped at all.
            let men = gender.unwrap_or(shoes);
            let parse = |name: &str| -> Option<f64> {
                caps.name(name)?.as_str().replace(',', ".").parse().ok()
            };
            let Some(from) = parse("from") else { continue };
            let to = parse("to");
            if to.is_some_and(|to| to <= from) {
                continue;
            }
            let convert = |size: f64| eu_size(&system, size, shoes, men);
            let (Some(eu_from), eu_to) = (convert(from), to.map(convert)) else {
                continue;
            };
            let show = |size: f64| format_size(size, target);
            let replacement = match (to, eu_to) {
                (None, _) => format!("EU {} ({system} {})", show(eu_from), show(from)),
                (Some(to), Some(Some(eu_to))) => format!(
                    "EU {}–{} ({system} {}–{})",
                    show(eu_from),
                    show(eu_to),
                    show(from),
                    show(to)
                ),
                _ => continue,
            };
            spans.push(Span {
                start: whole.start(),
                end: whole.end(),
                kind: SpanKind::Size,
                replacement,
            });
        }
    }
    if shoes || garment(&CLOTHING_WORDS) {
        keep_bare(&mut spans);
    }
    spans.sort_by_key(|span| span.start);
    spans
}

/// Splits `text` into lower-case words; "women's" gives "women" and "s".
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

/// Tells whether `words` end on a unisex item: "unisex" with no men's or
/// women's before it, or men's and women's joined by "and", "or", "&" or
/// "/" ("men's and women's", "women's/men's").
fn is_unisex(words: &[String]) -> bool {
    let gendered: Vec<(usize, &str)> = words
        .iter()
        .enumerate()
        .filter(|(_, word)| {
            matches!(
                word.as_str(),
                "men" | "mens" | "women" | "womens" | "woman" | "ladies" | "unisex"
            )
        })
        .map(|(index, word)| (index, word.as_str()))
        .collect();
    match gendered[..] {
        // "Women's shoes, unisex fit" stay women's.
        [.., (_, "unisex")] => gendered.iter().all(|(_, word)| *word == "unisex"),
        [.., (first, a), (last, b)] => {
            let men = |word: &str| matches!(word, "men" | "mens");
            men(a) != men(b)
                && words[first + 1..last]
                    .iter()
                    .all(|word| matches!(word.as_str(), "s" | "and" | "or"))
        }
        _ => false,
    }
}

/// Tells whether the last gender word among `words` is men's (true) or
/// women's (false); `None` without one.
fn last_gender(words: &[String]) -> Option<bool> {
    words.iter().rev().find_map(|word| match word.as_str() {
        "men" | "mens" => Some(true),
        "women" | "womens" | "woman" | "ladies" => Some(false),
        _ => None,
    })
}

/// EU size for a US or UK size on the common retail charts, within the
/// charts' range: shoes (men: US + 33 for US 4 to 16, UK + 34 for UK 3 to
/// 15; women: US + 30.5 for US 4 to 13, UK + 32.5 for UK 2 to 10) and
/// women's clothing (US + 32 for US 0 to 24, UK + 28 for UK 4 to 28, so
/// US 8 and UK 12 both give EU 40). Men's clothing is sized by chest and is
/// not mapped.
fn eu_size(system: &str, size: f64, shoes: bool, men: bool) -> Option<f64> {
    let (offset, low, high) = match (shoes, men, system) {
        (true, true, "US") => (33.0, 4.0, 16.0),
        (true, true, "UK") => (34.0, 3.0, 15.0),
        (true, false, "US") => (30.5, 4.0, 13.0),
        (true, false, "UK") => (32.5, 2.0, 10.0),
        (false, false, "US") => (32.0, 0.0, 24.0),
        (false, false, "UK") => (28.0, 4.0, 28.0),
        _ => return None,
    };
    (low..=high).contains(&size).then_some(size + offset)
}

/// Formats a size without a needless ".0", with the target's decimal separator.
fn format_size(size: f64, target: &Language) -> String {
    let decimals = if size.fract() == 0.0 { 0 } else { 1 };
    target.format_number(size, decimals)
}

fn price_regex() -> &'static Regex {
    static PRICE: OnceLock<Regex> = OnceLock::new();
    PRICE.get_or_init(|| {
        Regex::new(
            r"([$£€])\s?(\d+(?:,\d{3})*(?:\.\d{1,2})?)\b|\b(\d+(?:\.\d{1,2})?)\s?(USD|GBP|EUR)\b",
        )
        .expect("valid regex")
    })
}

/// Converts prices when the rate table has a rate to the target currency.
fn prices(text: &str, target: &Language, rates: &RateTable) -> Vec<Span> {
    let mut spans = Vec::new();
    for caps in price_regex().captures_iter(text) {
        let whole = caps.get(0).expect("whole match");
        let (currency, amount) = price_parts(&caps);
        if currency == target.currency {
            continue;
        }
        let Some(rate) = rates.rate(&currency, target.currency) else {
            continue;
        };
        let Ok(amount) = amount.replace(',', "").parse::<f64>() else {
            continue;
        };
        let value = target.format_number(amount * rate, 2);
        let replacement = match target.currency {
            "EUR" => format!("{value} €"),
            "GBP" => format!("£{value}"),
            "USD" => format!("${value}"),
            other => format!("{value} {other}"),
        };
        spans.push(Span {
            start: whole.start(),
            end: whole.end(),
            kind: SpanKind::Price,
            replacement,
        });
    }
    spans
}

fn price_parts(caps: &Captures<'_>) -> (String, String) {
    match (caps.get(1), caps.get(2)) {
        (Some(symbol), Some(amount)) => {
            let currency = match symbol.as_str() {
                "$" => "USD",
                "£" => "GBP",
                _ => "EUR",
            };
            (currency.to_string(), amount.as_str().to_string())
        }
        _ => (
            caps.get(4).map_or("", |m| m.as_str()).to_string(),
            caps.get(3).map_or("", |m| m.as_str()).to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(text: &str, target: &str) -> Vec<String> {
        let language = Language::lookup(target).unwrap();
        detect(text, language, text, &RateTable::default())
            .into_iter()
            .map(|span| span.replacement)
            .collect()
    }

    #[test]
    fn measures_convert_to_metric_with_decimal_comma() {
        assert_eq!(rewrite("Height: 10.5 inches", "es"), vec!["26,7 cm"]);
        assert_eq!(rewrite("Weight: 0.9 lb", "es"), vec!["408 g"]);
        assert_eq!(rewrite("Weight: 2.5 lbs", "es"), vec!["1,13 kg"]);
        assert_eq!(rewrite("12 fl oz bottle", "de"), vec!["355 ml"]);
        let spanish = Language::lookup("es").unwrap();
        let text = "It holds 12 fl. oz. Model XR";
        let span = &detect(text, spanish, text, &RateTable::default())[0];
        assert_eq!(&text[span.end..], ". Model XR");
        assert_eq!(rewrite("Bake at 350°F", "fr"), vec!["176,7 °C"]);
        assert_eq!(rewrite("10 x 20 in. frame", "es"), vec!["25,4 × 50,8 cm"]);
        assert_eq!(
            rewrite("a 5 gallon tank, 6 ft tall", "es"),
            vec!["18,93 l", "1,83 m"]
        );
    }

    #[test]
    fn two_unit_measures_become_one() {
        assert_eq!(rewrite("Weight: 2 lb 3 oz", "es"), vec!["992 g"]);
        assert_eq!(rewrite("weighs 3 lbs and 8 oz.", "es"), vec!["1,59 kg"]);
        assert_eq!(rewrite("Model is 5 ft 10 in tall", "es"), vec!["177,8 cm"]);
        assert_eq!(rewrite("Model is 5'10\" tall", "de"), vec!["177,8 cm"]);
        for text in ["2 lb, 3 oz", "2-lb 3-oz", "2 lb & 3 oz", "2lb 3oz"] {
            assert_eq!(rewrite(text, "es"), vec!["992 g"], "{text}");
        }
        assert_eq!(rewrite("1 gal 2 fl oz", "es"), vec!["3,84 l"]);
    }

    #[test]
    fn fractions_dimensions_and_metric_notes() {
        assert_eq!(rewrite("Jug 1/2 gal", "es"), vec!["1,89 l"]);
        assert_eq!(rewrite("A 1 1/2 inch button", "es"), vec!["3,8 cm"]);
        assert_eq!(rewrite("A 1-1/2 in. button", "es"), vec!["3,8 cm"]);
        assert_eq!(rewrite("Board 2 in x 4 in", "es"), vec!["5,1 × 10,2 cm"]);
        assert_eq!(rewrite("Rug 3 ft × 5 ft", "es"), vec!["0,91 × 1,52 m"]);
        assert_eq!(rewrite("Frame 8\" x 10\"", "es"), vec!["20,3 × 25,4 cm"]);
        // A metric value the source gives is kept, in the target's format.
        assert_eq!(rewrite("Cable 6 ft (1.8 m)", "es"), vec!["1,8 m"]);
        assert_eq!(rewrite("Bag 2 lb (907 g)", "de"), vec!["907 g"]);
        let spanish = Language::lookup("es").unwrap();
        let text = "Cable 6 ft (1.8 m) long";
        let span = &detect(text, spanish, text, &RateTable::default())[0];
        assert_eq!(&text[span.end..], " long");
        assert_eq!(rewrite("Flask 8 oz / 237 ml", "es"), vec!["237 ml"]);
        // So is one before the measure, and one written out.
        assert_eq!(rewrite("Hose 15 metres / 50 feet", "es"), vec!["15 m"]);
        assert_eq!(rewrite("Bag 2.5 kilos (5.5 lb)", "es"), vec!["2,5 kg"]);
        assert_eq!(
            rewrite("Bottle 17 fl oz (500 millilitres)", "es"),
            vec!["500 ml"]
        );
        assert_eq!(rewrite("Rope 10 m / 33 ft", "es"), vec!["10 m"]);
        assert_eq!(rewrite("Cable 1.8 m (6 ft) long", "es"), vec!["1,8 m"]);
        let text = "Cable 1.8 m (6 ft) long";
        let span = &detect(text, spanish, text, &RateTable::default())[0];
        assert_eq!(
            (&text[..span.start], &text[span.end..]),
            ("Cable ", " long")
        );
        assert_eq!(rewrite("Fridge 0-4 °C / 32-39 °F", "de"), vec!["0–4 °C"]);
        // Without a slash or a parenthesis, both are measures of their own.
        assert_eq!(rewrite("Rope 10 m, 33 ft", "es"), vec!["10,06 m", "10 m"]);
        // A parenthesis that is not closed after the measure is no note.
        assert_eq!(rewrite("Cable 1.8 m (6 ft", "es"), vec!["1,83 m", "1,8 m"]);
        // Thousands commas and ranges.
        assert_eq!(rewrite("1,000 ft spool", "es"), vec!["304,8 m"]);
        assert_eq!(rewrite("Dumbbells 5-10 lbs", "es"), vec!["2,27–4,54 kg"]);
        assert_eq!(rewrite("Fits 8 to 12 inches", "es"), vec!["20,3–30,5 cm"]);
        // A bare "in" with a metric length beside it is inches.
        assert_eq!(rewrite("Screen 55 in (140 cm)", "es"), vec!["140 cm"]);
        assert_eq!(rewrite("Pipe 1/2 in (12.7 mm) wide", "es"), vec!["12,7 mm"]);
        // "in" without "x" after it stays a word.
        assert!(rewrite("2 in stock, 3 in store", "es").is_empty());
    }

    #[test]
    fn metric_values_take_the_target_format() {
        assert_eq!(rewrite("3.5g tin", "es"), vec!["3,5 g"]);
        assert_eq!(
            rewrite("Bottle 250 ml, 1.5 l", "de"),
            vec!["250 ml", "1,5 l"]
        );
        assert_eq!(rewrite("Cable 2m", "en"), vec!["2 m"]);
        assert_eq!(rewrite("Bag 1,500 g", "es"), vec!["1500 g"]);
        assert_eq!(rewrite("Bag 3 lb (1,500 g)", "es"), vec!["1500 g"]);
        // Units written out take their symbol.
        assert_eq!(
            rewrite("Sack 2.5 kilos, rope 3.5 Metres, jug 1.5 liters", "es"),
            vec!["2,5 kg", "3,5 m", "1,5 l"]
        );
        assert_eq!(
            rewrite("1 kilo, 10 grams, 500 millilitres, 12.5 centimeters", "de"),
            vec!["1 kg", "10 g", "500 ml", "12,5 cm"]
        );
        // Symbols in capitals, as in titles in capitals.
        assert_eq!(rewrite("TREE 60CM, 3.5KG", "es"), vec!["60 cm", "3,5 kg"]);
        for text in [
            "5G phone",
            "3M tape",
            "A4 paper",
            "2 metronomes",
            "3 kilowatts",
        ] {
            assert!(rewrite(text, "es").is_empty(), "{text}");
        }
    }

    #[test]
    fn bare_inches_feet_marks_and_attached_fahrenheit() {
        assert_eq!(rewrite("TV 55 in", "es"), vec!["139,7 cm"]);
        assert_eq!(rewrite("Pipe 3/4 in, copper", "es"), vec!["1,9 cm"]);
        assert_eq!(rewrite("Screen 55 in wide.", "es"), vec!["139,7 cm"]);
        assert_eq!(
            rewrite("Board 12 in by 10 in.", "es"),
            vec!["30,5 × 25,4 cm"]
        );
        assert_eq!(
            rewrite("Board 12 by 10 inches", "es"),
            vec!["30,5 × 25,4 cm"]
        );
        assert_eq!(rewrite("Garden hose 25' long", "es"), vec!["7,62 m"]);
        assert_eq!(rewrite("Rug 5'x8'", "es"), vec!["1,52 × 2,44 m"]);
        assert_eq!(rewrite("Rug 5' x 8' in wool", "es"), vec!["1,52 × 2,44 m"]);
        assert_eq!(rewrite("Oven safe to 350F.", "es"), vec!["176,7 °C"]);
        assert_eq!(rewrite("Rated to -20F", "es"), vec!["-28,9 °C"]);
        assert_eq!(rewrite("Bake at 350 deg F", "es"), vec!["176,7 °C"]);

        // Negative temperatures, and ranges with a bare "F".
        assert_eq!(rewrite("Cools to -40°F", "es"), vec!["-40 °C"]);
        let spanish = Language::lookup("es").unwrap();
        let text = "Thermometer −40°F";
        let span = &detect(text, spanish, text, &RateTable::default())[0];
        assert_eq!(
            (&text[..span.start], span.replacement.as_str()),
            ("Thermometer ", "-40 °C")
        );
        assert_eq!(rewrite("Rated (-20°F)", "es"), vec!["-28,9 °C"]);
        assert_eq!(rewrite("min=-5°F", "es"), vec!["-20,6 °C"]);
        assert_eq!(rewrite("Runs -10 to 0 °F", "es"), vec!["-23,3 – -17,8 °C"]);

        // A metric range the source gives is kept.
        assert_eq!(rewrite("Fridge 32-40 F (0-4 °C)", "es"), vec!["0–4 °C"]);
        assert_eq!(
            rewrite("Cooler 32-40°F (0 to 4.4 °C)", "es"),
            vec!["0–4,4 °C"]
        );
        assert_eq!(rewrite("Oven 100-450F", "es"), vec!["37,8–232,2 °C"]);
        assert_eq!(rewrite("Fridge 32-40 F", "es"), vec!["0–4,4 °C"]);
        assert_eq!(rewrite("max=450 F", "es"), vec!["232,2 °C"]);

        // A hyphen that joins a word is no minus.
        assert_eq!(rewrite("Type A-40°F", "es"), vec!["4,4 °C"]);

        // Counts stay counts; every side of a dimension is converted.
        assert_eq!(rewrite("Pack of 3 x 4 oz", "es"), vec!["113 g"]);
        assert_eq!(
            rewrite("Table 10 x 12 x 2 in", "es"),
            vec!["25,4 × 30,5 × 5,1 cm"]
        );
        assert_eq!(rewrite("55in diagonal", "es"), vec!["139,7 cm"]);
        assert_eq!(rewrite("A 1.5 in heel", "es"), vec!["3,8 cm"]);
        assert_eq!(rewrite("Golf club, 12 in shaft", "es"), vec!["30,5 cm"]);
        assert_eq!(rewrite("Screen 32-55 in", "es"), vec!["81,3–139,7 cm"]);

        // Words after "in", quote marks and letters after numbers stay.
        for text in [
            "Fits 2 in the box",
            "Ranked 1 in sales in 2020",
            "Hits of the 90's",
            "The 'Model 10' lamp",
            "The \"Model 10\" lamp",
            "Bra 32F",
            "Floor 2F",
            "Engine X350F",
            "3 in 1 charger",
            "Pack of 12 in display box",
            "Set of 6 in, all blue",
            "2in1 laptop",
        ] {
            assert!(rewrite(text, "es").is_empty(), "{text}");
        }
    }

    #[test]
    fn measures_stay_for_english_and_bare_in() {
        assert!(rewrite("Height: 10.5 inches", "en").is_empty());
        assert!(rewrite("2 in stock", "es").is_empty());
    }

    #[test]
    fn sizes_map_to_eu_charts() {
        assert_eq!(
            rewrite("Men's running shoe, US size 9", "es"),
            vec!["EU 42 (US 9)"]
        );
        assert_eq!(rewrite("Dress, UK size 10", "es"), vec!["EU 38 (UK 10)"]);
        // The gender word right before a size wins over "unisex".
        assert_eq!(
            rewrite("Unisex sneakers: men's US 9, women's US 10.5", "es"),
            vec!["EU 42 (US 9)", "EU 41 (US 10,5)"]
        );
        assert_eq!(
            rewrite("Men's US 9 / women's US 10.5 unisex sneakers", "es"),
            vec!["EU 42 (US 9)", "EU 41 (US 10,5)"]
        );
        // Inside sentences, in every word order, with ranges, and with the
        // target's decimal comma.
        let cases = [
            // Unisex shoes follow the men's chart.
            (
                "These running shoes come in US size 9 and fit true to size.",
                "EU 42 (US 9)",
            ),
            ("Women's shoes in US size 9, black.", "EU 39,5 (US 9)"),
            ("Men's and women's shoes, US size 8", "EU 41 (US 8)"),
            ("Unisex sneakers, US size 8", "EU 41 (US 8)"),
            ("Women's shoes (unisex fit), US size 8", "EU 38,5 (US 8)"),
            // US 8 and UK 12 are the same dress.
            ("A women's dress in US size 8.", "EU 40 (US 8)"),
            ("A women's dress in UK size 12.", "EU 40 (UK 12)"),
            ("Men's sneaker available in size US 9.", "EU 42 (US 9)"),
            ("Men's sneaker, size 9 (US), black.", "EU 42 (US 9)"),
            ("Men's sneaker in US sizes 8 to 11.", "EU 41–44 (US 8–11)"),
            (
                "Women's boot, sizes 4-7 UK, brown.",
                "EU 36,5–39,5 (UK 4–7)",
            ),
            ("Women's boot in UK size 5.5, brown.", "EU 38 (UK 5,5)"),
            // Footwear and women's garments need no "size" before the chart.
            ("Men's sneaker, US 9.", "EU 42 (US 9)"),
            ("Women's dress, US 8", "EU 40 (US 8)"),
            ("Ladies' jeans in UK 12, blue.", "EU 40 (UK 12)"),
            ("Women's dress US 8 for a men's party", "EU 40 (US 8)"),
            ("Trail runners, UK 7-8", "EU 41–42 (UK 7–8)"),
            // A list of sizes on one chart is kept whole.
            ("Men's sneaker US 9, 10, 11", "US 9, 10, 11"),
            ("Women's shoes in US size 7 or 8.", "US size 7 or 8"),
        ];
        for (text, expected) in cases {
            assert_eq!(rewrite(text, "es"), vec![expected], "{text}");
        }
        // The nearest gender word before a size decides its chart.
        assert_eq!(
            rewrite(
                "Women's shoes in US size 9; men's shoes in US size 9.",
                "es"
            ),
            vec!["EU 39,5 (US 9)", "EU 42 (US 9)"]
        );
        // Reversed ranges, sizes off the charts, fractions the charts do
        // not have, other charts, and "US 9" without "size" on anything
        // but footwear or in lower case are left alone.
        for text in [
            "Men's sneaker in US sizes 11 to 8.",
            "Give us 9 days to ship your new shoes.",
            "Women's shoes in US size 99.",
            "Women's shoes in US sizes 8 to 80.",
            "Women's shoes in US size 9.25.",
            "Women's shoes in US size 9½.",
            "Kids' shoes in US size 9.",
            "Silver ring, US size 9.",
            // Unisex clothing has no chart.
            "Men's and women's T-shirt, US size 8.",
            "Unisex T-shirt, US size 8.",
        ] {
            assert!(rewrite(text, "es").is_empty(), "{text}");
        }
        // A chart and a number on a garment that stay as written are kept
        // together.
        for (text, kept) in [
            ("Men's T-shirt US 8", "US 8"),
            ("Dress, US 8.", "US 8"),
            ("Kids' sneaker US 2", "US 2"),
        ] {
            assert_eq!(rewrite(text, "es"), vec![kept], "{text}");
        }
        // Shoe words match whole words only.
        assert_eq!(
            rewrite("Pumpkin dress, US size 8.", "es"),
            vec!["EU 40 (US 8)"]
        );
    }

    #[test]
    fn size_lists_and_eu_sizes_are_kept_whole() {
        // A list that already has the EU size is kept as written.
        for (text, expected) in [
            (
                "Men's sneaker, size 9 US / 7 UK / 40 EU.",
                "size 9 US / 7 UK / 40 EU",
            ),
            ("Boots in US 9, UK 8, EU 42.", "US 9, UK 8, EU 42"),
            ("Women's sandal, EU size 38.", "EU size 38"),
            ("Kids' shoes, size 30 (EU).", "size 30 (EU)"),
        ] {
            assert_eq!(rewrite(text, "es"), vec![expected], "{text}");
        }
        // A list of US and UK sizes gets the EU size of its first entry.
        assert_eq!(
            rewrite("Men's sneaker, US 9 / UK 8.", "es"),
            vec!["EU 42 (US 9 / UK 8)"]
        );
        assert_eq!(
            rewrite("Women's boot, size 7.5 US / 5.5 UK.", "es"),
            vec!["EU 38 (US 7,5 / UK 5,5)"]
        );
        // A list off the charts (men's clothing) is kept whole.
        assert_eq!(
            rewrite("Men's shirt, US 40 / UK 40.", "es"),
            vec!["US 40 / UK 40"]
        );
        // Sizes already localized are not converted again.
        assert_eq!(
            rewrite("Men's trainer, EU 42 (US 9 / UK 8).", "es"),
            vec!["EU 42 (US 9 / UK 8)"]
        );
        // Regulation numbers are not sizes.
        assert!(rewrite("Meets EU 2023/1230.", "es").is_empty());
        // Ranges, a second chart in parentheses, and lists whose entries
        // contradict each other.
        assert_eq!(
            rewrite("Men's sneaker in US 8-11 / UK 7-10.", "es"),
            vec!["EU 41–44 (US 8–11 / UK 7–10)"]
        );
        assert_eq!(
            rewrite("Men's sneaker in size US 9 (UK 8).", "es"),
            vec!["EU 42 (US 9 / UK 8)"]
        );
        assert_eq!(
            rewrite("Men's sneaker, US 9 / UK 5.", "es"),
            vec!["US 9 / UK 5"]
        );
    }

    #[test]
    fn prices_convert_only_with_rates() {
        let spanish = Language::lookup("es").unwrap();
        assert!(detect("Only $12.50", spanish, "", &RateTable::default()).is_empty());
        let mut rates = RateTable::default();
        rates.rates.insert(("USD".into(), "EUR".into()), 0.9);
        let spans = detect("Only $12.50", spanish, "", &rates);
        assert_eq!(spans[0].replacement, "11,25 €");
    }
}
