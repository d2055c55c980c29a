//! Scoring archives: [`Classifier::classify_iter`] (any iterator of texts,
//! chunked and parallel, in order) and [`score_file`] (CSV / TSV / JSONL,
//! plain or gzip, or stdin, to JSONL or CSV with a bad-row file and a
//! checkpoint that `--resume` continues from).
//!
//! Reading is streaming: one chunk of rows is in memory at a time, so memory
//! stays bounded whatever the input size. Each chunk is classified in
//! parallel (rayon), serialized in parallel, appended to the temporary output
//! `OUTPUT.partial`, flushed and fsynced; then the checkpoint
//! `OUTPUT.partial.state` is replaced atomically. A killed run therefore
//! resumes from its last completed chunk, and the rows written after that
//! chunk are cut off before they are written again.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::tokenize::Tokens;
use crate::{Classifier, Error, Prediction, Result};

/// Rows classified together by [`Classifier::classify_iter`] and
/// [`score_file`] unless told otherwise.
pub const DEFAULT_CHUNK_ROWS: usize = 8192;

/// Largest input row [`score_file`] accepts, in bytes, unless told otherwise
/// (1 MiB). Longer rows go to the error file.
pub const DEFAULT_MAX_ROW_BYTES: usize = 1 << 20;

/// Column (CSV/TSV) or field (JSONL) names tried, in order, when no text
/// column is named. Matching ignores case, spaces, `-` and `_`.
pub const TEXT_COLUMN_GUESSES: &[&str] = &[
    "text",
    "comment",
    "comments",
    "feedback",
    "review",
    "review_text",
    "body",
    "message",
    "content",
    "description",
    "verbatim",
    "response",
    "answer",
    "narrative",
    "complaint",
    "remarks",
    "notes",
];

// ---------------------------------------------------------------------------
// classify_iter

impl Classifier {
    /// Classify a stream of texts lazily: texts are pulled in chunks of
    /// [`DEFAULT_CHUNK_ROWS`] (see [`ClassifyIter::chunk_rows`]), each chunk
    /// is classified in parallel, and predictions come out in input order,
    /// one per text, each identical to [`Classifier::classify`]. Only one
    /// chunk is held in memory, so the input can be any size.
    ///
    /// ```
    /// let clf = voc::Classifier::embedded()?;
    /// let lines = ["It broke after a week.", "Lovely staff!", ""].iter().map(|s| s.to_string());
    /// let preds: Vec<voc::Prediction> = clf.classify_iter(lines).chunk_rows(2).collect::<voc::Result<_>>()?;
    /// assert_eq!(preds.len(), 3);
    /// assert_eq!(preds[0], clf.classify("It broke after a week.")?);
    /// assert_eq!(preds[2].sentiment.label, "neutral");
    /// # Ok::<(), voc::Error>(())
    /// ```
    pub fn classify_iter<I>(&self, texts: I) -> ClassifyIter<I::IntoIter>
    where
        I: IntoIterator,
        I::Item: AsRef<str> + Sync,
    {
        ClassifyIter {
            clf: self.clone(),
            texts: texts.into_iter(),
            chunk_rows: DEFAULT_CHUNK_ROWS,
            ready: Vec::new().into_iter(),
        }
    }
}

/// The iterator returned by [`Classifier::classify_iter`]: one
/// `Result<Prediction>` per input text, in input order.
pub struct ClassifyIter<I> {
    clf: Classifier,
    texts: I,
    chunk_rows: usize,
    ready: std::vec::IntoIter<Result<Prediction>>,
}

impl<I> std::fmt::Debug for ClassifyIter<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassifyIter").field("chunk_rows", &self.chunk_rows).finish_non_exhaustive()
    }
}

impl<I> ClassifyIter<I> {
    /// Texts classified together (default [`DEFAULT_CHUNK_ROWS`]; 0 counts
    /// as 1). Larger chunks use the cores better and hold more in memory.
    ///
    /// ```
    /// let clf = voc::Classifier::embedded()?;
    /// let n = clf.classify_iter(vec!["a"; 10]).chunk_rows(3).filter(|p| p.is_ok()).count();
    /// assert_eq!(n, 10);
    /// # Ok::<(), voc::Error>(())
    /// ```
    #[must_use]
    pub fn chunk_rows(mut self, rows: usize) -> Self {
        self.chunk_rows = rows.max(1);
        self
    }
}

impl<I> Iterator for ClassifyIter<I>
where
    I: Iterator,
    I::Item: AsRef<str> + Sync,
{
    type Item = Result<Prediction>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(p) = self.ready.next() {
            return Some(p);
        }
        let chunk: Vec<I::Item> = self.texts.by_ref().take(self.chunk_rows).collect();
        if chunk.is_empty() {
            return None;
        }
        self.ready = classify_chunk(&self.clf, &chunk).into_iter();
        self.ready.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lo, hi) = self.texts.size_hint();
        let n = self.ready.len();
        (lo.saturating_add(n), hi.and_then(|h| h.checked_add(n)))
    }
}

/// Classify a chunk in parallel; when the batch fails, classify each text on
/// its own so that one bad text only fails itself.
fn classify_chunk<S: AsRef<str> + Sync>(clf: &Classifier, texts: &[S]) -> Vec<Result<Prediction>> {
    match clf.classify_batch(texts) {
        Ok(v) => v.into_iter().map(Ok).collect(),
        Err(_) => texts.par_iter().map(|t| clf.classify(t.as_ref())).collect(),
    }
}

// ---------------------------------------------------------------------------
// Options, progress, summary

/// The format of a scored output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum OutputFormat {
    /// One JSON object a line: `tags` is a list, `evidence` an object.
    Jsonl,
    /// A header and one record a row: `tags` joined by `;`, evidence in
    /// `evidence_words_<tag>` and `evidence_sentence_<tag>` columns.
    Csv,
}

/// The format of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum InputFormat {
    /// Comma-separated with a header row (RFC 4180 quoting).
    Csv,
    /// Tab-separated with a header row (same quoting rules as CSV).
    Tsv,
    /// One JSON object a line.
    Jsonl,
}

