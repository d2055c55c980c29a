#!/usr/bin/env bash
# Measure a variant of the default model's recipe (scripts/recipe.sh) on
# several seeds, on the gold dev set (../shared/gold/dev.jsonl, never trained
# on). Nothing under models/ changes.
#
#   bash scripts/recipe-seeds.sh NAME [extra voc train arguments...]
#   SEEDS="42 1 2" RECIPE_EPOCHS=10 bash scripts/recipe-seeds.sh e10
#
# SEEDS: the seeds (default "42 1 2", the ones the tables of models/default/training/EXPERIMENTS.md use).
# RECIPE_*: overrides of one part of the recipe (see scripts/recipe.sh).
# KEEP=1 keeps each model in work-cache/recipe-NAME-SEED/ (deleted otherwise).
# VOC: the binary (default ./target/release/voc, built if VOC is unset).
# Prints, and appends to work-cache/experiments.tsv, one line per seed (tags
# and sentiment macro-F1, each tag's F1) and the mean over the seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,14p "$0" >&2; exit 2; }
NAME=$1
shift
DEV=../shared/gold/dev.jsonl
[ -f "$DEV" ] || { echo "error: $DEV not found: the gold dev set is needed to measure" >&2; exit 2; }
if [ -z "${VOC:-}" ]; then
  cargo build --release --quiet
  VOC=./target/release/voc
fi
# shellcheck source=scripts/recipe.sh
. scripts/recipe.sh
mkdir -p work-cache
LOG=work-cache/experiments.tsv
SCORES=()
for SEED in ${SEEDS:-42 1 2}; do
  OUT=work-cache/recipe-$NAME-$SEED
  "$VOC" --threads 2 train "${RECIPE[@]}" --seed "$SEED" "$@" --name "$NAME" --out "$OUT" --force \
    >"$OUT.log" 2>&1 || { tail -20 "$OUT.log" >&2; exit 1; }
  LINE=$("$VOC" eval --data "$DEV" --model "$OUT" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
tags = " ".join("%s=%.3f" % (k, v["f1"]) for k, v in r["tags"]["per_label"].items())
print("%.3f\t%.3f\t%s" % (r["tags"]["macro_f1"], r["sentiment"]["macro_f1"], tags))')
  [ -n "${KEEP:-}" ] || rm -rf "$OUT" "$OUT.log"
  printf '%s\t%s\t%s\t%s\n' "$NAME" "$SEED" "$*" "$LINE" | tee -a "$LOG"
  SCORES+=("$(cut -f1,2 <<<"$LINE")")
done
printf '%s\n' "${SCORES[@]}" | awk -v name="$NAME" -F'\t' \
  '{t += $1; s += $2; n++} END {printf "%s\tmean of %d\t\t%.3f\t%.3f\n", name, n, t / n, s / n}' | tee -a "$LOG"
