//! Training: a validated [`TrainConfig`], the training loop on candle
//! (embedding-bag custom op, AdamW), threshold tuning and temperature
//! calibration on a validation split, and the [`TrainReport`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classifier::{Classifier, softmax};
use crate::data::{Confidence, Example, HashList};
use crate::error::{Error, Result};
use crate::eval::{EvalReport, report_from_probs};
use crate::format::{ARCHITECTURE, FORMAT_VERSION, LabelsFile, ModelConfig};
use crate::network::{BatchBags, Forward, Network, RowGrads, ScopeParams, Table, Weights};
use crate::scope::{ScopeKind, ScopeMarker, parse_kinds};
use crate::tokenize::{Tokens, truncate_to_bytes};

/// How classes are weighted in the losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ClassWeights {
    /// Every example counts the same.
    None,
    /// Inverse class frequency (sentiment), and negatives/positives ratio as
    /// the positive weight of each tag, both capped at 10: rare classes and
    /// tags are still learned.
    Balanced,
    /// Square root of `Balanced` (a milder correction).
    Sqrt,
}

/// Training hyper-parameters, validated before any work.
///
/// | field | default | purpose | allowed |
/// |---|---|---|---|
/// | `epochs` | 40 | passes over the training split | 1..=10000 |
/// | `learning_rate` | 0.003 | AdamW step size | (0, 1] |
/// | `batch_size` | 32 | examples per step | 1..=65536 |
/// | `hidden_dim` | 256 | hidden layer width (fresh heads only) | 1..=8192 |
/// | `dropout` | 0.3 | dropout on the hidden layer | [0, 1) |
/// | `token_dropout` | 0.1 | share of tokens dropped from each training bag | [0, 1) |
/// | `weight_decay` | 0.0001 | AdamW decay of the dense layers | [0, 1) |
/// | `seed` | 42 | all randomness (init, split, shuffles, dropout) | any |
/// | `validation_split` | 0.1 | share held out to pick the epoch, tune thresholds and calibrate | [0, 0.9] |
/// | `class_weights` | `Sqrt` | imbalance correction | see [`ClassWeights`] |
/// | `warm_start` | false | start from the base model's weights (else fresh heads) | |
/// | `tags` | from data | tag names to learn | non-empty names |
/// | `train_embeddings` | false | fine-tune the token embedding table too (sparse: each step updates only the rows its batch used, with lazy Adam) | |
/// | `scopes` | the base's when warm starting, else none | scope kinds the network pools separately (`"negation"`, `"contrast"`; see the README's "Scopes") | known names, each once |
/// | `scope_rank` | 0 (the base's when warm starting with its scopes) | rank of the low-rank part of each scope matrix (`diag + U V^T`; 0: diagonal only, the cheapest and, on the gold dev set, the best measured) | 0..=hidden_dim |
/// | `soft_tag_weight` | 1.0 | weight of a row's soft (teacher) tag targets in the tag loss, against 1 for a row with hard tags; the tag loss is the weighted mean | [0, 100] |
/// | `soft_temperature` | 1.0 | distillation temperature of the soft (teacher) sentiment targets: each becomes `p^(1/T)`, renormalized (probabilities under the files' precision, 1e-4, count as 1e-4); above 1 it softens them, so the student also learns which wrong classes the teacher found plausible; 1 leaves them as they are | (0, 100] |
/// | `low_confidence_weight` | 1.0 | weight in both losses of a row marked `"confidence": "low"` (ambiguous under the guide), against 1 for the others | [0, 100] |
/// | `average_last` | 0 | also try the mean of the weights of the last N epochs (stochastic weight averaging); kept when it scores better on the validation split than the best single epoch (always, when there is no validation split); 0 = off | 0..=epochs |
///
/// ```
/// let cfg = voc::TrainConfig::default().epochs(5).learning_rate(0.01);
/// assert!(cfg.validate().is_ok());
/// let err = voc::TrainConfig::default().learning_rate(-1.0).validate().unwrap_err();
/// assert!(err.to_string().contains("learning_rate"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TrainConfig {
    /// Passes over the training split.
    pub epochs: usize,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Hidden layer width when the heads are fresh.
    pub hidden_dim: usize,
    /// Dropout on the hidden layer.
    pub dropout: f32,
    /// Share of tokens dropped from each training bag.
    pub token_dropout: f32,
    /// AdamW weight decay of the dense layers.
    pub weight_decay: f64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Share of the data held out for validation.
    pub validation_split: f32,
    /// Imbalance correction.
    pub class_weights: ClassWeights,
    /// Start from the base model's heads.
    pub warm_start: bool,
    /// Tags to learn (default: the base's tags when warm starting, plus every
    /// tag in the data).
    pub tags: Option<Vec<String>>,
    /// Fine-tune the token embedding table too (off by default).
    pub train_embeddings: bool,
    /// Average the weights of the last this many epochs and keep the mean
    /// when it validates better than the best epoch (0: off).
    #[serde(default)]
    pub average_last: usize,
    /// Scope kinds to pool separately (`"negation"`, `"contrast"`); `None`:
    /// the base model's when warm starting, else none.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Rank of the low-rank part of each scope matrix (0: diagonal only);
    /// a warm start that keeps the base's scopes keeps its rank.
    #[serde(default)]
    pub scope_rank: usize,
    /// Weight of a row's soft (teacher) tag targets in the tag loss, against
    /// 1 for a row with hard tags (the loss is the weighted mean).
    #[serde(default = "one")]
    pub soft_tag_weight: f32,
    /// Distillation temperature of the soft sentiment targets (1: as given).
    #[serde(default = "one")]
    pub soft_temperature: f32,
    /// Weight, in both losses, of a row whose labeler marked it
    /// [`Confidence::Low`](crate::Confidence) (ambiguous under the guide),
    /// against 1 for every other row.
    #[serde(default = "one")]
    pub low_confidence_weight: f32,
}

fn one() -> f32 {
    1.0
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 40,
            learning_rate: 0.003,
            batch_size: 32,
            hidden_dim: 256,
            dropout: 0.3,
            token_dropout: 0.1,
            weight_decay: 1e-4,
            seed: 42,
            validation_split: 0.1,
            class_weights: ClassWeights::Sqrt,
            warm_start: false,
            tags: None,
            train_embeddings: false,
            average_last: 0,
            scopes: None,
            scope_rank: 0,
            soft_tag_weight: 1.0,
            soft_temperature: 1.0,
            low_confidence_weight: 1.0,
        }
    }
}

