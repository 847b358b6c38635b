//! The energy `E(s)` (Eq 2.7, layered), the cost `C` (Eq 3.3), the total `F = E + beta C`, their
//! gradients, and the fixed-point map `R(s) = s - dE/ds` (Eq 2.9).
//!
//! These are the reference implementations (they allocate); the relaxation loop in
//! [`crate::Relaxer`] computes the same quantities into preallocated buffers. A cost of a
//! caller's own implements [`Cost`] and nudges through [`Output::Custom`].

use ebm_config::CostKind;
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};

use crate::{LayeredNet, Scalar, States};

/// The output's boundary condition during relaxation.
#[derive(Debug, Clone, Copy)]
pub enum Output<'a, A> {
    /// `y` moves freely (beta = 0).
    Free,
    /// `y` is weakly clamped: the dynamics descend `F = E + beta C` (Eq 3.2-3.3).
    Nudged {
        /// Nudging strength (may be negative).
        beta: A,
        /// Target `d`: `(batch, n_L)`.
        target: ArrayView2<'a, A>,
        /// The cost `C`.
        cost: CostKind,
    },
    /// `y` is held at the target.
    Clamped {
        /// Target `d`: `(batch, n_L)`.
        target: ArrayView2<'a, A>,
    },
    /// `y` is weakly clamped with a cost of the caller's ([`Cost`]): the dynamics descend
    /// `F = E + beta C` with `dC/dy` from the cost (e.g. cross-entropy through a softmax
    /// read-out). The built-in costs use [`Output::Nudged`], whose kernels are faster.
    Custom {
        /// Nudging strength (may be negative).
        beta: A,
        /// Target `d`: `(batch, n_L)`.
        target: ArrayView2<'a, A>,
        /// The cost.
        cost: &'a dyn Cost<A>,
    },
}

/// A cost `C(y, d)` of the output `y` given the target `d` (Eq 3.3 is one: [`CostKind`]
/// implements this trait). A new cost is a type implementing it, used through
/// [`Output::Custom`]; `ebm_core::fd` checks its gradient against finite differences.
pub trait Cost<A>: std::fmt::Debug + Sync {
    /// `C` per example: `(batch,)`.
    fn cost(&self, y: ArrayView2<'_, A>, target: ArrayView2<'_, A>) -> Array1<A>;
    /// `dC/dy` into `grad`: `(batch, n_L)`.
    fn gradient_into(&self, y: ArrayView2<'_, A>, target: ArrayView2<'_, A>, grad: &mut Array2<A>);
}

impl<A: Scalar> Cost<A> for CostKind {
    fn cost(&self, y: ArrayView2<'_, A>, target: ArrayView2<'_, A>) -> Array1<A> {
        cost(&y.to_owned(), target, *self)
    }

    fn gradient_into(&self, y: ArrayView2<'_, A>, target: ArrayView2<'_, A>, grad: &mut Array2<A>) {
        let c = cost_factor::<A>(*self);
        Zip::from(grad).and(&y).and(&target).for_each(|g, &y, &d| *g = c * (y - d));
    }
}

/// `rho` applied elementwise.
pub fn rho_of<A: Scalar>(net: &LayeredNet<A>, s: &Array2<A>) -> Array2<A> {
    s.mapv(|v| net.rho.eval(v))
}

/// `E(s)` per example (Eq 2.7 with layered connectivity):
/// `sum_k ||s_k||^2 / 2 - sum_k rho(s_k) W_k rho(s_(k+1)) - sum_(k>=1) b_(k-1) . rho(s_k)`.
/// Returns `(batch,)`.
pub fn energy<A: Scalar>(net: &LayeredNet<A>, states: &States<A>) -> Array1<A> {
    let half = A::of(0.5);
    let mut e = Array1::zeros(states.batch());
    let rhos: Vec<Array2<A>> = states.layers.iter().map(|s| rho_of(net, s)).collect();
    for s in &states.layers {
        e += &(s.mapv(|v| v * v).sum_axis(Axis(1)) * half);
    }
    for (k, w) in net.weights.iter().enumerate() {
        let coupling = (rhos[k].dot(w) * &rhos[k + 1]).sum_axis(Axis(1));
        e -= &coupling;
        e -= &rhos[k + 1].dot(&net.biases[k]);
    }
    e
}

/// `dC/dy` factor: C = `c/2 ||y - d||^2` with `c` = 1 (half-squared, Eq 3.3) or 2 (squared).
pub fn cost_factor<A: Scalar>(cost: CostKind) -> A {
    match cost {
        CostKind::HalfSquared => A::one(),
        CostKind::Squared => A::of(2.0),
    }
}

