//! Scopes: which tokens of a text sit inside a negation ("did **not** *help
//! at all*") or after a contrast ("nice staff, **but** *the food was cold*").
//!
//! A bag of tokens cannot see word order, so "not good" and "good" pool to
//! nearly the same vector. A model with scopes pools the tokens of each
//! scope a second time into their own vector, and its network maps that
//! vector through a learned `H x H` matrix (see [`crate::network`]), so a
//! word can count differently inside a negation than outside it.
//!
//! The marking is a small, fixed, documented rule over token strings, found
//! in the model's own vocabulary when the model is loaded:
//!
//! - **negation**: a cue (`not`, `no`, `never`, `nothing`, `nobody`, `none`,
//!   `nowhere`, `neither`, `nor`, `without`, `cannot`, and `n't` written as
//!   `' t` or glued as in `dont`, `cant`, `didnt`) opens a scope over the next
//!   [`NEGATION_SPAN`] tokens; punctuation (`. , ; : ! ?`), a contrast word or
//!   a new cue ends it. The cue itself is not in the scope.
//! - **contrast**: `but` or `however` opens a scope that runs to the end of
//!   the sentence (`. ! ? ;`).
//!
//! Scopes end at `. ! ? ;` tokens. Sentences are split by Unicode rules
//! (`sentences.rs`), so a negation at the end of a line without punctuation
//! can reach into the next sentence of the whole text, but not when that
//! sentence is scored alone.

use crate::error::{Error, Result};
use crate::format::CONFIG;
use crate::tokenize::TextTokenizer;

/// Tokens a negation reaches after its cue, at most.
pub(crate) const NEGATION_SPAN: u8 = 6;

/// A kind of scope a model may use; its name is what `config.json` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    Negation,
    Contrast,
}

impl ScopeKind {
    pub(crate) const ALL: [ScopeKind; 2] = [ScopeKind::Negation, ScopeKind::Contrast];

    pub(crate) fn name(self) -> &'static str {
        match self {
            ScopeKind::Negation => "negation",
            ScopeKind::Contrast => "contrast",
        }
    }

    /// The kind named `name`, if this voc knows it.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// This kind's bit in a token's role mask from [`ScopeMarker::step`].
    fn bit(self) -> u8 {
        match self {
            ScopeKind::Negation => 1,
            ScopeKind::Contrast => 2,
        }
    }
}

/// Parse scope names (from `config.json` or a training config).
pub(crate) fn parse_kinds(names: &[String]) -> Result<Vec<ScopeKind>> {
    let mut kinds = Vec::with_capacity(names.len());
    for n in names {
        let k = ScopeKind::parse(n).ok_or_else(|| {
            let known: Vec<&str> = ScopeKind::ALL.iter().map(|k| k.name()).collect();
            Error::model(CONFIG, format!("unknown scope {n:?} (this voc knows {known:?})"))
        })?;
        if kinds.contains(&k) {
            return Err(Error::model(CONFIG, format!("scope {n:?} is listed twice")));
        }
        kinds.push(k);
    }
    Ok(kinds)
}

// Token classes (bits).
const NEG_WORD: u8 = 1;
const APOSTROPHE: u8 = 2;
const T: u8 = 4;
const GLUED_T: u8 = 8;
const NT_STEM: u8 = 16;
const CLAUSE_END: u8 = 32;
const SENTENCE_END: u8 = 64;
const CONTRAST: u8 = 128;

const NEG_WORDS: [&str; 11] =
    ["not", "no", "never", "nothing", "nobody", "none", "nowhere", "neither", "nor", "without", "cannot"];
const NT_STEMS: [&str; 18] = [
    "don", "didn", "doesn", "isn", "wasn", "aren", "weren", "won", "wouldn", "couldn", "shouldn", "can", "haven",
    "hasn", "hadn", "ain", "mustn", "needn",
];

/// The scope rule over one vocabulary: a class per token id, and the scope
/// kinds the model uses, in the order of its scope matrices.
#[derive(Debug, Clone)]
pub(crate) struct ScopeMarker {
    class: Vec<u8>,
    kinds: Vec<ScopeKind>,
    /// Rule bits (`ScopeKind::bit`) to role bits (`1 << k` for `kinds[k]`).
    remap: [u8; 1 << ScopeKind::ALL.len()],
}

/// The running state of [`ScopeMarker::step`] over a text.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ScopeState {
    negation_left: u8,
    contrast: bool,
    prev: u8,
}

impl ScopeMarker {
    /// The rule over the vocabulary of `tokenizer` (ids below `vocab`).
    /// Strings the vocabulary lacks never match.
    pub(crate) fn new(tokenizer: &TextTokenizer, vocab: usize, kinds: Vec<ScopeKind>) -> Self {
        let mut class = vec![0u8; vocab];
        let mut set = |token: &str, bit: u8| {
            if let Some(id) = tokenizer.token_id(token).filter(|&id| (id as usize) < vocab) {
                class[id as usize] |= bit;
            }
        };
        NEG_WORDS.iter().for_each(|w| set(w, NEG_WORD));
        NT_STEMS.iter().for_each(|w| set(w, NT_STEM));
        set("'", APOSTROPHE);
        set("\u{2019}", APOSTROPHE);
        set("t", T);
        set("##t", GLUED_T);
        [",", ":"].iter().for_each(|w| set(w, CLAUSE_END));
        [".", "!", "?", ";"].iter().for_each(|w| set(w, SENTENCE_END));
        ["but", "however"].iter().for_each(|w| set(w, CONTRAST));
        ScopeMarker::from_classes(class, kinds)
    }

