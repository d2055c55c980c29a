//! The neural network: a weighted embedding bag, one hidden layer, then a
//! sentiment softmax head and independent tag sigmoid heads.
//!
//! ```text
//! ids --(EmbeddingBag: mean of weight[t] * E[t])--> pooled [D]
//!     --(Linear D->H, ReLU)--> hidden [H]
//!     --(Linear H->S)--> sentiment logits    (softmax / temperature)
//!     --(Linear H->T)--> tag logits          (sigmoid each)
//! ```
//!
//! A model with scopes (see [`crate::scope`]) also pools, for each scope kind
//! `k`, the tokens inside such scopes (`q_k`, divided by the same token count
//! as the whole bag) and adds `M_k W_h q_k` to the hidden layer before the
//! ReLU. `M_k = diag(d_k) + U_k V_k^T` is learned, a diagonal plus a rank-`R`
//! part (`U_k`, `V_k`: `H x R`), so applying it costs `H (1 + 2R)`
//! multiply-adds rather than `H^2`; it is zero at the start of training, so
//! a model without scopes is the same function with `M_k = 0`.
//!
//! The bag is one fused operation, [`bag_pool`], used both by inference (plain
//! loops over the weights) and by training (inside the candle [`EmbeddingBag`]
//! custom op, whose backward pass is written out here too), so the two paths
//! compute the same function; a test checks they agree.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use crate::error::{Error, Result};
use crate::format::{ModelConfig, WEIGHTS};
use crate::scope::{ScopeMarker, ScopeState};

/// Tensor names in `model.safetensors`.
pub(crate) const T_EMBEDDING: &str = "embedding.weight";
pub(crate) const T_TOKEN_WEIGHT: &str = "embedding.token_weight";
pub(crate) const T_HIDDEN_W: &str = "hidden.weight";
pub(crate) const T_HIDDEN_B: &str = "hidden.bias";
pub(crate) const T_SENT_W: &str = "sentiment.weight";
pub(crate) const T_SENT_B: &str = "sentiment.bias";
pub(crate) const T_TAGS_W: &str = "tags.weight";
pub(crate) const T_TAGS_B: &str = "tags.bias";
pub(crate) const T_SCOPE_DIAG: &str = "scope.diag";
pub(crate) const T_SCOPE_U: &str = "scope.u";
pub(crate) const T_SCOPE_V: &str = "scope.v";

/// The token embedding table: owned, or borrowed straight from the model
/// bytes compiled into the binary (no copy, pages loaded on first use).
#[derive(Debug, Clone)]
pub(crate) enum Table {
    Owned(Vec<f32>),
    Static(&'static [f32]),
}

impl std::ops::Deref for Table {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            Table::Owned(v) => v,
            Table::Static(s) => s,
        }
    }
}

impl From<Vec<f32>> for Table {
    fn from(v: Vec<f32>) -> Self {
        Table::Owned(v)
    }
}

/// Inference network: the sizes and the [`Weights`].
///
/// A *folded* network has the hidden layer's weights multiplied into the
/// table (`E'[t] = W_h E[t]`, see [`Network::fold`]) and the identity as
/// `hidden_w`: the same function, but the forward pass, the per-sentence
/// scores and the attributions skip the `H x D` product.
#[derive(Debug, Clone)]
pub(crate) struct Network {
    pub vocab: usize,
    pub dim: usize,
    pub hidden: usize,
    pub n_sent: usize,
    pub n_tags: usize,
    pub w: Weights,
    /// `w.hidden_w` is exactly the identity (set by [`Network::new`]).
    pub folded: bool,
    /// The scope rule, for a model with scopes (`w.scope_*` hold one
    /// `M_k` per kind); `None` for a plain bag.
    pub scopes: Option<Arc<ScopeMarker>>,
    /// Rank `R` of the low-rank part of each `M_k` (0: diagonal only).
    pub scope_rank: usize,
}

/// The weights of a network, row-major as in candle's `Linear` (`[out, in]`).
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    pub embedding: Table,
    pub token_weight: Vec<f32>,
    pub hidden_w: Vec<f32>,
    pub hidden_b: Vec<f32>,
    pub sent_w: Vec<f32>,
    pub sent_b: Vec<f32>,
    pub tags_w: Vec<f32>,
    pub tags_b: Vec<f32>,
    /// `[K, H]`: the diagonal of each `M_k`; empty without scopes.
    pub scope_diag: Vec<f32>,
    /// `[K, H, R]` each: `M_k = diag + U_k V_k^T`; empty when `R = 0`.
    pub scope_u: Vec<f32>,
    pub scope_v: Vec<f32>,
}

/// Output of one forward pass over one bag of tokens.
#[derive(Debug, Clone, Default)]
pub(crate) struct Forward {
    pub hidden: Vec<f32>,
    /// Scratch for the scope path (`W_h q_k`, and `V^T z`).
    scope_in: Vec<f32>,
    scope_t: Vec<f32>,
    /// Bit `k` set when the bag had tokens in a scope of kind `k`.
    scoped: u8,
    pub sent_logits: Vec<f32>,
    pub tag_logits: Vec<f32>,
}

