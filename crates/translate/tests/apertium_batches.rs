//! Segments sent to Apertium in one batch must not change each other's
//! translation. Needs `apertium` and `apertium-eng-spa` (run
//! `scripts/setup`).

use mercator_translate::engine::{Apertium, Engine};
use mercator_translate::lang::LanguagePair;

fn translate(engine: &Apertium, segments: &[&str]) -> Vec<String> {
    let segments: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
    engine
        .translate(&LanguagePair::new("en", "es"), &segments)
        .unwrap()
        .into_iter()
        .map(|output| output.unwrap().text)
        .collect()
}

#[test]
fn batch_keeps_apostrophes_in_their_segment() {
    let engine = Apertium::detect().expect("apertium is installed (run scripts/setup)");
    let alone = translate(&engine, &["Men's red cotton hoodie"]);
    assert_eq!(alone, ["El algodón rojo de los hombres hoodie"]);
    for before in [
        "Girls' red cotton hoodie",
        "Kids' blue rain jacket",
        "The 'Model 10",
        "Boys’ shirt",
    ] {
        let batch = translate(&engine, &[before, "Men's red cotton hoodie", "Blue mug"]);
        assert_eq!(batch.len(), 3, "{before}: {batch:?}");
        assert_eq!(batch[1], alone[0], "after {before:?}");
        assert_eq!(batch[2], translate(&engine, &["Blue mug"])[0]);
    }
}

#[test]
fn plural_possessives_translate_as_genitives() {
    let engine = Apertium::detect().expect("apertium is installed (run scripts/setup)");
    let outputs = translate(
        &engine,
        &[
            "Kids' blue rain jacket",
            "Boys' shoes",
            "Men's and women's shoes",
            "Kids' and ladies' coats",
        ],
    );
    assert_eq!(
        outputs,
        [
            "La chaqueta de lluvia azul de los niños",
            "Los zapatos de los chicos",
            "Los zapatos de los hombres y las mujeres",
            "Las capas de los niños y las señoras",
        ]
    );
}

#[test]
fn mask_tokens_keep_their_possessive() {
    let engine = Apertium::detect().expect("apertium is installed (run scripts/setup)");
    let outputs = translate(
        &engine,
        &[
            "Gift box for ⟦1⟧'s birthday.",
            "⟦2⟧'s gift box",
            "Gift box for ⟦1⟧'s birthday and ⟦2⟧'s friends.",
            "Track ⟦3⟧'s order online.",
            "⟦1⟧ women's shoes in red leather.",
            "Women's ⟦2⟧ shoes",
            "⟦1⟧'s and ⟦2⟧'s wedding album",
            "⟦1⟧ ⟦2⟧'s notebook",
        ],
    );
    assert_eq!(outputs[6], "El álbum de boda de ⟦1⟧ y ⟦2⟧");
    assert_eq!(outputs[7], "La libreta de ⟦1⟧ ⟦2⟧");
    // A token before or after another possessive stays whole.
    assert_eq!(outputs[4], "⟦1⟧ los zapatos de las mujeres en piel roja.");
    assert_eq!(outputs[5].matches("⟦2⟧").count(), 1, "{}", outputs[5]);
    assert_eq!(outputs[0], "Caja de regalo para el cumpleaños de ⟦1⟧.");
    assert_eq!(outputs[1], "La caja de regalo de ⟦2⟧");
    // Where the genitive rules cannot place the name, the segment is
    // translated as it was: its tokens are all there, once.
    for (output, tokens) in outputs[2..4].iter().zip([&["⟦1⟧", "⟦2⟧"][..], &["⟦3⟧"]]) {
        for token in tokens {
            assert_eq!(output.matches(token).count(), 1, "{output}");
        }
        assert!(!output.contains("John"), "{output}");
    }
}

#[test]
fn unplaced_possessives_count_as_unknown() {
    let engine = Apertium::detect().expect("apertium is installed (run scripts/setup)");
    let segments = [
        "Gift box for ⟦1⟧'s birthday and ⟦2⟧'s friends.".to_string(),
        "Gift box for ⟦1⟧'s birthday.".to_string(),
        "Gift for ⟦1⟧'s.".to_string(),
        "⟦1⟧'s very own gift".to_string(),
        "⟦1⟧'s ⟦2⟧ gift".to_string(),
    ];
    let outputs = engine
        .translate(&LanguagePair::new("en", "es"), &segments)
        .unwrap();
    let unknown = |index: usize| outputs[index].as_ref().unwrap().unknown_words.clone();
    assert_eq!(unknown(0), ["⟦1⟧'s", "⟦2⟧'s"]);
    assert!(unknown(1).is_empty(), "{:?}", unknown(1));
    // No possessed noun, or "'s" read as "is" with a stand-in name too.
    for index in [2, 3, 4] {
        assert_eq!(unknown(index), ["⟦1⟧'s"], "{:?}", outputs[index]);
    }
}

#[test]
fn lacking_acronyms_come_back_unchanged() {
    let engine = Apertium::detect().expect("apertium is installed (run scripts/setup)");
    let outputs = translate(
        &engine,
        &[
            "LED lamp with USB port.",
            "The HDMI cable and the UV lamp.",
            "Warm white LED lights with GPS and a PC.",
            "Men's LED watch",
            "USB-C cable for the TV",
        ],
    );

    // Apertium alone gives "Lámpara dirigida" and "El HDMI el cable".
    assert_eq!(outputs[0], "Lámpara de LED con puerto de USB.");
    assert_eq!(outputs[1], "El cable de HDMI y la lámpara de UV.");

    // Stand-ins the text already has are not used.
    for acronym in ["LED", "GPS", "PC"] {
        assert_eq!(outputs[2].matches(acronym).count(), 1, "{}", outputs[2]);
    }
    for output in &outputs[2..4] {
        assert!(!output.to_lowercase().contains("dirigid"), "{output}");
    }
    // Acronyms in Apertium's dictionary keep its translation.
    assert_eq!(outputs[4], "USB-C cable para la televisión");

    // Once learned, a lacking acronym goes with its stand-in at once, and
    // comes back the same.
    let again = translate(
        &engine,
        &["The HDMI cable and the UV lamp.", "An HDMI port"],
    );
    assert_eq!(again[0], outputs[1]);
    assert!(again[1].contains("HDMI"), "{}", again[1]);
    assert!(!again[1].contains("GPS"), "{}", again[1]);
}

#[test]
fn unpunctuated_segments_stay_apart() {
    let engine = Apertium::detect().expect("apertium is installed (run scripts/setup)");
    let segments = [
        "Tile garden no",
        "Mr. Smith's red mug",
        "French blue metal door sign no",
        "Doormat christmas village",
        "Blue plate",
    ];
    let batch = translate(&engine, &segments);
    for (segment, output) in segments.iter().zip(&batch) {
        assert_eq!(*output, translate(&engine, &[segment])[0], "{segment}");
    }
    // Apertium moved "Señor" and "Felpudo" into the segment before, and
    // left "Azul" capitalized after "no".
    assert_eq!(batch[0], "Núm. de jardín del azulejo");
    assert!(batch[3].starts_with("Felpudo"), "{}", batch[3]);
    assert_eq!(batch[4], "Plato azul");
}
