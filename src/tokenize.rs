//! Text to token ids and their byte offsets, with the Hugging Face
//! `tokenizers` pipeline stored in the model's `tokenizer.json`.

use tokenizers::Tokenizer;

use crate::error::{Error, Result};
use crate::format::TOKENIZER;

/// Token ids of a text and the byte range of each token in that text.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tokens {
    pub ids: Vec<u32>,
    pub offsets: Vec<(usize, usize)>,
}

/// A loaded tokenizer, configured for bags of tokens: no padding, no
/// truncation by token count (voc truncates by bytes before tokenizing), no
/// special tokens.
#[derive(Clone)]
pub(crate) struct TextTokenizer {
    inner: Tokenizer,
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
        Ok(TextTokenizer { inner })
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
        let enc = self.inner.encode(text, false).map_err(Error::Tokenizer)?;
        out.ids.extend_from_slice(enc.get_ids());
        out.offsets.extend_from_slice(enc.get_offsets());
        Ok(())
    }

    /// Token strings for ids (used for diagnostics and tests).
    #[allow(dead_code)]
    pub(crate) fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
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
