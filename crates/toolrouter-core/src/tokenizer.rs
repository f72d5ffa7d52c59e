//! The sub-word tokenizer, built at fit time on the training texts with Hugging Face
//! `tokenizers` (WordPiece over NFKC + lower-cased text, split on whitespace and punctuation). Unseen words fall back to
//! sub-words and single characters, so typos stay informative instead of becoming one `[UNK]`.
//! Every encoding starts with `[CLS]`, so even an empty request has one token.
//!
//! ```
//! use toolrouter_core::tokenizer::{train_tokenizer, encode};
//! let texts = vec!["what is the weather in oslo".to_string(), "play some jazz".to_string()];
//! let tok = train_tokenizer(&texts, 200).unwrap();
//! let enc = encode(&tok, "weathr in osl", 16).unwrap();
//! assert_eq!(enc.ids[0], toolrouter_core::tokenizer::CLS_ID);
//! assert!(enc.ids.len() > 3); // the typo is split into pieces, not dropped
//! ```

use crate::error::{Error, Result};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use tokenizers::normalizers::{unicode::NFKC, utils::Lowercase, Sequence};
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::{
    ModelWrapper, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
    Tokenizer,
};

pub const PAD_ID: u32 = 0;
pub const UNK_ID: u32 = 1;
pub const CLS_ID: u32 = 2;
const SPECIALS: [&str; 3] = ["[PAD]", "[UNK]", "[CLS]"];

/// Number of word shapes ([`word_shapes`]): 0 for `[CLS]`, then 5 letter cases × 3 digit
/// classes × with or without `@`.
pub const N_SHAPES: usize = 31;

/// The shape of the whitespace-delimited word each token falls in, read from the original text:
/// the letters' case (none, lower, Title, UPPER, mixed), its digits (none, digits without letters
/// as in `94-1758` or `1,000`, digits and letters as in `R-5871`) and whether it has an `@`.
/// The sub-words are lower-cased and split at punctuation, so without these a name, an id or an
/// e-mail address looks like any other word to the model. `offsets` are in characters
/// (`(0, 0)`: `[CLS]`, shape 0).
pub fn word_shapes(text: &str, offsets: &[(usize, usize)]) -> Vec<u32> {
    // Each character's word: its index in `words` (`usize::MAX` for whitespace).
    let mut word_of = Vec::new();
    let mut words: Vec<u32> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            word_of.push(usize::MAX);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        let w = &chars[start..i];
        let letters = w.iter().filter(|c| c.is_alphabetic());
        let (n, upper) = letters.fold((0, 0), |(n, u), c| (n + 1, u + c.is_uppercase() as u32));
        let first_upper = w
            .iter()
            .find(|c| c.is_alphabetic())
            .is_some_and(|c| c.is_uppercase());
        let case = match (n, upper) {
            (0, _) => 0,
            (_, 0) => 1,
            (_, 1) if first_upper => 2,
            (n, u) if n == u => 3,
            _ => 4,
        };
        let digits = match (w.iter().any(char::is_ascii_digit), n) {
            (false, _) => 0,
            (true, 0) => 1,
            (true, _) => 2,
        };
        let at = w.contains(&'@') as u32;
        words.push(1 + case + 5 * (digits + 3 * at));
        word_of.extend(std::iter::repeat_n(words.len() - 1, i - start));
    }
    offsets
        .iter()
        .map(|&(s, e)| match word_of.get(s) {
            Some(&w) if e > s && w != usize::MAX => words[w],
            _ => 0,
        })
        .collect()
}

/// Token ids and, for each, the character offsets `[start, end)` (Unicode code points) in the
/// original text (`(0, 0)` for `[CLS]`).
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub offsets: Vec<(usize, usize)>,
    /// For each token, whether it continues the word of the token before it (a `##` piece).
    pub continues: Vec<bool>,
}

