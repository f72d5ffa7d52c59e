//! Tools added to a trained router without retraining (issue 10): `Router::add_tool` and
//! `Router::remove_tool`.
//!
//! Each tool is a row of the output head, a vector in the space of request features the head
//! reads (the pooled request and its n-gram bag), plus a bias. A new tool's row is made from
//! the vectors of its own text (name in words, description, argument names) and of a few of its
//! requests when given, by an [`Imprinter`]:
//!
//! * on a router trained as a tool space ([`crate::toolspace_fit`]), its learned tool encoder:
//!   the mean of those vectors, mapped into the tool space, scored by a scaled dot product;
//! * on a classic router, two ridge regressions fitted (once, on the first add) on the tools it
//!   was trained on: text vector → row, and mean example vector → row (from the replay examples
//!   the model file keeps). Far less accurate (docs/eval-tools.md), but it needs no retraining.
//!
//! Either way `add_tool` costs a forward pass over a handful of texts and a few small matrix
//! products, no gradient step, and only the head is rebuilt. Rows of the other tools are
//! untouched, so their scores do not change; calibration (temperature, threshold) applies to
//! the new rows as to the old.

use crate::data::{Example, ToolSpec};
use crate::error::{Error, Result};
use crate::grow::REPLAY_PER_LABEL;
use crate::router::Router;
use candle_core::Tensor;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::HashMap;

/// Ridge strength, as a share of the mean diagonal of `XᵀX`.
const RIDGE: f64 = 0.1;
/// Subsets of each tool's examples, per size, the few-shot map is fitted on.
const SUBSETS: usize = 6;
const SUBSET_SIZES: [usize; 4] = [1, 3, 5, 10];

/// The text a tool is known by before it has examples: its name in words, its description and
/// its argument names.
pub fn tool_text(spec: &ToolSpec) -> String {
    let name = spec.name.replace(['_', '-', '.'], " ");
    let args: Vec<&str> = spec
        .parameters
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut text = name;
    if !spec.description.trim().is_empty() {
        text.push_str(". ");
        text.push_str(spec.description.trim());
    }
    if !args.is_empty() {
        text.push_str(". ");
        text.push_str(&args.join(", ").replace('_', " "));
    }
    text
}

/// How a new tool's head row (its bias last) is made from the vectors of its text and examples.
#[derive(Debug, Clone)]
pub enum Imprinter {
    /// The router was trained as a tool space ([`crate::toolspace_fit`]): its map into the
    /// tool space (row-major) and `[ln s, β]`, applied to the mean of the text's vector and
    /// the examples' vectors.
    Projection { a: Vec<f32>, scale: Vec<f32> },
    /// A classic router: two ridge maps from features (with a trailing 1) to a head row.
    Ridge {
        /// Features + 1.
        dim: usize,
        from_text: Vec<f64>,
        from_examples: Vec<f64>,
    },
}

impl Imprinter {
    /// The router's tool encoder when it has one, else ridge maps fitted on its tools.
    pub fn fit(router: &Router) -> Result<Imprinter> {
        match (
            router.weights.get(crate::toolspace_fit::PROJ_WEIGHT),
            router.weights.get(crate::toolspace_fit::PROJ_SCALE),
        ) {
            (Some(a), Some(s)) => Ok(Imprinter::Projection {
                a: a.flatten_all()?.to_vec1()?,
                scale: s.to_vec1()?,
            }),
            _ => Self::fit_ridge(router),
        }
    }

