//! `Classifier::from_bytes` on arbitrary bytes. Loading must return `Ok` or
//! an error, never panic, hang or allocate without bound; a model that loads
//! must classify.
//!
//! Byte 0 picks what is fuzzed; the other files are the tiny fixture's:
//! - 0: all four files, from the rest split by three little-endian u16
//!   lengths (config, labels, tokenizer; the weights take what is left);
//! - 1: `config.json` (checksums in it apply: mostly the checksum path);
//! - 2, 3, 4: `labels.json`, `tokenizer.json`, `model.safetensors`, with the
//!   fixture's config whose checksums are recomputed for the fuzzed file, so
//!   the parser behind the checksum check is reached;
//! - 5: `labels.json`, with the checksums removed from the config (the
//!   checksum-disabled path).

#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::Digest;
use voc::{Classifier, ModelBytes};

#[path = "common.rs"]
mod common;
use common::{TINY_CONFIG, TINY_LABELS, TINY_TOKENIZER, TINY_WEIGHTS};

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The fixture's config with `file`'s checksum set for `bytes` (or all
/// checksums removed when `file` is `None`).
fn config_for(file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(TINY_CONFIG).unwrap();
    match file {
        Some((name, bytes)) => v["sha256"][name] = sha256_hex(bytes).into(),
        None => {
            v.as_object_mut().unwrap().remove("sha256");
        }
    }
    serde_json::to_vec(&v).unwrap()
}

fn split<'a>(data: &'a [u8], lens: &mut &'a [u8]) -> &'a [u8] {
    let n = match lens {
        [a, b, rest @ ..] => {
            let n = u16::from_le_bytes([*a, *b]) as usize;
            *lens = rest;
            n
        }
        _ => 0,
    };
    &data[..n.min(data.len())]
}

fn try_load(b: ModelBytes<'_>) {
    if let Ok(clf) = Classifier::from_bytes(b) {
        for text in ["", "the agent was rude and the app crashed. great refund!", "x\u{0}y é 😀"] {
            let p = clf.classify(text).expect("a loaded model classifies");
            common::check_prediction(&clf, text, &p);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 6 {
        0 => {
            let (mut lens, mut body) = rest.split_at(rest.len().min(6));
            let config = split(body, &mut lens);
            body = &body[config.len()..];
            let labels = split(body, &mut lens);
            body = &body[labels.len()..];
            let tokenizer = split(body, &mut lens);
            let weights = &body[tokenizer.len()..];
            try_load(ModelBytes { config, labels, tokenizer, weights });
        }
        1 => {
            try_load(ModelBytes { config: rest, labels: TINY_LABELS, tokenizer: TINY_TOKENIZER, weights: TINY_WEIGHTS })
        }
        2 => {
            let config = config_for(Some(("labels.json", rest)));
            try_load(ModelBytes { config: &config, labels: rest, tokenizer: TINY_TOKENIZER, weights: TINY_WEIGHTS });
        }
        3 => {
            let config = config_for(Some(("tokenizer.json", rest)));
            try_load(ModelBytes { config: &config, labels: TINY_LABELS, tokenizer: rest, weights: TINY_WEIGHTS });
        }
        4 => {
            let config = config_for(Some(("model.safetensors", rest)));
            try_load(ModelBytes { config: &config, labels: TINY_LABELS, tokenizer: TINY_TOKENIZER, weights: rest });
        }
        _ => {
            let config = config_for(None);
            try_load(ModelBytes { config: &config, labels: rest, tokenizer: TINY_TOKENIZER, weights: TINY_WEIGHTS });
        }
    }
});
