//! Fuzzy translation-memory matches through the real Apertium engine: a
//! stored translation is adapted to the new source where the engine's own
//! outputs show what changed, and left unused where they do not. Needs
//! `apertium` and `apertium-eng-spa` (run `scripts/setup`).

use mercator_translate::catalog::Listing;
use std::sync::atomic::{AtomicUsize, Ordering};

use mercator_translate::engine::{Apertium, Engine, EngineError, EngineOutput};
use mercator_translate::lang::LanguagePair;
use mercator_translate::memory::{Memory, ReviewItem};
use mercator_translate::pipeline::{Options, Origin, Pipeline, RunReport};

fn listing(sku: &str, title: &str, description: &str) -> Listing {
    Listing {
        sku: sku.to_string(),
        title: title.to_string(),
        description: description.to_string(),
        ..Listing::default()
    }
}

/// Apertium, counting the calls the pipeline makes.
struct Counted<'a> {
    inner: &'a Apertium,
    calls: AtomicUsize,
}

impl Engine for Counted<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn pairs(&self) -> Vec<LanguagePair> {
        self.inner.pairs()
    }

    fn translate(
        &self,
        pair: &LanguagePair,
        segments: &[String],
    ) -> Result<Vec<Result<EngineOutput, String>>, EngineError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.translate(pair, segments)
    }

    fn closed_vocabulary(&self) -> bool {
        self.inner.closed_vocabulary()
    }
}

fn translate(engine: &dyn Engine, memory: &mut Memory, listings: &[Listing]) -> RunReport {
    let mut pipeline = Pipeline::new(engine, Some(memory), Options::default());
    pipeline.translate(listings, "es", &mut |_| {}).unwrap()
}

/// Apertium's own translation of `text` into Spanish.
fn raw(engine: &Apertium, text: &str) -> String {
    let outputs = engine
        .translate(&LanguagePair::new("en", "es"), &[text.to_string()])
        .unwrap();
    outputs[0].as_ref().unwrap().text.clone()
}

/// Stores a human correction of the title `source`.
fn correct(memory: &mut Memory, source: &str, correction: &str) {
    let item = ReviewItem {
        id: 0,
        sku: "W".to_string(),
        field: "title".to_string(),
        source_lang: "en".to_string(),
        target_lang: "es".to_string(),
        source: source.to_string(),
        translation: String::new(),
        score: 0.0,
        flags: String::new(),
    };
    memory.correct(&[(&item, correction)]).unwrap();
}

#[test]
fn fuzzy_correction_is_adapted_or_left_unused() {
    let engine = Apertium::detect().expect("apertium is installed (run scripts/setup)");
    let dir = tempfile::tempdir().unwrap();
    let mut memory = Memory::open(dir.path()).unwrap();
    // Apertium writes "La camisa de algodón rojo de las mujeres"; the
    // reviewer dropped the article.
    correct(
        &mut memory,
        "Women's red cotton shirt",
        "Camisa de algodón rojo de las mujeres",
    );
    // Here the reviewer chose other words than Apertium.
    correct(
        &mut memory,
        "Women's blue cotton shirt",
        "Blusa azul para mujer",
    );

    let counted = Counted {
        inner: &engine,
        calls: AtomicUsize::new(0),
    };
    let run = translate(
        &counted,
        &mut memory,
        &[
            listing("M1", "Men's red cotton shirt", ""),
            listing("M2", "Men's blue cotton shirt", ""),
        ],
    );
    // One call checks both corrections, one translates the field left to
    // the engine.
    assert_eq!(counted.calls.load(Ordering::SeqCst), 2);
    let adapted = &run.listings[0].fields[0];
    assert_eq!(adapted.output, "Camisa de algodón rojo de los hombres");
    assert!(
        adapted.flags.contains(&"human_fuzzy".to_string()),
        "{adapted:?}"
    );

    // The women's blouse is not passed off as a men's shirt.
    let unused = &run.listings[1].fields[0];
    assert_eq!(unused.output, raw(&engine, "Men's blue cotton shirt"));
    assert!(
        !unused.output.to_lowercase().contains("mujer"),
        "{unused:?}"
    );
    assert!(
        !unused.flags.iter().any(|f| f.starts_with("human")),
        "{unused:?}"
    );
}

#[test]
fn fuzzy_segment_never_carries_the_other_sources_words() {
    let engine = Apertium::detect().expect("apertium is installed (run scripts/setup)");
    let dir = tempfile::tempdir().unwrap();
    let mut memory = Memory::open(dir.path()).unwrap();
    let women = "The women's red cotton shirt is very soft to wear.";
    let men = "The men's red cotton shirt is very soft to wear.";
    translate(&engine, &mut memory, &[listing("W1", "Shirt", women)]);

    let run = translate(&engine, &mut memory, &[listing("M1", "Shirt", men)]);
    let description = &run.listings[0].fields[1];
    assert_eq!(description.output, raw(&engine, men));
    assert!(!description.output.contains("mujeres"), "{description:?}");
    let segment = &description.segments[0];
    assert_eq!(segment.origin, Origin::MemoryFuzzy, "{segment:?}");
}

#[test]
fn exact_reuse_scores_as_the_fresh_translation() {
    let engine = Apertium::detect().expect("apertium is installed (run scripts/setup)");
    let dir = tempfile::tempdir().unwrap();
    let mut memory = Memory::open(dir.path()).unwrap();
    let listings = [listing(
        "B1",
        "Blue bag with zipper",
        "A large blue bag with a zipper. It holds two books and a laptop.",
    )];
    let fresh = translate(&engine, &mut memory, &listings);
    let reused = translate(&engine, &mut memory, &listings);
    for (fresh, reused) in fresh.listings[0]
        .fields
        .iter()
        .zip(&reused.listings[0].fields)
    {
        assert_eq!(fresh.output, reused.output);
        assert_eq!(fresh.score, reused.score, "{fresh:?}\n{reused:?}");
        assert!(reused.segments.iter().all(|s| s.origin == Origin::Memory));
    }
}
