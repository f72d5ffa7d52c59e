//! Training: tokenizer and n-gram vocabulary fitted on the training texts, then AdamW with
//! warm-up and cosine decay, dropout, label smoothing, class-balanced loss weights, a validation
//! split (given, or a stratified share held out), early stopping and the best checkpoint kept.
//!
//! The n-gram table is large and each batch touches a few thousand of its rows, so it is trained
//! with a lazy (sparse) Adam over the touched rows only; everything else goes through candle's
//! AdamW. Cancellation: an `AtomicBool` checked between batches. Progress: a plain callback.

use crate::calibrate::{
    choose_threshold, fit_temperature, softmax_t, Calibration, MIN_TEMPERATURE, MIN_THRESHOLD,
};
use crate::data::{check_examples, Example, ToolSpec};
use crate::device::resolve_device;
use crate::error::{Error, Result};
use crate::features::NgramVocab;
use crate::model::{Batch, Config, ToolController};
use crate::router::{Encoder, Router, TrainingInfo};
use crate::tokenizer::train_tokenizer;
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{ops, AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Training options. Defaults were picked on the validation splits of SNIPS, ATIS and CLINC150
/// together (never on a test split) and are meant to work without tuning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainOptions {
    /// `"attention"` (the ToolController) or `"gru"` (the original prototype's encoder, kept as
    /// a baseline).
    pub architecture: String,
    /// Straight-through Gumbel-softmax on the tool output during training, at this temperature
    /// (0: off, plain softmax cross-entropy), as the prototype trained.
    pub gumbel_tau: f64,
    /// Final Gumbel temperature: `tau` decays geometrically to it over the schedule (0: none).
    pub gumbel_anneal: f64,
    pub d_model: usize,
    pub layers: usize,
    pub heads: usize,
    pub ff_mult: usize,
    pub max_tokens: usize,
    pub dropout: f32,
    /// Sub-word vocabulary size of the tokenizer trained on the texts (exceeded only when the
    /// texts use more distinct characters than fit: each is kept); unused with a pretrained
    /// table, which brings its own.
    pub vocab_size: usize,
    /// Start the token embeddings from a pretrained static word table (`"minilm"`: the
    /// all-MiniLM-L6-v2 table compiled into the library, see [`crate::pretrained`]) with its
    /// tokenizer, or `"none"`: a tokenizer and embeddings learned from the training texts alone.
    /// The default, `"minilm"`, validated better on SNIPS, ATIS and CLINC150 and much better on
    /// small sets (the bundled demo, 10 examples per CLINC150 intent).
    pub pretrained: String,
    /// Keep the pretrained embeddings fixed, so words the training texts never use stay where
    /// the teacher put them. `None` (the default): fine-tuned, which validated better, except
    /// under a tool space ([`crate::toolspace_fit::fit_with_tool_space`]), where a new tool's
    /// description words must stay in the space the trained words started from.
    pub freeze_pretrained: Option<bool>,
    /// Use the TF-IDF n-gram bag beside the transformer.
    pub ngrams: bool,
    /// Add each word's shape (case, digits, `@`; see [`crate::tokenizer::word_shapes`]) to its
    /// tokens' embeddings, so names, ids and e-mail addresses stand out from the lower-cased
    /// sub-words. Off by default: on the workflow benchmark's mixed-case ids, names and
    /// addresses they validated much better (its options turn them on), but on small mixed-case
    /// sets (the distillation loop's 75 to 300 demo examples) the router answered more and was
    /// right less often at its threshold, a new tool's upper-case tickers went to the trained
    /// tools under a tool space, and on all-lower-case texts (SNIPS, ATIS, CLINC150) a shape
    /// only repeats the tokens (validated no better).
    pub word_shapes: bool,
    pub d_bag: usize,
    pub max_features: usize,
    pub min_df: usize,
    /// Upper bound on epochs; early stopping may end sooner. 0: about 3000 optimizer steps,
    /// between 8 and 60 epochs, so small and large datasets both train enough and not too long.
    pub epochs: usize,
    /// Epochs without a better validation score before stopping.
    pub patience: usize,
    /// Examples per step, at most; datasets under 8 batches' worth use an eighth of their size
    /// (at least 8).
    pub batch_size: usize,
    pub lr: f64,
    pub bag_lr: f64,
    pub weight_decay: f64,
    /// Decoupled weight decay of the n-gram rows a step touches.
    pub bag_weight_decay: f64,
    /// Share of the steps spent warming the learning rate up.
    pub warmup: f64,
    pub label_smoothing: f64,
    /// Share of a request's n-gram features dropped at random in each training step.
    pub feature_dropout: f64,
    /// Share of a request's tokens replaced by `[UNK]` at random in each training step.
    pub token_dropout: f64,
    /// Weight of the argument-tagging loss beside the tool loss (0: no argument head).
    pub arg_weight: f64,
    /// Chance that an argument value in a training request is replaced, in each epoch, by
    /// another value the training data gives the same tool's same argument (the tags follow), so
    /// that the tagger learns an argument from its context rather than from the values it has
    /// seen. 0: off. The default, 0.25, validated best of 0, 0.25 and 0.5 over SNIPS and ATIS
    /// at two seeds (validation tool accuracy + 0.1 × tag F1, the epoch score then; it is also
    /// best under today's 0.3; README, "Accuracy").
    pub value_swap: f64,
    /// Share of the swaps ([`Self::value_swap`]) that draw the new value from every argument's
    /// values (of any tool) instead of the same argument's: a value never seen in that place, so
    /// that the tagger leans on the words around it even when the data gives an argument only a
    /// handful of values. 0 (the default): same argument only.
    pub value_swap_any: f64,
    /// Whether a value that occurs more than once in a request may be swapped. A workflow state
    /// repeats its values in the request and in earlier calls and results, and a swap in one
    /// place breaks that; `false` leaves such values alone. Default: `true`.
    pub value_swap_repeated: bool,
    /// An argument may have more than one value in a request only when at least this share of
    /// the training examples that give it give it twice; otherwise routing keeps its surest span
    /// (0: when any one example does). See [`REPEATED_ARG_SHARE`], the default.
    pub repeated_arg_share: f64,
    /// How much one point of argument-tag F1 counts against one point of tool accuracy when
    /// epochs (and, with a teacher, the labels-alone and taught routers) are compared on
    /// validation; see [`TAG_WEIGHT`], the default.
    pub tag_weight: f64,
    /// Average the weights of the second half's epochs, and keep the average when it validates
    /// at least as well as the best single epoch.
    pub average: bool,
    /// Loss weight of a class ∝ (1 / frequency)^power; 0 = unweighted, 1 = fully balanced.
    pub class_weight_power: f64,
    /// Share of each tool's examples held out for validation when no `valid` set is given.
    pub valid_fraction: f64,
    /// Precision the abstention threshold aims at on the validation requests the router
    /// answers (see `calibrate::choose_threshold`).
    pub target_precision: f64,
    pub seed: u64,
    /// `"cpu"`, `"cuda"`, `"metal"` or `"auto"`.
    pub device: String,
    /// Distil a sentence encoder into the router while training (see [`crate::distill`]);
    /// `None` (the default): labels alone. Needs the teacher's files on disk.
    pub teacher: Option<crate::distill::TeacherOptions>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            architecture: "attention".into(),
            gumbel_tau: 0.0,
            gumbel_anneal: 0.0,
            d_model: 64,
            layers: 2,
            heads: 4,
            ff_mult: 2,
            max_tokens: 48,
            dropout: 0.1,
            vocab_size: 4000,
            pretrained: "minilm".into(),
            freeze_pretrained: None,
            ngrams: true,
            word_shapes: false,
            d_bag: 96,
            max_features: 200_000,
            min_df: 2,
            epochs: 0,
            patience: 5,
            batch_size: 64,
            lr: 3e-3,
            bag_lr: 1e-2,
            weight_decay: 0.01,
            bag_weight_decay: 0.0,
            warmup: 0.05,
            label_smoothing: 0.0,
            feature_dropout: 0.8,
            token_dropout: 0.1,
            class_weight_power: 0.0,
            arg_weight: 0.5,
            value_swap: 0.25,
            value_swap_any: 0.0,
            value_swap_repeated: true,
            repeated_arg_share: REPEATED_ARG_SHARE,
            tag_weight: TAG_WEIGHT,
            average: true,
            valid_fraction: 0.1,
            target_precision: 0.99,
            seed: 42,
            device: "cpu".into(),
            teacher: None,
        }
    }
}

/// The token embedding table's weight name.
const TOKEN_TABLE: &str = "tok_emb.weight";

/// Optimizer steps aimed at when `epochs` is 0 (auto).
const AUTO_STEPS: usize = 3000;

/// What `fit` reports while it runs.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// `"prepare"`, `"train"` or `"done"`.
    pub phase: &'static str,
    pub epoch: usize,
    pub epochs: usize,
    pub step: usize,
    pub steps_per_epoch: usize,
    /// Mean training loss over the epoch so far.
    pub loss: f64,
    pub valid_accuracy: Option<f64>,
    pub valid_loss: Option<f64>,
    /// Micro F1 of the argument tags on the validation tokens, when the model tags arguments.
    pub valid_tag_f1: Option<f64>,
    pub elapsed_s: f64,
}

/// Lazy Adam over the rows of a dense table: only rows a batch touches are updated.
struct SparseAdam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
    lr: f64,
    decay: f64,
}

impl SparseAdam {
    fn new(len: usize, lr: f64, decay: f64) -> Self {
        SparseAdam {
            m: vec![0.0; len],
            v: vec![0.0; len],
            t: 0,
            lr,
            decay,
        }
    }

    fn step(&mut self, table: &mut [f32], rows: &[u32], grad: &[f32], dim: usize, lr_scale: f64) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        self.t += 1;
        let bc1 = 1.0 - B1.powi(self.t);
        let bc2 = 1.0 - B2.powi(self.t);
        let lr = (self.lr * lr_scale) as f32;
        let shrink = 1.0 - lr * self.decay as f32;
        for (k, &r) in rows.iter().enumerate() {
            let base = r as usize * dim;
            for j in 0..dim {
                let g = grad[k * dim + j];
                let i = base + j;
                self.m[i] = B1 * self.m[i] + (1.0 - B1) * g;
                self.v[i] = B2 * self.v[i] + (1.0 - B2) * g * g;
                table[i] =
                    table[i] * shrink - lr * (self.m[i] / bc1) / ((self.v[i] / bc2).sqrt() + 1e-8);
            }
        }
    }
}

/// One encoded example.
pub(crate) struct Encoded {
    pub ids: Vec<u32>,
    /// Each token's word shape (see [`crate::tokenizer::word_shapes`]).
    pub shapes: Vec<u32>,
    pub feat_ids: Vec<u32>,
    pub feat_w: Vec<f32>,
    /// One argument tag per token, or `None` when the example's arguments are unknown.
    pub tags: Option<Vec<u32>>,
    pub label: u32,
    /// Row of the teacher's embedding of the text, when distilling.
    pub target: Option<u32>,
    /// Weight of the tool loss (1; an augmented copy under distillation has its own).
    pub weight: f32,
}

