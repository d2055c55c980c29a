#!/usr/bin/env python3
"""Turn `voc score` outputs over the teacher's pool into a teacher run
directory, so that scripts/teacher_labels.py can average or blend them like
any teacher (self-distillation: students as teachers).

    voc score pool.jsonl --id-column id --no-text --model MODEL -o scored.jsonl
    python3 scripts/student_probs.py OUT_DIR MODEL:scored.jsonl [MODEL:scored.jsonl ...]

pool.jsonl is the teacher's pool (the one-liner in
models/default/training/teacher-runs/README.md). Each scored file is the
output of one model over that pool; MODEL is its folder (its labels.json
gives the thresholds). OUT_DIR gets `teacher.json` (classes, tags, the
models' mean thresholds, one "seed" per model) and `pool-probs.jsonl.gz`
(the models' mean probabilities by pool id), the files teacher_labels.py
reads.
"""
import gzip, json, os, sys

if len(sys.argv) < 3 or any(":" not in a for a in sys.argv[2:]):
    sys.exit(__doc__)
out, pairs = sys.argv[1], [a.split(":", 1) for a in sys.argv[2:]]
labels = [json.load(open(os.path.join(m, "labels.json"))) for m, _ in pairs]
classes, tags = labels[0]["sentiment"], labels[0]["tags"]
if any(l["sentiment"] != classes or l["tags"] != tags for l in labels):
    sys.exit("error: the models' label sets differ")
sums, order = {}, []
for _, path in pairs:
    seen = 0
    with open(path) as f:
        for i, line in enumerate(f, 1):
            r = json.loads(line)
            if "error" in r:
                sys.exit(f"error: {path}:{i}: a row voc could not score: {r['error']}")
            ps = [r[f"p_{c}"] for c in classes]
            pt = [r[f"tag_{t}"] for t in tags]
            key = str(r["id"])
            if key not in sums:
                if seen < len(order) or pairs[0][1] != path:
                    sys.exit(f"error: {path}:{i}: id {key!r} is not in the first file")
                order.append(key)
                sums[key] = [[0.0] * len(classes), [0.0] * len(tags), 0]
            s = sums[key]
            s[0] = [a + b for a, b in zip(s[0], ps)]
            s[1] = [a + b for a, b in zip(s[1], pt)]
            s[2] += 1
            seen += 1
    if seen != len(order):
        sys.exit(f"error: {path} has {seen} rows, the first file {len(order)}")
n = len(pairs)
if any(s[2] != n for s in sums.values()):
    sys.exit("error: an id is missing from, or repeated in, some file")
os.makedirs(out, exist_ok=True)
with gzip.open(os.path.join(out, "pool-probs.jsonl.gz"), "wt") as f:
    for key in order:
        ps, pt, _ = sums[key]
        f.write(json.dumps({"id": key, "p_sentiment": [round(v / n, 4) for v in ps],
                            "p_tags": [round(v / n, 4) for v in pt]}) + "\n")
report = {
    "students": [m for m, _ in pairs],
    "seeds": [{"model": m, "thresholds": [l["thresholds"][t] for t in tags]} for (m, _), l in zip(pairs, labels)],
    "seeds_done": n,
    "thresholds": {t: sum(l["thresholds"][t] for l in labels) / n for t in tags},
    "tags": tags,
    "classes": classes,
}
json.dump(report, open(os.path.join(out, "teacher.json"), "w"), indent=1)
print(f"{len(order)} ids, {n} models -> {out}")
