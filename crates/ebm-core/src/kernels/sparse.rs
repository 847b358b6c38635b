//! The clamped input in sparse form: products with `rho(x)` that skip its zero pixels, in the
//! same order as the dense sums less their zero terms.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};

use super::{LANES, simd_kernel};
use crate::Scalar;

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
    /// the rows builds the row form; a counting sort gives the unit form.
    pub fn fill(&mut self, x: &ArrayView2<'_, A>) {
        self.begin_rows(x.nrows(), x.ncols());
        for row in x.rows() {
            for (i, &v) in row.iter().enumerate() {
                if v != A::zero() {
                    self.row_entries.push((v, i as u32));
                }
            }
            self.row_starts.push(self.row_entries.len());
        }
        self.index_units();
    }

    /// Rebuild as the spikes of `rates` (another sparse input, e.g. `rho(x)`): every non-zero
    /// rate `p` becomes a 1 with probability `p` (one uniform 32-bit draw from `rng` per
    /// non-zero rate, example by example, units ascending, so the draws are reproducible) and
    /// is left out otherwise. The binary messages of the clamped input at one step; `draws`
    /// is scratch for the uniform draws.
    pub fn fill_spikes(
        &mut self,
        rates: &SparseInput<A>,
        draws: &mut Vec<u32>,
        rng: &mut impl rand::RngCore,
    ) {
        self.begin_rows(rates.batch, rates.width);
        crate::spike::uniform_draws(rates.row_entries.len(), draws, rng);
        for b in 0..rates.batch {
            let range = rates.row_starts[b]..rates.row_starts[b + 1];
            for (&(p, i), &u) in rates.row_entries[range.clone()].iter().zip(&draws[range]) {
                if crate::spike::fires(p.f64(), u) {
                    self.row_entries.push((A::one(), i));
                }
            }
            self.row_starts.push(self.row_entries.len());
        }
        self.index_units();
    }

    /// Empty row form for `batch` examples of `width` units.
    fn begin_rows(&mut self, batch: usize, width: usize) {
        self.batch = batch;
        self.width = width;
        self.row_starts.clear();
        self.row_entries.clear();
        self.row_starts.push(0);
    }

    /// The unit form from the row form: count per unit, then a counting sort.
    fn index_units(&mut self) {
        self.next.clear();
        self.next.resize(self.width, 0);
        for &(_, i) in &self.row_entries {
            self.next[i as usize] += 1;
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
            acc_rows(o, terms, w, n);
        }
    }

    /// `w += alpha x^T d` for `d`: `(batch, n)`: only the rows of `w` whose unit is non-zero
    /// somewhere in the minibatch change.
    /// Large updates split the columns of `w` in two halves over the rayon pool; each entry
    /// receives the same terms in the same order either way, so the result does not depend on
    /// the thread count.
    pub fn acc_outer(&self, alpha: A, d: &Array2<A>, w: &mut Array2<A>) {
        let n = d.ncols();
        let work = self.entries.len() * n;
        if rayon::current_num_threads() < 2 || work < PARALLEL_MIN_WORK || n < 128 {
            self.acc_outer_with(alpha, d, w, |v| v);
            return;
        }
        let d = d.as_slice().expect("standard layout");
        // Split at a multiple of 64 columns so both halves run on the widest blocks.
        let mid = (n / 2).div_ceil(64) * 64;
        let (left, right) = w.view_mut().split_at(Axis(1), mid);
        rayon::join(
            || self.outer_columns(alpha, d, n, 0, left, |v| v),
            || self.outer_columns(alpha, d, n, mid, right, |v| v),
        );
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
        f: impl FnMut(A) -> A,
    ) {
        let n = d.ncols();
        let d = d.as_slice().expect("standard layout");
        self.outer_columns(alpha, d, n, 0, w.view_mut(), f);
    }

    /// `w += alpha f(x)^T d[:, c0..]` for the column block `w` of the update, whose columns
    /// start at column `c0` of `d` (rows of length `n`, contiguous): the one loop of
    /// [`SparseInput::acc_outer`] and [`SparseInput::acc_outer_with`].
    fn outer_columns(
        &self,
        alpha: A,
        d: &[A],
        n: usize,
        c0: usize,
        mut w: ArrayViewMut2<'_, A>,
        mut f: impl FnMut(A) -> A,
    ) {
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
                let mut row = w.row_mut(unit as usize);
                let dst = row.as_slice_mut().expect("a row of a column block is contiguous");
                acc_rows(dst, &terms, &d[c0..], n);
            }
        }
    }
}

/// Updates smaller than this many multiply-adds run on one thread.
const PARALLEL_MIN_WORK: usize = 1 << 18;

simd_kernel! {
/// `dst[c] += sum_t coef_t src[row_t * stride + c]` for every column `c < dst.len()`, the
/// terms added in the given order: blocks of 64, then 16 columns keep their running sums in
/// registers across all the terms, so `dst` is loaded and stored once. Each column's sum is
/// the same sequence of operations whichever block it falls in.
fn acc_rows<A: Scalar>(dst: &mut [A], terms: &[(A, u32)], src: &[A], stride: usize) {
    let n = dst.len();
    let start = acc_rows_block::<A, 64>(dst, terms, src, stride, 0);
    let start = acc_rows_block::<A, LANES>(dst, terms, src, stride, start);
    for c in start..n {
        let mut sum = dst[c];
        for &(coef, r) in terms {
            sum += coef * src[r as usize * stride + c];
        }
        dst[c] = sum;
    }
}
}

#[inline(always)]
fn acc_rows_block<A: Scalar, const W: usize>(
    dst: &mut [A],
    terms: &[(A, u32)],
    src: &[A],
    stride: usize,
    mut start: usize,
) -> usize {
    let n = dst.len();
    while start + W <= n {
        let mut acc = [A::zero(); W];
        acc.copy_from_slice(&dst[start..start + W]);
        for &(coef, r) in terms {
            let at = r as usize * stride + start;
            for (a, &v) in acc.iter_mut().zip(&src[at..at + W]) {
                *a += coef * v;
            }
        }
        dst[start..start + W].copy_from_slice(&acc);
        start += W;
    }
    start
}
