//! `#[napi(object)]` mirrors of the core types; their `///` docs land in `native.d.ts`.

use crate::error::invalid;
use napi_derive::napi;
use serde_json::{Map, Value};
use toolrouter_core as core;

/// A tool the agent can call.
#[napi(object)]
#[derive(Clone)]
pub struct ToolSpec {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub parameters: Option<Value>,
}

#[napi(object)]
#[derive(Clone)]
pub struct Span {
    pub name: String,
    /// Start offset in Unicode code points.
    pub start: u32,
    /// End offset (exclusive) in Unicode code points.
    pub end: u32,
}

impl From<core::Span> for Span {
    fn from(s: core::Span) -> Self {
        Span {
            name: s.name,
            start: s.start as u32,
            end: s.end as u32,
        }
    }
}

/// One training or evaluation example.
#[napi(object)]
#[derive(Clone)]
pub struct Example {
    pub text: String,
    /// The tool to call; `null` for a request that no tool serves.
    pub tool: Option<String>,
    pub args: Option<Value>,
    pub spans: Option<Vec<Span>>,
}

/// Options of `train`; every field is optional and defaults to the core's default.
#[napi(object)]
#[derive(Default)]
pub struct TrainOptions {
    /// `attention` (the ToolController) or `gru` (the original prototype's encoder, a baseline). @default 'attention'
    pub architecture: Option<String>,
    /// Train the tool output with straight-through Gumbel-softmax, as the prototype did; plain softmax when absent.
    pub gumbel: Option<GumbelOptions>,
    /// Width of the transformer. @default 64
    pub d_model: Option<u32>,
    /// Transformer layers. @default 2
    pub layers: Option<u32>,
    /// Attention heads. @default 4
    pub heads: Option<u32>,
    /// Tokens kept per request (longer ones are truncated). @default 48
    pub max_tokens: Option<u32>,
    /// @default 0.1
    pub dropout: Option<f64>,
    /// Sub-word vocabulary size of the tokenizer learned from the texts (unused with `pretrained`). @default 4000
    pub vocab_size: Option<u32>,
    /// `minilm`: start from the static word table built from all-MiniLM-L6-v2 (compiled into the addon) and its tokenizer, so words the examples never use still mean something; `none`: learn the tokenizer and embeddings from the examples alone. @default 'minilm'
    pub pretrained: Option<String>,
    /// Keep the pretrained word vectors fixed during training. @default false (true with `toolSpace`: words that only a new tool's description uses keep the meaning the trained words started from)
    pub freeze_pretrained: Option<bool>,
    /// TF-IDF n-gram features beside the tokens. @default true
    pub ngrams: Option<bool>,
    /// Add each word's shape (letter case, digits, an `@`) to its tokens, so names, ids and e-mail addresses stand out from the lower-cased sub-words. Validated better on the workflow benchmark's mixed-case data (`WORKFLOW_TRAINER_OPTIONS` turns it on), less precise at the threshold on small sets. @default false
    pub word_shapes: Option<bool>,
    /// Maximum epochs (early stopping may end sooner); 0 = auto (about 3000 steps, 8 to 60 epochs). @default 0
    pub epochs: Option<u32>,
    /// Epochs without a better validation score before stopping. @default 5
    pub patience: Option<u32>,
    /// @default 64
    pub batch_size: Option<u32>,
    /// Peak learning rate (AdamW, warm-up then cosine decay). @default 0.003
    pub lr: Option<f64>,
    /// @default 0
    pub label_smoothing: Option<f64>,
    /// Share of each request's n-gram features dropped in each training step. @default 0.8
    pub feature_dropout: Option<f64>,
    /// Share of each request's tokens replaced by [UNK] in each training step. @default 0.1
    pub token_dropout: Option<f64>,
    /// Weight of the argument-tagging loss beside the tool loss; 0 turns the argument head off. @default 0.5
    pub arg_weight: Option<f64>,
    /// Chance that an argument value in a training request is swapped, in each epoch, for another
    /// value the training data gives the same tool's same argument (the tagger learns arguments
    /// from their context). @default 0.25
    pub value_swap: Option<f64>,
    /// Share of the swaps (`valueSwap`) that take a value of any argument of any tool instead of
    /// the same argument's: values never seen in that place, so that the tagger leans on the
    /// words around them even when the data gives an argument only a few values. @default 0
    pub value_swap_any: Option<f64>,
    /// Whether a value that occurs more than once in a request may be swapped (a workflow state
    /// repeats its values in the request and in earlier calls and results). @default true
    pub value_swap_repeated: Option<bool>,
    /// An argument may have more than one value in a request only when at least this share of the
    /// training examples that give it give it twice; otherwise routing keeps its surest span
    /// (0: when any one example does). @default 0.01
    pub repeated_arg_share: Option<f64>,
    /// How much one point of argument-tag F1 counts against one point of tool accuracy when
    /// training compares its epochs on validation (the tagger usually ripens after the tool
    /// head). @default 0.3
    pub tag_weight: Option<f64>,
    /// Average the second half's epochs when that validates at least as well as the best epoch. @default true
    pub average: Option<bool>,
    /// Share held out for validation when no validation set is given. @default 0.1
    pub valid_fraction: Option<f64>,
    /// Precision the abstention threshold aims at on the validation requests the router answers. @default 0.99
    pub target_precision: Option<f64>,
    /// @default 42
    pub seed: Option<u32>,
    /// `cpu`, `cuda`, `metal` or `auto`. @default 'cpu'
    pub device: Option<String>,
    /// After training, teach the router to take new tools from their descriptions (`addTool`): a
    /// tool encoder trained with tools held out (see docs/eval-tools.md). Adds about a minute on
    /// CLINC150-sized data. @default false
    pub tool_space: Option<bool>,
    /// With `toolSpace`: logits taken off added tools' bias beyond what validation asks for; lower favours added tools over the trained ones. @default 2.5
    pub tool_space_margin: Option<f64>,
    /// Learn from a sentence encoder's embeddings as well as from the labels (docs/eval-distill.md). Off when absent.
    pub teacher: Option<TeacherOptions>,
}

