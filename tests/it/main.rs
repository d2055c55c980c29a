//! voc's integration tests: one test binary, so candle is linked once.

#![allow(clippy::needless_range_loop)]

mod api;
mod batch;
mod cli;
mod data;
mod loading;
mod reliability;
mod report;
mod tokenize;
mod training;

use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

/// The tiny fixture model (a word-level tokenizer, 16-dim table).
pub fn tiny() -> voc::Classifier {
    voc::Classifier::from_dir(fixtures().join("tiny")).expect("tiny fixture model loads")
}

/// A fresh copy of a model folder in a temporary directory.
pub fn copy_model(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "labels.json", "tokenizer.json", "model.safetensors", "README.md"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    dir
}

/// The gold dev set, when `../shared/gold/` is beside the project.
pub fn gold_dev() -> Option<PathBuf> {
    let p = root().join("../shared/gold/dev.jsonl");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("note: ../shared/gold/dev.jsonl not found; gold-set checks skipped");
        None
    }
}

/// Run the `voc` binary from the project root, feeding `stdin`.
pub fn run_voc(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_voc"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or(b"")).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}
