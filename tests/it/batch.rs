//! `voc score` and its library helpers: order, bad rows, formats, gzip,
//! stdin, column guessing, overwrite rules, and resume after a kill.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use voc::{Classifier, ScoreOptions};

use crate::run_voc as voc;

fn clf() -> Classifier {
    Classifier::embedded().unwrap()
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const SENTENCES: [&str; 8] = [
    "The app crashed twice while I was paying.",
    "The agent who answered was lovely.",
    "I emailed three times and nobody replied.",
    "The staff did not know how to process a return.",
    "I was charged twice and still have no refund.",
    "Checkout is much faster now!",
    "The screen cracked after a week.",
    "I waited 45 minutes on hold, then the call dropped.",
];

/// A distinct comment for row `i` (1-based).
fn comment(i: usize) -> String {
    format!("{} {} (ref {i})", SENTENCES[i % 8], SENTENCES[(i / 8) % 8])
}

/// A CSV of `n` rows: `id,channel,comment`.
fn write_csv(path: &Path, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "id,channel,comment").unwrap();
    for i in 1..=n {
        writeln!(f, "T{i},{},\"{}\"", ["app", "phone", "web"][i % 3], comment(i)).unwrap();
    }
}

#[test]
fn classify_iter_is_in_order_and_matches_classify() {
    let clf = clf();
    let texts: Vec<String> = (1..=50).map(comment).collect();
    for chunk in [1, 7, 50, 1000] {
        let preds: Vec<voc::Prediction> =
            clf.classify_iter(texts.iter()).chunk_rows(chunk).collect::<voc::Result<_>>().unwrap();
        assert_eq!(preds.len(), texts.len());
        for (t, p) in texts.iter().zip(&preds).step_by(9) {
            assert_eq!(p, &clf.classify(t).unwrap(), "chunk {chunk}");
        }
    }
    assert_eq!(clf.classify_iter(Vec::<String>::new()).count(), 0);
}

#[test]
fn score_keeps_input_order_ids_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, 500);
    let out = dir.path().join("out.jsonl");
    let opts = ScoreOptions::new([&input]).output(&out).id_column("id").keep_columns(["channel"]).chunk_rows(37);
    let clf = clf();
    let sum = voc::score_file(&clf, &opts, |_| {}).unwrap();
    assert_eq!((sum.rows_read, sum.rows_written, sum.errors), (500, 500, 0));
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 500);
    for (i, r) in rows.iter().enumerate() {
        let n = i + 1;
        assert_eq!(r["row"], n);
        assert_eq!(r["id"], format!("T{n}"));
        assert_eq!(r["channel"], ["app", "phone", "web"][n % 3]);
        assert_eq!(r["text"], comment(n));
    }
    // The scores are the classifier's.
    for n in [1usize, 123, 500] {
        let p = clf.classify(&comment(n)).unwrap();
        let r = &rows[n - 1];
        assert_eq!(r["sentiment"], p.sentiment.label.as_str());
        assert_eq!(r["tags"].as_array().unwrap().len(), p.tags.len());
        for t in &p.tags {
            let want = t.probability as f64;
            assert!((r[format!("tag_{}", t.name)].as_f64().unwrap() - want).abs() < 1e-3);
            let words: Vec<&str> = t.evidence.words.iter().map(|w| w.text.as_str()).collect();
            let got: Vec<&str> =
                r["evidence"][&t.name]["words"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
            assert_eq!(got, words);
        }
        for c in clf.labels().sentiment() {
            assert!(r[format!("p_{c}")].is_number());
        }
    }
    // The error file exists (empty), the temporary files are gone.
    assert_eq!(std::fs::read_to_string(dir.path().join("out.jsonl.errors.jsonl")).unwrap(), "");
    assert!(!dir.path().join("out.jsonl.partial").exists());
    assert!(!dir.path().join("out.jsonl.partial.state").exists());
}