macro_rules! setter {
    ($name:ident, $t:ty) => {
        #[doc = concat!("Set `", stringify!($name), "` (see the table on [`TrainConfig`]).")]
        #[must_use]
        pub fn $name(mut self, v: $t) -> Self {
            self.$name = v;
            self
        }
    };
}

impl TrainConfig {
    setter!(epochs, usize);
    setter!(learning_rate, f64);
    setter!(batch_size, usize);
    setter!(hidden_dim, usize);
    setter!(dropout, f32);
    setter!(token_dropout, f32);
    setter!(weight_decay, f64);
    setter!(seed, u64);
    setter!(validation_split, f32);
    setter!(class_weights, ClassWeights);
    setter!(warm_start, bool);
    setter!(train_embeddings, bool);
    setter!(average_last, usize);
    setter!(scope_rank, usize);
    setter!(soft_tag_weight, f32);
    setter!(soft_temperature, f32);
    setter!(low_confidence_weight, f32);

    /// Set the tags to learn.
    #[must_use]
    pub fn tags(mut self, tags: Vec<String>) -> Self {
        self.tags = Some(tags);
        self
    }

    /// Set the scope kinds to pool separately (see the table above): with
    /// `"negation"`, the tokens after `not`, `no`, `never`, `n't`... (up to
    /// punctuation, at most 6) pool through their own learned matrix, so
    /// "not good" no longer reads like "good". An empty list: no scopes.
    ///
    /// ```
    /// let cfg = voc::TrainConfig::default().scopes(vec!["negation".into()]);
    /// assert!(cfg.validate().is_ok());
    /// let bad = voc::TrainConfig::default().scopes(vec!["irony".into()]).validate().unwrap_err();
    /// assert!(bad.to_string().contains("scopes"));
    /// ```
    #[must_use]
    pub fn scopes(mut self, scopes: Vec<String>) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// Check every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |f: &str, m: &str| Err(Error::config(f, m.to_string()));
        if !(1..=10_000).contains(&self.epochs) {
            return bad("epochs", "must be in 1..=10000");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return bad("learning_rate", "must be in (0, 1]");
        }
        if !(1..=65_536).contains(&self.batch_size) {
            return bad("batch_size", "must be in 1..=65536");
        }
        if !(1..=8192).contains(&self.hidden_dim) {
            return bad("hidden_dim", "must be in 1..=8192");
        }
        if !(self.dropout >= 0.0 && self.dropout < 1.0) {
            return bad("dropout", "must be in [0, 1)");
        }
        if !(self.token_dropout >= 0.0 && self.token_dropout < 1.0) {
            return bad("token_dropout", "must be in [0, 1)");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay < 1.0) {
            return bad("weight_decay", "must be in [0, 1)");
        }
        if !(self.validation_split >= 0.0 && self.validation_split <= 0.9) {
            return bad("validation_split", "must be in [0, 0.9]");
        }
        if self.average_last > self.epochs {
            return bad("average_last", "must be at most epochs");
        }
        if let Some(scopes) = &self.scopes {
            if let Err(e) = crate::scope::parse_kinds(scopes) {
                let message = match e {
                    Error::Model { message, .. } => message,
                    other => other.to_string(),
                };
                return Err(Error::config("scopes", message));
            }
        }
        if !(self.soft_tag_weight >= 0.0 && self.soft_tag_weight <= 100.0) {
            return bad("soft_tag_weight", "must be in [0, 100]");
        }
        if !(self.soft_temperature > 0.0 && self.soft_temperature <= 100.0) {
            return bad("soft_temperature", "must be in (0, 100]");
        }
        if !(self.low_confidence_weight >= 0.0 && self.low_confidence_weight <= 100.0) {
            return bad("low_confidence_weight", "must be in [0, 100]");
        }
        if self.scope_rank > 8192 {
            return bad("scope_rank", "must be in 0..=8192 (and at most the hidden width)");
        }
        if let Some(tags) = &self.tags {
            if tags.iter().any(|t| t.trim().is_empty()) {
                return bad("tags", "tag names must not be empty");
            }
            if tags.iter().collect::<BTreeSet<_>>().len() != tags.len() {
                return bad("tags", "a tag name appears twice");
            }
        }
        Ok(())
    }
}

/// Figures of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss (sentiment + tags).
    pub train_loss: f64,
    /// Validation sentiment macro-F1 (`None` without a validation split).
    pub val_sentiment_macro_f1: Option<f64>,
    /// Validation tag macro-F1 at tuned thresholds.
    pub val_tags_macro_f1: Option<f64>,
    /// Seconds since training started.
    pub elapsed_secs: f64,
    /// Estimated seconds left.
    pub eta_secs: f64,
}

/// What happened in training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TrainReport {
    /// The configuration used.
    pub config: TrainConfig,
    /// Examples given.
    pub examples: usize,
    /// Examples removed because their hash is in the evaluation hash list.
    pub removed_eval_overlap: usize,
    /// Examples trained on.
    pub train_examples: usize,
    /// Examples held out.
    pub validation_examples: usize,
    /// Per-epoch figures.
    pub epochs: Vec<EpochReport>,
    /// The epoch whose weights were kept (best validation score); 0 when
    /// the mean of the last `averaged_epochs` epochs was kept instead.
    pub best_epoch: usize,
    /// How many epochs' weights were averaged into the kept model (0: a
    /// single epoch was kept; see `TrainConfig::average_last`).
    #[serde(default)]
    pub averaged_epochs: usize,
    /// Sentiment temperature fitted on the validation split.
    pub temperature: f32,
    /// Tuned threshold of each tag.
    pub thresholds: BTreeMap<String, f32>,
    /// Validation figures of the final model.
    pub validation: Option<EvalReport>,
    /// Training examples per sentiment class and per tag.
    pub label_counts: BTreeMap<String, usize>,
    /// Examples per source (the `source` field), when given.
    pub source_counts: BTreeMap<String, usize>,
}

