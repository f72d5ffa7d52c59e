//! Fused CPU training kernels with hand-written backward passes: bias addition, layer norm, GELU
//! and the whole multi-head attention (scores, mask, softmax, dropout, weighted sum).
//!
//! Built from candle's primitives, each of these is 5 to 15 small tensor ops whose backward
//! passes add as many again, each allocating and most reducing over broadcast dimensions; at
//! this model's sizes (d 64, a dozen tokens) that bookkeeping, not arithmetic, was most of a
//! training step. One op per block and one pass per backward cut it out. The kernels run on
//! CPU storage only: the model uses them when training on the CPU and candle's differentiable
//! ops elsewhere (`ops::layer_norm_slow`, `gelu`, `ops::softmax`), and the tests below check
//! both give the same values and gradients.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! let x = Tensor::new(&[[-1f32, 0.0, 2.0]], &Device::Cpu)?;
//! let y = toolrouter_core::model::fused::gelu(&x)?;
//! assert!((y.to_vec2::<f32>()?[0][2] - 1.9546).abs() < 1e-3);
//! # Ok::<(), candle_core::Error>(())
//! ```

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor,
};

/// The f32 data of a contiguous tensor.
fn data<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let all = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&all[a..b]),
        None => bail!("{op}: expected a contiguous f32 tensor"),
    }
}

const GELU_C: f32 = 0.797_884_6; // √(2/π)
const GELU_A: f32 = 0.044_715;

/// GELU, tanh form (candle's `gelu`), with its backward pass.
pub fn gelu(xs: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(Gelu)
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "toolrouter-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = data(s, l, self.name())?;
        let y: Vec<f32> = x
            .iter()
            .map(|&v| 0.5 * v * (1.0 + crate::fast::tanh(GELU_C * (v + GELU_A * v * v * v))))
            .collect();
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(&grad.contiguous()?, &GeluGrad)?))
    }
}

/// `grad · gelu'(x)`.
struct GeluGrad;

impl CustomOp2 for GeluGrad {
    fn name(&self) -> &'static str {
        "toolrouter-gelu-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, g) = (data(s1, l1, self.name())?, data(s2, l2, self.name())?);
        let out: Vec<f32> = x
            .iter()
            .zip(g)
            .map(|(&v, &g)| {
                let t = crate::fast::tanh(GELU_C * (v + GELU_A * v * v * v));
                let dt = GELU_C * (1.0 + 3.0 * GELU_A * v * v) * (1.0 - t * t);
                g * (0.5 * (1.0 + t) + 0.5 * v * dt)
            })
            .collect();
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `xs + bias`, `bias` shaped like the trailing dimensions of `xs` (a linear layer's bias, the
/// position embeddings), with its backward pass: the bias gradient sums the leading
/// dimensions in one pass over contiguous rows rather than candle's strided reduction.
pub fn add_bias(xs: &Tensor, bias: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op2(&bias.contiguous()?, AddBias)
}

struct AddBias;

impl CustomOp2 for AddBias {
    fn name(&self) -> &'static str {
        "toolrouter-add-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, b) = (data(s1, l1, self.name())?, data(s2, l2, self.name())?);
        if b.is_empty() || x.len() % b.len() != 0 {
            bail!("{}: shapes do not match", self.name());
        }
        let mut y = x.to_vec();
        for row in y.chunks_exact_mut(b.len()) {
            row.iter_mut().zip(b).for_each(|(y, b)| *y += b);
        }
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let db = grad
            .contiguous()?
            .apply_op1_no_bwd(&SumRows(bias.elem_count()))?
            .reshape(bias.shape())?;
        Ok((Some(grad.clone()), Some(db)))
    }
}

/// The sum of a contiguous tensor's rows of `.0` elements.
struct SumRows(usize);

impl CustomOp1 for SumRows {
    fn name(&self) -> &'static str {
        "toolrouter-sum-rows"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = data(s, l, self.name())?;
        let mut out = vec![0f32; self.0];
        for row in x.chunks_exact(self.0) {
            out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
        }
        Ok((CpuStorage::F32(out), Shape::from(self.0)))
    }
}