/// What [`score_file`] reads, writes and how. Build it with
/// [`ScoreOptions::new`] and the `with`-less builder methods; every field is
/// checked before any work.
///
/// | option | default | purpose |
/// |---|---|---|
/// | `inputs` | (required) | files to score in order; `-` is stdin |
/// | `output` | stdout | the output file (written as `OUTPUT.partial`, renamed at the end) |
/// | `format` | from `output`'s extension (`.csv` gives CSV), else JSONL | output format |
/// | `input_format` | from the extension (`.csv`, `.tsv`, `.jsonl`, before `.gz`), else sniffed | input format |
/// | `text_column` | guessed from [`TEXT_COLUMN_GUESSES`] | text column or field |
/// | `id_column` | none: the row number is the id | id column or field |
/// | `keep_columns` | none | input columns copied to the output |
/// | `include_text` | true | copy the text itself to the output (`text`) |
/// | `resume` | false | continue an interrupted run from its checkpoint |
/// | `force` | false | replace an existing output (and drop an old checkpoint) |
/// | `chunk_rows` | [`DEFAULT_CHUNK_ROWS`] | rows per chunk (and per checkpoint), >= 1 |
/// | `max_row_bytes` | [`DEFAULT_MAX_ROW_BYTES`] | longest accepted row, >= 1 |
///
/// ```
/// let opts = voc::ScoreOptions::new(["survey.csv.gz"])
///     .output("scored.jsonl")
///     .text_column("answer")
///     .keep_columns(["channel", "date"])
///     .resume(true);
/// assert_eq!(opts.keep_columns, ["channel", "date"]);
/// assert_eq!(opts.chunk_rows, voc::DEFAULT_CHUNK_ROWS);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScoreOptions {
    /// Input files, scored in order into one output; `-` reads stdin.
    pub inputs: Vec<PathBuf>,
    /// Output file; `None` writes rows to stdout and bad rows to stderr.
    pub output: Option<PathBuf>,
    /// Output format (default: from the output's extension, else JSONL).
    pub format: Option<OutputFormat>,
    /// Input format (default: from each input's extension, else sniffed).
    pub input_format: Option<InputFormat>,
    /// Text column or field (default: guessed).
    pub text_column: Option<String>,
    /// Id column or field (default: the row number).
    pub id_column: Option<String>,
    /// Input columns or fields copied to the output.
    pub keep_columns: Vec<String>,
    /// Copy the text to the output (the report shows it as examples).
    pub include_text: bool,
    /// Continue an interrupted run from its checkpoint.
    pub resume: bool,
    /// Replace an existing output.
    pub force: bool,
    /// Rows per chunk.
    pub chunk_rows: usize,
    /// Longest accepted input row in bytes.
    pub max_row_bytes: usize,
}

impl ScoreOptions {
    /// Options for scoring `inputs` (in order, into one output) with every
    /// other option at its default.
    ///
    /// ```
    /// let opts = voc::ScoreOptions::new(["a.csv", "b.jsonl"]);
    /// assert_eq!(opts.inputs.len(), 2);
    /// assert!(opts.output.is_none() && opts.include_text && !opts.resume);
    /// ```
    pub fn new<I, P>(inputs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        ScoreOptions {
            inputs: inputs.into_iter().map(Into::into).collect(),
            output: None,
            format: None,
            input_format: None,
            text_column: None,
            id_column: None,
            keep_columns: Vec::new(),
            include_text: true,
            resume: false,
            force: false,
            chunk_rows: DEFAULT_CHUNK_ROWS,
            max_row_bytes: DEFAULT_MAX_ROW_BYTES,
        }
    }

    /// Write to this file (default: stdout).
    ///
    /// ```
    /// let o = voc::ScoreOptions::new(["in.csv"]).output("out.csv");
    /// assert_eq!(o.output_format(), voc::OutputFormat::Csv);
    /// ```
    #[must_use]
    pub fn output(mut self, path: impl Into<PathBuf>) -> Self {
        self.output = Some(path.into());
        self
    }

    /// Set the output format (default: from the output's extension).
    ///
    /// ```
    /// let o = voc::ScoreOptions::new(["in.csv"]).output("out.txt").format(voc::OutputFormat::Csv);
    /// assert_eq!(o.output_format(), voc::OutputFormat::Csv);
    /// ```
    #[must_use]
    pub fn format(mut self, format: OutputFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Set the input format of every input (default: from each extension,
    /// else sniffed from the first bytes).
    ///
    /// ```
    /// let o = voc::ScoreOptions::new(["-"]).input_format(voc::InputFormat::Tsv);
    /// assert_eq!(o.input_format, Some(voc::InputFormat::Tsv));
    /// ```
    #[must_use]
    pub fn input_format(mut self, format: InputFormat) -> Self {
        self.input_format = Some(format);
        self
    }

    /// Name the text column or field (default: guessed).
    ///
    /// ```
    /// let o = voc::ScoreOptions::new(["in.csv"]).text_column("verbatim");
    /// assert_eq!(o.text_column.as_deref(), Some("verbatim"));
    /// ```
    #[must_use]
    pub fn text_column(mut self, name: impl Into<String>) -> Self {
        self.text_column = Some(name.into());
        self
    }

    /// Name the id column or field (default: the row number is the id).
    ///
    /// ```
    /// let o = voc::ScoreOptions::new(["in.csv"]).id_column("ticket");
    /// assert_eq!(o.id_column.as_deref(), Some("ticket"));
    /// ```
    #[must_use]
    pub fn id_column(mut self, name: impl Into<String>) -> Self {
        self.id_column = Some(name.into());
        self
    }

    /// Input columns or fields to copy to the output, in this order.
    ///
    /// ```
    /// let o = voc::ScoreOptions::new(["in.csv"]).keep_columns(["channel"]);
    /// assert_eq!(o.keep_columns, ["channel"]);
    /// ```
    #[must_use]
    pub fn keep_columns<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keep_columns = names.into_iter().map(Into::into).collect();
        self
    }

    /// Copy the text to the output (default true).
    ///
    /// ```
    /// assert!(!voc::ScoreOptions::new(["in.csv"]).include_text(false).include_text);
    /// ```
    #[must_use]
    pub fn include_text(mut self, yes: bool) -> Self {
        self.include_text = yes;
        self
    }

    /// Continue an interrupted run from its checkpoint (default false).
    ///
    /// ```
    /// assert!(voc::ScoreOptions::new(["in.csv"]).resume(true).resume);
    /// ```
    #[must_use]
    pub fn resume(mut self, yes: bool) -> Self {
        self.resume = yes;
        self
    }

    /// Replace an existing output and drop an old checkpoint (default false).
    ///
    /// ```
    /// assert!(voc::ScoreOptions::new(["in.csv"]).force(true).force);
    /// ```
    #[must_use]
    pub fn force(mut self, yes: bool) -> Self {
        self.force = yes;
        self
    }

    /// Rows per chunk, and so per checkpoint (default [`DEFAULT_CHUNK_ROWS`]).
    ///
    /// ```
    /// assert_eq!(voc::ScoreOptions::new(["in.csv"]).chunk_rows(100).chunk_rows, 100);
    /// ```
    #[must_use]
    pub fn chunk_rows(mut self, rows: usize) -> Self {
        self.chunk_rows = rows;
        self
    }

    /// Longest accepted row in bytes (default [`DEFAULT_MAX_ROW_BYTES`]).
    ///
    /// ```
    /// assert_eq!(voc::ScoreOptions::new(["in.csv"]).max_row_bytes(4096).max_row_bytes, 4096);
    /// ```
    #[must_use]
    pub fn max_row_bytes(mut self, bytes: usize) -> Self {
        self.max_row_bytes = bytes;
        self
    }

    /// The output format that will be written: [`ScoreOptions::format`] if
    /// set, else CSV for an output ending in `.csv`, else JSONL.
    ///
    /// ```
    /// assert_eq!(voc::ScoreOptions::new(["in.csv"]).output_format(), voc::OutputFormat::Jsonl);
    /// ```
    pub fn output_format(&self) -> OutputFormat {
        match (self.format, &self.output) {
            (Some(f), _) => f,
            (None, Some(p)) if extension(p) == "csv" => OutputFormat::Csv,
            _ => OutputFormat::Jsonl,
        }
    }

    /// The bad-row file for an output: `OUTPUT.errors.jsonl`.
    ///
    /// ```
    /// let o = voc::ScoreOptions::new(["in.csv"]).output("out/scored.csv");
    /// assert_eq!(o.errors_path().unwrap(), std::path::Path::new("out/scored.csv.errors.jsonl"));
    /// ```
    pub fn errors_path(&self) -> Option<PathBuf> {
        self.output.as_ref().map(|o| with_suffix(o, ".errors.jsonl"))
    }

    /// Check every option; nothing is read or written.
    ///
    /// ```
    /// assert!(voc::ScoreOptions::new(["in.csv"]).validate().is_ok());
    /// let err = voc::ScoreOptions::new(["in.csv"]).chunk_rows(0).validate().unwrap_err();
    /// assert!(err.to_string().contains("chunk_rows"));
    /// assert!(voc::ScoreOptions::new(["-"]).output("o.jsonl").resume(true).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.inputs.is_empty() {
            return Err(Error::config("inputs", "give at least one input file (or - for stdin)"));
        }
        if self.chunk_rows == 0 {
            return Err(Error::config("chunk_rows", "must be at least 1"));
        }
        if self.max_row_bytes == 0 {
            return Err(Error::config("max_row_bytes", "must be at least 1"));
        }
        let stdin_count = self.inputs.iter().filter(|p| is_stdin(p)).count();
        if stdin_count > 1 {
            return Err(Error::config("inputs", "stdin (-) can be read only once"));
        }
        if self.resume && self.output.is_none() {
            return Err(Error::config("resume", "needs an output file (-o)"));
        }
        if self.resume && stdin_count > 0 {
            return Err(Error::config("resume", "cannot resume a run that reads stdin; give a file"));
        }
        if let Some(out) = &self.output {
            if self.inputs.iter().any(|i| i == out) {
                return Err(Error::config("output", format!("{} is also an input", out.display())));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for k in &self.keep_columns {
            if !seen.insert(k) {
                return Err(Error::config("keep_columns", format!("`{k}` is named twice")));
            }
        }
        Ok(())
    }
}

/// Where a [`score_file`] run stands; passed to its progress callback after
/// each chunk.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScoreProgress {
    /// Rows read so far (including rows done by an interrupted run).
    pub rows_read: u64,
    /// Rows written to the output.
    pub rows_written: u64,
    /// Rows written to the error file.
    pub errors: u64,
    /// Input bytes read (compressed bytes for gzip input).
    pub bytes_read: u64,
    /// Total input bytes, when every input is a file.
    pub bytes_total: Option<u64>,
    /// Seconds since this run started.
    pub seconds: f64,
}

