//! Distillation from a sentence encoder at training time (issue 9, the second lever): the
//! controller's pooled request vector, through a projection that training alone uses, learns to
//! point where the teacher ([`crate::teacher::Teacher`], all-MiniLM-L6-v2) puts the request,
//! on the training texts and on augmented copies of them, while the tool loss trains as before.
//! The teacher is read only while training; the saved model neither contains nor needs it.

use crate::error::{Error, Result};
use crate::teacher::Teacher;
use candle_core::{Device, Tensor, Var, D};
use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// What distillation uses and how much it weighs. The defaults were picked on the validation
/// split of CLINC150 with 10 examples per intent (docs/eval-distill.md has the sweep): the soft
/// labels carry most of the gain, copies with their source's label hurt, more than 4 copies
/// gained nothing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TeacherOptions {
    /// Folder of the teacher (`config.json`, `model.safetensors`, `tokenizer.json`), as
    /// `scripts/fetch-minilm.sh` leaves it (`.cache/minilm`).
    pub dir: String,
    /// Weight of the distillation loss (1 − cosine) beside the tool loss.
    pub weight: f64,
    /// Augmented copies of each training text, which the teacher embeds and the controller
    /// learns to embed alike.
    pub augment: usize,
    /// Weight of the tool loss on an augmented copy, which keeps its source's tool (0: the copy
    /// trains the distillation loss only).
    pub augment_label_weight: f64,
    /// Weight of the soft-label loss: the cross-entropy against the tool probabilities of a
    /// teacher classifier (a logistic regression on the teacher's embeddings of the labelled
    /// training texts), on every text and copy (0: off).
    pub soft_weight: f64,
    /// With validation data, also train on the labels alone and keep the router that validates
    /// better (see [`crate::train::fit_from`]). `false` keeps the taught router whatever it
    /// scores: the sweep in docs/eval-distill.md, which compares the taught routers themselves.
    pub select: bool,
}

impl Default for TeacherOptions {
    fn default() -> Self {
        TeacherOptions {
            dir: ".cache/minilm".into(),
            weight: 3.0,
            augment: 4,
            augment_label_weight: 0.0,
            soft_weight: 3.0,
            select: true,
        }
    }
}

impl TeacherOptions {
    pub(crate) fn check(&self) -> Result<()> {
        if !(self.weight >= 0.0 && self.weight.is_finite()) {
            return Err(Error::invalid(
                "teacher.weight",
                "must be a finite number >= 0",
            ));
        }
        if !(self.augment_label_weight >= 0.0 && self.augment_label_weight.is_finite()) {
            return Err(Error::invalid(
                "teacher.augmentLabelWeight",
                "must be a finite number >= 0",
            ));
        }
        if self.augment > 64 {
            return Err(Error::invalid("teacher.augment", "must be at most 64"));
        }
        if self.dir.is_empty() {
            return Err(Error::invalid(
                "teacher.dir",
                "the teacher's folder is required (scripts/fetch-minilm.sh fills .cache/minilm)",
            ));
        }
        Ok(())
    }
}

/// `copies` augmented versions of each text, as `(source index, text)`. Each copy applies one or
/// two edits at random: drop a word, swap two neighbouring words, put a word of another training
/// text in place of one, or join the first half of the text to the second half of another. Texts
/// of one word only take a word from another text.
pub(crate) fn augment(texts: &[&str], copies: usize, rng: &mut StdRng) -> Vec<(usize, String)> {
    let words: Vec<Vec<&str>> = texts
        .iter()
        .map(|t| t.split_whitespace().collect())
        .collect();
    let mut out = Vec::with_capacity(texts.len() * copies);
    if texts.is_empty() {
        return out;
    }
    for (i, w) in words.iter().enumerate() {
        if w.is_empty() {
            continue;
        }
        for _ in 0..copies {
            let mut cur: Vec<&str> = w.clone();
            let edits = 1 + usize::from(rng.random::<f64>() < 0.5);
            for _ in 0..edits {
                let other = &words[rng.random_range(0..words.len())];
                let op = if cur.len() < 2 {
                    2
                } else {
                    rng.random_range(0..4u32)
                };
                match op {
                    0 if cur.len() > 2 => {
                        cur.remove(rng.random_range(0..cur.len()));
                    }
                    1 | 0 => {
                        let j = rng.random_range(0..cur.len() - 1);
                        cur.swap(j, j + 1);
                    }
                    2 => {
                        if let Some(&word) = pick(other, rng) {
                            let j = rng.random_range(0..cur.len());
                            cur[j] = word;
                        }
                    }
                    _ => {
                        if other.len() >= 2 {
                            cur.truncate(cur.len().div_ceil(2));
                            cur.extend_from_slice(&other[other.len() / 2..]);
                        }
                    }
                }
            }
            out.push((i, cur.join(" ")));
        }
    }
    out
}

fn pick<'a, T>(v: &'a [T], rng: &mut StdRng) -> Option<&'a T> {
    if v.is_empty() {
        None
    } else {
        v.get(rng.random_range(0..v.len()))
    }
}

