//! Training: it learns, it is deterministic, it removes evaluation texts,
//! warm starts keep what was learned and add new tags, bad configs are refused.

use voc::{Classifier, Example, HashList, SoftLabels, TrainConfig};

use crate::fixtures;

fn fixture_rows() -> Vec<Example> {
    voc::read_examples(fixtures().join("tiny-train.jsonl"), &voc::ReadOptions::default()).unwrap()
}

fn fresh_base() -> Classifier {
    let t = std::fs::read(fixtures().join("tiny-tokenizer.json")).unwrap();
    let e = std::fs::read(fixtures().join("tiny-embeddings.safetensors")).unwrap();
    Classifier::untrained(&t, &e).unwrap()
}

fn quick() -> TrainConfig {
    TrainConfig::default()
        .epochs(40)
        .hidden_dim(32)
        .batch_size(8)
        .learning_rate(0.01)
        .validation_split(0.0)
        .dropout(0.1)
        .seed(3)
}

#[test]
fn a_tiny_model_learns_the_fixture() {
    let rows = fixture_rows();
    let (clf, report) = voc::train(&fresh_base(), &rows, &quick(), &HashList::default(), |_| {}).unwrap();
    let first = report.epochs.first().unwrap().train_loss;
    let last = report.epochs.last().unwrap().train_loss;
    assert!(last < first * 0.6, "loss did not fall: {first} -> {last}");
    let eval = voc::evaluate(&clf, &rows).unwrap();
    let s = eval.sentiment.unwrap();
    let t = eval.tags.unwrap();
    // Chance is ~0.33 accuracy for 3 classes; tag F1 of a coin flip is ~0.2.
    assert!(s.accuracy > 0.8, "sentiment accuracy {}", s.accuracy);
    assert!(t.macro_f1 > 0.6, "tags macro-F1 {}", t.macro_f1);
}

#[test]
fn training_is_deterministic() {
    let rows = fixture_rows();
    // Frozen table, and fine-tuned table (sparse row updates).
    for cfg in [quick().epochs(5), quick().epochs(5).train_embeddings(true)] {
        let (a, ra) = voc::train(&fresh_base(), &rows, &cfg, &HashList::default(), |_| {}).unwrap();
        let (b, rb) = voc::train(&fresh_base(), &rows, &cfg, &HashList::default(), |_| {}).unwrap();
        assert_eq!(
            ra.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>(),
            rb.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>()
        );
        for ex in &rows {
            assert_eq!(a.classify(&ex.text).unwrap(), b.classify(&ex.text).unwrap());
        }
        let (c, _) = voc::train(&fresh_base(), &rows, &cfg.clone().seed(99), &HashList::default(), |_| {}).unwrap();
        assert_ne!(a.classify(&rows[0].text).unwrap(), c.classify(&rows[0].text).unwrap());
    }
}

#[test]
fn evaluation_texts_are_removed_before_training() {
    let rows = fixture_rows();
    // Hash two of the fixture texts (with other spacing and case, as the
    // hash normalizes them) into the exclusion list.
    let banned = HashList::from_hashes([
        voc::eval_hash(&format!("  {}  ", rows[0].text.to_uppercase())),
        voc::eval_hash(&rows[5].text.replace(' ', "\n ")),
    ]);
    let (_, report) = voc::train(&fresh_base(), &rows, &quick().epochs(1), &banned, |_| {}).unwrap();
    assert_eq!(report.removed_eval_overlap, 2);
    assert_eq!(report.train_examples + report.validation_examples, rows.len() - 2);
}

#[test]
fn shared_eval_hashes_match_the_gold_dev_texts() {
    // The hash function agrees with the one that made ../shared/gold/eval-hashes.txt.
    let Some(dev) = crate::gold_dev() else { return };
    let list = HashList::read(dev.with_file_name("eval-hashes.txt")).unwrap();
    let rows = voc::read_examples(&dev, &voc::ReadOptions::default()).unwrap();
    assert!(rows.iter().all(|r| list.contains_text(&r.text)));
    // And the shipped training files hold none of them.
    let dir = crate::root().join("models/default/training");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "jsonl") {
            let rows = voc::read_examples(&p, &voc::ReadOptions::default()).unwrap();
            let overlap = rows.iter().filter(|r| list.contains_text(&r.text)).count();
            assert_eq!(overlap, 0, "{}", p.display());
            files += 1;
        }
    }
    assert!(files >= 4, "training files found: {files}");
}

