//! Node bindings for toolrouter: converts JS values to core types and core errors to JS errors
//! (see `error`), and runs heavy work off the JS thread (see `tasks`). No model logic here.

mod error;
mod router;
mod tasks;
mod trainer;
mod types;
