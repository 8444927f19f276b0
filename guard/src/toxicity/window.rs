//! Splitting long inputs into overlapping windows and combining their scores.
//!
//! A model sees at most `len` tokens at once. A longer input is cut into windows of `len` tokens
//! that start every `stride` tokens, the last one aligned with the end of the input, so every
//! token is seen and every run of `len - stride` consecutive tokens lies whole inside some window.
//! A text's score per label is the maximum over its windows.

use std::ops::Range;

/// Where one window lies in the token sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Token indices covered.
    pub tokens: Range<usize>,
}

/// The windows over `n` tokens for a window of `len` tokens moving by `stride`.
///
/// Zero tokens still give one (empty) window: the model scores an all-padding input, as Keras does
/// for an empty text. `len` and `stride` of 0 are treated as 1.
pub fn windows(n: usize, len: usize, stride: usize) -> Vec<Window> {
    let len = len.max(1);
    let stride = stride.clamp(1, len);
    if n <= len {
        return vec![Window { tokens: 0..n }];
    }
    let last = n - len;
    let mut out: Vec<Window> = (0..=last)
        .step_by(stride)
        .map(|s| Window { tokens: s..s + len })
        .collect();
    if out.last().map(|w| w.tokens.start) != Some(last) {
        out.push(Window {
            tokens: last..last + len,
        });
    }
    out
}

/// Element-wise maximum of per-window score rows (all of the same width).
pub fn max_scores<'a>(rows: impl IntoIterator<Item = &'a [f32]>, width: usize) -> Vec<f32> {
    let mut out = vec![0.0_f32; width];
    let mut any = false;
    for row in rows {
        for (o, &v) in out.iter_mut().zip(row) {
            if !any || v > *o {
                *o = v;
            }
        }
        any = true;
    }
    out
}

/// Writes `ids` into a pre-padded row of `len` ids (Keras `pad_sequences(padding="pre")`);
/// `ids` longer than `len` keep their last `len` (`truncating="pre"`).
pub fn pre_pad(ids: &[i64], len: usize, pad: i64, row: &mut Vec<i64>) {
    let keep = &ids[ids.len().saturating_sub(len)..];
    row.extend(std::iter::repeat_n(pad, len - keep.len()));
    row.extend_from_slice(keep);
}

/// Pairs each text's window spans (byte ranges, in submission order) with the model's per-window
/// scores (`width` labels each) and takes each text's maximum over its windows.
pub fn combine_windows(
    plan: Vec<Vec<(usize, usize)>>,
    results: impl IntoIterator<Item = Vec<f32>>,
    width: usize,
) -> Vec<super::TextScores> {
    let mut results = results.into_iter();
    plan.into_iter()
        .map(|spans| {
            let windows: Vec<super::WindowScores> = spans
                .into_iter()
                .zip(results.by_ref())
                .map(|((start, end), scores)| super::WindowScores { start, end, scores })
                .collect();
            let scores = max_scores(windows.iter().map(|w| w.scores.as_slice()), width);
            super::TextScores { scores, windows }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(n: usize, len: usize, stride: usize) -> Vec<usize> {
        windows(n, len, stride)
            .iter()
            .map(|w| w.tokens.start)
            .collect()
    }

    #[test]
    fn short_inputs_are_one_window() {
        assert_eq!(windows(0, 100, 50), vec![Window { tokens: 0..0 }]);
        assert_eq!(windows(100, 100, 50), vec![Window { tokens: 0..100 }]);
    }

    #[test]
    fn long_inputs_overlap_and_end_aligned() {
        assert_eq!(starts(101, 100, 50), vec![0, 1]);
        assert_eq!(starts(200, 100, 50), vec![0, 50, 100]);
        assert_eq!(starts(230, 100, 50), vec![0, 50, 100, 130]);
        for n in [101, 150, 333, 2048] {
            let ws = windows(n, 100, 50);
            assert!(ws.iter().all(|w| w.tokens.len() == 100));
            assert_eq!(ws.last().map(|w| w.tokens.end), Some(n));
            // every span of 50 consecutive tokens lies inside one window
            for s in 0..=n - 50 {
                assert!(
                    ws.iter()
                        .any(|w| w.tokens.start <= s && s + 50 <= w.tokens.end)
                );
            }
        }
    }

    #[test]
    fn max_is_elementwise() {
        let rows: [&[f32]; 3] = [&[0.1, 0.9], &[0.5, 0.2], &[0.3, 0.3]];
        assert_eq!(max_scores(rows, 2), vec![0.5, 0.9]);
    }

    #[test]
    fn pre_padding_matches_keras() {
        let mut row = Vec::new();
        pre_pad(&[7, 8], 4, 0, &mut row);
        assert_eq!(row, vec![0, 0, 7, 8]);
        row.clear();
        pre_pad(&[1, 2, 3, 4, 5], 3, 0, &mut row);
        assert_eq!(row, vec![3, 4, 5]);
    }
}
