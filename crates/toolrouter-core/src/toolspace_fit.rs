//! Training the tool space (issue 10): a second stage after [`crate::train::fit`] that teaches
//! the router to score requests against tools it has never been trained on.
//!
//! A tool encoder maps a tool's text to a head row: the text goes through the controller's own
//! encoder (the vector the head reads, `head_in` wide) and a learned linear map `A`
//! (`toolspace.proj`, `head_in x head_in`, starting as the identity) into the tool space, where
//! a request `x` scores against a tool vector `t = A·c` (for the tool's text vector `c`) as
//! `s·(A x)·t − s/2·|t|² + β`: a scaled dot product with a learned temperature `s`, less
//! half the tool vector's squared length, so that the nearest tool vector wins (a prototype
//! classifier). That is linear in `x`, so a tool is still a head row `w = s·Aᵀt`, bias
//! `−s/2·|t|² + β`, and routing keeps its fast path. With examples the tool's vector is made
//! from the mean of its text's vector and its examples' vectors.
//!
//! Training continues from the trained router. At each step a random share of the tools is
//! held out: their trained rows are replaced by rows the tool encoder makes from a variant of
//! their text (name, description, argument names, or a random part of them), sometimes mixed
//! with the mean vector of 1, 5 or 10 of their requests, exactly as `add_tool` will make them.
//! The loss is cross-entropy over all labels, so the rows from text compete with the trained
//! rows of the other tools: the negatives are the other tools of the step, in-batch. The
//! encoder, the trained rows and the projection are updated together; the n-gram table stays
//! as it was.

use crate::data::Example;
use crate::error::{Error, Result};
use crate::model::{bag_vectors, Batch, ToolController};
use crate::router::{Inputs, Router};
use crate::toolspace::tool_text;
use candle_core::{DType, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// The map into the tool space, `head_in x head_in`.
pub const PROJ_WEIGHT: &str = "toolspace.proj.weight";
/// `[ln s, β, δ₀, δ₁, δ₅, δ₁₀]`: the log temperature, the shared bias, and the bias offsets of
/// tools added with 0, 1, 5 and 10 examples (see [`choose_offsets`]).
pub const PROJ_SCALE: &str = "toolspace.scale";

/// The row (`head_in` values) and bias of a tool whose mean text-and-examples vector is `c`,
/// from the map `a` (row-major) and `[ln s, β]`.
pub fn tool_row(a: &[f32], scale: &[f32], c: &[f32]) -> (Vec<f32>, f32) {
    let h = c.len();
    let (s, beta) = (scale[0].exp(), scale[1]);
    debug_assert!(scale.len() >= 2);
    let t: Vec<f32> = (0..h)
        .map(|i| {
            a[i * h..(i + 1) * h]
                .iter()
                .zip(c)
                .map(|(x, y)| x * y)
                .sum()
        })
        .collect();
    let mut w = vec![0f32; h];
    for (i, ti) in t.iter().enumerate() {
        w.iter_mut()
            .zip(&a[i * h..(i + 1) * h])
            .for_each(|(wj, aij)| *wj += s * ti * aij);
    }
    let norm: f32 = t.iter().map(|x| x * x).sum();
    (w, beta - 0.5 * s * norm)
}

/// Options of the tool-space stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolSpaceOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Share of the tools held out at each step.
    pub hold_out: f64,
    /// Share of the held-out tools whose rows also get a few of their requests.
    pub few_shot: f64,
    /// Logits taken off the bias of added tools beyond what the simulation on validation
    /// requests asks for (see [`choose_offsets`]): the simulation is optimistic, since the tools
    /// it holds out were trained and their requests sit apart more than a new tool's do. The
    /// default was chosen on CLINC150's validation split (120 tools trained, 30 added): the
    /// old tools stay within a point. Lower favours the added tools, higher the old ones.
    pub margin: f32,
    pub seed: u64,
}

impl Default for ToolSpaceOptions {
    fn default() -> Self {
        ToolSpaceOptions {
            epochs: 4,
            batch_size: 64,
            lr: 1e-3,
            hold_out: 0.25,
            few_shot: 0.5,
            margin: 2.5,
            seed: 7,
        }
    }
}

/// One request or tool text, encoded.
struct Item {
    ids: Vec<u32>,
    feat_ids: Vec<u32>,
    feat_w: Vec<f32>,
    shapes: Vec<u32>,
}

