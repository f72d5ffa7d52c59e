//! Routes the first 256 requests of a JSONL file in a loop, for a profiler to sample:
//! `routeBatch` on `threads` threads (0: one `route()` at a time), for `seconds` seconds, and
//! prints the rate (for `route()`, also the median time of one call). How the README's
//! breakdown of `routeBatch` was taken:
//!
//! ```sh
//! CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=1 \
//!   cargo build --release -p toolrouter-core --example profile_routes
//! perf record --call-graph dwarf -F 2000 target/release/examples/profile_routes demo.toolrouter data/demo/train.jsonl 1
//! perf report --children
//! ```
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(model), Some(data)) = (args.first(), args.get(1)) else {
        return Err("usage: profile_routes MODEL JSONL [threads (0: route())] [seconds]".into());
    };
    let threads: usize = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let seconds: f64 = args.get(3).map_or(Ok(5.0), |s| s.parse())?;
    let router = toolrouter_core::format::load(Path::new(model))?;
    let rows = toolrouter_core::load_examples(Path::new(data), None)?;
    let texts: Vec<&str> = rows.iter().take(256).map(|e| e.text.as_str()).collect();
    let t0 = Instant::now();
    let mut n = 0usize;
    // route(): each call timed too, for a median that one slow stretch of a shared machine
    // does not move as it moves the mean.
    let mut each: Vec<f64> = Vec::new();
    while t0.elapsed().as_secs_f64() < seconds {
        if threads == 0 {
            for t in &texts {
                let start = Instant::now();
                std::hint::black_box(router.route(t)?);
                each.push(start.elapsed().as_secs_f64() * 1e6);
            }
            n += texts.len();
        } else {
            n += router.route_batch_threads(&texts, None, threads)?.len();
        }
    }
    let how = if threads == 0 {
        "route()".to_string()
    } else {
        format!("routeBatch({}) on {threads} thread(s)", texts.len())
    };
    each.sort_by(f64::total_cmp);
    let median = match each.get(each.len() / 2) {
        Some(m) => format!(", median {m:.2} µs"),
        None => String::new(),
    };
    println!(
        "{how}: {:.0} routes/s{median}",
        n as f64 / t0.elapsed().as_secs_f64()
    );
    Ok(())
}