/// What a [`score_file`] run did. `rows_read == rows_written + errors`
/// always holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ScoreSummary {
    /// Input rows read (each is written or counted as an error).
    pub rows_read: u64,
    /// Rows written to the output.
    pub rows_written: u64,
    /// Bad rows written to the error file (or stderr).
    pub errors: u64,
    /// Rows that an interrupted run had already done (0 without `--resume`).
    pub resumed_rows: u64,
    /// Wall time of this run in seconds.
    pub seconds: f64,
    /// The output file (None: stdout).
    pub output: Option<PathBuf>,
    /// The error file (None: stderr).
    pub errors_file: Option<PathBuf>,
}

impl ScoreSummary {
    /// Rows per second of this run (rows done by an interrupted run excluded).
    ///
    /// ```
    /// # fn main() -> voc::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let input = dir.path().join("in.csv");
    /// std::fs::write(&input, "comment\nbroken on arrival\n").unwrap();
    /// let s = voc::score_file(&voc::Classifier::embedded()?,
    ///     &voc::ScoreOptions::new([&input]).output(dir.path().join("out.jsonl")), |_| {})?;
    /// assert!(s.rows_per_sec() > 0.0);
    /// # Ok(()) }
    /// ```
    pub fn rows_per_sec(&self) -> f64 {
        (self.rows_read - self.resumed_rows) as f64 / self.seconds.max(1e-9)
    }

    /// The one-line summary `voc score` prints on stderr.
    ///
    /// ```
    /// # fn main() -> voc::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let input = dir.path().join("in.jsonl");
    /// std::fs::write(&input, "{\"text\": \"fine\"}\n[1]\n").unwrap();
    /// let s = voc::score_file(&voc::Classifier::embedded()?,
    ///     &voc::ScoreOptions::new([&input]).output(dir.path().join("out.jsonl")), |_| {})?;
    /// assert!(s.to_line().starts_with("2 rows read, 1 written, 1 errors"), "{}", s.to_line());
    /// # Ok(()) }
    /// ```
    pub fn to_line(&self) -> String {
        let mut s = format!(
            "{} rows read, {} written, {} errors, {:.1} s, {:.0} rows/s",
            self.rows_read,
            self.rows_written,
            self.errors,
            self.seconds,
            self.rows_per_sec()
        );
        if self.resumed_rows > 0 {
            s.push_str(&format!(" (resumed after {} rows)", self.resumed_rows));
        }
        if let (true, Some(p)) = (self.errors > 0, &self.errors_file) {
            s.push_str(&format!("; bad rows in {}", p.display()));
        }
        s
    }
}

// ---------------------------------------------------------------------------
// Reading inputs

fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

fn display(p: &Path) -> String {
    if is_stdin(p) { "<stdin>".to_string() } else { p.display().to_string() }
}

/// Lowercased extension, after removing a `.gz`.
pub(crate) fn extension(p: &Path) -> String {
    let name = p.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.rsplit_once('.').map(|(_, e)| e.to_string()).unwrap_or_default()
}

pub(crate) fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Counts the bytes read through it (compressed bytes for gzip input).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

pub(crate) type Input = Box<dyn BufRead + Send>;

const READ_BUF: usize = 256 * 1024;

/// Open an input (file or stdin), decompressing gzip (detected from its
/// first bytes).
pub(crate) fn open_input(path: &Path, count: Arc<AtomicU64>) -> Result<Input> {
    let raw: Box<dyn Read + Send> = if is_stdin(path) {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| Error::io(path, e))?)
    };
    let mut r = BufReader::with_capacity(READ_BUF, Counting { inner: raw, count });
    let head = r.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(READ_BUF, flate2::bufread::MultiGzDecoder::new(r))))
    } else {
        Ok(Box::new(r))
    }
}

/// One physical line: its number, its bytes without the line terminator
/// (at most the row limit) and its real length.
#[derive(Clone)]
struct Line {
    no: u64,
    bytes: Vec<u8>,
    len: usize,
}

impl Line {
    fn over(&self, max: usize) -> bool {
        self.len > max
    }
}

/// Reads lines of at most `max` stored bytes (the rest of a longer line is
/// skipped, its length counted), with a push-back queue.
struct Lines {
    r: Input,
    path: PathBuf,
    no: u64,
    max: usize,
    pushback: VecDeque<Line>,
}

impl Lines {
    fn new(r: Input, path: &Path, max: usize) -> Self {
        Lines { r, path: path.to_path_buf(), no: 0, max, pushback: VecDeque::new() }
    }

