//! Reliability (issue 6): every bad input gets a defined answer, one model
//! is safe to share across threads, input size is bounded, and a corrupted
//! model file is named. `docs/bad-inputs.md` lists each bad input, what voc
//! does, and the test that proves it (here, or in `api`, `loading`, `data`,
//! `cli`); `FUZZING.md` records the fuzzing of the same surfaces.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use voc::{Classifier, Error, Prediction, ReadOptions};

use crate::{copy_model, fixtures, root, tiny};

// ---------------------------------------------------------------- helpers

static EMBEDDED: LazyLock<Classifier> = LazyLock::new(|| Classifier::embedded().unwrap());
static TINY: LazyLock<Classifier> = LazyLock::new(tiny);

/// The checks every prediction must pass, whatever the input: probabilities
/// finite and in [0, 1], sentiment probabilities summing to 1, every span a
/// valid char range into `text` holding the text it claims and lying inside
/// the analyzed prefix (the first `max_input_bytes`, on a char boundary).
fn check_prediction(clf: &Classifier, text: &str, p: &Prediction) {
    let probs = &p.sentiment.probabilities;
    assert_eq!(probs.len(), clf.labels().sentiment().len());
    let sum: f32 = probs.values().sum();
    assert!((sum - 1.0).abs() < 1e-4, "sentiment probabilities sum to {sum}");
    for (k, v) in probs.iter().chain(&p.tag_probabilities) {
        assert!(v.is_finite() && (0.0..=1.0).contains(v), "P({k}) = {v}");
    }
    assert!(p.sentiment.score.is_finite() && (-1.0..=1.0).contains(&p.sentiment.score));
    assert_eq!(p.tag_probabilities.len(), clf.labels().tags().len());
    for t in &p.tags {
        assert!(t.probability >= clf.labels().threshold(&t.name).unwrap());
    }
    assert_eq!(p.truncated, text.len() > clf.max_input_bytes());
    let mut cut = text.len().min(clf.max_input_bytes());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    // Only the analyzed prefix can hold spans.
    let chars: Vec<char> = text[..cut].chars().collect();
    let check = |start: usize, end: usize, claimed: &str| {
        assert!(start < end && end <= chars.len(), "span {start}..{end} outside the analyzed 0..{}", chars.len());
        assert_eq!(chars[start..end].iter().collect::<String>(), claimed);
    };
    let evidence = std::iter::once(&p.sentiment.evidence).chain(p.tags.iter().map(|t| &t.evidence));
    for e in evidence {
        for s in e.sentences.iter().chain(&e.words) {
            check(s.start, s.end, &s.text);
            assert!(s.weight.is_finite());
        }
    }
    for s in &p.sentences {
        check(s.start, s.end, &s.text);
        assert!(s.sentiment_score.is_finite());
        assert!(s.tag_probabilities.values().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
    }
}

/// Run the `voc` binary from the repository root.
fn voc(args: &[&str], stdin: &[u8]) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_voc")).args(args), stdin)
}