const CLASSES: [&str; 3] = ["negative", "neutral", "positive"];

/// A row's sentiment rotated by one class (negative -> neutral -> positive ->
/// negative): a label that contradicts it.
fn rotated_sentiment(r: &Example) -> &'static str {
    let c = CLASSES.iter().position(|c| Some(*c) == r.sentiment.as_deref()).unwrap();
    CLASSES[(c + 1) % 3]
}

/// The fixture with soft targets that say the opposite of its hard labels
/// (the sentiment rotated by one class, every tag flipped).
fn contradicting_soft(rows: &[Example]) -> Vec<Example> {
    let all_tags = ["communication_gap", "process_breakdown", "product_failure", "training_need"];
    rows.iter()
        .map(|r| {
            let wrong = rotated_sentiment(r);
            let mut soft = SoftLabels::default();
            for name in CLASSES {
                soft = soft.sentiment(name, if name == wrong { 1.0 } else { 0.0 });
            }
            for t in all_tags {
                let has = r.tags.as_ref().unwrap().iter().any(|x| x == t);
                soft = soft.tag(t, if has { 0.0 } else { 1.0 });
            }
            r.clone().with_soft(soft)
        })
        .collect()
}

#[test]
fn soft_targets_are_what_training_fits() {
    let rows = fixture_rows();
    let soft = contradicting_soft(&rows);
    let (clf, _) = voc::train(&fresh_base(), &soft, &quick(), &HashList::default(), |_| {}).unwrap();
    // Scored against the hard labels, a model that fitted the soft targets is
    // wrong almost everywhere; the same config on the hard labels is right.
    let eval = voc::evaluate(&clf, &rows).unwrap();
    assert!(eval.sentiment.unwrap().accuracy < 0.2);
    let (hard, _) = voc::train(&fresh_base(), &rows, &quick(), &HashList::default(), |_| {}).unwrap();
    assert!(voc::evaluate(&hard, &rows).unwrap().sentiment.unwrap().accuracy > 0.8);
}

/// Train a fresh tiny model on `train_rows`, then evaluate it on `eval_rows`.
fn train_then_eval(train_rows: &[Example], cfg: &TrainConfig, eval_rows: &[Example]) -> voc::EvalReport {
    let (clf, _) = voc::train(&fresh_base(), train_rows, cfg, &HashList::default(), |_| {}).unwrap();
    voc::evaluate(&clf, eval_rows).unwrap()
}

/// `soft_tag_weight` scales what the soft tag targets count for against the
/// hard tags: at 0 they are ignored, at 10 they win.
#[test]
fn soft_tag_weight_sets_how_much_soft_tags_count() {
    let rows = fixture_rows();
    let mut mixed = rows.clone();
    mixed.extend(contradicting_soft(&rows));
    let tags_f1 = |w: f32| train_then_eval(&mixed, &quick().soft_tag_weight(w), &rows).tags.unwrap().macro_f1;
    let (none, heavy) = (tags_f1(0.0), tags_f1(10.0));
    assert!(none > 0.8, "soft tags ignored: the hard tags are learned ({none})");
    assert!(heavy < none - 0.3, "soft tags weighted 10x override the hard ones ({heavy} vs {none})");
    let bad = TrainConfig::default().soft_tag_weight(-1.0).validate().unwrap_err();
    assert!(bad.to_string().contains("soft_tag_weight"));
    assert!(TrainConfig::default().soft_tag_weight(f32::NAN).validate().is_err());
}

