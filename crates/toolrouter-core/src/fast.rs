//! The CPU inference path of `route()`: the attention ToolController's forward pass for one
//! request, written out by hand. candle's generic CPU forward spends most of a batch-1 request
//! in per-op dispatch and allocation (~0.5 ms for a model whose arithmetic takes tens of µs);
//! here the weights candle trained are laid out once at load time (transposed to `in × out`),
//! every buffer is a per-thread scratch reused across requests, and layer norm, attention and
//! GELU are fused loops that LLVM vectorises, compiled three times (AVX-512, AVX2 + FMA, and the
//! portable baseline) with the best one the CPU supports picked at load time. The matrix
//! products go to the `gemm` crate (candle's own CPU kernels, without candle's dispatch).
//!
//! Outputs equal candle's to 1e-4 (tests below, on random weights; `tests/fast_path.rs` on
//! trained models).

use crate::error::{Error, Result};
use crate::model::Config;
use candle_core::{Storage, Tensor};
use std::cell::RefCell;
use std::collections::HashMap;

const LN_EPS: f32 = 1e-5;

/// A dense layer, `y = x · w + b`, with `w` stored `in × out` (row-major).
#[derive(Debug, Clone)]
struct Dense {
    w: Vec<f32>,
    /// `w` in 16-column panels for the AVX-512 kernel (see [`pack16`]).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    packed: Vec<f32>,
    b: Vec<f32>,
    n_in: usize,
    n_out: usize,
}

impl Dense {
    /// From candle's `(out, in)` weight and `(out)` bias; `pack`: also lay it out for the
    /// AVX-512 kernel (only where that kernel runs: elsewhere the copy would go unread).
    fn load(weights: &HashMap<String, Tensor>, name: &str, pack: bool) -> Result<Dense> {
        let w = get(weights, &format!("{name}.weight"))?;
        let (n_out, n_in) = w
            .dims2()
            .map_err(|e| Error::Internal(format!("{name}.weight: {e}")))?;
        let w: Vec<f32> = w.t()?.contiguous()?.flatten_all()?.to_vec1()?;
        let b: Vec<f32> = get(weights, &format!("{name}.bias"))?.to_vec1()?;
        if b.len() != n_out {
            return Err(Error::Internal(format!(
                "{name}.bias has {} values",
                b.len()
            )));
        }
        Ok(Dense {
            packed: if pack {
                pack16(&w, n_in, n_out)
            } else {
                Vec::new()
            },
            w,
            b,
            n_in,
            n_out,
        })
    }
}

#[derive(Debug, Clone)]
struct Norm {
    w: Vec<f32>,
    b: Vec<f32>,
}

impl Norm {
    fn load(weights: &HashMap<String, Tensor>, name: &str) -> Result<Norm> {
        Ok(Norm {
            w: get(weights, &format!("{name}.weight"))?.to_vec1()?,
            b: get(weights, &format!("{name}.bias"))?.to_vec1()?,
        })
    }
}

#[derive(Debug, Clone)]
struct Layer {
    ln1: Norm,
    qkv: Dense,
    out: Dense,
    ln2: Norm,
    fc1: Dense,
    fc2: Dense,
}

fn get<'a>(weights: &'a HashMap<String, Tensor>, name: &str) -> Result<&'a Tensor> {
    weights
        .get(name)
        .ok_or_else(|| Error::Internal(format!("missing weight {name}")))
}

fn flat(weights: &HashMap<String, Tensor>, name: &str) -> Result<Vec<f32>> {
    Ok(get(weights, name)?.flatten_all()?.to_vec1()?)
}

/// Which compiled copy of the kernels runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    Avx2,
    Portable,
}

impl Isa {
    /// The best the running CPU supports.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2+fma",
            Isa::Portable => "portable",
        }
    }
}

