#!/usr/bin/env python3
"""Make the tiny test fixtures: a word-level tokenizer over the words of
tests/fixtures/tiny-train.jsonl and a random 16-dim embedding table
(seeded). The tiny model itself is then trained with `voc train` by
scripts/make-fixtures.sh. Needs numpy and safetensors (pip)."""
import json, re, os
import numpy as np
from safetensors.numpy import save_file

here = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
words = set()
for l in open(os.path.join(here, "tiny-train.jsonl")):
    words.update(re.findall(r"\w+|[^\w\s]", json.loads(l)["text"].lower()))
vocab = {"[UNK]": 0}
for w in sorted(words):
    vocab[w] = len(vocab)
tok = {
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
    "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"},
    "post_processor": None, "decoder": None,
    "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
}
json.dump(tok, open(os.path.join(here, "tiny-tokenizer.json"), "w"), indent=1, sort_keys=True)
rng = np.random.default_rng(7)
emb = rng.normal(0, 1, (len(vocab), 16)).astype(np.float32)
save_file({"embeddings": emb}, os.path.join(here, "tiny-embeddings.safetensors"))
print(len(vocab), "tokens")