    /// Fits both ridge maps on `router`'s tools that have replay examples.
    pub fn fit_ridge(router: &Router) -> Result<Imprinter> {
        let (w, b) = head(router)?;
        let h = w.first().map_or(0, Vec::len);
        let dim = h + 1;
        let mut by_tool: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in router.replay() {
            if let Some(t) = &e.tool {
                by_tool.entry(t).or_default().push(&e.text);
            }
        }
        // Only trained tools: an added tool's row is this map's own output, and fitting on it
        // would make the map (refitted after a load) differ from the one fitted before.
        let known: Vec<usize> = (0..router.tools().len())
            .filter(|&k| {
                let name = router.tools()[k].name.as_str();
                by_tool.contains_key(name) && !router.info.added.iter().any(|a| a == name)
            })
            .collect();
        if known.len() < 2 {
            return Err(Error::invalid(
                "tool",
                "adding a tool needs a router trained on at least two tools with examples kept in its file",
            ));
        }
        let target = |k: usize| -> Vec<f64> {
            w[k].iter()
                .map(|x| *x as f64)
                .chain(std::iter::once(b[k] as f64))
                .collect()
        };
        let texts: Vec<String> = known
            .iter()
            .map(|&k| tool_text(&router.tools()[k]))
            .collect();
        let text_x = router.features(&texts)?;
        let from_text = ridge(
            &text_x.iter().map(|x| with_one(x)).collect::<Vec<_>>(),
            &known.iter().map(|&k| target(k)).collect::<Vec<_>>(),
            dim,
        )?;

        let mut rng = StdRng::seed_from_u64(0);
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for &k in &known {
            let mut ex: Vec<&str> = by_tool[router.tools()[k].name.as_str()].clone();
            let feats = router.features(&ex)?;
            let mut idx: Vec<usize> = (0..ex.len()).collect();
            for n in SUBSET_SIZES {
                if n > ex.len() {
                    continue;
                }
                for _ in 0..SUBSETS {
                    idx.shuffle(&mut rng);
                    xs.push(with_one(&mean(idx[..n].iter().map(|&i| &feats[i]))));
                    ys.push(target(k));
                }
            }
            ex.clear();
        }
        let from_examples = ridge(&xs, &ys, dim)?;
        Ok(Imprinter::Ridge {
            dim,
            from_text,
            from_examples,
        })
    }

    /// The head row (bias last) for a tool with text features `text` and, when it has examples,
    /// their features. The text counts as one example beside the requests.
    pub fn row(&self, text: &[f32], examples: &[Vec<f32>]) -> Vec<f32> {
        let (dim, from_text, from_examples) = match self {
            Imprinter::Projection { a, scale } => {
                let n = examples.len() as f32 + 1.0;
                let mut x = text.to_vec();
                for e in examples {
                    x.iter_mut().zip(e).for_each(|(s, v)| *s += v);
                }
                x.iter_mut().for_each(|s| *s /= n);
                let (mut w, b) = crate::toolspace_fit::tool_row(a, scale, &x);
                let offsets = scale.get(2..).unwrap_or_default();
                w.push(b + crate::toolspace_fit::offset_for(offsets, examples.len()));
                return w;
            }
            Imprinter::Ridge {
                dim,
                from_text,
                from_examples,
            } => (*dim, from_text, from_examples),
        };
        let t = apply(from_text, &with_one(text), dim);
        if examples.is_empty() {
            return t.into_iter().map(|x| x as f32).collect();
        }
        let e = apply(from_examples, &with_one(&mean(examples.iter())), dim);
        let n = examples.len() as f64;
        t.iter()
            .zip(&e)
            .map(|(a, b)| ((a + n * b) / (n + 1.0)) as f32)
            .collect()
    }
}

fn with_one(x: &[f32]) -> Vec<f64> {
    x.iter()
        .map(|v| *v as f64)
        .chain(std::iter::once(1.0))
        .collect()
}

fn mean<'a>(rows: impl Iterator<Item = &'a Vec<f32>>) -> Vec<f32> {
    let mut sum: Vec<f32> = Vec::new();
    let mut n = 0f32;
    for r in rows {
        if sum.is_empty() {
            sum = vec![0.0; r.len()];
        }
        sum.iter_mut().zip(r).for_each(|(s, x)| *s += x);
        n += 1.0;
    }
    sum.iter_mut().for_each(|s| *s /= n.max(1.0));
    sum
}

/// `x · M` for `M` stored `dim x dim` row-major.
fn apply(m: &[f64], x: &[f64], dim: usize) -> Vec<f64> {
    let mut out = vec![0f64; dim];
    for (i, xi) in x.iter().enumerate() {
        let row = &m[i * dim..(i + 1) * dim];
        out.iter_mut().zip(row).for_each(|(o, r)| *o += xi * r);
    }
    out
}

