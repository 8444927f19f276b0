use super::*;

fn ids(c: &[Candidate]) -> Vec<u32> {
    c.iter().map(|x| x.id).collect()
}

fn prepared(logits: &[f32]) -> Vec<Candidate> {
    let mut c = candidates(logits, 1.0);
    sort_desc(&mut c);
    softmax(&mut c);
    c
}

#[test]
fn repetition_penalty_divides_positive_and_multiplies_negative_once_per_token() {
    let mut logits = vec![2.0, -2.0, 4.0, 1.0];
    apply_repetition_penalty(&mut logits, &[0, 1, 0, 0, 99], 2.0);
    assert_eq!(logits, vec![1.0, -4.0, 4.0, 1.0]);
    let mut unchanged = vec![2.0, -2.0];
    apply_repetition_penalty(&mut unchanged, &[0, 1], 1.0);
    assert_eq!(unchanged, vec![2.0, -2.0]);
}

#[test]
fn candidates_scale_by_temperature_and_skip_masked() {
    let c = candidates(&[1.0, f32::NEG_INFINITY, -2.0], 0.5);
    assert_eq!(ids(&c), vec![0, 2]);
    assert_eq!(c[0].logit, 2.0);
    assert_eq!(c[1].logit, -4.0);
}

#[test]
fn top_k_keeps_the_k_best_sorted() {
    let mut c = candidates(&[0.1, 5.0, 3.0, -1.0, 4.0], 1.0);
    top_k(&mut c, 3);
    assert_eq!(ids(&c), vec![1, 4, 2]);
    let mut all = candidates(&[0.1, 5.0], 1.0);
    top_k(&mut all, 0);
    assert_eq!(all.len(), 2);
    top_k(&mut all, 7);
    assert_eq!(all.len(), 2);
}

#[test]
fn softmax_sums_to_one_and_orders_like_logits() {
    let c = prepared(&[1.0, 2.0, 3.0]);
    let sum: f32 = c.iter().map(|x| x.prob).sum();
    assert!((sum - 1.0).abs() < 1e-6);
    assert!(c[0].prob > c[1].prob && c[1].prob > c[2].prob);
    let e = [3f64.exp(), 2f64.exp(), 1f64.exp()];
    let z: f64 = e.iter().sum();
    assert!((f64::from(c[0].prob) - e[0] / z).abs() < 1e-6);
}

#[test]
fn top_p_keeps_the_smallest_nucleus() {
    // probabilities 0.5, 0.25, 0.125, 0.125 (logits are log-probs)
    let logits: Vec<f32> = [0.5f32, 0.25, 0.125, 0.125]
        .iter()
        .map(|p| p.ln())
        .collect();
    let mut c = prepared(&logits);
    top_p(&mut c, 0.5);
    assert_eq!(ids(&c), vec![0]);
    let mut c = prepared(&logits);
    top_p(&mut c, 0.6);
    assert_eq!(ids(&c), vec![0, 1]);
    let mut c = prepared(&logits);
    top_p(&mut c, 0.76);
    assert_eq!(ids(&c), vec![0, 1, 2]);
    let mut c = prepared(&logits);
    top_p(&mut c, 1.0);
    assert_eq!(c.len(), 4);
    let mut c = prepared(&logits);
    top_p(&mut c, 0.0);
    assert_eq!(ids(&c), vec![0], "always keeps one");
}

#[test]
fn min_p_is_relative_to_the_best() {
    let logits: Vec<f32> = [0.6f32, 0.3, 0.06, 0.04].iter().map(|p| p.ln()).collect();
    let mut c = prepared(&logits);
    min_p(&mut c, 0.09);
    assert_eq!(ids(&c), vec![0, 1, 2], "0.06 >= 0.09 * 0.6 but 0.04 is not");
    let mut c = prepared(&logits);
    min_p(&mut c, 0.6);
    assert_eq!(ids(&c), vec![0]);
    let mut c = prepared(&logits);
    min_p(&mut c, 0.0);
    assert_eq!(c.len(), 4);
}

#[test]
fn pick_follows_cumulative_mass() {
    let c = vec![
        Candidate {
            id: 7,
            logit: 0.0,
            prob: 0.2,
        },
        Candidate {
            id: 8,
            logit: 0.0,
            prob: 0.6,
        },
        Candidate {
            id: 9,
            logit: 0.0,
            prob: 0.2,
        },
    ];
    assert_eq!(pick(&c, 0.0), Some(7));
    assert_eq!(pick(&c, 0.19), Some(7));
    assert_eq!(pick(&c, 0.21), Some(8));
    assert_eq!(pick(&c, 0.79), Some(8));
    assert_eq!(pick(&c, 0.81), Some(9));
    assert_eq!(pick(&c, 0.999_999_9), Some(9));
    assert_eq!(pick(&[], 0.5), None);
    // unnormalised after truncation: [0.2, 0.6] -> 0.5 of 0.8 = 0.4 lands in id 8
    assert_eq!(pick(&c[..2], 0.5), Some(8));
}

#[test]
fn negligible_candidates_never_change_the_nucleus() {
    // A peaked distribution over 1000 tokens: a few likely ones and a long flat tail.
    let logits: Vec<f32> = (0..1000)
        .map(|i| {
            if i < 5 {
                10.0 - i as f32
            } else {
                -5.0 - (i % 13) as f32 * 0.1
            }
        })
        .collect();
    for p in [0.5, 0.9, 0.99, 0.999_99] {
        let mut full = prepared(&logits);
        top_p(&mut full, p);
        let mut pruned = candidates(&logits, 1.0);
        softmax(&mut pruned);
        drop_negligible_for_top_p(&mut pruned, p);
        assert!(pruned.len() <= 1000);
        sort_desc(&mut pruned);
        top_p(&mut pruned, p);
        assert_eq!(ids(&pruned), ids(&full), "p = {p}");
    }
    let mut tail = prepared(&logits);
    drop_negligible_for_top_p(&mut tail, 0.9);
    assert!(tail.len() < 100, "the flat tail is dropped: {}", tail.len());
}