    fn next(&mut self) -> Result<Option<Line>> {
        if let Some(l) = self.pushback.pop_front() {
            return Ok(Some(l));
        }
        let mut bytes = Vec::new();
        let mut len = 0usize;
        let mut any = false;
        loop {
            let buf = self.r.fill_buf().map_err(|e| Error::io(&self.path, e))?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            let room = (self.max + 1).saturating_sub(bytes.len());
            bytes.extend_from_slice(&buf[..take.min(room)]);
            len += take;
            self.r.consume(if done { take + 1 } else { take });
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        if bytes.last() == Some(&b'\r') && len <= self.max + 1 {
            bytes.pop();
            len -= 1;
        }
        bytes.truncate(self.max);
        self.no += 1;
        if self.no == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes.drain(..3);
            len -= 3;
        }
        Ok(Some(Line { no: self.no, bytes, len }))
    }
}

/// An input row, before classification.
struct Row {
    text: String,
    id: Option<Value>,
    kept: Vec<Value>,
}

/// One record of an input: a row, or why it is bad.
struct Record {
    line: u64,
    row: std::result::Result<Row, String>,
    /// The start of a bad record, for the error file.
    raw: String,
}

fn raw_prefix(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    s.into_owned()
}

#[derive(Clone, Copy, PartialEq)]
enum QuoteState {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// An RFC 4180 record parser fed line by line.
struct FieldParser {
    delim: u8,
    fields: Vec<Vec<u8>>,
    cur: Vec<u8>,
    state: QuoteState,
}

enum Fed {
    Done,
    NeedMore,
    Bad(String),
}

impl FieldParser {
    fn new(delim: u8) -> Self {
        FieldParser { delim, fields: Vec::new(), cur: Vec::new(), state: QuoteState::FieldStart }
    }

    fn push_field(&mut self) {
        self.fields.push(std::mem::take(&mut self.cur));
    }

    fn feed(&mut self, line: &Line) -> Fed {
        use QuoteState::*;
        if self.state == Quoted {
            self.cur.push(b'\n');
        }
        for (col, &b) in line.bytes.iter().enumerate() {
            match self.state {
                FieldStart if b == b'"' => self.state = Quoted,
                FieldStart | Unquoted if b == self.delim => {
                    self.push_field();
                    self.state = FieldStart;
                }
                FieldStart | Unquoted => {
                    self.cur.push(b);
                    self.state = Unquoted;
                }
                Quoted if b == b'"' => self.state = QuoteInQuoted,
                Quoted => self.cur.push(b),
                QuoteInQuoted if b == b'"' => {
                    self.cur.push(b'"');
                    self.state = Quoted;
                }
                QuoteInQuoted if b == self.delim => {
                    self.push_field();
                    self.state = FieldStart;
                }
                QuoteInQuoted => {
                    return Fed::Bad(format!(
                        "broken quoting: unexpected character after a closing quote (line {}, column {})",
                        line.no,
                        col + 1
                    ));
                }
            }
        }
        if self.state == Quoted {
            return Fed::NeedMore;
        }
        self.push_field();
        Fed::Done
    }
}

/// A record's first line number, its fields or why it is bad, and its start.
type RawRecord = (u64, std::result::Result<Vec<Vec<u8>>, String>, Vec<u8>);

/// CSV/TSV records from lines: quoted fields may span lines; an unclosed
/// quote makes only its first line bad, and the lines after it are read again.
struct CsvRecords {
    lines: Lines,
    delim: u8,
}

impl CsvRecords {
    /// The next record (line number, fields or reason), skipping blank lines.
    fn next(&mut self) -> Result<Option<RawRecord>> {
        let max = self.lines.max;
        let first = loop {
            match self.lines.next()? {
                None => return Ok(None),
                Some(l) if l.len == 0 => continue,
                Some(l) => break l,
            }
        };
        let raw = first.bytes[..first.bytes.len().min(200)].to_vec();
        if first.over(max) {
            let reason = format!("row over the size limit ({} bytes > {max})", first.len);
            return Ok(Some((first.no, Err(reason), raw)));
        }
        if !first.bytes.contains(&b'"') {
            let fields = first.bytes.split(|&b| b == self.delim).map(<[u8]>::to_vec).collect();
            return Ok(Some((first.no, Ok(fields), raw)));
        }
        let mut p = FieldParser::new(self.delim);
        let mut more: Vec<Line> = Vec::new();
        let mut total = first.len;
        let mut fed = p.feed(&first);
        loop {
            match fed {
                Fed::Done => return Ok(Some((first.no, Ok(p.fields), raw))),
                Fed::Bad(reason) => return Ok(Some((first.no, Err(reason), raw))),
                Fed::NeedMore => {}
            }
            let next = self.lines.next()?;
            let reason = match &next {
                None => "broken quoting: a quoted field is never closed".to_string(),
                Some(l) if l.over(max) || total + 1 + l.len > max => format!(
                    "broken quoting or row over the size limit: a quoted field runs past {max} bytes without a closing quote"
                ),
                Some(l) => {
                    total += 1 + l.len;
                    fed = p.feed(l);
                    more.extend(next);
                    continue;
                }
            };
            {
                // Only the first line is bad: read the following lines again.
                let mut back: VecDeque<Line> = more.into_iter().collect();
                back.extend(next);
                back.append(&mut self.lines.pushback);
                self.lines.pushback = back;
                return Ok(Some((first.no, Err(reason), raw)));
            }
        }
    }
}

/// Normalize a column name for guessing: lowercase, without ` `, `-`, `_`.
fn norm(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, ' ' | '-' | '_')).flat_map(char::to_lowercase).collect()
}

/// Resolve the text column: named (exact, then case-insensitive) or guessed.
fn find_text(names: &[String], wanted: Option<&str>, path: &Path, line: u64) -> Result<usize> {
    let listed = || names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    if let Some(w) = wanted {
        return find_named(names, w).ok_or_else(|| {
            Error::data(path, line, "text_column", format!("no column `{w}`; the columns are: {}", listed()))
        });
    }
    for g in TEXT_COLUMN_GUESSES {
        if let Some(i) = names.iter().position(|n| norm(n) == norm(g)) {
            return Ok(i);
        }
    }
    Err(Error::data(
        path,
        line,
        "text_column",
        format!(
            "cannot guess the text column (tried {}); the columns are: {}; name it with --text-column",
            TEXT_COLUMN_GUESSES.join(", "),
            listed()
        ),
    ))
}

fn find_named(names: &[String], wanted: &str) -> Option<usize> {
    names.iter().position(|n| n == wanted).or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(wanted)))
}

/// The input's columns as the output uses them.
struct Columns {
    text: usize,
    id: Option<usize>,
    kept: Vec<usize>,
    names: Vec<String>,
}

fn resolve(names: Vec<String>, opts: &ScoreOptions, path: &Path, line: u64) -> Result<Columns> {
    let text = find_text(&names, opts.text_column.as_deref(), path, line)?;
    let listed = || names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let named = |field: &str, w: &str| {
        find_named(&names, w)
            .ok_or_else(|| Error::data(path, line, field, format!("no column `{w}`; the columns are: {}", listed())))
    };
    let id = opts.id_column.as_deref().map(|w| named("id_column", w)).transpose()?;
    let kept = opts.keep_columns.iter().map(|w| named("keep_columns", w)).collect::<Result<Vec<_>>>()?;
    Ok(Columns { text, id, kept, names })
}

/// Rows of one input file.
enum Reader {
    Delimited { recs: CsvRecords, cols: Option<Columns> },
    Jsonl { lines: Lines, cols: JsonCols },
}