/// `argmin ‖X M − Y‖² + λ‖M‖²` through the normal equations and a Cholesky factorisation;
/// `λ` is [`RIDGE`] times the mean diagonal of `XᵀX`.
fn ridge(xs: &[Vec<f64>], ys: &[Vec<f64>], dim: usize) -> Result<Vec<f64>> {
    let mut a = vec![0f64; dim * dim];
    let mut c = vec![0f64; dim * dim];
    for (x, y) in xs.iter().zip(ys) {
        for i in 0..dim {
            let xi = x[i];
            if xi == 0.0 {
                continue;
            }
            for j in 0..dim {
                a[i * dim + j] += xi * x[j];
                c[i * dim + j] += xi * y[j];
            }
        }
    }
    let lambda = RIDGE * (0..dim).map(|i| a[i * dim + i]).sum::<f64>() / dim as f64;
    for i in 0..dim {
        a[i * dim + i] += lambda.max(1e-9);
    }
    // Cholesky: a = L Lᵀ.
    let mut l = vec![0f64; dim * dim];
    for i in 0..dim {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * dim + k] * l[j * dim + k]).sum();
            if i == j {
                let d = a[i * dim + i] - s;
                if d <= 0.0 {
                    return Err(Error::Internal("tool space: singular system".into()));
                }
                l[i * dim + j] = d.sqrt();
            } else {
                l[i * dim + j] = (a[i * dim + j] - s) / l[j * dim + j];
            }
        }
    }
    // Solve L Lᵀ M = C column by column.
    let mut m = vec![0f64; dim * dim];
    let mut z = vec![0f64; dim];
    for col in 0..dim {
        for i in 0..dim {
            let s: f64 = (0..i).map(|k| l[i * dim + k] * z[k]).sum();
            z[i] = (c[i * dim + col] - s) / l[i * dim + i];
        }
        for i in (0..dim).rev() {
            let s: f64 = (i + 1..dim)
                .map(|k| l[k * dim + i] * m[k * dim + col])
                .sum();
            m[i * dim + col] = (z[i] - s) / l[i * dim + i];
        }
    }
    Ok(m)
}

/// The head's rows and biases, label order.
fn head(router: &Router) -> Result<(Vec<Vec<f32>>, Vec<f32>)> {
    let get = |n: &str| {
        router
            .weights
            .get(n)
            .ok_or_else(|| Error::Internal(format!("missing weight {n}")))
    };
    Ok((
        get("head.weight")?.to_vec2::<f32>()?,
        get("head.bias")?.to_vec1::<f32>()?,
    ))
}

impl Router {
    /// Adds `spec` as a new tool, routed to from now on, with no training: its output row is
    /// made from its name, description and argument names, and from `examples` (requests for
    /// it) when given. The examples join the replay sample the model file keeps (at most
    /// [`REPLAY_PER_LABEL`] per tool). An added tool of the same name is replaced. A tool the
    /// router was trained on keeps its trained row and examples: only its spec (description,
    /// schema) is replaced and the examples are kept for the next training run; remove it first
    /// to rebuild its row from its text. On error the router is unchanged.
    pub fn add_tool<S: AsRef<str>>(&mut self, spec: ToolSpec, examples: &[S]) -> Result<()> {
        if spec.name.trim().is_empty() {
            return Err(Error::invalid("tool.name", "must not be empty"));
        }
        if let Some(i) = examples.iter().position(|e| e.as_ref().trim().is_empty()) {
            return Err(Error::invalid("examples", format!("example #{i} is empty")));
        }
        let trained = self
            .tools
            .iter()
            .position(|t| t.name == spec.name)
            .filter(|_| !self.info.added.contains(&spec.name));
        if let Some(k) = trained {
            // Replacing its row with one made from text would throw away what training
            // learned (a re-added trained tool's recall fell from 0.81 to 0.63 on the demo).
            if k < self.cfg.tool_args.len() {
                self.cfg.tool_args[k] = self.known_args(&spec);
            }
            self.keep_examples(&spec.name, examples);
            self.tools[k] = spec;
            return self.rebuild_head();
        }
        if self.imprinter.is_none() {
            self.imprinter = Some(Imprinter::fit(self)?);
        }
        let Some(imp) = &self.imprinter else {
            return Err(Error::Internal("tool space not fitted".into()));
        };
        let text = self.features(&[tool_text(&spec)])?.remove(0);
        let ex = self.features(examples)?;
        let row = imp.row(&text, &ex);
        let (mut w, mut b) = head(self)?;
        let h = row.len() - 1;
        if w.first().map_or(0, Vec::len) != h {
            return Err(Error::Internal(format!(
                "tool row has {h} values, the head reads {}",
                w.first().map_or(0, Vec::len)
            )));
        }
        // Everything that can fail is done; from here the router changes.
        let mut tool_args = self.cfg.tool_args.clone();
        let has_table = !tool_args.is_empty();
        if let Some(k) = self.tools.iter().position(|t| t.name == spec.name) {
            w.remove(k);
            b.remove(k);
            self.tools.remove(k);
            if k < tool_args.len() {
                tool_args.remove(k);
            }
            self.replay
                .retain(|e| e.tool.as_deref() != Some(&spec.name));
        }
        let at = self.tools.len();
        w.insert(at, row[..h].to_vec());
        b.insert(at, row[h]);
        // A model with an argument tagger extracts the new tool's arguments whose names it
        // already knows; a model without one keeps an empty table.
        if has_table {
            tool_args.push(self.known_args(&spec));
        }
        self.cfg.tool_args = tool_args;
        self.set_head(w, b)?;
        self.keep_examples(&spec.name, examples);
        self.info.added.retain(|n| *n != spec.name);
        self.info.added.push(spec.name.clone());
        self.tools.push(spec);
        self.rebuild_head()
    }

