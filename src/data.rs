//! Reading labeled data (JSONL in the format of the labeling guide, CSV/TSV
//! with named columns) and the evaluation-hash guard.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One labeled text. Either label may be missing (partial labels): a row with
/// only a sentiment trains only the sentiment head, and so on.
///
/// ```
/// let ex = voc::Example::new("The charger stopped working.")
///     .with_sentiment("negative")
///     .with_tags(["product_failure"]);
/// assert_eq!(ex.tags.as_deref(), Some(&["product_failure".to_string()][..]));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Example {
    /// The text.
    pub text: String,
    /// Its sentiment class, if labeled.
    pub sentiment: Option<String>,
    /// Its tags, if labeled (`Some(vec![])` means "labeled: no tag").
    pub tags: Option<Vec<String>>,
    /// Where it came from (the `source` field of the JSONL), if known.
    pub source: Option<String>,
    /// Soft targets (probabilities) from a teacher model, if any: training
    /// fits these instead of the hard labels, which still count in the
    /// label statistics. Rows with soft targets are never put in the
    /// validation split (it measures against labels read by people).
    pub soft: Option<SoftLabels>,
    /// How sure its labeler was (the `confidence` field of the labeling
    /// guide's JSONL: `high` or `low`, low where the case was ambiguous under
    /// the guide), if given. Training can count low-confidence rows less
    /// ([`TrainConfig::low_confidence_weight`](crate::TrainConfig)).
    #[serde(default)]
    pub confidence: Option<Confidence>,
}

/// A labeler's confidence in a row's labels (the labeling guide's
/// `confidence` field).
///
/// ```
/// let ex = voc::Example::new("Third delay this week.").with_confidence(voc::Confidence::Low);
/// assert_eq!(ex.confidence, Some(voc::Confidence::Low));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The labels are clear under the guide.
    High,
    /// The case was ambiguous under the guide.
    Low,
}

/// Probabilities that a teacher model gave one text (knowledge
/// distillation). In JSONL: a `soft` object with `sentiment` (class ->
/// probability, summing to 1) and/or `tags` (tag -> probability), each in
/// [0, 1]. A head with soft targets also needs its hard label in the row.
///
/// ```
/// let ex = voc::Example::new("My flight was cancelled twice.")
///     .with_sentiment("negative")
///     .with_tags(["process_breakdown"])
///     .with_soft(voc::SoftLabels::default().tag("process_breakdown", 0.93).tag("communication_gap", 0.2));
/// assert_eq!(ex.soft.unwrap().tags.unwrap()["process_breakdown"], 0.93);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SoftLabels {
    /// Sentiment class -> probability.
    pub sentiment: Option<BTreeMap<String, f32>>,
    /// Tag -> probability (a tag of the label set that is absent counts as 0).
    pub tags: Option<BTreeMap<String, f32>>,
}

impl SoftLabels {
    /// Set one sentiment class's probability.
    #[must_use]
    pub fn sentiment(mut self, class: impl Into<String>, p: f32) -> Self {
        self.sentiment.get_or_insert_with(BTreeMap::new).insert(class.into(), p);
        self
    }

    /// Set one tag's probability.
    #[must_use]
    pub fn tag(mut self, tag: impl Into<String>, p: f32) -> Self {
        self.tags.get_or_insert_with(BTreeMap::new).insert(tag.into(), p);
        self
    }
}

impl Example {
    /// An unlabeled example.
    pub fn new(text: impl Into<String>) -> Self {
        Example { text: text.into(), sentiment: None, tags: None, source: None, soft: None, confidence: None }
    }

    /// Set the sentiment label.
    #[must_use]
    pub fn with_sentiment(mut self, sentiment: impl Into<String>) -> Self {
        self.sentiment = Some(sentiment.into());
        self
    }

    /// Set the tag labels.
    #[must_use]
    pub fn with_tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
        self
    }

    /// Set the source name.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Set soft targets from a teacher model (see [`SoftLabels`]).
    #[must_use]
    pub fn with_soft(mut self, soft: SoftLabels) -> Self {
        self.soft = Some(soft);
        self
    }

    /// Set the labeler's confidence.
    #[must_use]
    pub fn with_confidence(mut self, confidence: Confidence) -> Self {
        self.confidence = Some(confidence);
        self
    }
}

