//! Continued training: a new router that starts from an old one's weights (`train::fit_from`).
//!
//! The old router's tokenizer is kept (its token embeddings stay meaningful), its n-gram
//! vocabulary is extended with the new texts' features, and its tools come first in the new
//! label order, followed by the tools it did not know. Each weight is copied where the two models
//! share it: the output head and the argument tagger row by row (by tool name and argument
//! name; new rows keep their fresh initialisation), the n-gram table for the old features,
//! everything else whole. Forgetting is held off by replaying a few examples per label that the
//! old model file keeps ([`replay_sample`]).
//!
//! ```
//! use toolrouter_core::grow::merge_tools;
//! use toolrouter_core::ToolSpec;
//! let tool = |n: &str| ToolSpec { name: n.into(), description: String::new(), parameters: serde_json::json!({}) };
//! let merged = merge_tools(&[tool("a"), tool("b")], &[tool("c"), tool("a")]);
//! let names: Vec<&str> = merged.iter().map(|t| t.name.as_str()).collect();
//! assert_eq!(names, ["a", "b", "c"]);
//! ```

use crate::data::{Example, ToolSpec};
use crate::error::{Error, Result};
use crate::model::Config;
use crate::router::Router;
use candle_core::Tensor;
use candle_nn::VarMap;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::collections::HashMap;

/// Examples kept per label for replay.
pub const REPLAY_PER_LABEL: usize = 32;

/// The old tools in their order (a given spec with the same name replaces the old one: schemas
/// may be updated), then the given tools the old router did not know.
pub fn merge_tools(old: &[ToolSpec], given: &[ToolSpec]) -> Vec<ToolSpec> {
    let by_name: HashMap<&str, &ToolSpec> = given.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut out: Vec<ToolSpec> = old
        .iter()
        .map(|t| (*by_name.get(t.name.as_str()).unwrap_or(&t)).clone())
        .collect();
    for t in given {
        if !old.iter().any(|o| o.name == t.name) {
            out.push(t.clone());
        }
    }
    out
}

/// For each new label, the old label it continues (`None`: a new tool). Labels are the tools in
/// order, then "none" (out of scope) when the config has it.
fn label_map(old: &Router, cfg: &Config, tools: &[ToolSpec]) -> Vec<Option<usize>> {
    let mut map: Vec<Option<usize>> = tools
        .iter()
        .map(|t| old.tools.iter().position(|o| o.name == t.name))
        .collect();
    if cfg.has_none {
        map.push(old.cfg.has_none.then_some(old.tools.len()));
    }
    map
}

/// For each new BIO tag, the old tag it continues: `O` is 0 in both, `B-x`/`I-x` by name.
fn tag_map(old: &Config, new: &Config) -> Vec<Option<usize>> {
    let mut map = vec![Some(0)];
    for name in &new.arg_names {
        let k = old.arg_names.iter().position(|o| o == name);
        map.push(k.map(|k| 1 + 2 * k));
        map.push(k.map(|k| 2 + 2 * k));
    }
    map
}

/// `fresh` with row `i` replaced by row `map[i]` of `old` where the map names one.
fn remap_rows(fresh: &Tensor, old: &Tensor, map: &[Option<usize>]) -> Result<Tensor> {
    let dims = fresh.dims().to_vec();
    let width: usize = dims.iter().skip(1).product();
    let mut data: Vec<f32> = fresh.flatten_all()?.to_vec1()?;
    let src: Vec<f32> = old.flatten_all()?.to_vec1()?;
    let old_rows = old.dims().first().copied().unwrap_or(0);
    if old.dims().iter().skip(1).product::<usize>() != width {
        return Err(Error::Internal(format!(
            "cannot continue: rows of {:?} and {:?} differ",
            old.dims(),
            dims
        )));
    }
    for (i, m) in map.iter().enumerate() {
        if let Some(j) = *m {
            if j < old_rows && i < dims[0] {
                data[i * width..(i + 1) * width].copy_from_slice(&src[j * width..(j + 1) * width]);
            }
        }
    }
    Ok(Tensor::from_vec(data, dims.as_slice(), fresh.device())?)
}

