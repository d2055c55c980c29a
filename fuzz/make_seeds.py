#!/usr/bin/env python3
"""Write the seed corpus of the fuzz targets (fuzz/corpus/<target>/).

Run from anywhere: `python3 fuzz/make_seeds.py`. Seeds are small and cover
each target's modes; the fuzzer grows its own working corpus elsewhere
(fuzz/target/corpus-work, git-ignored). The input layout of each target is
described at the top of its file in fuzz_targets/.
"""
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny")


def read(name):
    with open(os.path.join(TINY, name), "rb") as f:
        return f.read()


def write_all(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    # Fuzzer-found inputs (`regression-*`, see FUZZING.md) stay.
    for name in os.listdir(d):
        if not name.startswith("regression-"):
            os.remove(os.path.join(d, name))
    for data in seeds:
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(seeds)} seeds")


TEXTS = [
    "",
    "   \n\t ",
    "The app crashed twice. The agent who helped me was lovely.",
    "I was charged twice and nobody answers the phone.",
    "Thanks for the quick refund, great service!",
    "Does the premium plan include international calls?",
    "\U0001F600\U0001F600\U0001F525",
    "مرحبا، الطلب لم يصل بعد",
    "שלום, ההזמנה לא הגיעה",
    "Ça ne marche pas. 这个产品坏了。",
    "\x00\x01\x7f control \u202e characters",
    "a" * 300,
    "Bad. " * 60,
    "rude agent!!! ??? ... ,,,",
    "the charger stopped working after two days",
    "My bag went to Denver, I went to Boston, and nobody can tell me where it is.",
    "e\u0301\u0301\u0301 combining marks",
    "\ufeffBOM first. Then text.",
    "line one\r\nline two\rline three\u2028line four\u2029end",
    "[UNK] [PAD] [CLS] [SEP] [MASK] ##ing",
    "\U0001F469\u200D\U0001F469\u200D\U0001F467 family emoji, flags \U0001F1EB\U0001F1F7",
    "Mr. Smith said no. Dr. Who? U.S.A. e.g. i.e.",
    "1234567890 3.14 $99.99 100%",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ",
]
seeds = []
for i, t in enumerate(TEXTS):
    b = t.encode("utf-8")
    seeds.append(bytes([0, 0]) + b)  # tiny, default limit
    seeds.append(bytes([1, 0]) + b)  # embedded, default limit
    if i % 3 == 0:
        seeds.append(bytes([2, 7]) + b)  # tiny, limit 8
        seeds.append(bytes([3, 2]) + b)  # embedded, limit 3
seeds.append(bytes([1, 0]) + b"\xff\xfe invalid \xc3 utf-8")
write_all("classify", seeds)

config, labels, tokenizer, weights = (read(f) for f in ["config.json", "labels.json", "tokenizer.json", "model.safetensors"])
cfg = json.loads(config)


def cfg_bytes(**changes):
    c = dict(cfg)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c).encode()


seeds = []
# 0: all four files.
seeds.append(bytes([0]) + struct.pack("<HHH", len(config), len(labels), len(tokenizer)) + config + labels + tokenizer + weights)
nosha = cfg_bytes(sha256=None)
seeds.append(bytes([0]) + struct.pack("<HHH", len(nosha), len(labels), len(tokenizer)) + nosha + labels + tokenizer + weights[:2000])
seeds.append(bytes([0]) + b"\x02\x00\x02\x00\x02\x00{}{}{}")
# 1: config.json.
for c in [
    config,
    cfg_bytes(format_version=99),
    cfg_bytes(format_version=0),
    cfg_bytes(sha256=None),
    cfg_bytes(architecture="transformer"),
    cfg_bytes(vocab_size=0),
    cfg_bytes(num_tags=5),
    cfg_bytes(embedding_dim=10_000_000),
    cfg_bytes(extra=1),
    b"{}",
    b'{"format_version": 1}',
    b"{ nope",
    b"",
]:
    seeds.append(bytes([1]) + c)
# 2 and 5: labels.json.
lab = json.loads(labels)


def lab_bytes(**changes):
    lb = dict(lab)
    lb.update(changes)
    return json.dumps(lb).encode()


for lb in [
    labels,
    lab_bytes(tags=lab["tags"] + ["extra_tag"]),
    lab_bytes(temperature=0.0),
    lab_bytes(thresholds={}),
    lab_bytes(sentiment=["negative", "negative", "positive"]),
    lab_bytes(sentiment=["a", "b", "c"]),
    b"[]",
    b"not json",
]:
    seeds.append(bytes([2]) + lb)
    seeds.append(bytes([5]) + lb)
# 3: tokenizer.json.
for t in [tokenizer, b"this is not json", b'{"model": 3}', b"{}"]:
    seeds.append(bytes([3]) + t)
# 4: model.safetensors.
for w in [weights, weights[:8], weights[:100], weights[: len(weights) // 2], struct.pack("<Q", 2**64 - 1) + weights[8:200]]:
    seeds.append(bytes([4]) + w)
write_all("load_model", seeds)

JSONL = [
    b'{"text": "late", "sentiment": "negative"}\n\n{"text": "broke", "tags": ["product_failure"]}\n',
    b'{"text": "ok", "sentiment": "neutral", "tags": [], "source": "x"}\n',
    b'{"text": "x", "sentiment": "angry"}\n',
    b'{"text": "  ", "sentiment": "negative"}\n',
    b'{"sentiment": "negative"}\n',
    b'{"text": "x"}\n',
    b'{"text": "x", "tags": "product_failure"}\n',
    b'{"text": "x", "tags": [1]}\n',
    b"[1, 2]\n",
    b"{broken\n",
    b'{"text": "caf\xe9", "sentiment": "negative"}\n',
    b"",
    b"\n\n\n",
    b'{"comment": "rude", "mood": "negative", "labels": ["communication_gap"]}\n',
    b'{"text": "a\\u0000b", "sentiment": null, "tags": null}\r\n',
]
CSV = [
    b"id,comment,mood,labels\n1,\"Late, again\",negative,process_breakdown\n2,\"He said \"\"no\"\"\",negative,training_need;communication_gap\n3,Nice,positive,\n4,Unsure,neutral,?\n",
    b"text,sentiment\nfine,positive\n\"open quote,negative\n",
    b"comment,sentiment\nx,negative\n",
    b"text,sentiment\nok,positive\nbad,furious\n",
    b"text,sentiment\n\xff\xfe,negative\n",
    b"text,tags\nbroken,product_failure; ;\n",
    b"text,sentiment,tags\na,negative\n",
    b"text\nonly text\n",
    b"",
    b"text,sentiment\r\n\"multi\r\nline\",neutral\r\n",
]
seeds = []
for j in JSONL:
    seeds.append(bytes([0]) + j)
    seeds.append(bytes([4]) + j)
for c in CSV:
    seeds.append(bytes([1]) + c)
    seeds.append(bytes([5]) + c)
    seeds.append(bytes([2]) + c.replace(b",", b"\t"))
write_all("read_examples", seeds)