/// A copy of `FastModel::run` compiled with extra target features.
macro_rules! run_with_features {
    ($(#[$doc:meta])* $name:ident, $features:literal) => {
        $(#[$doc])*
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name(
            &self,
            s: &mut Scratch,
            reqs: &[FastInput],
            bag: Option<&[f32]>,
        ) -> Result<Vec<FastOutput>> {
            self.run(s, reqs, bag)
        }
    };
}

/// The weights of an attention ToolController, laid out for [`FastModel::forward`].
#[derive(Debug, Clone)]
pub struct FastModel {
    d: usize,
    heads: usize,
    max_tokens: usize,
    vocab: usize,
    d_bag: usize,
    tok_emb: Vec<f32>,
    pos_emb: Vec<f32>,
    /// Word-shape rows added to the token rows (`n_shapes × d`), when the model has them.
    shape_emb: Option<Vec<f32>>,
    n_shapes: usize,
    layers: Vec<Layer>,
    ln_f: Norm,
    head: Dense,
    tagger: Option<Dense>,
    /// The n-gram table stays in the candle tensor (it is the bulk of the model); read in place.
    bag: Option<Tensor>,
    isa: Isa,
}

/// Per-thread buffers, grown to the largest batch seen and then reused. Token rows of all the
/// requests of a batch are stacked (`x`, `h`, `qkv`, `ctx`, `ff`, `tags`); `feat` and `logits`
/// hold one row per request.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    h: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    ff: Vec<f32>,
    scores: Vec<f32>,
    feat: Vec<f32>,
    logits: Vec<f32>,
    tags: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn grow(v: &mut Vec<f32>, n: usize) {
    if v.len() < n {
        v.resize(n, 0.0);
    }
}

/// One request for [`FastModel::forward_batch`]: token ids (`[CLS]` first), their word shapes
/// (read only by a model with shape embeddings) and its n-gram feature ids with their weights.
#[derive(Debug, Clone, Copy)]
pub struct FastInput<'a> {
    pub ids: &'a [u32],
    pub shapes: &'a [u32],
    pub feat_ids: &'a [u32],
    pub feat_w: &'a [f32],
}

/// What one forward pass returns.
#[derive(Debug, Clone)]
pub struct FastOutput {
    pub logits: Vec<f32>,
    /// (T, n_tags) tag scores, row-major, when the model has a tagger.
    pub tags: Option<Vec<f32>>,
    pub n_tags: usize,
}

impl FastModel {
    /// Lays out the weights of an attention model; `None` for architectures it does not cover.
    pub fn new(cfg: &Config, weights: &HashMap<String, Tensor>) -> Result<Option<FastModel>> {
        Self::with_isa(cfg, weights, Isa::detect())
    }

    /// As [`FastModel::new`], with the kernels of `isa` (which the CPU must support: a
    /// request for more than [`Isa::detect`] gives the detected one).
    pub fn with_isa(
        cfg: &Config,
        weights: &HashMap<String, Tensor>,
        isa: Isa,
    ) -> Result<Option<FastModel>> {
        if cfg.architecture != "attention" {
            return Ok(None);
        }
        let best = Isa::detect();
        let isa = match (isa, best) {
            (Isa::Avx512, b) if b != Isa::Avx512 => b,
            (Isa::Avx2, Isa::Portable) => Isa::Portable,
            (i, _) => i,
        };
        let pack = isa == Isa::Avx512;
        let layers = (0..cfg.layers)
            .map(|i| {
                let p = format!("layers.{i}");
                Ok(Layer {
                    ln1: Norm::load(weights, &format!("{p}.ln1"))?,
                    qkv: Dense::load(weights, &format!("{p}.attn.qkv"), pack)?,
                    out: Dense::load(weights, &format!("{p}.attn.out"), pack)?,
                    ln2: Norm::load(weights, &format!("{p}.ln2"))?,
                    fc1: Dense::load(weights, &format!("{p}.mlp.fc1"), pack)?,
                    fc2: Dense::load(weights, &format!("{p}.mlp.fc2"), pack)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let bag = if cfg.n_features > 0 {
            Some(get(weights, "bag.table")?.contiguous()?)
        } else {
            None
        };
        Ok(Some(FastModel {
            d: cfg.d_model,
            heads: cfg.heads,
            max_tokens: cfg.max_tokens,
            vocab: cfg.vocab_size,
            d_bag: if cfg.n_features > 0 { cfg.d_bag } else { 0 },
            tok_emb: flat(weights, "tok_emb.weight")?,
            pos_emb: flat(weights, "pos_emb.weight")?,
            shape_emb: if cfg.n_shapes > 0 {
                Some(flat(weights, "shape_emb.weight")?)
            } else {
                None
            },
            n_shapes: cfg.n_shapes,
            layers,
            ln_f: Norm::load(weights, "ln_f")?,
            head: Dense::load(weights, "head", pack)?,
            tagger: if cfg.n_tags() > 1 {
                Some(Dense::load(weights, "tagger", pack)?)
            } else {
                None
            },
            bag,
            isa,
        }))
    }

    /// Reloads the output head alone from `weights` (the tools changed, nothing else did).
    pub fn set_head(&mut self, weights: &HashMap<String, Tensor>) -> Result<()> {
        self.head = Dense::load(weights, "head", self.isa == Isa::Avx512)?;
        Ok(())
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Bytes of the weights this path keeps beside candle's (its own layout and, with AVX-512,
    /// the packed copy of the dense layers); the n-gram table is read in place.
    pub fn bytes(&self) -> usize {
        let dense = |l: &Dense| (l.w.len() + l.packed.len() + l.b.len()) * 4;
        let layers: usize = self
            .layers
            .iter()
            .map(|l| {
                dense(&l.qkv)
                    + dense(&l.out)
                    + dense(&l.fc1)
                    + dense(&l.fc2)
                    + (l.ln1.w.len() + l.ln1.b.len() + l.ln2.w.len() + l.ln2.b.len()) * 4
            })
            .sum();
        let tables =
            self.tok_emb.len() + self.pos_emb.len() + self.shape_emb.as_ref().map_or(0, Vec::len);
        layers + dense(&self.head) + self.tagger.as_ref().map_or(0, dense) + tables * 4
    }

    /// The matrix products of one forward pass over `t` tokens, as `(m, k, n)`.
    pub fn matmul_shapes(&self, t: usize) -> Vec<(usize, usize, usize)> {
        let mut v = Vec::new();
        for l in &self.layers {
            for dense in [&l.qkv, &l.out, &l.fc1, &l.fc2] {
                v.push((t, dense.n_in, dense.n_out));
            }
        }
        v.push((1, self.head.n_in, self.head.n_out));
        if let Some(tg) = &self.tagger {
            v.push((t, tg.n_in, tg.n_out));
        }
        v
    }

    /// Floating-point operations of one forward pass over `t` tokens (a multiply-add is 2).
    pub fn flops(&self, t: usize) -> u64 {
        let products: u64 = self
            .matmul_shapes(t)
            .iter()
            .map(|&(m, k, n)| 2 * (m * k * n) as u64)
            .sum();
        // Attention scores and weighted values, per layer.
        products + self.layers.len() as u64 * 4 * (t * t * self.d) as u64
    }

    /// Logits (and tag scores) for one request: token ids (`[CLS]` first), their word shapes,
    /// and its n-gram feature ids with their weights.
    pub fn forward(
        &self,
        ids: &[u32],
        shapes: &[u32],
        feat_ids: &[u32],
        feat_w: &[f32],
    ) -> Result<FastOutput> {
        let req = FastInput {
            ids,
            shapes,
            feat_ids,
            feat_w,
        };
        self.forward_batch(&[req])?
            .pop()
            .ok_or_else(|| Error::Internal("the forward pass returned nothing".into()))
    }

    /// [`FastModel::forward`] for several requests at once, one output each, in order. Their
    /// token rows are stacked so each dense product runs once over all of them (the `gemm`
    /// kernels reach a higher rate on tall matrices than on one request's ten-odd rows);
    /// attention, pooling and the n-gram bag stay per request. Outputs equal the one-request
    /// forward's to rounding.
    pub fn forward_batch(&self, reqs: &[FastInput]) -> Result<Vec<FastOutput>> {
        for r in reqs {
            if r.ids.is_empty() {
                return Err(Error::Internal("a request without tokens".into()));
            }
            if let Some(&bad) = r.ids.iter().find(|&&i| i as usize >= self.vocab) {
                return Err(Error::Internal(format!(
                    "token id {bad} outside the vocabulary"
                )));
            }
            if self.shape_emb.is_some() {
                let t = r.ids.len().min(self.max_tokens);
                if r.shapes.len() < t || r.shapes[..t].iter().any(|&s| s as usize >= self.n_shapes)
                {
                    return Err(Error::Internal(
                        "word shapes missing or outside the model's".into(),
                    ));
                }
            }
        }
        if reqs.is_empty() {
            return Ok(Vec::new());
        }
        let guard;
        let bag: Option<&[f32]> = match &self.bag {
            Some(tensor) => {
                let (storage, layout) = tensor.storage_and_layout();
                guard = (storage, layout.start_offset());
                match &*guard.0 {
                    Storage::Cpu(cpu) => Some(&cpu.as_slice::<f32>()?[guard.1..]),
                    _ => return Err(Error::Internal("the fast path needs CPU weights".into())),
                }
            }
            None => None,
        };
        SCRATCH.with(|s| {
            let s = &mut *s.borrow_mut();
            match self.isa {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `isa` is Avx512 only when the CPU reported avx512f, avx2 and fma
                // (`Isa::detect`, enforced in `with_isa`).
                Isa::Avx512 => unsafe { self.run_avx512(s, reqs, bag) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above, for avx2 and fma.
                Isa::Avx2 => unsafe { self.run_avx2(s, reqs, bag) },
                _ => self.run(s, reqs, bag),
            }
        })
    }

    run_with_features!(
        /// `run` compiled for AVX-512 (everything it calls is `inline(always)`).
        run_avx512,
        "avx512f,avx2,fma"
    );
    run_with_features!(
        /// `run` compiled for AVX2 + FMA.
        run_avx2,
        "avx2,fma"
    );

    /// Each request's first row in the stacked token rows and its row count (its tokens,
    /// truncated to `max_tokens`).
    #[inline(always)]
    fn spans<'a>(&self, reqs: &'a [FastInput]) -> impl Iterator<Item = (usize, usize)> + 'a {
        let max_tokens = self.max_tokens;
        reqs.iter().scan(0, move |row, r| {
            let t = r.ids.len().min(max_tokens);
            let start = *row;
            *row += t;
            Some((start, t))
        })
    }

    #[inline(always)]
    fn run(
        &self,
        s: &mut Scratch,
        reqs: &[FastInput],
        bag: Option<&[f32]>,
    ) -> Result<Vec<FastOutput>> {
        let (n, t_max) = self
            .spans(reqs)
            .fold((0, 0), |(n, m), (_, t)| (n + t, m.max(t)));
        let b = reqs.len();
        let d = self.d;
        let head_in = d + self.d_bag;
        let n_tags = self.tagger.as_ref().map_or(1, |tg| tg.n_out);
        let tag_cols = self.tagger.as_ref().map_or(0, |tg| tg.n_out);
        let hidden = self.layers.first().map_or(0, |l| l.fc1.n_out);
        grow(&mut s.x, n * d);
        grow(&mut s.h, n * d);
        grow(&mut s.qkv, n * 3 * d);
        grow(&mut s.ctx, n * d);
        grow(&mut s.ff, n * hidden.max(1));
        let tp = t_max.next_multiple_of(LANES);
        grow(&mut s.scores, tp * (d / self.heads.max(1) + QUERIES));
        grow(&mut s.feat, b * head_in);
        grow(&mut s.logits, b * self.head.n_out);
        grow(&mut s.tags, n * tag_cols);
        let x = &mut s.x[..n * d];
        for ((start, t), r) in self.spans(reqs).zip(reqs) {
            for (i, &id) in r.ids[..t].iter().enumerate() {
                let e = &self.tok_emb[id as usize * d..(id as usize + 1) * d];
                let p = &self.pos_emb[i * d..(i + 1) * d];
                let row = &mut x[(start + i) * d..(start + i + 1) * d];
                // Candle's order: (token + shape) + position.
                match &self.shape_emb {
                    Some(shapes) => {
                        let k = r.shapes[i] as usize;
                        let sh = &shapes[k * d..(k + 1) * d];
                        for (((o, a), s), b) in row.iter_mut().zip(e).zip(sh).zip(p) {
                            *o = (a + s) + b;
                        }
                    }
                    None => {
                        for ((o, a), b) in row.iter_mut().zip(e).zip(p) {
                            *o = a + b;
                        }
                    }
                }
            }
        }
        let hd = d / self.heads;
        let scale = 1.0 / (hd as f32).sqrt();
        for l in &self.layers {
            let h = &mut s.h[..n * d];
            layer_norm(x, h, &l.ln1, d);
            let qkv = &mut s.qkv[..n * 3 * d];
            matmul(self.isa, h, &l.qkv, qkv, n);
            let ctx = &mut s.ctx[..n * d];
            for (start, t) in self.spans(reqs) {
                let (q, c) = (
                    &qkv[start * 3 * d..(start + t) * 3 * d],
                    &mut ctx[start * d..(start + t) * d],
                );
                #[cfg(target_arch = "x86_64")]
                if self.isa == Isa::Avx512 && hd == HEAD16 && t <= LANES_MAX_TOKENS {
                    // SAFETY: `isa` is Avx512 only when the CPU reported avx512f (`Isa::detect`,
                    // enforced in `with_isa`).
                    unsafe { attention16_lanes_avx512(q, c, t, d, scale) };
                    continue;
                }
                attention(q, c, &mut s.scores, t, d, self.heads, hd, scale);
            }
            matmul_add(self.isa, ctx, &l.out, x, n);
            layer_norm(x, h, &l.ln2, d);
            let ff = &mut s.ff[..n * hidden];
            matmul(self.isa, h, &l.fc1, ff, n);
            #[cfg(target_arch = "x86_64")]
            if self.isa == Isa::Avx512 {
                // SAFETY: `isa` is Avx512 only when the CPU reported avx512f (`Isa::detect`,
                // enforced in `with_isa`).
                unsafe { gelu16(ff) };
            } else {
                gelu(ff);
            }
            #[cfg(not(target_arch = "x86_64"))]
            gelu(ff);
            matmul_add(self.isa, ff, &l.fc2, x, n);
        }
        let h = &mut s.h[..n * d];
        layer_norm(x, h, &self.ln_f, d);
        let feat = &mut s.feat[..b * head_in];
        for (((start, t), r), f) in self
            .spans(reqs)
            .zip(reqs)
            .zip(feat.chunks_exact_mut(head_in))
        {
            self.pool(&h[start * d..(start + t) * d], r, bag, f)?;
        }
        let logits = &mut s.logits[..b * self.head.n_out];
        matmul(self.isa, feat, &self.head, logits, b);
        let tags = &mut s.tags[..n * tag_cols];
        if let Some(tg) = &self.tagger {
            matmul(self.isa, h, tg, tags, n);
        }
        Ok(self
            .spans(reqs)
            .zip(logits.chunks_exact(self.head.n_out))
            .map(|((start, t), z)| FastOutput {
                logits: z.to_vec(),
                tags: self
                    .tagger
                    .as_ref()
                    .map(|_| tags[start * tag_cols..(start + t) * tag_cols].to_vec()),
                n_tags,
            })
            .collect())
    }

    /// The head's input for one request: the mean of its final token states `h` (`t × d`),
    /// then its n-gram bag `Σ w · table[id]`, into `out` (`d + d_bag`).
    #[inline(always)]
    fn pool(&self, h: &[f32], r: &FastInput, bag: Option<&[f32]>, out: &mut [f32]) -> Result<()> {
        let d = self.d;
        out.fill(0.0);
        for row in h.chunks_exact(d) {
            for (f, v) in out[..d].iter_mut().zip(row) {
                *f += v;
            }
        }
        let inv = 1.0 / (h.len() / d).max(1) as f32;
        out[..d].iter_mut().for_each(|f| *f *= inv);
        if let Some(table) = bag {
            let db = self.d_bag;
            // The table is the bulk of the model (tens of MB): its rows are cache misses, so
            // the next rows are fetched while the current one is added.
            const AHEAD: usize = 4;
            for &f in r.feat_ids.iter().take(AHEAD) {
                prefetch_row(table, f as usize * db, db);
            }
            for (k, (&f, &w)) in r.feat_ids.iter().zip(r.feat_w).enumerate() {
                if let Some(&next) = r.feat_ids.get(k + AHEAD) {
                    prefetch_row(table, next as usize * db, db);
                }
                let row = table
                    .get(f as usize * db..(f as usize + 1) * db)
                    .ok_or_else(|| Error::Internal(format!("n-gram id {f} outside the table")))?;
                for (o, v) in out[d..].iter_mut().zip(row) {
                    *o += w * v;
                }
            }
        }
        Ok(())
    }
}

/// Asks the CPU to bring `table[start..start + len]` into cache (a hint: no effect on results,
/// nothing outside the slice is touched).
#[inline(always)]
fn prefetch_row(table: &[f32], start: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let Some(row) = table.get(start..start + len) else {
            return;
        };
        for line in row.chunks(16) {
            // SAFETY: a prefetch is a hint that never faults; the pointer is inside `row`.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    line.as_ptr().cast(),
                )
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (table, start, len);
}

/// Σ (a − c)² with eight independent accumulators: a plain `.sum()` is one dependent chain
/// of additions (LLVM may not reorder float adds), eight chains vectorise.
#[inline(always)]
fn centered_sq(a: &[f32], c: f32) -> f32 {
    let mut acc = [0f32; 8];
    let ch = a.chunks_exact(8);
    let rest = ch.remainder();
    for x in ch {
        for i in 0..8 {
            acc[i] += (x[i] - c) * (x[i] - c);
        }
    }
    acc.iter().sum::<f32>() + rest.iter().map(|x| (x - c) * (x - c)).sum::<f32>()
}

/// Σ a, as [`centered_sq`].
#[inline(always)]
fn sum(a: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ch = a.chunks_exact(8);
    let rest = ch.remainder();
    for x in ch {
        for i in 0..8 {
            acc[i] += x[i];
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// `out[r] = layer_norm(x[r])` for each row of width `d`.
#[inline(always)]
fn layer_norm(x: &[f32], out: &mut [f32], n: &Norm, d: usize) {
    for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let mean = sum(row) / d as f32;
        let var = centered_sq(row, mean) / d as f32;
        let inv = 1.0 / (var + LN_EPS).sqrt();
        for (((o, v), w), b) in o.iter_mut().zip(row).zip(&n.w).zip(&n.b) {
            *o = (v - mean) * inv * w + b;
        }
    }
}

/// `out = x · w + b` for `m` rows.
#[inline(always)]
fn matmul(isa: Isa, x: &[f32], l: &Dense, out: &mut [f32], m: usize) {
    dense(isa, x, l, out, m, false);
}

/// `acc += x · w + b` for `m` rows (the residual connections).
#[inline(always)]
fn matmul_add(isa: Isa, x: &[f32], l: &Dense, acc: &mut [f32], m: usize) {
    dense(isa, x, l, acc, m, true);
}

/// `c = x · w + b` (or `c += …` when `add`) for `m` rows: the packed AVX-512 kernel where the
/// CPU has it (the bias enters as its sums start), else the `gemm` crate after a pass that
/// puts the bias in `c`.
#[inline(always)]
fn dense(isa: Isa, x: &[f32], l: &Dense, c: &mut [f32], m: usize, add: bool) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        let init = if add {
            Init::AddBias(&l.b)
        } else {
            Init::Bias(&l.b)
        };
        // SAFETY: `isa` is Avx512 only when the CPU reported avx512f (`Isa::detect`, enforced
        // in `with_isa`).
        unsafe { gemm_packed16(x, &l.packed, c, m, l.n_in, l.n_out, init) };
        return;
    }
    let _ = isa;
    for row in c.chunks_exact_mut(l.n_out).take(m) {
        if add {
            row.iter_mut().zip(&l.b).for_each(|(a, b)| *a += b);
        } else {
            row.copy_from_slice(&l.b);
        }
    }
    gemm_crate_acc(x, &l.w, c, m, l.n_in, l.n_out);
}

/// `w` (`k × n`, row-major) as panels of 16 columns, each `k × 16` and contiguous, the last
/// one padded with zeros: the layout the AVX-512 kernel streams, laid out once at load time.
fn pack16(w: &[f32], k: usize, n: usize) -> Vec<f32> {
    let panels = n.div_ceil(16);
    let mut out = vec![0f32; panels * k * 16];
    for p in 0..panels {
        for kk in 0..k {
            for j in 0..16.min(n - p * 16) {
                out[(p * k + kk) * 16 + j] = w[kk * n + p * 16 + j];
            }
        }
    }
    out
}

/// What [`gemm_packed16`]'s sums start from: the bias is added as a tile's registers are
/// loaded, not by a pass over `c` before (a copy per row was 3% of a route).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum Init<'a> {
    /// `c += a · w`.
    Add,
    /// `c = b + a · w` (`b`: `n` values).
    Bias(&'a [f32]),
    /// `c += b + a · w`, in that order (`(c + b) + a · w`, as the residual connections were).
    AddBias(&'a [f32]),
}

/// Rows of `c` per register tile of [`gemm_packed16`].
#[cfg(target_arch = "x86_64")]
const PACKED_ROWS: usize = 6;

/// `c (m × n) += a (m × k) · w (k × n)`, `w` packed by [`pack16`]. Tiles of up to 6 rows × 32
/// columns stay in twelve AVX-512 registers while `k` runs: per step two panel loads and six
/// broadcasts feed twelve fused multiply-adds. The `gemm` crate runs AVX2 kernels on stable
/// Rust and packs `w` again on every call; on the model's shapes this reaches about twice its
/// rate (`npm run bench`: the forward's rate beside the plain products' floor).
///
/// # Safety
/// The CPU must support avx512f.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gemm_packed16(
    a: &[f32],
    packed: &[f32],
    c: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
    init: Init,
) {
    let panels = n.div_ceil(16);
    assert!(a.len() >= m * k && packed.len() >= panels * k * 16 && c.len() >= m * n);
    if let Init::Bias(b) | Init::AddBias(b) = init {
        assert!(b.len() >= n);
    }
    let mut p = 0;
    while p < panels {
        let two = p + 1 < panels;
        let mut r = 0;
        while r < m {
            let rows = (m - r).min(PACKED_ROWS);
            // SAFETY: rows r..r + rows of `a` and `c`, panels p (and p + 1) of `packed`, are
            // inside the buffers checked by the assert; the tile masks the columns past `n`.
            unsafe {
                macro_rules! tile {
                    ($($r:literal)*) => {
                        match (rows, two) {
                            $(($r, true) => tile16::<$r, 2>(a, packed, c, r, p, k, n, init),
                              ($r, false) => tile16::<$r, 1>(a, packed, c, r, p, k, n, init),)*
                            _ => unreachable!(),
                        }
                    };
                }
                tile!(1 2 3 4 5 6)
            }
            r += rows;
        }
        p += if two { 2 } else { 1 };
    }
}

/// One `R × 16·P` tile of [`gemm_packed16`]: rows `r..r + R` of `c`, panels `p..p + P`.
///
/// # Safety
/// The CPU must support avx512f; the rows and panels must exist (the caller's assert).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn tile16<const R: usize, const P: usize>(
    a: &[f32],
    packed: &[f32],
    c: &mut [f32],
    r: usize,
    p: usize,
    k: usize,
    n: usize,
    init: Init,
) {
    use std::arch::x86_64::*;
    let masks: [__mmask16; P] = std::array::from_fn(|j| match n - (p + j) * 16 {
        v if v >= 16 => !0,
        v => (1u16 << v) - 1,
    });
    let cp = c.as_mut_ptr();
    let ap = a.as_ptr();
    let bp = packed.as_ptr().add(p * k * 16);
    // SAFETY (the loads): columns past `n` are masked; `b` has `n` values (the caller's assert).
    let load_c = |i: usize, j: usize| unsafe {
        _mm512_maskz_loadu_ps(masks[j], cp.add((r + i) * n + (p + j) * 16))
    };
    let load_b = |b: &[f32], j: usize| unsafe {
        _mm512_maskz_loadu_ps(masks[j], b.as_ptr().add((p + j) * 16))
    };
    let mut acc: [[__m512; P]; R] = std::array::from_fn(|i| {
        std::array::from_fn(|j| match init {
            Init::Add => load_c(i, j),
            Init::Bias(b) => load_b(b, j),
            Init::AddBias(b) => _mm512_add_ps(load_c(i, j), load_b(b, j)),
        })
    });
    for kk in 0..k {
        let b: [__m512; P] =
            std::array::from_fn(|j| unsafe { _mm512_loadu_ps(bp.add((j * k + kk) * 16)) });
        for (i, row) in acc.iter_mut().enumerate() {
            let x = _mm512_set1_ps(unsafe { *ap.add((r + i) * k + kk) });
            for (acc, b) in row.iter_mut().zip(&b) {
                *acc = _mm512_fmadd_ps(x, *b, *acc);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            unsafe { _mm512_mask_storeu_ps(cp.add((r + i) * n + (p + j) * 16), masks[j], *v) };
        }
    }
}

/// `c (m × n) += a (m × k) · b (k × n)`, row-major, with the `gemm` crate (candle's CPU
/// matmul kernels, runtime-dispatched: AVX2 + FMA at most on stable Rust, its AVX-512 kernels
/// being behind its `nightly` feature): on the model's shapes it runs at about 4× the rate of
/// the tiled loop below (measured by `npm run bench`).
#[inline(always)]
fn gemm_crate_acc(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // SAFETY: the assert above keeps every access inside the three row-major buffers
    // (row strides k, n and n; column stride 1); `c` does not alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            true,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

const MR: usize = 4;
const NR: usize = 16;

/// `c (m × n) += a (m × k) · b (k × n)`, all row-major. A 4 × 16 tile of `c` stays in
/// registers while `k` runs; edges fall back to the same loop with shorter bounds. Kept as the
/// bench's second measure of the floor and as a check on the `gemm` crate.
#[inline(always)]
pub(crate) fn gemm_acc(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    let mut i0 = 0;
    while i0 < m {
        let mr = MR.min(m - i0);
        let mut j0 = 0;
        while j0 < n {
            let nr = NR.min(n - j0);
            if mr == MR && nr == NR {
                let mut acc = [[0f32; NR]; MR];
                for p in 0..k {
                    let brow: &[f32; NR] = b[p * n + j0..p * n + j0 + NR]
                        .try_into()
                        .unwrap_or(&[0.0; NR]);
                    for (r, accr) in acc.iter_mut().enumerate() {
                        let av = a[(i0 + r) * k + p];
                        for (x, bv) in accr.iter_mut().zip(brow) {
                            *x += av * bv;
                        }
                    }
                }
                for (r, accr) in acc.iter().enumerate() {
                    let crow = &mut c[(i0 + r) * n + j0..(i0 + r) * n + j0 + NR];
                    for (x, v) in crow.iter_mut().zip(accr) {
                        *x += v;
                    }
                }
            } else {
                for r in 0..mr {
                    let crow = &mut c[(i0 + r) * n + j0..(i0 + r) * n + j0 + nr];
                    for p in 0..k {
                        let av = a[(i0 + r) * k + p];
                        for (x, bv) in crow.iter_mut().zip(&b[p * n + j0..p * n + j0 + nr]) {
                            *x += av * bv;
                        }
                    }
                }
            }
            j0 += NR;
        }
        i0 += MR;
    }
}

/// `gemm_acc` compiled for `isa`.
fn gemm_isa(isa: Isa, a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn avx512(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
            gemm_acc(a, b, c, m, k, n)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
            gemm_acc(a, b, c, m, k, n)
        }
        match isa {
            // SAFETY: `isa` comes from `Isa::detect` (the bench passes the model's own).
            Isa::Avx512 if Isa::detect() == Isa::Avx512 => {
                return unsafe { avx512(a, b, c, m, k, n) }
            }
            // SAFETY: as above.
            Isa::Avx2 | Isa::Avx512 if Isa::detect() != Isa::Portable => {
                return unsafe { avx2(a, b, c, m, k, n) }
            }
            _ => {}
        }
    }
    let _ = isa;
    gemm_acc(a, b, c, m, k, n)
}

/// Single-thread GFLOP/s of `c += a · b`, `(m × k) · (k × n)` in f32, over at least `min_ms`
/// of repeats: with this module's plain tiled kernel (for `isa`), with the `gemm` crate
/// (candle's CPU matmul), and with the product the forward runs for `isa` (the packed AVX-512
/// kernel, its weights packed beforehand as at load time; else the `gemm` crate). The bench
/// divides a request's FLOPs by the better of the first two: the floor; by the best of all
/// three: the stricter floor.
pub fn matmul_rates(isa: Isa, m: usize, k: usize, n: usize, min_ms: f64) -> (f64, f64, f64) {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0f32; m * n];
    let flops = 2.0 * (m * k * n) as f64;
    let time = |f: &mut dyn FnMut()| {
        for _ in 0..50 {
            f();
        }
        let start = std::time::Instant::now();
        let mut reps = 0u64;
        while start.elapsed().as_secs_f64() * 1e3 < min_ms {
            for _ in 0..100 {
                f();
            }
            reps += 100;
        }
        flops * reps as f64 / start.elapsed().as_secs_f64() / 1e9
    };
    let ours = time(&mut || gemm_isa(isa, &a, &b, &mut c, m, k, n));
    let crate_rate = time(&mut || gemm_crate_acc(&a, &b, &mut c, m, k, n));
    let mut forward_rate = crate_rate;
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && Isa::detect() == Isa::Avx512 && m > 0 && k > 0 && n > 0 {
        let packed = pack16(&b, k, n);
        // SAFETY: the CPU reported avx512f (`Isa::detect`), whatever `isa` the caller passed.
        forward_rate =
            time(&mut || unsafe { gemm_packed16(&a, &packed, &mut c, m, k, n, Init::Add) });
    }
    std::hint::black_box(&c);
    (ours, crate_rate, forward_rate)
}

/// Lanes of the attention's register blocks: one AVX-512 vector, two AVX2 ones.
const LANES: usize = 16;
/// Queries the attention scores and sums together: each key or value block loaded feeds this
/// many independent accumulators instead of one dependent chain. (`attention` zips four.)
const QUERIES: usize = 4;

/// Multi-head self-attention over all `t` tokens of one request (no padding) from the fused
/// `qkv` rows (`[q | k | v]`, each `d` wide, head `h` at columns `h·hd..`). Each head's keys
/// are first copied transposed (`hd × t`), so a query's `t` scores build up as `hd` vector
/// updates across the keys instead of `t` short dot products each ending in a horizontal sum.
/// Scores and outputs are summed in local `QUERIES × LANES` arrays, which stay in registers:
/// summed in place in memory, every update was a store the next one loaded back (by `perf`,
/// half of the forward's time outside the matrix products).
/// `scratch` holds `(hd + QUERIES)·t'` floats, `t'` being `t` rounded up to `LANES`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn attention(
    qkv: &[f32],
    ctx: &mut [f32],
    scratch: &mut [f32],
    t: usize,
    d: usize,
    heads: usize,
    hd: usize,
    scale: f32,
) {
    let w = 3 * d;
    // Keys padded to whole blocks: the padding lanes score -1e30, so they weigh nothing.
    let tp = t.next_multiple_of(LANES);
    let (kt, probs) = scratch.split_at_mut(hd * tp);
    let probs = &mut probs[..QUERIES * tp];
    kt.fill(0.0);
    for h in 0..heads {
        for j in 0..t {
            let k = &qkv[j * w + d + h * hd..j * w + d + (h + 1) * hd];
            for (c, &v) in k.iter().enumerate() {
                kt[c * tp + j] = v;
            }
        }
        for i0 in (0..t).step_by(QUERIES) {
            // Past the last query the block repeats it; those rows are not stored.
            let q: [&[f32]; QUERIES] = std::array::from_fn(|r| {
                let i = (i0 + r).min(t - 1);
                &qkv[i * w + h * hd..i * w + (h + 1) * hd]
            });
            // Four named accumulators and zipped (unindexed) operands: LLVM keeps them in
            // registers; a `[[f32; LANES]; 4]` or indexed loads made it fall back to scalars.
            for b in 0..tp / LANES {
                let (mut a0, mut a1, mut a2, mut a3) =
                    (Block::ZERO, Block::ZERO, Block::ZERO, Block::ZERO);
                let columns = kt.chunks_exact(tp).zip(q[0]).zip(q[1]).zip(q[2]).zip(q[3]);
                for ((((row, &q0), &q1), &q2), &q3) in columns {
                    let keys = &row[b * LANES..(b + 1) * LANES];
                    a0.madd(q0 * scale, keys);
                    a1.madd(q1 * scale, keys);
                    a2.madd(q2 * scale, keys);
                    a3.madd(q3 * scale, keys);
                }
                for (row, a) in probs.chunks_exact_mut(tp).zip([a0, a1, a2, a3]) {
                    row[b * LANES..(b + 1) * LANES].copy_from_slice(&a.0);
                }
            }
            let mut inv = [0f32; QUERIES];
            for (row, inv) in probs.chunks_exact_mut(tp).zip(&mut inv) {
                row[t..].fill(-1e30);
                let max = max(row);
                for s in row.iter_mut() {
                    *s = exp(*s - max);
                }
                *inv = 1.0 / sum(row);
            }
            let p: [&[f32]; QUERIES] = std::array::from_fn(|r| &probs[r * tp..(r + 1) * tp]);
            for b in 0..hd.div_ceil(LANES) {
                let col = 2 * d + h * hd + b * LANES;
                let width = LANES.min(hd - b * LANES);
                let (mut a0, mut a1, mut a2, mut a3) =
                    (Block::ZERO, Block::ZERO, Block::ZERO, Block::ZERO);
                let rows = qkv.chunks_exact(w).zip(p[0]).zip(p[1]).zip(p[2]).zip(p[3]);
                for ((((row, &p0), &p1), &p2), &p3) in rows.take(t) {
                    let v = &row[col..col + width];
                    a0.madd(p0, v);
                    a1.madd(p1, v);
                    a2.madd(p2, v);
                    a3.madd(p3, v);
                }
                for (r, (a, &inv)) in [a0, a1, a2, a3].iter().zip(&inv).enumerate().take(t - i0) {
                    let o = (i0 + r) * d + h * hd + b * LANES;
                    for (c, &v) in ctx[o..o + width].iter_mut().zip(&a.0) {
                        *c = v * inv;
                    }
                }
            }
        }
    }
}

/// Head width of [`attention16_lanes_avx512`], and the lanes of one AVX-512 vector.
const HEAD16: usize = 16;

/// Rows `0..16` of `r` transposed in registers (row `c` of the result holds column `c`):
/// four rounds of sixteen shuffles (32-bit, 64-bit, then 128-bit lanes twice).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn transpose16(r: [std::arch::x86_64::__m512; 16]) -> [std::arch::x86_64::__m512; 16] {
    use std::arch::x86_64::*;
    let t: [__m512; 16] = std::array::from_fn(|i| {
        let (a, b) = (r[i & !1], r[i | 1]);
        match i % 2 {
            0 => _mm512_unpacklo_ps(a, b),
            _ => _mm512_unpackhi_ps(a, b),
        }
    });
    // Within each group of four rows: pairs (0, 2) and (1, 3) of `t`, low then high halves.
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let g = i & !3;
        let (a, b) = match i % 4 {
            0 | 1 => (t[g], t[g + 2]),
            _ => (t[g + 1], t[g + 3]),
        };
        let (a, b) = (_mm512_castps_pd(a), _mm512_castps_pd(b));
        _mm512_castpd_ps(match i % 2 {
            0 => _mm512_unpacklo_pd(a, b),
            _ => _mm512_unpackhi_pd(a, b),
        })
    });
    // 128-bit lanes: rows k and k + 4 of each group of eight, even lanes then odd.
    let v: [__m512; 16] = std::array::from_fn(|i| {
        let g = i & !7;
        let k = i % 4;
        let (a, b) = (u[g + k], u[g + k + 4]);
        match (i % 8) < 4 {
            true => _mm512_shuffle_f32x4::<0x88>(a, b),
            false => _mm512_shuffle_f32x4::<0xdd>(a, b),
        }
    });
    std::array::from_fn(|i| {
        let k = i % 8;
        let (a, b) = (v[k], v[k + 8]);
        match i < 8 {
            true => _mm512_shuffle_f32x4::<0x88>(a, b),
            false => _mm512_shuffle_f32x4::<0xdd>(a, b),
        }
    })
}

