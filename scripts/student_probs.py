#!/usr/bin/env python3
"""Turn one model's `voc score` output over the teacher's pool into a teacher
run directory, so that scripts/teacher_labels.py can average or blend
trained models like teachers (self-distillation: students as teachers).

    voc score pool.jsonl --id-column id --no-text --model MODEL -o scored.jsonl
    python3 scripts/student_probs.py MODEL scored.jsonl OUT_DIR
    python3 scripts/teacher_labels.py pool.jsonl OUT_DIR [OUT_DIR2 ...] new-teacher.jsonl

pool.jsonl is the teacher's pool (the one-liner in
models/default/training/teacher-runs/README.md). MODEL is the scored
model's folder (its labels.json gives the label set and thresholds).
OUT_DIR gets `teacher.json` (one "seed") and `pool-probs.jsonl.gz` (the
model's probabilities by pool id), the files teacher_labels.py reads;
teacher_labels.py averages several such directories.
"""
import gzip, json, os, sys

if len(sys.argv) != 4:
    sys.exit(__doc__)
model, scored, out = sys.argv[1:]
labels = json.load(open(os.path.join(model, "labels.json")))
classes, tags = labels["sentiment"], labels["tags"]
os.makedirs(out, exist_ok=True)
n = 0
with open(scored) as src, gzip.open(os.path.join(out, "pool-probs.jsonl.gz"), "wt") as dst:
    for i, line in enumerate(src, 1):
        r = json.loads(line)
        if "error" in r:
            sys.exit(f"error: {scored}:{i}: a row voc could not score: {r['error']}")
        dst.write(json.dumps({"id": str(r["id"]), "p_sentiment": [r[f"p_{c}"] for c in classes],
                              "p_tags": [r[f"tag_{t}"] for t in tags]}) + "\n")
        n += 1
thresholds = {t: labels["thresholds"][t] for t in tags}
report = {"model": model, "seeds": [{"model": model, "thresholds": list(thresholds.values())}],
          "seeds_done": 1, "thresholds": thresholds, "tags": tags, "classes": classes}
with open(os.path.join(out, "teacher.json"), "w") as f:
    json.dump(report, f, indent=1)
print(f"{n} ids from {model} -> {out}")
