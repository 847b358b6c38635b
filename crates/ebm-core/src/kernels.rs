//! Kernels of the relaxation step and of the trainer. The elementwise updates are flat loops
//! over contiguous slices so the compiler vectorises them (the activation and rule are matched
//! once per layer, not per element); products with a thin side skip GEMM packing; large
//! products split over threads deterministically ([`par_gemm`]).

use ndarray::{Array2, ArrayView2};

use crate::{Rho, Scalar};

/// `dst = rho(src [+ noise])`.
pub(crate) fn rho_into<A: Scalar>(
    rho: Rho,
    src: &Array2<A>,
    noise: Option<&Array2<A>>,
    dst: &mut Array2<A>,
) {
    let src = src.as_slice().expect("standard layout");
    let dst = dst.as_slice_mut().expect("standard layout");
    match (rho, noise) {
        (Rho::HardSigmoid { beta1, beta2 }, None) => {
            let (lo, hi) = (A::of(beta1), A::of(beta2));
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s.max(lo).min(hi) - lo;
            }
        }
        (Rho::HardSigmoid { beta1, beta2 }, Some(eta)) => {
            let (lo, hi) = (A::of(beta1), A::of(beta2));
            let eta = eta.as_slice().expect("standard layout");
            for ((d, &s), &e) in dst.iter_mut().zip(src).zip(eta) {
                *d = (s + e).max(lo).min(hi) - lo;
            }
        }
        (rho, noise) => {
            let eta = noise.map(|n| n.as_slice().expect("standard layout"));
            for (i, (d, &s)) in dst.iter_mut().zip(src).enumerate() {
                *d = rho.eval(s + eta.map_or(A::zero(), |e| e[i]));
            }
        }
    }
}

/// Whether every value is finite, in one vectorised pass with no early exit: `0 v` is 0 for a
/// finite `v` and NaN for NaN or an infinity, and a NaN survives any sum. (Checking the
/// weights after every minibatch must cost little next to the minibatch itself.)
pub fn all_finite<A: Scalar>(values: &[A]) -> bool {
    let mut acc = [A::zero(); LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += v * A::zero();
        }
    }
    let rest = chunks.remainder().iter().fold(A::zero(), |a, &v| a + v * A::zero());
    acc.iter().fold(rest, |t, &a| t + a) == A::zero()
}

/// One layer's state update.
pub(crate) struct Update<A> {
    pub rho: Rho,
    pub leaky: bool,
    pub epsilon: A,
    pub track_delta: bool,
}

const LANES: usize = 16;

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
                    (Some(t), true) => k.run::<true, true>(s, u, t),
                    (Some(t), false) => k.run::<true, false>(s, u, t),
                    (None, true) => k.run::<false, true>(s, u, u),
                    (None, false) => k.run::<false, false>(s, u, u),
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