/// Copies `old`'s weights into the freshly initialised `varmap` (and its n-gram rows into
/// `table`, whose first rows are the old features: see `NgramVocab::extend`).
pub(crate) fn transfer(
    old: &Router,
    cfg: &Config,
    tools: &[ToolSpec],
    varmap: &VarMap,
    table: &mut [f32],
) -> Result<()> {
    let labels = label_map(old, cfg, tools);
    let tags = tag_map(&old.cfg, cfg);
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| Error::Internal("variable map lock poisoned".into()))?;
    for (name, var) in vars.iter() {
        let Some(w) = old.weights.get(name) else {
            continue;
        };
        let fresh = var.as_tensor();
        let t = if name.starts_with("head.") {
            remap_rows(fresh, w, &labels)?
        } else if name.starts_with("tagger.") {
            remap_rows(fresh, w, &tags)?
        } else if w.dims() == fresh.dims() {
            w.to_device(fresh.device())?
        } else {
            return Err(Error::Internal(format!(
                "cannot continue: `{name}` is {:?} in the old model and {:?} in the new one",
                w.dims(),
                fresh.dims()
            )));
        };
        var.set(&t)?;
    }
    if let Some(bag) = old.weights.get("bag.table") {
        let src: Vec<f32> = bag.flatten_all()?.to_vec1()?;
        if bag.dims().get(1).copied() != Some(cfg.d_bag) || src.len() > table.len() {
            return Err(Error::Internal(format!(
                "cannot continue: n-gram table {:?} does not fit {} x {}",
                bag.dims(),
                cfg.n_features,
                cfg.d_bag
            )));
        }
        table[..src.len()].copy_from_slice(&src);
    }
    Ok(())
}

/// Up to [`REPLAY_PER_LABEL`] examples of each label (tool, or out of scope), drawn with `rng`,
/// in the order of `examples`.
pub fn replay_sample(examples: &[Example], rng: &mut StdRng) -> Vec<Example> {
    let mut by_label: HashMap<Option<&str>, Vec<usize>> = HashMap::new();
    for (i, e) in examples.iter().enumerate() {
        by_label.entry(e.tool.as_deref()).or_default().push(i);
    }
    let mut labels: Vec<Option<&str>> = by_label.keys().copied().collect();
    labels.sort();
    let mut keep = Vec::new();
    for l in labels {
        let mut idx = by_label[&l].clone();
        idx.shuffle(rng);
        idx.truncate(REPLAY_PER_LABEL);
        keep.extend(idx);
    }
    keep.sort_unstable();
    keep.into_iter().map(|i| examples[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn tool(n: &str, desc: &str) -> ToolSpec {
        ToolSpec {
            name: n.into(),
            description: desc.into(),
            parameters: serde_json::json!({}),
        }
    }

    #[test]
    fn merged_tools_keep_the_old_order_and_take_new_schemas() {
        let m = merge_tools(
            &[tool("a", "old"), tool("b", "old")],
            &[tool("c", ""), tool("b", "new")],
        );
        let got: Vec<(&str, &str)> = m
            .iter()
            .map(|t| (t.name.as_str(), t.description.as_str()))
            .collect();
        assert_eq!(got, [("a", "old"), ("b", "new"), ("c", "")]);
    }

    #[test]
    fn tags_map_by_argument_name() {
        let old = Config {
            arg_names: vec!["city".into(), "date".into()],
            ..Config::default()
        };
        let new = Config {
            arg_names: vec!["artist".into(), "city".into(), "date".into()],
            ..Config::default()
        };
        assert_eq!(
            tag_map(&old, &new),
            [Some(0), None, None, Some(1), Some(2), Some(3), Some(4)]
        );
    }

    #[test]
    fn rows_are_copied_where_mapped_and_kept_elsewhere() -> Result<()> {
        let dev = candle_core::Device::Cpu;
        let fresh = Tensor::from_vec(vec![0f32; 6], (3, 2), &dev)?;
        let old = Tensor::from_vec(vec![1f32, 2., 3., 4.], (2, 2), &dev)?;
        let out = remap_rows(&fresh, &old, &[Some(1), None, Some(0)])?;
        assert_eq!(out.to_vec2::<f32>()?, [[3., 4.], [0., 0.], [1., 2.]]);
        let bias = Tensor::from_vec(vec![0f32; 3], 3, &dev)?;
        let old_bias = Tensor::from_vec(vec![7f32, 8.], 2, &dev)?;
        let out = remap_rows(&bias, &old_bias, &[None, Some(0), Some(1)])?;
        assert_eq!(out.to_vec1::<f32>()?, [0., 7., 8.]);
        Ok(())
    }

    #[test]
    fn replay_keeps_a_bounded_sample_of_every_label() {
        let mut ex: Vec<Example> = (0..100)
            .map(|i| Example::new(format!("a {i}"), Some("a")))
            .collect();
        ex.push(Example::new("b", Some("b")));
        ex.push(Example::new("nothing", None));
        let mut rng = StdRng::seed_from_u64(1);
        let s = replay_sample(&ex, &mut rng);
        assert_eq!(s.len(), REPLAY_PER_LABEL + 2);
        assert!(s.iter().any(|e| e.tool.is_none()));
        assert!(s.iter().any(|e| e.tool.as_deref() == Some("b")));
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(replay_sample(&ex, &mut rng), s, "seeded");
    }
}