/// The teacher's sentence embeddings of `texts` as one (N, dim) tensor; `progress` gets the
/// number embedded so far; `abort` stops between chunks.
pub(crate) fn teacher_targets(
    opts: &TeacherOptions,
    texts: &[&str],
    device: &Device,
    progress: &dyn Fn(usize),
    abort: &AtomicBool,
) -> Result<Tensor> {
    // The teacher runs on the CPU whatever the training device: its forward is a one-off cost.
    let teacher = Teacher::load(Path::new(&opts.dir), &Device::Cpu)?;
    let dim = teacher.dim();
    let mut flat = Vec::with_capacity(texts.len() * dim);
    for (k, chunk) in texts.chunks(256).enumerate() {
        if abort.load(Ordering::Relaxed) {
            return Err(Error::Aborted);
        }
        for row in teacher.embed(chunk)? {
            flat.extend(row);
        }
        progress((k * 256 + chunk.len()).min(texts.len()));
    }
    Ok(Tensor::from_vec(flat, (texts.len(), dim), device)?)
}

/// The tool probabilities (N, n_labels) a logistic regression on the teacher's embeddings
/// gives every text: fitted on the first `labels.len()` rows of `emb` (the labelled texts),
/// full-batch Adam with a little L2, then applied to all rows.
pub(crate) fn soft_labels(emb: &Tensor, labels: &[u32], n_labels: usize) -> Result<Tensor> {
    use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
    let dev = emb.device();
    let (_, dim) = emb.dims2()?;
    let x = emb.narrow(0, 0, labels.len())?;
    let w = Var::zeros((dim, n_labels), candle_core::DType::F32, dev)?;
    let b = Var::zeros(n_labels, candle_core::DType::F32, dev)?;
    let y = Tensor::from_vec(labels.to_vec(), (labels.len(), 1), dev)?;
    let mut opt = AdamW::new(
        vec![w.clone(), b.clone()],
        ParamsAdamW {
            lr: 0.05,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    for _ in 0..300 {
        let logits = x.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?;
        let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let nll = logp.gather(&y, 1)?.neg()?.mean_all()?;
        let l2 = (w.as_tensor().sqr()?.sum_all()? * 1e-4)?;
        opt.backward_step(&(nll + l2)?)?;
    }
    // Detached: a target, not a function of the classifier's weights, or every training step
    // would backpropagate through the classifier over all the texts.
    let logits = emb
        .matmul(&w.as_tensor().detach())?
        .broadcast_add(&b.as_tensor().detach())?;
    Ok(candle_nn::ops::softmax(&logits, D::Minus1)?)
}

/// Mean cross-entropy of `logits` (B, n_labels) against soft targets `p` (B, n_labels).
pub(crate) fn soft_loss(logits: &Tensor, p: &Tensor) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    Ok((logp * p)?.sum(D::Minus1)?.neg()?.mean_all()?)
}

/// The projection from the controller's width to the teacher's, (dim, d_model), small random
/// values; trained with the model and dropped when training ends.
pub(crate) fn projection(
    d_model: usize,
    dim: usize,
    rng: &mut StdRng,
    device: &Device,
) -> Result<Var> {
    let std = (1.0 / d_model as f64).sqrt() as f32;
    let w: Vec<f32> = (0..dim * d_model)
        .map(|_| std * crate::train::normal(rng))
        .collect();
    Ok(Var::from_tensor(&Tensor::from_vec(
        w,
        (dim, d_model),
        device,
    )?)?)
}

/// Mean of 1 − cos(P · pooled, target) over the batch: `pooled` (B, d_model), `proj`
/// (dim, d_model), `targets` (B, dim), L2-normalised.
pub(crate) fn loss(pooled: &Tensor, proj: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let z = pooled.matmul(&proj.t()?)?;
    let norm = z
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-6, f64::MAX)?;
    let cos = (z.broadcast_div(&norm)? * targets)?.sum(D::Minus1)?;
    Ok(cos.affine(-1.0, 1.0)?.mean_all()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn augmented_copies_change_their_text_and_name_their_source() {
        let texts = ["book a table for two tonight", "play some jazz", "weather"];
        let mut rng = StdRng::seed_from_u64(1);
        let out = augment(&texts, 5, &mut rng);
        assert_eq!(out.len(), 15);
        for (i, chunk) in out.chunks(5).enumerate() {
            assert!(chunk.iter().all(|(src, _)| *src == i));
        }
        let changed = out.iter().filter(|(i, t)| *t != texts[*i]).count();
        assert!(changed >= 10, "only {changed} of 15 copies differ");
        assert!(out.iter().all(|(_, t)| !t.trim().is_empty()));
    }

    #[test]
    fn the_loss_is_zero_when_the_projection_points_at_the_target() -> Result<()> {
        let dev = Device::Cpu;
        let pooled = Tensor::new(&[[1f32, 0.0], [0.0, 2.0]], &dev)?;
        let proj = Tensor::new(&[[1f32, 0.0], [0.0, 1.0], [0.0, 0.0]], &dev)?;
        let same = Tensor::new(&[[1f32, 0.0, 0.0], [0.0, 1.0, 0.0]], &dev)?;
        assert!(loss(&pooled, &proj, &same)?.to_scalar::<f32>()?.abs() < 1e-6);
        let opposite = same.neg()?;
        let l = loss(&pooled, &proj, &opposite)?.to_scalar::<f32>()?;
        assert!((l - 2.0).abs() < 1e-6, "{l}");
        Ok(())
    }

    #[test]
    fn bad_options_are_named() {
        let o = TeacherOptions {
            weight: -1.0,
            ..Default::default()
        };
        let e = o.check().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("teacher.weight"), "{e}");
    }
}