/// Most tokens [`attention16_lanes_avx512`] takes.
#[cfg(target_arch = "x86_64")]
const LANES_MAX_TOKENS: usize = 2 * HEAD16;

/// [`attention`] for heads of 16 and at most 32 tokens, with the queries in the lanes: the
/// scores of key `j` for sixteen queries are one vector (`Σ_c qᵀ[c] · k_j[c]`), so the
/// softmax's maximum and sum run across vectors, not across lanes (no horizontal reductions),
/// and the queries are transposed once per head and group of sixteen, in registers. Then each
/// query's context is `Σ_j p_ij · v_j`, four queries at a time so each value row loaded feeds
/// four sums.
///
/// # Safety
/// The CPU must support avx512f.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn attention16_lanes_avx512(qkv: &[f32], ctx: &mut [f32], t: usize, d: usize, scale: f32) {
    use std::arch::x86_64::*;
    let w = 3 * d;
    let heads = d / HEAD16;
    assert!(
        (1..=LANES_MAX_TOKENS).contains(&t)
            && heads * HEAD16 == d
            && qkv.len() >= t * w
            && ctx.len() >= t * d
    );
    // p[j][l]: query (g·16 + l)'s weight on key j (before the division by its sum); inv[l]:
    // 1 / that sum.
    let mut p = [[0f32; HEAD16]; LANES_MAX_TOKENS];
    let mut inv = [0f32; HEAD16];
    let sc = _mm512_set1_ps(scale);
    for h in 0..heads {
        let col = 2 * d + h * HEAD16;
        for g in (0..t).step_by(HEAD16) {
            let n = (t - g).min(HEAD16);
            // SAFETY (every pointer below): query, key and value rows are 16 floats at
            // `h·16 < d` inside the rows the assert checked; `p` and `inv` rows are 16 floats.
            let rows: [__m512; HEAD16] = std::array::from_fn(|l| match l < n {
                true => unsafe { _mm512_loadu_ps(qkv.as_ptr().add((g + l) * w + h * HEAD16)) },
                // Queries past the group's last are zeros: their lanes hold finite values,
                // never stored.
                false => _mm512_setzero_ps(),
            });
            let qt = transpose16(rows).map(|q| _mm512_mul_ps(q, sc));
            let mut s = [_mm512_setzero_ps(); LANES_MAX_TOKENS];
            for (j, s) in s.iter_mut().enumerate().take(t) {
                let k = unsafe { qkv.as_ptr().add(j * w + d + h * HEAD16) };
                // Two chains of eight fused multiply-adds instead of one of sixteen.
                let (mut s0, mut s1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
                for c in (0..HEAD16).step_by(2) {
                    s0 = _mm512_fmadd_ps(qt[c], _mm512_set1_ps(unsafe { *k.add(c) }), s0);
                    s1 = _mm512_fmadd_ps(qt[c + 1], _mm512_set1_ps(unsafe { *k.add(c + 1) }), s1);
                }
                *s = _mm512_add_ps(s0, s1);
            }
            let max = s[1..t].iter().fold(s[0], |m, &x| _mm512_max_ps(m, x));
            let mut total = _mm512_setzero_ps();
            for (j, s) in s.iter().enumerate().take(t) {
                let e = exp16(_mm512_sub_ps(*s, max));
                total = _mm512_add_ps(total, e);
                unsafe { _mm512_storeu_ps(p[j].as_mut_ptr(), e) };
            }
            unsafe {
                _mm512_storeu_ps(inv.as_mut_ptr(), _mm512_div_ps(_mm512_set1_ps(1.0), total))
            };
            for l0 in (0..n).step_by(4) {
                let mut acc = [_mm512_setzero_ps(); 4];
                for (j, pj) in p.iter().enumerate().take(t) {
                    let v = unsafe { _mm512_loadu_ps(qkv.as_ptr().add(j * w + col)) };
                    for (r, acc) in acc.iter_mut().enumerate() {
                        // Lanes past `n` are read (finite) for the last block's extra queries;
                        // their rows are not stored.
                        *acc = _mm512_fmadd_ps(_mm512_set1_ps(pj[(l0 + r) % HEAD16]), v, *acc);
                    }
                }
                for (r, acc) in acc.iter().enumerate().take(n - l0) {
                    let out = _mm512_mul_ps(*acc, _mm512_set1_ps(inv[l0 + r]));
                    let row = (g + l0 + r) * d + h * HEAD16;
                    unsafe { _mm512_storeu_ps(ctx.as_mut_ptr().add(row), out) };
                }
            }
        }
    }
}

