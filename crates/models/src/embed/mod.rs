//! Sentence embeddings with candle, from BERT-family models and from
//! EmbeddingGemma (a multilingual Gemma 3 encoder, see [`gemma`]).
//!
//! [`Embedder::load`] reads a sentence-transformers folder: `config.json`,
//! `model.safetensors`, `tokenizer.json` and, when present,
//! `1_Pooling/config.json` (mean pooling when absent),
//! `sentence_bert_config.json` (maximum sequence length), the `Dense`
//! projections listed in `modules.json` and the task prompts of
//! `config_sentence_transformers.json`. Every vector is L2-normalized, so
//! the dot product of two vectors is their cosine.

pub mod gemma;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Linear, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use serde::Deserialize;

use gemma::{GemmaConfig, GemmaEncoder};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};
use tracing::{debug, warn};

use crate::{ModelError, Result};

/// Texts per forward pass when the caller gives no batch size.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// How token vectors become one sentence vector, as in sentence-transformers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean of the token vectors under the attention mask.
    Mean,
    /// The vector of the first token (`[CLS]`).
    Cls,
    /// Element-wise maximum over the unmasked tokens.
    Max,
    /// Sum of the unmasked token vectors divided by sqrt(token count).
    MeanSqrtLen,
}

#[derive(Debug, Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

#[derive(Debug, Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct ModelType {
    #[serde(default)]
    model_type: String,
}

/// One entry of `modules.json`.
#[derive(Debug, Deserialize)]
struct ModuleEntry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// A `Dense` module's `config.json`.
#[derive(Debug, Deserialize)]
struct DenseConfig {
    in_features: usize,
    out_features: usize,
    #[serde(default)]
    bias: bool,
    #[serde(default)]
    activation_function: String,
}

#[derive(Debug, Default, Deserialize)]
struct SentenceTransformersConfig {
    #[serde(default)]
    prompts: HashMap<String, String>,
}

/// The network under the pooling.
enum Encoder {
    Bert(Box<BertModel>),
    Gemma(GemmaEncoder),
}

/// A loaded sentence-embedding model.
pub struct Embedder {
    model: Encoder,
    /// Projections after the pooling (`Dense` modules), in order.
    dense: Vec<Linear>,
    /// Task prompts by name ("query", "STS", ...), prepended to the text.
    prompts: HashMap<String, String>,
    tokenizer: Tokenizer,
    pooling: Pooling,
    dimension: usize,
    device: Device,
    /// Maximum input length in tokens; longer texts are cut.
    max_tokens: usize,
    /// Id of the unknown-word token, when the vocabulary has one.
    unknown_id: Option<u32>,
}

impl Embedder {
    /// Loads the model folder `dir` on the CPU.
    pub fn load(dir: &Path) -> Result<Self> {
        let load_error = |reason: String| ModelError::Load {
            path: dir.to_path_buf(),
            reason,
        };
        let device = Device::Cpu;

        let config_path = dir.join("config.json");
        let config_text = read_text(&config_path)?;
        let model_type: ModelType = serde_json::from_str(&config_text)
            .map_err(|err| load_error(format!("config.json: {err}")))?;

        let weights_path = dir.join("model.safetensors");
        let weights =
            std::fs::read(&weights_path).map_err(|err| ModelError::io(&weights_path, err))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|err| load_error(format!("model.safetensors: {err}")))?;
        let (model, hidden_size, model_limit) = if model_type.model_type.starts_with("gemma") {
            let config: GemmaConfig = serde_json::from_str(&config_text)
                .map_err(|err| load_error(format!("config.json: {err}")))?;
            if !config.use_bidirectional_attention {
                return Err(load_error(
                    "config.json describes a causal Gemma model (no \"use_bidirectional_attention\"); \
                     an embedding model such as EmbeddingGemma is needed"
                        .to_string(),
                ));
            }
            let encoder = GemmaEncoder::load(vb, &config)
                .map_err(|err| load_error(format!("model.safetensors: {err}")))?;
            let limit = encoder.max_tokens();
            (Encoder::Gemma(encoder), config.hidden_size, limit)
        } else {
            let config: BertConfig = serde_json::from_str(&config_text)
                .map_err(|err| load_error(format!("config.json: {err}")))?;
            let model = BertModel::load(vb, &config)
                .map_err(|err| load_error(format!("model.safetensors: {err}")))?;
            (
                Encoder::Bert(Box::new(model)),
                config.hidden_size,
                config.max_position_embeddings,
            )
        };
        let (dense, dimension) = read_dense(dir, hidden_size, &device)?;
        let prompts = read_prompts(dir)?;

