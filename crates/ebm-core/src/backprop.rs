//! Explicit backpropagation through the fixed-point map `R` (Eq 3.9-3.16 of Bengio et al.
//! 2017), and the comparisons (cosine, norm ratio) the experiments measure with.

use ndarray::Array2;

use crate::energy::rho_of;
use crate::{LayeredNet, States};

/// Explicit backpropagation through `R` at a fixed point (Eq 3.9-3.16).
#[derive(Debug, Clone)]
pub struct Backprop {
    /// `dC/ds_k` for every layer (index 0 unused, zeros): `(batch, n_k)`.
    pub grad_state: Vec<Array2<f64>>,
    /// `dC/dW_k`, summed over the batch: `(n_k, n_(k+1))`.
    pub grad_weight: Vec<Array2<f64>>,
}

impl Backprop {
    /// Backpropagate `C = 1/2 ||y - d||^2` from the output down through the map `R` at `fixed`:
    /// `dC/dy = y - d`; `dC/ds_k = rho'(s_k) * ((rho'(s_(k+1)) * dC/ds_(k+1)) W_k^T)`;
    /// `dC/dW_k = rho(s_k)^T (rho'(s_(k+1)) * dC/ds_(k+1))`.
    pub fn at(net: &LayeredNet<f64>, fixed: &States<f64>, target: &Array2<f64>) -> Self {
        let depth = net.depth();
        let prime = |a: &Array2<f64>| a.mapv(|v| net.rho.prime(v));
        let mut grad_state = vec![Array2::zeros((0, 0)); depth + 1];
        let mut grad_weight = vec![Array2::zeros((0, 0)); depth];
        grad_state[depth] = fixed.output() - target;
        for k in (0..depth).rev() {
            let delta = prime(&fixed.layers[k + 1]) * &grad_state[k + 1];
            grad_weight[k] = rho_of(net, &fixed.layers[k]).t().dot(&delta);
            grad_state[k] = if k == 0 {
                Array2::zeros(fixed.layers[0].dim())
            } else {
                prime(&fixed.layers[k]) * &delta.dot(&net.weights[k].t())
            };
        }
        Self { grad_state, grad_weight }
    }
}

/// Cosine similarity and norm ratio `|a| / |b|` of two arrays taken as flat vectors.
pub fn compare(a: &Array2<f64>, b: &Array2<f64>) -> (f64, f64) {
    compare_iter(a.iter().copied(), b.iter().copied())
}

/// Cosine similarity and norm ratio `|a| / |b|` of two vectors.
pub fn compare_flat(a: &[f64], b: &[f64]) -> (f64, f64) {
    compare_iter(a.iter().copied(), b.iter().copied())
}

fn compare_iter(a: impl Iterator<Item = f64>, b: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut dot, mut na, mut nb) = (0.0, 0.0, 0.0);
    for (x, y) in a.zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    let (na, nb) = (f64::sqrt(na), f64::sqrt(nb));
    let cosine = if na > 0.0 && nb > 0.0 { dot / (na * nb) } else { 0.0 };
    let ratio = if nb > 0.0 { na / nb } else { f64::INFINITY };
    (cosine, ratio)
}
