//! The classifier: loading a model and turning text into a [`Prediction`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::eval::argmax;
use crate::format::{self, LabelsFile, ModelBytes, ModelConfig, TOKENIZER};
use crate::labels::Labels;
use crate::network::{Forward, Network, Weights};
use crate::prediction::{Evidence, Prediction, Scores, Sentence, Sentiment, Span, Tag};
use crate::scope::ScopeMarker;
use crate::sentences::sentence_ranges;
use crate::tokenize::{TextTokenizer, Tokens, truncate_to_bytes};

/// Default input limit: texts longer than this many bytes are analyzed up to
/// this point (on a character boundary) and marked `truncated`.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 32 * 1024;

/// Evidence words reported per label.
const EVIDENCE_WORDS: usize = 3;

pub(crate) struct Model {
    pub config: ModelConfig,
    pub labels_file: LabelsFile,
    pub labels: Labels,
    pub tokenizer: TextTokenizer,
    pub network: Network,
    /// Each tag's threshold, in tag order.
    pub thresholds: Vec<f32>,
}

/// A loaded model, ready to classify customer comments.
///
/// `Classifier` is `Send + Sync` and cheap to clone (the model is shared behind
/// an `Arc`); every method takes `&self`, so one instance serves any number of
/// threads without a lock.
///
/// ```
/// use voc::Classifier;
///
/// let clf = Classifier::embedded()?;
/// let p = clf.classify("My order arrived broken and support never called back.")?;
/// println!("{} {:?}", p.sentiment.label, p.tag_names());
/// assert_eq!(p.sentiment.label, "negative");
/// # Ok::<(), voc::Error>(())
/// ```
#[derive(Clone)]
pub struct Classifier {
    pub(crate) model: Arc<Model>,
    max_input_bytes: usize,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("labels", &self.model.labels)
            .field("config", &self.model.config)
            .field("max_input_bytes", &self.max_input_bytes)
            .finish()
    }
}

#[cfg(feature = "embedded-model")]
mod embedded {
    /// Bytes aligned for in-place f32 reads of the weights.
    #[repr(C, align(64))]
    struct Aligned<B: ?Sized>(B);
    static WEIGHTS_ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!("../models/default/model.safetensors"));

    pub const CONFIG: &[u8] = include_bytes!("../models/default/config.json");
    pub const LABELS: &[u8] = include_bytes!("../models/default/labels.json");
    pub const TOKENIZER: &[u8] = include_bytes!("../models/default/tokenizer.json");
    pub static WEIGHTS: &[u8] = &WEIGHTS_ALIGNED.0;
}

impl Classifier {
    /// The default model, compiled into the binary: works offline, with no
    /// files. Its checksums are verified by the test suite rather than at
    /// every load, so loading stays fast.
    ///
    /// ```
    /// let clf = voc::Classifier::embedded()?;
    /// assert_eq!(clf.labels().tags().len(), 4);
    /// # Ok::<(), voc::Error>(())
    /// ```
    #[cfg(feature = "embedded-model")]
    pub fn embedded() -> Result<Self> {
        Self::load_with(embedded_bytes(), false, |cfg| Network::from_static_safetensors(embedded::WEIGHTS, cfg))
    }

