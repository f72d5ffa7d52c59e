//! Trains on a dataset folder (train.jsonl, valid.jsonl?, test.jsonl, tools.json) and prints
//! the test metrics as one JSON line. Options as `key=value` JSON fragments of TrainOptions:
//!
//! cargo run --release -p toolrouter-core --example train_eval -- ../shared/datasets/snips d_model=64
//!
//! `save=PATH` writes the model; `errors=1` prints the misrouted test requests to stderr;
//! `valid_half=1` validates on the even lines of valid.jsonl and scores the odd lines instead of
//! the test split (nested validation, to choose how training chooses its epoch);
//! `per_tool=N` trains on the first N examples of each label (few-shot); `load=PATH` evaluates a
//! saved model instead of training one; `dump=PATH` writes the raw logits, head features and
//! labels of the train, validation and test requests as JSON (for studying calibration and
//! thresholds offline).
use std::path::Path;
use std::sync::atomic::AtomicBool;
use toolrouter_core::{fit, load_examples, load_tools, TrainOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(args.first().ok_or("usage: train_eval DIR [key=value...]")?);
    let mut opts = serde_json::to_value(TrainOptions::default())?;
    let mut use_valid = true;
    let mut save: Option<String> = None;
    let mut load: Option<String> = None;
    let mut show_errors = false;
    let mut per_tool: Option<usize> = None;
    let mut dump: Option<String> = None;
    let mut valid_half = false;
    for kv in &args[1..] {
        let (k, v) = kv.split_once('=').ok_or("expected key=value")?;
        match k {
            "no_valid" => {
                use_valid = false;
                continue;
            }
            "save" => {
                save = Some(v.to_string());
                continue;
            }
            "load" => {
                load = Some(v.to_string());
                continue;
            }
            "errors" => {
                show_errors = v == "1";
                continue;
            }
            "dump" => {
                dump = Some(v.to_string());
                continue;
            }
            "valid_half" => {
                valid_half = v == "1";
                continue;
            }
            "per_tool" => {
                per_tool = Some(v.parse()?);
                continue;
            }
            _ => {}
        }
        opts[k] = serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.into()));
    }
    let opts: TrainOptions = serde_json::from_value(opts)?;
    let tools = load_tools(&dir.join("tools.json"))?;
    let mut train = load_examples(&dir.join("train.jsonl"), Some(&tools))?;
    if let Some(n) = per_tool {
        // A few-shot training set: the first `n` examples of each label (out of scope included).
        let mut seen: std::collections::HashMap<Option<String>, usize> = Default::default();
        train.retain(|e| {
            let c = seen.entry(e.tool.clone()).or_default();
            *c += 1;
            *c <= n
        });
    }
    let valid = if use_valid && dir.join("valid.jsonl").exists() {
        Some(load_examples(&dir.join("valid.jsonl"), Some(&tools))?)
    } else {
        None
    };
    let mut test = load_examples(&dir.join("test.jsonl"), Some(&tools))?;
    let mut valid = valid;
    if valid_half {
        // Nested validation, for choosing how training itself chooses: training validates on
        // the even lines of valid.jsonl, and the metrics are those of the odd lines (the test
        // split is not read).
        let v = valid.take().ok_or("valid_half=1 needs valid.jsonl")?;
        let (even, odd): (Vec<_>, Vec<_>) =
            v.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        valid = Some(even.into_iter().map(|(_, e)| e).collect());
        test = odd.into_iter().map(|(_, e)| e).collect();
    }
    let abort = AtomicBool::new(false);
    let router = match &load {
        Some(path) => toolrouter_core::format::load(Path::new(path))?,
        None => fit(
            &tools,
            &train,
            valid.as_deref(),
            &opts,
            &|p| {
                if p.valid_accuracy.is_some() {
                    eprintln!(
                    "epoch {} loss {:.4} valid_acc {:.4} valid_loss {:.4} tag_f1 {:.4} t={:.1}s",
                    p.epoch,
                    p.loss,
                    p.valid_accuracy.unwrap_or(0.0),
                    p.valid_loss.unwrap_or(0.0),
                    p.valid_tag_f1.unwrap_or(0.0),
                    p.elapsed_s
                );
                }
            },
            &abort,
        )?,
    };
    let m = router.evaluate(&test)?;
    if let Some(path) = &save {
        toolrouter_core::format::save(&router, Path::new(path))?;
    }
    if let Some(path) = &dump {
        // Raw logits, head features and gold labels (index into the tools; the tool count for
        // "none") of the train, validation and test requests.
        let names: Vec<&str> = router.tools().iter().map(|t| t.name.as_str()).collect();
        let split = |rows: &[toolrouter_core::Example]| -> Result<serde_json::Value, Box<dyn std::error::Error>> {
            let texts: Vec<&str> = rows.iter().map(|e| e.text.as_str()).collect();
            let labels: Vec<usize> = rows
                .iter()
                .map(|e| router.label_index(e.tool.as_deref()))
                .collect();
            Ok(serde_json::json!({"texts": texts, "logits": router.logits(&texts)?, "labels": labels, "features": router.features(&texts)?}))
        };
        let v = match &valid {
            Some(v) => split(v)?,
            None => serde_json::Value::Null,
        };
        let out = serde_json::json!({"names": names, "calibration": router.calibration(), "valid": v, "test": split(&test)?, "train": split(&train)?});
        std::fs::write(path, out.to_string())?;
    }
    if show_errors {
        // The test requests whose best tool is wrong, with the two best guesses.
        let texts: Vec<&str> = test.iter().map(|e| e.text.as_str()).collect();
        let probs = router.probabilities(&texts)?;
        let names: Vec<String> = router
            .tools()
            .iter()
            .map(|t| t.name.clone())
            .chain(std::iter::once("<none>".to_string()))
            .collect();
        // Argument spans that differ from the gold ones (the tool right).
        for e in &test {
            let r = router.route(&e.text)?;
            if r.tool != e.tool || e.spans.is_empty() {
                continue;
            }
            let show = |spans: &[toolrouter_core::Span]| {
                let chars: Vec<char> = e.text.chars().collect();
                let mut v: Vec<String> = spans
                    .iter()
                    .map(|s| {
                        format!(
                            "{}={}",
                            s.name,
                            chars[s.start..s.end].iter().collect::<String>()
                        )
                    })
                    .collect();
                v.sort();
                v.join(", ")
            };
            let (gold, got) = (show(&e.spans), show(&r.spans));
            if gold != got {
                eprintln!("SLOT {} | gold [{gold}] | got [{got}]", e.text);
            }
        }
        for (e, p) in test.iter().zip(&probs) {
            let mut order: Vec<usize> = (0..p.len()).collect();
            order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
            let gold = e.tool.clone().unwrap_or_else(|| "<none>".into());
            if names[order[0]] != gold {
                eprintln!(
                    "ERR gold={gold} pred={} ({:.2}) 2nd={} ({:.2}) | {}",
                    names[order[0]], p[order[0]], names[order[1]], p[order[1]], e.text
                );
            }
        }
    }
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
            "valid_accuracy": router.training().valid_accuracy, "valid_tag_f1": router.training().valid_tag_f1, "train_s": router.training().train_seconds, "best_epoch": router.training().best_epoch,
            "epochs_run": router.training().epochs_run, "n_features": router.config().n_features,
            "vocab": router.config().vocab_size,
        })
    );
    Ok(())
}