impl From<Inputs> for Item {
    fn from(i: Inputs) -> Self {
        Item {
            shapes: i.shapes,
            ids: i.ids,
            feat_ids: i.feat_ids,
            feat_w: i.feat_w,
        }
    }
}

/// The vector the head reads for `items` (B, head_in), through `model` (in training mode when
/// `train`: dropout on, gradients recorded).
fn head_input(
    model: &ToolController,
    table: Option<&Tensor>,
    items: &[&Item],
    train: bool,
    dev: &candle_core::Device,
) -> Result<Tensor> {
    let ids: Vec<&[u32]> = items.iter().map(|i| i.ids.as_slice()).collect();
    let (ids, mask) = Batch::tokens(&ids, dev)?;
    let shapes: Vec<&[u32]> = items.iter().map(|i| i.shapes.as_slice()).collect();
    let shapes = Batch::shapes(model.config().n_shapes, &shapes, dev)?;
    let (_, pooled) = model.encode_t(&ids, &mask, shapes.as_ref(), train)?;
    match table {
        Some(table) => {
            let f: Vec<&[u32]> = items.iter().map(|i| i.feat_ids.as_slice()).collect();
            let w: Vec<&[f32]> = items.iter().map(|i| i.feat_w.as_slice()).collect();
            Ok(Tensor::cat(&[&pooled, &bag_vectors(table, &f, &w)?], 1)?)
        }
        None => Ok(pooled),
    }
}

/// Each tool's label, by name.
fn tool_index(router: &Router) -> HashMap<&str, usize> {
    router
        .tools()
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect()
}

/// Variants of a tool's text, so the encoder does not learn 120 strings by heart. The full
/// text (what `add_tool` sees) comes twice, to be drawn more often.
fn variants(spec: &crate::data::ToolSpec) -> Vec<String> {
    let full = tool_text(spec);
    let name = spec.name.replace(['_', '-', '.'], " ");
    let mut v = vec![full.clone(), full];
    if !spec.description.trim().is_empty() {
        v.push(spec.description.trim().to_string());
        v.push(format!("{name}. {}", spec.description.trim()));
        for s in spec.description.split(". ").filter(|s| s.len() > 12) {
            v.push(format!("{name}. {s}"));
        }
    }
    v
}

/// Drops a random share of the words of `text` (kept in order).
fn drop_words(text: &str, p: f64, rng: &mut StdRng) -> String {
    let kept: Vec<&str> = text
        .split_whitespace()
        .filter(|_| rng.random::<f64>() >= p)
        .collect();
    if kept.is_empty() {
        text.to_string()
    } else {
        kept.join(" ")
    }
}

