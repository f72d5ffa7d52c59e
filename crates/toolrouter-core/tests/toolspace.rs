//! Tools added and removed without retraining (issue 10): old routes stay as they were, an added
//! tool is routed to from its description or a few examples, with a calibrated confidence, and
//! a saved router keeps it. Trained on the bundled demo data with one tool held out.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use toolrouter_core::data::{load_examples, load_tools};
use toolrouter_core::toolspace_fit::{fit_tool_space, ToolSpaceOptions};
use toolrouter_core::{fit, format, Example, Reason, Result, Router, ToolSpec, TrainOptions};

const HELD: &str = "get_stock_price";

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo")
}

fn all_tools() -> Vec<ToolSpec> {
    load_tools(&demo().join("tools.json")).expect("demo tools")
}

fn held_tool() -> ToolSpec {
    all_tools()
        .into_iter()
        .find(|t| t.name == HELD)
        .expect("held-out tool")
}

fn split(file: &str) -> (Vec<Example>, Vec<Example>) {
    let rows = load_examples(&demo().join(file), Some(&all_tools())).expect("demo examples");
    rows.into_iter()
        .partition(|e| e.tool.as_deref() != Some(HELD))
}

/// The demo router without `get_stock_price`, classic and as a tool space; trained once.
fn routers() -> &'static (Router, Router) {
    static CELL: OnceLock<(Router, Router)> = OnceLock::new();
    CELL.get_or_init(|| {
        let tools: Vec<ToolSpec> = all_tools().into_iter().filter(|t| t.name != HELD).collect();
        let (train, _) = split("train.jsonl");
        let opts = TrainOptions {
            d_model: 32,
            layers: 1,
            heads: 2,
            epochs: 15,
            pretrained: "minilm".into(),
            // What `fit_with_tool_space` picks for a tool space (this test calls the two stages
            // itself, to set the tool-space stage's own options).
            freeze_pretrained: Some(true),
            // The recall floors below were written for this trajectory, which swapped no values
            // (the library's default until 2026-12-07). On this small set the held-out tool's
            // recall moves far with the seed either way (examples/toolspace_seeds.rs).
            value_swap: 0.0,
            seed: 3,
            ..TrainOptions::default()
        };
        let abort = AtomicBool::new(false);
        let classic = fit(&tools, &train, None, &opts, &|_| {}, &abort).expect("fit");
        let ts = ToolSpaceOptions {
            epochs: 6,
            ..ToolSpaceOptions::default()
        };
        let space = fit_tool_space(&classic, &train, None, &ts, &abort).expect("tool space");
        (classic, space)
    })
}

fn texts(rows: &[Example]) -> Vec<&str> {
    rows.iter().map(|e| e.text.as_str()).collect()
}

/// Share of `rows` (all for `HELD`) that `router` routes to it, best label, no threshold.
fn recall(router: &Router, rows: &[Example]) -> Result<f64> {
    let hits = router
        .logits(&texts(rows))?
        .iter()
        .filter(|z| {
            let best = (0..z.len()).max_by(|&a, &b| z[a].total_cmp(&z[b]));
            best.and_then(|b| router.tools().get(b))
                .map(|t| t.name.as_str())
                == Some(HELD)
        })
        .count();
    Ok(hits as f64 / rows.len() as f64)
}

#[test]
fn adding_and_removing_a_tool_leaves_the_old_tools_scores_as_they_were() -> Result<()> {
    let (_, space) = routers();
    let (old, _) = split("test.jsonl");
    let mut r = space.clone();
    let before = r.logits(&texts(&old))?;
    let n = r.tools().len();
    r.add_tool(held_tool(), &["what's AAPL trading at"])?;
    assert_eq!(r.tools().len(), n + 1);
    assert_eq!(r.tools()[n].name, HELD);
    let with = r.logits(&texts(&old))?;
    for (a, b) in before.iter().zip(&with) {
        // Old tools keep their columns; "none" moves one to the right.
        assert_eq!(&a[..n], &b[..n]);
        assert_eq!(a[n..], b[n + 1..]);
    }
    r.remove_tool(HELD)?;
    assert_eq!(r.logits(&texts(&old))?, before);
    assert!(!r.replay().iter().any(|e| e.tool.as_deref() == Some(HELD)));
    Ok(())
}

