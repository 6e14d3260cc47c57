//! The Gemma 3 text encoder of EmbeddingGemma: Gemma 3 layers with
//! bidirectional attention, read from a Hugging Face `Gemma3TextModel`
//! checkpoint (`model_type` `gemma3_text`).
//!
//! Every layer here attends to every token. Inputs are cut to
//! [`GemmaEncoder::max_tokens`]: at most [`MAX_TOKENS`] and at most half
//! the sliding window, so no token is outside a sliding-window layer's
//! reach on either side.
//! NOTE: the window bound follows the checkpoint's `sliding_window` read as
//! the full width of a two-sided window, which the numpy reference agrees
//! with only for inputs this short.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{embedding, linear_no_bias, Embedding, Linear, VarBuilder};
use serde::Deserialize;

/// Maximum input length in tokens.
pub const MAX_TOKENS: usize = 256;

/// The fields of a Gemma 3 `config.json` the encoder reads.
#[derive(Debug, Clone, Deserialize)]
pub struct GemmaConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub rope_local_base_freq: f64,
    pub query_pre_attn_scalar: f64,
    pub vocab_size: usize,
    pub sliding_window: usize,
    #[serde(default)]
    pub layer_types: Vec<String>,
    #[serde(default = "default_pattern")]
    #[serde(alias = "_sliding_window_pattern")]
    pub sliding_window_pattern: usize,
    #[serde(default)]
    pub use_bidirectional_attention: bool,
}

fn default_pattern() -> usize {
    6
}

impl GemmaConfig {
    /// Tells whether layer `index` attends globally (the others use a window).
    fn is_global(&self, index: usize) -> bool {
        match self.layer_types.get(index) {
            Some(kind) => kind == "full_attention",
            None => (index + 1) % self.sliding_window_pattern.max(1) == 0,
        }
    }
}