/// The fused embedding bag: `out[..dim] = sum_t w[t] * E[t] / n` over the
/// ids. With a scope `marker`, `out` holds `1 + K` vectors of `dim`: the bag,
/// then for each scope kind the sum of its tokens' `w[t] * E[t]`, divided by
/// the whole bag's token count `n`. Ids outside the table are skipped (the
/// loader makes them impossible).
#[inline]
pub(crate) fn bag_pool(
    embedding: &[f32],
    token_weight: &[f32],
    dim: usize,
    marker: Option<&ScopeMarker>,
    ids: &[u32],
    out: &mut [f32],
) {
    out.fill(0.0);
    let vocab = token_weight.len();
    let mut state = ScopeState::default();
    let (bag, scoped) = out.split_at_mut(dim);
    let mut n = 0usize;
    for &id in ids {
        let roles = marker.map_or(0, |m| m.step(&mut state, id));
        let id = id as usize;
        if id >= vocab {
            continue;
        }
        n += 1;
        let w = token_weight[id];
        let row = &embedding[id * dim..(id + 1) * dim];
        bag.iter_mut().zip(row).for_each(|(o, e)| *o += w * e);
        if roles != 0 {
            for (k, seg) in scoped.chunks_exact_mut(dim).enumerate() {
                if roles & (1 << k) != 0 {
                    seg.iter_mut().zip(row).for_each(|(o, e)| *o += w * e);
                }
            }
        }
    }
    if n > 0 {
        let inv = 1.0 / n as f32;
        out.iter_mut().for_each(|o| *o *= inv);
    }
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight accumulators let the compiler vectorize without fast-math.
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8 * 8;
    for (ca, cb) in a[..chunks].chunks_exact(8).zip(b[..chunks].chunks_exact(8)) {
        for k in 0..8 {
            acc[k] += ca[k] * cb[k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for k in chunks..a.len() {
        s += a[k] * b[k];
    }
    s
}

/// `out[o] = b[o] + W[o,:] . x`
#[inline]
fn linear(w: &[f32], b: &[f32], x: &[f32], out: &mut [f32]) {
    let n_in = x.len();
    for (o, (row, bias)) in out.iter_mut().zip(w.chunks_exact(n_in).zip(b)) {
        *o = bias + dot(row, x);
    }
}

impl Network {
    /// A network over `weights`, `[vocab, dim]` table and `hidden` units.
    /// The caller guarantees the shapes.
    pub(crate) fn new(vocab: usize, dim: usize, hidden: usize, n_sent: usize, n_tags: usize, w: Weights) -> Self {
        let folded = dim == hidden
            && w.hidden_w
                .chunks_exact(dim.max(1))
                .enumerate()
                .all(|(i, row)| row.iter().enumerate().all(|(j, &x)| x == if i == j { 1.0 } else { 0.0 }));
        let scope_rank = if w.scope_diag.is_empty() { 0 } else { w.scope_u.len() / w.scope_diag.len() };
        Network { vocab, dim, hidden, n_sent, n_tags, w, folded, scopes: None, scope_rank }
    }

    /// The same network with the scope rule `marker` (whose kinds match
    /// `w.scope_*`, which the callers guarantee), or without scopes.
    pub(crate) fn with_scopes(mut self, marker: Option<Arc<ScopeMarker>>) -> Self {
        self.scopes = marker;
        self
    }

    /// `out += M_k z` (`z`, `out`: `H`; `t`: scratch).
    fn scope_apply(&self, k: usize, z: &[f32], out: &mut [f32], t: &mut Vec<f32>) {
        let (h, r) = (self.hidden, self.scope_rank);
        let diag = &self.w.scope_diag[k * h..(k + 1) * h];
        out.iter_mut().zip(diag.iter().zip(z)).for_each(|(o, (d, x))| *o += d * x);
        if r == 0 {
            return;
        }
        let (u, v) = (&self.w.scope_u[k * h * r..(k + 1) * h * r], &self.w.scope_v[k * h * r..(k + 1) * h * r]);
        // t = V^T z, then out += U t.
        t.clear();
        t.resize(r, 0.0);
        for (row, x) in v.chunks_exact(r).zip(z) {
            if *x != 0.0 {
                t.iter_mut().zip(row).for_each(|(a, b)| *a += x * b);
            }
        }
        for (o, row) in out.iter_mut().zip(u.chunks_exact(r)) {
            *o += dot(row, t);
        }
    }

    /// `out += M_k^T g`.
    fn scope_apply_t(&self, k: usize, g: &[f32], out: &mut [f32], t: &mut Vec<f32>) {
        let (h, r) = (self.hidden, self.scope_rank);
        let diag = &self.w.scope_diag[k * h..(k + 1) * h];
        out.iter_mut().zip(diag.iter().zip(g)).for_each(|(o, (d, x))| *o += d * x);
        if r == 0 {
            return;
        }
        let (u, v) = (&self.w.scope_u[k * h * r..(k + 1) * h * r], &self.w.scope_v[k * h * r..(k + 1) * h * r]);
        // t = U^T g, then out += V t.
        t.clear();
        t.resize(r, 0.0);
        for (row, x) in u.chunks_exact(r).zip(g) {
            if *x != 0.0 {
                t.iter_mut().zip(row).for_each(|(a, b)| *a += x * b);
            }
        }
        for (o, row) in out.iter_mut().zip(v.chunks_exact(r)) {
            *o += dot(row, t);
        }
    }

    /// Number of scope kinds (`K`).
    pub(crate) fn n_scopes(&self) -> usize {
        self.scopes.as_ref().map_or(0, |m| m.kinds().len())
    }

    /// Build from a safetensors buffer, checking every tensor against the
    /// config and every weight's magnitude.
    pub(crate) fn from_safetensors(bytes: &[u8], cfg: &ModelConfig) -> Result<Self> {
        let net = Self::parse(bytes, cfg, true, |t| Table::Owned(t.to_vec()))?;
        net.check_magnitudes()?;
        Ok(net)
    }

    /// Build from safetensors bytes that live for the whole program (the
    /// embedded model): the table is used in place when its bytes are
    /// aligned little-endian f32, and copied otherwise. The magnitude check
    /// is left to the test suite, which runs it on the embedded model.
    #[allow(dead_code)] // used with the `embedded-model` feature
    pub(crate) fn from_static_safetensors(bytes: &'static [u8], cfg: &ModelConfig) -> Result<Self> {
        Self::parse(bytes, cfg, false, Table::Static)
    }

    /// Parse and check every tensor's name, shape and values (the table's
    /// values only when `verify`); `table` turns the table's values, when
    /// stored in place as f32, into a [`Table`].
    fn parse<'a>(
        bytes: &'a [u8],
        cfg: &ModelConfig,
        verify: bool,
        table: impl FnOnce(&'a [f32]) -> Table,
    ) -> Result<Self> {
        let st = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| Error::model_src(WEIGHTS, format!("not a readable safetensors file: {e}"), e))?;
        let (v, d, h, s, t) =
            (cfg.vocab_size, cfg.embedding_dim, cfg.hidden_dim, cfg.num_sentiment_classes, cfg.num_tags);
        let (k, r) = (cfg.scopes.len(), cfg.scope_rank);
        let mut extra: Vec<_> = st
            .names()
            .into_iter()
            .filter(|name| {
                !TENSOR_NAMES.contains(name)
                    || (k == 0 && *name == T_SCOPE_DIAG)
                    || ((k == 0 || cfg.scope_rank == 0) && (*name == T_SCOPE_U || *name == T_SCOPE_V))
            })
            .collect();
        if !extra.is_empty() {
            extra.sort();
            return Err(Error::model(WEIGHTS, format!("unexpected tensors {extra:?}")));
        }
        let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> { Ok(take(&st, name, shape, true)?.into_owned()) };
        let embedding = match take(&st, T_EMBEDDING, &[v, d], verify)? {
            Cow::Borrowed(values) => table(values),
            Cow::Owned(values) => Table::Owned(values),
        };
        let weights = Weights {
            embedding,
            token_weight: get(T_TOKEN_WEIGHT, &[v])?,
            hidden_w: get(T_HIDDEN_W, &[h, d])?,
            hidden_b: get(T_HIDDEN_B, &[h])?,
            sent_w: get(T_SENT_W, &[s, h])?,
            sent_b: get(T_SENT_B, &[s])?,
            tags_w: get(T_TAGS_W, &[t, h])?,
            tags_b: get(T_TAGS_B, &[t])?,
            scope_diag: if k > 0 { get(T_SCOPE_DIAG, &[k, h])? } else { Vec::new() },
            scope_u: if k > 0 && r > 0 { get(T_SCOPE_U, &[k, h, r])? } else { Vec::new() },
            scope_v: if k > 0 && r > 0 { get(T_SCOPE_V, &[k, h, r])? } else { Vec::new() },
        };
        Ok(Network::new(v, d, h, s, t, weights))
    }

    /// The same function with the hidden layer's weights multiplied into
    /// the table: `E'[t] = W_h E[t]`, so `W_h (sum_t w_t E[t]) / n =
    /// (sum_t w_t E'[t]) / n`, and `hidden_w` becomes the identity. Exact up
    /// to float rounding. Done after training when `hidden <= dim` (the
    /// table does not grow); the product runs on candle's matmul.
    pub(crate) fn fold(self) -> Result<Self> {
        if self.folded || self.hidden > self.dim {
            return Ok(self);
        }
        let dev = &candle_core::Device::Cpu;
        let e = Tensor::from_slice(&self.w.embedding, (self.vocab, self.dim), dev)?;
        let w = Tensor::from_slice(&self.w.hidden_w, (self.hidden, self.dim), dev)?;
        let folded = e.matmul(&w.t()?)?.flatten_all()?.to_vec1::<f32>()?;
        let h = self.hidden;
        let mut identity = vec![0f32; h * h];
        (0..h).for_each(|i| identity[i * h + i] = 1.0);
        // The scope matrices act on the hidden space: `M_k W_h q_k = M_k q'_k`.
        let weights = Weights { embedding: Table::Owned(folded), hidden_w: identity, ..self.w };
        Ok(Network::new(self.vocab, h, h, self.n_sent, self.n_tags, weights).with_scopes(self.scopes))
    }

    /// Reject weights so large that some input could overflow f32 in the
    /// forward pass or the attributions (finite weights, yet infinite logits
    /// and NaN probabilities; found by fuzzing). Each layer's outputs are
    /// bounded by `|b| + sum |W| * bound(input)`; a trained model stays many
    /// orders of magnitude below the limit.
    pub(crate) fn check_magnitudes(&self) -> Result<()> {
        const LIMIT: f64 = 1e20;
        let d = self.dim;
        let mut pooled = vec![0f64; d];
        for t in 0..self.vocab {
            let w = f64::from(self.w.token_weight[t].abs());
            for (p, e) in pooled.iter_mut().zip(&self.w.embedding[t * d..(t + 1) * d]) {
                *p = p.max(w * f64::from(e.abs()));
            }
        }
        let layer = |w: &[f32], b: &[f32], input: &[f64]| -> Vec<f64> {
            let rows = w.chunks_exact(input.len());
            let dot = |row: &[f32]| row.iter().zip(input).map(|(w, x)| f64::from(w.abs()) * x).sum::<f64>();
            b.iter().zip(rows).map(|(b, row)| f64::from(b.abs()) + dot(row)).collect()
        };
        let mut hidden = layer(&self.w.hidden_w, &self.w.hidden_b, &pooled);
        // A scope bag is a part of the bag, so `pooled` bounds it too.
        let zeros = vec![0f32; self.hidden];
        let scope_in = layer(&self.w.hidden_w, &zeros, &pooled);
        // |M_k| x <= |d_k| x + |U_k| (|V_k|^T x) for x >= 0.
        let (h, r) = (self.hidden, self.scope_rank);
        let scope_bound = |k: usize, x: &[f64], transpose: bool| -> Vec<f64> {
            let diag = &self.w.scope_diag[k * h..(k + 1) * h];
            let mut out: Vec<f64> = diag.iter().zip(x).map(|(d, x)| f64::from(d.abs()) * x).collect();
            if r > 0 {
                let (u, v) = (&self.w.scope_u[k * h * r..(k + 1) * h * r], &self.w.scope_v[k * h * r..(k + 1) * h * r]);
                let (first, second) = if transpose { (u, v) } else { (v, u) };
                let mut t = vec![0f64; r];
                for (row, x) in first.chunks_exact(r).zip(x) {
                    t.iter_mut().zip(row).for_each(|(a, b)| *a += x * f64::from(b.abs()));
                }
                for (o, row) in out.iter_mut().zip(second.chunks_exact(r)) {
                    *o += row.iter().zip(&t).map(|(a, b)| f64::from(a.abs()) * b).sum::<f64>();
                }
            }
            out
        };
        for k in 0..self.n_scopes() {
            hidden.iter_mut().zip(scope_bound(k, &scope_in, false)).for_each(|(h, x)| *h += x);
        }
        let sent = layer(&self.w.sent_w, &self.w.sent_b, &hidden);
        let tags = layer(&self.w.tags_w, &self.w.tags_b, &hidden);
        // Attributions: |d logit / d hidden| <= 2 sum_k |W[k, :]| (coefficients
        // sum to at most 2 in absolute value), then back through the hidden layer.
        let mut dh = vec![0f64; self.hidden];
        for head in [&self.w.sent_w, &self.w.tags_w] {
            for row in head.chunks_exact(self.hidden) {
                dh.iter_mut().zip(row).for_each(|(g, w)| *g += 2.0 * f64::from(w.abs()));
            }
        }
        // A token in scopes also reaches the hidden layer through each `M_k`.
        let mut through = dh.clone();
        for k in 0..self.n_scopes() {
            through.iter_mut().zip(scope_bound(k, &dh, true)).for_each(|(o, x)| *o += x);
        }
        let dh = through;
        let mut grad = vec![0f64; d];
        for (row, g) in self.w.hidden_w.chunks_exact(d).zip(&dh) {
            grad.iter_mut().zip(row).for_each(|(o, w)| *o += g * f64::from(w.abs()));
        }
        let contribution = (0..self.vocab)
            .map(|t| {
                let row = &self.w.embedding[t * d..(t + 1) * d];
                let w = f64::from(self.w.token_weight[t].abs());
                w * row.iter().zip(&grad).map(|(e, g)| f64::from(e.abs()) * g).sum::<f64>()
            })
            .fold(0f64, f64::max);
        let worst =
            [&pooled, &hidden, &sent, &tags, &grad].iter().flat_map(|v| v.iter()).fold(contribution, |a, &b| a.max(b));
        if worst >= LIMIT {
            return Err(Error::model(
                WEIGHTS,
                format!("weights too large: activations could reach {worst:e} and overflow f32 (limit {LIMIT:e})"),
            ));
        }
        Ok(())
    }

    /// The forward pass for one bag of token ids. `pooled` is scratch space.
    pub(crate) fn forward(&self, ids: &[u32], pooled: &mut Vec<f32>, out: &mut Forward) {
        pooled.resize((1 + self.n_scopes()) * self.dim, 0.0);
        bag_pool(&self.w.embedding, &self.w.token_weight, self.dim, self.scopes.as_deref(), ids, pooled);
        self.head(pooled, out);
    }

    /// Everything after the bag: `pooled` holds the bag's vector, then one
    /// per scope kind.
    fn head(&self, pooled: &[f32], out: &mut Forward) {
        let (d, h) = (self.dim, self.hidden);
        out.hidden.resize(h, 0.0);
        out.sent_logits.resize(self.n_sent, 0.0);
        out.tag_logits.resize(self.n_tags, 0.0);
        let (bag, scoped) = pooled.split_at(d);
        out.scoped = 0;
        if self.folded {
            out.hidden.iter_mut().zip(bag.iter().zip(&self.w.hidden_b)).for_each(|(h, (p, b))| *h = p + b);
        } else {
            linear(&self.w.hidden_w, &self.w.hidden_b, bag, &mut out.hidden);
        }
        for (k, q) in scoped.chunks_exact(d).enumerate() {
            if q.iter().all(|&x| x == 0.0) {
                continue;
            }
            out.scoped |= 1 << k;
            let mut z = std::mem::take(&mut out.scope_in);
            z.resize(h, 0.0);
            if self.folded {
                z.copy_from_slice(q);
            } else {
                for (o, row) in z.iter_mut().zip(self.w.hidden_w.chunks_exact(d)) {
                    *o = dot(row, q);
                }
            }
            self.scope_apply(k, &z, &mut out.hidden, &mut out.scope_t);
            out.scope_in = z;
        }
        out.hidden.iter_mut().for_each(|x| *x = x.max(0.0));
        linear(&self.w.sent_w, &self.w.sent_b, &out.hidden, &mut out.sent_logits);
        linear(&self.w.tags_w, &self.w.tags_b, &out.hidden, &mut out.tag_logits);
    }

    /// Gradient of `sum_k coef[k] * logit_k` (of the head whose weights are `head_w`)
    /// with respect to the pooled vectors (the bag's, then each scope
    /// kind's: `(1 + K) * dim` values), at the point `fwd`.
    pub(crate) fn input_gradient(&self, head_w: &[f32], coef: &[f32], fwd: &Forward) -> Vec<f32> {
        // d/dh = sum_k coef[k] W[k,:], masked by ReLU; then d/dbag = W_h^T d/dh
        // and d/dq_k = W_h^T M_k^T d/dh.
        let h = self.hidden;
        let mut dh = vec![0f32; h];
        for (k, c) in coef.iter().enumerate() {
            if *c != 0.0 {
                for (g, w) in dh.iter_mut().zip(&head_w[k * h..(k + 1) * h]) {
                    *g += c * w;
                }
            }
        }
        dh.iter_mut().zip(&fwd.hidden).for_each(|(g, h)| *g = if *h > 0.0 { *g } else { 0.0 });
        let mut hidden_grads = Vec::with_capacity((1 + self.n_scopes()) * h);
        hidden_grads.extend_from_slice(&dh);
        let mut t = Vec::new();
        for k in 0..self.n_scopes() {
            let start = hidden_grads.len();
            hidden_grads.resize(start + h, 0.0);
            // No token in such a scope: no token reads this part.
            if fwd.scoped & (1 << k) != 0 {
                self.scope_apply_t(k, &dh, &mut hidden_grads[start..], &mut t);
            }
        }
        if self.folded {
            return hidden_grads;
        }
        let mut grad = vec![0f32; hidden_grads.len() / h * self.dim];
        for (gh, out) in hidden_grads.chunks_exact(h).zip(grad.chunks_exact_mut(self.dim)) {
            for (j, g) in gh.iter().enumerate() {
                if *g != 0.0 {
                    let row = &self.w.hidden_w[j * self.dim..(j + 1) * self.dim];
                    out.iter_mut().zip(row).for_each(|(o, w)| *o += g * w);
                }
            }
        }
        grad
    }

    /// Contribution of token `id`, whose scope roles are `roles` (bit `k`
    /// for scope kind `k`, see [`ScopeMarker::step`]), to each logit whose
    /// gradient w.r.t. the pooled vectors is `grads[l]`, in a bag of `n`
    /// tokens (gradient x input), into `out[l]`: the token's row is read
    /// once for all of them.
    #[inline]
    pub(crate) fn token_contributions(&self, id: u32, roles: u8, grads: &[Vec<f32>], n: usize, out: &mut [f32]) {
        let id = id as usize;
        if id >= self.vocab || n == 0 {
            out.fill(0.0);
            return;
        }
        let d = self.dim;
        let row = &self.w.embedding[id * d..(id + 1) * d];
        let w = self.w.token_weight[id];
        for (o, g) in out.iter_mut().zip(grads) {
            let mut s = 0f32;
            for (k, gk) in g.chunks_exact(d).enumerate() {
                if k == 0 || roles & (1 << (k - 1)) != 0 {
                    s += dot(row, gk);
                }
            }
            *o = w * s / n as f32;
        }
    }

    /// Scope roles of each token of `ids` (all zero without scopes).
    pub(crate) fn roles(&self, ids: &[u32], out: &mut Vec<u8>) {
        match &self.scopes {
            Some(m) => m.roles(ids, out),
            None => {
                out.clear();
                out.resize(ids.len(), 0);
            }
        }
    }

    /// All tensors by name, for saving.
    pub(crate) fn tensors(&self) -> Result<Vec<(&'static str, Tensor)>> {
        let dev = &candle_core::Device::Cpu;
        let t = |v: &[f32], shape: &[usize]| Tensor::from_slice(v, shape, dev);
        let mut all = vec![
            (T_EMBEDDING, t(&self.w.embedding, &[self.vocab, self.dim])?),
            (T_TOKEN_WEIGHT, t(&self.w.token_weight, &[self.vocab])?),
            (T_HIDDEN_W, t(&self.w.hidden_w, &[self.hidden, self.dim])?),
            (T_HIDDEN_B, t(&self.w.hidden_b, &[self.hidden])?),
            (T_SENT_W, t(&self.w.sent_w, &[self.n_sent, self.hidden])?),
            (T_SENT_B, t(&self.w.sent_b, &[self.n_sent])?),
            (T_TAGS_W, t(&self.w.tags_w, &[self.n_tags, self.hidden])?),
            (T_TAGS_B, t(&self.w.tags_b, &[self.n_tags])?),
        ];
        let (k, h, r) = (self.n_scopes(), self.hidden, self.scope_rank);
        if k > 0 {
            all.push((T_SCOPE_DIAG, t(&self.w.scope_diag, &[k, h])?));
        }
        if k > 0 && r > 0 {
            all.push((T_SCOPE_U, t(&self.w.scope_u, &[k, h, r])?));
            all.push((T_SCOPE_V, t(&self.w.scope_v, &[k, h, r])?));
        }
        Ok(all)
    }
}

const TENSOR_NAMES: [&str; 11] = [
    T_EMBEDDING,
    T_TOKEN_WEIGHT,
    T_HIDDEN_W,
    T_HIDDEN_B,
    T_SENT_W,
    T_SENT_B,
    T_TAGS_W,
    T_TAGS_B,
    T_SCOPE_DIAG,
    T_SCOPE_U,
    T_SCOPE_V,
];

/// A tensor's values as f32, checked for shape (and finiteness when
/// `finite`): borrowed
/// in place when stored as aligned little-endian f32, converted otherwise.
fn take<'a>(st: &safetensors::SafeTensors<'a>, name: &str, shape: &[usize], finite: bool) -> Result<Cow<'a, [f32]>> {
    let view = st.tensor(name).map_err(|_| Error::model(WEIGHTS, format!("tensor {name:?} is missing")))?;
    if view.shape() != shape {
        return Err(Error::model(
            WEIGHTS,
            format!("tensor {name:?} has shape {:?}, config.json and labels.json imply {shape:?}", view.shape()),
        ));
    }
    let values: Cow<'a, [f32]> = match view.dtype() {
        safetensors::Dtype::F32 => {
            let data: &'a [u8] = view.data();
            match bytemuck::try_cast_slice::<u8, f32>(data) {
                Ok(values) if cfg!(target_endian = "little") => Cow::Borrowed(values),
                _ => Cow::Owned(data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
            }
        }
        _ => {
            use candle_core::safetensors::Load;
            let t = view
                .load(&candle_core::Device::Cpu)
                .and_then(|t| t.to_dtype(candle_core::DType::F32))
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| Error::model_src(WEIGHTS, format!("tensor {name:?} cannot be read as f32"), e))?;
            Cow::Owned(t)
        }
    };
    if let Some(bad) = values.iter().position(|x| finite && !x.is_finite()) {
        return Err(Error::model(WEIGHTS, format!("tensor {name:?} holds a non-finite value at index {bad}")));
    }
    Ok(values)
}