/// The cost `C(y, d)` per example: `1/2 ||y - d||^2` (Eq 3.3) or `||y - d||^2`.
pub fn cost<A: Scalar>(y: &Array2<A>, target: ArrayView2<'_, A>, kind: CostKind) -> Array1<A> {
    let diff = y - &target;
    diff.mapv(|v| v * v).sum_axis(Axis(1)) * (cost_factor::<A>(kind) * A::of(0.5))
}

/// `F = E + beta C` per example (the energy the nudged phase descends). For a free or clamped
/// output `F = E`.
pub fn total_energy<A: Scalar>(
    net: &LayeredNet<A>,
    states: &States<A>,
    output: &Output<'_, A>,
) -> Array1<A> {
    let e = energy(net, states);
    match output {
        Output::Nudged { beta, target, cost: kind } => {
            e + cost(states.output(), *target, *kind) * *beta
        }
        Output::Custom { beta, target, cost } => {
            e + cost.cost(states.output().view(), *target) * *beta
        }
        _ => e,
    }
}

/// The drive of layer `k >= 1` (its net input): `rho(s_(k-1)) W_(k-1) + rho(s_(k+1)) W_k^T + b_(k-1)`.
pub fn net_input<A: Scalar>(net: &LayeredNet<A>, states: &States<A>, k: usize) -> Array2<A> {
    let mut u = rho_of(net, &states.layers[k - 1]).dot(&net.weights[k - 1]) + &net.biases[k - 1];
    if k < net.depth() {
        u += &rho_of(net, &states.layers[k + 1]).dot(&net.weights[k].t());
    }
    u
}

/// `dE/ds_k` for every layer (Eq 2.9): `s_k - rho'(s_k) * net_input_k`; layer 0 (clamped) is
/// given as `s_0 - rho'(s_0) * rho(s_1) W_0^T` for completeness.
pub fn grad_energy<A: Scalar>(net: &LayeredNet<A>, states: &States<A>) -> Vec<Array2<A>> {
    let mut grads = Vec::with_capacity(states.layers.len());
    let x = &states.layers[0];
    let u0 = rho_of(net, &states.layers[1]).dot(&net.weights[0].t());
    grads.push(x - &(x.mapv(|v| net.rho.prime(v)) * &u0));
    for k in 1..states.layers.len() {
        let s = &states.layers[k];
        let u = net_input(net, states, k);
        grads.push(s - &(s.mapv(|v| net.rho.prime(v)) * &u));
    }
    grads
}

/// `dF/ds` for every layer: `dE/ds` plus `beta dC/dy` on the output.
pub fn grad_total<A: Scalar>(
    net: &LayeredNet<A>,
    states: &States<A>,
    output: &Output<'_, A>,
) -> Vec<Array2<A>> {
    let mut g = grad_energy(net, states);
    let last = g.last_mut().expect("at least two layers");
    match output {
        Output::Nudged { beta, target, cost } => {
            let scale = *beta * cost_factor::<A>(*cost);
            Zip::from(last).and(states.output()).and(target).for_each(|g, &y, &d| {
                *g += scale * (y - d);
            });
        }
        Output::Custom { beta, target, cost } => {
            let mut dc = Array2::zeros(last.dim());
            cost.gradient_into(states.output().view(), *target, &mut dc);
            last.scaled_add(*beta, &dc);
        }
        Output::Free | Output::Clamped { .. } => {}
    }
    g
}

/// The gradient of `E` in the parameters, summed over the batch (Eq 2.7 differentiated in
/// `W` and `b`): `dE/dW_k = -rho(s_k)^T rho(s_(k+1))`, `dE/db_k = -sum_batch rho(s_(k+1))`.
/// Every EP update is a difference of it between two states (the contrastive rule applies
/// `-c (dE/dW(s^beta) - dE/dW(s^0))` in its fast form; the trainer's tests compare the two).
pub fn param_gradient<A: Scalar>(
    net: &LayeredNet<A>,
    states: &States<A>,
) -> (Vec<Array2<A>>, Vec<Array1<A>>) {
    let rhos: Vec<Array2<A>> = states.layers.iter().map(|l| rho_of(net, l)).collect();
    let weights = (0..net.depth()).map(|k| -rhos[k].t().dot(&rhos[k + 1])).collect();
    let biases = (0..net.depth()).map(|k| -rhos[k + 1].sum_axis(Axis(0))).collect();
    (weights, biases)
}

/// The fixed-point map `R(s) = s - dE/ds` (Eq 2.9) for every layer.
pub fn fixed_point_map<A: Scalar>(net: &LayeredNet<A>, states: &States<A>) -> Vec<Array2<A>> {
    grad_energy(net, states).into_iter().zip(&states.layers).map(|(g, s)| s - &g).collect()
}
