//! Python bindings for voc (the `voc` Python module), built with PyO3 and
//! maturin. One implementation: every call goes to the `voc` crate.
//!
//! - Predictions are the crate's `Prediction` serialized by serde_json and
//!   read back as plain Python objects (dict, list, str, float, bool), so
//!   `clf.classify(t) == json.loads(<voc classify t>)`.
//! - Work runs with the interpreter detached (the GIL released): batches on a
//!   rayon pool that uses every core, including the serialization; only the
//!   final building of Python objects holds the GIL.
//! - The thread pool is per process and rebuilt in a forked child (whose
//!   parent's pool threads do not exist), so multiprocessing, Spark's forked
//!   Python workers and Dask's process workers cannot hang on it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::create_exception;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyPermissionError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PyString};

// The same allocator as the `voc` command (Rust allocations only).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

create_exception!(
    voc,
    VocError,
    PyValueError,
    "An error from voc (bad model, bad option, bad data); the message is voc's own. I/O errors are OSError."
);
create_exception!(
    voc,
    ModelError,
    VocError,
    "A model folder is unreadable, inconsistent (checksums, shapes, labels) or of an unsupported format version."
);

/// The Rust error's message, with the messages of its sources that it does not
/// already contain.
fn message(e: &::voc::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let s_msg = s.to_string();
        if !msg.contains(&s_msg) {
            msg.push_str(": ");
            msg.push_str(&s_msg);
        }
        src = s.source();
    }
    msg
}

/// `voc::Error` -> a Python exception carrying the Rust message.
fn to_py_err(e: ::voc::Error) -> PyErr {
    let msg = message(&e);
    match &e {
        ::voc::Error::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
            _ => PyOSError::new_err(msg),
        },
        ::voc::Error::Model { .. } | ::voc::Error::IncompatibleVersion { .. } => ModelError::new_err(msg),
        _ => VocError::new_err(msg),
    }
}

// ---------------------------------------------------------------- thread pool

/// Threads for batches: 0 = rayon's default (`RAYON_NUM_THREADS`, else every core).
static THREADS: AtomicUsize = AtomicUsize::new(0);

struct Pool {
    pid: u32,
    threads: usize,
    pool: Arc<rayon::ThreadPool>,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// This process's pool, built on first use, rebuilt after a fork or
/// `set_threads`.
fn pool() -> PyResult<Arc<rayon::ThreadPool>> {
    let mut guard = lock(&POOL);
    let pid = std::process::id();
    let threads = THREADS.load(Ordering::Relaxed);
    if let Some(p) = guard.as_ref() {
        if p.pid == pid && p.threads == threads {
            return Ok(p.pool.clone());
        }
    }
    if let Some(old) = guard.take() {
        if old.pid != pid {
            // A forked child: the parent's worker threads do not exist here, so
            // dropping the pool would signal threads that are not there.
            std::mem::forget(old);
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("voc-{i}"))
        .build()
        .map_err(|e| VocError::new_err(format!("cannot start the thread pool: {e}")))?;
    let pool = Arc::new(pool);
    *guard = Some(Pool { pid, threads, pool: pool.clone() });
    Ok(pool)
}

/// Set how many threads `classify_batch` uses in this process (0 = every
/// core, or `RAYON_NUM_THREADS` when set). Run several Python workers per
/// machine (Spark executors with several task slots)? Give each
/// `cores / workers`.
#[pyfunction]
fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// How many threads `classify_batch` uses in this process.
#[pyfunction]
fn get_threads() -> PyResult<usize> {
    Ok(pool()?.current_num_threads())
}

// ------------------------------------------------------------- conversions

/// Rows per step of the classify / build-objects pipeline of `classify_batch`.
const PIPELINE_CHUNK: usize = 512;

/// The shortest decimal that reads back as `x`, as an f64: what serde_json
/// writes for an f32 and `json.loads` reads (0.8, not 0.800000011920929).
fn short(x: f32) -> f64 {
    if !x.is_finite() {
        return x as f64;
    }
    let mut b = ryu::Buffer::new();
    b.format_finite(x).parse().unwrap_or(x as f64)
}

/// A prediction as serde_json writes it (the `voc classify` line): for the
/// tests that check `classify` against it.
fn to_json(p: &::voc::Prediction) -> PyResult<String> {
    serde_json::to_string(p).map_err(|e| VocError::new_err(format!("cannot serialize a prediction: {e}")))
}

/// Builds the Python objects of predictions: the structure serde gives the
/// Rust `Prediction` (same keys, same nesting, floats as json.loads reads
/// them), built directly, without a JSON round trip. Strings that repeat in
/// every prediction (class and tag names) are made once per call.
struct Builder<'py> {
    py: Python<'py>,
    names: HashMap<String, Bound<'py, PyString>>,
}

impl<'py> Builder<'py> {
    fn new(py: Python<'py>) -> Self {
        Builder { py, names: HashMap::new() }
    }

