//! Adding tools without retraining (issue 10), measured on CLINC150: hold out whole intents,
//! train on the rest, then add the held-out intents with `Router::add_tool` from their
//! descriptions alone (zero-shot) and with 1, 5 and 10 examples each; score the held-out
//! intents' requests (best of all tools, none included) and the old intents' requests. Optionally
//! retrain from scratch with the same examples, for comparison. Prints one JSON line.
//!
//! cargo run --release -p toolrouter-core --example toolspace_eval -- ../shared/datasets/clinc150 bench/fixtures/clinc150-descriptions.json split=valid seeds=1 retrain=0
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use toolrouter_core::toolspace_fit::{fit_tool_space, ToolSpaceOptions};
use toolrouter_core::{fit, format, load_examples, load_tools, Example, TrainOptions};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn accuracy(router: &toolrouter_core::Router, rows: &[Example]) -> Res<f64> {
    Ok(router.evaluate(rows)?.accuracy)
}

/// Share of out-of-scope requests the router leaves to the LLM (no tool at its threshold).
fn oos_recall(router: &toolrouter_core::Router, rows: &[Example]) -> Res<f64> {
    let routes = router.route_batch(&rows.iter().map(|e| e.text.as_str()).collect::<Vec<_>>())?;
    Ok(routes.iter().filter(|r| r.tool.is_none()).count() as f64 / rows.len().max(1) as f64)
}

