//! What an archive says: [`FeedbackReport`] aggregates the output of
//! [`score_file`](crate::score_file) (`voc score`, JSONL or CSV, plain or
//! gzip) in one streaming pass and renders a self-contained HTML page
//! (inline SVG charts, no script or style from outside) and a plain-text
//! summary.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde_json::Value;

use crate::batch::{extension, open_input};
use crate::{Error, Result};

/// How [`FeedbackReport`] buckets the `--time` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Period {
    /// One bucket a calendar day (`2024-03-07`).
    Day,
    /// One bucket an ISO week, named by its Monday (`2024-03-04`).
    Week,
    /// One bucket a calendar month (`2024-03`).
    #[default]
    Month,
}

/// What a [`FeedbackReport`] groups by and how much it shows.
///
/// | option | default | purpose |
/// |---|---|---|
/// | `by` | none | a column of the scored file (kept with `--keep-columns`): tags by group |
/// | `time` | none | a date column (`YYYY-MM-DD...`, or Unix seconds): trends over time |
/// | `period` | month | time bucket |
/// | `examples_per_tag` | 3 | example comments shown per tag (most probable first) |
/// | `top_phrases` | 10 | evidence words shown per tag |
/// | `max_groups` | 12 | groups shown (largest first; the rest summed as `(other)`) |
///
/// ```
/// let o = voc::ReportOptions::default().by("channel").time("date").period(voc::Period::Week);
/// assert_eq!(o.by.as_deref(), Some("channel"));
/// assert_eq!(o.examples_per_tag, 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReportOptions {
    /// Group column.
    pub by: Option<String>,
    /// Date column.
    pub time: Option<String>,
    /// Time bucket.
    pub period: Period,
    /// Example comments per tag.
    pub examples_per_tag: usize,
    /// Evidence words per tag.
    pub top_phrases: usize,
    /// Groups shown.
    pub max_groups: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            by: None,
            time: None,
            period: Period::Month,
            examples_per_tag: 3,
            top_phrases: 10,
            max_groups: 12,
        }
    }
}

impl ReportOptions {
    /// Show tags by the groups of this column.
    ///
    /// ```
    /// assert_eq!(voc::ReportOptions::default().by("region").by.as_deref(), Some("region"));
    /// ```
    #[must_use]
    pub fn by(mut self, column: impl Into<String>) -> Self {
        self.by = Some(column.into());
        self
    }

    /// Show trends over this date column.
    ///
    /// ```
    /// assert_eq!(voc::ReportOptions::default().time("created").time.as_deref(), Some("created"));
    /// ```
    #[must_use]
    pub fn time(mut self, column: impl Into<String>) -> Self {
        self.time = Some(column.into());
        self
    }

    /// Bucket dates by day, week or month (default month).
    ///
    /// ```
    /// assert_eq!(voc::ReportOptions::default().period(voc::Period::Day).period, voc::Period::Day);
    /// ```
    #[must_use]
    pub fn period(mut self, period: Period) -> Self {
        self.period = period;
        self
    }

    /// Example comments shown per tag (default 3).
    ///
    /// ```
    /// assert_eq!(voc::ReportOptions::default().examples_per_tag(5).examples_per_tag, 5);
    /// ```
    #[must_use]
    pub fn examples_per_tag(mut self, n: usize) -> Self {
        self.examples_per_tag = n;
        self
    }

    /// Evidence words shown per tag (default 10).
    ///
    /// ```
    /// assert_eq!(voc::ReportOptions::default().top_phrases(5).top_phrases, 5);
    /// ```
    #[must_use]
    pub fn top_phrases(mut self, n: usize) -> Self {
        self.top_phrases = n;
        self
    }

    /// Groups shown (default 12; at least 1).
    ///
    /// ```
    /// assert_eq!(voc::ReportOptions::default().max_groups(0).max_groups, 1);
    /// ```
    #[must_use]
    pub fn max_groups(mut self, n: usize) -> Self {
        self.max_groups = n.max(1);
        self
    }
}

/// Counts of one group or one time bucket.
#[derive(Debug, Clone, Default)]
struct Bucket {
    rows: u64,
    negative: u64,
    tags: Vec<u64>,
}

impl Bucket {
    fn add(&mut self, negative: bool, tags: &[usize], ntags: usize) {
        if self.tags.len() < ntags {
            self.tags.resize(ntags, 0);
        }
        self.rows += 1;
        self.negative += u64::from(negative);
        for &t in tags {
            self.tags[t] += 1;
        }
    }
}

/// One example comment of a tag.
#[derive(Debug, Clone)]
struct Example {
    probability: f32,
    sentiment: String,
    text: String,
}

/// Distinct groups tracked before the rest are summed as `(other)`.
const MAX_TRACKED_GROUPS: usize = 10_000;
/// Distinct evidence words tracked per tag.
const MAX_TRACKED_PHRASES: usize = 100_000;
/// Function words left out of the evidence-word counts (they carry a label
/// only together with the words around them).
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "had", "has", "have", "he", "her",
    "his", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "she", "so", "that", "the", "their",
    "them", "then", "there", "they", "this", "to", "was", "we", "were", "which", "who", "with", "you", "your",
];
/// Longest example text shown, in chars.
const EXAMPLE_CHARS: usize = 400;