    fn name(&mut self, k: &str) -> Bound<'py, PyString> {
        if let Some(s) = self.names.get(k) {
            return s.clone();
        }
        let s = PyString::new(self.py, k);
        if self.names.len() < 1024 {
            self.names.insert(k.to_string(), s.clone());
        }
        s
    }

    fn float(&self, x: f32) -> Bound<'py, PyAny> {
        if x.is_finite() {
            PyFloat::new(self.py, short(x)).into_any()
        } else {
            self.py.None().into_bound(self.py) // serde_json writes null
        }
    }

    fn probs(&mut self, m: &std::collections::BTreeMap<String, f32>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(self.py);
        for (k, &v) in m {
            d.set_item(self.name(k), self.float(v))?;
        }
        Ok(d)
    }

    fn spans(&mut self, spans: &[::voc::Span]) -> PyResult<Bound<'py, PyList>> {
        let py = self.py;
        let items = spans
            .iter()
            .map(|s| {
                let d = PyDict::new(py);
                d.set_item(intern!(py, "start"), s.start)?;
                d.set_item(intern!(py, "end"), s.end)?;
                d.set_item(intern!(py, "text"), &s.text)?;
                d.set_item(intern!(py, "weight"), self.float(s.weight))?;
                Ok(d)
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    fn evidence(&mut self, e: &::voc::Evidence) -> PyResult<Bound<'py, PyDict>> {
        let py = self.py;
        let d = PyDict::new(py);
        d.set_item(intern!(py, "sentences"), self.spans(&e.sentences)?)?;
        d.set_item(intern!(py, "words"), self.spans(&e.words)?)?;
        Ok(d)
    }

    fn prediction(&mut self, p: &::voc::Prediction) -> PyResult<Bound<'py, PyDict>> {
        let py = self.py;
        let sentiment = PyDict::new(py);
        sentiment.set_item(intern!(py, "label"), self.name(&p.sentiment.label))?;
        sentiment.set_item(intern!(py, "score"), self.float(p.sentiment.score))?;
        sentiment.set_item(intern!(py, "probabilities"), self.probs(&p.sentiment.probabilities)?)?;
        sentiment.set_item(intern!(py, "evidence"), self.evidence(&p.sentiment.evidence)?)?;

        let mut tags = Vec::with_capacity(p.tags.len());
        for t in &p.tags {
            let d = PyDict::new(py);
            d.set_item(intern!(py, "name"), self.name(&t.name))?;
            d.set_item(intern!(py, "probability"), self.float(t.probability))?;
            d.set_item(intern!(py, "evidence"), self.evidence(&t.evidence)?)?;
            tags.push(d);
        }

        let mut sentences = Vec::with_capacity(p.sentences.len());
        for s in &p.sentences {
            let d = PyDict::new(py);
            d.set_item(intern!(py, "start"), s.start)?;
            d.set_item(intern!(py, "end"), s.end)?;
            d.set_item(intern!(py, "text"), &s.text)?;
            d.set_item(intern!(py, "sentiment"), self.name(&s.sentiment))?;
            d.set_item(intern!(py, "sentiment_score"), self.float(s.sentiment_score))?;
            let names = s.tags.iter().map(|t| self.name(t)).collect::<Vec<_>>();
            d.set_item(intern!(py, "tags"), PyList::new(py, names)?)?;
            d.set_item(intern!(py, "tag_probabilities"), self.probs(&s.tag_probabilities)?)?;
            sentences.push(d);
        }

        let d = PyDict::new(py);
        d.set_item(intern!(py, "sentiment"), sentiment)?;
        d.set_item(intern!(py, "tags"), PyList::new(py, tags)?)?;
        d.set_item(intern!(py, "tag_probabilities"), self.probs(&p.tag_probabilities)?)?;
        d.set_item(intern!(py, "sentences"), PyList::new(py, sentences)?)?;
        d.set_item(intern!(py, "truncated"), p.truncated)?;
        Ok(d)
    }
}