    /// Load a model folder (format v1): `config.json`, `labels.json`,
    /// `tokenizer.json`, `model.safetensors`. Every file is checked against
    /// the checksum recorded in `config.json`.
    ///
    /// ```
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default");
    /// let clf = voc::Classifier::from_dir(&dir)?;
    /// assert_eq!(clf.labels().sentiment().len(), 3);
    /// # Ok::<(), voc::Error>(())
    /// ```
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let [c, l, t, w] = format::read_dir(dir)?;
        Self::load(ModelBytes { config: &c, labels: &l, tokenizer: &t, weights: &w }, true)
    }

    /// Load a model from the bytes of its files (see [`ModelBytes`]), with
    /// the same checks as [`Classifier::from_dir`].
    pub fn from_bytes(bytes: ModelBytes<'_>) -> Result<Self> {
        Self::load(bytes, true)
    }

    fn load(b: ModelBytes<'_>, verify: bool) -> Result<Self> {
        Self::load_with(b, verify, |cfg| Network::from_safetensors(b.weights, cfg))
    }

    /// Load with checksums and load-time checks when `verify` (files from
    /// outside), or trusting bytes the test suite checks (the embedded
    /// model); `network` parses the weights.
    fn load_with(
        b: ModelBytes<'_>,
        verify: bool,
        network: impl FnOnce(&ModelConfig) -> Result<Network>,
    ) -> Result<Self> {
        let config = format::parse_config(b.config)?;
        if verify {
            format::verify_checksums(
                &config,
                &[(format::LABELS, b.labels), (format::TOKENIZER, b.tokenizer), (format::WEIGHTS, b.weights)],
            )?;
        }
        let labels_file = format::parse_labels(b.labels, &config)?;
        let tokenizer = TextTokenizer::from_bytes(b.tokenizer, verify)?;
        if verify {
            // A pipeline can parse yet fail on text (an unknown-token name
            // absent from its vocabulary; found by fuzzing): say so now,
            // naming the file, rather than failing on the first comment.
            let probe = "voc-probe qzxjv \u{10FFFF}\u{E000} \u{2603} 9 ! a";
            tokenizer.encode_into(probe, &mut Tokens::default()).map_err(|e| match e {
                Error::Tokenizer(src) => Error::Model {
                    file: TOKENIZER.into(),
                    message: format!("cannot tokenize text: {src}"),
                    source: Some(src),
                },
                other => other,
            })?;
        }
        let bound = tokenizer.max_id_bound();
        if bound > config.vocab_size {
            return Err(Error::model(
                TOKENIZER,
                format!(
                    "produces ids up to {}, but config.json declares vocab_size = {}",
                    bound - 1,
                    config.vocab_size
                ),
            ));
        }
        let network = network(&config)?;
        let network = match crate::scope::parse_kinds(&config.scopes)? {
            kinds if kinds.is_empty() => network,
            kinds => {
                let marker = ScopeMarker::new(&tokenizer, config.vocab_size, kinds);
                network.with_scopes(Some(Arc::new(marker)))
            }
        };
        Ok(Self::from_parts(config, labels_file, tokenizer, network))
    }

    pub(crate) fn from_parts(
        config: ModelConfig,
        labels_file: LabelsFile,
        tokenizer: TextTokenizer,
        network: Network,
    ) -> Self {
        let labels =
            Labels::new(labels_file.sentiment.clone(), labels_file.tags.clone(), labels_file.thresholds.clone());
        Classifier {
            model: Arc::new(Model {
                thresholds: labels_file
                    .tags
                    .iter()
                    .map(|t| labels_file.thresholds.get(t).copied().unwrap_or(0.5))
                    .collect(),
                config,
                labels_file,
                labels,
                tokenizer,
                network,
            }),
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }

    /// Set the input limit in bytes (default [`DEFAULT_MAX_INPUT_BYTES`]).
    /// Longer texts are analyzed up to the limit, cut on a character
    /// boundary, and their prediction says `truncated: true`. Must be > 0.
    ///
    /// ```
    /// let clf = voc::Classifier::embedded()?.with_max_input_bytes(20)?;
    /// let p = clf.classify("The screen broke after a day. Support never called back.")?;
    /// assert!(p.truncated);
    /// assert!(voc::Classifier::embedded()?.with_max_input_bytes(0).is_err());
    /// # Ok::<(), voc::Error>(())
    /// ```
    pub fn with_max_input_bytes(mut self, max_input_bytes: usize) -> Result<Self> {
        if max_input_bytes == 0 {
            return Err(Error::config("max_input_bytes", "must be at least 1"));
        }
        self.max_input_bytes = max_input_bytes;
        Ok(self)
    }

    /// The input limit in bytes.
    pub fn max_input_bytes(&self) -> usize {
        self.max_input_bytes
    }

    /// The sentiment classes and tag names of the loaded model.
    pub fn labels(&self) -> &Labels {
        &self.model.labels
    }

    /// Classify one comment.
    ///
    /// Any string is accepted. Empty text, or text with no token (only
    /// whitespace or control characters), gives the defined empty result:
    /// sentiment `neutral` with probability 1 when the model has that class
    /// (otherwise the model's output on an empty bag), no tags, all tag
    /// probabilities 0, no sentences.
    ///
    /// ```
    /// let clf = voc::Classifier::embedded()?;
    /// let p = clf.classify("")?;
    /// assert_eq!(p.sentiment.label, "neutral");
    /// assert!(p.tags.is_empty());
    /// # Ok::<(), voc::Error>(())
    /// ```
    pub fn classify(&self, text: &str) -> Result<Prediction> {
        SCRATCH.with(|t| self.classify_with(text, &mut t.borrow_mut()))
    }

    /// Classify many comments in parallel (rayon). The output is in input
    /// order and identical to calling [`Classifier::classify`] on each text.
    ///
    /// ```
    /// let clf = voc::Classifier::embedded()?;
    /// let texts = ["Love it!", "It broke after a week."];
    /// let batch = clf.classify_batch(&texts)?;
    /// assert_eq!(batch[1], clf.classify(texts[1])?);
    /// # Ok::<(), voc::Error>(())
    /// ```
    pub fn classify_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Prediction>> {
        texts.par_iter().map_init(Tokens::default, |tokens, t| self.classify_with(t.as_ref(), tokens)).collect()
    }

    /// The token ids of `text` and their byte ranges, as the model sees them
    /// (after the input limit). Not a stable API: for the benchmarks and the
    /// tokenizer equivalence tests.
    #[doc(hidden)]
    #[allow(clippy::type_complexity)]
    pub fn tokenize_for_tests(&self, text: &str) -> Result<(Vec<u32>, Vec<(usize, usize)>)> {
        let mut tokens = Tokens::default();
        self.model.tokenizer.encode_into(truncate_to_bytes(text, self.max_input_bytes), &mut tokens)?;
        Ok((tokens.ids, tokens.offsets))
    }

    pub(crate) fn classify_with(&self, text: &str, tokens: &mut Tokens) -> Result<Prediction> {
        let analyzed = truncate_to_bytes(text, self.max_input_bytes);
        let truncated = analyzed.len() < text.len();
        self.model.tokenizer.encode_into(analyzed, tokens)?;
        Ok(self.model.predict(analyzed, tokens, truncated))
    }

    /// Sentiment and tag probabilities of one comment, without sentences
    /// and evidence: several times faster than [`Classifier::classify`],
    /// with the same numbers (see [`Scores`]).
    ///
    /// ```
    /// let clf = voc::Classifier::embedded()?;
    /// let s = clf.scores("Great support, thank you!")?;
    /// assert_eq!(clf.labels().sentiment()[s.sentiment], "positive");
    /// assert!(s.tags.is_empty());
    /// # Ok::<(), voc::Error>(())
    /// ```
    pub fn scores(&self, text: &str) -> Result<Scores> {
        SCRATCH.with(|t| self.scores_with(text, &mut t.borrow_mut()))
    }

    /// [`Classifier::scores`] for many comments in parallel (rayon), in
    /// input order.
    ///
    /// ```
    /// let clf = voc::Classifier::embedded()?;
    /// let all = clf.scores_batch(&["Love it!", "It broke after a week."])?;
    /// assert_eq!(all[1], clf.scores("It broke after a week.")?);
    /// # Ok::<(), voc::Error>(())
    /// ```
    pub fn scores_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Scores>> {
        texts.par_iter().map_init(Tokens::default, |tokens, t| self.scores_with(t.as_ref(), tokens)).collect()
    }

    pub(crate) fn scores_with(&self, text: &str, tokens: &mut Tokens) -> Result<Scores> {
        let analyzed = truncate_to_bytes(text, self.max_input_bytes);
        let truncated = analyzed.len() < text.len();
        self.model.tokenizer.encode_into(analyzed, tokens)?;
        let m = &self.model;
        let (sent, tags, tag_idx) = if tokens.ids.is_empty() {
            (m.empty_sentiment_probs(), vec![0.0; m.labels_file.tags.len()], Vec::new())
        } else {
            let mut fwd = Forward::default();
            m.network.forward(&tokens.ids, &mut Vec::new(), &mut fwd);
            let tags = m.tag_probs(&fwd.tag_logits);
            let idx = m.above_threshold(&tags);
            (m.sentiment_probs(&fwd.sent_logits), tags, idx)
        };
        Ok(Scores {
            sentiment: argmax(&sent),
            sentiment_score: m.score(&sent),
            sentiment_probabilities: sent,
            tags: tag_idx,
            tag_probabilities: tags,
            truncated,
        })
    }

    /// Raw outputs for a text (calibrated sentiment probabilities and tag
    /// probabilities, in label order); used by evaluation.
    pub(crate) fn probabilities(&self, text: &str, tokens: &mut Tokens) -> Result<(Vec<f32>, Vec<f32>)> {
        let s = self.scores_with(text, tokens)?;
        Ok((s.sentiment_probabilities, s.tag_probabilities))
    }
}