struct JsonCols {
    text: String,
    id: Option<String>,
    kept: Vec<String>,
}

fn sniff(r: &mut Input, path: &Path) -> Result<InputFormat> {
    let head = r.fill_buf().map_err(|e| Error::io(path, e))?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return Ok(InputFormat::Jsonl);
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let tabs = line.iter().filter(|&&b| b == b'\t').count();
    let commas = line.iter().filter(|&&b| b == b',').count();
    Ok(if tabs > commas { InputFormat::Tsv } else { InputFormat::Csv })
}

impl Reader {
    /// Open an input and resolve its columns (reading the header, or
    /// looking at the first JSON object).
    fn open(path: &Path, opts: &ScoreOptions, count: Arc<AtomicU64>) -> Result<Reader> {
        let mut input = open_input(path, count)?;
        let format = match (opts.input_format, extension(path).as_str()) {
            (Some(f), _) => f,
            (None, "csv") => InputFormat::Csv,
            (None, "tsv" | "tab") => InputFormat::Tsv,
            (None, "jsonl" | "ndjson" | "json") => InputFormat::Jsonl,
            _ => sniff(&mut input, path)?,
        };
        let mut lines = Lines::new(input, path, opts.max_row_bytes);
        match format {
            InputFormat::Csv | InputFormat::Tsv => {
                let delim = if format == InputFormat::Tsv { b'\t' } else { b',' };
                let mut recs = CsvRecords { lines, delim };
                let cols = match recs.next()? {
                    None => None,
                    Some((line, Ok(fields), _)) => {
                        let names = fields
                            .into_iter()
                            .map(|f| String::from_utf8(f).map(|s| s.trim().to_string()))
                            .collect::<std::result::Result<Vec<_>, _>>()
                            .map_err(|_| Error::data(path, line, "header", "the header is not valid UTF-8"))?;
                        Some(resolve(names, opts, path, line)?)
                    }
                    Some((line, Err(reason), _)) => return Err(Error::data(path, line, "header", reason)),
                };
                Ok(Reader::Delimited { recs, cols })
            }
            InputFormat::Jsonl => {
                // Look at the first object (up to 100 lines), then read them again.
                let mut seen = Vec::new();
                let mut keys = None;
                while seen.len() < 100 {
                    let Some(l) = lines.next()? else { break };
                    let obj = serde_json::from_slice::<Value>(&l.bytes).ok();
                    let no = l.no;
                    seen.push(l);
                    if let Some(Value::Object(m)) = obj {
                        keys = Some((no, m.keys().cloned().collect::<Vec<_>>()));
                        break;
                    }
                }
                lines.pushback.extend(seen);
                let cols = match keys {
                    Some((line, names)) => {
                        let c = resolve(names, opts, path, line)?;
                        JsonCols {
                            text: c.names[c.text].clone(),
                            id: c.id.map(|i| c.names[i].clone()),
                            kept: c.kept.iter().map(|&i| c.names[i].clone()).collect(),
                        }
                    }
                    // No object to guess from: every line is a bad row anyway.
                    None => JsonCols {
                        text: opts.text_column.clone().unwrap_or_else(|| "text".into()),
                        id: opts.id_column.clone(),
                        kept: opts.keep_columns.clone(),
                    },
                };
                Ok(Reader::Jsonl { lines, cols })
            }
        }
    }

    fn next(&mut self) -> Result<Option<Record>> {
        match self {
            Reader::Delimited { recs, cols } => {
                let Some((line, fields, raw)) = recs.next()? else { return Ok(None) };
                let Some(cols) = cols else {
                    return Ok(Some(Record { line, row: Err("no header".into()), raw: raw_prefix(&raw) }));
                };
                let row = fields.and_then(|f| csv_row(f, cols));
                let raw = if row.is_err() { raw_prefix(&raw) } else { String::new() };
                Ok(Some(Record { line, row, raw }))
            }
            Reader::Jsonl { lines, cols } => loop {
                let Some(l) = lines.next()? else { return Ok(None) };
                if !l.over(lines.max) && l.bytes.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let row = json_row(&l, lines.max, cols);
                let raw = if row.is_err() { raw_prefix(&l.bytes) } else { String::new() };
                return Ok(Some(Record { line: l.no, row, raw }));
            },
        }
    }
}

fn utf8(bytes: Vec<u8>, column: &str) -> std::result::Result<String, String> {
    String::from_utf8(bytes)
        .map_err(|e| format!("invalid UTF-8 in column `{column}` at byte {}", e.utf8_error().valid_up_to()))
}

fn csv_row(mut fields: Vec<Vec<u8>>, cols: &Columns) -> std::result::Result<Row, String> {
    if fields.len() != cols.names.len() {
        return Err(format!(
            "expected {} fields (as in the header), found {} (broken quoting?)",
            cols.names.len(),
            fields.len()
        ));
    }
    let mut take = |i: usize| utf8(std::mem::take(&mut fields[i]), &cols.names[i]);
    let text = take(cols.text)?;
    let id = cols.id.map(|i| take(i).map(Value::String)).transpose()?;
    let kept = cols.kept.iter().map(|&i| take(i).map(Value::String)).collect::<std::result::Result<_, _>>()?;
    Ok(Row { text, id, kept })
}

fn json_row(l: &Line, max: usize, cols: &JsonCols) -> std::result::Result<Row, String> {
    if l.over(max) {
        return Err(format!("row over the size limit ({} bytes > {max})", l.len));
    }
    let s = std::str::from_utf8(&l.bytes).map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    let v: Value = serde_json::from_str(s).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(mut m) = v else { return Err("not a JSON object".into()) };
    let text = match m.remove(&cols.text) {
        None | Some(Value::Null) => return Err(format!("missing text field `{}`", cols.text)),
        Some(Value::String(s)) => s,
        Some(_) => return Err(format!("text field `{}` is not a string", cols.text)),
    };
    let id = cols.id.as_ref().map(|k| m.remove(k).unwrap_or(Value::Null));
    let kept = cols.kept.iter().map(|k| m.get(k).cloned().unwrap_or(Value::Null)).collect();
    Ok(Row { text, id, kept })
}

// ---------------------------------------------------------------------------
// Writing rows

/// What the output holds, fixed for the whole run.
struct Schema {
    format: OutputFormat,
    kept: Vec<String>,
    include_text: bool,
    classes: Vec<String>,
    tags: Vec<String>,
}

impl Schema {
    fn fixed_columns(&self) -> Vec<String> {
        let mut c = vec!["row".to_string(), "id".into()];
        if self.include_text {
            c.push("text".into());
        }
        c.extend(["sentiment".into(), "sentiment_score".into()]);
        c.extend(self.classes.iter().map(|s| format!("p_{s}")));
        c.push("tags".into());
        c.extend(self.tags.iter().map(|t| format!("tag_{t}")));
        match self.format {
            OutputFormat::Jsonl => c.push("evidence".into()),
            OutputFormat::Csv => {
                c.extend(self.tags.iter().map(|t| format!("evidence_words_{t}")));
                c.extend(self.tags.iter().map(|t| format!("evidence_sentence_{t}")));
            }
        }
        c.push("truncated".into());
        c
    }

    fn check(&self) -> Result<()> {
        let fixed = self.fixed_columns();
        for k in &self.kept {
            if fixed.contains(k) {
                return Err(Error::config("keep_columns", format!("`{k}` is also an output column of voc score")));
            }
        }
        Ok(())
    }