        let max_length = read_max_seq_length(dir)?
            .unwrap_or(model_limit)
            .min(model_limit);
        let tokenizer = load_tokenizer(&dir.join("tokenizer.json"), max_length)?;
        let pooling = read_pooling(dir)?;
        debug!(?pooling, max_length, "embedding model loaded");
        let unknown_id = ["[UNK]", "<unk>"]
            .iter()
            .find_map(|token| tokenizer.token_to_id(token));

        Ok(Embedder {
            model,
            dense,
            prompts,
            tokenizer,
            pooling,
            dimension,
            device,
            max_tokens: max_length,
            unknown_id,
        })
    }

    /// Length of every vector this model returns.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The pooling read from the model folder.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Returns the task prompt the model was trained with under `name` ("query",
    /// "document", "STS", ...), when the model folder names one.
    pub fn prompt(&self, name: &str) -> Option<&str> {
        self.prompts.get(name).map(String::as_str)
    }

    /// Names of the model's task prompts, sorted; empty for models without.
    pub fn prompt_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.prompts.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Embeds `texts` with the prompt `name` before each one, or as they
    /// are when the model has no such prompt.
    pub fn embed_for(&self, name: &str, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let prompt = self.prompt(name).unwrap_or("");
        self.embed_prompted(prompt, texts, DEFAULT_BATCH_SIZE)
    }

    /// Embeds `texts` with `prompt` before each one, `batch_size` texts per
    /// forward pass.
    pub fn embed_prompted(
        &self,
        prompt: &str,
        texts: &[&str],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>> {
        if prompt.is_empty() {
            return self.embed_batched(texts, batch_size);
        }
        let prompted: Vec<String> = texts.iter().map(|text| format!("{prompt}{text}")).collect();
        let refs: Vec<&str> = prompted.iter().map(String::as_str).collect();
        self.embed_batched(&refs, batch_size)
    }

    /// Embeds `texts` in batches of [`DEFAULT_BATCH_SIZE`].
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_batched(texts, DEFAULT_BATCH_SIZE)
    }

    /// Embeds `texts`, `batch_size` texts per forward pass; one
    /// L2-normalized vector per text, in input order.
    pub fn embed_batched(&self, texts: &[&str], batch_size: usize) -> Result<Vec<Vec<f32>>> {
        let batch_size = batch_size.max(1);
        let mut vectors = Vec::with_capacity(texts.len());
        for (idx, batch) in texts.chunks(batch_size).enumerate() {
            vectors.extend(self.embed_batch(batch, idx * batch_size)?);
        }
        Ok(vectors)
    }

    /// Returns the maximum input length in tokens; the rest of a longer text
    /// is not embedded.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Tells whether `text` is longer than [`Embedder::max_tokens`], so that
    /// its end would not be embedded.
    pub fn truncates(&self, text: &str) -> bool {
        self.tokenizer
            .encode(text, true)
            .is_ok_and(|encoding| !encoding.get_overflowing().is_empty())
    }

    /// `first` is the position of `texts[0]` in the caller's list, for warnings.
    fn embed_batch(&self, texts: &[&str], first: usize) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|err| ModelError::Embedding(format!("tokenization failed: {err}")))?;
        for (offset, encoding) in encodings.iter().enumerate() {
            let text = first + offset + 1;
            if !encoding.get_overflowing().is_empty() {
                warn!(
                    text,
                    max_tokens = self.max_tokens,
                    "text is longer than the model's input limit; only its first tokens are embedded"
                );
            }
            let unknown = encoding
                .get_ids()
                .iter()
                .filter(|&&id| Some(id) == self.unknown_id)
                .count();
            if unknown > 0 {
                warn!(
                    text,
                    unknown_tokens = unknown,
                    "text has characters outside the model's vocabulary (emoji, rare scripts); \
                     they are embedded as unknown tokens"
                );
            }
        }

        let n_texts = encodings.len();
        let n_tokens = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(n_texts * n_tokens);
        let mut type_ids = Vec::with_capacity(n_texts * n_tokens);
        let mut mask = Vec::with_capacity(n_texts * n_tokens);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            type_ids.extend_from_slice(encoding.get_type_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }

        let vectors = self.forward(ids, type_ids, mask, (n_texts, n_tokens));
        vectors.map_err(|err| ModelError::Embedding(err.to_string()))
    }

    /// Runs BERT, pools and normalizes; inputs are row-major
    /// `(n_texts, n_tokens)` token ids, token type ids and attention mask.
    fn forward(
        &self,
        ids: Vec<u32>,
        type_ids: Vec<u32>,
        mask: Vec<u32>,
        shape: (usize, usize),
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let type_ids = Tensor::from_vec(type_ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;

        // hidden: (n_texts, n_tokens, hidden_size)
        let hidden = match &self.model {
            Encoder::Bert(model) => model.forward(&ids, &type_ids, Some(&mask))?,
            Encoder::Gemma(model) => model.forward(&ids, &mask)?,
        };
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let pooled = match self.pooling {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Mean => {
                let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
                let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
                summed.broadcast_div(&counts)?
            }
            Pooling::MeanSqrtLen => {
                let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
                let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?.sqrt()?;
                summed.broadcast_div(&counts)?
            }
            Pooling::Max => {
                // Masked positions get a large negative value so they never win.
                let penalty = ((mask.ones_like()? - &mask)? * -1e9)?;
                hidden.broadcast_add(&penalty)?.max(1)?
            }
        };
        let mut pooled = pooled;
        for dense in &self.dense {
            pooled = dense.forward(&pooled)?;
        }
        let norms = pooled
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        pooled.broadcast_div(&norms)?.to_vec2::<f32>()
    }
}