/// [`exp`] on sixteen lanes (the same reduction and polynomial, with fused multiply-adds).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn exp16(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let x = _mm512_max_ps(x, _mm512_set1_ps(-87.0));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(_mm512_fmadd_ps(
        x,
        _mm512_set1_ps(std::f32::consts::LOG2_E),
        _mm512_set1_ps(0.5),
    ));
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm512_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    // n is a whole number in [-126, 0]: 2^n from its exponent bits.
    let e = _mm512_slli_epi32::<23>(_mm512_add_epi32(
        _mm512_cvtps_epi32(n),
        _mm512_set1_epi32(127),
    ));
    _mm512_mul_ps(p, _mm512_castsi512_ps(e))
}

/// `LANES` running sums of the attention, kept in registers.
#[derive(Clone, Copy)]
struct Block([f32; LANES]);

impl Block {
    const ZERO: Block = Block([0.0; LANES]);

    /// `self += s · x`, `x` being `LANES` wide or, for the last block of a head whose width is
    /// not a multiple of `LANES`, narrower (the lanes past it stay 0).
    #[inline(always)]
    fn madd(&mut self, s: f32, x: &[f32]) {
        match x.first_chunk::<LANES>() {
            Some(x) => {
                for (o, v) in self.0.iter_mut().zip(x) {
                    *o += s * v;
                }
            }
            None => {
                for (o, v) in self.0.iter_mut().zip(x) {
                    *o += s * v;
                }
            }
        }
    }
}