/// A sentence encoder distilled into the router while it trains (all-MiniLM-L6-v2: `scripts/fetch-minilm.sh` puts it in `.cache/minilm`). The teacher is read only during training; the saved router neither contains nor needs it.
#[napi(object)]
#[derive(Default, Clone)]
pub struct TeacherOptions {
    /// Folder of the teacher (`config.json`, `model.safetensors`, `tokenizer.json`), relative to the working directory or absolute.
    pub dir: String,
    /// Weight of the distillation loss (1 − cosine between the router's projected request vector and the teacher's) beside the tool loss. @default 3
    pub weight: Option<f64>,
    /// Augmented copies of each training text (words dropped, swapped, borrowed or spliced) that the teacher embeds. @default 4
    pub augment: Option<u32>,
    /// Weight of the tool loss on an augmented copy, which keeps its source's tool; 0: the copies train the distillation loss only. @default 0
    pub augment_label_weight: Option<f64>,
    /// Weight of the soft-label loss: cross-entropy against the tool probabilities of a logistic regression on the teacher's embeddings of the labelled texts, on every text and copy; 0: off. @default 3
    pub soft_weight: Option<f64>,
}

/// Straight-through Gumbel-softmax on the tool output during training.
#[napi(object)]
#[derive(Default, Clone)]
pub struct GumbelOptions {
    /// Temperature of the relaxed sample.
    pub tau: f64,
    /// Final temperature: `tau` decays geometrically to it over training. @default tau (no annealing)
    pub anneal: Option<f64>,
}

