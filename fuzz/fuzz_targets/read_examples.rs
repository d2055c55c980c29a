//! `voc::read_examples` on arbitrary file contents, as JSONL, CSV and TSV,
//! with default and custom options. Reading must return rows or an error
//! naming the file, never panic; rows that come back satisfy the checks the
//! reader documents.
//!
//! Byte 0 picks the extension (`% 3`: jsonl, csv, tsv) and, with bit 2, a
//! restricted tag list and other column names; the rest is the file.

#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use voc::{Error, ReadOptions};

static DIR: LazyLock<PathBuf> = LazyLock::new(|| {
    let d = std::env::temp_dir().join(format!("voc-fuzz-read-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
});

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else { return };
    let ext = ["jsonl", "csv", "tsv"][flags as usize % 3];
    let path = DIR.join(format!("input.{ext}"));
    std::fs::write(&path, body).unwrap();
    let opts = if flags & 4 == 0 {
        ReadOptions::default()
    } else {
        ReadOptions::default()
            .text_column("comment")
            .sentiment_column("mood")
            .tags_column("labels")
            .tags(vec!["product_failure".into(), "communication_gap".into()])
    };
    match voc::read_examples(&path, &opts) {
        Ok(rows) => {
            assert!(!rows.is_empty());
            for r in rows {
                assert!(!r.text.trim().is_empty());
                assert!(r.sentiment.is_some() || r.tags.is_some());
                if let Some(s) = &r.sentiment {
                    assert!(opts.sentiment_classes.contains(s));
                }
                for t in r.tags.iter().flatten() {
                    assert!(!t.trim().is_empty());
                    if let Some(allowed) = &opts.tags {
                        assert!(allowed.contains(t));
                    }
                }
            }
        }
        Err(Error::Data { path: p, .. }) | Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
});