/// Continues training `base` as a tool space (see the module doc) on `train` (the examples of
/// its tools; out-of-scope rows are fine). The result routes as `base` does, a little better
/// trained, and its `add_tool` makes rows with the learned tool encoder.
pub fn fit_tool_space(
    base: &Router,
    train: &[Example],
    valid: Option<&[Example]>,
    opts: &ToolSpaceOptions,
    abort: &AtomicBool,
) -> Result<Router> {
    if base.config().architecture != "attention" {
        return Err(Error::invalid(
            "architecture",
            "the tool space needs the attention controller",
        ));
    }
    let dev = base.device().clone();
    let cfg = base.config().clone();
    let h = cfg.head_in();
    let n_tools = base.tools().len();
    let index = tool_index(base);
    let mut rng = StdRng::seed_from_u64(opts.seed);
    crate::model::seed_dropout(opts.seed);

    let enc = |t: &str| -> Result<Item> { Ok(base.encoder.encode(t)?.into()) };
    let reqs: Vec<Item> = train.iter().map(|e| enc(&e.text)).collect::<Result<_>>()?;
    let labels: Vec<u32> = train
        .iter()
        .map(|e| {
            e.tool
                .as_deref()
                .and_then(|t| index.get(t).copied())
                .unwrap_or(n_tools) as u32
        })
        .collect();
    let mut by_tool: Vec<Vec<usize>> = vec![Vec::new(); n_tools];
    for (i, &l) in labels.iter().enumerate() {
        if (l as usize) < n_tools {
            by_tool[l as usize].push(i);
        }
    }
    // The temperature starts where a request's distance to its own tool's mean vector is worth
    // about 5 logits.
    let feats = base.features(&train.iter().map(|e| e.text.as_str()).collect::<Vec<_>>())?;
    let mut spread = (0f64, 0usize);
    for idx in by_tool.iter().filter(|v| !v.is_empty()) {
        let mut mean = vec![0f64; h];
        for &i in idx {
            mean.iter_mut()
                .zip(&feats[i])
                .for_each(|(m, v)| *m += *v as f64);
        }
        mean.iter_mut().for_each(|m| *m /= idx.len() as f64);
        for &i in idx {
            spread.0 += feats[i]
                .iter()
                .zip(&mean)
                .map(|(v, m)| (*v as f64 - m).powi(2))
                .sum::<f64>();
            spread.1 += 1;
        }
    }
    let s0 = 10.0 / (spread.0 / spread.1.max(1) as f64).max(1e-6);
    let eye: Vec<f32> = (0..h * h)
        .map(|i| if i / h == i % h { 1.0 } else { 0.0 })
        .collect();
    let varmap = VarMap::new();
    let table = base.weights.get("bag.table").cloned();
    {
        let mut vars = varmap
            .data()
            .lock()
            .map_err(|_| Error::Internal("variable map lock poisoned".into()))?;
        for (name, t) in &base.weights {
            if name != "bag.table" {
                vars.insert(name.clone(), Var::from_tensor(t)?);
            }
        }
        vars.insert(
            PROJ_WEIGHT.into(),
            Var::from_tensor(&Tensor::from_vec(eye, (h, h), &dev)?)?,
        );
        vars.insert(
            PROJ_SCALE.into(),
            Var::from_tensor(&Tensor::from_vec(vec![s0.ln() as f32, 0.0], 2, &dev)?)?,
        );
    }
    let model = ToolController::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &dev))?;
    let var = |n: &str| -> Result<Tensor> {
        let vars = varmap
            .data()
            .lock()
            .map_err(|_| Error::Internal("variable map lock poisoned".into()))?;
        Ok(vars
            .get(n)
            .ok_or_else(|| Error::Internal(format!("missing variable {n}")))?
            .as_tensor()
            .clone())
    };
    let (head_w, head_b, proj, scale) = (
        var("head.weight")?,
        var("head.bias")?,
        var(PROJ_WEIGHT)?,
        var(PROJ_SCALE)?,
    );
    let frozen = !cfg.pretrained.is_empty();
    let trained: Vec<Var> = {
        let vars = varmap
            .data()
            .lock()
            .map_err(|_| Error::Internal("variable map lock poisoned".into()))?;
        let mut named: Vec<(&String, &Var)> = vars
            .iter()
            .filter(|(n, _)| !(frozen && n.as_str() == "tok_emb.weight"))
            .collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        named.into_iter().map(|(_, v)| v.clone()).collect()
    };
    let mut opt = AdamW::new(
        trained,
        ParamsAdamW {
            lr: opts.lr,
            weight_decay: 0.01,
            ..Default::default()
        },
    )?;

    let texts: Vec<Vec<String>> = base.tools().iter().map(variants).collect();
    let n_labels = cfg.n_labels;
    let steps_per_epoch = reqs.len().div_ceil(opts.batch_size.max(1));
    let total = (steps_per_epoch * opts.epochs).max(1) as f64;
    let mut step = 0usize;
    for _epoch in 0..opts.epochs {
        // Example vectors for few-shot rows: the current encoder, no gradient (add_tool too
        // encodes examples with the finished encoder).
        let mut cache: Vec<Vec<f32>> = Vec::with_capacity(reqs.len());
        for chunk in reqs.chunks(128) {
            let refs: Vec<&Item> = chunk.iter().collect();
            cache.extend(head_input(&model, table.as_ref(), &refs, false, &dev)?.to_vec2::<f32>()?);
        }
        let mut order: Vec<usize> = (0..reqs.len()).collect();
        order.shuffle(&mut rng);
        for batch in order.chunks(opts.batch_size.max(1)) {
            if abort.load(Ordering::Relaxed) {
                return Err(Error::Aborted);
            }
            step += 1;
            let p = step as f64 / total;
            opt.set_learning_rate(opts.lr * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()));
            let held: Vec<usize> = (0..n_tools)
                .filter(|&k| !by_tool[k].is_empty() && rng.random::<f64>() < opts.hold_out)
                .collect();
            let items: Vec<&Item> = batch.iter().map(|&i| &reqs[i]).collect();
            let x = head_input(&model, table.as_ref(), &items, true, &dev)?;
            let mut logits = x.broadcast_matmul(&head_w.t()?)?.broadcast_add(&head_b)?;
            if !held.is_empty() {
                let tool_items: Vec<Item> = held
                    .iter()
                    .map(|&k| {
                        let t = texts[k].choose(&mut rng).cloned().unwrap_or_default();
                        let t = if rng.random::<f64>() < 0.3 {
                            drop_words(&t, 0.3, &mut rng)
                        } else {
                            t
                        };
                        enc(&t)
                    })
                    .collect::<Result<_>>()?;
                let refs: Vec<&Item> = tool_items.iter().collect();
                let desc = head_input(&model, table.as_ref(), &refs, true, &dev)?;
                // Few-shot: the sum of k example vectors and 1/(k+1), as add_tool mixes them.
                let mut sums = vec![0f32; held.len() * h];
                let mut inv = vec![1f32; held.len()];
                for (j, &k) in held.iter().enumerate() {
                    if rng.random::<f64>() >= opts.few_shot {
                        continue;
                    }
                    let n = *[1usize, 5, 10].choose(&mut rng).unwrap_or(&1);
                    let picks: Vec<&usize> = by_tool[k].choose_multiple(&mut rng, n).collect();
                    for &&i in &picks {
                        sums[j * h..(j + 1) * h]
                            .iter_mut()
                            .zip(&cache[i])
                            .for_each(|(s, v)| *s += v);
                    }
                    inv[j] = 1.0 / (picks.len() as f32 + 1.0);
                }
                let sums = Tensor::from_vec(sums, (held.len(), h), &dev)?;
                let inv = Tensor::from_vec(inv, (held.len(), 1), &dev)?;
                let mixed = (desc + sums)?.broadcast_mul(&inv)?;
                let t = mixed.matmul(&proj.t()?)?;
                let s = scale.narrow(0, 0, 1)?.exp()?;
                let w = t.matmul(&proj)?.broadcast_mul(&s)?;
                let b = t
                    .sqr()?
                    .sum(1)?
                    .broadcast_mul(&(s * -0.5)?)?
                    .broadcast_add(&scale.narrow(0, 1, 1)?)?;
                let gen = x.broadcast_matmul(&w.t()?)?.broadcast_add(&b)?;
                // Put the generated columns in place of the held-out tools' trained ones.
                let mut keep = vec![1f32; n_labels];
                let mut scatter = vec![0f32; held.len() * n_labels];
                for (j, &k) in held.iter().enumerate() {
                    keep[k] = 0.0;
                    scatter[j * n_labels + k] = 1.0;
                }
                let keep = Tensor::from_vec(keep, (1, n_labels), &dev)?;
                let scatter = Tensor::from_vec(scatter, (held.len(), n_labels), &dev)?;
                logits = (logits.broadcast_mul(&keep)? + gen.matmul(&scatter)?)?;
            }
            let y: Vec<u32> = batch.iter().map(|&i| labels[i]).collect();
            let y = Tensor::from_vec(y, batch.len(), &dev)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            opt.backward_step(&loss)?;
        }
    }

    let mut weights: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .map_err(|_| Error::Internal("variable map lock poisoned".into()))?
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
        .collect::<Result<_>>()?;
    if let Some(t) = table {
        weights.insert("bag.table".into(), t);
    }
    let mut router = Router::from_parts(
        cfg,
        base.encoder.clone(),
        base.tools().to_vec(),
        weights,
        base.training().clone(),
        dev,
    )?;
    router.replay = base.replay().to_vec();
    // The logits moved: the temperature and threshold are fitted again on the validation
    // requests (without them, the router keeps its old ones).
    if let Some(v) = valid.filter(|v| !v.is_empty()) {
        let rows: Vec<&Example> = v.iter().collect();
        let index32: HashMap<&str, u32> = index.iter().map(|(k, v)| (*k, *v as u32)).collect();
        let target = base.calibration().target_precision;
        let c = crate::train::calibrate(&router, &rows, &index32, target)?;
        router.set_calibration(c);
    }
    let offsets = choose_offsets(&router, train, valid.unwrap_or(train), opts)?;
    let mut scale: Vec<f32> = router
        .weights
        .get(PROJ_SCALE)
        .ok_or_else(|| Error::Internal("missing the tool-space scale".into()))?
        .to_vec1::<f32>()?;
    scale.truncate(2);
    scale.extend(offsets);
    let dev = router.device().clone();
    router.weights.insert(
        PROJ_SCALE.into(),
        Tensor::from_vec(scale.clone(), scale.len(), &dev)?,
    );
    router.imprinter = None;
    Ok(router)
}

