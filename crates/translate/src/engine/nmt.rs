//! Neural machine translation with a CTranslate2 model
//! ([`NmtModel`] of `mercator-models`) for one language pair.
//!
//! A model such as OPUS-MT translates one direction, so the engine serves
//! exactly the pair it was opened for. Multilingual models (NLLB, M2M100)
//! pick their output language from a target prefix token. The `⟦n⟧`
//! markers reach the model as ordinary text. When the model drops or alters
//! one, the pipeline notices while restoring the segment and sends the
//! segment to review.

use mercator_models::nmt::NmtModel;

use super::{Engine, EngineError, EngineOutput};
use crate::lang::LanguagePair;

/// An [`Engine`] that runs a CTranslate2 translation model.
pub struct NmtEngine {
    name: String,
    model: NmtModel,
    pair: LanguagePair,
    target_prefix: Vec<String>,
}

impl NmtEngine {
    /// Wraps `model` for `pair`; `name` appears in reports (for example
    /// `nmt:opus-mt-en-es`).
    pub fn new(name: impl Into<String>, model: NmtModel, pair: LanguagePair) -> Self {
        NmtEngine {
            name: name.into(),
            model,
            pair,
            target_prefix: Vec::new(),
        }
    }

    /// Sets the tokens every translation starts with, such as `spa_Latn`
    /// for NLLB or `__es__` for M2M100.
    pub fn with_target_prefix(mut self, tokens: Vec<String>) -> Self {
        self.target_prefix = tokens;
        self
    }
}

impl Engine for NmtEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn pairs(&self) -> Vec<LanguagePair> {
        vec![self.pair.clone()]
    }

    fn translate(
        &self,
        pair: &LanguagePair,
        segments: &[String],
    ) -> Result<Vec<Result<EngineOutput, String>>, EngineError> {
        if *pair != self.pair {
            return Err(EngineError::UnsupportedPair {
                engine: self.name.clone(),
                pair: pair.clone(),
                supported: self.pair.to_string(),
            });
        }
        // Blank segments stay as they are and never reach the model.
        let texts: Vec<&str> = segments
            .iter()
            .map(String::as_str)
            .filter(|segment| !segment.trim().is_empty())
            .collect();
        let mut translations = self
            .model
            .translate_batch(&texts, &self.target_prefix)
            .into_iter();

        let mut outputs = Vec::with_capacity(segments.len());
        for segment in segments {
            if segment.trim().is_empty() {
                outputs.push(Ok(EngineOutput {
                    text: segment.clone(),
                    unknown_words: Vec::new(),
                }));
                continue;
            }
            let output = match translations.next() {
                Some(Ok(translation)) if translation.text.is_empty() => {
                    Err("the model returned an empty translation".to_string())
                }
                Some(Ok(translation)) => Ok(EngineOutput {
                    text: translation.text,
                    unknown_words: translation.unknown_words,
                }),
                Some(Err(err)) => Err(err.to_string()),
                None => Err("the model returned fewer results than segments".to_string()),
            };
            outputs.push(output);
        }
        Ok(outputs)
    }
}
