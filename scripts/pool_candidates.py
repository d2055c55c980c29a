#!/usr/bin/env python3
"""Draw texts from the teacher's pool for people to read (a second round of
pool-read.jsonl): half where the teacher is least sure of some tag (its
probability closest to its threshold, in logit units), half at random, per
source. Writes batches of id, text, source and provenance only, so that the
readers see neither the teacher's labels nor its probabilities. Texts whose
hash is in ../shared/gold/eval-hashes.txt, or already read (labeled,
extra-labeled and every pool-read*.jsonl), are skipped.
Deterministic (fixed seed).

    python3 scripts/pool_candidates.py OUT_DIR [--batch 300]
"""
import argparse, glob, json, math, os, random, sys

sys.path.insert(0, os.path.dirname(__file__))
from corpora import h

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--training", default="models/default/training")
ap.add_argument("--hashes", default="../shared/gold/eval-hashes.txt")
ap.add_argument("--batch", type=int, default=300)
ap.add_argument("--seed", type=int, default=7)
ap.add_argument("--per-source", default="cfpb_sentences=700,vader_tweets=400,amazon_snippets=350,cfpb_snippets=350")
a = ap.parse_args()

T = a.training
th = json.load(open(os.path.join(T, "teacher.json")))["thresholds"]
banned = set(l.strip() for l in open(a.hashes)) if os.path.exists(a.hashes) else set()
for f in ["labeled.jsonl", "extra-labeled.jsonl"] + sorted(glob.glob("pool-read*.jsonl", root_dir=T)):
    for l in open(os.path.join(T, f)):
        banned.add(h(json.loads(l)["text"]))

def logit(p):
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))

by_source = {}
for l in open(os.path.join(T, "teacher-labeled.jsonl")):
    r = json.loads(l)
    src = r["source"].removeprefix("teacher:")
    k = h(r["text"])
    if k in banned:
        continue
    banned.add(k)
    tags = r.get("soft", {}).get("tags", {})
    margin = min((abs(logit(p) - logit(th[t])) for t, p in tags.items()), default=99.0)
    by_source.setdefault(src, []).append((margin, r))

rnd = random.Random(a.seed)
picked = []
for part in a.per_source.split(","):
    src, n = part.split("=")
    rows = by_source[src]
    n = min(int(n), len(rows))
    unsure = sorted(rows, key=lambda x: x[0])[: n // 2]
    ids = {r["id"] for _, r in unsure}
    rest = [x for x in rows if x[1]["id"] not in ids]
    rnd.shuffle(rest)
    picked += [r for _, r in unsure] + [r for _, r in rest[: n - len(unsure)]]
    print(f"{src}: {n} of {len(rows)}")
rnd.shuffle(picked)
os.makedirs(a.out, exist_ok=True)
for b in range(0, len(picked), a.batch):
    with open(os.path.join(a.out, f"batch-{b // a.batch + 1}.jsonl"), "w") as f:
        for r in picked[b : b + a.batch]:
            f.write(json.dumps({"id": r["id"], "text": r["text"], "source": r["source"].removeprefix("teacher:"),
                                "provenance": r["provenance"]}, ensure_ascii=False) + "\n")
print(f"{len(picked)} texts in {math.ceil(len(picked) / a.batch)} batches -> {a.out}")
