#!/usr/bin/env bash
# Runs the model benchmark (embeddings, generation, transcription beside
# faster-whisper) and writes bench/results/models.json. Needs the setup of
# scripts/setup (espeak-ng, faster-whisper); pulls the default models into
# the data directory when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir="${MERCATOR_DATA_DIR:-./mercator-data}"
cargo run -q -p mercator-models --features llama,whisper --example models_bench -- \
    "$data_dir" bench/results/models.json bench/work/models
