//! Cross-module behaviour: training, routing, saving and loading, and the file errors.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use toolrouter_core::data::{parse_examples, parse_tools};
use toolrouter_core::{fit, format, Error, Example, Router, TrainOptions};

fn tools() -> Vec<toolrouter_core::ToolSpec> {
    parse_tools(
        r#"[{"name":"get_weather","description":"Weather forecast","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},
            {"name":"play_music","description":"Play music"},
            {"name":"set_timer","description":"Start a timer"}]"#,
        Path::new("tools.json"),
    )
    .unwrap()
}

fn examples() -> Vec<Example> {
    let mut lines = Vec::new();
    for city in [
        "oslo", "paris", "rome", "lima", "tokyo", "cairo", "quito", "bern",
    ] {
        lines.push(format!(
            r#"{{"text":"what is the weather in {city}","tool":"get_weather"}}"#
        ));
        lines.push(format!(
            r#"{{"text":"will it rain in {city} tomorrow","tool":"get_weather"}}"#
        ));
    }
    for artist in [
        "abba", "queen", "adele", "drake", "bjork", "prince", "sade", "muse",
    ] {
        lines.push(format!(
            r#"{{"text":"play some {artist}","tool":"play_music"}}"#
        ));
        lines.push(format!(
            r#"{{"text":"put on music by {artist}","tool":"play_music"}}"#
        ));
    }
    for n in [
        "five", "ten", "two", "three", "four", "six", "nine", "eight",
    ] {
        lines.push(format!(
            r#"{{"text":"set a timer for {n} minutes","tool":"set_timer"}}"#
        ));
        lines.push(format!(
            r#"{{"text":"count down {n} minutes","tool":"set_timer"}}"#
        ));
    }
    for t in [
        "tell me a joke",
        "who are you",
        "what is love",
        "sing me a song of love",
        "how old are you",
    ] {
        lines.push(format!(r#"{{"text":"{t}","tool":null}}"#));
    }
    parse_examples(&lines.join("\n"), Path::new("train.jsonl"), Some(&tools())).unwrap()
}

fn small() -> TrainOptions {
    TrainOptions {
        d_model: 32,
        layers: 1,
        heads: 2,
        epochs: 40,
        patience: 40,
        valid_fraction: 0.0,
        seed: 7,
        ..TrainOptions::default()
    }
}

/// The index of argument `name` in the router's tagger.
fn arg_index(router: &Router, name: &str) -> u32 {
    router
        .config()
        .arg_names
        .iter()
        .position(|n| n == name)
        .expect("an argument of the router") as u32
}

fn train() -> Router {
    let abort = AtomicBool::new(false);
    fit(&tools(), &examples(), None, &small(), &|_| {}, &abort).unwrap()
}

#[test]
fn a_small_separable_set_is_fitted_to_100_percent() {
    let router = train();
    let m = router.evaluate(&examples()).unwrap();
    assert_eq!(m.accuracy, 1.0, "{m:?}");
    assert_eq!(m.oos_recall, Some(1.0));
    assert_eq!(
        router.route("weather in paris").unwrap().tool.as_deref(),
        Some("get_weather")
    );
}

#[test]
fn an_excluded_tool_is_never_chosen_and_its_mass_goes_to_the_others() {
    let router = train();
    let text = "what is the weather in oslo";
    let all = router.probabilities(&[text]).unwrap().remove(0);
    let r = router
        .route_excluding(text, Some(0.0), &["get_weather"])
        .unwrap();
    // The best of the rest, with its probability renormalised over the labels that remain.
    let best = (1..all.len())
        .max_by(|&a, &b| all[a].total_cmp(&all[b]))
        .unwrap();
    let want = all[best] / (1.0 - all[0]);
    assert!((r.confidence - want).abs() < 1e-9, "{r:?} {all:?}");
    assert_ne!(r.tool.as_deref(), Some("get_weather"));
    assert!(
        r.alternatives.iter().all(|a| a.tool != "get_weather"),
        "{r:?}"
    );
    // Excluding nothing (what `route_with` does) leaves the probabilities as they are.
    let plain = router.route_excluding(text, Some(0.0), &[]).unwrap();
    assert_eq!(plain.tool.as_deref(), Some("get_weather"));
    let top = all.iter().copied().fold(f64::MIN, f64::max);
    assert!((plain.confidence - top).abs() < 1e-12, "{plain:?} {all:?}");
    // Unknown names and excluding every tool are input errors naming the option.
    for bad in [vec!["nope"], vec!["get_weather", "play_music", "set_timer"]] {
        match router.route_excluding(text, None, &bad) {
            Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, "exclude"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn a_loaded_model_routes_exactly_as_the_saved_one() {
    let router = train();
    let dir = std::env::temp_dir().join(format!("toolrouter-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.toolrouter");
    router.save(&path).unwrap();
    let back = Router::load(&path).unwrap();
    for text in [
        "rain in lima?",
        "play queen",
        "timer ten minutes",
        "who are you",
        "",
    ] {
        let (a, b) = (router.route(text).unwrap(), back.route(text).unwrap());
        assert_eq!(a.tool, b.tool, "{text}");
        assert!((a.confidence - b.confidence).abs() < 1e-6, "{text}");
    }
    assert_eq!(back.tools(), router.tools());
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn word_shapes_are_off_unless_asked_for_and_survive_save_and_load() {
    let abort = AtomicBool::new(false);
    let mut mixed = examples();
    mixed.extend(
        parse_examples(
            r#"{"text":"What is the weather in Oslo","tool":"get_weather"}
{"text":"play some ABBA","tool":"play_music"}"#,
            Path::new("mixed.jsonl"),
            Some(&tools()),
        )
        .unwrap(),
    );
    let router = fit(&tools(), &mixed, None, &small(), &|_| {}, &abort).unwrap();
    assert_eq!(
        router.config().n_shapes,
        0,
        "off by default, capitals or not"
    );
    let on = TrainOptions {
        word_shapes: true,
        ..small()
    };
    let router = fit(&tools(), &mixed, None, &on, &|_| {}, &abort).unwrap();
    assert_eq!(
        router.config().n_shapes,
        toolrouter_core::tokenizer::N_SHAPES,
        "turned on"
    );
    let bytes = format::to_bytes(&router).unwrap();
    let back = format::from_bytes(&bytes, Path::new("shapes.toolrouter"), "cpu").unwrap();
    assert_eq!(back.config().n_shapes, router.config().n_shapes);
    let texts = [
        "Rain in LIMA?",
        "play Queen",
        "timer ten minutes",
        "",
        "who are you",
    ];
    assert_eq!(router.logits(&texts).unwrap(), back.logits(&texts).unwrap());
    // Shapes change what the model sees: the same words in other letter cases score otherwise.
    let cased = router.logits(&["PLAY SOME QUEEN"]).unwrap();
    let plain = router.logits(&["play some queen"]).unwrap();
    assert_ne!(cased, plain);
    assert_eq!(
        router.route("play some queen").unwrap().tool.as_deref(),
        Some("play_music")
    );
}

#[test]
fn training_with_the_same_seed_repeats() {
    let (a, b) = (train(), train());
    let (ra, rb) = (
        a.route("music by adele").unwrap(),
        b.route("music by adele").unwrap(),
    );
    assert_eq!(ra.confidence, rb.confidence);
}

#[test]
fn abort_stops_training_with_aborted() {
    let abort = AtomicBool::new(true);
    let e = fit(&tools(), &examples(), None, &small(), &|_| {}, &abort)
        .err()
        .unwrap();
    assert_eq!(e.code(), "ABORTED");
}

#[test]
fn unknown_tool_and_bad_options_are_invalid_arguments() {
    let abort = AtomicBool::new(false);
    let mut ex = examples();
    ex.push(Example::new("book a flight", Some("book_flight")));
    let e = fit(&tools(), &ex, None, &small(), &|_| {}, &abort)
        .err()
        .unwrap();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    assert!(e.to_string().contains("book_flight"), "{e}");
    let opts = TrainOptions {
        batch_size: 0,
        ..small()
    };
    let e = fit(&tools(), &examples(), None, &opts, &|_| {}, &abort)
        .err()
        .unwrap();
    assert!(e.to_string().contains("batchSize"), "{e}");
}

#[test]
fn bad_model_files_give_typed_errors() {
    let router = train();
    let bytes = format::to_bytes(&router).unwrap();
    let p = Path::new("m.toolrouter");
    // Missing file.
    let missing = format::load(Path::new("/nonexistent/dir/m.toolrouter"))
        .err()
        .unwrap();
    assert_eq!(missing.code(), "MODEL_NOT_FOUND");
    // Not a model at all.
    let e = format::from_bytes(b"hello world, not a model", p, "cpu")
        .err()
        .unwrap();
    assert_eq!(e.code(), "MODEL_INVALID");
    // Truncated anywhere: a sample of offsets across the whole file.
    let step = (bytes.len() / 97).max(1);
    for cut in (0..bytes.len()).step_by(step) {
        match format::from_bytes(&bytes[..cut], p, "cpu") {
            Err(Error::ModelInvalid { .. }) => {}
            other => panic!("cut at {cut}: {:?}", other.err().map(|e| e.code())),
        }
    }
    // A newer format version (this model started from the pretrained table: compact, version 2).
    let needle = b"\"format_version\":\"";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("version in header");
    let mut newer = bytes.clone();
    let one = at + needle.len();
    assert_eq!(
        newer[one],
        b'2',
        "{}",
        String::from_utf8_lossy(&newer[at..at + 24])
    );
    newer[one] = b'9';
    match format::from_bytes(&newer, p, "cpu") {
        Err(Error::ModelVersion { found: 9, .. }) => {}
        other => panic!("{:?}", other.err().map(|e| e.to_string())),
    }
}

#[test]
fn arguments_are_extracted_in_the_users_spelling() {
    // `args` without `spans`: the trainer locates each value in the text (case-insensitive).
    let mut lines = Vec::new();
    for city in [
        "oslo",
        "paris",
        "rome",
        "lima",
        "tokyo",
        "new york",
        "buenos aires",
        "hong kong",
        "delhi",
        "accra",
    ] {
        lines.push(format!(r#"{{"text":"what is the weather in {city}","tool":"get_weather","args":{{"city":"{city}"}}}}"#));
        lines.push(format!(r#"{{"text":"will it rain in {city} tomorrow","tool":"get_weather","args":{{"city":"{city}"}}}}"#));
    }
    for artist in [
        "abba", "queen", "adele", "drake", "bjork", "prince", "sade", "muse",
    ] {
        lines.push(format!(
            r#"{{"text":"play some {artist}","tool":"play_music","args":{{}}}}"#
        ));
    }
    lines.push(
        r#"{"text":"weather for my trip","tool":"get_weather","args":{"city":"somewhere"}}"#.into(),
    );
    let ex = parse_examples(&lines.join("\n"), Path::new("t.jsonl"), Some(&tools())).unwrap();
    let abort = AtomicBool::new(false);
    let router = fit(&tools(), &ex, None, &small(), &|_| {}, &abort).unwrap();
    let city = arg_index(&router, "city");
    // No example names two cities: a route keeps one, its surest span, never an array.
    assert!(router.config().single_args.contains(&city));
    let r = router
        .route("will it rain in oslo or in rome tomorrow")
        .unwrap();
    assert!(r.args.get("city").is_none_or(|v| v.is_string()), "{r:?}");
    assert!(r.spans.len() <= 1, "{r:?}");
    assert!(
        router
            .training()
            .warnings
            .iter()
            .any(|w| w.starts_with("1 training examples")),
        "{:?}",
        router.training().warnings
    );
    // Values keep the user's spelling (the model sees lower case).
    let r = router.route("What is the weather in PARIS").unwrap();
    assert_eq!(r.tool.as_deref(), Some("get_weather"));
    assert_eq!(
        r.args.get("city").and_then(|v| v.as_str()),
        Some("PARIS"),
        "{r:?}"
    );
    assert_eq!((r.spans[0].start, r.spans[0].end), (23, 28));
    // Arguments of other tools are never produced.
    let r = router.route("play some queen").unwrap();
    assert!(r.args.get("city").is_none(), "{r:?}");
}

#[test]
fn values_the_training_data_gives_side_by_side_stay_apart() {
    // Two cities in a row ("oslo" "rome", as ATIS gives "early" "morning"): routing keeps the
    // tagger's two spans instead of joining them into one value "oslo rome".
    let mut lines = Vec::new();
    let cities = [
        "oslo", "paris", "rome", "lima", "tokyo", "cairo", "quito", "bern",
    ];
    for (i, a) in cities.iter().enumerate() {
        let b = cities[(i + 3) % cities.len()];
        let text = format!("weather {a} {b} today");
        let (sa, sb) = (8, 8 + a.len() + 1);
        lines.push(format!(
            r#"{{"text":"{text}","tool":"get_weather","spans":[{{"name":"city","start":{sa},"end":{}}},{{"name":"city","start":{sb},"end":{}}}]}}"#,
            sa + a.len(),
            sb + b.len()
        ));
        lines.push(format!(
            r#"{{"text":"weather in {a}","tool":"get_weather","spans":[{{"name":"city","start":11,"end":{}}}]}}"#,
            11 + a.len()
        ));
    }
    for artist in ["abba", "queen", "adele", "drake", "bjork", "prince"] {
        lines.push(format!(
            r#"{{"text":"play some {artist}","tool":"play_music"}}"#
        ));
    }
    let ex = parse_examples(&lines.join("\n"), Path::new("t.jsonl"), Some(&tools())).unwrap();
    let abort = AtomicBool::new(false);
    let router = fit(&tools(), &ex, None, &small(), &|_| {}, &abort).unwrap();
    let city = arg_index(&router, "city");
    assert_eq!(router.config().adjacent_args, vec![city]);
    let r = router.route("weather oslo rome today").unwrap();
    assert_eq!(r.tool.as_deref(), Some("get_weather"));
    assert_eq!(
        r.args.get("city"),
        Some(&serde_json::json!(["oslo", "rome"])),
        "{r:?}"
    );
}

#[test]
fn the_fast_path_routes_as_candle_does() {
    // Trained models (two layers with arguments; the n-gram bag alone): the hand-written CPU
    // forward and candle's give the same logits to 1e-4 and the same routes.
    let abort = AtomicBool::new(false);
    let mut with_args = examples();
    with_args.extend(
        parse_examples(
            r#"{"text":"forecast for berlin please","tool":"get_weather","args":{"city":"berlin"}}
{"text":"is it sunny in lagos","tool":"get_weather","args":{"city":"lagos"}}"#,
            Path::new("more.jsonl"),
            Some(&tools()),
        )
        .unwrap(),
    );
    for opts in [
        TrainOptions {
            layers: 2,
            ..small()
        },
        TrainOptions {
            layers: 0,
            ..small()
        },
        TrainOptions {
            word_shapes: true,
            ..small()
        },
    ] {
        let mut router = fit(&tools(), &with_args, None, &opts, &|_| {}, &abort).unwrap();
        assert!(
            router.fast_path().is_some(),
            "attention on the CPU uses the fast path"
        );
        let texts = [
            "what is the weather in oslo",
            "forecast for madrid",
            "play music by queen please",
            "",
            "a much longer request that goes on and on about timers and music and weather in many cities",
            "ünïcödé 🎵 timer",
            "Forecast for MADRID, mail j.doe@corp.net at 94-1758",
        ];
        let fast_logits = router.logits(&texts).unwrap();
        let fast_routes = router.route_batch(&texts).unwrap();
        router.set_fast_path(false);
        assert!(router.fast_path().is_none());
        let slow_logits = router.logits(&texts).unwrap();
        let slow_routes = router.route_batch(&texts).unwrap();
        for (a, b) in fast_logits.iter().zip(&slow_logits) {
            let diff = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(
                diff < 1e-4,
                "layers {}: logits differ by {diff}",
                opts.layers
            );
        }
        for (a, b) in fast_routes.iter().zip(&slow_routes) {
            assert_eq!(a.tool, b.tool);
            assert_eq!(a.args, b.args);
            assert!((a.confidence - b.confidence).abs() < 1e-4);
        }
    }
}

#[test]
fn continued_training_adds_a_tool_and_keeps_the_old_ones() -> toolrouter_core::Result<()> {
    let base = train();
    // Through the file: the replay sample must survive save and load.
    let bytes = format::to_bytes(&base)?;
    let loaded = format::from_bytes(&bytes, Path::new("base.safetensors"), "cpu")?;
    assert_eq!(loaded.replay(), base.replay());
    assert!(!loaded.replay().is_empty());
    assert!(loaded.replay().len() < examples().len() + 1);

    let email = parse_tools(
        r#"[{"name":"send_email","description":"Send an email","parameters":{"type":"object","properties":{"to":{"type":"string"}}}}]"#,
        Path::new("tools.json"),
    )?;
    let lines: Vec<String> = [
        "anna", "bob", "carl", "dora", "emil", "fay", "gus", "hana",
    ]
    .iter()
    .flat_map(|n| {
        [
            format!(r#"{{"text":"send an email to {n}","tool":"send_email","args":{{"to":"{n}"}}}}"#),
            format!(r#"{{"text":"write a mail to {n} please","tool":"send_email","args":{{"to":"{n}"}}}}"#),
        ]
    })
    .collect();
    let all_tools: Vec<_> = tools().into_iter().chain(email.clone()).collect();
    let new = parse_examples(&lines.join("\n"), Path::new("new.jsonl"), Some(&all_tools))?;
    let abort = AtomicBool::new(false);
    let next =
        toolrouter_core::fit_from(Some(&loaded), &email, &new, None, &small(), &|_| {}, &abort)?;
    let names: Vec<&str> = next.tools().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["get_weather", "play_music", "set_timer", "send_email"]
    );
    assert_eq!(next.training().replayed, loaded.replay().len());
    // The shape came from the old model, not from the (default) options.
    assert_eq!(next.config().d_model, base.config().d_model);
    assert_eq!(next.config().vocab_size, base.config().vocab_size);
    // New tool learned, old tools still routed: every old example, not only the replayed ones.
    let old = next.evaluate(&examples())?;
    assert!(old.accuracy >= 0.95, "old tools: {}", old.accuracy);
    let fresh = next.evaluate(&new)?;
    assert!(fresh.accuracy >= 0.95, "new tool: {}", fresh.accuracy);
    let r = next.route("send an email to zoe")?;
    assert_eq!(r.tool.as_deref(), Some("send_email"));

    // With a learning rate of ~0 the continued model is the old one plus an untrained row:
    // the weights were carried over, not re-learned.
    let frozen = TrainOptions {
        epochs: 1,
        lr: 1e-12,
        bag_lr: 1e-12,
        ..small()
    };
    let same =
        toolrouter_core::fit_from(Some(&loaded), &email, &new, None, &frozen, &|_| {}, &abort)?;
    let text = ["will it rain in oslo tomorrow"];
    let (a, b) = (base.logits(&text)?, same.logits(&text)?);
    // Old labels: 3 tools then "none"; new: the same 3 tools, send_email, then "none".
    let close = |x: f32, y: f32| (x - y).abs() < 1e-4;
    assert!((0..3).all(|i| close(a[0][i], b[0][i])), "{a:?} vs {b:?}");
    assert!(close(a[0][3], b[0][4]), "{a:?} vs {b:?}");
    Ok(())
}

#[test]
fn pretrained_word_vectors_carry_words_the_examples_never_use() -> toolrouter_core::Result<()> {
    let abort = AtomicBool::new(false);
    // Frozen, so the saved table can be compared with the shipped one below.
    let opts = TrainOptions {
        pretrained: "minilm".into(),
        freeze_pretrained: Some(true),
        ..small()
    };
    let router = fit(&tools(), &examples(), None, &opts, &|_| {}, &abort)?;
    assert_eq!(router.config().pretrained, "minilm");
    // None of the content words here is in the training texts; the teacher's vectors place
    // them beside words that are ("rain", "music", "timer"). The tiny model also learned an
    // out-of-scope outcome, which takes some of them.
    let unseen = [
        ("is it snowing", "get_weather"),
        ("thunderstorms expected?", "get_weather"),
        ("how hot and humid today", "get_weather"),
        ("sunny or cloudy", "get_weather"),
        ("songs please", "play_music"),
        ("some jazz", "play_music"),
        ("listen to a playlist", "play_music"),
        ("my favourite album", "play_music"),
        ("stopwatch", "set_timer"),
        ("alarm clock", "set_timer"),
        ("countdown clock", "set_timer"),
        ("hourglass", "set_timer"),
    ];
    let right = |r: &Router| {
        unseen
            .iter()
            .filter(|(t, tool)| r.route(t).unwrap().tool.as_deref() == Some(*tool))
            .count()
    };
    // From scratch, the same small model gets 2 of these (measured); pretrained, 5.
    let from_texts = TrainOptions {
        pretrained: "none".into(),
        ..small()
    };
    let scratch = fit(&tools(), &examples(), None, &from_texts, &|_| {}, &abort)?;
    assert!(
        right(&router) >= 4 && right(&router) > right(&scratch),
        "pretrained {} of {}, from scratch {}",
        right(&router),
        unseen.len(),
        right(&scratch)
    );

    // Frozen: no row moved off the table, so the compact file stores none of them, and no
    // tokenizer (both come back from the table compiled into the library).
    let bytes = format::to_bytes(&router)?;
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert!(st.tensor("tok_emb.weight").is_err());
    assert_eq!(st.tensor("tok_emb.rows").unwrap().shape(), [0]);
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().as_ref().unwrap();
    assert!(!meta.contains_key("tokenizer"));
    // A full table and tokenizer would be 30522 x 32 x 4 bytes + ~700 KB.
    assert!(bytes.len() < 1_000_000, "{} bytes", bytes.len());
    let back = format::from_bytes(&bytes, Path::new("m.safetensors"), "cpu")?;
    assert_eq!(right(&back), right(&router));

    // Fine-tuned (the default): the rows training touched are stored, the others rebuilt; the
    // loaded model gives the same logits.
    let tuned = fit(&tools(), &examples(), None, &small(), &|_| {}, &abort)?;
    let bytes = format::to_bytes(&tuned)?;
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let rows = st.tensor("tok_emb.rows").unwrap().shape()[0];
    let vocab = tuned.config().vocab_size;
    assert!(
        rows > 10 && rows < vocab / 10,
        "{rows} of {vocab} rows stored"
    );
    let back = format::from_bytes(&bytes, Path::new("m.safetensors"), "cpu")?;
    let texts = [
        "is it snowing",
        "songs please",
        "set a timer for ten minutes",
    ];
    assert_eq!(back.logits(&texts)?, tuned.logits(&texts)?);

    // A stored row outside the table is MODEL_INVALID, not a panic.
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone();
    let d = tuned.config().d_model;
    let bad_row = (vocab as u32 + 5).to_le_bytes().to_vec();
    let delta = vec![0u8; d * 4];
    let mut views: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("tok_emb."))
        .collect();
    use safetensors::tensor::{Dtype, TensorView};
    views.push((
        "tok_emb.rows".into(),
        TensorView::new(Dtype::U32, vec![1], &bad_row).unwrap(),
    ));
    views.push((
        "tok_emb.delta".into(),
        TensorView::new(Dtype::F32, vec![1, d], &delta).unwrap(),
    ));
    let broken = safetensors::serialize(views, meta).unwrap();
    match format::from_bytes(&broken, Path::new("m.safetensors"), "cpu") {
        Err(Error::ModelInvalid { .. }) => {}
        other => panic!("{:?}", other.err().map(|e| e.to_string())),
    }
    Ok(())
}

#[test]
fn swapping_values_in_training_still_tags_them() {
    // value_swap = 1: every value of a training request is swapped for another city in each
    // step; the tags follow the swapped value, so the tagger still learns where a city is.
    let mut lines = Vec::new();
    for city in [
        "oslo", "paris", "rome", "lima", "tokyo", "cairo", "quito", "bern",
    ] {
        lines.push(format!(
            r#"{{"text":"what is the weather in {city}","tool":"get_weather","args":{{"city":"{city}"}}}}"#
        ));
        lines.push(format!(
            r#"{{"text":"will it rain in {city} tomorrow","tool":"get_weather","args":{{"city":"{city}"}}}}"#
        ));
    }
    for artist in ["abba", "queen", "adele", "drake", "bjork", "prince"] {
        lines.push(format!(
            r#"{{"text":"play some {artist}","tool":"play_music"}}"#
        ));
    }
    let ex = parse_examples(&lines.join("\n"), Path::new("t.jsonl"), Some(&tools())).unwrap();
    let abort = AtomicBool::new(false);
    let opts = TrainOptions {
        value_swap: 1.0,
        ..small()
    };
    let router = fit(&tools(), &ex, None, &opts, &|_| {}, &abort).unwrap();
    let r = router.route("will it rain in rome tomorrow").unwrap();
    assert_eq!(r.tool.as_deref(), Some("get_weather"));
    assert_eq!(
        r.args.get("city"),
        Some(&serde_json::json!("rome")),
        "{r:?}"
    );
    // Out of range is refused.
    let bad = TrainOptions {
        value_swap: 1.5,
        ..small()
    };
    assert!(matches!(
        fit(&tools(), &ex, None, &bad, &|_| {}, &abort),
        Err(Error::InvalidArgument { .. })
    ));
    let bad = TrainOptions {
        value_swap_any: -0.5,
        ..small()
    };
    assert!(matches!(
        fit(&tools(), &ex, None, &bad, &|_| {}, &abort),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn calibration_softens_but_never_sharpens_the_trained_confidences() -> toolrouter_core::Result<()> {
    // A validation set the router gets all right: the NLL alone would fit T under 1 and make
    // every answer look certain, also on phrasings the validation set does not have.
    let abort = AtomicBool::new(false);
    let valid = examples();
    let router = fit(
        &tools(),
        &examples(),
        Some(&valid),
        &small(),
        &|_| {},
        &abort,
    )?;
    let texts: Vec<&str> = valid.iter().map(|e| e.text.as_str()).collect();
    let labels: Vec<usize> = valid
        .iter()
        .map(|e| router.label_index(e.tool.as_deref()))
        .collect();
    let free = toolrouter_core::calibrate::fit_temperature(&router.logits(&texts)?, &labels);
    assert!(
        free < 1.0,
        "the unconstrained fit sharpens here: T = {free}"
    );
    assert_eq!(
        router.calibration().temperature,
        toolrouter_core::calibrate::MIN_TEMPERATURE
    );
    Ok(())
}

#[test]
fn a_missing_required_argument_takes_a_span_that_fits_its_type_within_the_margin() {
    let tools = parse_tools(
        r#"[{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
            {"name":"set_timer","parameters":{"type":"object","properties":{"minutes":{"type":"integer"}},"required":["minutes"]}}]"#,
        Path::new("tools.json"),
    )
    .unwrap();
    let mut lines = Vec::new();
    for city in [
        "oslo", "paris", "rome", "lima", "tokyo", "cairo", "quito", "bern",
    ] {
        lines.push(format!(r#"{{"text":"what is the weather in {city}","tool":"get_weather","args":{{"city":"{city}"}}}}"#));
        lines.push(format!(r#"{{"text":"will it rain in {city} tomorrow","tool":"get_weather","args":{{"city":"{city}"}}}}"#));
    }
    for n in ["5", "10", "2", "3", "4", "6", "9", "8"] {
        lines.push(format!(r#"{{"text":"set a timer for {n} minutes","tool":"set_timer","args":{{"minutes":{n}}}}}"#));
        lines.push(format!(
            r#"{{"text":"count down {n} minutes","tool":"set_timer","args":{{"minutes":{n}}}}}"#
        ));
    }
    let ex = parse_examples(&lines.join("\n"), Path::new("t.jsonl"), Some(&tools)).unwrap();
    let abort = AtomicBool::new(false);
    let mut router = fit(&tools, &ex, None, &small(), &|_| {}, &abort).unwrap();
    let route = |r: &Router, t: &str| r.route_with(t, Some(0.0)).unwrap();
    // Phrasings the tagger has not seen: the decoding leaves the argument out.
    router.set_fill_margin(None);
    for t in ["weather zagreb", "timer 15"] {
        let r = route(&router, t);
        assert!(
            r.args.is_empty() && r.missing.len() == 1 && !r.complete,
            "{r:?}"
        );
    }
    // At the default margin the tagger is too far from marking "zagreb" (for the record, not a
    // rule: this is what the margin is for; "now" in "zagreb weather now" does come within it).
    router.set_fill_margin(Some(toolrouter_core::router::FILL_MARGIN));
    assert_eq!(route(&router, "weather zagreb").missing, vec!["city"]);
    // Without a bound, the best free span that fits the type fills it, in the user's spelling.
    router.set_fill_margin(Some(f32::MAX));
    let r = route(&router, "weather Zagreb");
    assert_eq!(
        r.args.get("city").and_then(|v| v.as_str()),
        Some("Zagreb"),
        "{r:?}"
    );
    assert_eq!((r.spans[0].start, r.spans[0].end), (8, 14));
    assert!(r.complete && r.missing.is_empty(), "{r:?}");
    // An integer argument only takes a span that converts to an integer.
    let r = route(&router, "timer 15");
    assert_eq!(r.args.get("minutes"), Some(&serde_json::json!(15)), "{r:?}");
    assert!(r.complete, "{r:?}");
}

#[test]
fn out_of_scope_validation_rows_train_when_training_has_none() {
    // The validation rows with `tool: null` have no output of their own: they count as wrong
    // instead of indexing past the logits (this was an INTERNAL error after the first epoch).
    let abort = AtomicBool::new(false);
    let (oos, train): (Vec<Example>, Vec<Example>) =
        examples().into_iter().partition(|e| e.tool.is_none());
    let valid: Vec<Example> = train.iter().step_by(4).cloned().chain(oos).collect();
    let opts = TrainOptions {
        epochs: 3,
        ..small()
    };
    let router = fit(&tools(), &train, Some(&valid), &opts, &|_| {}, &abort).unwrap();
    let t = router.training();
    assert!(t.valid_loss.is_some_and(f64::is_finite), "{t:?}");
    // 12 in-scope rows of 17: the 5 out-of-scope ones can only be wrong.
    assert!(t.valid_accuracy.unwrap() <= 12.0 / 17.0 + 1e-9, "{t:?}");
    assert!(t.warnings.iter().any(|w| w.contains("out-of-scope rows")));
}

#[test]
fn a_diverging_run_is_training_diverged_not_a_router_that_cannot_be_loaded() {
    let abort = AtomicBool::new(false);
    let opts = TrainOptions {
        epochs: 2,
        lr: 1e6,
        ..small()
    };
    let Err(e) = fit(&tools(), &examples(), None, &opts, &|_| {}, &abort) else {
        panic!("a learning rate of 1e6 trained");
    };
    assert_eq!(e.code(), "TRAINING_DIVERGED", "{e}");
}

#[test]
fn without_validation_rows_no_validation_loss_is_reported() {
    let abort = AtomicBool::new(false);
    let opts = TrainOptions {
        epochs: 2,
        ..small()
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let router = fit(
        &tools(),
        &examples(),
        None,
        &opts,
        &|p| seen.lock().unwrap().push(p.valid_loss),
        &abort,
    )
    .unwrap();
    assert_eq!(router.training().valid_examples, 0);
    assert_eq!(router.training().valid_loss, None);
    assert!(seen.lock().unwrap().iter().all(Option::is_none));
}

#[test]
fn one_tool_without_out_of_scope_examples_is_warned_about() {
    let abort = AtomicBool::new(false);
    let weather: Vec<Example> = examples()
        .into_iter()
        .filter(|e| e.tool.as_deref() == Some("get_weather"))
        .collect();
    let opts = TrainOptions {
        epochs: 2,
        ..small()
    };
    let one = &tools()[..1];
    let router = fit(one, &weather, None, &opts, &|_| {}, &abort).unwrap();
    assert!(
        router
            .training()
            .warnings
            .iter()
            .any(|w| w.contains("one tool and no out-of-scope")),
        "{:?}",
        router.training().warnings
    );
    // With out-of-scope examples there is something to learn: no such warning.
    let mut both = weather.clone();
    both.extend(examples().into_iter().filter(|e| e.tool.is_none()));
    let router = fit(one, &both, None, &opts, &|_| {}, &abort).unwrap();
    assert!(!router
        .training()
        .warnings
        .iter()
        .any(|w| w.contains("one tool")));
}

#[test]
fn the_tool_space_refuses_a_gru_before_training_and_reports_done_last() {
    use toolrouter_core::toolspace_fit::{fit_with_tool_space, ToolSpaceOptions};
    let abort = AtomicBool::new(false);
    let phases = std::sync::Mutex::new(Vec::new());
    let gru = TrainOptions {
        architecture: "gru".into(),
        epochs: 2,
        ..small()
    };
    let ts = ToolSpaceOptions {
        epochs: 1,
        ..ToolSpaceOptions::default()
    };
    let record = |p: &toolrouter_core::Progress| phases.lock().unwrap().push(p.phase);
    let Err(e) = fit_with_tool_space(
        None,
        &tools(),
        &examples(),
        None,
        &gru,
        Some(&ts),
        &record,
        &abort,
    ) else {
        panic!("a GRU tool space trained");
    };
    assert_eq!(e.code(), "INVALID_ARGUMENT", "{e}");
    assert!(phases.lock().unwrap().is_empty(), "trained before refusing");
    let opts = TrainOptions {
        epochs: 2,
        valid_fraction: 0.2,
        ..small()
    };
    let r = fit_with_tool_space(
        None,
        &tools(),
        &examples(),
        None,
        &opts,
        Some(&ts),
        &record,
        &abort,
    )
    .unwrap();
    let phases = phases.lock().unwrap();
    assert_eq!(phases.iter().filter(|p| **p == "done").count(), 1);
    assert_eq!(phases.last(), Some(&"done"));
    // The rows the stage calibrated on were held out of both stages.
    assert!(r.training().valid_examples > 0);
}