/// Label index of each example: the tool's position, or `n_tools` ("none") for `tool: null`.
fn label_of(ex: &Example, index: &HashMap<&str, u32>, n_tools: usize) -> u32 {
    match &ex.tool {
        Some(t) => index.get(t.as_str()).copied().unwrap_or(n_tools as u32),
        None => n_tools as u32,
    }
}

/// Stratified split: a `fraction` of each label's examples (at least one left for training).
fn stratified_split(labels: &[u32], fraction: f64, rng: &mut StdRng) -> (Vec<usize>, Vec<usize>) {
    let mut by_label: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, &l) in labels.iter().enumerate() {
        by_label.entry(l).or_default().push(i);
    }
    let mut keys: Vec<u32> = by_label.keys().copied().collect();
    keys.sort_unstable();
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for k in keys {
        let mut idx = by_label.remove(&k).unwrap_or_default();
        idx.shuffle(rng);
        let n_valid =
            ((idx.len() as f64 * fraction).round() as usize).min(idx.len().saturating_sub(1));
        valid.extend_from_slice(&idx[..n_valid]);
        train.extend_from_slice(&idx[n_valid..]);
    }
    (train, valid)
}

/// Batches of similar length (less padding), in random order.
fn bucketed_batches(
    order: &[usize],
    lens: &[usize],
    batch: usize,
    rng: &mut StdRng,
) -> Vec<Vec<usize>> {
    let mut idx = order.to_vec();
    idx.shuffle(rng);
    let mut batches = Vec::new();
    for chunk in idx.chunks(batch * 32) {
        let mut c = chunk.to_vec();
        c.sort_by_key(|&i| lens[i]);
        batches.extend(c.chunks(batch).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

fn check_options(o: &TrainOptions) -> Result<()> {
    let bad = |name: &str, reason: &str| Err(Error::invalid(name, reason.to_string()));
    if o.batch_size == 0 {
        return bad("batchSize", "must be at least 1");
    }
    if !(o.lr > 0.0 && o.lr.is_finite()) {
        return bad("lr", "must be a positive number");
    }
    if !(0.0..1.0).contains(&o.valid_fraction) {
        return bad("validFraction", "must be in [0, 1)");
    }
    if !(0.0..1.0).contains(&o.feature_dropout) || !(0.0..1.0).contains(&o.token_dropout) {
        return bad(
            "featureDropout",
            "feature and token dropout must be in [0, 1)",
        );
    }
    if !(0.0..=1.0).contains(&o.value_swap) {
        return bad("valueSwap", "must be in [0, 1]");
    }
    if !(0.0..=1.0).contains(&o.repeated_arg_share) {
        return bad("repeatedArgShare", "must be in [0, 1]");
    }
    if !(0.0..=1.0).contains(&o.value_swap_any) {
        return bad("valueSwapAny", "must be in [0, 1]");
    }
    if !(o.tag_weight >= 0.0 && o.tag_weight.is_finite()) {
        return bad("tagWeight", "must be a number ≥ 0");
    }
    if !(0.0..1.0).contains(&o.label_smoothing) {
        return bad("labelSmoothing", "must be in [0, 1)");
    }
    if o.architecture != "attention" && o.architecture != "gru" {
        return bad("architecture", "must be `attention` or `gru`");
    }
    let finite_non_negative = |v: f64| v >= 0.0 && v.is_finite();
    if !finite_non_negative(o.gumbel_tau) || !finite_non_negative(o.gumbel_anneal) {
        return bad("gumbel", "`tau` and `anneal` must be finite numbers >= 0");
    }
    if !(o.target_precision > 0.0 && o.target_precision <= 1.0) {
        return bad("targetPrecision", "must be in (0, 1]");
    }
    if o.vocab_size < 16 {
        return bad("vocabSize", "must be at least 16");
    }
    if o.max_tokens < 2 {
        return bad("maxTokens", "must be at least 2");
    }
    if let Some(d) = &o.teacher {
        d.check()?;
    }
    Ok(())
}

/// Trains a router on `train` (and `valid`, when given) for `tools`.
pub fn fit(
    tools: &[ToolSpec],
    train: &[Example],
    valid: Option<&[Example]>,
    opts: &TrainOptions,
    progress: &dyn Fn(&Progress),
    abort: &AtomicBool,
) -> Result<Router> {
    fit_from(None, tools, train, valid, opts, progress, abort)
}

/// [`fit`], continuing from `init` when given (see [`crate::grow`]): its tools come first and
/// `tools` adds new ones (or updates schemas); its tokenizer, model shape and weights are the
/// starting point (the shape options in `opts` are ignored); the examples its file keeps for
/// replay are trained on beside `train`, so old tools are not forgotten.
///
/// With a teacher ([`TrainOptions::teacher`]) and validation data, a router is also trained on
/// the labels alone, and the one that validates better is kept (ties: labels alone): on SNIPS and
/// ATIS with all their examples the teacher's soft labels, less accurate than the labels, cost
/// accuracy, while with 10 examples per CLINC150 intent they add 5.8 points (docs/eval-distill.md).
/// Progress then reports the labels-alone run first, then the taught one.
/// [`TrainingInfo::teacher`] says which was kept.
pub fn fit_from(
    init: Option<&Router>,
    tools: &[ToolSpec],
    train: &[Example],
    valid: Option<&[Example]>,
    opts: &TrainOptions,
    progress: &dyn Fn(&Progress),
    abort: &AtomicBool,
) -> Result<Router> {
    let started = Instant::now();
    check_options(opts)?;
    if let Some(t) = &opts.teacher {
        // Loaded (a memory map and its header) and dropped: a bad file fails here, not after
        // the labels-alone run has trained.
        crate::teacher::Teacher::load(std::path::Path::new(&t.dir), &candle_core::Device::Cpu)?;
    }
    let validated = valid.is_some_and(|v| !v.is_empty()) || opts.valid_fraction > 0.0;
    if !validated || !opts.teacher.as_ref().is_some_and(|t| t.select) {
        return fit_once(init, tools, train, valid, opts, progress, abort);
    }
    let plain_opts = TrainOptions {
        teacher: None,
        ..opts.clone()
    };
    let plain = fit_once(init, tools, train, valid, &plain_opts, progress, abort)?;
    let taught = fit_once(init, tools, train, valid, opts, progress, abort)?;
    if plain.training().valid_examples == 0 {
        // The split held nothing out (a handful of examples per tool): nothing to choose by,
        // and distilling is what such small data was given a teacher for.
        return Ok(taught);
    }
    let score = |r: &Router| {
        let t = r.training();
        valid_score(
            t.valid_accuracy.unwrap_or(0.0),
            t.valid_tag_f1,
            opts.tag_weight,
        )
    };
    let (a, b) = (score(&plain), score(&taught));
    let mut kept = if b > a { taught } else { plain };
    kept.info.teacher = Some(crate::router::TeacherReport {
        used: b > a,
        valid_labels: a,
        valid_teacher: b,
    });
    kept.info.train_seconds = started.elapsed().as_secs_f64();
    Ok(kept)
}

/// One training run of [`fit_from`].
fn fit_once(
    init: Option<&Router>,
    tools: &[ToolSpec],
    train: &[Example],
    valid: Option<&[Example]>,
    opts: &TrainOptions,
    progress: &dyn Fn(&Progress),
    abort: &AtomicBool,
) -> Result<Router> {
    let started = Instant::now();
    let merged;
    let tools: &[ToolSpec] = match init {
        Some(r) => {
            merged = crate::grow::merge_tools(r.tools(), tools);
            &merged
        }
        None => tools,
    };
    if train.is_empty() {
        return Err(Error::invalid("train", "no training examples"));
    }
    let with_replay;
    let train: &[Example] = match init {
        Some(r) if !r.replay.is_empty() => {
            with_replay = [train, r.replay()].concat();
            &with_replay
        }
        _ => train,
    };
    let replayed = init.map_or(0, |r| r.replay.len());
    if tools.is_empty() {
        return Err(Error::invalid("tools", "no tools given"));
    }
    if train.is_empty() {
        return Err(Error::invalid("train", "no training examples"));
    }
    check_examples(train, tools, "train")?;
    if let Some(v) = valid {
        check_examples(v, tools, "valid")?;
    }
    let device = resolve_device(&opts.device)?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    crate::model::seed_dropout(opts.seed);

    let n_tools = tools.len();
    let index: HashMap<&str, u32> = tools
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i as u32))
        .collect();
    let has_none = train.iter().any(|e| e.tool.is_none()) || init.is_some_and(|r| r.cfg.has_none);
    let n_labels = n_tools + usize::from(has_none);

    let mut warnings = Vec::new();
    let mut counts = vec![0usize; n_labels];
    for ex in train {
        counts[label_of(ex, &index, n_tools) as usize] += 1;
    }
    for (t, c) in tools.iter().zip(&counts) {
        if *c == 0 {
            warnings.push(format!(
                "tool `{}` has no training examples; it will never be routed to",
                t.name
            ));
        }
    }

    if n_labels == 1 {
        warnings.push(
            "one tool and no out-of-scope examples: every request goes to that tool with \
             confidence 1; add examples with `tool: null` (requests no tool serves) so that the \
             router can refuse"
                .into(),
        );
    }

    // Validation split.
    let train_labels: Vec<u32> = train.iter().map(|e| label_of(e, &index, n_tools)).collect();
    let (train_idx, held_idx) = match valid {
        Some(_) => ((0..train.len()).collect(), Vec::new()),
        None => stratified_split(&train_labels, opts.valid_fraction, &mut rng),
    };
    let train_set: Vec<&Example> = train_idx.iter().map(|&i| &train[i]).collect();
    let valid_set: Vec<&Example> = match valid {
        Some(v) => v.iter().collect(),
        None => held_idx.iter().map(|&i| &train[i]).collect(),
    };
    if valid.is_some() && valid_set.iter().any(|e| e.tool.is_none()) && !has_none {
        warnings
            .push("the validation set has out-of-scope rows but the training set has none".into());
    }

    progress(&Progress {
        phase: "prepare",
        epoch: 0,
        epochs: opts.epochs,
        step: 0,
        steps_per_epoch: 0,
        loss: 0.0,
        valid_accuracy: None,
        valid_loss: None,
        valid_tag_f1: None,
        elapsed_s: started.elapsed().as_secs_f64(),
    });

    let texts: Vec<String> = train_set.iter().map(|e| e.text.clone()).collect();
    // A continued model keeps its own tokenizer and embeddings, pretrained or not.
    let pretrained = match opts.pretrained.as_str() {
        _ if init.is_some() => None,
        "none" | "" => None,
        name => Some(crate::pretrained::table(name)?),
    };
    let (tokenizer, vocab) = match init {
        // The old tokenizer stays: its token embeddings are what the old model learned. The
        // n-gram vocabulary grows, so words only the new texts use get rows of their own.
        Some(r) => (
            r.encoder.tokenizer.clone(),
            if r.cfg.n_features > 0 {
                let cap = opts.max_features.max(r.cfg.n_features);
                r.encoder.vocab.extend(&texts, opts.min_df, cap)
            } else {
                NgramVocab::default()
            },
        ),
        None => (
            match pretrained {
                Some(p) => p.tokenizer_for(crate::tokenizer::NORMALIZER_BERT)?,
                None => train_tokenizer(&texts, opts.vocab_size)?,
            },
            if opts.ngrams {
                NgramVocab::fit(&texts, opts.min_df, opts.max_features)
            } else {
                NgramVocab::default()
            },
        ),
    };
    let any_args = train
        .iter()
        .any(|e| !e.spans.is_empty() || !e.args.is_empty());
    let (arg_names, tool_args) = if any_args && opts.arg_weight > 0.0 {
        crate::args::arg_vocab(tools, train)
    } else {
        (Vec::new(), Vec::new())
    };
    // A continued model keeps the old shape; a new one takes it from the options.
    let shape = match init {
        Some(r) => r.cfg.clone(),
        None => Config {
            architecture: opts.architecture.clone(),
            d_model: opts.d_model,
            layers: opts.layers,
            heads: opts.heads,
            ff_mult: opts.ff_mult,
            max_tokens: opts.max_tokens,
            dropout: opts.dropout,
            d_bag: opts.d_bag,
            pretrained: pretrained.map_or(String::new(), |_| opts.pretrained.clone()),
            normalizer: if pretrained.is_some() {
                crate::tokenizer::NORMALIZER_BERT.into()
            } else {
                String::new()
            },
            n_shapes: if opts.architecture == "attention" && opts.word_shapes {
                crate::tokenizer::N_SHAPES
            } else {
                0
            },
            ..Config::default()
        },
    };
    // An argument stays single only if no example gave it twice, here or in the model
    // continued from (whose examples are not all replayed).
    let single_args = crate::args::single_args(&arg_names, train, opts.repeated_arg_share)
        .into_iter()
        .filter(|&k| {
            init.is_none_or(|r| {
                let name = &arg_names[k as usize];
                match r.cfg.arg_names.iter().position(|o| o == name) {
                    Some(old) => r.cfg.single_args.contains(&(old as u32)),
                    None => true,
                }
            })
        })
        .collect();
    let adjacent_args = crate::args::adjacent_args(
        &arg_names,
        train,
        init.map(|r| (r.cfg.arg_names.as_slice(), r.cfg.adjacent_args.as_slice())),
    );
    let cfg = Config {
        arg_names,
        tool_args,
        single_args,
        adjacent_args,
        vocab_size: tokenizer.get_vocab_size(true),
        n_features: vocab.len(),
        d_bag: if vocab.is_empty() { 0 } else { shape.d_bag },
        n_labels,
        has_none,
        ..shape
    };
    cfg.validate().map_err(|r| Error::invalid("options", r))?;
    let encoder = Encoder::new(tokenizer, vocab, cfg.max_tokens, cfg.n_shapes > 0);
    let encode_all = |set: &[&Example]| -> Result<Vec<Encoded>> {
        use rayon::prelude::*;
        set.par_iter()
            .map(|e| {
                let inp = encoder.encode(&e.text)?;
                let tags = if cfg.n_tags() > 1 {
                    crate::args::locate(e)
                        .map(|spans| crate::args::bio_tags(&inp.offsets, &spans, &cfg.arg_names))
                } else {
                    None
                };
                Ok(Encoded {
                    ids: inp.ids,
                    shapes: inp.shapes,
                    feat_ids: inp.feat_ids,
                    feat_w: inp.feat_w,
                    tags,
                    label: label_of(e, &index, n_tools),
                    target: None,
                    weight: 1.0,
                })
            })
            .collect()
    };
    let mut tr = encode_all(&train_set)?;
    // Distillation appends augmented copies to `tr`; the report counts the examples given.
    let labelled = tr.len();
    let mut va = encode_all(&valid_set)?;
    // Validation batches of similar length pad less; the order does not change the scores.
    va.sort_by_key(|e| e.ids.len());
    let unlocated = train_set
        .iter()
        .zip(&tr)
        .filter(|(e, enc)| enc.tags.is_none() && !e.args.is_empty())
        .count();
    if cfg.n_tags() > 1 && unlocated > 0 {
        warnings.push(format!(
            "{unlocated} training examples have arguments that could not be located in their text; they train the tool choice only"
        ));
    }

    // Class weights, normalised to mean 1 over the training examples.
    let mut cw: Vec<f64> = counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                (1.0 / c as f64).powf(opts.class_weight_power)
            }
        })
        .collect();
    let mean_w = tr.iter().map(|e| cw[e.label as usize]).sum::<f64>() / tr.len().max(1) as f64;
    if mean_w > 0.0 {
        cw.iter_mut().for_each(|w| *w /= mean_w);
    }

    // Distillation: augmented copies of the training texts join the training set (after the
    // class weights, which count the labelled examples only), and every text gets the
    // teacher's embedding as a second target.
    let targets = match &opts.teacher {
        None => None,
        Some(d) => {
            let texts: Vec<&str> = train_set.iter().map(|e| e.text.as_str()).collect();
            let copies = crate::distill::augment(&texts, d.augment, &mut rng);
            let n = tr.len();
            for (k, e) in tr.iter_mut().enumerate() {
                e.target = Some(k as u32);
            }
            for (j, (src, text)) in copies.iter().enumerate() {
                let inp = encoder.encode(text)?;
                tr.push(Encoded {
                    ids: inp.ids,
                    shapes: inp.shapes,
                    feat_ids: inp.feat_ids,
                    feat_w: inp.feat_w,
                    tags: None,
                    label: tr[*src].label,
                    target: Some((n + j) as u32),
                    weight: d.augment_label_weight as f32,
                });
            }
            let all: Vec<&str> = texts
                .iter()
                .copied()
                .chain(copies.iter().map(|(_, t)| t.as_str()))
                .collect();
            let report = |done: usize| {
                progress(&Progress {
                    phase: "distill",
                    epoch: 0,
                    epochs: opts.epochs,
                    step: done,
                    steps_per_epoch: all.len(),
                    loss: 0.0,
                    valid_accuracy: None,
                    valid_loss: None,
                    valid_tag_f1: None,
                    elapsed_s: started.elapsed().as_secs_f64(),
                })
            };
            let t = crate::distill::teacher_targets(d, &all, &device, &report, abort)?;
            let proj = crate::distill::projection(cfg.d_model, t.dim(1)?, &mut rng, &device)?;
            let soft = if d.soft_weight > 0.0 {
                let labels: Vec<u32> = tr[..n].iter().map(|e| e.label).collect();
                Some((
                    crate::distill::soft_labels(&t, &labels, n_labels)?,
                    d.soft_weight,
                ))
            } else {
                None
            };
            Some((t, proj, d.weight, soft))
        }
    };

    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let model = ToolController::new(&cfg, vb)?;
    init_weights(&varmap, &mut rng)?;
    let mut table: Vec<f32> = {
        let std = 0.1f32;
        (0..cfg.n_features * cfg.d_bag)
            .map(|_| std * normal(&mut rng))
            .collect()
    };
    if let Some(r) = init {
        crate::grow::transfer(r, &cfg, tools, &varmap, &mut table)?;
    }
    if let Some(p) = pretrained {
        set_pretrained(&varmap, p, cfg.d_model)?;
    }
    let frozen = !cfg.pretrained.is_empty() && opts.freeze_pretrained == Some(true);
    let trained_vars: Vec<candle_core::Var> = {
        let vars = varmap
            .data()
            .lock()
            .map_err(|_| Error::Internal("variable map lock poisoned".into()))?;
        // The token embeddings train row by row (below), like the n-gram table.
        let mut named: Vec<(&String, &candle_core::Var)> = vars
            .iter()
            .filter(|(n, _)| n.as_str() != TOKEN_TABLE)
            .collect();
        // Name order, so the optimizer's state lines up the same way in every run.
        named.sort_by(|a, b| a.0.cmp(b.0));
        let mut v: Vec<candle_core::Var> = named.into_iter().map(|(_, v)| v.clone()).collect();
        // The distillation projection trains with the model but is never saved.
        v.extend(targets.as_ref().map(|(_, p, ..)| p.clone()));
        v
    };
    let mut sparse = SparseAdam::new(table.len(), opts.bag_lr, opts.bag_weight_decay);
    let token_var = varmap
        .data()
        .lock()
        .map_err(|_| Error::Internal("variable map lock poisoned".into()))?
        .get(TOKEN_TABLE)
        .cloned()
        .ok_or_else(|| Error::Internal("no token embeddings".into()))?;
    let mut emb: Vec<f32> = token_var.as_tensor().flatten_all()?.to_vec1()?;
    // A pretrained model's rows as training starts (the table's, or the continued model's).
    let start_emb = (!cfg.pretrained.is_empty()).then(|| emb.clone());
    let mut trained_rows = vec![false; cfg.vocab_size];
    let mut sparse_emb = SparseAdam::new(emb.len(), opts.lr, opts.weight_decay);
    let mut opt = AdamW::new(
        trained_vars,
        ParamsAdamW {
            lr: opts.lr,
            weight_decay: opts.weight_decay,
            ..Default::default()
        },
    )?;

    let pool = (opts.value_swap > 0.0 && cfg.n_tags() > 1)
        .then(|| ValuePool::new(&tr[..labelled], opts.value_swap_any > 0.0));
    let swap = Swap {
        p: opts.value_swap,
        any: opts.value_swap_any,
        repeated: opts.value_swap_repeated,
    };
    let lens: Vec<usize> = tr.iter().map(|e| e.ids.len()).collect();
    let all: Vec<usize> = (0..tr.len()).collect();
    // Small datasets get smaller batches, so an epoch is several steps rather than one.
    let batch_size = opts.batch_size.min((tr.len() / 8).max(8));
    let steps_per_epoch = tr.len().div_ceil(batch_size);
    let epochs = if opts.epochs == 0 {
        (AUTO_STEPS / steps_per_epoch.max(1)).clamp(8, 60)
    } else {
        opts.epochs
    };
    let total_steps = (steps_per_epoch * epochs) as f64;
    let warmup_steps = (total_steps * opts.warmup).max(1.0);
    let mut best: Option<Checkpoint> = None;
    let mut average = Average::default();
    let mut since_best = 0usize;
    let mut global_step = 0usize;
    let mut last_report = Instant::now();
    let mut epochs_run = 0;

    for epoch in 1..=epochs {
        epochs_run = epoch;
        let mut loss_sum = 0.0;
        let mut loss_n = 0usize;
        // This epoch's argument values swapped before the batches are cut, so that a batch
        // still holds requests of similar length (padding to one long swapped value in each
        // batch made training several times slower).
        let swapped: Option<Vec<Encoded>> = pool.as_ref().map(|pool| {
            tr.iter()
                .map(|e| pool.swapped(e, &swap, cfg.max_tokens, &mut rng))
                .collect()
        });
        let set: &[Encoded] = swapped.as_deref().unwrap_or(&tr);
        let swapped_lens: Option<Vec<usize>> = swapped
            .as_ref()
            .map(|v| v.iter().map(|e| e.ids.len()).collect());
        let lens = swapped_lens.as_deref().unwrap_or(&lens);
        for (step, batch_idx) in bucketed_batches(&all, lens, batch_size, &mut rng)
            .iter()
            .enumerate()
        {
            if abort.load(Ordering::Relaxed) {
                return Err(Error::Aborted);
            }
            global_step += 1;
            let g = global_step as f64;
            let scale = if g < warmup_steps {
                g / warmup_steps
            } else {
                let p = ((g - warmup_steps) / (total_steps - warmup_steps).max(1.0)).min(1.0);
                0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            };
            opt.set_learning_rate(opts.lr * scale);
            let items: Vec<&Encoded> = batch_idx.iter().map(|&i| &set[i]).collect();
            let noisy: Vec<Encoded> = items.iter().map(|e| corrupt(e, opts, &mut rng)).collect();
            let noisy: Vec<&Encoded> = noisy.iter().collect();
            let lw = LossWeights {
                class: &cw,
                smoothing: opts.label_smoothing,
                args: opts.arg_weight,
                gumbel_tau: gumbel_tau(opts, g / total_steps),
                distill: targets.as_ref().map(|(t, p, w, soft)| Distill {
                    targets: t,
                    proj: p.as_tensor(),
                    weight: *w,
                    soft: soft.as_ref().map(|(s, w)| (s, *w)),
                }),
            };
            let seeds: [u64; 2] = [rng.random(), rng.random()];
            let tables = SparseTables {
                bag: &table,
                tokens: (!frozen).then_some(emb.as_slice()),
            };
            let out = batch_gradients(&model, &cfg, &noisy, tables, &lw, &device, seeds)?;
            opt.step(&out.grads)?;
            if let Some((rows, g)) = out.bag {
                sparse.step(&mut table, &rows, &g, cfg.d_bag, scale);
            }
            if let Some((rows, g)) = out.tokens {
                sparse_emb.step(&mut emb, &rows, &g, cfg.d_model, scale);
                for &r in &rows {
                    trained_rows[r as usize] = true;
                }
            }
            loss_sum += out.loss;
            loss_n += 1;
            if last_report.elapsed().as_millis() >= 100 {
                last_report = Instant::now();
                progress(&Progress {
                    phase: "train",
                    epoch,
                    epochs,
                    step: step + 1,
                    steps_per_epoch,
                    loss: loss_sum / loss_n as f64,
                    valid_accuracy: None,
                    valid_loss: None,
                    valid_tag_f1: None,
                    elapsed_s: started.elapsed().as_secs_f64(),
                });
            }
        }
        if !(loss_sum / loss_n.max(1) as f64).is_finite() {
            return Err(Error::TrainingDiverged {
                reason: format!(
                    "the training loss is not finite at epoch {epoch} (learning rate {}); lower `lr`",
                    opts.lr
                ),
            });
        }
        // The epoch's token embeddings back into the model, which validation and the
        // checkpoints read.
        if !frozen {
            token_var.set(&Tensor::from_slice(&emb, token_var.dims(), &device)?)?;
        }
        let v = if va.is_empty() {
            Validation {
                accuracy: 0.0,
                loss: loss_sum / loss_n.max(1) as f64,
                tag_f1: None,
            }
        } else {
            validate(&model, &cfg, &va, &table, &device)?
        };
        progress(&Progress {
            phase: "train",
            epoch,
            epochs,
            step: steps_per_epoch,
            steps_per_epoch,
            loss: loss_sum / loss_n.max(1) as f64,
            valid_accuracy: (!va.is_empty()).then_some(v.accuracy),
            valid_loss: (!va.is_empty()).then_some(v.loss),
            valid_tag_f1: v.tag_f1,
            elapsed_s: started.elapsed().as_secs_f64(),
        });
        // Ties go to the later epoch: the learning rate has decayed further, and on a small
        // validation set the loss of an early, under-trained epoch can look better.
        let better = match &best {
            None => true,
            Some((b, ..)) => v.score(opts.tag_weight) >= b.score(opts.tag_weight) - 1e-9,
        };
        if opts.average && epoch * 2 > epochs {
            average.add(&weights_of(&varmap)?, &table)?;
        }
        if better {
            best = Some((v, weights_of(&varmap)?, table.clone(), epoch));
            since_best = 0;
        } else {
            since_best += 1;
            // Not before half the schedule: while the learning rate is high the validation
            // score is noisy, and the decay that follows usually brings the best epochs.
            if since_best >= opts.patience && epoch * 2 >= epochs {
                break;
            }
        }
    }

    let (mut v, mut weights, mut table, mut best_epoch) =
        best.ok_or_else(|| Error::Internal("training ran no epoch".into()))?;
    // The mean of the second half's epochs (weight averaging) replaces the best epoch when it
    // scores at least as well on validation.
    let mut averaged = false;
    if let Some((avg_w, avg_t)) = average.mean()? {
        set_weights(&varmap, &avg_w)?;
        let a = if va.is_empty() {
            v
        } else {
            validate(&model, &cfg, &va, &avg_t, &device)?
        };
        if a.score(opts.tag_weight) >= v.score(opts.tag_weight) - 1e-9 {
            (v, weights, table, best_epoch) = (a, avg_w, avg_t, epochs_run);
            averaged = true;
        }
    }
    // Rows of a pretrained table no batch touched keep their starting values exactly (weight
    // averaging would leave them an ulp off), so the model file stores only the trained rows.
    if let Some(start) = &start_emb {
        if let Some(w) = weights.get(TOKEN_TABLE) {
            let d = cfg.d_model;
            let mut now: Vec<f32> = w.flatten_all()?.to_vec1()?;
            for (r, _) in trained_rows.iter().enumerate().filter(|(_, t)| !**t) {
                now[r * d..(r + 1) * d].copy_from_slice(&start[r * d..(r + 1) * d]);
            }
            let shape = w.dims().to_vec();
            weights.insert(TOKEN_TABLE.into(), Tensor::from_vec(now, shape, &device)?);
        }
    }
    if cfg.n_features > 0 {
        weights.insert(
            "bag.table".into(),
            Tensor::from_vec(table, (cfg.n_features, cfg.d_bag), &device)?,
        );
    }
    let info = TrainingInfo {
        averaged,
        examples: labelled,
        valid_examples: va.len(),
        epochs_run,
        best_epoch,
        valid_accuracy: (!va.is_empty()).then_some(v.accuracy),
        valid_loss: (!va.is_empty()).then_some(v.loss),
        valid_tag_f1: v.tag_f1,
        train_seconds: started.elapsed().as_secs_f64(),
        warnings,
        replayed,
        calibration: Calibration::default(),
        teacher: None,
        added: Vec::new(),
    };
    let mut router = Router::from_parts(cfg, encoder, tools.to_vec(), weights, info, device)?;
    let calibration = calibrate(&router, &valid_set, &index, opts.target_precision)?;
    if !calibration.reached && !valid_set.is_empty() {
        router.info.warnings.push(format!(
            "the validation set does not reach the target precision {}; the threshold {:.3} \
             gives {:.3}",
            opts.target_precision,
            calibration.threshold,
            calibration.valid_precision.unwrap_or(0.0)
        ));
    }
    if valid_set.is_empty() {
        router
            .info
            .warnings
            .push("no validation set: the temperature is 1 and the threshold the minimum".into());
    }
    router.set_calibration(calibration);
    router.replay = crate::grow::replay_sample(train, &mut rng);
    router.info.train_seconds = started.elapsed().as_secs_f64();
    progress(&Progress {
        phase: "done",
        epoch: epochs_run,
        epochs,
        step: steps_per_epoch,
        steps_per_epoch,
        loss: v.loss,
        valid_accuracy: router.training().valid_accuracy,
        valid_loss: router.training().valid_loss,
        valid_tag_f1: v.tag_f1,
        elapsed_s: started.elapsed().as_secs_f64(),
    });
    Ok(router)
}

