#!/usr/bin/env bash
# voc against fastText, in one run, on this machine and the same data.
#
#   bash benches/compare.sh            # 100,000 comments, 3 timed runs each
#   N=20000 RUNS=1 bash benches/compare.sh
#   VOC=/path/to/voc bash benches/compare.sh   # an already built voc, no cargo
#
# 1. installs the fastText command-line tool from Debian if it is missing;
# 2. converts the default model's training data (models/default/training/
#    {labeled,extra-labeled,synthetic}.jsonl, minus every text whose eval hash
#    is in ../shared/gold/eval-hashes.txt) to fastText's format and trains two
#    fastText models with bigrams: tags with `-loss ova` (multi-label, a label
#    counts when its probability >= 0.5) and sentiment with softmax;
# 3. writes N comments (training texts cycled, one per line) and times
#    `fasttext predict` of both models against `voc classify` (all cores and
#    --threads 1), median of RUNS runs, plus voc's peak resident memory;
# 4. scores both on ../shared/gold/dev.jsonl (tags macro-F1 over the 4 tags,
#    sentiment macro-F1 over the 3 classes; voc's from `voc eval --json`).
#
# What is timed: voc reads raw text and writes a full JSON prediction per line
# (sentiment, tag probabilities, evidence words and sentences, per-sentence
# labels), or with --scores the labels and probabilities only (what fastText
# gives); fastText reads text already lowercased with punctuation split off
# (that preparation is not timed) and writes labels only. fastText's predict
# is single-threaded.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
RUNS=${RUNS:-3}
GOLD=../shared/gold
WORK=${WORK:-target/compare}
PY="python3 benches/fasttext_data.py"
mkdir -p "$WORK"

if ! command -v fasttext >/dev/null; then
  echo "== installing fastText (Debian package fasttext)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y fasttext >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y fasttext >/dev/null; }
fi
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install -y time)"; exit 2; }

if [ -z "${VOC:-}" ]; then
  echo "== building voc (release)"
  cargo build --release --quiet
  VOC=./target/release/voc
fi

echo "== fastText training data"
TRAIN=(models/default/training/labeled.jsonl models/default/training/extra-labeled.jsonl models/default/training/synthetic.jsonl)
EXCL=()
if [ -f "$GOLD/eval-hashes.txt" ]; then EXCL=(--exclude "$GOLD/eval-hashes.txt"); else echo "note: $GOLD/eval-hashes.txt not found; nothing removed"; fi
$PY train "$WORK" "${TRAIN[@]}" "${EXCL[@]}"

echo "== training fastText (bigrams; ova for tags, softmax for sentiment)"
FT_OPTS=(-wordNgrams 2 -epoch 25 -lr 0.5 -dim 50 -minCount 1 -bucket 200000 -thread "$(nproc)")
t0=$(date +%s.%N)
fasttext supervised -input "$WORK/tags.train" -output "$WORK/ft-tags" -loss ova "${FT_OPTS[@]}" -verbose 0
fasttext supervised -input "$WORK/sentiment.train" -output "$WORK/ft-sentiment" -loss softmax "${FT_OPTS[@]}" -verbose 0
echo "   trained both in $(echo "$(date +%s.%N) - $t0" | bc) s"

echo "== $N comments"
$PY comments "$WORK/comments.txt" "$N" "${TRAIN[@]}"
$PY prep "$WORK/comments.txt" "$WORK/comments.ft.txt"
BYTES=$(wc -c < "$WORK/comments.txt")
echo "   $(wc -l < "$WORK/comments.txt") lines, $((BYTES / N)) bytes per comment on average"

