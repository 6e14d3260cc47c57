//! Translation engines behind one trait.
//!
//! An [`Engine`] translates a batch of plain-text segments for one
//! [`LanguagePair`]. Segments reach it already masked: protected spans,
//! glossary terms and inline tags are `⟦n⟧` tokens that the engine must
//! leave in place, and the pipeline restores them afterwards.
//! [`apertium::Apertium`] runs the rule-based Apertium system,
//! [`llm::LlmEngine`] prompts a language model and `nmt::NmtEngine`
//! (feature `nmt`) runs a CTranslate2 translation model.

pub mod apertium;
pub mod llm;
#[cfg(feature = "nmt")]
pub mod nmt;

use crate::lang::LanguagePair;

pub use apertium::Apertium;
pub use llm::LlmEngine;
#[cfg(feature = "nmt")]
pub use nmt::NmtEngine;

/// Output of an engine for one segment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EngineOutput {
    /// Translated text, engine marks removed.
    pub text: String,
    /// Words the engine could not translate and copied through, if it
    /// reports them.
    pub unknown_words: Vec<String>,
}

/// A failure of the whole batch (the engine could not run).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "translation engine {engine:?} is not installed: {detail}; install it with `{install}`"
    )]
    NotInstalled {
        engine: String,
        detail: String,
        install: String,
    },
    #[error("engine {engine:?} does not translate {pair}; it supports: {supported}")]
    UnsupportedPair {
        engine: String,
        pair: LanguagePair,
        supported: String,
    },
    #[error("engine {engine:?} failed: {message}")]
    Failed { engine: String, message: String },
}

/// A translation engine.
pub trait Engine: Send + Sync {
    /// Short name used on the command line and in reports (`apertium`).
    fn name(&self) -> &str;

    /// Directions the engine can translate.
    fn pairs(&self) -> Vec<LanguagePair>;

    /// Translates `segments` from `pair.source` to `pair.target`.
    ///
    /// Returns one result per segment, in order: a segment that fails is an
    /// `Err` with the reason, and the others still get translated. `Err` for
    /// the whole call means the engine could not run at all.
    fn translate(
        &self,
        pair: &LanguagePair,
        segments: &[String],
    ) -> Result<Vec<Result<EngineOutput, String>>, EngineError>;

    /// Whether the engine translates `pair`.
    fn supports(&self, pair: &LanguagePair) -> bool {
        self.pairs().contains(pair)
    }

    /// Whether every output word comes from the engine's target-language
    /// dictionary or is reported in [`EngineOutput::unknown_words`], as
    /// with a rule-based engine. The quality estimate then takes the
    /// output's language from the unknown words instead of identifying it
    /// again. Neural engines can drift into another language, so they
    /// return `false`.
    fn closed_vocabulary(&self) -> bool {
        false
    }
}

/// Names of the engines this crate builds, for `--engine` help and errors.
pub const BUILT_IN_ENGINES: &[&str] = &["apertium", "llm", "nmt"];

/// Opens the built-in engine called `name`.
pub fn open(name: &str) -> Result<Box<dyn Engine>, EngineError> {
    match name {
        "apertium" => Ok(Box::new(Apertium::detect()?)),
        "llm" => Err(EngineError::NotInstalled {
            engine: "llm".to_string(),
            detail: "the llm engine runs on a loaded text generator; build it with LlmEngine::new"
                .to_string(),
            install: "mercator translate --engine llm".to_string(),
        }),
        "nmt" => Err(EngineError::NotInstalled {
            engine: "nmt".to_string(),
            detail: "the nmt engine runs on a loaded CTranslate2 model; build it with \
                     NmtEngine::new"
                .to_string(),
            install: "mercator translate --engine nmt --nmt-model DIR".to_string(),
        }),
        other => Err(EngineError::NotInstalled {
            engine: other.to_string(),
            detail: format!(
                "unknown engine name; built-in engines: {}",
                BUILT_IN_ENGINES.join(", ")
            ),
            install: "mercator translate --engine apertium".to_string(),
        }),
    }
}

/// Lists the pairs of `engine` as `en-es, es-en`.
pub fn describe_pairs(engine: &dyn Engine) -> String {
    let pairs: Vec<String> = engine.pairs().iter().map(ToString::to_string).collect();
    if pairs.is_empty() {
        "no language pairs installed".to_string()
    } else {
        pairs.join(", ")
    }
}

/// An engine for pipeline unit tests that returns each segment in upper
/// case, so a test can tell translated text from text left alone, and
/// fails on segments that contain `FAIL`.
#[cfg(test)]
pub(crate) struct UppercaseTestEngine;

#[cfg(test)]
impl Engine for UppercaseTestEngine {
    fn name(&self) -> &str {
        "uppercase-test"
    }

    fn pairs(&self) -> Vec<LanguagePair> {
        vec![LanguagePair::new("en", "es")]
    }

    fn translate(
        &self,
        _pair: &LanguagePair,
        segments: &[String],
    ) -> Result<Vec<Result<EngineOutput, String>>, EngineError> {
        Ok(segments
            .iter()
            .map(|segment| {
                if segment.contains("FAIL") {
                    return Err("test engine rejects FAIL".to_string());
                }
                Ok(EngineOutput {
                    text: segment.to_uppercase(),
                    unknown_words: Vec::new(),
                })
            })
            .collect())
    }
}
