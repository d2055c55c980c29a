#!/usr/bin/env python3
"""Turn a round of pool texts read by people into a labeled JSONL file, and,
with --take-from-teacher, take those texts out of teacher-labeled.jsonl (a
text is then labeled once: by people when they read it, by the teacher
otherwise).

    python3 scripts/merge_read.py DIR OUT.jsonl [--take-from-teacher]

OUT.jsonl is appended to (pool-read.jsonl for the recipe's own file, or a
new file for a round that is measured first; ids continue OUT's numbering).

DIR holds batch-N.jsonl (from scripts/pool_candidates.py: id, text, source,
provenance) and labels-N.jsonl (id, sentiment, tags, confidence, one line per
batch row, same order), written by the readers under ../shared/LABELING.md.
"""
import argparse, glob, json, os

T = "models/default/training"
SENT = {"negative", "neutral", "positive"}
TAGS = {"product_failure", "communication_gap", "training_need", "process_breakdown"}
ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("out")
ap.add_argument("--take-from-teacher", action="store_true")
a = ap.parse_args()
d = a.dir
read = []
for bf in sorted(glob.glob(os.path.join(d, "batch-*.jsonl"))):
    lf = bf.replace("batch-", "labels-")
    rows = [json.loads(l) for l in open(bf)]
    labels = [json.loads(l) for l in open(lf)]
    assert len(rows) == len(labels), f"{lf}: {len(labels)} labels for {len(rows)} rows"
    for i, (r, lab) in enumerate(zip(rows, labels), 1):
        where = f"{lf}:{i}"
        assert lab["id"] == r["id"], f"{where}: id {lab['id']} != {r['id']}"
        assert lab["sentiment"] in SENT, f"{where}: sentiment"
        assert isinstance(lab["tags"], list) and set(lab["tags"]) <= TAGS, f"{where}: tags"
        assert lab["confidence"] in ("high", "low"), f"{where}: confidence"
        read.append((r, lab))
path = a.out
old = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
stem = os.path.basename(path).removesuffix(".jsonl")
n = 1 + max((int(r["id"].rsplit("-", 1)[1]) for r in old), default=-1)
taken = set()
with open(path, "a") as f:
    for k, (r, lab) in enumerate(read):
        taken.add(r["id"])
        f.write(json.dumps({"id": f"{stem}-{n + k:04d}", "text": r["text"], "sentiment": lab["sentiment"],
                            "tags": sorted(set(lab["tags"])), "source": r["source"], "provenance": r["provenance"],
                            "confidence": lab["confidence"], "labeled_by": "reading"}, ensure_ascii=False) + "\n")
print(f"{len(read)} read rows added to {path}")
if not a.take_from_teacher:
    raise SystemExit(0)
tpath = os.path.join(T, "teacher-labeled.jsonl")
keep = [l for l in open(tpath) if json.loads(l)["id"] not in taken]
removed = sum(1 for _ in open(tpath)) - len(keep)
assert removed == len(taken), f"{removed} teacher rows removed for {len(taken)} read"
open(tpath, "w").writelines(keep)
print(f"{removed} rows taken out of {tpath}")