/// Fits the temperature on the validation logits, then the threshold on the calibrated
/// confidences (out-of-scope rows the router would answer count as wrong answers).
pub(crate) fn calibrate(
    router: &Router,
    valid: &[&Example],
    index: &HashMap<&str, u32>,
    target: f64,
) -> Result<Calibration> {
    let mut c = Calibration {
        target_precision: target,
        ..Calibration::default()
    };
    if valid.is_empty() {
        return Ok(c);
    }
    let n_tools = router.tools().len();
    let texts: Vec<&str> = valid.iter().map(|e| e.text.as_str()).collect();
    let logits = router.logits(&texts)?;
    // "none" is label n_tools; a model without that output never matches it.
    let labels: Vec<usize> = valid
        .iter()
        .map(|e| label_of(e, index, n_tools) as usize)
        .collect();
    c.temperature = fit_temperature(&logits, &labels).max(MIN_TEMPERATURE);
    let scored: Vec<(f64, bool)> = logits
        .iter()
        .zip(&labels)
        .filter_map(|(z, &y)| {
            let p = softmax_t(z, c.temperature);
            let best = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b]))?;
            (best < n_tools).then_some((p[best], best == y))
        })
        .collect();
    let choice = choose_threshold(&scored, target, MIN_THRESHOLD);
    c.threshold = choice.threshold;
    c.reached = choice.reached;
    c.valid_coverage = Some(choice.coverage * scored.len() as f64 / valid.len() as f64);
    c.valid_precision = Some(choice.precision);
    Ok(c)
}