thread_local! {
    /// Token buffers reused by `classify` and `scores` on each thread.
    static SCRATCH: std::cell::RefCell<Tokens> = std::cell::RefCell::new(Tokens::default());
}

#[cfg(feature = "embedded-model")]
pub(crate) fn embedded_bytes() -> ModelBytes<'static> {
    ModelBytes {
        config: embedded::CONFIG,
        labels: embedded::LABELS,
        tokenizer: embedded::TOKENIZER,
        weights: embedded::WEIGHTS,
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

pub(crate) fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let mut p: Vec<f32> = logits.iter().map(|&l| ((l - max) / temperature).exp()).collect();
    let sum: f32 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= sum);
    p
}

/// Whether a token ending at byte `prev_end` and the next one starting at
/// `start` belong to one word: adjacent, with word characters on both sides.
fn joins_word(text: &str, prev_end: usize, start: usize) -> bool {
    if prev_end != start || start == 0 || start >= text.len() {
        return false;
    }
    let before = text[..start].chars().next_back();
    let after = text[start..].chars().next();
    matches!((before, after), (Some(a), Some(b)) if a.is_alphanumeric() && b.is_alphanumeric())
}

/// Maps byte offsets of a text to char offsets.
struct CharIndex<'a> {
    text: &'a str,
    ascii: bool,
}