/// Deterministic random numbers (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
    fn init(&mut self, n: usize, fan_in: usize) -> Vec<f32> {
        let a = (1.0 / fan_in as f32).sqrt();
        (0..n).map(|_| (self.uniform() * 2.0 - 1.0) * a).collect()
    }
}

struct Row {
    ids: Vec<u32>,
    /// Scope roles of each token (empty for a model without scopes).
    roles: Vec<u8>,
    sentiment: Option<usize>,
    tags: Option<Vec<bool>>,
    /// Soft targets (distillation), in class / tag order.
    soft_sentiment: Option<Vec<f32>>,
    soft_tags: Option<Vec<f32>>,
    /// Weight in both losses (`low_confidence_weight` for a low-confidence
    /// row, else 1).
    weight: f32,
}

impl Row {
    fn is_soft(&self) -> bool {
        self.soft_sentiment.is_some() || self.soft_tags.is_some()
    }
}

/// Train a classifier on `examples`, starting from `base`: its tokenizer and
/// embedding table are always reused (the table is frozen unless
/// `train_embeddings` is set), and with
/// `warm_start` its hidden layer and heads too, so what it learned is kept;
/// tags new to the base get fresh rows in the tag head.
///
/// Examples whose text is in `exclude` (the evaluation hash list) are removed
/// first and counted in the report. The same data, config, seed and thread
/// count give the same model. `progress` is called after every epoch.
///
/// ```
/// let base = voc::Classifier::embedded()?;
/// let mut rows = Vec::new();
/// for i in 0..20 {
///     rows.push(voc::Example::new(format!("the package was late again {i}")).with_sentiment("negative").with_tags(["process_breakdown"]));
///     rows.push(voc::Example::new(format!("lovely staff, thank you {i}")).with_sentiment("positive").with_tags(Vec::<String>::new()));
/// }
/// let cfg = voc::TrainConfig::default().epochs(3).validation_split(0.2);
/// let (clf, report) = voc::train(&base, &rows, &cfg, &voc::HashList::default(), |_| {})?;
/// assert_eq!(report.epochs.len(), 3);
/// assert_eq!(clf.labels().tags(), ["process_breakdown"]);
/// # Ok::<(), voc::Error>(())
/// ```
pub fn train(
    base: &Classifier,
    examples: &[Example],
    config: &TrainConfig,
    exclude: &HashList,
    mut progress: impl FnMut(&EpochReport),
) -> Result<(Classifier, TrainReport)> {
    config.validate()?;
    let base_model = &base.model;
    let classes = base_model.labels_file.sentiment.clone();

    // Remove evaluation texts.
    let kept: Vec<&Example> = examples.iter().filter(|e| !exclude.contains_text(&e.text)).collect();
    let removed = examples.len() - kept.len();
    if kept.is_empty() {
        return Err(Error::config("data", "no training examples left"));
    }

    // The label set.
    let tags: Vec<String> = match &config.tags {
        Some(t) => t.clone(),
        None => {
            let mut tags: Vec<String> =
                if config.warm_start { base_model.labels_file.tags.clone() } else { Vec::new() };
            let data_tags: BTreeSet<&String> = kept.iter().filter_map(|e| e.tags.as_ref()).flatten().collect();
            for t in data_tags {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            tags
        }
    };
    let mut label_counts = BTreeMap::new();
    let mut source_counts = BTreeMap::new();
    for e in &kept {
        if let Some(s) = &e.sentiment {
            if !classes.contains(s) {
                return Err(Error::config(
                    "data",
                    format!("sentiment {s:?} is not one of the model's classes {classes:?}"),
                ));
            }
            *label_counts.entry(format!("sentiment:{s}")).or_insert(0) += 1;
        }
        for t in e.tags.iter().flatten() {
            if !tags.contains(t) {
                return Err(Error::config("tags", format!("tag {t:?} in the data is not in the tag list {tags:?}")));
            }
            *label_counts.entry(format!("tag:{t}")).or_insert(0) += 1;
        }
        if let Some(soft) = &e.soft {
            if let Some(t) = soft.tags.iter().flatten().map(|(t, _)| t).find(|t| !tags.contains(t)) {
                return Err(Error::config(
                    "tags",
                    format!("soft tag {t:?} in the data is not in the tag list {tags:?}"),
                ));
            }
            if let Some(c) = soft.sentiment.iter().flatten().map(|(c, _)| c).find(|c| !classes.contains(c)) {
                return Err(Error::config(
                    "data",
                    format!("soft sentiment {c:?} is not one of the model's classes {classes:?}"),
                ));
            }
            *label_counts.entry("soft targets".to_string()).or_insert(0) += 1;
        }
        if let Some(s) = &e.source {
            *source_counts.entry(s.clone()).or_insert(0) += 1;
        }
    }
    if !kept.iter().any(|e| e.sentiment.is_some() || e.tags.is_some()) {
        return Err(Error::config("data", "no example carries a label"));
    }

    // Scopes: the ones asked for, else the base's when warm starting.
    let bn = &base_model.network;
    let base_kinds: Vec<ScopeKind> = bn.scopes.as_ref().map(|m| m.kinds().to_vec()).unwrap_or_default();
    let kinds = match &config.scopes {
        Some(names) => parse_kinds(names)?,
        None if config.warm_start => base_kinds.clone(),
        None => Vec::new(),
    };
    let n_scopes = kinds.len();
    let marker = (n_scopes > 0).then(|| Arc::new(ScopeMarker::new(&base_model.tokenizer, bn.vocab, kinds.clone())));

    // Tokenize once.
    let max_bytes = base.max_input_bytes();
    let rows: Vec<Row> = kept
        .par_iter()
        .map_init(Tokens::default, |tok, e| -> Result<Row> {
            base_model.tokenizer.encode_into(truncate_to_bytes(&e.text, max_bytes), tok)?;
            let soft = e.soft.as_ref();
            let mut roles = Vec::new();
            if let Some(m) = &marker {
                m.roles(&tok.ids, &mut roles);
            }
            Ok(Row {
                ids: tok.ids.clone(),
                roles,
                sentiment: e.sentiment.as_ref().and_then(|s| classes.iter().position(|c| c == s)),
                tags: e.tags.as_ref().map(|ts| tags.iter().map(|t| ts.contains(t)).collect()),
                soft_sentiment: soft.and_then(|s| s.sentiment.as_ref()).filter(|_| e.sentiment.is_some()).map(|m| {
                    let p: Vec<f32> = classes.iter().map(|c| m.get(c).copied().unwrap_or(0.0)).collect();
                    soften(p, config.soft_temperature)
                }),
                soft_tags: soft
                    .and_then(|s| s.tags.as_ref())
                    .filter(|_| e.tags.is_some())
                    .map(|m| tags.iter().map(|t| m.get(t).copied().unwrap_or(0.0)).collect()),
                weight: if e.confidence == Some(Confidence::Low) { config.low_confidence_weight } else { 1.0 },
            })
        })
        .collect::<Result<_>>()?;

    // Split. The validation split is drawn from rows labeled by people only:
    // rows with soft (teacher) targets always train.
    let mut rng = Rng(config.seed);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    rng.shuffle(&mut order);
    let n_hard = rows.iter().filter(|r| !r.is_soft()).count();
    let n_val = ((n_hard as f32) * config.validation_split).round() as usize;
    let n_val = if rows.len() > 1 { n_val.min(rows.len() - 1).min(n_hard) } else { 0 };
    let (mut val_idx, mut train_idx) = (Vec::with_capacity(n_val), Vec::with_capacity(rows.len() - n_val));
    for i in order {
        if val_idx.len() < n_val && !rows[i].is_soft() {
            val_idx.push(i);
        } else {
            train_idx.push(i);
        }
    }

    // Class weights from the training split.
    let s = classes.len();
    let t = tags.len();
    let mut class_n = vec![0usize; s];
    let mut tag_pos = vec![0usize; t];
    let mut tag_rows = 0usize;
    for &i in &train_idx {
        if let Some(c) = rows[i].sentiment {
            class_n[c] += 1;
        }
        if let Some(tv) = &rows[i].tags {
            tag_rows += 1;
            for k in 0..t {
                tag_pos[k] += tv[k] as usize;
            }
        }
    }
    let adjust = |w: f32| -> f32 {
        match config.class_weights {
            ClassWeights::None => 1.0,
            ClassWeights::Balanced => w.clamp(0.1, 10.0),
            ClassWeights::Sqrt => w.sqrt().clamp(0.1, 10.0),
        }
    };
    let total_sent: usize = class_n.iter().sum();
    let class_w: Vec<f32> =
        class_n.iter().map(|&n| if n == 0 { 0.0 } else { adjust(total_sent as f32 / (s as f32 * n as f32)) }).collect();
    let pos_w: Vec<f32> =
        tag_pos.iter().map(|&p| if p == 0 { 1.0 } else { adjust((tag_rows - p) as f32 / p as f32) }).collect();

    // Parameters.
    let dev = Device::Cpu;
    let (dim, vocab) = (bn.dim, bn.vocab);
    let warm = config.warm_start;
    let hidden = if warm { bn.hidden } else { config.hidden_dim };
    // The table is shared with each step's EmbeddingBag op (no copy into
    // the graph); when it is trained, it gets sparse row gradients and a
    // lazy Adam update of the rows each batch touched.
    let mut table: Arc<Table> =
        Arc::new(if config.train_embeddings { Table::Owned(bn.w.embedding.to_vec()) } else { bn.w.embedding.clone() });
    // One sparse gradient per bag op: the whole bags, then each scope kind's.
    let row_grads: Vec<Arc<Mutex<RowGrads>>> = if config.train_embeddings {
        (0..=n_scopes).map(|_| Arc::new(Mutex::new(RowGrads::default()))).collect()
    } else {
        Vec::new()
    };
    let mut table_opt = config.train_embeddings.then(|| LazyAdam::new(vocab * dim, config.learning_rate));
    let token_weight = Var::from_vec(if warm { bn.w.token_weight.clone() } else { vec![1.0; vocab] }, vocab, &dev)?;
    let (hw, hb) = if warm {
        (bn.w.hidden_w.clone(), bn.w.hidden_b.clone())
    } else {
        (rng.init(hidden * dim, dim), vec![0.0; hidden])
    };
    let (sw, sb) = if warm && bn.n_sent == s {
        (bn.w.sent_w.clone(), bn.w.sent_b.clone())
    } else {
        (rng.init(s * hidden, hidden), vec![0.0; s])
    };
    let mut tw = rng.init(t * hidden, hidden);
    let mut tb = vec![0.0; t];
    if warm {
        for (k, name) in tags.iter().enumerate() {
            if let Some(j) = base_model.labels_file.tags.iter().position(|x| x == name) {
                tw[k * hidden..(k + 1) * hidden].copy_from_slice(&bn.w.tags_w[j * hidden..(j + 1) * hidden]);
                tb[k] = bn.w.tags_b[j];
            }
        }
    }
    let hidden_w = Var::from_vec(hw, (hidden, dim), &dev)?;
    let hidden_b = Var::from_vec(hb, hidden, &dev)?;
    let sent_w = Var::from_vec(sw, (s, hidden), &dev)?;
    let sent_b = Var::from_vec(sb, s, &dev)?;
    let tags_w = Var::from_vec(tw, (t, hidden), &dev)?;
    let tags_b = Var::from_vec(tb, t, &dev)?;
    // Scope matrices `M_k = diag(d_k) + U_k V_k^T` start at zero (the plain
    // bag's function: d = 0, V = 0, U random so that V learns), or from the
    // base's of the same kind when warm starting (U, V when the rank agrees).
    let rank = if warm && config.scopes.is_none() && n_scopes > 0 { bn.scope_rank } else { config.scope_rank };
    if n_scopes > 0 && rank > hidden {
        return Err(Error::config("scope_rank", format!("{rank} is above the hidden width {hidden}")));
    }
    let (hr, n_low) = (hidden * rank, if n_scopes > 0 { rank } else { 0 });
    let mut sd = vec![0f32; n_scopes * hidden];
    let mut su = rng.init(n_scopes * hidden * n_low, hidden);
    let mut sv = vec![0f32; n_scopes * hidden * n_low];
    if warm {
        for (k, kind) in kinds.iter().enumerate() {
            if let Some(j) = base_kinds.iter().position(|b| b == kind) {
                sd[k * hidden..(k + 1) * hidden].copy_from_slice(&bn.w.scope_diag[j * hidden..(j + 1) * hidden]);
                if bn.scope_rank == rank && rank > 0 {
                    su[k * hr..(k + 1) * hr].copy_from_slice(&bn.w.scope_u[j * hr..(j + 1) * hr]);
                    sv[k * hr..(k + 1) * hr].copy_from_slice(&bn.w.scope_v[j * hr..(j + 1) * hr]);
                }
            }
        }
    }
    let scope_diag = (n_scopes > 0).then(|| Var::from_vec(sd, (n_scopes, hidden), &dev)).transpose()?;
    let scope_uv = (n_scopes > 0 && rank > 0)
        .then(|| -> Result<(Var, Var)> {
            Ok((Var::from_vec(su, (n_scopes, hidden, rank), &dev)?, Var::from_vec(sv, (n_scopes, hidden, rank), &dev)?))
        })
        .transpose()?;
    let scope_params = scope_diag.as_ref().map(|d| ScopeParams {
        diag: d.as_tensor().clone(),
        low_rank: scope_uv.as_ref().map(|(u, v)| (u.as_tensor().clone(), v.as_tensor().clone())),
    });
    let mut dense =
        vec![hidden_w.clone(), hidden_b.clone(), sent_w.clone(), sent_b.clone(), tags_w.clone(), tags_b.clone()];
    dense.extend(scope_diag.clone());
    if let Some((u, v)) = &scope_uv {
        dense.extend([u.clone(), v.clone()]);
    }
    let mut opt_dense = AdamW::new(
        dense,
        ParamsAdamW { lr: config.learning_rate, weight_decay: config.weight_decay, ..Default::default() },
    )?;
    let mut opt_bag = AdamW::new(
        vec![token_weight.clone()],
        ParamsAdamW { lr: config.learning_rate, weight_decay: 0.0, ..Default::default() },
    )?;

    let snapshot = |table: &Table| -> Result<Network> {
        let v = |x: &Var| -> Result<Vec<f32>> { Ok(x.as_tensor().flatten_all()?.to_vec1::<f32>()?) };
        let weights = Weights {
            embedding: table.clone(),
            token_weight: v(&token_weight)?,
            hidden_w: v(&hidden_w)?,
            hidden_b: v(&hidden_b)?,
            sent_w: v(&sent_w)?,
            sent_b: v(&sent_b)?,
            tags_w: v(&tags_w)?,
            tags_b: v(&tags_b)?,
            scope_diag: scope_diag.as_ref().map(v).transpose()?.unwrap_or_default(),
            scope_u: scope_uv.as_ref().map(|(u, _)| v(u)).transpose()?.unwrap_or_default(),
            scope_v: scope_uv.as_ref().map(|(_, x)| v(x)).transpose()?.unwrap_or_default(),
        };
        Ok(Network::new(vocab, dim, hidden, s, t, weights).with_scopes(marker.clone()))
    };

    let validate = |net: &Network, train_loss: f64| -> (Option<f64>, Option<f64>, f64, f32, Vec<f32>) {
        if val_idx.is_empty() {
            return (None, None, -train_loss, 1.0, vec![0.5; t]);
        }
        let logits = val_logits(net, &rows, &val_idx);
        let temperature = fit_temperature(&logits, &rows, &val_idx);
        let thresholds = tune_thresholds(&logits, &rows, &val_idx, t);
        let report = val_report(&classes, &tags, &thresholds, temperature, &logits, &rows, &val_idx);
        let sf = report.sentiment.as_ref().map(|r| r.macro_f1);
        let tf = report.tags.as_ref().map(|r| r.macro_f1);
        (sf, tf, sf.unwrap_or(0.0) + tf.unwrap_or(0.0), temperature, thresholds)
    };
    // Stochastic weight averaging over the last `average_last` epochs.
    let swa_from = if config.average_last > 0 { config.epochs + 1 - config.average_last } else { usize::MAX };
    let mut swa: Option<Weights> = None;
    let mut swa_n = 0usize;
    let mut averaged_epochs = 0usize;
    let start = Instant::now();
    let mut epochs = Vec::new();
    let mut best: Option<(f64, usize, Network, f32, Vec<f32>)> = None;
    for epoch in 1..=config.epochs {
        rng.shuffle(&mut train_idx);
        let mut loss_sum = 0f64;
        let mut steps = 0usize;
        for batch in train_idx.chunks(config.batch_size) {
            let b = batch.len();
            let mut bags = BatchBags::new(n_scopes);
            let mut sent_target = vec![0f32; b * s];
            let mut tag_y = vec![0f32; b * t.max(1)];
            let mut tag_w = vec![0f32; b * t.max(1)];
            let (mut sent_den, mut tag_den) = (0f32, 0f32);
            for (r, &i) in batch.iter().enumerate() {
                let row = &rows[i];
                let role = |j: usize| row.roles.get(j).copied().unwrap_or(0);
                for j in 0..row.ids.len() {
                    if config.token_dropout == 0.0 || rng.uniform() >= config.token_dropout {
                        bags.push(row.ids[j], role(j));
                    }
                }
                if bags.open_len() == 0 && !row.ids.is_empty() {
                    let j = (rng.next_u64() % row.ids.len() as u64) as usize;
                    bags.push(row.ids[j], role(j));
                }
                bags.end_bag();
                let rw = row.weight;
                if let Some(ps) = &row.soft_sentiment {
                    for c in 0..s {
                        sent_target[r * s + c] = rw * ps[c] * class_w[c];
                        sent_den += rw * ps[c] * class_w[c];
                    }
                } else if let Some(c) = row.sentiment {
                    sent_target[r * s + c] = rw * class_w[c];
                    sent_den += rw * class_w[c];
                }
                if let Some(pt) = &row.soft_tags {
                    let sw = rw * config.soft_tag_weight;
                    for k in 0..t {
                        tag_y[r * t + k] = pt[k];
                        tag_w[r * t + k] = sw * (pt[k] * pos_w[k] + (1.0 - pt[k]));
                    }
                    tag_den += sw * t as f32;
                } else if let Some(tv) = &row.tags {
                    for k in 0..t {
                        tag_y[r * t + k] = tv[k] as u8 as f32;
                        tag_w[r * t + k] = rw * if tv[k] { pos_w[k] } else { 1.0 };
                    }
                    tag_den += rw * t as f32;
                }
            }
            let pre = bags.hidden_pre(
                token_weight.as_tensor(),
                &table,
                hidden_w.as_tensor(),
                scope_params.as_ref(),
                &row_grads,
            )?;
            let h = pre.broadcast_add(hidden_b.as_tensor())?.relu()?;
            let h = if config.dropout > 0.0 {
                let keep = 1.0 - config.dropout;
                let mask: Vec<f32> =
                    (0..b * hidden).map(|_| if rng.uniform() < keep { 1.0 / keep } else { 0.0 }).collect();
                (h * Tensor::from_vec(mask, (b, hidden), &dev)?)?
            } else {
                h
            };
            let mut loss = Tensor::zeros((), DType::F32, &dev)?;
            if sent_den > 0.0 {
                let logits = h.matmul(&sent_w.as_tensor().t()?)?.broadcast_add(sent_b.as_tensor())?;
                let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
                let target = Tensor::from_vec(sent_target, (b, s), &dev)?;
                let l = (logp * target)?.sum_all()?.affine(-1.0 / sent_den as f64, 0.0)?;
                loss = (loss + l)?;
            }
            if tag_den > 0.0 && t > 0 {
                let x = h.matmul(&tags_w.as_tensor().t()?)?.broadcast_add(tags_b.as_tensor())?;
                let y = Tensor::from_vec(tag_y, (b, t), &dev)?;
                let w = Tensor::from_vec(tag_w, (b, t), &dev)?;
                // Stable BCE with logits: max(x,0) - x*y + log(1 + exp(-|x|)).
                let bce = ((x.relu()? - (&x * &y)?)? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
                let l = (bce * w)?.sum_all()?.affine(1.0 / tag_den as f64, 0.0)?;
                loss = (loss + l)?;
            }
            let grads = loss.backward()?;
            opt_dense.step(&grads)?;
            opt_bag.step(&grads)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            steps += 1;
            if let Some(opt) = table_opt.as_mut() {
                // The graph (which shares the table) goes first, then the
                // table is updated in place.
                drop((grads, loss, h, pre));
                let mut parts = Vec::with_capacity(row_grads.len());
                for rg in &row_grads {
                    parts.push(std::mem::take(
                        &mut *rg.lock().map_err(|_| Error::config("train_embeddings", "lock poisoned"))?,
                    ));
                }
                let rows = RowGrads::sum(parts, dim, vocab);
                if let Table::Owned(t) = Arc::make_mut(&mut table) {
                    opt.step(t, dim, &rows);
                }
            }
        }

        // Validation: pick the epoch, tune thresholds, calibrate.
        let net = snapshot(&table)?;
        if epoch >= swa_from {
            swa_n += 1;
            match swa.as_mut() {
                None => swa = Some(net.w.clone()),
                Some(avg) => average_into(avg, &net.w, swa_n),
            }
        }
        let (val_sent, val_tags, score, temperature, thresholds) = validate(&net, loss_sum / steps.max(1) as f64);
        let elapsed = start.elapsed().as_secs_f64();
        let rep = EpochReport {
            epoch,
            train_loss: loss_sum / steps.max(1) as f64,
            val_sentiment_macro_f1: val_sent,
            val_tags_macro_f1: val_tags,
            elapsed_secs: elapsed,
            eta_secs: elapsed / epoch as f64 * (config.epochs - epoch) as f64,
        };
        progress(&rep);
        epochs.push(rep);
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, epoch, net, temperature, thresholds));
        }
    }
    if let Some(avg) = swa.filter(|_| swa_n > 1) {
        let net = Network::new(vocab, dim, hidden, s, t, avg).with_scopes(marker.clone());
        // Without a validation split there is nothing to compare on: the
        // mean, which was asked for, is kept.
        let (_, _, score, temperature, thresholds) = validate(&net, f64::NEG_INFINITY);
        if val_idx.is_empty() || best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, 0, net, temperature, thresholds));
            averaged_epochs = swa_n;
        }
    }
    let (_, best_epoch, network, temperature, thresholds) =
        best.ok_or_else(|| Error::config("epochs", "must be at least 1"))?;
    // The same function, with the hidden product folded into the table, so
    // inference skips it (see `Network::fold`).
    let network = network.fold()?;
    let thresholds: BTreeMap<String, f32> = tags.iter().cloned().zip(thresholds).collect();
    let labels_file =
        LabelsFile { sentiment: classes.clone(), tags: tags.clone(), thresholds: thresholds.clone(), temperature };
    let model_config = ModelConfig {
        format_version: FORMAT_VERSION,
        architecture: ARCHITECTURE.to_string(),
        vocab_size: vocab,
        embedding_dim: network.dim,
        hidden_dim: network.hidden,
        num_sentiment_classes: s,
        num_tags: t,
        scopes: kinds.iter().map(|k| k.name().to_string()).collect(),
        scope_rank: if n_scopes > 0 { rank } else { 0 },
        sha256: BTreeMap::new(),
    };
    let validation = (!val_idx.is_empty()).then(|| {
        let logits = val_logits(&network, &rows, &val_idx);
        let th: Vec<f32> = tags.iter().map(|k| thresholds[k]).collect();
        val_report(&classes, &tags, &th, temperature, &logits, &rows, &val_idx)
    });
    let clf = Classifier::from_parts(model_config, labels_file, base_model.tokenizer.clone(), network)
        .with_max_input_bytes(max_bytes)?;
    let report = TrainReport {
        config: config.clone(),
        examples: examples.len(),
        removed_eval_overlap: removed,
        train_examples: train_idx.len(),
        validation_examples: val_idx.len(),
        epochs,
        best_epoch,
        averaged_epochs,
        temperature,
        thresholds,
        validation,
        label_counts,
        source_counts,
    };
    Ok((clf, report))
}