/// Builds a WordPiece tokenizer of about `vocab_size` entries from `texts`: every character the
/// texts use is kept (alone and as `##c`, so no word becomes `[UNK]`) even when that alone
/// exceeds `vocab_size`, as it can on data with many distinct characters (CJK); whole words and
/// frequent pieces fill the rest.
///
/// Normalisation (NFKC, lower case), pre-tokenisation (whitespace and punctuation), the
/// WordPiece model, encoding and serialisation are the `tokenizers` crate's. The vocabulary is
/// chosen here rather than by its `WordPieceTrainer`, which breaks ties between equally frequent
/// merges in hash-map order, so two runs on the same data give different vocabularies and a
/// seeded training run would not repeat. Ours: the special tokens; every character seen, alone
/// and as a `##` continuation (so no seen character is ever `[UNK]`); then whole words seen at
/// least twice, most frequent first; then frequent word beginnings and `##` endings, so an
/// unseen word or a typo splits into informative pieces. Ties break alphabetically.
pub fn train_tokenizer(texts: &[String], vocab_size: usize) -> Result<Tokenizer> {
    let internal =
        |e: Box<dyn std::error::Error + Send + Sync>| Error::Internal(format!("tokenizer: {e}"));
    let norm = normalizer();
    let mut counts: HashMap<String, u64> = HashMap::new();
    for t in texts {
        let mut pts = PreTokenizedString::from(t.as_str());
        pts.normalize(|n| norm.normalize(n)).map_err(internal)?;
        BertPreTokenizer.pre_tokenize(&mut pts).map_err(internal)?;
        for (w, _, _) in pts.get_splits(OffsetReferential::Original, OffsetType::Char) {
            *counts.entry(w.to_string()).or_insert(0) += 1;
        }
    }
    let mut vocab: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
    let mut chars: Vec<char> = counts.keys().flat_map(|w| w.chars()).collect();
    chars.sort_unstable();
    chars.dedup();
    vocab.extend(chars.iter().map(|c| c.to_string()));
    vocab.extend(chars.iter().map(|c| format!("##{c}")));
    let ranked = |mut v: Vec<(String, u64)>| {
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.into_iter().map(|(w, _)| w)
    };
    let words: Vec<(String, u64)> = counts
        .iter()
        .filter(|(w, &c)| c >= 2 && w.chars().count() > 1)
        .map(|(w, &c)| (w.clone(), c))
        .collect();
    let mut pieces: HashMap<String, u64> = HashMap::new();
    for (w, &c) in &counts {
        let cs: Vec<char> = w.chars().collect();
        for n in 2..cs.len().min(8) {
            // Longer pieces are worth more: they carry more of the word.
            let score = c * (n as u64 - 1);
            *pieces.entry(cs[..n].iter().collect()).or_insert(0) += score;
            *pieces
                .entry(format!(
                    "##{}",
                    cs[cs.len() - n..].iter().collect::<String>()
                ))
                .or_insert(0) += score;
        }
    }
    let pieces: Vec<(String, u64)> = pieces.into_iter().filter(|(_, c)| *c >= 4).collect();
    let mut seen: std::collections::HashSet<String> = vocab.iter().cloned().collect();
    for w in ranked(words).chain(ranked(pieces)) {
        if vocab.len() >= vocab_size {
            break;
        }
        if seen.insert(w.clone()) {
            vocab.push(w);
        }
    }
    wordpiece(vocab)
}

/// A WordPiece tokenizer over `vocab` (ids in order; the special tokens first), with this
/// module's normaliser and pre-tokeniser.
pub(crate) fn wordpiece(vocab: Vec<String>) -> Result<Tokenizer> {
    let map: HashMap<String, u32> = vocab
        .into_iter()
        .enumerate()
        .map(|(i, w)| (w, i as u32))
        .collect();
    // Through the model's serde form: `WordPieceBuilder::vocab` wants the crate's own AHashMap.
    let model: ModelWrapper = serde_json::from_value(serde_json::json!({
        "type": "WordPiece",
        "unk_token": "[UNK]",
        "continuing_subword_prefix": "##",
        "max_input_chars_per_word": 100,
        "vocab": map,
    }))
    .map_err(|e| Error::Internal(format!("tokenizer: {e}")))?;
    let mut tok = Tokenizer::new(model);
    tok.with_normalizer(Some(normalizer()));
    tok.with_pre_tokenizer(Some(BertPreTokenizer));
    Ok(tok)
}

fn normalizer() -> Sequence {
    Sequence::new(vec![NFKC.into(), Lowercase.into()])
}

/// The normalisers a model's `Config::normalizer` may name: `""` (NFKC, lower case) and `"bert"`.
pub const NORMALIZERS: [&str; 2] = ["", NORMALIZER_BERT];

/// NFKC, then what the all-MiniLM-L6-v2 vocabulary was built with (BERT's normaliser): accents
/// stripped ("Zürich" → "zurich", which the vocabulary has, where NFKC alone leaves a word no
/// piece matches, one `[UNK]`), spaces around CJK characters (a sentence without spaces is not one
/// word), lower case. ASCII text normalises exactly as with `""`, so the lean ASCII path holds.
pub const NORMALIZER_BERT: &str = "bert";