/// How to read a labeled file. JSONL files use the fields `text`,
/// `sentiment`, `tags` (a list) and optionally `source`, `soft` (see
/// [`SoftLabels`]) and `confidence` (see [`Confidence`]); CSV and TSV files
/// use the named columns, tags separated by `;` in one cell.
///
/// ```
/// let opts = voc::ReadOptions::default().text_column("comment").tags_column("labels");
/// assert_eq!(opts.text_column, "comment");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Text column or field (default `text`).
    pub text_column: String,
    /// Sentiment column or field (default `sentiment`).
    pub sentiment_column: String,
    /// Tags column or field (default `tags`).
    pub tags_column: String,
    /// Accepted sentiment values (default `negative`, `neutral`, `positive`).
    pub sentiment_classes: Vec<String>,
    /// When set, the only accepted tag names; otherwise any name.
    pub tags: Option<Vec<String>>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            text_column: "text".into(),
            sentiment_column: "sentiment".into(),
            tags_column: "tags".into(),
            sentiment_classes: ["negative", "neutral", "positive"].map(String::from).to_vec(),
            tags: None,
        }
    }
}

impl ReadOptions {
    /// Set the text column.
    #[must_use]
    pub fn text_column(mut self, name: impl Into<String>) -> Self {
        self.text_column = name.into();
        self
    }
    /// Set the sentiment column.
    #[must_use]
    pub fn sentiment_column(mut self, name: impl Into<String>) -> Self {
        self.sentiment_column = name.into();
        self
    }
    /// Set the tags column.
    #[must_use]
    pub fn tags_column(mut self, name: impl Into<String>) -> Self {
        self.tags_column = name.into();
        self
    }
    /// Restrict tag names to this list.
    #[must_use]
    pub fn tags(mut self, tags: Vec<String>) -> Self {
        self.tags = Some(tags);
        self
    }
    /// Set the accepted sentiment classes.
    #[must_use]
    pub fn sentiment_classes(mut self, classes: Vec<String>) -> Self {
        self.sentiment_classes = classes;
        self
    }
}

/// Read a labeled file: JSONL (`.jsonl`, `.json`, `.ndjson`), CSV (`.csv`) or
/// TSV (`.tsv`). Every row is checked; the first bad row gives an error naming
/// the file, line and field, and nothing is returned.
///
/// ```
/// let dir = std::env::temp_dir().join("voc-doc-read");
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("a.jsonl");
/// std::fs::write(&path, "{\"text\": \"late again\", \"sentiment\": \"negative\", \"tags\": [\"process_breakdown\"]}\n").unwrap();
/// let rows = voc::read_examples(&path, &voc::ReadOptions::default())?;
/// assert_eq!(rows[0].sentiment.as_deref(), Some("negative"));
///
/// std::fs::write(&path, "{\"text\": \"late again\", \"sentiment\": \"furious\"}\n").unwrap();
/// let err = voc::read_examples(&path, &voc::ReadOptions::default()).unwrap_err();
/// assert!(err.to_string().contains("a.jsonl:1: sentiment"));
/// # Ok::<(), voc::Error>(())
/// ```
pub fn read_examples(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<Vec<Example>> {
    let path = path.as_ref();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = std::io::BufReader::new(file);
    let rows = match ext.as_str() {
        "csv" => read_delimited(path, reader, b',', opts)?,
        "tsv" => read_delimited(path, reader, b'\t', opts)?,
        _ => read_jsonl(path, reader, opts)?,
    };
    if rows.is_empty() {
        return Err(Error::data(path, 0, "file", "no rows"));
    }
    Ok(rows)
}

fn read_jsonl(path: &Path, mut reader: impl BufRead, opts: &ReadOptions) -> Result<Vec<Example>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        line += 1;
        let s = std::str::from_utf8(&buf)
            .map_err(|e| Error::data(path, line, "line", format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
        if s.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(s).map_err(|e| Error::data(path, line, "line", format!("not JSON: {e}")))?;
        let obj = v.as_object().ok_or_else(|| Error::data(path, line, "line", "not a JSON object"))?;
        let text = match obj.get(&opts.text_column) {
            Some(serde_json::Value::String(t)) => t.clone(),
            Some(_) => return Err(Error::data(path, line, &opts.text_column, "not a string")),
            None => return Err(Error::data(path, line, &opts.text_column, "missing")),
        };
        let sentiment = match obj.get(&opts.sentiment_column) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(Error::data(path, line, &opts.sentiment_column, "not a string")),
        };
        let tags = match obj.get(&opts.tags_column) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Array(a)) => {
                let mut tags = Vec::with_capacity(a.len());
                for t in a {
                    match t {
                        serde_json::Value::String(s) => tags.push(s.clone()),
                        _ => return Err(Error::data(path, line, &opts.tags_column, "a tag is not a string")),
                    }
                }
                Some(tags)
            }
            Some(_) => return Err(Error::data(path, line, &opts.tags_column, "not a list")),
        };
        let source = obj.get("source").and_then(|s| s.as_str()).map(String::from);
        let soft = match obj.get("soft") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(read_soft(v).map_err(|why| Error::data(path, line, "soft", why))?),
        };
        let confidence = match obj.get("confidence") {
            None | Some(serde_json::Value::Null) => None,
            // The enum's own serde names, so the two cannot drift apart.
            Some(v) => Some(
                Confidence::deserialize(v)
                    .map_err(|_| Error::data(path, line, "confidence", "not \"high\" or \"low\""))?,
            ),
        };
        out.push(check_row(path, line, opts, Example { text, sentiment, tags, source, soft, confidence })?);
    }
    Ok(out)
}

