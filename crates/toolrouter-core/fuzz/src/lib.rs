//! What the fuzz targets check, one function per target, each taking arbitrary bytes. A panic or
//! a failed assertion is a finding. The same functions run on the saved crashing inputs in
//! `crates/toolrouter-core/tests/fuzz_regressions.rs` (which includes this file by path), so a
//! fixed finding stays fixed without nightly or cargo-fuzz.
//!
//! * [`jsonl`]: the JSONL examples reader gives valid examples or `DATASET_INVALID` naming a line
//!   of the input.
//! * [`tools`]: the tools parser gives valid, uniquely named tools (which survive a JSON round
//!   trip) or `TOOLS_INVALID`.
//! * [`model`]: the model-file parser gives `MODEL_INVALID` / `MODEL_VERSION` or a router that
//!   routes; the first byte picks raw bytes or a mutation of a real (tiny) model file: truncated,
//!   overwritten at an offset, or one metadata field replaced.
//! * [`route`]: `route()` on arbitrary text (lossy UTF-8) returns a well-formed `Route`, and
//!   `route_batch` agrees with it.

use serde_json::Value;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use toolrouter_core::data::{parse_examples, parse_tools, parse_tools_bytes, read_examples};
use toolrouter_core::{fit, format, Error, Example, Route, Router, ToolSpec, TrainOptions};

/// Tools of the tiny model: typed arguments, so fuzzed text reaches the typed conversions.
const TOOLS: &str = r#"[
  {"name":"get_weather","description":"Weather forecast","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}},
  {"name":"set_timer","description":"Start a timer","parameters":{"type":"object","properties":{"minutes":{"type":"number"},"loud":{"type":"boolean"}}}},
  {"type":"function","function":{"name":"play_music","description":"Play music","parameters":{"type":"object","properties":{"genre":{"enum":["jazz","rock","pop"]},"artists":{"type":"array","items":{"type":"string"}}}}}}
]"#;

/// Texts every loaded model routes: ASCII (the lean tokenizer) and not (the full pipeline).
pub const SAMPLE_TEXTS: &[&str] = &[
    "",
    "weather in oslo for 3 days",
    "set a timer for ten minutes",
    "play some jazz by miles davis",
    "Wetter in Zürich? 🌧️",
    "مرحبا كيف حالك",
    "a\0b",
];

pub fn tiny_tools() -> &'static [ToolSpec] {
    static T: OnceLock<Vec<ToolSpec>> = OnceLock::new();
    T.get_or_init(|| parse_tools(TOOLS, Path::new("tools.json")).expect("the fuzz tools parse"))
}

fn tiny_examples() -> Vec<Example> {
    let mut lines = Vec::new();
    for (city, days) in [
        ("oslo", 2),
        ("paris", 3),
        ("lima", 5),
        ("rome", 7),
        ("bern", 1),
    ] {
        lines.push(format!(
            r#"{{"text":"weather in {city} for {days} days","tool":"get_weather","args":{{"city":"{city}","days":"{days}"}}}}"#
        ));
        lines.push(format!(
            r#"{{"text":"will it rain in {city}","tool":"get_weather","args":{{"city":"{city}"}}}}"#
        ));
    }
    for n in ["five", "ten", "2", "30", "twenty"] {
        lines.push(format!(
            r#"{{"text":"set a timer for {n} minutes","tool":"set_timer","args":{{"minutes":"{n}"}}}}"#
        ));
        lines.push(format!(
            r#"{{"text":"loud alarm in {n} minutes","tool":"set_timer","args":{{"minutes":"{n}"}}}}"#
        ));
    }
    for (genre, who) in [
        ("jazz", "miles"),
        ("rock", "queen"),
        ("pop", "abba"),
        ("jazz", "nina"),
        ("rock", "muse"),
    ] {
        lines.push(format!(
            r#"{{"text":"play some {genre} by {who}","tool":"play_music","args":{{"genre":"{genre}","artists":"{who}"}}}}"#
        ));
        lines.push(format!(
            r#"{{"text":"put on {genre}","tool":"play_music","args":{{"genre":"{genre}"}}}}"#
        ));
    }
    for t in [
        "tell me a joke",
        "who are you",
        "what is love",
        "how old are you",
    ] {
        lines.push(format!(r#"{{"text":"{t}","tool":null}}"#));
    }
    parse_examples(
        &lines.join("\n"),
        Path::new("train.jsonl"),
        Some(tiny_tools()),
    )
    .expect("the fuzz examples parse")
}

/// Settings for a model of a few kilobytes that trains in well under a second.
pub fn tiny_options() -> TrainOptions {
    TrainOptions {
        d_model: 8,
        layers: 1,
        heads: 2,
        max_tokens: 16,
        // Its own 64-token vocabulary, not the 30k-token pretrained table: the file stays small
        // enough to cut at every byte.
        pretrained: "none".into(),
        vocab_size: 64,
        d_bag: 8,
        max_features: 256,
        min_df: 1,
        epochs: 4,
        patience: 4,
        valid_fraction: 0.0,
        seed: 3,
        ..TrainOptions::default()
    }
}

/// The tiny router, trained once per process.
pub fn tiny_router() -> &'static Router {
    static R: OnceLock<Router> = OnceLock::new();
    R.get_or_init(|| {
        let abort = AtomicBool::new(false);
        fit(
            tiny_tools(),
            &tiny_examples(),
            None,
            &tiny_options(),
            &|_| {},
            &abort,
        )
        .expect("the tiny model trains")
    })
}

/// The tiny router's model file.
pub fn tiny_model_bytes() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| format::to_bytes(tiny_router()).expect("the tiny model serialises"))
}

