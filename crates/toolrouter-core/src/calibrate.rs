//! Confidence that means something: a temperature fitted on the validation logits (temperature
//! scaling, Guo et al. 2017) so that a confidence of 0.9 is right about 90% of the time, and the
//! abstention threshold that reaches a target precision on the requests the router answers.
//!
//! ```
//! use toolrouter_core::calibrate::choose_threshold;
//! // (confidence, right?) of the validation requests the router would answer.
//! let scored = [(0.99, true), (0.95, true), (0.90, false), (0.80, true)];
//! let c = choose_threshold(&scored, 0.99, 0.0);
//! assert_eq!(c.threshold, 0.95); // answering the two most confident keeps precision at 100%
//! assert!(c.reached);
//! ```

use serde::{Deserialize, Serialize};

/// The threshold never goes under this: a tool less likely than all the others together is not
/// called, even when the validation set (small, or without errors) would allow it.
pub const MIN_THRESHOLD: f64 = 0.5;

/// Training's calibration divides the logits by at least this: it may soften the trained model's
/// confidences but never sharpen them. A validation split the router gets (almost) all right, as
/// a small or templated data set gives, fits T well under 1 (the demo data: 0.58; the workflow
/// benchmark: 0.54), and the requests traffic brings in new phrasings were then answered as
/// certain when wrong. On SNIPS, ATIS and CLINC150 the fitted T is about 2 and nothing changes.
pub const MIN_TEMPERATURE: f64 = 1.0;

/// Stored in the model file (inside the training info).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Calibration {
    /// Logits are divided by this before the softmax.
    pub temperature: f64,
    /// The router answers when the best tool's calibrated confidence is at least this.
    pub threshold: f64,
    /// The precision the threshold was chosen for.
    pub target_precision: f64,
    /// Whether the validation set reached `target_precision` at `threshold`.
    pub reached: bool,
    /// Share of the validation requests answered at `threshold`, and their precision.
    pub valid_coverage: Option<f64>,
    pub valid_precision: Option<f64>,
}

impl Default for Calibration {
    /// What a model without calibration behaves like: raw softmax, the minimum threshold.
    fn default() -> Self {
        Calibration {
            temperature: 1.0,
            threshold: MIN_THRESHOLD,
            target_precision: 0.99,
            reached: false,
            valid_coverage: None,
            valid_precision: None,
        }
    }
}

