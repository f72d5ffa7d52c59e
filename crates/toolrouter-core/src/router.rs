//! A trained router: routes requests to tools, evaluates, and is saved to / loaded from one file
//! (see `format`). Immutable once built, so it can be shared across threads behind an `Arc`.
//!
//! ```no_run
//! use toolrouter_core::Router;
//! let router = Router::load("model.toolrouter".as_ref()).unwrap();
//! let route = router.route("will it rain in Oslo tomorrow?").unwrap();
//! println!("{:?} {:.3}", route.tool, route.confidence);
//! ```

use crate::data::{Example, ToolSpec};
use crate::error::{Error, Result};
use crate::eval::{metrics, Metrics};
use crate::features::NgramVocab;
use crate::model::{bag_vectors, Batch, Config, ToolController};
use crate::tokenizer;
use candle_core::{DType, Device, Tensor};
use candle_nn::{ops, VarBuilder};
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
    probs: Vec<f32>,
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

    /// Softmax probabilities over the labels, one row per text.
    pub fn probabilities(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self.predict(texts)?.into_iter().map(|p| p.probs).collect())
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
            let probs = ops::softmax_last_dim(&o.logits)?.to_vec2::<f32>()?;
            let tags: Option<Vec<Vec<Vec<f32>>>> = match &o.tags {
                Some(t) => Some(t.to_vec3::<f32>()?),
                None => None,
            };
            for (i, (p, inp)) in probs.into_iter().zip(inputs).enumerate() {
                let tag_scores = tags.as_ref().map(|t| t[i][..inp.ids.len()].to_vec());
                out.push(Prediction {
                    probs: p,
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

    fn decide(&self, text: &str, p: &Prediction) -> Route {
        let probs = &p.probs;
        let n_tools = self.tools.len();
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        let best = order.first().copied().unwrap_or(0);
        let tool = self.label(best).map(str::to_string);
        let reason = if best >= n_tools {
            Reason::OutOfScope
        } else {
            Reason::Confident
        };
        let alternatives = order
            .iter()
            .filter(|&&i| i < n_tools && i != best)
            .take(ALTERNATIVES)
            .map(|&i| Alternative {
                tool: self.tools[i].name.clone(),
                confidence: probs[i] as f64,
            })
            .collect();
        let (args, spans) = if best < n_tools {
            self.arguments(best, text, p)
        } else {
            (Map::new(), Vec::new())
        };
        Route {
            abstained: tool.is_none(),
            tool,
            confidence: probs.get(best).copied().unwrap_or(0.0) as f64,
            alternatives,
            args,
            spans,
            reason,
        }
    }

    /// Routes one request.
    pub fn route(&self, text: &str) -> Result<Route> {
        let p = self.predict(&[text])?;
        Ok(self.decide(text, &p[0]))
    }

    /// Routes many requests.
    pub fn route_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Route>> {
        let refs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let preds = self.predict(&refs)?;
        Ok(refs
            .iter()
            .zip(&preds)
            .map(|(t, p)| self.decide(t, p))
            .collect())
    }

    /// Routes every example and scores the decisions.
    pub fn evaluate(&self, examples: &[Example]) -> Result<Metrics> {
        if examples.is_empty() {
            return Err(Error::invalid("examples", "no examples to evaluate"));
        }
        let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
        let routes = self.route_batch(&texts)?;
        let gold: Vec<Option<&str>> = examples.iter().map(|e| e.tool.as_deref()).collect();
        let pred: Vec<Option<&str>> = routes.iter().map(|r| r.tool.as_deref()).collect();
        let mut m = metrics(&gold, &pred);
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
