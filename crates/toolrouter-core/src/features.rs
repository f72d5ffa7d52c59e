//! Sparse n-gram features beside the tokens, as fastText and TF-IDF classifiers use: word
//! unigrams and bigrams and character 2-5-grams of each word (with boundary marks), weighted by
//! sub-linear TF x IDF and L2-normalised. They keep short texts, rare words and typos informative
//! where a small transformer trained from scratch sees too little data.
//!
//! Features are identified by a 64-bit FNV-1a hash of their text (stable across platforms and
//! versions; collisions at 64 bits are negligible) and kept in a vocabulary built at fit time.
//!
//! ```
//! use toolrouter_core::features::NgramVocab;
//! let texts = vec!["play jazz".to_string(), "play rock".to_string()];
//! let vocab = NgramVocab::fit(&texts, 1, 1000);
//! let (ids, weights) = vocab.weights("play jazz");
//! assert_eq!(ids.len(), weights.len());
//! let norm: f32 = weights.iter().map(|w| w * w).sum();
//! assert!((norm - 1.0).abs() < 1e-5);
//! ```

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The lookup's keys are FNV hashes already: a multiply spreads them over the table, where
/// SipHash would hash them again (it was most of a request's n-gram time).
#[derive(Default)]
pub struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type HashIndex = HashMap<u64, u32, BuildHasherDefault<PreHashed>>;

const FNV_OFFSET: u64 = 0xcbf29ce484222325;
const FNV_PRIME: u64 = 0x100000001b3;
const CHAR_MIN: usize = 2;
const CHAR_MAX: usize = 5;

/// FNV-1a of the feature kind's tag byte alone: the start of a feature's hash.
fn fnv_start(kind: u8) -> u64 {
    fnv_bytes(FNV_OFFSET, &[kind])
}

/// FNV-1a state `h` after `bytes`.
fn fnv_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The feature hash of `parts` (joined by a 0x1f separator) under `kind`.
fn fnv(kind: u8, parts: &[&str]) -> u64 {
    let mut h = fnv_start(kind);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h = fnv_bytes(h, &[0x1f]);
        }
        h = fnv_bytes(h, p.as_bytes());
    }
    h
}

/// Calls `f` with each lower-cased word of `text` (maximal runs of alphanumeric characters), in
/// order, from one reused buffer. Text that is not ASCII is put in NFC first: a combining accent
/// is not alphanumeric, so "Zu\u{308}rich" (NFD, as some keyboards and file systems write it)
/// would otherwise split into "zu" and "rich" where "Zürich" is one word. (NFC, not the
/// tokenizer's NFKC: it leaves text already composed, as every shared dataset's is, exactly as
/// it was, so the n-gram features of trained models do not move; NFKC would split "003½".)
fn each_word(text: &str, mut f: impl FnMut(&str)) {
    let normalized;
    let text = if text.is_ascii() {
        text
    } else {
        let mut n = tokenizers::NormalizedString::from(text);
        n.nfc();
        normalized = n.get().to_string();
        normalized.as_str()
    };
    let mut cur = String::with_capacity(32);
    for c in text.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            f(&cur);
            cur.clear();
        }
    }
    if !cur.is_empty() {
        f(&cur);
    }
}

/// Lower-cased words: maximal runs of alphanumeric characters.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    each_word(text, |w| out.push(w.to_string()));
    out
}

/// All feature hashes of `text`, with repeats (for term frequency), in no particular order
/// (callers sort them).
pub fn extract(text: &str) -> Vec<u64> {
    let ws = words(text);
    let mut out = Vec::with_capacity(ws.len() * 24);
    let mut marked = Marked::default();
    for (i, w) in ws.iter().enumerate() {
        out.push(fnv(b'w', &[w]));
        if i + 1 < ws.len() {
            out.push(fnv(b'b', &[w, &ws[i + 1]]));
        }
        marked.char_ngrams(w, |h| out.push(h));
    }
    out
}

/// Buffers for the character n-grams of one word at a time.
#[derive(Default)]
struct Marked {
    /// `<word>`.
    bytes: Vec<u8>,
    /// Where each character of `bytes` starts, then its length.
    bounds: Vec<usize>,
}