fn read_delimited(path: &Path, reader: impl std::io::Read, delim: u8, opts: &ReadOptions) -> Result<Vec<Example>> {
    let mut rdr = csv::ReaderBuilder::new().delimiter(delim).flexible(false).from_reader(reader);
    let headers = rdr.byte_headers().map_err(|e| Error::data(path, 1, "header", e.to_string()))?.clone();
    let find = |name: &str| headers.iter().position(|h| h == name.as_bytes());
    let text_i = find(&opts.text_column).ok_or_else(|| {
        let cols: Vec<String> = headers.iter().map(|h| String::from_utf8_lossy(h).into_owned()).collect();
        Error::data(path, 1, &opts.text_column, format!("no such column; columns are {cols:?}"))
    })?;
    let sent_i = find(&opts.sentiment_column);
    let tags_i = find(&opts.tags_column);
    if sent_i.is_none() && tags_i.is_none() {
        return Err(Error::data(
            path,
            1,
            "header",
            format!("neither a {:?} nor a {:?} column: no labels", opts.sentiment_column, opts.tags_column),
        ));
    }
    let mut out = Vec::new();
    let mut rec = csv::ByteRecord::new();
    loop {
        let more = rdr.read_byte_record(&mut rec).map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            Error::data(path, line, "record", e.to_string())
        })?;
        if !more {
            break;
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let field = |i: usize, name: &str| -> Result<String> {
            let raw = rec.get(i).unwrap_or(b"");
            String::from_utf8(raw.to_vec()).map_err(|e| {
                Error::data(path, line, name, format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()))
            })
        };
        let text = field(text_i, &opts.text_column)?;
        let sentiment = match sent_i {
            Some(i) => Some(field(i, &opts.sentiment_column)?).filter(|s| !s.trim().is_empty()),
            None => None,
        };
        let tags = match tags_i {
            Some(i) => {
                let cell = field(i, &opts.tags_column)?;
                if cell.trim() == "?" {
                    None
                } else {
                    Some(cell.split(';').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect())
                }
            }
            None => None,
        };
        out.push(check_row(
            path,
            line,
            opts,
            Example { text, sentiment, tags, source: None, soft: None, confidence: None },
        )?);
    }
    Ok(out)
}

/// The `soft` object of a JSONL row: `{"sentiment": {class: p}, "tags": {tag: p}}`.
fn read_soft(v: &serde_json::Value) -> std::result::Result<SoftLabels, String> {
    let obj = v.as_object().ok_or("not an object of probabilities")?;
    let map = |key: &str| -> std::result::Result<Option<BTreeMap<String, f32>>, String> {
        match obj.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Object(m)) => {
                let mut out = BTreeMap::new();
                for (k, p) in m {
                    let p = p.as_f64().ok_or_else(|| format!("{key}.{k}: not a number"))?;
                    if !(0.0..=1.0).contains(&p) {
                        return Err(format!("{key}.{k}: probability {p} is not in [0, 1]"));
                    }
                    out.insert(k.clone(), p as f32);
                }
                Ok(Some(out))
            }
            Some(_) => Err(format!("{key}: not an object of probabilities")),
        }
    };
    if let Some(k) = obj.keys().find(|k| *k != "sentiment" && *k != "tags") {
        return Err(format!("unknown key {k:?} (expected \"sentiment\" and/or \"tags\")"));
    }
    Ok(SoftLabels { sentiment: map("sentiment")?, tags: map("tags")? })
}