#[test]
fn a_tool_space_routes_to_an_added_tool_from_its_description_alone() -> Result<()> {
    let (classic, space) = routers();
    let (_, new) = split("test.jsonl");
    let mut r = space.clone();
    r.add_tool(held_tool(), &[] as &[&str])?;
    // The default margin favours the 13 trained tools (0.38 when written; 0.75 with no margin).
    let zero_shot = recall(&r, &new)?;
    assert!(zero_shot >= 0.3, "zero-shot recall {zero_shot}");
    // The classic head has no tool encoder: its ridge fallback does worse.
    let mut c = classic.clone();
    c.add_tool(held_tool(), &[] as &[&str])?;
    assert!(recall(&c, &new)? < zero_shot);
    Ok(())
}

#[test]
fn a_few_examples_make_an_added_tool_win_with_a_calibrated_confidence() -> Result<()> {
    let (_, space) = routers();
    let (_, new_train) = split("train.jsonl");
    let (_, new) = split("test.jsonl");
    let shots: Vec<&str> = texts(&new_train).into_iter().take(5).collect();
    let mut r = space.clone();
    r.add_tool(held_tool(), &shots)?;
    // 0.62 when written (1.0 with no margin, where the tool also took 11 of the 22
    // out-of-scope requests the router left to the LLM: see below).
    let five_shot = recall(&r, &new)?;
    assert!(five_shot >= 0.55, "5-shot recall {five_shot}");
    let mut zero = space.clone();
    zero.add_tool(held_tool(), &[] as &[&str])?;
    assert!(five_shot > recall(&zero, &new)?);
    // Confidence is the calibrated softmax, and the fitted threshold still decides.
    let k = r.tools().len() - 1;
    let routes = r.route_batch(&texts(&new))?;
    // The best tool, answered or not: on this small router the added tool's requests sit near
    // the threshold (0.49 at most since calibration stopped sharpening; before, at T = 0.32, 9
    // requests went to it at the threshold and 4 of them were another tool's).
    let (text, route) = texts(&new)
        .into_iter()
        .zip(&routes)
        .find(|(_, x)| match &x.tool {
            Some(t) => t == HELD,
            None => {
                x.reason == Reason::LowConfidence
                    && x.alternatives.first().map(|a| a.tool.as_str()) == Some(HELD)
            }
        })
        .expect("a request whose best tool is the added one");
    let p = r.probabilities(&[text])?.remove(0);
    // route_batch stacks requests in one forward pass: the f32 sums run in another order
    // (2.3e-6 apart on an AVX-512 machine, where 1e-6 failed).
    assert!(
        (route.confidence - p[k]).abs() < 1e-5,
        "{text}: {} vs {}",
        route.confidence,
        p[k]
    );
    assert_eq!(
        route.tool.is_some(),
        route.confidence >= r.threshold(),
        "{route:?} threshold {}",
        r.threshold()
    );
    assert!(routes.iter().all(|x| x.tool.is_some()
        || x.confidence < r.threshold()
        || x.reason == Reason::OutOfScope));
    // Requests no tool serves still go to the LLM: adding the tool takes at most three of the
    // 25 out-of-scope test requests from it.
    let all = load_examples(&demo().join("test.jsonl"), Some(&all_tools()))?;
    let oos: Vec<&str> = all
        .iter()
        .filter(|e| e.tool.is_none())
        .map(|e| e.text.as_str())
        .collect();
    let left = |r: &Router| -> Result<usize> {
        Ok(r.route_batch(&oos)?
            .iter()
            .filter(|x| x.tool.is_none())
            .count())
    };
    let (before, after) = (left(space)?, left(&r)?);
    assert!(
        after + 3 >= before,
        "out of scope left to the LLM: {before} -> {after} of {}",
        oos.len()
    );
    let off = r.route("tell me a joke")?;
    assert!(off.tool.is_none(), "{off:?}");
    assert!(matches!(
        off.reason,
        Reason::OutOfScope | Reason::LowConfidence
    ));
    Ok(())
}

#[test]
fn a_saved_router_keeps_its_added_tool_and_routes_the_same() -> Result<()> {
    let (_, space) = routers();
    let (_, new) = split("test.jsonl");
    let mut r = space.clone();
    r.add_tool(
        held_tool(),
        &["price of TSLA shares", "how is MSFT stock doing"],
    )?;
    let bytes = format::to_bytes(&r)?;
    let back = format::from_bytes(&bytes, Path::new("mem"), "cpu")?;
    assert_eq!(back.tools().last().map(|t| t.name.as_str()), Some(HELD));
    assert_eq!(back.config().n_labels, r.config().n_labels);
    assert_eq!(back.config().tool_args.len(), back.tools().len());
    // The tagger knows `ticker` from no other tool, so the new tool takes no argument from it.
    assert_eq!(back.config().tool_args.last(), Some(&Vec::new()));
    let t = texts(&new);
    assert_eq!(back.logits(&t)?, r.logits(&t)?);
    assert_eq!(
        back.replay()
            .iter()
            .filter(|e| e.tool.as_deref() == Some(HELD))
            .count(),
        2
    );
    // Adding again replaces it rather than adding a second one.
    let mut again = back;
    again.add_tool(held_tool(), &[] as &[&str])?;
    assert_eq!(again.tools().len(), r.tools().len());
    Ok(())
}