impl<'a> CharIndex<'a> {
    fn new(text: &'a str) -> Self {
        CharIndex { text, ascii: text.is_ascii() }
    }
    fn chars(&self, byte: usize) -> usize {
        if self.ascii { byte } else { self.text[..byte].chars().count() }
    }
    fn span(&self, start: usize, end: usize, weight: f32) -> Span {
        let s = self.chars(start);
        let len = if self.ascii { end - start } else { self.text[start..end].chars().count() };
        Span { start: s, end: s + len, text: self.text[start..end].to_string(), weight }
    }
}

struct SentenceOut {
    start: usize,
    end: usize,
    sent_probs: Vec<f32>,
    tag_probs: Vec<f32>,
}

impl Model {
    fn sentiment_probs(&self, logits: &[f32]) -> Vec<f32> {
        softmax(logits, self.labels_file.temperature)
    }

    fn tag_probs(&self, logits: &[f32]) -> Vec<f32> {
        logits.iter().map(|&l| sigmoid(l)).collect()
    }

    fn score(&self, probs: &[f32]) -> f32 {
        let find = |name: &str| self.labels_file.sentiment.iter().position(|s| s == name).map(|i| probs[i]);
        match (find("positive"), find("negative")) {
            (Some(p), Some(n)) => (p - n).clamp(-1.0, 1.0),
            _ => 0.0,
        }
    }

    fn tag_map(&self, probs: &[f32]) -> BTreeMap<String, f32> {
        self.labels_file.tags.iter().cloned().zip(probs.iter().copied()).collect()
    }

