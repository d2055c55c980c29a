//! Text to token ids and their byte offsets, with the Hugging Face
//! `tokenizers` pipeline stored in the model's `tokenizer.json`.
//!
//! For the BERT uncased WordPiece pipeline (the default model's) a fast path
//! produces exactly the ids and offsets of the reference pipeline without its
//! per-call allocations: the text is cut at ASCII whitespace into chunks
//! (every such byte is a word boundary for the BERT normalizer and
//! pre-tokenizer, which work character by character); chunks of plain ASCII
//! (no control character, no byte that can start an added token) are
//! lowercased, split at punctuation and matched greedily against the
//! vocabulary here; every other chunk (accents, CJK, emoji, control
//! characters, `[CLS]`...) goes through the reference pipeline, and its
//! offsets are shifted back. Any other pipeline uses the reference only.
//! `tests/it/tokenize.rs` checks the fast path against the reference on every
//! training text and on hand-written edge cases.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use tokenizers::Tokenizer;
use tokenizers::models::ModelWrapper;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;

use crate::error::{Error, Result};
use crate::format::TOKENIZER;

/// Token ids of a text and the byte range of each token in that text.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tokens {
    pub ids: Vec<u32>,
    pub offsets: Vec<(usize, usize)>,
    /// Scratch space for the fast path (a lowercased chunk).
    scratch: Vec<u8>,
}

/// A loaded tokenizer, configured for bags of tokens: no padding, no
/// truncation by token count (voc truncates by bytes before tokenizing), no
/// special tokens.
#[derive(Clone)]
pub(crate) struct TextTokenizer {
    inner: Tokenizer,
    fast: Option<Arc<FastWordPiece>>,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer").field("vocab_size", &self.vocab_size()).finish()
    }
}

impl TextTokenizer {
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self> {
        // Parse as JSON first, so a file that is not JSON gets a clear message.
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
            .map_err(|e| Error::model_src(TOKENIZER, format!("not valid JSON: {e}"), e))?;
        let mut inner = Tokenizer::from_bytes(bytes).map_err(|e| Error::Model {
            file: TOKENIZER.into(),
            message: format!("not a tokenizers pipeline: {e}"),
            source: Some(e),
        })?;
        inner.with_padding(None);
        inner.with_truncation(None).map_err(|e| Error::Model {
            file: TOKENIZER.into(),
            message: e.to_string(),
            source: Some(e),
        })?;
        let fast = FastWordPiece::for_pipeline(&inner).map(Arc::new);
        Ok(TextTokenizer { inner, fast })
    }

    /// The same tokenizer without the fast path (the reference; for tests
    /// and benchmarks).
    #[allow(dead_code)]
    pub(crate) fn reference_only(&self) -> Self {
        TextTokenizer { inner: self.inner.clone(), fast: None }
    }

    /// Whether the fast path is in use for this pipeline.
    #[allow(dead_code)]
    pub(crate) fn has_fast_path(&self) -> bool {
        self.fast.is_some()
    }

    pub(crate) fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The largest id the pipeline can produce plus one (added tokens included).
    pub(crate) fn max_id_bound(&self) -> usize {
        let vocab = self.inner.get_vocab(true);
        vocab.values().map(|&v| v as usize + 1).max().unwrap_or(0)
    }

    /// Tokenize `text` (already truncated by the caller) into `out`.
    pub(crate) fn encode_into(&self, text: &str, out: &mut Tokens) -> Result<()> {
        out.ids.clear();
        out.offsets.clear();
        if text.is_empty() {
            return Ok(());
        }
        match &self.fast {
            Some(fast) => self.encode_fast(fast, text, out),
            None => self.encode_reference(text, 0, out),
        }
    }

