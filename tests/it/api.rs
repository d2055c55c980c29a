use voc::{Classifier, Prediction};

const TEXTS: &[&str] = &[
    "The app crashed twice. The agent who helped me was lovely.",
    "I was charged twice and nobody answers the phone.",
    "Thanks for the quick refund, great service!",
    "Does the premium plan include international calls?",
    "",
    "   \n\t ",
    "😀😀🔥",
    "مرحبا، الطلب لم يصل بعد",
    "Ça ne marche pas. 这个产品坏了。",
    "\u{0}\u{1}\u{7f} control \u{202e} characters",
];

#[test]
fn classifier_is_send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Classifier>();
    assert_traits::<Prediction>();
    fn assert_send_sync<T: Send + Sync + std::error::Error + 'static>() {}
    assert_send_sync::<voc::Error>();
}

#[test]
fn embedded_model_classifies_every_fixture_text() {
    let clf = Classifier::embedded().unwrap();
    for t in TEXTS {
        let p = clf.classify(t).unwrap();
        let sum: f32 = p.sentiment.probabilities.values().sum();
        assert!((sum - 1.0).abs() < 1e-4, "{t:?}: probabilities sum to {sum}");
        assert!((-1.0..=1.0).contains(&p.sentiment.score));
        assert_eq!(p.tag_probabilities.len(), 4);
        for tag in &p.tags {
            assert!(tag.probability >= clf.labels().threshold(&tag.name).unwrap());
        }
        let chars = t.chars().count();
        for s in &p.sentences {
            assert!(s.start < s.end && s.end <= chars);
            let slice: String = t.chars().skip(s.start).take(s.end - s.start).collect();
            assert_eq!(slice, s.text);
        }
    }
}

#[test]
fn empty_and_whitespace_give_the_defined_empty_result() {
    let clf = Classifier::embedded().unwrap();
    for t in ["", "  \n\t  "] {
        let p = clf.classify(t).unwrap();
        assert_eq!(p.sentiment.label, "neutral");
        assert_eq!(p.sentiment.probabilities["neutral"], 1.0);
        assert_eq!(p.sentiment.score, 0.0);
        assert!(p.tags.is_empty() && p.sentences.is_empty());
        assert!(p.tag_probabilities.values().all(|&v| v == 0.0));
    }
}