/// `soft_temperature` softens the soft sentiment targets before training
/// fits them: the one-hot teacher targets of `contradicting_soft` at T = 4
/// become about 0.83 / 0.08 / 0.08, so the student's top probability falls,
/// while its choice of class (the teacher's) stays.
#[test]
fn soft_temperature_softens_what_training_fits() {
    let rows = fixture_rows();
    let soft = contradicting_soft(&rows);
    let fit = |t: f32| {
        let (clf, _) =
            voc::train(&fresh_base(), &soft, &quick().soft_temperature(t), &HashList::default(), |_| {}).unwrap();
        let scores = clf.scores_batch(&rows.iter().map(|r| r.text.as_str()).collect::<Vec<_>>()).unwrap();
        let agree = rows.iter().zip(&scores).filter(|(r, s)| CLASSES[s.sentiment] == rotated_sentiment(r)).count();
        let top: f32 = scores.iter().map(|s| s.sentiment_probabilities[s.sentiment]).sum::<f32>() / rows.len() as f32;
        (agree as f32 / rows.len() as f32, top)
    };
    let ((agree1, top1), (agree4, top4)) = (fit(1.0), fit(4.0));
    assert!(agree1 > 0.8 && agree4 > 0.8, "both follow the teacher's class ({agree1}, {agree4})");
    assert!(top1 > 0.9, "one-hot targets: a confident student ({top1})");
    assert!(top4 < top1 - 0.05 && top4 < 0.9, "softened targets: a less confident one ({top4} vs {top1})");
    for bad in [0.0, -1.0, f32::NAN, 101.0] {
        let err = TrainConfig::default().soft_temperature(bad).validate().unwrap_err();
        assert!(err.to_string().contains("soft_temperature"), "{bad}: {err}");
    }
}

/// `low_confidence_weight` scales what a row marked `confidence: low` counts
/// for in both losses: at 0 such rows are ignored, at 10 they win.
#[test]
fn low_confidence_weight_sets_how_much_low_confidence_rows_count() {
    let rows = fixture_rows();
    let mut mixed = rows.clone();
    // The same texts again, sentiment rotated by one class, marked low.
    mixed.extend(rows.iter().map(|r| {
        let mut w = r.clone().with_sentiment(rotated_sentiment(r)).with_confidence(voc::Confidence::Low);
        w.tags = None;
        w
    }));
    let accuracy =
        |w: f32| train_then_eval(&mixed, &quick().low_confidence_weight(w), &rows).sentiment.unwrap().accuracy;
    let (none, heavy) = (accuracy(0.0), accuracy(10.0));
    assert!(none > 0.8, "low rows ignored: the high-confidence labels are learned ({none})");
    assert!(heavy < 0.2, "low rows weighted 10x override the others ({heavy})");
    let bad = TrainConfig::default().low_confidence_weight(-0.5).validate().unwrap_err();
    assert!(bad.to_string().contains("low_confidence_weight"));
    assert!(TrainConfig::default().low_confidence_weight(f32::NAN).validate().is_err());
}

#[test]
fn soft_rows_never_go_to_the_validation_split() {
    let rows = fixture_rows();
    let soft = contradicting_soft(&rows);
    let cfg = quick().epochs(2).validation_split(0.25);
    let (_, all_soft) = voc::train(&fresh_base(), &soft, &cfg, &HashList::default(), |_| {}).unwrap();
    assert_eq!(all_soft.validation_examples, 0);
    assert_eq!(all_soft.train_examples, rows.len());
    // Half soft: the split is a quarter of the hard half, all hard.
    let mixed: Vec<Example> =
        rows.iter().zip(&soft).enumerate().map(|(i, (h, s))| if i % 2 == 0 { h.clone() } else { s.clone() }).collect();
    let (_, r) = voc::train(&fresh_base(), &mixed, &cfg, &HashList::default(), |_| {}).unwrap();
    assert_eq!(r.validation_examples, (rows.len() / 2) / 4);
    // The validation figures are those of the hard rows alone: the held-out
    // hard rows carry their true labels, so the validation report is
    // computed on them (a report exists and counts only those rows).
    let v = r.validation.unwrap();
    assert_eq!(v.n, r.validation_examples);
}