/// The cyclic garbage collector paused while a chunk's objects are built
/// (hundreds of thousands of new dicts and lists would trigger it again and
/// again, for nothing: they hold no cycles). Restored on drop; never turned
/// on when the application had turned it off. Used only while the GIL is
/// held throughout, so no other Python thread runs in between.
struct GcPause<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>) -> Self {
        let gc = py.import("gc").ok().filter(|gc| {
            gc.call_method0("isenabled").and_then(|b| b.is_truthy()).unwrap_or(false)
                && gc.call_method0("disable").is_ok()
        });
        GcPause { gc }
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            let _ = gc.call_method0("enable");
        }
    }
}

/// The texts of a batch: any iterable of str (list, tuple, pandas Series,
/// numpy object array, generator), in order.
fn texts_of(texts: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if texts.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("texts must be an iterable of str, not a single str (use classify)"));
    }
    let it = texts
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("texts must be an iterable of str, not {}", type_name(texts))))?;
    let mut out = Vec::with_capacity(texts.len().unwrap_or(0));
    for (i, item) in it.enumerate() {
        let item = item?;
        let Ok(s) = item.cast::<PyString>() else {
            let hint = if item.is_none() || item.is_instance_of::<PyFloat>() {
                " (a missing value? fill it first, e.g. series.fillna(\"\"))"
            } else {
                ""
            };
            return Err(PyTypeError::new_err(format!("texts[{i}] must be str, not {}{hint}", type_name(&item))));
        };
        out.push(s.to_cow()?.into_owned());
    }
    Ok(out)
}