/// The sparse gradient of the table from one backward pass: the rows the
/// batch touched (in order of first use) and their gradients,
/// `rows.len() * dim` values. A batch touches a few thousand of the `V` rows,
/// so this is what makes fine-tuning the table affordable.
#[derive(Debug, Default)]
pub(crate) struct RowGrads {
    pub rows: Vec<u32>,
    pub values: Vec<f32>,
}

impl RowGrads {
    /// The sum of several sparse gradients of a table of `vocab` rows (rows
    /// in order of first use). One part is returned as it is.
    pub(crate) fn sum(parts: Vec<RowGrads>, dim: usize, vocab: usize) -> RowGrads {
        let mut parts = parts.into_iter().filter(|p| !p.rows.is_empty());
        let Some(mut acc) = parts.next() else { return RowGrads::default() };
        let mut rest = parts.peekable();
        if rest.peek().is_none() {
            return acc;
        }
        // A dense slot per table row, as the bag's backward uses.
        let mut slot = vec![u32::MAX; vocab];
        for (k, &r) in acc.rows.iter().enumerate() {
            slot[r as usize] = k as u32;
        }
        for other in rest {
            for (g, &r) in other.values.chunks_exact(dim).zip(&other.rows) {
                let s = &mut slot[r as usize];
                if *s == u32::MAX {
                    *s = acc.rows.len() as u32;
                    acc.rows.push(r);
                    acc.values.extend_from_slice(g);
                } else {
                    let j = *s as usize;
                    acc.values[j * dim..(j + 1) * dim].iter_mut().zip(g).for_each(|(a, b)| *a += b);
                }
            }
        }
        acc
    }
}