/// Soft targets `p` at distillation temperature `t`: `p^(1/t)`, renormalized,
/// computed in log space from the largest (so no `t` underflows to all
/// zeros); probabilities under 1e-4, the precision the files store, count
/// as 1e-4. `t = 1` returns `p` unchanged.
fn soften(p: Vec<f32>, t: f32) -> Vec<f32> {
    if t == 1.0 || p.is_empty() {
        return p;
    }
    let logs: Vec<f64> = p.iter().map(|&x| f64::from(x.max(1e-4)).ln() / f64::from(t)).collect();
    let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logs.iter().map(|l| (l - top).exp()).collect();
    let z: f64 = e.iter().sum();
    e.iter().map(|x| (x / z) as f32).collect()
}

/// `avg += (w - avg) / n`, tensor by tensor: the running mean of `n` snapshots.
fn average_into(avg: &mut Weights, w: &Weights, n: usize) {
    let f = 1.0 / n as f32;
    let mix = |a: &mut [f32], b: &[f32]| a.iter_mut().zip(b).for_each(|(a, b)| *a += (b - *a) * f);
    if let Table::Owned(e) = &mut avg.embedding {
        mix(e, &w.embedding);
    }
    mix(&mut avg.token_weight, &w.token_weight);
    mix(&mut avg.hidden_w, &w.hidden_w);
    mix(&mut avg.hidden_b, &w.hidden_b);
    mix(&mut avg.sent_w, &w.sent_w);
    mix(&mut avg.sent_b, &w.sent_b);
    mix(&mut avg.tags_w, &w.tags_w);
    mix(&mut avg.tags_b, &w.tags_b);
    mix(&mut avg.scope_diag, &w.scope_diag);
    mix(&mut avg.scope_u, &w.scope_u);
    mix(&mut avg.scope_v, &w.scope_v);
}

