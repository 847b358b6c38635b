//! A new cost without editing the model: cross-entropy through a softmax read-out of the
//! output units (as in Laborieux et al. 2021), `C(y, d) = -sum_j d_j log softmax(y)_j`, whose
//! gradient is `softmax(y) - d`. The example checks that gradient against central finite
//! differences (`ebm_core::fd`), then nudges a network with it (`Output::Custom`): the nudged
//! fixed point must have a lower cost than the free one, and the relaxation must stay a
//! descent of `F = E + beta C`. It exits non-zero if a check fails.
//!
//!     cargo run --release -p examples --example softmax_cost

#![allow(clippy::print_stdout)] // an example reports on standard output

use anyhow::{Result, ensure};
use ebm_core::{Cost, Dynamics, LayeredNet, Output, Rho, States, Stop, energy, fd, relax};
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Cross-entropy of the softmax of the outputs against one-hot (or any probability) targets.
#[derive(Debug)]
struct SoftmaxCrossEntropy;

fn softmax(y: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut p = y.to_owned();
    for mut row in p.rows_mut() {
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row /= sum;
    }
    p
}

impl Cost<f64> for SoftmaxCrossEntropy {
    fn cost(&self, y: ArrayView2<'_, f64>, target: ArrayView2<'_, f64>) -> Array1<f64> {
        (&target * &softmax(y).mapv(f64::ln)).sum_axis(Axis(1)).mapv(|v| -v)
    }

    fn gradient_into(
        &self,
        y: ArrayView2<'_, f64>,
        target: ArrayView2<'_, f64>,
        grad: &mut Array2<f64>,
    ) {
        Zip::from(grad).and(&softmax(y)).and(&target).for_each(|g, &p, &d| *g = p - d);
    }
}

fn main() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (batch, classes) = (8, 5);
    let net = LayeredNet::<f64>::glorot_uniform(&[20, 16, classes], Rho::default(), &mut rng)?;
    let x = Array2::from_shape_fn((batch, 20), |_| rng.random_range(0.0..1.0));
    let target =
        Array2::from_shape_fn((batch, classes), |(b, j)| f64::from(u8::from(j == b % classes)));
    let cost = SoftmaxCrossEntropy;

    // 1. The analytic gradient against central differences, at a random output.
    let y = Array2::from_shape_fn((batch, classes), |_| rng.random_range(0.0..1.0));
    let mut grad = Array2::zeros(y.dim());
    cost.gradient_into(y.view(), target.view(), &mut grad);
    let numeric = fd::gradient(|y| cost.cost(y.view(), target.view()).sum(), &y, 1e-6);
    let err = fd::max_relative_error(&grad, &numeric, 1e-3);
    println!("dC/dy against finite differences: max relative error {err:.2e}");
    ensure!(err < 1e-6, "the softmax cross-entropy gradient is wrong ({err})");

    // 2. Free phase, then the nudged phase with this cost: the cost drops, F never rises.
    let dynamics = Dynamics::projected(0.5);
    let mut free = States::with_input(&net, x.view())?;
    relax(&net, &mut free, &Output::Free, &dynamics, &Stop::steps(200), 0)?;
    let beta = 0.5;
    let out = Output::Custom { beta, target: target.view(), cost: &cost };
    let mut nudged = free.clone();
    let mut f = energy::total_energy(&net, &nudged, &out).sum();
    for _ in 0..50 {
        relax(&net, &mut nudged, &out, &dynamics, &Stop::steps(1), 0)?;
        let f_next = energy::total_energy(&net, &nudged, &out).sum();
        ensure!(f_next <= f + 1e-9, "F rose during the nudged phase: {f} -> {f_next}");
        f = f_next;
    }
    let c_free = cost.cost(free.output().view(), target.view()).mean().unwrap_or(f64::NAN);
    let c_nudged = cost.cost(nudged.output().view(), target.view()).mean().unwrap_or(f64::NAN);
    println!(
        "mean cross-entropy: free fixed point {c_free:.4}, nudged (beta {beta}) {c_nudged:.4}"
    );
    ensure!(c_nudged < c_free, "nudging did not lower the cost");
    Ok(())
}