    /// Adds `examples` of `tool` to the replay sample, keeping at most [`REPLAY_PER_LABEL`] of
    /// that tool (the first ones), as training does: the sample lives in the model file's
    /// header, which safetensors caps at 100 MB.
    fn keep_examples<S: AsRef<str>>(&mut self, tool: &str, examples: &[S]) {
        let have = self
            .replay
            .iter()
            .filter(|e| e.tool.as_deref() == Some(tool))
            .count();
        let room = REPLAY_PER_LABEL.saturating_sub(have);
        self.replay.extend(
            examples
                .iter()
                .take(room)
                .map(|t| Example::new(t.as_ref(), Some(tool))),
        );
    }

    /// Removes the tool `name`: requests that would have gone to it go to the next best tool or
    /// to the LLM. `INVALID_ARGUMENT` when there is no such tool or it is the last one.
    pub fn remove_tool(&mut self, name: &str) -> Result<()> {
        let Some(k) = self.tools.iter().position(|t| t.name == name) else {
            return Err(Error::invalid("name", format!("no tool `{name}`")));
        };
        if self.tools.len() == 1 {
            return Err(Error::invalid("name", "cannot remove the only tool"));
        }
        let (mut w, mut b) = head(self)?;
        w.remove(k);
        b.remove(k);
        self.set_head(w, b)?;
        self.tools.remove(k);
        if k < self.cfg.tool_args.len() {
            self.cfg.tool_args.remove(k);
        }
        self.replay.retain(|e| e.tool.as_deref() != Some(name));
        self.info.added.retain(|n| n != name);
        self.rebuild_head()
    }

    /// Indices into `cfg.arg_names` of the arguments of `spec` the tagger knows.
    fn known_args(&self, spec: &ToolSpec) -> Vec<u32> {
        let props = spec
            .parameters
            .get("properties")
            .and_then(|p| p.as_object());
        self.cfg
            .arg_names
            .iter()
            .enumerate()
            .filter(|(_, n)| props.is_some_and(|p| p.contains_key(n.as_str())))
            .map(|(i, _)| i as u32)
            .collect()
    }

    fn set_head(&mut self, w: Vec<Vec<f32>>, b: Vec<f32>) -> Result<()> {
        let (n, h) = (w.len(), w.first().map_or(0, Vec::len));
        let dev = self.device().clone();
        self.weights.insert(
            "head.weight".into(),
            Tensor::from_vec(w.concat(), (n, h), &dev)?,
        );
        self.weights
            .insert("head.bias".into(), Tensor::from_vec(b, n, &dev)?);
        self.cfg.n_labels = n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ridge_recovers_a_linear_map() -> Result<()> {
        // y = [2a + 1, -b] from x = [a, b, 1]; a small ridge keeps it close.
        let xs: Vec<Vec<f64>> = (0..50)
            .map(|i| vec![(i % 7) as f64, (i % 5) as f64 - 2.0, 1.0])
            .collect();
        let ys: Vec<Vec<f64>> = xs
            .iter()
            .map(|x| vec![2.0 * x[0] + 1.0, -x[1], 0.0])
            .collect();
        let m = ridge(&xs, &ys, 3)?;
        let y = apply(&m, &[3.0, 1.0, 1.0], 3);
        assert!((y[0] - 7.0).abs() < 0.5, "{y:?}");
        assert!((y[1] + 1.0).abs() < 0.3, "{y:?}");
        Ok(())
    }

    #[test]
    fn tool_text_names_the_tool_in_words() {
        let spec = ToolSpec {
            name: "get_weather".into(),
            description: "Forecast for a city".into(),
            parameters: serde_json::json!({"type":"object","properties":{"city_name":{}}}),
        };
        assert_eq!(
            tool_text(&spec),
            "get weather. Forecast for a city. city name"
        );
    }
}
