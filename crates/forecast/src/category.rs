//! Product categories derived from descriptions when a shop has no catalog categories.
//!
//! UCI Online Retail describes products in upper case with the product type
//! usually last and colours, patterns and sizes around it:
//! "WHITE HANGING HEART T-LIGHT HOLDER", "JUMBO BAG RED RETROSPOT",
//! "SET OF 3 CAKE TINS PANTRY DESIGN". [`category_of`] applies two rules:
//!
//! 1. Keyword rules: the first word, scanning from the end, that appears in
//!    a table of product-type keywords gives the category, so "JUMBO BAG RED
//!    RETROSPOT" is `bag` and "CAKE TINS PANTRY DESIGN" is `tin`.
//! 2. Otherwise the last noun-like word: the last word that is not a colour,
//!    pattern, size, number or filler word, lower-cased with a plural `S`
//!    removed.
//!
//! A description with no usable word gets [`UNCATEGORIZED`].

/// Category of a product whose description yields no noun-like word.
pub const UNCATEGORIZED: &str = "uncategorized";

/// Product-type keywords and their category, checked before the last-word rule.
const KEYWORD_RULES: [(&str, &str); 44] = [
    ("HOLDER", "holder"),
    ("BAG", "bag"),
    ("BAGS", "bag"),
    ("MUG", "mug"),
    ("MUGS", "mug"),
    ("CUP", "cup"),
    ("CUPS", "cup"),
    ("SAUCER", "cup"),
    ("BOX", "box"),
    ("BOXES", "box"),
    ("SIGN", "sign"),
    ("CARD", "card"),
    ("CARDS", "card"),
    ("CANDLE", "candle"),
    ("CANDLES", "candle"),
    ("LIGHT", "light"),
    ("LIGHTS", "light"),
    ("LANTERN", "light"),
    ("BOTTLE", "bottle"),
    ("BOWL", "bowl"),
    ("BUNTING", "bunting"),
    ("GARLAND", "bunting"),
    ("CLOCK", "clock"),
    ("FRAME", "frame"),
    ("TIN", "tin"),
    ("TINS", "tin"),
    ("NAPKINS", "tableware"),
    ("PLATE", "tableware"),
    ("PLATES", "tableware"),
    ("CUTLERY", "tableware"),
    ("DOILY", "tableware"),
    ("DOILIES", "tableware"),
    ("WRAP", "wrap"),
    ("RIBBONS", "wrap"),
    ("TISSUES", "tissue"),
    ("NOTEBOOK", "stationery"),
    ("PEN", "stationery"),
    ("PENCILS", "stationery"),
    ("STICKERS", "stationery"),
    ("DECORATION", "decoration"),
    ("ORNAMENT", "decoration"),
    ("CUSHION", "cushion"),
    ("UMBRELLA", "umbrella"),
    ("MAGNETS", "magnet"),
];

/// Words that describe a product but never name its type.
const NON_NOUN_WORDS: [&str; 46] = [
    "DESIGN",
    "RETROSPOT",
    "POLKADOT",
    "PAISLEY",
    "SPOTTY",
    "FLORAL",
    "VINTAGE",
    "ASSORTED",
    "PINK",
    "RED",
    "WHITE",
    "BLUE",
    "GREEN",
    "CREAM",
    "IVORY",
    "BLACK",
    "GOLD",
    "SILVER",
    "PURPLE",
    "ORANGE",
    "YELLOW",
    "BROWN",
    "GREY",
    "LARGE",
    "SMALL",
    "MINI",
    "JUMBO",
    "MEDIUM",
    "BIG",
    "TALL",
    "SET",
    "OF",
    "AND",
    "WITH",
    "IN",
    "THE",
    "A",
    "FOR",
    "ON",
    "COLOUR",
    "COLOURS",
    "DES",
    "SIZE",
    "PACK",
    "NEW",
    "+",
];

/// Returns the category of a product from its description.
///
/// The result is lower case. Descriptions are compared in upper case, so a
/// shop that writes mixed case gets the same categories.
pub fn category_of(description: &str) -> String {
    let upper = description.to_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| c.is_whitespace() || c == ',' || c == '/')
        .filter(|word| !word.is_empty())
        .collect();

    for word in words.iter().rev() {
        if let Some((_, category)) = KEYWORD_RULES.iter().find(|(key, _)| key == word) {
            return (*category).to_string();
        }
    }

    let noun = words.iter().rev().find(|word| is_noun_like(word));
    match noun {
        Some(word) => singular(word).to_lowercase(),
        None => UNCATEGORIZED.to_string(),
    }
}

/// Returns whether a word can name a product type: alphabetic, two letters or more,
/// and not a colour, pattern, size or filler word.
fn is_noun_like(word: &str) -> bool {
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    letters >= 2 && !word.chars().any(|c| c.is_ascii_digit()) && !NON_NOUN_WORDS.contains(&word)
}

/// Removes a plural `S` from words of four letters or more (not `SS`).
fn singular(word: &str) -> &str {
    if word.len() >= 4 && word.ends_with('S') && !word.ends_with("SS") {
        &word[..word.len() - 1]
    } else {
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_uses_keyword_rules() {
        assert_eq!(category_of("WHITE HANGING HEART T-LIGHT HOLDER"), "holder");
        assert_eq!(category_of("JUMBO BAG RED RETROSPOT"), "bag");
        assert_eq!(category_of("SET OF 3 CAKE TINS PANTRY DESIGN"), "tin");
        assert_eq!(category_of("Jumbo bag pink polkadot"), "bag");
    }

    #[test]
    fn category_falls_back_to_last_noun() {
        assert_eq!(category_of("PARTY CONES CANDY ASSORTED"), "candy");
        assert_eq!(category_of("ALARM CLOCK BAKELIKE PINK"), "clock");
        assert_eq!(category_of("PACK OF 72 RETROSPOT CAKE CASES"), "case");
    }

    #[test]
    fn category_of_empty_description_is_uncategorized() {
        assert_eq!(category_of(""), UNCATEGORIZED);
        assert_eq!(category_of("SET OF 12 PINK"), UNCATEGORIZED);
    }
}
