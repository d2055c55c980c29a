//! The comments used by the benchmarks and `examples/latency.rs`: texts of
//! the default model's training files (whitespace collapsed), cut or padded
//! by repetition to about 200 bytes. Included with `#[path]` by both, so the
//! two measure the same set.

/// Texts of the default model's training files, cut (on a char boundary) or
/// padded by repetition to about 200 bytes, interleaving the sources.
pub fn comments(n: usize) -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default/training");
    let mut out = Vec::new();
    for f in ["labeled.jsonl", "extra-labeled.jsonl", "synthetic.jsonl"] {
        let s = std::fs::read_to_string(root.join(f)).expect("training file");
        for line in s.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("json line");
            if let Some(t) = v["text"].as_str() {
                out.push(about_200_bytes(t));
            }
        }
    }
    let step = 7919 % out.len();
    (0..n).map(|i| out[(i * step) % out.len()].clone()).collect()
}

fn about_200_bytes(t: &str) -> String {
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s = t.clone();
    while s.len() < 180 {
        s.push(' ');
        s.push_str(&t);
    }
    let mut end = 200.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if let Some(sp) = s[..end].rfind(' ').filter(|&sp| sp > 160) {
        end = sp;
    }
    s.truncate(end);
    s
}
