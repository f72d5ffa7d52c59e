//! Layers of the ToolController, candle style: each is built by `new(cfg, vb)` with one
//! `vb.pp(name)` per child, so weight names mirror the struct tree
//! (`layers.0.attn.qkv.weight`, `head.bias`, ...).
//!
//! Training on the CPU runs the fused kernels of [`super::fused`] (layer norm, attention, GELU,
//! bias, dropout), each with its own backward pass. Training elsewhere uses
//! `ops::layer_norm_slow` and `ops::softmax`, which record a backward pass; the fused
//! `ops::layer_norm` and `ops::softmax_last_dim` of candle-nn 0.9 do not, so they only run at
//! inference (`train == false`).

use super::{fused, Config};
use candle_core::{Device, IndexOp, Module, Result, Tensor, D};
use candle_nn::rnn::{GRUConfig, GRUState, GRU, RNN};
use candle_nn::{embedding, linear, ops, Embedding, Linear, VarBuilder};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;

const LN_EPS: f32 = 1e-5;

/// LayerNorm that picks the differentiable or the fused kernel.
#[derive(Debug, Clone)]
pub struct Norm {
    weight: Tensor,
    bias: Tensor,
}

impl Norm {
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Norm {
            weight: vb.get_with_hints(dim, "weight", candle_nn::Init::Const(1.0))?,
            bias: vb.get_with_hints(dim, "bias", candle_nn::Init::Const(0.0))?,
        })
    }

    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        if fused_training(xs, train) {
            fused::layer_norm(xs, &self.weight, &self.bias, LN_EPS)
        } else if train {
            ops::layer_norm_slow(xs, &self.weight, &self.bias, LN_EPS)
        } else {
            ops::layer_norm(&xs.contiguous()?, &self.weight, &self.bias, LN_EPS)
        }
    }
}

thread_local! {
    /// Dropout masks come from here rather than candle's CPU RNG, which cannot be seeded, so a
    /// training run with a given seed repeats exactly. Training runs on one thread.
    static DROPOUT_RNG: RefCell<StdRng> = RefCell::new(StdRng::seed_from_u64(0));
}

/// Seeds the dropout masks of the current thread.
pub fn seed_dropout(seed: u64) {
    DROPOUT_RNG.with(|r| *r.borrow_mut() = StdRng::seed_from_u64(seed));
}

/// Standard Gumbel noise, `-ln(-ln u)`, from the seeded dropout generator.
pub fn gumbel_noise(shape: (usize, usize), device: &Device) -> Result<Tensor> {
    let n = shape.0 * shape.1;
    let g: Vec<f32> = DROPOUT_RNG.with(|r| {
        let mut r = r.borrow_mut();
        (0..n)
            .map(|_| -(-(r.random_range(1e-7f32..1.0)).ln()).ln())
            .collect()
    });
    Tensor::from_vec(g, shape, device)
}

/// Whether this step runs the fused CPU training kernels.
fn fused_training(xs: &Tensor, train: bool) -> bool {
    train && xs.device().is_cpu()
}

/// A seed for a fused kernel's dropout masks, from the seeded dropout generator.
fn dropout_seed() -> u64 {
    DROPOUT_RNG.with(|r| r.borrow_mut().random())
}

fn dropout(xs: &Tensor, p: f32, train: bool) -> Result<Tensor> {
    if !(train && p > 0.0) {
        return Ok(xs.clone());
    }
    if fused_training(xs, train) {
        return fused::dropout(xs, p, dropout_seed());
    }
    let keep = 1.0 / (1.0 - p);
    let mask: Vec<f32> = DROPOUT_RNG.with(|r| {
        let mut r = r.borrow_mut();
        (0..xs.elem_count())
            .map(|_| if r.random::<f32>() < p { 0.0 } else { keep })
            .collect()
    });
    xs * Tensor::from_vec(mask, xs.shape(), xs.device())?
}

/// `xs · Wᵀ + b` over the last dimension. Training on the CPU takes the product as one 2-D
/// matmul and the bias through [`fused::add_bias`], whose backward pass is one contiguous sum.
fn linear_t(l: &Linear, xs: &Tensor, train: bool) -> Result<Tensor> {
    if !fused_training(xs, train) {
        return xs.apply(l);
    }
    let mut dims = xs.dims().to_vec();
    let k = dims.pop().unwrap_or(1);
    let n = xs.elem_count() / k.max(1);
    let y = xs.reshape((n, k))?.matmul(&l.weight().t()?)?;
    let y = match l.bias() {
        Some(b) => fused::add_bias(&y, b)?,
        None => y,
    };
    dims.push(y.dim(1)?);
    y.reshape(dims)
}