# median wall seconds of RUNS runs of "$@"
time_it() {
  local ts=()
  for _ in $(seq "$RUNS"); do
    local a b
    a=$(date +%s.%N); "$@"; b=$(date +%s.%N)
    ts+=("$(echo "$b - $a" | bc)")
  done
  printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
ft_tags()  { fasttext predict-prob "$WORK/ft-tags.bin" "$WORK/comments.ft.txt" -1 0.5 > /dev/null; }
ft_sent()  { fasttext predict "$WORK/ft-sentiment.bin" "$WORK/comments.ft.txt" 1 > /dev/null; }
ft_both()  { ft_tags; ft_sent; }
voc_all()  { "$VOC" classify < "$WORK/comments.txt" > /dev/null; }
voc_one()  { "$VOC" --threads 1 classify < "$WORK/comments.txt" > /dev/null; }
vocs_one() { "$VOC" --threads 1 classify --scores < "$WORK/comments.txt" > /dev/null; }

echo "== timing (median of $RUNS runs each)"
T_FT_TAGS=$(time_it ft_tags)
T_FT_SENT=$(time_it ft_sent)
T_FT=$(time_it ft_both)
T_VOC=$(time_it voc_all)
T_VOC1=$(time_it voc_one)
T_VOCS1=$(time_it vocs_one)

RSS=$( { /usr/bin/time -v "$VOC" classify < "$WORK/comments.txt" > /dev/null; } 2>&1 | awk -F': ' '/Maximum resident set size/ {print $2}')
RSS1=$( { /usr/bin/time -v "$VOC" --threads 1 classify < "$WORK/comments.txt" > /dev/null; } 2>&1 | awk -F': ' '/Maximum resident set size/ {print $2}')
RSSS1=$( { /usr/bin/time -v "$VOC" --threads 1 classify --scores < "$WORK/comments.txt" > /dev/null; } 2>&1 | awk -F': ' '/Maximum resident set size/ {print $2}')
FT_RSS=$( { /usr/bin/time -v fasttext predict-prob "$WORK/ft-tags.bin" "$WORK/comments.ft.txt" -1 0.5 > /dev/null; } 2>&1 | awk -F': ' '/Maximum resident set size/ {print $2}')

F1_VOC_T="-"; F1_VOC_S="-"; F1_FT_T="-"; F1_FT_S="-"
if [ -f "$GOLD/dev.jsonl" ]; then
  echo "== macro-F1 on $GOLD/dev.jsonl"
  "$VOC" eval --data "$GOLD/dev.jsonl" --json > "$WORK/voc-eval.json"
  read -r F1_VOC_T F1_VOC_S < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.3f %.3f" % (r["tags"]["macro_f1"], r["sentiment"]["macro_f1"]))' "$WORK/voc-eval.json")
  $PY dev "$GOLD/dev.jsonl" "$WORK/dev.ft.txt"
  fasttext predict-prob "$WORK/ft-tags.bin" "$WORK/dev.ft.txt" -1 0.5 > "$WORK/dev.ft-tags.pred"
  fasttext predict "$WORK/ft-sentiment.bin" "$WORK/dev.ft.txt" 1 > "$WORK/dev.ft-sentiment.pred"
  $PY f1 "$GOLD/dev.jsonl" "$WORK/dev.ft-tags.pred" "$WORK/dev.ft-sentiment.pred" > "$WORK/ft-eval.json"
  read -r F1_FT_T F1_FT_S < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.3f %.3f" % (r["tags_macro_f1"], r["sentiment_macro_f1"]))' "$WORK/ft-eval.json")
else
  echo "note: $GOLD/dev.jsonl not found; F1 columns skipped"
fi

rate() { echo "$N / $1" | bc; }
ratio() { printf '%.2f' "$(echo "scale=4; $2 / $1" | bc)"; }
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "$N comments, $((BYTES / N)) bytes on average; wall time, median of $RUNS runs"
echo
printf '| %-44s | %9s | %12s | %14s | %12s | %15s |\n' "run" "seconds" "comments/s" "voc/this" "tags macro-F1" "sentiment m-F1"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "-----------" "--------------" "----------------" "--------------" "-----------------"
row() { printf '| %-44s | %9.2f | %12s | %14s | %12s | %15s |\n' "$1" "$2" "$(rate "$2")" "$3" "$4" "$5"; }
row "voc classify (all $(nproc) cores)" "$T_VOC" "1.00" "$F1_VOC_T" "$F1_VOC_S"
row "voc --threads 1 classify" "$T_VOC1" "$(ratio "$T_VOC" "$T_VOC1")" "$F1_VOC_T" "$F1_VOC_S"
row "voc --threads 1 classify --scores" "$T_VOCS1" "$(ratio "$T_VOC" "$T_VOCS1")" "$F1_VOC_T" "$F1_VOC_S"
row "fastText tags + sentiment (1 thread)" "$T_FT" "$(ratio "$T_VOC" "$T_FT")" "$F1_FT_T" "$F1_FT_S"
row "fastText tags only (predict-prob, ova)" "$T_FT_TAGS" "$(ratio "$T_VOC" "$T_FT_TAGS")" "$F1_FT_T" "-"
row "fastText sentiment only (predict, softmax)" "$T_FT_SENT" "$(ratio "$T_VOC" "$T_FT_SENT")" "-" "$F1_FT_S"
echo
echo "voc/this: voc (all cores) throughput divided by this row's; fastText does tags and"
echo "sentiment in two passes, so 'tags + sentiment' is the like-for-like row."
echo "one thread against fastText tags + sentiment (throughput ratio, higher is faster):"
echo "  voc --threads 1 classify:          $(ratio "$T_VOC1" "$T_FT")x"
echo "  voc --threads 1 classify --scores: $(ratio "$T_VOCS1" "$T_FT")x"
echo "peak resident memory: voc classify ${RSS} KiB, voc --threads 1 ${RSS1} KiB, --scores ${RSSS1} KiB, fastText predict-prob (tags) ${FT_RSS} KiB"
