//! Sentence boundaries: Unicode's rules (UAX #29, through
//! `unicode-segmentation`), with an exact fast path for ASCII text.
//!
//! Finding sentence boundaries with the general tables was the largest single
//! cost of classifying a short comment (a sixth of it). On ASCII text the
//! rules reduce to a handful of byte classes, implemented here rule by rule;
//! `tests::ascii_path_equals_unicode_segmentation` checks the two agree on
//! every training text and on random ASCII strings dense in punctuation.

use unicode_segmentation::UnicodeSegmentation;

/// Byte ranges of the sentences of `text`, trimmed of surrounding
/// whitespace, empty ones dropped, in order.
pub(crate) fn sentence_ranges(text: &str, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let mut push = |start: usize, end: usize| {
        let s = &text[start..end];
        let a = start + (s.len() - s.trim_start().len());
        let b = start + s.trim_end().len();
        if b > a {
            out.push((a, b));
        }
    };
    if text.is_ascii() {
        let mut start = 0;
        for end in AsciiBreaks::new(text.as_bytes()) {
            push(start, end);
            start = end;
        }
    } else {
        for (start, s) in text.split_sentence_bound_indices() {
            push(start, start + s.len());
        }
    }
}

/// Sentence break classes of ASCII bytes (UAX #29, `SentenceBreakProperty`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Cr,
    Lf,
    Sp,
    Lower,
    Upper,
    Numeric,
    ATerm,
    STerm,
    SContinue,
    Close,
    Other,
}

fn class(b: u8) -> Class {
    match b {
        b'\r' => Class::Cr,
        b'\n' => Class::Lf,
        b'\t' | 0x0B | 0x0C | b' ' => Class::Sp,
        b'a'..=b'z' => Class::Lower,
        b'A'..=b'Z' => Class::Upper,
        b'0'..=b'9' => Class::Numeric,
        b'.' => Class::ATerm,
        b'!' | b'?' => Class::STerm,
        b',' | b'-' | b':' | b';' => Class::SContinue,
        b'"' | b'\'' | b'(' | b')' | b'[' | b']' | b'{' | b'}' => Class::Close,
        _ => Class::Other,
    }
}

/// The end offsets of the sentences of an ASCII text (the last one is
/// `text.len()`), the boundaries `split_sentence_bound_indices` gives.
struct AsciiBreaks<'a> {
    b: &'a [u8],
    i: usize,
    done: bool,
}

impl<'a> AsciiBreaks<'a> {
    fn new(b: &'a [u8]) -> Self {
        AsciiBreaks { b, i: 0, done: b.is_empty() }
    }

    fn class_at(&self, i: usize) -> Option<Class> {
        self.b.get(i).map(|&b| class(b))
    }
}

