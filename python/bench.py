"""Rows per second: the Python wheel vs the Rust `voc` command, same comments.

    python bench.py                  # 100,000 comments, chunks of 10,000, 3 runs each
    python bench.py --rows 20000 --runs 1 --voc /path/to/voc

Comments: the default model's training texts (models/default/training/*.jsonl),
cycled to --rows, one per line (newlines inside a text become spaces), written
once to a file. Timed, best of --runs:

- rust:    `voc classify < file > /dev/null` (reads the file, classifies in
           parallel chunks, writes one JSON line per comment), wall clock of the
           whole process;
- python:  read the same file and `Classifier.classify_batch` in chunks of
           --chunk (a list of dicts per chunk), wall clock;
- columns: the same with `classify_batch_columns` (what the Spark/Dask
           examples use).

Both use every core (rayon). The `voc` command must be built from the same
source as the wheel (`cargo build --release`).
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import voc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def comments(rows):
    texts = []
    for path in sorted(glob.glob(os.path.join(REPO, "models", "default", "training", "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    t = " ".join(json.loads(line)["text"].split())
                    if t:
                        texts.append(t)
    if not texts:
        sys.exit("no training texts found under models/default/training/")
    return [texts[i % len(texts)] for i in range(rows)]


def best(times):
    return min(times), statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description="rows/s: Python wheel vs Rust command")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--voc", default=os.environ.get("VOC_BIN", os.path.join(REPO, "target", "release", "voc")))
    args = ap.parse_args()

    texts = comments(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "comments.txt")
        with open(path, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(t + "\n")
        mb = os.path.getsize(path) / 1e6
        print(f"{args.rows} comments ({mb:.1f} MB), chunks of {args.chunk}, best of {args.runs}; "
              f"{os.cpu_count()} CPUs, voc threads {voc.get_threads()}")

        have_rust = os.path.exists(args.voc)
        if not have_rust:
            print(f"no voc command at {args.voc}: build it with `cargo build --release` (or pass --voc)")

        def rust_run():
            with open(path, "rb") as stdin, open(os.devnull, "wb") as devnull:
                t0 = time.perf_counter()
                subprocess.run([args.voc, "classify"], stdin=stdin, stdout=devnull, check=True)
                return time.perf_counter() - t0

        def python_run(method):
            t0 = time.perf_counter()
            clf = voc.Classifier()
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")[:-1]
            n = 0
            for i in range(0, len(lines), args.chunk):
                n += len(getattr(clf, method)(lines[i : i + args.chunk]) if method == "classify_batch"
                         else getattr(clf, method)(lines[i : i + args.chunk])["sentiment"])
            elapsed = time.perf_counter() - t0
            assert n == args.rows, n
            return elapsed

        python_run("classify_batch_columns")  # warm the page cache and the pool
        rust, py, cols = [], [], []
        # Interleaved, so that a change in the machine's load hits every path alike.
        for _ in range(args.runs):
            if have_rust:
                rust.append(rust_run())
            py.append(python_run("classify_batch"))
            cols.append(python_run("classify_batch_columns"))

    def report(name, times):
        b, m = best(times)
        print(f"{name:<36} {args.rows / b:>10,.0f} rows/s  (best {b:.2f}s, median {m:.2f}s)")
        return args.rows / b

    r = report("rust   voc classify < file", rust) if rust else None
    p = report("python classify_batch (dicts)", py)
    c = report("python classify_batch_columns", cols)
    if r:
        for name, x in [("python dicts", p), ("python columns", c)]:
            diff = (x - r) / r * 100
            word = "faster" if diff >= 0 else "slower"
            print(f"{name:<15} / rust = {x / r:.3f}  ({abs(diff):.1f}% {word} than the Rust command)")


if __name__ == "__main__":
    main()