/// Cosine similarity of two vectors; 0 when either is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm_a = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let norm_b = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm_a == 0.0 || norm_b == 0.0 {
        return 0.0;
    }
    dot / (norm_a * norm_b)
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|err| ModelError::io(path, err))
}

fn load_tokenizer(path: &Path, max_length: usize) -> Result<Tokenizer> {
    let load_error = |reason: String| ModelError::Load {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(load_error("tokenizer.json not found".to_string()));
    }
    let mut tokenizer = Tokenizer::from_file(path).map_err(|err| load_error(err.to_string()))?;
    let mut padding = PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..Default::default()
    };
    if let Some((token, id)) = ["[PAD]", "<pad>"]
        .iter()
        .find_map(|token| Some((token.to_string(), tokenizer.token_to_id(token)?)))
    {
        padding.pad_token = token;
        padding.pad_id = id;
    }
    tokenizer.with_padding(Some(padding));
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length,
            ..Default::default()
        }))
        .map_err(|err| load_error(err.to_string()))?;
    Ok(tokenizer)
}

/// Reads `1_Pooling/config.json`; mean pooling when the file is absent.
fn read_pooling(dir: &Path) -> Result<Pooling> {
    let path = dir.join("1_Pooling").join("config.json");
    if !path.is_file() {
        return Ok(Pooling::Mean);
    }
    let config: PoolingConfig =
        serde_json::from_str(&read_text(&path)?).map_err(|err| ModelError::Load {
            path: path.clone(),
            reason: err.to_string(),
        })?;
    let pooling = if config.pooling_mode_cls_token {
        Pooling::Cls
    } else if config.pooling_mode_max_tokens {
        Pooling::Max
    } else if config.pooling_mode_mean_sqrt_len_tokens {
        Pooling::MeanSqrtLen
    } else {
        // Mean is also the sentence-transformers default.
        let _ = config.pooling_mode_mean_tokens;
        Pooling::Mean
    };
    Ok(pooling)
}

