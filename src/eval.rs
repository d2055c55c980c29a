//! Evaluation: precision, recall, F1, confusion and calibration error of a
//! classifier on labeled examples.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classifier::Classifier;
use crate::data::Example;
use crate::error::Result;
use crate::tokenize::Tokens;

/// Precision, recall, F1 and support of one class or tag.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClassMetrics {
    /// Of the predicted, the share that was right (0 when nothing was predicted).
    pub precision: f64,
    /// Of the true, the share that was found (0 when there were none).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Number of true examples.
    pub support: usize,
}

impl ClassMetrics {
    pub(crate) fn from_counts(tp: usize, fp: usize, fn_: usize) -> Self {
        let p = if tp + fp > 0 { tp as f64 / (tp + fp) as f64 } else { 0.0 };
        let r = if tp + fn_ > 0 { tp as f64 / (tp + fn_) as f64 } else { 0.0 };
        let f1 = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
        ClassMetrics { precision: p, recall: r, f1, support: tp + fn_ }
    }
}

/// Confusion matrix: `matrix[true][predicted]`, in the order of `labels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Confusion {
    /// Class names.
    pub labels: Vec<String>,
    /// Counts, rows are the true class, columns the predicted one.
    pub matrix: Vec<Vec<usize>>,
}

/// Sentiment figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SentimentReport {
    /// Share of rows whose class was predicted right.
    pub accuracy: f64,
    /// Unweighted mean of the classes' F1.
    pub macro_f1: f64,
    /// Figures of each class.
    pub per_class: BTreeMap<String, ClassMetrics>,
    /// Confusion matrix.
    pub confusion: Confusion,
    /// Expected calibration error of the top probability (10 equal-width bins).
    pub ece: f64,
}

/// Tag figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TagsReport {
    /// Unweighted mean of the tags' F1.
    pub macro_f1: f64,
    /// F1 over all (row, tag) decisions pooled.
    pub micro_f1: f64,
    /// Figures of each tag.
    pub per_label: BTreeMap<String, ClassMetrics>,
}

/// What `voc eval` prints: figures of a classifier on a labeled set. Rows
/// without a sentiment (or without tags) are left out of that part; `n`
/// counts all rows.
///
/// ```
/// let clf = voc::Classifier::embedded()?;
/// let rows = vec![
///     voc::Example::new("It broke after one day.").with_sentiment("negative").with_tags(["product_failure"]),
///     voc::Example::new("Wonderful staff, thank you!").with_sentiment("positive").with_tags(Vec::<String>::new()),
/// ];
/// let report = voc::evaluate(&clf, &rows)?;
/// assert_eq!(report.n, 2);
/// assert!(report.sentiment.is_some());
/// println!("{}", report.to_table());
/// # Ok::<(), voc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EvalReport {
    /// Rows read.
    pub n: usize,
    /// Sentiment figures, if any row has a sentiment label.
    pub sentiment: Option<SentimentReport>,
    /// Tag figures, if any row has tag labels.
    pub tags: Option<TagsReport>,
}

/// Score a classifier on labeled examples (in parallel).
pub fn evaluate(clf: &Classifier, examples: &[Example]) -> Result<EvalReport> {
    let probs = score_all(clf, examples)?;
    let labels = clf.labels();
    Ok(report_from_probs(labels.sentiment(), labels.tags(), &thresholds(clf), examples, &probs))
}

/// Source name of the rows that carry none, in [`SourceReport::by_source`].
pub const UNKNOWN_SOURCE: &str = "unknown";