    fn above_threshold(&self, probs: &[f32]) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..probs.len()).filter(|&k| probs[k] >= self.thresholds[k]).collect();
        idx.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        idx
    }

    /// Sentiment probabilities of a text with no token: `neutral` with
    /// probability 1 when the model has that class, else the model's output
    /// on an empty bag.
    fn empty_sentiment_probs(&self) -> Vec<f32> {
        let n = self.labels_file.sentiment.len();
        match self.labels_file.sentiment.iter().position(|s| s == "neutral") {
            Some(i) => (0..n).map(|k| if k == i { 1.0 } else { 0.0 }).collect(),
            None => {
                let mut fwd = Forward::default();
                self.network.forward(&[], &mut Vec::new(), &mut fwd);
                self.sentiment_probs(&fwd.sent_logits)
            }
        }
    }

    fn empty_prediction(&self, truncated: bool) -> Prediction {
        let probs = self.empty_sentiment_probs();
        let label = self.labels_file.sentiment[argmax(&probs)].clone();
        Prediction {
            sentiment: Sentiment {
                label,
                score: self.score(&probs),
                probabilities: self.labels_file.sentiment.iter().cloned().zip(probs).collect(),
                evidence: Evidence::default(),
            },
            tags: Vec::new(),
            tag_probabilities: self.labels_file.tags.iter().map(|t| (t.clone(), 0.0)).collect(),
            sentences: Vec::new(),
            truncated,
        }
    }

    pub(crate) fn predict(&self, text: &str, tokens: &Tokens, truncated: bool) -> Prediction {
        if tokens.ids.is_empty() {
            return self.empty_prediction(truncated);
        }
        let net = &self.network;
        let mut fwd = Forward::default();
        net.forward(&tokens.ids, &mut Vec::with_capacity(net.dim), &mut fwd);
        let sent_probs = self.sentiment_probs(&fwd.sent_logits);
        let tag_probs = self.tag_probs(&fwd.tag_logits);
        // Sentences, each scored on the tokens inside it.
        let sentences = self.sentences(text, tokens, &sent_probs, &tag_probs);
        let ci = CharIndex::new(text);

        // Words: runs of adjacent tokens joined inside a word (WordPiece
        // pieces), not across punctuation.
        let mut words: Vec<(usize, usize)> = Vec::new(); // token index ranges
        for i in 0..tokens.ids.len() {
            match words.last_mut() {
                Some(w) if joins_word(text, tokens.offsets[w.1 - 1].1, tokens.offsets[i].0) => w.1 = i + 1,
                _ => words.push((i, i + 1)),
            }
        }
        // The labels that get evidence: the sentiment (gradient of log
        // p(label)) and each tag above its threshold (gradient of its logit).
        let label = argmax(&sent_probs);
        let coef: Vec<f32> =
            sent_probs.iter().enumerate().map(|(k, p)| if k == label { 1.0 - p } else { -p }).collect();
        let predicted = self.above_threshold(&tag_probs);
        let mut grads = vec![net.input_gradient(&net.w.sent_w, &coef, &fwd)];
        for &k in &predicted {
            let mut coef = vec![0f32; net.n_tags];
            coef[k] = 1.0;
            grads.push(net.input_gradient(&net.w.tags_w, &coef, &fwd));
        }
        // Each word's contribution to each of those labels, reading each
        // token's row of the table once.
        let n = tokens.ids.len();
        let mut roles = Vec::new();
        net.roles(&tokens.ids, &mut roles);
        let mut word_scores = vec![vec![0f32; words.len()]; grads.len()];
        let mut c = vec![0f32; grads.len()];
        for (w, &(a, b)) in words.iter().enumerate() {
            for i in a..b {
                net.token_contributions(tokens.ids[i], roles[i], &grads, n, &mut c);
                word_scores.iter_mut().zip(&c).for_each(|(s, c)| s[w] += c);
            }
        }
        let word_evidence = |scores: &[f32]| -> Vec<Span> {
            let mut scored: Vec<(f32, usize)> =
                scores.iter().copied().enumerate().map(|(w, s)| (s, w)).filter(|(s, _)| *s > 0.0).collect();
            scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
            scored
                .into_iter()
                .take(EVIDENCE_WORDS)
                .map(|(s, w)| {
                    let (a, b) = words[w];
                    ci.span(tokens.offsets[a].0, tokens.offsets[b - 1].1, s)
                })
                .collect()
        };
        let sentence_evidence = |score: &dyn Fn(&SentenceOut) -> f32, keep: &dyn Fn(&SentenceOut) -> bool| {
            let mut picked: Vec<&SentenceOut> = sentences.iter().filter(|s| keep(s)).collect();
            if picked.is_empty() {
                picked.extend(sentences.iter().max_by(|a, b| score(a).total_cmp(&score(b))));
            }
            picked.sort_by(|a, b| score(b).total_cmp(&score(a)));
            picked.into_iter().map(|s| ci.span(s.start, s.end, score(s))).collect::<Vec<_>>()
        };

        let sentiment = Sentiment {
            label: self.labels_file.sentiment[label].clone(),
            score: self.score(&sent_probs),
            probabilities: self.labels_file.sentiment.iter().cloned().zip(sent_probs.iter().copied()).collect(),
            evidence: Evidence {
                sentences: sentence_evidence(&|s| s.sent_probs[label], &|s| argmax(&s.sent_probs) == label),
                words: word_evidence(&word_scores[0]),
            },
        };

        let tags = predicted
            .iter()
            .zip(&word_scores[1..])
            .map(|(&k, scores)| {
                let name = &self.labels_file.tags[k];
                let threshold = self.thresholds[k];
                Tag {
                    name: name.clone(),
                    probability: tag_probs[k],
                    evidence: Evidence {
                        sentences: sentence_evidence(&|s| s.tag_probs[k], &|s| s.tag_probs[k] >= threshold),
                        words: word_evidence(scores),
                    },
                }
            })
            .collect();

        let sentences = sentences
            .iter()
            .map(|s| {
                let span = ci.span(s.start, s.end, 0.0);
                Sentence {
                    start: span.start,
                    end: span.end,
                    text: span.text,
                    sentiment: self.labels_file.sentiment[argmax(&s.sent_probs)].clone(),
                    sentiment_score: self.score(&s.sent_probs),
                    tags: self
                        .above_threshold(&s.tag_probs)
                        .into_iter()
                        .map(|k| self.labels_file.tags[k].clone())
                        .collect(),
                    tag_probabilities: self.tag_map(&s.tag_probs),
                }
            })
            .collect();

        Prediction { sentiment, tags, tag_probabilities: self.tag_map(&tag_probs), sentences, truncated }
    }

    /// Split into sentences (Unicode sentence boundaries, trimmed) and score
    /// each on the tokens that lie inside it. A single sentence reuses the
    /// whole-text scores (one bag over every token, as [`Classifier::scores`]).
    fn sentences(&self, text: &str, tokens: &Tokens, sent_probs: &[f32], tag_probs: &[f32]) -> Vec<SentenceOut> {
        let net = &self.network;
        let mut ranges = Vec::new();
        sentence_ranges(text, &mut ranges);
        if ranges.len() <= 1 {
            let out = ranges.first().map(|&(start, end)| SentenceOut {
                start,
                end,
                sent_probs: sent_probs.to_vec(),
                tag_probs: tag_probs.to_vec(),
            });
            return out.into_iter().collect();
        }
        let mut pooled = Vec::with_capacity(net.dim);
        let mut fwd = Forward::default();
        let mut out = Vec::with_capacity(ranges.len());
        let mut t = 0;
        for (start, end) in ranges {
            // Tokens are in text order: skip those before the sentence (in no
            // sentence), then take those that start inside it.
            while t < tokens.ids.len() && tokens.offsets[t].0 < start {
                t += 1;
            }
            let first = t;
            while t < tokens.ids.len() && tokens.offsets[t].0 < end {
                t += 1;
            }
            let (sp, tp) = if first == t {
                (self.empty_sentiment_probs(), vec![0.0; self.labels_file.tags.len()])
            } else {
                net.forward(&tokens.ids[first..t], &mut pooled, &mut fwd);
                (self.sentiment_probs(&fwd.sent_logits), self.tag_probs(&fwd.tag_logits))
            };
            out.push(SentenceOut { start, end, sent_probs: sp, tag_probs: tp });
        }
        out
    }
}

