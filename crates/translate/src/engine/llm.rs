//! Translation with a large language model: a local GGUF model through
//! llama.cpp, or any OpenAI-compatible chat endpoint, through the
//! [`TextGenerator`] trait of `mercator-models`.
//!
//! Each segment gets its own request. The prompt states the direction,
//! asks for every `⟦n⟧` marker to be copied unchanged, shows one
//! translated example when the target language has one, and ends where
//! the translation starts, so base models that only continue text work as
//! well as instruction-tuned ones. Glossary terms and protected spans reach
//! the model as markers already, so the model cannot alter them; a model
//! that drops or duplicates a marker is caught when the pipeline restores
//! the segment, and the segment goes to review. Generation is greedy
//! (temperature 0) and stops at the end of the line.

use std::sync::Mutex;

use mercator_models::generate::{GenerateRequest, TextGenerator};

use super::{Engine, EngineError, EngineOutput};
use crate::lang::{Language, LanguagePair, LANGUAGES};

/// One translated example per target language, of the English source
/// [`EXAMPLE_SOURCE`].
const EXAMPLES: &[(&str, &str)] = &[
    ("es", "Bufanda de lana roja con flecos ⟦0⟧, lavable a mano"),
    ("de", "Roter Wollschal mit ⟦0⟧ Fransen, handwaschbar"),
    (
        "fr",
        "Écharpe en laine rouge à franges ⟦0⟧, lavable à la main",
    ),
    (
        "it",
        "Sciarpa di lana rossa con frange ⟦0⟧, lavabile a mano",
    ),
    (
        "pt",
        "Cachecol de lã vermelho com franjas ⟦0⟧, lavável à mão",
    ),
    (
        "nl",
        "Rode wollen sjaal met ⟦0⟧ franjes, met de hand wasbaar",
    ),
];

/// English source of [`EXAMPLES`].
const EXAMPLE_SOURCE: &str = "Red wool scarf with ⟦0⟧ fringe, hand washable";

/// An [`Engine`] that prompts a text generator.
pub struct LlmEngine {
    name: String,
    generator: Mutex<Box<dyn TextGenerator + Send>>,
}

impl LlmEngine {
    /// Wraps `generator`; `name` appears in reports (for example
    /// `llm:gemma-3-270m`).
    pub fn new(name: impl Into<String>, generator: Box<dyn TextGenerator + Send>) -> Self {
        LlmEngine {
            name: name.into(),
            generator: Mutex::new(generator),
        }
    }
}

/// Builds the prompt for the translation of `segment`.
pub fn prompt(pair: &LanguagePair, segment: &str) -> String {
    let name = |code: &str| {
        Language::lookup(code)
            .map(|language| language.name.to_string())
            .unwrap_or_else(|| code.to_string())
    };
    let (source, target) = (name(&pair.source), name(&pair.target));
    let mut text = format!(
        "Translate the {source} product text into {target}. Copy every marker such as ⟦0⟧ \
         unchanged into the translation, at the place its words move to. Answer with the \
         translation only, on one line.\n\n"
    );
    let example = EXAMPLES.iter().find(|(code, _)| *code == pair.target);
    if let (Some((_, translated)), "en") = (example, pair.source.as_str()) {
        text.push_str(&format!(
            "{source}: {EXAMPLE_SOURCE}\n{target}: {translated}\n\n"
        ));
    }
    text.push_str(&format!("{source}: {segment}\n{target}:"));
    text
}

impl Engine for LlmEngine {
    fn name(&self) -> &str {
        &self.name
    }

    /// Lists every ordered pair of the languages Mercator has locale rules for.
    fn pairs(&self) -> Vec<LanguagePair> {
        let mut pairs = Vec::new();
        for source in LANGUAGES {
            for target in LANGUAGES {
                if source.code != target.code {
                    pairs.push(LanguagePair::new(source.code, target.code));
                }
            }
        }
        pairs
    }

    fn translate(
        &self,
        pair: &LanguagePair,
        segments: &[String],
    ) -> Result<Vec<Result<EngineOutput, String>>, EngineError> {
        let mut generator = self.generator.lock().map_err(|_| EngineError::Failed {
            engine: self.name.clone(),
            message: "the model lock is poisoned by an earlier failure".to_string(),
        })?;
        let outputs = segments
            .iter()
            .map(|segment| {
                if segment.trim().is_empty() {
                    return Ok(EngineOutput {
                        text: segment.clone(),
                        unknown_words: Vec::new(),
                    });
                }
                let request = GenerateRequest {
                    // Tokens hold one or more characters, so the source's
                    // character count plus a margin fits a longer translation.
                    max_tokens: segment.chars().count() + 32,
                    temperature: 0.0,
                    stop: vec!["\n".to_string()],
                    use_chat_template: false,
                    ..GenerateRequest::new(prompt(pair, segment))
                };
                let generation = generator
                    .generate(&request, &mut |_| {})
                    .map_err(|err| err.to_string())?;
                let text = generation.text.trim();
                if text.is_empty() {
                    return Err("the model returned no translation".to_string());
                }
                Ok(EngineOutput {
                    text: text.to_string(),
                    unknown_words: Vec::new(),
                })
            })
            .collect();
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_ends_where_the_translation_starts() {
        let text = prompt(&LanguagePair::new("en", "es"), "Blue mug ⟦0⟧");
        assert!(text.ends_with("English: Blue mug ⟦0⟧\nSpanish:"), "{text}");
        assert!(text.contains("Bufanda de lana roja"), "{text}");
        assert!(text.contains("⟦0⟧ unchanged"), "{text}");
    }

    #[test]
    fn prompt_without_example_for_other_sources() {
        let text = prompt(&LanguagePair::new("es", "en"), "Taza azul");
        assert!(!text.contains("Bufanda"), "{text}");
        assert!(text.ends_with("Spanish: Taza azul\nEnglish:"), "{text}");
    }
}