/// The aggregate of a scored file: sentiment distribution, tag counts and
/// shares, tags by group, trends over time, evidence words and examples per
/// tag. Built in one streaming pass (memory does not grow with the rows).
///
/// ```
/// # fn main() -> voc::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let input = dir.path().join("in.csv");
/// std::fs::write(&input, "channel,comment\napp,The app crashed <again>.\nweb,Lovely staff!\n").unwrap();
/// let scored = dir.path().join("scored.jsonl");
/// let opts = voc::ScoreOptions::new([&input]).output(&scored).keep_columns(["channel"]);
/// voc::score_file(&voc::Classifier::embedded()?, &opts, |_| {})?;
///
/// let report = voc::FeedbackReport::from_file(&scored, &voc::ReportOptions::default().by("channel"))?;
/// assert_eq!(report.rows(), 2);
/// assert_eq!(report.tag_count("product_failure"), Some(1));
/// let html = report.to_html();
/// assert!(html.contains("<svg") && html.contains("&lt;again&gt;") && !html.contains("<again>"));
/// assert!(report.to_text().contains("product_failure"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FeedbackReport {
    source: PathBuf,
    options: ReportOptions,
    rows: u64,
    skipped: u64,
    classes: Vec<String>,
    sentiment: BTreeMap<String, u64>,
    score_sum: f64,
    tags: Vec<String>,
    tag_counts: Vec<u64>,
    tag_prob_sum: Vec<f64>,
    groups: HashMap<String, Bucket>,
    other_group: Bucket,
    periods: BTreeMap<String, Bucket>,
    undated: u64,
    phrases: Vec<HashMap<String, u64>>,
    examples: Vec<Vec<Example>>,
}

/// One row of a scored file, as the report needs it.
#[derive(Default)]
struct Scored {
    sentiment: String,
    score: f32,
    tags: Vec<String>,
    tag_probs: Vec<f32>,
    evidence: Vec<(String, Vec<String>, Option<String>)>,
    text: Option<String>,
    group: Option<String>,
    time: Option<String>,
}

/// Rows of a scored file, JSONL or CSV.
enum ScoredReader {
    Jsonl(crate::batch::Input),
    Csv(csv::Reader<crate::batch::Input>, Vec<String>),
}

impl ScoredReader {
    fn open(path: &Path) -> Result<(ScoredReader, Vec<String>)> {
        let mut input = open_input(path, Arc::new(AtomicU64::new(0)))?;
        let head = input.fill_buf().map_err(|e| Error::io(path, e))?;
        let jsonl = match extension(path).as_str() {
            "csv" => false,
            "jsonl" | "ndjson" | "json" => true,
            _ => head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
        };
        if jsonl {
            // Columns: the keys of the first object.
            let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
            let names = match serde_json::from_slice::<Value>(first) {
                Ok(Value::Object(m)) => m.keys().cloned().collect(),
                _ => Vec::new(),
            };
            Ok((ScoredReader::Jsonl(input), names))
        } else {
            let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(input);
            let names: Vec<String> = r
                .headers()
                .map_err(|e| Error::data(path, 1, "header", e.to_string()))?
                .iter()
                .map(String::from)
                .collect();
            Ok((ScoredReader::Csv(r, names.clone()), names))
        }
    }
}