/// Softmax of `logits / t`, in f64.
///
/// Total: probabilities are finite and sum to 1 whatever the logits. A NaN logit counts as
/// -inf, +inf logits share the mass, all -inf gives the uniform distribution, and a temperature
/// that is not a positive number counts as 1 (a model whose weights overflow must still give a
/// `Route`, not a NaN confidence; found by fuzzing the model file).
pub fn softmax_t(logits: &[f32], t: f64) -> Vec<f64> {
    let t = if t.is_finite() && t > 0.0 { t } else { 1.0 };
    let z: Vec<f64> = logits
        .iter()
        .map(|&v| {
            if v.is_nan() {
                f64::NEG_INFINITY
            } else {
                v as f64
            }
        })
        .collect();
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        let hit = |v: f64| max == f64::NEG_INFINITY || v == max;
        let n = z.iter().filter(|&&v| hit(v)).count().max(1) as f64;
        return z
            .iter()
            .map(|&v| if hit(v) { 1.0 / n } else { 0.0 })
            .collect();
    }
    // The largest term is exp(0) = 1, so the sum is at least 1.
    let e: Vec<f64> = z.iter().map(|&v| ((v - max) / t).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

/// Mean negative log-likelihood of `labels` under `softmax(logits / t)`; rows whose label is
/// outside the logits (out-of-scope rows for a model without a "none" output) are skipped.
pub fn nll_at(logits: &[Vec<f32>], labels: &[usize], t: f64) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for (z, &y) in logits.iter().zip(labels) {
        let Some(&zy) = z.get(y) else { continue };
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let lse = max / t
            + z.iter()
                .map(|&v| ((v as f64 - max) / t).exp())
                .sum::<f64>()
                .ln();
        sum += lse - zy as f64 / t;
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// The temperature that minimises the validation NLL, found by golden-section search over
/// ln T in [ln 0.05, ln 20] (the NLL is convex in 1/T). A weak log-normal prior,
/// `(ln T)² / n`, keeps a small validation set without errors from driving T to 0 (which would
/// make every answer look certain); on thousands of rows it has no visible effect.
pub fn fit_temperature(logits: &[Vec<f32>], labels: &[usize]) -> f64 {
    let n = logits
        .iter()
        .zip(labels)
        .filter(|(z, &y)| y < z.len())
        .count();
    if n == 0 {
        return 1.0;
    }
    let f = |u: f64| nll_at(logits, labels, u.exp()) + u * u / n as f64;
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..60 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    ((a + b) / 2.0).exp()
}

/// The outcome of [`choose_threshold`].
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdChoice {
    pub threshold: f64,
    pub reached: bool,
    /// Share of `scored` answered at `threshold`, and the precision of those answers.
    pub coverage: f64,
    pub precision: f64,
}

/// The lowest confidence threshold at which the requests the router answers (confidence ≥
/// threshold) are right at least `target` of the time, never under `floor`. `scored` holds
/// (calibrated confidence of the best tool, whether that tool is right) for the validation
/// requests the router would answer with a tool; out-of-scope rows it would route count as
/// wrong. When no threshold reaches the target, the one with the best precision is taken
/// (ties: the lower threshold) and `reached` is false.
pub fn choose_threshold(scored: &[(f64, bool)], target: f64, floor: f64) -> ThresholdChoice {
    let mut s: Vec<(f64, bool)> = scored.to_vec();
    s.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = s.len();
    // Candidate cut after each run of equal confidences: answer s[..k].
    let (mut best_k, mut best_p, mut reached) = (0usize, -1.0f64, false);
    let mut right = 0usize;
    for k in 1..=n {
        // Cuts under the floor are never taken: their precision is not the floor's.
        if s[k - 1].0 < floor {
            break;
        }
        right += usize::from(s[k - 1].1);
        if k < n && s[k].0 == s[k - 1].0 {
            continue;
        }
        let p = right as f64 / k as f64;
        if p >= target {
            (best_k, best_p, reached) = (k, p, true);
        } else if !reached && p >= best_p {
            (best_k, best_p) = (k, p);
        }
    }
    // A cut is at or over the floor (the loop stops under it); none: the floor.
    let threshold = if best_k == 0 { floor } else { s[best_k - 1].0 };
    let answered: Vec<&(f64, bool)> = s.iter().filter(|x| x.0 >= threshold).collect();
    let ok = answered.iter().filter(|x| x.1).count();
    ThresholdChoice {
        threshold,
        reached,
        coverage: if n == 0 {
            0.0
        } else {
            answered.len() as f64 / n as f64
        },
        precision: if answered.is_empty() {
            0.0
        } else {
            ok as f64 / answered.len() as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::ece;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn softmax_is_total_on_overflowed_logits() {
        let inf = f32::INFINITY;
        let cases: [(&[f32], f64, &[f64]); 5] = [
            (&[f32::NAN, 0.0], 1.0, &[0.0, 1.0]),
            (&[inf, inf, 0.0], 1.0, &[0.5, 0.5, 0.0]),
            (&[-inf, f32::NAN], 1.0, &[0.5, 0.5]),
            (&[0.0, 0.0], 0.0, &[0.5, 0.5]),
            (&[1e30, -1e30], f64::NAN, &[1.0, 0.0]),
        ];
        for (z, t, want) in cases {
            assert_eq!(softmax_t(z, t), want, "{z:?} at t = {t}");
        }
    }

    #[test]
    fn threshold_is_the_lowest_that_reaches_the_target() {
        let scored = [
            (0.99, true),
            (0.97, true),
            (0.96, true),
            (0.95, false),
            (0.90, true),
            (0.85, true),
            (0.70, true),
            (0.60, false),
        ];
        // Precision of the prefixes: 1, 1, 1, .75, .8, .833, .857, .75.
        let c = choose_threshold(&scored, 0.85, 0.0);
        assert_eq!(c.threshold, 0.70);
        assert!(c.reached);
        assert!((c.coverage - 7.0 / 8.0).abs() < 1e-12);
        assert!((c.precision - 6.0 / 7.0).abs() < 1e-12);
        let c = choose_threshold(&scored, 0.99, 0.0);
        assert_eq!(c.threshold, 0.96);
        // The floor wins over a lower threshold: the lowest cut over it.
        let c = choose_threshold(&scored, 0.5, 0.8);
        assert_eq!(c.threshold, 0.85);
        // Nothing over the floor: the floor.
        assert_eq!(choose_threshold(&scored, 0.5, 0.995).threshold, 0.995);
    }

    #[test]
    fn cuts_under_the_floor_are_not_taken() {
        // Found by review: the prefix of 31 reached 0.935, under the floor, and was raised to
        // the floor, which answers 11 at 0.818 while claiming the target.
        let mut scored = vec![(0.99, true); 9];
        scored.extend([(0.6, false); 2]);
        scored.extend([(0.4, true); 20]);
        let c = choose_threshold(&scored, 0.9, 0.5);
        assert!(c.reached);
        assert_eq!(c.threshold, 0.99);
        assert!((c.precision - 1.0).abs() < 1e-12);
        // Unreachable: the most precise cut over the floor (0.85, 2 of 3), not one under it.
        let mut scored = vec![(0.95, false), (0.9, true), (0.85, true), (0.6, false)];
        scored.extend([(0.3, true); 10]);
        let c = choose_threshold(&scored, 0.99, 0.5);
        assert!(!c.reached);
        assert_eq!(c.threshold, 0.85);
    }

    #[test]
    fn an_unreachable_target_takes_the_most_precise_cut() {
        let scored = [(0.9, false), (0.8, true), (0.7, true), (0.6, false)];
        // Prefix precision: 0, .5, .667, .5: the best is answering three.
        let c = choose_threshold(&scored, 0.99, 0.0);
        assert!(!c.reached);
        assert_eq!(c.threshold, 0.7);
    }

    #[test]
    fn ties_are_answered_or_refused_together() {
        let scored = [(0.9, true), (0.8, true), (0.8, false)];
        let c = choose_threshold(&scored, 0.99, 0.0);
        assert_eq!(c.threshold, 0.9);
        assert!((c.coverage - 1.0 / 3.0).abs() < 1e-12);
    }

    /// A label drawn from the distribution `p`.
    fn draw(p: &[f64], rng: &mut StdRng) -> usize {
        let mut u = rng.random::<f64>();
        for (y, &py) in p.iter().enumerate() {
            if u < py {
                return y;
            }
            u -= py;
        }
        p.len() - 1
    }

    #[test]
    fn temperature_recovers_a_known_scale() {
        // Labels drawn from softmax(z); the model reports 3z (over-confident): T ≈ 3.
        let mut rng = StdRng::seed_from_u64(7);
        let (mut logits, mut labels) = (Vec::new(), Vec::new());
        for _ in 0..4000 {
            let z: Vec<f32> = (0..5).map(|_| rng.random::<f32>() * 4.0).collect();
            let y = draw(&softmax_t(&z, 1.0), &mut rng);
            logits.push(z.iter().map(|v| v * 3.0).collect::<Vec<f32>>());
            labels.push(y);
        }
        let t = fit_temperature(&logits, &labels);
        assert!((t - 3.0).abs() < 0.3, "T = {t}");
    }

    #[test]
    fn calibration_lowers_ece_on_held_out_rows() {
        // Fit T on one half of over-confident logits, measure ECE on the other half.
        let mut rng = StdRng::seed_from_u64(11);
        let mut rows = Vec::new();
        for _ in 0..6000 {
            let z: Vec<f32> = (0..4).map(|_| rng.random::<f32>() * 3.0).collect();
            let y = draw(&softmax_t(&z, 1.0), &mut rng);
            rows.push((z.iter().map(|v| v * 4.0).collect::<Vec<f32>>(), y));
        }
        let (fit, held) = rows.split_at(3000);
        let logits: Vec<Vec<f32>> = fit.iter().map(|r| r.0.clone()).collect();
        let labels: Vec<usize> = fit.iter().map(|r| r.1).collect();
        let t = fit_temperature(&logits, &labels);
        let ece_at = |t: f64| {
            let (conf, ok): (Vec<f64>, Vec<bool>) = held
                .iter()
                .map(|(z, y)| {
                    let p = softmax_t(z, t);
                    let best = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
                    (p[best], best == *y)
                })
                .unzip();
            ece(&conf, &ok, 15)
        };
        let (before, after) = (ece_at(1.0), ece_at(t));
        assert!(after < before / 2.0, "ECE {before} -> {after}");
        assert!(after < 0.03, "ECE after {after}");
    }

    #[test]
    fn a_perfect_small_validation_set_keeps_t_finite() {
        let logits = vec![vec![5.0f32, 0.0], vec![0.0, 4.0], vec![3.0, 0.0]];
        let t = fit_temperature(&logits, &[0, 1, 0]);
        assert!(t > 0.06, "T = {t}");
    }
}