/// [`crate::train::fit_from`], then, when `tool_space` is given, the tool-space stage on the
/// same examples (validation: `valid`, or the training examples when there is none).
#[allow(clippy::too_many_arguments)]
pub fn fit_with_tool_space(
    init: Option<&Router>,
    tools: &[crate::data::ToolSpec],
    train: &[Example],
    valid: Option<&[Example]>,
    opts: &crate::train::TrainOptions,
    tool_space: Option<&ToolSpaceOptions>,
    progress: &dyn Fn(&crate::train::Progress),
    abort: &AtomicBool,
) -> Result<Router> {
    // Under a tool space the pretrained table stays frozen unless the caller said otherwise:
    // fine-tuned rows of the trained words leave the words only a new tool's description uses
    // in another space (zero-shot fell from at least 5 of 16 to 2 in tests/toolspace.rs).
    let opts = &crate::train::TrainOptions {
        freeze_pretrained: opts
            .freeze_pretrained
            .or(tool_space.is_some().then_some(true)),
        ..opts.clone()
    };
    let started = std::time::Instant::now();
    let Some(ts) = tool_space else {
        return crate::train::fit_from(init, tools, train, valid, opts, progress, abort);
    };
    if opts.architecture != "attention" {
        return Err(Error::invalid(
            "architecture",
            "the tool space needs the attention controller",
        ));
    }
    if !ts.margin.is_finite() {
        return Err(Error::invalid(
            "toolSpaceMargin",
            "must be a finite number (in logits)",
        ));
    }
    // `done` only once the stage has run.
    let done = std::cell::RefCell::new(None);
    let inner = |p: &crate::train::Progress| {
        if p.phase == "done" {
            *done.borrow_mut() = Some(p.clone());
        } else {
            progress(p);
        }
    };
    let router = crate::train::fit_from(init, tools, train, valid, opts, &inner, abort)?;
    let ts = ToolSpaceOptions {
        seed: opts.seed,
        ..ts.clone()
    };
    let mut router = fit_tool_space(&router, train, valid, &ts, abort)?;
    router.info.train_seconds = started.elapsed().as_secs_f64();
    if let Some(mut p) = done.into_inner() {
        p.elapsed_s = router.info.train_seconds;
        progress(&p);
    }
    Ok(router)
}

