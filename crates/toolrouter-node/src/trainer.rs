//! Free functions: `train`, `loadRouter`, `loadTools`, `loadExamples`, `defaultTrainOptions`.

use crate::error::guard;
use crate::router::JsRouter;
use crate::tasks::{LoadExamplesTask, LoadTask, LoadToolsTask, TrainTask};
use crate::types::{examples_to_core, tools_to_core, Example, Progress, ToolSpec, TrainOptions};
use napi::bindgen_prelude::{AbortSignal, AsyncTask};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::Status;
use napi_derive::napi;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Trains a router off the JS thread. Progress goes to `onProgress`; `signal` stops training
/// between batches (the promise rejects with `ABORTED`). With `init`, training continues from
/// that router: its tools are kept and `tools` adds new ones.
#[napi(ts_return_type = "Promise<NativeRouter>")]
pub fn train(
    tools: Vec<ToolSpec>,
    train: Vec<Example>,
    valid: Option<Vec<Example>>,
    options: Option<TrainOptions>,
    on_progress: Option<ThreadsafeFunction<Progress, (), Progress, Status, false>>,
    signal: Option<AbortSignal>,
    init: Option<&JsRouter>,
) -> napi::Result<AsyncTask<TrainTask>> {
    // Continuing from `init` with examples of its own tools only adds no tool: the core checks
    // the merged list.
    let tools = if tools.is_empty() && init.is_some() {
        Vec::new()
    } else {
        tools_to_core(tools)?
    };
    let train = examples_to_core(train, "train")?;
    let valid = valid.map(|v| examples_to_core(v, "valid")).transpose()?;
    let abort = Arc::new(AtomicBool::new(false));
    if let Some(s) = &signal {
        let flag = abort.clone();
        s.on_abort(move || flag.store(true, Ordering::Relaxed));
    }
    let options = options.unwrap_or_default();
    let task = TrainTask {
        tools,
        train,
        valid,
        tool_space: options.tool_space(),
        options: options.to_core(),
        on_progress: on_progress.map(Arc::new),
        abort,
        init: init.map(JsRouter::snapshot),
    };
    Ok(AsyncTask::with_optional_signal(task, signal))
}

/// Loads a model file off the JS thread.
#[napi(ts_return_type = "Promise<NativeRouter>")]
pub fn load_router(path: String, device: Option<String>) -> AsyncTask<LoadTask> {
    AsyncTask::new(LoadTask {
        path: path.into(),
        device: device.unwrap_or_else(|| "cpu".into()),
    })
}

/// Reads and validates a tools JSON file.
#[napi(ts_return_type = "Promise<Array<ToolSpec>>")]
pub fn load_tools(path: String) -> AsyncTask<LoadToolsTask> {
    AsyncTask::new(LoadToolsTask { path: path.into() })
}

/// Reads a JSONL examples file; with `tools`, every example's tool must be one of them.
#[napi(ts_return_type = "Promise<Array<Example>>")]
pub fn load_examples(
    path: String,
    tools: Option<Vec<ToolSpec>>,
) -> napi::Result<AsyncTask<LoadExamplesTask>> {
    let tools = tools.map(tools_to_core).transpose()?;
    Ok(AsyncTask::new(LoadExamplesTask {
        path: path.into(),
        tools,
    }))
}

/// Validates tools passed in memory (the same checks as a tools file).
#[napi(catch_unwind)]
pub fn check_tools(tools: Vec<ToolSpec>) -> napi::Result<Vec<ToolSpec>> {
    let core = tools_to_core(tools)?;
    guard(|| Ok(core.iter().map(crate::types::tool_from_core).collect()))
}

/// The default training options, as the core defines them.
#[napi]
pub fn default_train_options() -> serde_json::Value {
    serde_json::to_value(toolrouter_core::TrainOptions::default())
        .unwrap_or(serde_json::Value::Null)
}

/// Does nothing: the bench times it to know what crossing N-API costs.
#[napi]
pub fn bench_noop() {}
