//! `NativeRouter`: a loaded or trained router, shared behind an `Arc`, so async tasks and the
//! sync `route` can use it at once. `addTool` / `removeTool` change it copy-on-write
//! (`Arc::make_mut`): a `routeBatch`, `evaluate` or `save` still running keeps the router it
//! started with, and the JS thread's next call sees the new one.
//!
//! The `Arc` sits in a `RwLock` rather than behind `&mut self`: napi-rs refuses a `&mut self`
//! call on an object while a task it started is pending. Every call takes the lock only to
//! clone the `Arc` (or, for `addTool` / `removeTool`, to swap it), never while it computes.

use crate::error::{guard, to_napi};
use crate::tasks::{EvaluateTask, RouteBatchTask, SaveTask};
use crate::types::{examples_to_core, tool_arg_to_core, tool_from_core, Example, ToolSpec};
use napi::bindgen_prelude::{AbortSignal, AsyncTask, ObjectFinalize};
use napi::Env;
use napi_derive::napi;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use toolrouter_core::Router;

#[napi(js_name = "NativeRouter", custom_finalize)]
pub struct JsRouter {
    inner: RwLock<Arc<Router>>,
    /// Native bytes reported to V8 for this object (see [`JsRouter::new`]).
    external: AtomicI64,
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
            inner: RwLock::new(Arc::new(router)),
            external: AtomicI64::new(external),
        }
    }

    /// The current router. A panic while the lock was held (a bug) leaves it poisoned; the
    /// router inside is still whole, since `add_tool` / `remove_tool` change nothing until
    /// they cannot fail, so it is used as it is.
    pub(crate) fn snapshot(&self) -> Arc<Router> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs `f` on the router, copy-on-write, and tells V8 how its native size changed.
    fn change(
        &self,
        env: &Env,
        f: impl FnOnce(&mut Router) -> toolrouter_core::Result<()>,
    ) -> napi::Result<()> {
        let now = {
            let mut g = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            guard(|| f(Arc::make_mut(&mut g)))?;
            g.memory_bytes()
        };
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let before = self.external.load(Ordering::Relaxed);
        // Best effort, as in `new`: a failed report only makes collection lazier.
        if before != 0 && env.adjust_external_memory(now - before).is_ok() {
            self.external.store(now, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl ObjectFinalize for JsRouter {
    fn finalize(self, env: Env) -> napi::Result<()> {
        let external = self.external.load(Ordering::Relaxed);
        if external != 0 {
            env.adjust_external_memory(-external)?;
        }
        Ok(())
    }
}

#[napi]
impl JsRouter {
    /// Routes one request synchronously (the fast path), at `threshold` or the router's own,
    /// as JSON text in the compact form of `toolrouter_core::wire` (one route, names as
    /// strings): one string and one `JSON.parse` instead of building the route's nested
    /// objects property by property through N-API. Tools named in `exclude` are not chosen
    /// (their probability goes to the others).
    #[napi(catch_unwind)]
    pub fn route_wire(
        &self,
        text: String,
        threshold: Option<f64>,
        exclude: Option<Vec<String>>,
    ) -> napi::Result<String> {
        guard(|| {
            // Empty when nothing is excluded: collecting nothing allocates nothing.
            let names: Vec<&str> = exclude.iter().flatten().map(String::as_str).collect();
            let r = self.snapshot().route_excluding(&text, threshold, &names)?;
            let mut out = Vec::with_capacity(256);
            toolrouter_core::wire::Tables::none().write_route(&r, &mut out)?;
            String::from_utf8(out).map_err(|e| toolrouter_core::Error::Internal(e.to_string()))
        })
    }

    /// Routes many requests off the JS thread; resolves to them as JSON text in the compact
    /// form of `toolrouter_core::wire` (index.ts rebuilds the routes).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn route_batch_wire(
        &self,
        texts: Vec<String>,
        threshold: Option<f64>,
        threads: Option<u32>,
        signal: Option<AbortSignal>,
    ) -> AsyncTask<RouteBatchTask> {
        let abort = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Some(s) = &signal {
            let flag = abort.clone();
            s.on_abort(move || flag.store(true, Ordering::Relaxed));
        }
        AsyncTask::with_optional_signal(
            RouteBatchTask {
                router: self.snapshot(),
                texts,
                threshold,
                threads: threads.unwrap_or(0) as usize,
                abort,
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
            router: self.snapshot(),
            examples,
            threshold,
        }))
    }

    /// Writes the model file atomically.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn save(&self, path: String) -> AsyncTask<SaveTask> {
        AsyncTask::new(SaveTask {
            router: self.snapshot(),
            path,
        })
    }

    /// Times the stages of `route()` over `texts`, `reps` times (the bench's breakdown);
    /// blocks the calling thread.
    #[napi(catch_unwind)]
    pub fn profile(&self, texts: Vec<String>, reps: u32) -> napi::Result<serde_json::Value> {
        guard(|| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let p = self.snapshot().profile(&refs, reps as usize)?;
            serde_json::to_value(p).map_err(|e| toolrouter_core::Error::Internal(e.to_string()))
        })
    }

    /// Adds a tool without training (its row comes from its text and `examples`); a tool of
    /// the same name is replaced. Takes a few ms, on the calling thread.
    #[napi(catch_unwind)]
    pub fn add_tool(
        &self,
        env: Env,
        tool: ToolSpec,
        examples: Option<Vec<String>>,
    ) -> napi::Result<()> {
        let spec = tool_arg_to_core(tool)?;
        let examples = examples.unwrap_or_default();
        self.change(&env, |r| r.add_tool(spec, &examples))
    }

    /// Removes the tool `name`.
    #[napi(catch_unwind)]
    pub fn remove_tool(&self, env: Env, name: String) -> napi::Result<()> {
        self.change(&env, |r| r.remove_tool(&name))
    }

    /// How far under `O` the tagger's margin for a span may be and the span still fill a required
    /// argument the decoding left out; `null`: no filling. Not saved with the model.
    #[napi(getter)]
    pub fn fill_margin(&self) -> Option<f64> {
        self.snapshot().fill_margin().map(f64::from)
    }

    /// Sets {@link fillMargin}: a number ≥ 0 (`Infinity`: any span that fits the type), or `null`.
    #[napi(catch_unwind)]
    pub fn set_fill_margin(&self, env: Env, margin: Option<f64>) -> napi::Result<()> {
        if let Some(m) = margin {
            if m.is_nan() || m < 0.0 {
                return Err(crate::error::invalid(
                    "fillMargin",
                    format!("{m} is not a number ≥ 0"),
                ));
            }
        }
        self.change(&env, |r| {
            r.set_fill_margin(margin.map(|m| m as f32));
            Ok(())
        })
    }

    /// The calibrated threshold stored in the model.
    #[napi(getter)]
    pub fn threshold(&self) -> f64 {
        self.snapshot().threshold()
    }

    #[napi(getter)]
    pub fn tools(&self) -> Vec<ToolSpec> {
        self.snapshot().tools().iter().map(tool_from_core).collect()
    }

    /// The model configuration as stored in the file.
    #[napi(getter)]
    pub fn config(&self) -> napi::Result<serde_json::Value> {
        serde_json::to_value(self.snapshot().config())
            .map_err(|e| to_napi(toolrouter_core::Error::Internal(e.to_string())))
    }

    /// How the model was trained.
    #[napi(getter)]
    pub fn training(&self) -> napi::Result<serde_json::Value> {
        serde_json::to_value(self.snapshot().training())
            .map_err(|e| to_napi(toolrouter_core::Error::Internal(e.to_string())))
    }
}
