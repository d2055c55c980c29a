#!/usr/bin/env python3
"""Turn the teacher's probabilities (scripts/teacher.py) into the marked
pseudo-labeled training file models/default/training/teacher-labeled.jsonl.

    python3 scripts/teacher_labels.py POOL.jsonl TEACHER_DIR [TEACHER_DIR...] OUT.jsonl

Several TEACHER_DIRs (runs of scripts/teacher.py with different
--first-seed, for example on different days) are averaged, each weighted by
its number of seeds; so are their thresholds. A TEACHER_DIR's probabilities
may be gzipped (pool-probs.jsonl.gz).

Sentiment is the teacher's most probable class (left out, so the row trains
only the tag heads, when that probability is under --min-sentiment); tags are
those whose probability reaches the teacher's threshold (tuned on its
validation splits). Each row keeps the pool's id, source and provenance, and
says `"labeled_by": "teacher"`, and carries the probabilities it came from
as soft targets (`"soft": {"sentiment": {...}, "tags": {...}}`), which
`voc train` fits instead of the hard labels.

--blend OLD.jsonl --weight W mixes two teachers: each probability becomes
W x this teacher's + (1 - W) x the soft target that OLD (an earlier
teacher-labeled.jsonl over the same pool ids) carries, and each tag's
threshold for the hard labels the same mix of the two thresholds (OLD's
from --blend-thresholds, its teacher.json).
"""
import argparse, gzip, json, os

ap = argparse.ArgumentParser()
ap.add_argument("pool")
ap.add_argument("teacher_dirs", nargs="+")
ap.add_argument("out")
ap.add_argument("--min-sentiment", type=float, default=0.0)
ap.add_argument("--hard", action="store_true", help="hard labels only (no soft targets)")
ap.add_argument("--blend", help="an earlier teacher-labeled.jsonl over the same pool to mix in")
ap.add_argument("--blend-thresholds", help="that earlier teacher's teacher.json")
ap.add_argument("--weight", type=float, default=1.0, help="this teacher's share when blending")
a = ap.parse_args()
if a.blend and not a.blend_thresholds:
    ap.error("--blend needs --blend-thresholds (the earlier teacher's teacher.json)")
reps = [json.load(open(f"{d}/teacher.json")) for d in a.teacher_dirs]
classes, tags = reps[0]["classes"], reps[0]["tags"]
assert all(r["classes"] == classes and r["tags"] == tags for r in reps), "the teachers' label sets differ"
share = [r.get("seeds_done", len(r["seeds"])) for r in reps]
share = [n / sum(share) for n in share]
th = {t: sum(w * r["thresholds"][t] for w, r in zip(share, reps)) for t in tags}
old = {}
if a.blend:
    old_rep = json.load(open(a.blend_thresholds))
    th = {t: a.weight * th[t] + (1 - a.weight) * old_rep["thresholds"][t] for t in tags}
    for l in open(a.blend):
        r = json.loads(l)
        old[r["id"][len("teacher-"):]] = r["soft"]
probs = {}
for w, d in zip(share, a.teacher_dirs):
    path = f"{d}/pool-probs.jsonl"
    with open(path) if os.path.exists(path) else gzip.open(path + ".gz", "rt") as src:
        for l in src:
            r = json.loads(l)
            p = probs.setdefault(r["id"], {"p_sentiment": [0.0] * len(classes), "p_tags": [0.0] * len(tags), "n": 0})
            p["p_sentiment"] = [x + w * v for x, v in zip(p["p_sentiment"], r["p_sentiment"])]
            p["p_tags"] = [x + w * v for x, v in zip(p["p_tags"], r["p_tags"])]
            p["n"] += 1
assert all(p["n"] == len(a.teacher_dirs) for p in probs.values()), "a teacher lacks some pool ids"
n = 0
with open(a.out, "w") as f:
    for l in open(a.pool):
        r = json.loads(l)
        p = probs[r["id"]]
        ps, pt = p["p_sentiment"], p["p_tags"]
        if a.blend:
            o = old[r["id"]]
            ps = [a.weight * v + (1 - a.weight) * o["sentiment"][c] for v, c in zip(ps, classes)]
            pt = [a.weight * v + (1 - a.weight) * o["tags"][t] for v, t in zip(pt, tags)]
        pt = [round(v, 4) for v in pt]
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
