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
//! The bag is one fused operation, [`bag_pool`], used both by inference (plain
//! loops over the weights) and by training (inside the candle [`EmbeddingBag`]
//! custom op, whose backward pass is written out here too), so the two paths
//! compute the same function; a test checks they agree.

use std::collections::HashMap;

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};

use crate::error::{Error, Result};
use crate::format::{ModelConfig, WEIGHTS};

/// Tensor names in `model.safetensors`.
pub(crate) const T_EMBEDDING: &str = "embedding.weight";
pub(crate) const T_TOKEN_WEIGHT: &str = "embedding.token_weight";
pub(crate) const T_HIDDEN_W: &str = "hidden.weight";
pub(crate) const T_HIDDEN_B: &str = "hidden.bias";
pub(crate) const T_SENT_W: &str = "sentiment.weight";
pub(crate) const T_SENT_B: &str = "sentiment.bias";
pub(crate) const T_TAGS_W: &str = "tags.weight";
pub(crate) const T_TAGS_B: &str = "tags.bias";

/// Inference weights, row-major as in candle's `Linear` (`[out, in]`).
#[derive(Debug, Clone)]
pub(crate) struct Network {
    pub vocab: usize,
    pub dim: usize,
    pub hidden: usize,
    pub n_sent: usize,
    pub n_tags: usize,
    pub embedding: Vec<f32>,
    pub token_weight: Vec<f32>,
    pub hidden_w: Vec<f32>,
    pub hidden_b: Vec<f32>,
    pub sent_w: Vec<f32>,
    pub sent_b: Vec<f32>,
    pub tags_w: Vec<f32>,
    pub tags_b: Vec<f32>,
}

/// Output of one forward pass over one bag of tokens.
#[derive(Debug, Clone, Default)]
pub(crate) struct Forward {
    pub hidden: Vec<f32>,
    pub sent_logits: Vec<f32>,
    pub tag_logits: Vec<f32>,
}

