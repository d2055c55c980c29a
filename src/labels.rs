//! The label set of a loaded model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The sentiment classes and tag names of a model, with each tag's decision
/// threshold. Tag names come from the model, so a model retrained on another
/// taxonomy works with the same code.
///
/// ```
/// let clf = voc::Classifier::embedded()?;
/// let labels = clf.labels();
/// assert_eq!(labels.sentiment(), ["negative", "neutral", "positive"]);
/// assert!(labels.tags().contains(&"training_need".to_string()));
/// assert!(labels.threshold("training_need").unwrap() > 0.0);
/// # Ok::<(), voc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    sentiment: Vec<String>,
    tags: Vec<String>,
    thresholds: BTreeMap<String, f32>,
}

impl Labels {
    pub(crate) fn new(sentiment: Vec<String>, tags: Vec<String>, thresholds: BTreeMap<String, f32>) -> Self {
        Labels { sentiment, tags, thresholds }
    }

    /// Sentiment classes, in the model's output order.
    pub fn sentiment(&self) -> &[String] {
        &self.sentiment
    }

    /// Tag names, in the model's output order.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The decision threshold of a tag, or `None` for an unknown tag.
    pub fn threshold(&self, tag: &str) -> Option<f32> {
        self.thresholds.get(tag).copied()
    }
}