    fn header(&self) -> String {
        match self.format {
            OutputFormat::Jsonl => String::new(),
            OutputFormat::Csv => {
                let mut cols: Vec<String> = self.fixed_columns();
                // Kept columns come right after `row` and `id`, as in each row.
                for (i, k) in self.kept.iter().enumerate() {
                    cols.insert(2 + i, k.clone());
                }
                let mut s = String::new();
                for (i, c) in cols.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    csv_field(&mut s, c);
                }
                s.push('\n');
                s
            }
        }
    }

    fn row(&self, rowno: u64, row: &Row, p: &Prediction) -> String {
        let mut s = String::with_capacity(512 + row.text.len() * 2);
        let prob = |m: &BTreeMap<String, f32>, k: &str| m.get(k).copied().unwrap_or(0.0);
        match self.format {
            OutputFormat::Jsonl => {
                s.push_str(&format!("{{\"row\":{rowno},\"id\":"));
                match &row.id {
                    Some(v) => json_value(&mut s, v),
                    None => s.push_str(&rowno.to_string()),
                }
                for (k, v) in self.kept.iter().zip(&row.kept) {
                    s.push(',');
                    json_str(&mut s, k);
                    s.push(':');
                    json_value(&mut s, v);
                }
                if self.include_text {
                    s.push_str(",\"text\":");
                    json_str(&mut s, &row.text);
                }
                s.push_str(",\"sentiment\":");
                json_str(&mut s, &p.sentiment.label);
                s.push_str(&format!(",\"sentiment_score\":{}", num(p.sentiment.score)));
                for c in &self.classes {
                    s.push_str(",\"p_");
                    json_inner(&mut s, c);
                    s.push_str(&format!("\":{}", num(prob(&p.sentiment.probabilities, c))));
                }
                s.push_str(",\"tags\":[");
                for (i, t) in p.tags.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    json_str(&mut s, &t.name);
                }
                s.push(']');
                for t in &self.tags {
                    s.push_str(",\"tag_");
                    json_inner(&mut s, t);
                    s.push_str(&format!("\":{}", num(prob(&p.tag_probabilities, t))));
                }
                s.push_str(",\"evidence\":{");
                for (i, t) in p.tags.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    json_str(&mut s, &t.name);
                    s.push_str(":{\"words\":[");
                    for (j, w) in t.evidence.words.iter().enumerate() {
                        if j > 0 {
                            s.push(',');
                        }
                        json_str(&mut s, &w.text);
                    }
                    s.push_str("],\"sentences\":[");
                    for (j, w) in t.evidence.sentences.iter().enumerate() {
                        if j > 0 {
                            s.push(',');
                        }
                        json_str(&mut s, &w.text);
                    }
                    s.push_str("]}");
                }
                s.push_str(&format!("}},\"truncated\":{}}}\n", p.truncated));
            }
            OutputFormat::Csv => {
                s.push_str(&rowno.to_string());
                s.push(',');
                match &row.id {
                    Some(v) => csv_field(&mut s, &value_text(v)),
                    None => s.push_str(&rowno.to_string()),
                }
                for v in &row.kept {
                    s.push(',');
                    csv_field(&mut s, &value_text(v));
                }
                if self.include_text {
                    s.push(',');
                    csv_field(&mut s, &row.text);
                }
                s.push(',');
                csv_field(&mut s, &p.sentiment.label);
                s.push_str(&format!(",{}", num(p.sentiment.score)));
                for c in &self.classes {
                    s.push_str(&format!(",{}", num(prob(&p.sentiment.probabilities, c))));
                }
                s.push(',');
                csv_field(&mut s, &p.tag_names().join(";"));
                for t in &self.tags {
                    s.push_str(&format!(",{}", num(prob(&p.tag_probabilities, t))));
                }
                for t in &self.tags {
                    s.push(',');
                    if let Some(tag) = p.tags.iter().find(|x| &x.name == t) {
                        let words: Vec<&str> = tag.evidence.words.iter().map(|w| w.text.as_str()).collect();
                        csv_field(&mut s, &words.join(";"));
                    }
                }
                for t in &self.tags {
                    s.push(',');
                    if let Some(sent) = p.tags.iter().find(|x| &x.name == t).and_then(|x| x.evidence.sentences.first())
                    {
                        csv_field(&mut s, &sent.text);
                    }
                }
                s.push_str(if p.truncated { ",true\n" } else { ",false\n" });
            }
        }
        s
    }
}

fn num(x: f32) -> String {
    if x.is_finite() { format!("{:.4}", x) } else { "0".into() }
}

fn json_str(s: &mut String, v: &str) {
    s.push('"');
    json_inner(s, v);
    s.push('"');
}

/// JSON string contents (without quotes).
fn json_inner(s: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                s.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => s.push(c),
        }
    }
}

fn json_value(s: &mut String, v: &Value) {
    match v {
        Value::String(x) => json_str(s, x),
        other => s.push_str(&other.to_string()),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A CSV field, quoted when it must be.
fn csv_field(s: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) || v.starts_with(' ') || v.ends_with(' ') {
        s.push('"');
        s.push_str(&v.replace('"', "\"\""));
        s.push('"');
    } else {
        s.push_str(v);
    }
}

// ---------------------------------------------------------------------------
// Checkpoint

const CHECKPOINT_VERSION: u32 = 1;

/// The state of an interrupted run, rewritten (atomically) after each chunk.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Checkpoint {
    version: u32,
    /// Hash of the inputs (path, size, mtime), the options that shape the
    /// output, and the model's labels.
    fingerprint: String,
    /// The input being read.
    input: usize,
    /// Records of that input already done.
    input_rows: u64,
    rows_read: u64,
    rows_written: u64,
    errors: u64,
    /// Valid length of the temporary output.
    output_bytes: u64,
    /// Valid length of the temporary error file.
    errors_bytes: u64,
}

