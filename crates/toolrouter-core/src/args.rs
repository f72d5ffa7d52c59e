//! Arguments as token tags: BIO over argument names, aligned to sub-word tokens through the
//! tokenizer's character offsets, and decoded back to character spans of the user's text, so
//! values keep the user's spelling.
//!
//! ```
//! use toolrouter_core::args::{bio_tags, decode_spans};
//! use toolrouter_core::Span;
//! // "[CLS] rain in oslo" with offsets; the span of `city` covers "oslo".
//! let offsets = [(0, 0), (0, 4), (5, 7), (8, 12)];
//! let tags = bio_tags(&offsets, &[Span { name: "city".into(), start: 8, end: 12 }], &["city".to_string()]);
//! assert_eq!(tags, vec![0, 0, 0, 1]); // O O O B-city
//! let spans = decode_spans(&tags, &offsets);
//! assert_eq!(spans, vec![(0, 8, 12)]);
//! ```

use crate::data::{Example, Span, ToolSpec};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Argument names across the tools (schema properties, then names only seen in spans), and for
/// each tool the indices of the arguments it takes.
pub fn arg_vocab(tools: &[ToolSpec], examples: &[Example]) -> (Vec<String>, Vec<Vec<u32>>) {
    let mut per_tool: Vec<BTreeSet<String>> = tools
        .iter()
        .map(|t| match t.parameters.get("properties") {
            Some(Value::Object(p)) => p.keys().cloned().collect(),
            _ => BTreeSet::new(),
        })
        .collect();
    let index: HashMap<&str, usize> = tools
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    for ex in examples {
        if let Some(&i) = ex.tool.as_deref().and_then(|t| index.get(t)) {
            per_tool[i].extend(ex.spans.iter().map(|s| s.name.clone()));
        }
    }
    let names: Vec<String> = per_tool
        .iter()
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let pos: HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let tool_args = per_tool
        .iter()
        .map(|set| {
            set.iter()
                .filter_map(|n| pos.get(n.as_str()).copied())
                .collect()
        })
        .collect();
    (names, tool_args)
}

/// The spans of an example: its own `spans`, or, when it has `args` but no spans, each value
/// found in the text (case-insensitive, as a whole word when it can be): each item of an array
/// on its own, longer values first, and no two values on the same characters ("2 rooms for 2
/// nights" gives each "2" its own argument; "new york" is placed before "york"). Booleans,
/// null, objects and empty strings are not looked for. `None` when some value cannot be
/// located: the example then trains the tool head only.
pub fn locate(ex: &Example) -> Option<Vec<Span>> {
    if !ex.spans.is_empty() || ex.args.is_empty() {
        return Some(ex.spans.clone());
    }
    let lower: Vec<char> = ex.text.chars().map(fold).collect();
    let mut needles: Vec<(&String, Vec<char>)> = Vec::new();
    for (name, v) in &ex.args {
        let items: Vec<&Value> = match v {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for item in items {
            let needle: Vec<char> = match item {
                Value::String(s) => s.chars().map(fold).collect(),
                Value::Number(n) => n.to_string().chars().collect(),
                _ => continue,
            };
            if !needle.is_empty() {
                needles.push((name, needle));
            }
        }
    }
    // Stable: values of one length keep the arguments' order.
    needles.sort_by_key(|(_, n)| std::cmp::Reverse(n.len()));
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut spans = Vec::new();
    for (name, needle) in needles {
        let at = whole_word_match(&lower, &needle, &taken)?;
        taken.push((at, at + needle.len()));
        spans.push(Span {
            name: name.clone(),
            start: at,
            end: at + needle.len(),
        });
    }
    spans.sort_by_key(|s| s.start);
    Some(spans)
}

/// The first occurrence of `needle` in `hay` that overlaps none of `taken` and is a whole word
/// ("ai" in "find emails about ai" is the last one), else the first that overlaps none.
fn whole_word_match(hay: &[char], needle: &[char], taken: &[(usize, usize)]) -> Option<usize> {
    let edge = |i: Option<usize>| {
        i.and_then(|i| hay.get(i))
            .is_none_or(|c| !c.is_alphanumeric())
    };
    let starts_word = needle.first().is_some_and(|c| c.is_alphanumeric());
    let ends_word = needle.last().is_some_and(|c| c.is_alphanumeric());
    let free = |at: usize| {
        taken
            .iter()
            .all(|&(a, b)| at + needle.len() <= a || at >= b)
    };
    let mut hits = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(at, w)| *w == needle && free(*at))
        .map(|(at, _)| at);
    let first = hits.next()?;
    let whole = |at: usize| {
        (!starts_word || edge(at.checked_sub(1))) && (!ends_word || edge(Some(at + needle.len())))
    };
    if whole(first) {
        return Some(first);
    }
    Some(hits.find(|&at| whole(at)).unwrap_or(first))
}

