//! voc's speed: tokenization alone, `classify` (and `scores`) on one
//! comment, `classify_batch` at batch sizes 1, 32, 256 and 4096 (and
//! `scores_batch` at 4096) on one thread and on all cores, and the load time
//! of the embedded model.
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

#[path = "comments.rs"]
mod comments;
use comments::comments;

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
    // The probabilities-only path on the same comments.
    g.throughput(Throughput::Elements(1));
    g.bench_function("scores", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(clf.scores(&texts[i]).unwrap())
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
        g.throughput(Throughput::Elements(4096));
        g.bench_with_input(BenchmarkId::new("scores_batch", 4096), &all[..], |b, texts| {
            b.iter(|| pool.install(|| black_box(clf.scores_batch(texts).unwrap())))
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