impl Iterator for AsciiBreaks<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.done {
            return None;
        }
        let n = self.b.len();
        while self.i < n {
            let i = self.i;
            let c = class(self.b[i]);
            self.i += 1;
            match c {
                // SB3: CR x LF; SB4: ParaSep ÷.
                Class::Cr => {
                    if self.class_at(i + 1) == Some(Class::Lf) {
                        self.i += 1;
                    }
                    if self.i < n {
                        return Some(self.i);
                    }
                }
                Class::Lf if self.i < n => return Some(self.i),
                Class::ATerm | Class::STerm => {
                    let aterm = c == Class::ATerm;
                    let next = self.class_at(i + 1);
                    // SB6: ATerm x Numeric. SB7: (Upper | Lower) ATerm x Upper.
                    if aterm && next == Some(Class::Numeric) {
                        continue;
                    }
                    let letter_before =
                        i > 0 && matches!(self.class_at(i - 1), Some(Class::Upper) | Some(Class::Lower));
                    if aterm && letter_before && next == Some(Class::Upper) {
                        continue;
                    }
                    // SB9, SB10: Close* Sp* stay with the terminator.
                    let mut j = i + 1;
                    while self.class_at(j) == Some(Class::Close) {
                        j += 1;
                    }
                    while self.class_at(j) == Some(Class::Sp) {
                        j += 1;
                    }
                    match self.class_at(j) {
                        None => {
                            self.i = n;
                            break;
                        }
                        // SB8a: SATerm Close* Sp* x (SContinue | SATerm).
                        Some(Class::SContinue | Class::ATerm | Class::STerm) => {
                            self.i = j;
                            continue;
                        }
                        // SB11 after ParaSep (SB3: CR LF as one).
                        Some(Class::Cr | Class::Lf) => {
                            let mut k = j + 1;
                            if self.class_at(j) == Some(Class::Cr) && self.class_at(k) == Some(Class::Lf) {
                                k += 1;
                            }
                            self.i = k;
                            if k < n {
                                return Some(k);
                            }
                            break;
                        }
                        Some(_) => {
                            // SB8: ATerm Close* Sp* x (not (OLetter | Upper | Lower |
                            // ParaSep | SATerm))* Lower.
                            if aterm {
                                let mut k = j;
                                while let Some(ck) = self.class_at(k) {
                                    if matches!(
                                        ck,
                                        Class::Upper
                                            | Class::Lower
                                            | Class::Cr
                                            | Class::Lf
                                            | Class::ATerm
                                            | Class::STerm
                                    ) {
                                        break;
                                    }
                                    k += 1;
                                }
                                if self.class_at(k) == Some(Class::Lower) {
                                    self.i = j;
                                    continue;
                                }
                            }
                            // SB11: SATerm Close* Sp* ÷.
                            self.i = j;
                            return Some(j);
                        }
                    }
                }
                _ => {}
            }
        }
        self.done = true;
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (start, s) in text.split_sentence_bound_indices() {
            let a = start + (s.len() - s.trim_start().len());
            let b = start + s.trim_end().len();
            if b > a {
                out.push((a, b));
            }
        }
        out
    }

    fn check(text: &str) {
        let mut ours = Vec::new();
        sentence_ranges(text, &mut ours);
        assert_eq!(ours, reference(text), "text {text:?}");
        // The raw boundaries too, not only the trimmed ranges.
        if text.is_ascii() {
            let ends: Vec<usize> = AsciiBreaks::new(text.as_bytes()).collect();
            let theirs: Vec<usize> = text.split_sentence_bound_indices().map(|(s, t)| s + t.len()).collect();
            assert_eq!(ends, theirs, "boundaries of {text:?}");
        }
    }

    #[test]
    fn hand_written_cases() {
        for t in [
            "",
            " ",
            "a",
            "Hello. World",
            "Hello.World",
            "U.S. Army. ok",
            "e.g. this is fine.",
            "Price was $3.50. Cheap!",
            "Really?! Yes.",
            "He said \"stop.\" Then left.",
            "(It broke.) The end.",
            "Wait... what?",
            "No. 5 items",
            "end.\nNext line\r\nthird\rfourth",
            "a.\r\n\r\nb",
            "ok.   \t  lower case after",
            "ok. \"(lower\" after",
            "ok.) 9 Then",
            "Stop!, said he.",
            "x.,y",
            "x.; y",
            "A. B. C.",
            "trailing space.   ",
            "...",
            "?!?",
            "\n\n\n",
            "a\u{0B}b. c\u{0C}D. e",
        ] {
            check(t);
        }
    }

    #[test]
    fn ascii_path_equals_unicode_segmentation() {
        // Random strings over an alphabet dense in the classes that matter.
        let alphabet: Vec<u8> = b"aZ9.!?,;:-\"'()[]{} \t\r\n\x0b\x0c#$@_~/\x01\x7f".to_vec();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..40 {
            for _ in 0..400 {
                let s: String = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize] as char
                    })
                    .collect();
                check(&s);
            }
        }
        // Every training text of the default model.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default/training");
        let mut n = 0;
        for f in ["labeled.jsonl", "extra-labeled.jsonl", "synthetic.jsonl"] {
            let data = std::fs::read_to_string(dir.join(f)).unwrap();
            for line in data.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                check(v["text"].as_str().unwrap());
                n += 1;
            }
        }
        assert!(n > 8000, "only {n} training texts");
    }
}
