//! A trained router: routes requests to tools, evaluates, and is saved to / loaded from one file
//! (see `format`). Immutable once built, so it can be shared across threads behind an `Arc`.
//!
//! ```no_run
//! use toolrouter_core::Router;
//! let router = Router::load("model.toolrouter".as_ref()).unwrap();
//! let route = router.route("will it rain in Oslo tomorrow?").unwrap();
//! println!("{:?} {:.3}", route.tool, route.confidence);
//! ```

use crate::calibrate::{softmax_t, Calibration};
use crate::data::{Example, ToolSpec};
use crate::error::{Error, Result};
use crate::eval::{add_confidence_metrics, metrics, Metrics, Scored};
use crate::fast::{FastInput, FastModel};
use crate::features::NgramVocab;
use crate::model::{bag_vectors, Batch, Config, ToolController};
use crate::tokenizer;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use tokenizers::Tokenizer;

/// Turns text into model inputs: sub-word ids and n-gram features.
#[derive(Clone)]
pub struct Encoder {
    pub(crate) tokenizer: Tokenizer,
    /// The same tokenizer's lean path for ASCII requests.
    lean: Option<tokenizer::LeanWordPiece>,
    pub(crate) vocab: NgramVocab,
    pub(crate) max_tokens: usize,
    /// Whether the model reads word shapes (else [`Inputs::shapes`] stays empty).
    pub(crate) shapes: bool,
}

impl Encoder {
    pub fn new(
        tokenizer: Tokenizer,
        mut vocab: NgramVocab,
        max_tokens: usize,
        shapes: bool,
    ) -> Self {
        // The tokenizer's whole words: its training texts' frequent words, or with a pretrained
        // table (the default) the teacher's English vocabulary.
        vocab.cache_words(tokenizer.get_vocab(false).keys().map(String::as_str));
        Encoder {
            lean: tokenizer::LeanWordPiece::new(&tokenizer),
            tokenizer,
            vocab,
            max_tokens,
            shapes,
        }
    }

    /// The word shapes of `enc`'s tokens when the model reads them, else none.
    pub fn shapes(&self, text: &str, enc: &tokenizer::Encoded) -> Vec<u32> {
        if self.shapes {
            tokenizer::word_shapes(text, &enc.offsets)
        } else {
            Vec::new()
        }
    }

    /// Sub-word ids and offsets: the lean path for ASCII text, `tokenizers` otherwise.
    pub fn tokens(&self, text: &str) -> Result<tokenizer::Encoded> {
        match self
            .lean
            .as_ref()
            .and_then(|l| l.encode(text, self.max_tokens))
        {
            Some(enc) => Ok(enc),
            None => tokenizer::encode(&self.tokenizer, text, self.max_tokens),
        }
    }

    /// Token ids (`[CLS]` first, truncated to `max_tokens`) with their character offsets,
    /// n-gram ids and their weights.
    pub fn encode(&self, text: &str) -> Result<Inputs> {
        let enc = self.tokens(text)?;
        let (feat_ids, feat_w) = self.vocab.weights(text);
        Ok(Inputs {
            shapes: self.shapes(text, &enc),
            ids: enc.ids,
            offsets: enc.offsets,
            continues: enc.continues,
            feat_ids,
            feat_w,
        })
    }
}

/// A request encoded for the model.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub ids: Vec<u32>,
    /// Each token's word shape ([`tokenizer::word_shapes`]); empty when the model has none.
    pub shapes: Vec<u32>,
    pub offsets: Vec<(usize, usize)>,
    /// Whether each token continues the previous token's word.
    pub continues: Vec<bool>,
    pub feat_ids: Vec<u32>,
    pub feat_w: Vec<f32>,
}

impl<'a> From<&'a Inputs> for FastInput<'a> {
    fn from(i: &'a Inputs) -> Self {
        FastInput {
            ids: &i.ids,
            shapes: &i.shapes,
            feat_ids: &i.feat_ids,
            feat_w: &i.feat_w,
        }
    }
}

/// How training went; stored in the model file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainingInfo {
    /// The weights are the mean of several epochs (weight averaging) rather than one epoch's.
    pub averaged: bool,
    pub examples: usize,
    pub valid_examples: usize,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub valid_accuracy: Option<f64>,
    pub valid_loss: Option<f64>,
    /// Micro F1 of the argument tags on the validation tokens, when the model tags arguments.
    pub valid_tag_f1: Option<f64>,
    pub train_seconds: f64,
    pub warnings: Vec<String>,
    /// Training continued from an earlier router (`fit_from`): how many of the examples it kept
    /// were replayed beside the new ones (0 for a fresh fit).
    pub replayed: usize,
    /// Temperature and abstention threshold fitted on the validation set.
    pub calibration: Calibration,
    /// Training with a teacher: which router was kept; `None` without one (or without the
    /// labels-alone run: no validation data, or `select: false`).
    pub teacher: Option<TeacherReport>,
    /// Tools added with `add_tool` since training, in the order they were added: their rows
    /// come from their text and examples, not from training.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
}

/// Training with a teacher trains on the labels alone too and keeps the router that validates
/// better (see [`crate::train::fit_from`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TeacherReport {
    /// The kept router is the one trained with the teacher.
    pub used: bool,
    /// Validation score (tool accuracy + `tag_weight` × tag F1) of the router trained on labels alone.
    pub valid_labels: f64,
    /// The same, of the router trained with the teacher.
    pub valid_teacher: f64,
}

