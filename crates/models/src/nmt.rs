//! Neural machine translation with CTranslate2 sequence-to-sequence models
//! (OPUS-MT/Marian, NLLB, M2M100 converted with `ct2-transformers-converter`).
//!
//! A model folder contains `model.bin` and the vocabularies the converter
//! writes, plus a Hugging Face `tokenizer.json` whose tokens are the
//! model's source tokens. Text is tokenized here with the `tokenizers`
//! crate, decoded with CTranslate2 on the CPU (int8 weights), and the
//! output tokens are joined back into text with the tokenizer's decoder.
//!
//! NOTE: the tests run a small random-weight Transformer only. Converted
//! OPUS-MT, NLLB and M2M100 folders have not been run through this module.

use std::path::{Path, PathBuf};

use ct2rs::sys::{self, TranslationOptions};
use ct2rs::{ComputeType, Config};
use tokenizers::Decoder;
use tracing::warn;

use crate::{ModelError, Result};

/// Weights file of a CTranslate2 model folder.
pub const MODEL_FILE: &str = "model.bin";

/// Tokenizer file of a model folder, in the Hugging Face `tokenizers` format.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// CTranslate2's settings file, which names the model's unknown token.
const CONFIG_FILE: &str = "config.json";

/// Beam size of [`NmtModel::load`]: CTranslate2's default, a small beam
/// that is still deterministic.
pub const DEFAULT_BEAM_SIZE: usize = 2;

/// Maximum number of output tokens per segment.
const MAX_DECODING_LENGTH: usize = 256;

/// The translation of one segment.
#[derive(Debug, Clone, PartialEq)]
pub struct NmtTranslation {
    /// Decoded text, without the target prefix.
    pub text: String,
    /// Output tokens, without the target prefix and the end token.
    pub tokens: Vec<String>,
    /// Source words that the tokenizer mapped to the unknown token.
    pub unknown_words: Vec<String>,
    /// CTranslate2's score of the output (its log-probability divided by its
    /// length), when the decoder reports it.
    pub score: Option<f32>,
}

/// A loaded CTranslate2 translation model with its tokenizer.
pub struct NmtModel {
    dir: PathBuf,
    translator: sys::Translator,
    tokenizer: tokenizers::Tokenizer,
    unknown_token: String,
    beam_size: usize,
}

