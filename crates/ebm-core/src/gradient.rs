//! The true gradient of the loss at the free fixed point, by implicit differentiation, and the
//! equilibrium-propagation estimate of it (Scellier & Bengio, arXiv:1602.05179).
//!
//! The loss is the cost at the free fixed point, `L(theta) = mean_batch C(y*(theta), d)` (Eq 3.3
//! for `C`), where `s*` is a fixed point of the projected-gradient dynamics
//! `s <- clip(s - eps dE/ds, beta1, beta2)` with the input clamped. At such a point every free
//! unit `i` either has `dE/ds_i = 0` (inside the box) or sits at a bound, where, generically,
//! the projection stays active under a small change of the parameters: those units are locally
//! constant. With `F` the set of units inside the box, the implicit function theorem on
//! `dE/ds_F (s*, theta) = 0` gives
//!
//! `ds*_F/dtheta = -H_FF^(-1) d2E/(ds_F dtheta)`, with `H = d2E/ds2` (Eq 2.7 differentiated twice)
//!
//! so `dL/dtheta = -lambda^T d2E/(ds dtheta)`, where the adjoint `lambda` solves
//! `H_FF lambda_F = dL/ds_F` (zero off `F`). `H_FF` is symmetric positive definite at a strict
//! local minimum; the solve is batched conjugate gradients with one Hessian-vector product per
//! iteration (two GEMMs per layer pair). With `dE/dW_k = -rho(s_k)^T rho(s_(k+1))` and
//! `dE/db_k = -rho(s_(k+1))`:
//!
//! - `dL/dW_k = sum_batch (rho'(s_k) lambda_k)^T rho(s_(k+1)) + rho(s_k)^T (rho'(s_(k+1)) lambda_(k+1))`
//! - `dL/db_k = sum_batch rho'(s_(k+1)) lambda_(k+1)`
//!
//! (`lambda_0 = 0`: the input is clamped). Note `lambda = -ds^beta/dbeta` at `beta = 0`: the
//! nudged fixed point moves along `-lambda`, which is why the EP estimate converges to this
//! gradient as `beta -> 0` (Scellier & Bengio, Theorem 1).
//!
//! The EP estimate of `dL/dtheta` is the negated contrastive update:
//! `-(rho(s^beta_k)^T rho(s^beta_(k+1)) - rho(s^0_k)^T rho(s^0_(k+1))) / beta` (one-sided), or
//! with `s^(-beta)` in place of `s^0` and `2 beta` in place of `beta` (centred), averaged over the
//! batch; biases likewise with `rho(s_(k+1))`.

use ebm_config::CostKind;
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};

use crate::energy::{cost_factor, net_input, rho_of};
use crate::{CoreError, LayeredNet, Rho, States};

/// Gradients with respect to every parameter of a [`LayeredNet`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParamGrad {
    /// With respect to `weights[k]`: `(n_k, n_(k+1))`.
    pub weights: Vec<Array2<f64>>,
    /// With respect to `biases[k]`: `(n_(k+1),)`.
    pub biases: Vec<Array1<f64>>,
}

impl ParamGrad {
    /// Layer `k`'s parameters (`W_k` then `b_k`) as one flat vector.
    pub fn layer(&self, k: usize) -> Vec<f64> {
        self.weights[k].iter().chain(self.biases[k].iter()).copied().collect()
    }
}

/// The true gradient and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct TrueGradient {
    /// `dL/dW_k`, `dL/db_k` with `L` the batch mean of `C`.
    pub grad: ParamGrad,
    /// The adjoint `lambda` per layer (index 0, the input, is zero): `(batch, n_k)`.
    pub adjoint: Vec<Array2<f64>>,
    /// Conjugate-gradient iterations.
    pub iterations: usize,
    /// Largest relative residual `|H lambda - dL/ds| / |dL/ds|` over the batch.
    pub solve_residual: f64,
    /// Fraction of the free units inside the box (the rest are at a bound, locally constant).
    pub interior_fraction: f64,
}

/// `rho''(s)`: 0 for the hard sigmoid (piecewise linear), `4 rho' (1 - 2 rho)` for the sigmoid.
fn rho_second(rho: Rho, s: f64) -> f64 {
    match rho {
        Rho::HardSigmoid { .. } => 0.0,
        Rho::Sigmoid { .. } => 4.0 * rho.prime(s) * (1.0 - 2.0 * rho.eval(s)),
    }
}