/// Why a route is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The router picked a tool.
    Confident,
    /// The best tool's confidence is under the threshold: let the LLM decide.
    LowConfidence,
    /// The request looks like one no tool serves.
    OutOfScope,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Confident => "confident",
            Reason::LowConfidence => "low_confidence",
            Reason::OutOfScope => "out_of_scope",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    pub tool: String,
    pub confidence: f64,
}

/// The router's answer for one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    /// The tool to call, or `None` when the router abstains.
    pub tool: Option<String>,
    /// Probability of the decision: of `tool`, or of "no tool" when out of scope.
    pub confidence: f64,
    /// The next best tools (the best ones when `tool` is `None`), most likely first.
    pub alternatives: Vec<Alternative>,
    /// Arguments converted to the types of the tool's JSON Schema (see [`crate::typed`]).
    pub args: Map<String, Value>,
    /// Where each argument was found in the text (Unicode code points).
    pub spans: Vec<crate::data::Span>,
    pub abstained: bool,
    pub reason: Reason,
    /// Required arguments of the tool that the request does not give.
    pub missing: Vec<String>,
    /// Arguments whose value does not fit the schema's type or enum.
    pub invalid: Vec<String>,
    /// A tool was chosen, nothing is missing and every argument fits its schema: the call can
    /// run without the LLM.
    pub complete: bool,
}

/// How far under `O` (in the tagger's log-probability margin, summed over the span) a span may
/// score and still fill a required argument the decoding left out ([`Router::fill_required`]).
/// Chosen on the workflow benchmark's held-out training phrasings and values
/// (`npm run eval:workflows -- --sweep --fill-margins …`, seeds 42-44), never on its test: 1
/// gave more steps right and fewer chains handed over at all three seeds with chain success
/// unchanged (mean step accuracy 80.7 → 82.0%, handover 56.6 → 55.3%, chain success 95.5 →
/// 95.6%); 2 ran more chains locally but with wrong values (chain success 95.1 → 87.6% at seed
/// 42, 92.1 → 82.3% at 43).
pub const FILL_MARGIN: f32 = 1.0;

/// The model's raw answer for one request.
struct Prediction {
    logits: Vec<f32>,
    /// Calibrated probabilities: `softmax(logits / temperature)`.
    probs: Vec<f64>,
    /// (T × n_tags) tag scores, row-major, and n_tags, when the model has arguments.
    tag_scores: Option<(Vec<f32>, usize)>,
    offsets: Vec<(usize, usize)>,
    continues: Vec<bool>,
}

/// Where the time of one `route()` goes (see [`Router::profile`]): medians in µs.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub tokenize_us: f64,
    /// The n-gram features (hashing, lookup, TF-IDF weights).
    pub features_us: f64,
    pub forward_us: f64,
    /// Softmax, ranking and argument decoding.
    pub decide_us: f64,
    pub tokens_mean: f64,
    /// Floating-point operations of one forward pass at the mean token count.
    pub flops: f64,
    /// The kernels of the fast path, or `None` when the forward is candle's.
    pub isa: Option<&'static str>,
    /// The arithmetic floor of the forward: each matrix product of the model at the mean token
    /// count, timed at the single-core rate the better of a plain product (this crate's tiled
    /// kernel, the `gemm` crate) reaches on that shape (attention scores at the rate of the QKV
    /// product): the speed issue's floor.
    pub floor_us: Option<f64>,
    /// FLOP-weighted single-core rates over the model's shapes.
    pub gflops_kernel: Option<f64>,
    pub gflops_gemm_crate: Option<f64>,
    /// The rate of the products the forward runs (the packed AVX-512 kernel, whose weights are
    /// laid out at load time, else the `gemm` crate).
    pub gflops_forward: Option<f64>,
    /// The floor at that rate: stricter than `floor_us` wherever the forward's kernel is faster
    /// than a plain product.
    pub floor_forward_us: Option<f64>,
}