impl<A: Scalar> Projected<A> {
    #[inline]
    fn run<const NUDGED: bool, const TRACK: bool>(&self, s: &mut [A], u: &[A], d: &[A]) -> f64 {
        let (lo, hi, eps) = (self.lo, self.hi, self.eps);
        let keep = A::one() - eps;
        let pull = eps * self.force;
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

/// A weight matrix is "thin" when one side has at most this many units (e.g. the 10 outputs):
/// its products skip GEMM packing and run as dot products / axpys over a cached transpose.
pub(crate) const THIN: usize = 32;

/// `c += a b` where `b` is thin, given `b_t = b^T` (`(n, k)`, contiguous rows): entry
/// `c[i, j] += a[i, :] . b_t[j, :]`, with 16 lane accumulators per column summed in a fixed
/// order. Up to 16 columns are computed together (monomorphised on their count, so the
/// accumulators stay in registers and each chunk of the row of `a` is loaded once).
pub(crate) fn acc_dot_rows<A: Scalar>(a: &Array2<A>, b_t: &Array2<A>, c: &mut Array2<A>) {
    const J: usize = 16;
    let k = a.ncols();
    let b = b_t.as_slice().expect("standard layout");
    for (a_row, mut c_row) in a.rows().into_iter().zip(c.rows_mut()) {
        let a_row = a_row.to_slice().expect("standard layout");
        let c_row = c_row.as_slice_mut().expect("standard layout");
        for (c_block, b_block) in c_row.chunks_mut(J).zip(b.chunks(J * k)) {
            macro_rules! dispatch {
                ($($n:literal)*) => {
                    match c_block.len() {
                        $($n => dot_block::<A, $n>(a_row, b_block, c_block),)*
                        _ => unreachable!("blocks hold 1 to 16 columns"),
                    }
                };
            }
            dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
        }
    }
}

/// `c_block[j] += a_row . b_block[j]` for `J` rows of `b_block` (each of `a_row`'s length).
#[inline(always)]
fn dot_block<A: Scalar, const J: usize>(a_row: &[A], b_block: &[A], c_block: &mut [A]) {
    let k = a_row.len();
    let full = k / LANES * LANES;
    let rows: [&[A]; J] = std::array::from_fn(|j| &b_block[j * k..(j + 1) * k]);
    let mut acc = [[A::zero(); LANES]; J];
    let mut start = 0;
    while start < full {
        let x = &a_row[start..start + LANES];
        for (acc_j, row) in acc.iter_mut().zip(&rows) {
            let y = &row[start..start + LANES];
            for ((s, &xv), &yv) in acc_j.iter_mut().zip(x).zip(y) {
                *s += xv * yv;
            }
        }
        start += LANES;
    }
    for ((cv, acc_j), row) in c_block.iter_mut().zip(&acc).zip(&rows) {
        let mut total = acc_j.iter().fold(A::zero(), |t, &v| t + v);
        for (&xv, &yv) in a_row[full..].iter().zip(&row[full..]) {
            total += xv * yv;
        }
        *cv += total;
    }
}

/// `c += a b` where `a` is `(m, k)` with small `k` and `b` is `(k, n)` with contiguous rows:
/// each 16-wide chunk of an output row is loaded once and receives all `k` terms
/// `a[i, j] b[j, chunk]` before it is stored.
pub(crate) fn acc_axpy_rows<A: Scalar>(a: &Array2<A>, b: &Array2<A>, c: &mut Array2<A>) {
    axpy_rows::<A, false>(a, b, c);
}

/// [`acc_axpy_rows`] leaving out the rows of `b` whose coefficient is exactly 0 (most of the
/// clipped output units): the same sums in the same order, less terms that add 0.
pub(crate) fn acc_axpy_rows_skip_zeros<A: Scalar>(a: &Array2<A>, b: &Array2<A>, c: &mut Array2<A>) {
    axpy_rows::<A, true>(a, b, c);
}

fn axpy_rows<A: Scalar, const SKIP: bool>(a: &Array2<A>, b: &Array2<A>, c: &mut Array2<A>) {
    let n = b.ncols();
    let b = b.as_slice().expect("standard layout");
    let full = n / LANES * LANES;
    for (a_row, mut c_row) in a.rows().into_iter().zip(c.rows_mut()) {
        let a_row = a_row.to_slice().expect("standard layout");
        let c_row = c_row.as_slice_mut().expect("standard layout");
        for (chunk, start) in c_row[..full].chunks_exact_mut(LANES).zip((0..full).step_by(LANES)) {
            let mut acc = [A::zero(); LANES];
            acc.copy_from_slice(chunk);
            for (&coef, row) in a_row.iter().zip(b.chunks_exact(n)) {
                if SKIP && coef == A::zero() {
                    continue;
                }
                let row = &row[start..start + LANES];
                for (s, &bv) in acc.iter_mut().zip(row) {
                    *s += coef * bv;
                }
            }
            chunk.copy_from_slice(&acc);
        }
        for (i, cv) in c_row.iter_mut().enumerate().skip(full) {
            for (&coef, row) in a_row.iter().zip(b.chunks_exact(n)) {
                if SKIP && coef == A::zero() {
                    continue;
                }
                *cv += coef * row[i];
            }
        }
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
            self.run::<true>(s, base, above, w_t)
        } else {
            self.run::<false>(s, base, above, w_t)
        }
    }

    fn run<const TRACK: bool>(
        &self,
        s: &mut Array2<A>,
        base: &Array2<A>,
        above: &Array2<A>,
        w_t: &Array2<A>,
    ) -> (f64, bool) {
        let n = s.ncols();
        let w = w_t.as_slice().expect("standard layout");
        let (lo, hi, eps) = (A::zero(), self.hi, self.epsilon);
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

/// Products smaller than this many multiply-adds run on one thread.
const PARALLEL_MIN_WORK: usize = 1 << 20;

/// `c = alpha a b + beta c` (one GEMM), split by columns of `b` and `c` over the rayon pool
/// when the product is large. Each output entry is computed by exactly the same sequence of
/// operations whatever the split, so the result is bit-identical for any thread count.
/// Takes arrays and views alike (as `general_mat_mul` does).
pub fn par_gemm<A: Scalar>(
    alpha: A,
    a: &ndarray::ArrayRef2<A>,
    b: &ndarray::ArrayRef2<A>,
    beta: A,
    c: &mut ndarray::ArrayRef2<A>,
) {
    use ndarray::linalg::general_mat_mul;
    let (m, k) = a.dim();
    let n = b.ncols();
    let threads = rayon::current_num_threads();
    if threads < 2 || m * n * k < PARALLEL_MIN_WORK || n < 64 {
        general_mat_mul(alpha, a, b, beta, c);
        return;
    }
    // Split at a multiple of 16 columns so the micro-kernel tiles line up.
    let mid = (n / 2).div_ceil(16) * 16;
    let (b_left, b_right) = b.view().split_at(ndarray::Axis(1), mid);
    let (mut c_left, mut c_right) = c.view_mut().split_at(ndarray::Axis(1), mid);
    rayon::join(
        || general_mat_mul(alpha, a, &b_left, beta, &mut c_left),
        || general_mat_mul(alpha, a, &b_right, beta, &mut c_right),
    );
}

/// The clamped input of a minibatch in sparse form, both by unit (compressed sparse columns:
/// for every input unit with a non-zero value in some example, its `(example, value)` pairs)
/// and by example (compressed sparse rows). MNIST pixels are about 19% non-zero, so products
/// with the input skip most of the work; the arithmetic is the same as the dense product with
/// the zero terms left out, and every sum runs over units in ascending order either way.
#[derive(Debug, Clone, Default)]
pub struct SparseInput<A> {
    /// Input units with at least one non-zero value, ascending.
    pub units: Vec<u32>,
    /// `units[j]`'s entries are `entries[starts[j]..starts[j + 1]]`.
    pub starts: Vec<usize>,
    /// `(example, value)` pairs, grouped by unit, examples ascending.
    pub entries: Vec<(u32, A)>,
    /// Example `b`'s entries are `row_entries[row_starts[b]..row_starts[b + 1]]`.
    pub row_starts: Vec<usize>,
    /// `(value, unit)` pairs, grouped by example, units ascending.
    pub row_entries: Vec<(A, u32)>,
    /// Examples in the minibatch.
    pub batch: usize,
    /// Input units.
    pub width: usize,
    /// Scratch: per-unit counts, then write positions.
    next: Vec<usize>,
}

impl<A: Scalar> SparseInput<A> {
    /// Rebuild from a dense minibatch `x`: `(batch, n_0)` (reuses the buffers). One pass over
    /// the rows builds the row form and counts per unit; a counting sort gives the unit form.
    pub fn fill(&mut self, x: &ArrayView2<'_, A>) {
        self.batch = x.nrows();
        self.width = x.ncols();
        self.row_starts.clear();
        self.row_entries.clear();
        self.next.clear();
        self.next.resize(self.width, 0);
        self.row_starts.push(0);
        for row in x.rows() {
            for (i, &v) in row.iter().enumerate() {
                if v != A::zero() {
                    self.row_entries.push((v, i as u32));
                    self.next[i] += 1;
                }
            }
            self.row_starts.push(self.row_entries.len());
        }
        self.units.clear();
        self.starts.clear();
        let mut offset = 0;
        for (i, count) in self.next.iter_mut().enumerate() {
            if *count > 0 {
                self.units.push(i as u32);
                self.starts.push(offset);
            }
            let c = *count;
            *count = offset;
            offset += c;
        }
        self.starts.push(offset);
        self.entries.clear();
        self.entries.resize(offset, (0, A::zero()));
        for b in 0..self.batch {
            for &(v, i) in &self.row_entries[self.row_starts[b]..self.row_starts[b + 1]] {
                let slot = &mut self.next[i as usize];
                self.entries[*slot] = (b as u32, v);
                *slot += 1;
            }
        }
    }

    /// Fraction of non-zero values.
    pub fn density(&self) -> f64 {
        self.entries.len() as f64 / (self.batch * self.width).max(1) as f64
    }

    /// `out += x W` for `w`: `(n_0, n)`, `out`: `(batch, n)`, both standard layout. Example
    /// by example, each block of the output row stays in registers while the rows of `W` of
    /// the example's non-zero pixels are added (ascending).
    pub fn acc_product(&self, w: &Array2<A>, out: &mut Array2<A>) {
        let n = w.ncols();
        let w = w.as_slice().expect("standard layout");
        let out = out.as_slice_mut().expect("standard layout");
        for (b, o) in out.chunks_exact_mut(n).enumerate().take(self.batch) {
            let terms = &self.row_entries[self.row_starts[b]..self.row_starts[b + 1]];
            acc_rows(o, terms, w);
        }
    }

    /// `w += alpha x^T d` for `d`: `(batch, n)`: only the rows of `w` whose unit is non-zero
    /// somewhere in the minibatch change.
    pub fn acc_outer(&self, alpha: A, d: &Array2<A>, w: &mut Array2<A>) {
        self.acc_outer_with(alpha, d, w, |v| v);
    }

    /// `w += alpha f(x)^T d`, with `f` applied to each non-zero entry of `x` once, in a fixed
    /// order (unit by unit, then example by example), so that a random `f` (e.g. a Bernoulli
    /// spike of probability `x`) draws reproducibly. Entries where `f` gives 0 are skipped.
    /// Each block of a row of `w` stays in registers while its examples' terms are added.
    pub fn acc_outer_with(
        &self,
        alpha: A,
        d: &Array2<A>,
        w: &mut Array2<A>,
        mut f: impl FnMut(A) -> A,
    ) {
        let n = d.ncols();
        let d = d.as_slice().expect("standard layout");
        let w = w.as_slice_mut().expect("standard layout");
        let mut terms = Vec::with_capacity(self.batch);
        for (j, &unit) in self.units.iter().enumerate() {
            terms.clear();
            for &(b, v) in &self.entries[self.starts[j]..self.starts[j + 1]] {
                let fv = f(v);
                if fv != A::zero() {
                    terms.push((alpha * fv, b));
                }
            }
            if !terms.is_empty() {
                acc_rows(&mut w[unit as usize * n..(unit as usize + 1) * n], &terms, d);
            }
        }
    }
}

/// `dst[c] += sum_t coef_t src[row_t, c]` for every column `c` (`src` has rows of `dst.len()`),
/// the terms added in the given order: blocks of 64, then 16 columns keep their running sums
/// in registers across all the terms, so `dst` is loaded and stored once.
fn acc_rows<A: Scalar>(dst: &mut [A], terms: &[(A, u32)], src: &[A]) {
    let n = dst.len();
    let start = acc_rows_block::<A, 64>(dst, terms, src, 0);
    let start = acc_rows_block::<A, LANES>(dst, terms, src, start);
    for c in start..n {
        let mut sum = dst[c];
        for &(coef, r) in terms {
            sum += coef * src[r as usize * n + c];
        }
        dst[c] = sum;
    }
}

#[inline(always)]
fn acc_rows_block<A: Scalar, const W: usize>(
    dst: &mut [A],
    terms: &[(A, u32)],
    src: &[A],
    mut start: usize,
) -> usize {
    let n = dst.len();
    while start + W <= n {
        let mut acc = [A::zero(); W];
        acc.copy_from_slice(&dst[start..start + W]);
        for &(coef, r) in terms {
            let at = r as usize * n + start;
            for (a, &v) in acc.iter_mut().zip(&src[at..at + W]) {
                *a += coef * v;
            }
        }
        dst[start..start + W].copy_from_slice(&acc);
        start += W;
    }
    start
}