/// Lower case, one character for one (offsets must not move).
fn fold(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// One tag per token: 0 = `O`, `1 + 2k` = `B-names[k]`, `2 + 2k` = `I-names[k]`. A token is in a
/// span when their characters overlap; the span's first such token is `B`.
pub fn bio_tags(offsets: &[(usize, usize)], spans: &[Span], names: &[String]) -> Vec<u32> {
    let pos: HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let mut tags = vec![0u32; offsets.len()];
    for s in spans {
        let Some(&k) = pos.get(s.name.as_str()) else {
            continue;
        };
        let mut first = true;
        for (i, &(a, b)) in offsets.iter().enumerate() {
            if b > a && a < s.end && b > s.start {
                tags[i] = if first { 1 + 2 * k } else { 2 + 2 * k };
                first = false;
            }
        }
    }
    tags
}

/// Spans `(arg index, start, end)` in characters from a tag sequence; an `I-x` that does not
/// continue an `x` span starts one.
pub fn decode_spans(tags: &[u32], offsets: &[(usize, usize)]) -> Vec<(u32, usize, usize)> {
    decode_scored_spans(tags, offsets, &[])
        .into_iter()
        .map(|(k, a, b, _)| (k, a, b))
        .collect()
}

/// A decoded span: `(arg index, start, end, gain)`, characters `[start, end)`, the gain as in
/// [`decode_scored_spans`].
pub type ScoredSpan = (u32, usize, usize, f32);

/// [`decode_spans`] with each span's gain: the sum of `gains` over its tokens (see
/// [`tag_gains`]; tokens past the end of `gains` add 0).
pub fn decode_scored_spans(
    tags: &[u32],
    offsets: &[(usize, usize)],
    gains: &[f32],
) -> Vec<ScoredSpan> {
    let mut out: Vec<ScoredSpan> = Vec::new();
    let mut open: Option<u32> = None;
    for (i, (&t, &(a, b))) in tags.iter().zip(offsets).enumerate() {
        if t == 0 || b <= a {
            open = None;
            continue;
        }
        let k = (t - 1) / 2;
        let begins = (t - 1) % 2 == 0;
        let g = gains.get(i).copied().unwrap_or(0.0);
        match (open, out.last_mut()) {
            (Some(o), Some(last)) if o == k && !begins => {
                last.2 = b;
                last.3 += g;
            }
            _ => {
                out.push((k, a, b, g));
                open = Some(k);
            }
        }
    }
    out
}

/// Per token, how much the tagger prefers its tag in `tags` to `O`: `score(tag) − score(O)`, the
/// log-probability margin under the softmax [`viterbi`] uses (its normaliser cancels); 0 for `O`.
/// Summed over a span, it is what the decoded sequence would lose if that span were `O`.
pub fn tag_gains(scores: &[f32], n_tags: usize, tags: &[u32]) -> Vec<f32> {
    tags.iter()
        .enumerate()
        .map(|(i, &t)| match scores.get(i * n_tags..(i + 1) * n_tags) {
            Some(row) if t != 0 => row.get(t as usize).map_or(0.0, |&s| s - row[0]),
            _ => 0.0,
        })
        .collect()
}

/// Longest span, in tokens, that [`best_free_span`] considers.
pub const MAX_FILL_TOKENS: usize = 8;

/// The span of whole words, among the tokens `tags` leaves `O`, that an argument `k` would take
/// if the decoding had to give it one (`scores`: `n_tags` tag scores per token, row-major):
/// `(first token, end token, gain)`, the gain as in [`tag_gains`] (what the decoded sequence
/// loses by tagging it: `B-k` on its first token, `I-k` after; at most 0 where the tagger
/// preferred `O`). Only candidates whose gain is at least
/// `min_gain` count, and `accept` sees each of those that would be the best so far,
/// `(first, end)`, and may refuse it (a value that does not fit the argument's type). `None`
/// when no candidate is left.
pub fn best_free_span(
    (scores, n_tags): (&[f32], usize),
    tags: &[u32],
    offsets: &[(usize, usize)],
    continues: &[bool],
    k: u32,
    min_gain: f32,
    mut accept: impl FnMut(usize, usize) -> bool,
) -> Option<(usize, usize, f32)> {
    let (b, i_tag) = (1 + 2 * k as usize, 2 + 2 * k as usize);
    if i_tag >= n_tags {
        return None;
    }
    let gain = |i: usize, tag: usize| -> Option<f32> {
        let row = scores.get(i * n_tags..(i + 1) * n_tags)?;
        Some(row[tag] - row[0])
    };
    let word_start = |i: usize| !continues.get(i).copied().unwrap_or(false);
    // Special tokens ([CLS], [SEP]) have no characters and take no argument.
    let free = |i: usize| tags.get(i) == Some(&0) && offsets.get(i).is_some_and(|&(a, b)| b > a);
    let mut best: Option<(usize, usize, f32)> = None;
    for start in 0..tags.len() {
        if !free(start) || !word_start(start) {
            continue;
        }
        let Some(mut g) = gain(start, b) else { break };
        let mut end = start + 1;
        while end - start <= MAX_FILL_TOKENS {
            // A candidate ends where a word ends.
            if (end == tags.len() || word_start(end))
                && g >= min_gain
                && best.is_none_or(|(_, _, bg)| g > bg)
                && accept(start, end)
            {
                best = Some((start, end, g));
            }
            if !free(end) {
                break;
            }
            match gain(end, i_tag) {
                Some(x) => g += x,
                None => break,
            }
            end += 1;
        }
    }
    best
}

/// Joins spans of one argument separated only by spaces or punctuation ("this" "afternoon",
/// "88" "-" "1932"): one value, cut apart by an uncertain tagger. Joined spans add their gains.
/// The arguments in `apart` (those the training data gives side by side, [`adjacent_args`])
/// keep the tagger's boundaries.
pub fn merge_adjacent(spans: Vec<ScoredSpan>, chars: &[char], apart: &[u32]) -> Vec<ScoredSpan> {
    let mut out: Vec<ScoredSpan> = Vec::with_capacity(spans.len());
    for (k, start, end, g) in spans {
        match out.last_mut() {
            Some(last)
                if last.0 == k
                    && !apart.contains(&k)
                    && chars
                        .get(last.2..start)
                        .is_some_and(|gap| gap.iter().all(|c| !c.is_alphanumeric())) =>
            {
                last.2 = end;
                last.3 += g;
            }
            _ => out.push((k, start, end, g)),
        }
    }
    out
}

/// Of the spans of each argument in `single`, only the one with the largest gain stays (the
/// first of equals); the order of the rest is kept. An argument the training data never gave
/// twice is one value: a second span is the tagger's mistake, such as a word of a phrasing it
/// has not seen ("can I *get a* refund on my order A9737").
pub fn keep_best_single(spans: Vec<ScoredSpan>, single: &[u32]) -> Vec<ScoredSpan> {
    // Argument index -> position of its best span so far.
    let mut best: HashMap<u32, usize> = HashMap::new();
    for (i, &(k, _, _, g)) in spans.iter().enumerate() {
        if single.contains(&k) {
            let b = best.entry(k).or_insert(i);
            if g > spans[*b].3 {
                *b = i;
            }
        }
    }
    spans
        .into_iter()
        .enumerate()
        .filter(|(i, s)| best.get(&s.0).is_none_or(|b| b == i))
        .map(|(_, s)| s)
        .collect()
}

/// Indices into `names` of the arguments that some example in `examples` gives twice in a row,
/// with only spaces or punctuation between ("early" "morning" as two times of day): their
/// spans are separate values, which [`merge_adjacent`] must not join. `old` is the model
/// training continues from, as its argument names and its own list: what it kept apart stays
/// apart, since only a sample of its examples is replayed.
pub fn adjacent_args(
    names: &[String],
    examples: &[Example],
    old: Option<(&[String], &[u32])>,
) -> Vec<u32> {
    let mut adjacent: BTreeSet<String> = BTreeSet::new();
    if let Some((old_names, old_adjacent)) = old {
        adjacent.extend(
            old_adjacent
                .iter()
                .filter_map(|&k| old_names.get(k as usize))
                .cloned(),
        );
    }
    for ex in examples {
        let chars: Vec<char> = ex.text.chars().collect();
        // Given spans, or the values of `args` located in the text.
        let located = locate(ex).unwrap_or_default();
        let mut spans: Vec<&Span> = located.iter().collect();
        spans.sort_by_key(|s| s.start);
        for w in spans.windows(2) {
            let gap = chars.get(w[0].end..w[1].start);
            if w[0].name == w[1].name && gap.is_some_and(|g| g.iter().all(|c| !c.is_alphanumeric()))
            {
                adjacent.insert(w[0].name.clone());
            }
        }
    }
    names
        .iter()
        .enumerate()
        .filter(|(_, n)| adjacent.contains(n.as_str()))
        .map(|(k, _)| k as u32)
        .collect()
}

/// Indices into `names` of the single arguments: those that no example in `examples` gives
/// twice, or fewer than `min_share` of the examples that give them (an annotation slip in a
/// thousand examples should not let the argument split into pieces everywhere).
pub fn single_args(names: &[String], examples: &[Example], min_share: f64) -> Vec<u32> {
    // Per argument: examples that give it, and those that give it twice or more.
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for ex in examples {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for s in locate(ex).unwrap_or_default() {
            *seen.entry(s.name).or_default() += 1;
        }
        for (name, n) in seen {
            let c = counts.entry(name).or_default();
            c.0 += 1;
            c.1 += usize::from(n > 1);
        }
    }
    names
        .iter()
        .enumerate()
        .filter(|(_, n)| match counts.get(n.as_str()) {
            Some(&(given, twice)) => twice == 0 || (twice as f64) < min_share * given as f64,
            None => true,
        })
        .map(|(k, _)| k as u32)
        .collect()
}

/// The best tag sequence for one request (BIO, constrained decoding): `scores` holds `n_tags`
/// logits per token, `allowed` the argument indices of the chosen tool. Per token only `O` and
/// that tool's `B-`/`I-` tags compete (log-softmax among them); an `I-x` must follow `B-x` or
/// `I-x`; a piece that continues a word (`continues[i]`) takes its word's argument (`I-` of it,
/// or `O`); token 0 (`[CLS]`) is `O`. Viterbi over those rules maximises the summed
/// log-probabilities, so a value's boundaries are decided over the whole request, not token by
/// token.
pub fn viterbi(scores: &[f32], n_tags: usize, allowed: &[u32], continues: &[bool]) -> Vec<u32> {
    let t = scores.len().checked_div(n_tags).unwrap_or(0);
    if t == 0 {
        return Vec::new();
    }
    // Candidates: O, then B-, I- of each argument (candidate 1 + 2m is B- of the m-th).
    let mut cand: Vec<u32> = vec![0];
    for &k in allowed.iter().filter(|&&k| ((2 + 2 * k) as usize) < n_tags) {
        cand.extend([1 + 2 * k, 2 + 2 * k]);
    }
    let c = cand.len();
    let mut best = vec![f32::NEG_INFINITY; t * c];
    let mut from = vec![0usize; t * c];
    best[0] = 0.0; // [CLS] is O (candidate 0)
    let mut logp = vec![0f32; c];
    for i in 1..t {
        let row = &scores[i * n_tags..(i + 1) * n_tags];
        let max = cand
            .iter()
            .map(|&x| row[x as usize])
            .fold(f32::NEG_INFINITY, f32::max);
        let ln_z = cand
            .iter()
            .map(|&x| (row[x as usize] - max).exp())
            .sum::<f32>()
            .ln();
        for (j, &x) in cand.iter().enumerate() {
            logp[j] = row[x as usize] - max - ln_z;
        }
        // The rules make each step linear in the candidates: O and B- may follow anything (the
        // best previous tag), I-x only B-x or I-x; a word's later piece (`cont`) follows its
        // first: O after O, I-x after B-x / I-x, never B-.
        let (prev, cur) = best.split_at_mut(i * c);
        let prev = &prev[(i - 1) * c..];
        let cur = &mut cur[..c];
        let (q_best, s_best) =
            prev.iter()
                .copied()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |a, (q, s)| if s > a.1 { (q, s) } else { a },
                );
        let cont = continues.get(i).copied().unwrap_or(false);
        let (q_o, s_o) = if cont { (0, prev[0]) } else { (q_best, s_best) };
        cur[0] = s_o + logp[0];
        from[i * c] = q_o;
        for m in 0..(c - 1) / 2 {
            let (jb, ji) = (1 + 2 * m, 2 + 2 * m);
            if !cont {
                cur[jb] = s_best + logp[jb];
                from[i * c + jb] = q_best;
            }
            let (q, s) = if prev[jb] >= prev[ji] {
                (jb, prev[jb])
            } else {
                (ji, prev[ji])
            };
            cur[ji] = s + logp[ji];
            from[i * c + ji] = q;
        }
    }
    let mut j = (0..c)
        .max_by(|&a, &b| best[(t - 1) * c + a].total_cmp(&best[(t - 1) * c + b]))
        .unwrap_or(0);
    let mut tags = vec![0u32; t];
    for i in (0..t).rev() {
        tags[i] = cand[j];
        if i > 0 {
            j = from[i * c + j];
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn constrained_decoding_keeps_bio_valid_and_words_whole() {
        // Tags: O, B-city, I-city, B-date, I-date. Token 0 is [CLS].
        let n = 5;
        let row = |o: f32, bc: f32, ic: f32, bd: f32, id: f32| [o, bc, ic, bd, id];
        // Greedy would give O I-city I-city (an I- with no B-); the best valid path begins it.
        let scores: Vec<f32> = [
            row(0., 0., 0., 0., 0.),
            row(2., 0., 0., -5., -5.),
            row(0., 1.5, 2., -5., -5.),
            row(0., 0., 3., -5., -5.),
        ]
        .concat();
        let tags = viterbi(&scores, n, &[0, 1], &[false; 4]);
        assert_eq!(tags, vec![0, 0, 1, 2]);
        // Arguments the tool does not take never appear, whatever their scores.
        let tags = viterbi(&scores, n, &[1], &[false; 4]);
        assert!(tags.iter().all(|&t| t == 0 || t >= 3), "{tags:?}");
        // A continuing piece follows its word: B-city then "##s" must be I-city.
        let scores: Vec<f32> = [
            row(0., 0., 0., 0., 0.),
            row(0., 3., 0., 0., 0.),
            row(3., 0., 0., 0., 0.),
        ]
        .concat();
        assert_eq!(
            viterbi(&scores, n, &[0, 1], &[false, false, true]),
            vec![0, 1, 2]
        );
        assert!(viterbi(&[], n, &[0], &[]).is_empty());
    }

    #[test]
    fn constrained_decoding_finds_the_best_valid_path() {
        // Against every path on random scores: tags O, B-/I- of 3 arguments, the tool takes
        // arguments 0 and 2; 5 tokens, some continuing a word.
        let (n, t) = (7usize, 5usize);
        let allowed = [0u32, 2];
        let cand = [0u32, 1, 2, 5, 6];
        let valid = |prev: u32, next: u32, cont: bool| -> bool {
            let arg = |x: u32| (x > 0).then(|| (x - 1) / 2);
            if cont {
                return match arg(prev) {
                    None => next == 0,
                    Some(k) => next == 2 + 2 * k,
                };
            }
            next == 0 || (next - 1).is_multiple_of(2) || arg(prev) == arg(next)
        };
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) * 6.0 - 3.0
        };
        for round in 0..50 {
            let scores: Vec<f32> = (0..n * t).map(|_| rnd()).collect();
            let continues: Vec<bool> = (0..t).map(|i| i > 1 && (round + i) % 3 == 0).collect();
            let logp = |i: usize, x: u32| {
                let row = &scores[i * n..(i + 1) * n];
                let z: f32 = cand.iter().map(|&c| row[c as usize].exp()).sum();
                row[x as usize] - z.ln()
            };
            let mut best = (f32::NEG_INFINITY, vec![]);
            for code in 0..cand.len().pow((t - 1) as u32) {
                let mut path = vec![0u32];
                let mut rest = code;
                for _ in 1..t {
                    path.push(cand[rest % cand.len()]);
                    rest /= cand.len();
                }
                if !(1..t).all(|i| valid(path[i - 1], path[i], continues[i])) {
                    continue;
                }
                let score: f32 = (1..t).map(|i| logp(i, path[i])).sum();
                if score > best.0 {
                    best = (score, path);
                }
            }
            let got = viterbi(&scores, n, &allowed, &continues);
            let got_score: f32 = (1..t).map(|i| logp(i, got[i])).sum();
            assert!(
                (got_score - best.0).abs() < 1e-4,
                "round {round}: {got:?} vs {:?}",
                best.1
            );
            assert!(
                (1..t).all(|i| valid(got[i - 1], got[i], continues[i])),
                "{got:?}"
            );
        }
    }

    #[test]
    fn values_are_located_case_insensitively_or_reported_missing() {
        let ex = crate::data::parse_examples(
            r#"{"text":"Weather in OSLO tomorrow","tool":"w","args":{"city":"oslo"}}
{"text":"weather please","tool":"w","args":{"city":"oslo"}}"#,
            Path::new("x"),
            None,
        )
        .unwrap();
        assert_eq!(
            locate(&ex[0]).unwrap(),
            vec![Span {
                name: "city".into(),
                start: 11,
                end: 15
            }]
        );
        assert_eq!(locate(&ex[1]), None);
    }

    #[test]
    fn a_value_is_located_as_a_whole_word_before_inside_one() {
        let ex = crate::data::parse_examples(
            r#"{"text":"find emails about AI","tool":"s","args":{"query":"ai"}}
{"text":"in room 15 set the volume to 5","tool":"v","args":{"volume":5}}
{"text":"show the emails","tool":"s","args":{"query":"ai"}}"#,
            Path::new("x"),
            None,
        )
        .unwrap();
        let at = |i: usize| locate(&ex[i]).map(|s| (s[0].start, s[0].end));
        assert_eq!(at(0), Some((18, 20)));
        assert_eq!(at(1), Some((29, 30)));
        // Only inside a word: still found there.
        assert_eq!(at(2), Some((11, 13)));
    }

    #[test]
    fn equal_or_nested_values_take_different_places_and_arrays_each_item() {
        let ex = crate::data::parse_examples(
            r#"{"text":"book 2 rooms for 2 nights","tool":"h","args":{"rooms":2,"nights":2}}
{"text":"from new york to york","tool":"t","args":{"to":"york","from":"new york"}}
{"text":"weather in oslo and rome","tool":"w","args":{"city":["oslo","rome"],"metric":true,"note":""}}"#,
            Path::new("x"),
            None,
        )
        .unwrap();
        let places = |i: usize| -> Vec<(String, usize, usize)> {
            locate(&ex[i])
                .expect("located")
                .into_iter()
                .map(|s| (s.name, s.start, s.end))
                .collect()
        };
        // Both used to land on the first "2" (and `rooms` overwrote `nights` in the tags).
        assert_eq!(
            places(0),
            [("nights".into(), 5, 6), ("rooms".into(), 17, 18)]
        );
        assert_eq!(places(1), [("from".into(), 5, 13), ("to".into(), 17, 21)]);
        // An array, a boolean and an empty string used to make the whole example unlocatable.
        assert_eq!(
            places(2),
            [("city".into(), 11, 15), ("city".into(), 20, 24)]
        );
        // Located arrays count as an argument given twice, as spans would.
        let names = vec!["city".to_string()];
        assert!(single_args(&names, &ex[2..], 0.01).is_empty());
    }

    #[test]
    fn multi_token_spans_decode_back_to_the_same_characters() {
        // "[CLS] fly to são paulo !" ; city = "são paulo" (chars 7..16)
        let offsets = [(0, 0), (0, 3), (4, 6), (7, 10), (11, 16), (17, 18)];
        let names = vec!["city".to_string(), "date".to_string()];
        let spans = [Span {
            name: "city".into(),
            start: 7,
            end: 16,
        }];
        let tags = bio_tags(&offsets, &spans, &names);
        assert_eq!(tags, vec![0, 0, 0, 1, 2, 0]);
        assert_eq!(decode_spans(&tags, &offsets), vec![(0, 7, 16)]);
        // A stray I- starts a span; two B- make two spans.
        assert_eq!(
            decode_spans(&[0, 4, 3, 3], &offsets[..4]),
            vec![(1, 0, 3), (1, 4, 6), (1, 7, 10)]
        );
    }

    #[test]
    fn pieces_of_one_value_split_by_punctuation_are_joined() {
        let chars: Vec<char> = "order 88-1932 and 77 then x".chars().collect();
        let spans = vec![
            (0, 6, 8, 1.0),
            (0, 9, 13, 2.0),
            (0, 18, 20, 4.0),
            (1, 26, 27, 8.0),
        ];
        // "88" "-" "1932" join (gains add); "77" stays apart ("and" between); another argument
        // never joins.
        assert_eq!(
            merge_adjacent(spans.clone(), &chars, &[]),
            vec![(0, 6, 13, 3.0), (0, 18, 20, 4.0), (1, 26, 27, 8.0)]
        );
        // An argument kept apart (given side by side in training) is left as tagged.
        assert_eq!(merge_adjacent(spans.clone(), &chars, &[0]), spans);
    }

    #[test]
    fn arguments_given_side_by_side_in_training_are_found() {
        let span = |n: &str, a: usize, b: usize| Span {
            name: n.into(),
            start: a,
            end: b,
        };
        let ex = |text: &str, spans: Vec<Span>| Example {
            text: text.into(),
            tool: Some("t".into()),
            args: serde_json::Map::new(),
            spans,
        };
        let names: Vec<String> = ["time", "city", "day"].map(String::from).to_vec();
        let examples = [
            // "early" "morning": two times of day side by side (given in reverse order).
            ex(
                "early morning to boston",
                vec![
                    span("city", 17, 23),
                    span("time", 6, 13),
                    span("time", 0, 5),
                ],
            ),
            // Two cities with a word between, and days joined by a comma only.
            ex(
                "boston and denver, mon, tue",
                vec![
                    span("city", 0, 6),
                    span("city", 11, 17),
                    span("day", 19, 22),
                    span("day", 24, 27),
                ],
            ),
        ];
        assert_eq!(adjacent_args(&names, &examples, None), vec![0, 2]);
        // Continued from a model that kept "city" apart (and a name no longer known): kept.
        let old: Vec<String> = ["gone", "city"].map(String::from).to_vec();
        assert_eq!(
            adjacent_args(&names, &examples[1..], Some((&old, &[0, 1, 7]))),
            vec![1, 2]
        );
        assert_eq!(adjacent_args(&names, &examples[1..], None), vec![2]);
    }

    #[test]
    fn a_missing_argument_takes_the_free_span_the_tagger_nearly_marked() {
        // Five tags (O, B-x, I-x, B-y, I-y); tokens: [CLS], "book", "kayak", "trip", "for",
        // "4", "4" continued ("4" "##2" is one word), [SEP].
        let scores = [
            9.0, 0.0, 0.0, 0.0, 0.0, // [CLS]
            2.0, 0.0, 0.0, 0.0, 0.0, // "book"
            2.0, 1.0, 0.0, 0.0, 0.0, // "kayak": B-x at a margin of -1
            2.0, 0.0, 1.5, 0.0, 0.0, // "trip": I-x at -0.5
            2.0, 0.0, 0.0, 0.0, 0.0, // "for"
            0.0, 0.0, 0.0, 5.0, 0.0, // "4": B-y (decoded)
            0.0, 0.0, 0.0, 0.0, 5.0, // "##2": I-y (decoded)
            9.0, 0.0, 0.0, 0.0, 0.0, // [SEP]
        ];
        let tags = [0, 0, 0, 0, 0, 3, 4, 0];
        let offsets = [
            (0, 0),
            (0, 4),
            (5, 10),
            (11, 15),
            (16, 19),
            (20, 21),
            (21, 22),
            (0, 0),
        ];
        let continues = [false, false, false, false, false, false, true, false];
        let best = |k: u32, min_gain: f32, accept: &dyn Fn(usize, usize) -> bool| {
            best_free_span(
                (&scores, 5),
                &tags,
                &offsets,
                &continues,
                k,
                min_gain,
                accept,
            )
        };
        let any = |_: usize, _: usize| true;
        let two_words = |a: usize, b: usize| b - a >= 2;
        // x: "kayak" alone (-1) beats "kayak trip" (-1 - 0.5) and any span with "book" or "for".
        assert_eq!(best(0, f32::MIN, &any), Some((2, 3, -1.0)));
        // Refusing one-word values leaves "kayak trip"; the decoded "42" and [SEP] are never free.
        assert_eq!(best(0, f32::MIN, &two_words), Some((2, 4, -1.5)));
        // A floor on the gain leaves out what scores under it.
        assert_eq!(best(0, -0.5, &any), None);
        assert_eq!(best(0, -1.0, &two_words), None);
        // No word is free to start y without the decoded one; a word's later piece never starts.
        assert_eq!(best(1, f32::MIN, &|a: usize, _: usize| a >= 5), None);
        // An argument index outside the tag set has no span.
        assert_eq!(best(2, f32::MIN, &any), None);
    }

    #[test]
    fn gains_are_the_margin_over_o_and_add_up_over_a_span() {
        // Three tags (O, B-x, I-x); tokens: [CLS], "get", "a", "A97" "37" (one value, two pieces).
        let scores = [
            9.0, 0.0, 0.0, // [CLS]
            1.0, 1.5, 0.0, // "get": B-x by a margin of 0.5
            2.0, 0.0, 2.25, // "a": I-x by 0.25
            0.0, 4.0, 1.0, // "A97": B-x by 4
            0.5, 0.0, 3.5, // "37": I-x by 3
        ];
        let tags = [0, 1, 2, 1, 2];
        let gains = tag_gains(&scores, 3, &tags);
        assert_eq!(gains, vec![0.0, 0.5, 0.25, 4.0, 3.0]);
        let offsets = [(0, 0), (0, 3), (4, 5), (6, 9), (9, 11)];
        assert_eq!(
            decode_scored_spans(&tags, &offsets, &gains),
            vec![(0, 0, 5, 0.75), (0, 6, 11, 7.0)]
        );
    }

    #[test]
    fn a_single_argument_keeps_its_best_span_and_a_repeated_one_all() {
        let spans = vec![
            (0, 0, 5, 0.75),
            (1, 6, 8, 1.0),
            (0, 10, 15, 7.0),
            (1, 20, 22, 0.5),
            (0, 30, 31, 7.0),
        ];
        // Argument 0 is single: its best (the first of the equal 7.0s) stays; 1 may repeat.
        assert_eq!(
            keep_best_single(spans.clone(), &[0]),
            vec![(1, 6, 8, 1.0), (0, 10, 15, 7.0), (1, 20, 22, 0.5)]
        );
        assert_eq!(keep_best_single(spans.clone(), &[]), spans);
    }

    #[test]
    fn an_argument_is_single_unless_an_example_gives_it_twice() {
        let span = |n: &str, a: usize| Span {
            name: n.into(),
            start: a,
            end: a + 1,
        };
        let ex = |spans: Vec<Span>| Example {
            text: "x".repeat(10),
            tool: Some("t".into()),
            args: serde_json::Map::new(),
            spans,
        };
        let names: Vec<String> = ["city", "date", "guest"].map(String::from).to_vec();
        let examples = [
            ex(vec![span("city", 0), span("date", 2)]),
            ex(vec![span("guest", 0), span("guest", 4), span("city", 6)]),
        ];
        assert_eq!(single_args(&names, &examples, 0.0), vec![0, 1]);
        // "guest" is given twice in 1 of its 1 examples: repeated at any share up to 1.
        assert_eq!(single_args(&names, &examples, 1.0), vec![0, 1]);
        // One repeat among three examples of "city": single at a share over 1/3, not under.
        let more = [
            ex(vec![span("city", 0), span("city", 3)]),
            ex(vec![span("city", 0)]),
            ex(vec![span("city", 0), span("date", 2)]),
        ];
        assert_eq!(single_args(&names, &more, 0.0), vec![1, 2]);
        assert_eq!(single_args(&names, &more, 0.3), vec![1, 2]);
        assert_eq!(single_args(&names, &more, 0.34), vec![0, 1, 2]);
    }

    #[test]
    fn spans_survive_accents_emoji_and_punctuation_through_the_real_tokenizer(
    ) -> Result<(), Box<dyn std::error::Error>> {
        // Character offsets (code points) of the values in text with multi-byte characters,
        // an emoji and punctuation glued to the values: tags and back give the same characters.
        let text = "🎵 Play «Zoë Café» in São-Paulo, then Ålesund!";
        let chars: Vec<char> = text.chars().collect();
        let find = |v: &str| {
            let vc: Vec<char> = v.chars().collect();
            (0..chars.len())
                .find(|&i| chars[i..].starts_with(&vc))
                .map_or((0, 0), |i| (i, i + vc.len()))
        };
        let names = vec!["artist".to_string(), "city".to_string()];
        let spans: Vec<Span> = [
            ("artist", "Zoë Café"),
            ("city", "São-Paulo"),
            ("city", "Ålesund"),
        ]
        .iter()
        .map(|(n, v)| {
            let (start, end) = find(v);
            Span {
                name: n.to_string(),
                start,
                end,
            }
        })
        .collect();
        let tok = crate::tokenizer::train_tokenizer(&[text.to_string(), text.to_string()], 200)?;
        let enc = crate::tokenizer::encode(&tok, text, 64)?;
        let tags = bio_tags(&enc.offsets, &spans, &names);
        let decoded = merge_adjacent(decode_scored_spans(&tags, &enc.offsets, &[]), &chars, &[]);
        let got: Vec<String> = decoded
            .iter()
            .map(|&(_, a, b, _)| chars[a..b].iter().collect())
            .collect();
        assert_eq!(got, vec!["Zoë Café", "São-Paulo", "Ålesund"]);
        assert_eq!(
            decoded
                .iter()
                .map(|&(k, a, b, _)| (k, a, b))
                .collect::<Vec<_>>(),
            spans
                .iter()
                .map(|s| (u32::from(s.name == "city"), s.start, s.end))
                .collect::<Vec<_>>()
        );
        Ok(())
    }

    #[test]
    fn vocabulary_merges_schema_properties_and_span_names() {
        let tools = crate::data::parse_tools(
            r#"[{"name":"w","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},{"name":"m"}]"#,
            Path::new("t"),
        )
        .unwrap();
        let mut ex = Example::new("play abba", Some("m"));
        ex.spans.push(Span {
            name: "artist".into(),
            start: 5,
            end: 9,
        });
        let (names, per_tool) = arg_vocab(&tools, &[ex]);
        assert_eq!(names, vec!["artist".to_string(), "city".to_string()]);
        assert_eq!(per_tool, vec![vec![1], vec![0]]);
    }
}