/// Training progress.
#[napi(object)]
pub struct Progress {
    /// `prepare`, `distill` (the teacher embeds the texts: `step` of `stepsPerEpoch` done), `train` or `done`. With a `teacher` and validation data, a labels-alone run's phases come first, then the taught run's.
    pub phase: String,
    pub epoch: u32,
    /// Epochs planned; 0 during `prepare` and `distill` when the count is automatic (it
    /// depends on the examples those phases encode).
    pub epochs: u32,
    pub step: u32,
    pub steps_per_epoch: u32,
    pub loss: f64,
    pub valid_accuracy: Option<f64>,
    pub valid_loss: Option<f64>,
    /// Micro F1 of the argument tags on the validation tokens, when the model tags arguments.
    pub valid_tag_f1: Option<f64>,
    pub elapsed_s: f64,
}

impl From<&core::Progress> for Progress {
    fn from(p: &core::Progress) -> Self {
        Progress {
            phase: p.phase.to_string(),
            epoch: p.epoch as u32,
            epochs: p.epochs as u32,
            step: p.step as u32,
            steps_per_epoch: p.steps_per_epoch as u32,
            loss: p.loss,
            valid_accuracy: p.valid_accuracy,
            valid_loss: p.valid_loss,
            valid_tag_f1: p.valid_tag_f1,
            elapsed_s: p.elapsed_s,
        }
    }
}

impl TrainOptions {
    /// The tool-space stage's options when `toolSpace` is on.
    pub fn tool_space(&self) -> Option<core::toolspace_fit::ToolSpaceOptions> {
        let d = core::toolspace_fit::ToolSpaceOptions::default();
        self.tool_space
            .unwrap_or(false)
            .then(|| core::toolspace_fit::ToolSpaceOptions {
                margin: self.tool_space_margin.map_or(d.margin, |m| m as f32),
                ..d
            })
    }

    pub fn to_core(&self) -> core::TrainOptions {
        let d = core::TrainOptions::default();
        let u = |v: Option<u32>, def: usize| v.map(|x| x as usize).unwrap_or(def);
        core::TrainOptions {
            d_model: u(self.d_model, d.d_model),
            layers: u(self.layers, d.layers),
            heads: u(self.heads, d.heads),
            max_tokens: u(self.max_tokens, d.max_tokens),
            dropout: self.dropout.map(|x| x as f32).unwrap_or(d.dropout),
            vocab_size: u(self.vocab_size, d.vocab_size),
            pretrained: self.pretrained.clone().unwrap_or(d.pretrained.clone()),
            freeze_pretrained: self.freeze_pretrained.or(d.freeze_pretrained),
            ngrams: self.ngrams.unwrap_or(d.ngrams),
            word_shapes: self.word_shapes.unwrap_or(d.word_shapes),
            epochs: u(self.epochs, d.epochs),
            patience: u(self.patience, d.patience),
            batch_size: u(self.batch_size, d.batch_size),
            lr: self.lr.unwrap_or(d.lr),
            label_smoothing: self.label_smoothing.unwrap_or(d.label_smoothing),
            feature_dropout: self.feature_dropout.unwrap_or(d.feature_dropout),
            token_dropout: self.token_dropout.unwrap_or(d.token_dropout),
            arg_weight: self.arg_weight.unwrap_or(d.arg_weight),
            value_swap: self.value_swap.unwrap_or(d.value_swap),
            value_swap_any: self.value_swap_any.unwrap_or(d.value_swap_any),
            value_swap_repeated: self.value_swap_repeated.unwrap_or(d.value_swap_repeated),
            repeated_arg_share: self.repeated_arg_share.unwrap_or(d.repeated_arg_share),
            tag_weight: self.tag_weight.unwrap_or(d.tag_weight),
            average: self.average.unwrap_or(d.average),
            valid_fraction: self.valid_fraction.unwrap_or(d.valid_fraction),
            target_precision: self.target_precision.unwrap_or(d.target_precision),
            architecture: self.architecture.clone().unwrap_or(d.architecture.clone()),
            gumbel_tau: self.gumbel.as_ref().map_or(d.gumbel_tau, |g| g.tau),
            gumbel_anneal: self
                .gumbel
                .as_ref()
                .and_then(|g| g.anneal)
                .unwrap_or(d.gumbel_anneal),
            seed: self.seed.map(u64::from).unwrap_or(d.seed),
            device: self.device.clone().unwrap_or(d.device.clone()),
            teacher: self.teacher.as_ref().map(|o| {
                let dd = core::distill::TeacherOptions::default();
                core::distill::TeacherOptions {
                    dir: o.dir.clone(),
                    weight: o.weight.unwrap_or(dd.weight),
                    augment: o.augment.map_or(dd.augment, |a| a as usize),
                    augment_label_weight: o.augment_label_weight.unwrap_or(dd.augment_label_weight),
                    soft_weight: o.soft_weight.unwrap_or(dd.soft_weight),
                    ..dd
                }
            }),
            ..d
        }
    }
}