/// The scope matrices on candle (training): `diag [K, H]`, and `(U, V)`,
/// `[K, H, R]` each, when `R > 0`.
pub(crate) struct ScopeParams {
    pub diag: Tensor,
    pub low_rank: Option<(Tensor, Tensor)>,
}

/// The bags of one training batch, built token by token: each text's
/// tokens, and for each scope kind the text's tokens inside such scopes.
#[derive(Debug)]
pub(crate) struct BatchBags {
    ids: Vec<u32>,
    offsets: Vec<usize>,
    scope_ids: Vec<Vec<u32>>,
    scope_offsets: Vec<Vec<usize>>,
    /// Per scope kind and text: scope tokens / text tokens (the op divides
    /// a scope bag by its own size; the network divides by the text's).
    scope_scale: Vec<Vec<f32>>,
}

impl BatchBags {
    pub(crate) fn new(n_scopes: usize) -> Self {
        BatchBags {
            ids: Vec::new(),
            offsets: vec![0],
            scope_ids: vec![Vec::new(); n_scopes],
            scope_offsets: vec![vec![0]; n_scopes],
            scope_scale: vec![Vec::new(); n_scopes],
        }
    }

    /// Add a token, with its scope roles (bit `k`: scope kind `k`), to the open bag.
    pub(crate) fn push(&mut self, id: u32, roles: u8) {
        self.ids.push(id);
        for (k, bag) in self.scope_ids.iter_mut().enumerate() {
            if roles & (1 << k) != 0 {
                bag.push(id);
            }
        }
    }