/// Layer norm over the last dimension, `(x - mean) / sqrt(var + eps) · weight + bias`, with its
/// backward pass (to `x`, `weight` and `bias`).
pub fn layer_norm(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    xs.contiguous()?.apply_op3(weight, bias, LayerNorm { eps })
}

struct LayerNorm {
    eps: f32,
}

/// Mean and 1/std of one row.
#[inline]
fn moments(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "toolrouter-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = data(s1, l1, self.name())?;
        let (w, b) = (data(s2, l2, self.name())?, data(s3, l3, self.name())?);
        let d = w.len();
        if d == 0 || b.len() != d || x.len() % d != 0 {
            bail!("{}: shapes do not match", self.name());
        }
        let mut y = vec![0f32; x.len()];
        for (row, out) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
            let (mean, rstd) = moments(row, self.eps);
            for k in 0..d {
                out[k] = (row[k] - mean) * rstd * w[k] + b[k];
            }
        }
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = w.dim(0)?;
        let rows = x.elem_count() / d;
        // One kernel writes dx (rows x d), then dweight and dbias as two more rows.
        let all = x.apply_op3_no_bwd(w, &grad.contiguous()?, &LayerNormGrad { eps: self.eps })?;
        let dx = all.narrow(0, 0, rows)?.reshape(x.shape())?;
        let dw = all.get(rows)?;
        let db = all.get(rows + 1)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

struct LayerNormGrad {
    eps: f32,
}

impl CustomOp3 for LayerNormGrad {
    fn name(&self) -> &'static str {
        "toolrouter-layer-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = data(s1, l1, self.name())?;
        let (w, g) = (data(s2, l2, self.name())?, data(s3, l3, self.name())?);
        let d = w.len();
        let rows = x.len() / d;
        let mut out = vec![0f32; (rows + 2) * d];
        let (dx, params) = out.split_at_mut(rows * d);
        let (dw, db) = params.split_at_mut(d);
        let mut xhat = vec![0f32; d];
        for ((row, gr), dxr) in x
            .chunks_exact(d)
            .zip(g.chunks_exact(d))
            .zip(dx.chunks_exact_mut(d))
        {
            let (mean, rstd) = moments(row, self.eps);
            let (mut m_gy, mut m_gyx) = (0f32, 0f32);
            for k in 0..d {
                xhat[k] = (row[k] - mean) * rstd;
                let gy = gr[k] * w[k];
                m_gy += gy;
                m_gyx += gy * xhat[k];
                dw[k] += gr[k] * xhat[k];
                db[k] += gr[k];
            }
            m_gy /= d as f32;
            m_gyx /= d as f32;
            for k in 0..d {
                dxr[k] = rstd * (gr[k] * w[k] - m_gy - xhat[k] * m_gyx);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((rows + 2, d))))
    }
}

/// Multi-head self-attention from the fused projection `qkv` (B, T, 3·d, laid out as
/// `[q | k | v]`, each head a contiguous `d / heads` slice) and the additive key bias (B, T: 0
/// for a token, a large negative number for padding): softmax(q·kᵀ/√hd + bias), dropout on those
/// probabilities at rate `dropout`, times v. Returns (B, T, d), heads side by side.
///
/// The dropout masks come from `seed` through a counter-based hash, so the backward pass
/// regenerates them instead of storing them.
pub fn attention(
    qkv: &Tensor,
    key_bias: &Tensor,
    heads: usize,
    dropout: f32,
    seed: u64,
) -> Result<Tensor> {
    qkv.contiguous()?.apply_op2(
        &key_bias.contiguous()?,
        Attention {
            heads,
            dropout,
            seed,
        },
    )
}

#[derive(Clone, Copy)]
struct Attention {
    heads: usize,
    dropout: f32,
    seed: u64,
}

