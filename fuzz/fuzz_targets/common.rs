//! Shared by the fuzz targets: the tiny fixture model's files and the
//! invariants every prediction must satisfy.

#![allow(dead_code)]

use voc::{Classifier, Prediction, Span};

pub const TINY_CONFIG: &[u8] = include_bytes!("../../tests/fixtures/tiny/config.json");
pub const TINY_LABELS: &[u8] = include_bytes!("../../tests/fixtures/tiny/labels.json");
pub const TINY_TOKENIZER: &[u8] = include_bytes!("../../tests/fixtures/tiny/tokenizer.json");
pub const TINY_WEIGHTS: &[u8] = include_bytes!("../../tests/fixtures/tiny/model.safetensors");

/// Panics (a fuzz failure) when a prediction breaks a documented invariant:
/// probabilities finite, in [0, 1], sentiment summing to 1; spans valid char
/// ranges into `text` that hold the text they claim, inside the analyzed part.
pub fn check_prediction(clf: &Classifier, text: &str, p: &Prediction) {
    let probs = &p.sentiment.probabilities;
    assert_eq!(probs.len(), clf.labels().sentiment().len());
    let sum: f32 = probs.values().sum();
    assert!((sum - 1.0).abs() < 1e-3, "sentiment probabilities sum to {sum}");
    for (k, v) in probs {
        assert!(v.is_finite() && (0.0..=1.0).contains(v), "P({k}) = {v}");
    }
    assert!(p.sentiment.score.is_finite() && (-1.0..=1.0).contains(&p.sentiment.score));
    assert_eq!(p.tag_probabilities.len(), clf.labels().tags().len());
    for (k, v) in &p.tag_probabilities {
        assert!(v.is_finite() && (0.0..=1.0).contains(v), "P({k}) = {v}");
    }
    for t in &p.tags {
        assert!(t.probability >= clf.labels().threshold(&t.name).unwrap());
    }
    let chars: Vec<char> = text.chars().collect();
    let analyzed = if p.truncated {
        assert!(text.len() > clf.max_input_bytes());
        let mut end = clf.max_input_bytes();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].chars().count()
    } else {
        assert!(text.len() <= clf.max_input_bytes());
        chars.len()
    };
    let check = |start: usize, end: usize, claimed: &str| {
        assert!(start < end && end <= analyzed, "span {start}..{end} outside 0..{analyzed}");
        let slice: String = chars[start..end].iter().collect();
        assert_eq!(slice, claimed);
    };
    let mut spans: Vec<&Span> = Vec::new();
    for e in std::iter::once(&p.sentiment.evidence).chain(p.tags.iter().map(|t| &t.evidence)) {
        spans.extend(e.sentences.iter().chain(&e.words));
    }
    for s in spans {
        check(s.start, s.end, &s.text);
        assert!(s.weight.is_finite());
    }
    for s in &p.sentences {
        check(s.start, s.end, &s.text);
        assert!(s.sentiment_score.is_finite());
        for v in s.tag_probabilities.values() {
            assert!(v.is_finite() && (0.0..=1.0).contains(v));
        }
    }
}