// ------------------------------------------------------------------------------------------------
// Targets
// ------------------------------------------------------------------------------------------------

pub fn jsonl(data: &[u8]) {
    let path = Path::new("fuzz.jsonl");
    let lines = data.split(|&b| b == b'\n').count();
    for tools in [None, Some(tiny_tools())] {
        match read_examples(data, path, tools) {
            Ok(examples) => {
                assert!(!examples.is_empty(), "Ok with no examples");
                assert!(examples.len() <= lines, "more examples than lines");
                for ex in &examples {
                    check_example(ex, tools);
                }
            }
            Err(Error::DatasetInvalid { line, .. }) => {
                assert!(line <= lines, "error names line {line} of {lines}")
            }
            Err(e) => panic!("unexpected error {}: {e}", e.code()),
        }
    }
}

fn check_example(ex: &Example, tools: Option<&[ToolSpec]>) {
    let n = ex.text.chars().count();
    for s in &ex.spans {
        assert!(
            s.start <= s.end && s.end <= n,
            "span {s:?} outside {n} chars"
        );
    }
    if let (Some(tools), Some(tool)) = (tools, &ex.tool) {
        assert!(tools.iter().any(|t| &t.name == tool), "unknown tool {tool}");
    }
    if let Some(tool) = &ex.tool {
        assert!(!tool.is_empty(), "empty tool name accepted");
    }
}

pub fn tools(data: &[u8]) {
    let path = Path::new("fuzz.json");
    match parse_tools_bytes(data, path) {
        Ok(tools) => {
            check_tools(&tools);
            // What was accepted is written back (the model file stores it) and read again.
            let json = serde_json::to_vec(&tools).expect("tools serialise");
            let back = parse_tools_bytes(&json, path).expect("accepted tools parse again");
            assert_eq!(back, tools, "tools change through a JSON round trip");
        }
        Err(e) => assert_eq!(e.code(), "TOOLS_INVALID", "{e}"),
    }
}

fn check_tools(tools: &[ToolSpec]) {
    assert!(!tools.is_empty(), "Ok with no tools");
    let mut names = std::collections::HashSet::new();
    for t in tools {
        assert!(!t.name.trim().is_empty(), "a tool with an empty name");
        assert!(names.insert(&t.name), "duplicate name {}", t.name);
        assert!(
            t.parameters.is_object(),
            "parameters of {} not an object",
            t.name
        );
    }
}

pub fn model(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return load_and_route(data);
    };
    let bytes = match mode % 4 {
        0 => rest.to_vec(),
        1 => {
            let m = tiny_model_bytes();
            m[..offset(rest) % (m.len() + 1)].to_vec()
        }
        2 => {
            let mut m = tiny_model_bytes().to_vec();
            let at = offset(rest) % m.len();
            let patch = rest.get(4..).unwrap_or_default();
            let end = (at + patch.len()).min(m.len());
            m[at..end].copy_from_slice(&patch[..end - at]);
            m
        }
        _ => {
            let Some((&which, value)) = rest.split_first() else {
                return;
            };
            with_metadata(tiny_model_bytes(), which, value)
        }
    };
    load_and_route(&bytes)
}