/// Adam for the embedding table, updating only the rows a batch touched
/// ("lazy" Adam, as in TensorFlow's `LazyAdam`): the moments of the other
/// rows are left as they are. Same constants as candle's `AdamW` (beta1 0.9,
/// beta2 0.999, eps 1e-8), no weight decay; bias correction by the global
/// step. A dense update of all `V x D` values each step would cost ten times
/// the rest of the step.
struct LazyAdam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
    lr: f64,
}

impl LazyAdam {
    fn new(n: usize, lr: f64) -> Self {
        LazyAdam { m: vec![0.0; n], v: vec![0.0; n], t: 0, lr }
    }

    fn step(&mut self, table: &mut [f32], dim: usize, g: &RowGrads) {
        const B1: f64 = 0.9;
        const B2: f64 = 0.999;
        self.t += 1;
        let scale_m = (1.0 / (1.0 - B1.powi(self.t))) as f32;
        let scale_v = (1.0 / (1.0 - B2.powi(self.t))) as f32;
        let lr = self.lr as f32;
        for (k, &row) in g.rows.iter().enumerate() {
            let at = row as usize * dim;
            let grad = &g.values[k * dim..(k + 1) * dim];
            for (j, &gj) in grad.iter().enumerate() {
                let (m, v) = (&mut self.m[at + j], &mut self.v[at + j]);
                *m = B1 as f32 * *m + (1.0 - B1 as f32) * gj;
                *v = B2 as f32 * *v + (1.0 - B2 as f32) * gj * gj;
                table[at + j] -= lr * (*m * scale_m) / ((*v * scale_v).sqrt() + 1e-8);
            }
        }
    }
}