/// Multi-head self-attention with a fused QKV projection.
#[derive(Debug, Clone)]
pub struct Attention {
    qkv: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(Attention {
            qkv: linear(cfg.d_model, 3 * cfg.d_model, vb.pp("qkv"))?,
            out: linear(cfg.d_model, cfg.d_model, vb.pp("out"))?,
            heads: cfg.heads,
        })
    }

    /// `xs`: (B, T, d); `bias`: (B, 1, 1, T) additive mask (0 or -1e9).
    pub fn forward_t(
        &self,
        xs: &Tensor,
        bias: &Tensor,
        dropout_p: f32,
        train: bool,
    ) -> Result<Tensor> {
        let (b, t, d) = xs.dims3()?;
        let qkv = linear_t(&self.qkv, xs, train)?;
        if fused_training(xs, train) {
            let ctx = fused::attention(&qkv, bias, self.heads, dropout_p, dropout_seed())?;
            return linear_t(&self.out, &ctx, train);
        }
        let hd = d / self.heads;
        let qkv = qkv
            .reshape((b, t, 3, self.heads, hd))?
            .permute((2, 0, 3, 1, 4))?;
        let q = (qkv.get(0)?.contiguous()? * (1.0 / (hd as f64).sqrt()))?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let scores = q.matmul(&k.t()?)?.broadcast_add(bias)?;
        let probs = if train {
            ops::softmax(&scores, D::Minus1)?
        } else {
            ops::softmax_last_dim(&scores)?
        };
        let probs = dropout(&probs, dropout_p, train)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?;
        ctx.apply(&self.out)
    }
}

/// Position-wise GELU MLP.
#[derive(Debug, Clone)]
pub struct Mlp {
    fc1: Linear,
    fc2: Linear,
}

impl Mlp {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let hidden = cfg.d_model * cfg.ff_mult;
        Ok(Mlp {
            fc1: linear(cfg.d_model, hidden, vb.pp("fc1"))?,
            fc2: linear(hidden, cfg.d_model, vb.pp("fc2"))?,
        })
    }

    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let h = linear_t(&self.fc1, xs, train)?;
        let h = if fused_training(&h, train) {
            fused::gelu(&h)?
        } else {
            h.gelu()?
        };
        linear_t(&self.fc2, &h, train)
    }
}

/// One pre-LN transformer layer.
#[derive(Debug, Clone)]
pub struct Block {
    ln1: Norm,
    attn: Attention,
    ln2: Norm,
    mlp: Mlp,
}

impl Block {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(Block {
            ln1: Norm::new(cfg.d_model, vb.pp("ln1"))?,
            attn: Attention::new(cfg, vb.pp("attn"))?,
            ln2: Norm::new(cfg.d_model, vb.pp("ln2"))?,
            mlp: Mlp::new(cfg, vb.pp("mlp"))?,
        })
    }

    pub fn forward_t(&self, xs: &Tensor, bias: &Tensor, p: f32, train: bool) -> Result<Tensor> {
        let h = self
            .attn
            .forward_t(&self.ln1.forward_t(xs, train)?, bias, p, train)?;
        let xs = (xs + dropout(&h, p, train)?)?;
        let h = self
            .mlp
            .forward_t(&self.ln2.forward_t(&xs, train)?, train)?;
        xs + dropout(&h, p, train)?
    }
}

/// A padded batch of requests, ready for the forward pass.
#[derive(Debug, Clone)]
pub struct Batch {
    /// (B, T) u32 token ids, `PAD_ID` after each request's end.
    pub ids: Tensor,
    /// (B, T) f32, 1 for real tokens.
    pub mask: Tensor,
    /// (B, d_bag) f32 n-gram bag vectors, when the model has n-gram features.
    pub bag: Option<Tensor>,
    /// (B, T) u32 word shapes of the tokens ([`Batch::shapes`]), when the model has them.
    pub shapes: Option<Tensor>,
}

/// Rows padded with `fill` to the longest (at least 1): the flat `b × t` values and `t`.
fn pad_rows<S: AsRef<[u32]>>(rows: &[S], fill: u32) -> (Vec<u32>, usize) {
    let t = rows
        .iter()
        .map(|r| r.as_ref().len())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut flat = vec![fill; rows.len() * t];
    for (i, row) in rows.iter().enumerate() {
        let row = row.as_ref();
        flat[i * t..i * t + row.len()].copy_from_slice(row);
    }
    (flat, t)
}

