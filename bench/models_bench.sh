#!/usr/bin/env bash
# Runs the model benchmark (embeddings, generation, transcription beside
# faster-whisper) and writes bench/results/models.json. Needs the setup of
# scripts/setup (espeak-ng, faster-whisper); pulls the default models into
# the data directory when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir="${MERCATOR_DATA_DIR:-./mercator-data}"
# Built with the whole workspace, whose CLI turns on the llama and whisper
# features, so the build of the tests is reused.
cargo build -q --workspace --examples
target_dir="${CARGO_TARGET_DIR:-target}"
"$target_dir/debug/examples/models_bench" \
    "$data_dir" bench/results/models.json bench/work/models
