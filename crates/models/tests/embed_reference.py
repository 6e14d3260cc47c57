"""Independent numpy forward pass of a BERT sentence-embedding model.

Reads the same model.safetensors, config.json and tokenizer.json that
mercator-models loads with candle, and computes mean-pooled, L2-normalized
sentence vectors with plain numpy (exact-erf GELU, as BERT's "gelu").
The embedding test compares the two implementations.

Usage: python3 embed_reference.py MODEL_DIR < sentences.json > vectors.json
Needs numpy, safetensors and tokenizers from PyPI.
"""

import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

erf = np.vectorize(math.erf)


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def embed(model_dir, sentences):
    config = json.load(open(f"{model_dir}/config.json"))
    weights = load_file(f"{model_dir}/model.safetensors")
    w = {k.removeprefix("bert."): v.astype(np.float64) for k, v in weights.items()}
    tokenizer = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tokenizer.no_padding()
    tokenizer.no_truncation()

    n_heads = config["num_attention_heads"]
    eps = config["layer_norm_eps"]
    vectors = []
    for sentence in sentences:
        encoding = tokenizer.encode(sentence)
        ids = np.array(encoding.ids)
        types = np.array(encoding.type_ids)
        n_tokens = len(ids)

        # hidden: (n_tokens, hidden_size)
        hidden = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(n_tokens)]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        hidden = layer_norm(
            hidden, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps
        )
        for layer in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{layer}."

            def linear(x, name):
                return x @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = linear(hidden, "attention.self.query")
            k = linear(hidden, "attention.self.key")
            v = linear(hidden, "attention.self.value")
            head_dim = q.shape[-1] // n_heads
            q = q.reshape(n_tokens, n_heads, head_dim).transpose(1, 0, 2)
            k = k.reshape(n_tokens, n_heads, head_dim).transpose(1, 0, 2)
            v = v.reshape(n_tokens, n_heads, head_dim).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(head_dim)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n_tokens, -1)

            attention = linear(context, "attention.output.dense")
            hidden = layer_norm(
                attention + hidden,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                eps,
            )
            intermediate = gelu(linear(hidden, "intermediate.dense"))
            output = linear(intermediate, "output.dense")
            hidden = layer_norm(
                output + hidden,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                eps,
            )

        pooled = hidden.mean(0)
        vectors.append((pooled / np.linalg.norm(pooled)).tolist())
    return vectors


if __name__ == "__main__":
    json.dump(embed(sys.argv[1], json.load(sys.stdin)), sys.stdout)
