//! A layer's move given its net input: the projected rule and the leaky integrator
//! ([`Update`]), and the fused drive-leak-clip pass of the layer below a thin output
//! ([`FusedStep`]).

use ndarray::{Array2, ArrayView2};

use super::{LANES, THIN, simd_kernel};
use crate::{Rho, Scalar};

/// One layer's state update.
pub(crate) struct Update<A> {
    pub rho: Rho,
    pub leaky: bool,
    pub epsilon: A,
    pub track_delta: bool,
}

impl<A: Scalar> Update<A> {
    /// Move `s` given its net input `u`; returns (`max |delta s|` if tracked, else 0; all finite).
    ///
    /// - leaky integrator: `s + eps (rho'(s + eta) u - s) - eps f (s - d)` (Eq 2.1-2.2, 3.2)
    /// - projected gradient: `clip(s - eps (s - rho'(s) u + f (s - d)), beta1, beta2)`
    ///
    /// with `f = beta dC/dy` factor and `d` the target when nudged.
    pub fn apply(
        &self,
        s: &mut Array2<A>,
        u: &Array2<A>,
        noise: Option<&Array2<A>>,
        nudge: Option<(A, ArrayView2<'_, A>)>,
    ) -> (f64, bool) {
        let eps = self.epsilon;
        let s = s.as_slice_mut().expect("standard layout");
        let u = u.as_slice().expect("standard layout");
        let (force, target) = match nudge {
            Some((f, t)) => (f, t.to_slice()),
            None => (A::zero(), None),
        };
        match (self.rho, self.leaky) {
            (Rho::HardSigmoid { beta1, beta2 }, false) => {
                let (lo, hi) = (A::of(beta1), A::of(beta2));
                // Inputs finite => outputs finite (the clip would hide a NaN, so check u).
                let finite = u.iter().fold(true, |ok, v| ok & v.is_finite());
                let k = Projected { lo, hi, eps, force };
                let delta = match (target, self.track_delta) {
                    (Some(t), true) => projected::<A, true, true>(&k, s, u, t),
                    (Some(t), false) => projected::<A, true, false>(&k, s, u, t),
                    (None, true) => projected::<A, false, true>(&k, s, u, u),
                    (None, false) => projected::<A, false, false>(&k, s, u, u),
                };
                (delta, finite)
            }
            _ => self.general(
                s,
                u,
                noise.map(|n| n.as_slice().expect("standard layout")),
                force,
                target,
            ),
        }
    }

    /// Any activation and either rule, one element at a time (the leaky integrator and the
    /// sigmoid are not on the training hot path).
    fn general(
        &self,
        s: &mut [A],
        u: &[A],
        eta: Option<&[A]>,
        force: A,
        target: Option<&[A]>,
    ) -> (f64, bool) {
        let (rho, eps) = (self.rho, self.epsilon);
        let (lo, hi) = rho.bounds();
        let (lo, hi) = (A::of(lo), A::of(hi));
        let mut max_delta = A::zero();
        let mut finite = true;
        for (i, (sv, &uv)) in s.iter_mut().zip(u).enumerate() {
            let old = *sv;
            let d = target.map_or(A::zero(), |t| t[i]);
            let new = if self.leaky {
                let e = eta.map_or(A::zero(), |e| e[i]);
                old + eps * (rho.prime(old + e) * uv - old) - eps * force * (old - d)
            } else {
                old - eps * (old - rho.prime(old) * uv + force * (old - d))
            };
            finite &= new.is_finite();
            let new = if self.leaky { new } else { new.max(lo).min(hi) };
            *sv = new;
            max_delta = max_delta.max((new - old).abs());
        }
        (max_delta.f64(), finite)
    }
}

/// The projected-gradient step of the hard sigmoid, monomorphised on whether the output is
/// nudged and whether `max |delta s|` is tracked, so each variant is a tight loop.
struct Projected<A> {
    lo: A,
    hi: A,
    eps: A,
    force: A,
}

simd_kernel! {
/// [`Projected`]'s step on one layer's states `s`, net inputs `u` and targets `d`.
fn projected<A: Scalar, const NUDGED: bool, const TRACK: bool>(
    p: &Projected<A>,
    s: &mut [A],
    u: &[A],
    d: &[A],
) -> f64 {
    let (lo, hi, eps) = (p.lo, p.hi, p.eps);
    let keep = A::one() - eps;
    let pull = eps * p.force;
    let mut lane_max = [A::zero(); LANES];
    let one = |sv: &mut A, uv: A, dv: A, lm: &mut A| {
        let old = *sv;
        // rho'(s) = 1 on [lo, hi] (states of the projected rule stay there).
        let inside = old >= lo && old <= hi;
        let drive = if inside { uv } else { A::zero() };
        let mut new = keep * old + eps * drive;
        if NUDGED {
            new -= pull * (old - dv);
        }
        let new = new.max(lo).min(hi);
        *sv = new;
        if TRACK {
            *lm = lm.max((new - old).abs());
        }
    };
    let mut sc = s.chunks_exact_mut(LANES);
    let mut uc = u.chunks_exact(LANES);
    let mut dc = d.chunks_exact(LANES);
    for ((sv, uv), dv) in (&mut sc).zip(&mut uc).zip(&mut dc) {
        for (((sv, &uv), &dv), lm) in sv.iter_mut().zip(uv).zip(dv).zip(lane_max.iter_mut()) {
            one(sv, uv, dv, lm);
        }
    }
    let rest = sc.into_remainder().iter_mut().zip(uc.remainder()).zip(dc.remainder());
    for (((sv, &uv), &dv), lm) in rest.zip(lane_max.iter_mut()) {
        one(sv, uv, dv, lm);
    }
    lane_max.iter().fold(0.0f64, |m, v| m.max(v.f64()))
}
}

/// The fused projected step of a hidden layer below a thin layer, for the hard sigmoid with
/// `beta1 = 0` and states in `[0, hi]` (so `rho(s) = s` and `rho'(s) = 1`): per row, each
/// 16-wide chunk of the net input `u = base + sum_j above_j W^T[j]` is formed in registers
/// (zero `above_j` skipped) and the state moves to `clip((1 - eps) s + eps u, 0, hi)` in the
/// same pass: no drive buffer, no separate `rho` pass. The same operations in the same order as
/// [`acc_axpy_rows`] followed by [`Update::apply`], so the results are identical.
pub(crate) struct FusedStep<A> {
    pub hi: A,
    pub epsilon: A,
}

impl<A: Scalar> FusedStep<A> {
    /// Move `s` (`(batch, n)`); `base`: `(batch, n)`, `above`: `(batch, m)`, `w_t`: `(m, n)`.
    /// Returns (`max |delta s|` when `track`, else 0; whether every net input was finite).
    pub fn apply(
        &self,
        s: &mut Array2<A>,
        base: &Array2<A>,
        above: &Array2<A>,
        w_t: &Array2<A>,
        track: bool,
    ) -> (f64, bool) {
        if track {
            fused::<A, true>(self, s, base, above, w_t)
        } else {
            fused::<A, false>(self, s, base, above, w_t)
        }
    }
}

simd_kernel! {
/// [`FusedStep::apply`], monomorphised on whether `max |delta s|` is tracked.
fn fused<A: Scalar, const TRACK: bool>(
    p: &FusedStep<A>,
    s: &mut Array2<A>,
    base: &Array2<A>,
    above: &Array2<A>,
    w_t: &Array2<A>,
) -> (f64, bool) {
    let n = s.ncols();
    let w = w_t.as_slice().expect("standard layout");
    let (lo, hi, eps) = (A::zero(), p.hi, p.epsilon);
    let keep = A::one() - eps;
    let full = n / LANES * LANES;
    let mut lane_max = [A::zero(); LANES];
    let mut finite = true;
    // Indices and values of the non-zero rates above, per row (at most THIN of them).
    let mut active = [(0usize, A::zero()); THIN];
    let rows = s.rows_mut().into_iter().zip(base.rows()).zip(above.rows());
    for ((mut s_row, b_row), a_row) in rows {
        let s_row = s_row.as_slice_mut().expect("standard layout");
        let b_row = b_row.to_slice().expect("standard layout");
        let mut count = 0;
        for (j, &v) in a_row.iter().enumerate() {
            if v != A::zero() {
                active[count] = (j, v);
                count += 1;
            }
        }
        let active = &active[..count];
        let chunks = s_row[..full].chunks_exact_mut(LANES).zip(b_row.chunks_exact(LANES));
        for ((sv, bv), start) in chunks.zip((0..full).step_by(LANES)) {
            let mut u = [A::zero(); LANES];
            u.copy_from_slice(bv);
            for &(j, coef) in active {
                let row = &w[j * n + start..j * n + start + LANES];
                for (uv, &wv) in u.iter_mut().zip(row) {
                    *uv += coef * wv;
                }
            }
            finite &= u.iter().fold(true, |ok, v| ok & v.is_finite());
            for ((sv, &uv), lm) in sv.iter_mut().zip(&u).zip(lane_max.iter_mut()) {
                let old = *sv;
                let new = (keep * old + eps * uv).max(lo).min(hi);
                *sv = new;
                if TRACK {
                    *lm = lm.max((new - old).abs());
                }
            }
        }
        for i in full..n {
            let mut uv = b_row[i];
            for &(j, coef) in active {
                uv += coef * w[j * n + i];
            }
            finite &= uv.is_finite();
            let old = s_row[i];
            let new = (keep * old + eps * uv).max(lo).min(hi);
            s_row[i] = new;
            if TRACK {
                lane_max[0] = lane_max[0].max((new - old).abs());
            }
        }
    }
    (lane_max.iter().fold(0.0f64, |m, v| m.max(v.f64())), finite)
}
}