#[test]
fn bad_adds_and_removes_are_invalid_arguments_and_change_nothing() -> Result<()> {
    let (_, space) = routers();
    let mut r = space.clone();
    let n = r.tools().len();
    let code = |e: toolrouter_core::Error| e.code();
    assert_eq!(
        r.remove_tool("no_such_tool").map_err(code),
        Err("INVALID_ARGUMENT")
    );
    let mut nameless = held_tool();
    nameless.name = " ".into();
    assert_eq!(
        r.add_tool(nameless, &[] as &[&str]).map_err(code),
        Err("INVALID_ARGUMENT")
    );
    assert_eq!(
        r.add_tool(held_tool(), &["", "price of gold"])
            .map_err(code),
        Err("INVALID_ARGUMENT")
    );
    assert_eq!(r.tools().len(), n);
    let mut one = r.clone();
    let names: Vec<String> = one.tools().iter().map(|t| t.name.clone()).collect();
    for name in &names[1..] {
        one.remove_tool(name)?;
    }
    assert_eq!(
        one.remove_tool(&names[0]).map_err(code),
        Err("INVALID_ARGUMENT")
    );
    Ok(())
}

/// `bytes` (a model file) with the tensor `name` replaced by `values` of `shape`, when given,
/// and its metadata edited by `edit`.
fn rewritten(
    bytes: &[u8],
    tensor: Option<(&str, &[usize], &[f32])>,
    edit: impl FnOnce(&mut std::collections::HashMap<String, String>),
) -> Vec<u8> {
    use safetensors::tensor::{SafeTensors, TensorView};
    let (_, meta) = SafeTensors::read_metadata(bytes).expect("metadata");
    let st = SafeTensors::deserialize(bytes).expect("tensors");
    let data: Vec<u8> = tensor
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .unwrap_or_default();
    let mut views: Vec<(String, TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| tensor.is_none_or(|(name, ..)| n != name))
        .collect();
    if let Some((name, shape, _)) = tensor {
        let view = TensorView::new(safetensors::Dtype::F32, shape.to_vec(), &data).expect("view");
        views.push((name.to_string(), view));
    }
    let mut md = meta.metadata().clone().unwrap_or_default();
    edit(&mut md);
    safetensors::serialize(views, Some(md)).expect("serialize")
}

fn load_error(bytes: &[u8]) -> toolrouter_core::Error {
    match format::from_bytes(bytes, Path::new("bad.toolrouter"), "cpu") {
        Ok(_) => panic!("the edited file loaded"),
        Err(e) => e,
    }
}

#[test]
fn a_file_whose_tool_space_tensors_have_the_wrong_shape_is_model_invalid() -> Result<()> {
    use toolrouter_core::toolspace_fit::{PROJ_SCALE, PROJ_WEIGHT};
    let (_, space) = routers();
    let bytes = format::to_bytes(space)?;
    assert!(format::from_bytes(&bytes, Path::new("mem"), "cpu").is_ok());
    for (name, shape) in [(PROJ_SCALE, vec![1]), (PROJ_WEIGHT, vec![2, 2])] {
        let n = shape.iter().product::<usize>();
        let bad = rewritten(&bytes, Some((name, &shape, &vec![0.5; n])), |_| {});
        let err = load_error(&bad);
        assert_eq!(err.code(), "MODEL_INVALID", "{name}: {err}");
    }
    Ok(())
}

#[test]
fn a_file_whose_replay_examples_are_bad_is_model_invalid() -> Result<()> {
    let (classic, _) = routers();
    assert!(!classic.replay().is_empty());
    let bytes = format::to_bytes(classic)?;
    let bad = rewritten(&bytes, None, |md| {
        let mut replay: serde_json::Value =
            serde_json::from_str(&md["replay"]).expect("replay JSON");
        replay[0]["spans"] = serde_json::json!([{"name": "city", "start": 0, "end": 9999}]);
        md.insert("replay".into(), replay.to_string());
    });
    let err = load_error(&bad);
    assert_eq!(err.code(), "MODEL_INVALID");
    assert!(err.to_string().contains("replay"), "{err}");
    Ok(())
}

