//! Trains on a dataset folder (train.jsonl, valid.jsonl?, test.jsonl, tools.json) and prints
//! the test metrics as one JSON line. Options as `key=value` JSON fragments of TrainOptions:
//!
//! cargo run --release -p toolrouter-core --example train_eval -- ../shared/datasets/snips d_model=64
use std::path::Path;
use std::sync::atomic::AtomicBool;
use toolrouter_core::{fit, load_examples, load_tools, TrainOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(args.first().ok_or("usage: train_eval DIR [key=value...]")?);
    let mut opts = serde_json::to_value(TrainOptions::default())?;
    let mut use_valid = true;
    for kv in &args[1..] {
        let (k, v) = kv.split_once('=').ok_or("expected key=value")?;
        if k == "no_valid" {
            use_valid = false;
            continue;
        }
        opts[k] = serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.into()));
    }
    let opts: TrainOptions = serde_json::from_value(opts)?;
    let tools = load_tools(&dir.join("tools.json"))?;
    let train = load_examples(&dir.join("train.jsonl"), Some(&tools))?;
    let valid = if use_valid && dir.join("valid.jsonl").exists() {
        Some(load_examples(&dir.join("valid.jsonl"), Some(&tools))?)
    } else {
        None
    };
    let test = load_examples(&dir.join("test.jsonl"), Some(&tools))?;
    let abort = AtomicBool::new(false);
    let router = fit(
        &tools,
        &train,
        valid.as_deref(),
        &opts,
        &|p| {
            if p.valid_accuracy.is_some() {
                eprintln!(
                    "epoch {} loss {:.4} valid_acc {:.4} valid_loss {:.4} t={:.1}s",
                    p.epoch,
                    p.loss,
                    p.valid_accuracy.unwrap_or(0.0),
                    p.valid_loss.unwrap_or(0.0),
                    p.elapsed_s
                );
            }
        },
        &abort,
    )?;
    let m = router.evaluate(&test)?;
    println!(
        "{}",
        serde_json::json!({
            "dataset": dir.file_name().map(|s| s.to_string_lossy().to_string()),
            "accuracy": m.accuracy, "macro_f1": m.macro_f1, "oos_recall": m.oos_recall,
            "in_scope_accuracy": m.in_scope_accuracy, "coverage": m.coverage,
            "selective_accuracy": m.selective_accuracy, "ece": m.ece,
            "ece_uncalibrated": m.ece_uncalibrated, "coverage_at": m.coverage_at,
            "selective_accuracy_at": m.selective_accuracy_at, "aurc": m.aurc,
            "calibration": router.calibration(),
            "slot_f1": m.slot_f1, "frame_accuracy": m.frame_accuracy, "args_exact": m.args_exact,
            "valid_accuracy": router.training().valid_accuracy, "train_s": router.training().train_seconds, "best_epoch": router.training().best_epoch,
            "epochs_run": router.training().epochs_run, "n_features": router.config().n_features,
            "vocab": router.config().vocab_size,
        })
    );
    Ok(())
}