fn type_name(o: &Bound<'_, PyAny>) -> String {
    o.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

// ------------------------------------------------------------- Classifier

/// A voc classifier: sentiment, tags with evidence, sentences.
///
/// `Classifier()` is the default model compiled into the wheel;
/// `Classifier.load(path)` reads a model folder. Thread-safe: share one
/// across threads (the GIL is released while it works). Not picklable on
/// purpose: on a cluster, load one per worker process with
/// `voc.get_classifier()`.
#[pyclass(frozen, module = "voc", name = "Classifier")]
struct Classifier {
    inner: ::voc::Classifier,
    source: Option<PathBuf>,
}

fn with_limit(clf: ::voc::Classifier, max_input_bytes: Option<usize>) -> PyResult<::voc::Classifier> {
    match max_input_bytes {
        Some(n) => clf.with_max_input_bytes(n).map_err(to_py_err),
        None => Ok(clf),
    }
}

fn embedded(py: Python<'_>) -> PyResult<::voc::Classifier> {
    py.detach(::voc::Classifier::embedded).map_err(to_py_err)
}

fn from_dir(py: Python<'_>, path: PathBuf) -> PyResult<::voc::Classifier> {
    py.detach(|| ::voc::Classifier::from_dir(&path)).map_err(to_py_err)
}

impl Classifier {
    fn predictions(&self, py: Python<'_>, texts: Vec<String>) -> PyResult<Vec<::voc::Prediction>> {
        let pool = pool()?;
        py.detach(|| pool.install(|| self.inner.classify_batch(&texts))).map_err(to_py_err)
    }

    fn scores(&self, py: Python<'_>, texts: Vec<String>) -> PyResult<Vec<::voc::Scores>> {
        let pool = pool()?;
        py.detach(|| pool.install(|| self.inner.scores_batch(&texts))).map_err(to_py_err)
    }
}

#[pymethods]
impl Classifier {
    /// The default model, compiled in (no files, no network).
    #[new]
    #[pyo3(signature = (*, max_input_bytes=None))]
    fn new(py: Python<'_>, max_input_bytes: Option<usize>) -> PyResult<Self> {
        Ok(Classifier { inner: with_limit(embedded(py)?, max_input_bytes)?, source: None })
    }

    /// Load a model folder (`config.json`, `labels.json`, `tokenizer.json`,
    /// `model.safetensors`), checking its checksums, shapes and labels.
    #[staticmethod]
    #[pyo3(signature = (path, *, max_input_bytes=None))]
    fn load(py: Python<'_>, path: PathBuf, max_input_bytes: Option<usize>) -> PyResult<Self> {
        let inner = with_limit(from_dir(py, path.clone())?, max_input_bytes)?;
        Ok(Classifier { inner, source: Some(path) })
    }

    /// Classify one comment: a dict with `sentiment`, `tags`,
    /// `tag_probabilities`, `sentences`, `truncated` (see the README).
    fn classify<'py>(&self, py: Python<'py>, text: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        let Ok(s) = text.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!("text must be str, not {}", type_name(text))));
        };
        let s = s.to_cow()?;
        let p = py.detach(|| self.inner.classify(&s)).map_err(to_py_err)?;
        Builder::new(py).prediction(&p)
    }

    /// The prediction of one comment as the JSON line `voc classify` writes
    /// (serde_json), for comparisons and tests.
    fn classify_json(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<String> {
        let Ok(s) = text.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!("text must be str, not {}", type_name(text))));
        };
        let s = s.to_cow()?;
        let p = py.detach(|| self.inner.classify(&s)).map_err(to_py_err)?;
        to_json(&p)
    }

    /// Classify many comments in parallel on every core, the GIL released:
    /// a list of dicts in input order, each equal to `classify(text)`.
    fn classify_batch<'py>(&self, py: Python<'py>, texts: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let texts = texts_of(texts)?;
        let pool = pool()?;
        let out = PyList::empty(py);
        if texts.is_empty() {
            return Ok(out);
        }
        // A pipeline: a helper thread classifies chunk k+1 on the pool (no
        // GIL) while this thread builds the Python objects of chunk k.
        let inner = &self.inner;
        let chunk = PIPELINE_CHUNK;
        std::thread::scope(|scope| -> PyResult<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<::voc::Result<Vec<::voc::Prediction>>>(1);
            let rx = Mutex::new(rx);
            let texts = &texts;
            let producer = scope.spawn(move || {
                for part in texts.chunks(chunk) {
                    let r = pool.install(|| inner.classify_batch(part));
                    let failed = r.is_err();
                    if tx.send(r).is_err() || failed {
                        break;
                    }
                }
            });
            let result = (|| {
                for _ in texts.chunks(chunk) {
                    let preds = match py.detach(|| lock(&rx).recv()) {
                        Ok(r) => r.map_err(to_py_err)?,
                        Err(_) => return Err(VocError::new_err("the classifying thread stopped")),
                    };
                    let _gc = GcPause::new(py);
                    let mut b = Builder::new(py);
                    for p in &preds {
                        out.append(b.prediction(p)?)?;
                    }
                    drop(_gc);
                    py.check_signals()?; // Ctrl-C stops a long batch between chunks
                }
                Ok(())
            })();
            drop(rx.into_inner()); // stops the producer after its current chunk on error
            py.detach(|| producer.join()).map_err(|_| VocError::new_err("the classifying thread panicked"))?;
            result
        })?;
        Ok(out)
    }

    /// Classify many comments (as `classify_batch`) into columns a pandas
    /// DataFrame takes directly: `sentiment`, `sentiment_score`, `p_<class>`
    /// for each sentiment class, `tags` (predicted tags joined by `;`, most
    /// probable first), `p_<tag>` for each tag, `truncated`. Every value is a
    /// list as long as `texts`.
    fn classify_batch_columns<'py>(&self, py: Python<'py>, texts: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        let texts = texts_of(texts)?;
        let labels = self.inner.labels();
        let classes: Vec<String> = labels.sentiment().to_vec();
        let tags: Vec<String> = labels.tags().to_vec();
        let mut names: Vec<String> = vec!["sentiment".into(), "sentiment_score".into()];
        names.extend(classes.iter().map(|c| format!("p_{c}")));
        names.push("tags".into());
        names.extend(tags.iter().map(|t| format!("p_{t}")));
        names.push("truncated".into());
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(VocError::new_err(format!(
                    "column {n:?} would appear twice: the model has a sentiment class and a tag (or a column) of the same name"
                )));
            }
        }
        // The columns need no evidence: the probabilities-only path, whose
        // numbers equal `classify`'s.
        let scores = self.scores(py, texts)?;
        struct Cols {
            label: Vec<String>,
            score: Vec<f64>,
            p_class: Vec<Vec<f64>>,
            tags: Vec<String>,
            p_tag: Vec<Vec<f64>>,
            truncated: Vec<bool>,
        }
        let n = scores.len();
        let cols = py.detach(|| {
            let mut c = Cols {
                label: Vec::with_capacity(n),
                score: Vec::with_capacity(n),
                p_class: vec![Vec::with_capacity(n); classes.len()],
                tags: Vec::with_capacity(n),
                p_tag: vec![Vec::with_capacity(n); tags.len()],
                truncated: Vec::with_capacity(n),
            };
            for s in &scores {
                c.label.push(classes[s.sentiment].clone());
                c.score.push(short(s.sentiment_score));
                for (j, &x) in s.sentiment_probabilities.iter().enumerate() {
                    c.p_class[j].push(short(x));
                }
                c.tags.push(s.tags.iter().map(|&k| tags[k].as_str()).collect::<Vec<_>>().join(";"));
                for (j, &x) in s.tag_probabilities.iter().enumerate() {
                    c.p_tag[j].push(short(x));
                }
                c.truncated.push(s.truncated);
            }
            c
        });
        let d = PyDict::new(py);
        let mut names = names.into_iter();
        let mut put = |v: Bound<'py, PyList>| d.set_item(names.next().unwrap_or_default(), v);
        put(PyList::new(py, cols.label)?)?;
        put(PyList::new(py, cols.score)?)?;
        for col in cols.p_class {
            put(PyList::new(py, col)?)?;
        }
        put(PyList::new(py, cols.tags)?)?;
        for col in cols.p_tag {
            put(PyList::new(py, col)?)?;
        }
        put(PyList::new(py, cols.truncated)?)?;
        Ok(d)
    }

    /// `{"sentiment": [classes], "tags": [tags], "thresholds": {tag: threshold}}`.
    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let l = self.inner.labels();
        let d = PyDict::new(py);
        d.set_item("sentiment", l.sentiment().to_vec())?;
        d.set_item("tags", l.tags().to_vec())?;
        let th = PyDict::new(py);
        for t in l.tags() {
            if let Some(x) = l.threshold(t) {
                th.set_item(t, short(x))?;
            }
        }
        d.set_item("thresholds", th)?;
        Ok(d)
    }

    /// The input limit in bytes: longer texts are analyzed up to it and say
    /// `truncated: True`.
    #[getter]
    fn max_input_bytes(&self) -> usize {
        self.inner.max_input_bytes()
    }

    /// The model folder it was loaded from, or None for the embedded model.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.source.clone()
    }

    fn __repr__(&self) -> String {
        let l = self.inner.labels();
        let from = match &self.source {
            Some(p) => format!("{:?}", p.display().to_string()),
            None => "embedded".into(),
        };
        format!("<voc.Classifier {from} sentiment={:?} tags={:?}>", l.sentiment(), l.tags())
    }
}