#[test]
fn adding_a_trained_tool_again_replaces_its_spec_and_keeps_its_trained_row() -> Result<()> {
    let (_, space) = routers();
    let (old, _) = split("test.jsonl");
    let mut r = space.clone();
    let before = r.logits(&texts(&old))?;
    let weather = r
        .tools()
        .iter()
        .find(|t| t.name == "get_weather")
        .cloned()
        .expect("a trained tool");
    let kept = |r: &Router| {
        r.replay()
            .iter()
            .filter(|e| e.tool.as_deref() == Some("get_weather"))
            .count()
    };
    let n_kept = kept(&r);
    assert!(n_kept > 0);
    let new_spec = ToolSpec {
        description: "Weather forecast for a city, today or this week".into(),
        ..weather
    };
    r.add_tool(new_spec.clone(), &["is it sunny in Lima"])?;
    // Until 2026-12-07 its row was rebuilt from its text, and its kept examples dropped.
    assert_eq!(r.logits(&texts(&old))?, before);
    assert_eq!(kept(&r), (n_kept + 1).min(32));
    let now = r.tools().iter().find(|t| t.name == "get_weather");
    assert_eq!(now.map(|t| &t.description), Some(&new_spec.description));
    assert!(r.training().added.is_empty());
    Ok(())
}

#[test]
fn an_added_tool_keeps_at_most_32_examples() -> Result<()> {
    let (_, space) = routers();
    let mut r = space.clone();
    let many: Vec<String> = (0..40)
        .map(|i| format!("price of stock number {i}"))
        .collect();
    r.add_tool(held_tool(), &many)?;
    r.add_tool(held_tool(), &many)?;
    let kept = r
        .replay()
        .iter()
        .filter(|e| e.tool.as_deref() == Some(HELD))
        .count();
    assert_eq!(kept, 32);
    assert_eq!(r.training().added, vec![HELD.to_string()]);
    Ok(())
}

#[test]
fn a_classic_router_routes_the_same_after_adding_tools_and_a_save_and_load() -> Result<()> {
    // Its ridge map is fitted on the first add and refitted after a load: on trained tools only,
    // so that both fits agree (the refit used to take in the rows of tools added before).
    let (classic, _) = routers();
    let (_, new_train) = split("train.jsonl");
    let (old, new) = split("test.jsonl");
    let shots: Vec<&str> = texts(&new_train).into_iter().take(5).collect();
    let mut r = classic.clone();
    r.add_tool(held_tool(), &shots)?;
    let news = ToolSpec {
        name: "get_news".into(),
        description: "Latest news headlines on a topic".into(),
        parameters: serde_json::json!({"type": "object", "properties": {"topic": {"type": "string"}}}),
    };
    let bytes = format::to_bytes(&r)?;
    let mut back = format::from_bytes(&bytes, Path::new("mem"), "cpu")?;
    r.add_tool(news.clone(), &["what's new in sports"])?;
    back.add_tool(news, &["what's new in sports"])?;
    let t: Vec<&str> = texts(&old).into_iter().chain(texts(&new)).collect();
    assert_eq!(back.logits(&t)?, r.logits(&t)?);
    Ok(())
}

#[test]
fn a_model_keeps_the_normaliser_it_was_trained_with() -> Result<()> {
    let (classic, _) = routers();
    // Trained on the pretrained table: accents stripped as its vocabulary was built.
    assert_eq!(classic.config().normalizer, "bert");
    let bytes = format::to_bytes(classic)?;
    let with = |value: Option<&str>| {
        rewritten(&bytes, None, |md| {
            let mut cfg: serde_json::Value =
                serde_json::from_str(&md["config"]).expect("config JSON");
            match value {
                Some(v) => cfg["normalizer"] = serde_json::json!(v),
                None => {
                    cfg.as_object_mut().expect("object").remove("normalizer");
                }
            }
            md.insert("config".into(), cfg.to_string());
        })
    };
    // A file written before the field: NFKC and lower case, as it was trained.
    let old = format::from_bytes(&with(None), Path::new("old"), "cpu")?;
    assert_eq!(old.config().normalizer, "");
    let t = ["weather in Zürich", "weather in zurich"];
    assert_ne!(old.logits(&t)?, classic.logits(&t)?);
    let err = load_error(&with(Some("nfd")));
    assert_eq!(err.code(), "MODEL_INVALID");
    assert!(err.to_string().contains("normalizer"), "{err}");
    Ok(())
}