fn f32_of(v: Option<&Value>) -> f32 {
    match v {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0) as f32,
        Some(Value::String(s)) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn text_of(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

impl FeedbackReport {
    /// Read a file written by [`score_file`](crate::score_file) (JSONL or
    /// CSV, plain or gzip) and aggregate it.
    ///
    /// Fails when the file is not a `voc score` output (no `sentiment`
    /// column) or when a `by` / `time` column is missing; the message lists
    /// the columns. Lines that cannot be parsed are counted and skipped.
    ///
    /// ```
    /// let err = voc::FeedbackReport::from_file("no/such.jsonl", &voc::ReportOptions::default()).unwrap_err();
    /// assert!(err.to_string().contains("no/such.jsonl"));
    /// ```
    pub fn from_file(path: impl AsRef<Path>, options: &ReportOptions) -> Result<FeedbackReport> {
        let path = path.as_ref();
        let (mut reader, names) = ScoredReader::open(path)?;
        let listed = || names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        if !names.iter().any(|n| n == "sentiment") {
            return Err(Error::data(
                path,
                1,
                "sentiment",
                format!("not an output of voc score (no `sentiment` column); the columns are: {}", listed()),
            ));
        }
        for (field, col) in [("by", &options.by), ("time", &options.time)] {
            if let Some(c) = col {
                if !names.contains(c) {
                    return Err(Error::data(
                        path,
                        1,
                        field,
                        format!(
                            "no column `{c}`; the columns are: {} (copy input columns with voc score --keep-columns)",
                            listed()
                        ),
                    ));
                }
            }
        }
        let tags: Vec<String> = names.iter().filter_map(|n| n.strip_prefix("tag_").map(String::from)).collect();
        let classes: Vec<String> = names.iter().filter_map(|n| n.strip_prefix("p_").map(String::from)).collect();
        let n = tags.len();
        let mut rep = FeedbackReport {
            source: path.to_path_buf(),
            options: options.clone(),
            rows: 0,
            skipped: 0,
            sentiment: classes.iter().map(|c| (c.clone(), 0)).collect(),
            classes,
            score_sum: 0.0,
            tag_counts: vec![0; n],
            tag_prob_sum: vec![0.0; n],
            phrases: vec![HashMap::new(); n],
            examples: vec![Vec::new(); n],
            tags,
            groups: HashMap::new(),
            other_group: Bucket::default(),
            periods: BTreeMap::new(),
            undated: 0,
        };
        match &mut reader {
            ScoredReader::Jsonl(input) => {
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    if input.read_until(b'\n', &mut buf).map_err(|e| Error::io(path, e))? == 0 {
                        break;
                    }
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match serde_json::from_slice::<Value>(&buf) {
                        Ok(Value::Object(m)) if m.contains_key("sentiment") => {
                            let row = rep.parse_json(&m);
                            rep.add(row);
                        }
                        _ => rep.skipped += 1,
                    }
                }
            }
            ScoredReader::Csv(r, names) => {
                let idx: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
                let mut rec = csv::StringRecord::new();
                loop {
                    match r.read_record(&mut rec) {
                        Ok(false) => break,
                        Ok(true) => {
                            let row = rep.parse_csv(&rec, &idx);
                            rep.add(row);
                        }
                        Err(e) if e.is_io_error() => {
                            return Err(Error::io(path, std::io::Error::other(e)));
                        }
                        Err(_) => rep.skipped += 1,
                    }
                }
            }
        }
        Ok(rep)
    }

    fn parse_json(&self, m: &serde_json::Map<String, Value>) -> Scored {
        let evidence = match m.get("evidence") {
            Some(Value::Object(e)) => e
                .iter()
                .map(|(t, v)| (t.clone(), strings(v.get("words")), strings(v.get("sentences")).into_iter().next()))
                .collect(),
            _ => Vec::new(),
        };
        Scored {
            sentiment: text_of(m.get("sentiment")).unwrap_or_default(),
            score: f32_of(m.get("sentiment_score")),
            tags: strings(m.get("tags")),
            tag_probs: self.tags.iter().map(|t| f32_of(m.get(&format!("tag_{t}")))).collect(),
            evidence,
            text: text_of(m.get("text")),
            group: self.options.by.as_ref().and_then(|c| text_of(m.get(c))),
            time: self.options.time.as_ref().and_then(|c| text_of(m.get(c))),
        }
    }

    fn parse_csv(&self, rec: &csv::StringRecord, idx: &HashMap<&str, usize>) -> Scored {
        let get = |k: &str| idx.get(k).and_then(|&i| rec.get(i)).filter(|s| !s.is_empty());
        let tags: Vec<String> = get("tags").map(|s| s.split(';').map(String::from).collect()).unwrap_or_default();
        let evidence = tags
            .iter()
            .map(|t| {
                let words = get(&format!("evidence_words_{t}"))
                    .map(|s| s.split(';').map(String::from).collect())
                    .unwrap_or_default();
                (t.clone(), words, get(&format!("evidence_sentence_{t}")).map(String::from))
            })
            .collect();
        Scored {
            sentiment: get("sentiment").unwrap_or_default().to_string(),
            score: get("sentiment_score").and_then(|s| s.parse().ok()).unwrap_or(0.0),
            tag_probs: self
                .tags
                .iter()
                .map(|t| get(&format!("tag_{t}")).and_then(|s| s.parse().ok()).unwrap_or(0.0))
                .collect(),
            tags,
            evidence,
            text: get("text").map(String::from),
            group: self.options.by.as_deref().and_then(get).map(String::from),
            time: self.options.time.as_deref().and_then(get).map(String::from),
        }
    }

    fn add(&mut self, row: Scored) {
        let n = self.tags.len();
        self.rows += 1;
        *self.sentiment.entry(row.sentiment.clone()).or_insert(0) += 1;
        self.score_sum += f64::from(row.score);
        let tag_idx: Vec<usize> = row.tags.iter().filter_map(|t| self.tags.iter().position(|x| x == t)).collect();
        for (i, p) in row.tag_probs.iter().enumerate() {
            self.tag_prob_sum[i] += f64::from(*p);
        }
        let negative = row.sentiment == "negative";
        for &t in &tag_idx {
            self.tag_counts[t] += 1;
        }
        for (tag, words, sentence) in &row.evidence {
            let Some(t) = self.tags.iter().position(|x| x == tag) else { continue };
            for w in words {
                let w = w.trim().to_lowercase();
                let map = &mut self.phrases[t];
                if !w.chars().any(char::is_alphanumeric)
                    || STOPWORDS.contains(&w.as_str())
                    || (map.len() >= MAX_TRACKED_PHRASES && !map.contains_key(&w))
                {
                    continue;
                }
                *map.entry(w).or_insert(0) += 1;
            }
            // Example comments: the most probable ones, distinct texts.
            let text = row.text.clone().or_else(|| sentence.clone()).unwrap_or_default();
            let k = self.options.examples_per_tag;
            let ex = &mut self.examples[t];
            let p = row.tag_probs.get(t).copied().unwrap_or(0.0);
            if k == 0 || text.trim().is_empty() || ex.iter().any(|e| e.text == text) {
                continue;
            }
            if ex.len() < k || ex.last().is_some_and(|e| e.probability < p) {
                let text = if text.chars().count() > EXAMPLE_CHARS {
                    text.chars().take(EXAMPLE_CHARS).collect::<String>() + "…"
                } else {
                    text
                };
                ex.push(Example { probability: p, sentiment: row.sentiment.clone(), text });
                ex.sort_by(|a, b| b.probability.total_cmp(&a.probability));
                ex.truncate(k);
            }
        }
        if let Some(g) = row.group {
            let g = if g.trim().is_empty() { "(empty)".to_string() } else { g };
            if let Some(b) = self.groups.get_mut(&g) {
                b.add(negative, &tag_idx, n);
            } else if self.groups.len() < MAX_TRACKED_GROUPS {
                self.groups.entry(g).or_default().add(negative, &tag_idx, n);
            } else {
                self.other_group.add(negative, &tag_idx, n);
            }
        }
        if self.options.time.is_some() {
            match row.time.as_deref().and_then(|t| period_key(t, self.options.period)) {
                Some(k) => self.periods.entry(k).or_default().add(negative, &tag_idx, n),
                None => self.undated += 1,
            }
        }
    }

    /// Rows aggregated.
    ///
    /// ```
    /// # fn main() -> voc::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let scored = dir.path().join("s.jsonl");
    /// # std::fs::write(&scored, "{\"row\":1,\"sentiment\":\"neutral\",\"tags\":[]}\n").unwrap();
    /// let r = voc::FeedbackReport::from_file(&scored, &Default::default())?;
    /// assert_eq!(r.rows(), 1);
    /// # Ok(()) }
    /// ```
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Lines of the scored file that could not be read (skipped).
    ///
    /// ```
    /// # fn main() -> voc::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let scored = dir.path().join("s.jsonl");
    /// std::fs::write(&scored, "{\"sentiment\":\"neutral\",\"tags\":[]}\nnot json\n").unwrap();
    /// assert_eq!(voc::FeedbackReport::from_file(&scored, &Default::default())?.skipped(), 1);
    /// # Ok(()) }
    /// ```
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Rows per sentiment class.
    ///
    /// ```
    /// # fn main() -> voc::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let scored = dir.path().join("s.jsonl");
    /// std::fs::write(&scored, "{\"sentiment\":\"negative\",\"p_negative\":0.9,\"tags\":[]}\n").unwrap();
    /// let r = voc::FeedbackReport::from_file(&scored, &Default::default())?;
    /// assert_eq!(r.sentiment_counts()["negative"], 1);
    /// # Ok(()) }
    /// ```
    pub fn sentiment_counts(&self) -> &BTreeMap<String, u64> {
        &self.sentiment
    }

    /// Rows carrying the tag `name` (None for a tag the file does not have).
    ///
    /// ```
    /// # fn main() -> voc::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let scored = dir.path().join("s.jsonl");
    /// std::fs::write(&scored, "{\"sentiment\":\"negative\",\"tags\":[\"late\"],\"tag_late\":0.8}\n").unwrap();
    /// let r = voc::FeedbackReport::from_file(&scored, &Default::default())?;
    /// assert_eq!((r.tag_count("late"), r.tag_count("other")), (Some(1), None));
    /// # Ok(()) }
    /// ```
    pub fn tag_count(&self, name: &str) -> Option<u64> {
        self.tags.iter().position(|t| t == name).map(|i| self.tag_counts[i])
    }

    fn share(&self, count: u64, of: u64) -> f64 {
        if of == 0 { 0.0 } else { count as f64 / of as f64 }
    }

    /// Sentiment classes in display order: the model's, then any others seen.
    fn sentiment_rows(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> =
            self.classes.iter().map(|c| (c.clone(), self.sentiment.get(c).copied().unwrap_or(0))).collect();
        for (k, &c) in &self.sentiment {
            if !self.classes.contains(k) {
                v.push((k.clone(), c));
            }
        }
        v
    }

    /// Tag indices, most frequent first.
    fn tag_order(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.tags.len()).collect();
        v.sort_by(|&a, &b| self.tag_counts[b].cmp(&self.tag_counts[a]).then(self.tags[a].cmp(&self.tags[b])));
        v
    }

    /// The groups shown: largest first, the rest summed as `(other)`.
    fn group_rows(&self) -> Vec<(String, Bucket)> {
        let mut v: Vec<(&String, &Bucket)> = self.groups.iter().collect();
        v.sort_by(|a, b| b.1.rows.cmp(&a.1.rows).then(a.0.cmp(b.0)));
        let keep = self.options.max_groups;
        let mut out: Vec<(String, Bucket)> = v.iter().take(keep).map(|(k, b)| ((*k).clone(), (*b).clone())).collect();
        let mut other = self.other_group.clone();
        for (_, b) in v.iter().skip(keep) {
            other.rows += b.rows;
            other.negative += b.negative;
            other.tags.resize(self.tags.len(), 0);
            for (i, c) in b.tags.iter().enumerate() {
                other.tags[i] += c;
            }
        }
        if other.rows > 0 {
            out.push(("(other)".into(), other));
        }
        out
    }

    fn top_phrases(&self, t: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.phrases[t].iter().map(|(k, &c)| (k.as_str(), c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(self.options.top_phrases);
        v
    }

    /// The plain-text summary `voc report` prints.
    ///
    /// ```
    /// # fn main() -> voc::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let scored = dir.path().join("s.jsonl");
    /// std::fs::write(&scored, "{\"sentiment\":\"negative\",\"p_negative\":0.9,\"tags\":[\"late\"],\"tag_late\":0.8}\n").unwrap();
    /// let text = voc::FeedbackReport::from_file(&scored, &Default::default())?.to_text();
    /// assert!(text.contains("negative") && text.contains("late"));
    /// # Ok(()) }
    /// ```
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{} comments in {}", self.rows, self.source.display());
        if self.skipped > 0 {
            let _ = writeln!(s, "({} unreadable line(s) skipped)", self.skipped);
        }
        let _ = writeln!(s, "\nSentiment (mean score {:+.2})", self.score_sum / self.rows.max(1) as f64);
        for (c, n) in self.sentiment_rows() {
            let _ = writeln!(s, "  {:<20} {:>10} {:>6.1}%", c, n, 100.0 * self.share(n, self.rows));
        }
        let _ = writeln!(s, "\nTags (share of comments; top evidence words)");
        for t in self.tag_order() {
            let words: Vec<&str> = self.top_phrases(t).iter().take(5).map(|p| p.0).collect();
            let _ = writeln!(
                s,
                "  {:<20} {:>10} {:>6.1}%  {}",
                self.tags[t],
                self.tag_counts[t],
                100.0 * self.share(self.tag_counts[t], self.rows),
                words.join(", ")
            );
        }
        if let Some(by) = &self.options.by {
            let _ = writeln!(s, "\nBy {by} (rows, negative share, top tag)");
            for (g, b) in self.group_rows() {
                let top = (0..self.tags.len())
                    .max_by_key(|&i| b.tags.get(i).copied().unwrap_or(0))
                    .filter(|&i| b.tags.get(i).copied().unwrap_or(0) > 0)
                    .map(|i| format!("{} {:.1}%", self.tags[i], 100.0 * self.share(b.tags[i], b.rows)))
                    .unwrap_or_else(|| "-".into());
                let _ =
                    writeln!(s, "  {:<20} {:>10} {:>6.1}%  {}", g, b.rows, 100.0 * self.share(b.negative, b.rows), top);
            }
        }
        if let Some(time) = &self.options.time {
            let _ = writeln!(s, "\nOver time by {} of {time} (rows, negative share)", period_name(self.options.period));
            for (k, b) in &self.periods {
                let _ = writeln!(s, "  {:<20} {:>10} {:>6.1}%", k, b.rows, 100.0 * self.share(b.negative, b.rows));
            }
            if self.undated > 0 {
                let _ = writeln!(s, "  ({} row(s) without a readable date)", self.undated);
            }
        }
        s
    }

    /// The self-contained HTML report: inline CSS and SVG charts, a
    /// three-line inline script that only marks the page as rendered, no
    /// network. Every text from the data is HTML-escaped.
    ///
    /// ```
    /// # fn main() -> voc::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let scored = dir.path().join("s.jsonl");
    /// std::fs::write(&scored, "{\"sentiment\":\"negative\",\"tags\":[\"late\"],\"tag_late\":0.8,\"text\":\"<b>late</b>\",\"evidence\":{\"late\":{\"words\":[\"late\"],\"sentences\":[]}}}\n").unwrap();
    /// let html = voc::FeedbackReport::from_file(&scored, &Default::default())?.to_html();
    /// assert!(html.contains("&lt;b&gt;late&lt;/b&gt;") && !html.contains("<b>late"));
    /// assert!(!html.contains("http://") && !html.contains("https://"));
    /// # Ok(()) }
    /// ```
    pub fn to_html(&self) -> String {
        let mut h = String::with_capacity(64 * 1024);
        let title = format!("voc report: {}", self.source.file_name().unwrap_or_default().to_string_lossy());
        let _ = writeln!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>",
            esc(&title),
            CSS
        );
        let _ = writeln!(
            h,
            "<header><h1>What the feedback says</h1><p class=\"meta\">{} comments in <code>{}</code>{}</p></header>",
            group_digits(self.rows),
            esc(&self.source.display().to_string()),
            if self.skipped > 0 { format!("; {} unreadable line(s) skipped", self.skipped) } else { String::new() }
        );

        // Sentiment.
        let sent = self.sentiment_rows();
        let bars: Vec<Bar> = sent
            .iter()
            .map(|(c, n)| Bar {
                label: c.clone(),
                value: self.share(*n, self.rows),
                note: format!("{} ({:.1}%)", group_digits(*n), 100.0 * self.share(*n, self.rows)),
                color: sentiment_color(c),
            })
            .collect();
        let _ = writeln!(
            h,
            "<section id=\"sentiment\"><h2>Sentiment</h2><p>Mean sentiment score {:+.2} (from -1, all negative, to +1, all positive).</p>{}</section>",
            self.score_sum / self.rows.max(1) as f64,
            hbars("Sentiment distribution", &bars, 1.0)
        );

        // Tags.
        let order = self.tag_order();
        let bars: Vec<Bar> = order
            .iter()
            .map(|&t| Bar {
                label: self.tags[t].clone(),
                value: self.share(self.tag_counts[t], self.rows),
                note: format!(
                    "{} ({:.1}%)",
                    group_digits(self.tag_counts[t]),
                    100.0 * self.share(self.tag_counts[t], self.rows)
                ),
                color: PALETTE[t % PALETTE.len()].to_string(),
            })
            .collect();
        let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
        let _ = write!(
            h,
            "<section id=\"tags\"><h2>Tags</h2><p>Share of comments carrying each tag (a comment can carry several).</p>{}<table><thead><tr><th>tag</th><th>comments</th><th>share</th><th>mean probability</th></tr></thead><tbody>",
            hbars("Tag counts and shares", &bars, max)
        );
        for &t in &order {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}%</td><td class=\"n\">{:.3}</td></tr>",
                esc(&self.tags[t]),
                group_digits(self.tag_counts[t]),
                100.0 * self.share(self.tag_counts[t], self.rows),
                self.tag_prob_sum[t] / self.rows.max(1) as f64
            );
        }
        h.push_str("</tbody></table></section>\n");

        // Groups.
        if let Some(by) = &self.options.by {
            let groups = self.group_rows();
            let _ = write!(
                h,
                "<section id=\"groups\"><h2>Tags by {}</h2><p>Share of each group's comments carrying each tag, and the group's negative share.</p>{}",
                esc(by),
                group_matrix(&format!("Tags by {by}"), &groups, &self.tags, &order)
            );
            h.push_str("<table><thead><tr><th>");
            h.push_str(&esc(by));
            h.push_str("</th><th>comments</th><th>negative</th>");
            for &t in &order {
                let _ = write!(h, "<th>{}</th>", esc(&self.tags[t]));
            }
            h.push_str("</tr></thead><tbody>");
            for (g, b) in &groups {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}%</td>",
                    esc(g),
                    group_digits(b.rows),
                    100.0 * self.share(b.negative, b.rows)
                );
                for &t in &order {
                    let c = b.tags.get(t).copied().unwrap_or(0);
                    let _ = write!(h, "<td class=\"n\">{:.1}%</td>", 100.0 * self.share(c, b.rows));
                }
                h.push_str("</tr>");
            }
            h.push_str("</tbody></table></section>\n");
        }

        // Trends.
        if let Some(time) = &self.options.time {
            let _ = write!(
                h,
                "<section id=\"trends\"><h2>Over time</h2><p>Share of comments per {} of <code>{}</code> carrying each tag; dashed: negative share.{}</p>{}",
                period_name(self.options.period),
                esc(time),
                if self.undated > 0 {
                    format!(" {} row(s) without a readable date are left out.", group_digits(self.undated))
                } else {
                    String::new()
                },
                trend_chart(&self.periods, &self.tags, &order)
            );
            h.push_str("</section>\n");
        }

        // Evidence and examples.
        h.push_str("<section id=\"evidence\"><h2>Evidence: the words behind each tag</h2><p>The words that pushed each tag most, counted over the comments carrying it.</p><div class=\"grid\">");
        for &t in &order {
            let top = self.top_phrases(t);
            let _ = write!(h, "<div class=\"card\"><h3>{}</h3>", esc(&self.tags[t]));
            if top.is_empty() {
                h.push_str("<p class=\"meta\">no evidence</p>");
            } else {
                let bars: Vec<Bar> = top
                    .iter()
                    .map(|(w, c)| Bar {
                        label: (*w).to_string(),
                        value: *c as f64,
                        note: group_digits(*c),
                        color: PALETTE[t % PALETTE.len()].to_string(),
                    })
                    .collect();
                let max = bars.first().map(|b| b.value).unwrap_or(1.0);
                h.push_str(&hbars(&format!("Evidence words for {}", self.tags[t]), &bars, max));
            }
            h.push_str("</div>");
        }
        h.push_str("</div></section>\n<section id=\"examples\"><h2>Example comments</h2>");
        for &t in &order {
            let _ = write!(h, "<h3>{}</h3>", esc(&self.tags[t]));
            if self.examples[t].is_empty() {
                h.push_str("<p class=\"meta\">none</p>");
            }
            for e in &self.examples[t] {
                let _ = write!(
                    h,
                    "<blockquote><p>{}</p><footer>{} {:.2} · {}</footer></blockquote>",
                    esc(&e.text),
                    esc(&self.tags[t]),
                    e.probability,
                    esc(&e.sentiment)
                );
            }
        }
        h.push_str("</section>\n<footer class=\"meta\">Made by voc report. Self-contained: no network, no external files.</footer>\n");
        h.push_str(
            "<script>\ndocument.body.setAttribute('data-charts', String(document.querySelectorAll('svg.chart').length));\n</script>\n</body>\n</html>\n",
        );
        h
    }
}

