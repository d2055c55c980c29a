//! Every way loading a model can fail names the file and what is wrong.

use std::path::Path;

use voc::{Classifier, Error};

use crate::{copy_model, fixtures};

fn tiny_copy() -> tempfile::TempDir {
    copy_model(&fixtures().join("tiny"))
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// Drop the recorded checksums, to reach the checks behind them.
fn without_checksums(dir: &Path) {
    edit_json(&dir.join("config.json"), |v| {
        v.as_object_mut().unwrap().remove("sha256");
    });
}

fn model_err(dir: &Path) -> (String, String) {
    match Classifier::from_dir(dir).unwrap_err() {
        Error::Model { file, message, .. } => (file, message),
        other => panic!("expected a model error, got {other:?}"),
    }
}

#[test]
fn loads_fixture_and_default_from_dir() {
    Classifier::from_dir(fixtures().join("tiny")).unwrap();
    Classifier::from_dir(crate::root().join("models/default")).unwrap();
}

#[test]
fn missing_folder() {
    let err = Classifier::from_dir("/no/such/voc-model").unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("/no/such/voc-model"), "{err}");
}

#[test]
fn missing_file_names_the_file() {
    for f in ["config.json", "labels.json", "tokenizer.json", "model.safetensors"] {
        let d = tiny_copy();
        std::fs::remove_file(d.path().join(f)).unwrap();
        let err = Classifier::from_dir(d.path()).unwrap_err();
        match &err {
            Error::Io { path, .. } => assert!(path.ends_with(f), "{err}"),
            other => panic!("{f}: expected an I/O error, got {other:?}"),
        }
    }
}

#[test]
fn wrong_format_version() {
    let d = tiny_copy();
    edit_json(&d.path().join("config.json"), |v| v["format_version"] = 99.into());
    match Classifier::from_dir(d.path()).unwrap_err() {
        Error::IncompatibleVersion { found, .. } => assert_eq!(found, 99),
        other => panic!("{other:?}"),
    }
}

#[test]
fn config_not_json_or_missing_version() {
    let d = tiny_copy();
    std::fs::write(d.path().join("config.json"), "{ nope").unwrap();
    assert_eq!(model_err(d.path()).0, "config.json");
    edit_json(&d.path().join("config.json").with_file_name("labels.json"), |_| {});
    std::fs::write(d.path().join("config.json"), "{}").unwrap();
    let (file, msg) = model_err(d.path());
    assert_eq!(file, "config.json");
    assert!(msg.contains("format_version"), "{msg}");
}

#[test]
fn checksum_mismatch_names_the_file() {
    let d = tiny_copy();
    let p = d.path().join("labels.json");
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push(' ');
    std::fs::write(&p, text).unwrap();
    let (file, msg) = model_err(d.path());
    assert_eq!(file, "labels.json");
    assert!(msg.contains("checksum mismatch"), "{msg}");
}

#[test]
fn label_count_mismatch() {
    let d = tiny_copy();
    without_checksums(d.path());
    edit_json(&d.path().join("labels.json"), |v| {
        v["tags"].as_array_mut().unwrap().push("extra_tag".into());
        v["thresholds"]["extra_tag"] = 0.5.into();
    });
    let (file, msg) = model_err(d.path());
    assert_eq!(file, "labels.json");
    assert!(msg.contains("5 tags") && msg.contains("num_tags = 4"), "{msg}");
}

#[test]
fn labels_and_config_agree_but_weights_do_not() {
    let d = tiny_copy();
    without_checksums(d.path());
    edit_json(&d.path().join("labels.json"), |v| {
        v["tags"].as_array_mut().unwrap().push("extra_tag".into());
        v["thresholds"]["extra_tag"] = 0.5.into();
    });
    edit_json(&d.path().join("config.json"), |v| v["num_tags"] = 5.into());
    let (file, msg) = model_err(d.path());
    assert_eq!(file, "model.safetensors");
    assert!(msg.contains("tags.weight") && msg.contains("shape"), "{msg}");
}

#[test]
fn wrong_shape_in_config() {
    let d = tiny_copy();
    without_checksums(d.path());
    edit_json(&d.path().join("config.json"), |v| v["embedding_dim"] = 17.into());
    let (file, msg) = model_err(d.path());
    assert_eq!(file, "model.safetensors");
    assert!(msg.contains("embedding.weight") && msg.contains("[16,") || msg.contains("16]"), "{msg}");
}

#[test]
fn vocab_smaller_than_tokenizer() {
    let d = tiny_copy();
    without_checksums(d.path());
    edit_json(&d.path().join("config.json"), |v| v["vocab_size"] = 3.into());
    let (file, msg) = model_err(d.path());
    assert_eq!(file, "tokenizer.json");
    assert!(msg.contains("vocab_size = 3"), "{msg}");
}

#[test]
fn truncated_and_corrupted_safetensors() {
    let d = tiny_copy();
    without_checksums(d.path());
    let p = d.path().join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    for cut in [0, 4, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let (file, _) = model_err(d.path());
        assert_eq!(file, "model.safetensors", "cut at {cut}");
    }
    let mut garbage = bytes.clone();
    garbage[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&p, &garbage).unwrap();
    assert_eq!(model_err(d.path()).0, "model.safetensors");
}

