#!/usr/bin/env bash
# Rebuild the default model (models/default) from the files in the repository:
#   bash scripts/build-default-model.sh
# The recipe (the `voc train` arguments) is in scripts/recipe.sh, shared with
# scripts/recipe-seeds.sh, which measures variants of it on several seeds.
# Trains with `voc train` on models/default/training/*.jsonl (the rows labeled
# by people, the marked synthetic rows, and the teacher's soft targets for
# unlabeled real texts; see models/default/training/SOURCES.md), starting from
# the distilled MiniLM token embeddings in models/default/training/base/ and
# fine-tuning them (--train-embeddings), with a negation scope (--scopes
# negation --scope-rank 0: the tokens after not/no/never/n't pool again and
# reach the hidden layer through their own diagonal scale, see src/scope.rs),
# counts the teacher's soft tag targets at half the weight of tags read by
# people (--soft-tag-weight 0.5),
# keeps the mean of the last 10 epochs' weights when it validates better than
# the best epoch, removes every text
# whose hash is in ../shared/gold/eval-hashes.txt, tunes thresholds and
# temperature on a validation split, writes the model card, and (when
# ../shared/gold/dev.jsonl exists) appends the dev-set figures to it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=work-cache/default-new
VOC=${VOC:-./target/release/voc}
if compgen -v RECIPE_ >/dev/null; then
  echo "error: unset the RECIPE_* variables first; they are for scripts/recipe-seeds.sh, not the shipped model" >&2
  exit 2
fi
# shellcheck source=scripts/recipe.sh
. scripts/recipe.sh
[ -n "${VOC_SKIP_BUILD:-}" ] || cargo build --release --quiet
"$VOC" --threads 2 train "${RECIPE[@]}" --seed 42 \
  --name "voc default model" --card-notes "$T/SOURCES.md" \
  --report work-cache/default-train-report.json --out "$OUT" --force
if [ -f ../shared/gold/dev.jsonl ]; then
  {
    echo
    echo "## Quality on the gold dev set (../shared/gold/dev.jsonl, never trained on)"
    echo
    echo '```text'
    "$VOC" eval --data ../shared/gold/dev.jsonl --model "$OUT" --by-source
    echo '```'
  } >> "$OUT/README.md"
  "$VOC" eval --data ../shared/gold/dev.jsonl --model "$OUT" --json > work-cache/default-dev-eval.json
else
  echo "note: ../shared/gold/dev.jsonl not found; the card has no dev-set figures" >&2
fi
for f in config.json labels.json tokenizer.json model.safetensors README.md; do
  cp "$OUT/$f" "models/default/$f"
done
chmod 644 models/default/*.json models/default/*.safetensors models/default/README.md
echo "rebuilt models/default"