/// [`evaluate`], plus the same figures for each source of the rows (the
/// `source` field of JSONL rows; rows without one count as
/// [`UNKNOWN_SOURCE`]). Each text is scored once. A source's macro-F1
/// averages over every class and tag of the model, as the overall one does,
/// so a class that a source never has counts as F1 0 there: read the
/// per-class figures and their support.
///
/// ```
/// let clf = voc::Classifier::embedded()?;
/// let rows = vec![
///     voc::Example::new("It broke after one day.").with_sentiment("negative").with_source("reviews"),
///     voc::Example::new("@airline 3 hours on the tarmac").with_sentiment("negative").with_source("tweets"),
///     voc::Example::new("Thanks, all sorted!").with_sentiment("positive").with_source("tweets"),
/// ];
/// let report = voc::evaluate_by_source(&clf, &rows)?;
/// assert_eq!(report.all.n, 3);
/// assert_eq!(report.by_source["tweets"].n, 2);
/// println!("{}", report.to_table());
/// # Ok::<(), voc::Error>(())
/// ```
pub fn evaluate_by_source(clf: &Classifier, examples: &[Example]) -> Result<SourceReport> {
    let probs = score_all(clf, examples)?;
    let labels = clf.labels();
    let th = thresholds(clf);
    let rows: Vec<Row<'_>> = examples.iter().zip(&probs).collect();
    let mut groups: BTreeMap<&str, Vec<Row<'_>>> = BTreeMap::new();
    for &row in &rows {
        groups.entry(row.0.source.as_deref().unwrap_or(UNKNOWN_SOURCE)).or_default().push(row);
    }
    Ok(SourceReport {
        all: report_rows(labels.sentiment(), labels.tags(), &th, &rows),
        by_source: groups
            .into_iter()
            .map(|(name, g)| (name.to_string(), report_rows(labels.sentiment(), labels.tags(), &th, &g)))
            .collect(),
    })
}

/// Figures over all rows and for each source; see [`evaluate_by_source`].
/// As JSON: the fields of [`EvalReport`] plus `by_source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceReport {
    /// Every row, as [`evaluate`] gives.
    #[serde(flatten)]
    pub all: EvalReport,
    /// Each source's rows, by source name.
    pub by_source: BTreeMap<String, EvalReport>,
}

fn score_all(clf: &Classifier, examples: &[Example]) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
    examples.par_iter().map_init(Tokens::default, |tok, ex| clf.probabilities(&ex.text, tok)).collect()
}

fn thresholds(clf: &Classifier) -> Vec<f32> {
    let labels = clf.labels();
    labels.tags().iter().map(|t| labels.threshold(t).unwrap_or(0.5)).collect()
}

pub(crate) fn report_from_probs(
    classes: &[String],
    tags: &[String],
    thresholds: &[f32],
    examples: &[Example],
    probs: &[(Vec<f32>, Vec<f32>)],
) -> EvalReport {
    let rows: Vec<Row<'_>> = examples.iter().zip(probs).collect();
    report_rows(classes, tags, thresholds, &rows)
}

/// One scored row: the example and its (sentiment, tag) probabilities.
type Row<'a> = (&'a Example, &'a (Vec<f32>, Vec<f32>));

