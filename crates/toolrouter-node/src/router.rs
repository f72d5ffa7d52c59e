//! `NativeRouter`: a loaded or trained router. Immutable, shared behind an `Arc`, so async tasks
//! and the sync `route` can use it at once.

use crate::error::{guard, to_napi};
use crate::tasks::{EvaluateTask, RouteBatchTask, SaveTask};
use crate::types::{examples_to_core, route_from_core, tool_from_core, Example, Route, ToolSpec};
use napi::bindgen_prelude::{AbortSignal, AsyncTask, ObjectFinalize};
use napi::Env;
use napi_derive::napi;
use std::sync::Arc;
use toolrouter_core::Router;

#[napi(js_name = "NativeRouter", custom_finalize)]
pub struct JsRouter {
    pub(crate) inner: Arc<Router>,
    /// Native bytes reported to V8 for this object (see [`JsRouter::new`]).
    external: i64,
}

impl JsRouter {
    /// Wraps `router` and tells V8 how much native memory the JS object keeps alive. Without
    /// that, V8 sees a small object and collects dead routers lazily: a loop that loads models
    /// grew resident memory by hundreds of MB before a collection freed them (`npm run soak`).
    pub(crate) fn new(env: &Env, router: Router) -> Self {
        let external = i64::try_from(router.memory_bytes()).unwrap_or(i64::MAX);
        // Best effort: a failed report only makes collection lazier.
        let external = match env.adjust_external_memory(external) {
            Ok(_) => external,
            Err(_) => 0,
        };
        JsRouter {
            inner: Arc::new(router),
            external,
        }
    }
}

impl ObjectFinalize for JsRouter {
    fn finalize(self, env: Env) -> napi::Result<()> {
        if self.external != 0 {
            env.adjust_external_memory(-self.external)?;
        }
        Ok(())
    }
}

#[napi]
impl JsRouter {
    /// Routes one request synchronously (the fast path), at `threshold` or the router's own.
    #[napi(catch_unwind)]
    pub fn route(&self, text: String, threshold: Option<f64>) -> napi::Result<Route> {
        guard(|| self.inner.route_with(&text, threshold)).map(route_from_core)
    }

    /// Routes many requests off the JS thread.
    #[napi(ts_return_type = "Promise<Array<Route>>")]
    pub fn route_batch(
        &self,
        texts: Vec<String>,
        threshold: Option<f64>,
        threads: Option<u32>,
        signal: Option<AbortSignal>,
    ) -> AsyncTask<RouteBatchTask> {
        AsyncTask::with_optional_signal(
            RouteBatchTask {
                router: self.inner.clone(),
                texts,
                threshold,
                threads: threads.unwrap_or(0) as usize,
            },
            signal,
        )
    }

    /// Scores the router on labelled examples; resolves to the metrics as JSON text.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn evaluate(
        &self,
        examples: Vec<Example>,
        threshold: Option<f64>,
    ) -> napi::Result<AsyncTask<EvaluateTask>> {
        let examples = examples_to_core(examples, "examples")?;
        Ok(AsyncTask::new(EvaluateTask {
            router: self.inner.clone(),
            examples,
            threshold,
        }))
    }

    /// Writes the model file atomically.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn save(&self, path: String) -> AsyncTask<SaveTask> {
        AsyncTask::new(SaveTask {
            router: self.inner.clone(),
            path,
        })
    }

    /// Times the stages of `route()` over `texts`, `reps` times (the bench's breakdown);
    /// blocks the calling thread.
    #[napi(catch_unwind)]
    pub fn profile(&self, texts: Vec<String>, reps: u32) -> napi::Result<serde_json::Value> {
        guard(|| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let p = self.inner.profile(&refs, reps as usize)?;
            serde_json::to_value(p).map_err(|e| toolrouter_core::Error::Internal(e.to_string()))
        })
    }

    /// The calibrated threshold stored in the model.
    #[napi(getter)]
    pub fn threshold(&self) -> f64 {
        self.inner.threshold()
    }

    #[napi(getter)]
    pub fn tools(&self) -> Vec<ToolSpec> {
        self.inner.tools().iter().map(tool_from_core).collect()
    }

    /// The model configuration as stored in the file.
    #[napi(getter)]
    pub fn config(&self) -> napi::Result<serde_json::Value> {
        serde_json::to_value(self.inner.config())
            .map_err(|e| to_napi(toolrouter_core::Error::Internal(e.to_string())))
    }

    /// How the model was trained.
    #[napi(getter)]
    pub fn training(&self) -> napi::Result<serde_json::Value> {
        serde_json::to_value(self.inner.training())
            .map_err(|e| to_napi(toolrouter_core::Error::Internal(e.to_string())))
    }
}
