//! Finite differences, to check an analytic gradient (of the energy, a cost, a loss) against
//! central differences: the helpers the model's tests use, public so that a new energy term,
//! cost or activation is checked the same way (`docs/extending.md`).

use ndarray::Array2;

use crate::States;

/// `d f / d a[idx]` by the central difference `(f(a + h e) - f(a - h e)) / 2h`.
pub fn partial(
    f: impl Fn(&Array2<f64>) -> f64,
    a: &Array2<f64>,
    idx: (usize, usize),
    h: f64,
) -> f64 {
    let mut plus = a.clone();
    plus[idx] += h;
    let mut minus = a.clone();
    minus[idx] -= h;
    (f(&plus) - f(&minus)) / (2.0 * h)
}

/// The gradient of `f` at `a` by central differences, entry by entry.
pub fn gradient(f: impl Fn(&Array2<f64>) -> f64, a: &Array2<f64>, h: f64) -> Array2<f64> {
    Array2::from_shape_fn(a.dim(), |idx| partial(&f, a, idx, h))
}

/// `d f / d s_k[idx]` (a unit of layer `k`) by central differences of step `h`.
pub fn partial_state(
    f: impl Fn(&States<f64>) -> f64,
    states: &States<f64>,
    k: usize,
    idx: (usize, usize),
    h: f64,
) -> f64 {
    let mut plus = states.clone();
    plus.layers[k][idx] += h;
    let mut minus = states.clone();
    minus.layers[k][idx] -= h;
    (f(&plus) - f(&minus)) / (2.0 * h)
}

/// The largest `|analytic - numeric| / max(|numeric|, floor)` over the entries.
pub fn max_relative_error(analytic: &Array2<f64>, numeric: &Array2<f64>, floor: f64) -> f64 {
    analytic
        .iter()
        .zip(numeric)
        .map(|(a, n)| (a - n).abs() / n.abs().max(floor))
        .fold(0.0, f64::max)
}