/// The fused embedding bag: `out = sum_t w[t] * E[t] / n` over the ids.
/// Ids outside the table are skipped (the loader makes them impossible).
#[inline]
pub(crate) fn bag_pool(embedding: &[f32], token_weight: &[f32], dim: usize, ids: &[u32], out: &mut [f32]) {
    out.fill(0.0);
    let vocab = token_weight.len();
    let mut n = 0usize;
    for &id in ids {
        let id = id as usize;
        if id >= vocab {
            continue;
        }
        n += 1;
        let w = token_weight[id];
        let row = &embedding[id * dim..(id + 1) * dim];
        for (o, e) in out.iter_mut().zip(row) {
            *o += w * e;
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
    /// Build from a safetensors buffer, checking every tensor against the config.
    pub(crate) fn from_safetensors(bytes: &[u8], cfg: &ModelConfig) -> Result<Self> {
        let tensors = candle_core::safetensors::load_buffer(bytes, &candle_core::Device::Cpu)
            .map_err(|e| Error::model_src(WEIGHTS, format!("not a readable safetensors file: {e}"), e))?;
        let (v, d, h, s, t) =
            (cfg.vocab_size, cfg.embedding_dim, cfg.hidden_dim, cfg.num_sentiment_classes, cfg.num_tags);
        let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> { take(&tensors, name, shape) };
        let net = Network {
            vocab: v,
            dim: d,
            hidden: h,
            n_sent: s,
            n_tags: t,
            embedding: get(T_EMBEDDING, &[v, d])?,
            token_weight: get(T_TOKEN_WEIGHT, &[v])?,
            hidden_w: get(T_HIDDEN_W, &[h, d])?,
            hidden_b: get(T_HIDDEN_B, &[h])?,
            sent_w: get(T_SENT_W, &[s, h])?,
            sent_b: get(T_SENT_B, &[s])?,
            tags_w: get(T_TAGS_W, &[t, h])?,
            tags_b: get(T_TAGS_B, &[t])?,
        };
        if tensors.len() != TENSOR_NAMES.len() {
            let mut extra: Vec<_> = tensors.keys().filter(|k| !TENSOR_NAMES.contains(&k.as_str())).collect();
            extra.sort();
            return Err(Error::model(WEIGHTS, format!("unexpected tensors {extra:?}")));
        }
        net.check_magnitudes()?;
        Ok(net)
    }

    /// Reject weights so large that some input could overflow f32 in the
    /// forward pass or the attributions (finite weights, yet infinite logits
    /// and NaN probabilities; found by fuzzing). Each layer's outputs are
    /// bounded by `|b| + sum |W| * bound(input)`; a trained model stays many
    /// orders of magnitude below the limit.
    fn check_magnitudes(&self) -> Result<()> {
        const LIMIT: f64 = 1e20;
        let d = self.dim;
        let mut pooled = vec![0f64; d];
        for t in 0..self.vocab {
            let w = f64::from(self.token_weight[t].abs());
            for (p, e) in pooled.iter_mut().zip(&self.embedding[t * d..(t + 1) * d]) {
                *p = p.max(w * f64::from(e.abs()));
            }
        }
        let layer = |w: &[f32], b: &[f32], input: &[f64]| -> Vec<f64> {
            let rows = w.chunks_exact(input.len());
            let dot = |row: &[f32]| row.iter().zip(input).map(|(w, x)| f64::from(w.abs()) * x).sum::<f64>();
            b.iter().zip(rows).map(|(b, row)| f64::from(b.abs()) + dot(row)).collect()
        };
        let hidden = layer(&self.hidden_w, &self.hidden_b, &pooled);
        let sent = layer(&self.sent_w, &self.sent_b, &hidden);
        let tags = layer(&self.tags_w, &self.tags_b, &hidden);
        // Attributions: |d logit / d hidden| <= 2 sum_k |W[k, :]| (coefficients
        // sum to at most 2 in absolute value), then back through the hidden layer.
        let mut dh = vec![0f64; self.hidden];
        for head in [&self.sent_w, &self.tags_w] {
            for row in head.chunks_exact(self.hidden) {
                dh.iter_mut().zip(row).for_each(|(g, w)| *g += 2.0 * f64::from(w.abs()));
            }
        }
        let mut grad = vec![0f64; d];
        for (row, g) in self.hidden_w.chunks_exact(d).zip(&dh) {
            grad.iter_mut().zip(row).for_each(|(o, w)| *o += g * f64::from(w.abs()));
        }
        let contribution = (0..self.vocab)
            .map(|t| {
                let row = &self.embedding[t * d..(t + 1) * d];
                let w = f64::from(self.token_weight[t].abs());
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
        pooled.resize(self.dim, 0.0);
        bag_pool(&self.embedding, &self.token_weight, self.dim, ids, pooled);
        self.head(pooled, out);
    }

    /// Everything after the bag.
    pub(crate) fn head(&self, pooled: &[f32], out: &mut Forward) {
        out.hidden.resize(self.hidden, 0.0);
        out.sent_logits.resize(self.n_sent, 0.0);
        out.tag_logits.resize(self.n_tags, 0.0);
        linear(&self.hidden_w, &self.hidden_b, pooled, &mut out.hidden);
        out.hidden.iter_mut().for_each(|x| *x = x.max(0.0));
        linear(&self.sent_w, &self.sent_b, &out.hidden, &mut out.sent_logits);
        linear(&self.tags_w, &self.tags_b, &out.hidden, &mut out.tag_logits);
    }

    /// Gradient of `sum_k coef[k] * logit_k` (of the head whose weights are `head_w`)
    /// with respect to the pooled vector, at the point `fwd`.
    pub(crate) fn input_gradient(&self, head_w: &[f32], coef: &[f32], fwd: &Forward) -> Vec<f32> {
        // d/dh = sum_k coef[k] W[k,:], masked by ReLU; then d/dpooled = W_h^T d/dh.
        let mut dh = vec![0f32; self.hidden];
        for (k, c) in coef.iter().enumerate() {
            if *c != 0.0 {
                for (g, w) in dh.iter_mut().zip(&head_w[k * self.hidden..(k + 1) * self.hidden]) {
                    *g += c * w;
                }
            }
        }
        let mut grad = vec![0f32; self.dim];
        for (j, g) in dh.iter().enumerate() {
            if fwd.hidden[j] > 0.0 && *g != 0.0 {
                let row = &self.hidden_w[j * self.dim..(j + 1) * self.dim];
                for (o, w) in grad.iter_mut().zip(row) {
                    *o += g * w;
                }
            }
        }
        grad
    }

    /// Contribution of token `id` to a logit whose gradient w.r.t. the pooled
    /// vector is `grad`, in a bag of `n` tokens (gradient x input).
    #[inline]
    pub(crate) fn token_contribution(&self, id: u32, grad: &[f32], n: usize) -> f32 {
        let id = id as usize;
        if id >= self.vocab || n == 0 {
            return 0.0;
        }
        self.token_weight[id] * dot(&self.embedding[id * self.dim..(id + 1) * self.dim], grad) / n as f32
    }

    /// All tensors by name, for saving.
    pub(crate) fn tensors(&self) -> Result<Vec<(&'static str, Tensor)>> {
        let dev = &candle_core::Device::Cpu;
        let t = |v: &Vec<f32>, shape: &[usize]| Tensor::from_slice(v, shape, dev);
        Ok(vec![
            (T_EMBEDDING, t(&self.embedding, &[self.vocab, self.dim])?),
            (T_TOKEN_WEIGHT, t(&self.token_weight, &[self.vocab])?),
            (T_HIDDEN_W, t(&self.hidden_w, &[self.hidden, self.dim])?),
            (T_HIDDEN_B, t(&self.hidden_b, &[self.hidden])?),
            (T_SENT_W, t(&self.sent_w, &[self.n_sent, self.hidden])?),
            (T_SENT_B, t(&self.sent_b, &[self.n_sent])?),
            (T_TAGS_W, t(&self.tags_w, &[self.n_tags, self.hidden])?),
            (T_TAGS_B, t(&self.tags_b, &[self.n_tags])?),
        ])
    }
}

const TENSOR_NAMES: [&str; 8] =
    [T_EMBEDDING, T_TOKEN_WEIGHT, T_HIDDEN_W, T_HIDDEN_B, T_SENT_W, T_SENT_B, T_TAGS_W, T_TAGS_B];

fn take(tensors: &HashMap<String, Tensor>, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let t = tensors.get(name).ok_or_else(|| Error::model(WEIGHTS, format!("tensor {name:?} is missing")))?;
    if t.dims() != shape {
        return Err(Error::model(
            WEIGHTS,
            format!("tensor {name:?} has shape {:?}, config.json and labels.json imply {shape:?}", t.dims()),
        ));
    }
    let t = t
        .to_dtype(candle_core::DType::F32)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| Error::model_src(WEIGHTS, format!("tensor {name:?} cannot be read as f32"), e))?;
    if let Some(bad) = t.iter().position(|x| !x.is_finite()) {
        return Err(Error::model(WEIGHTS, format!("tensor {name:?} holds a non-finite value at index {bad}")));
    }
    Ok(t)
}

/// The embedding bag as a candle custom op over `(E [V, D], w [V])`, for a
/// batch of bags given by `ids` and `offsets` (bag `b` is
/// `ids[offsets[b]..offsets[b + 1]]`). Output `[B, D]`.
pub(crate) struct EmbeddingBag {
    pub ids: Vec<u32>,
    pub offsets: Vec<usize>,
    /// Whether the embedding table receives a gradient (a dense `[V, D]` one).
    pub train_embedding: bool,
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

impl CustomOp2 for EmbeddingBag {
    fn name(&self) -> &'static str {
        "embedding-bag"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (v, d) = l1.shape().dims2()?;
        let emb = contiguous(s1, l1, "table")?;
        let w = contiguous(s2, l2, "token weights")?;
        if w.len() != v {
            candle_core::bail!("EmbeddingBag: {} token weights for {v} rows", w.len());
        }
        let b = self.offsets.len().saturating_sub(1);
        let mut out = vec![0f32; b * d];
        for (bag, o) in self.bags().zip(out.chunks_exact_mut(d)) {
            bag_pool(emb, w, d, bag, o);
        }
        Ok((CpuStorage::F32(out), Shape::from((b, d))))
    }

    fn bwd(
        &self,
        table: &Tensor,
        weights: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (v, d) = table.dims2()?;
        let emb = table.flatten_all()?.to_vec1::<f32>()?;
        let w = weights.to_vec1::<f32>()?;
        let g = grad.flatten_all()?.to_vec1::<f32>()?;
        let mut gw = vec![0f32; v];
        let mut ge = if self.train_embedding { vec![0f32; v * d] } else { Vec::new() };
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
                if self.train_embedding {
                    let s = w[id] * inv;
                    for (o, x) in ge[id * d..(id + 1) * d].iter_mut().zip(gb) {
                        *o += s * x;
                    }
                }
            }
        }
        let dev = table.device();
        let gw = Tensor::from_vec(gw, v, dev)?;
        let ge = if self.train_embedding { Some(Tensor::from_vec(ge, (v, d), dev)?) } else { None };
        Ok((ge, Some(gw)))
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
        Network {
            vocab: v,
            dim: d,
            hidden: h,
            n_sent: 3,
            n_tags: 2,
            embedding: next(v * d),
            token_weight: next(v).iter().map(|w| 1.0 + w).collect(),
            hidden_w: next(h * d),
            hidden_b: next(h),
            sent_w: next(3 * h),
            sent_b: next(3),
            tags_w: next(2 * h),
            tags_b: next(2),
        }
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
        let e = Tensor::from_slice(&n.embedding, (50, 12), &dev).unwrap();
        let w = Tensor::from_slice(&n.token_weight, 50, &dev).unwrap();
        let pooled = e.apply_op2(&w, EmbeddingBag { ids, offsets, train_embedding: false }).unwrap();
        let hw = Tensor::from_slice(&n.hidden_w, (9, 12), &dev).unwrap();
        let hb = Tensor::from_slice(&n.hidden_b, 9, &dev).unwrap();
        let h = pooled.matmul(&hw.t().unwrap()).unwrap().broadcast_add(&hb).unwrap().relu().unwrap();
        let tw = Tensor::from_slice(&n.tags_w, (2, 9), &dev).unwrap();
        let tb = Tensor::from_slice(&n.tags_b, 2, &dev).unwrap();
        let tags = h.matmul(&tw.t().unwrap()).unwrap().broadcast_add(&tb).unwrap().to_vec2::<f32>().unwrap();
        for (b, bag) in bags.iter().enumerate() {
            let mut f = Forward::default();
            n.forward(bag, &mut Vec::new(), &mut f);
            for k in 0..2 {
                assert!((f.tag_logits[k] - tags[b][k]).abs() < 1e-5, "bag {b} tag {k}");
            }
        }
    }

    /// The custom op's backward pass agrees with finite differences.
    #[test]
    fn embedding_bag_gradient_matches_finite_differences() {
        let n = net(6, 4, 3);
        let ids = vec![0u32, 2, 2, 5, 1, 3];
        let offsets = vec![0, 4, 6];
        let dev = Device::Cpu;
        let e = Var::from_slice(&n.embedding, (6, 4), &dev).unwrap();
        let w = Var::from_slice(&n.token_weight, 6, &dev).unwrap();
        let coef = Tensor::from_slice(&[0.3f32, -1.0, 0.5, 2.0, 1.0, -0.7, 0.2, 0.9], (2, 4), &dev).unwrap();
        let loss = |e: &Tensor, w: &Tensor| -> Tensor {
            let op = EmbeddingBag { ids: ids.clone(), offsets: offsets.clone(), train_embedding: true };
            (e.apply_op2(w, op).unwrap() * &coef).unwrap().sum_all().unwrap()
        };
        let grads = loss(e.as_tensor(), w.as_tensor()).backward().unwrap();
        let gw = grads.get(w.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        let ge = grads.get(e.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let eps = 1e-2f32;
        for t in 0..6 {
            let mut wp = n.token_weight.clone();
            wp[t] += eps;
            let mut wm = n.token_weight.clone();
            wm[t] -= eps;
            let et = Tensor::from_slice(&n.embedding, (6, 4), &dev).unwrap();
            let lp = loss(&et, &Tensor::from_slice(&wp, 6, &dev).unwrap()).to_scalar::<f32>().unwrap();
            let lm = loss(&et, &Tensor::from_slice(&wm, 6, &dev).unwrap()).to_scalar::<f32>().unwrap();
            assert!(((lp - lm) / (2.0 * eps) - gw[t]).abs() < 1e-3, "token weight {t}");
        }
        for i in [0usize, 5, 9, 22] {
            let mut ep = n.embedding.clone();
            ep[i] += eps;
            let mut em = n.embedding.clone();
            em[i] -= eps;
            let wt = Tensor::from_slice(&n.token_weight, 6, &dev).unwrap();
            let lp = loss(&Tensor::from_slice(&ep, (6, 4), &dev).unwrap(), &wt).to_scalar::<f32>().unwrap();
            let lm = loss(&Tensor::from_slice(&em, (6, 4), &dev).unwrap(), &wt).to_scalar::<f32>().unwrap();
            assert!(((lp - lm) / (2.0 * eps) - ge[i]).abs() < 1e-3, "embedding {i}");
        }
    }
}