fn val_logits(net: &Network, rows: &[Row], idx: &[usize]) -> Vec<Forward> {
    idx.par_iter()
        .map_init(Vec::new, |pooled, &i| {
            let mut f = Forward::default();
            net.forward(&rows[i].ids, pooled, &mut f);
            f
        })
        .collect()
}

fn fit_temperature(logits: &[Forward], rows: &[Row], idx: &[usize]) -> f32 {
    let nll = |temp: f32| -> f64 {
        let mut sum = 0f64;
        for (f, &i) in logits.iter().zip(idx) {
            if let Some(c) = rows[i].sentiment {
                sum -= (softmax(&f.sent_logits, temp)[c].max(1e-12) as f64).ln();
            }
        }
        sum
    };
    let mut best = (f64::INFINITY, 1.0f32);
    for step in 0..=90 {
        let temp = 0.5 + step as f32 * 0.05;
        let v = nll(temp);
        if v < best.0 {
            best = (v, temp);
        }
    }
    best.1
}

fn tune_thresholds(logits: &[Forward], rows: &[Row], idx: &[usize], t: usize) -> Vec<f32> {
    (0..t)
        .map(|k| {
            let pairs: Vec<(f32, bool)> = logits
                .iter()
                .zip(idx)
                .filter_map(|(f, &i)| rows[i].tags.as_ref().map(|tv| (1.0 / (1.0 + (-f.tag_logits[k]).exp()), tv[k])))
                .collect();
            if !pairs.iter().any(|p| p.1) {
                return 0.5;
            }
            let mut best = (-1.0f64, 0.5f32);
            for step in 1..=19 {
                let th = step as f32 * 0.05;
                let (mut tp, mut fp, mut fn_) = (0, 0, 0);
                for &(p, y) in &pairs {
                    match (y, p >= th) {
                        (true, true) => tp += 1,
                        (false, true) => fp += 1,
                        (true, false) => fn_ += 1,
                        _ => {}
                    }
                }
                let f1 = crate::eval::ClassMetrics::from_counts(tp, fp, fn_).f1;
                // Ties go to the threshold nearest 0.5.
                if f1 > best.0 + 1e-12 || ((f1 - best.0).abs() <= 1e-12 && (th - 0.5).abs() < (best.1 - 0.5).abs()) {
                    best = (f1, th);
                }
            }
            best.1
        })
        .collect()
}