/// Draws every weight from the seeded `rng` (candle's CPU RNG cannot be seeded): linear layers
/// uniform in ±1/√fan_in (PyTorch's default; embeddings, `(vocab, d)`, thus ±1/√d), layer
/// norms left at 1 and 0.
fn init_weights(varmap: &VarMap, rng: &mut StdRng) -> Result<()> {
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| Error::Internal("variable map lock poisoned".into()))?;
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in names {
        let var = &vars[name];
        let dims = var.dims().to_vec();
        let n: usize = dims.iter().product();
        let is_norm = name.split('.').any(|p| p.starts_with("ln"));
        let data: Vec<f32> = if is_norm {
            continue;
        } else {
            // `x.weight` is (out, in); its bias shares the weight's fan-in. A GRU's four
            // tensors are (3H, ...) and all take ±1/√H, as PyTorch does.
            let fan_in = if name.contains("_ih_l") || name.contains("_hh_l") {
                dims[0] / 3
            } else if name.ends_with(".bias") {
                let w = name.trim_end_matches(".bias").to_string() + ".weight";
                vars.get(&w)
                    .and_then(|w| w.dims().get(1).copied())
                    .unwrap_or(1)
            } else {
                dims.get(1).copied().unwrap_or(1)
            };
            let bound = 1.0 / (fan_in as f32).sqrt();
            (0..n).map(|_| rng.random_range(-bound..bound)).collect()
        };
        var.set(&Tensor::from_vec(data, dims.as_slice(), var.device())?)?;
    }
    Ok(())
}

