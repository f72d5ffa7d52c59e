//! Test hooks, not part of the API (no TypeScript wrapper): they let
//! `__test__/reliability.spec.ts` prove that a Rust panic reaches JS as an `INTERNAL` error, on
//! the JS thread and on the thread pool alike, and never takes the Node process down.

use crate::error::guard;
use napi::bindgen_prelude::*;
use napi_derive::napi;

const MESSAGE: &str = "deliberate panic (test hook)";

/// Panics on the JS thread inside the guard every export uses.
#[napi(js_name = "__panicForTest", catch_unwind)]
pub fn panic_for_test() -> napi::Result<()> {
    guard::<()>(|| panic!("{MESSAGE}"))
}

pub struct PanicTask;

impl Task for PanicTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        guard::<()>(|| panic!("{MESSAGE}"))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

/// Panics on a libuv pool thread inside the guard every async task uses.
#[napi(js_name = "__panicOnPoolForTest", ts_return_type = "Promise<void>")]
pub fn panic_on_pool_for_test() -> AsyncTask<PanicTask> {
    AsyncTask::new(PanicTask)
}