#[test]
fn serde_round_trip() {
    let clf = Classifier::embedded().unwrap();
    for t in TEXTS {
        let p = clf.classify(t).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        let back: Prediction = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}

#[test]
fn batch_equals_sequential_in_order() {
    let clf = Classifier::embedded().unwrap();
    let mut texts: Vec<String> = Vec::new();
    for i in 0..300 {
        texts.push(format!("{} #{i}", TEXTS[i % TEXTS.len()]));
    }
    let batch = clf.classify_batch(&texts).unwrap();
    assert_eq!(batch.len(), texts.len());
    for (t, p) in texts.iter().zip(&batch) {
        assert_eq!(&clf.classify(t).unwrap(), p);
    }
    assert!(clf.classify_batch::<&str>(&[]).unwrap().is_empty());
}

#[test]
fn sentences_are_classified_on_their_own() {
    let clf = Classifier::embedded().unwrap();
    let text = "The screen cracked after one day and the charger stopped working. Thank you so much, the staff were wonderful!";
    let p = clf.classify(text).unwrap();
    assert_eq!(p.sentences.len(), 2);
    assert_eq!(p.sentences[0].sentiment, "negative");
    assert!(p.sentences[0].tags.contains(&"product_failure".to_string()), "{:?}", p.sentences[0]);
    assert_eq!(p.sentences[1].sentiment, "positive");
    assert!(p.sentences[1].tags.is_empty(), "{:?}", p.sentences[1]);
}

#[test]
fn evidence_points_into_the_text() {
    let clf = Classifier::embedded().unwrap();
    let text = "Flight delayed 5 hours. Nobody at the gate told us anything, and the agent was rude.";
    let p = clf.classify(text).unwrap();
    assert!(!p.tags.is_empty());
    let chars: Vec<char> = text.chars().collect();
    let check = |s: &voc::Span| {
        let slice: String = chars[s.start..s.end].iter().collect();
        assert_eq!(slice, s.text);
    };
    for tag in &p.tags {
        assert!(!tag.evidence.sentences.is_empty(), "{tag:?}");
        assert!(!tag.evidence.words.is_empty(), "{tag:?}");
        assert!(tag.evidence.words.len() <= 3);
        tag.evidence.sentences.iter().for_each(check);
        tag.evidence.words.iter().for_each(check);
        for w in tag.evidence.words.windows(2) {
            assert!(w[0].weight >= w[1].weight);
        }
    }
    p.sentiment.evidence.words.iter().for_each(check);
}

#[test]
fn offsets_are_characters_not_bytes() {
    let clf = Classifier::embedded().unwrap();
    let text = "Café très mauvais 😡. The coffee machine is broken.";
    let p = clf.classify(text).unwrap();
    let chars: Vec<char> = text.chars().collect();
    for s in &p.sentences {
        assert_eq!(chars[s.start..s.end].iter().collect::<String>(), s.text);
    }
}

#[test]
fn huge_text_is_truncated_not_rejected() {
    let clf = Classifier::embedded().unwrap();
    let text = "The phone broke. ".repeat(6000); // ~100 KB
    let p = clf.classify(&text).unwrap();
    assert!(p.truncated);
    assert!(p.sentences.iter().all(|s| s.end <= text.len()));
    let small = clf.clone().with_max_input_bytes(text.len() + 1).unwrap();
    assert!(!small.classify(&text).unwrap().truncated);
}

#[test]
fn long_single_token_and_many_sentences() {
    let clf = Classifier::embedded().unwrap();
    let token = "a".repeat(50_000);
    clf.classify(&token).unwrap();
    let many = "Bad. ".repeat(10_000);
    let p = clf.classify(&many).unwrap();
    assert!(p.truncated);
    assert!(p.sentences.len() > 1000);
}

#[test]
fn labels_come_from_the_model() {
    let clf = tiny();
    assert_eq!(clf.labels().sentiment(), ["negative", "neutral", "positive"]);
    assert_eq!(clf.labels().tags().len(), 4);
    assert!(clf.labels().threshold("nope").is_none());
}

use crate::tiny;

/// Golden predictions of the tiny fixture model (stable: the fixture is
/// committed). Regenerate with `VOC_BLESS=1 cargo test golden` after
/// `scripts/make-fixtures.sh`.
#[test]
fn golden_predictions_tiny_fixture() {
    golden(&tiny(), "tiny-golden.json", 1e-5);
}

/// Golden predictions of the shipped default model; bless again after
/// rebuilding it (`VOC_BLESS=1 cargo test golden`).
#[test]
fn golden_predictions_default_model() {
    golden(&Classifier::embedded().unwrap(), "default-golden.json", 1e-4);
}

fn golden(clf: &Classifier, file: &str, tol: f32) {
    let path = crate::fixtures().join(file);
    let texts = [
        "The charger stopped working after two days.",
        "I was never told my flight had been moved to 6am.",
        "The agent laughed at me and refused to help.",
        "They billed me for a month after I cancelled.",
        "Thanks for the quick refund, great service!",
        "Does the premium plan include international calls?",
        "My bag went to Denver, I went to Boston, and nobody can tell me where it is.",
    ];
    let got: Vec<Prediction> = texts.iter().map(|t| clf.classify(t).unwrap()).collect();
    if std::env::var_os("VOC_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap()).unwrap();
        return;
    }
    let want: Vec<Prediction> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(want.len(), got.len());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w.sentiment.label, g.sentiment.label);
        assert_eq!(w.tag_names(), g.tag_names());
        for (k, v) in &w.sentiment.probabilities {
            assert!((v - g.sentiment.probabilities[k]).abs() < tol, "{k}: {v} vs {}", g.sentiment.probabilities[k]);
        }
        for (k, v) in &w.tag_probabilities {
            assert!((v - g.tag_probabilities[k]).abs() < tol, "{k}: {v} vs {}", g.tag_probabilities[k]);
        }
    }
}

/// `scores` is `classify` without sentences and evidence: the same numbers,
/// exactly, on every kind of input (and on a model with other labels).
#[test]
fn scores_equal_the_numbers_of_classify() {
    let texts = [
        "The charger stopped working after two days. Support never called back!",
        "Thanks for the quick refund, great service!",
        "",
        "   \t ",
        "Café froid, serveur impoli 😀. Never again.",
        "a. b. c. d? e! f",
    ];
    for clf in [Classifier::embedded().unwrap(), tiny()] {
        let labels = clf.labels().clone();
        let batch = clf.scores_batch(&texts).unwrap();
        for (text, s) in texts.iter().zip(&batch) {
            let p = clf.classify(text).unwrap();
            assert_eq!(s, &clf.scores(text).unwrap());
            assert_eq!(labels.sentiment()[s.sentiment], p.sentiment.label, "{text:?}");
            assert_eq!(s.sentiment_score, p.sentiment.score, "{text:?}");
            for (k, name) in labels.sentiment().iter().enumerate() {
                assert_eq!(s.sentiment_probabilities[k], p.sentiment.probabilities[name], "{text:?}");
            }
            for (k, name) in labels.tags().iter().enumerate() {
                assert_eq!(s.tag_probabilities[k], p.tag_probabilities[name], "{text:?}");
            }
            let names: Vec<&str> = s.tags.iter().map(|&k| labels.tags()[k].as_str()).collect();
            assert_eq!(names, p.tag_names(), "{text:?}");
            assert_eq!(s.truncated, p.truncated);
        }
    }
    let short = Classifier::embedded().unwrap().with_max_input_bytes(10).unwrap();
    assert!(short.scores("This text is longer than ten bytes").unwrap().truncated);
}