// ------------------------------------------------------- one per process

static SHARED: Mutex<Vec<(u32, Option<PathBuf>, Py<Classifier>)>> = Mutex::new(Vec::new());

/// The process-wide classifier for `path` (None = the embedded model):
/// loaded on the first call in this process, the same object afterwards.
/// Use it inside Spark / Dask worker functions, so each worker process loads
/// the model once, however many partitions it scores.
#[pyfunction]
#[pyo3(signature = (path=None))]
fn get_classifier(py: Python<'_>, path: Option<PathBuf>) -> PyResult<Py<Classifier>> {
    let key = match path {
        Some(p) => Some(std::path::absolute(&p).unwrap_or(p)),
        None => None,
    };
    let pid = std::process::id();
    let find = || lock(&SHARED).iter().find(|(p, k, _)| *p == pid && *k == key).map(|(_, _, c)| c.clone_ref(py));
    if let Some(c) = find() {
        return Ok(c);
    }
    // Loaded without the lock (and without the GIL); a concurrent first call
    // may load twice, but every caller gets the one object stored first.
    let inner = match &key {
        Some(p) => from_dir(py, p.clone())?,
        None => embedded(py)?,
    };
    let fresh = Py::new(py, Classifier { inner, source: key.clone() })?;
    let mut shared = lock(&SHARED);
    if let Some((_, _, c)) = shared.iter().find(|(p, k, _)| *p == pid && *k == key) {
        return Ok(c.clone_ref(py));
    }
    shared.retain(|(p, _, _)| *p == pid);
    shared.push((pid, key, fresh.clone_ref(py)));
    Ok(fresh)
}

/// voc: what customer feedback says about quality (sentiment, tags with
/// evidence, sentences), from the Rust crate.
#[pymodule]
#[pyo3(name = "voc")]
fn voc_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Classifier>()?;
    m.add_function(wrap_pyfunction!(get_classifier, m)?)?;
    m.add_function(wrap_pyfunction!(set_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_threads, m)?)?;
    m.add("VocError", py.get_type::<VocError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FORMAT_VERSION", ::voc::FORMAT_VERSION)?;
    Ok(())
}
