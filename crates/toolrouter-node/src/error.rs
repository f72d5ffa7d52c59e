//! Core errors to JS errors. The reason is `"CODE: message"` followed by the `source()` chain as
//! `Caused by:` lines; the TypeScript layer splits the code off into `error.code`. A prefix
//! (rather than a custom status) works for sync calls and async tasks alike, since
//! `Task::compute` is fixed to `napi::Status`.

use std::fmt::Write;
use toolrouter_core::Error;

pub fn to_napi(e: Error) -> napi::Error {
    let mut msg = format!("{}: {e}", e.code());
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let text = s.to_string();
        // Variants that print their source inline need no second copy of it.
        if !msg.contains(&text) {
            let _ = write!(msg, "\nCaused by: {text}");
        }
        src = s.source();
    }
    napi::Error::from_reason(msg)
}

/// Runs `f`, turning a panic into an `INTERNAL` error instead of aborting the Node process.
pub fn guard<T>(f: impl FnOnce() -> Result<T, Error>) -> napi::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(to_napi),
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(to_napi(Error::Internal(format!("panic: {what}"))))
        }
    }
}

/// An `INVALID_ARGUMENT` error for a bad value coming from JS.
pub fn invalid(name: &str, reason: impl Into<String>) -> napi::Error {
    to_napi(Error::InvalidArgument {
        name: name.into(),
        reason: reason.into(),
    })
}
