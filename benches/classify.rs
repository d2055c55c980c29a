//! voc's speed: tokenization alone, `classify` on one comment,
//! `classify_batch` at batch sizes 1, 32, 256 and 4096 on one thread and on
//! all cores, and the load time of the embedded model.
//!
//! ```sh
//! cargo bench                      # everything, about 2 minutes
//! cargo bench -- classify_batch    # one group
//! ```
//!
//! Comments: texts of `models/default/training/*.jsonl` (whitespace
//! collapsed), cut or padded by repetition to about 200 bytes; the same set
//! as `examples/latency.rs`. Figures and the machine: `BENCHMARKS.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Texts of the default model's training files, cut (on a char boundary) or
/// padded by repetition to about 200 bytes, interleaving the sources.
fn comments(n: usize) -> Vec<String> {
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

fn bytes(texts: &[String]) -> u64 {
    texts.iter().map(|t| t.len() as u64).sum()
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

fn tokenize(c: &mut Criterion) {
    let clf = voc::Classifier::embedded().unwrap();
    let texts = comments(256);
    let mut reference = tokenizers::Tokenizer::from_file(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default/tokenizer.json"),
    )
    .unwrap();
    reference.with_padding(None);
    reference.with_truncation(None).unwrap();

    for (unit, tp) in
        [("comments", Throughput::Elements(texts.len() as u64)), ("bytes", Throughput::Bytes(bytes(&texts)))]
    {
        let mut g = c.benchmark_group(format!("tokenize_256_{unit}"));
        g.throughput(tp);
        g.bench_function("voc", |b| {
            b.iter(|| {
                for t in &texts {
                    black_box(clf.tokenize_for_tests(t).unwrap());
                }
            })
        });
        g.bench_function("hf_tokenizers_reference", |b| {
            b.iter(|| {
                for t in &texts {
                    black_box(reference.encode(t.as_str(), false).unwrap());
                }
            })
        });
        g.finish();
    }
}

fn classify_one(c: &mut Criterion) {
    let clf = voc::Classifier::embedded().unwrap();
    let texts = comments(64);
    let mut g = c.benchmark_group("classify_one");
    // One ~200-byte comment per call, cycling through 64 so that caches see
    // more than one text.
    let mut i = 0;
    g.throughput(Throughput::Elements(1));
    g.bench_function("comments", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(clf.classify(&texts[i]).unwrap())
        })
    });
    g.throughput(Throughput::Bytes(bytes(&texts) / texts.len() as u64));
    g.bench_function("bytes", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(clf.classify(&texts[i]).unwrap())
        })
    });
    g.finish();
}

fn classify_batch(c: &mut Criterion) {
    let clf = voc::Classifier::embedded().unwrap();
    let all = comments(4096);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let every = rayon::ThreadPoolBuilder::new().num_threads(cores).build().unwrap();
    for (name, pool) in [("classify_batch_1_thread", &one), ("classify_batch_all_cores", &every)] {
        let mut g = c.benchmark_group(name);
        for n in [1usize, 32, 256, 4096] {
            let texts = &all[..n];
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new("comments", n), texts, |b, texts| {
                b.iter(|| pool.install(|| black_box(clf.classify_batch(texts).unwrap())))
            });
        }
        let texts = &all[..256];
        g.throughput(Throughput::Bytes(bytes(texts)));
        g.bench_with_input(BenchmarkId::new("bytes", 256), texts, |b, texts| {
            b.iter(|| pool.install(|| black_box(clf.classify_batch(texts).unwrap())))
        });
        g.finish();
    }
}

fn load(c: &mut Criterion) {
    let mut g = c.benchmark_group("load");
    g.bench_function("Classifier::embedded", |b| b.iter(|| black_box(voc::Classifier::embedded().unwrap())));
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = tokenize, classify_one, classify_batch, load
}
criterion_main!(benches);
