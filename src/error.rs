//! The crate's one error type.

use std::path::PathBuf;

/// A boxed source error from a dependency (kept as the error's `source()`,
/// without putting the dependency's type into voc's public API).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in voc.
///
/// Every I/O error carries the path it concerns, every error from a dependency
/// is kept as [`std::error::Error::source`], and messages name the file, line
/// and field at fault where there is one. The enum is `#[non_exhaustive]`: new
/// variants may be added without a breaking release.
///
/// ```
/// let err = voc::Classifier::from_dir("no/such/model").unwrap_err();
/// assert!(matches!(err, voc::Error::Io { .. }));
/// assert!(err.to_string().contains("no/such/model"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A model file is missing, unreadable or inconsistent with the others.
    #[error("model file {file}: {message}")]
    Model {
        /// The model file at fault (`config.json`, `labels.json`, ...).
        file: String,
        /// What is wrong, and where possible what to do.
        message: String,
        /// The parser's error, when there was one.
        #[source]
        source: Option<BoxError>,
    },
    /// The model folder was written in a format version this build cannot read.
    #[error(
        "model format version {found} is not supported (this voc reads versions {oldest} to {newest}); retrain or convert the model with a matching voc"
    )]
    IncompatibleVersion {
        /// The version the model declares.
        found: u32,
        /// Oldest version this build reads.
        oldest: u32,
        /// Newest version this build reads.
        newest: u32,
    },
    /// A row of a data file is malformed.
    #[error("{}:{line}: {field}: {message}", path.display())]
    Data {
        /// The data file (or `-` for stdin).
        path: PathBuf,
        /// 1-based line (JSONL) or record (CSV) number.
        line: u64,
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A configuration value is out of range; nothing was done.
    #[error("invalid {field}: {message}")]
    Config {
        /// The configuration field at fault.
        field: String,
        /// What is allowed.
        message: String,
    },
    /// Tokenization failed.
    #[error("tokenizer: {0}")]
    Tokenizer(#[source] BoxError),
    /// A tensor operation failed (training).
    #[error("tensor operation: {0}")]
    Tensor(#[source] BoxError),
}

/// `Result` with voc's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn model(file: &str, message: impl Into<String>) -> Self {
        Error::Model { file: file.to_string(), message: message.into(), source: None }
    }

    pub(crate) fn model_src(file: &str, message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Model { file: file.to_string(), message: message.into(), source: Some(source.into()) }
    }

    pub(crate) fn config(field: &str, message: impl Into<String>) -> Self {
        Error::Config { field: field.to_string(), message: message.into() }
    }

    pub(crate) fn data(path: impl Into<PathBuf>, line: u64, field: &str, message: impl Into<String>) -> Self {
        Error::Data { path: path.into(), line, field: field.to_string(), message: message.into() }
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Tensor(Box::new(e))
    }
}