/// `tok` with the normaliser called `name` (see [`NORMALIZERS`]).
pub(crate) fn with_normalizer(tok: &Tokenizer, name: &str) -> Result<Tokenizer> {
    let mut tok = tok.clone();
    match name {
        "" => {
            tok.with_normalizer(Some(normalizer()));
        }
        NORMALIZER_BERT => {
            // clean_text off: it would drop control characters the lean ASCII path keeps.
            let bert = tokenizers::normalizers::BertNormalizer::new(false, true, Some(true), true);
            tok.with_normalizer(Some(Sequence::new(vec![NFKC.into(), bert.into()])));
        }
        other => {
            return Err(Error::Internal(format!("unknown normalizer `{other}`")));
        }
    }
    Ok(tok)
}

/// Serialises the tokenizer to the JSON stored in the model file.
pub fn to_json(tok: &Tokenizer) -> Result<String> {
    tok.to_string(false)
        .map_err(|e| Error::Internal(format!("tokenizer: {e}")))
}

/// Parses a tokenizer JSON; the caller maps the error to `MODEL_INVALID`. Checks what routing
/// relies on, so a file that loads never fails later on some request: a WordPiece model whose
/// unknown token is in the vocabulary, token ids `0..n` (the caller compares `n` with the
/// embedding table), and probe texts that encode.
pub fn from_json(json: &str) -> std::result::Result<Tokenizer, String> {
    let mut tok: Tokenizer = json.parse().map_err(|e| format!("tokenizer: {e}"))?;
    // Routing pads and truncates itself; a file's own settings (a pad id outside the
    // vocabulary) would only make the full path disagree with the lean one.
    tok.with_padding(None);
    tok.with_truncation(None)
        .map_err(|e| format!("tokenizer: {e}"))?;
    for (i, s) in SPECIALS.iter().enumerate() {
        if tok.token_to_id(s) != Some(i as u32) {
            return Err(format!("tokenizer: special token {s} is not id {i}"));
        }
    }
    // Found by fuzzing the model file: an edited unknown token loaded, then every request with
    // an unseen character failed with INTERNAL.
    let ModelWrapper::WordPiece(wp) = tok.get_model() else {
        return Err("tokenizer: not a WordPiece model".into());
    };
    if tok.token_to_id(&wp.unk_token).is_none() {
        return Err(format!(
            "tokenizer: the unknown token `{}` is not in the vocabulary",
            wp.unk_token
        ));
    }
    let n = tok.get_vocab_size(true);
    let mut seen = vec![false; n];
    for id in tok.get_vocab(true).values() {
        match seen.get_mut(*id as usize) {
            Some(s) if !*s => *s = true,
            _ => return Err(format!("tokenizer: token ids are not 0..{n} (id {id})")),
        }
    }
    for probe in ["", "weather in oslo", "Zürich 🌧\u{fe0f} مرحبا \0 x\u{301}"] {
        let enc = tok
            .encode_char_offsets(probe, false)
            .map_err(|e| format!("tokenizer: {e}"))?;
        if let Some(id) = enc.get_ids().iter().find(|&&id| id as usize >= n) {
            return Err(format!(
                "tokenizer: `{probe}` encodes to id {id}, outside 0..{n}"
            ));
        }
    }
    Ok(tok)
}

/// Encodes `text` as `[CLS]` + sub-words, truncated to `max_tokens` in all. Offsets are in
/// characters of `text`.
pub fn encode(tok: &Tokenizer, text: &str, max_tokens: usize) -> Result<Encoded> {
    let enc = tok
        .encode_char_offsets(text, false)
        .map_err(|e| Error::Internal(format!("tokenizer: {e}")))?;
    let keep = enc.get_ids().len().min(max_tokens.saturating_sub(1));
    let mut ids = Vec::with_capacity(keep + 1);
    let mut offsets = Vec::with_capacity(keep + 1);
    ids.push(CLS_ID);
    offsets.push((0, 0));
    ids.extend_from_slice(&enc.get_ids()[..keep]);
    offsets.extend_from_slice(&enc.get_offsets()[..keep]);
    let words = enc.get_word_ids();
    let mut continues = Vec::with_capacity(keep + 1);
    continues.push(false);
    continues.extend((0..keep).map(|i| i > 0 && words[i].is_some() && words[i] == words[i - 1]));
    Ok(Encoded {
        ids,
        offsets,
        continues,
    })
}