impl Classifier {
    /// Write this model as a folder (format v1) with the given model card
    /// (`README.md`). The folder appears complete or not at all; an existing
    /// folder is replaced only when `overwrite` is true.
    ///
    /// ```
    /// let clf = voc::Classifier::embedded()?;
    /// let dir = std::env::temp_dir().join(format!("voc-doc-save-{}", std::process::id()));
    /// clf.save(&dir, "# my model\n", true)?;
    /// let again = voc::Classifier::from_dir(&dir)?;
    /// assert_eq!(again.classify("broken again")?, clf.classify("broken again")?);
    /// assert!(clf.save(&dir, "", false).is_err()); // exists
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), voc::Error>(())
    /// ```
    pub fn save(&self, dir: impl AsRef<Path>, card: &str, overwrite: bool) -> Result<()> {
        let m = &self.model;
        format::write_dir(
            dir.as_ref(),
            &m.config,
            &m.labels_file,
            m.tokenizer.source(),
            m.network.tensors()?,
            card,
            overwrite,
        )
    }

    /// A classifier with untrained heads over a tokenizer (`tokenizer.json`
    /// bytes) and a pretrained token-embedding table (a safetensors file
    /// holding `embeddings`, `[vocab, dim]`): the starting point for training
    /// a model from scratch with [`train`](crate::train). Its predictions are
    /// meaningless until trained.
    pub fn untrained(tokenizer_json: &[u8], embeddings_safetensors: &[u8]) -> Result<Self> {
        let tokenizer = TextTokenizer::from_bytes(tokenizer_json, true)?;
        let tensors = candle_core::safetensors::load_buffer(embeddings_safetensors, &candle_core::Device::Cpu)
            .map_err(|e| Error::model_src("embeddings", format!("not a readable safetensors file: {e}"), e))?;
        let emb =
            tensors.get("embeddings").ok_or_else(|| Error::model("embeddings", "no tensor named \"embeddings\""))?;
        let (vocab, dim) = emb.dims2().map_err(|e| Error::model_src("embeddings", "must be [vocab, dim]", e))?;
        if tokenizer.max_id_bound() > vocab {
            return Err(Error::model("embeddings", format!("{vocab} rows, but the tokenizer produces more ids")));
        }
        let embedding = emb
            .to_dtype(candle_core::DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| Error::model_src("embeddings", "cannot read as f32", e))?;
        let classes: Vec<String> = ["negative", "neutral", "positive"].map(String::from).to_vec();
        let config = ModelConfig {
            format_version: format::FORMAT_VERSION,
            architecture: format::ARCHITECTURE.into(),
            vocab_size: vocab,
            embedding_dim: dim,
            hidden_dim: 1,
            num_sentiment_classes: 3,
            num_tags: 0,
            scopes: Vec::new(),
            scope_rank: 0,
            sha256: BTreeMap::new(),
        };
        let labels = LabelsFile { sentiment: classes, tags: Vec::new(), thresholds: BTreeMap::new(), temperature: 1.0 };
        let weights = Weights {
            embedding: embedding.into(),
            token_weight: vec![1.0; vocab],
            hidden_w: vec![0.0; dim],
            hidden_b: vec![0.0],
            sent_w: vec![0.0; 3],
            sent_b: vec![0.0; 3],
            tags_w: Vec::new(),
            tags_b: Vec::new(),
            scope_diag: Vec::new(),
            scope_u: Vec::new(),
            scope_v: Vec::new(),
        };
        let network = Network::new(vocab, dim, 1, 3, 0, weights);
        Ok(Self::from_parts(config, labels, tokenizer, network))
    }
}

#[cfg(all(test, feature = "embedded-model"))]
mod tests {
    use super::*;
    use crate::network::Table;

    /// `embedded()` skips the load-time checks for speed; the suite runs
    /// them here instead, on the same bytes.
    #[test]
    fn embedded_model_passes_every_load_check_and_is_used_in_place() {
        let fast = Classifier::embedded().unwrap();
        let verified = Classifier::from_bytes(embedded_bytes()).unwrap();
        verified.model.network.check_magnitudes().unwrap();
        assert!(matches!(fast.model.network.w.embedding, Table::Static(_)), "table copied, not borrowed");
        assert!(matches!(verified.model.network.w.embedding, Table::Owned(_)));
        assert!(fast.model.tokenizer.has_fast_path());
        assert_eq!(fast.model.tokenizer.max_id_bound(), verified.model.tokenizer.max_id_bound());
        for text in ["Broken on arrival, support never replied.", "Café crème brûlée était froide 😀", ""] {
            assert_eq!(fast.classify(text).unwrap(), verified.classify(text).unwrap());
        }
    }
}