fn report_rows(classes: &[String], tags: &[String], thresholds: &[f32], rows: &[Row<'_>]) -> EvalReport {
    let c = classes.len();
    let mut matrix = vec![vec![0usize; c]; c];
    let mut n_sent = 0usize;
    let mut bins = [(0usize, 0f64, 0f64); 10]; // count, confidence sum, correct sum
    for &(ex, (sp, _)) in rows {
        let Some(truth) = ex.sentiment.as_ref().and_then(|s| classes.iter().position(|c| c == s)) else {
            continue;
        };
        n_sent += 1;
        let pred = argmax(sp);
        matrix[truth][pred] += 1;
        let conf = sp[pred] as f64;
        let b = ((conf * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += conf;
        bins[b].2 += (pred == truth) as u8 as f64;
    }
    let sentiment = (n_sent > 0).then(|| {
        let mut per_class = BTreeMap::new();
        let mut correct = 0;
        for k in 0..c {
            let tp = matrix[k][k];
            correct += tp;
            let fp: usize = (0..c).filter(|&t| t != k).map(|t| matrix[t][k]).sum();
            let fn_: usize = (0..c).filter(|&p| p != k).map(|p| matrix[k][p]).sum();
            per_class.insert(classes[k].clone(), ClassMetrics::from_counts(tp, fp, fn_));
        }
        let macro_f1 = per_class.values().map(|m| m.f1).sum::<f64>() / c as f64;
        let ece =
            bins.iter().map(|(n, conf, ok)| if *n > 0 { (conf - ok).abs() } else { 0.0 }).sum::<f64>() / n_sent as f64;
        SentimentReport {
            accuracy: correct as f64 / n_sent as f64,
            macro_f1,
            per_class,
            confusion: Confusion { labels: classes.to_vec(), matrix },
            ece,
        }
    });

    let t = tags.len();
    let mut counts = vec![(0usize, 0usize, 0usize); t];
    let mut any_tags = false;
    for &(ex, (_, tp)) in rows {
        let Some(truth) = &ex.tags else { continue };
        any_tags = true;
        for k in 0..t {
            let is = truth.contains(&tags[k]);
            let pred = tp[k] >= thresholds[k];
            match (is, pred) {
                (true, true) => counts[k].0 += 1,
                (false, true) => counts[k].1 += 1,
                (true, false) => counts[k].2 += 1,
                _ => {}
            }
        }
    }
    let tags_report = any_tags.then(|| {
        let per_label: BTreeMap<String, ClassMetrics> = tags
            .iter()
            .zip(&counts)
            .map(|(name, &(tp, fp, fn_))| (name.clone(), ClassMetrics::from_counts(tp, fp, fn_)))
            .collect();
        let macro_f1 = if t > 0 { per_label.values().map(|m| m.f1).sum::<f64>() / t as f64 } else { 0.0 };
        let (tp, fp, fn_) = counts.iter().fold((0, 0, 0), |a, c| (a.0 + c.0, a.1 + c.1, a.2 + c.2));
        TagsReport { macro_f1, micro_f1: ClassMetrics::from_counts(tp, fp, fn_).f1, per_label }
    });
    EvalReport { n: rows.len(), sentiment, tags: tags_report }
}

pub(crate) fn argmax(p: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in p.iter().enumerate() {
        if x > p[best] {
            best = i;
        }
    }
    best
}

impl EvalReport {
    /// The report as a readable table.
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "rows: {}", self.n);
        let row = |s: &mut String, name: &str, m: &ClassMetrics| {
            let _ = writeln!(s, "  {name:<22} {:>9.3} {:>9.3} {:>9.3} {:>8}", m.precision, m.recall, m.f1, m.support);
        };
        if let Some(se) = &self.sentiment {
            let _ =
                writeln!(s, "\nsentiment: accuracy {:.3}  macro-F1 {:.3}  ECE {:.3}", se.accuracy, se.macro_f1, se.ece);
            let _ = writeln!(s, "  {:<22} {:>9} {:>9} {:>9} {:>8}", "class", "precision", "recall", "F1", "support");
            for (k, m) in &se.per_class {
                row(&mut s, k, m);
            }
            let _ = writeln!(s, "  confusion (rows true, columns predicted): {:?}", se.confusion.labels);
            for (l, r) in se.confusion.labels.iter().zip(&se.confusion.matrix) {
                let _ = writeln!(s, "    {l:<12} {r:?}");
            }
        }
        if let Some(t) = &self.tags {
            let _ = writeln!(s, "\ntags: macro-F1 {:.3}  micro-F1 {:.3}", t.macro_f1, t.micro_f1);
            let _ = writeln!(s, "  {:<22} {:>9} {:>9} {:>9} {:>8}", "tag", "precision", "recall", "F1", "support");
            for (k, m) in &t.per_label {
                row(&mut s, k, m);
            }
        }
        s
    }
}

impl SourceReport {
    /// The overall table, then one line per source: rows, sentiment
    /// macro-F1, tags macro-F1 and each tag's F1 with its support.
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let mut s = self.all.to_table();
        let _ = writeln!(s, "\nby source (macro-F1 over all classes and tags; F1 (support) per tag):");
        let width = self.by_source.keys().map(|k| k.chars().count()).max().unwrap_or(0).max(6);
        for (name, r) in &self.by_source {
            let f = |x: Option<f64>| x.map_or_else(|| "    -".to_string(), |v| format!("{v:.3}"));
            let _ = write!(
                s,
                "  {name:<width$} {:>6} rows  sentiment {}  tags {}",
                r.n,
                f(r.sentiment.as_ref().map(|x| x.macro_f1)),
                f(r.tags.as_ref().map(|x| x.macro_f1))
            );
            if let Some(t) = &r.tags {
                for (tag, m) in &t.per_label {
                    let _ = write!(s, "  {tag} {:.2} ({})", m.f1, m.support);
                }
            }
            s.push('\n');
        }
        s
    }
}