    /// A marker over a made-up vocabulary of `vocab` ids: `cues` open a
    /// negation, `ends` end sentences.
    #[cfg(test)]
    pub(crate) fn for_tests(vocab: usize, cues: &[u32], ends: &[u32], kinds: Vec<ScopeKind>) -> Self {
        let mut class = vec![0u8; vocab];
        cues.iter().for_each(|&c| class[c as usize] |= NEG_WORD);
        ends.iter().for_each(|&c| class[c as usize] |= SENTENCE_END);
        ScopeMarker::from_classes(class, kinds)
    }

    fn from_classes(class: Vec<u8>, kinds: Vec<ScopeKind>) -> Self {
        let mut remap = [0u8; 1 << ScopeKind::ALL.len()];
        for (bits, m) in remap.iter_mut().enumerate() {
            *m = kinds
                .iter()
                .enumerate()
                .fold(0, |m, (k, kind)| if bits as u8 & kind.bit() != 0 { m | 1 << k } else { m });
        }
        ScopeMarker { class, kinds, remap }
    }

    /// The scope kinds, in the order of the model's scope matrices.
    pub(crate) fn kinds(&self) -> &[ScopeKind] {
        &self.kinds
    }

    /// Advance over token `id`; returns the token's roles: bit `k` set when
    /// it lies in a scope of `self.kinds()[k]`.
    #[inline]
    pub(crate) fn step(&self, state: &mut ScopeState, id: u32) -> u8 {
        let c = self.class.get(id as usize).copied().unwrap_or(0);
        let mut bits = 0u8;
        if c & (SENTENCE_END | CLAUSE_END | CONTRAST) != 0 {
            state.negation_left = 0;
            if c & SENTENCE_END != 0 {
                state.contrast = false;
            }
            if c & CONTRAST != 0 {
                state.contrast = true;
            }
        } else {
            let cue = c & NEG_WORD != 0
                || (c & T != 0 && state.prev & APOSTROPHE != 0)
                || (c & GLUED_T != 0 && state.prev & NT_STEM != 0);
            if cue {
                state.negation_left = NEGATION_SPAN;
            } else if state.negation_left > 0 {
                state.negation_left -= 1;
                bits |= ScopeKind::Negation.bit();
            }
            if state.contrast {
                bits |= ScopeKind::Contrast.bit();
            }
        }
        state.prev = c;
        self.remap[bits as usize]
    }

    /// The roles of every token of `ids`, into `out`.
    pub(crate) fn roles(&self, ids: &[u32], out: &mut Vec<u8>) {
        let mut state = ScopeState::default();
        out.clear();
        out.extend(ids.iter().map(|&id| self.step(&mut state, id)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::Tokens;

    fn marked(text: &str, kinds: Vec<ScopeKind>) -> Vec<(String, u8)> {
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/default/tokenizer.json")).unwrap();
        let tok = TextTokenizer::from_bytes(&bytes, false).unwrap();
        let marker = ScopeMarker::new(&tok, 30522, kinds);
        let mut t = Tokens::default();
        tok.encode_into(text, &mut t).unwrap();
        let mut roles = Vec::new();
        marker.roles(&t.ids, &mut roles);
        t.offsets.iter().zip(roles).map(|(&(a, b), r)| (text[a..b].to_string(), r)).collect()
    }

    fn in_scope(text: &str, kinds: Vec<ScopeKind>, bit: u8) -> Vec<String> {
        marked(text, kinds).into_iter().filter(|(_, r)| r & bit != 0).map(|(w, _)| w).collect()
    }

    #[test]
    fn negation_scopes_end_at_punctuation_contrast_or_span() {
        let neg = || vec![ScopeKind::Negation];
        assert_eq!(in_scope("It did not work, so I called.", neg(), 1), ["work"]);
        assert_eq!(in_scope("I don't like it but the staff helped", neg(), 1), ["like", "it"]);
        assert_eq!(in_scope("dont like it", neg(), 1), ["like", "it"]);
        assert_eq!(in_scope("Never again. Great staff.", neg(), 1), ["again"]);
        // At most NEGATION_SPAN tokens after the cue.
        assert_eq!(in_scope("no one at the desk ever called me back", neg(), 1).len(), NEGATION_SPAN as usize);
        assert!(in_scope("Great staff, lovely room.", neg(), 1).is_empty());
        // The cue itself is not in the scope.
        assert!(!in_scope("not good", neg(), 1).contains(&"not".to_string()));
    }

    #[test]
    fn contrast_scopes_run_to_the_sentence_end() {
        let both = || vec![ScopeKind::Negation, ScopeKind::Contrast];
        assert_eq!(in_scope("Nice staff, but the food was cold. Fine.", both(), 2), ["the", "food", "was", "cold"]);
        // Bits follow the model's order of kinds.
        assert_eq!(in_scope("ok but not good", vec![ScopeKind::Contrast, ScopeKind::Negation], 1), ["not", "good"]);
        assert_eq!(in_scope("ok but not good", vec![ScopeKind::Contrast, ScopeKind::Negation], 2), ["good"]);
        // A model without a kind never marks it.
        assert!(in_scope("ok but bad", vec![ScopeKind::Negation], 2).is_empty());
    }

    #[test]
    fn kind_names_are_checked() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_kinds(&names(&["contrast", "negation"])).unwrap(), [ScopeKind::Contrast, ScopeKind::Negation]);
        assert!(parse_kinds(&names(&["sarcasm"])).unwrap_err().to_string().contains("unknown scope"));
        assert!(parse_kinds(&names(&["negation", "negation"])).unwrap_err().to_string().contains("twice"));
    }
}
