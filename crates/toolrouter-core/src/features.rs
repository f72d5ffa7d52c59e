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

/// Lower-cased words: maximal runs of alphanumeric characters.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// All feature hashes of `text`, with repeats (for term frequency), in no particular order
/// (callers sort them).
pub fn extract(text: &str) -> Vec<u64> {
    let ws = words(text);
    let mut out = Vec::with_capacity(ws.len() * 24);
    let mut marked = String::with_capacity(40);
    let mut bounds: Vec<usize> = Vec::with_capacity(40);
    for (i, w) in ws.iter().enumerate() {
        out.push(fnv(b'w', &[w]));
        if i + 1 < ws.len() {
            out.push(fnv(b'b', &[w, &ws[i + 1]]));
        }
        marked.clear();
        marked.push('<');
        marked.push_str(w);
        marked.push('>');
        bounds.clear();
        bounds.extend(marked.char_indices().map(|(b, _)| b));
        bounds.push(marked.len());
        let chars = bounds.len() - 1;
        let bytes = marked.as_bytes();
        // The n-grams starting at one character share their prefix: each longer one extends
        // the shorter one's hash by its last character's bytes (the same hash as `fnv` of its
        // text, computed once per character instead of once per n-gram and length).
        for start in 0..chars {
            let mut h = fnv_start(b'c');
            for end in start + 1..=(start + CHAR_MAX).min(chars) {
                h = fnv_bytes(h, &bytes[bounds[end - 1]..bounds[end]]);
                if end - start >= CHAR_MIN {
                    out.push(h);
                }
            }
        }
    }
    out
}

/// The feature vocabulary with inverse document frequencies.
#[derive(Debug, Clone, Default)]
pub struct NgramVocab {
    pub hashes: Vec<u64>,
    pub idf: Vec<f32>,
    index: HashIndex,
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
        NgramVocab { hashes, idf, index }
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Distinct known features of `text` and their TF-IDF weights (sub-linear TF, L2-normalised).
    pub fn weights(&self, text: &str) -> (Vec<u32>, Vec<f32>) {
        let mut ids: Vec<u32> = extract(text)
            .into_iter()
            .filter_map(|h| self.index.get(&h).copied())
            .collect();
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
