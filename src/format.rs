//! Model folder format v1: `config.json`, `labels.json`, `tokenizer.json`,
//! `model.safetensors` and `README.md` (the model card).
//!
//! Reading checks the format version, every file's SHA-256 recorded in
//! `config.json`, label counts against the config, and every tensor's shape
//! against the config; each failure names the file and what is wrong.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The format version this build writes.
pub const FORMAT_VERSION: u32 = 1;
/// The oldest format version this build reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

pub(crate) const CONFIG: &str = "config.json";
pub(crate) const LABELS: &str = "labels.json";
pub(crate) const TOKENIZER: &str = "tokenizer.json";
pub(crate) const WEIGHTS: &str = "model.safetensors";
pub(crate) const CARD: &str = "README.md";

/// The architecture name of the embedding-bag classifier.
pub(crate) const ARCHITECTURE: &str = "embedding-bag-mlp";

/// `config.json`: format version, architecture and sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelConfig {
    pub format_version: u32,
    pub architecture: String,
    pub vocab_size: usize,
    pub embedding_dim: usize,
    pub hidden_dim: usize,
    pub num_sentiment_classes: usize,
    pub num_tags: usize,
    /// Scope kinds (`"negation"`, `"contrast"`), in the order of the
    /// `scope.weight` matrices; absent for a plain bag (see `scope.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Rank of the low-rank part of each scope matrix (0: diagonal only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub scope_rank: usize,
    /// SHA-256 (hex) of `labels.json`, `tokenizer.json` and `model.safetensors`.
    #[serde(default)]
    pub sha256: BTreeMap<String, String>,
}

/// `labels.json`: the label set and the decision parameters tuned in training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LabelsFile {
    /// Sentiment classes, in the order of the sentiment head's outputs.
    pub sentiment: Vec<String>,
    /// Tag names, in the order of the tag head's outputs.
    pub tags: Vec<String>,
    /// Decision threshold of each tag on its probability.
    pub thresholds: BTreeMap<String, f32>,
    /// Temperature dividing the sentiment logits (calibration).
    pub temperature: f32,
}

/// The raw bytes of the four machine-read files of a model folder.
///
/// Build one to load a model that is not on disk (embedded in a binary,
/// fetched from a store) with [`Classifier::from_bytes`](crate::Classifier::from_bytes).
///
/// ```
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default");
/// let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
/// let (c, l, t, w) = (read("config.json"), read("labels.json"), read("tokenizer.json"), read("model.safetensors"));
/// let bytes = voc::ModelBytes { config: &c, labels: &l, tokenizer: &t, weights: &w };
/// let clf = voc::Classifier::from_bytes(bytes)?;
/// assert_eq!(clf.labels().tags().len(), 4);
/// # Ok::<(), voc::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ModelBytes<'a> {
    /// `config.json`.
    pub config: &'a [u8],
    /// `labels.json`.
    pub labels: &'a [u8],
    /// `tokenizer.json` (Hugging Face tokenizers format).
    pub tokenizer: &'a [u8],
    /// `model.safetensors`.
    pub weights: &'a [u8],
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub(crate) fn parse_config(bytes: &[u8]) -> Result<ModelConfig> {
    // Read the version first, so that a future format with other fields
    // still gets the version error rather than a parse error.
    #[derive(Deserialize)]
    struct Version {
        format_version: Option<u32>,
    }
    let v: Version =
        serde_json::from_slice(bytes).map_err(|e| Error::model_src(CONFIG, format!("not valid JSON: {e}"), e))?;
    let found = v.format_version.ok_or_else(|| Error::model(CONFIG, "missing field `format_version`"))?;
    if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&found) {
        return Err(Error::IncompatibleVersion { found, oldest: OLDEST_FORMAT_VERSION, newest: FORMAT_VERSION });
    }
    let cfg: ModelConfig = serde_json::from_slice(bytes).map_err(|e| Error::model_src(CONFIG, e.to_string(), e))?;
    if cfg.architecture != ARCHITECTURE {
        return Err(Error::model(
            CONFIG,
            format!("unknown architecture {:?} (this voc knows {ARCHITECTURE:?})", cfg.architecture),
        ));
    }
    crate::scope::parse_kinds(&cfg.scopes)?;
    if cfg.scope_rank > cfg.hidden_dim {
        return Err(Error::model(CONFIG, format!("`scope_rank` = {} is above `hidden_dim`", cfg.scope_rank)));
    }
    for (name, v) in [
        ("vocab_size", cfg.vocab_size),
        ("embedding_dim", cfg.embedding_dim),
        ("hidden_dim", cfg.hidden_dim),
        ("num_sentiment_classes", cfg.num_sentiment_classes),
    ] {
        if v == 0 || v > 10_000_000 {
            return Err(Error::model(CONFIG, format!("`{name}` = {v} is out of range")));
        }
    }
    Ok(cfg)
}