/// A lean encoder for ASCII requests, most of what agents see: on ASCII, NFKC is the identity,
/// lower-casing is per byte and characters are bytes, so the `tokenizers` pipeline (normalise,
/// BERT pre-tokenise, greedy longest-match WordPiece) reduces to a scan with no allocation but
/// the output. It gives the same ids, offsets and words as [`encode`] (tested on many strings);
/// a request with any non-ASCII byte goes through the full pipeline.
#[derive(Debug, Clone)]
pub struct LeanWordPiece {
    /// Word-initial pieces and `##` pieces (stored without the prefix).
    start: FxHashMap<String, u32>,
    cont: FxHashMap<String, u32>,
    unk: u32,
    max_chars: usize,
}

impl LeanWordPiece {
    /// `None` unless `tok` is the pipeline [`train_tokenizer`] builds (a model file edited by
    /// hand keeps the full path).
    pub fn new(tok: &Tokenizer) -> Option<LeanWordPiece> {
        let json: serde_json::Value = serde_json::from_str(&tok.to_string(false).ok()?).ok()?;
        let norm = serde_json::json!({"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]});
        if json.get("normalizer") != Some(&norm)
            || json.get("pre_tokenizer") != Some(&serde_json::json!({"type": "BertPreTokenizer"}))
            || !json.get("post_processor").is_none_or(|v| v.is_null())
            || json
                .get("added_tokens")
                .and_then(|v| v.as_array())
                .is_some_and(|a| !a.is_empty())
        {
            return None;
        }
        let ModelWrapper::WordPiece(wp) = tok.get_model() else {
            return None;
        };
        let prefix = wp.continuing_subword_prefix.as_str();
        let mut start = FxHashMap::default();
        let mut cont = FxHashMap::default();
        for (piece, id) in tok.get_vocab(false) {
            match piece.strip_prefix(prefix).filter(|_| !prefix.is_empty()) {
                Some(rest) => cont.insert(rest.to_string(), id),
                None => start.insert(piece, id),
            };
        }
        Some(LeanWordPiece {
            start,
            cont,
            unk: tok.token_to_id(&wp.unk_token)?,
            max_chars: wp.max_input_chars_per_word,
        })
    }

    /// As [`encode`], or `None` when `text` is not ASCII.
    pub fn encode(&self, text: &str, max_tokens: usize) -> Option<Encoded> {
        if !text.is_ascii() {
            return None;
        }
        let keep = max_tokens.saturating_sub(1);
        let mut out = Encoded {
            ids: vec![CLS_ID],
            offsets: vec![(0, 0)],
            continues: vec![false],
        };
        let bytes = text.as_bytes();
        let mut lower = [0u8; 128];
        let mut i = 0;
        while i < bytes.len() && out.ids.len() <= keep {
            let c = bytes[i];
            if (c as char).is_whitespace() {
                i += 1;
                continue;
            }
            let end = if c.is_ascii_punctuation() {
                i + 1
            } else {
                let mut e = i;
                while e < bytes.len()
                    && !(bytes[e] as char).is_whitespace()
                    && !bytes[e].is_ascii_punctuation()
                {
                    e += 1;
                }
                e
            };
            self.word(text, i, end, &mut lower, keep, &mut out);
            i = end;
        }
        Some(out)
    }

    /// Greedy longest-match pieces of the word `text[a..b]`; the whole word is one `[UNK]`
    /// when it is too long or a piece is missing.
    fn word(
        &self,
        text: &str,
        a: usize,
        b: usize,
        buf: &mut [u8; 128],
        keep: usize,
        out: &mut Encoded,
    ) {
        let n = b - a;
        let first = out.ids.len();
        let unk = |out: &mut Encoded| {
            out.ids.truncate(first);
            out.offsets.truncate(first);
            out.continues.truncate(first);
            out.ids.push(self.unk);
            out.offsets.push((a, b));
            out.continues.push(false);
        };
        if n > self.max_chars || n > buf.len() {
            if n > self.max_chars {
                return unk(out);
            }
            // Longer than the stack buffer but allowed: rare; lower-case on the heap.
            let lower = text[a..b].to_ascii_lowercase();
            return self.pieces(&lower, a, first, keep, out, &unk);
        }
        for (d, s) in buf.iter_mut().zip(&text.as_bytes()[a..b]) {
            *d = s.to_ascii_lowercase();
        }
        // ASCII bytes are valid UTF-8.
        let lower = std::str::from_utf8(&buf[..n]).unwrap_or_default();
        self.pieces(lower, a, first, keep, out, &unk)
    }

    fn pieces(
        &self,
        word: &str,
        a: usize,
        first: usize,
        keep: usize,
        out: &mut Encoded,
        unk: &dyn Fn(&mut Encoded),
    ) {
        let n = word.len();
        let mut s = 0;
        while s < n {
            let map = if s == 0 { &self.start } else { &self.cont };
            let mut e = n;
            let mut found = None;
            while s < e {
                if let Some(&id) = map.get(&word[s..e]) {
                    found = Some(id);
                    break;
                }
                e -= 1;
            }
            let Some(id) = found else {
                return unk(out);
            };
            out.ids.push(id);
            out.offsets.push((a + s, a + e));
            out.continues.push(out.ids.len() - 1 > first);
            s = e;
        }
        // Truncation after the word: as the full path, which truncates the token list.
        if out.ids.len() > keep + 1 {
            out.ids.truncate(keep + 1);
            out.offsets.truncate(keep + 1);
            out.continues.truncate(keep + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn corpus() -> Vec<String> {
        [
            "book a table for two in paris",
            "what's the weather in zürich tomorrow?",
            "play jazz music",
        ]
        .iter()
        .cycle()
        .take(30)
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn word_shapes_read_case_digits_and_at_signs_of_the_whole_word() {
        let text = "Mail Nadia at j.doe@corp.net about order 94-1758, R-5871 and IBM ok";
        let tok = train_tokenizer(&[text.to_lowercase()], 300).unwrap();
        let enc = encode(&tok, text, 64).unwrap();
        let shapes = word_shapes(text, &enc.offsets);
        assert_eq!(shapes.len(), enc.ids.len());
        assert_eq!(shapes[0], 0, "[CLS]");
        // The shape of the token covering the first character of `piece`: pieces need not be
        // whole tokens, a small vocabulary splits words into sub-words.
        let shape_of = |piece: &str| {
            let at = text
                .find(piece)
                .unwrap_or_else(|| panic!("no {piece} in the text"));
            let k = enc
                .offsets
                .iter()
                .position(|&(s, e)| s <= at && at < e)
                .unwrap_or_else(|| panic!("no token at {piece}"));
            shapes[k]
        };
        let (lower, title, upper) = (1 + 1, 1 + 2, 1 + 3);
        assert_eq!(shape_of("Nadia"), title);
        assert_eq!(shape_of("Mail"), title);
        assert_eq!(shape_of("order"), lower);
        assert_eq!(shape_of("IBM"), upper);
        // Every piece of a word shares its shape: the e-mail address, the id's punctuation.
        let email = 1 + 1 + 5 * 3;
        for piece in ["j", ".", "doe", "@", "corp", "net"] {
            assert_eq!(shape_of(piece), email, "{piece}");
        }
        let digits_only = 1 + 5;
        assert_eq!(shape_of("94"), digits_only);
        assert_eq!(shape_of("-"), digits_only);
        assert_eq!(shape_of("1758"), digits_only);
        // One capital letter is Title case: `R-5871` as `Nadia`, but with digits.
        let title_with_digits = 1 + 2 + 5 * 2;
        assert_eq!(shape_of("5871"), title_with_digits);
        assert!(shapes.iter().all(|&s| (s as usize) < N_SHAPES));
        // Offsets past the text or empty give 0 rather than panicking.
        assert_eq!(word_shapes("ab", &[(5, 6), (1, 1)]), vec![0, 0]);
    }

    #[test]
    fn the_lean_path_encodes_ascii_exactly_as_the_full_one() -> TestResult {
        let tok = train_tokenizer(&corpus(), 120)?;
        let lean = LeanWordPiece::new(&tok).ok_or("the lean path applies")?;
        let mut texts: Vec<String> = vec![
            "".into(),
            "   ".into(),
            "book a table for two in paris".into(),
            "Book A TABLE, for (two) in PARIS!!".into(),
            "what's the weather in zurich tomorrow?".into(),
            "weathr in parsi".into(),
            "a~b|c^d`e\\f".into(),
            "tab\there\nnewline\x0bvt\x0cff\rcr \x1f unit".into(),
            "ctrl\x00\x01chars".into(),
            "x".repeat(101),
            "y".repeat(150) + " ok",
            "qqqq zzzz 12345 $100 50% a+b=c <tag> #hash @user".into(),
            "jazz ".repeat(40),
        ];
        texts.extend(
            corpus()
                .iter()
                .filter(|t| t.is_ascii())
                .map(|t| t.to_uppercase()),
        );
        for max in [2usize, 5, 48, 512] {
            for t in &texts {
                let full = encode(&tok, t, max)?;
                let got = lean.encode(t, max).ok_or("ASCII")?;
                assert_eq!(got.ids, full.ids, "{t:?} max {max}");
                assert_eq!(got.offsets, full.offsets, "{t:?} max {max}");
                assert_eq!(got.continues, full.continues, "{t:?} max {max}");
            }
        }
        assert!(
            lean.encode("zürich", 48).is_none(),
            "non-ASCII takes the full path"
        );
        Ok(())
    }

    #[test]
    fn round_trip_through_json_keeps_ids_and_offsets() -> TestResult {
        let tok = train_tokenizer(&corpus(), 300)?;
        let json = to_json(&tok)?;
        let back = from_json(&json)?;
        let text = "Weather in ZÜRICH, tomorrow!";
        let a = encode(&tok, text, 32)?;
        let b = encode(&back, text, 32)?;
        assert_eq!(a.ids, b.ids);
        assert_eq!(a.offsets, b.offsets);
        // Offsets point back into the user's spelling (code points, so "Ü" counts as one).
        let chars: Vec<char> = text.chars().collect();
        let zurich = a
            .offsets
            .iter()
            .map(|&(s, e)| chars[s..e].iter().collect::<String>())
            .find(|w| w.starts_with('Z'))
            .ok_or("no token starts with Z")?;
        assert!("ZÜRICH".starts_with(&zurich), "{zurich}");
        Ok(())
    }

    #[test]
    fn a_file_s_padding_and_truncation_are_ignored() -> TestResult {
        let tok = train_tokenizer(&corpus(), 300)?;
        let mut v: serde_json::Value = serde_json::from_str(&to_json(&tok)?)?;
        // Found by review: a pad id outside the vocabulary loaded, then every non-ASCII request
        // (the full path) failed with INTERNAL.
        v["padding"] = serde_json::json!({"strategy": {"Fixed": 6}, "direction": "Right",
            "pad_to_multiple_of": null, "pad_id": 999999, "pad_type_id": 0, "pad_token": "[PAD]"});
        v["truncation"] = serde_json::json!({"direction": "Right", "max_length": 2,
            "strategy": "LongestFirst", "stride": 0});
        let back = from_json(&v.to_string())?;
        let text = "Zürich weather tomorrow";
        assert_eq!(encode(&back, text, 32)?.ids, encode(&tok, text, 32)?.ids);
        Ok(())
    }

    #[test]
    fn unseen_words_become_pieces_not_unk_and_truncation_holds() -> TestResult {
        let tok = train_tokenizer(&corpus(), 300)?;
        let enc = encode(&tok, "wether", 32)?;
        assert!(enc.ids.len() >= 2);
        assert!(!enc.ids[1..].contains(&UNK_ID), "{:?}", enc.ids);
        // The pieces after a word's first piece continue it; `[CLS]` and the first do not.
        assert_eq!(enc.continues[..2], [false, false]);
        assert!(enc.continues[2..].iter().all(|&c| c), "{:?}", enc.continues);
        let two = encode(&tok, "jazz music", 32)?;
        assert_eq!(two.continues, vec![false; two.ids.len()]);
        let long = "jazz ".repeat(500);
        assert_eq!(encode(&tok, &long, 16)?.ids.len(), 16);
        assert_eq!(encode(&tok, "", 16)?.ids, vec![CLS_ID]);
        Ok(())
    }
}

#[cfg(test)]
mod determinism {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn training_twice_gives_the_same_vocabulary() -> TestResult {
        let texts: Vec<String> = (0..300)
            .map(|i| {
                format!(
                    "request number {i} about weather music timers and {} things",
                    i % 17
                )
            })
            .collect();
        let set = |t: &Tokenizer| {
            let mut v: Vec<String> = t.get_vocab(true).into_keys().collect();
            v.sort();
            v
        };
        let a = train_tokenizer(&texts, 200)?;
        for _ in 0..5 {
            let b = train_tokenizer(&texts, 200)?;
            assert_eq!(set(&a), set(&b), "token sets differ");
            assert_eq!(to_json(&a)?, to_json(&b)?, "ids differ");
        }
        Ok(())
    }
}