impl Marked {
    /// The hashes of the character 2-5-grams of `<w>`, passed to `f`.
    fn char_ngrams(&mut self, w: &str, mut f: impl FnMut(u64)) {
        self.bytes.clear();
        self.bytes.push(b'<');
        self.bytes.extend_from_slice(w.as_bytes());
        self.bytes.push(b'>');
        self.bounds.clear();
        // UTF-8: a character starts at every byte that is not a continuation byte (0b10xxxxxx).
        self.bounds
            .extend((0..self.bytes.len()).filter(|&i| self.bytes[i] & 0xC0 != 0x80));
        self.bounds.push(self.bytes.len());
        let chars = self.bounds.len() - 1;
        // The n-grams starting at one character share their prefix: each longer one extends
        // the shorter one's hash by its last character's bytes (the same hash as `fnv` of its
        // text, computed once per character instead of once per n-gram and length).
        for start in 0..chars {
            let mut h = fnv_start(b'c');
            for end in start + 1..=(start + CHAR_MAX).min(chars) {
                h = fnv_bytes(h, &self.bytes[self.bounds[end - 1]..self.bounds[end]]);
                if end - start >= CHAR_MIN {
                    f(h);
                }
            }
        }
    }
}

/// The feature vocabulary with inverse document frequencies.
#[derive(Debug, Clone, Default)]
pub struct NgramVocab {
    pub hashes: Vec<u64>,
    pub idf: Vec<f32>,
    index: HashIndex,
    words: WordCache,
}

/// The known features of whole words, computed once (see [`NgramVocab::cache_words`]): hashing
/// a word's character n-grams and looking each up was most of a request's n-gram time; a cached
/// word costs one lookup, by the hash of its unigram, which routing computes anyway.
#[derive(Debug, Clone, Default)]
struct WordCache {
    /// Unigram hash -> `ids[start..start + len]`.
    index: HashMap<u64, (u32, u32), BuildHasherDefault<PreHashed>>,
    /// Feature ids, repeats kept (a repeated character n-gram counts twice in TF).
    ids: Vec<u32>,
}

impl NgramVocab {
    /// Keeps features seen in at least `min_df` texts, the `max_features` most frequent.
    pub fn fit(texts: &[String], min_df: usize, max_features: usize) -> Self {
        let mut df = HashIndex::default();
        for t in texts {
            let mut f = extract(t);
            f.sort_unstable();
            f.dedup();
            for h in f {
                *df.entry(h).or_insert(0) += 1;
            }
        }
        let mut kept: Vec<(u64, u32)> = df
            .into_iter()
            .filter(|&(_, c)| c as usize >= min_df.max(1))
            .collect();
        // Most frequent first; ties by hash so the order is deterministic.
        kept.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        kept.truncate(max_features);
        let n = texts.len() as f32;
        let hashes: Vec<u64> = kept.iter().map(|k| k.0).collect();
        let idf = kept
            .iter()
            .map(|&(_, c)| ((1.0 + n) / (1.0 + c as f32)).ln() + 1.0)
            .collect();
        Self::from_parts(hashes, idf)
    }

    /// This vocabulary with the features of `texts` it lacks appended (most frequent first, up to
    /// `max_features` in all), so a model continued from it keeps every feature row it learned.
    /// Old features keep their index and IDF; new ones take their IDF from `texts`.
    pub fn extend(&self, texts: &[String], min_df: usize, max_features: usize) -> Self {
        let fresh = NgramVocab::fit(texts, min_df, usize::MAX);
        let mut hashes = self.hashes.clone();
        let mut idf = self.idf.clone();
        for (&h, &w) in fresh.hashes.iter().zip(&fresh.idf) {
            if hashes.len() >= max_features {
                break;
            }
            if !self.index.contains_key(&h) {
                hashes.push(h);
                idf.push(w);
            }
        }
        Self::from_parts(hashes, idf)
    }

    /// Rebuilds the lookup from stored hashes and IDFs (lengths are checked by the loader).
    pub fn from_parts(hashes: Vec<u64>, idf: Vec<f32>) -> Self {
        let index = hashes
            .iter()
            .enumerate()
            .map(|(i, &h)| (h, i as u32))
            .collect();
        NgramVocab {
            hashes,
            idf,
            index,
            words: WordCache::default(),
        }
    }

