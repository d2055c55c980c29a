#!/usr/bin/env bash
# Regenerate the tiny fixture model used by the tests (tests/fixtures/tiny/).
# After it, bless the golden outputs: VOC_BLESS=1 cargo test golden
set -euo pipefail
cd "$(dirname "$0")/.."
F=tests/fixtures
python3 scripts/make-fixtures.py
cargo build --release --quiet
./target/release/voc --threads 1 train --data $F/tiny-train.jsonl --tokenizer $F/tiny-tokenizer.json \
  --embeddings $F/tiny-embeddings.safetensors --epochs 60 --hidden-dim 16 --validation-split 0.25 \
  --seed 1 --exclude-hashes /dev/null --name "tiny test fixture" --out $F/tiny --force
chmod 644 $F/tiny/*
