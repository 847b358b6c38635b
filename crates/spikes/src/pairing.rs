//! Pairing of pre- and postsynaptic spikes: the paper's presynaptic-centred windowed rule
//! (section 4.2.1) and the three nearest-neighbour schemes of Morrison, Diesmann & Gerstner
//! (2008, Fig. 7).
//!
//! A pair is `(t_pre, t_post)` with `dt = t_post - t_pre`; the STDP kernel turns it into a
//! weight change. All functions are linear merges over the two sorted trains.

use crate::SpikeTrain;

/// A pre- and a postsynaptic spike paired by a scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pair {
    /// Presynaptic spike time.
    pub pre: u32,
    /// Postsynaptic spike time.
    pub post: u32,
}

impl Pair {
    /// `dt = t_post - t_pre`.
    pub fn dt(self) -> i64 {
        i64::from(self.post) - i64::from(self.pre)
    }
}

/// Which spikes are paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// The paper's rule (section 4.2.1): for every presynaptic spike at `t`, look at the
    /// postsynaptic spikes in `[t - window, t + window]`. No pair if there are spikes on both
    /// sides (`[t - window, t - 1]` and `[t + 1, t + window]`), none at all, or only one at
    /// `t` itself; otherwise the nearest one (the one at `t`, `dt = 0`, if there is one).
    Windowed {
        /// Half-width of the window, steps.
        window: u32,
    },
    /// Symmetric nearest neighbour: every postsynaptic spike pairs with the last presynaptic
    /// spike strictly before it (potentiation) and every presynaptic spike with the last
    /// postsynaptic spike strictly before it (depression).
    Symmetric,
    /// Presynaptic-centred (Izhikevich & Desai 2003): every presynaptic spike pairs with the
    /// last postsynaptic spike strictly before it and the first strictly after it.
    PreCentred,
    /// Restricted symmetric (reduced): only immediate neighbours pair, i.e. a postsynaptic
    /// spike with the last presynaptic spike before it if no other postsynaptic spike lies
    /// between them, and a presynaptic spike with the last postsynaptic spike before it if no
    /// other presynaptic spike lies between them.
    Restricted,
    /// The restricted scheme as NEST's `stdp_nn_restr_synapse` implements it, which differs
    /// from [`Scheme::Restricted`] only where spikes coincide: a presynaptic spike at `a` pairs
    /// with the latest postsynaptic spike in `(a_prev, a]` (`a_prev` the previous presynaptic
    /// spike; a postsynaptic spike at `a_prev` itself counts as before it), and if that one
    /// coincides with `a` (`dt = 0`, discarded) with the latest one strictly before `a`,
    /// wherever it lies; the same for postsynaptic spikes (potentiation). E.g. pre {10, 20},
    /// post {10}: no pair (ours: 20 with 10); pre {10, 20}, post {5, 20}: 10 with 5, 20 with 5
    /// and 10 with 20 (ours: 10 with 5 and 10 with 20).
    RestrictedNest,
}