pub(crate) fn parse_labels(bytes: &[u8], cfg: &ModelConfig) -> Result<LabelsFile> {
    let labels: LabelsFile = serde_json::from_slice(bytes).map_err(|e| Error::model_src(LABELS, e.to_string(), e))?;
    if labels.sentiment.len() != cfg.num_sentiment_classes {
        return Err(Error::model(
            LABELS,
            format!(
                "{} sentiment classes, but config.json declares num_sentiment_classes = {}",
                labels.sentiment.len(),
                cfg.num_sentiment_classes
            ),
        ));
    }
    if labels.tags.len() != cfg.num_tags {
        return Err(Error::model(
            LABELS,
            format!("{} tags, but config.json declares num_tags = {}", labels.tags.len(), cfg.num_tags),
        ));
    }
    check_names(&labels.sentiment, "sentiment")?;
    check_names(&labels.tags, "tags")?;
    for tag in &labels.tags {
        match labels.thresholds.get(tag) {
            Some(t) if t.is_finite() && *t > 0.0 && *t < 1.0 => {}
            Some(t) => return Err(Error::model(LABELS, format!("threshold of tag {tag:?} is {t}, not in (0, 1)"))),
            None => return Err(Error::model(LABELS, format!("no threshold for tag {tag:?}"))),
        }
    }
    if let Some(extra) = labels.thresholds.keys().find(|k| !labels.tags.contains(k)) {
        return Err(Error::model(LABELS, format!("threshold given for unknown tag {extra:?}")));
    }
    if !(labels.temperature.is_finite() && labels.temperature > 0.0) {
        return Err(Error::model(LABELS, format!("temperature is {}, must be > 0", labels.temperature)));
    }
    Ok(labels)
}

fn check_names(names: &[String], what: &str) -> Result<()> {
    for (i, n) in names.iter().enumerate() {
        if n.trim().is_empty() {
            return Err(Error::model(LABELS, format!("{what}[{i}] is an empty name")));
        }
        if names[..i].contains(n) {
            return Err(Error::model(LABELS, format!("{what} name {n:?} appears twice")));
        }
    }
    Ok(())
}

/// Compare each file against the checksum recorded in `config.json`.
pub(crate) fn verify_checksums(cfg: &ModelConfig, files: &[(&str, &[u8])]) -> Result<()> {
    for (name, bytes) in files {
        if let Some(want) = cfg.sha256.get(*name) {
            let got = sha256_hex(bytes);
            if !got.eq_ignore_ascii_case(want) {
                return Err(Error::model(
                    name,
                    format!(
                        "checksum mismatch: config.json records sha256 {want}, the file has {got} (corrupted or replaced file)"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Read the four machine-read files of a model folder.
pub(crate) fn read_dir(dir: &Path) -> Result<[Vec<u8>; 4]> {
    if !dir.is_dir() {
        return Err(Error::io(dir, std::io::Error::new(std::io::ErrorKind::NotFound, "model folder not found")));
    }
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|e| Error::io(path, e))
    };
    Ok([read(CONFIG)?, read(LABELS)?, read(TOKENIZER)?, read(WEIGHTS)?])
}

/// Write a model folder atomically: the files go to a temporary sibling
/// folder, which is renamed into place at the end. An existing folder is
/// replaced only with `overwrite`.
pub(crate) fn write_dir(
    dir: &Path,
    config: &ModelConfig,
    labels: &LabelsFile,
    tokenizer: &[u8],
    tensors: Vec<(&'static str, candle_core::Tensor)>,
    card: &str,
    overwrite: bool,
) -> Result<()> {
    if dir.exists() && !overwrite {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "output exists (use --force to replace it)"),
        ));
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let result = (|| -> Result<()> {
        let map: std::collections::HashMap<String, candle_core::Tensor> =
            tensors.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let wpath = tmp.join(WEIGHTS);
        candle_core::safetensors::save(&map, &wpath).map_err(|e| Error::model_src(WEIGHTS, "cannot write", e))?;
        let weights = std::fs::read(&wpath).map_err(|e| Error::io(&wpath, e))?;
        let labels_json =
            serde_json::to_vec_pretty(labels).map_err(|e| Error::model_src(LABELS, "cannot serialize", e))?;
        let mut cfg = config.clone();
        cfg.sha256 = [
            (LABELS.to_string(), sha256_hex(&labels_json)),
            (TOKENIZER.to_string(), sha256_hex(tokenizer)),
            (WEIGHTS.to_string(), sha256_hex(&weights)),
        ]
        .into_iter()
        .collect();
        let cfg_json = serde_json::to_vec_pretty(&cfg).map_err(|e| Error::model_src(CONFIG, "cannot serialize", e))?;
        for (f, bytes) in
            [(LABELS, &labels_json[..]), (TOKENIZER, tokenizer), (CONFIG, &cfg_json[..]), (CARD, card.as_bytes())]
        {
            let p = tmp.join(f);
            std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
        }
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
