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

    /// Token ids (`[CLS]` first, truncated to `max_tokens`), n-gram ids and their weights.
    pub fn encode(&self, text: &str) -> Result<(Vec<u32>, Vec<u32>, Vec<f32>)> {
        let enc = tokenizer::encode(&self.tokenizer, text, self.max_tokens)?;
        let (f, w) = self.vocab.weights(text);
        Ok((enc.ids, f, w))
    }
}

/// How training went; stored in the model file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainingInfo {
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
    pub abstained: bool,
    pub reason: Reason,
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
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            let mut ids = Vec::with_capacity(chunk.len());
            let mut fids = Vec::with_capacity(chunk.len());
            let mut fws = Vec::with_capacity(chunk.len());
            for t in chunk {
                let (i, f, w) = self.encoder.encode(t)?;
                ids.push(i);
                fids.push(f);
                fws.push(w);
            }
            let (ids, mask) = Batch::tokens(&ids, &self.device)?;
            let bag = match &self.bag {
                Some(table) => Some(bag_vectors(table, &fids, &fws)?),
                None => None,
            };
            let logits = self.model.forward_t(&Batch { ids, mask, bag }, false)?;
            let probs = ops::softmax_last_dim(&logits)?;
            out.extend(probs.to_vec2::<f32>()?);
        }
        Ok(out)
    }

    fn decide(&self, probs: &[f32]) -> Route {
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
        Route {
            abstained: tool.is_none(),
            tool,
            confidence: probs.get(best).copied().unwrap_or(0.0) as f64,
            alternatives,
            args: Map::new(),
            reason,
        }
    }

    /// Routes one request.
    pub fn route(&self, text: &str) -> Result<Route> {
        let probs = self.probabilities(&[text])?;
        Ok(self.decide(&probs[0]))
    }

    /// Routes many requests.
    pub fn route_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Route>> {
        let refs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        Ok(self
            .probabilities(&refs)?
            .iter()
            .map(|p| self.decide(p))
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
        Ok(metrics(&gold, &pred))
    }
}
