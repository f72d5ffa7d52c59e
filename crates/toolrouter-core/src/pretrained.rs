//! Static word knowledge the controller can start from (issue 9): a table of all-MiniLM-L6-v2
//! word vectors built by `examples/minilm_static.rs` (each WordPiece token through the whole
//! teacher, mean-pooled, PCA-reduced to 64 dims, f16) and compiled into the library, so a model
//! trained on a few examples per tool already places "refund" near "reimburse" and needs no
//! teacher, download or extra file at run time.
//!
//! all-MiniLM-L6-v2 is Apache-2.0 (sentence-transformers); see `assets/NOTICE`.

use crate::error::{Error, Result};
use crate::tokenizer::{wordpiece, CLS_ID, PAD_ID, UNK_ID};
use candle_core::{DType, Device};
use std::sync::OnceLock;
use tokenizers::Tokenizer;

static MINILM: &[u8] = include_bytes!("../assets/minilm-static.safetensors");

/// The name `TrainOptions::pretrained` and `Config::pretrained` use for the table above.
pub const MINILM_NAME: &str = "minilm";

/// A tokenizer and one vector per token id, in that tokenizer's id order.
#[derive(Debug)]
pub struct StaticTable {
    pub tokenizer: Tokenizer,
    pub dim: usize,
    /// `vocab x dim`, row-major.
    pub rows: Vec<f32>,
}

impl StaticTable {
    /// The table's tokenizer with the normaliser a model names (`Config::normalizer`).
    pub fn tokenizer_for(&self, normalizer: &str) -> Result<Tokenizer> {
        crate::tokenizer::with_normalizer(&self.tokenizer, normalizer)
    }
}

/// The table called `name`; `INVALID_INPUT` naming the option when there is none.
pub fn table(name: &str) -> Result<&'static StaticTable> {
    if name != MINILM_NAME {
        return Err(Error::invalid(
            "pretrained",
            format!("unknown pretrained table `{name}` (known: `{MINILM_NAME}`, or `none`)"),
        ));
    }
    static CELL: OnceLock<std::result::Result<StaticTable, String>> = OnceLock::new();
    CELL.get_or_init(|| parse(MINILM).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Internal(format!("pretrained table: {e}")))
}

/// Re-numbers the teacher's vocabulary into this crate's convention (`[PAD]`, `[UNK]`, `[CLS]`
/// first; the teacher's `[SEP]`, `[MASK]` and `[unusedN]` dropped) and its rows with it.
fn parse(bytes: &[u8]) -> Result<StaticTable> {
    let bad = |e: String| Error::Internal(format!("pretrained table: {e}"));
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("tokenizer"))
        .ok_or_else(|| bad("no tokenizer in the metadata".into()))?;
    let teacher: Tokenizer = json.parse().map_err(|e| bad(format!("{e}")))?;
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
    let w = tensors
        .get("static.weight")
        .ok_or_else(|| bad("no `static.weight`".into()))?
        .to_dtype(DType::F32)?;
    let (n, dim) = w.dims2()?;
    let flat: Vec<f32> = w.flatten_all()?.to_vec1()?;
    let mut by_id: Vec<(u32, String)> = teacher
        .get_vocab(true)
        .into_iter()
        .map(|(t, i)| (i, t))
        .filter(|(i, _)| (*i as usize) < n)
        .collect();
    by_id.sort();
    let id_of = |t: &str| teacher.token_to_id(t).ok_or_else(|| bad(format!("no {t}")));
    let specials = [
        (PAD_ID, id_of("[PAD]")?),
        (UNK_ID, id_of("[UNK]")?),
        (CLS_ID, id_of("[CLS]")?),
    ];
    let mut vocab: Vec<String> = vec!["[PAD]".into(), "[UNK]".into(), "[CLS]".into()];
    let mut rows: Vec<f32> = Vec::with_capacity(flat.len());
    for (ours, theirs) in specials {
        debug_assert_eq!(ours as usize * dim, rows.len());
        let r = &flat[theirs as usize * dim..(theirs as usize + 1) * dim];
        // `[PAD]` is masked out everywhere; a zero row keeps it inert.
        rows.extend(r.iter().map(|x| if ours == PAD_ID { 0.0 } else { *x }));
    }
    for (id, tok) in by_id {
        let special = tok.starts_with('[') && tok.ends_with(']');
        if special {
            continue;
        }
        vocab.push(tok);
        rows.extend_from_slice(&flat[id as usize * dim..(id as usize + 1) * dim]);
    }
    Ok(StaticTable {
        tokenizer: wordpiece(vocab)?,
        dim,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(t: &StaticTable, word: &str) -> Vec<f32> {
        let id = t.tokenizer.token_to_id(word).expect(word) as usize;
        t.rows[id * t.dim..(id + 1) * t.dim].to_vec()
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (n(a) * n(b))
    }

    #[test]
    fn the_table_knows_which_words_are_related() -> Result<()> {
        let t = table(MINILM_NAME)?;
        assert_eq!(t.rows.len(), t.tokenizer.get_vocab_size(true) * t.dim);
        assert_eq!(t.tokenizer.token_to_id("[CLS]"), Some(CLS_ID));
        assert!(t.rows[..t.dim].iter().all(|x| *x == 0.0), "[PAD] row");
        let (salary, wage, song) = (vector(t, "salary"), vector(t, "wages"), vector(t, "song"));
        assert!(cosine(&salary, &wage) > 0.6, "{}", cosine(&salary, &wage));
        assert!(cosine(&salary, &song) < cosine(&salary, &wage) - 0.3);
        assert!(table("glove").is_err());
        Ok(())
    }

    #[test]
    fn accented_and_cjk_words_reach_the_vocabulary_with_their_offsets() -> Result<()> {
        use crate::tokenizer::{encode, NORMALIZER_BERT, UNK_ID};
        let t = table(MINILM_NAME)?;
        let (old, bert) = (t.tokenizer_for("")?, t.tokenizer_for(NORMALIZER_BERT)?);
        // NFKC alone keeps "ü", which no piece of the vocabulary has: one [UNK] for the word.
        let text = "weather in Zürich";
        assert!(encode(&old, text, 48)?.ids.contains(&UNK_ID));
        let e = encode(&bert, text, 48)?;
        assert!(!e.ids.contains(&UNK_ID), "{:?}", e.ids);
        assert_eq!(e.ids, encode(&bert, "weather in zurich", 48)?.ids);
        // The offsets still point into the user's text (code points).
        let last = e.offsets.last().copied().unwrap_or_default();
        let chars: Vec<char> = text.chars().collect();
        assert_eq!(chars[..last.1].iter().collect::<String>(), text);
        // A sentence without spaces is one word to NFKC; CJK characters are split apart.
        assert_eq!(encode(&old, "東京の天気", 48)?.ids.len(), 2);
        assert!(encode(&bert, "東京の天気", 48)?.ids.len() >= 5);
        // ASCII text normalises as before (the lean ASCII path relies on it).
        for s in ["Play Some JAZZ, now!", "a\tb  c", "x\u{1}y"] {
            let (a, b) = (encode(&old, s, 48)?, encode(&bert, s, 48)?);
            assert_eq!((a.ids, a.offsets), (b.ids, b.offsets), "{s:?}");
        }
        Ok(())
    }
}
