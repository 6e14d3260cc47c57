//! Sentence segmentation.
//!
//! Each sentence goes to the engine as its own segment, which keeps
//! Apertium from joining sentences and lets the translation memory match
//! sentences across listings. A sentence ends at `.`, `!` or `?` (with any
//! closing quotes or brackets) when white space and then an upper-case
//! letter, a digit, an opening quote or a mask token follow. A period after
//! a known abbreviation or a single letter ends no sentence.

/// Abbreviations after which a period does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "no", "nos", "vs", "etc", "e.g", "i.e", "approx",
    "incl", "excl", "dept", "est", "fig", "vol", "ca", "jr", "sr", "co", "inc", "ltd",
];

/// Tells whether the quote mark at byte `index` of `text` opens a
/// quotation: it follows the start, white space or an opening bracket,
/// and a letter or digit follows it. An apostrophe inside a word ("Men's")
/// opens none.
pub(crate) fn opens_quote(text: &str, index: usize) -> bool {
    let before = text[..index].chars().next_back();
    let width = text[index..].chars().next().map_or(1, char::len_utf8);
    let after = text[index + width..].chars().next();
    before.is_none_or(|c| c.is_whitespace() || "([".contains(c))
        && after.is_some_and(char::is_alphanumeric)
}

/// Byte ranges of the sentences of `text`, white space between them left
/// out, so `text[range]` is a sentence and the gaps are kept verbatim.
pub fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = skip_whitespace(text, 0);
    let chars: Vec<(usize, char)> = text.char_indices().collect();

    let mut i = 0;
    while i < chars.len() {
        let (offset, c) = chars[i];
        if matches!(c, '.' | '!' | '?') {
            let mut j = i + 1;
            while j < chars.len()
                && matches!(
                    chars[j].1,
                    '.' | '!' | '?' | '"' | '\'' | ')' | ']' | '”' | '’' | '»'
                )
            {
                j += 1;
            }
            let end = chars.get(j).map_or(text.len(), |(o, _)| *o);
            let mut k = j;
            while k < chars.len() && chars[k].1.is_whitespace() {
                k += 1;
            }
            let followed_by_start = k > j
                && chars.get(k).is_some_and(|(_, next)| {
                    next.is_uppercase()
                        || next.is_ascii_digit()
                        || matches!(next, '"' | '“' | '¿' | '¡' | '⟦' | '«')
                });
            if followed_by_start && !(c == '.' && is_abbreviation(&text[start..offset])) {
                ranges.push((start, end));
                start = chars[k].0;
            }
            i = k.max(i + 1);
            let _ = offset;
            continue;
        }
        i += 1;
    }
    let end = text.trim_end().len();
    if end > start {
        ranges.push((start, end));
    }
    ranges
}

fn skip_whitespace(text: &str, from: usize) -> usize {
    from + (text[from..].len() - text[from..].trim_start().len())
}

/// Checks whether the last word of `before` is an abbreviation or one letter.
fn is_abbreviation(before: &str) -> bool {
    let word = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_lowercase();
    word.chars().count() == 1 && word.chars().all(char::is_alphabetic)
        || ABBREVIATIONS.contains(&word.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        sentences(text)
            .into_iter()
            .map(|(s, e)| &text[s..e])
            .collect()
    }

    #[test]
    fn sentences_split_at_final_punctuation() {
        assert_eq!(
            split("The cars are red. They are fast! Really?  Yes"),
            vec!["The cars are red.", "They are fast!", "Really?", "Yes"]
        );
    }

    #[test]
    fn sentences_keep_abbreviations_and_decimals() {
        assert_eq!(
            split("Approx. 10.5 cm wide, e.g. Mr. Smith said so. Done."),
            vec!["Approx. 10.5 cm wide, e.g. Mr. Smith said so.", "Done."]
        );
    }

    #[test]
    fn sentences_of_blank_text_is_empty() {
        assert!(split("   ").is_empty());
    }
}