    /// The reference pipeline on `text`, appending ids and offsets shifted by `base`.
    fn encode_reference(&self, text: &str, base: usize, out: &mut Tokens) -> Result<()> {
        let enc = self.inner.encode(text, false).map_err(Error::Tokenizer)?;
        out.ids.extend_from_slice(enc.get_ids());
        out.offsets.extend(enc.get_offsets().iter().map(|&(a, b)| (a + base, b + base)));
        Ok(())
    }

    fn encode_fast(&self, fast: &FastWordPiece, text: &str, out: &mut Tokens) -> Result<()> {
        let bytes = text.as_bytes();
        let n = bytes.len();
        // A run of chunks for the reference, `[start, end)`, not yet encoded:
        // neighbouring chunks that need it go in one call.
        let mut pending: Option<(usize, usize)> = None;
        let mut i = 0;
        while i < n {
            if is_separator(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            let mut plain = true;
            while i < n && !is_separator(bytes[i]) {
                plain &= !fast.needs_reference[bytes[i] as usize];
                i += 1;
            }
            if plain {
                if let Some((a, b)) = pending.take() {
                    self.encode_reference(&text[a..b], a, out)?;
                }
                let mut scratch = std::mem::take(&mut out.scratch);
                fast.encode_chunk(&bytes[start..i], start, &mut scratch, out);
                out.scratch = scratch;
            } else {
                pending = Some((pending.map_or(start, |(a, _)| a), i));
            }
        }
        if let Some((a, b)) = pending {
            self.encode_reference(&text[a..b], a, out)?;
        }
        Ok(())
    }

    /// Token strings for ids (used for diagnostics and tests).
    #[allow(dead_code)]
    pub(crate) fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }
}

/// ASCII bytes that the BERT normalizer turns into a space and the
/// pre-tokenizer drops: every one ends a word. (Other ASCII control bytes are
/// removed by the normalizer, so they join their neighbours instead.)
#[inline]
fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// FxHash (rustc's hasher): vocabulary keys are short and trusted.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type PieceMap = HashMap<Box<[u8]>, u32, BuildHasherDefault<FxHasher>>;

/// The BERT uncased WordPiece pipeline on plain ASCII chunks: ASCII
/// lowercase (accent stripping and CJK handling are no-ops on ASCII),
/// isolate every ASCII punctuation byte, greedy longest-match WordPiece.
#[derive(Debug)]
struct FastWordPiece {
    /// Vocabulary entries, for the first piece of a word.
    first: PieceMap,
    /// Entries that start with the continuing prefix, without it.
    cont: PieceMap,
    /// Longest key in bytes of `first` and of `cont`.
    first_max: usize,
    cont_max: usize,
    unk: u32,
    max_chars_per_word: usize,
    /// Bytes that send their chunk to the reference pipeline: non-ASCII,
    /// ASCII control characters other than the separators, and the first
    /// byte of every added token (in either case).
    needs_reference: [bool; 256],
}