/// The dropout multiplier of element `idx` under `seed`: 0 with probability `p`, else
/// 1 / (1 - p). A counter-based hash, so the backward pass regenerates the mask.
#[inline]
fn keep(seed: u64, idx: u64, p: f32) -> f32 {
    if p <= 0.0 {
        return 1.0;
    }
    let u = (mix(seed.wrapping_add(idx.wrapping_mul(0x9e37_79b9_7f4a_7c15))) >> 40) as f32
        / (1u64 << 24) as f32;
    if u < p {
        0.0
    } else {
        1.0 / (1.0 - p)
    }
}

/// Dropout at rate `p` with the mask drawn from `seed`; its backward pass applies the same mask.
pub fn dropout(xs: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(Dropout { p, seed })
}

struct Dropout {
    p: f32,
    seed: u64,
}

impl CustomOp1 for Dropout {
    fn name(&self) -> &'static str {
        "toolrouter-dropout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = data(s, l, self.name())?;
        let y = x
            .iter()
            .enumerate()
            .map(|(i, v)| v * keep(self.seed, i as u64, self.p))
            .collect();
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let same = Dropout {
            p: self.p,
            seed: self.seed,
        };
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&same)?))
    }
}

/// SplitMix64 of `x`: a well-mixed 64-bit hash, the dropout mask's source of randomness.
#[inline]
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Attention {
    /// (B, T, hd) from the shapes of `qkv` (B, T, 3d) and the bias (B, T).
    fn dims(&self, lq: &Layout, lb: &Layout) -> Result<(usize, usize, usize)> {
        let (b, t, d3) = lq.shape().dims3()?;
        if d3 % (3 * self.heads.max(1)) != 0 || lb.shape().elem_count() != b * t {
            bail!("toolrouter-attention: shapes do not match");
        }
        Ok((b, t, d3 / 3 / self.heads))
    }

    /// The dropout multiplier of probability (batch `b`, head `h`, query `i`, key `j`).
    #[inline]
    fn keep(&self, b: usize, h: usize, i: usize, j: usize, t: usize) -> f32 {
        keep(
            self.seed,
            (((b * self.heads + h) * t + i) * t + j) as u64,
            self.dropout,
        )
    }
}

/// `y += a · x`: the one loop the attention kernels are made of (it vectorises; a dot product,
/// a sum of f32 in order, would not).
#[inline(always)]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += a * x);
}

/// One head of one request, copied out of `qkv` into contiguous blocks: `q` (T x hd, already
/// scaled by 1/√hd), `kt` and `vt` transposed (hd x T), `v` (T x hd); then the probabilities
/// `p` (T x T) before dropout and `keep`, the dropout multipliers.
struct Head {
    t: usize,
    hd: usize,
    q: Vec<f32>,
    k: Vec<f32>,
    kt: Vec<f32>,
    v: Vec<f32>,
    vt: Vec<f32>,
    p: Vec<f32>,
    keep: Vec<f32>,
}

impl Head {
    fn new(t: usize, hd: usize) -> Head {
        Head {
            t,
            hd,
            q: vec![0.0; t * hd],
            k: vec![0.0; t * hd],
            kt: vec![0.0; hd * t],
            v: vec![0.0; t * hd],
            vt: vec![0.0; hd * t],
            p: vec![0.0; t * t],
            keep: vec![1.0; t * t],
        }
    }

    /// Loads head `h` of request `b` and computes its probabilities and dropout multipliers.
    fn load(&mut self, a: &Attention, qkv: &[f32], bias: &[f32], b: usize, h: usize) {
        let (t, hd) = (self.t, self.hd);
        let d = a.heads * hd;
        let scale = 1.0 / (hd as f32).sqrt();
        for i in 0..t {
            let base = (b * t + i) * 3 * d + h * hd;
            for k in 0..hd {
                let (q, kk, v) = (qkv[base + k], qkv[base + d + k], qkv[base + 2 * d + k]);
                self.q[i * hd + k] = q * scale;
                self.k[i * hd + k] = kk;
                self.kt[k * t + i] = kk;
                self.v[i * hd + k] = v;
                self.vt[k * t + i] = v;
            }
        }
        let bias = &bias[b * t..(b + 1) * t];
        for i in 0..t {
            let row = &mut self.p[i * t..(i + 1) * t];
            row.copy_from_slice(bias);
            for k in 0..hd {
                axpy(row, self.q[i * hd + k], &self.kt[k * t..(k + 1) * t]);
            }
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            for x in row.iter_mut() {
                *x = crate::fast::exp(*x - max);
            }
            let inv = 1.0 / row.iter().sum::<f32>();
            row.iter_mut().for_each(|x| *x *= inv);
            if a.dropout > 0.0 {
                for j in 0..t {
                    self.keep[i * t + j] = a.keep(b, h, i, j, t);
                }
            }
        }
    }
}