/// One tool given on its own (`addTool`); errors name the `tool` argument.
pub fn tool_arg_to_core(t: ToolSpec) -> napi::Result<core::ToolSpec> {
    spec_from_js(t).map_err(|r| invalid("tool", r))
}

pub fn tool_to_core(t: ToolSpec, i: usize) -> napi::Result<core::ToolSpec> {
    spec_from_js(t).map_err(|r| invalid("tools", format!("tool #{i}: {r}")))
}

fn spec_from_js(t: ToolSpec) -> Result<core::ToolSpec, String> {
    let mut obj = Map::new();
    obj.insert("name".into(), Value::String(t.name));
    if let Some(d) = t.description {
        obj.insert("description".into(), Value::String(d));
    }
    if let Some(p) = t.parameters {
        obj.insert("parameters".into(), p);
    }
    core::data::tool_from_value(Value::Object(obj))
}

pub fn tools_to_core(tools: Vec<ToolSpec>) -> napi::Result<Vec<core::ToolSpec>> {
    let mut seen = std::collections::HashSet::new();
    let out = tools
        .into_iter()
        .enumerate()
        .map(|(i, t)| tool_to_core(t, i))
        .collect::<napi::Result<Vec<_>>>()?;
    for (i, t) in out.iter().enumerate() {
        if !seen.insert(t.name.clone()) {
            return Err(invalid(
                "tools",
                format!("tool #{i}: duplicate tool name `{}`", t.name),
            ));
        }
    }
    if out.is_empty() {
        return Err(invalid("tools", "no tools given"));
    }
    Ok(out)
}

pub fn tool_from_core(t: &core::ToolSpec) -> ToolSpec {
    ToolSpec {
        name: t.name.clone(),
        description: Some(t.description.clone()),
        parameters: Some(t.parameters.clone()),
    }
}

pub fn example_to_core(e: Example, i: usize, what: &str) -> napi::Result<core::Example> {
    let mut obj = Map::new();
    obj.insert("text".into(), Value::String(e.text));
    obj.insert(
        "tool".into(),
        e.tool.map(Value::String).unwrap_or(Value::Null),
    );
    if let Some(a) = e.args {
        obj.insert("args".into(), a);
    }
    if let Some(s) = e.spans {
        let spans = s
            .into_iter()
            .map(|s| serde_json::json!({ "name": s.name, "start": s.start, "end": s.end }))
            .collect();
        obj.insert("spans".into(), Value::Array(spans));
    }
    core::data::example_from_value(Value::Object(obj))
        .map_err(|r| invalid(what, format!("example #{i}: {r}")))
}

pub fn examples_to_core(ex: Vec<Example>, what: &str) -> napi::Result<Vec<core::Example>> {
    ex.into_iter()
        .enumerate()
        .map(|(i, e)| example_to_core(e, i, what))
        .collect()
}

pub fn example_from_core(e: core::Example) -> Example {
    Example {
        text: e.text,
        tool: e.tool,
        args: Some(Value::Object(e.args)),
        spans: Some(e.spans.into_iter().map(Span::from).collect()),
    }
}