/// Writes the pretrained table into the token embeddings (see [`crate::format::pretrained_rows`]:
/// its first `d_model` columns, PCA order, so the most informative; zeros beyond its width).
fn set_pretrained(
    varmap: &VarMap,
    p: &crate::pretrained::StaticTable,
    d_model: usize,
) -> Result<()> {
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| Error::Internal("variable map lock poisoned".into()))?;
    let var = vars
        .get(TOKEN_TABLE)
        .ok_or_else(|| Error::Internal("no token embeddings".into()))?;
    let data = crate::format::pretrained_rows(p, d_model);
    let n = data.len() / d_model;
    var.set(&Tensor::from_vec(data, (n, d_model), var.device())?)?;
    Ok(())
}

pub(crate) fn normal(rng: &mut StdRng) -> f32 {
    // Box-Muller: a normal sample from two uniforms.
    let u1: f32 = rng.random_range(1e-7f32..1.0);
    let u2: f32 = rng.random::<f32>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

/// A training copy of `e` with some n-gram features dropped (weights re-normalised) and some
/// tokens replaced by `[UNK]`: regularisation that keeps the model from memorising phrasings.
fn corrupt(e: &Encoded, opts: &TrainOptions, rng: &mut StdRng) -> Encoded {
    let mut ids = e.ids.clone();
    if opts.token_dropout > 0.0 {
        for id in ids.iter_mut().skip(1) {
            if rng.random::<f64>() < opts.token_dropout {
                *id = crate::tokenizer::UNK_ID;
            }
        }
    }
    let (mut feat_ids, mut feat_w) = (
        Vec::with_capacity(e.feat_ids.len()),
        Vec::with_capacity(e.feat_ids.len()),
    );
    for (&f, &w) in e.feat_ids.iter().zip(&e.feat_w) {
        if opts.feature_dropout <= 0.0 || rng.random::<f64>() >= opts.feature_dropout {
            feat_ids.push(f);
            feat_w.push(w);
        }
    }
    let norm = feat_w.iter().map(|w| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        feat_w.iter_mut().for_each(|w| *w /= norm);
    }
    Encoded {
        ids,
        shapes: e.shapes.clone(),
        feat_ids,
        feat_w,
        tags: e.tags.clone(),
        label: e.label,
        target: e.target,
        weight: e.weight,
    }
}

/// The argument values of the training requests as tokens: for each tool (label) and argument,
/// the distinct token sequences (with their word shapes) its spans cover. Per tool, so that a
/// swapped value never carries another tool's kind of value (a movie title into a book rating),
/// unless [`TrainOptions::value_swap_any`] asks for exactly that.
struct ValuePool {
    by_arg: HashMap<(u32, usize), Vec<TokenValue>>,
    /// Every distinct value of every argument, for [`TrainOptions::value_swap_any`].
    any: Vec<TokenValue>,
}

/// How [`ValuePool::swapped`] swaps: the options `value_swap`, `value_swap_any` and
/// `value_swap_repeated`.
#[derive(Clone, Copy, Debug)]
struct Swap {
    p: f64,
    any: f64,
    repeated: bool,
}

/// One argument value as tokens: its token ids and their word shapes.
type TokenValue = (Vec<u32>, Vec<u32>);

impl ValuePool {
    /// The pool of `set`'s values; the every-argument list only `with_any` (it is unused otherwise).
    fn new(set: &[Encoded], with_any: bool) -> Self {
        let mut by_arg: HashMap<(u32, usize), Vec<TokenValue>> = HashMap::new();
        let mut any = Vec::new();
        let mut seen: std::collections::HashSet<(u32, usize, &[u32])> = Default::default();
        let mut seen_any: std::collections::HashSet<&[u32]> = Default::default();
        for e in set {
            let Some(tags) = &e.tags else { continue };
            for (k, a, b) in tag_spans(tags) {
                if b > e.ids.len() {
                    continue;
                }
                let shapes = e.shapes.get(a..b).map(<[u32]>::to_vec).unwrap_or_default();
                if seen.insert((e.label, k, &e.ids[a..b])) {
                    by_arg
                        .entry((e.label, k))
                        .or_default()
                        .push((e.ids[a..b].to_vec(), shapes.clone()));
                }
                if with_any && seen_any.insert(&e.ids[a..b]) {
                    any.push((e.ids[a..b].to_vec(), shapes));
                }
            }
        }
        ValuePool { by_arg, any }
    }

    /// `e` with each argument value replaced, with chance `swap.p`, by another value of the same
    /// tool and argument, or of any argument for a share `swap.any` of the swaps (the tags
    /// follow), cut to `max_tokens`; with `swap.repeated` false, a value that occurs twice in
    /// `e` stays. A request without known
    /// arguments, or a distilled copy (whose target is the teacher's view of its own text), is
    /// left as it is.
    fn swapped(&self, e: &Encoded, swap: &Swap, max_tokens: usize, rng: &mut StdRng) -> Encoded {
        let (ids, shapes, tags) = match &e.tags {
            Some(tags) if e.target.is_none() => self.swap(e, tags, swap, max_tokens, rng),
            _ => (e.ids.clone(), e.shapes.clone(), e.tags.clone()),
        };
        Encoded {
            ids,
            shapes,
            feat_ids: e.feat_ids.clone(),
            feat_w: e.feat_w.clone(),
            tags,
            label: e.label,
            target: e.target,
            weight: e.weight,
        }
    }

    /// The ids, shapes and tags of [`Self::swapped`].
    fn swap(
        &self,
        e: &Encoded,
        tags: &[u32],
        swap: &Swap,
        max_tokens: usize,
        rng: &mut StdRng,
    ) -> (Vec<u32>, Vec<u32>, Option<Vec<u32>>) {
        let with_shapes = e.shapes.len() == e.ids.len();
        let (mut ids, mut shapes, mut out_tags) = (Vec::new(), Vec::new(), Vec::new());
        let mut at = 0;
        for (k, a, b) in tag_spans(tags) {
            let values = self
                .by_arg
                .get(&(e.label, k))
                .map_or(&[][..], Vec::as_slice);
            // An argument with one value in the data (a constant) is never swapped.
            if values.len() < 2 || rng.random::<f64>() >= swap.p {
                continue;
            }
            // Draws only when the option is on, so that runs without it keep their random
            // stream (and their figures).
            let from_any = swap.any > 0.0 && rng.random::<f64>() < swap.any;
            let values = if from_any { &self.any } else { values };
            let (v_ids, v_shapes) = &values[rng.random_range(0..values.len())];
            // Checked after the draws, so that a repeated value kept in place leaves the random
            // stream of the other values as it would be.
            if !swap.repeated && occurs_elsewhere(&e.ids, a, b) {
                continue;
            }
            ids.extend_from_slice(&e.ids[at..a]);
            out_tags.extend_from_slice(&tags[at..a]);
            ids.extend_from_slice(v_ids);
            let (b_tag, i_tag) = (1 + 2 * k as u32, 2 + 2 * k as u32);
            out_tags.extend((0..v_ids.len()).map(|j| if j == 0 { b_tag } else { i_tag }));
            if with_shapes {
                shapes.extend_from_slice(&e.shapes[at..a]);
                shapes.extend_from_slice(v_shapes);
            }
            at = b;
        }
        ids.extend_from_slice(&e.ids[at..]);
        out_tags.extend_from_slice(&tags[at..]);
        if with_shapes {
            shapes.extend_from_slice(&e.shapes[at..]);
        }
        ids.truncate(max_tokens);
        out_tags.truncate(max_tokens);
        shapes.truncate(max_tokens);
        (ids, shapes, Some(out_tags))
    }
}

/// Whether `ids[a..b]` also occurs in `ids` at another position.
fn occurs_elsewhere(ids: &[u32], a: usize, b: usize) -> bool {
    let v = &ids[a..b];
    !v.is_empty()
        && ids
            .windows(v.len())
            .enumerate()
            .any(|(i, w)| i != a && w == v)
}

/// The spans `(argument, first token, end token)` of a BIO tag sequence: the routing decoder's
/// ([`crate::args::decode_spans`]) with each token as its own position.
fn tag_spans(tags: &[u32]) -> Vec<(usize, usize, usize)> {
    let positions: Vec<(usize, usize)> = (0..tags.len()).map(|i| (i, i + 1)).collect();
    crate::args::decode_spans(tags, &positions)
        .into_iter()
        .map(|(k, a, b)| (k as usize, a, b))
        .collect()
}

/// The padded word shapes of `items`, when the model reads them.
fn batch_shapes(cfg: &Config, items: &[&Encoded], device: &Device) -> Result<Option<Tensor>> {
    let s: Vec<&[u32]> = items.iter().map(|e| e.shapes.as_slice()).collect();
    Ok(Batch::shapes(cfg.n_shapes, &s, device)?)
}

/// A copy of every weight.
fn weights_of(varmap: &VarMap) -> Result<HashMap<String, Tensor>> {
    varmap
        .data()
        .lock()
        .map_err(|_| Error::Internal("variable map lock poisoned".into()))?
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
        .collect()
}

fn set_weights(varmap: &VarMap, w: &HashMap<String, Tensor>) -> Result<()> {
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| Error::Internal("variable map lock poisoned".into()))?;
    for (k, v) in vars.iter() {
        if let Some(t) = w.get(k) {
            v.set(t)?;
        }
    }
    Ok(())
}

/// Every weight by name.
type Weights = HashMap<String, Tensor>;

/// Running sums of weights and n-gram table over epochs, for weight averaging.
#[derive(Default)]
struct Average {
    weights: HashMap<String, Tensor>,
    table: Vec<f64>,
    n: usize,
}

impl Average {
    fn add(&mut self, w: &HashMap<String, Tensor>, table: &[f32]) -> Result<()> {
        for (k, v) in w {
            let sum = match self.weights.remove(k) {
                Some(s) => (s + v)?,
                None => v.clone(),
            };
            self.weights.insert(k.clone(), sum);
        }
        if self.table.is_empty() {
            self.table = vec![0.0; table.len()];
        }
        self.table
            .iter_mut()
            .zip(table)
            .for_each(|(s, &x)| *s += x as f64);
        self.n += 1;
        Ok(())
    }

    /// The mean, when at least two epochs were added.
    fn mean(&self) -> Result<Option<(Weights, Vec<f32>)>> {
        if self.n < 2 {
            return Ok(None);
        }
        let k = self.n as f64;
        let w = self
            .weights
            .iter()
            .map(|(name, s)| Ok((name.clone(), (s / k)?)))
            .collect::<Result<HashMap<_, _>>>()?;
        Ok(Some((
            w,
            self.table.iter().map(|&s| (s / k) as f32).collect(),
        )))
    }
}

/// The best epoch so far: validation accuracy and loss, weights, n-gram table, epoch.
type Checkpoint = (Validation, HashMap<String, Tensor>, Vec<f32>, usize);

/// The default [`TrainOptions::tag_weight`]: how much one point of argument-tag F1 counts
/// against one point of tool accuracy when epochs are compared. The tool head is usually best early, the tagger keeps learning for
/// several epochs more; chosen on tool accuracy alone, SNIPS kept an epoch whose tagger had
/// not learned yet (slot F1 0.67). At 0.1 it still stopped SNIPS (seed 42) at epoch 8 of 15,
/// its tagger unripe. 0.3 was chosen by nested validation (`train_eval … valid_half=1 tag_weight=W`:
/// epochs chosen on half of valid.jsonl, scored on the other half; SNIPS seeds 42-44, ATIS 42-43)
/// as the only weight of 0.1, 0.3 and 1.0 never below 0.1 in tool accuracy or frame accuracy.
const TAG_WEIGHT: f64 = 0.3;