/// Read rows and error lines; check `read == written + errors` everywhere.
fn accounting(out: &Path, sum: &voc::ScoreSummary) -> (Vec<Value>, Vec<Value>) {
    let rows = jsonl(out);
    let errors = jsonl(&PathBuf::from(format!("{}.errors.jsonl", out.display())));
    assert_eq!(sum.rows_read, sum.rows_written + sum.errors);
    assert_eq!(rows.len() as u64, sum.rows_written);
    assert_eq!(errors.len() as u64, sum.errors);
    // Every row number appears once, in the output or the error file.
    let mut seen: Vec<u64> = rows.iter().chain(&errors).map(|r| r["row"].as_u64().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, (1..=sum.rows_read).collect::<Vec<_>>());
    (rows, errors)
}

#[test]
fn bad_csv_rows_go_to_the_error_file_with_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let mut data = b"id,comment\n1,fine product\n2,bad \xff bytes\n3,\"closed\"then more\n4,a,b\n".to_vec();
    data.extend_from_slice(format!("5,{}\n", "long ".repeat(100)).as_bytes());
    data.extend_from_slice(b"6,\"quoted, with comma\nand a second line\"\n7,ok again\n8,\"never closed\n9,last\n");
    std::fs::write(&input, data).unwrap();
    let out = dir.path().join("out.jsonl");
    let opts = ScoreOptions::new([&input]).output(&out).id_column("id").max_row_bytes(200);
    let sum = voc::score_file(&clf(), &opts, |_| {}).unwrap();
    let (rows, errors) = accounting(&out, &sum);
    assert_eq!((sum.rows_read, sum.rows_written, sum.errors), (9, 4, 5));
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1", "6", "7", "9"]);
    assert_eq!(rows[1]["text"], "quoted, with comma\nand a second line");
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [3, 4, 5, 6, 10]);
    let reasons: Vec<&str> = errors.iter().map(|e| e["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].contains("invalid UTF-8"), "{reasons:?}");
    assert!(reasons[1].contains("quot"), "{reasons:?}");
    assert!(reasons[2].contains("expected 2 fields"), "{reasons:?}");
    assert!(reasons[3].contains("size limit"), "{reasons:?}");
    assert!(reasons[4].contains("never closed"), "{reasons:?}");
    assert!(errors.iter().all(|e| e["file"].as_str().unwrap().ends_with("in.csv")));
    assert!(errors[0]["raw"].as_str().unwrap().starts_with("2,bad"));
}

#[test]
fn bad_jsonl_rows_are_counted_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let data = b"{\"review\": \"It broke.\", \"stars\": 1}\n[1, 2]\n{\"review\": 5}\n\n{\"other\": \"x\"}\n{\"review\": \"caf\xff\"}\nnot json\n{\"review\": \"Lovely!\", \"stars\": 5}\n";
    std::fs::write(&input, data).unwrap();
    let out = dir.path().join("out.jsonl");
    let opts = ScoreOptions::new([&input]).output(&out).keep_columns(["stars"]);
    let sum = voc::score_file(&clf(), &opts, |_| {}).unwrap();
    let (rows, errors) = accounting(&out, &sum);
    assert_eq!((sum.rows_read, sum.rows_written, sum.errors), (7, 2, 5));
    assert_eq!(rows[0]["stars"], 1);
    assert_eq!(rows[1]["text"], "Lovely!");
    let got: Vec<(u64, &str)> =
        errors.iter().map(|e| (e["line"].as_u64().unwrap(), e["reason"].as_str().unwrap())).collect();
    assert!(got[0].0 == 2 && got[0].1.contains("not a JSON object"), "{got:?}");
    assert!(got[1].0 == 3 && got[1].1.contains("not a string"), "{got:?}");
    assert!(got[2].0 == 5 && got[2].1.contains("missing text field `review`"), "{got:?}");
    assert!(got[3].0 == 6 && got[3].1.contains("invalid UTF-8"), "{got:?}");
    assert!(got[4].0 == 7 && got[4].1.contains("not valid JSON"), "{got:?}");
}

