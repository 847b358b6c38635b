//! Property tests: every pairing scheme, and the 64-lane windowed counts of the experiment,
//! against plain reference implementations written straight from the definitions (all pairs,
//! filtered).

use proptest::prelude::*;
use spikes::lanes::{lane_times, windowed_counts};
use spikes::{Pair, Scheme, SpikeTrain, pairs};

/// The paper's rule for one presynaptic spike, from the definition.
fn reference_windowed(t: u32, post: &[u32], w: u32) -> Option<i64> {
    let t = i64::from(t);
    let w = i64::from(w);
    let near: Vec<i64> = post.iter().map(|&p| i64::from(p) - t).filter(|d| d.abs() <= w).collect();
    let left = near.iter().any(|&d| d < 0);
    let right = near.iter().any(|&d| d > 0);
    if left == right {
        return None; // both sides, or neither (with or without a coinciding spike)
    }
    near.iter().copied().min_by_key(|d| d.abs())
}

/// Every scheme, from its definition over all (pre, post) pairs.
fn reference(scheme: Scheme, pre: &[u32], post: &[u32]) -> Vec<Pair> {
    let last_before = |xs: &[u32], t: u32| xs.iter().copied().filter(|&x| x < t).max();
    let first_after = |xs: &[u32], t: u32| xs.iter().copied().filter(|&x| x > t).min();
    let between = |xs: &[u32], lo: u32, hi: u32| xs.iter().any(|&x| lo < x && x < hi);
    let mut out = Vec::new();
    for &a in pre {
        for &b in post {
            let keep = match scheme {
                Scheme::Windowed { window } => {
                    reference_windowed(a, post, window) == Some(i64::from(b) - i64::from(a))
                }
                Scheme::Symmetric => {
                    (b < a && last_before(post, a) == Some(b))
                        || (a < b && last_before(pre, b) == Some(a))
                }
                Scheme::PreCentred => {
                    last_before(post, a) == Some(b) || first_after(post, a) == Some(b)
                }
                Scheme::Restricted => {
                    (b < a && last_before(post, a) == Some(b) && !between(pre, b, a))
                        || (a < b && last_before(pre, b) == Some(a) && !between(post, a, b))
                }
                Scheme::RestrictedNest => {
                    // NEST: the latest partner in (previous own spike, t]; a coinciding one
                    // gives way to the latest partner strictly before t.
                    let partner = |own: &[u32], other: &[u32], t: u32| {
                        let since = last_before(own, t);
                        let latest = other
                            .iter()
                            .copied()
                            .filter(|&x| x <= t && since.is_none_or(|p| x > p))
                            .max()?;
                        if latest < t { Some(latest) } else { last_before(other, t) }
                    };
                    (b < a && partner(pre, post, a) == Some(b))
                        || (a < b && partner(post, pre, b) == Some(a))
                }
            };
            if keep {
                out.push(Pair { pre: a, post: b });
            }
        }
    }
    out.sort_unstable();
    out
}

fn times(max: u32, n: usize) -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::btree_set(0..max, 0..n).prop_map(|s| s.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn schemes_match_reference(pre in times(80, 25), post in times(80, 25), window in 1u32..30) {
        let (a, b) = (SpikeTrain::new(pre.clone()).unwrap(), SpikeTrain::new(post.clone()).unwrap());
        for scheme in [Scheme::Windowed { window }, Scheme::Symmetric, Scheme::PreCentred, Scheme::Restricted, Scheme::RestrictedNest] {
            prop_assert_eq!(pairs(scheme, &a, &b), reference(scheme, &pre, &post), "{:?}", scheme);
        }
    }

    #[test]
    fn lanes_match_reference(
        pre in proptest::collection::vec(any::<u64>(), 1..40),
        post_bits in proptest::collection::vec(any::<u64>(), 80),
        sparsity in proptest::collection::vec(any::<u64>(), 80),
        window in 1usize..12,
    ) {
        let steps = pre.len();
        // sparser postsynaptic trains so that one-sided windows are common
        let post: Vec<u64> = (0..steps + 2 * window)
            .map(|u| post_bits[u % 80] & sparsity[u % 80] & sparsity[(u * 7 + 3) % 80])
            .collect();
        let bins = 2 * window + 1;
        let mut counts = vec![0u32; steps * bins];
        windowed_counts(&pre, &post, window, &mut counts);
        let mut expected = vec![0u32; steps * bins];
        for lane in 0..64 {
            let post_t = lane_times(&post, lane, 0);
            for t in lane_times(&pre, lane, 0) {
                // step t of pre is index t + window of post
                if let Some(dt) = reference_windowed(t + window as u32, &post_t, window as u32) {
                    expected[t as usize * bins + (dt + window as i64) as usize] += 1;
                }
            }
        }
        prop_assert_eq!(counts, expected);
    }
}
