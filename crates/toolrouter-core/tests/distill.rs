//! Distillation end to end with a tiny random BERT as the teacher (the real one,
//! all-MiniLM-L6-v2, is 90 MB and fetched by a script; these tests need no download).

use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use toolrouter_core::data::{parse_examples, parse_tools};
use toolrouter_core::distill::TeacherOptions;
use toolrouter_core::teacher::Teacher;
use toolrouter_core::{fit, Example, ToolSpec, TrainOptions};

const HIDDEN: usize = 8;

/// Writes a 1-layer, 8-wide BERT with random weights and the MiniLM tokenizer into `dir`.
fn tiny_teacher(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let tok = &toolrouter_core::pretrained::table("minilm")
        .unwrap()
        .tokenizer;
    let vocab = tok.get_vocab_size(true);
    tok.save(dir.join("tokenizer.json"), false).unwrap();
    let cfg = serde_json::json!({
        "hidden_size": HIDDEN, "intermediate_size": 16, "vocab_size": vocab,
        "num_attention_heads": 2, "num_hidden_layers": 1, "max_position_embeddings": 64,
        "type_vocab_size": 2, "layer_norm_eps": 1e-12
    });
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let dev = Device::Cpu;
    let mut w: HashMap<String, Tensor> = HashMap::new();
    let mut put = |name: &str, shape: &[usize]| {
        let t = Tensor::randn(0f32, 0.5, shape, &dev).unwrap();
        w.insert(name.to_string(), t);
    };
    put("embeddings.word_embeddings.weight", &[vocab, HIDDEN]);
    put("embeddings.position_embeddings.weight", &[64, HIDDEN]);
    put("embeddings.token_type_embeddings.weight", &[2, HIDDEN]);
    let p = "encoder.layer.0";
    for (n, o, i) in [
        ("attention.self.query", HIDDEN, HIDDEN),
        ("attention.self.key", HIDDEN, HIDDEN),
        ("attention.self.value", HIDDEN, HIDDEN),
        ("attention.output.dense", HIDDEN, HIDDEN),
        ("intermediate.dense", 16, HIDDEN),
        ("output.dense", HIDDEN, 16),
    ] {
        put(&format!("{p}.{n}.weight"), &[o, i]);
        put(&format!("{p}.{n}.bias"), &[o]);
    }
    let mut ones = |name: &str| {
        w.insert(
            format!("{name}.weight"),
            Tensor::ones(HIDDEN, DType::F32, &dev).unwrap(),
        );
        w.insert(
            format!("{name}.bias"),
            Tensor::zeros(HIDDEN, DType::F32, &dev).unwrap(),
        );
    };
    ones("embeddings.LayerNorm");
    ones(&format!("{p}.attention.output.LayerNorm"));
    ones(&format!("{p}.output.LayerNorm"));
    candle_core::safetensors::save(&w, dir.join("model.safetensors")).unwrap();
    dir.to_path_buf()
}

fn tools() -> Vec<ToolSpec> {
    parse_tools(
        r#"[{"name":"get_weather","description":"Weather"},{"name":"play_music","description":"Music"}]"#,
        Path::new("tools.json"),
    )
    .unwrap()
}

fn examples() -> Vec<Example> {
    let mut lines = Vec::new();
    for c in ["oslo", "paris", "rome", "lima", "tokyo", "cairo"] {
        lines.push(format!(
            r#"{{"text":"weather in {c} today","tool":"get_weather"}}"#
        ));
        lines.push(format!(
            r#"{{"text":"will it rain in {c}","tool":"get_weather"}}"#
        ));
    }
    for a in ["abba", "queen", "adele", "drake", "bjork", "muse"] {
        lines.push(format!(r#"{{"text":"play some {a}","tool":"play_music"}}"#));
        lines.push(format!(
            r#"{{"text":"put on songs by {a}","tool":"play_music"}}"#
        ));
    }
    parse_examples(&lines.join("\n"), Path::new("train.jsonl"), Some(&tools())).unwrap()
}

fn options(teacher: Option<&Path>) -> TrainOptions {
    TrainOptions {
        d_model: 32,
        layers: 1,
        heads: 2,
        epochs: 20,
        patience: 20,
        valid_fraction: 0.0,
        seed: 3,
        teacher: teacher.map(|t| TeacherOptions {
            dir: t.to_string_lossy().into(),
            augment: 2,
            ..Default::default()
        }),
        ..TrainOptions::default()
    }
}

#[test]
fn the_teacher_embeds_to_unit_vectors() {
    let dir = tiny_teacher(&std::env::temp_dir().join("toolrouter-tiny-teacher-a"));
    let t = Teacher::load(&dir, &Device::Cpu).unwrap();
    let rows = t
        .embed(&["play some jazz", "weather in oslo today", "x"])
        .unwrap();
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r.len(), HIDDEN);
        let n: f32 = r.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-4, "norm {n}");
    }
    assert_ne!(rows[0], rows[1]);
}