fn check_row(path: &Path, line: u64, opts: &ReadOptions, ex: Example) -> Result<Example> {
    if ex.text.trim().is_empty() {
        return Err(Error::data(path, line, &opts.text_column, "empty text"));
    }
    if ex.sentiment.is_none() && ex.tags.is_none() {
        return Err(Error::data(path, line, "labels", "neither a sentiment nor tags: the row has no label"));
    }
    if let Some(s) = &ex.sentiment {
        if !opts.sentiment_classes.contains(s) {
            return Err(Error::data(
                path,
                line,
                &opts.sentiment_column,
                format!("unknown sentiment {s:?} (expected one of {:?})", opts.sentiment_classes),
            ));
        }
    }
    if let Some(soft) = &ex.soft {
        if let Some(ps) = &soft.sentiment {
            if ex.sentiment.is_none() {
                return Err(Error::data(path, line, "soft", "soft sentiment without a sentiment label"));
            }
            if let Some(c) = ps.keys().find(|c| !opts.sentiment_classes.contains(c)) {
                return Err(Error::data(path, line, "soft", format!("unknown sentiment class {c:?}")));
            }
            let sum: f32 = ps.values().sum();
            if (sum - 1.0).abs() > 0.01 {
                return Err(Error::data(path, line, "soft", format!("sentiment probabilities sum to {sum}, not 1")));
            }
        }
        if soft.tags.is_some() && ex.tags.is_none() {
            return Err(Error::data(path, line, "soft", "soft tags without a tags label"));
        }
        if let (Some(pt), Some(allowed)) = (&soft.tags, &opts.tags) {
            if let Some(t) = pt.keys().find(|t| !allowed.contains(t)) {
                return Err(Error::data(
                    path,
                    line,
                    "soft",
                    format!("unknown tag {t:?} (expected one of {allowed:?})"),
                ));
            }
        }
    }
    if let Some(tags) = &ex.tags {
        for t in tags {
            if t.trim().is_empty() {
                return Err(Error::data(path, line, &opts.tags_column, "empty tag name"));
            }
            if let Some(allowed) = &opts.tags {
                if !allowed.contains(t) {
                    return Err(Error::data(
                        path,
                        line,
                        &opts.tags_column,
                        format!("unknown tag {t:?} (expected one of {allowed:?})"),
                    ));
                }
            }
        }
    }
    Ok(ex)
}

/// The evaluation hash of a text: whitespace runs collapsed to one space and
/// trimmed, lowercased, SHA-256 of the UTF-8 bytes, first 16 hex digits.
///
/// ```
/// assert_eq!(voc::eval_hash("  Hello\n  World "), voc::eval_hash("hello world"));
/// assert_eq!(voc::eval_hash("hello world").len(), 16);
/// ```
pub fn eval_hash(text: &str) -> String {
    let norm = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let d = Sha256::digest(norm.as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A set of evaluation hashes (one per line, as in `eval-hashes.txt`) whose
/// texts must never be trained on.
#[derive(Debug, Clone, Default)]
pub struct HashList {
    hashes: HashSet<String>,
    path: Option<PathBuf>,
}

impl HashList {
    /// Read a hash list file.
    ///
    /// ```
    /// let err = voc::HashList::read("no/such/eval-hashes.txt").unwrap_err();
    /// assert!(matches!(err, voc::Error::Io { .. }));
    /// ```
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut hashes = HashSet::new();
        for (i, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() {
                continue;
            }
            if l.len() != 16 || !l.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::data(path, i as u64 + 1, "hash", format!("{l:?} is not 16 hex digits")));
            }
            hashes.insert(l.to_ascii_lowercase());
        }
        Ok(HashList { hashes, path: Some(path.to_path_buf()) })
    }

    /// A list from hashes in memory.
    ///
    /// ```
    /// let list = voc::HashList::from_hashes([voc::eval_hash("secret test text")]);
    /// assert!(list.contains_text("Secret  TEST text"));
    /// ```
    pub fn from_hashes<I: IntoIterator<Item = String>>(hashes: I) -> Self {
        HashList { hashes: hashes.into_iter().map(|h| h.to_ascii_lowercase()).collect(), path: None }
    }

    /// Whether the text's evaluation hash is in the list.
    pub fn contains_text(&self, text: &str) -> bool {
        !self.hashes.is_empty() && self.hashes.contains(&eval_hash(text))
    }

    /// Number of hashes.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The file it was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}