#[test]
fn warm_start_keeps_knowledge_and_adds_a_tag() {
    let rows = fixture_rows();
    let (base, _) = voc::train(&fresh_base(), &rows, &quick(), &HashList::default(), |_| {}).unwrap();
    let mut new_rows = Vec::new();
    for r in &rows {
        let mut tags = r.tags.clone().unwrap();
        if r.text.contains("flight") || r.text.contains("plane") {
            tags.push("travel".into());
        }
        new_rows.push(Example::new(r.text.clone()).with_sentiment(r.sentiment.clone().unwrap()).with_tags(tags));
    }
    let cfg = quick().warm_start(true).epochs(30);
    let (clf, _) = voc::train(&base, &new_rows, &cfg, &HashList::default(), |_| {}).unwrap();
    assert_eq!(clf.labels().tags().last().unwrap(), "travel");
    assert_eq!(&clf.labels().tags()[..4], base.labels().tags());
    let p = clf.classify("My flight was delayed five hours.").unwrap();
    assert!(p.has_tag("travel"), "{:?}", p.tag_probabilities);
    assert!(p.has_tag("process_breakdown"), "{:?}", p.tag_probabilities);
}

#[test]
fn partial_labels_train_only_their_head() {
    let rows: Vec<Example> = fixture_rows()
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            if i % 2 == 0 {
                r.tags = None;
            } else {
                r.sentiment = None;
            }
            r
        })
        .collect();
    let (_, report) = voc::train(&fresh_base(), &rows, &quick().epochs(3), &HashList::default(), |_| {}).unwrap();
    assert_eq!(report.epochs.len(), 3);
}

