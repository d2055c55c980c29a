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
use std::sync::{Arc, OnceLock};

use tokenizers::Tokenizer;

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
///
/// When the fast path applies, the reference pipeline may be built lazily,
/// on the first text that needs it (non-ASCII chunks): parsing it is most of
/// a model's load time, and ASCII text never needs it.
#[derive(Clone)]
pub(crate) struct TextTokenizer {
    source: Arc<[u8]>,
    inner: Arc<OnceLock<Tokenizer>>,
    fast: Option<Arc<FastWordPiece>>,
    max_id_bound: usize,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("max_id_bound", &self.max_id_bound)
            .field("fast_path", &self.fast.is_some())
            .finish()
    }
}

/// The reference pipeline from `tokenizer.json`, set up for bags of tokens.
fn reference_pipeline(bytes: &[u8]) -> Result<Tokenizer> {
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
    Ok(inner)
}

impl TextTokenizer {
    /// Load `tokenizer.json`. With `eager`, the reference pipeline is built
    /// (and so checked) now; otherwise only when the fast path does not
    /// apply or a text needs it.
    pub(crate) fn from_bytes(bytes: &[u8], eager: bool) -> Result<Self> {
        let light: light::Pipeline<'_> = serde_json::from_slice(bytes).map_err(|e| {
            // Say "not JSON" only when it is not JSON at all.
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Err(e) => Error::model_src(TOKENIZER, format!("not valid JSON: {e}"), e),
                Ok(_) => Error::model_src(TOKENIZER, format!("not a tokenizers pipeline: {e}"), e),
            }
        })?;
        let fast = FastWordPiece::for_pipeline(&light).map(Arc::new);
        let inner = OnceLock::new();
        let max_id_bound = match &fast {
            Some(_) if !eager => light.max_id_bound(),
            _ => {
                let t = reference_pipeline(bytes)?;
                let bound = t.get_vocab(true).values().map(|&v| v as usize + 1).max().unwrap_or(0);
                let _ = inner.set(t);
                bound
            }
        };
        Ok(TextTokenizer { source: Arc::from(bytes), inner: Arc::new(inner), fast, max_id_bound })
    }

    /// The bytes of `tokenizer.json`.
    pub(crate) fn source(&self) -> &Arc<[u8]> {
        &self.source
    }

    /// The reference pipeline, built on first use.
    fn reference(&self) -> Result<&Tokenizer> {
        if let Some(t) = self.inner.get() {
            return Ok(t);
        }
        let built = reference_pipeline(&self.source)?;
        Ok(self.inner.get_or_init(|| built))
    }

    /// Whether the fast path is in use for this pipeline.
    #[allow(dead_code)]
    pub(crate) fn has_fast_path(&self) -> bool {
        self.fast.is_some()
    }

    /// The largest id the pipeline can produce plus one (added tokens included).
    pub(crate) fn max_id_bound(&self) -> usize {
        self.max_id_bound
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
        let enc = self.reference()?.encode(text, false).map_err(Error::Tokenizer)?;
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

    /// The id of a vocabulary entry (a whole token string, e.g. `"not"` or
    /// `"##t"`), from the fast path's tables when there are any, so the
    /// reference pipeline is not built for it.
    pub(crate) fn token_id(&self, token: &str) -> Option<u32> {
        match &self.fast {
            // `first` holds every entry as written, prefixed ones included.
            Some(f) => f.first.get(token.as_bytes()).copied(),
            None => self.reference().ok()?.token_to_id(token),
        }
    }

    /// Token strings for ids (used for diagnostics and tests).
    #[allow(dead_code)]
    pub(crate) fn id_to_token(&self, id: u32) -> Option<String> {
        self.reference().ok()?.id_to_token(id)
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
    /// The fast path for a pipeline, when it is one this reproduces: every
    /// setting it depends on must be present and as expected (a missing
    /// field means "use the reference").
    fn for_pipeline(p: &light::Pipeline<'_>) -> Option<Self> {
        let n = p.normalizer.as_ref()?;
        if !(n.kind == "BertNormalizer"
            && n.clean_text == Some(true)
            && n.handle_chinese_chars == Some(true)
            && n.lowercase == Some(true)
            && n.strip_accents != Some(false))
        {
            return None;
        }
        if p.pre_tokenizer.as_ref()?.kind != "BertPreTokenizer" {
            return None;
        }
        let wp = &p.model;
        if wp.kind != "WordPiece" {
            return None;
        }
        let vocab = wp.vocab.0.as_ref()?;
        let prefix = wp.continuing_subword_prefix.as_deref()?.as_bytes();
        // The prefix must never occur inside a pre-token (so a vocabulary
        // entry cannot be reached two ways): ASCII punctuation is isolated.
        if prefix.is_empty() || !prefix.iter().all(|b| b.is_ascii_punctuation()) {
            return None;
        }
        let unk = *vocab.get(wp.unk_token.as_deref()?)?;
        let max_chars_per_word = wp.max_input_chars_per_word?;
        let mut needs_reference = [false; 256];
        for b in 0..=255u8 {
            needs_reference[b as usize] = !b.is_ascii() || (b.is_ascii_control() && !is_separator(b));
        }
        for t in &p.added_tokens {
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
        for (k, &id) in vocab {
            let k = k.as_bytes();
            if let Some(rest) = k.strip_prefix(prefix) {
                cont.insert(rest.into(), id);
            }
            first.insert(k.into(), id);
        }
        let first_max = first.keys().map(|k| k.len()).max().unwrap_or(0);
        let cont_max = cont.keys().map(|k| k.len()).max().unwrap_or(0);
        Some(FastWordPiece { first, cont, first_max, cont_max, unk, max_chars_per_word, needs_reference })
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

/// The few settings of `tokenizer.json` the fast path depends on, read
/// without building the reference pipeline (strings borrowed where they
/// have no escapes).
mod light {
    use std::borrow::Cow;
    use std::collections::HashMap;

    use serde::Deserialize;
    use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    #[derive(Deserialize)]
    pub(super) struct Pipeline<'a> {
        #[serde(default, borrow)]
        pub added_tokens: Vec<AddedToken<'a>>,
        #[serde(default, borrow)]
        pub normalizer: Option<Normalizer<'a>>,
        #[serde(default, borrow)]
        pub pre_tokenizer: Option<Typed<'a>>,
        #[serde(borrow)]
        pub model: Model<'a>,
    }

    #[derive(Deserialize)]
    pub(super) struct AddedToken<'a> {
        pub id: u32,
        #[serde(borrow)]
        pub content: Cow<'a, str>,
        #[serde(default)]
        pub single_word: bool,
        #[serde(default)]
        pub lstrip: bool,
        #[serde(default)]
        pub rstrip: bool,
    }

    #[derive(Deserialize)]
    pub(super) struct Normalizer<'a> {
        #[serde(rename = "type", borrow)]
        pub kind: Cow<'a, str>,
        pub clean_text: Option<bool>,
        pub handle_chinese_chars: Option<bool>,
        pub strip_accents: Option<bool>,
        pub lowercase: Option<bool>,
    }

    #[derive(Deserialize)]
    pub(super) struct Typed<'a> {
        #[serde(rename = "type", borrow)]
        pub kind: Cow<'a, str>,
    }

    #[derive(Deserialize)]
    pub(super) struct Model<'a> {
        #[serde(rename = "type", default, borrow)]
        pub kind: Cow<'a, str>,
        #[serde(default, borrow)]
        pub vocab: Vocab<'a>,
        #[serde(default, borrow)]
        pub unk_token: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        pub continuing_subword_prefix: Option<Cow<'a, str>>,
        #[serde(default)]
        pub max_input_chars_per_word: Option<usize>,
    }

    /// A `token -> id` map (WordPiece, BPE), or `None` for any other shape
    /// (Unigram's list), which is skipped.
    #[derive(Default)]
    pub(super) struct Vocab<'a>(pub Option<HashMap<Cow<'a, str>, u32>>);

    impl<'de: 'a, 'a> Deserialize<'de> for Vocab<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<'a>(std::marker::PhantomData<&'a ()>);
            impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
                type Value = Vocab<'a>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a vocabulary")
                }
                fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                    let mut map = HashMap::with_capacity(m.size_hint().unwrap_or(32_000));
                    while let Some((k, v)) = m.next_entry::<Cow<'de, str>, u32>()? {
                        map.insert(k, v);
                    }
                    Ok(Vocab(Some(map)))
                }
                fn visit_seq<S: SeqAccess<'de>>(self, mut s: S) -> Result<Self::Value, S::Error> {
                    while s.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Vocab(None))
                }
                fn visit_unit<E>(self) -> Result<Self::Value, E> {
                    Ok(Vocab(None))
                }
            }
            d.deserialize_any(V(std::marker::PhantomData))
        }
    }

    impl Pipeline<'_> {
        /// The largest id of the vocabulary and the added tokens, plus one.
        pub fn max_id_bound(&self) -> usize {
            let vocab = self.model.vocab.0.iter().flat_map(|v| v.values());
            vocab.chain(self.added_tokens.iter().map(|t| &t.id)).map(|&i| i as usize + 1).max().unwrap_or(0)
        }
    }
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
