//! The `voc` command, run as a user would.

use std::process::Command;

use crate::run_voc as voc;

fn json(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8(out.to_vec()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn classify_text_prints_a_prediction() {
    let out = voc(&["classify", "The screen cracked and support never called back."], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = &json(&out.stdout)[0];
    assert_eq!(v["sentiment"]["label"], "negative");
    let p: voc::Prediction = serde_json::from_value(v.clone()).unwrap();
    assert!(!p.tags.is_empty());
}

#[test]
fn classify_edge_inputs_succeed() {
    let big = "My parcel is late. ".repeat(6000);
    for t in ["", "😀🔥😀", big.as_str()] {
        let out = voc(&["classify", t], None);
        assert!(out.status.success(), "{t:.20}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(json(&out.stdout).len(), 1);
    }
    let out = voc(&["classify", "--pretty", "fine"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\n  \"sentiment\""));
}

#[test]
fn classify_stdin_one_line_each_in_order() {
    let out = voc(&["classify"], Some(b"great staff\r\n\nit broke\nlost my bag"));
    assert!(out.status.success());
    let v = json(&out.stdout);
    assert_eq!(v.len(), 4);
    assert!(v[1]["sentences"].as_array().unwrap().is_empty());
    assert_eq!(v[3]["sentences"][0]["text"], "lost my bag");
}

#[test]
fn classify_scores_prints_the_same_labels_without_evidence() {
    let input: &[u8] = b"The screen cracked and support never called back.\nLove it!\n\n\xff bad\nI was billed twice.";
    let full = voc(&["classify"], Some(input));
    let fast = voc(&["classify", "--scores"], Some(input));
    assert_eq!(fast.status.code(), Some(1), "the invalid line still fails the run");
    let (full, fast) = (json(&full.stdout), json(&fast.stdout));
    assert_eq!(fast.len(), 5);
    for (f, s) in full.iter().zip(&fast) {
        if f.get("error").is_some() {
            assert_eq!(f, s);
            continue;
        }
        assert_eq!(s["sentiment"], f["sentiment"]["label"]);
        assert_eq!(s["sentiment_score"], f["sentiment"]["score"]);
        assert_eq!(s["sentiment_probabilities"], f["sentiment"]["probabilities"]);
        assert_eq!(s["tag_probabilities"], f["tag_probabilities"]);
        let names: Vec<&serde_json::Value> = f["tags"].as_array().unwrap().iter().map(|t| &t["name"]).collect();
        assert_eq!(s["tags"].as_array().unwrap().iter().collect::<Vec<_>>(), names);
        assert!(s.get("sentences").is_none());
    }
    let one = voc(&["classify", "--scores", "It broke after a week."], None);
    assert!(one.status.success());
    assert_eq!(json(&one.stdout)[0]["tags"][0], "product_failure");
}

#[test]
fn classify_stdin_invalid_utf8_is_reported_not_dropped() {
    let out = voc(&["classify"], Some(b"good\n\xff\xfe bad bytes\nbroken screen\n"));
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out.stdout);
    assert_eq!(v.len(), 3, "one output line per input line");
    assert_eq!(v[1]["line"], 2);
    assert!(v[1]["error"].as_str().unwrap().contains("invalid UTF-8"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

#[cfg(unix)]
#[test]
fn classify_invalid_utf8_argument_fails() {
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new(env!("CARGO_BIN_EXE_voc"))
        .arg("classify")
        .arg(std::ffi::OsStr::from_bytes(b"bad \xff"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid UTF-8"));
}

#[test]
fn classify_with_model_dir_and_bad_model() {
    let out = voc(&["classify", "--model", "tests/fixtures/tiny", "rude agent"], None);
    assert!(out.status.success());
    let out = voc(&["classify", "--model", "/no/such/model", "x"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/model"));
}

#[test]
fn eval_json_has_the_documented_shape() {
    let out =
        voc(&["eval", "--json", "--model", "tests/fixtures/tiny", "--data", "tests/fixtures/tiny-train.jsonl"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out.stdout);
    assert_eq!(v.len(), 1, "exactly one JSON object");
    let r = &v[0];
    assert_eq!(r["n"], 48);
    for k in ["accuracy", "macro_f1", "ece"] {
        assert!(r["sentiment"][k].is_number(), "{k}");
    }
    assert_eq!(r["sentiment"]["confusion"]["labels"], serde_json::json!(["negative", "neutral", "positive"]));
    assert!(r["sentiment"]["per_class"]["neutral"]["support"].is_number());
    assert!(r["tags"]["macro_f1"].is_number() && r["tags"]["micro_f1"].is_number());
    assert!(r["tags"]["per_label"]["training_need"]["f1"].is_number());
    let table = voc(&["eval", "--model", "tests/fixtures/tiny", "--data", "tests/fixtures/tiny-train.jsonl"], None);
    assert!(String::from_utf8_lossy(&table.stdout).contains("macro-F1"));
}

#[test]
fn eval_by_source_splits_rows_by_their_source_and_agrees_with_eval() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("mixed.jsonl");
    let rows = std::fs::read_to_string("tests/fixtures/tiny-train.jsonl").unwrap();
    let mut mixed = String::new();
    let mut want: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, line) in rows.lines().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        let source = ["tweets", "reviews", ""][i % 3];
        if source.is_empty() {
            v.as_object_mut().unwrap().remove("source");
        } else {
            v["source"] = source.into();
        }
        *want
            .entry(if source.is_empty() { voc::UNKNOWN_SOURCE.to_string() } else { source.to_string() })
            .or_default() += 1;
        mixed.push_str(&format!("{v}\n"));
    }
    std::fs::write(&data, mixed).unwrap();
    let args = ["eval", "--model", "tests/fixtures/tiny", "--data", data.to_str().unwrap()];
    let out = voc(&[&args[..], &["--json", "--by-source"]].concat(), None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = &json(&out.stdout)[0];
    let by = v["by_source"].as_object().unwrap();
    let got: std::collections::BTreeMap<String, usize> =
        by.iter().map(|(k, r)| (k.clone(), r["n"].as_u64().unwrap() as usize)).collect();
    assert_eq!(got, want);
    // The overall part is what plain --json prints, which has no by_source.
    let plain = &json(&voc(&[&args[..], &["--json"]].concat(), None).stdout)[0];
    assert!(plain.get("by_source").is_none());
    let mut overall = v.clone();
    overall.as_object_mut().unwrap().remove("by_source");
    assert_eq!(&overall, plain);

    // Each source's figures are those of eval on that source's rows alone.
    let clf = voc::Classifier::from_dir("tests/fixtures/tiny").unwrap();
    let examples = voc::read_examples(&data, &voc::ReadOptions::default()).unwrap();
    let report = voc::evaluate_by_source(&clf, &examples).unwrap();
    for (name, r) in &report.by_source {
        let subset: Vec<voc::Example> =
            examples.iter().filter(|e| e.source.as_deref().unwrap_or(voc::UNKNOWN_SOURCE) == name).cloned().collect();
        assert_eq!(r, &voc::evaluate(&clf, &subset).unwrap(), "{name}");
    }
    let table = String::from_utf8_lossy(&voc(&[&args[..], &["--by-source"]].concat(), None).stdout).to_string();
    assert!(table.contains("by source") && table.contains("tweets") && table.contains("unknown"), "{table}");
}

#[test]
fn train_writes_a_model_and_refuses_bad_input() {
    let d = tempfile::tempdir().unwrap();
    let out_dir = d.path().join("m");
    let o = out_dir.to_str().unwrap();
    let args = [
        "train",
        "--data",
        "tests/fixtures/tiny-train.jsonl",
        "--tokenizer",
        "tests/fixtures/tiny-tokenizer.json",
        "--embeddings",
        "tests/fixtures/tiny-embeddings.safetensors",
        "--epochs",
        "3",
        "--hidden-dim",
        "8",
        "--out",
        o,
    ];
    let report = d.path().join("report.json");
    let flags = [
        "--token-dropout",
        "0.05",
        "--weight-decay",
        "0.001",
        "--low-confidence-weight",
        "0.5",
        "--report",
        report.to_str().unwrap(),
    ];
    let out = voc(&[&args[..], &flags].concat(), None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("epoch   3/3"));
    // The training flags reach the config the run used.
    let rep: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(rep["config"]["token_dropout"].as_f64().map(|v| v as f32), Some(0.05));
    assert_eq!(rep["config"]["weight_decay"].as_f64(), Some(0.001));
    assert_eq!(rep["config"]["low_confidence_weight"].as_f64(), Some(0.5));
    assert_eq!(rep["config"]["hidden_dim"].as_u64(), Some(8));
    assert!(std::fs::read_to_string(out_dir.join("README.md")).unwrap().contains("removed because their hash"));
    voc::Classifier::from_dir(&out_dir).unwrap();
    // Exists: refused without --force.
    let out = voc(&args, None);
    assert_eq!(out.status.code(), Some(2));

    // Bad data: error with file and line, nothing written.
    let bad = d.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"text\": \"ok\", \"sentiment\": \"positive\"}\n{\"text\": \"x\", \"sentiment\": \"furious\"}\n",
    )
    .unwrap();
    let out2 = d.path().join("m2");
    let out = voc(&["train", "--data", bad.to_str().unwrap(), "--out", out2.to_str().unwrap(), "--epochs", "1"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.jsonl:2: sentiment"));
    assert!(!out2.exists());
    // Bad config: refused before any work.
    let out = voc(&["train", "--data", bad.to_str().unwrap(), "--out", out2.to_str().unwrap(), "--epochs", "0"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid epochs"));
    assert!(!out2.exists());
    for (flag, value, field) in [
        ("--token-dropout", "1", "token_dropout"),
        ("--weight-decay", "2", "weight_decay"),
        ("--low-confidence-weight", "200", "low_confidence_weight"),
    ] {
        let out = voc(&["train", "--data", bad.to_str().unwrap(), "--out", out2.to_str().unwrap(), flag, value], None);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("invalid {field}")), "{flag}");
        assert!(!out2.exists());
    }
}