#[test]
fn gzip_tsv_input_and_csv_output_round_trip_quoting() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.tsv.gz");
    let texts = ["Said \"never again\", twice.", "line one\nline two", " padded ", "plain"];
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&input).unwrap(), flate2::Compression::fast());
    writeln!(gz, "ticket\tFeedback").unwrap();
    for (i, t) in texts.iter().enumerate() {
        writeln!(gz, "{i}\t\"{}\"", t.replace('"', "\"\"")).unwrap();
    }
    gz.finish().unwrap();
    let out = dir.path().join("out.csv");
    let o = voc(&["score", s(&input), "-o", s(&out), "--id-column", "ticket"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("4 rows read, 4 written, 0 errors"), "{stderr}");
    let mut r = csv::Reader::from_path(&out).unwrap();
    let headers = r.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name}"));
    let recs: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), 4);
    for (i, (rec, t)) in recs.iter().zip(texts).enumerate() {
        assert_eq!(&rec[col("text")], t);
        assert_eq!(&rec[col("id")], i.to_string());
        assert!(rec[col("p_negative")].parse::<f64>().is_ok());
    }
    for h in ["sentiment", "tags", "tag_product_failure", "evidence_words_product_failure"] {
        col(h);
    }
}

#[test]
fn stdin_input_writes_stdout_and_bad_rows_to_stderr() {
    let o = voc(&["score", "-"], Some(b"text\nThe screen cracked.\n\xff\nGreat staff!\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<Value> =
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["text"], "The screen cracked.");
    assert_eq!(rows[1]["row"], 3);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("\"line\":3") && stderr.contains("invalid UTF-8"), "{stderr}");
    assert!(stderr.contains("3 rows read, 2 written, 1 errors"), "{stderr}");
    // JSONL on stdin is sniffed.
    let o = voc(&["score", "-", "--no-text"], Some(b"{\"comment\": \"lost my bag\"}\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("text").is_none() && v["row"] == 1);
}

#[test]
fn text_column_is_guessed_or_the_error_lists_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "Ticket ID,Review Text,Date\n1,It broke.,2024-01-01\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let sum = voc::score_file(&clf(), &ScoreOptions::new([&good]).output(&out), |_| {}).unwrap();
    assert_eq!(sum.rows_written, 1);
    assert_eq!(jsonl(&out)[0]["text"], "It broke.");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "ticket,stars,date\n1,5,2024-01-01\n").unwrap();
    let out = dir.path().join("out2.jsonl");
    let o = voc(&["score", s(&bad), "-o", s(&out)], None);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("`ticket`, `stars`, `date`") && err.contains("--text-column"), "{err}");
    assert!(err.contains("bad.csv:1"), "{err}");
    assert!(!out.exists() && !dir.path().join("out2.jsonl.partial").exists());
    // A named column that is not there.
    let o = voc(&["score", s(&bad), "-o", s(&out), "--text-column", "body"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no column `body`"));
    // Named, case-insensitively.
    let o = voc(&["score", s(&bad), "-o", s(&out), "--text-column", "STARS"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn existing_output_is_kept_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, 3);
    let out = dir.path().join("out.jsonl");
    std::fs::write(&out, "precious").unwrap();
    let o = voc(&["score", s(&input), "-o", s(&out)], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    let o = voc(&["score", s(&input), "-o", s(&out), "--force"], None);
    assert!(o.status.success());
    assert_eq!(jsonl(&out).len(), 3);
}

#[test]
fn several_inputs_make_one_output_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.jsonl");
    std::fs::write(&a, "comment,channel\nfirst,app\nsecond,web\n").unwrap();
    std::fs::write(&b, "{\"text\":\"third\",\"channel\":\"chat\"}\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let opts = ScoreOptions::new([&a, &b]).output(&out).keep_columns(["channel"]);
    voc::score_file(&clf(), &opts, |_| {}).unwrap();
    let rows = jsonl(&out);
    let got: Vec<(&str, &str, u64)> = rows
        .iter()
        .map(|r| (r["text"].as_str().unwrap(), r["channel"].as_str().unwrap(), r["row"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, [("first", "app", 1), ("second", "web", 2), ("third", "chat", 3)]);
}

#[test]
fn killed_run_resumes_with_every_row_exactly_once() {
    let n = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, n);
    let out = dir.path().join("out.jsonl");
    let state = dir.path().join("out.jsonl.partial.state");
    let args = ["score", s(&input), "-o", s(&out), "--id-column", "id", "--chunk-rows", "100", "--threads", "2"];
    let mut child =
        Command::new(env!("CARGO_BIN_EXE_voc")).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Kill it once a few chunks are done.
    let t0 = std::time::Instant::now();
    loop {
        let done = std::fs::read_to_string(&state)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["rows_written"].as_u64())
            .unwrap_or(0);
        if done >= 300 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        assert!(t0.elapsed().as_secs() < 300, "no progress");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "nothing half-written under the output name");
    assert!(dir.path().join("out.jsonl.partial").exists());

    // Without --resume the checkpoint is not thrown away silently.
    let o = voc(&args, None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"));

    let mut resume = args.to_vec();
    resume.push("--resume");
    let o = voc(&resume, None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("resumed after"), "{stderr}");
    assert!(stderr.contains(&format!("{n} rows read, {n} written, 0 errors")), "{stderr}");
    let rows = jsonl(&out);
    assert_eq!(rows.len(), n, "every row exactly once");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["row"], i + 1);
        assert_eq!(r["id"], format!("T{}", i + 1));
        assert_eq!(r["text"], comment(i + 1));
    }
    assert!(!state.exists() && !dir.path().join("out.jsonl.partial").exists());
}

#[test]
fn resume_refuses_a_checkpoint_of_other_options() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, 10);
    let out = dir.path().join("out.jsonl");
    // A checkpoint left by a run with other options.
    std::fs::write(dir.path().join("out.jsonl.partial"), "").unwrap();
    std::fs::write(dir.path().join("out.jsonl.partial.state"), r#"{"version":1,"fingerprint":"x","input":0,"input_rows":0,"rows_read":0,"rows_written":0,"errors":0,"output_bytes":0,"errors_bytes":0}"#).unwrap();
    let err = voc::score_file(&clf(), &ScoreOptions::new([&input]).output(&out).resume(true), |_| {}).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    // --force starts over.
    let sum = voc::score_file(&clf(), &ScoreOptions::new([&input]).output(&out).force(true), |_| {}).unwrap();
    assert_eq!(sum.rows_written, 10);
    // --resume with no checkpoint simply runs.
    let out2 = dir.path().join("out2.jsonl");
    let sum = voc::score_file(&clf(), &ScoreOptions::new([&input]).output(&out2).resume(true), |_| {}).unwrap();
    assert_eq!((sum.rows_written, sum.resumed_rows), (10, 0));
}

#[test]
fn progress_is_reported_per_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, 50);
    let mut seen = Vec::new();
    let opts = ScoreOptions::new([&input]).output(dir.path().join("o.jsonl")).chunk_rows(20);
    voc::score_file(&clf(), &opts, |p| seen.push((p.rows_read, p.bytes_read, p.bytes_total))).unwrap();
    let rows: Vec<u64> = seen.iter().map(|x| x.0).collect();
    assert_eq!(rows, [0, 20, 40, 50]);
    let total = std::fs::metadata(&input).unwrap().len();
    assert_eq!(seen.last().unwrap().2, Some(total));
    assert_eq!(seen.last().unwrap().1, total);
}