#[test]
fn distillation_trains_a_router_that_routes_and_differs_from_labels_alone() {
    let dir = tiny_teacher(&std::env::temp_dir().join("toolrouter-tiny-teacher-b"));
    let abort = AtomicBool::new(false);
    let seen = Mutex::new(Vec::new());
    let progress = |p: &toolrouter_core::Progress| {
        if p.phase == "distill" {
            seen.lock().unwrap().push((p.step, p.steps_per_epoch));
        }
    };
    let train = examples();
    let with = fit(
        &tools(),
        &train,
        None,
        &options(Some(&dir)),
        &progress,
        &abort,
    )
    .unwrap();
    let without = fit(&tools(), &train, None, &options(None), &|_| {}, &abort).unwrap();
    // The teacher embedded each text and its 2 augmented copies.
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.last(), Some(&(train.len() * 3, train.len() * 3)));
    let (a, b) = (
        with.route("will it rain in oslo").unwrap(),
        without.route("will it rain in oslo").unwrap(),
    );
    assert_eq!(a.tool.as_deref(), Some("get_weather"));
    assert_eq!(
        with.route("play some queen").unwrap().tool.as_deref(),
        Some("play_music")
    );
    assert!(
        (a.confidence - b.confidence).abs() > 1e-6,
        "distillation changed nothing: {} vs {}",
        a.confidence,
        b.confidence
    );
}

#[test]
fn a_missing_teacher_is_named_before_training() {
    let abort = AtomicBool::new(false);
    let gone = std::env::temp_dir().join("toolrouter-no-such-teacher");
    // With validation data too: the labels-alone run would come first, so the check must
    // precede it (no progress at all is reported).
    for valid_fraction in [0.0, 0.25] {
        let opts = TrainOptions {
            valid_fraction,
            ..options(Some(&gone))
        };
        let reported = Mutex::new(0usize);
        let progress = |_: &toolrouter_core::Progress| *reported.lock().unwrap() += 1;
        let err = fit(&tools(), &examples(), None, &opts, &progress, &abort)
            .err()
            .unwrap();
        assert_eq!(err.code(), "MODEL_NOT_FOUND");
        assert!(err.to_string().contains("config.json"), "{err}");
        assert_eq!(*reported.lock().unwrap(), 0);
    }
}

#[test]
fn with_validation_data_the_router_that_validates_better_is_kept() {
    let dir = tiny_teacher(&std::env::temp_dir().join("toolrouter-tiny-teacher-c"));
    let abort = AtomicBool::new(false);
    let opts = TrainOptions {
        valid_fraction: 0.25,
        ..options(Some(&dir))
    };
    let taught = fit(&tools(), &examples(), None, &opts, &|_| {}, &abort).unwrap();
    let report = taught.training().teacher.clone().unwrap();
    assert_eq!(report.used, report.valid_teacher > report.valid_labels);
    // The kept router's own validation score is the one the report gives it.
    let own = taught.training().valid_accuracy.unwrap();
    let expected = if report.used {
        report.valid_teacher
    } else {
        report.valid_labels
    };
    assert!((own - expected).abs() < 1e-9, "{own} vs {expected}");
    // `select: false` keeps the taught router without training the other: no report, and the
    // same model as the taught one above when that one was kept.
    let unselected = TrainOptions {
        teacher: opts
            .teacher
            .clone()
            .map(|t| TeacherOptions { select: false, ..t }),
        ..opts.clone()
    };
    let only = fit(&tools(), &examples(), None, &unselected, &|_| {}, &abort).unwrap();
    assert!(only.training().teacher.is_none());
    assert!((only.training().valid_accuracy.unwrap() - report.valid_teacher).abs() < 1e-9);
    // Without a teacher there is no report.
    let plain = fit(&tools(), &examples(), None, &options(None), &|_| {}, &abort).unwrap();
    assert!(plain.training().teacher.is_none());
}
