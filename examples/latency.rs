//! Single-comment latency percentiles, one-thread throughput and embedded
//! load time of the default model.
//!
//! ```sh
//! cargo run --release --example latency            # 100,000 calls
//! cargo run --release --example latency -- 20000   # fewer calls
//! ```
//!
//! Comments: texts of `models/default/training/*.jsonl`, trimmed or padded
//! (by repeating the text) to about 200 bytes, the same set as
//! `benches/classify.rs` uses.

use std::time::Instant;

#[path = "../benches/comments.rs"]
mod comments;
use comments::comments;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(100_000);

    // Load time: the first load pays page faults on the embedded bytes; report both.
    let t = Instant::now();
    let clf = voc::Classifier::embedded()?;
    let first = t.elapsed();
    let mut loads = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let c = voc::Classifier::embedded()?;
        loads.push(t.elapsed().as_secs_f64() * 1e3);
        drop(c);
    }
    loads.sort_by(f64::total_cmp);
    println!(
        "Classifier::embedded(): first {:.2} ms, then median {:.2} ms, max {:.2} ms (20 loads)",
        first.as_secs_f64() * 1e3,
        loads[loads.len() / 2],
        loads[loads.len() - 1]
    );

    let texts = comments(2_000);
    let mean_bytes = texts.iter().map(|t| t.len()).sum::<usize>() as f64 / texts.len() as f64;
    // Warm up.
    for t in &texts {
        std::hint::black_box(clf.classify(t)?);
    }
    measure("classify", calls, &texts, mean_bytes, |t| clf.classify(t).map(|p| p.tags.len()))?;
    measure("scores", calls, &texts, mean_bytes, |t| clf.scores(t).map(|s| s.tags.len()))?;
    Ok(())
}

/// Time `calls` calls of `f`, one by one, and print percentiles and throughput.
fn measure(
    name: &str,
    calls: usize,
    texts: &[String],
    mean_bytes: f64,
    f: impl Fn(&str) -> voc::Result<usize>,
) -> voc::Result<()> {
    let mut lat = Vec::with_capacity(calls);
    let start = Instant::now();
    for i in 0..calls {
        let text = &texts[i % texts.len()];
        let t = Instant::now();
        let out = f(text)?;
        lat.push(t.elapsed().as_nanos() as u64);
        std::hint::black_box(out);
    }
    let total = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)] as f64 / 1e3;
    println!("{name}, one thread, {calls} calls over {} comments of {mean_bytes:.0} bytes on average:", texts.len());
    println!(
        "  latency us: p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        lat[lat.len() - 1] as f64 / 1e3
    );
    println!(
        "  throughput: {:.0} comments/s ({:.1} MB/s)",
        calls as f64 / total,
        calls as f64 * mean_bytes / total / 1e6
    );
    Ok(())
}