/// The largest value, with eight independent lanes (`a` is not empty).
#[inline(always)]
fn max(a: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let ch = a.chunks_exact(8);
    let rest = ch.remainder();
    for x in ch {
        for i in 0..8 {
            acc[i] = if x[i] > acc[i] { x[i] } else { acc[i] };
        }
    }
    let m = acc
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    rest.iter().fold(m, |m, &v| if v > m { v } else { m })
}

/// GELU, tanh form (candle's `gelu`): `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
#[inline(always)]
fn gelu(xs: &mut [f32]) {
    const C: f32 = 0.797_884_6; // √(2/π)
    for x in xs.iter_mut() {
        let v = *x;
        *x = 0.5 * v * (1.0 + tanh(C * (v + 0.044715 * v * v * v)));
    }
}

/// [`gelu`] sixteen lanes at a time, with tanh's division as a reciprocal estimate refined by
/// one Newton step (by `perf`, GELU with `vdivps` was a fifth of the forward's own time outside
/// the matrix products); equal to [`gelu`] within 4 ulp of `max(|x|, 1)` (tested; where tanh is near -1,
/// `1 + tanh` cancels in both).
///
/// # Safety
/// The CPU must support avx512f.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gelu16(xs: &mut [f32]) {
    use std::arch::x86_64::*;
    let set = _mm512_set1_ps;
    let mut chunks = xs.chunks_exact_mut(16);
    for c in &mut chunks {
        // SAFETY: `c` is 16 floats.
        let v = unsafe { _mm512_loadu_ps(c.as_ptr()) };
        let v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
        let z = _mm512_mul_ps(set(0.797_884_6), _mm512_fmadd_ps(set(0.044715), v3, v));
        let x = _mm512_max_ps(_mm512_min_ps(z, set(7.905_311)), set(-7.905_311));
        let x2 = _mm512_mul_ps(x, x);
        let mut p = _mm512_fmadd_ps(x2, set(-2.760_768_5e-16), set(2.000_188e-13));
        for k in [
            -8.604_672e-11,
            5.122_297e-8,
            1.485_722_4e-5,
            6.372_619e-4,
            4.893_524_6e-3,
        ] {
            p = _mm512_fmadd_ps(x2, p, set(k));
        }
        p = _mm512_mul_ps(p, x);
        let mut q = _mm512_fmadd_ps(x2, set(1.198_258_4e-6), set(1.185_347_1e-4));
        q = _mm512_fmadd_ps(x2, q, set(2.268_434_7e-3));
        q = _mm512_fmadd_ps(x2, q, set(4.893_525e-3));
        // 1/q to 14 bits, then r·(2 − q·r) to about 24.
        let r = _mm512_rcp14_ps(q);
        let r = _mm512_mul_ps(r, _mm512_fnmadd_ps(q, r, set(2.0)));
        let t = _mm512_mul_ps(p, r);
        let out = _mm512_mul_ps(_mm512_mul_ps(set(0.5), v), _mm512_add_ps(set(1.0), t));
        // SAFETY: as above.
        unsafe { _mm512_storeu_ps(c.as_mut_ptr(), out) };
    }
    gelu(chunks.into_remainder());
}