impl Batch {
    /// Pads each request's word shapes (`crate::tokenizer::word_shapes`) to the longest, as
    /// [`Batch::tokens`] pads the ids (padding is shape 0, masked out anyway); `None` for a
    /// model without shapes (`n_shapes` 0).
    pub fn shapes<S: AsRef<[u32]>>(
        n_shapes: usize,
        shapes: &[S],
        device: &Device,
    ) -> Result<Option<Tensor>> {
        if n_shapes == 0 {
            return Ok(None);
        }
        let (flat, t) = pad_rows(shapes, 0);
        Ok(Some(Tensor::from_vec(flat, (shapes.len(), t), device)?))
    }

    /// Pads `ids` to the longest request.
    pub fn tokens<S: AsRef<[u32]>>(ids: &[S], device: &Device) -> Result<(Tensor, Tensor)> {
        let (flat, t) = pad_rows(ids, crate::tokenizer::PAD_ID);
        let mask: Vec<f32> = flat
            .chunks(t)
            .zip(ids)
            .flat_map(|(chunk, row)| {
                let n = row.as_ref().len();
                (0..chunk.len()).map(move |j| if j < n { 1.0 } else { 0.0 })
            })
            .collect();
        let b = ids.len();
        Ok((
            Tensor::from_vec(flat, (b, t), device)?,
            Tensor::from_vec(mask, (b, t), device)?,
        ))
    }
}

/// Sums TF-IDF-weighted rows of `rows` per request: `bag[b] = Σ_k w[b][k] · rows[idx[b][k]]`.
/// Differentiable in `rows` (index_select's backward is an index_add).
pub fn bag_vectors<I: AsRef<[u32]>, W: AsRef<[f32]>>(
    rows: &Tensor,
    idx: &[I],
    w: &[W],
) -> Result<Tensor> {
    let b = idx.len();
    let d = rows.dim(1)?;
    let f = idx
        .iter()
        .map(|r| r.as_ref().len())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut flat_idx = vec![0u32; b * f];
    let mut flat_w = vec![0f32; b * f];
    for (i, (ids, ws)) in idx.iter().zip(w).enumerate() {
        let (ids, ws) = (ids.as_ref(), ws.as_ref());
        flat_idx[i * f..i * f + ids.len()].copy_from_slice(ids);
        flat_w[i * f..i * f + ws.len()].copy_from_slice(ws);
    }
    let dev = rows.device();
    let gathered = rows
        .index_select(&Tensor::from_vec(flat_idx, b * f, dev)?, 0)?
        .reshape((b, f, d))?;
    let weights = Tensor::from_vec(flat_w, (b, f, 1), dev)?;
    gathered.broadcast_mul(&weights)?.sum(1)
}

/// What turns token embeddings into token states and one request vector.
#[derive(Debug, Clone)]
enum Body {
    /// The ToolController: positions, pre-LN transformer layers, a final layer norm; the request
    /// is the masked mean of the token states.
    Attention {
        pos_emb: Embedding,
        layers: Vec<Block>,
        ln_f: Norm,
    },
    /// The original prototype's encoder (`architecture: "gru"`): one GRU layer; the request is
    /// its state after the last real token.
    Gru(GRU),
}

/// The ToolController.
#[derive(Debug, Clone)]
pub struct ToolController {
    tok_emb: Embedding,
    /// Word-shape embeddings added to the token embeddings (`cfg.n_shapes` rows), when on.
    shape_emb: Option<Embedding>,
    body: Body,
    head: Linear,
    /// Token-level argument tagger (BIO over argument names), when the model has arguments.
    tagger: Option<Linear>,
    cfg: Config,
}

/// What the forward pass returns.
#[derive(Debug, Clone)]
pub struct Output {
    /// (B, n_labels) tool logits.
    pub logits: Tensor,
    /// (B, T, n_tags) argument tag logits, when the model has arguments.
    pub tags: Option<Tensor>,
    /// (B, d_model) the encoder's request vector, before the n-gram bag joins it.
    pub pooled: Tensor,
}

