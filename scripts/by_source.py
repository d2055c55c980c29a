#!/usr/bin/env python3
"""Per-source figures of a model on a labeled JSONL file (diagnostics):
python3 scripts/by_source.py MODEL_DIR FILE.jsonl"""
import json, subprocess, sys, collections
model, path = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(path)]
inp = "\n".join(r["text"].replace("\n", " ").replace("\r", " ") for r in rows).encode()
out = subprocess.run(["./target/release/voc", "classify", "--model", model], input=inp, capture_output=True, check=True).stdout
preds = [json.loads(l) for l in out.decode().splitlines()]
assert len(preds) == len(rows)
TAGS = ["product_failure", "communication_gap", "training_need", "process_breakdown"]
def f1(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0; r = tp / (tp + fn) if tp + fn else 0
    return 2 * p * r / (p + r) if p + r else 0
by = collections.defaultdict(list)
for r, p in zip(rows, preds):
    by[r.get("source", "?")].append((r, p)); by["ALL"].append((r, p))
for src, items in sorted(by.items()):
    classes = ["negative", "neutral", "positive"]
    sf = []
    for c in classes:
        tp = sum(1 for r, p in items if r["sentiment"] == c and p["sentiment"]["label"] == c)
        fp = sum(1 for r, p in items if r["sentiment"] != c and p["sentiment"]["label"] == c)
        fn = sum(1 for r, p in items if r["sentiment"] == c and p["sentiment"]["label"] != c)
        sf.append(f1(tp, fp, fn))
    tf = []
    for t in TAGS:
        pt = lambda p: any(x["name"] == t for x in p["tags"])
        tp = sum(1 for r, p in items if t in r["tags"] and pt(p))
        fp = sum(1 for r, p in items if t not in r["tags"] and pt(p))
        fn = sum(1 for r, p in items if t in r["tags"] and not pt(p))
        tf.append(f1(tp, fp, fn))
    acc = sum(1 for r, p in items if r["sentiment"] == p["sentiment"]["label"]) / len(items)
    print(f"{src:18} n={len(items):4} sent-acc {acc:.3f} sent-macroF1 {sum(sf)/3:.3f} tags-macroF1 {sum(tf)/4:.3f}  " + " ".join(f"{t[:5]}={v:.2f}" for t, v in zip(TAGS, tf)))
