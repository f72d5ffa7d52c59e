//! Node bindings for toolrouter: converts JS values to core types and core errors to JS errors
//! (see `error`), and runs heavy work off the JS thread (see `tasks`). No model logic here.

// napi-derive registers exports only outside `cfg(test)`, so a test build (as `clippy
// --all-targets` makes) would see every export as dead code.
#![cfg_attr(test, allow(dead_code))]

mod error;
mod router;
mod tasks;
mod testing;
mod trainer;
mod types;
