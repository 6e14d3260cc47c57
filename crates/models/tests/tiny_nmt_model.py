"""Write a tiny CTranslate2 translation model with random weights.

Usage: python3 tiny_nmt_model.py OUTPUT_DIR

The folder gets what `mercator translate --engine nmt` reads: model.bin
with the vocabularies (a 2-layer Transformer, model size 32, 4 heads) and a
WordLevel tokenizer.json whose whitespace pre-tokenizer splits source text
into words and whose post-processor appends </s>, as the OPUS-MT
tokenizers do. The weights come from a fixed seed, so two runs write the
same model. Its translations are nonsense: it exists to test loading and
decoding, not quality.

Needs numpy, ctranslate2 (4.x) and tokenizers: `pip install numpy
ctranslate2 tokenizers` (scripts/setup installs them).
"""

import sys

import numpy as np
from ctranslate2.converters import Converter
from ctranslate2.specs import TransformerSpec, common_spec, model_spec
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]
SOURCE_WORDS = ["red", "blue", "wool", "scarf", "mug", "cotton", "shirt", "with", "and"]
TARGET_WORDS = ["rojo", "azul", "lana", "bufanda", "taza", "algodón", "camisa", "con", "y"]
# Language tokens of multilingual models, so a test can pass a target prefix.
LANGUAGE_TOKENS = ["__es__", "spa_Latn"]

SOURCE_VOCABULARY = SPECIAL_TOKENS + SOURCE_WORDS
TARGET_VOCABULARY = SPECIAL_TOKENS + TARGET_WORDS + LANGUAGE_TOKENS

MODEL_SIZE = 32
FFN_SIZE = 64
LAYERS = 2
HEADS = 4
END_TOKEN_BIAS = 3.0
PROJECTION_STD = 0.05


def fill_weights(spec, rng):
    """Give every required weight of `spec` a random value of its shape."""

    def fill(layer, name, value, vocabulary_size):
        if value is not None:
            return
        attribute = name.split("/")[-1]
        if isinstance(layer, common_spec.LayerNormSpec):
            shape = (MODEL_SIZE,)
            random = np.ones(shape) if attribute == "gamma" else np.zeros(shape)
            setattr(layer, attribute, random.astype(np.float32))
            return
        if isinstance(layer, common_spec.EmbeddingsSpec):
            shape = (vocabulary_size, MODEL_SIZE)
        elif name.endswith("ffn/linear_0/weight"):
            shape = (FFN_SIZE, MODEL_SIZE)
        elif name.endswith("ffn/linear_1/weight"):
            shape = (MODEL_SIZE, FFN_SIZE)
        elif name.endswith("projection/weight"):
            # Small output weights leave the bias below in charge of the end
            # token, so that translations stay short.
            weight = rng.normal(0.0, PROJECTION_STD, size=(vocabulary_size, MODEL_SIZE))
            setattr(layer, attribute, weight.astype(np.float32))
            return
        elif name.endswith("self_attention/linear_0/weight"):
            # Self-attention fuses the query, key and value projections.
            shape = (3 * MODEL_SIZE, MODEL_SIZE)
        elif name.endswith("attention/linear_1/weight") and "self_attention" not in name:
            # Encoder-decoder attention fuses the key and value projections.
            shape = (2 * MODEL_SIZE, MODEL_SIZE)
        else:
            shape = (MODEL_SIZE, MODEL_SIZE)
        weight = rng.normal(0.0, 0.5, size=shape).astype(np.float32)
        setattr(layer, attribute, weight)

    model_spec.visit_spec(
        spec.encoder, lambda layer, name, value: fill(layer, name, value, len(SOURCE_VOCABULARY))
    )
    model_spec.visit_spec(
        spec.decoder, lambda layer, name, value: fill(layer, name, value, len(TARGET_VOCABULARY))
    )
    # The output bias keeps <unk>, <s> and the language tokens out of the
    # translations, so every output token is a target word or the end token.
    bias = np.zeros(len(TARGET_VOCABULARY), dtype=np.float32)
    for token in ["<unk>", "<s>"] + LANGUAGE_TOKENS:
        bias[TARGET_VOCABULARY.index(token)] = -1e4
    bias[TARGET_VOCABULARY.index("</s>")] = END_TOKEN_BIAS
    spec.decoder.projection.bias = bias


class TinyConverter(Converter):
    """Converter that returns a prepared specification."""

    def __init__(self, spec):
        self.spec = spec

    def _load(self):
        return self.spec


def build_spec():
    spec = TransformerSpec.from_config(LAYERS, HEADS)
    fill_weights(spec, np.random.default_rng(7))
    spec.register_source_vocabulary(SOURCE_VOCABULARY)
    spec.register_target_vocabulary(TARGET_VOCABULARY)
    return spec


def write_tokenizer(path):
    # One vocabulary for both sides: source words are encoded with it, and
    # the decoder joins target tokens, which need not be in it.
    words = SOURCE_VOCABULARY + TARGET_WORDS + LANGUAGE_TOKENS
    vocabulary = {word: index for index, word in enumerate(words)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocabulary, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocabulary["</s>"])]
    )
    # The WordPiece decoder joins tokens with spaces.
    tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tokenizer.save(path)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tiny_nmt_model.py OUTPUT_DIR")
    output_dir = sys.argv[1]
    TinyConverter(build_spec()).convert(output_dir, force=True)
    write_tokenizer(f"{output_dir}/tokenizer.json")


if __name__ == "__main__":
    main()