/// The Hessian of `E` restricted to the free units, as a batched operator.
struct Hessian<'a> {
    net: &'a LayeredNet<f64>,
    /// 1 on units inside the box, 0 on units at a bound; index 0 unused.
    mask: Vec<Array2<f64>>,
    /// `rho'(s_k)` masked.
    prime: Vec<Array2<f64>>,
    /// Diagonal `1 - rho''(s_k) u_k` masked.
    diag: Vec<Array2<f64>>,
}

impl Hessian<'_> {
    /// `H v` for `v` zero off the free units (layer 0 ignored).
    fn apply(&self, v: &[Array2<f64>]) -> Vec<Array2<f64>> {
        let depth = self.net.depth();
        let pv: Vec<Array2<f64>> = (0..=depth)
            .map(|k| if k == 0 { Array2::zeros(v[0].dim()) } else { &self.prime[k] * &v[k] })
            .collect();
        (0..=depth)
            .map(|k| {
                if k == 0 {
                    return Array2::zeros(v[0].dim());
                }
                let mut coupling = if k > 1 {
                    pv[k - 1].dot(&self.net.weights[k - 1])
                } else {
                    Array2::zeros(v[k].dim())
                };
                if k < depth {
                    coupling += &pv[k + 1].dot(&self.net.weights[k].t());
                }
                &self.diag[k] * &v[k] - &self.prime[k] * &coupling
            })
            .collect()
    }
}

fn row_dots(a: &[Array2<f64>], b: &[Array2<f64>]) -> Array1<f64> {
    let mut out = Array1::zeros(a[0].nrows());
    for (x, y) in a.iter().zip(b).skip(1) {
        out += &(x * y).sum_axis(Axis(1));
    }
    out
}