#[test]
fn invalid_config_is_rejected_naming_the_field() {
    let rows = fixture_rows();
    for (cfg, field) in [
        (TrainConfig::default().epochs(0), "epochs"),
        (TrainConfig::default().learning_rate(f64::NAN), "learning_rate"),
        (TrainConfig::default().batch_size(0), "batch_size"),
        (TrainConfig::default().validation_split(0.95), "validation_split"),
        (TrainConfig::default().dropout(1.0), "dropout"),
        (TrainConfig::default().tags(vec!["a".into(), "a".into()]), "tags"),
        (TrainConfig::default().epochs(5).average_last(6), "average_last"),
        (TrainConfig::default().scopes(vec!["sarcasm".into()]), "scopes"),
        (TrainConfig::default().scopes(vec!["negation".into(), "negation".into()]), "scopes"),
    ] {
        match voc::train(&fresh_base(), &rows, &cfg, &HashList::default(), |_| panic!("no work expected")) {
            Err(voc::Error::Config { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

/// Weight averaging: the mean of the last epochs is a different model from
/// any single epoch; with no validation split it is kept (it was asked for),
/// and with one it is kept only when it validates better.
#[test]
fn average_last_keeps_the_mean_of_the_last_epochs() {
    let rows = fixture_rows();
    let cfg = quick().epochs(6).average_last(3);
    let (avg, report) = voc::train(&fresh_base(), &rows, &cfg, &HashList::default(), |_| {}).unwrap();
    assert_eq!((report.averaged_epochs, report.best_epoch), (3, 0));
    assert_eq!(report.kept(), "kept the mean of epochs 4-6");
    let (single, plain) =
        voc::train(&fresh_base(), &rows, &cfg.clone().average_last(0), &HashList::default(), |_| {}).unwrap();
    assert_eq!(plain.averaged_epochs, 0);
    assert_eq!(plain.kept(), format!("kept epoch {}", plain.best_epoch));
    // Same trajectory (same seed), different kept weights.
    assert_eq!(
        report.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>(),
        plain.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>()
    );
    let probs = |c: &voc::Classifier| c.scores(&rows[0].text).unwrap().sentiment_probabilities;
    assert_ne!(probs(&avg), probs(&single));
    // With a validation split the choice is made on it, and is reported.
    let (_, r) =
        voc::train(&fresh_base(), &rows, &cfg.clone().validation_split(0.3), &HashList::default(), |_| {}).unwrap();
    assert!(r.averaged_epochs == 0 || r.averaged_epochs == 3);
    assert_eq!(r.best_epoch == 0, r.averaged_epochs == 3);
}

#[test]
fn unknown_tag_against_a_fixed_list_is_refused() {
    let rows = fixture_rows();
    let cfg = quick().tags(vec!["product_failure".into()]);
    let err = voc::train(&fresh_base(), &rows, &cfg, &HashList::default(), |_| {}).unwrap_err();
    assert!(err.to_string().contains("not in the tag list"), "{err}");
}

#[test]
fn train_embeddings_fine_tunes_the_table_and_learns() {
    let rows = fixture_rows();
    let cfg = quick().train_embeddings(true).epochs(20);
    let (clf, report) = voc::train(&fresh_base(), &rows, &cfg, &HashList::default(), |_| {}).unwrap();
    assert!(report.epochs.last().unwrap().train_loss < report.epochs[0].train_loss);
    let frozen =
        voc::train(&fresh_base(), &rows, &cfg.clone().train_embeddings(false), &HashList::default(), |_| {}).unwrap().0;
    let d = tempfile::tempdir().unwrap();
    clf.save(d.path().join("a"), "", false).unwrap();
    frozen.save(d.path().join("b"), "", false).unwrap();
    let a = std::fs::read(d.path().join("a/model.safetensors")).unwrap();
    let b = std::fs::read(d.path().join("b/model.safetensors")).unwrap();
    assert_ne!(a, b);
}

/// Scopes: a model trained with a negation scope lists it in config.json,
/// stores its matrix, reloads to the same predictions, keeps it when warm
/// started (unless told otherwise) and still explains its predictions.
#[test]
fn negation_scope_is_trained_saved_and_kept() {
    let rows = fixture_rows();
    let cfg = quick().epochs(10).scopes(vec!["negation".into()]).scope_rank(16);
    let (clf, _) = voc::train(&fresh_base(), &rows, &cfg, &HashList::default(), |_| {}).unwrap();
    let d = tempfile::tempdir().unwrap();
    clf.save(d.path().join("m"), "", false).unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("m/config.json")).unwrap()).unwrap();
    assert_eq!(config["scopes"], serde_json::json!(["negation"]));
    let bytes = std::fs::read(d.path().join("m/model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let m = st.tensor("scope.diag").unwrap();
    assert_eq!(m.shape(), [1, 32]);
    assert!(m.data().iter().any(|&b| b != 0), "the scope diagonal stayed zero");
    assert_eq!(st.tensor("scope.v").unwrap().shape(), [1, 32, 16]);
    assert!(st.tensor("scope.v").unwrap().data().iter().any(|&b| b != 0), "V stayed zero");
    let again = Classifier::from_dir(d.path().join("m")).unwrap();
    let text = "The charger did not work and support never called back.";
    assert_eq!(again.classify(text).unwrap(), clf.classify(text).unwrap());
    assert!(!clf.classify(text).unwrap().sentiment.evidence.words.is_empty());

    // Warm start keeps the base's scopes; an empty list drops them.
    let scopes_of = |c: &Classifier| {
        let d = tempfile::tempdir().unwrap();
        c.save(d.path().join("m"), "", false).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path().join("m/config.json")).unwrap()).unwrap();
        v.get("scopes").cloned()
    };
    let warm = quick().epochs(2).warm_start(true);
    let (kept, _) = voc::train(&clf, &rows, &warm, &HashList::default(), |_| {}).unwrap();
    assert_eq!(scopes_of(&kept), Some(serde_json::json!(["negation"])));
    let saved = |c: &Classifier| {
        let d = tempfile::tempdir().unwrap();
        c.save(d.path().join("m"), "", false).unwrap();
        std::fs::read(d.path().join("m/model.safetensors")).unwrap()
    };
    let bytes = saved(&kept);
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("scope.u").unwrap().shape(), [1, 32, 16], "warm start keeps the base's rank");

    // The default rank is 0: a diagonal only, no U or V stored.
    let (diag, _) = voc::train(
        &fresh_base(),
        &rows,
        &quick().epochs(3).scopes(vec!["negation".into()]),
        &HashList::default(),
        |_| {},
    )
    .unwrap();
    let bytes = saved(&diag);
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("scope.diag").unwrap().shape(), [1, 32]);
    assert!(st.tensor("scope.u").is_err() && st.tensor("scope.v").is_err());
    let d = tempfile::tempdir().unwrap();
    diag.save(d.path().join("m"), "", false).unwrap();
    let text = "It does not work.";
    assert_eq!(Classifier::from_dir(d.path().join("m")).unwrap().classify(text).unwrap(), diag.classify(text).unwrap());
    let (dropped, _) = voc::train(&clf, &rows, &warm.clone().scopes(vec![]), &HashList::default(), |_| {}).unwrap();
    assert_eq!(scopes_of(&dropped), None);
}