    /// Tokens in the open bag.
    pub(crate) fn open_len(&self) -> usize {
        self.ids.len() - self.offsets[self.offsets.len() - 1]
    }

    /// Close the open bag (one text).
    pub(crate) fn end_bag(&mut self) {
        let n = self.open_len().max(1) as f32;
        self.offsets.push(self.ids.len());
        for k in 0..self.scope_ids.len() {
            let o = &mut self.scope_offsets[k];
            let in_scope = self.scope_ids[k].len() - o[o.len() - 1];
            o.push(self.scope_ids[k].len());
            self.scope_scale[k].push(in_scope as f32 / n);
        }
    }

    /// The hidden layer's input before its bias, `[B, H]`, on candle:
    /// `W_h p + sum_k M_k W_h q_k` (`scope`: the `M_k`). Each bag op
    /// `k` (0: whole bags, `1 + k`: scope kind `k`) leaves its sparse table
    /// gradient in `row_grads[k]` when there is one.
    pub(crate) fn hidden_pre(
        self,
        token_weight: &Tensor,
        table: &Arc<Table>,
        hidden_w: &Tensor,
        scope: Option<&ScopeParams>,
        row_grads: &[Arc<Mutex<RowGrads>>],
    ) -> candle_core::Result<Tensor> {
        let dim = hidden_w.dim(1)?;
        let b = self.offsets.len() - 1;
        let bag = |ids: Vec<u32>, offsets: Vec<usize>, k: usize| {
            let op = EmbeddingBag { ids, offsets, table: table.clone(), dim, table_grad: row_grads.get(k).cloned() };
            token_weight.apply_op1(op)
        };
        let hw_t = hidden_w.t()?;
        let mut pre = bag(self.ids, self.offsets, 0)?.matmul(&hw_t)?;
        if let Some(m) = scope {
            let scopes = self.scope_ids.into_iter().zip(self.scope_offsets).zip(self.scope_scale);
            for (k, ((ids, offsets), scale)) in scopes.enumerate() {
                let scale = Tensor::from_vec(scale, (b, 1), token_weight.device())?;
                let z = bag(ids, offsets, k + 1)?.broadcast_mul(&scale)?.matmul(&hw_t)?;
                // z M_k^T = z * d_k + (z V_k) U_k^T
                pre = (pre + z.broadcast_mul(&m.diag.get(k)?)?)?;
                if let Some((u, v)) = &m.low_rank {
                    pre = (pre + z.matmul(&v.get(k)?)?.matmul(&u.get(k)?.t()?)?)?;
                }
            }
        }
        Ok(pre)
    }
}