impl NmtModel {
    /// Loads the model folder `dir` with int8 weights on the CPU.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with_threads(dir, 0)
    }

    /// Like [`NmtModel::load`] with a thread count (0: CTranslate2's default).
    pub fn load_with_threads(dir: &Path, threads: usize) -> Result<Self> {
        let load_error = |reason: String| ModelError::Load {
            path: dir.to_path_buf(),
            reason,
        };
        if !dir.is_dir() {
            return Err(load_error(
                "folder not found; give a CTranslate2 translation model folder".into(),
            ));
        }
        if !dir.join(MODEL_FILE).is_file() {
            return Err(load_error(format!(
                "{MODEL_FILE} not found; convert the model with `ct2-transformers-converter \
                 --model REPO --output_dir DIR` and use DIR"
            )));
        }
        let tokenizer_path = dir.join(TOKENIZER_FILE);
        if !tokenizer_path.is_file() {
            return Err(load_error(format!(
                "{TOKENIZER_FILE} not found; copy the model's tokenizer.json into the folder \
                 (ct2-transformers-converter --copy_files tokenizer.json does it)"
            )));
        }
        let tokenizer = tokenizers::Tokenizer::from_file(&tokenizer_path)
            .map_err(|err| load_error(format!("{TOKENIZER_FILE}: {err}")))?;
        if tokenizer.get_decoder().is_none() {
            warn!(
                dir = %dir.display(),
                "tokenizer.json has no decoder; output tokens are joined with spaces"
            );
        }
        let unknown_token = read_unknown_token(dir)?;
        let config = Config {
            compute_type: ComputeType::INT8,
            num_threads_per_replica: threads,
            ..Config::default()
        };
        let translator =
            sys::Translator::new(dir, &config).map_err(|err| load_error(format!("{err:#}")))?;
        Ok(NmtModel {
            dir: dir.to_path_buf(),
            translator,
            tokenizer,
            unknown_token,
            beam_size: DEFAULT_BEAM_SIZE,
        })
    }

    /// Sets the beam size (1 is greedy search).
    pub fn with_beam_size(mut self, beam_size: usize) -> Self {
        self.beam_size = beam_size.max(1);
        self
    }

    /// Folder the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Translates `segments` in one batch.
    ///
    /// `target_prefix` contains tokens that every output starts with, such
    /// as the target language token of a multilingual model (`spa_Latn` for
    /// NLLB, `__es__` for M2M100). The result leaves them out.
    /// Returns one result per segment, in order, so a segment the tokenizer
    /// or the decoder rejects fails alone. Decoding is deterministic: beam
    /// search without sampling.
    pub fn translate_batch(
        &self,
        segments: &[&str],
        target_prefix: &[String],
    ) -> Vec<Result<NmtTranslation>> {
        let mut results: Vec<Option<Result<NmtTranslation>>> = Vec::new();
        let mut encoded = Vec::new();
        for (index, segment) in segments.iter().enumerate() {
            match self.encode(segment) {
                Ok(source) => {
                    encoded.push((index, source));
                    results.push(None);
                }
                Err(err) => results.push(Some(Err(err))),
            }
        }

        let sources: Vec<&Source> = encoded.iter().map(|(_, source)| source).collect();
        let decoded = match self.decode(&sources, target_prefix) {
            Ok(outputs) => outputs.into_iter().map(Ok).collect(),
            // One bad segment fails the whole batch, so each is retried
            // alone to give the others their translation.
            Err(_) if sources.len() > 1 => sources
                .iter()
                .map(|source| {
                    self.decode(&[source], target_prefix)
                        .map(|mut outputs| outputs.remove(0))
                })
                .collect(),
            Err(err) => vec![Err(err)],
        };
        for ((index, source), output) in encoded.into_iter().zip(decoded) {
            results[index] = Some(output.and_then(|(tokens, score)| {
                Ok(NmtTranslation {
                    text: self.detokenize(&tokens)?,
                    tokens,
                    unknown_words: source.unknown_words,
                    score,
                })
            }));
        }
        results
            .into_iter()
            .map(|result| result.expect("every segment has a result"))
            .collect()
    }

    /// Splits `segment` into source tokens.
    fn encode(&self, segment: &str) -> Result<Source> {
        let encoding = self
            .tokenizer
            .encode(segment, true)
            .map_err(|err| ModelError::Translation(format!("tokenizing {segment:?}: {err}")))?;
        let tokens = encoding.get_tokens().to_vec();
        let unknown_words = tokens
            .iter()
            .zip(encoding.get_offsets())
            .filter(|(token, _)| **token == self.unknown_token)
            .filter_map(|(_, &(start, end))| segment.get(start..end))
            .map(str::to_string)
            .collect();
        Ok(Source {
            tokens,
            unknown_words,
        })
    }

    /// Runs the decoder on token sequences. Returns each output's tokens,
    /// without the prefix, and its score.
    fn decode(
        &self,
        sources: &[&Source],
        target_prefix: &[String],
    ) -> Result<Vec<(Vec<String>, Option<f32>)>> {
        let options = TranslationOptions {
            beam_size: self.beam_size,
            max_decoding_length: MAX_DECODING_LENGTH + target_prefix.len(),
            // The prefix counts towards the length, so at least one token
            // follows it.
            min_decoding_length: target_prefix.len() + 1,
            return_scores: true,
            ..TranslationOptions::default()
        };
        let tokens: Vec<Vec<&str>> = sources
            .iter()
            .map(|source| source.tokens.iter().map(String::as_str).collect())
            .collect();
        let failed = |err: anyhow::Error| ModelError::Translation(format!("{err:#}"));
        let results = if target_prefix.is_empty() {
            self.translator
                .translate_batch(&tokens, &options, None)
                .map_err(failed)?
        } else {
            let prefixes = vec![target_prefix.to_vec(); tokens.len()];
            self.translator
                .translate_batch_with_target_prefix(&tokens, &prefixes, &options, None)
                .map_err(failed)?
        };
        results
            .into_iter()
            .map(|result| {
                let score = result.score();
                let mut hypothesis = result.hypotheses.into_iter().next().ok_or_else(|| {
                    ModelError::Translation("the decoder returned no hypothesis".into())
                })?;
                let prefix_length = target_prefix.len().min(hypothesis.len());
                hypothesis.drain(..prefix_length);
                Ok((hypothesis, score))
            })
            .collect()
    }

    /// Joins output tokens into text with the tokenizer's decoder, or with
    /// spaces when the tokenizer has none.
    fn detokenize(&self, tokens: &[String]) -> Result<String> {
        let text = match self.tokenizer.get_decoder() {
            Some(decoder) => decoder.decode(tokens.to_vec()).map_err(|err| {
                ModelError::Translation(format!("decoding tokens {tokens:?}: {err}"))
            })?,
            None => tokens.join(" "),
        };
        Ok(text.trim().to_string())
    }
}

/// A tokenized segment.
struct Source {
    tokens: Vec<String>,
    unknown_words: Vec<String>,
}

/// Reads the unknown token from the model's `config.json` (`<unk>` when
/// the file or the field is missing, as in CTranslate2).
fn read_unknown_token(dir: &Path) -> Result<String> {
    let path = dir.join(CONFIG_FILE);
    if !path.is_file() {
        return Ok("<unk>".to_string());
    }
    let text = std::fs::read_to_string(&path).map_err(|err| ModelError::io(&path, err))?;
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| ModelError::Load {
            path: path.clone(),
            reason: format!("not valid JSON ({err})"),
        })?;
    Ok(config["unk_token"].as_str().unwrap_or("<unk>").to_string())
}