fn fingerprint(opts: &ScoreOptions, clf: &Classifier) -> Result<String> {
    let mut h = Sha256::new();
    for p in opts.inputs.iter().filter(|p| !is_stdin(p)) {
        let m = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
        let mtime = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        h.update(format!("{}\0{}\0{:?}\0", p.display(), m.len(), mtime));
    }
    let shape = (
        opts.output_format(),
        opts.input_format,
        &opts.text_column,
        &opts.id_column,
        &opts.keep_columns,
        opts.include_text,
        opts.max_row_bytes,
        clf.labels().sentiment(),
        clf.labels().tags(),
    );
    h.update(serde_json::to_string(&shape).unwrap_or_default());
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Write a file next to `path` and rename it over `path`, fsynced.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = with_suffix(path, ".tmp");
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// An output stream: a checkpointed file or stdout/stderr.
struct Sink {
    w: Box<dyn Write>,
    file: Option<(File, PathBuf)>,
    bytes: u64,
}

impl Sink {
    fn write(&mut self, s: &str) -> Result<()> {
        self.w.write_all(s.as_bytes()).map_err(|e| self.err(e))?;
        self.bytes += s.len() as u64;
        Ok(())
    }

    fn err(&self, e: io::Error) -> Error {
        Error::io(self.file.as_ref().map(|f| f.1.clone()).unwrap_or_else(|| PathBuf::from("-")), e)
    }

    /// Flush, and fsync a file.
    fn sync(&mut self) -> Result<()> {
        self.w.flush().map_err(|e| self.err(e))?;
        if let Some((f, p)) = &self.file {
            f.sync_data().map_err(|e| Error::io(p, e))?;
        }
        Ok(())
    }

    /// Open a temporary file: fresh, or cut to its checkpointed length.
    fn file(path: &Path, keep: Option<u64>) -> Result<Sink> {
        let mut f = match keep {
            None => File::create(path),
            Some(_) => OpenOptions::new().write(true).open(path),
        }
        .map_err(|e| Error::io(path, e))?;
        let len = keep.unwrap_or(0);
        if keep.is_some() {
            let actual = f.metadata().map_err(|e| Error::io(path, e))?.len();
            if actual < len {
                return Err(Error::io(
                    path,
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "the checkpoint says {len} bytes were written, the file has {actual}; start over with --force"
                        ),
                    ),
                ));
            }
            f.set_len(len).and_then(|()| f.seek(SeekFrom::End(0)).map(|_| ())).map_err(|e| Error::io(path, e))?;
        }
        let clone = f.try_clone().map_err(|e| Error::io(path, e))?;
        Ok(Sink {
            w: Box::new(BufWriter::with_capacity(1 << 20, clone)),
            file: Some((f, path.to_path_buf())),
            bytes: len,
        })
    }
}

// ---------------------------------------------------------------------------
// score_file

