//! How far the demo tool space's added tool moves with the seed (the case of
//! `tests/toolspace.rs`: the demo data without `get_stock_price`, trained at d_model 32 and
//! 1 layer, then the tool added back from its description alone and with 5 examples). Prints the
//! held-out tool's recall on the demo test split (best label, no threshold) per seed and the mean.
//! Options as `key=value` JSON fragments of TrainOptions, as in `train_eval`:
//!
//! cargo run --release -p toolrouter-core --example toolspace_seeds -- value_swap=0 tag_weight=0.1
use std::path::Path;
use std::sync::atomic::AtomicBool;
use toolrouter_core::data::{load_examples, load_tools};
use toolrouter_core::toolspace_fit::{fit_tool_space, ToolSpaceOptions};
use toolrouter_core::{fit, Example, TrainOptions};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const HELD: &str = "get_stock_price";

fn main() -> Res<()> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo");
    let all = load_tools(&demo.join("tools.json"))?;
    let held = all
        .iter()
        .find(|t| t.name == HELD)
        .ok_or("no held-out tool")?
        .clone();
    let tools: Vec<_> = all.iter().filter(|t| t.name != HELD).cloned().collect();
    let split = |file: &str| -> Res<(Vec<Example>, Vec<Example>)> {
        Ok(load_examples(&demo.join(file), Some(&all))?
            .into_iter()
            .partition(|e| e.tool.as_deref() != Some(HELD)))
    };
    let (train, new_train) = split("train.jsonl")?;
    let (_, new) = split("test.jsonl")?;
    let shots: Vec<&str> = new_train.iter().take(5).map(|e| e.text.as_str()).collect();
    // The test's options, then the command line's.
    let mut opts = serde_json::to_value(TrainOptions {
        d_model: 32,
        layers: 1,
        heads: 2,
        epochs: 15,
        freeze_pretrained: Some(true),
        ..TrainOptions::default()
    })?;
    for kv in std::env::args().skip(1) {
        let (k, v) = kv.split_once('=').ok_or("expected key=value")?;
        opts[k] = serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.into()));
    }
    let (mut zero_sum, mut five_sum) = (0.0, 0.0);
    let seeds = 1..=6u64;
    for seed in seeds.clone() {
        opts["seed"] = seed.into();
        let o: TrainOptions = serde_json::from_value(opts.clone())?;
        let abort = AtomicBool::new(false);
        let classic = fit(&tools, &train, None, &o, &|_| {}, &abort)?;
        let ts = ToolSpaceOptions {
            epochs: 6,
            ..ToolSpaceOptions::default()
        };
        let space = fit_tool_space(&classic, &train, None, &ts, &abort)?;
        let mut r = space.clone();
        r.add_tool(held.clone(), &[] as &[&str])?;
        // Every row is the held-out tool's: evaluate's accuracy (best label, no threshold) is its recall.
        let zero = r.evaluate(&new)?.accuracy;
        let mut r = space.clone();
        r.add_tool(held.clone(), &shots)?;
        let five = r.evaluate(&new)?.accuracy;
        println!(
            "seed {seed}: zero-shot {:.1}%, 5-shot {:.1}%",
            100.0 * zero,
            100.0 * five
        );
        zero_sum += zero;
        five_sum += five;
    }
    let n = seeds.count() as f64;
    println!(
        "mean: zero-shot {:.1}%, 5-shot {:.1}%",
        100.0 * zero_sum / n,
        100.0 * five_sum / n
    );
    Ok(())
}