/// The true gradient of `L = mean_batch C(y*, d)` at the free fixed point `fixed` (the input
/// in layer 0), for the projected rule onto `net.rho.bounds()`, by implicit differentiation
/// (see the module documentation). `fixed` must be a tight fixed point: the gradient's error is
/// of the order of its residual. The conjugate-gradient solve stops at relative residual
/// `solve_tolerance` (per example) or after `max_iterations`.
pub fn true_gradient(
    net: &LayeredNet<f64>,
    fixed: &States<f64>,
    target: ArrayView2<'_, f64>,
    cost: CostKind,
    solve_tolerance: f64,
    max_iterations: usize,
) -> Result<TrueGradient, CoreError> {
    let depth = net.depth();
    let batch = fixed.batch();
    let rho = net.rho;
    let (lo, hi) = rho.bounds();
    let mut mask = vec![Array2::zeros((0, 0))];
    let mut prime = vec![Array2::zeros((0, 0))];
    let mut diag = vec![Array2::zeros((0, 0))];
    let (mut inside, mut total) = (0usize, 0usize);
    for k in 1..=depth {
        let s = &fixed.layers[k];
        let m = s.mapv(|v| if v > lo && v < hi { 1.0 } else { 0.0 });
        inside += m.iter().filter(|&&v| v > 0.0).count();
        total += m.len();
        let u = net_input(net, fixed, k);
        let mut d = Array2::zeros(s.dim());
        Zip::from(&mut d).and(s).and(&u).and(&m).for_each(|d, &s, &u, &m| {
            *d = m * (1.0 - rho_second(rho, s) * u);
        });
        prime.push(s.mapv(|v| rho.prime(v)) * &m);
        mask.push(m);
        diag.push(d);
    }
    let hessian = Hessian { net, mask, prime, diag };

    // dL/ds: only the output, c (y - d) / batch on its free units.
    let mut rhs: Vec<Array2<f64>> = fixed.layers.iter().map(|l| Array2::zeros(l.dim())).collect();
    let scale = cost_factor::<f64>(cost) / batch as f64;
    rhs[depth] = (fixed.output() - &target) * scale * &hessian.mask[depth];

    // Batched conjugate gradients, one step length per example.
    let rhs_norm = row_dots(&rhs, &rhs).mapv(f64::sqrt);
    let mut lambda: Vec<Array2<f64>> = rhs.iter().map(|r| Array2::zeros(r.dim())).collect();
    let mut r = rhs.clone();
    let mut p = rhs.clone();
    let mut rs = row_dots(&r, &r);
    let relative = |rs: &Array1<f64>| {
        rs.iter()
            .zip(&rhs_norm)
            .map(|(&v, &n)| if n > 0.0 { v.sqrt() / n } else { 0.0 })
            .fold(0.0f64, f64::max)
    };
    let mut iterations = 0;
    while relative(&rs) > solve_tolerance {
        if iterations == max_iterations {
            return Err(CoreError::SolveNotConverged { iterations, residual: relative(&rs) });
        }
        iterations += 1;
        let ap = hessian.apply(&p);
        let pap = row_dots(&p, &ap);
        let mut alpha = Array1::zeros(batch);
        for b in 0..batch {
            if rs[b] > 0.0 {
                if pap[b] <= 0.0 {
                    return Err(CoreError::NotPositiveDefinite { example: b });
                }
                alpha[b] = rs[b] / pap[b];
            }
        }
        let col = |a: &Array1<f64>| a.view().insert_axis(Axis(1)).to_owned();
        let alpha_c = col(&alpha);
        for k in 1..=depth {
            lambda[k] += &(&p[k] * &alpha_c);
            r[k] -= &(&ap[k] * &alpha_c);
        }
        let rs_new = row_dots(&r, &r);
        let ratio =
            Zip::from(&rs_new).and(&rs).map_collect(|&n, &o| if o > 0.0 { n / o } else { 0.0 });
        let ratio_c = col(&ratio);
        for k in 1..=depth {
            p[k] = &r[k] + &(&p[k] * &ratio_c);
        }
        rs = rs_new;
    }
    let solve_residual = relative(&rs);

    // dL/dtheta = lambda^T d(rho_k rho_(k+1))/ds (the input's lambda is 0).
    let rhos: Vec<Array2<f64>> = fixed.layers.iter().map(|l| rho_of(net, l)).collect();
    let mut weights = Vec::with_capacity(depth);
    let mut biases = Vec::with_capacity(depth);
    for k in 0..depth {
        let upper = &hessian.prime[k + 1] * &lambda[k + 1];
        let mut gw = rhos[k].t().dot(&upper);
        if k > 0 {
            gw += &(&hessian.prime[k] * &lambda[k]).t().dot(&rhos[k + 1]);
        }
        weights.push(gw);
        biases.push(upper.sum_axis(Axis(0)));
    }
    Ok(TrueGradient {
        grad: ParamGrad { weights, biases },
        adjoint: lambda,
        iterations,
        solve_residual,
        interior_fraction: inside as f64 / total.max(1) as f64,
    })
}

/// The batch mean of `rho(s_k)^T rho(s_(k+1))` and `rho(s_(k+1))` for every layer: `-dE/dtheta`
/// ([`crate::energy::param_gradient`]) over the batch size.
fn correlations(net: &LayeredNet<f64>, states: &States<f64>) -> ParamGrad {
    let n = -(states.batch() as f64);
    let (weights, biases) = crate::energy::param_gradient(net, states);
    ParamGrad {
        weights: weights.into_iter().map(|w| w / n).collect(),
        biases: biases.into_iter().map(|b| b / n).collect(),
    }
}

/// The EP estimate of `dL/dtheta` from two fixed points: `-(corr(upper) - corr(lower)) / span`,
/// with `corr` the batch mean of `rho rho^T`. One-sided: `upper = s^beta`, `lower = s^0`,
/// `span = beta`; centred: `upper = s^beta`, `lower = s^(-beta)`, `span = 2 beta`.
pub fn ep_estimate(
    net: &LayeredNet<f64>,
    upper: &States<f64>,
    lower: &States<f64>,
    span: f64,
) -> ParamGrad {
    let (a, b) = (correlations(net, upper), correlations(net, lower));
    ParamGrad {
        weights: a.weights.iter().zip(&b.weights).map(|(x, y)| (y - x) / span).collect(),
        biases: a.biases.iter().zip(&b.biases).map(|(x, y)| (y - x) / span).collect(),
    }
}
