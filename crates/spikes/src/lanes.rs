//! The paper's windowed pairing (section 4.2.1) for 64 trains at once: bit `k` of each word is
//! train `k` of a block. The trains of one sequence share their rates, so the experiment only
//! needs, per presynaptic step `t` and offset `dt`, how many of the 64 trains pair with
//! `dt`: a few word operations and a popcount.

/// Add to `counts[t * (2 window + 1) + (dt + window)]` the number of trains whose presynaptic
/// spike at step `t` pairs, by [`crate::Scheme::Windowed`], with a postsynaptic spike at
/// `t + dt`.
///
/// `pre[t]`: presynaptic spikes of the 64 trains at steps `0..steps`; `post[u]`: postsynaptic
/// spikes at steps `u - window` for `u` in `0..steps + 2 window` (the window is padded on both
/// sides so that every presynaptic spike sees a whole window).
///
/// # Panics
/// If `post.len() != pre.len() + 2 window` or `counts.len() != pre.len() (2 window + 1)`.
pub fn windowed_counts(pre: &[u64], post: &[u64], window: usize, counts: &mut [u32]) {
    let steps = pre.len();
    let w = window;
    let bins = 2 * w + 1;
    assert_eq!(post.len(), steps + 2 * w, "post must be padded by the window");
    assert_eq!(counts.len(), steps * bins, "counts must be steps x (2 window + 1)");
    if w == 0 {
        return;
    }
    // left[t] = OR of post over [t - w, t - 1], right[t] = OR over [t + 1, t + w], computed
    // for all t with the van Herk / Gil-Werman trick: prefix and suffix ORs within blocks of
    // length w, two lookups per window.
    let (prefix, suffix) = block_scans(post, w);
    let window_or = |start: usize| -> u64 {
        // OR of post[start .. start + w]
        let end = start + w - 1;
        if start.is_multiple_of(w) { prefix[end] } else { suffix[start] | prefix[end] }
    };
    for (t, &p) in pre.iter().enumerate() {
        if p == 0 {
            continue;
        }
        let u = t + w; // index of step t in post
        let centre = post[u];
        let left = window_or(u - w);
        let right = window_or(u + 1);
        let one_side = p & (left ^ right);
        if one_side == 0 {
            continue;
        }
        let row = &mut counts[t * bins..(t + 1) * bins];
        row[w] += (one_side & centre).count_ones();
        let rest = one_side & !centre;
        let mut rem = rest & right;
        let mut d = 1;
        while rem != 0 {
            let hit = rem & post[u + d];
            row[w + d] += hit.count_ones();
            rem &= !hit;
            d += 1;
        }
        let mut rem = rest & left;
        let mut d = 1;
        while rem != 0 {
            let hit = rem & post[u - d];
            row[w - d] += hit.count_ones();
            rem &= !hit;
            d += 1;
        }
    }
}

/// Prefix ORs (from each block start) and suffix ORs (to each block end) over blocks of length
/// `w` of `x`.
fn block_scans(x: &[u64], w: usize) -> (Vec<u64>, Vec<u64>) {
    let n = x.len();
    let mut prefix = vec![0u64; n];
    let mut suffix = vec![0u64; n];
    for i in 0..n {
        prefix[i] = if i.is_multiple_of(w) { x[i] } else { prefix[i - 1] | x[i] };
    }
    for i in (0..n).rev() {
        suffix[i] = if i % w == w - 1 || i == n - 1 { x[i] } else { suffix[i + 1] | x[i] };
    }
    (prefix, suffix)
}

/// The spike times of train `lane` in a block of words (`words[t]` bit `lane`), offset by
/// `offset`.
pub fn lane_times(words: &[u64], lane: u32, offset: u32) -> Vec<u32> {
    (0u32..).zip(words).filter_map(|(t, &w)| ((w >> lane) & 1 == 1).then_some(t + offset)).collect()
}