#[test]
fn tokenizer_not_json() {
    let d = tiny_copy();
    without_checksums(d.path());
    std::fs::write(d.path().join("tokenizer.json"), "this is not json").unwrap();
    let (file, msg) = model_err(d.path());
    assert_eq!(file, "tokenizer.json");
    assert!(msg.contains("not valid JSON"), "{msg}");
    std::fs::write(d.path().join("tokenizer.json"), "{\"model\": 3}").unwrap();
    assert_eq!(model_err(d.path()).0, "tokenizer.json");
}

#[test]
fn bad_thresholds_and_temperature() {
    for (key, val) in [("temperature", serde_json::json!(0.0)), ("thresholds", serde_json::json!({}))] {
        let d = tiny_copy();
        without_checksums(d.path());
        edit_json(&d.path().join("labels.json"), |v| v[key] = val.clone());
        assert_eq!(model_err(d.path()).0, "labels.json", "{key}");
    }
}

#[test]
fn from_bytes_matches_from_dir() {
    let dir = fixtures().join("tiny");
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let (c, l, t, w) = (read("config.json"), read("labels.json"), read("tokenizer.json"), read("model.safetensors"));
    let a = Classifier::from_bytes(voc::ModelBytes { config: &c, labels: &l, tokenizer: &t, weights: &w }).unwrap();
    let b = Classifier::from_dir(&dir).unwrap();
    let text = "the charger stopped working";
    assert_eq!(a.classify(text).unwrap(), b.classify(text).unwrap());
}

#[test]
fn embedded_model_matches_its_recorded_checksums() {
    // The embedded model skips checksum verification at load for speed; this
    // test verifies the compiled-in files instead.
    let dir = crate::root().join("models/default");
    let cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    for f in ["labels.json", "tokenizer.json", "model.safetensors"] {
        let bytes = std::fs::read(dir.join(f)).unwrap();
        use sha2::Digest;
        let got: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(cfg["sha256"][f].as_str().unwrap(), got, "{f}");
    }
    // And the embedded bytes are those files.
    let a = Classifier::embedded().unwrap();
    let b = Classifier::from_dir(&dir).unwrap();
    assert_eq!(a.classify("lost my bag").unwrap(), b.classify("lost my bag").unwrap());
}

#[test]
fn save_refuses_to_overwrite_and_round_trips() {
    let clf = crate::tiny();
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("m");
    clf.save(&out, "# card", false).unwrap();
    assert!(clf.save(&out, "# card", false).is_err());
    clf.save(&out, "# card 2", true).unwrap();
    let again = Classifier::from_dir(&out).unwrap();
    assert_eq!(again.classify("rude agent").unwrap(), clf.classify("rude agent").unwrap());
    // No temporary folder left behind.
    let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

/// A model folder with a negation scope (trained on the fixture).
fn scoped_copy() -> tempfile::TempDir {
    let t = std::fs::read(fixtures().join("tiny-tokenizer.json")).unwrap();
    let e = std::fs::read(fixtures().join("tiny-embeddings.safetensors")).unwrap();
    let base = Classifier::untrained(&t, &e).unwrap();
    let rows = voc::read_examples(fixtures().join("tiny-train.jsonl"), &voc::ReadOptions::default()).unwrap();
    let cfg = voc::TrainConfig::default()
        .epochs(2)
        .hidden_dim(8)
        .scope_rank(2)
        .validation_split(0.0)
        .scopes(vec!["negation".into()]);
    let (clf, _) = voc::train(&base, &rows, &cfg, &voc::HashList::default(), |_| {}).unwrap();
    let d = tempfile::tempdir().unwrap();
    clf.save(d.path().join("m"), "", false).unwrap();
    d
}

#[test]
fn scopes_in_config_and_weights_must_agree() {
    let d = scoped_copy();
    let dir = d.path().join("m");
    Classifier::from_dir(&dir).unwrap();
    without_checksums(&dir);
    // An unknown scope kind.
    edit_json(&dir.join("config.json"), |v| v["scopes"] = serde_json::json!(["sarcasm"]));
    let (file, msg) = model_err(&dir);
    assert_eq!(file, "config.json");
    assert!(msg.contains("unknown scope") && msg.contains("sarcasm"), "{msg}");
    // Two kinds listed, one matrix stored.
    edit_json(&dir.join("config.json"), |v| v["scopes"] = serde_json::json!(["negation", "contrast"]));
    let (file, msg) = model_err(&dir);
    assert_eq!(file, "model.safetensors");
    assert!(msg.contains("scope.diag") && msg.contains("shape"), "{msg}");
    // No kind listed, a matrix stored.
    edit_json(&dir.join("config.json"), |v| {
        v.as_object_mut().unwrap().remove("scopes");
    });
    let (file, msg) = model_err(&dir);
    assert_eq!(file, "model.safetensors");
    assert!(msg.contains("unexpected tensors") && msg.contains("scope.diag"), "{msg}");
}