fn val_report(
    classes: &[String],
    tags: &[String],
    thresholds: &[f32],
    temperature: f32,
    logits: &[Forward],
    rows: &[Row],
    idx: &[usize],
) -> EvalReport {
    let examples: Vec<Example> = idx
        .iter()
        .map(|&i| Example {
            text: String::new(),
            sentiment: rows[i].sentiment.map(|c| classes[c].clone()),
            tags: rows[i]
                .tags
                .as_ref()
                .map(|tv| tags.iter().zip(tv).filter(|(_, y)| **y).map(|(n, _)| n.clone()).collect()),
            source: None,
            soft: None,
            confidence: None,
        })
        .collect();
    let probs: Vec<(Vec<f32>, Vec<f32>)> = logits
        .iter()
        .map(|f| {
            (softmax(&f.sent_logits, temperature), f.tag_logits.iter().map(|&l| 1.0 / (1.0 + (-l).exp())).collect())
        })
        .collect();
    report_from_probs(classes, tags, thresholds, &examples, &probs)
}

impl TrainReport {
    /// Which weights were kept, in words: `kept epoch 12`, or `kept the
    /// mean of epochs 11-30` (see [`TrainConfig::average_last`]).
    ///
    /// ```
    /// # let base = voc::Classifier::embedded()?;
    /// # let rows = vec![voc::Example::new("broken on arrival").with_sentiment("negative")];
    /// let cfg = voc::TrainConfig::default().epochs(2).validation_split(0.0);
    /// let (_, report) = voc::train(&base, &rows, &cfg, &voc::HashList::default(), |_| {})?;
    /// assert!(report.kept().starts_with("kept "));
    /// # Ok::<(), voc::Error>(())
    /// ```
    pub fn kept(&self) -> String {
        if self.averaged_epochs > 0 {
            let last = self.epochs.len();
            format!("kept the mean of epochs {}-{}", last + 1 - self.averaged_epochs, last)
        } else {
            format!("kept epoch {}", self.best_epoch)
        }
    }