/// tanh as a rational function (Eigen's `ptanh_float`): branch-free, so it vectorises;
/// within a few ulp of `f32::tanh`.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let mut p = x2 * -2.760_768_5e-16 + 2.000_188e-13;
    p = x2 * p + -8.604_672e-11;
    p = x2 * p + 5.122_297e-8;
    p = x2 * p + 1.485_722_4e-5;
    p = x2 * p + 6.372_619e-4;
    p = x2 * p + 4.893_524_6e-3;
    p *= x;
    let mut q = x2 * 1.198_258_4e-6 + 1.185_347_1e-4;
    q = x2 * q + 2.268_434_7e-3;
    q = x2 * q + 4.893_525e-3;
    p / q
}

/// e^x for x ≤ 0 (softmax after subtracting the max): x = n·ln 2 + r with |r| ≤ ln 2 / 2,
/// 2^n built in the exponent bits, e^r by its degree-6 Taylor polynomial (truncation error
/// ~1e-7); branch-free, so it vectorises.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.max(-87.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2^n from the exponent bits. n + 127 is a whole number in [1, 127]; added to 1.5·2^23 it
    // lands in the low mantissa bits, read back as an integer: `n as i32` would saturate
    // and map NaN to 0 per lane, which LLVM does not vectorise.
    const MAGIC: f32 = 12_582_912.0;
    let e = (n + 127.0 + MAGIC).to_bits().wrapping_sub(MAGIC.to_bits());
    p * f32::from_bits(e << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_and_exp_match_std() {
        for i in -2000..=2000 {
            let x = i as f32 / 100.0;
            assert!((tanh(x) - x.tanh()).abs() < 2e-6, "tanh({x})");
            if x <= 0.0 {
                let (a, b) = (exp(x), x.exp());
                assert!((a - b).abs() <= 1e-6 * b, "exp({x}): {a} vs {b}");
            }
        }
        assert_eq!(exp(-1000.0), exp(-87.0));
    }

    /// Whether the AVX-512 kernels can run here; says so on stderr when not (the test then has
    /// nothing to compare: route() never takes that path on this CPU).
    #[cfg(target_arch = "x86_64")]
    fn avx512_here(test: &str) -> bool {
        let here = Isa::detect() == Isa::Avx512;
        if !here {
            eprintln!(
                "{test}: no AVX-512 on this CPU, so route() never takes that path here; nothing \
                 to compare"
            );
        }
        here
    }

    /// Uniform values in [-scale, scale) from a xorshift generator seeded with `seed`.
    #[cfg(target_arch = "x86_64")]
    fn xorshift(mut seed: u64, scale: f32) -> impl FnMut() -> f32 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ((seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_packed_kernel_equals_the_tiled_loop() {
        if !avx512_here("the_packed_kernel_equals_the_tiled_loop") {
            return;
        }
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15, 1.0);
        // Every tile height (1-6 rows and more), one and two panels, partial last panels.
        for (m, k, n) in [
            (1, 1, 1),
            (1, 64, 14),
            (5, 64, 192),
            (6, 16, 32),
            (7, 64, 48),
            (10, 64, 192),
            (11, 256, 64),
            (13, 64, 256),
            (12, 128, 151),
            (40, 33, 17),
            (3, 200, 300),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
            let w: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| next()).collect();
            let bias: Vec<f32> = (0..n).map(|_| next()).collect();
            let with_bias = |c: &[f32]| -> Vec<f32> {
                c.chunks(n)
                    .flat_map(|row| row.iter().zip(&bias).map(|(x, b)| x + b))
                    .collect()
            };
            // Each start: what `c` holds before the products are added.
            for (what, init, start) in [
                ("add", Init::Add, c0.clone()),
                ("bias", Init::Bias(&bias), with_bias(&vec![0.0; m * n])),
                ("add+bias", Init::AddBias(&bias), with_bias(&c0)),
            ] {
                let mut want = start;
                gemm_acc(&a, &w, &mut want, m, k, n);
                // `Bias` must not read `c`: it starts as garbage there.
                let mut got = match init {
                    Init::Bias(_) => vec![f32::NAN; m * n],
                    _ => c0.clone(),
                };
                // A guard past `c` must stay untouched by the masked stores.
                got.push(7.0);
                // SAFETY: the CPU reported avx512f above.
                unsafe { gemm_packed16(&a, &pack16(&w, k, n), &mut got, m, k, n, init) };
                assert_eq!(got.pop(), Some(7.0), "{m}x{k}x{n} {what}: wrote past c");
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                        "{m}x{k}x{n} {what} [{i}]: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn transpose16_transposes() {
        use std::arch::x86_64::*;
        if !avx512_here("transpose16_transposes") {
            return;
        }
        let m: Vec<f32> = (0..256).map(|i| i as f32).collect();
        // SAFETY: the CPU has avx512f (checked above); each row is 16 floats of `m`.
        let rows: [__m512; 16] =
            std::array::from_fn(|r| unsafe { _mm512_loadu_ps(m[r * 16..].as_ptr()) });
        let mut got = vec![0f32; 256];
        // SAFETY: as above, for the transposed rows stored into `got`.
        for (r, v) in unsafe { transpose16(rows) }.iter().enumerate() {
            unsafe { _mm512_storeu_ps(got[r * 16..].as_mut_ptr(), *v) };
        }
        for r in 0..16 {
            for c in 0..16 {
                assert_eq!(got[r * 16 + c], m[c * 16 + r], "row {r}, column {c}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_16_wide_gelu_equals_the_general_loop() {
        if !avx512_here("the_16_wide_gelu_equals_the_general_loop") {
            return;
        }
        // Every lane of the chunks and the remainder's scalar path (37 = 2·16 + 5), across the
        // range where tanh bends and past its clamp.
        let xs: Vec<f32> = (0..2001 * 37)
            .map(|i| (i as f32 / 37.0 - 1000.0) / 50.0)
            .collect();
        for chunk in xs.chunks(37) {
            let mut got = chunk.to_vec();
            // SAFETY: the CPU reported avx512f above.
            unsafe { gelu16(&mut got) };
            for (g, x) in got.iter().zip(chunk) {
                let mut one = [*x];
                gelu(&mut one);
                assert!(
                    (g - one[0]).abs() <= 4.0 * f32::EPSILON * x.abs().max(1.0),
                    "gelu({x}): {g} vs {}",
                    one[0]
                );
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_16_wide_attention_equals_the_general_loop() {
        if !avx512_here("the_16_wide_attention_equals_the_general_loop") {
            return;
        }
        let mut next = xorshift(0x2545_f491_4f6c_dd1d, 4.0);
        for heads in 1..=4 {
            let d = HEAD16 * heads;
            for t in 1..=LANES_MAX_TOKENS {
                let qkv: Vec<f32> = (0..t * 3 * d).map(|_| next()).collect();
                let scale = 1.0 / (HEAD16 as f32).sqrt();
                let mut want = vec![0f32; t * d];
                let mut scratch = vec![0f32; 2 * LANES * (HEAD16 + QUERIES)];
                attention(&qkv, &mut want, &mut scratch, t, d, heads, HEAD16, scale);
                let mut got = vec![f32::NAN; t * d];
                // SAFETY: the CPU has avx512f (checked above).
                unsafe { attention16_lanes_avx512(&qkv, &mut got, t, d, scale) };
                let diff = max_diff(&got, &want);
                assert!(diff < 1e-5, "heads {heads}, {t} tokens: differs by {diff}");
            }
        }
    }

    /// A randomly initialised ToolController (candle's own initialisers) and its weights.
    fn random_model(cfg: &Config) -> (crate::model::ToolController, HashMap<String, Tensor>) {
        use candle_core::{DType, Device};
        use candle_nn::{VarBuilder, VarMap};
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let model = crate::model::ToolController::new(cfg, vb).expect("model");
        let mut weights: HashMap<String, Tensor> = vm
            .data()
            .lock()
            .expect("lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        // Layer norms start at 1 and 0, shape embeddings at 0: perturb them so a mix-up of
        // weight and bias, or a shape left out, shows.
        for (k, v) in weights.iter_mut() {
            if k.contains("ln") || k.contains("shape_emb") {
                *v = (v.clone()
                    + Tensor::randn(0f32, 0.3, v.shape(), &Device::Cpu).expect("randn"))
                .expect("add");
            }
        }
        let vb = VarBuilder::from_tensors(weights.clone(), DType::F32, &Device::Cpu);
        let model = if weights.is_empty() {
            model
        } else {
            crate::model::ToolController::new(cfg, vb).expect("model")
        };
        (model, weights)
    }

    /// Random models of several shapes (with and without layers, n-grams and tags), with their
    /// weights (an n-gram table added when the shape has n-grams).
    #[allow(clippy::type_complexity)]
    fn random_cases() -> Result<
        Vec<(
            Config,
            crate::model::ToolController,
            HashMap<String, Tensor>,
        )>,
    > {
        let dev = candle_core::Device::Cpu;
        let mut out = Vec::new();
        for (layers, d, heads, n_features, args, n_shapes) in [
            (2, 64, 4, 50, true, 5),
            (1, 32, 2, 0, false, 0),
            (0, 16, 2, 40, false, 3),
            (3, 48, 3, 30, true, 0),
            // Head widths that are not a multiple of the attention's 16 lanes: 24 and 12.
            (1, 48, 2, 0, true, 4),
            (2, 48, 4, 20, false, 0),
        ] {
            let cfg = Config {
                vocab_size: 60,
                d_model: d,
                layers,
                heads,
                max_tokens: 24,
                n_features,
                d_bag: if n_features > 0 { 12 } else { 0 },
                n_labels: 7,
                dropout: 0.0,
                n_shapes,
                arg_names: if args {
                    vec!["city".into(), "date".into()]
                } else {
                    Vec::new()
                },
                ..Config::default()
            };
            let (model, mut weights) = random_model(&cfg);
            if n_features > 0 {
                weights.insert(
                    "bag.table".into(),
                    Tensor::randn(0f32, 0.5, (n_features, 12), &dev)?,
                );
            }
            out.push((cfg, model, weights));
        }
        Ok(out)
    }

    #[test]
    fn the_packed_copy_exists_only_where_its_kernel_runs() -> Result<()> {
        for (cfg, _, weights) in random_cases()? {
            let plain = FastModel::with_isa(&cfg, &weights, Isa::Portable)?.expect("attention");
            let best = FastModel::with_isa(&cfg, &weights, Isa::Avx512)?.expect("attention");
            let dense: Vec<&Dense> = plain
                .layers
                .iter()
                .flat_map(|l| [&l.qkv, &l.out, &l.fc1, &l.fc2])
                .chain([&plain.head])
                .chain(plain.tagger.as_ref())
                .collect();
            assert!(dense.iter().all(|l| l.packed.is_empty()));
            let padded: usize = dense
                .iter()
                .map(|l| l.n_out.div_ceil(16) * 16 * l.n_in * 4)
                .sum();
            let extra = if best.isa() == Isa::Avx512 { padded } else { 0 };
            assert_eq!(best.bytes(), plain.bytes() + extra);
        }
        Ok(())
    }

    #[test]
    fn fast_forward_equals_candle_on_random_models() -> Result<()> {
        use crate::model::{bag_vectors, Batch};
        use candle_core::Device;
        let dev = Device::Cpu;
        for (cfg, model, weights) in random_cases()? {
            let (n_features, layers, d) = (cfg.n_features, cfg.layers, cfg.d_model);
            for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
                let fast = FastModel::with_isa(&cfg, &weights, isa)?.expect("attention");
                for len in [1usize, 2, 5, 16, 24] {
                    let ids: Vec<u32> = (0..len).map(|i| ((i * 17 + len) % 60) as u32).collect();
                    let feats: Vec<u32> = if n_features > 0 {
                        vec![1, 7, 13]
                    } else {
                        vec![]
                    };
                    let fw: Vec<f32> = vec![0.5, 0.3, 0.8][..feats.len()].to_vec();
                    let shapes: Vec<u32> = (0..len)
                        .map(|i| ((i * 7 + 1) % cfg.n_shapes.max(1)) as u32)
                        .collect();
                    let got = fast.forward(&ids, &shapes, &feats, &fw)?;
                    let (t_ids, mask) = Batch::tokens(std::slice::from_ref(&ids), &dev)?;
                    let bag = match weights.get("bag.table") {
                        Some(table) => Some(bag_vectors(
                            table,
                            std::slice::from_ref(&feats),
                            std::slice::from_ref(&fw),
                        )?),
                        None => None,
                    };
                    let want = model.forward_t(
                        &Batch {
                            ids: t_ids,
                            mask,
                            bag,
                            shapes: Batch::shapes(
                                cfg.n_shapes,
                                std::slice::from_ref(&shapes),
                                &dev,
                            )?,
                        },
                        false,
                    )?;
                    let wl: Vec<f32> = want.logits.flatten_all()?.to_vec1()?;
                    let diff = got
                        .logits
                        .iter()
                        .zip(&wl)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0f32, f32::max);
                    assert!(
                        diff < 1e-4,
                        "{layers}L d{d} {isa:?} len {len}: logits differ by {diff}"
                    );
                    if let (Some(gt), Some(wt)) = (&got.tags, &want.tags) {
                        let wt: Vec<f32> = wt.flatten_all()?.to_vec1()?;
                        let diff = gt
                            .iter()
                            .zip(&wt)
                            .map(|(a, b)| (a - b).abs())
                            .fold(0f32, f32::max);
                        assert!(
                            diff < 1e-4,
                            "{layers}L {isa:?} len {len}: tags differ by {diff}"
                        );
                    } else {
                        assert_eq!(got.tags.is_some(), want.tags.is_some());
                    }
                }
            }
        }
        Ok(())
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    }

    /// `forward_batch` over `reqs` against `forward` on each request alone, to 1e-5.
    fn assert_batch_equals_singles(fast: &FastModel, reqs: &[FastInput], what: &str) -> Result<()> {
        let batched = fast.forward_batch(reqs)?;
        assert_eq!(batched.len(), reqs.len(), "{what}");
        for (i, (got, r)) in batched.iter().zip(reqs).enumerate() {
            let want = fast.forward(r.ids, r.shapes, r.feat_ids, r.feat_w)?;
            let diff = max_diff(&got.logits, &want.logits);
            assert!(diff < 1e-5, "{what}, request {i}: logits differ by {diff}");
            assert_eq!(got.n_tags, want.n_tags, "{what}");
            match (&got.tags, &want.tags) {
                (Some(g), Some(w)) => {
                    let diff = max_diff(g, w);
                    assert!(diff < 1e-5, "{what}, request {i}: tags differ by {diff}");
                }
                (None, None) => {}
                _ => panic!("{what}, request {i}: tags on one side only"),
            }
        }
        Ok(())
    }

    #[test]
    fn batched_forward_equals_one_request_at_a_time_on_random_models() -> Result<()> {
        for (cfg, _, weights) in random_cases()? {
            let (n_features, layers, d) = (cfg.n_features, cfg.layers, cfg.d_model);
            // Lengths around the attention's 16-lane padding, one past `max_tokens` (truncated),
            // and requests with no n-grams, few or many.
            let lens = [1usize, 7, 24, 2, 30, 16, 17, 3];
            let ids: Vec<Vec<u32>> = lens
                .iter()
                .map(|&len| (0..len).map(|i| ((i * 17 + len * 5) % 60) as u32).collect())
                .collect();
            let feats: Vec<Vec<u32>> = (0..lens.len())
                .map(|k| {
                    (0..(k * 3) % 7)
                        .map(|j| ((k * 11 + j * 7) % n_features.max(1)) as u32)
                        .filter(|_| n_features > 0)
                        .collect()
                })
                .collect();
            let fws: Vec<Vec<f32>> = feats
                .iter()
                .map(|f| (0..f.len()).map(|j| 0.2 + 0.1 * j as f32).collect())
                .collect();
            let shapes: Vec<Vec<u32>> = lens
                .iter()
                .map(|&len| {
                    (0..len)
                        .map(|i| ((i * 3 + len) % cfg.n_shapes.max(1)) as u32)
                        .collect()
                })
                .collect();
            let reqs: Vec<FastInput> = (0..lens.len())
                .map(|k| FastInput {
                    ids: &ids[k],
                    shapes: &shapes[k],
                    feat_ids: &feats[k],
                    feat_w: &fws[k],
                })
                .collect();
            for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
                let fast = FastModel::with_isa(&cfg, &weights, isa)?.expect("attention");
                let what = format!("{layers}L d{d} {isa:?}");
                assert_batch_equals_singles(&fast, &reqs, &what)?;
                // A smaller batch after a larger one: the scratch keeps longer rows from before.
                assert_batch_equals_singles(&fast, &reqs[3..5], &what)?;
                assert!(fast.forward_batch(&[])?.is_empty());
            }
        }
        Ok(())
    }

    #[test]
    fn a_request_without_tokens_or_outside_the_vocabulary_is_an_error() -> Result<()> {
        let cfg = Config {
            vocab_size: 10,
            d_model: 8,
            heads: 2,
            n_labels: 2,
            ..Config::default()
        };
        let (_, weights) = random_model(&cfg);
        let fast = FastModel::new(&cfg, &weights)?.expect("attention");
        let ok = FastInput {
            ids: &[1, 2],
            shapes: &[],
            feat_ids: &[],
            feat_w: &[],
        };
        for bad in [&[][..], &[1, 10][..]] {
            let req = FastInput { ids: bad, ..ok };
            assert!(fast.forward_batch(&[ok, req]).is_err(), "{bad:?}");
        }
        // A model with word shapes needs one per token, each one it has a row for.
        let shaped = Config { n_shapes: 3, ..cfg };
        let (_, weights) = random_model(&shaped);
        let fast = FastModel::new(&shaped, &weights)?.expect("attention");
        let good = FastInput {
            shapes: &[0, 2],
            ..ok
        };
        assert!(fast.forward_batch(&[good]).is_ok());
        for bad in [&[][..], &[0][..], &[0, 3][..]] {
            let req = FastInput { shapes: bad, ..ok };
            assert!(fast.forward_batch(&[req]).is_err(), "{bad:?}");
        }
        Ok(())
    }

    #[test]
    fn batched_forward_equals_one_request_at_a_time_on_a_trained_model() -> Result<()> {
        use std::path::Path;
        let tools = crate::data::parse_tools(
            r#"[{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},
                {"name":"play_music"},{"name":"set_timer"}]"#,
            Path::new("tools.json"),
        )?;
        let mut lines = Vec::new();
        for (i, city) in ["oslo", "paris", "rome", "lima", "tokyo", "cairo"]
            .iter()
            .enumerate()
        {
            lines.push(format!(
                r#"{{"text":"what is the weather in {city}","tool":"get_weather","args":{{"city":"{city}"}}}}"#
            ));
            lines.push(format!(
                r#"{{"text":"play song number {i} by {city} band","tool":"play_music"}}"#
            ));
            lines.push(format!(
                r#"{{"text":"set a timer for {i} minutes","tool":"set_timer"}}"#
            ));
        }
        let examples =
            crate::data::parse_examples(&lines.join("\n"), Path::new("t.jsonl"), Some(&tools))?;
        let opts = crate::TrainOptions {
            d_model: 32,
            layers: 2,
            heads: 2,
            epochs: 3,
            valid_fraction: 0.0,
            seed: 3,
            word_shapes: true,
            ..crate::TrainOptions::default()
        };
        let abort = std::sync::atomic::AtomicBool::new(false);
        let router = crate::fit(&tools, &examples, None, &opts, &|_| {}, &abort)?;
        let texts = [
            "what is the weather in oslo",
            "play something",
            "",
            "set a timer for ten minutes and then play music by the band from cairo while it rains",
            "ünïcödé 🎵 timer",
            "weather",
        ];
        let inputs: Vec<crate::router::Inputs> = texts
            .iter()
            .map(|t| router.encoder.encode(t))
            .collect::<Result<_>>()?;
        let reqs: Vec<FastInput> = inputs.iter().map(FastInput::from).collect();
        for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
            let fast = FastModel::with_isa(&router.cfg, &router.weights, isa)?.expect("attention");
            assert!(fast.tagger.is_some() && fast.bag.is_some() && fast.shape_emb.is_some());
            assert_batch_equals_singles(&fast, &reqs, &format!("trained, {isa:?}"))?;
        }
        Ok(())
    }

    #[test]
    fn the_gru_baseline_has_no_fast_path() -> Result<()> {
        let cfg = Config {
            architecture: "gru".into(),
            vocab_size: 10,
            d_model: 8,
            heads: 2,
            n_labels: 2,
            ..Config::default()
        };
        let (_, weights) = random_model(&cfg);
        assert!(FastModel::new(&cfg, &weights)?.is_none());
        Ok(())
    }

    #[test]
    fn gemm_matches_a_naive_product_at_every_edge() {
        for (m, k, n) in [
            (1, 1, 1),
            (3, 5, 7),
            (4, 16, 16),
            (9, 33, 70),
            (13, 64, 192),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0)
                .collect();
            let b: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
                .collect();
            let mut c = vec![0.5f32; m * n];
            let mut c2 = c.clone();
            gemm_acc(&a, &b, &mut c, m, k, n);
            gemm_crate_acc(&a, &b, &mut c2, m, k, n);
            for i in 0..m {
                for j in 0..n {
                    let want: f32 = 0.5 + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>();
                    assert!(
                        (c[i * n + j] - want).abs() < 1e-4,
                        "({m},{k},{n}) at ({i},{j})"
                    );
                    assert!(
                        (c2[i * n + j] - want).abs() < 1e-4,
                        "gemm crate ({m},{k},{n})"
                    );
                }
            }
        }
    }
}