/// Gemma's RMS norm scales by `1 + weight`.
struct RmsNorm {
    scale: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn load(size: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<Self> {
        let weight = vb.get(size, "weight")?;
        Ok(RmsNorm {
            scale: (weight + 1.0)?,
            eps,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::rms_norm(x, &self.scale, self.eps as f32)
    }
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    scale: f64,
    /// Rotary tables for this layer's base frequency: (positions, head_dim / 2).
    cos: Tensor,
    sin: Tensor,
}

impl Attention {
    fn forward(&self, x: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, tokens, _) = x.dims3()?;
        let split = |t: Tensor, heads: usize| {
            t.reshape((batch, tokens, heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.q.forward(x)?, self.heads)?;
        let k = split(self.k.forward(x)?, self.kv_heads)?;
        let v = split(self.v.forward(x)?, self.kv_heads)?;
        let cos = self.cos.narrow(0, 0, tokens)?;
        let sin = self.sin.narrow(0, 0, tokens)?;
        let q = candle_nn::rotary_emb::rope(&self.q_norm.forward(&q)?, &cos, &sin)?;
        let k = candle_nn::rotary_emb::rope(&self.k_norm.forward(&k)?, &cos, &sin)?;
        let groups = self.heads / self.kv_heads;
        let (k, v) = if groups > 1 {
            let repeat = |t: Tensor| {
                t.unsqueeze(2)?
                    .expand((batch, self.kv_heads, groups, tokens, self.head_dim))?
                    .reshape((batch, self.heads, tokens, self.head_dim))
            };
            (repeat(k)?, repeat(v)?)
        } else {
            (k, v)
        };
        let scores = (q.matmul(&k.t()?)? * self.scale)?.broadcast_add(mask)?;
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = weights
            .matmul(&v.contiguous()?)?
            .transpose(1, 2)?
            .reshape((batch, tokens, self.heads * self.head_dim))?;
        self.o.forward(&out)
    }
}

struct Layer {
    attention: Attention,
    gate: Linear,
    up: Linear,
    down: Linear,
    input_norm: RmsNorm,
    post_attention_norm: RmsNorm,
    pre_feedforward_norm: RmsNorm,
    post_feedforward_norm: RmsNorm,
}

impl Layer {
    fn forward(&self, x: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let attended = self.attention.forward(&self.input_norm.forward(x)?, mask)?;
        let x = (x + self.post_attention_norm.forward(&attended)?)?;
        let h = self.pre_feedforward_norm.forward(&x)?;
        let mlp = self
            .down
            .forward(&(self.gate.forward(&h)?.gelu()? * self.up.forward(&h)?)?)?;
        x + self.post_feedforward_norm.forward(&mlp)?
    }
}

/// The Gemma 3 encoder: token ids in, the final-norm hidden states out.
pub struct GemmaEncoder {
    embeddings: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    hidden_size: usize,
    max_tokens: usize,
}

/// Rotary tables `(cos, sin)` of shape (`positions`, `head_dim / 2`).
fn rotary(
    base: f64,
    head_dim: usize,
    positions: usize,
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let inverse: Vec<f32> = (0..head_dim)
        .step_by(2)
        .map(|i| 1.0 / base.powf(i as f64 / head_dim as f64) as f32)
        .collect();
    let inverse = Tensor::from_vec(inverse, (1, head_dim / 2), device)?;
    let steps = Tensor::arange(0u32, positions as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((positions, 1))?;
    let angles = steps.matmul(&inverse)?;
    Ok((angles.cos()?, angles.sin()?))
}

impl GemmaEncoder {
    /// Reads the weights under `vb` (the checkpoint's root, without the
    /// `model.` prefix a causal-LM checkpoint would have).
    pub fn load(vb: VarBuilder, config: &GemmaConfig) -> candle_core::Result<Self> {
        let device = vb.device().clone();
        let max_tokens = MAX_TOKENS.min(config.sliding_window / 2).max(1);
        let local = rotary(
            config.rope_local_base_freq,
            config.head_dim,
            max_tokens,
            &device,
        )?;
        let global = rotary(config.rope_theta, config.head_dim, max_tokens, &device)?;
        let eps = config.rms_norm_eps;
        let (hidden, head_dim) = (config.hidden_size, config.head_dim);
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for index in 0..config.num_hidden_layers {
            let vb = vb.pp(format!("layers.{index}"));
            let attn = vb.pp("self_attn");
            let (cos, sin) = if config.is_global(index) {
                global.clone()
            } else {
                local.clone()
            };
            let attention = Attention {
                q: linear_no_bias(
                    hidden,
                    config.num_attention_heads * head_dim,
                    attn.pp("q_proj"),
                )?,
                k: linear_no_bias(
                    hidden,
                    config.num_key_value_heads * head_dim,
                    attn.pp("k_proj"),
                )?,
                v: linear_no_bias(
                    hidden,
                    config.num_key_value_heads * head_dim,
                    attn.pp("v_proj"),
                )?,
                o: linear_no_bias(
                    config.num_attention_heads * head_dim,
                    hidden,
                    attn.pp("o_proj"),
                )?,
                q_norm: RmsNorm::load(head_dim, eps, attn.pp("q_norm"))?,
                k_norm: RmsNorm::load(head_dim, eps, attn.pp("k_norm"))?,
                heads: config.num_attention_heads,
                kv_heads: config.num_key_value_heads,
                head_dim,
                scale: config.query_pre_attn_scalar.powf(-0.5),
                cos,
                sin,
            };
            let mlp = vb.pp("mlp");
            layers.push(Layer {
                attention,
                gate: linear_no_bias(hidden, config.intermediate_size, mlp.pp("gate_proj"))?,
                up: linear_no_bias(hidden, config.intermediate_size, mlp.pp("up_proj"))?,
                down: linear_no_bias(config.intermediate_size, hidden, mlp.pp("down_proj"))?,
                input_norm: RmsNorm::load(hidden, eps, vb.pp("input_layernorm"))?,
                post_attention_norm: RmsNorm::load(hidden, eps, vb.pp("post_attention_layernorm"))?,
                pre_feedforward_norm: RmsNorm::load(
                    hidden,
                    eps,
                    vb.pp("pre_feedforward_layernorm"),
                )?,
                post_feedforward_norm: RmsNorm::load(
                    hidden,
                    eps,
                    vb.pp("post_feedforward_layernorm"),
                )?,
            });
        }
        Ok(GemmaEncoder {
            embeddings: embedding(config.vocab_size, hidden, vb.pp("embed_tokens"))?,
            layers,
            norm: RmsNorm::load(hidden, eps, vb.pp("norm"))?,
            hidden_size: hidden,
            max_tokens,
        })
    }

    /// Returns the maximum input length in tokens; callers cut longer inputs.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Hidden states `(batch, tokens, hidden)` for `ids` `(batch, tokens)`;
    /// `mask` `(batch, tokens)` is 1 for real tokens and 0 for padding.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, tokens) = ids.dims2()?;
        let mut x = (self.embeddings.forward(ids)? * (self.hidden_size as f64).sqrt())?;
        // Padding keys get a large negative score, so every query attends
        // to every real token in both directions.
        let bias = ((mask.to_dtype(DType::F32)? - 1.0)? * 1e9)?.reshape((batch, 1, 1, tokens))?;
        for layer in &self.layers {
            x = layer.forward(&x, &bias)?;
        }
        self.norm.forward(&x)
    }
}