/// Reads the `Dense` modules listed in `modules.json`, in order; returns
/// them with the length of the vectors they produce (`hidden_size` when
/// there are none).
fn read_dense(dir: &Path, hidden_size: usize, device: &Device) -> Result<(Vec<Linear>, usize)> {
    let path = dir.join("modules.json");
    if !path.is_file() {
        return Ok((Vec::new(), hidden_size));
    }
    let load_error = |path: &Path, reason: String| ModelError::Load {
        path: path.to_path_buf(),
        reason,
    };
    let modules: Vec<ModuleEntry> = serde_json::from_str(&read_text(&path)?)
        .map_err(|err| load_error(&path, err.to_string()))?;
    let mut dense = Vec::new();
    let mut dimension = hidden_size;
    for module in modules.iter().filter(|m| m.kind.ends_with(".Dense")) {
        let folder = dir.join(&module.path);
        let config_path = folder.join("config.json");
        let config: DenseConfig = serde_json::from_str(&read_text(&config_path)?)
            .map_err(|err| load_error(&config_path, err.to_string()))?;
        if !config.activation_function.is_empty()
            && !config.activation_function.ends_with("Identity")
        {
            return Err(load_error(
                &config_path,
                format!(
                    "activation {} is not supported; only Identity is",
                    config.activation_function
                ),
            ));
        }
        if config.in_features != dimension {
            return Err(load_error(
                &config_path,
                format!(
                    "in_features is {} but the previous module gives {dimension}",
                    config.in_features
                ),
            ));
        }
        let weights_path = folder.join("model.safetensors");
        let weights =
            std::fs::read(&weights_path).map_err(|err| ModelError::io(&weights_path, err))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, device)
            .map_err(|err| load_error(&weights_path, err.to_string()))?;
        let layer = if config.bias {
            candle_nn::linear(config.in_features, config.out_features, vb.pp("linear"))
        } else {
            candle_nn::linear_no_bias(config.in_features, config.out_features, vb.pp("linear"))
        }
        .map_err(|err| load_error(&weights_path, err.to_string()))?;
        dense.push(layer);
        dimension = config.out_features;
    }
    Ok((dense, dimension))
}

/// Reads the task prompts of `config_sentence_transformers.json`.
fn read_prompts(dir: &Path) -> Result<HashMap<String, String>> {
    let path = dir.join("config_sentence_transformers.json");
    if !path.is_file() {
        return Ok(HashMap::new());
    }
    let config: SentenceTransformersConfig =
        serde_json::from_str(&read_text(&path)?).map_err(|err| ModelError::Load {
            path: path.clone(),
            reason: err.to_string(),
        })?;
    Ok(config.prompts)
}

/// Reads `max_seq_length` from `sentence_bert_config.json` when present.
fn read_max_seq_length(dir: &Path) -> Result<Option<usize>> {
    let path = dir.join("sentence_bert_config.json");
    if !path.is_file() {
        return Ok(None);
    }
    let config: SentenceBertConfig =
        serde_json::from_str(&read_text(&path)?).map_err(|err| ModelError::Load {
            path: path.clone(),
            reason: err.to_string(),
        })?;
    Ok(config.max_seq_length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_vectors_is_one() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn cosine_with_zero_vector_is_zero() {
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn missing_pooling_config_means_mean() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_pooling(dir.path()).unwrap(), Pooling::Mean);
    }

    #[test]
    fn cls_pooling_config_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        std::fs::write(
            dir.path().join("1_Pooling/config.json"),
            r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
        )
        .unwrap();
        assert_eq!(read_pooling(dir.path()).unwrap(), Pooling::Cls);
    }
}