    /// Precomputes the known features of each of `words` that is a single lower-case word as
    /// [`extract`] splits text (others are skipped), for [`NgramVocab::weights`]. The router
    /// caches its tokenizer's whole words, fixed at load time, so a request's cost does not
    /// depend on the requests before it.
    /// Results are the same with or without the cache.
    pub fn cache_words<'a>(&mut self, words: impl IntoIterator<Item = &'a str>) {
        let mut cache = WordCache::default();
        let mut ids = Vec::new();
        let mut marked = Marked::default();
        // `word_ids` reads the cache: empty it first, so every word is computed in full.
        self.words = WordCache::default();
        for w in words {
            if w.is_empty()
                || w.chars()
                    .any(|c| !c.is_alphanumeric() || c.to_lowercase().ne([c]))
            {
                continue;
            }
            let h = fnv(b'w', &[w]);
            if cache.index.contains_key(&h) {
                continue;
            }
            ids.clear();
            self.word_ids(w, h, &mut ids, &mut marked);
            let start = cache.ids.len() as u32;
            cache.ids.extend_from_slice(&ids);
            cache.index.insert(h, (start, ids.len() as u32));
        }
        self.words = cache;
    }

    /// Words in the cache of [`NgramVocab::cache_words`], and the feature ids it holds.
    pub fn cached_words(&self) -> (usize, usize) {
        (self.words.index.len(), self.words.ids.len())
    }

    /// The known features of word `w` (lower-cased), whose unigram hash is `h`: the unigram and
    /// the character n-grams of `<w>`, as [`extract`] computes them.
    fn word_ids(&self, w: &str, h: u64, out: &mut Vec<u32>, scratch: &mut Marked) {
        if let Some(&(start, len)) = self.words.index.get(&h) {
            out.extend_from_slice(&self.words.ids[start as usize..(start + len) as usize]);
            return;
        }
        out.extend(self.index.get(&h).copied());
        scratch.char_ngrams(w, |g| out.extend(self.index.get(&g).copied()));
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Distinct known features of `text` and their TF-IDF weights (sub-linear TF, L2-normalised).
    pub fn weights(&self, text: &str) -> (Vec<u32>, Vec<f32>) {
        let mut ids: Vec<u32> = Vec::with_capacity(text.len() * 4);
        let mut marked = Marked::default();
        // The words of `extract`, one at a time, without collecting them; `bigram` is the
        // bigram hash's state after the previous word and the separator.
        let mut bigram: Option<u64> = None;
        each_word(text, |w| {
            let h = fnv(b'w', &[w]);
            self.word_ids(w, h, &mut ids, &mut marked);
            if let Some(b) = bigram {
                ids.extend(self.index.get(&fnv_bytes(b, w.as_bytes())).copied());
            }
            bigram = Some(fnv_bytes(fnv_bytes(fnv_start(b'b'), w.as_bytes()), &[0x1f]));
        });
        ids.sort_unstable();
        let mut out_ids = Vec::with_capacity(ids.len());
        let mut out_w = Vec::with_capacity(ids.len());
        let mut i = 0;
        while i < ids.len() {
            let mut j = i;
            while j < ids.len() && ids[j] == ids[i] {
                j += 1;
            }
            let tf = 1.0 + ((j - i) as f32).ln();
            out_ids.push(ids[i]);
            out_w.push(tf * self.idf[ids[i] as usize]);
            i = j;
        }
        let norm = out_w.iter().map(|w| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            out_w.iter_mut().for_each(|w| *w /= norm);
        }
        (out_ids, out_w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_and_decomposed_forms_give_the_same_words() {
        let nfc = words("weather in Zürich, café");
        assert_eq!(nfc, ["weather", "in", "zürich", "café"]);
        assert_eq!(words("weather in Zu\u{308}rich, cafe\u{301}"), nfc);
        // Composed text stays as it is (compatibility characters included).
        assert_eq!(words("james bond 003½"), ["james", "bond", "003½"]);
    }

    /// The features as first written: every character n-gram built as a string and hashed
    /// whole. `extract` must give the same multiset (saved models index features by hash).
    fn extract_reference(text: &str) -> Vec<u64> {
        let ws = words(text);
        let mut out = Vec::new();
        for (i, w) in ws.iter().enumerate() {
            out.push(fnv(b'w', &[w]));
            if i + 1 < ws.len() {
                out.push(fnv(b'b', &[w, &ws[i + 1]]));
            }
            let buf: Vec<char> = std::iter::once('<')
                .chain(w.chars())
                .chain(std::iter::once('>'))
                .collect();
            for n in CHAR_MIN..=CHAR_MAX.min(buf.len()) {
                for start in 0..=buf.len() - n {
                    let s: String = buf[start..start + n].iter().collect();
                    out.push(fnv(b'c', &[&s]));
                }
            }
        }
        out
    }

    #[test]
    fn extract_gives_the_reference_features() {
        for text in [
            "",
            "a",
            "play jazz",
            "Book a table for 4 at Café Zoë tomorrow!",
            "naïve façade — ünïcödé 日本語のテキスト 🎵🎶 x",
            "supercalifragilisticexpialidocious and a b c",
        ] {
            let mut got = extract(text);
            let mut want = extract_reference(text);
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn hashes_are_stable_across_runs_and_platforms() {
        // FNV-1a 64 of b"w" + b"jazz", computed independently (Python:
        // h = 0xcbf29ce484222325; for b in b"wjazz": h = ((h ^ b) * 0x100000001b3) % 2**64).
        // A change here breaks every saved model, so it must be deliberate.
        assert_eq!(fnv(b'w', &["jazz"]), 0xa9a0ea76990213af);
        assert_ne!(fnv(b'w', &["jazz"]), fnv(b'c', &["jazz"]));
        assert_ne!(fnv(b'b', &["ab", "c"]), fnv(b'b', &["a", "bc"]));
    }

    /// `weights` as first written: from `extract`'s hashes.
    fn weights_reference(vocab: &NgramVocab, text: &str) -> (Vec<u32>, Vec<f32>) {
        let mut ids: Vec<u32> = extract(text)
            .into_iter()
            .filter_map(|h| vocab.index.get(&h).copied())
            .collect();
        ids.sort_unstable();
        let mut out_ids: Vec<u32> = ids.clone();
        out_ids.dedup();
        let mut out_w: Vec<f32> = out_ids
            .iter()
            .map(|&i| {
                let n = ids.iter().filter(|&&j| j == i).count();
                (1.0 + (n as f32).ln()) * vocab.idf[i as usize]
            })
            .collect();
        let norm = out_w.iter().map(|w| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            out_w.iter_mut().for_each(|w| *w /= norm);
        }
        (out_ids, out_w)
    }

    #[test]
    fn cached_words_give_the_same_weights() {
        let train: Vec<String> = [
            "Play jazz by Nina Simone",
            "book a table for 4 at Café Zoë tomorrow",
            "aaaa bbbb aaaa, remind me about the dentist",
            "naïve façade — ünïcödé 日本語のテキスト",
            "supercalifragilisticexpialidocious weather in Oslo",
        ]
        .map(String::from)
        .to_vec();
        let plain = NgramVocab::fit(&train, 1, usize::MAX);
        let mut cached = plain.clone();
        // Pieces as a tokenizer's vocabulary has them: whole words, `##` pieces, specials, and
        // strings that are not one lower-case word (skipped).
        cached.cache_words([
            "play",
            "jazz",
            "aaaa",
            "café",
            "zoë",
            "naïve",
            "日本語のテキスト",
            "oslo",
            "supercalifragilisticexpialidocious",
            "##ing",
            "[CLS]",
            "Jazz",
            "two words",
            "",
        ]);
        assert_eq!(cached.cached_words().0, 9);
        assert!(cached.cached_words().1 > 0);
        for text in train.iter().map(String::as_str).chain([
            "",
            "   ",
            "PLAY JAZZ jazz jazz",
            "Café zoë, naïve?! aaaa",
            "wether in osloo",
            "x",
            "🎵🎶 play",
        ]) {
            let want = weights_reference(&plain, text);
            assert_eq!(plain.weights(text), want, "{text:?}");
            assert_eq!(cached.weights(text), want, "{text:?} (cached)");
        }
    }

    #[test]
    fn typos_share_char_ngrams_with_the_word() {
        let vocab = NgramVocab::fit(&["weather in oslo".to_string()], 1, 10_000);
        let (ids, _) = vocab.weights("wether");
        assert!(ids.len() >= 3, "{ids:?}");
        let (none, _) = vocab.weights("");
        assert!(none.is_empty());
    }

    #[test]
    fn extending_keeps_old_indices_and_adds_new_features() {
        let old = NgramVocab::fit(&["play jazz".to_string()], 1, usize::MAX);
        let new = old.extend(&["play some rock".to_string()], 1, usize::MAX);
        assert_eq!(&new.hashes[..old.len()], &old.hashes[..]);
        assert_eq!(&new.idf[..old.len()], &old.idf[..]);
        assert!(new.len() > old.len());
        let (ids, _) = new.weights("rock");
        assert!(ids.iter().all(|&i| i as usize >= old.len()) && !ids.is_empty());
        // The cap counts old features too.
        assert_eq!(
            old.extend(&["play some rock".to_string()], 1, old.len())
                .len(),
            old.len()
        );
    }

    #[test]
    fn min_df_and_cap_limit_the_vocabulary() {
        let texts: Vec<String> = vec!["aa bb".into(), "aa cc".into()];
        let all = NgramVocab::fit(&texts, 1, usize::MAX);
        let common = NgramVocab::fit(&texts, 2, usize::MAX);
        assert!(common.len() < all.len());
        assert_eq!(NgramVocab::fit(&texts, 1, 3).len(), 3);
        // The most frequent features come first and have the lowest IDF.
        assert!(common.idf.iter().all(|&x| (x - 1.0).abs() < 1e-6));
    }
}
