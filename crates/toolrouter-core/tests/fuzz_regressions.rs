//! The fuzz targets' checks (`crates/toolrouter-core/fuzz/src/lib.rs`, included by path) on
//! every input saved under `tests/fuzz-regressions/<target>/`: the crashing inputs the fuzzers
//! found, kept once fixed, and a few hostile inputs written by hand. Runs on stable Rust in
//! `cargo test`; `scripts/fuzz.sh` runs the fuzzers themselves (nightly + cargo-fuzz).
//!
//! Beside them, the two properties small enough to check exhaustively: a model file cut at any
//! byte is `MODEL_INVALID`, and a single flipped byte anywhere never panics.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::path::{Path, PathBuf};
use toolrouter_core::format;

fn saved(target: &str) -> std::io::Result<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut files = Vec::new();
    if dir.is_dir() {
        for e in std::fs::read_dir(dir)? {
            files.push(e?.path());
        }
    }
    files.sort();
    Ok(files)
}

fn replay(target: &str, check: fn(&[u8])) -> std::io::Result<()> {
    for file in saved(target)? {
        eprintln!("{}", file.display());
        check(&std::fs::read(&file)?);
    }
    Ok(())
}

#[test]
fn saved_jsonl_inputs() -> std::io::Result<()> {
    replay("jsonl", checks::jsonl)
}

#[test]
fn saved_tools_inputs() -> std::io::Result<()> {
    replay("tools", checks::tools)
}

#[test]
fn saved_model_inputs() -> std::io::Result<()> {
    replay("model", checks::model)
}

#[test]
fn saved_route_inputs() -> std::io::Result<()> {
    replay("route", checks::route)
}

#[test]
fn a_model_file_cut_at_any_byte_is_model_invalid() {
    let bytes = checks::tiny_model_bytes();
    checks::load_and_route(bytes);
    for n in 0..bytes.len() {
        match format::from_bytes(&bytes[..n], Path::new("cut.toolrouter"), "cpu") {
            Ok(_) => panic!("a model cut to {n} of {} bytes loaded", bytes.len()),
            Err(e) => assert_eq!(e.code(), "MODEL_INVALID", "cut at {n}: {e}"),
        }
    }
}

#[test]
fn a_model_file_with_any_byte_changed_loads_and_routes_or_is_refused() {
    let bytes = checks::tiny_model_bytes();
    // Every byte of the header (JSON: config, tokenizer, tools) and a stride through the
    // weights; each changed to a value that breaks JSON and one that keeps it.
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default()) as usize;
    let stride = ((bytes.len() - header) / 512).max(1);
    let at = (0..header).chain((header..bytes.len()).step_by(stride));
    let mut copy = bytes.to_vec();
    for i in at {
        for v in [b'"', b'9', 0xff] {
            let old = copy[i];
            copy[i] = v;
            checks::load_and_route(&copy);
            copy[i] = old;
        }
    }
}