    /// A model card (markdown) describing this training run: data counts,
    /// removed evaluation overlap, configuration and validation figures.
    /// `notes` (sources, licences, how to rebuild) is placed first.
    pub fn model_card(&self, title: &str, notes: &str) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "# {title}\n");
        if !notes.trim().is_empty() {
            let _ = writeln!(s, "{}\n", notes.trim_end());
        }
        let _ = writeln!(s, "## Training run (written by `voc train`)\n");
        let _ = writeln!(s, "- examples given: {}", self.examples);
        let _ =
            writeln!(s, "- removed because their hash is in the evaluation hash list: {}", self.removed_eval_overlap);
        let _ =
            writeln!(s, "- trained on: {}; held out for validation: {}", self.train_examples, self.validation_examples);
        let _ = writeln!(
            s,
            "- epochs: {} ({}); sentiment temperature {:.2}",
            self.epochs.len(),
            self.kept(),
            self.temperature
        );
        let _ = writeln!(
            s,
            "- tag thresholds: {}",
            self.thresholds.iter().map(|(k, v)| format!("{k} {v:.2}")).collect::<Vec<_>>().join(", ")
        );
        if !self.source_counts.is_empty() {
            let _ = writeln!(s, "\nExamples per source (after removal):\n\n| source | rows |\n|---|---|");
            for (k, v) in &self.source_counts {
                let _ = writeln!(s, "| {k} | {v} |");
            }
        }
        let _ = writeln!(s, "\nLabels in the data:\n\n| label | rows |\n|---|---|");
        for (k, v) in &self.label_counts {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        let _ = writeln!(
            s,
            "\nConfiguration:\n\n```json\n{}\n```",
            serde_json::to_string_pretty(&self.config).unwrap_or_default()
        );
        if let Some(v) = &self.validation {
            let _ = writeln!(
                s,
                "\nValidation split (part of the training data, not a gold set):\n\n```text\n{}```",
                v.to_table()
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Softening keeps the classes' order, sums to 1, is `p^(1/t)`
    /// renormalized, and leaves `t = 1` untouched.
    #[test]
    fn soften_flattens_above_one_and_keeps_the_order() {
        let p = vec![0.97, 0.03, 0.0];
        assert_eq!(soften(p.clone(), 1.0), p);
        let s = soften(p.clone(), 2.0);
        assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(s[0] < 0.97 && s[1] > 0.03 && s[2] > 0.0, "{s:?}");
        assert!(s[0] > s[1] && s[1] > s[2]);
        // p^(1/2) renormalized, 0 counted as 1e-4.
        let r: Vec<f32> = [0.97f32, 0.03, 1e-4].iter().map(|x| x.sqrt()).collect();
        let z: f32 = r.iter().sum();
        s.iter().zip(&r).for_each(|(a, b)| assert!((a - b / z).abs() < 1e-6));
        // A tiny temperature sharpens to one class without underflow.
        let sharp = soften(p.clone(), 0.001);
        assert!((sharp[0] - 1.0).abs() < 1e-6 && sharp.iter().all(|x| x.is_finite()));
    }

    /// Lazy Adam moves only the rows a batch touched, and its first step on
    /// a row is Adam's (a step of size `lr` against the gradient's sign).
    #[test]
    fn lazy_adam_updates_only_touched_rows() {
        let dim = 3;
        let mut table: Vec<f32> = (0..4 * dim).map(|i| i as f32).collect();
        let before = table.clone();
        let mut opt = LazyAdam::new(table.len(), 0.1);
        let grads = RowGrads { rows: vec![2, 0], values: vec![1.0, -2.0, 0.0, 0.5, 0.5, -0.5] };
        opt.step(&mut table, dim, &grads);
        for row in [1usize, 3] {
            assert_eq!(table[row * dim..(row + 1) * dim], before[row * dim..(row + 1) * dim], "row {row}");
        }
        let expect = |b: f32, g: f32| if g == 0.0 { b } else { b - 0.1 * g.signum() };
        for (k, &row) in grads.rows.iter().enumerate() {
            for j in 0..dim {
                let i = row as usize * dim + j;
                let e = expect(before[i], grads.values[k * dim + j]);
                assert!((table[i] - e).abs() < 1e-5, "row {row} col {j}: {} vs {e}", table[i]);
            }
        }
        // A second step on row 1 only: rows 0 and 2 keep their values.
        let after_first = table.clone();
        opt.step(&mut table, dim, &RowGrads { rows: vec![1], values: vec![1.0; 3] });
        assert_eq!(table[..dim], after_first[..dim]);
        assert_eq!(table[2 * dim..3 * dim], after_first[2 * dim..3 * dim]);
        assert_ne!(table[dim..2 * dim], after_first[dim..2 * dim]);
    }
}
