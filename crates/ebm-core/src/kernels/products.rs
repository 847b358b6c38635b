//! Products: rows against a thin matrix (no GEMM packing), with or without skipping zero
//! rates, and the thread-split GEMM whose entries do not depend on the thread count.

use ndarray::Array2;

use super::{LANES, simd_kernel};
use crate::Scalar;

/// A weight matrix is "thin" when one side has at most this many units (e.g. the 10 outputs):
/// its products skip GEMM packing and run as dot products / axpys over a cached transpose.
pub const THIN: usize = 32;

/// `c += a b` where `b` is thin, given `b_t = b^T`: [`acc_dot_rows_paired`], two rows of `a`
/// at a time where their accumulators fit in registers (AVX-512's 32, up to 10 columns; AVX2's
/// 16 would spill), so that each chunk of `b_t` loaded serves both rows. Either way every entry
/// sums the same terms in the same order: the results are the same bit for bit.
pub(crate) fn acc_dot_rows<A: Scalar>(a: &Array2<A>, b_t: &Array2<A>, c: &mut Array2<A>) {
    acc_dot_rows_paired(a, b_t, c, super::simd_level() == "avx512");
}

simd_kernel! {
/// `c += a b` where `b` is thin, given `b_t = b^T` (`(n, k)`, contiguous rows): entry
/// `c[i, j] += a[i, :] . b_t[j, :]`, with 16 lane accumulators per column summed in a fixed
/// order. Up to 16 columns are computed together (monomorphised on their count, so the
/// accumulators stay in registers and each chunk of the row of `a` is loaded once); with
/// `paired`, two rows at a time for up to 10 columns.
pub(crate) fn acc_dot_rows_paired<A: Scalar>(
    a: &Array2<A>,
    b_t: &Array2<A>,
    c: &mut Array2<A>,
    paired: bool,
) {
    const J: usize = 16;
    let k = a.ncols();
    let b = b_t.as_slice().expect("standard layout");
    let (m, n) = c.dim();
    let a_all = a.as_slice().expect("standard layout");
    let c_all = c.as_slice_mut().expect("standard layout");
    let pairs = if paired && n <= PAIR_COLUMNS { m / 2 } else { 0 };
    for i in 0..pairs {
        let (a0, a1) = a_all[2 * i * k..(2 * i + 2) * k].split_at(k);
        let (c0, c1) = c_all[2 * i * n..(2 * i + 2) * n].split_at_mut(n);
        macro_rules! dispatch2 {
            ($($j:literal)*) => {
                match n {
                    $($j => dot_block2::<A, $j>(a0, a1, b, c0, c1),)*
                    _ => unreachable!("pairs hold 1 to 10 columns"),
                }
            };
        }
        dispatch2!(1 2 3 4 5 6 7 8 9 10);
    }
    for (a_row, c_row) in
        a_all.chunks(k.max(1)).zip(c_all.chunks_mut(n.max(1))).skip(2 * pairs).take(m - 2 * pairs)
    {
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
}

/// Columns up to which [`acc_dot_rows`] computes two rows at a time.
const PAIR_COLUMNS: usize = 10;

/// [`dot_block`] for two rows `a0`, `a1` and all `J` columns at once: the same sums, term by
/// term, as two calls.
#[inline(always)]
fn dot_block2<A: Scalar, const J: usize>(a0: &[A], a1: &[A], b: &[A], c0: &mut [A], c1: &mut [A]) {
    let k = a0.len();
    let full = k / LANES * LANES;
    let rows: [&[A]; J] = std::array::from_fn(|j| &b[j * k..(j + 1) * k]);
    let mut acc0 = [[A::zero(); LANES]; J];
    let mut acc1 = [[A::zero(); LANES]; J];
    let mut start = 0;
    while start < full {
        let x0 = &a0[start..start + LANES];
        let x1 = &a1[start..start + LANES];
        for ((s0, s1), row) in acc0.iter_mut().zip(acc1.iter_mut()).zip(&rows) {
            let y = &row[start..start + LANES];
            for l in 0..LANES {
                s0[l] += x0[l] * y[l];
                s1[l] += x1[l] * y[l];
            }
        }
        start += LANES;
    }
    for (a_row, c_row, acc) in [(a0, c0, &acc0), (a1, c1, &acc1)] {
        for ((cv, acc_j), row) in c_row.iter_mut().zip(acc).zip(&rows) {
            let mut total = acc_j.iter().fold(A::zero(), |t, &v| t + v);
            for (&xv, &yv) in a_row[full..].iter().zip(&row[full..]) {
                total += xv * yv;
            }
            *cv += total;
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

simd_kernel! {
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
