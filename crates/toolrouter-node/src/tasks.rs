//! Work that runs on the libuv thread pool and resolves a Promise. `compute` owns its inputs and
//! catches panics, which become `INTERNAL` errors instead of aborting Node.

use crate::error::guard;
use crate::router::JsRouter;
use crate::types::{example_from_core, tool_from_core, Example, Progress, ToolSpec};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use toolrouter_core as core;
use toolrouter_core::Router;

pub type ProgressFn = ThreadsafeFunction<Progress, (), Progress, Status, false>;

pub struct TrainTask {
    pub tools: Vec<core::ToolSpec>,
    pub train: Vec<core::Example>,
    pub valid: Option<Vec<core::Example>>,
    pub options: core::TrainOptions,
    /// Run the tool-space stage after training, with these options.
    pub tool_space: Option<core::toolspace_fit::ToolSpaceOptions>,
    pub on_progress: Option<Arc<ProgressFn>>,
    pub abort: Arc<AtomicBool>,
    /// The router training continues from.
    pub init: Option<Arc<Router>>,
}

impl Task for TrainTask {
    type Output = Router;
    type JsValue = JsRouter;

    fn compute(&mut self) -> Result<Self::Output> {
        let cb = self.on_progress.clone();
        let report = move |p: &core::Progress| {
            if let Some(f) = &cb {
                f.call(Progress::from(p), ThreadsafeFunctionCallMode::NonBlocking);
            }
        };
        guard(|| {
            core::toolspace_fit::fit_with_tool_space(
                self.init.as_deref(),
                &self.tools,
                &self.train,
                self.valid.as_deref(),
                &self.options,
                self.tool_space.as_ref(),
                &report,
                &self.abort,
            )
        })
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(JsRouter::new(&env, output))
    }
}

pub struct LoadTask {
    pub path: PathBuf,
    pub device: String,
}

impl Task for LoadTask {
    type Output = Router;
    type JsValue = JsRouter;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| core::format::load_on(&self.path, &self.device))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(JsRouter::new(&env, output))
    }
}

pub struct SaveTask {
    pub router: Arc<Router>,
    pub path: String,
}

impl Task for SaveTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        guard(|| self.router.save(self.path.as_ref()))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

pub struct RouteBatchTask {
    pub router: Arc<Router>,
    pub texts: Vec<String>,
    pub threshold: Option<f64>,
    /// 0: one per core.
    pub threads: usize,
    /// Set when the caller's signal fires: the routes still to come fail with `ABORTED` (napi
    /// can only cancel a task that has not started).
    pub abort: Arc<AtomicBool>,
}

/// Resolves to the routes in the compact form of `toolrouter_core::wire`, written here off the
/// JS thread and read with one `JSON.parse` there, instead of building every route's objects
/// through N-API.
impl Task for RouteBatchTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| {
            let tables = core::wire::Tables::new(&self.router);
            // Each routing thread writes its routes; here they are only joined.
            let parts =
                self.router
                    .route_batch_map(&self.texts, self.threshold, self.threads, |r| {
                        if self.abort.load(std::sync::atomic::Ordering::Relaxed) {
                            return Err(core::Error::Aborted);
                        }
                        let mut out = Vec::with_capacity(160);
                        tables.write_route(&r, &mut out)?;
                        Ok(out)
                    })?;
            tables.batch(&parts)
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output)
    }
}

pub struct EvaluateTask {
    pub router: Arc<Router>,
    pub examples: Vec<core::Example>,
    pub threshold: Option<f64>,
}

/// Resolves to the metrics as JSON text: its keys are snake_case, as in `toolrouter eval --json`,
/// which napi's object conversion would camelCase.
impl Task for EvaluateTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| {
            let m = self.router.evaluate_with(&self.examples, self.threshold)?;
            serde_json::to_string(&m).map_err(|e| core::Error::Internal(e.to_string()))
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output)
    }
}

pub struct LoadToolsTask {
    pub path: PathBuf,
}

impl Task for LoadToolsTask {
    type Output = Vec<core::ToolSpec>;
    type JsValue = Vec<ToolSpec>;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| core::load_tools(&self.path))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.iter().map(tool_from_core).collect())
    }
}

pub struct LoadExamplesTask {
    pub path: PathBuf,
    pub tools: Option<Vec<core::ToolSpec>>,
}

impl Task for LoadExamplesTask {
    type Output = Vec<core::Example>;
    type JsValue = Vec<Example>;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| core::load_examples(&self.path, self.tools.as_deref()))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.into_iter().map(example_from_core).collect())
    }
}
