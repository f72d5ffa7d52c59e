//! Typed errors. Each variant maps to a stable, public `code` string (see [`Error::code`]);
//! messages name the file, line and field where the problem is.

use std::path::PathBuf;

/// Every error the core returns.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub enum Error {
    // --- misuse -----------------------------------------------------------------------
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument { name: String, reason: String },

    // --- input data -------------------------------------------------------------------
    #[error("{}:{line}: {reason}", path.display())]
    DatasetInvalid {
        path: PathBuf,
        /// 1-based line number; 0 when the problem is the whole file.
        line: usize,
        reason: String,
    },
    #[error("{}: {reason}", path.display())]
    ToolsInvalid { path: PathBuf, reason: String },

    // --- model files ------------------------------------------------------------------
    #[error("model file not found: {}", path.display())]
    ModelNotFound { path: PathBuf },
    #[error("{}: not a valid toolrouter model: {reason}", path.display())]
    ModelInvalid { path: PathBuf, reason: String },
    #[error("{}: model format version {found} is newer than this build supports ({supported}); upgrade toolrouter", path.display())]
    ModelVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    // --- environment ------------------------------------------------------------------
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("aborted")]
    Aborted,
    /// The loss or the weights became non-finite (a learning rate far too high).
    #[error("training diverged: {reason}")]
    TrainingDiverged { reason: String },
    #[error("device `{requested}` is not available: {reason}")]
    DeviceUnavailable { requested: String, reason: String },

    // --- bugs -------------------------------------------------------------------------
    #[error("internal error: {0}")]
    Internal(String),
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

impl Error {
    /// The stable error code exposed to JavaScript as `error.code`. Never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArgument { .. } => "INVALID_ARGUMENT",
            Error::DatasetInvalid { .. } => "DATASET_INVALID",
            Error::ToolsInvalid { .. } => "TOOLS_INVALID",
            Error::ModelNotFound { .. } => "MODEL_NOT_FOUND",
            Error::ModelInvalid { .. } => "MODEL_INVALID",
            Error::ModelVersion { .. } => "MODEL_VERSION",
            Error::Io { .. } => "IO",
            Error::Aborted => "ABORTED",
            Error::TrainingDiverged { .. } => "TRAINING_DIVERGED",
            Error::DeviceUnavailable { .. } => "DEVICE_UNAVAILABLE",
            Error::Internal(_) | Error::Candle(_) => "INTERNAL",
        }
    }

    pub(crate) fn invalid(name: &str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            name: name.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_messages_name_the_place() {
        let e = Error::DatasetInvalid {
            path: "data/train.jsonl".into(),
            line: 7,
            reason: "field `text`: missing".into(),
        };
        assert_eq!(e.code(), "DATASET_INVALID");
        assert_eq!(e.to_string(), "data/train.jsonl:7: field `text`: missing");
        assert_eq!(Error::Aborted.code(), "ABORTED");
        let v = Error::ModelVersion {
            path: "m.toolrouter".into(),
            found: 9,
            supported: 1,
        };
        assert_eq!(v.code(), "MODEL_VERSION");
        assert!(v.to_string().contains("version 9"));
    }
}