fn period_name(p: Period) -> &'static str {
    match p {
        Period::Day => "day",
        Period::Week => "week",
        Period::Month => "month",
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The time bucket of a date: `YYYY-MM-DD...` (`-` or `/`), or Unix seconds
/// (or milliseconds).
fn period_key(s: &str, period: Period) -> Option<String> {
    let s = s.trim();
    let days = if s.len() >= 10 && s.as_bytes()[4] == s.as_bytes()[7] && matches!(s.as_bytes()[4], b'-' | b'/') {
        let y: i64 = s.get(0..4)?.parse().ok()?;
        let m: i64 = s.get(5..7)?.parse().ok()?;
        let d: i64 = s.get(8..10)?.parse().ok()?;
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        days_from_civil(y, m, d)
    } else if !s.is_empty() && s.len() <= 14 && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        let secs = if s.len() >= 12 { n / 1000 } else { n };
        secs.div_euclid(86_400)
    } else {
        return None;
    };
    let (y, m, d) = civil_from_days(days);
    Some(match period {
        Period::Day => format!("{y:04}-{m:02}-{d:02}"),
        Period::Month => format!("{y:04}-{m:02}"),
        Period::Week => {
            let monday = days - (days + 3).rem_euclid(7);
            let (y, m, d) = civil_from_days(monday);
            format!("{y:04}-{m:02}-{d:02}")
        }
    })
}

