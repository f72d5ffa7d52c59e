//! Evaluation metrics over (gold, predicted) pairs, where `None` means "no tool" (out of scope,
//! or the router abstained).
//!
//! * `accuracy`: over examples whose gold tool is not null; a `None` prediction counts as wrong
//!   (CLINC150's in-scope accuracy).
//! * `macro_f1`: mean F1 over the tools that occur in the gold labels.
//! * `oos_recall` / `oos_precision`: for `None` as a class, when the data has out-of-scope rows.
//!
//! [`Router::evaluate`](crate::Router::evaluate) scores the classifier (its best label, no
//! threshold) with these, then the decisions at the router's threshold and its confidence with
//! [`add_confidence_metrics`]: `ece`, `nll`, `coverage`, `selective_accuracy`, the
//! risk-coverage curve (`selective_accuracy_at`, `coverage_at`, `aurc`) and, on data with
//! out-of-scope rows, `oos_recall`, `oos_precision` and `in_scope_accuracy` at the threshold.
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
    /// Right tool and the typed `args` equal to the gold ones (converted the same way).
    pub args_exact: Option<f64>,
    /// The confidence threshold the decisions below were taken at.
    pub threshold: Option<f64>,
    /// Share of all requests answered with a tool at the threshold, and the share of those
    /// answers that are right (an out-of-scope request answered with a tool is wrong).
    pub coverage: Option<f64>,
    pub selective_accuracy: Option<f64>,
    /// Expected calibration error (15 equal-width bins) of the best label's confidence, with
    /// the fitted temperature and without it (T = 1).
    pub ece: Option<f64>,
    pub ece_uncalibrated: Option<f64>,
    /// Mean negative log-likelihood of the gold label (calibrated).
    pub nll: Option<f64>,
    /// On the in-scope requests ranked by confidence: accuracy of the most confident
    /// 50/80/90/95% (keys "50", "80", "90", "95")...
    pub selective_accuracy_at: Option<BTreeMap<String, f64>>,
    /// ...the largest share answerable at 99% and 99.5% selective accuracy (keys "99", "99.5")...
    pub coverage_at: Option<BTreeMap<String, f64>>,
    /// ...and the area under the risk-coverage curve (lower is better).
    pub aurc: Option<f64>,
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
        args_exact: None,
        threshold: None,
        coverage: None,
        selective_accuracy: None,
        ece: None,
        ece_uncalibrated: None,
        nll: None,
        selective_accuracy_at: None,
        coverage_at: None,
        aurc: None,
    }
}