/// CPU cores available to this process, asked once: `available_parallelism` reads the cgroup
/// quota files on Linux, tens of µs that would otherwise land on every batch.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Indices of the `k` largest values, largest first (ties: the lower index first). A linear
/// scan: routing needs a few of ~150 labels, not a full sort.
fn top_k(values: &[f64], k: usize) -> Vec<usize> {
    let mut top: Vec<usize> = Vec::with_capacity(k + 1);
    for (i, &v) in values.iter().enumerate() {
        if top.len() == k && top.last().is_some_and(|&j| values[j] >= v) {
            continue;
        }
        let pos = top.partition_point(|&j| values[j] >= v);
        top.insert(pos, i);
        top.truncate(k);
    }
    top
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A batch is split across threads only when each gets at least this many requests (a thread
/// costs tens of µs to start; a request a few).
const MIN_PER_THREAD: usize = 32;

/// Requests per batched forward pass on one thread (see `FastModel::forward_batch`).
const GROUP: usize = 32;

/// `f` over `texts` split into up to `threads` contiguous chunks (0: one per core), run on
/// rayon's pool, results in order; small batches stay on the calling thread. The pool's threads
/// outlive a batch, so their scratch buffers stay allocated and warm: with a scoped thread
/// spawned per batch (cold every time), 256 requests on 2 threads from Node ran at 29.7k
/// routes/s on the demo model, 41.4k on the pool (`npm run bench`, README).
fn on_threads<T: Send>(
    texts: &[&str],
    threads: usize,
    f: impl Fn(&[&str]) -> Result<Vec<T>> + Sync,
) -> Result<Vec<T>> {
    use rayon::prelude::*;
    let threads = if threads == 0 { cores() } else { threads }
        .min(texts.len() / MIN_PER_THREAD)
        .max(1);
    if threads == 1 {
        return f(texts);
    }
    let per = texts.len().div_ceil(threads);
    let parts: Vec<Vec<T>> = texts.par_chunks(per).map(&f).collect::<Result<_>>()?;
    Ok(parts.into_iter().flatten().collect())
}

/// How many alternatives a route lists.
pub const ALTERNATIVES: usize = 3;

/// A trained ToolController with its tokenizer, features and tools. Cloning shares the
/// weights (candle tensors are reference-counted) and copies the fast path's layout of them.
#[derive(Clone)]
pub struct Router {
    pub(crate) cfg: Config,
    pub(crate) encoder: Encoder,
    pub(crate) tools: Vec<ToolSpec>,
    /// Every weight by name; the single source the model and the file are built from.
    pub(crate) weights: HashMap<String, Tensor>,
    model: ToolController,
    bag: Option<Tensor>,
    /// The hand-written CPU forward (attention models on the CPU), and whether it is used.
    fast: Option<FastModel>,
    use_fast: bool,
    /// [`FILL_MARGIN`] unless changed ([`Router::set_fill_margin`]); `None`: no filling.
    fill_margin: Option<f32>,
    pub(crate) info: TrainingInfo,
    /// A sample of the training examples (a few per label), kept in the model file so training
    /// continued from this router (`train::fit_from`) can replay them and not forget old tools.
    pub(crate) replay: Vec<Example>,
    /// The maps `add_tool` predicts a new tool's row with, fitted on first use.
    pub(crate) imprinter: Option<crate::toolspace::Imprinter>,
    device: Device,
}

impl Router {
    /// Builds a router from its parts; checks every weight's presence and shape.
    pub fn from_parts(
        cfg: Config,
        encoder: Encoder,
        tools: Vec<ToolSpec>,
        weights: HashMap<String, Tensor>,
        info: TrainingInfo,
        device: Device,
    ) -> Result<Self> {
        cfg.validate()
            .map_err(|r| Error::Internal(format!("config: {r}")))?;
        let vb = VarBuilder::from_tensors(weights.clone(), DType::F32, &device);
        let model = ToolController::new(&cfg, vb)?;
        let bag = if cfg.n_features > 0 {
            let t = weights
                .get("bag.table")
                .ok_or_else(|| Error::Internal("missing weight bag.table".into()))?;
            if t.dims() != [cfg.n_features, cfg.d_bag] {
                return Err(Error::Internal(format!(
                    "bag.table has shape {:?}",
                    t.dims()
                )));
            }
            Some(t.clone())
        } else {
            None
        };
        // A tool space's map and scales are read only when a tool is added: checked here, so
        // that a file that loads never fails (or indexes out of bounds) later.
        let h = cfg.head_in();
        let bad =
            |name: &str, t: &Tensor| Error::Internal(format!("{name} has shape {:?}", t.dims()));
        use crate::toolspace_fit::{PROJ_SCALE, PROJ_WEIGHT};
        if let Some(t) = weights.get(PROJ_WEIGHT).filter(|t| t.dims() != [h, h]) {
            return Err(bad(PROJ_WEIGHT, t));
        }
        if let Some(t) = weights
            .get(PROJ_SCALE)
            .filter(|t| t.rank() != 1 || t.dims()[0] < 2)
        {
            return Err(bad(PROJ_SCALE, t));
        }
        let fast = if device.is_cpu() {
            FastModel::new(&cfg, &weights)?
        } else {
            None
        };
        Ok(Router {
            cfg,
            encoder,
            tools,
            weights,
            model,
            bag,
            use_fast: fast.is_some(),
            fill_margin: Some(FILL_MARGIN),
            fast,
            info,
            replay: Vec::new(),
            imprinter: None,
            device,
        })
    }

    /// Rebuilds what reads the output head after only `head.*` changed (`add_tool`,
    /// `remove_tool`): the candle network (which shares every other tensor) and the fast path's
    /// head, not its copy of the other layers.
    pub(crate) fn rebuild_head(&mut self) -> Result<()> {
        let vb = VarBuilder::from_tensors(self.weights.clone(), DType::F32, &self.device);
        self.model = ToolController::new(&self.cfg, vb)?;
        if let Some(fast) = &mut self.fast {
            fast.set_head(&self.weights)?;
        }
        Ok(())
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn tools(&self) -> &[ToolSpec] {
        &self.tools
    }

    /// Approximate heap bytes this router holds: the weights (and the CPU fast path's own layout
    /// of them, see [`FastModel::bytes`]), the n-gram vocabulary, its lookup and its cache of
    /// known words, the replay sample.
    pub fn memory_bytes(&self) -> usize {
        let weights: usize = self.weights.values().map(|t| t.elem_count() * 4).sum();
        let fast = self.fast.as_ref().map_or(0, FastModel::bytes);
        // Hash, IDF, and the lookup's (key, index) entries with the table's slack.
        let (cached, cached_ids) = self.encoder.vocab.cached_words();
        let vocab = self.encoder.vocab.len() * (8 + 4 + 24) + cached * 24 + cached_ids * 4;
        let replay: usize = self.replay.iter().map(|e| e.text.len() + 64).sum();
        weights + fast + vocab + replay
    }

    /// The examples kept for replay when training continues from this router.
    pub fn replay(&self) -> &[Example] {
        &self.replay
    }

    pub fn training(&self) -> &TrainingInfo {
        &self.info
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Label names: the tools, then `None` for "no tool" when the model has that outcome.
    fn label(&self, i: usize) -> Option<&str> {
        self.tools.get(i).map(|t| t.name.as_str())
    }

    /// The label index of an example's tool, as the rows of [`Self::logits`] and
    /// [`Self::probabilities`] are ordered: the tool's position, or the tool count ("none") for
    /// `None` or a tool the router does not have. A linear scan, for evaluation code.
    pub fn label_index(&self, tool: Option<&str>) -> usize {
        tool.and_then(|t| self.tools.iter().position(|s| s.name == t))
            .unwrap_or(self.tools.len())
    }

    /// Calibrated probabilities over the labels (the tools, then "none" when the model has
    /// it), one row per text.
    pub fn probabilities(&self, texts: &[&str]) -> Result<Vec<Vec<f64>>> {
        Ok(self.predict(texts)?.into_iter().map(|p| p.probs).collect())
    }

    /// Raw logits over the labels, one row per text (what calibration is fitted on).
    pub fn logits(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self.predict(texts)?.into_iter().map(|p| p.logits).collect())
    }

    /// The fitted temperature and threshold.
    pub fn calibration(&self) -> &Calibration {
        &self.info.calibration
    }

    /// Replaces the calibration (temperature and threshold); training sets it.
    pub fn set_calibration(&mut self, c: Calibration) {
        self.info.calibration = c;
    }

    /// The confidence threshold under which the router abstains.
    pub fn threshold(&self) -> f64 {
        self.info.calibration.threshold
    }

    /// Times the stages of `route()` on each text, `reps` times (for the bench).
    pub fn profile(&self, texts: &[&str], reps: usize) -> Result<Profile> {
        use std::time::Instant;
        let us = |t: Instant| t.elapsed().as_secs_f64() * 1e6;
        let (mut tok, mut feat, mut fwd, mut dec) = (vec![], vec![], vec![], vec![]);
        let mut tokens = 0usize;
        for _ in 0..reps.max(1) {
            for text in texts {
                let t0 = Instant::now();
                let enc = self.encoder.tokens(text)?;
                let shapes = self.encoder.shapes(text, &enc);
                tok.push(us(t0));
                let t0 = Instant::now();
                let (feat_ids, feat_w) = self.encoder.vocab.weights(text);
                feat.push(us(t0));
                tokens += enc.ids.len();
                let t0 = Instant::now();
                let p = match self.fast_path() {
                    Some(fast) => {
                        let o = fast.forward(&enc.ids, &shapes, &feat_ids, &feat_w)?;
                        Prediction {
                            probs: Vec::new(),
                            logits: o.logits,
                            tag_scores: o.tags.map(|t| (t, o.n_tags)),
                            offsets: enc.offsets,
                            continues: enc.continues,
                        }
                    }
                    None => self.predict_candle(&[text])?.remove(0),
                };
                fwd.push(us(t0));
                let t0 = Instant::now();
                let p = Prediction {
                    probs: softmax_t(&p.logits, self.info.calibration.temperature),
                    ..p
                };
                std::hint::black_box(self.decide(text, &p, self.threshold()));
                dec.push(us(t0));
            }
        }
        let n = (reps.max(1) * texts.len()).max(1);
        let tokens_mean = tokens as f64 / n as f64;
        let t = (tokens_mean.round() as usize).max(1);
        let fast = self.fast_path();
        let (mut floor_s, mut flops_mm, mut work_k, mut work_g) = (0.0, 0.0, 0.0, 0.0);
        let (mut floor_f, mut work_f) = (0.0, 0.0);
        let (mut qkv_rate, mut qkv_rate_f) = (0.0, 0.0);
        if let Some(f) = fast {
            let mut seen: HashMap<(usize, usize, usize), (f64, f64, f64)> = HashMap::new();
            for shape in f.matmul_shapes(t) {
                let (m, k, n) = shape;
                let (ours, theirs, forward) = *seen
                    .entry(shape)
                    .or_insert_with(|| crate::fast::matmul_rates(f.isa(), m, k, n, 30.0));
                let fl = 2.0 * (m * k * n) as f64;
                let best = ours.max(theirs) * 1e9;
                // The stricter floor: the best of the plain products and the forward's own.
                let best_f = best.max(forward * 1e9);
                if qkv_rate == 0.0 {
                    qkv_rate = best;
                    qkv_rate_f = best_f;
                }
                floor_s += fl / best;
                floor_f += fl / best_f;
                flops_mm += fl;
                work_k += fl / (ours * 1e9);
                work_g += fl / (theirs * 1e9);
                work_f += fl / (forward * 1e9);
            }
        }
        let flops = fast.map_or(0.0, |f| f.flops(t) as f64);
        if qkv_rate > 0.0 {
            floor_s += (flops - flops_mm).max(0.0) / qkv_rate;
            floor_f += (flops - flops_mm).max(0.0) / qkv_rate_f;
        }
        Ok(Profile {
            tokenize_us: median(tok),
            features_us: median(feat),
            forward_us: median(fwd),
            decide_us: median(dec),
            tokens_mean,
            flops,
            isa: fast.map(|f| f.isa().as_str()),
            floor_us: fast.map(|_| floor_s * 1e6),
            gflops_kernel: fast.map(|_| flops_mm / work_k / 1e9),
            gflops_gemm_crate: fast.map(|_| flops_mm / work_g / 1e9),
            gflops_forward: fast.map(|_| flops_mm / work_f / 1e9),
            floor_forward_us: fast.map(|_| floor_f * 1e6),
        })
    }

    /// Whether routing uses the hand-written CPU forward (`fast`) rather than candle's; on by
    /// default where it applies (attention models on the CPU). Both give the same outputs to
    /// 1e-4; the switch is for comparisons.
    pub fn set_fast_path(&mut self, on: bool) {
        self.use_fast = on && self.fast.is_some();
    }

    /// How far under `O` a span may score and still fill a required argument the decoding left
    /// out ([`FILL_MARGIN`] by default); `None`: missing arguments stay missing. Not saved.
    pub fn set_fill_margin(&mut self, margin: Option<f32>) {
        self.fill_margin = margin;
    }

    /// The margin [`Router::set_fill_margin`] set (`None`: no filling).
    pub fn fill_margin(&self) -> Option<f32> {
        self.fill_margin
    }

    /// The kernels the fast path runs (`None` when routing goes through candle).
    pub fn fast_path(&self) -> Option<&FastModel> {
        self.fast.as_ref().filter(|_| self.use_fast)
    }

    /// Tool probabilities and, when the model has arguments, per-token tag scores.
    fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        match self.fast_path() {
            Some(fast) => on_threads(texts, 0, |chunk| self.predict_groups(fast, chunk)),
            None => self.predict_candle(texts),
        }
    }

    /// Requests through the batched fast forward, [`GROUP`] at a time, on this thread.
    fn predict_groups(&self, fast: &FastModel, texts: &[&str]) -> Result<Vec<Prediction>> {
        let mut out = Vec::with_capacity(texts.len());
        for group in texts.chunks(GROUP) {
            let inputs: Vec<Inputs> = group
                .iter()
                .map(|t| self.encoder.encode(t))
                .collect::<Result<_>>()?;
            let reqs: Vec<FastInput> = inputs.iter().map(FastInput::from).collect();
            let outputs = fast.forward_batch(&reqs)?;
            for (o, inp) in outputs.into_iter().zip(inputs) {
                out.push(Prediction {
                    probs: softmax_t(&o.logits, self.info.calibration.temperature),
                    logits: o.logits,
                    tag_scores: o.tags.map(|t| (t, o.n_tags)),
                    offsets: inp.offsets,
                    continues: inp.continues,
                });
            }
        }
        Ok(out)
    }

    /// The padded candle batch of `inputs`.
    fn batch(&self, inputs: &[Inputs]) -> Result<Batch> {
        let ids: Vec<&[u32]> = inputs.iter().map(|i| i.ids.as_slice()).collect();
        let (ids, mask) = Batch::tokens(&ids, &self.device)?;
        let shapes: Vec<&[u32]> = inputs.iter().map(|i| i.shapes.as_slice()).collect();
        let shapes = Batch::shapes(self.cfg.n_shapes, &shapes, &self.device)?;
        let bag = match &self.bag {
            Some(table) => {
                let f: Vec<&[u32]> = inputs.iter().map(|i| i.feat_ids.as_slice()).collect();
                let w: Vec<&[f32]> = inputs.iter().map(|i| i.feat_w.as_slice()).collect();
                Some(bag_vectors(table, &f, &w)?)
            }
            None => None,
        };
        Ok(Batch {
            ids,
            mask,
            bag,
            shapes,
        })
    }

    /// The vector the output head reads for each text (`head_in` wide): the request as the
    /// model sees it, before any tool is scored.
    pub fn features<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            let inputs: Vec<Inputs> = chunk
                .iter()
                .map(|t| self.encoder.encode(t.as_ref()))
                .collect::<Result<_>>()?;
            let h = self.model.head_input(&self.batch(&inputs)?)?;
            out.extend(h.to_vec2::<f32>()?);
        }
        Ok(out)
    }

    /// Many requests through candle's forward, 64 at a time.
    fn predict_candle(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            let inputs: Vec<Inputs> = chunk
                .iter()
                .map(|t| self.encoder.encode(t))
                .collect::<Result<_>>()?;
            let o = self.model.forward_t(&self.batch(&inputs)?, false)?;
            let logits = o.logits.to_vec2::<f32>()?;
            let t = self.info.calibration.temperature;
            let tags: Option<Vec<Vec<Vec<f32>>>> = match &o.tags {
                Some(t) => Some(t.to_vec3::<f32>()?),
                None => None,
            };
            for (i, (z, inp)) in logits.into_iter().zip(inputs).enumerate() {
                let tag_scores = tags.as_ref().map(|t| {
                    let rows = &t[i][..inp.ids.len()];
                    (rows.concat(), rows.first().map_or(1, Vec::len))
                });
                out.push(Prediction {
                    probs: softmax_t(&z, t),
                    logits: z,
                    tag_scores,
                    offsets: inp.offsets,
                    continues: inp.continues,
                });
            }
        }
        Ok(out)
    }

    /// Arguments of `tool` from the tag scores: each token takes its best tag among `O` and the
    /// tool's own arguments, spans map back to the user's characters; a name found twice gives
    /// an array, unless no training example gave it twice (`single_args`): then its surest span
    /// stays. Pieces of one argument with only spaces or punctuation between are joined into one
    /// value, unless training gave that argument side by side (`adjacent_args`).
    fn arguments(
        &self,
        tool: usize,
        text: &str,
        p: &Prediction,
    ) -> (Map<String, Value>, Vec<crate::data::Span>) {
        let mut args = Map::new();
        let mut spans = Vec::new();
        let (Some((scores, n_tags)), Some(allowed)) = (&p.tag_scores, self.cfg.tool_args.get(tool))
        else {
            return (args, spans);
        };
        if allowed.is_empty() {
            return (args, spans);
        }
        let tags = crate::args::viterbi(scores, *n_tags, allowed, &p.continues);
        let chars: Vec<char> = text.chars().collect();
        let gains = crate::args::tag_gains(scores, *n_tags, &tags);
        let spans_k = crate::args::keep_best_single(
            crate::args::merge_adjacent(
                crate::args::decode_scored_spans(&tags, &p.offsets, &gains),
                &chars,
                &self.cfg.adjacent_args,
            ),
            &self.cfg.single_args,
        );
        let spans_k = self.fill_required(tool, &chars, p, &tags, spans_k);
        for (k, start, end, _) in spans_k {
            let (Some(name), Some(slice)) =
                (self.cfg.arg_names.get(k as usize), chars.get(start..end))
            else {
                continue;
            };
            spans.push(crate::data::Span {
                name: name.clone(),
                start,
                end,
            });
            let value = Value::String(slice.iter().collect());
            match args.get_mut(name) {
                None => {
                    args.insert(name.clone(), value);
                }
                Some(Value::Array(a)) => a.push(value),
                Some(prev) => {
                    let first = prev.take();
                    *prev = Value::Array(vec![first, value]);
                }
            }
        }
        (args, spans)
    }

    /// `spans` with a span added for each required argument of `tool` (its schema's `required`)
    /// that the decoding left out: the best free span for it ([`crate::args::best_free_span`])
    /// whose value fits the argument's type, when the tagger's margin against it is under the
    /// router's fill margin ([`FILL_MARGIN`] by default). A value the tagger nearly marked beats a
    /// handover for a missing argument.
    fn fill_required(
        &self,
        tool: usize,
        chars: &[char],
        p: &Prediction,
        tags: &[u32],
        mut spans: Vec<crate::args::ScoredSpan>,
    ) -> Vec<crate::args::ScoredSpan> {
        let (Some(margin), Some((scores, n_tags)), Some(spec), Some(allowed)) = (
            self.fill_margin,
            &p.tag_scores,
            self.tools.get(tool),
            self.cfg.tool_args.get(tool),
        ) else {
            return spans;
        };
        let Some(Value::Array(required)) = spec.parameters.get("required") else {
            return spans;
        };
        // Tokens already in a span are not free: marked once, when the first required argument
        // turns out missing, and again for each span this adds.
        let mut taken: Option<Vec<u32>> = None;
        let span_of =
            |a: usize, b: usize| Some((p.offsets.get(a)?.0, p.offsets.get(b.checked_sub(1)?)?.1));
        for name in required.iter().filter_map(Value::as_str) {
            let Some(k) = self.cfg.arg_names.iter().position(|n| n == name) else {
                continue;
            };
            let k = k as u32;
            if !allowed.contains(&k) || spans.iter().any(|s| s.0 == k) {
                continue;
            }
            let schema = crate::typed::property(&spec.parameters, name);
            let fits = |a: usize, b: usize| -> bool {
                let Some(text) = span_of(a, b).and_then(|(s, e)| chars.get(s..e)) else {
                    return false;
                };
                let v = crate::typed::convert(&text.iter().collect::<String>(), schema);
                let one: Map<String, Value> = [(name.to_string(), v)].into_iter().collect();
                crate::typed::check(&one, &spec.parameters).1.is_empty()
            };
            let taken = taken.get_or_insert_with(|| {
                let mut t = tags.to_vec();
                for &(_, s, e, _) in &spans {
                    for (i, &(a, b)) in p.offsets.iter().enumerate() {
                        if a < e && b > s {
                            if let Some(x) = t.get_mut(i) {
                                *x = (*x).max(1);
                            }
                        }
                    }
                }
                t
            });
            let found = crate::args::best_free_span(
                (scores, *n_tags),
                taken,
                &p.offsets,
                &p.continues,
                k,
                -margin,
                fits,
            );
            if let Some((a, b, g)) = found {
                if let Some((s, e)) = span_of(a, b) {
                    for x in taken.iter_mut().take(b).skip(a) {
                        *x = (*x).max(1);
                    }
                    spans.push((k, s, e, g));
                }
            }
        }
        spans.sort_by_key(|s| s.1);
        spans
    }

    /// The decision for one prediction at `threshold`: the best label is "none" → out of scope;
    /// the best tool's confidence is under the threshold → low confidence; else that tool.
    /// Abstentions keep the best tools in `alternatives` for the LLM that takes over.
    fn decide(&self, text: &str, p: &Prediction, threshold: f64) -> Route {
        let probs = &p.probs;
        let n_tools = self.tools.len();
        let order = top_k(probs, ALTERNATIVES + 2);
        let best = order.first().copied().unwrap_or(0);
        let confidence = probs.get(best).copied().unwrap_or(0.0);
        let reason = if best >= n_tools {
            Reason::OutOfScope
        } else if confidence < threshold {
            Reason::LowConfidence
        } else {
            Reason::Confident
        };
        let chosen = (reason == Reason::Confident).then_some(best);
        let alternatives = order
            .iter()
            .filter(|&&i| i < n_tools && Some(i) != chosen)
            .take(ALTERNATIVES)
            .map(|&i| Alternative {
                tool: self.tools[i].name.clone(),
                confidence: probs[i],
            })
            .collect();
        let (args, spans, missing, invalid) =
            match chosen.and_then(|b| Some((b, self.tools.get(b)?))) {
                Some((b, tool)) => {
                    let (texts, spans) = self.arguments(b, text, p);
                    let args = crate::typed::convert_args(&texts, &tool.parameters);
                    let (missing, invalid) = crate::typed::check(&args, &tool.parameters);
                    (args, spans, missing, invalid)
                }
                None => (Map::new(), Vec::new(), Vec::new(), Vec::new()),
            };
        Route {
            abstained: chosen.is_none(),
            tool: chosen.and_then(|b| self.label(b)).map(str::to_string),
            confidence,
            alternatives,
            complete: chosen.is_some() && missing.is_empty() && invalid.is_empty(),
            args,
            spans,
            reason,
            missing,
            invalid,
        }
    }

    fn threshold_or_default(&self, threshold: Option<f64>) -> Result<f64> {
        match threshold {
            None => Ok(self.threshold()),
            Some(t) if (0.0..=1.0).contains(&t) => Ok(t),
            Some(t) => Err(Error::invalid("threshold", format!("{t} is not in [0, 1]"))),
        }
    }

    /// Routes one request at the router's threshold.
    pub fn route(&self, text: &str) -> Result<Route> {
        self.route_with(text, None)
    }

    /// Routes one request at `threshold` (the router's own when `None`).
    pub fn route_with(&self, text: &str, threshold: Option<f64>) -> Result<Route> {
        self.route_excluding(text, threshold, &[])
    }

    /// Routes one request at `threshold` as if the tools named in `exclude` did not exist: their
    /// probability is spread over the other labels (renormalised), so the answer is one of the
    /// other tools, "none", or an abstention. For a caller that knows a tool cannot be the answer
    /// this time (a workflow cannot finish before its first call; a tool is down). A name that is
    /// not one of the router's tools is an `INVALID_ARGUMENT` error naming `exclude`.
    pub fn route_excluding(
        &self,
        text: &str,
        threshold: Option<f64>,
        exclude: &[&str],
    ) -> Result<Route> {
        let t = self.threshold_or_default(threshold)?;
        let mut drop = Vec::new();
        if !exclude.is_empty() {
            drop = vec![false; self.tools.len()];
            for name in exclude {
                let i = self
                    .tools
                    .iter()
                    .position(|tool| tool.name == *name)
                    .ok_or_else(|| {
                        Error::invalid("exclude", format!("no tool is named `{name}`"))
                    })?;
                drop[i] = true;
            }
            if drop.iter().all(|&d| d) {
                return Err(Error::invalid("exclude", "leaves no tool to choose"));
            }
        }
        let mut p = self
            .predict(&[text])?
            .pop()
            .ok_or_else(|| Error::Internal("no prediction for the request".into()))?;
        if drop.is_empty() {
            // Nothing excluded (every plain `route()`): no pass over the probabilities.
            return Ok(self.decide(text, &p, t));
        }
        exclude_labels(&mut p.probs, &drop);
        let mut r = self.decide(text, &p, t);
        r.alternatives
            .retain(|a| !exclude.contains(&a.tool.as_str()));
        Ok(r)
    }

    /// Routes many requests at the router's threshold.
    pub fn route_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Route>> {
        self.route_batch_with(texts, None)
    }

    /// Routes many requests at `threshold` (the router's own when `None`).
    pub fn route_batch_with<S: AsRef<str>>(
        &self,
        texts: &[S],
        threshold: Option<f64>,
    ) -> Result<Vec<Route>> {
        self.route_batch_threads(texts, threshold, 0)
    }

    /// Routes many requests on up to `threads` threads (0: one per core; the fast path only).
    pub fn route_batch_threads<S: AsRef<str>>(
        &self,
        texts: &[S],
        threshold: Option<f64>,
        threads: usize,
    ) -> Result<Vec<Route>> {
        self.route_batch_map(texts, threshold, threads, Ok)
    }

    /// [`Router::route_batch_threads`] with each route passed through `map` on the thread that
    /// decided it, in order: the N-API layer serialises routes there, instead of on one thread
    /// after the others have finished.
    pub fn route_batch_map<S: AsRef<str>, T: Send>(
        &self,
        texts: &[S],
        threshold: Option<f64>,
        threads: usize,
        map: impl Fn(Route) -> Result<T> + Sync,
    ) -> Result<Vec<T>> {
        let t = self.threshold_or_default(threshold)?;
        let refs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let decide = |chunk: &[&str], preds: Vec<Prediction>| -> Result<Vec<T>> {
            chunk
                .iter()
                .zip(&preds)
                .map(|(text, p)| map(self.decide(text, p, t)))
                .collect()
        };
        match self.fast_path() {
            // Each thread also decides its share: argument decoding and typing take about 3 µs
            // of a route's 45, which one thread would add up serially after the split.
            Some(fast) => on_threads(&refs, threads, |chunk| {
                decide(chunk, self.predict_groups(fast, chunk)?)
            }),
            None => decide(&refs, self.predict_candle(&refs)?),
        }
    }

    /// Scores the router on labelled examples at its own threshold.
    pub fn evaluate(&self, examples: &[Example]) -> Result<Metrics> {
        self.evaluate_with(examples, None)
    }

    /// Scores the router on labelled examples: the classifier (best label, no threshold:
    /// `accuracy`, `macro_f1`, `per_tool`, `confusions`, arguments), then its confidence and
    /// the decisions at `threshold` (see [`crate::eval`]).
    pub fn evaluate_with(&self, examples: &[Example], threshold: Option<f64>) -> Result<Metrics> {
        if examples.is_empty() {
            return Err(Error::invalid("examples", "no examples to evaluate"));
        }
        let thr = self.threshold_or_default(threshold)?;
        let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
        let preds = self.predict(&texts)?;
        // Threshold 0: the classifier's own best label.
        let routes: Vec<Route> = texts
            .iter()
            .zip(&preds)
            .map(|(t, p)| self.decide(t, p, 0.0))
            .collect();
        let gold: Vec<Option<&str>> = examples.iter().map(|e| e.tool.as_deref()).collect();
        let pred: Vec<Option<&str>> = routes.iter().map(|r| r.tool.as_deref()).collect();
        let mut m = metrics(&gold, &pred);
        let n_tools = self.tools.len();
        let index: HashMap<&str, usize> = self
            .tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        let rows: Vec<Scored> = examples
            .iter()
            .zip(&preds)
            .zip(&routes)
            .map(|((e, p), top)| {
                let gold_label = match &e.tool {
                    Some(t) => index.get(t.as_str()).copied(),
                    None => self.cfg.has_none.then_some(n_tools),
                };
                // As `route` ranks: on a tie the lower index.
                let best = top_k(&p.probs, 1).first().copied().unwrap_or(0);
                let raw = softmax_t(&p.logits, 1.0);
                let answered = top.tool.is_some() && p.probs[best] >= thr;
                Scored {
                    in_scope: e.tool.is_some(),
                    confidence: p.probs[best],
                    confidence_uncalibrated: raw[best],
                    top_correct: gold_label == Some(best),
                    top_is_tool: best < n_tools,
                    p_gold: gold_label.and_then(|g| p.probs.get(g).copied()),
                    answered,
                    answered_correct: answered && top.tool == e.tool,
                }
            })
            .collect();
        add_confidence_metrics(&mut m, &rows, thr);
        if !self.cfg.arg_names.is_empty() {
            // Slot scores over the examples whose argument positions are known.
            let mut gold_spans = Vec::new();
            let mut pred_spans = Vec::new();
            let mut tool_ok = Vec::new();
            // Typed arguments: right tool and the converted `args` equal to the gold ones
            // converted the same way, over in-scope examples.
            let (mut exact, mut n_exact) = (0usize, 0usize);
            for (e, r) in examples.iter().zip(&routes) {
                let Some(tool) = e
                    .tool
                    .as_deref()
                    .and_then(|t| self.tools.iter().find(|x| x.name == t))
                else {
                    continue;
                };
                n_exact += 1;
                let gold = crate::typed::convert_args(&e.args, &tool.parameters);
                if r.tool.as_deref() == Some(tool.name.as_str()) && r.args == gold {
                    exact += 1;
                }
            }
            if n_exact > 0 {
                m.args_exact = Some(exact as f64 / n_exact as f64);
            }
            for (e, r) in examples.iter().zip(&routes) {
                if let Some(spans) = crate::args::locate(e) {
                    gold_spans.push(spans);
                    pred_spans.push(r.spans.clone());
                    tool_ok.push(e.tool == r.tool);
                }
            }
            crate::eval::add_slot_metrics(&mut m, &gold_spans, &pred_spans, &tool_ok);
        }
        Ok(m)
    }
}