/// Score files of comments into one output: one row per input row, in input
/// order, with the id (or row number), kept columns, the text, sentiment label
/// and probabilities, predicted tags, every tag's probability and each
/// predicted tag's evidence (words and sentences).
///
/// - Inputs: CSV, TSV or JSONL (by extension, else sniffed), plain or gzip
///   (detected from the bytes), or `-` for stdin.
/// - Bad rows (invalid UTF-8, broken quoting, a JSONL line that is not an
///   object, a missing text field, a row over `max_row_bytes`) never stop the
///   run: each goes to `OUTPUT.errors.jsonl` (`file`, `line`, `row`,
///   `reason`, `raw`), and `rows_read == rows_written + errors`.
/// - Output goes to `OUTPUT.partial`, renamed to `OUTPUT` at the end; an
///   existing `OUTPUT` is refused without `force`. After each chunk the
///   checkpoint `OUTPUT.partial.state` is replaced; `resume` continues from
///   the last completed chunk, so every row is written exactly once.
/// - `progress` is called after each chunk.
///
/// Errors (before any output where possible): options, unreadable inputs,
/// an unknown or unguessable text column (the message lists the columns),
/// an existing output, a checkpoint from different inputs or options.
///
/// ```
/// # fn main() -> voc::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let input = dir.path().join("survey.csv");
/// std::fs::write(&input, b"id,channel,comment\n7,app,\"The app crashed, twice.\"\n8,store,\xff\n").unwrap();
/// let out = dir.path().join("scored.jsonl");
/// let opts = voc::ScoreOptions::new([&input]).output(&out).id_column("id").keep_columns(["channel"]);
/// let summary = voc::score_file(&voc::Classifier::embedded()?, &opts, |_| {})?;
/// assert_eq!((summary.rows_read, summary.rows_written, summary.errors), (2, 1, 1));
/// let row: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
/// assert_eq!((row["id"].as_str(), row["channel"].as_str()), (Some("7"), Some("app")));
/// assert_eq!(row["tags"][0], "product_failure");
/// let bad = std::fs::read_to_string(opts.errors_path().unwrap()).unwrap();
/// assert!(bad.contains("\"line\":3") && bad.contains("invalid UTF-8"));
/// # Ok(()) }
/// ```
pub fn score_file(
    clf: &Classifier,
    opts: &ScoreOptions,
    mut progress: impl FnMut(&ScoreProgress),
) -> Result<ScoreSummary> {
    let start = Instant::now();
    opts.validate()?;
    let format = opts.output_format();
    let schema = Schema {
        format,
        kept: opts.keep_columns.clone(),
        include_text: opts.include_text,
        classes: clf.labels().sentiment().to_vec(),
        tags: clf.labels().tags().to_vec(),
    };
    schema.check()?;
    // Every file input opens and has the columns asked for, before any output.
    let mut bytes_total = Some(0u64);
    for p in &opts.inputs {
        if is_stdin(p) {
            bytes_total = None;
            continue;
        }
        let len = std::fs::metadata(p).map_err(|e| Error::io(p, e))?.len();
        bytes_total = bytes_total.map(|t| t + len);
        Reader::open(p, opts, Arc::new(AtomicU64::new(0)))?;
    }

    let mut state = Checkpoint { version: CHECKPOINT_VERSION, ..Checkpoint::default() };
    let mut resumed = false;
    let (mut out, mut errs, paths) = match &opts.output {
        None => {
            let out = Sink { w: Box::new(BufWriter::with_capacity(1 << 20, io::stdout())), file: None, bytes: 0 };
            let errs = Sink { w: Box::new(io::stderr()), file: None, bytes: 0 };
            (out, errs, None)
        }
        Some(output) => {
            let partial = with_suffix(output, ".partial");
            let state_path = with_suffix(output, ".partial.state");
            let errors = with_suffix(output, ".errors.jsonl");
            let errors_partial = with_suffix(&errors, ".partial");
            state.fingerprint = fingerprint(opts, clf)?;
            let exists = output.exists();
            if state_path.exists() && opts.resume {
                let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
                let old: Checkpoint = serde_json::from_str(&text)
                    .map_err(|e| Error::io(&state_path, io::Error::new(io::ErrorKind::InvalidData, e)))?;
                if old.version != CHECKPOINT_VERSION || old.fingerprint != state.fingerprint {
                    return Err(Error::config(
                        "resume",
                        format!(
                            "the checkpoint {} was made with other inputs, options or model (or an input changed); start over with --force",
                            state_path.display()
                        ),
                    ));
                }
                state = old;
                resumed = true;
            } else if state_path.exists() && !opts.force {
                return Err(Error::io(
                    &state_path,
                    io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "an interrupted run left this checkpoint: pass --resume to continue it, or --force to start over",
                    ),
                ));
            } else if exists && !opts.force {
                return Err(Error::io(
                    output,
                    io::Error::new(io::ErrorKind::AlreadyExists, "output exists (use --force to replace it)"),
                ));
            }
            let keep = |n: u64| if resumed { Some(n) } else { None };
            let out = Sink::file(&partial, keep(state.output_bytes))?;
            let errs = Sink::file(&errors_partial, keep(state.errors_bytes))?;
            (out, errs, Some((output.clone(), partial, state_path, errors, errors_partial)))
        }
    };
    let resumed_rows = state.rows_read;

    let checkpoint = |state: &mut Checkpoint, out: &mut Sink, errs: &mut Sink| -> Result<()> {
        out.sync()?;
        errs.sync()?;
        if let Some((_, _, state_path, _, _)) = &paths {
            state.output_bytes = out.bytes;
            state.errors_bytes = errs.bytes;
            let json = serde_json::to_vec(state).unwrap_or_default();
            write_atomic(state_path, &json)?;
        }
        Ok(())
    };
    if !resumed {
        out.write(&schema.header())?;
        checkpoint(&mut state, &mut out, &mut errs)?;
    }

    let done_bytes = Arc::new(AtomicU64::new(0));
    let mut finished_bytes = 0u64;
    for (idx, path) in opts.inputs.iter().enumerate() {
        if idx < state.input {
            finished_bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            continue;
        }
        done_bytes.store(0, Ordering::Relaxed);
        let mut reader = Reader::open(path, opts, done_bytes.clone())?;
        if idx > state.input {
            state.input = idx;
            state.input_rows = 0;
        }
        // Skip the records an interrupted run completed.
        for _ in 0..state.input_rows {
            if reader.next()?.is_none() {
                return Err(Error::config(
                    "resume",
                    format!("{} has fewer rows than the checkpoint says; start over with --force", display(path)),
                ));
            }
        }
        let report = |state: &Checkpoint, progress: &mut dyn FnMut(&ScoreProgress)| {
            progress(&ScoreProgress {
                rows_read: state.rows_read,
                rows_written: state.rows_written,
                errors: state.errors,
                bytes_read: finished_bytes + done_bytes.load(Ordering::Relaxed),
                bytes_total,
                seconds: start.elapsed().as_secs_f64(),
            })
        };
        report(&state, &mut progress);
        let file_name = display(path);
        let chunk_rows = opts.chunk_rows;
        let read_chunk = |reader: &mut Reader| -> Result<Vec<Record>> {
            let mut chunk = Vec::with_capacity(chunk_rows.min(65536));
            while chunk.len() < chunk_rows {
                match reader.next()? {
                    Some(r) => chunk.push(r),
                    None => break,
                }
            }
            Ok(chunk)
        };
        let mut chunk = read_chunk(&mut reader)?;
        while !chunk.is_empty() {
            let first_row = state.rows_read + 1;
            // Read the next chunk while this one is classified. Each row is
            // classified and formatted in one step, so a chunk's predictions
            // are never all held at once.
            let (next, lines) = rayon::join(
                || read_chunk(&mut reader),
                || -> Vec<std::result::Result<String, String>> {
                    chunk
                        .par_iter()
                        .enumerate()
                        .map_init(Tokens::default, |tokens, (i, rec)| {
                            let rowno = first_row + i as u64;
                            let reason = match &rec.row {
                                Ok(row) => match clf.classify_with(&row.text, tokens) {
                                    Ok(p) => return Ok(schema.row(rowno, row, &p)),
                                    Err(e) => format!("classification failed: {e}"),
                                },
                                Err(reason) => reason.clone(),
                            };
                            let mut s = String::from("{\"file\":");
                            json_str(&mut s, &file_name);
                            s.push_str(&format!(",\"line\":{},\"row\":{rowno},\"reason\":", rec.line));
                            json_str(&mut s, &reason);
                            s.push_str(",\"raw\":");
                            json_str(&mut s, &rec.raw);
                            s.push_str("}\n");
                            Err(s)
                        })
                        .collect()
                },
            );
            for l in &lines {
                match l {
                    Ok(s) => {
                        out.write(s)?;
                        state.rows_written += 1;
                    }
                    Err(s) => {
                        errs.write(s)?;
                        state.errors += 1;
                    }
                }
            }
            state.rows_read += chunk.len() as u64;
            state.input_rows += chunk.len() as u64;
            checkpoint(&mut state, &mut out, &mut errs)?;
            report(&state, &mut progress);
            chunk = next?;
        }
        finished_bytes += done_bytes.load(Ordering::Relaxed);
        done_bytes.store(0, Ordering::Relaxed);
    }
    out.sync()?;
    errs.sync()?;
    drop(out);
    drop(errs);
    let mut summary = ScoreSummary {
        rows_read: state.rows_read,
        rows_written: state.rows_written,
        errors: state.errors,
        resumed_rows,
        seconds: 0.0,
        output: None,
        errors_file: None,
    };
    if let Some((output, partial, state_path, errors, errors_partial)) = paths {
        std::fs::rename(&errors_partial, &errors).map_err(|e| Error::io(&errors, e))?;
        std::fs::rename(&partial, &output).map_err(|e| Error::io(&output, e))?;
        sync_dir(&output);
        std::fs::remove_file(&state_path).map_err(|e| Error::io(&state_path, e))?;
        summary.output = Some(output);
        summary.errors_file = Some(errors);
    }
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(no: u64, s: &str) -> Line {
        Line { no, bytes: s.as_bytes().to_vec(), len: s.len() }
    }

    fn records(data: &str, max: usize) -> Vec<(u64, std::result::Result<Vec<String>, String>)> {
        let input: Input = Box::new(io::Cursor::new(data.as_bytes().to_vec()));
        let mut r = CsvRecords { lines: Lines::new(input, Path::new("t.csv"), max), delim: b',' };
        let mut v = Vec::new();
        while let Some((no, f, _)) = r.next().unwrap() {
            v.push((no, f.map(|f| f.into_iter().map(|x| String::from_utf8(x).unwrap()).collect())));
        }
        v
    }

    #[test]
    fn quoted_fields_span_lines_and_escape_quotes() {
        let v = records("a,b\n\"x, \"\"y\"\"\",\"two\r\nlines\"\n\n3,4\n", 1000);
        assert_eq!(v.len(), 3);
        assert_eq!(v[1], (2, Ok(vec!["x, \"y\"".to_string(), "two\nlines".to_string()])));
        assert_eq!(v[2], (5, Ok(vec!["3".to_string(), "4".to_string()])));
    }

    #[test]
    fn unclosed_quote_spoils_one_line_only() {
        let v = records("a,b\n1,\"never closed\n2,ok\n3,fine\n", 1000);
        assert_eq!(v.len(), 4);
        assert!(v[1].1.as_ref().unwrap_err().contains("never closed"));
        assert_eq!(v[2], (3, Ok(vec!["2".to_string(), "ok".to_string()])));
        // Past the size limit, the same.
        let v = records("a,b\n1,\"open\n2,ok\n3,fine\n", 12);
        assert_eq!(v.len(), 4, "{v:?}");
        assert_eq!(v[3], (4, Ok(vec!["3".to_string(), "fine".to_string()])));
    }

    #[test]
    fn stray_quote_after_closing_is_bad() {
        let mut p = FieldParser::new(b',');
        assert!(matches!(p.feed(&line(1, "\"a\"b,c")), Fed::Bad(_)));
        let mut p = FieldParser::new(b',');
        assert!(matches!(p.feed(&line(1, "5\" screen,\"\",x")), Fed::Done));
        assert_eq!(p.fields, [b"5\" screen".to_vec(), Vec::new(), b"x".to_vec()]);
    }

    #[test]
    fn guesses_ignore_case_and_separators() {
        let names: Vec<String> = ["ID", "Review Text", "Date"].map(String::from).to_vec();
        assert_eq!(find_text(&names, None, Path::new("x"), 1).unwrap(), 1);
        let err = find_text(&names[..1], None, Path::new("x.csv"), 1).unwrap_err().to_string();
        assert!(err.contains("`ID`") && err.contains("--text-column"), "{err}");
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let mut s = String::new();
        csv_field(&mut s, "a \"b\", c");
        assert_eq!(s, "\"a \"\"b\"\", c\"");
    }
}
