//! Reading labeled data: every bad row gives file, line and field.

use std::io::Write;

use voc::{Error, ReadOptions};

fn write(name: &str, content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(name);
    std::fs::File::create(&p).unwrap().write_all(content).unwrap();
    (d, p)
}

fn data_err(name: &str, content: &[u8]) -> (u64, String, String) {
    let (_d, p) = write(name, content);
    match voc::read_examples(&p, &ReadOptions::default()).unwrap_err() {
        Error::Data { path, line, field, message } => {
            assert_eq!(path, p);
            (line, field, message)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reads_jsonl_with_partial_labels() {
    let (_d, p) = write(
        "a.jsonl",
        b"{\"text\": \"late\", \"sentiment\": \"negative\"}\n\n{\"text\": \"broke\", \"tags\": [\"product_failure\"]}\n{\"text\": \"ok\", \"sentiment\": \"neutral\", \"tags\": []}\n",
    );
    let rows = voc::read_examples(&p, &ReadOptions::default()).unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].tags.is_none());
    assert!(rows[1].sentiment.is_none());
    assert_eq!(rows[2].tags.as_deref(), Some(&[][..]));
}

#[test]
fn bad_jsonl_rows() {
    let ok = b"{\"text\": \"fine\", \"sentiment\": \"positive\"}\n";
    let case = |bad: &[u8]| {
        let mut c = ok.to_vec();
        c.extend_from_slice(bad);
        data_err("x.jsonl", &c)
    };
    let (line, field, msg) = case(b"{\"text\": \"x\", \"sentiment\": \"angry\"}\n");
    assert_eq!((line, field.as_str()), (2, "sentiment"));
    assert!(msg.contains("unknown sentiment"));
    assert_eq!(case(b"{\"text\": \"  \", \"sentiment\": \"negative\"}\n").1, "text");
    assert_eq!(case(b"{\"sentiment\": \"negative\"}\n").1, "text");
    assert_eq!(case(b"{\"text\": \"x\"}\n").1, "labels");
    assert_eq!(case(b"{\"text\": \"x\", \"tags\": \"product_failure\"}\n").1, "tags");
    assert_eq!(case(b"{\"text\": \"x\", \"tags\": [1]}\n").1, "tags");
    assert_eq!(case(b"[1, 2]\n").1, "line");
    assert_eq!(case(b"{broken\n").1, "line");
    let (line, _, msg) = case(b"{\"text\": \"caf\xe9\", \"sentiment\": \"negative\"}\n");
    assert_eq!(line, 2);
    assert!(msg.contains("invalid UTF-8"));
}

#[test]
fn reads_soft_targets() {
    let (_d, p) = write(
        "s.jsonl",
        br#"{"text": "late again", "sentiment": "negative", "tags": ["process_breakdown"], "soft": {"sentiment": {"negative": 0.8, "neutral": 0.15, "positive": 0.05}, "tags": {"process_breakdown": 0.9, "communication_gap": 0.3}}}
{"text": "fine", "sentiment": "positive"}
"#,
    );
    let rows = voc::read_examples(&p, &ReadOptions::default()).unwrap();
    let soft = rows[0].soft.as_ref().unwrap();
    assert_eq!(soft.sentiment.as_ref().unwrap()["negative"], 0.8);
    assert_eq!(soft.tags.as_ref().unwrap()["communication_gap"], 0.3);
    assert!(rows[1].soft.is_none());
}

#[test]
fn reads_the_labelers_confidence() {
    let (_d, p) = write(
        "c.jsonl",
        br#"{"text": "late", "sentiment": "negative", "confidence": "low"}
{"text": "broke", "sentiment": "negative", "confidence": "high"}
{"text": "fine", "sentiment": "positive"}
"#,
    );
    let rows = voc::read_examples(&p, &ReadOptions::default()).unwrap();
    let got: Vec<_> = rows.iter().map(|r| r.confidence).collect();
    assert_eq!(got, [Some(voc::Confidence::Low), Some(voc::Confidence::High), None]);
    for bad in [r#""medium""#, "1", r#"["low"]"#] {
        let c = format!(
            "{{\"text\": \"ok\", \"sentiment\": \"neutral\"}}\n{{\"text\": \"x\", \"sentiment\": \"negative\", \"confidence\": {bad}}}\n"
        );
        let (line, field, msg) = data_err("c.jsonl", c.as_bytes());
        assert_eq!((line, field.as_str()), (2, "confidence"), "{bad}");
        assert!(msg.contains("high") && msg.contains("low"), "{msg}");
    }
}

#[test]
fn bad_soft_targets() {
    let ok = b"{\"text\": \"fine\", \"sentiment\": \"positive\"}\n";
    let case = |bad: &str| {
        let mut c = ok.to_vec();
        c.extend_from_slice(bad.as_bytes());
        c.push(b'\n');
        let (line, field, msg) = data_err("x.jsonl", &c);
        assert_eq!((line, field.as_str()), (2, "soft"), "{bad}: {msg}");
        msg
    };
    let row = |soft: &str| format!(r#"{{"text": "x", "sentiment": "negative", "tags": [], "soft": {soft}}}"#);
    assert!(case(&row("[0.5]")).contains("not an object"));
    assert!(case(&row(r#"{"tags": {"process_breakdown": 1.5}}"#)).contains("not in [0, 1]"));
    assert!(case(&row(r#"{"tags": {"process_breakdown": "high"}}"#)).contains("not a number"));
    assert!(case(&row(r#"{"tags": [0.5]}"#)).contains("not an object"));
    assert!(case(&row(r#"{"sentiment": {"angry": 1.0}}"#)).contains("unknown sentiment class"));
    assert!(case(&row(r#"{"sentiment": {"negative": 0.5, "positive": 0.2}}"#)).contains("sum to"));
    assert!(case(&row(r#"{"labels": {}}"#)).contains("unknown key"));
    assert!(
        case(r#"{"text": "x", "sentiment": "negative", "soft": {"tags": {"process_breakdown": 0.5}}}"#)
            .contains("without a tags label")
    );
    assert!(
        case(r#"{"text": "x", "tags": [], "soft": {"sentiment": {"negative": 1.0}}}"#)
            .contains("without a sentiment label")
    );
}

#[test]
fn empty_file_is_an_error() {
    let (line, field, _) = data_err("e.jsonl", b"");
    assert_eq!((line, field.as_str()), (0, "file"));
}

#[test]
fn reads_csv_with_named_columns_and_quoting() {
    let (_d, p) = write(
        "a.csv",
        b"id,comment,mood,labels\n1,\"Late, again\",negative,process_breakdown\n2,\"He said \"\"no\"\"\",negative,training_need;communication_gap\n3,Nice,positive,\n4,Unsure,neutral,?\n5,Blank,,?\n",
    );
    let opts = ReadOptions::default().text_column("comment").sentiment_column("mood").tags_column("labels");
    let err = voc::read_examples(&p, &opts).unwrap_err();
    assert!(err.to_string().contains(":6: labels"), "a row with no label at all: {err}");
    let content = std::fs::read_to_string(&p).unwrap().replace("5,Blank,,?\n", "");
    std::fs::write(&p, content).unwrap();
    let rows = voc::read_examples(&p, &opts).unwrap();
    assert_eq!(rows[0].text, "Late, again");
    assert_eq!(rows[1].text, "He said \"no\"");
    assert_eq!(rows[1].tags.as_ref().unwrap(), &["training_need", "communication_gap"]);
    assert_eq!(rows[2].tags.as_deref(), Some(&[][..]));
    assert!(rows[3].sentiment.is_some() && rows[3].tags.is_none(), "`?` marks tags unknown");
}

#[test]
fn bad_csv_rows() {
    let (_d, p) = write("b.csv", b"text,sentiment\nfine,positive\n\"open quote,negative\n");
    assert!(voc::read_examples(&p, &ReadOptions::default()).is_err());
    let (line, field, msg) = data_err("c.csv", b"comment,sentiment\nx,negative\n");
    assert_eq!((line, field.as_str()), (1, "text"));
    assert!(msg.contains("comment"), "columns are listed: {msg}");
    let (line, field, _) = data_err("d.csv", b"text,sentiment\nok,positive\nbad,furious\n");
    assert_eq!((line, field.as_str()), (3, "sentiment"));
    let (line, _, msg) = data_err("e.csv", b"text,sentiment\n\xff\xfe,negative\n");
    assert_eq!(line, 2);
    assert!(msg.contains("invalid UTF-8"));
}

#[test]
fn missing_file_is_an_io_error_with_path() {
    let err = voc::read_examples("/no/such/file.jsonl", &ReadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("/no/such/file.jsonl"));
}

#[test]
fn eval_hash_normalizes() {
    assert_eq!(voc::eval_hash("A  b\n\tC "), voc::eval_hash("a b c"));
    assert_ne!(voc::eval_hash("a b c"), voc::eval_hash("a b d"));
    // sha256("hello world") = b94d27b9934d3e08...
    assert_eq!(voc::eval_hash("Hello   World"), "b94d27b9934d3e08");
}
