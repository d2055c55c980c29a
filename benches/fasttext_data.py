#!/usr/bin/env python3
"""Data preparation and scoring for benches/compare.sh (standard library only).

  fasttext_data.py train OUTDIR TRAIN.jsonl... [--exclude HASHES]
      writes OUTDIR/tags.train, OUTDIR/sentiment.train (fastText format) and
      prints how many texts were kept and removed by the eval-hash list.
  fasttext_data.py comments OUT N TRAIN.jsonl...
      writes N raw comments, one per line (training texts cycled, newlines
      and other whitespace runs collapsed to one space).
  fasttext_data.py prep IN OUT
      fastText's view of a file of raw comments: lowercase, punctuation
      split off, one line per input line.
  fasttext_data.py dev DEV.jsonl OUT
      the dev texts, one per line, prepared as `prep` does.
  fasttext_data.py f1 DEV.jsonl TAGS_PRED SENT_PRED
      tags macro-F1 (per-tag F1 averaged over the tags of the dev file's
      labeling guide) and sentiment macro-F1 (per-class F1 averaged over
      negative/neutral/positive), printed as JSON. The definitions match
      `voc eval`: precision or recall with an empty denominator is 0.
"""
import hashlib
import json
import re
import sys

TAGS = ["product_failure", "communication_gap", "training_need", "process_breakdown"]
CLASSES = ["negative", "neutral", "positive"]


def eval_hash(text):
    """voc's eval hash: whitespace collapsed and trimmed, lowercased, SHA-256, 16 hex."""
    norm = " ".join(text.split()).lower()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:16]


_PUNCT = re.compile(r"([^\w\s])", re.UNICODE)


def prep(text):
    """fastText's usual preprocessing: lowercase, punctuation as separate tokens."""
    text = " ".join(text.split()).lower()
    return " ".join(_PUNCT.sub(r" \1 ", text).split())


def read_jsonl(paths):
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def cmd_train(args):
    outdir, rest = args[0], args[1:]
    exclude = set()
    if "--exclude" in rest:
        i = rest.index("--exclude")
        with open(rest[i + 1]) as f:
            exclude = {l.strip() for l in f if l.strip()}
        rest = rest[:i] + rest[i + 2:]
    kept = removed = 0
    with open(f"{outdir}/tags.train", "w") as ft, open(f"{outdir}/sentiment.train", "w") as fs:
        for row in read_jsonl(rest):
            text = row.get("text") or ""
            if not text.strip():
                continue
            if eval_hash(text) in exclude:
                removed += 1
                continue
            kept += 1
            t = prep(text)
            if row.get("sentiment") in CLASSES:
                fs.write(f"__label__{row['sentiment']} {t}\n")
            tags = row.get("tags")
            if isinstance(tags, list):
                # A text with no tag still teaches "no tag": a fifth label,
                # ignored at prediction time.
                labels = " ".join(f"__label__{x}" for x in tags) or "__label__none"
                ft.write(f"{labels} {t}\n")
    print(json.dumps({"kept": kept, "removed_by_eval_hashes": removed}))


def cmd_comments(args):
    out, n, paths = args[0], int(args[1]), args[2:]
    texts = [" ".join(r["text"].split()) for r in read_jsonl(paths) if r.get("text", "").strip()]
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(texts[i % len(texts)] + "\n")


def cmd_prep(args):
    with open(args[0], encoding="utf-8") as fi, open(args[1], "w", encoding="utf-8") as fo:
        for line in fi:
            fo.write(prep(line) + "\n")


def cmd_dev(args):
    with open(args[1], "w", encoding="utf-8") as fo:
        for row in read_jsonl([args[0]]):
            fo.write(prep(row["text"]) + "\n")


def f1(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def labels_of(line):
    """Labels of one line of `fasttext predict` / `predict-prob` output."""
    return [w[len("__label__"):] for w in line.split() if w.startswith("__label__")]


def cmd_f1(args):
    gold = list(read_jsonl([args[0]]))
    with open(args[1]) as f:
        tag_pred = [set(labels_of(l)) for l in f]
    with open(args[2]) as f:
        sent_pred = [(labels_of(l) or [""])[0] for l in f]
    assert len(tag_pred) == len(gold) == len(sent_pred), (len(gold), len(tag_pred), len(sent_pred))
    per_tag = {}
    for t in TAGS:
        tp = sum(1 for g, p in zip(gold, tag_pred) if t in g["tags"] and t in p)
        fp = sum(1 for g, p in zip(gold, tag_pred) if t not in g["tags"] and t in p)
        fn = sum(1 for g, p in zip(gold, tag_pred) if t in g["tags"] and t not in p)
        per_tag[t] = f1(tp, fp, fn)
    per_class = {}
    for c in CLASSES:
        tp = sum(1 for g, p in zip(gold, sent_pred) if g["sentiment"] == c and p == c)
        fp = sum(1 for g, p in zip(gold, sent_pred) if g["sentiment"] != c and p == c)
        fn = sum(1 for g, p in zip(gold, sent_pred) if g["sentiment"] == c and p != c)
        per_class[c] = f1(tp, fp, fn)
    print(json.dumps({
        "tags_macro_f1": sum(per_tag.values()) / len(TAGS),
        "sentiment_macro_f1": sum(per_class.values()) / len(CLASSES),
        "per_tag": per_tag,
        "per_class": per_class,
    }))


if __name__ == "__main__":
    cmds = {"train": cmd_train, "comments": cmd_comments, "prep": cmd_prep, "dev": cmd_dev, "f1": cmd_f1}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](sys.argv[2:])