fn run(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child =
        cmd.current_dir(root()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    // The child may exit before reading everything (an error): ignore EPIPE.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(o.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn data_file(dir: &Path, name: &str, content: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// Whether this process can read a file whose mode is 000 (root can).
fn permissions_are_bypassed() -> bool {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let p = data_file(d.path(), "probe", b"x");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::read(&p).is_ok()
}

/// Files in `dir` (names), sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

// ------------------------------------------------------- texts to classify

/// Row "1 MB text": analyzed up to the limit, `truncated`, spans inside it.
#[test]
fn one_megabyte_text_is_truncated_within_the_limit() {
    let clf = Classifier::embedded().unwrap();
    let text = "The parcel arrived late and the box was crushed. ".repeat(21_400);
    assert!(text.len() >= 1 << 20);
    let p = clf.classify(&text).unwrap();
    assert!(p.truncated);
    // ASCII: the limit in bytes is also the limit in chars.
    assert!(p.sentences.iter().all(|s| s.end <= voc::DEFAULT_MAX_INPUT_BYTES));
    assert!(p.sentences.len() > 100);
    check_prediction(&clf, &text, &p);
}

/// Row "50 MB text": the same bounded work as its analyzed prefix (the rest
/// is never tokenized), cut on a char boundary inside multi-byte text.
#[test]
fn fifty_megabyte_text_costs_no_more_than_its_prefix() {
    let clf = Classifier::embedded().unwrap();
    let unit = "Ça a cassé au bout d'un jour 😡. 这个产品坏了。 The refund never came! ";
    let text = unit.repeat(50 * (1 << 20) / unit.len() + 1);
    assert!(text.len() >= 50 << 20);
    let p = clf.classify(&text).unwrap();
    assert!(p.truncated);
    check_prediction(&clf, &text, &p);
    let mut cut = voc::DEFAULT_MAX_INPUT_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let prefix = &text[..cut];
    let last_end = p.sentences.last().unwrap().end;
    assert!(last_end <= prefix.chars().count());
    // Same prediction as the analyzed prefix alone: nothing beyond the limit
    // was looked at, so time and memory do not grow with the input.
    let mut q = clf.classify(prefix).unwrap();
    assert!(!q.truncated);
    q.truncated = true;
    assert_eq!(p, q);
}

/// Row "10,000 sentences": each classified on its own when the limit allows
/// (by default a long text is truncated: `api::long_single_token_and_many_sentences`).
#[test]
fn ten_thousand_sentences_each_classified() {
    let parts = ["The app crashed again.", "Great staff!", "Where is my refund?", "Nobody called me back."];
    let text = (0..10_000).map(|i| parts[i % parts.len()]).collect::<Vec<_>>().join(" ");
    let clf = Classifier::embedded().unwrap().with_max_input_bytes(text.len()).unwrap();
    let p = clf.classify(&text).unwrap();
    assert!(!p.truncated);
    assert_eq!(p.sentences.len(), 10_000);
    assert_eq!(p.sentences[9_999].text, parts[9_999 % parts.len()]);
    check_prediction(&clf, &text, &p);
}

/// Row "NUL and control characters": classified, offsets still chars.
#[test]
fn nul_and_control_characters() {
    let texts = [
        "\0",
        "\0\0\0 broken \0 screen \0",
        "tab\tbell\x07 escape\x1b[31m red \x7f del",
        "C1 \u{80}\u{85}\u{9f} controls. Zero width\u{200b}space, BOM \u{feff}, LRM \u{200e}, RLO \u{202e}reversed.",
        "\r\n\r\n\x0b\x0c",
    ];
    for clf in [tiny(), Classifier::embedded().unwrap()] {
        for t in texts {
            let p = clf.classify(t).unwrap();
            check_prediction(&clf, t, &p);
        }
    }
    // A NUL inside a stdin line stays in that line: one JSON line per line.
    let out = voc(&["classify"], b"the \0 app crashed\n\0\n\x01\x02\x03\nfine\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_lines(&out).len(), 4);
}

/// Rows "mixed scripts and emoji", "right-to-left text": offsets in chars.
#[test]
fn mixed_scripts_emoji_and_right_to_left() {
    let texts = [
        "שלום. ההזמנה לא הגיעה! مرحبا، الطلب لم يصل بعد.",
        "The \u{202b}عربي\u{202c} agent was rude. \u{2067}שלום\u{2069} ok?",
        "Ça ne marche pas. 这个产品坏了。 Это ужасно! 😡😡 ครับ 👍🏽 नमस्ते",
        "👩‍👩‍👧 family, 🇫🇷 flag, é (e + combining accent), ﬁ ligature, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢. Broken again!",
    ];
    for clf in [tiny(), Classifier::embedded().unwrap()] {
        for t in texts {
            let p = clf.classify(t).unwrap();
            check_prediction(&clf, t, &p);
            assert!(p.sentences.len() >= 2, "{t}: {:?}", p.sentences);
        }
    }
}

/// Row "extremely long single token": no whitespace to split on.
#[test]
fn extremely_long_single_token() {
    let clf = Classifier::embedded().unwrap();
    for t in ["a".repeat(1 << 20), "😡".repeat(100_000), "é".repeat(voc::DEFAULT_MAX_INPUT_BYTES / 2)] {
        let p = clf.classify(&t).unwrap();
        check_prediction(&clf, &t, &p);
    }
    // Exactly at the limit: analyzed whole, not truncated.
    let t = "x".repeat(voc::DEFAULT_MAX_INPUT_BYTES);
    assert!(!clf.classify(&t).unwrap().truncated);
}

/// Row "1 MB text" through `voc classify` stdin: a line of megabytes (cut by
/// the reader inside a 4-byte character) is answered `truncated`, in order,
/// and only about the input limit of it is held in memory.
#[test]
fn huge_stdin_line_is_truncated_in_order() {
    let mut input = b"short one\n".to_vec();
    input.extend_from_slice(format!("a{}\n", "😡".repeat(1 << 20)).as_bytes()); // 4 MB
    input.extend_from_slice(format!("{}\r\n", "The screen broke. ".repeat(60_000)).as_bytes());
    input.extend_from_slice(b"last \xff line"); // no final newline, invalid UTF-8
    let out = voc(&["classify"], &input);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json_lines(&out);
    assert_eq!(v.len(), 4);
    assert_eq!(v[0]["truncated"], false);
    assert_eq!(v[1]["truncated"], true);
    assert_eq!(v[2]["truncated"], true);
    assert_eq!(v[3]["line"], 4);
    let p: Prediction = serde_json::from_value(v[2].clone()).unwrap();
    assert!(p.sentences.iter().all(|s| s.end <= voc::DEFAULT_MAX_INPUT_BYTES));
}

// ------------------------------------------------------------ concurrency

/// Comment `i` of a varied, deterministic stream: 1 to 4 sentences from
/// several registers and scripts, with numbers, emoji, control characters,
/// empty and whitespace-only comments and a few over the input limit.
fn comment(i: usize) -> String {
    const OPEN: [&str; 8] = ["", "Honestly, ", "Order #", "UPDATE: ", "@support ", "Well... ", "Ça alors, ", "💢 "];
    const BODY: [&str; 12] = [
        "the app crashed twice",
        "the agent who helped me was lovely",
        "I was charged twice and nobody answers the phone",
        "thanks for the quick refund, great service",
        "does the premium plan include international calls",
        "my bag went to Denver and I went to Boston",
        "the staff clearly had no training on the new system",
        "the charger stopped working after two days",
        "这个产品坏了",
        "الطلب لم يصل بعد",
        "the form kept rejecting my address\u{0}",
        "🔥🔥🔥",
    ];
    const END: [&str; 5] = [".", "!", "?", "!!! 😡", ""];
    let mut x = (i as u64).wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |n: usize| {
        x ^= x >> 29;
        x = x.wrapping_mul(0xbf58476d1ce4e5b9);
        (x >> 32) as usize % n
    };
    match i % 997 {
        0 => return String::new(),
        1 => return " \t\n ".into(),
        2 if i % 5 == 2 => return "The screen broke. ".repeat(2_000 + i % 300), // over the limit
        _ => {}
    }
    let mut s = String::new();
    for k in 0..1 + next(4) {
        if k > 0 {
            s.push(' ');
        }
        s.push_str(OPEN[next(OPEN.len())]);
        if s.ends_with('#') {
            s.push_str(&format!("{} ", i % 100_000));
        }
        s.push_str(BODY[next(BODY.len())]);
        s.push_str(END[next(END.len())]);
    }
    s
}

fn digest(p: &Prediction) -> u64 {
    // serde_json writes f32 exactly (shortest round-trip form): equal JSON
    // means equal predictions.
    let mut h = DefaultHasher::new();
    serde_json::to_string(p).unwrap().hash(&mut h);
    h.finish()
}

/// One `Classifier` (by reference: the very same instance) shared by 8
/// threads classifying 100,000 comments (10,000 in debug builds, where the
/// crate itself is barely optimized) gives results identical to a sequential
/// run.
///
/// No lock is held across inference, by construction: a `Classifier` is an
/// `Arc` of immutable model data, `classify` takes `&self` and keeps its
/// scratch space (tokens, activations) on the calling thread's stack, and the
/// type is `Send + Sync` (checked at compile time below), so the threads
/// never wait on each other; the test fails if they disagree in any bit.
#[test]
fn eight_threads_share_one_classifier_and_match_sequential() {
    // Compile-time proofs: shareable across threads, and inference is `&self`.
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Classifier>();
    let _classify: fn(&Classifier, &str) -> voc::Result<Prediction> = Classifier::classify;

    let n = if cfg!(debug_assertions) { 10_000 } else { 100_000 };
    let clf = Classifier::embedded().unwrap();
    let texts: Vec<String> = (0..n).map(comment).collect();
    let distinct: std::collections::HashSet<&String> = texts.iter().collect();
    assert!(distinct.len() > n / 2, "the stream is varied: {} distinct", distinct.len());

    let sequential: Vec<u64> = texts.iter().map(|t| digest(&clf.classify(t).unwrap())).collect();

    // Threads take the next unclaimed comment, so their order interleaves.
    let next = AtomicUsize::new(0);
    let mismatches = AtomicUsize::new(0);
    let per_thread: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (clf, texts, sequential, next, mismatches) = (&clf, &texts, &sequential, &next, &mismatches);
                s.spawn(move || {
                    let mut done = 0;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= texts.len() {
                            return done;
                        }
                        let p = clf.classify(&texts[i]).unwrap();
                        if digest(&p) != sequential[i] {
                            mismatches.fetch_add(1, Ordering::Relaxed);
                            eprintln!("comment {i} differs: {:?}", texts[i]);
                        }
                        done += 1;
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(per_thread.iter().sum::<usize>(), n);
    assert_eq!(mismatches.load(Ordering::Relaxed), 0);
    // Spot-check full equality too (not only the digest).
    for i in (0..n).step_by(997) {
        let a = clf.classify(&texts[i]).unwrap();
        let b = std::thread::scope(|s| s.spawn(|| clf.classify(&texts[i]).unwrap()).join().unwrap());
        assert_eq!(a, b);
    }
}

// ------------------------------------------------------------- data files

/// Row "CSV with broken quoting": an unclosed quote swallows the rest of the
/// file into one field, so the record has the wrong number of fields: an
/// error naming the file and line, nothing returned.
#[test]
fn csv_with_broken_quoting() {
    let d = tempfile::tempdir().unwrap();
    for content in [
        &b"text,sentiment\nfine,positive\n\"open quote,negative\nlate,negative\n"[..],
        b"text,sentiment\nfine,positive\n\"a\",\"b\",\"c\"\n",
        b"text,sentiment\n\"unterminated\n",
    ] {
        let p = data_file(d.path(), "q.csv", content);
        match voc::read_examples(&p, &ReadOptions::default()).unwrap_err() {
            Error::Data { path, line, field, message } => {
                assert_eq!(path, p);
                assert!(line >= 2, "{line}");
                assert_eq!(field, "record", "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Row "a JSONL line that is not an object": every JSON scalar and array.
#[test]
fn jsonl_line_that_is_not_an_object() {
    let d = tempfile::tempdir().unwrap();
    for bad in ["3", "\"text\"", "null", "true", "[{\"text\": \"x\", \"sentiment\": \"negative\"}]"] {
        let p = data_file(
            d.path(),
            "x.jsonl",
            format!("{{\"text\": \"ok\", \"sentiment\": \"neutral\"}}\n{bad}\n").as_bytes(),
        );
        match voc::read_examples(&p, &ReadOptions::default()).unwrap_err() {
            Error::Data { line, field, message, .. } => {
                assert_eq!((line, field.as_str()), (2, "line"), "{bad}");
                assert!(message.contains("not a JSON object"), "{bad}: {message}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

/// Row "empty file" for every format (JSONL: `data::empty_file_is_an_error`),
/// and files with a header or blank lines but no row.
#[test]
fn empty_files_in_every_format() {
    let d = tempfile::tempdir().unwrap();
    for (name, content, field) in [
        ("e.csv", &b""[..], "text"),
        ("e.tsv", b"", "text"),
        ("h.csv", b"text,sentiment\n", "file"),
        ("b.jsonl", b"\n\n  \n", "file"),
    ] {
        let p = data_file(d.path(), name, content);
        match voc::read_examples(&p, &ReadOptions::default()).unwrap_err() {
            Error::Data { field: f, .. } => assert_eq!(f, field, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // A folder where a file is expected: an I/O error with its path.
    let err = voc::read_examples(d.path(), &ReadOptions::default()).unwrap_err();
    assert!(matches!(&err, Error::Io { path, .. } if path == d.path()), "{err:?}");
    // The CLI: exit 2 with the file named.
    let p = d.path().join("e.csv");
    let out = voc(&["eval", "--data", p.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("e.csv"), "{}", stderr(&out));
}

/// Row "invalid UTF-8 bytes" in data files through the CLI: exit 2, file and
/// line named (the readers: `data::bad_jsonl_rows`, `data::bad_csv_rows`).
#[test]
fn invalid_utf8_data_file_via_cli() {
    let d = tempfile::tempdir().unwrap();
    let p = data_file(
        d.path(),
        "bad.jsonl",
        b"{\"text\": \"fine\", \"sentiment\": \"positive\"}\n{\"text\": \"caf\xe9\", \"sentiment\": \"negative\"}\n",
    );
    let out = voc(&["eval", "--data", p.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.jsonl:2: line: invalid UTF-8"), "{}", stderr(&out));
}

/// Row "permission denied": an I/O error naming the file, exit 2. Tests run
/// as root here, and root reads a mode-000 file; then the CLI is run as the
/// unprivileged user `nobody` (uid 65534), which is denied for real. If that
/// user cannot be switched to either, the test prints a note and skips.
#[test]
fn permission_denied_names_the_file() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = data_file(d.path(), "secret.jsonl", b"{\"text\": \"x\", \"sentiment\": \"negative\"}\n");
    let model = d.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for f in ["config.json", "labels.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(fixtures().join("tiny").join(f), model.join(f)).unwrap();
    }
    std::fs::set_permissions(&model, std::fs::Permissions::from_mode(0o755)).unwrap();
    let locked = model.join("labels.json");
    for p in [&data, &locked] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o000)).unwrap();
    }

    if !permissions_are_bypassed() {
        // Not root: the library itself is denied.
        let err = voc::read_examples(&data, &ReadOptions::default()).unwrap_err();
        assert!(
            matches!(&err, Error::Io { path, source } if path == &data && source.kind() == std::io::ErrorKind::PermissionDenied),
            "{err:?}"
        );
        let err = Classifier::from_dir(&model).unwrap_err();
        assert!(matches!(&err, Error::Io { path, .. } if path == &locked), "{err:?}");
        return;
    }
    let exe = env!("CARGO_BIN_EXE_voc");
    let as_nobody = |args: &[&str]| -> Option<Output> {
        let mut cmd = Command::new(exe);
        cmd.args(args).uid(65534).gid(65534).current_dir("/");
        match cmd.output() {
            Ok(o) => Some(o),
            Err(e) => {
                eprintln!("note: cannot run voc as uid 65534 ({e}); permission-denied check skipped");
                None
            }
        }
    };
    let Some(out) = as_nobody(&["eval", "--data", data.to_str().unwrap()]) else { return };
    if out.status.code() == Some(126) || stderr(&out).contains("ermission denied") && !stderr(&out).contains("secret") {
        eprintln!("note: uid 65534 cannot run the voc binary here; permission-denied check skipped");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let msg = stderr(&out);
    assert!(msg.contains("secret.jsonl") && msg.contains("Permission denied"), "{msg}");
    let out = as_nobody(&["classify", "--model", model.to_str().unwrap(), "late again"]).unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let msg = stderr(&out);
    assert!(msg.contains("labels.json") && msg.contains("Permission denied"), "{msg}");
}

// ----------------------------------------------------------------- output

/// Row "output disk full (simulated)", library: `Classifier::save` where the
/// folder cannot be created (under `/dev/full`, a device, not a folder) is a
/// clean I/O error naming the path.
#[test]
fn save_where_the_folder_cannot_be_created() {
    let clf = tiny();
    let err = clf.save("/dev/full/model", "# card", false).unwrap_err();
    assert!(matches!(&err, Error::Io { path, .. } if path.starts_with("/dev/full")), "{err:?}");
    // Under a regular file: same, and nothing is left beside it.
    let d = tempfile::tempdir().unwrap();
    let file = data_file(d.path(), "plain-file", b"");
    assert!(matches!(clf.save(file.join("model"), "", false).unwrap_err(), Error::Io { .. }));
    assert_eq!(names(d.path()), ["plain-file"]);
}

/// Row "output disk full (simulated)", CLI: `voc train` whose model write
/// fails half-way (a file size limit: `ulimit -f`, with SIGXFSZ ignored so
/// the write returns EFBIG, as a full disk returns ENOSPC) exits 2 with the
/// file named, and leaves neither the output folder nor its temporary folder.
/// `voc classify` writing to `/dev/full` (ENOSPC) exits 2 too, no panic.
#[test]
fn disk_full_while_writing_leaves_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out_dir = d.path().join("m");
    let train = format!(
        "trap '' XFSZ; ulimit -f 4; exec \"$0\" train --data tests/fixtures/tiny-train.jsonl \
         --tokenizer tests/fixtures/tiny-tokenizer.json --embeddings tests/fixtures/tiny-embeddings.safetensors \
         --epochs 1 --hidden-dim 8 --out {}",
        out_dir.display()
    );
    let out = run(Command::new("/bin/sh").arg("-c").arg(&train).arg(env!("CARGO_BIN_EXE_voc")), b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let msg = stderr(&out);
    assert!(msg.contains("model.safetensors") && msg.contains("too large"), "{msg}");
    assert!(!msg.contains("panicked"), "{msg}");
    assert!(names(d.path()).is_empty(), "left behind: {:?}", names(d.path()));

    // An output folder that cannot be created.
    let out = voc(
        &[
            "train",
            "--data",
            "tests/fixtures/tiny-train.jsonl",
            "--tokenizer",
            "tests/fixtures/tiny-tokenizer.json",
            "--embeddings",
            "tests/fixtures/tiny-embeddings.safetensors",
            "--epochs",
            "1",
            "--out",
            "/dev/full/m",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("/dev/full"), "{}", stderr(&out));

    // stdout on a full device: argument, stdin and eval paths.
    let full = || Stdio::from(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap());
    for args in [
        &["classify", "The screen broke."][..],
        &["classify"],
        &["eval", "--model", "tests/fixtures/tiny", "--data", "tests/fixtures/tiny-train.jsonl"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_voc"))
            .args(args)
            .current_dir(root())
            .stdin(Stdio::piped())
            .stdout(full())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(b"one\ntwo\n");
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("No space left on device"), "{args:?}: {}", stderr(&out));
    }
}

// ------------------------------------------------------------------ models

/// Model integrity: one flipped byte in any checksummed file of a model
/// folder is reported with that file's name.
#[test]
fn one_flipped_byte_names_the_file() {
    for f in ["labels.json", "tokenizer.json", "model.safetensors"] {
        let d = copy_model(&fixtures().join("tiny"));
        let p = d.path().join(f);
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        std::fs::write(&p, &bytes).unwrap();
        match Classifier::from_dir(d.path()).unwrap_err() {
            Error::Model { file, message, .. } => {
                assert_eq!(file, f);
                assert!(message.contains("checksum mismatch"), "{f}: {message}");
            }
            other => panic!("{f}: {other:?}"),
        }
        // The same through the CLI.
        let out = voc(&["classify", "--model", d.path().to_str().unwrap(), "x"], b"");
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains(f), "{}", stderr(&out));
    }
}

/// Set every value of tensor `name` in a safetensors file (F32) to `value`.
fn set_tensor(bytes: &mut [u8], name: &str, value: f32) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let off = &header[name]["data_offsets"];
    let (a, b) = (off[0].as_u64().unwrap() as usize, off[1].as_u64().unwrap() as usize);
    for c in bytes[8 + n + a..8 + n + b].chunks_exact_mut(4) {
        c.copy_from_slice(&value.to_le_bytes());
    }
}

/// Fuzzing regression (load_model, FUZZING.md): finite but huge weights made
/// logits infinite and the sentiment probabilities NaN. Such a file is now
/// refused at load, naming `model.safetensors`; large but sane weights
/// still load and give finite probabilities.
#[test]
fn weights_that_would_overflow_are_refused_at_load() {
    for (tensor, value) in [
        ("hidden.bias", 1e30f32),
        ("sentiment.weight", 3e38),
        ("tags.bias", -1e21),
        ("embedding.token_weight", 1e25),
        ("embedding.weight", 1e19),
    ] {
        let d = copy_model(&fixtures().join("tiny"));
        let config = d.path().join("config.json");
        let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
        cfg.as_object_mut().unwrap().remove("sha256");
        std::fs::write(&config, serde_json::to_vec(&cfg).unwrap()).unwrap();
        let w = d.path().join("model.safetensors");
        let mut bytes = std::fs::read(&w).unwrap();
        set_tensor(&mut bytes, tensor, value);
        std::fs::write(&w, &bytes).unwrap();
        match Classifier::from_dir(d.path()).unwrap_err() {
            Error::Model { file, message, .. } => {
                assert_eq!(file, "model.safetensors", "{tensor}");
                assert!(message.contains("too large"), "{tensor}: {message}");
            }
            other => panic!("{tensor}: {other:?}"),
        }
        set_tensor(&mut bytes, tensor, 1e3);
        std::fs::write(&w, &bytes).unwrap();
        let clf = Classifier::from_dir(d.path()).unwrap();
        for t in ["the agent was rude", "", "great refund. broken app!"] {
            check_prediction(&clf, t, &clf.classify(t).unwrap());
        }
    }
}

/// Fuzzing regression (load_model, FUZZING.md): a `tokenizer.json` whose
/// unknown-token name is not in its vocabulary parsed, then failed on the
/// first comment with an unknown word. It is now refused at load, naming
/// `tokenizer.json`.
#[test]
fn tokenizer_that_cannot_tokenize_is_refused_at_load() {
    let d = copy_model(&fixtures().join("tiny"));
    let config = d.path().join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    cfg.as_object_mut().unwrap().remove("sha256");
    std::fs::write(&config, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let t = d.path().join("tokenizer.json");
    let text = std::fs::read_to_string(&t).unwrap();
    assert!(text.contains("\"[UNK]\": 0"));
    std::fs::write(&t, text.replace("\"[UNK]\": 0", "\"[#NK]\": 0")).unwrap();
    match Classifier::from_dir(d.path()).unwrap_err() {
        Error::Model { file, message, .. } => {
            assert_eq!(file, "tokenizer.json");
            assert!(message.contains("cannot tokenize"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

// --------------------------------------------------------------- proptest

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        // Words, punctuation, whitespace, control characters, emoji and RTL.
        proptest::collection::vec(
            prop_oneof![
                Just("broken".to_string()),
                Just("rude agent".to_string()),
                Just("refund".to_string()),
                Just(". ".to_string()),
                Just("! ".to_string()),
                Just("?".to_string()),
                Just(" ".to_string()),
                Just("\n".to_string()),
                Just("\0".to_string()),
                Just("😡".to_string()),
                Just("שלום".to_string()),
                Just("é".to_string()),
                "\\PC{0,12}",
            ],
            0..60,
        )
        .prop_map(|v| v.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// `classify` never fails or panics on any string; spans are valid char
    /// ranges; probabilities are finite, in [0, 1], and sum to 1.
    #[test]
    fn classify_any_string(text in any_text(), limit in prop_oneof![Just(None), (1usize..64).prop_map(Some)]) {
        for base in [&*TINY, &*EMBEDDED] {
            let clf = match limit {
                Some(l) => base.clone().with_max_input_bytes(l).unwrap(),
                None => base.clone(),
            };
            let p = clf.classify(&text).unwrap();
            check_prediction(&clf, &text, &p);
        }
    }

    /// The readers answer any file content with rows or an error naming the
    /// file, never a panic.
    #[test]
    fn read_examples_any_bytes(content in proptest::collection::vec(any::<u8>(), 0..400), ext in 0usize..3) {
        let d = tempfile::tempdir().unwrap();
        let p = data_file(d.path(), ["x.jsonl", "x.csv", "x.tsv"][ext], &content);
        match voc::read_examples(&p, &ReadOptions::default()) {
            Ok(rows) => prop_assert!(!rows.is_empty()),
            Err(Error::Data { path, .. }) | Err(Error::Io { path, .. }) => prop_assert_eq!(path, p),
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }
}
