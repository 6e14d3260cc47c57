//! Casing of upper-case titles.
//!
//! Shop exports often write titles in capitals ("WHITE HANGING HEART
//! T-LIGHT HOLDER"). Apertium looks such words up without case but keeps
//! the capitals in its output, and a blanket lower-casing loses words the
//! dictionary only knows capitalized. The pipeline therefore writes such a
//! title in sentence case before translation and applies the target
//! language's title convention after.

/// Whether `text` is written in capitals: at least four cased letters and
/// nine in ten of them upper case. Protected spans do not count, so
/// "{name}'S GIFT BOX" is in capitals.
pub fn is_upper_case(text: &str) -> bool {
    let spans = crate::protect::detect(text, "");
    let (upper, lower) = text
        .char_indices()
        .filter(|(at, _)| !spans.iter().any(|span| (span.start..span.end).contains(at)))
        .fold((0usize, 0usize), |(upper, lower), (_, c)| {
            (
                upper + usize::from(c.is_uppercase()),
                lower + usize::from(c.is_lowercase()),
            )
        });
    upper >= 4 && upper * 10 >= (upper + lower) * 9
}

/// Writes an upper-case text in sentence case. Words with digits (codes
/// such as `85123A`) keep their capitals, and so do acronyms ("USB-C",
/// "TV") and protected spans: placeholders such as `{NAME}` must come back
/// byte for byte, and Apertium's dictionary has "TV" and "UK" but not "tv"
/// and "uk".
pub fn to_sentence_case(text: &str) -> String {
    let kept: Vec<(usize, usize)> = crate::protect::detect(text, "")
        .into_iter()
        .filter(|span| span.kind != crate::protect::SpanKind::Decade)
        .map(|span| (span.start, span.end))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut sentence_start = true;
    let mut offset = 0;
    for word in text.split_inclusive(char::is_whitespace) {
        let core = word.trim_end();
        let start = offset;
        offset += word.len();
        let lowered = if core.chars().any(|c| c.is_ascii_digit()) || starts_with_acronym(core) {
            core.to_string()
        } else {
            core.char_indices()
                .map(|(at, c)| {
                    let at = start + at;
                    if kept.iter().any(|&(from, to)| (from..to).contains(&at)) {
                        c.to_string()
                    } else {
                        c.to_lowercase().collect()
                    }
                })
                .collect()
        };
        if sentence_start {
            out.push_str(&capitalize(&lowered));
        } else {
            out.push_str(&lowered);
        }
        out.push_str(&word[core.len()..]);
        if core.chars().any(char::is_alphanumeric) {
            sentence_start = core.ends_with(['.', '!', '?']) && !is_initials(core);
        }
    }
    out
}

/// Acronyms common in product titles that have a vowel, so that the rule
/// for letters without one does not find them.
const ACRONYMS: [&str; 15] = [
    "AI", "AUX", "DIY", "EU", "HDMI", "LED", "OLED", "SIM", "UHD", "UK", "USA", "USB", "UV", "VGA",
    "LAN",
];

/// Tells whether `word` begins with an acronym: a known one, or two to five
/// capitals without a vowel ("TV", "DVD", "BBQ"), alone or before a hyphen
/// or slash ("USB-C", "TV/DVD"), or initials with periods ("U.S.").
/// English words in capitals rarely look like that.
fn starts_with_acronym(word: &str) -> bool {
    if is_initials(word) {
        return true;
    }
    let head = word
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    is_acronym(head)
}

/// Tells whether `word` is initials with periods, such as "U.S." or
/// "(U.K.": their last period ends no sentence.
fn is_initials(word: &str) -> bool {
    let initials = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '.');
    let letters = initials.chars().filter(|c| *c != '.').count();
    letters >= 2
        && initials.len() == 2 * letters
        && initials.chars().enumerate().all(|(i, c)| {
            if i % 2 == 0 {
                c.is_ascii_uppercase()
            } else {
                c == '.'
            }
        })
}

/// Unit symbols without a vowel, which are written in lower case.
const UNITS: [&str; 12] = [
    "CM", "MM", "KM", "KG", "MG", "ML", "CL", "DL", "LB", "LBS", "FT", "PCS",
];

/// Tells whether `word` is an acronym: a known one, or two to five capitals
/// without a vowel that are not a unit symbol ("CM").
pub fn is_acronym(word: &str) -> bool {
    let capitals = (2..=5).contains(&word.len()) && word.chars().all(|c| c.is_ascii_uppercase());
    capitals
        && (ACRONYMS.contains(&word)
            || !(word.contains(['A', 'E', 'I', 'O', 'U', 'Y']) || UNITS.contains(&word)))
}

/// Applies the title convention of `target` to a translated title:
/// sentence case with a capital first letter in the Romance languages and
/// German (whose nouns the engine capitalizes), title case in English.
pub fn apply_title_case(text: &str, target: &str) -> String {
    match target {
        "en" => text
            .split(' ')
            .enumerate()
            .map(|(i, word)| {
                let small = [
                    "a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to",
                    "with",
                ];
                if i > 0 && small.contains(&word) {
                    word.to_string()
                } else {
                    capitalize(word)
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => capitalize(text),
    }
}

/// Upper-cases the first letter of `text`.
pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_upper_case_detects_shouting() {
        assert!(is_upper_case("WHITE HANGING HEART T-LIGHT HOLDER"));
        assert!(!is_upper_case("White hanging heart"));
        assert!(!is_upper_case("USB"));
        assert!(is_upper_case("{name}'S GIFT BOX"));
        assert!(is_upper_case("GIFT FOR %(first_name)s"));
    }

    #[test]
    fn sentence_case_keeps_codes() {
        assert_eq!(
            to_sentence_case("SET OF 3 CAKE TINS 85123A. RED"),
            "Set of 3 cake tins 85123A. Red"
        );
    }

    #[test]
    fn sentence_case_keeps_acronyms() {
        assert_eq!(
            to_sentence_case("USB-C CABLE FOR TV/DVD, LED LAMP"),
            "USB-C cable for TV/DVD, LED lamp"
        );
        assert_eq!(
            to_sentence_case("SET OF 3 DIY BBQ TOOLS (UK PLUG)"),
            "Set of 3 DIY BBQ tools (UK plug)"
        );
        assert_eq!(
            to_sentence_case("GARDEN HOSE U.S. (U.K. PLUG)"),
            "Garden hose U.S. (U.K. plug)"
        );
        // Unit symbols are not acronyms.
        assert_eq!(
            to_sentence_case("TV STAND 80 CM, 12 KG"),
            "TV stand 80 cm, 12 kg"
        );
        // English words in capitals are lowered, vowels or not.
        assert_eq!(
            to_sentence_case("MY RHYTHM GYM BAG BY A STREAM"),
            "My rhythm gym bag by a stream"
        );
    }

    #[test]
    fn sentence_case_keeps_placeholders() {
        assert_eq!(
            to_sentence_case("GIFT BOX FOR {NAME}'S BIRTHDAY, VISIT WWW.SHOP.EXAMPLE"),
            "Gift box for {NAME}'s birthday, visit WWW.SHOP.EXAMPLE"
        );
    }

    #[test]
    fn title_case_per_language() {
        assert_eq!(
            apply_title_case("portavelas blanco", "es"),
            "Portavelas blanco"
        );
        assert_eq!(
            apply_title_case("white heart of glass", "en"),
            "White Heart of Glass"
        );
    }
}