/// The embedding bag as a candle custom op over the token weights `w [V]`,
/// for a batch of bags given by `ids` and `offsets` (bag `b` is
/// `ids[offsets[b]..offsets[b + 1]]`). Output `[B, D]`. The table
/// `E [V, D]` is shared with the op (not copied into the graph); the
/// backward pass returns the gradient of `w` and, when `table_grad` is set,
/// leaves the table's gradient there as [`RowGrads`].
pub(crate) struct EmbeddingBag {
    pub ids: Vec<u32>,
    pub offsets: Vec<usize>,
    pub table: Arc<Table>,
    pub dim: usize,
    pub table_grad: Option<Arc<Mutex<RowGrads>>>,
}

impl EmbeddingBag {
    fn bags(&self) -> impl Iterator<Item = &[u32]> {
        self.offsets.windows(2).map(|w| &self.ids[w[0]..w[1]])
    }
}

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> candle_core::Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("EmbeddingBag: {what} must be contiguous"),
    }
}

impl CustomOp1 for EmbeddingBag {
    fn name(&self) -> &'static str {
        "embedding-bag"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let w = contiguous(s, l, "token weights")?;
        let (v, d) = (w.len(), self.dim);
        if self.table.len() != v * d {
            candle_core::bail!("EmbeddingBag: a table of {} values for {v} rows of {d}", self.table.len());
        }
        let b = self.offsets.len().saturating_sub(1);
        let mut out = vec![0f32; b * d];
        for (bag, o) in self.bags().zip(out.chunks_exact_mut(d)) {
            bag_pool(&self.table, w, d, None, bag, o);
        }
        Ok((CpuStorage::F32(out), Shape::from((b, d))))
    }

    fn bwd(&self, weights: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let d = self.dim;
        let emb: &[f32] = &self.table;
        let w = weights.to_vec1::<f32>()?;
        let g = grad.flatten_all()?.to_vec1::<f32>()?;
        let v = w.len();
        let mut gw = vec![0f32; v];
        let mut rows = self.table_grad.as_ref().map(|_| RowGrads::default());
        let mut slot = if rows.is_some() { vec![u32::MAX; v] } else { Vec::new() };
        for (bag, gb) in self.bags().zip(g.chunks_exact(d)) {
            let n = bag.iter().filter(|&&id| (id as usize) < v).count();
            if n == 0 {
                continue;
            }
            let inv = 1.0 / n as f32;
            for &id in bag {
                let id = id as usize;
                if id >= v {
                    continue;
                }
                gw[id] += inv * dot(gb, &emb[id * d..(id + 1) * d]);
                if let Some(r) = rows.as_mut() {
                    if slot[id] == u32::MAX {
                        slot[id] = r.rows.len() as u32;
                        r.rows.push(id as u32);
                        r.values.resize(r.values.len() + d, 0.0);
                    }
                    let k = slot[id] as usize;
                    let s = w[id] * inv;
                    for (o, x) in r.values[k * d..(k + 1) * d].iter_mut().zip(gb) {
                        *o += s * x;
                    }
                }
            }
        }
        if let (Some(r), Some(out)) = (rows, &self.table_grad) {
            match out.lock() {
                Ok(mut slot) => *slot = r,
                Err(_) => candle_core::bail!("EmbeddingBag: the table gradient's lock is poisoned"),
            }
        }
        Ok(Some(Tensor::from_vec(gw, v, weights.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn net(v: usize, d: usize, h: usize) -> Network {
        let mut x = 0.1f32;
        let mut next = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    x = (x * 7.31 + 0.17).fract();
                    x - 0.5
                })
                .collect()
        };
        let weights = Weights {
            embedding: next(v * d).into(),
            token_weight: next(v).iter().map(|w| 1.0 + w).collect(),
            hidden_w: next(h * d),
            hidden_b: next(h),
            sent_w: next(3 * h),
            sent_b: next(3),
            tags_w: next(2 * h),
            tags_b: next(2),
            scope_diag: Vec::new(),
            scope_u: Vec::new(),
            scope_v: Vec::new(),
        };
        Network::new(v, d, h, 3, 2, weights)
    }

    /// The candle graph used in training computes what the fused inference
    /// path computes.
    #[test]
    fn candle_path_equals_fused_path() {
        let n = net(50, 12, 9);
        let bags: Vec<Vec<u32>> = vec![vec![1, 2, 3], vec![], vec![49, 49, 0, 7], vec![5]];
        let mut ids = Vec::new();
        let mut offsets = vec![0];
        for b in &bags {
            ids.extend(b);
            offsets.push(ids.len());
        }
        let dev = Device::Cpu;
        let w = Tensor::from_slice(&n.w.token_weight, 50, &dev).unwrap();
        let op = EmbeddingBag { ids, offsets, table: Arc::new(n.w.embedding.clone()), dim: 12, table_grad: None };
        let pooled = w.apply_op1(op).unwrap();
        let hw = Tensor::from_slice(&n.w.hidden_w, (9, 12), &dev).unwrap();
        let hb = Tensor::from_slice(&n.w.hidden_b, 9, &dev).unwrap();
        let h = pooled.matmul(&hw.t().unwrap()).unwrap().broadcast_add(&hb).unwrap().relu().unwrap();
        let tw = Tensor::from_slice(&n.w.tags_w, (2, 9), &dev).unwrap();
        let tb = Tensor::from_slice(&n.w.tags_b, 2, &dev).unwrap();
        let tags = h.matmul(&tw.t().unwrap()).unwrap().broadcast_add(&tb).unwrap().to_vec2::<f32>().unwrap();
        for (b, bag) in bags.iter().enumerate() {
            let mut f = Forward::default();
            n.forward(bag, &mut Vec::new(), &mut f);
            for k in 0..2 {
                assert!((f.tag_logits[k] - tags[b][k]).abs() < 1e-5, "bag {b} tag {k}");
            }
        }
    }

    /// A network with a negation scope: token 3 opens it, token 4 ends
    /// sentences; the scope matrix is random (not zero).
    fn scoped(v: usize, d: usize, h: usize) -> Network {
        let mut w = net(v, d, h).w;
        let r = 3;
        let wave = |n: usize, f: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * f).sin() * 0.5).collect() };
        w.scope_diag = wave(h, 0.37);
        w.scope_u = wave(h * r, 0.71);
        w.scope_v = wave(h * r, 1.13);
        let marker = ScopeMarker::for_tests(v, &[3], &[4], vec![crate::scope::ScopeKind::Negation]);
        let n = Network::new(v, d, h, 3, 2, w).with_scopes(Some(Arc::new(marker)));
        assert_eq!(n.scope_rank, r);
        n
    }

    /// With scopes, the training graph (`BatchBags` on candle) computes what
    /// the fused inference path computes, and the scope path changes the
    /// output (it is not a no-op).
    #[test]
    fn scoped_candle_path_equals_fused_path() {
        let n = scoped(50, 12, 9);
        let bags: Vec<Vec<u32>> = vec![vec![3, 1, 2, 4, 5], vec![7, 3, 3, 8], vec![], vec![5], vec![1, 3, 9, 9]];
        let marker = n.scopes.clone().unwrap();
        let mut batch = BatchBags::new(1);
        for bag in &bags {
            let mut roles = Vec::new();
            marker.roles(bag, &mut roles);
            bag.iter().zip(&roles).for_each(|(&id, &r)| batch.push(id, r));
            batch.end_bag();
        }
        let dev = Device::Cpu;
        let w = Tensor::from_slice(&n.w.token_weight, 50, &dev).unwrap();
        let hw = Tensor::from_slice(&n.w.hidden_w, (9, 12), &dev).unwrap();
        let m = ScopeParams {
            diag: Tensor::from_slice(&n.w.scope_diag, (1, 9), &dev).unwrap(),
            low_rank: Some((
                Tensor::from_slice(&n.w.scope_u, (1, 9, 3), &dev).unwrap(),
                Tensor::from_slice(&n.w.scope_v, (1, 9, 3), &dev).unwrap(),
            )),
        };
        let table = Arc::new(n.w.embedding.clone());
        let pre = batch.hidden_pre(&w, &table, &hw, Some(&m), &[]).unwrap();
        let hb = Tensor::from_slice(&n.w.hidden_b, 9, &dev).unwrap();
        let h = pre.broadcast_add(&hb).unwrap().relu().unwrap();
        let sw = Tensor::from_slice(&n.w.sent_w, (3, 9), &dev).unwrap();
        let sb = Tensor::from_slice(&n.w.sent_b, 3, &dev).unwrap();
        let sent = h.matmul(&sw.t().unwrap()).unwrap().broadcast_add(&sb).unwrap().to_vec2::<f32>().unwrap();
        let plain = n.clone().with_scopes(None);
        for (b, bag) in bags.iter().enumerate() {
            let (mut f, mut g) = (Forward::default(), Forward::default());
            n.forward(bag, &mut Vec::new(), &mut f);
            plain.forward(bag, &mut Vec::new(), &mut g);
            for k in 0..3 {
                assert!((f.sent_logits[k] - sent[b][k]).abs() < 1e-5, "bag {b} class {k}");
            }
            let differs = f.sent_logits.iter().zip(&g.sent_logits).any(|(x, y)| (x - y).abs() > 1e-4);
            assert_eq!(differs, [0, 1, 4].contains(&b), "bag {b}: the scope path matters exactly where a scope is");
        }
    }

    /// Token contributions (gradient x input) add up over a scoped bag to
    /// the gradient times the pooled vectors, so each token's roles are
    /// counted as the forward pass counts them; folding keeps them.
    #[test]
    fn scoped_contributions_add_up_and_survive_folding() {
        let n = scoped(40, 12, 9);
        let f = n.clone().fold().unwrap();
        assert!(f.folded && f.scopes.is_some());
        for bag in [vec![3u32, 1, 2, 4, 5], vec![7, 3, 3, 8, 9, 9], vec![1, 2]] {
            let coef = [1.0f32, -0.5, 0.25];
            for net in [&n, &f] {
                let (mut fwd, mut pooled) = (Forward::default(), Vec::new());
                net.forward(&bag, &mut pooled, &mut fwd);
                let g = net.input_gradient(&net.w.sent_w, &coef, &fwd);
                let whole: f32 = g.iter().zip(&pooled).map(|(a, b)| a * b).sum();
                let mut roles = Vec::new();
                net.roles(&bag, &mut roles);
                let mut sum = 0f32;
                for (&id, &r) in bag.iter().zip(&roles) {
                    let mut c = [0f32];
                    net.token_contributions(id, r, std::slice::from_ref(&g), bag.len(), &mut c);
                    sum += c[0];
                }
                assert!((sum - whole).abs() < 1e-4, "{sum} vs {whole}");
            }
            let (mut a, mut b) = (Forward::default(), Forward::default());
            n.forward(&bag, &mut Vec::new(), &mut a);
            f.forward(&bag, &mut Vec::new(), &mut b);
            for (x, y) in a.sent_logits.iter().zip(&b.sent_logits) {
                assert!((x - y).abs() < 1e-5, "{x} vs {y}");
            }
        }
    }

    /// Folding the hidden layer into the table keeps the outputs and the
    /// token attributions, and the folded path skips the hidden product.
    #[test]
    fn folding_keeps_the_function() {
        let n = net(40, 12, 9);
        assert!(!n.folded);
        let f = n.clone().fold().unwrap();
        assert!(f.folded);
        assert_eq!((f.dim, f.hidden), (9, 9));
        for bag in [vec![1u32, 2, 3], vec![39, 39, 0, 7], vec![5], vec![]] {
            let (mut a, mut b) = (Forward::default(), Forward::default());
            n.forward(&bag, &mut Vec::new(), &mut a);
            f.forward(&bag, &mut Vec::new(), &mut b);
            for (x, y) in a.sent_logits.iter().chain(&a.tag_logits).zip(b.sent_logits.iter().chain(&b.tag_logits)) {
                assert!((x - y).abs() < 1e-5, "{x} vs {y}");
            }
            let coef = [1.0f32, -0.5];
            let (ga, gb) = (n.input_gradient(&n.w.tags_w, &coef, &a), f.input_gradient(&f.w.tags_w, &coef, &b));
            for &id in &bag {
                let (mut x, mut y) = ([0f32], [0f32]);
                n.token_contributions(id, 0, std::slice::from_ref(&ga), bag.len(), &mut x);
                f.token_contributions(id, 0, std::slice::from_ref(&gb), bag.len(), &mut y);
                let (x, y) = (x[0], y[0]);
                assert!((x - y).abs() < 1e-5, "token {id}: {x} vs {y}");
            }
        }
        // Already folded, or a table that would grow: unchanged.
        assert_eq!(f.clone().fold().unwrap().w.embedding.len(), f.w.embedding.len());
        let wide = net(10, 4, 6);
        assert!(!wide.clone().fold().unwrap().folded);
    }

    /// The custom op's backward pass (token weights, and the sparse table
    /// gradient) agrees with finite differences.
    #[test]
    fn embedding_bag_gradient_matches_finite_differences() {
        let n = net(6, 4, 3);
        let ids = vec![0u32, 2, 2, 5, 1, 3];
        let offsets = vec![0, 4, 6];
        let dev = Device::Cpu;
        let w = Var::from_slice(&n.w.token_weight, 6, &dev).unwrap();
        let coef = Tensor::from_slice(&[0.3f32, -1.0, 0.5, 2.0, 1.0, -0.7, 0.2, 0.9], (2, 4), &dev).unwrap();
        let loss = |e: &[f32], w: &Tensor, grad: Option<Arc<Mutex<RowGrads>>>| -> Tensor {
            let op = EmbeddingBag {
                ids: ids.clone(),
                offsets: offsets.clone(),
                table: Arc::new(Table::Owned(e.to_vec())),
                dim: 4,
                table_grad: grad,
            };
            (w.apply_op1(op).unwrap() * &coef).unwrap().sum_all().unwrap()
        };
        let rows = Arc::new(Mutex::new(RowGrads::default()));
        let grads = loss(&n.w.embedding, w.as_tensor(), Some(rows.clone())).backward().unwrap();
        let gw = grads.get(w.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        let rows = rows.lock().unwrap();
        // Row 4 is in no bag: it gets no gradient row at all.
        let mut touched = rows.rows.clone();
        touched.sort();
        assert_eq!(touched, vec![0, 1, 2, 3, 5]);
        let mut ge = [0f32; 24];
        for (k, &r) in rows.rows.iter().enumerate() {
            let r = r as usize;
            ge[r * 4..(r + 1) * 4].copy_from_slice(&rows.values[k * 4..(k + 1) * 4]);
        }
        let eps = 1e-2f32;
        for t in 0..6 {
            let mut wp = n.w.token_weight.clone();
            wp[t] += eps;
            let mut wm = n.w.token_weight.clone();
            wm[t] -= eps;
            let lp = loss(&n.w.embedding, &Tensor::from_slice(&wp, 6, &dev).unwrap(), None).to_scalar::<f32>().unwrap();
            let lm = loss(&n.w.embedding, &Tensor::from_slice(&wm, 6, &dev).unwrap(), None).to_scalar::<f32>().unwrap();
            assert!(((lp - lm) / (2.0 * eps) - gw[t]).abs() < 1e-3, "token weight {t}");
        }
        for i in [0usize, 5, 9, 17, 22] {
            let mut ep = n.w.embedding.to_vec();
            ep[i] += eps;
            let mut em = n.w.embedding.to_vec();
            em[i] -= eps;
            let wt = Tensor::from_slice(&n.w.token_weight, 6, &dev).unwrap();
            let lp = loss(&ep, &wt, None).to_scalar::<f32>().unwrap();
            let lm = loss(&em, &wt, None).to_scalar::<f32>().unwrap();
            assert!(((lp - lm) / (2.0 * eps) - ge[i]).abs() < 1e-3, "embedding {i}");
        }
    }

    #[test]
    fn row_grads_sum_adds_shared_rows_and_keeps_first_use_order() {
        let a = RowGrads { rows: vec![4, 1], values: vec![1.0, 2.0, 3.0, 4.0] };
        let b = RowGrads { rows: vec![1, 0], values: vec![10.0, 20.0, 5.0, 6.0] };
        let s = RowGrads::sum(vec![RowGrads::default(), a, b], 2, 5);
        assert_eq!(s.rows, vec![4, 1, 0]);
        assert_eq!(s.values, vec![1.0, 2.0, 13.0, 24.0, 5.0, 6.0]);
        let one = RowGrads::sum(vec![RowGrads { rows: vec![3], values: vec![7.0, 8.0] }], 2, 5);
        assert_eq!((one.rows, one.values), (vec![3], vec![7.0, 8.0]));
        assert!(RowGrads::sum(Vec::new(), 2, 5).rows.is_empty());
    }
}
