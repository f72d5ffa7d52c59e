//! toolrouter-core: the ToolController, a small attention model that learns which tool an agent
//! should call for a request. Pure Rust on candle; knows nothing of Node.
//!
//! * [`data`]: tools and examples (JSON / JSONL), validated with file/line/field errors.
//! * [`tokenizer`], [`features`]: sub-word tokens and TF-IDF n-gram features.
//! * [`model`]: the network; [`train`]: fitting; [`router`]: routing and evaluation;
//!   [`format`]: the model file; [`eval`]: metrics; [`error`]: typed errors with stable codes.

pub mod args;
pub mod calibrate;
pub mod data;
pub mod device;
pub mod distill;
pub mod error;
pub mod eval;
pub mod fast;
pub mod features;
pub mod format;
pub mod grow;
pub mod model;
pub mod pretrained;
pub mod router;
pub mod teacher;
pub mod tokenizer;
pub mod toolspace;
pub mod toolspace_fit;
pub mod train;
pub mod typed;
pub mod wire;

pub use data::{load_examples, load_tools, Example, Span, ToolSpec};
pub use error::{Error, Result};
pub use eval::Metrics;
pub use router::{Alternative, Profile, Reason, Route, Router, TrainingInfo};
pub use train::{fit, fit_from, Progress, TrainOptions};

impl Router {
    /// Saves to `path` atomically.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        format::save(self, path)
    }

    /// Loads from `path` onto the CPU.
    pub fn load(path: &std::path::Path) -> Result<Router> {
        format::load(path)
    }
}
