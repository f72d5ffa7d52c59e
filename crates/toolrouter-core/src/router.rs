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
    pub(crate) vocab: NgramVocab,
    pub(crate) max_tokens: usize,
}

impl Encoder {
    pub fn new(tokenizer: Tokenizer, vocab: NgramVocab, max_tokens: usize) -> Self {
        Encoder {
            tokenizer,
            vocab,
            max_tokens,
        }
    }

    /// Token ids (`[CLS]` first, truncated to `max_tokens`) with their character offsets,
    /// n-gram ids and their weights.
    pub fn encode(&self, text: &str) -> Result<Inputs> {
        let enc = tokenizer::encode(&self.tokenizer, text, self.max_tokens)?;
        let (feat_ids, feat_w) = self.vocab.weights(text);
        Ok(Inputs {
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
    pub offsets: Vec<(usize, usize)>,
    /// Whether each token continues the previous token's word.
    pub continues: Vec<bool>,
    pub feat_ids: Vec<u32>,
    pub feat_w: Vec<f32>,
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
    pub train_seconds: f64,
    pub warnings: Vec<String>,
    /// Temperature and abstention threshold fitted on the validation set.
    pub calibration: Calibration,
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
    pub args: Map<String, Value>,
    /// Where each argument was found in the text (Unicode code points).
    pub spans: Vec<crate::data::Span>,
    pub abstained: bool,
    pub reason: Reason,
}

/// The model's raw answer for one request.
struct Prediction {
    logits: Vec<f32>,
    /// Calibrated probabilities: `softmax(logits / temperature)`.
    probs: Vec<f64>,
    /// (T, n_tags) tag scores, when the model has arguments.
    tag_scores: Option<Vec<Vec<f32>>>,
    offsets: Vec<(usize, usize)>,
    continues: Vec<bool>,
}

/// How many alternatives a route lists.
pub const ALTERNATIVES: usize = 3;

/// A trained ToolController with its tokenizer, features and tools.
pub struct Router {
    pub(crate) cfg: Config,
    pub(crate) encoder: Encoder,
    pub(crate) tools: Vec<ToolSpec>,
    /// Every weight by name; the single source the model and the file are built from.
    pub(crate) weights: HashMap<String, Tensor>,
    model: ToolController,
    bag: Option<Tensor>,
    pub(crate) info: TrainingInfo,
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
        Ok(Router {
            cfg,
            encoder,
            tools,
            weights,
            model,
            bag,
            info,
            device,
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn tools(&self) -> &[ToolSpec] {
        &self.tools
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

    /// Tool probabilities and, when the model has arguments, per-token tag scores.
    fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            let inputs: Vec<Inputs> = chunk
                .iter()
                .map(|t| self.encoder.encode(t))
                .collect::<Result<_>>()?;
            let ids: Vec<&[u32]> = inputs.iter().map(|i| i.ids.as_slice()).collect();
            let (ids, mask) = Batch::tokens(&ids, &self.device)?;
            let bag = match &self.bag {
                Some(table) => {
                    let f: Vec<&[u32]> = inputs.iter().map(|i| i.feat_ids.as_slice()).collect();
                    let w: Vec<&[f32]> = inputs.iter().map(|i| i.feat_w.as_slice()).collect();
                    Some(bag_vectors(table, &f, &w)?)
                }
                None => None,
            };
            let o = self.model.forward_t(&Batch { ids, mask, bag }, false)?;
            let logits = o.logits.to_vec2::<f32>()?;
            let t = self.info.calibration.temperature;
            let tags: Option<Vec<Vec<Vec<f32>>>> = match &o.tags {
                Some(t) => Some(t.to_vec3::<f32>()?),
                None => None,
            };
            for (i, (z, inp)) in logits.into_iter().zip(inputs).enumerate() {
                let tag_scores = tags.as_ref().map(|t| t[i][..inp.ids.len()].to_vec());
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
    /// an array.
    fn arguments(
        &self,
        tool: usize,
        text: &str,
        p: &Prediction,
    ) -> (Map<String, Value>, Vec<crate::data::Span>) {
        let mut args = Map::new();
        let mut spans = Vec::new();
        let (Some(scores), Some(allowed)) = (&p.tag_scores, self.cfg.tool_args.get(tool)) else {
            return (args, spans);
        };
        if allowed.is_empty() {
            return (args, spans);
        }
        let mut candidates = vec![0u32];
        for &k in allowed {
            candidates.extend([1 + 2 * k, 2 + 2 * k]);
        }
        // A word's first piece decides its tag; the pieces after it follow (`I-` of the same
        // argument, or `O`), so a value is never cut inside a word.
        let mut tags: Vec<u32> = Vec::with_capacity(scores.len());
        for (i, row) in scores.iter().enumerate() {
            let tag = if i > 0 && p.continues.get(i).copied().unwrap_or(false) {
                match tags[i - 1] {
                    0 => 0,
                    t => 2 + 2 * ((t - 1) / 2),
                }
            } else {
                candidates
                    .iter()
                    .copied()
                    .max_by(|&a, &b| row[a as usize].total_cmp(&row[b as usize]))
                    .unwrap_or(0)
            };
            tags.push(tag);
        }
        let chars: Vec<char> = text.chars().collect();
        let spans_k =
            crate::args::merge_adjacent(crate::args::decode_spans(&tags, &p.offsets), &chars);
        for (k, start, end) in spans_k {
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

    /// The decision for one prediction at `threshold`: the best label is "none" → out of scope;
    /// the best tool's confidence is under the threshold → low confidence; else that tool.
    /// Abstentions keep the best tools in `alternatives` for the LLM that takes over.
    fn decide(&self, text: &str, p: &Prediction, threshold: f64) -> Route {
        let probs = &p.probs;
        let n_tools = self.tools.len();
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
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
        let (args, spans) = match chosen {
            Some(b) => self.arguments(b, text, p),
            None => (Map::new(), Vec::new()),
        };
        Route {
            abstained: chosen.is_none(),
            tool: chosen.and_then(|b| self.label(b)).map(str::to_string),
            confidence,
            alternatives,
            args,
            spans,
            reason,
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
        let t = self.threshold_or_default(threshold)?;
        let p = self.predict(&[text])?;
        Ok(self.decide(text, &p[0], t))
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
        let t = self.threshold_or_default(threshold)?;
        let refs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let preds = self.predict(&refs)?;
        Ok(refs
            .iter()
            .zip(&preds)
            .map(|(text, p)| self.decide(text, p, t))
            .collect())
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
                let best = (0..p.probs.len())
                    .max_by(|&a, &b| p.probs[a].total_cmp(&p.probs[b]))
                    .unwrap_or(0);
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
