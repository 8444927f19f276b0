//! Candidate filters used by stochastic sampling: repetition penalty, top-k, top-p (nucleus)
//! and min-p. Each is a pure function so it can be tested on its own.

/// One token still eligible for sampling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Token id.
    pub id: u32,
    /// Logit after penalties and temperature.
    pub logit: f32,
    /// Probability (filled by [`softmax`]).
    pub prob: f32,
}

/// Penalises tokens that occur in `recent` (each distinct token once), the CTRL way that
/// llama.cpp and candle use: positive logits are divided by `penalty`, negative ones
/// multiplied. `penalty == 1.0` is a no-op; ids outside `logits` are ignored.
pub fn apply_repetition_penalty(logits: &mut [f32], recent: &[u32], penalty: f32) {
    if penalty == 1.0 || recent.is_empty() {
        return;
    }
    let mut seen = std::collections::HashSet::with_capacity(recent.len());
    for &id in recent {
        if !seen.insert(id) {
            continue;
        }
        if let Some(l) = logits.get_mut(id as usize) {
            *l = if *l >= 0.0 {
                *l / penalty
            } else {
                *l * penalty
            };
        }
    }
}

/// Finite logits divided by `temperature`, as candidates (probabilities not yet computed).
pub fn candidates(logits: &[f32], temperature: f64) -> Vec<Candidate> {
    let inv_t = (1.0 / temperature) as f32;
    logits
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_finite())
        .filter_map(|(i, &l)| {
            u32::try_from(i).ok().map(|id| Candidate {
                id,
                logit: l * inv_t,
                prob: 0.0,
            })
        })
        .collect()
}

/// Sorts by logit, highest first (ties: lower id first).
pub fn sort_desc(c: &mut [Candidate]) {
    c.sort_unstable_by(|a, b| b.logit.total_cmp(&a.logit).then(a.id.cmp(&b.id)));
}

/// Keeps the `k` highest-logit candidates (sorted, highest first). `k == 0` keeps all.
pub fn top_k(c: &mut Vec<Candidate>, k: usize) {
    if k == 0 || k >= c.len() {
        return;
    }
    c.select_nth_unstable_by(k - 1, |a, b| {
        b.logit.total_cmp(&a.logit).then(a.id.cmp(&b.id))
    });
    c.truncate(k);
    sort_desc(c);
}

/// Fills `prob` with the softmax of the logits (in `f64`, stored as `f32`).
pub fn softmax(c: &mut [Candidate]) {
    let max = c.iter().map(|x| x.logit).fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return;
    }
    let sum: f64 = c.iter().map(|x| f64::from(x.logit - max).exp()).sum();
    for x in c.iter_mut() {
        x.prob = (f64::from(x.logit - max).exp() / sum) as f32;
    }
}

/// Nucleus filter: keeps the smallest prefix of `c` (which must be sorted, highest first, with
/// probabilities) whose cumulative probability reaches `p`; always keeps at least one.
/// `p >= 1` keeps all.
pub fn top_p(c: &mut Vec<Candidate>, p: f64) {
    if p >= 1.0 || c.is_empty() {
        return;
    }
    let mut cumulative = 0.0f64;
    let mut keep = c.len();
    for (i, x) in c.iter().enumerate() {
        cumulative += f64::from(x.prob);
        if cumulative >= p {
            keep = i + 1;
            break;
        }
    }
    c.truncate(keep.max(1));
}

/// Removes candidates that cannot be part of the top-`p` nucleus, so that only the rest
/// needs sorting (the full vocabulary is ~50k tokens): with `n` candidates, those below
/// `(1 - p) / n` weigh at most `1 - p` together, so the nucleus lies among the others.
/// Keeps everything if rounding leaves less than `p` (probabilities must be filled).
pub fn drop_negligible_for_top_p(c: &mut Vec<Candidate>, p: f64) {
    if p >= 1.0 || c.is_empty() {
        return;
    }
    let threshold = ((1.0 - p) / c.len() as f64) as f32;
    let kept: f64 = c
        .iter()
        .filter(|x| x.prob >= threshold)
        .map(|x| f64::from(x.prob))
        .sum();
    if kept >= p {
        c.retain(|x| x.prob >= threshold);
    }
}

/// Min-p filter: keeps candidates whose probability is at least `min_p` times the largest
/// one's; always keeps the most likely. `min_p <= 0` keeps all.
pub fn min_p(c: &mut Vec<Candidate>, min_p: f64) {
    if min_p <= 0.0 || c.is_empty() {
        return;
    }
    let max = c.iter().map(|x| x.prob).fold(0.0f32, f32::max);
    let threshold = (f64::from(max) * min_p) as f32;
    c.retain(|x| x.prob >= threshold);
}

/// Picks a candidate given `u` uniform in `[0, 1)`, proportionally to `prob` (which need not
/// sum to one: filters leave them unnormalised). Returns `None` for an empty list.
pub fn pick(c: &[Candidate], u: f64) -> Option<u32> {
    let total: f64 = c.iter().map(|x| f64::from(x.prob)).sum();
    let target = u * total;
    let mut cumulative = 0.0f64;
    for x in c {
        cumulative += f64::from(x.prob);
        if target < cumulative {
            return Some(x.id);
        }
    }
    // Rounding: fall back to the last candidate with non-zero probability.
    c.iter()
        .rev()
        .find(|x| x.prob > 0.0)
        .or(c.last())
        .map(|x| x.id)
}

#[cfg(test)]
mod tests;