/// Shot counts the bias offsets of added tools are chosen for (see [`choose_offsets`]).
pub const OFFSET_SHOTS: [usize; 4] = [0, 1, 5, 10];
/// Accuracy on the other tools' requests that adding tools may cost, at most, on validation.
const OLD_DROP: f64 = 0.005;
const SIM_ROUNDS: usize = 8;
const SIM_HOLD_OUT: f64 = 0.2;

/// The bias offset for added tools with 0, 1, 5 and 10 examples. Rows from a tool encoder
/// compete with rows trained on hundreds of requests; left as they are they take requests from
/// the old tools. Simulated on `valid`: a fifth of the tools at a time get rows made from
/// their text (and examples from `train`) in place of their trained rows; the offset is the
/// largest (most generous to the new tools) that keeps the accuracy on the other tools'
/// requests, out-of-scope ones included, within [`OLD_DROP`] of the router's own, less
/// `opts.margin`.
fn choose_offsets(
    router: &Router,
    train: &[Example],
    valid: &[Example],
    opts: &ToolSpaceOptions,
) -> Result<Vec<f32>> {
    let n_tools = router.tools().len();
    let index = tool_index(router);
    // Out-of-scope requests count among the old ones (label "none"): an added tool must not
    // take them from the LLM either.
    let has_none = router.config().has_none;
    let gold = |e: &Example| match e.tool.as_deref() {
        Some(t) => index.get(t).copied(),
        None => has_none.then_some(n_tools),
    };
    let rows: Vec<&Example> = valid.iter().filter(|e| gold(e).is_some()).collect();
    if rows.is_empty() || n_tools < 2 {
        return Ok(vec![0.0; OFFSET_SHOTS.len()]);
    }
    let texts: Vec<&str> = rows.iter().map(|e| e.text.as_str()).collect();
    let z = router.logits(&texts)?;
    let x = router.features(&texts)?;
    let tool_x = router.features(&router.tools().iter().map(tool_text).collect::<Vec<_>>())?;
    let mut pool: Vec<Vec<&str>> = vec![Vec::new(); n_tools];
    for e in train {
        if let Some(k) = gold(e).filter(|&k| k < n_tools) {
            pool[k].push(&e.text);
        }
    }
    let Some(crate::toolspace::Imprinter::Projection { a, scale }) =
        crate::toolspace::Imprinter::fit(router).ok()
    else {
        return Err(Error::Internal("tool space without its map".into()));
    };
    let mut rng = StdRng::seed_from_u64(opts.seed ^ 0x5eed);
    let grid: Vec<f32> = (-48..=8).map(|i| i as f32 * 0.25).collect();
    let mut out = Vec::new();
    for shots in OFFSET_SHOTS {
        // (new right, new total, old right, old total) per offset.
        let mut tally = vec![(0usize, 0usize, 0usize, 0usize); grid.len()];
        let mut old_base = (0usize, 0usize);
        for _ in 0..SIM_ROUNDS {
            let held: Vec<usize> = (0..n_tools)
                .filter(|_| rng.random::<f64>() < SIM_HOLD_OUT)
                .collect();
            if held.is_empty() {
                continue;
            }
            let mut gen: HashMap<usize, (Vec<f32>, f32)> = HashMap::new();
            for &k in &held {
                let ex: Vec<&str> = pool[k].choose_multiple(&mut rng, shots).copied().collect();
                let ex_x = router.features(&ex)?;
                let n = ex_x.len() as f32 + 1.0;
                let mut c = tool_x[k].clone();
                for e in &ex_x {
                    c.iter_mut().zip(e).for_each(|(s, v)| *s += v);
                }
                c.iter_mut().for_each(|s| *s /= n);
                gen.insert(k, tool_row(&a, &scale, &c));
            }
            for (i, e) in rows.iter().enumerate() {
                let Some(g) = gold(e) else { continue };
                let is_new = gen.contains_key(&g);
                let argmax = |v: &[f32]| (0..v.len()).max_by(|&p, &q| v[p].total_cmp(&v[q]));
                if !is_new {
                    old_base.1 += 1;
                    old_base.0 += usize::from(argmax(&z[i]) == Some(g));
                }
                let mut zi = z[i].clone();
                let gz: Vec<(usize, f32)> = gen
                    .iter()
                    .map(|(&k, (w, b))| {
                        (k, b + w.iter().zip(&x[i]).map(|(p, q)| p * q).sum::<f32>())
                    })
                    .collect();
                for (t, &d) in tally.iter_mut().zip(&grid) {
                    for &(k, v) in &gz {
                        zi[k] = v + d;
                    }
                    let hit = argmax(&zi) == Some(g);
                    if is_new {
                        t.0 += usize::from(hit);
                        t.1 += 1;
                    } else {
                        t.2 += usize::from(hit);
                        t.3 += 1;
                    }
                }
            }
        }
        let base_acc = old_base.0 as f64 / old_base.1.max(1) as f64;
        let best = grid
            .iter()
            .zip(&tally)
            .filter(|(_, t)| t.2 as f64 / t.3.max(1) as f64 >= base_acc - OLD_DROP)
            .map(|(d, _)| *d)
            .fold(grid[0], f32::max);
        out.push(best - opts.margin);
    }
    Ok(out)
}

/// The bias offset for a tool added with `shots` examples: linear between the offsets chosen
/// for [`OFFSET_SHOTS`], the last one beyond.
pub fn offset_for(offsets: &[f32], shots: usize) -> f32 {
    if offsets.is_empty() {
        return 0.0;
    }
    let pts: Vec<(f32, f32)> = OFFSET_SHOTS
        .iter()
        .zip(offsets)
        .map(|(&k, &d)| (k as f32, d))
        .collect();
    let k = shots as f32;
    for w in pts.windows(2) {
        let ((k0, d0), (k1, d1)) = (w[0], w[1]);
        if k <= k1 {
            return d0 + (d1 - d0) * (k - k0) / (k1 - k0);
        }
    }
    pts.last().map_or(0.0, |p| p.1)
}