/// The default [`TrainOptions::repeated_arg_share`]. SNIPS gives `playlist` twice in 1 of its
/// 1962 examples with a playlist, and with any repeat allowed "chips and salsa" came out as two
/// playlists; ATIS gives `toloc.city_name` twice in 4% of its examples, rightly. Chosen by
/// nested validation (`train_eval … valid_half=1 repeated_arg_share=R`, SNIPS and ATIS, seeds
/// 42-43) over 0, 0.01 and 0.03: 0.01 was never below 0 on slot F1 or frame accuracy, 0.03
/// lost 0.5 point of ATIS slots and 1.6 of frames.
const REPEATED_ARG_SHARE: f64 = 0.01;

/// A model's scores on the validation set.
#[derive(Debug, Clone, Copy)]
struct Validation {
    accuracy: f64,
    /// Unweighted, unsmoothed tool cross-entropy.
    loss: f64,
    /// Micro F1 of the argument tags over the tokens that carry one (decoded within the
    /// predicted tool, as routing decodes them), when the model has a tagger and the set has
    /// arguments.
    tag_f1: Option<f64>,
}

/// What epochs (and, with a teacher, the two runs of [`fit_from`]) are compared by: tool
/// accuracy plus `tag_weight` x tag F1.
fn valid_score(accuracy: f64, tag_f1: Option<f64>, tag_weight: f64) -> f64 {
    accuracy + tag_weight * tag_f1.unwrap_or(0.0)
}

impl Validation {
    fn score(&self, tag_weight: f64) -> f64 {
        valid_score(self.accuracy, self.tag_f1, tag_weight)
    }
}

/// How the loss weighs its parts: per-class weights, label smoothing, the argument loss.
struct LossWeights<'a> {
    class: &'a [f64],
    smoothing: f64,
    args: f64,
    /// Straight-through Gumbel-softmax temperature for this step, when on.
    gumbel_tau: Option<f64>,
    distill: Option<Distill<'a>>,
}

/// What a distillation step reads.
struct Distill<'a> {
    /// The teacher's embeddings (N, dim) of the training texts and their copies.
    targets: &'a Tensor,
    /// The projection (dim, d_model) of the controller's request vector.
    proj: &'a Tensor,
    weight: f64,
    /// The teacher classifier's tool probabilities (N, n_labels) and their loss weight.
    soft: Option<(&'a Tensor, f64)>,
}

/// The Gumbel temperature at `progress` (0 to 1) of the schedule.
fn gumbel_tau(o: &TrainOptions, progress: f64) -> Option<f64> {
    if o.gumbel_tau <= 0.0 {
        return None;
    }
    if o.gumbel_anneal <= 0.0 {
        return Some(o.gumbel_tau);
    }
    Some(o.gumbel_tau * (o.gumbel_anneal / o.gumbel_tau).powf(progress.clamp(0.0, 1.0)))
}

/// The prototype's output: a straight-through Gumbel-softmax sample of the logits. Forward it
/// is the one-hot of `argmax(logits + g)`; backward it is the gradient of the relaxed sample
/// `softmax((logits + g) / tau)`. The cross-entropy is then taken over this sample, as the
/// prototype fed it to its loss in place of the logits.
fn straight_through_gumbel(logits: &Tensor, tau: f64, device: &Device) -> Result<Tensor> {
    let g = crate::model::gumbel_noise(logits.dims2()?, device)?;
    let soft = ops::softmax(&((logits + g)? / tau)?, D::Minus1)?;
    let (b, l) = soft.dims2()?;
    let best: Vec<u32> = soft.argmax(1)?.to_vec1()?;
    let mut hard = vec![0f32; b * l];
    for (i, &k) in best.iter().enumerate() {
        hard[i * l + k as usize] = 1.0;
    }
    let hard = Tensor::from_vec(hard, (b, l), device)?;
    Ok(((hard - soft.detach())? + soft)?)
}

/// The rows of a table (n-gram embeddings or token embeddings) a batch touches, copied into a
/// small tensor, and the batch's ids renumbered into it.
struct Touched {
    /// Table row of each local row.
    rows: Vec<u32>,
    /// `rows.len() x d` values.
    data: Tensor,
    /// Each item's ids, as local rows.
    local: Vec<Vec<u32>>,
}

/// Gathers the rows of `table` (`d` wide) that `ids` use, in first-use order after `first`.
fn touched(
    table: &[f32],
    d: usize,
    ids: &[&[u32]],
    first: &[u32],
    device: &Device,
) -> Result<Touched> {
    let mut at: HashMap<u32, u32> = HashMap::new();
    let mut rows: Vec<u32> = Vec::new();
    let mut local_of = |r: u32| {
        *at.entry(r).or_insert_with(|| {
            rows.push(r);
            (rows.len() - 1) as u32
        })
    };
    for &r in first {
        local_of(r);
    }
    let local: Vec<Vec<u32>> = ids
        .iter()
        .map(|item| item.iter().map(|&r| local_of(r)).collect())
        .collect();
    let mut data = Vec::with_capacity(rows.len().max(1) * d);
    for &r in &rows {
        data.extend_from_slice(&table[r as usize * d..(r as usize + 1) * d]);
    }
    if rows.is_empty() {
        data.resize(d, 0.0);
    }
    let n = rows.len().max(1);
    Ok(Touched {
        rows,
        data: Tensor::from_vec(data, (n, d), device)?,
        local,
    })
}

/// The loss of a batch, and the row variables whose gradients the sparse optimizers take.
struct StepOut {
    loss: Tensor,
    bag: Option<(Var, Vec<u32>)>,
    tokens: Option<(Var, Vec<u32>)>,
}

/// The tables trained row by row (lazy Adam), outside candle's optimizer: the n-gram table and
/// the token embeddings (`None` when they are frozen).
#[derive(Clone, Copy)]
struct SparseTables<'a> {
    bag: &'a [f32],
    tokens: Option<&'a [f32]>,
}

/// Loss of one batch. The n-gram rows and token embeddings the batch touches become small
/// `Var`s, so the backward pass yields their gradients without a dense gradient of either
/// table.
fn step_loss(
    model: &ToolController,
    cfg: &Config,
    items: &[&Encoded],
    tables: SparseTables,
    lw: &LossWeights,
    device: &Device,
) -> Result<StepOut> {
    let ids: Vec<&[u32]> = items.iter().map(|e| e.ids.as_slice()).collect();
    // Token rows: the batch's ids renumbered (`[PAD]` first, so padding stays row 0).
    let (ids, mask, tokens) = match tables.tokens {
        Some(table) => {
            let t = touched(
                table,
                cfg.d_model,
                &ids,
                &[crate::tokenizer::PAD_ID],
                device,
            )?;
            let (ids, mask) = Batch::tokens(&t.local, device)?;
            (ids, mask, Some((Var::from_tensor(&t.data)?, t.rows)))
        }
        None => {
            let (ids, mask) = Batch::tokens(&ids, device)?;
            (ids, mask, None)
        }
    };
    let (bag, bag_var) = if cfg.n_features > 0 {
        let feats: Vec<&[u32]> = items.iter().map(|e| e.feat_ids.as_slice()).collect();
        let t = touched(tables.bag, cfg.d_bag, &feats, &[], device)?;
        let var = Var::from_tensor(&t.data)?;
        let w: Vec<&[f32]> = items.iter().map(|e| e.feat_w.as_slice()).collect();
        let bag = crate::model::bag_vectors(var.as_tensor(), &t.local, &w)?;
        (Some(bag), Some((var, t.rows)))
    } else {
        (None, None)
    };
    let t = ids.dim(1)?;
    let rows = tokens.as_ref().map(|(v, _)| v.as_tensor());
    let shapes = batch_shapes(cfg, items, device)?;
    let out = model.forward_with(
        &Batch {
            ids,
            mask,
            bag,
            shapes,
        },
        rows,
        true,
    )?;
    let labels: Vec<u32> = items.iter().map(|e| e.label).collect();
    let weights: Vec<f32> = items
        .iter()
        .map(|e| lw.class[e.label as usize] as f32 * e.weight)
        .collect();
    let logits = match lw.gumbel_tau {
        Some(tau) => straight_through_gumbel(&out.logits, tau, device)?,
        None => out.logits.clone(),
    };
    let mut loss = smoothed_nll(&logits, &labels, &weights, lw.smoothing, device)?;
    if let Some(tag_logits) = &out.tags {
        if let Some(tag_loss) = tag_nll(tag_logits, items, t, cfg, device)? {
            loss = (loss + (tag_loss * lw.args)?)?;
        }
    }
    if let Some(d) = &lw.distill {
        let rows: Vec<u32> = items.iter().filter_map(|e| e.target).collect();
        if rows.len() == items.len() {
            let rows = Tensor::from_vec(rows, items.len(), device)?;
            if d.weight > 0.0 {
                let t = d.targets.index_select(&rows, 0)?;
                let l = crate::distill::loss(&out.pooled, d.proj, &t)?;
                loss = (loss + (l * d.weight)?)?;
            }
            if let Some((soft, w)) = d.soft {
                let p = soft.index_select(&rows, 0)?;
                loss = (loss + (crate::distill::soft_loss(&out.logits, &p)? * w)?)?;
            }
        }
    }
    Ok(StepOut {
        loss,
        bag: bag_var,
        tokens,
    })
}

/// Rows of a table and their gradient (`rows x width`).
type RowGrad = (Vec<u32>, Vec<f32>);

/// What [`batch_gradients`] gives: the loss, candle's gradients, and the row gradients of the
/// n-gram table and of the token embeddings.
struct BatchGrads {
    loss: f64,
    grads: GradStore,
    bag: Option<RowGrad>,
    tokens: Option<RowGrad>,
}

/// The gradient of a row variable, read out of `grads`.
fn row_grad(grads: &GradStore, rows: Option<(Var, Vec<u32>)>) -> Result<Option<RowGrad>> {
    let Some((var, rows)) = rows else {
        return Ok(None);
    };
    match grads.get(var.as_tensor()) {
        Some(g) => Ok(Some((rows, g.flatten_all()?.to_vec1::<f32>()?))),
        None => Ok(None),
    }
}

/// Sums two row gradients (`d` wide) over the union of their rows.
fn merge_rows(a: Option<RowGrad>, b: Option<RowGrad>, d: usize) -> Option<RowGrad> {
    match (a, b) {
        (Some((mut rows, mut g)), Some((rows_b, g_b))) => {
            let mut at: HashMap<u32, usize> =
                rows.iter().enumerate().map(|(i, &r)| (r, i)).collect();
            for (k, r) in rows_b.iter().enumerate() {
                let src = &g_b[k * d..(k + 1) * d];
                match at.get(r) {
                    Some(&i) => g[i * d..(i + 1) * d]
                        .iter_mut()
                        .zip(src)
                        .for_each(|(x, y)| *x += y),
                    None => {
                        at.insert(*r, rows.len());
                        rows.push(*r);
                        g.extend_from_slice(src);
                    }
                }
            }
            Some((rows, g))
        }
        (a, b) => a.or(b),
    }
}

