//! Teach the default model a new tag, `pricing`, from 50 labeled rows,
//! keeping what it already knows (warm start).
//!
//! ```sh
//! cargo run --release --example new_tag
//! ```
//!
//! The same with the command line:
//!
//! ```sh
//! voc train --from default --data examples/data/pricing.jsonl \
//!     --data models/default/training/labeled.jsonl --out pricing-model
//! ```

use voc::{Classifier, HashList, ReadOptions, TrainConfig};

fn main() -> voc::Result<()> {
    let base = Classifier::embedded()?;
    let mut tags = base.labels().tags().to_vec();
    tags.push("pricing".into());

    // 50 rows labeled with the new tag (synthetic, written by the team)...
    let new_rows = voc::read_examples("examples/data/pricing.jsonl", &ReadOptions::default().tags(tags.clone()))?;
    assert_eq!(new_rows.len(), 50);
    // ...shown a few times, mixed with part of the default model's own
    // training data (labeled without `pricing`) so the old tags are kept.
    let mut rows = Vec::new();
    for _ in 0..4 {
        rows.extend(new_rows.iter().cloned());
    }
    let old = voc::read_examples("models/default/training/labeled.jsonl", &ReadOptions::default())?;
    rows.extend(old.into_iter().step_by(3));

    let exclude = HashList::read("../shared/gold/eval-hashes.txt").unwrap_or_else(|_| {
        eprintln!("note: ../shared/gold/eval-hashes.txt not found; no evaluation texts to remove");
        HashList::default()
    });
    let cfg = TrainConfig::default().warm_start(true).tags(tags).epochs(8).learning_rate(0.001);
    let (clf, report) = voc::train(&base, &rows, &cfg, &exclude, |e| {
        eprintln!("epoch {} loss {:.3}", e.epoch, e.train_loss);
    })?;
    println!("tags now: {:?} (pricing threshold {:.2})", clf.labels().tags(), report.thresholds["pricing"]);

    let texts = [
        "Way too expensive for what you get, $80 a month for basic cable.",
        "They raised the price again. Not worth it anymore.",
        "The charger stopped working after two days.",
        "Lovely staff, thank you!",
    ];
    for t in texts {
        let p = clf.classify(t)?;
        println!("{:<70} {:?} (pricing {:.2})", t, p.tag_names(), p.tag_probabilities["pricing"]);
    }
    let p = clf.classify(texts[0])?;
    assert!(p.has_tag("pricing"), "the new tag is predicted");
    assert!(!clf.classify(texts[3])?.has_tag("pricing"));
    assert!(clf.classify(texts[2])?.has_tag("product_failure"), "old tags are kept");
    Ok(())
}
