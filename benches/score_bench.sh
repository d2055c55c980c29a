#!/usr/bin/env bash
# File-to-file scoring benchmark for `voc score` (issue 4).
#
# Generates a CSV of ROWS comments (default 1,000,000) of about 200 bytes each,
# assembled from the sentences of examples/feedback.csv with a row number, so
# no two comments are the same; then scores it to JSONL with the release
# binary and reports rows/s and peak RSS (GNU time -v).
#
#   bash benches/score_bench.sh            # 1,000,000 rows
#   ROWS=100000 bash benches/score_bench.sh
#   THREADS=2 FORMAT=csv bash benches/score_bench.sh
#   TASKSET=0,1 VOC_BIN=path/to/voc bash benches/score_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
FORMAT=${FORMAT:-jsonl}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
THREADS_ARG=()
if [ -n "${THREADS:-}" ]; then THREADS_ARG=(--threads "$THREADS"); fi

# VOC_BIN: a prebuilt binary (else the release build of this checkout).
if [ -n "${VOC_BIN:-}" ]; then BIN=$VOC_BIN; else cargo build --release --quiet; BIN=target/release/voc; fi
# TASKSET: e.g. "0,1" pins the run to two cores (as the issue's target says).
PIN=()
if [ -n "${TASKSET:-}" ]; then PIN=(taskset -c "$TASKSET"); fi
IN="$WORK/bench-$ROWS.csv"
OUT="$WORK/bench-$ROWS.scored.$FORMAT"

if [ ! -s "$IN" ]; then
  echo "generating $ROWS rows in $IN" >&2
  python3 - "$ROWS" "$IN" <<'PY'
import csv, random, re, sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open("examples/feedback.csv", newline="") as f:
    comments = [r["comment"] for r in csv.DictReader(f)]
sentences = sorted({s.strip() for c in comments for s in re.split(r"(?<=[.!?])\s+", c.replace("\n", " ")) if len(s.strip()) > 15})
channels = ["app", "phone", "email", "store", "web", "chat"]
rng = random.Random(42)
with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "date", "channel", "comment"])
    for i in range(1, rows + 1):
        text = ""
        while len(text) < 200:
            text += rng.choice(sentences) + " "
        # About 200 bytes: cut at a word boundary, then the row number.
        text = text[:190].rsplit(" ", 1)[0].rstrip(",;:") + f". (#{i})"
        w.writerow([f"R{i}", f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", rng.choice(channels), text])
PY
fi
BYTES=$(stat -c %s "$IN")
echo "input: $ROWS rows, $BYTES bytes ($(awk -v b="$BYTES" -v r="$ROWS" 'BEGIN{printf "%.0f", b/r}') bytes/row), $(nproc) cores" >&2
rm -f "$OUT" "$OUT".*
CMD=("${PIN[@]}" "$BIN" score "$IN" -o "$OUT" --id-column id --keep-columns channel,date "${THREADS_ARG[@]}" --quiet)
echo "command: ${CMD[*]}" >&2
/usr/bin/time -v "${CMD[@]}" 2> "$WORK/time.txt" || { cat "$WORK/time.txt" >&2; exit 1; }
grep '^voc:' "$WORK/time.txt" >&2
WALL=$(grep 'Elapsed (wall clock)' "$WORK/time.txt" | awk '{print $NF}')
RSS_KB=$(grep 'Maximum resident set size' "$WORK/time.txt" | awk '{print $NF}')
SECS=$(echo "$WALL" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
echo "rows/s: $(awk -v r="$ROWS" -v s="$SECS" 'BEGIN{printf "%.0f", r/s}')  wall: ${SECS}s  peak RSS: $((RSS_KB / 1024)) MiB  output: $(stat -c %s "$OUT") bytes"