impl Scheme {
    /// The three nearest-neighbour schemes of Morrison et al. (2008), with their names.
    pub const MORRISON: [(&'static str, Scheme); 3] = [
        ("symmetric", Scheme::Symmetric),
        ("pre-centred", Scheme::PreCentred),
        ("restricted", Scheme::Restricted),
    ];
}

/// The pairs of `scheme`, sorted by `(pre, post)`.
pub fn pairs(scheme: Scheme, pre: &SpikeTrain, post: &SpikeTrain) -> Vec<Pair> {
    let mut out = Vec::new();
    for_each_pair(scheme, pre, post, |p| out.push(p));
    out.sort_unstable();
    out
}

/// Call `f` on every pair of `scheme`, in no particular order (no allocation).
pub fn for_each_pair(scheme: Scheme, pre: &SpikeTrain, post: &SpikeTrain, mut f: impl FnMut(Pair)) {
    let (pre, post) = (pre.times(), post.times());
    match scheme {
        Scheme::Windowed { window } => {
            let mut j = 0;
            for &t in pre {
                while j < post.len() && post[j] < t {
                    j += 1;
                }
                if let Some(dt) = nearest_at(t, post, j, window) {
                    f(Pair { pre: t, post: (i64::from(t) + dt) as u32 });
                }
            }
        }
        Scheme::Symmetric => {
            // depression: each pre with the last post strictly before it
            last_before(pre, post).for_each(|(a, b)| f(Pair { pre: a, post: b }));
            // potentiation: each post with the last pre strictly before it
            last_before(post, pre).for_each(|(b, a)| f(Pair { pre: a, post: b }));
        }
        Scheme::PreCentred => {
            last_before(pre, post).for_each(|(a, b)| f(Pair { pre: a, post: b }));
            let mut j = 0;
            for &a in pre {
                while j < post.len() && post[j] <= a {
                    j += 1;
                }
                if let Some(&b) = post.get(j) {
                    f(Pair { pre: a, post: b });
                }
            }
        }
        Scheme::Restricted => {
            // depression: pre a with last post b < a, if no other pre in (b, a)
            last_before(pre, post)
                .filter(|&(a, b)| !any_in(pre, b, a))
                .for_each(|(a, b)| f(Pair { pre: a, post: b }));
            // potentiation: post b with last pre a < b, if no other post in (a, b)
            last_before(post, pre)
                .filter(|&(b, a)| !any_in(post, a, b))
                .for_each(|(b, a)| f(Pair { pre: a, post: b }));
        }
        Scheme::RestrictedNest => {
            nest_restricted(pre, post, |a, b| f(Pair { pre: a, post: b }));
            nest_restricted(post, pre, |b, a| f(Pair { pre: a, post: b }));
        }
    }
}

/// NEST's restricted pairing of each `x` in `xs` with an earlier `y` in `ys`
/// ([`Scheme::RestrictedNest`]): the latest `y` in `(x_prev, x]`, or, if it coincides with `x`,
/// the latest `y` strictly before `x`.
fn nest_restricted(xs: &[u32], ys: &[u32], mut f: impl FnMut(u32, u32)) {
    let mut prev: Option<u32> = None;
    for &x in xs {
        let j = ys.partition_point(|&y| y <= x);
        if let Some(k) = j.checked_sub(1) {
            let y = ys[k];
            if prev.is_none_or(|p| y > p) {
                if y < x {
                    f(x, y);
                } else if let Some(k) = k.checked_sub(1) {
                    f(x, ys[k]);
                }
            }
        }
        prev = Some(x);
    }
}

/// For every `x` in `xs`, the last `y` in `ys` strictly before it, as `(x, y)`.
fn last_before<'a>(xs: &'a [u32], ys: &'a [u32]) -> impl Iterator<Item = (u32, u32)> + 'a {
    let mut j = 0;
    xs.iter().filter_map(move |&x| {
        while j < ys.len() && ys[j] < x {
            j += 1;
        }
        j.checked_sub(1).map(|k| (x, ys[k]))
    })
}

/// Whether sorted `xs` has an element strictly between `lo` and `hi`.
fn any_in(xs: &[u32], lo: u32, hi: u32) -> bool {
    let i = xs.partition_point(|&x| x <= lo);
    xs.get(i).is_some_and(|&x| x < hi)
}

/// The paper's windowed nearest postsynaptic spike for a presynaptic spike at `t_pre` (see
/// [`Scheme::Windowed`]): `Some(dt)` with `dt = t_post - t_pre`, or `None` for no update.
pub fn windowed_nearest(t_pre: u32, post: &SpikeTrain, window: u32) -> Option<i64> {
    let post = post.times();
    let j = post.partition_point(|&p| p < t_pre);
    nearest_at(t_pre, post, j, window)
}

/// [`windowed_nearest`] given `j`, the index of the first postsynaptic spike `>= t`.
#[inline]
fn nearest_at(t: u32, post: &[u32], j: usize, window: u32) -> Option<i64> {
    let t = i64::from(t);
    let w = i64::from(window);
    let centre = post.get(j).is_some_and(|&p| i64::from(p) == t);
    let after = if centre { j + 1 } else { j };
    let right = post.get(after).map(|&p| i64::from(p) - t).filter(|&d| d <= w);
    let left = j.checked_sub(1).map(|k| i64::from(post[k]) - t).filter(|&d| d >= -w);
    match (left, right) {
        (Some(_), Some(_)) | (None, None) => None,
        _ if centre => Some(0),
        (Some(d), None) | (None, Some(d)) => Some(d),
    }
}
