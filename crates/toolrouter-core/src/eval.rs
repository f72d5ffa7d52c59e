//! Evaluation metrics over (gold, predicted) pairs, where `None` means "no tool" (out of scope,
//! or the router abstained).
//!
//! * `accuracy`: over examples whose gold tool is not null; a `None` prediction counts as wrong
//!   (CLINC150's in-scope accuracy).
//! * `macro_f1`: mean F1 over the tools that occur in the gold labels.
//! * `oos_recall` / `oos_precision`: for `None` as a class, when the data has out-of-scope rows.
//!
//! ```
//! use toolrouter_core::eval::metrics;
//! let gold = [Some("a"), Some("b"), None];
//! let pred = [Some("a"), None, None];
//! let m = metrics(&gold, &pred);
//! assert_eq!(m.accuracy, 0.5);
//! assert_eq!(m.oos_recall, Some(1.0));
//! ```

use crate::data::Span;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Confusion {
    pub gold: Option<String>,
    pub predicted: Option<String>,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    /// All examples.
    pub n: usize,
    /// Examples whose gold tool is not null.
    pub n_in_scope: usize,
    pub accuracy: f64,
    /// Accuracy over all examples, out-of-scope ones included (right when predicted `None`).
    pub overall_accuracy: f64,
    pub macro_f1: f64,
    pub per_tool: BTreeMap<String, ToolMetrics>,
    /// The most frequent errors, most frequent first (at most 10).
    pub confusions: Vec<Confusion>,
    pub oos_recall: Option<f64>,
    pub oos_precision: Option<f64>,
    pub in_scope_accuracy: Option<f64>,
    /// Span-level micro F1 of the arguments (exact name and boundaries, as conlleval).
    pub slot_f1: Option<f64>,
    /// Right tool and every argument span exact.
    pub frame_accuracy: Option<f64>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// Computes the metrics; `gold` and `pred` have the same length.
pub fn metrics<S: AsRef<str>>(gold: &[Option<S>], pred: &[Option<S>]) -> Metrics {
    let g: Vec<Option<&str>> = gold.iter().map(|x| x.as_ref().map(AsRef::as_ref)).collect();
    let p: Vec<Option<&str>> = pred.iter().map(|x| x.as_ref().map(AsRef::as_ref)).collect();
    let n = g.len().min(p.len());
    let mut tp: BTreeMap<&str, usize> = BTreeMap::new();
    let mut gold_n: BTreeMap<&str, usize> = BTreeMap::new();
    let mut pred_n: BTreeMap<&str, usize> = BTreeMap::new();
    let mut errors: BTreeMap<(Option<&str>, Option<&str>), usize> = BTreeMap::new();
    let (mut in_scope, mut in_ok, mut all_ok) = (0, 0, 0);
    let (mut oos_gold, mut oos_pred, mut oos_tp) = (0, 0, 0);
    for i in 0..n {
        let (gi, pi) = (g[i], p[i]);
        if gi == pi {
            all_ok += 1;
        } else {
            *errors.entry((gi, pi)).or_insert(0) += 1;
        }
        if let Some(t) = gi {
            in_scope += 1;
            *gold_n.entry(t).or_insert(0) += 1;
            if pi == gi {
                in_ok += 1;
                *tp.entry(t).or_insert(0) += 1;
            }
        } else {
            oos_gold += 1;
            if pi.is_none() {
                oos_tp += 1;
            }
        }
        match pi {
            Some(t) => *pred_n.entry(t).or_insert(0) += 1,
            None => oos_pred += 1,
        }
    }
    let per_tool: BTreeMap<String, ToolMetrics> = gold_n
        .keys()
        .chain(pred_n.keys())
        .map(|&t| {
            let tpv = tp.get(t).copied().unwrap_or(0);
            let prec = ratio(tpv, pred_n.get(t).copied().unwrap_or(0));
            let rec = ratio(tpv, gold_n.get(t).copied().unwrap_or(0));
            (
                t.to_string(),
                ToolMetrics {
                    precision: prec,
                    recall: rec,
                    f1: f1(prec, rec),
                    support: gold_n.get(t).copied().unwrap_or(0),
                },
            )
        })
        .collect();
    let macro_f1 = if gold_n.is_empty() {
        0.0
    } else {
        gold_n.keys().map(|t| per_tool[*t].f1).sum::<f64>() / gold_n.len() as f64
    };
    let mut confusions: Vec<Confusion> = errors
        .into_iter()
        .map(|((gi, pi), count)| Confusion {
            gold: gi.map(str::to_string),
            predicted: pi.map(str::to_string),
            count,
        })
        .collect();
    confusions.sort_by_key(|c| std::cmp::Reverse(c.count));
    confusions.truncate(10);
    let accuracy = ratio(in_ok, in_scope);
    let has_oos = oos_gold > 0;
    Metrics {
        n,
        n_in_scope: in_scope,
        accuracy,
        overall_accuracy: ratio(all_ok, n),
        macro_f1,
        per_tool,
        confusions,
        oos_recall: has_oos.then(|| ratio(oos_tp, oos_gold)),
        oos_precision: has_oos.then(|| ratio(oos_tp, oos_pred)),
        in_scope_accuracy: has_oos.then_some(accuracy),
        slot_f1: None,
        frame_accuracy: None,
    }
}

/// Adds `slot_f1` and `frame_accuracy` from gold and predicted spans of the same examples.
pub fn add_slot_metrics(m: &mut Metrics, gold: &[Vec<Span>], pred: &[Vec<Span>], tool_ok: &[bool]) {
    if gold.is_empty() {
        return;
    }
    let key = |s: &Span| (s.name.clone(), s.start, s.end);
    let (mut tp, mut n_gold, mut n_pred, mut frames) = (0usize, 0usize, 0usize, 0usize);
    for ((g, p), &ok) in gold.iter().zip(pred).zip(tool_ok) {
        let gs: BTreeSet<_> = g.iter().map(key).collect();
        let ps: BTreeSet<_> = p.iter().map(key).collect();
        tp += gs.intersection(&ps).count();
        n_gold += gs.len();
        n_pred += ps.len();
        if ok && gs == ps {
            frames += 1;
        }
    }
    let (prec, rec) = (ratio(tp, n_pred), ratio(tp, n_gold));
    m.slot_f1 = Some(f1(prec, rec));
    m.frame_accuracy = Some(ratio(frames, gold.len()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_case() {
        // gold: a a b b None ; pred: a b b None None
        let gold = [Some("a"), Some("a"), Some("b"), Some("b"), None];
        let pred = [Some("a"), Some("b"), Some("b"), None, None];
        let m = metrics(&gold, &pred);
        assert_eq!(m.n, 5);
        assert_eq!(m.n_in_scope, 4);
        assert!((m.accuracy - 0.5).abs() < 1e-12);
        assert!((m.overall_accuracy - 0.6).abs() < 1e-12);
        // a: P 1/1, R 1/2, F1 2/3 ; b: P 1/2, R 1/2, F1 1/2 ; macro (2/3+1/2)/2 = 7/12
        assert!((m.per_tool["a"].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.per_tool["b"].precision - 0.5).abs() < 1e-12);
        assert!((m.macro_f1 - 7.0 / 12.0).abs() < 1e-12);
        // None: recall 1/1, precision 1/2
        assert_eq!(m.oos_recall, Some(1.0));
        assert_eq!(m.oos_precision, Some(0.5));
        assert_eq!(m.confusions.len(), 2);
        assert_eq!(m.confusions[0].count, 1);
    }

    #[test]
    fn slot_scores_match_a_hand_computed_case() {
        let s = |n: &str, a, b| Span {
            name: n.into(),
            start: a,
            end: b,
        };
        let mut m = metrics(&[Some("a"), Some("a")], &[Some("a"), Some("a")]);
        // Example 1: gold {x 0-3, y 4-6}, pred {x 0-3}; example 2: gold {x 1-2}, pred {x 1-2, y 3-4}.
        let gold = vec![vec![s("x", 0, 3), s("y", 4, 6)], vec![s("x", 1, 2)]];
        let pred = vec![vec![s("x", 0, 3)], vec![s("x", 1, 2), s("y", 3, 4)]];
        add_slot_metrics(&mut m, &gold, &pred, &[true, true]);
        // tp 2, gold 3, pred 3: P = R = 2/3, F1 2/3; no frame exact.
        assert!((m.slot_f1.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.frame_accuracy, Some(0.0));
    }

    #[test]
    fn no_out_of_scope_rows_means_no_oos_metrics() {
        let m = metrics(&[Some("a")], &[Some("a")]);
        assert_eq!(m.accuracy, 1.0);
        assert_eq!(m.oos_recall, None);
        assert_eq!(m.in_scope_accuracy, None);
    }
}
