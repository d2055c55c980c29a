//! # voc: what customer feedback says about quality
//!
//! voc reads customer comments (survey answers, tickets, reviews, complaint
//! narratives, tweets) and returns, for each one, a calibrated **sentiment**
//! (negative / neutral / positive) and multi-label **complaint tags**
//! (`product_failure`, `communication_gap`, `training_need`,
//! `process_breakdown`, or a model's own label set), each with the sentences
//! and words that drive it. A small neural classifier (a weighted bag of
//! distilled token embeddings and a hidden layer, built on candle) scores
//! text in microseconds; the default model is compiled in.
//!
//! ```
//! use voc::Classifier;
//!
//! let clf = Classifier::embedded()?;
//! let p = clf.classify("The app crashed twice. The agent who helped me was lovely.")?;
//! assert_eq!(p.sentences.len(), 2);
//! for s in &p.sentences {
//!     println!("{:>8} {:?} {}", s.sentiment, s.tags, s.text);
//! }
//! println!("{}", serde_json::to_string_pretty(&p).unwrap());
//! # Ok::<(), voc::Error>(())
//! ```
//!
//! Training your own label set, evaluation and batch helpers: see [`train`],
//! [`evaluate`] and [`Classifier::classify_batch`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]
// Index loops over several parallel arrays read better than zipped iterators here.
#![allow(clippy::needless_range_loop)]

mod batch;
mod classifier;
mod data;
mod error;
mod eval;
mod format;
mod labels;
mod network;
mod prediction;
mod report;
mod scope;
mod sentences;
mod tokenize;
mod train;

pub use classifier::{Classifier, DEFAULT_MAX_INPUT_BYTES};
pub use data::{Confidence, Example, HashList, ReadOptions, SoftLabels, eval_hash, read_examples};
pub use error::{BoxError, Error, Result};
pub use eval::{
    ClassMetrics, Confusion, EvalReport, SentimentReport, SourceReport, TagsReport, UNKNOWN_SOURCE, evaluate,
    evaluate_by_source,
};
pub use format::{FORMAT_VERSION, ModelBytes, OLDEST_FORMAT_VERSION};
pub use labels::Labels;
pub use prediction::{Evidence, Prediction, Scores, Sentence, Sentiment, Span, Tag};
pub use train::{ClassWeights, EpochReport, TrainConfig, TrainReport, train};

pub use batch::{
    ClassifyIter, DEFAULT_CHUNK_ROWS, DEFAULT_MAX_ROW_BYTES, InputFormat, OutputFormat, ScoreOptions, ScoreProgress,
    ScoreSummary, TEXT_COLUMN_GUESSES, score_file,
};
pub use report::{FeedbackReport, Period, ReportOptions};

/// The README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