/// HTML-escape text (also safe inside attributes and SVG).
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut o = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            o.push(',');
        }
        o.push(c);
    }
    o
}

const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

fn sentiment_color(c: &str) -> String {
    match c {
        "negative" => "#e15759",
        "positive" => "#59a14f",
        "neutral" => "#9d9d9d",
        _ => "#4e79a7",
    }
    .to_string()
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:1.5rem;color:#222;background:#fff;line-height:1.45}\
h1{margin:.2rem 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}h3{margin:.8rem 0 .3rem}\
.meta{color:#666}table{border-collapse:collapse;margin:.8rem 0;font-size:.92rem}th,td{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}svg.chart{display:block;max-width:100%;height:auto}svg text{font-size:12px;fill:#333}\
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem}.card{border:1px solid #eee;border-radius:6px;padding:.5rem .8rem}\
blockquote{margin:.5rem 0;padding:.4rem .8rem;border-left:4px solid #ccc;background:#fafafa}blockquote p{margin:0;white-space:pre-wrap}blockquote footer{color:#666;font-size:.85rem}";

struct Bar {
    label: String,
    value: f64,
    note: String,
    color: String,
}

/// A horizontal bar chart; bar length is `value / max`.
fn hbars(title: &str, bars: &[Bar], max: f64) -> String {
    let (label_w, bar_w, row_h) = (170.0, 360.0, 24.0);
    let w = label_w + bar_w + 130.0;
    let h = row_h * bars.len().max(1) as f64 + 8.0;
    let mut s = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\"><title>{}</title>",
        esc(title),
        esc(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let len = if max > 0.0 { (b.value / max).clamp(0.0, 1.0) * bar_w } else { 0.0 };
        let _ = write!(
            s,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"{label_w}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            label_w - 8.0,
            y + row_h * 0.65,
            esc(&truncate(&b.label, 24)),
            y + 3.0,
            len.max(0.5),
            row_h - 6.0,
            esc(&b.color),
            esc(&b.label),
            esc(&b.note),
            label_w + len + 6.0,
            y + row_h * 0.65,
            esc(&b.note)
        );
    }
    s.push_str("</svg>");
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() > n { s.chars().take(n - 1).collect::<String>() + "…" } else { s.to_string() }
}

/// Small multiples: one row a group; one column a tag (and the negative
/// share), bar length the share of the group's comments.
fn group_matrix(title: &str, groups: &[(String, Bucket)], tags: &[String], order: &[usize]) -> String {
    let (label_w, col_w, row_h, head_h) = (170.0, 120.0, 24.0, 22.0);
    let cols = order.len() + 1;
    let w = label_w + col_w * cols as f64;
    let h = head_h + row_h * groups.len().max(1) as f64 + 4.0;
    let mut s = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\"><title>{}</title>",
        esc(title),
        esc(title)
    );
    let mut heads: Vec<(String, String)> = vec![("negative".into(), sentiment_color("negative"))];
    heads.extend(order.iter().map(|&t| (tags[t].clone(), PALETTE[t % PALETTE.len()].to_string())));
    for (j, (name, _)) in heads.iter().enumerate() {
        let _ = write!(s, "<text x=\"{:.0}\" y=\"14\">{}</text>", label_w + j as f64 * col_w, esc(&truncate(name, 17)));
    }
    // Bars are scaled to the largest share in the chart.
    let share = |c: u64, n: u64| if n == 0 { 0.0 } else { c as f64 / n as f64 };
    let mut max: f64 = 0.0;
    for (_, b) in groups {
        max = max.max(share(b.negative, b.rows));
        for &t in order {
            max = max.max(share(b.tags.get(t).copied().unwrap_or(0), b.rows));
        }
    }
    let max = if max > 0.0 { max } else { 1.0 };
    for (i, (g, b)) in groups.iter().enumerate() {
        let y = head_h + i as f64 * row_h;
        let _ = write!(
            s,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            y + row_h * 0.65,
            esc(&truncate(g, 24))
        );
        for (j, (name, color)) in heads.iter().enumerate() {
            let v = if j == 0 {
                share(b.negative, b.rows)
            } else {
                share(b.tags.get(order[j - 1]).copied().unwrap_or(0), b.rows)
            };
            let x = label_w + j as f64 * col_w;
            let len = (v / max) * (col_w - 50.0);
            let _ = write!(
                s,
                "<rect class=\"bar\" x=\"{x:.0}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{} / {}: {:.1}%</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{:.0}%</text>",
                y + 3.0,
                len.max(0.5),
                row_h - 6.0,
                esc(g),
                esc(name),
                100.0 * v,
                x + len + 4.0,
                y + row_h * 0.65,
                100.0 * v
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Line chart of each tag's share (and the negative share, dashed) per period.
fn trend_chart(periods: &BTreeMap<String, Bucket>, tags: &[String], order: &[usize]) -> String {
    const MAX_POINTS: usize = 120;
    let pts: Vec<(&String, &Bucket)> = periods.iter().collect();
    let pts = &pts[pts.len().saturating_sub(MAX_POINTS)..];
    let (left, top, pw, ph) = (50.0, 10.0, 640.0, 220.0);
    let legend_h = 20.0 * ((order.len() + 1) as f64 / 4.0).ceil();
    let w = left + pw + 20.0;
    let h = top + ph + 40.0 + legend_h;
    let mut s = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"Trends over time\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\"><title>Trends over time</title>"
    );
    if pts.is_empty() {
        let _ = write!(s, "<text x=\"{left}\" y=\"40\">no dated rows</text></svg>");
        return s;
    }
    let share = |c: u64, n: u64| if n == 0 { 0.0 } else { c as f64 / n as f64 };
    let mut series: Vec<(String, String, bool, Vec<f64>)> = vec![(
        "negative".into(),
        sentiment_color("negative"),
        true,
        pts.iter().map(|(_, b)| share(b.negative, b.rows)).collect(),
    )];
    for &t in order {
        series.push((
            tags[t].clone(),
            PALETTE[t % PALETTE.len()].to_string(),
            false,
            pts.iter().map(|(_, b)| share(b.tags.get(t).copied().unwrap_or(0), b.rows)).collect(),
        ));
    }
    let max = series.iter().flat_map(|x| x.3.iter().copied()).fold(0.0, f64::max);
    let max = if max > 0.0 { (max * 10.0).ceil() / 10.0 } else { 1.0 };
    let x_of = |i: usize| left + if pts.len() == 1 { pw / 2.0 } else { pw * i as f64 / (pts.len() - 1) as f64 };
    let y_of = |v: f64| top + ph - ph * v / max;
    // Axes and grid.
    for k in 0..=4 {
        let v = max * k as f64 / 4.0;
        let y = y_of(v);
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{:.0}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/><text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}%</text>",
            left + pw,
            left - 6.0,
            y + 4.0,
            100.0 * v
        );
    }
    let mut labels = vec![0, pts.len() - 1];
    if pts.len() > 2 {
        labels.insert(1, (pts.len() - 1) / 2);
    }
    labels.dedup();
    for i in labels {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.0}\" text-anchor=\"middle\">{}</text>",
            x_of(i),
            top + ph + 18.0,
            esc(pts[i].0)
        );
    }
    for (name, color, dashed, vals) in &series {
        let points: Vec<String> =
            vals.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x_of(i), y_of(*v))).collect();
        let _ = write!(
            s,
            "<polyline class=\"line\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{} points=\"{}\"><title>{}</title></polyline>",
            if *dashed { " stroke-dasharray=\"5,4\"" } else { "" },
            points.join(" "),
            esc(name)
        );
        for (i, v) in vals.iter().enumerate() {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{color}\"><title>{} {}: {:.1}% of {}</title></circle>",
                x_of(i),
                y_of(*v),
                esc(name),
                esc(pts[i].0),
                100.0 * v,
                pts[i].1.rows
            );
        }
    }
    for (k, (name, color, _, _)) in series.iter().enumerate() {
        let x = left + (k % 4) as f64 * 165.0;
        let y = top + ph + 36.0 + (k / 4) as f64 * 20.0;
        let _ = write!(
            s,
            "<rect x=\"{x:.0}\" y=\"{:.0}\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{:.0}\" y=\"{:.0}\">{}</text>",
            y - 10.0,
            x + 16.0,
            y,
            esc(&truncate(name, 20))
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_bucket_by_day_week_month() {
        assert_eq!(period_key("2024-03-07T10:00:00Z", Period::Day).as_deref(), Some("2024-03-07"));
        assert_eq!(period_key("2024/03/07", Period::Month).as_deref(), Some("2024-03"));
        // 2024-03-07 is a Thursday; its week starts on Monday 2024-03-04.
        assert_eq!(period_key("2024-03-07", Period::Week).as_deref(), Some("2024-03-04"));
        assert_eq!(period_key("2024-03-04", Period::Week).as_deref(), Some("2024-03-04"));
        assert_eq!(period_key("2024-01-01", Period::Week).as_deref(), Some("2024-01-01"));
        assert_eq!(period_key("1709805600", Period::Day).as_deref(), Some("2024-03-07"));
        assert_eq!(period_key("1709805600000", Period::Day).as_deref(), Some("2024-03-07"));
        assert_eq!(period_key("yesterday", Period::Day), None);
        assert_eq!(period_key("2024-13-01", Period::Day), None);
        for d in [-1000, 0, 19_000, 800_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn escaping_and_digits() {
        assert_eq!(esc("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
        assert_eq!(group_digits(1_234_567), "1,234,567");
        assert_eq!(group_digits(12), "12");
    }
}
