//! The examples of a minibatch and moving their rows between the data (or the persistent
//! particles) and the minibatch's buffers.

use ndarray::{Array2, s};

/// The examples of a minibatch: a contiguous range (fixed order) or a list of indices.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    /// `start..start + batch`.
    Range(usize),
    /// Arbitrary rows.
    Indices(&'a [usize]),
}

impl Rows<'_> {
    /// The data row of the minibatch's `b`-th example.
    pub fn row(&self, b: usize) -> usize {
        match self {
            Rows::Range(start) => start + b,
            Rows::Indices(idx) => idx[b],
        }
    }

    /// `dst` (one row per example of the minibatch) from these rows of `src`.
    pub fn gather(&self, dst: &mut Array2<f32>, src: &Array2<f32>) {
        match *self {
            Rows::Range(start) => {
                let n = dst.nrows();
                dst.assign(&src.slice(s![start..start + n, ..]));
            }
            Rows::Indices(idx) => {
                for (mut d, &i) in dst.rows_mut().into_iter().zip(idx) {
                    d.assign(&src.row(i));
                }
            }
        }
    }

    /// These rows of `dst` from `src` (one row per example of the minibatch).
    pub fn scatter(&self, dst: &mut Array2<f32>, src: &Array2<f32>) {
        match *self {
            Rows::Range(start) => dst.slice_mut(s![start..start + src.nrows(), ..]).assign(src),
            Rows::Indices(idx) => {
                for (s, &i) in src.rows().into_iter().zip(idx) {
                    dst.row_mut(i).assign(&s);
                }
            }
        }
    }
}
