//! `voc report`: sections, charts, escaping, both scored formats, and the page
//! in a real headless browser when Chromium is installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use voc::{Classifier, FeedbackReport, ReportOptions, ScoreOptions};

fn voc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voc")).args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// examples/feedback.csv plus a hostile row, scored to `name` in `dir`.
fn scored(dir: &Path, name: &str) -> PathBuf {
    let input = dir.join("feedback.csv");
    let mut data = std::fs::read_to_string(crate::root().join("examples/feedback.csv")).unwrap();
    data.push_str(
        "F-9999,2024-05-20,\"<b>web</b>\",east,\"The screen cracked and the app crashed twice: <script>alert('x')</script> & \"\"nothing\"\" works.\"\n",
    );
    std::fs::write(&input, data).unwrap();
    let out = dir.join(name);
    let opts = ScoreOptions::new([&input]).output(&out).id_column("id").keep_columns(["channel", "region", "date"]);
    let sum = voc::score_file(&Classifier::embedded().unwrap(), &opts, |_| {}).unwrap();
    assert_eq!((sum.rows_written, sum.errors), (61, 0));
    out
}

fn chart_count(html: &str) -> usize {
    html.matches("<svg class=\"chart\"").count()
}

#[test]
fn report_has_every_section_and_a_text_summary() {
    let dir = tempfile::tempdir().unwrap();
    let scored = scored(dir.path(), "scored.jsonl");
    let html_path = dir.path().join("report.html");
    let o = voc(&["report", s(&scored), "-o", s(&html_path), "--by", "channel", "--time", "date", "--period", "month"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&html_path).unwrap();
    for id in ["sentiment", "tags", "groups", "trends", "evidence", "examples"] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "section {id}");
    }
    // sentiment + tags + groups + trends + one evidence chart per tag with evidence
    assert!(chart_count(&html) >= 5, "{} charts", chart_count(&html));
    assert!(html.contains("<polyline"), "trend lines");
    for tag in ["product_failure", "communication_gap", "training_need", "process_breakdown"] {
        assert!(html.contains(tag), "{tag}");
    }
    assert!(html.contains("2024-01") && html.contains("2024-05"));
    // Self-contained: no external resource of any kind.
    for needle in ["<link", "src=\"http", "href=\"http", "url(", "@import"] {
        assert!(!html.contains(needle), "{needle}");
    }
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("61 comments in"), "{text}");
    for needle in ["Sentiment", "negative", "Tags", "product_failure", "By channel", "phone", "Over time by month"] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
}

#[test]
fn report_escapes_every_text_from_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let scored = scored(dir.path(), "scored.jsonl");
    let rep =
        FeedbackReport::from_file(&scored, &ReportOptions::default().by("channel").examples_per_tag(100)).unwrap();
    let html = rep.to_html();
    assert!(!html.contains("<script>alert"), "raw script from the data");
    assert!(!html.contains("<b>web</b>"), "raw markup from a group name");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;nothing&quot;"));
    assert!(html.contains("&lt;b&gt;web&lt;/b&gt;"));
    // The only script is the report's own marker.
    assert_eq!(html.matches("<script>").count(), 1);
}

#[test]
fn report_reads_csv_and_jsonl_output_alike() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ReportOptions::default().by("region").time("date").period(voc::Period::Week);
    let a = FeedbackReport::from_file(scored(dir.path(), "s.jsonl"), &opts).unwrap();
    let b = FeedbackReport::from_file(scored(dir.path(), "s.csv"), &opts).unwrap();
    assert_eq!(a.rows(), 61);
    assert_eq!(a.sentiment_counts(), b.sentiment_counts());
    for t in ["product_failure", "communication_gap", "training_need", "process_breakdown"] {
        assert_eq!(a.tag_count(t), b.tag_count(t));
    }
    let (ta, tb) = (a.to_text(), b.to_text());
    assert_eq!(ta.lines().skip(1).collect::<Vec<_>>(), tb.lines().skip(1).collect::<Vec<_>>());
    assert!(ta.contains("Over time by week"));
}

#[test]
fn report_errors_name_the_missing_column() {
    let dir = tempfile::tempdir().unwrap();
    let scored = scored(dir.path(), "scored.jsonl");
    let o = voc(&["report", s(&scored), "-o", s(&dir.path().join("r.html")), "--by", "country"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no column `country`") && err.contains("`channel`"), "{err}");
    assert!(!dir.path().join("r.html").exists());
    // Not a scored file.
    let raw = dir.path().join("feedback.csv");
    let err = FeedbackReport::from_file(&raw, &ReportOptions::default()).unwrap_err().to_string();
    assert!(err.contains("not an output of voc score"), "{err}");
}

/// The report in headless Chromium: it loads with no console error, its
/// inline script runs (it marks the body with the number of charts), and the
/// chart SVG is in the rendered DOM. Skipped, with a note, without Chromium.
#[test]
fn report_renders_in_headless_chromium() {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!("note: /usr/bin/chromium not found; browser test skipped (apt-get install chromium)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scored = scored(dir.path(), "scored.jsonl");
    let html_path = dir.path().join("report.html");
    let o = voc(&["report", s(&scored), "-o", s(&html_path), "--by", "channel", "--time", "date"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let charts = chart_count(&std::fs::read_to_string(&html_path).unwrap());
    let profile = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let base = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ];
    let url = format!("file://{}", html_path.display());
    let run = |extra: &[String]| {
        Command::new(chromium)
            .args(base)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let dom = run(&["--dump-dom".to_string()]);
    let stdout = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "chromium failed: {stderr}");
    // Chromium logs every console message as `...:CONSOLE:...` or
    // `CONSOLE(...)` (the report logs nothing) and exceptions as `Uncaught`.
    for bad in ["Uncaught", ":CONSOLE", "CONSOLE(", "Refused to"] {
        assert!(!stderr.contains(bad), "console error ({bad}): {stderr}");
    }
    assert!(stdout.contains(&format!("data-charts=\"{charts}\"")), "the page script did not run: {stdout:.2000}");
    assert!(stdout.contains("<svg class=\"chart\"") && stdout.contains("<rect class=\"bar\""));
    assert!(stdout.contains("<polyline"));

    let png = run(&[format!("--screenshot={}", shot.display()), "--window-size=1200,2400".to_string()]);
    assert!(png.status.success(), "{}", String::from_utf8_lossy(&png.stderr));
    let bytes = std::fs::read(&shot).unwrap();
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "screenshot of {} bytes", bytes.len());
}
