//! Model configuration, stored as JSON inside the model file. New fields get `#[serde(default)]`
//! so older files keep loading.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `"attention"` (the ToolController) or `"gru"` (the original prototype's encoder).
    pub architecture: String,
    pub vocab_size: usize,
    pub d_model: usize,
    pub layers: usize,
    pub heads: usize,
    /// Hidden width of the MLP as a multiple of `d_model`.
    pub ff_mult: usize,
    /// Tokens kept per request, `[CLS]` included; longer requests are truncated.
    pub max_tokens: usize,
    pub dropout: f32,
    /// Size of the n-gram feature vocabulary (0: no n-gram bag).
    pub n_features: usize,
    /// Width of the n-gram embeddings.
    pub d_bag: usize,
    /// Outputs of the head: the tools, then "none" when `has_none`.
    pub n_labels: usize,
    pub has_none: bool,
    /// Argument names the tagger knows, across all tools. Tags: `O`, then `B-name`, `I-name`
    /// for each name in this order (tag `1 + 2k` is `B-` of name `k`, `2 + 2k` its `I-`).
    pub arg_names: Vec<String>,
    /// For each tool (label order), the indices into `arg_names` of the arguments it takes.
    pub tool_args: Vec<Vec<u32>>,
    /// Indices into `arg_names` of the arguments no training example gave twice: routing keeps
    /// at most one span of each (the one the tagger is surest of). Empty in models written
    /// before this field, which keep every span.
    pub single_args: Vec<u32>,
    /// Indices into `arg_names` of the arguments some training example gave twice side by side
    /// (only spaces or punctuation between): routing keeps such spans apart instead of joining
    /// them into one value. Empty in models written before this field, which join them all.
    pub adjacent_args: Vec<u32>,
    /// The pretrained static table the token embeddings started from (`""`: none).
    pub pretrained: String,
    /// Word shapes added to the token embeddings ([`crate::tokenizer::word_shapes`]; 0: none, as
    /// in models written before this field).
    pub n_shapes: usize,
    /// How the tokenizer normalises text ([`crate::tokenizer::NORMALIZERS`]): `""`, NFKC and
    /// lower case (vocabularies built from the training texts, and every model written before
    /// this field); `"bert"`, also accents stripped and CJK characters split apart, as the
    /// pretrained WordPiece vocabulary was built.
    pub normalizer: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            architecture: "attention".into(),
            vocab_size: 0,
            d_model: 64,
            layers: 2,
            heads: 4,
            ff_mult: 2,
            max_tokens: 48,
            dropout: 0.1,
            n_features: 0,
            d_bag: 64,
            n_labels: 0,
            has_none: false,
            arg_names: Vec::new(),
            tool_args: Vec::new(),
            single_args: Vec::new(),
            adjacent_args: Vec::new(),
            pretrained: String::new(),
            n_shapes: 0,
            normalizer: String::new(),
        }
    }
}

impl Config {
    /// Checks the numbers a model can be built from; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("heads", self.heads),
            ("ff_mult", self.ff_mult),
            ("max_tokens", self.max_tokens),
            ("n_labels", self.n_labels),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("`{name}` must be positive"));
            }
        }
        if !crate::tokenizer::NORMALIZERS.contains(&self.normalizer.as_str()) {
            return Err(format!("unknown normalizer `{}`", self.normalizer));
        }
        if self.architecture != "attention" && self.architecture != "gru" {
            return Err(format!("unknown architecture `{}`", self.architecture));
        }
        if !self.d_model.is_multiple_of(self.heads) {
            return Err(format!(
                "`d_model` ({}) must be a multiple of `heads` ({})",
                self.d_model, self.heads
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("`dropout` ({}) must be in [0, 1)", self.dropout));
        }
        if self
            .tool_args
            .iter()
            .flatten()
            .any(|&a| a as usize >= self.arg_names.len())
        {
            return Err("`tool_args` names an argument outside `arg_names`".into());
        }
        for (field, args) in [
            ("single_args", &self.single_args),
            ("adjacent_args", &self.adjacent_args),
        ] {
            if args.iter().any(|&a| a as usize >= self.arg_names.len()) {
                return Err(format!("`{field}` names an argument outside `arg_names`"));
            }
        }
        // Routing computes the shapes of `tokenizer::word_shapes`: a table of another size
        // would be indexed outside its rows (or leave some unused).
        if self.n_shapes != 0 && self.n_shapes != crate::tokenizer::N_SHAPES {
            return Err(format!(
                "`n_shapes` ({}) must be 0 or {}",
                self.n_shapes,
                crate::tokenizer::N_SHAPES
            ));
        }
        if self.n_features > 0 && self.d_bag == 0 {
            return Err("`d_bag` must be positive when n-gram features are on".into());
        }
        // Generous sanity bounds so a corrupted file cannot ask for terabytes.
        let big = [
            ("vocab_size", self.vocab_size, 1 << 20),
            ("d_model", self.d_model, 4096),
            ("layers", self.layers, 64),
            ("max_tokens", self.max_tokens, 4096),
            ("n_features", self.n_features, 1 << 24),
            ("d_bag", self.d_bag, 4096),
            ("n_labels", self.n_labels, 1 << 20),
        ];
        for (name, v, max) in big {
            if v > max {
                return Err(format!("`{name}` ({v}) is larger than {max}"));
            }
        }
        Ok(())
    }

    /// Number of argument tags (`O` + B/I per argument name); 1 means no tagger.
    pub fn n_tags(&self) -> usize {
        1 + 2 * self.arg_names.len()
    }

    /// Width of the vector the head reads.
    pub fn head_in(&self) -> usize {
        self.d_model + if self.n_features > 0 { self.d_bag } else { 0 }
    }
}