/// The loss and gradients of a batch, computed as two halves on two threads and summed, each
/// half's loss weighted by its share of the examples. The split never depends on the machine
/// (a one-core machine runs the halves in turn), and each half draws its dropout masks from its
/// own seed, so a seeded run gives the same model on any number of cores.
#[allow(clippy::too_many_arguments)]
fn batch_gradients(
    model: &ToolController,
    cfg: &Config,
    items: &[&Encoded],
    tables: SparseTables,
    lw: &LossWeights,
    device: &Device,
    seeds: [u64; 2],
) -> Result<BatchGrads> {
    let n = items.len();
    let half = |part: &[&Encoded], seed: u64| -> Result<BatchGrads> {
        crate::model::seed_dropout(seed);
        let out = step_loss(model, cfg, part, tables, lw, device)?;
        let loss = (out.loss * (part.len() as f64 / n as f64))?;
        let grads = loss.backward()?;
        Ok(BatchGrads {
            loss: loss.to_scalar::<f32>()? as f64,
            bag: row_grad(&grads, out.bag)?,
            tokens: row_grad(&grads, out.tokens)?,
            grads,
        })
    };
    // Batches this small are not worth a second thread.
    if n < 16 || !device.is_cpu() {
        return half(items, seeds[0]);
    }
    let (a, b) = items.split_at(n / 2);
    let (ra, rb) = rayon::join(|| half(a, seeds[0]), || half(b, seeds[1]));
    let (mut a, b) = (ra?, rb?);
    let ids: Vec<_> = b.grads.get_ids().copied().collect();
    for id in ids {
        if let Some(g) = b.grads.get_id(id) {
            let sum = match a.grads.get_id(id) {
                Some(prev) => (prev + g)?,
                None => g.clone(),
            };
            a.grads.insert_id(id, sum);
        }
    }
    Ok(BatchGrads {
        loss: a.loss + b.loss,
        grads: a.grads,
        bag: merge_rows(a.bag, b.bag, cfg.d_bag),
        tokens: merge_rows(a.tokens, b.tokens, cfg.d_model),
    })
}

/// The tags each example's sequence may take: `O`, then the `B-`/`I-` tags of its tool's
/// arguments (none for an out-of-scope example, which is all `O`).
fn tag_candidates(cfg: &Config, label: usize) -> Vec<u32> {
    let mut c = vec![0u32];
    if let Some(args) = cfg.tool_args.get(label) {
        for &a in args {
            c.extend([1 + 2 * a, 2 + 2 * a]);
        }
    }
    c
}

/// An additive bias over the tags (`cfg.n_tags()`): 0 for `O` and the `B-`/`I-` tags of the
/// arguments of label `label`, a large negative number for every other tag.
fn tag_bias(cfg: &Config, label: usize) -> Vec<f32> {
    let mut bias = vec![-1e4f32; cfg.n_tags()];
    for c in tag_candidates(cfg, label) {
        if let Some(b) = bias.get_mut(c as usize) {
            *b = 0.0;
        }
    }
    bias
}

/// Mean cross-entropy of the argument tags over the tokens of examples whose arguments are known
/// (`[CLS]` and padding excluded); `None` when the batch has no such token.
fn tag_nll(
    tag_logits: &Tensor,
    items: &[&Encoded],
    t: usize,
    cfg: &Config,
    device: &Device,
) -> Result<Option<Tensor>> {
    let b = items.len();
    // Each example's tags compete only with `O` and its own tool's arguments, as decoding
    // restricts them to the chosen tool's: no capacity spent telling apart the arguments of
    // tools the request is not for (SNIPS slot F1 0.874 -> 0.902, ATIS 0.936 -> 0.937).
    let k = cfg.n_tags();
    let bias: Vec<f32> = items
        .iter()
        .flat_map(|e| tag_bias(cfg, e.label as usize))
        .collect();
    let tag_logits = tag_logits.broadcast_add(&Tensor::from_vec(bias, (b, 1, k), device)?)?;
    let mut gold = vec![0u32; b * t];
    let mut mask = vec![0f32; b * t];
    for (i, e) in items.iter().enumerate() {
        if let Some(tags) = &e.tags {
            for (j, &tag) in tags.iter().enumerate().take(t).skip(1) {
                gold[i * t + j] = tag;
                mask[i * t + j] = 1.0;
            }
        }
    }
    let n: f32 = mask.iter().sum();
    if n == 0.0 {
        return Ok(None);
    }
    let logp = ops::log_softmax(&tag_logits, D::Minus1)?;
    let gold = Tensor::from_vec(gold, (b, t, 1), device)?;
    let nll = logp.gather(&gold, 2)?.squeeze(2)?.neg()?;
    let mask = Tensor::from_vec(mask, (b, t), device)?;
    Ok(Some(((nll * mask)?.sum_all()? / n as f64)?))
}

/// Weighted, label-smoothed cross-entropy: Σ w_i [(1-ε)(-log p_i[y_i]) + ε·mean_c(-log p_i[c])] / Σ w_i.
pub(crate) fn smoothed_nll(
    logits: &Tensor,
    labels: &[u32],
    weights: &[f32],
    eps: f64,
    device: &Device,
) -> Result<Tensor> {
    let b = labels.len();
    let logp = ops::log_softmax(logits, D::Minus1)?;
    let y = Tensor::from_vec(labels.to_vec(), (b, 1), device)?;
    let nll = logp.gather(&y, 1)?.squeeze(1)?.neg()?;
    let smooth = logp.mean(1)?.neg()?;
    let per = ((nll * (1.0 - eps))? + (smooth * eps)?)?;
    let w = Tensor::from_vec(weights.to_vec(), b, device)?;
    let total: f32 = weights.iter().sum();
    Ok(((per * &w)?.sum_all()? / (total.max(1e-12) as f64))?)
}