/// Expected calibration error: bin `i` of `bins` holds confidences in (i/bins, (i+1)/bins];
/// ECE = Σ (bin size / n) · |accuracy of the bin − mean confidence of the bin|.
pub fn ece(conf: &[f64], correct: &[bool], bins: usize) -> f64 {
    let bins = bins.max(1);
    let mut n = vec![0usize; bins];
    let mut ok = vec![0usize; bins];
    let mut sum = vec![0f64; bins];
    for (&c, &r) in conf.iter().zip(correct) {
        let i = ((c * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        n[i] += 1;
        ok[i] += usize::from(r);
        sum[i] += c;
    }
    let total = conf.len().min(correct.len());
    if total == 0 {
        return 0.0;
    }
    (0..bins)
        .filter(|&i| n[i] > 0)
        .map(|i| {
            let acc = ok[i] as f64 / n[i] as f64;
            let mean = sum[i] / n[i] as f64;
            n[i] as f64 / total as f64 * (acc - mean).abs()
        })
        .sum()
}

/// Runs of equal `score` in decreasing order, each as (requests, right ones). A threshold cannot
/// separate requests of equal score, so the metrics below cut only between runs, or take the
/// expected count inside a run (any order of its requests equally likely): the figures never
/// depend on the order the requests came in.
fn ranked(score: &[f64], correct: &[bool]) -> Vec<(usize, usize)> {
    let mut idx: Vec<usize> = (0..score.len().min(correct.len())).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut last: Option<f64> = None;
    for i in idx {
        let right = usize::from(correct[i]);
        match runs.last_mut() {
            Some(run) if last.is_some_and(|l| l.total_cmp(&score[i]).is_eq()) => {
                run.0 += 1;
                run.1 += right;
            }
            _ => runs.push((1, right)),
        }
        last = Some(score[i]);
    }
    runs
}

/// Expected right answers among the `k` most confident requests (ties broken at random).
fn right_in_top(runs: &[(usize, usize)], k: usize) -> f64 {
    let (mut seen, mut right) = (0usize, 0f64);
    for &(n, r) in runs {
        if seen + n >= k {
            return right + (k - seen) as f64 * r as f64 / n as f64;
        }
        seen += n;
        right += r as f64;
    }
    right
}

/// Accuracy of the most confident `coverage` share (at least one request).
pub fn selective_accuracy_at(score: &[f64], correct: &[bool], coverage: f64) -> f64 {
    let runs = ranked(score, correct);
    let total: usize = runs.iter().map(|r| r.0).sum();
    if total == 0 {
        return 0.0;
    }
    let k = ((coverage * total as f64).ceil() as usize).clamp(1, total);
    right_in_top(&runs, k) / k as f64
}

/// The largest share `k / n` whose `k` most confident requests are right at least `target` of
/// the time (0 when none is); `k` ends a run of equal scores, as a threshold would.
pub fn coverage_at(score: &[f64], correct: &[bool], target: f64) -> f64 {
    let runs = ranked(score, correct);
    let (mut k, mut ok, mut best) = (0usize, 0usize, 0usize);
    for &(n, r) in &runs {
        k += n;
        ok += r;
        if ok as f64 >= target * k as f64 {
            best = k;
        }
    }
    if k == 0 {
        0.0
    } else {
        best as f64 / k as f64
    }
}

/// Area under the risk-coverage curve: the mean, over k = 1..n, of the error rate of the `k`
/// most confident requests (inside a run of equal scores, its expected error rate).
pub fn aurc(score: &[f64], correct: &[bool]) -> f64 {
    let runs = ranked(score, correct);
    let (mut seen, mut wrong, mut sum) = (0usize, 0f64, 0f64);
    for &(n, r) in &runs {
        let wrong_share = (n - r) as f64 / n as f64;
        for j in 1..=n {
            sum += (wrong + j as f64 * wrong_share) / (seen + j) as f64;
        }
        seen += n;
        wrong += (n - r) as f64;
    }
    if seen == 0 {
        0.0
    } else {
        sum / seen as f64
    }
}

/// One request as the confidence metrics see it.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Gold tool, `None` for out-of-scope.
    pub in_scope: bool,
    /// Calibrated and uncalibrated (T = 1) confidence of the best label.
    pub confidence: f64,
    pub confidence_uncalibrated: f64,
    /// The best label (a tool, or "none") is the gold one.
    pub top_correct: bool,
    /// The best label is a tool (not "none").
    pub top_is_tool: bool,
    /// Calibrated probability of the gold label, when the model has an output for it.
    pub p_gold: Option<f64>,
    /// At the threshold: answered with a tool, and that tool is the gold one.
    pub answered: bool,
    pub answered_correct: bool,
}

/// Fills the confidence and abstention metrics (see the module docs) and, when the data has
/// out-of-scope rows, replaces `oos_recall`, `oos_precision` and `in_scope_accuracy` with their
/// values at the threshold.
pub fn add_confidence_metrics(m: &mut Metrics, rows: &[Scored], threshold: f64) {
    if rows.is_empty() {
        return;
    }
    let n = rows.len();
    let conf: Vec<f64> = rows.iter().map(|r| r.confidence).collect();
    let raw: Vec<f64> = rows.iter().map(|r| r.confidence_uncalibrated).collect();
    let ok: Vec<bool> = rows.iter().map(|r| r.top_correct).collect();
    m.threshold = Some(threshold);
    m.ece = Some(ece(&conf, &ok, 15));
    m.ece_uncalibrated = Some(ece(&raw, &ok, 15));
    let golds: Vec<f64> = rows.iter().filter_map(|r| r.p_gold).collect();
    m.nll = (!golds.is_empty())
        .then(|| golds.iter().map(|p| -p.max(1e-12).ln()).sum::<f64>() / golds.len() as f64);
    let answered = rows.iter().filter(|r| r.answered).count();
    let answered_ok = rows.iter().filter(|r| r.answered_correct).count();
    m.coverage = Some(ratio(answered, n));
    m.selective_accuracy = Some(ratio(answered_ok, answered));

    // Risk-coverage over the in-scope requests; "none" as the best label ranks last (wrong).
    let ins: Vec<&Scored> = rows.iter().filter(|r| r.in_scope).collect();
    if !ins.is_empty() {
        let score: Vec<f64> = ins
            .iter()
            .map(|r| if r.top_is_tool { r.confidence } else { -1.0 })
            .collect();
        let right: Vec<bool> = ins.iter().map(|r| r.top_correct).collect();
        m.selective_accuracy_at = Some(
            [("50", 0.5), ("80", 0.8), ("90", 0.9), ("95", 0.95)]
                .iter()
                .map(|&(k, c)| (k.to_string(), selective_accuracy_at(&score, &right, c)))
                .collect(),
        );
        m.coverage_at = Some(
            [("99", 0.99), ("99.5", 0.995)]
                .iter()
                .map(|&(k, t)| (k.to_string(), coverage_at(&score, &right, t)))
                .collect(),
        );
        m.aurc = Some(aurc(&score, &right));
    }
    let oos: Vec<&Scored> = rows.iter().filter(|r| !r.in_scope).collect();
    if !oos.is_empty() {
        let refused = oos.iter().filter(|r| !r.answered).count();
        let refused_all = rows.iter().filter(|r| !r.answered).count();
        m.oos_recall = Some(ratio(refused, oos.len()));
        m.oos_precision = Some(ratio(refused, refused_all));
        m.in_scope_accuracy = Some(ratio(
            ins.iter().filter(|r| r.answered_correct).count(),
            ins.len(),
        ));
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
    fn ece_matches_a_hand_computed_case() {
        // Two bins: (0, .5] holds .3 (wrong) and .4 (right): acc .5, conf .35 -> |.15| * 2/4;
        // (.5, 1] holds .9 (right), .7 (wrong): acc .5, conf .8 -> |.3| * 2/4. ECE = .225.
        let e = ece(&[0.3, 0.4, 0.9, 0.7], &[false, true, true, false], 2);
        assert!((e - 0.225).abs() < 1e-12, "{e}");
        // Perfectly calibrated: every confidence 1 and right.
        assert_eq!(ece(&[1.0, 1.0], &[true, true], 15), 0.0);
    }

    #[test]
    fn risk_coverage_matches_a_hand_computed_case() {
        // Ranked by score: right, right, wrong, right, wrong.
        let score = [0.5, 0.9, 0.1, 0.8, 0.6];
        let ok = [true, true, false, true, false];
        // Top 40% = 2 rows, both right; top 60% = 3 rows, 2 right; all: 3/5.
        assert_eq!(selective_accuracy_at(&score, &ok, 0.4), 1.0);
        assert!((selective_accuracy_at(&score, &ok, 0.6) - 2.0 / 3.0).abs() < 1e-12);
        assert!((selective_accuracy_at(&score, &ok, 1.0) - 0.6).abs() < 1e-12);
        // 100% right holds for the top 2 only; 75% holds up to the top 4 (3/4).
        assert!((coverage_at(&score, &ok, 0.99) - 0.4).abs() < 1e-12);
        assert!((coverage_at(&score, &ok, 0.75) - 0.8).abs() < 1e-12);
        // Risks of the prefixes: 0, 0, 1/3, 1/4, 2/5; AURC = their mean.
        let want = (0.0 + 0.0 + 1.0 / 3.0 + 0.25 + 0.4) / 5.0;
        assert!((aurc(&score, &ok) - want).abs() < 1e-12);
    }

    #[test]
    fn tied_scores_give_the_same_figures_in_any_order() {
        // Three requests tie at 0.9 (one wrong), one right at 0.5. Whatever the order, a
        // threshold takes all three or none: coverage at 100% is 0 (not 1/4 or 2/4), at 60% it
        // is 4/4 (3 right of 4 = 75% ≥ 60%: all).
        let a = ([0.9, 0.9, 0.9, 0.5], [true, true, false, true]);
        let b = ([0.9, 0.9, 0.9, 0.5], [false, true, true, true]);
        for (score, ok) in [a, b] {
            assert_eq!(coverage_at(&score, &ok, 1.0), 0.0);
            assert_eq!(coverage_at(&score, &ok, 0.6), 1.0);
            assert_eq!(coverage_at(&score, &ok, 0.7), 1.0);
            // Top 2 of the tied run: expected 2 × 2/3 right.
            assert!((selective_accuracy_at(&score, &ok, 0.5) - 2.0 / 3.0).abs() < 1e-12);
            // Expected risks of the prefixes: 1/3, 1/3, 1/3, 1/4.
            let want = (1.0 / 3.0 * 3.0 + 0.25) / 4.0;
            assert!((aurc(&score, &ok) - want).abs() < 1e-12);
        }
    }

    #[test]
    fn abstentions_count_against_in_scope_accuracy_and_for_oos_recall() {
        let row = |in_scope, answered, answered_correct| Scored {
            in_scope,
            confidence: 0.9,
            confidence_uncalibrated: 0.95,
            top_correct: answered_correct,
            top_is_tool: true,
            p_gold: Some(0.9),
            answered,
            answered_correct,
        };
        // In scope: right, abstained, wrong; out of scope: refused, answered.
        let rows = [
            row(true, true, true),
            row(true, false, false),
            row(true, true, false),
            row(false, false, false),
            row(false, true, false),
        ];
        let mut m = metrics::<&str>(&[], &[]);
        add_confidence_metrics(&mut m, &rows, 0.5);
        assert!((m.in_scope_accuracy.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.oos_recall, Some(0.5));
        // Refused: one in scope, one out of scope.
        assert_eq!(m.oos_precision, Some(0.5));
        assert!((m.coverage.unwrap() - 0.6).abs() < 1e-12);
        assert!((m.selective_accuracy.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.nll.unwrap() + 0.9f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn no_out_of_scope_rows_means_no_oos_metrics() {
        let m = metrics(&[Some("a")], &[Some("a")]);
        assert_eq!(m.accuracy, 1.0);
        assert_eq!(m.oos_recall, None);
        assert_eq!(m.in_scope_accuracy, None);
    }
}
