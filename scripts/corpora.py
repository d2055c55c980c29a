"""Readers shared by scripts/candidates.py and scripts/pool.py: the
evaluation hash, the CFPB narrative CSVs and the VADER (Hutto & Gilbert)
ground-truth TSVs, as unpacked by scripts/fetch_corpora.sh."""
import csv, hashlib, os, re

csv.field_size_limit(10**9)


def h(text):
    """The evaluation hash: whitespace collapsed, lowercased, SHA-256, 16 hex digits."""
    return hashlib.sha256(" ".join(text.split()).lower().encode()).hexdigest()[:16]


def sentences(text):
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def cfpb_narratives(folder, package):
    """(split, row, narrative with whitespace collapsed, provenance) for train.csv then test.csv."""
    for split in ["train", "test"]:
        with open(os.path.join(folder, f"{split}.csv"), newline="") as f:
            for i, rec in enumerate(csv.DictReader(f)):
                yield split, i, " ".join(rec["Consumer complaint narrative"].split()), f"{package}:{split}.csv:row{i}"


def tsv_rows(path, source, prov):
    """Rows of a VADER ground-truth TSV (id, mean rating, text)."""
    out = []
    for line in open(path, encoding="utf-8", errors="replace"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 3 and parts[0] != "id":
            out.append({"text": parts[2].strip(), "source": source, "provenance": f"{prov}:{parts[0]}", "rating": float(parts[1])})
    return out