impl FastWordPiece {
    /// The fast path for `tok`, when its pipeline is one it reproduces.
    fn for_pipeline(tok: &Tokenizer) -> Option<Self> {
        match tok.get_normalizer()? {
            NormalizerWrapper::BertNormalizer(n)
                if n.clean_text && n.handle_chinese_chars && n.lowercase && n.strip_accents != Some(false) => {}
            _ => return None,
        }
        match tok.get_pre_tokenizer()? {
            PreTokenizerWrapper::BertPreTokenizer(_) => {}
            _ => return None,
        }
        let ModelWrapper::WordPiece(wp) = tok.get_model() else { return None };
        let prefix = wp.continuing_subword_prefix.as_bytes();
        // The prefix must never occur inside a pre-token (so a vocabulary
        // entry cannot be reached two ways): ASCII punctuation is isolated.
        if prefix.is_empty() || !prefix.iter().all(|b| b.is_ascii_punctuation()) {
            return None;
        }
        use tokenizers::Model;
        let vocab = wp.get_vocab();
        let unk = *vocab.get(&wp.unk_token)?;
        let mut needs_reference = [false; 256];
        for b in 0..=255u8 {
            needs_reference[b as usize] = !b.is_ascii() || (b.is_ascii_control() && !is_separator(b));
        }
        for t in tok.get_added_tokens_decoder().values() {
            // Added tokens are matched before normalization (or on the
            // lowercased text); a chunk holding one goes to the reference.
            // Tokens that can reach across whitespace rule the fast path out.
            let c = t.content.as_bytes();
            if c.is_empty()
                || !c.iter().all(|b| b.is_ascii_graphic())
                || t.lstrip
                || t.rstrip
                || t.single_word
                || c.iter().any(|&b| is_separator(b))
            {
                return None;
            }
            for b in [c[0], c[0].to_ascii_lowercase(), c[0].to_ascii_uppercase()] {
                needs_reference[b as usize] = true;
            }
        }
        let mut first = PieceMap::default();
        let mut cont = PieceMap::default();
        first.reserve(vocab.len());
        for (k, &id) in &vocab {
            let k = k.as_bytes();
            if let Some(rest) = k.strip_prefix(prefix) {
                cont.insert(rest.into(), id);
            }
            first.insert(k.into(), id);
        }
        let first_max = first.keys().map(|k| k.len()).max().unwrap_or(0);
        let cont_max = cont.keys().map(|k| k.len()).max().unwrap_or(0);
        Some(FastWordPiece {
            first,
            cont,
            first_max,
            cont_max,
            unk,
            max_chars_per_word: wp.max_input_chars_per_word,
            needs_reference,
        })
    }

    /// One plain ASCII chunk (no separator, no byte in `needs_reference`)
    /// that starts at byte `base` of the text.
    fn encode_chunk(&self, chunk: &[u8], base: usize, lower: &mut Vec<u8>, out: &mut Tokens) {
        lower.clear();
        lower.extend(chunk.iter().map(|b| b.to_ascii_lowercase()));
        let mut i = 0;
        while i < lower.len() {
            let start = i;
            if lower[i].is_ascii_punctuation() {
                i += 1;
            } else {
                while i < lower.len() && !lower[i].is_ascii_punctuation() {
                    i += 1;
                }
            }
            self.word(&lower[start..i], base + start, out);
        }
    }

    /// WordPiece on one word (ASCII, so bytes are chars).
    #[inline]
    fn word(&self, w: &[u8], base: usize, out: &mut Tokens) {
        if w.len() > self.max_chars_per_word {
            out.ids.push(self.unk);
            out.offsets.push((base, base + w.len()));
            return;
        }
        let mark = out.ids.len();
        let mut start = 0;
        while start < w.len() {
            let (map, max) = if start == 0 { (&self.first, self.first_max) } else { (&self.cont, self.cont_max) };
            let mut end = w.len().min(start + max);
            let mut found = None;
            while end > start {
                if let Some(&id) = map.get(&w[start..end]) {
                    found = Some(id);
                    break;
                }
                end -= 1;
            }
            let Some(id) = found else {
                out.ids.truncate(mark);
                out.offsets.truncate(mark);
                out.ids.push(self.unk);
                out.offsets.push((base, base + w.len()));
                return;
            };
            out.ids.push(id);
            out.offsets.push((base + start, base + end));
            start = end;
        }
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a
/// character boundary.
pub(crate) fn truncate_to_bytes(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "aé😀b";
        assert_eq!(truncate_to_bytes(s, 100), s);
        assert_eq!(truncate_to_bytes(s, 1), "a");
        assert_eq!(truncate_to_bytes(s, 2), "a");
        assert_eq!(truncate_to_bytes(s, 3), "aé");
        assert_eq!(truncate_to_bytes(s, 6), "aé");
        assert_eq!(truncate_to_bytes(s, 7), "aé😀");
        assert_eq!(truncate_to_bytes(s, 0), "");
    }
}