impl CustomOp2 for Attention {
    fn name(&self) -> &'static str {
        "toolrouter-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (qkv, bias) = (data(s1, l1, self.name())?, data(s2, l2, self.name())?);
        let (bs, t, hd) = self.dims(l1, l2)?;
        let d = self.heads * hd;
        let mut out = vec![0f32; bs * t * d];
        let mut head = Head::new(t, hd);
        for b in 0..bs {
            for h in 0..self.heads {
                head.load(self, qkv, bias, b, h);
                for i in 0..t {
                    let o = &mut out[(b * t + i) * d + h * hd..][..hd];
                    for j in 0..t {
                        let w = head.p[i * t + j] * head.keep[i * t + j];
                        axpy(o, w, &head.v[j * hd..(j + 1) * hd]);
                    }
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((bs, t, d))))
    }

    fn bwd(
        &self,
        qkv: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = qkv.apply_op3_no_bwd(bias, &grad.contiguous()?, &AttentionGrad(*self))?;
        Ok((Some(g), None))
    }
}

/// The gradient of [`Attention`] with respect to `qkv`, given the gradient of its output.
struct AttentionGrad(Attention);

impl CustomOp3 for AttentionGrad {
    fn name(&self) -> &'static str {
        "toolrouter-attention-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let a = &self.0;
        let (qkv, bias) = (data(s1, l1, self.name())?, data(s2, l2, self.name())?);
        let go = data(s3, l3, self.name())?;
        let (bs, t, hd) = a.dims(l1, l2)?;
        let d = a.heads * hd;
        let scale = 1.0 / (hd as f32).sqrt();
        let mut dqkv = vec![0f32; qkv.len()];
        let mut head = Head::new(t, hd);
        let mut ds = vec![0f32; t * t];
        let (mut dq, mut dk, mut dv) = (vec![0f32; t * hd], vec![0f32; t * hd], vec![0f32; t * hd]);
        for b in 0..bs {
            for h in 0..a.heads {
                head.load(a, qkv, bias, b, h);
                dq.fill(0.0);
                dk.fill(0.0);
                dv.fill(0.0);
                for i in 0..t {
                    let g_i = &go[(b * t + i) * d + h * hd..][..hd];
                    // dP_i = keep ⊙ (dO_i · Vᵀ); dV_j += P_dropped[i][j] dO_i.
                    let dp = &mut ds[i * t..(i + 1) * t];
                    dp.fill(0.0);
                    for (k, &gk) in g_i.iter().enumerate() {
                        axpy(dp, gk, &head.vt[k * t..(k + 1) * t]);
                    }
                    let (p, keep) = (&head.p[i * t..(i + 1) * t], &head.keep[i * t..(i + 1) * t]);
                    let mut dot = 0f32;
                    for j in 0..t {
                        dp[j] *= keep[j];
                        dot += p[j] * dp[j];
                        axpy(&mut dv[j * hd..(j + 1) * hd], p[j] * keep[j], g_i);
                    }
                    // dS = P ⊙ (dP - Σ_k P dP) (the 1/√hd of q is folded in below).
                    dp.iter_mut().zip(p).for_each(|(d, p)| *d = p * (*d - dot));
                    // dQ_i = scale Σ_j dS_ij K_j; dK_j += dS_ij q_i (q already scaled).
                    let dq_i = &mut dq[i * hd..(i + 1) * hd];
                    let q_i = &head.q[i * hd..(i + 1) * hd];
                    for ((&ds, k_j), dk_j) in dp
                        .iter()
                        .zip(head.k.chunks_exact(hd))
                        .zip(dk.chunks_exact_mut(hd))
                    {
                        axpy(dq_i, ds * scale, k_j);
                        axpy(dk_j, ds, q_i);
                    }
                }
                for i in 0..t {
                    let base = (b * t + i) * 3 * d + h * hd;
                    dqkv[base..base + hd].copy_from_slice(&dq[i * hd..(i + 1) * hd]);
                    dqkv[base + d..base + d + hd].copy_from_slice(&dk[i * hd..(i + 1) * hd]);
                    dqkv[base + 2 * d..base + 2 * d + hd]
                        .copy_from_slice(&dv[i * hd..(i + 1) * hd]);
                }
            }
        }
        Ok((CpuStorage::F32(dqkv), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var, D};
    use candle_nn::ops;

    fn max_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
        (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
    }

    /// Values and gradients of `fused` and `reference` at the same random input, through a
    /// random linear read-out so every output element matters.
    fn compare(
        shape: &[usize],
        fused: impl Fn(&Tensor) -> Result<Tensor>,
        reference: impl Fn(&Tensor) -> Result<Tensor>,
    ) -> Result<(f32, f32)> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &dev)?)?;
        let a = fused(x.as_tensor())?;
        let r = Tensor::randn(0f32, 1.0, a.shape(), &dev)?;
        let b = reference(x.as_tensor())?;
        let ga = (&a * &r)?.sum_all()?.backward()?;
        let gb = (&b * &r)?.sum_all()?.backward()?;
        let (ga, gb) = (ga.get(&x).unwrap().clone(), gb.get(&x).unwrap().clone());
        Ok((max_diff(&a, &b)?, max_diff(&ga, &gb)?))
    }

    #[test]
    fn dropout_drops_at_its_rate_and_masks_its_gradient_alike() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::ones((100, 100), candle_core::DType::F32, &dev)?)?;
        let y = dropout(x.as_tensor(), 0.25, 3)?;
        let v: Vec<f32> = y.flatten_all()?.to_vec1()?;
        let dropped = v.iter().filter(|&&a| a == 0.0).count() as f32 / v.len() as f32;
        assert!((dropped - 0.25).abs() < 0.02, "{dropped}");
        assert!(v.iter().all(|&a| a == 0.0 || (a - 1.0 / 0.75).abs() < 1e-6));
        let g = y.sum_all()?.backward()?;
        let g: Vec<f32> = g.get(&x).unwrap().flatten_all()?.to_vec1()?;
        assert_eq!(g, v, "the gradient passes where the value passed");
        Ok(())
    }

    #[test]
    fn gelu_matches_candle_with_its_gradient() -> Result<()> {
        let (v, g) = compare(&[4, 5, 32], gelu, |x| x.gelu())?;
        assert!(v < 1e-5 && g < 1e-4, "value {v}, gradient {g}");
        Ok(())
    }

    #[test]
    fn add_bias_matches_candle_with_both_gradients() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 4, 5), &dev)?)?;
        let b = Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 5), &dev)?)?;
        let r = Tensor::randn(0f32, 1.0, (3, 4, 5), &dev)?;
        let fused = add_bias(x.as_tensor(), b.as_tensor())?;
        let plain = x.as_tensor().broadcast_add(b.as_tensor())?;
        assert_eq!(max_diff(&fused, &plain)?, 0.0);
        let gf = (&fused * &r)?.sum_all()?.backward()?;
        let gp = (&plain * &r)?.sum_all()?.backward()?;
        for v in [&x, &b] {
            assert!(max_diff(gf.get(v).unwrap(), gp.get(v).unwrap())? < 1e-5);
        }
        Ok(())
    }

    #[test]
    fn layer_norm_matches_candle_with_every_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let w = Var::from_tensor(&Tensor::randn(1f32, 0.3, 24, &dev)?)?;
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, 24, &dev)?)?;
        let x = Var::from_tensor(&Tensor::randn(0.5f32, 2.0, (3, 7, 24), &dev)?)?;
        let r = Tensor::randn(0f32, 1.0, (3, 7, 24), &dev)?;
        let fused = layer_norm(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-5)?;
        let slow = ops::layer_norm_slow(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-5)?;
        assert!(max_diff(&fused, &slow)? < 1e-5);
        let gf = (&fused * &r)?.sum_all()?.backward()?;
        let gs = (&slow * &r)?.sum_all()?.backward()?;
        for v in [&x, &w, &b] {
            let (a, c) = (gf.get(v).unwrap(), gs.get(v).unwrap());
            assert!(max_diff(a, c)? < 1e-4, "{}", max_diff(a, c)?);
        }
        Ok(())
    }

    /// The same attention from candle's differentiable ops, no dropout.
    fn reference(qkv: &Tensor, bias: &Tensor, heads: usize) -> Result<Tensor> {
        let (b, t, d3) = qkv.dims3()?;
        let d = d3 / 3;
        let hd = d / heads;
        let qkv = qkv
            .reshape((b, t, 3, heads, hd))?
            .permute((2, 0, 3, 1, 4))?;
        let q = (qkv.get(0)?.contiguous()? * (1.0 / (hd as f64).sqrt()))?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let bias = bias.reshape((b, 1, 1, t))?;
        let s = q.matmul(&k.t()?)?.broadcast_add(&bias)?;
        let p = ops::softmax(&s, D::Minus1)?;
        p.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))
    }

    #[test]
    fn attention_matches_candle_with_its_gradient_under_padding() -> Result<()> {
        let dev = Device::Cpu;
        // Row 0 has 5 tokens, row 1 has 3 (two padded keys).
        let bias = Tensor::new(&[[0f32, 0., 0., 0., 0.], [0., 0., 0., -1e9, -1e9]], &dev)?;
        let (v, g) = compare(
            &[2, 5, 3 * 16],
            |x| attention(x, &bias, 4, 0.0, 7),
            |x| reference(x, &bias, 4),
        )?;
        assert!(v < 1e-5 && g < 1e-4, "value {v}, gradient {g}");
        Ok(())
    }

    #[test]
    fn attention_dropout_is_repeatable_and_its_gradient_is_right() -> Result<()> {
        let dev = Device::Cpu;
        let bias = Tensor::zeros((1, 4), candle_core::DType::F32, &dev)?;
        let x = Tensor::randn(0f32, 1.0, (1, 4, 3 * 8), &dev)?;
        let a = attention(&x, &bias, 2, 0.3, 11)?;
        assert_eq!(max_diff(&a, &attention(&x, &bias, 2, 0.3, 11)?)?, 0.0);
        assert!(max_diff(&a, &attention(&x, &bias, 2, 0.3, 12)?)? > 0.0);
        // Central differences of sum(out · r) against the analytic gradient.
        let r = Tensor::randn(0f32, 1.0, a.shape(), &dev)?;
        let var = Var::from_tensor(&x)?;
        let f = |t: &Tensor| -> Result<f32> {
            (attention(t, &bias, 2, 0.3, 11)? * &r)?
                .sum_all()?
                .to_scalar::<f32>()
        };
        let grads = f(var.as_tensor()).and_then(|_| {
            (attention(var.as_tensor(), &bias, 2, 0.3, 11)? * &r)?
                .sum_all()?
                .backward()
        })?;
        let g: Vec<f32> = grads.get(&var).unwrap().flatten_all()?.to_vec1()?;
        let base: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let h = 1e-2f32;
        for k in (0..base.len()).step_by(5) {
            let mut up = base.clone();
            let mut down = base.clone();
            up[k] += h;
            down[k] -= h;
            let fu = f(&Tensor::from_vec(up, x.shape(), &dev)?)?;
            let fd = f(&Tensor::from_vec(down, x.shape(), &dev)?)?;
            let num = (fu - fd) / (2.0 * h);
            assert!(
                (num - g[k]).abs() < 2e-2 * (1.0 + num.abs()),
                "{k}: {num} vs {}",
                g[k]
            );
        }
        Ok(())
    }
}
