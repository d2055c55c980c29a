#!/usr/bin/env python3
"""Turn the teacher's probabilities (scripts/teacher.py) into the marked
pseudo-labeled training file models/default/training/teacher-labeled.jsonl.

    python3 scripts/teacher_labels.py POOL.jsonl TEACHER_DIR OUT.jsonl

Sentiment is the teacher's most probable class (left out, so the row trains
only the tag heads, when that probability is under --min-sentiment); tags are
those whose probability reaches the teacher's threshold (tuned on its
validation splits). Each row keeps the pool's id, source and provenance, and
says `"labeled_by": "teacher"`, and carries the probabilities it came from
as soft targets (`"soft": {"sentiment": {...}, "tags": {...}}`), which
`voc train` fits instead of the hard labels.
"""
import argparse, json

ap = argparse.ArgumentParser()
ap.add_argument("pool")
ap.add_argument("teacher_dir")
ap.add_argument("out")
ap.add_argument("--min-sentiment", type=float, default=0.0)
ap.add_argument("--hard", action="store_true", help="hard labels only (no soft targets)")
a = ap.parse_args()
rep = json.load(open(f"{a.teacher_dir}/teacher.json"))
classes, tags, th = rep["classes"], rep["tags"], rep["thresholds"]
probs = {}
for l in open(f"{a.teacher_dir}/pool-probs.jsonl"):
    r = json.loads(l)
    probs[r["id"]] = r
n = 0
with open(a.out, "w") as f:
    for l in open(a.pool):
        r = json.loads(l)
        p = probs[r["id"]]
        ps, pt = p["p_sentiment"], p["p_tags"]
        z = sum(ps)
        ps = [round(v / z, 4) for v in ps]
        c = max(range(len(classes)), key=lambda k: ps[k])
        row = {"id": "teacher-" + r["id"], "text": r["text"],
               "sentiment": classes[c] if ps[c] >= a.min_sentiment else None,
               "tags": [t for k, t in enumerate(tags) if pt[k] >= th[t]],
               "source": "teacher:" + r["source"], "provenance": r["provenance"],
               "labeled_by": "teacher",
               "soft": {"sentiment": dict(zip(classes, ps)), "tags": dict(zip(tags, pt))}}
        if row["sentiment"] is None:
            del row["sentiment"]
            del row["soft"]["sentiment"]
        if a.hard:
            del row["soft"]
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
print(f"{n} rows -> {a.out}")
