//! `Classifier::classify` on arbitrary text, with the tiny fixture model and
//! the embedded default model, at the default input limit and at small ones
//! (to cut inside multi-byte characters). Every prediction is checked against
//! the documented invariants.
//!
//! Input: byte 0 picks the model (bit 0) and a small limit (bit 1, size from
//! byte 1); the rest is the text (invalid UTF-8 replaced by U+FFFD).

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use voc::{Classifier, ModelBytes};

#[path = "common.rs"]
mod common;

static TINY: LazyLock<Classifier> = LazyLock::new(|| {
    Classifier::from_bytes(ModelBytes {
        config: common::TINY_CONFIG,
        labels: common::TINY_LABELS,
        tokenizer: common::TINY_TOKENIZER,
        weights: common::TINY_WEIGHTS,
    })
    .expect("tiny fixture loads")
});
static DEFAULT: LazyLock<Classifier> = LazyLock::new(|| Classifier::embedded().expect("embedded model loads"));

fuzz_target!(|data: &[u8]| {
    let (flags, limit, rest) = match data {
        [f, l, rest @ ..] => (*f, *l, rest),
        _ => return,
    };
    let text = String::from_utf8_lossy(rest);
    let base: &Classifier = if flags & 1 == 0 { &TINY } else { &DEFAULT };
    let small;
    let clf = if flags & 2 == 0 {
        base
    } else {
        small = base.clone().with_max_input_bytes(1 + limit as usize % 64).unwrap();
        &small
    };
    let p = clf.classify(&text).expect("classify never fails on a string");
    common::check_prediction(clf, &text, &p);
});