fn offset(b: &[u8]) -> usize {
    let mut x = [0u8; 4];
    for (d, s) in x.iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_le_bytes(x) as usize
}

/// `model` with one metadata field replaced: by the text `value`, or, for the JSON fields, by
/// the JSON with one key set to `value` parsed as JSON.
fn with_metadata(model: &[u8], which: u8, value: &[u8]) -> Vec<u8> {
    const FIELDS: [&str; 6] = [
        "format",
        "format_version",
        "config",
        "tokenizer",
        "tools",
        "training",
    ];
    let len = offset(&model[..8]);
    let mut header: Value = serde_json::from_slice(&model[8..8 + len]).expect("tiny model header");
    let field = FIELDS[usize::from(which) % FIELDS.len()];
    let text = String::from_utf8_lossy(value).into_owned();
    let Some(meta) = header
        .get_mut("__metadata__")
        .and_then(Value::as_object_mut)
    else {
        return model.to_vec();
    };
    let replaced = match (which / 6 % 2, meta.get(field).and_then(Value::as_str)) {
        (1, Some(json)) => match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(mut o)) if !o.is_empty() => {
                let keys: Vec<String> = o.keys().cloned().collect();
                let key = keys[usize::from(which) % keys.len()].clone();
                let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
                o.insert(key, v);
                Value::Object(o).to_string()
            }
            _ => text,
        },
        _ => text,
    };
    meta.insert(field.to_string(), Value::String(replaced));
    let mut json = header.to_string().into_bytes();
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&model[8 + len..]);
    out
}

/// A model file's bytes load into a router that routes, or fail with a model-file code.
pub fn load_and_route(bytes: &[u8]) {
    match format::from_bytes(bytes, Path::new("fuzz.toolrouter"), "cpu") {
        Ok(router) => {
            for text in SAMPLE_TEXTS {
                let r = router.route(text).unwrap_or_else(|e| {
                    panic!("a loaded model fails to route {text:?}: {} {e}", e.code())
                });
                check_route(&router, text, &r);
            }
        }
        Err(e) => assert!(
            matches!(e.code(), "MODEL_INVALID" | "MODEL_VERSION"),
            "unexpected error {}: {e}",
            e.code()
        ),
    }
}

pub fn route(data: &[u8]) {
    let router = tiny_router();
    let text = String::from_utf8_lossy(data);
    let r = router
        .route(&text)
        .unwrap_or_else(|e| panic!("route failed: {} {e}", e.code()));
    check_route(router, &text, &r);
    let batch = router
        .route_batch_threads(&[text.as_ref(), text.as_ref()], None, 2)
        .unwrap_or_else(|e| panic!("route_batch failed: {} {e}", e.code()));
    for b in &batch {
        assert_eq!(b.tool, r.tool);
        assert_eq!(
            b.confidence.to_bits(),
            r.confidence.to_bits(),
            "batch differs from route"
        );
        assert_eq!(b.spans, r.spans);
    }
}

/// What every route promises, whatever the text.
pub fn check_route(router: &Router, text: &str, r: &Route) {
    let names: Vec<&str> = router.tools().iter().map(|t| t.name.as_str()).collect();
    assert!(
        r.confidence.is_finite() && (0.0..=1.0 + 1e-9).contains(&r.confidence),
        "confidence {}",
        r.confidence
    );
    assert_eq!(r.abstained, r.tool.is_none());
    if let Some(t) = &r.tool {
        assert!(names.contains(&t.as_str()), "unknown tool {t}");
    }
    for a in &r.alternatives {
        assert!(
            names.contains(&a.tool.as_str()),
            "unknown alternative {}",
            a.tool
        );
        assert!(a.confidence.is_finite() && (0.0..=1.0 + 1e-9).contains(&a.confidence));
    }
    let n = text.chars().count();
    for s in &r.spans {
        assert!(
            s.start < s.end && s.end <= n,
            "span {s:?} outside {n} chars"
        );
        assert!(
            r.args.contains_key(&s.name),
            "span {} without an argument",
            s.name
        );
    }
    if r.tool.is_none() {
        assert!(
            r.args.is_empty() && r.spans.is_empty(),
            "arguments without a tool"
        );
    }
    if r.complete {
        assert!(r.tool.is_some() && r.missing.is_empty() && r.invalid.is_empty());
    }
}
