"""Independent numpy forward pass of EmbeddingGemma.

Reads the same model.safetensors, config.json, tokenizer.json and Dense
modules that mercator-models loads with candle, and computes sentence
vectors with plain numpy: Gemma 3 layers with bidirectional attention,
mean pooling, the two Dense projections and L2 normalization. The
embedding test compares the two implementations.

Usage: python3 embed_gemma_reference.py MODEL_DIR < sentences.json > vectors.json
Needs numpy, safetensors and tokenizers from PyPI.
"""

import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def main():
    folder = sys.argv[1]
    config = json.load(open(f"{folder}/config.json"))
    weights = load_file(f"{folder}/model.safetensors")
    dense = [
        load_file(f"{folder}/{name}/model.safetensors")["linear.weight"]
        for name in ("2_Dense", "3_Dense")
    ]
    tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
    heads = config["num_attention_heads"]
    kv_heads = config["num_key_value_heads"]
    head_dim = config["head_dim"]
    eps = config["rms_norm_eps"]

    def norm(x, weight):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * (1.0 + weight)

    def rotate(x, base):
        positions = x.shape[-2]
        inverse = 1.0 / base ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim)
        angles = np.outer(np.arange(positions, dtype=np.float32), inverse)
        angles = np.concatenate([angles, angles], -1)
        half = head_dim // 2
        rotated = np.concatenate([-x[..., half:], x[..., :half]], -1)
        return x * np.cos(angles) + rotated * np.sin(angles)

    def gelu_tanh(x):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))

    def embed(text):
        ids = tokenizer.encode(text).ids
        tokens = len(ids)
        h = weights["embed_tokens.weight"][ids] * np.float32(math.sqrt(config["hidden_size"]))
        for i in range(config["num_hidden_layers"]):
            w = lambda name: weights[f"layers.{i}.{name}"]
            full = config["layer_types"][i] == "full_attention"
            base = config["rope_theta"] if full else config["rope_local_base_freq"]
            x = norm(h, w("input_layernorm.weight"))
            q = (x @ w("self_attn.q_proj.weight").T).reshape(tokens, heads, head_dim)
            k = (x @ w("self_attn.k_proj.weight").T).reshape(tokens, kv_heads, head_dim)
            v = (x @ w("self_attn.v_proj.weight").T).reshape(tokens, kv_heads, head_dim)
            q = rotate(norm(q.transpose(1, 0, 2), w("self_attn.q_norm.weight")), base)
            k = rotate(norm(k.transpose(1, 0, 2), w("self_attn.k_norm.weight")), base)
            k = np.repeat(k, heads // kv_heads, 0)
            v = np.repeat(v.transpose(1, 0, 2), heads // kv_heads, 0)
            scores = q @ k.transpose(0, 2, 1) * config["query_pre_attn_scalar"] ** -0.5
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(1, 0, 2).reshape(tokens, heads * head_dim)
            h = h + norm(attended @ w("self_attn.o_proj.weight").T, w("post_attention_layernorm.weight"))
            x = norm(h, w("pre_feedforward_layernorm.weight"))
            mlp = gelu_tanh(x @ w("mlp.gate_proj.weight").T) * (x @ w("mlp.up_proj.weight").T)
            h = h + norm(mlp @ w("mlp.down_proj.weight").T, w("post_feedforward_layernorm.weight"))
        vector = norm(h, weights["norm.weight"]).mean(0)
        for layer in dense:
            vector = vector @ layer.T
        return vector / np.linalg.norm(vector)

    sentences = json.load(sys.stdin)
    json.dump([embed(s).tolist() for s in sentences], sys.stdout)


if __name__ == "__main__":
    main()
