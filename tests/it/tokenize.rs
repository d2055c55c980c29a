//! voc's tokenizer (with its fast path for BERT WordPiece pipelines) gives
//! exactly the ids and byte offsets of the Hugging Face `tokenizers`
//! reference loaded from the same `tokenizer.json`.

use tokenizers::Tokenizer;

use crate::root;

fn reference(path: &std::path::Path) -> Tokenizer {
    let mut t = Tokenizer::from_file(path).expect("reference tokenizer loads");
    t.with_padding(None);
    t.with_truncation(None).unwrap();
    t
}

type Encoded = (Vec<u32>, Vec<(usize, usize)>);

fn reference_encode(t: &Tokenizer, text: &str) -> Encoded {
    if text.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let e = t.encode(text, false).expect("reference encodes");
    (e.get_ids().to_vec(), e.get_offsets().to_vec())
}

/// Compare on every text; report the first few differences.
fn check(clf: &voc::Classifier, reference: &Tokenizer, texts: &[String]) {
    let mut bad = Vec::new();
    for text in texts {
        let ours = clf.tokenize_for_tests(text).expect("voc tokenizes");
        let theirs = reference_encode(reference, text);
        if ours != theirs {
            bad.push(format!("{text:?}:\n  voc {ours:?}\n  ref {theirs:?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} texts differ; first:\n{}",
        bad.len(),
        texts.len(),
        bad[..bad.len().min(5)].join("\n")
    );
}

fn training_texts() -> Vec<String> {
    let dir = root().join("models/default/training");
    let mut texts = Vec::new();
    for f in ["labeled.jsonl", "extra-labeled.jsonl", "synthetic.jsonl"] {
        let s = std::fs::read_to_string(dir.join(f)).unwrap();
        for line in s.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            texts.push(v["text"].as_str().unwrap().to_string());
        }
    }
    texts
}

const TRICKY: &[&str] = &[
    "",
    " ",
    "\t\n\r ",
    "Café déjà vu, naïve résumé!",
    "CAFÉ DÉJÀ VU",
    "résumé-writing",
    "x\u{301}y and x \u{301}a and \u{301}",
    "我爱北京天安门 ok",
    "ok我爱北京ok",
    "こんにちは世界",
    "안녕하세요 세계",
    "नमस्ते दुनिया",
    "مرحبا بالعالم",
    "สวัสดีครับ",
    "great 😀👍🏽 product👍",
    "ab\u{1}cd",
    "\u{0}",
    "a\u{7f}b",
    "a\u{0}b c\u{1}",
    " \u{1}cd",
    "ab\u{1} cd",
    "\u{fffd}x\u{fffd}",
    "a\u{200b}b",
    "a\u{a0}b\u{2028}c\u{3000}d",
    "\u{b}\u{c}x\u{b}y\u{c}",
    "İstanbul straße ΣΑΣ ﬁne Ⅻ ＡＢＣ１２３",
    "don't don’t “quoted” «guillemets» — dash … ellipsis",
    "e-mail #hashtag ##x x##y @user $5.99 100% a+b=c ~tilde `tick` ^caret |pipe| <tag>",
    "https://example.com/a/b?c=d&e=f#frag",
    "[CLS] hello [SEP] [cls] [UNK]x a[PAD]b [MASK] [ [[ ]] [x]",
    "!!!???...,,,;;;",
    "1234567890123 3.14159 1,000,000 2015/01/02 XX/XX/XXXX",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "zzzzqqqxxxjjj qqqq",
    "WiFi iPhone McDonald's O'Neil",
];

fn long_words() -> Vec<String> {
    vec![
        "a".repeat(99),
        "a".repeat(100),
        "a".repeat(101),
        format!("{} ok", "b".repeat(300)),
        format!("ok {}!{}", "ab".repeat(60), "c".repeat(100)),
        format!("{}é", "a".repeat(100)),
        format!("{}é", "a".repeat(99)),
        "word ".repeat(2000),
    ]
}

/// Deterministic random strings over an alphabet of ASCII letters,
/// separators, punctuation, control characters and non-ASCII characters.
fn fuzz(n: usize) -> Vec<String> {
    let alphabet: Vec<char> = "aeiouxyzAEQZ019 \t\n\r.,'-[]#!\u{1}\u{0}\u{7f}\u{b}éÉ\u{301}ü😀我\u{a0}\u{200b}’ßİ"
        .chars()
        .chain(["[CLS]", "[UNK]", "##"].iter().flat_map(|s| s.chars()))
        .collect();
    let words = ["the", "app", "crashed", "support", "never", "called", "back", "refund", "unbelievable"];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let len = (next() % 60) as usize;
            let mut s = String::new();
            for _ in 0..len {
                match next() % 4 {
                    0 => s.push_str(words[(next() % words.len() as u64) as usize]),
                    _ => s.push(alphabet[(next() % alphabet.len() as u64) as usize]),
                }
            }
            s
        })
        .collect()
}

#[test]
fn default_model_tokenizer_equals_reference_on_training_corpus() {
    let clf = voc::Classifier::embedded().unwrap();
    let r = reference(&root().join("models/default/tokenizer.json"));
    let texts = training_texts();
    assert!(texts.len() > 8000, "{} texts", texts.len());
    check(&clf, &r, &texts);
}

#[test]
fn default_model_tokenizer_equals_reference_on_edge_cases() {
    let clf = voc::Classifier::embedded().unwrap();
    let r = reference(&root().join("models/default/tokenizer.json"));
    let mut texts: Vec<String> = TRICKY.iter().map(|s| s.to_string()).collect();
    texts.extend(long_words());
    // Every tricky string inside ordinary text, at either end and alone.
    for t in TRICKY {
        texts.push(format!("The app crashed {t} twice."));
        texts.push(format!("{t}support never called"));
        texts.push(format!("refund{t}"));
    }
    texts.extend(fuzz(20_000));
    check(&clf, &r, &texts);
}

#[test]
fn default_model_tokenizer_equals_reference_on_gold_dev() {
    let Some(dev) = crate::gold_dev() else { return };
    let clf = voc::Classifier::embedded().unwrap();
    let r = reference(&root().join("models/default/tokenizer.json"));
    let texts: Vec<String> = std::fs::read_to_string(dev)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    check(&clf, &r, &texts);
}

/// A pipeline the fast path does not handle (the tiny fixture's word-level
/// model) still tokenizes as the reference does.
#[test]
fn other_pipelines_use_the_reference() {
    let clf = crate::tiny();
    let r = reference(&crate::fixtures().join("tiny/tokenizer.json"));
    let mut texts: Vec<String> = TRICKY.iter().map(|s| s.to_string()).collect();
    texts.extend(fuzz(2_000));
    check(&clf, &r, &texts);
}