/// FNV-1a, to name cached models by their options.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, descs, rest @ ..] = args.as_slice() else {
        return Err("usage: toolspace_eval DATASET_DIR DESCRIPTIONS_JSON [split=valid|test] [seeds=N] [held=30] [retrain=0|1] [key=value options]".into());
    };
    let dir = Path::new(data);
    let mut split = "valid".to_string();
    let (mut seeds, mut held, mut retrain) = (1u64, 30usize, false);
    let mut opts = serde_json::to_value(TrainOptions::default())?;
    let mut ts_opts = serde_json::to_value(ToolSpaceOptions::default())?;
    let (mut tool_space, mut cache) = (false, None::<String>);
    let value = |v: &str| serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.into()));
    for kv in rest {
        let (k, v) = kv.split_once('=').ok_or("expected key=value")?;
        match k {
            "split" => split = v.into(),
            "seeds" => seeds = v.parse()?,
            "held" => held = v.parse()?,
            "retrain" => retrain = v == "1",
            "tool_space" => tool_space = v == "1",
            // Trained base routers are kept here and reused by later runs with the same options.
            "cache" => cache = Some(v.into()),
            _ => match k.strip_prefix("ts_") {
                Some(k) => ts_opts[k] = value(v),
                None => opts[k] = value(v),
            },
        }
    }
    let opts_key = format!("{:016x}", fnv(&serde_json::to_string(&opts)?));
    let opts: TrainOptions = serde_json::from_value(opts)?;
    let ts_opts: ToolSpaceOptions = serde_json::from_value(ts_opts)?;
    let descriptions: HashMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(descs)?)?;
    let mut tools = load_tools(&dir.join("tools.json"))?;
    for t in &mut tools {
        if let Some(d) = descriptions.get(&t.name) {
            t.description = d.clone();
        }
    }
    let train_all = load_examples(&dir.join("train.jsonl"), Some(&tools))?;
    let valid_all = load_examples(&dir.join("valid.jsonl"), Some(&tools))?;
    let eval_all = load_examples(&dir.join(format!("{split}.jsonl")), Some(&tools))?;
    let shots = [0usize, 1, 5, 10];
    let abort = AtomicBool::new(false);
    let mut runs = Vec::new();
    for seed in 0..seeds {
        let mut rng = StdRng::seed_from_u64(1000 + seed);
        let mut names: Vec<String> = tools.iter().map(|t| t.name.clone()).collect();
        names.shuffle(&mut rng);
        let new: Vec<String> = names[..held].to_vec();
        let is_new = |e: &Example| e.tool.as_ref().is_some_and(|t| new.contains(t));
        let old_tools: Vec<_> = tools
            .iter()
            .filter(|t| !new.contains(&t.name))
            .cloned()
            .collect();
        let train: Vec<Example> = train_all.iter().filter(|e| !is_new(e)).cloned().collect();
        let valid: Vec<Example> = valid_all.iter().filter(|e| !is_new(e)).cloned().collect();
        let eval_new: Vec<Example> = eval_all.iter().filter(|e| is_new(e)).cloned().collect();
        let eval_oos: Vec<Example> = eval_all
            .iter()
            .filter(|e| e.tool.is_none())
            .cloned()
            .collect();
        let eval_old: Vec<Example> = eval_all
            .iter()
            .filter(|e| e.tool.is_some() && !is_new(e))
            .cloned()
            .collect();
        let t0 = Instant::now();
        let cached = cache.as_ref().map(|d| {
            Path::new(d).join(format!(
                "{}-{opts_key}-{seed}.toolrouter",
                dir.display().to_string().replace('/', "_")
            ))
        });
        let base = match &cached {
            Some(p) if p.exists() => format::load(p)?,
            _ => {
                let r = fit(&old_tools, &train, Some(&valid), &opts, &|_| {}, &abort)?;
                if let Some(p) = &cached {
                    std::fs::create_dir_all(p.parent().ok_or("cache")?)?;
                    r.save(p)?;
                }
                r
            }
        };
        let train_s = t0.elapsed().as_secs_f64();
        let classic_old = accuracy(&base, &eval_old)?;
        let t0 = Instant::now();
        let ts_cached = cached.as_ref().map(|p| {
            let key = fnv(&serde_json::to_string(&ts_opts).unwrap_or_default());
            p.with_extension(format!("ts-{key:016x}.toolrouter"))
        });
        let base = match (&ts_cached, tool_space) {
            (_, false) => base,
            (Some(p), true) if p.exists() => format::load(p)?,
            (p, true) => {
                let r = fit_tool_space(&base, &train, Some(&valid), &ts_opts, &abort)?;
                if let Some(p) = p {
                    r.save(p)?;
                }
                r
            }
        };
        let tool_space_s = t0.elapsed().as_secs_f64();
        let bytes = format::to_bytes(&base)?;
        let old_before = accuracy(&base, &eval_old)?;
        let oos_before = oos_recall(&base, &eval_oos)?;
        // The examples each new tool is given: the first k of a seeded shuffle of its training rows.
        let mut pool: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in train_all.iter().filter(|e| is_new(e)) {
            pool.entry(e.tool.as_deref().unwrap_or_default())
                .or_default()
                .push(&e.text);
        }
        for v in pool.values_mut() {
            v.shuffle(&mut rng);
        }
        let mut per_shot = Vec::new();
        for &k in &shots {
            let mut r = format::from_bytes(&bytes, Path::new("base"), "cpu")?;
            let mut add_ms = Vec::new();
            for name in &new {
                let spec = tools
                    .iter()
                    .find(|t| &t.name == name)
                    .ok_or("tool")?
                    .clone();
                let ex: Vec<&str> = pool[name.as_str()].iter().take(k).copied().collect();
                let t = Instant::now();
                r.add_tool(spec, &ex)?;
                add_ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let first_ms = add_ms[0];
            let mut rest_ms = add_ms[1..].to_vec();
            rest_ms.sort_by(f64::total_cmp);
            // Accuracy if the added tools' biases were moved by `delta` (the trade-off between
            // new and old tools).
            let n_old = old_tools.len();
            let z_new = r.logits(&eval_new.iter().map(|e| e.text.as_str()).collect::<Vec<_>>())?;
            let z_old = r.logits(&eval_old.iter().map(|e| e.text.as_str()).collect::<Vec<_>>())?;
            let names: Vec<&str> = r.tools().iter().map(|t| t.name.as_str()).collect();
            let gold = |e: &Example| names.iter().position(|n| Some(*n) == e.tool.as_deref());
            let hit = |z: &[f32], e: &Example, delta: f32| {
                let shifted: Vec<f32> = z
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if i >= n_old && i < names.len() {
                            v + delta
                        } else {
                            *v
                        }
                    })
                    .collect();
                let best = (0..shifted.len()).max_by(|&a, &b| shifted[a].total_cmp(&shifted[b]));
                best.is_some() && best == gold(e)
            };
            let sweep: Vec<_> = (-24..=8)
                .map(|i| i as f32 * 0.25)
                .map(|d| {
                    let a = |z: &[Vec<f32>], rows: &[Example]| {
                        z.iter().zip(rows).filter(|(z, e)| hit(z, e, d)).count() as f64
                            / rows.len() as f64
                    };
                    serde_json::json!([d, a(&z_new, &eval_new), a(&z_old, &eval_old)])
                })
                .collect();
            let mut row = serde_json::json!({
                "sweep": sweep,
                "shots": k,
                "new_accuracy": accuracy(&r, &eval_new)?,
                "old_accuracy": accuracy(&r, &eval_old)?,
                "oos_recall": oos_recall(&r, &eval_oos)?,
                "add_tool_first_ms": first_ms,
                "add_tool_p50_ms": rest_ms.get(rest_ms.len() / 2).copied().unwrap_or(first_ms),
            });
            if retrain && k > 0 {
                let mut tr = train.clone();
                for name in &new {
                    tr.extend(
                        pool[name.as_str()]
                            .iter()
                            .take(k)
                            .map(|t| Example::new(*t, Some(name))),
                    );
                }
                let full = fit(&tools, &tr, Some(&valid), &opts, &|_| {}, &abort)?;
                row["retrain_new_accuracy"] = accuracy(&full, &eval_new)?.into();
                row["retrain_old_accuracy"] = accuracy(&full, &eval_old)?.into();
            }
            eprintln!("seed {seed}: {row}");
            per_shot.push(row);
        }
        runs.push(serde_json::json!({
            "seed": seed, "held_out": new, "train_s": train_s, "tool_space_s": tool_space_s,
            "classic_old_accuracy": classic_old,
            "old_accuracy_before": old_before, "oos_recall_before": oos_before,
            "threshold": base.threshold(), "temperature": base.calibration().temperature,
            "shots": per_shot,
        }));
    }
    println!(
        "{}",
        serde_json::json!({"dataset": dir.file_name().map(|s| s.to_string_lossy().to_string()),
            "split": split, "held_out_per_seed": held, "runs": runs})
    );
    Ok(())
}
