//! What voc says about one comment: the public result types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A piece of the input text: character offsets (Unicode scalar values, not
/// bytes) into the text given to [`Classifier::classify`](crate::Classifier::classify),
/// the text itself, and its weight as evidence.
///
/// For an evidence sentence, `weight` is that sentence's own probability for
/// the label; for an evidence word, it is the word's contribution to the
/// label's logit (gradient x input; larger means more influence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Span {
    /// First character, counted in chars from the start of the text.
    pub start: usize,
    /// One past the last character.
    pub end: usize,
    /// The text of the span.
    pub text: String,
    /// Strength as evidence (see above).
    pub weight: f32,
}

/// The sentences and words that drive a label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Evidence {
    /// Sentences that carry the label on their own (or the one that comes
    /// closest, when none does), strongest first.
    pub sentences: Vec<Span>,
    /// Up to three words that push the label most, strongest first.
    pub words: Vec<Span>,
}

/// The sentiment of a comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Sentiment {
    /// The most probable class (for the default model: `negative`, `neutral`
    /// or `positive`).
    pub label: String,
    /// `P(positive) - P(negative)`, in `[-1, 1]`; 0 when the model has no
    /// classes of those names.
    pub score: f32,
    /// Calibrated probability of every class; they sum to 1.
    pub probabilities: BTreeMap<String, f32>,
    /// What drives the predicted class.
    pub evidence: Evidence,
}

/// A tag whose probability reached its threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Tag {
    /// Tag name, e.g. `process_breakdown`.
    pub name: String,
    /// The tag's probability.
    pub probability: f32,
    /// What drives it.
    pub evidence: Evidence,
}

/// One sentence of the comment, classified on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Sentence {
    /// First character of the sentence in the comment (chars, not bytes).
    pub start: usize,
    /// One past its last character.
    pub end: usize,
    /// The sentence, without surrounding whitespace.
    pub text: String,
    /// Its most probable sentiment class.
    pub sentiment: String,
    /// `P(positive) - P(negative)` of the sentence.
    pub sentiment_score: f32,
    /// The tags it carries on its own.
    pub tags: Vec<String>,
    /// Every tag's probability for the sentence.
    pub tag_probabilities: BTreeMap<String, f32>,
}

/// The prediction for one comment.
///
/// ```
/// let clf = voc::Classifier::embedded()?;
/// let p = clf.classify("The app crashed twice. The agent who helped me was lovely.")?;
/// assert_eq!(p.sentences.len(), 2);
/// let json = serde_json::to_string(&p).unwrap();
/// let back: voc::Prediction = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, p);
/// # Ok::<(), voc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Prediction {
    /// Overall sentiment.
    pub sentiment: Sentiment,
    /// The tags above their thresholds, most probable first.
    pub tags: Vec<Tag>,
    /// Every tag's probability, predicted or not.
    pub tag_probabilities: BTreeMap<String, f32>,
    /// The comment split into sentences, each classified on its own.
    pub sentences: Vec<Sentence>,
    /// True when the text was longer than the classifier's input limit and
    /// only its first part was analyzed (offsets still index the full text).
    pub truncated: bool,
}

impl Prediction {
    /// Whether the tag `name` was predicted.
    ///
    /// ```
    /// let clf = voc::Classifier::embedded()?;
    /// let p = clf.classify("I was charged twice and still have not received a refund.")?;
    /// assert!(p.has_tag("process_breakdown"));
    /// # Ok::<(), voc::Error>(())
    /// ```
    pub fn has_tag(&self, name: &str) -> bool {
        self.tags.iter().any(|t| t.name == name)
    }

    /// Names of the predicted tags, most probable first.
    ///
    /// ```
    /// let clf = voc::Classifier::embedded()?;
    /// let p = clf.classify("Great service, thank you!")?;
    /// assert!(p.tag_names().is_empty());
    /// # Ok::<(), voc::Error>(())
    /// ```
    pub fn tag_names(&self) -> Vec<&str> {
        self.tags.iter().map(|t| t.name.as_str()).collect()
    }
}

/// Probabilities only: what [`Classifier::scores`](crate::Classifier::scores)
/// returns, the fast path for scoring many comments when the evidence and
/// the sentences are not needed. Every number equals the matching one of
/// [`Classifier::classify`](crate::Classifier::classify) on the same text.
/// Labels are indices into the model's [`Labels`](crate::Labels).
///
/// ```
/// let clf = voc::Classifier::embedded()?;
/// let s = clf.scores("The screen cracked on day one and support never replied.")?;
/// let labels = clf.labels();
/// assert_eq!(labels.sentiment()[s.sentiment], "negative");
/// let tags: Vec<&str> = s.tags.iter().map(|&k| labels.tags()[k].as_str()).collect();
/// assert_eq!(tags, clf.classify("The screen cracked on day one and support never replied.")?.tag_names());
/// # Ok::<(), voc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Scores {
    /// Index of the most probable sentiment class in [`Labels::sentiment`](crate::Labels::sentiment).
    pub sentiment: usize,
    /// Calibrated probability of each sentiment class, in label order.
    pub sentiment_probabilities: Vec<f32>,
    /// `P(positive) - P(negative)`, as [`Sentiment::score`].
    pub sentiment_score: f32,
    /// Probability of each tag, in [`Labels::tags`](crate::Labels::tags) order.
    pub tag_probabilities: Vec<f32>,
    /// Indices of the tags at or above their thresholds, most probable first.
    pub tags: Vec<usize>,
    /// Whether the text was longer than the input limit and cut.
    pub truncated: bool,
}