impl ToolController {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let body = if cfg.architecture == "gru" {
            Body::Gru(GRU::new(
                cfg.d_model,
                cfg.d_model,
                GRUConfig::default(),
                vb.pp("gru"),
            )?)
        } else {
            Body::Attention {
                pos_emb: embedding(cfg.max_tokens, cfg.d_model, vb.pp("pos_emb"))?,
                layers: (0..cfg.layers)
                    .map(|i| Block::new(cfg, vb.pp(format!("layers.{i}"))))
                    .collect::<Result<Vec<_>>>()?,
                ln_f: Norm::new(cfg.d_model, vb.pp("ln_f"))?,
            }
        };
        Ok(ToolController {
            tok_emb: embedding(cfg.vocab_size, cfg.d_model, vb.pp("tok_emb"))?,
            // Zero at the start: a shape the training texts never show (capitals in a
            // lower-cased dataset) adds nothing to its tokens at routing time.
            shape_emb: if cfg.n_shapes > 0 {
                let w = vb.pp("shape_emb").get_with_hints(
                    (cfg.n_shapes, cfg.d_model),
                    "weight",
                    candle_nn::Init::Const(0.0),
                )?;
                Some(Embedding::new(w, cfg.d_model))
            } else {
                None
            },
            body,
            head: linear(cfg.head_in(), cfg.n_labels, vb.pp("head"))?,
            tagger: if cfg.n_tags() > 1 {
                Some(linear(cfg.d_model, cfg.n_tags(), vb.pp("tagger"))?)
            } else {
                None
            },
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Token states (B, T, d_model) and one vector per request (B, d_model); `shapes` are the
    /// tokens' word shapes (B, T), which a model with shape embeddings needs.
    pub fn encode_t(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        shapes: Option<&Tensor>,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        self.encode_with(ids, mask, shapes, None, train)
    }

    /// [`Self::encode_t`] with the token embeddings taken from `rows` when given (see
    /// [`Self::forward_with`]).
    fn encode_with(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        shapes: Option<&Tensor>,
        rows: Option<&Tensor>,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        let mut tok = match rows {
            None => self.tok_emb.forward(ids)?,
            Some(r) => {
                let mut shape = ids.dims().to_vec();
                shape.push(r.dim(1)?);
                r.index_select(&ids.flatten_all()?, 0)?.reshape(shape)?
            }
        };
        if let Some(emb) = &self.shape_emb {
            let shapes = shapes.ok_or_else(|| {
                candle_core::Error::Msg("this model needs the tokens' word shapes".into())
            })?;
            tok = (tok + emb.forward(shapes)?)?;
        }
        match &self.body {
            Body::Attention {
                pos_emb,
                layers,
                ln_f,
            } => self.encode_attention(tok, mask, train, pos_emb, layers, ln_f),
            Body::Gru(gru) => self.encode_gru(tok, mask, train, gru),
        }
    }

    /// GRU states; a padded position keeps the previous state, so the last state is the one
    /// after the request's last real token.
    fn encode_gru(
        &self,
        tok: Tensor,
        mask: &Tensor,
        train: bool,
        gru: &GRU,
    ) -> Result<(Tensor, Tensor)> {
        let (b, t, _) = tok.dims3()?;
        let xs = dropout(&tok, self.cfg.dropout, train)?;
        let mut state = gru.zero_state(b)?;
        let mut hs = Vec::with_capacity(t);
        for i in 0..t {
            let next = gru.step(&xs.i((.., i, ..))?.contiguous()?, &state)?;
            let m = mask.i((.., i..i + 1))?;
            let h = (next.h.broadcast_mul(&m)? + state.h.broadcast_mul(&m.affine(-1.0, 1.0)?)?)?;
            hs.push(h.clone());
            state = GRUState { h };
        }
        Ok((Tensor::stack(&hs, 1)?, state.h))
    }

    /// Token states after the final layer norm, and their masked mean.
    fn encode_attention(
        &self,
        tok: Tensor,
        mask: &Tensor,
        train: bool,
        pos_emb: &Embedding,
        layers: &[Block],
        ln_f: &Norm,
    ) -> Result<(Tensor, Tensor)> {
        let (_b, t, _) = tok.dims3()?;
        let p = self.cfg.dropout;
        let pos = Tensor::arange(0u32, t as u32, tok.device())?;
        let pos = pos_emb.forward(&pos)?;
        let mut xs = if fused_training(&tok, train) {
            fused::add_bias(&tok, &pos)?
        } else {
            tok.broadcast_add(&pos)?
        };
        xs = dropout(&xs, p, train)?;
        // Additive attention bias: 0 where the key is a real token, -1e9 at padding.
        let bias = ((mask.ones_like()? - mask)? * -1e9)?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        for layer in layers {
            xs = layer.forward_t(&xs, &bias, p, train)?;
        }
        let xs = ln_f.forward_t(&xs, train)?;
        let m = mask.unsqueeze(2)?;
        let summed = xs.broadcast_mul(&m)?.sum(1)?;
        let count = mask.sum_keepdim(1)?.clamp(1.0, f64::MAX)?;
        let pooled = summed.broadcast_div(&count)?;
        Ok((xs, pooled))
    }

    /// The vector the head reads (B, head_in): the pooled request, then the n-gram bag.
    pub fn head_input(&self, batch: &Batch) -> Result<Tensor> {
        let (_, pooled) = self.encode_t(&batch.ids, &batch.mask, batch.shapes.as_ref(), false)?;
        match &batch.bag {
            Some(bag) => Tensor::cat(&[&pooled, bag], 1),
            None => Ok(pooled),
        }
    }

    /// Tool logits (B, n_labels) and, when the model has arguments, tag logits (B, T, n_tags).
    pub fn forward_t(&self, batch: &Batch, train: bool) -> Result<Output> {
        self.forward_with(batch, None, train)
    }

    /// [`Self::forward_t`] with the token embeddings taken from `rows` instead of the model's
    /// table, `batch.ids` indexing `rows`: training passes the few rows a batch touches as a
    /// small variable, so a step neither computes nor applies a gradient for the whole table.
    pub fn forward_with(
        &self,
        batch: &Batch,
        rows: Option<&Tensor>,
        train: bool,
    ) -> Result<Output> {
        let (states, pooled) =
            self.encode_with(&batch.ids, &batch.mask, batch.shapes.as_ref(), rows, train)?;
        let h = match &batch.bag {
            Some(bag) => Tensor::cat(&[&pooled, bag], 1)?,
            None => pooled.clone(),
        };
        let logits = linear_t(&self.head, &dropout(&h, self.cfg.dropout, train)?, train)?;
        let tags = match &self.tagger {
            Some(t) => Some(linear_t(
                t,
                &dropout(&states, self.cfg.dropout, train)?,
                train,
            )?),
            None => None,
        };
        Ok(Output {
            logits,
            tags,
            pooled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;
    use candle_nn::VarMap;

    fn zeros(shape: (usize, usize), dev: &Device) -> Result<Tensor> {
        Tensor::zeros(shape, DType::F32, dev)
    }

    fn cfg() -> Config {
        Config {
            vocab_size: 50,
            d_model: 16,
            layers: 2,
            heads: 2,
            max_tokens: 8,
            n_features: 30,
            d_bag: 8,
            n_labels: 3,
            arg_names: vec!["city".into()],
            ..Config::default()
        }
    }

    #[test]
    fn shapes_and_padding_do_not_leak() -> Result<()> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let m = ToolController::new(&cfg(), vb)?;
        let table = Tensor::randn(0f32, 1.0, (30, 8), &dev)?;
        let (ids, mask) = Batch::tokens(&[vec![2, 5, 6], vec![2, 7]], &dev)?;
        let bag = bag_vectors(&table, &[vec![1, 2], vec![3]], &[vec![0.6, 0.8], vec![1.0]])?;
        let logits = m
            .forward_t(
                &Batch {
                    ids,
                    mask,
                    bag: Some(bag),
                    shapes: None,
                },
                false,
            )?
            .logits;
        assert_eq!(logits.dims(), &[2, 3]);
        // The second request alone gives the same logits as when padded in a batch.
        let (ids1, mask1) = Batch::tokens(&[vec![2, 7]], &dev)?;
        let bag1 = bag_vectors(&table, &[vec![3]], &[vec![1.0]])?;
        let alone = m
            .forward_t(
                &Batch {
                    ids: ids1,
                    mask: mask1,
                    bag: Some(bag1),
                    shapes: None,
                },
                false,
            )?
            .logits;
        let diff = (logits.get(1)? - alone.get(0)?)?
            .abs()?
            .max(0)?
            .to_scalar::<f32>()?;
        assert!(diff < 1e-5, "padding changed the logits by {diff}");
        Ok(())
    }

    #[test]
    fn train_and_inference_paths_agree_without_dropout() -> Result<()> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let c = Config {
            dropout: 0.0,
            ..cfg()
        };
        let m = ToolController::new(&c, VarBuilder::from_varmap(&vm, DType::F32, &dev))?;
        let (ids, mask) = Batch::tokens(&[vec![2, 5, 6, 9], vec![2, 7]], &dev)?;
        let bag = Some(zeros((2, 8), &dev)?);
        let batch = Batch {
            ids,
            mask,
            bag,
            shapes: None,
        };
        let a = m.forward_t(&batch, true)?;
        let b = m.forward_t(&batch, false)?;
        let diff = (a.logits - b.logits)?
            .abs()?
            .max(0)?
            .max(0)?
            .to_scalar::<f32>()?;
        assert!(diff < 1e-4, "{diff}");
        if let (Some(ta), Some(tb)) = (a.tags, b.tags) {
            let d = (ta - tb)?
                .abs()?
                .flatten_all()?
                .max(0)?
                .to_scalar::<f32>()?;
            assert!(d < 1e-4, "{d}");
        }
        Ok(())
    }
}