/// Zeroes the probabilities of the labels marked in `drop` (tools; the labels past it, such as
/// "none", stay) and renormalises the rest. When the rest holds no mass (their probabilities
/// underflowed), it is shared evenly among them.
fn exclude_labels(probs: &mut [f64], drop: &[bool]) {
    let dropped = |i: usize| drop.get(i).copied().unwrap_or(false);
    let (kept, n_kept) = probs
        .iter()
        .enumerate()
        .filter(|&(i, _)| !dropped(i))
        .fold((0.0, 0usize), |(sum, n), (_, p)| (sum + p, n + 1));
    for (i, p) in probs.iter_mut().enumerate() {
        *p = if dropped(i) {
            0.0
        } else if kept > 0.0 {
            *p / kept
        } else {
            1.0 / n_kept.max(1) as f64
        };
    }
}

#[cfg(test)]
mod tests {
    use super::{exclude_labels, top_k};

    #[test]
    fn excluded_labels_give_their_mass_to_the_others() {
        // Tools 0..3, then "none" (index 3, past `drop`).
        let mut p = vec![0.6, 0.2, 0.1, 0.1];
        exclude_labels(&mut p, &[true, false, false]);
        let want = [0.0, 0.5, 0.25, 0.25];
        for (a, b) in p.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{p:?}");
        }
        // All the mass on the dropped label (underflow): the rest share it evenly.
        let mut p = vec![1.0, 0.0, 0.0];
        exclude_labels(&mut p, &[true, false]);
        assert_eq!(p, vec![0.0, 0.5, 0.5]);
        // Nothing dropped: unchanged.
        let mut p = vec![0.7, 0.3];
        exclude_labels(&mut p, &[false, false]);
        assert_eq!(p, vec![0.7, 0.3]);
    }

    #[test]
    fn top_k_orders_the_largest_and_keeps_the_lower_index_on_ties() {
        let v = [0.1, 0.5, 0.2, 0.5, 0.9, 0.0];
        assert_eq!(top_k(&v, 3), vec![4, 1, 3]);
        assert_eq!(top_k(&v, 10), vec![4, 1, 3, 2, 0, 5]);
        assert_eq!(top_k(&[], 2), Vec::<usize>::new());
    }
}