/// Validation accuracy and (unweighted, unsmoothed) loss.
fn validate(
    model: &ToolController,
    cfg: &Config,
    va: &[Encoded],
    table: &[f32],
    device: &Device,
) -> Result<Validation> {
    let table = if cfg.n_features > 0 {
        Some(Tensor::from_slice(
            table,
            (cfg.n_features, cfg.d_bag),
            device,
        )?)
    } else {
        None
    };
    // Per chunk: right tools, summed loss, and tag counts (tokens tagged right and non-O,
    // tagged non-O, gold non-O). Chunks run on the thread pool.
    let chunk_scores = |chunk: &[Encoded]| -> Result<[f64; 6]> {
        let ids: Vec<&[u32]> = chunk.iter().map(|e| e.ids.as_slice()).collect();
        let (ids, mask) = Batch::tokens(&ids, device)?;
        let bag = match &table {
            Some(t) => {
                let idx: Vec<&[u32]> = chunk.iter().map(|e| e.feat_ids.as_slice()).collect();
                let w: Vec<&[f32]> = chunk.iter().map(|e| e.feat_w.as_slice()).collect();
                Some(crate::model::bag_vectors(t, &idx, &w)?)
            }
            None => None,
        };
        let chunk_refs: Vec<&Encoded> = chunk.iter().collect();
        let shapes = batch_shapes(cfg, &chunk_refs, device)?;
        let out = model.forward_t(
            &Batch {
                ids,
                mask,
                bag,
                shapes,
            },
            false,
        )?;
        let labels: Vec<u32> = chunk.iter().map(|e| e.label).collect();
        // An out-of-scope validation row when training had none has no output of its own: it
        // counts as wrong and stays out of the loss (as `calibrate::nll_at` does).
        let n_out = out.logits.dim(1)? as u32;
        let scored: Vec<f32> = labels
            .iter()
            .map(|&l| f32::from(u8::from(l < n_out)))
            .collect();
        let in_range: Vec<u32> = labels
            .iter()
            .map(|&l| if l < n_out { l } else { 0 })
            .collect();
        let n_scored: f32 = scored.iter().sum();
        let loss = if n_scored > 0.0 {
            smoothed_nll(&out.logits, &in_range, &scored, 0.0, device)?.to_scalar::<f32>()? as f64
                * n_scored as f64
        } else {
            0.0
        };
        let pred: Vec<u32> = out.logits.argmax(1)?.to_vec1()?;
        let correct = pred.iter().zip(&labels).filter(|(p, l)| p == l).count();
        let (mut tp, mut predicted, mut gold) = (0usize, 0usize, 0usize);
        if let Some(tags) = &out.tags {
            // Tags are read as routing reads them: within the predicted tool's arguments, by
            // constrained decoding.
            let k = cfg.n_tags();
            let scores: Vec<Vec<Vec<f32>>> = tags.to_vec3()?;
            for ((e, rows), &p) in chunk.iter().zip(&scores).zip(&pred) {
                let Some(truth) = &e.tags else { continue };
                let flat: Vec<f32> = rows[..e.ids.len().min(rows.len())].concat();
                let allowed = cfg.tool_args.get(p as usize).cloned().unwrap_or_default();
                let best = crate::args::viterbi(&flat, k, &allowed, &[]);
                for (&g, &p) in truth.iter().zip(&best).skip(1) {
                    predicted += usize::from(p != 0);
                    gold += usize::from(g != 0);
                    tp += usize::from(p != 0 && p == g);
                }
            }
        }
        Ok([
            correct as f64,
            loss,
            tp as f64,
            predicted as f64,
            gold as f64,
            n_scored as f64,
        ])
    };
    use rayon::prelude::*;
    let sums = va
        .par_chunks(128)
        .map(chunk_scores)
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .fold([0f64; 6], |mut acc, x| {
            acc.iter_mut().zip(x).for_each(|(a, b)| *a += b);
            acc
        });
    let [correct, loss, tp, predicted, gold, scored] = sums;
    let tag_f1 = (gold > 0.0).then(|| 2.0 * tp / (predicted + gold).max(1.0));
    Ok(Validation {
        accuracy: correct / va.len() as f64,
        loss: loss / scored.max(1.0),
        tag_f1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(ids: Vec<u32>, tags: Vec<u32>) -> Encoded {
        Encoded {
            shapes: ids.iter().map(|&i| i % 3).collect(),
            ids,
            feat_ids: Vec::new(),
            feat_w: Vec::new(),
            tags: Some(tags),
            label: 0,
            target: None,
            weight: 1.0,
        }
    }

    #[test]
    fn tag_spans_reads_bio_runs() {
        // O B-0 I-0 O B-1 B-1 I-1 I-0 (a stray I- starts a span, as routing decodes it)
        assert_eq!(
            tag_spans(&[0, 1, 2, 0, 3, 3, 4, 2]),
            vec![(0, 1, 3), (1, 4, 5), (1, 5, 7), (0, 7, 8)]
        );
        assert_eq!(tag_spans(&[0, 0]), vec![]);
    }

    /// Swaps with chance `p` from the same argument's values, repeated values included.
    fn same(p: f64) -> Swap {
        Swap {
            p,
            any: 0.0,
            repeated: true,
        }
    }

    #[test]
    fn value_swap_any_draws_other_arguments_values_and_spares_repeated_ones() {
        // Tool 0's argument 0 has [10] and [12]; tool 1's argument 0 has [13] and [14].
        let mut t1a = encoded(vec![2, 13], vec![0, 1]);
        t1a.label = 1;
        let mut t1b = encoded(vec![2, 14], vec![0, 1]);
        t1b.label = 1;
        let set = [
            encoded(vec![2, 5, 10, 6], vec![0, 0, 1, 0]),
            encoded(vec![2, 5, 12, 6], vec![0, 0, 1, 0]),
            t1a,
            t1b,
        ];
        let pool = ValuePool::new(&set, true);
        assert_eq!(pool.any.len(), 4);
        let mut rng = StdRng::seed_from_u64(5);
        let e = &set[0];
        let tags = e.tags.as_deref().unwrap_or_default();
        let any = Swap {
            p: 1.0,
            any: 1.0,
            repeated: true,
        };
        let mut drawn = std::collections::BTreeSet::new();
        for _ in 0..40 {
            let (ids, _, t) = pool.swap(e, tags, &any, 48, &mut rng);
            assert_eq!(t, Some(vec![0, 0, 1, 0]));
            drawn.insert(ids[2]);
        }
        assert!(drawn.contains(&13) && drawn.contains(&14), "{drawn:?}");
        // Without `any`, only tool 0's own values.
        for _ in 0..40 {
            let (ids, _, _) = pool.swap(e, tags, &same(1.0), 48, &mut rng);
            assert!(ids[2] == 10 || ids[2] == 12);
        }
        // The value 10 also occurs after the span (as in a workflow's earlier call): left alone
        // unless repeated values may be swapped.
        let rep = encoded(vec![2, 5, 10, 6, 10], vec![0, 0, 1, 0, 0]);
        let rep_tags = rep.tags.as_deref().unwrap_or_default();
        let keep = Swap {
            repeated: false,
            ..any
        };
        for _ in 0..20 {
            let (ids, _, _) = pool.swap(&rep, rep_tags, &keep, 48, &mut rng);
            assert_eq!(ids, rep.ids);
        }
        let changed = (0..20).any(|_| pool.swap(&rep, rep_tags, &any, 48, &mut rng).0 != rep.ids);
        assert!(changed);
        assert!(occurs_elsewhere(&[1, 2, 1, 2], 0, 2));
        assert!(!occurs_elsewhere(&[1, 2, 3, 1], 0, 2));
    }

    #[test]
    fn value_swap_replaces_values_with_others_of_the_same_argument() {
        // Argument 0 of tool 0 has the values [10 11] and [12]; argument 1 only [20] (nothing to
        // swap); tool 1's value [13] of argument 0 is not tool 0's to draw.
        let mut other = encoded(vec![2, 13], vec![0, 1]);
        other.label = 1;
        let set = [
            encoded(vec![2, 5, 10, 11, 6, 20], vec![0, 0, 1, 2, 0, 3]),
            encoded(vec![2, 7, 12], vec![0, 0, 1]),
            other,
        ];
        let pool = ValuePool::new(&set, true);
        assert_eq!(pool.by_arg[&(0, 0)].len(), 2);
        assert_eq!(pool.by_arg[&(0, 1)].len(), 1);
        let mut rng = StdRng::seed_from_u64(3);
        let e = &set[0];
        let tags = e.tags.as_deref().unwrap_or_default();
        // p = 0: unchanged.
        let (ids, shapes, t) = pool.swap(e, tags, &same(0.0), 48, &mut rng);
        assert_eq!(
            (ids, shapes, t),
            (e.ids.clone(), e.shapes.clone(), e.tags.clone())
        );
        // p = 1: argument 0 takes one of its values each time, tags and shapes follow; argument
        // 1 and the words around stay.
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..20 {
            let (ids, shapes, t) = pool.swap(e, tags, &same(1.0), 48, &mut rng);
            let t = t.unwrap_or_default();
            if ids.len() == 5 {
                assert_eq!(ids, vec![2, 5, 12, 6, 20]);
                assert_eq!(t, vec![0, 0, 1, 0, 3]);
            } else {
                assert_eq!(ids, e.ids);
                assert_eq!(t, tags);
            }
            assert_eq!(shapes, ids.iter().map(|&i| i % 3).collect::<Vec<u32>>());
            seen.insert(ids.len());
        }
        assert_eq!(seen.len(), 2, "both values drawn");
        // Cut to max_tokens.
        let (ids, shapes, t) = pool.swap(e, tags, &same(1.0), 3, &mut rng);
        assert_eq!(
            (ids.len(), shapes.len(), t.map(|t| t.len())),
            (3, 3, Some(3))
        );
        // A distilled copy (its target is the teacher's view of its own text) stays as it is.
        let mut copy = encoded(e.ids.clone(), tags.to_vec());
        copy.target = Some(0);
        for _ in 0..10 {
            assert_eq!(pool.swapped(&copy, &same(1.0), 48, &mut rng).ids, e.ids);
        }
    }

    #[test]
    fn stratified_split_keeps_every_label_in_training() {
        let labels = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2];
        let mut rng = StdRng::seed_from_u64(1);
        let (tr, va) = stratified_split(&labels, 0.1, &mut rng);
        assert_eq!(tr.len() + va.len(), labels.len());
        assert_eq!(va.len(), 1); // one of the ten zeros; the rare labels stay in training
        for l in [0, 1, 2] {
            assert!(tr.iter().any(|&i| labels[i] == l));
        }
    }

    #[test]
    fn smoothed_loss_matches_a_hand_computed_value() -> Result<()> {
        // logits [0, ln 3] -> p = [0.25, 0.75]; label 1; eps 0.2:
        // 0.8 * -ln 0.75 + 0.2 * -(ln 0.25 + ln 0.75)/2 = 0.2301 + 0.1674 = 0.3975
        let dev = Device::Cpu;
        let logits = Tensor::new(&[[0f32, 3f32.ln()]], &dev)?;
        let l = smoothed_nll(&logits, &[1], &[1.0], 0.2, &dev)?.to_scalar::<f32>()?;
        let want = 0.8 * -(0.75f32.ln()) + 0.2 * -(0.25f32.ln() + 0.75f32.ln()) / 2.0;
        assert!((l - want).abs() < 1e-5, "{l} vs {want}");
        Ok(())
    }

    #[test]
    fn every_parameter_receives_a_gradient() -> Result<()> {
        // Guards against kernels that record no backward pass (candle-nn 0.9's fused layer norm
        // and softmax_last_dim): a parameter behind one of them would get no gradient at all.
        // Both encoders, with the plain and the straight-through Gumbel output.
        for arch in ["attention", "gru"] {
            for tau in [None, Some(0.5)] {
                every_parameter_receives_a_gradient_with(arch, tau)?;
            }
        }
        Ok(())
    }

    fn every_parameter_receives_a_gradient_with(arch: &str, tau: Option<f64>) -> Result<()> {
        let dev = Device::Cpu;
        crate::model::seed_dropout(3);
        let cfg = Config {
            architecture: arch.into(),
            vocab_size: 20,
            d_model: 16,
            layers: 2,
            heads: 2,
            max_tokens: 8,
            n_features: 10,
            d_bag: 4,
            n_labels: 3,
            dropout: 0.0,
            arg_names: vec!["city".into()],
            n_shapes: 4,
            ..Config::default()
        };
        let varmap = VarMap::new();
        let model = ToolController::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &dev))?;
        let table: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin()).collect();
        let items = [
            Encoded {
                ids: vec![2, 5, 6, 7],
                shapes: vec![0, 1, 3, 2],
                feat_ids: vec![1, 2],
                feat_w: vec![0.6, 0.8],
                tags: Some(vec![0, 1, 2, 0]),
                label: 0,
                target: None,
                weight: 1.0,
            },
            Encoded {
                ids: vec![2, 9],
                shapes: vec![0, 3],
                feat_ids: vec![3],
                feat_w: vec![1.0],
                tags: None,
                label: 2,
                target: None,
                weight: 1.0,
            },
        ];
        let refs: Vec<&Encoded> = items.iter().collect();
        let emb: Vec<f32> = (0..20 * 16).map(|i| (i as f32 * 0.11).cos()).collect();
        let out = step_loss(
            &model,
            &cfg,
            &refs,
            SparseTables {
                bag: &table,
                tokens: Some(&emb),
            },
            &LossWeights {
                class: &[1.0, 1.0, 1.0],
                smoothing: 0.1,
                args: 0.5,
                gumbel_tau: tau,
                distill: None,
            },
            &dev,
        )?;
        let grads = out.loss.backward()?;
        let vars = varmap
            .data()
            .lock()
            .map_err(|_| Error::Internal("lock".into()))?;
        assert!(vars.len() > 6, "{arch}: {} variables", vars.len());
        // The token table trains through the rows the batch touched (checked below).
        for (name, v) in vars.iter().filter(|(n, _)| n.as_str() != TOKEN_TABLE) {
            let g = grads.get(v.as_tensor());
            assert!(g.is_some(), "{arch} {tau:?}: no gradient for {name}");
            let norm = g.map(|g| {
                g.sqr()
                    .and_then(|s| s.sum_all())
                    .and_then(|s| s.to_scalar::<f32>())
            });
            assert!(
                matches!(norm, Some(Ok(n)) if n > 0.0),
                "{arch} {tau:?}: zero gradient for {name}"
            );
        }
        for (what, rows) in [("n-gram", out.bag), ("token", out.tokens)] {
            let g = rows.and_then(|(v, _)| grads.get(v.as_tensor()).cloned());
            let norm = g
                .map(|g| g.sqr()?.sum_all()?.to_scalar::<f32>())
                .transpose()?;
            assert!(
                norm.is_some_and(|n| n > 0.0),
                "no gradient for the {what} rows"
            );
        }
        Ok(())
    }

    #[test]
    fn weight_average_is_the_mean_of_the_added_epochs() -> Result<()> {
        let dev = Device::Cpu;
        let mut avg = Average::default();
        let w = |x: f32| -> Result<HashMap<String, Tensor>> {
            Ok(HashMap::from([(
                "a".to_string(),
                Tensor::new(&[x, 2.0 * x], &dev)?,
            )]))
        };
        avg.add(&w(1.0)?, &[1.0, 0.0])?;
        assert!(avg.mean()?.is_none(), "one epoch is no average");
        avg.add(&w(3.0)?, &[3.0, 1.0])?;
        let (m, t) = avg.mean()?.expect("two epochs");
        assert_eq!(m["a"].to_vec1::<f32>()?, vec![2.0, 4.0]);
        assert_eq!(t, vec![2.0, 0.5]);
        Ok(())
    }

    #[test]
    fn sparse_adam_only_moves_touched_rows() {
        let mut table = vec![1.0f32; 6];
        let mut opt = SparseAdam::new(6, 0.1, 0.0);
        opt.step(&mut table, &[1], &[1.0, -1.0], 2, 1.0);
        assert_eq!(&table[0..2], &[1.0, 1.0]);
        assert!(table[2] < 1.0 && table[3] > 1.0);
        assert_eq!(&table[4..6], &[1.0, 1.0]);
    }
}
