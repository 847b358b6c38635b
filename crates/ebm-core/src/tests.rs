//! Tests of the model against finite differences, closed forms and the paper's claims.

use ebm_config::{CostKind, Schedule, UpdateRuleKind};
use ndarray::{Array2, array};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::energy::{self, Output};
use crate::experiments::gradcheck::{self, NetLabel, Nudging};
use crate::experiments::propagate::{FixedPoint, Quantity, Sweep, early_inference};
use crate::experiments::relax_steps;
use crate::*;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A 3-hidden-layer f64 net with random biases and states kept away from the kinks.
fn random_point(rho: Rho, seed: u64) -> (LayeredNet<f64>, States<f64>) {
    let mut r = rng(seed);
    let mut net = LayeredNet::<f64>::glorot_uniform(&[5, 7, 6, 4, 3], rho, &mut r).unwrap();
    for b in &mut net.biases {
        b.mapv_inplace(|_| r.random_range(-0.5..0.5));
    }
    let (lo, _) = rho.bounds();
    let lo = if lo.is_finite() { lo } else { -0.5 };
    let mut states = States::with_input(&net, Array2::zeros((2, 5)).view()).unwrap();
    for layer in &mut states.layers {
        // Off the kinks: in (lo + 0.05, lo + 0.95), or outside by at least 0.05.
        layer.mapv_inplace(|_| {
            let u: f64 = r.random_range(0.05..0.95);
            match r.random_range(0..5) {
                0 => lo - u,
                1 => lo + 1.0 + u,
                _ => lo + u,
            }
        });
    }
    (net, states)
}

fn central_difference(
    f: impl Fn(&States<f64>) -> f64,
    states: &States<f64>,
    k: usize,
    idx: (usize, usize),
) -> f64 {
    crate::fd::partial_state(f, states, k, idx, 1e-5)
}

#[test]
fn energy_gradient_matches_finite_differences_in_every_layer() {
    for (seed, rho) in
        [(1, Rho::default()), (2, Rho::hard(-0.5)), (3, Rho::Sigmoid { centre: 0.0 })]
    {
        let (net, states) = random_point(rho, seed);
        let grads = energy::grad_energy(&net, &states);
        let map = energy::fixed_point_map(&net, &states);
        let e_sum = |s: &States<f64>| energy::energy(&net, s).sum();
        for k in 0..states.layers.len() {
            for idx in [(0, 0), (1, states.layers[k].ncols() - 1), (1, 1)] {
                let fd = central_difference(e_sum, &states, k, idx);
                let g = grads[k][idx];
                let rel = (g - fd).abs() / fd.abs().max(1e-3);
                assert!(rel <= 1e-6, "dE/ds layer {k} {idx:?}: analytic {g}, fd {fd}, rel {rel}");
                // R(s) = s - dE/ds (Eq 2.9)
                let r_fd = states.layers[k][idx] - fd;
                let rel = (map[k][idx] - r_fd).abs() / r_fd.abs().max(1e-3);
                assert!(rel <= 1e-6, "R layer {k} {idx:?}: {} vs {r_fd}", map[k][idx]);
            }
        }
    }
}

#[test]
fn total_energy_gradient_includes_the_nudge() {
    let (net, states) = random_point(Rho::default(), 4);
    let target = Array2::from_elem((2, 3), 0.3);
    for cost in [CostKind::HalfSquared, CostKind::Squared] {
        let out = Output::Nudged { beta: 0.7, target: target.view(), cost };
        let g = energy::grad_total(&net, &states, &out);
        let f = |s: &States<f64>| energy::total_energy(&net, s, &out).sum();
        let last = states.layers.len() - 1;
        let fd = central_difference(f, &states, last, (1, 2));
        assert!((g[last][(1, 2)] - fd).abs() <= 1e-6 * fd.abs().max(1e-3), "{cost:?}");
    }
}

#[test]
fn a_custom_cost_nudges_as_the_built_in_one_does() {
    // The built-in costs through the Cost trait: the gradient against finite differences, and
    // a relaxation with Output::Custom against the same with Output::Nudged.
    let (net, states) = random_point(Rho::default(), 6);
    let target = Array2::from_elem((2, 3), 0.3);
    for kind in [CostKind::HalfSquared, CostKind::Squared] {
        let y = states.output().clone();
        let mut g = Array2::zeros(y.dim());
        Cost::gradient_into(&kind, y.view(), target.view(), &mut g);
        let c = |y: &Array2<f64>| Cost::cost(&kind, y.view(), target.view()).sum();
        let fd = crate::fd::gradient(c, &y, 1e-6);
        assert!(crate::fd::max_relative_error(&g, &fd, 1e-3) < 1e-7, "{kind:?}");
        let dynamics = Dynamics::projected(0.5);
        let built_in = Output::Nudged { beta: 0.8, target: target.view(), cost: kind };
        let custom = Output::Custom { beta: 0.8, target: target.view(), cost: &kind };
        let mut a = states.clone();
        let mut b = states.clone();
        let stop = Stop::steps(30);
        relax(&net, &mut a, &built_in, &dynamics, &stop, 0).unwrap();
        relax(&net, &mut b, &custom, &dynamics, &stop, 0).unwrap();
        let diff = (a.output() - b.output()).mapv(f64::abs).fold(0.0, |m: f64, &v| m.max(v));
        assert!(diff < 1e-12, "{kind:?}: {diff}");
        let r_a = dynamics.residual(&net, &a, &built_in);
        let mut relaxer = crate::Relaxer::new(&net, 2, 0);
        relaxer.set_input(&net, b.layers[0].view()).unwrap();
        let r_b = relaxer.residual(&net, &b, &custom, &dynamics).unwrap();
        assert!((r_a - r_b).abs() < 1e-12, "{kind:?}: {r_a} vs {r_b}");
    }
}

#[test]
fn symmetrised_net_uses_half_of_w_plus_v_transpose() {
    let w = vec![array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]];
    let v = vec![array![[0.0, 1.0, 0.0], [2.0, 0.0, 2.0]]];
    let net = LayeredNet::symmetrised(&w, &v, vec![array![0.0, 0.0]], Rho::default()).unwrap();
    assert_eq!(net.weights[0], array![[0.5, 2.0], [2.0, 2.0], [2.5, 4.0]]);
}

#[test]
fn relaxation_reaches_the_tolerance() {
    for rule in [UpdateRuleKind::LeakyIntegrator, UpdateRuleKind::ProjectedGradient] {
        let mut r = rng(5);
        // Small weights: every unit's input stays inside (beta1, beta2), so the leaky
        // integrator has a fixed point (beyond beta2 it would chatter at the kink).
        let net =
            LayeredNet::<f64>::scaled_uniform(&[6, 8, 8, 3], Rho::hard(-0.5), 0.1, &mut r).unwrap();
        let x = Array2::from_shape_fn((4, 6), |_| r.random_range(-0.5..0.5));
        let mut states = States::with_input(&net, x.view()).unwrap();
        let dynamics = Dynamics { rule, ..Dynamics::projected(0.5) };
        let stop = Stop { max_steps: 10_000, tolerance: 1e-12, trace_energy: false };
        let out = Output::Free;
        let res = relax(&net, &mut states, &out, &dynamics, &stop, 0).unwrap();
        assert!(res.converged, "{rule:?}: {res:?}");
        let residual = dynamics.residual(&net, &states, &out);
        assert!(residual < 1e-11, "{rule:?}: residual {residual}");
    }
}

#[test]
fn saturated_unit_decays_geometrically() {
    // Section 2.3.1: with rho' = 0 (s beyond beta2) the leaky integrator gives R = 0, so
    // s_t = (1 - eps)^t s_0 until the unit re-enters [beta1, beta2].
    let rho = Rho::hard(-0.5);
    let net = LayeredNet::<f64>::zeros(&[1, 1, 1], rho).unwrap();
    let mut states = States::with_input(&net, array![[0.0]].view()).unwrap();
    states.layers[1][(0, 0)] = 8.0;
    let eps = 0.1;
    let mut relaxer = Relaxer::new(&net, 1, 0);
    relaxer.set_input(&net, states.layers[0].view()).unwrap();
    let dynamics = Dynamics::leaky(eps, 0.0);
    for t in 1..=20 {
        relaxer.step(&net, &mut states, &Output::Free, &dynamics).unwrap();
        let expected = 8.0 * (1.0f64 - eps).powi(t);
        assert!((states.layers[1][(0, 0)] - expected).abs() < 1e-12, "t = {t}");
    }
}

/// Relax a random net (depth 1-3, random sizes, biases, states in [0, 1]) for 60 steps of the
/// projected rule and check that `F` never increases.
fn assert_descent(seed: u64, schedule: Schedule, eps: f64, beta: f64, scale: f64) {
    let mut r = rng(seed);
    let depth = 1 + (seed as usize % 3);
    let mut sizes = vec![r.random_range(2..20)];
    sizes.extend((0..depth).map(|_| r.random_range(2..30)));
    sizes.push(r.random_range(1..10));
    let (net, x, target) = random_net(&sizes, scale, 3, seed + 1000);
    let mut states = States::with_input(&net, x.view()).unwrap();
    for l in &mut states.layers[1..] {
        l.mapv_inplace(|_| r.random_range(0.0..1.0));
    }
    let out = Output::Nudged { beta, target: target.view(), cost: CostKind::HalfSquared };
    let dynamics = Dynamics::projected(eps).with_schedule(schedule);
    let mut relaxer = Relaxer::new(&net, 3, 0);
    relaxer.set_input(&net, x.view()).unwrap();
    let mut f = energy::total_energy(&net, &states, &out);
    for step in 0..60 {
        relaxer.step(&net, &mut states, &out, &dynamics).unwrap();
        let f_new = energy::total_energy(&net, &states, &out);
        for (b, (&old, &new)) in f.iter().zip(&f_new).enumerate() {
            assert!(new <= old + 1e-12, "seed {seed} step {step} example {b}: F {old} -> {new}");
        }
        f = f_new;
    }
}

#[test]
fn projected_rule_never_increases_the_energy() {
    for seed in 0..40 {
        let eps = [0.5, 0.2, 0.05][seed as usize % 3];
        let beta = [0.0, 0.5, 1.0][(seed as usize / 3) % 3];
        assert_descent(100 + seed, Schedule::Synchronous, eps, beta, 1.0);
    }
}

#[test]
fn alternating_schedule_never_increases_the_energy() {
    // Each half-step is a projected step on a separable quadratic per unit: a descent step for
    // eps <= 1 (eps (1 + beta) <= 2 on the nudged output), whatever the weights.
    for seed in 0..30 {
        let eps = [1.0, 0.5, 0.2][seed as usize % 3];
        let beta = [0.0, 0.5, 1.0][(seed as usize / 3) % 3];
        assert_descent(300 + seed, Schedule::Alternating, eps, beta, 1.0 + seed as f64 / 10.0);
    }
}

/// Solve Sigma = A Sigma A^T + Q by fixed-point iteration (A stable).
fn discrete_lyapunov(a: &Array2<f64>, q: &Array2<f64>) -> Array2<f64> {
    let mut sigma = q.clone();
    for _ in 0..20_000 {
        sigma = a.dot(&sigma).dot(&a.t()) + q;
    }
    sigma
}

#[test]
fn langevin_stationary_covariance_matches_the_linear_system() {
    // Two free units h and y coupled by w, inside the linear region of rho (beta1 = -0.5):
    // s_(t+1) = A s_t + const + eps W eta_t with A = I - eps (I - W), so the stationary
    // covariance solves Sigma = A Sigma A^T + eps^2 sigma^2 W W^T (Eq 2.1: noise through R).
    let (w, eps, sigma) = (0.6, 0.3, 0.08);
    let rho = Rho::hard(-0.5);
    // Biases -w/2 put the fixed point at s = 0, the middle of the linear region.
    let net = LayeredNet::from_parts(
        vec![array![[0.0]], array![[w]]],
        vec![array![-0.5 * w], array![-0.5 * w]],
        rho,
    )
    .unwrap();
    let chains = 2000;
    let mut states = States::with_input(&net, Array2::zeros((chains, 1)).view()).unwrap();
    let mut relaxer = Relaxer::new(&net, chains, 42);
    relaxer.set_input(&net, states.layers[0].view()).unwrap();
    let dynamics = Dynamics::leaky(eps, sigma);
    let mut sums = [[0.0f64; 2]; 2];
    let mut means = [0.0f64; 2];
    let (burn, samples) = (200, 3000);
    let mut n = 0.0;
    for t in 0..burn + samples {
        relaxer.step(&net, &mut states, &Output::Free, &dynamics).unwrap();
        if t >= burn && t % 3 == 0 {
            for c in 0..chains {
                let v: [f64; 2] = [states.layers[1][(c, 0)], states.layers[2][(c, 0)]];
                assert!(v.iter().all(|s| s.abs() < 0.45), "left the linear region: {v:?}");
                for i in 0..2 {
                    means[i] += v[i];
                    for j in 0..2 {
                        sums[i][j] += v[i] * v[j];
                    }
                }
                n += 1.0;
            }
        }
    }
    let wm = array![[0.0, w], [w, 0.0]];
    let eye = Array2::<f64>::eye(2);
    let a = &eye - &((&eye - &wm) * eps);
    let q = wm.dot(&wm.t()) * (eps * eps * sigma * sigma);
    let expected = discrete_lyapunov(&a, &q);
    for i in 0..2 {
        for j in 0..2 {
            let cov = sums[i][j] / n - (means[i] / n) * (means[j] / n);
            let rel = (cov - expected[(i, j)]).abs() / expected[(i, j)].abs();
            assert!(
                rel < 0.05,
                "Sigma[{i}][{j}]: empirical {cov}, theory {}, rel {rel}",
                expected[(i, j)]
            );
        }
    }
}

#[test]
fn nonfinite_states_are_reported_with_their_layer() {
    let mut net = LayeredNet::<f64>::zeros(&[2, 3, 2], Rho::default()).unwrap();
    net.weights[1][(0, 0)] = f64::NAN;
    assert_eq!(
        net.check_finite(),
        Err(CoreError::NonFiniteParameter { what: "weights", layer: 1 })
    );
    let mut states = States::with_input(&net, Array2::zeros((1, 2)).view()).unwrap();
    states.layers[1].fill(0.5);
    let err =
        relax(&net, &mut states, &Output::Free, &Dynamics::projected(0.5), &Stop::steps(3), 0);
    assert!(matches!(err, Err(CoreError::NonFiniteState { step: 1, .. })), "{err:?}");
}

fn small_settings(rule: UpdateRuleKind, scale: f64, beta1: f64) -> Sweep {
    let config = ebm_config::PropagateConfig {
        hidden_layers: vec![1, 2, 3],
        input_size: 12,
        hidden_size: 10,
        output_size: 4,
        weight_scale: scale,
        epsilons: vec![0.1, 0.01],
        rho_beta1: beta1,
        batch_size: 4,
        tolerance: 1e-13,
        max_steps: 100_000,
    };
    Sweep { config, weight_scale: scale, rule }
}

#[test]
fn early_inference_is_backprop_inside_the_linear_region() {
    let rows =
        early_inference(&small_settings(UpdateRuleKind::LeakyIntegrator, 0.1, -0.5), 7).unwrap();
    assert_eq!(rows.len(), 2 * (2 + 3 + 4) * 2);
    for r in &rows {
        assert_eq!(r.fixed_point, FixedPoint::Interior, "{r:?}");
        if r.quantity == Quantity::State {
            assert!(r.cosine >= 0.999, "{r:?}");
            assert!((r.norm_ratio - 1.0).abs() <= 0.01, "{r:?}");
        } else if r.layer == r.hidden_layers {
            assert!(r.cosine >= 0.99, "{r:?}");
        }
    }
}

#[test]
fn saturating_weights_break_the_identity_and_are_reported() {
    let rows =
        early_inference(&small_settings(UpdateRuleKind::LeakyIntegrator, 3.0, -0.5), 7).unwrap();
    assert!(rows.iter().any(|r| r.fixed_point != FixedPoint::Interior));
}

#[test]
fn relaxer_energy_matches_the_reference_energy() {
    let (net, states) = random_point(Rho::default(), 9);
    let mut relaxer = Relaxer::new(&net, states.batch(), 0);
    relaxer.set_input(&net, states.layers[0].view()).unwrap();
    let fast = relaxer.energy(&net, &states);
    let slow = energy::energy(&net, &states);
    for (a, b) in fast.iter().zip(&slow) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

/// A random f64 net with random biases, inputs in [0, 1] and targets.
fn random_net(
    sizes: &[usize],
    scale: f64,
    batch: usize,
    seed: u64,
) -> (LayeredNet<f64>, Array2<f64>, Array2<f64>) {
    let mut r = rng(seed);
    let mut net = LayeredNet::<f64>::scaled_uniform(sizes, Rho::default(), scale, &mut r).unwrap();
    for b in &mut net.biases {
        b.mapv_inplace(|_| r.random_range(-0.5..0.5));
    }
    let x = Array2::from_shape_fn((batch, sizes[0]), |_| r.random_range(0.0..1.0));
    let d = Array2::from_shape_fn((batch, *sizes.last().unwrap()), |_| r.random_range(0.0..1.0));
    (net, x, d)
}

#[test]
fn alternating_step_moves_even_layers_then_odd_from_the_new_even_states() {
    let (net, x, d) = random_net(&[4, 6, 5, 4, 3], 1.0, 2, 7);
    let mut r = rng(8);
    let mut states = States::with_input(&net, x.view()).unwrap();
    for l in &mut states.layers[1..] {
        l.mapv_inplace(|_| r.random_range(0.0..1.0));
    }
    let out = Output::Nudged { beta: 0.5, target: d.view(), cost: CostKind::HalfSquared };
    // eps = 1: each moved layer lands on clip(net input [- nudge]) exactly.
    let dynamics = Dynamics::projected(1.0).with_schedule(Schedule::Alternating);
    let mut expected = states.clone();
    for k in [2, 4, 1, 3] {
        let mut u = energy::net_input(&net, &expected, k);
        if k == 4 {
            u = u - (&expected.layers[4] - &d) * 0.5;
        }
        expected.layers[k] = u.mapv(|v| v.clamp(0.0, 1.0));
    }
    let mut relaxer = Relaxer::new(&net, 2, 0);
    relaxer.set_input(&net, x.view()).unwrap();
    relaxer.step(&net, &mut states, &out, &dynamics).unwrap();
    for k in 1..=4 {
        let err =
            (&states.layers[k] - &expected.layers[k]).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
        assert!(err < 1e-12, "layer {k}: {err}");
    }
}

#[test]
fn both_schedules_reach_the_same_fixed_point() {
    for (rule, scale) in
        [(UpdateRuleKind::ProjectedGradient, 0.4), (UpdateRuleKind::LeakyIntegrator, 0.1)]
    {
        // Contracting examples (the coupling's norm below 1, so the fixed point is unique).
        // Leaky integrator: small weights keep every input inside the kinks (a fixed point
        // exists); projected rule: some units saturate at the bounds.
        let (mut net, mut x, d) = random_net(&[6, 8, 8, 8, 3], scale, 4, 9);
        if rule == UpdateRuleKind::LeakyIntegrator {
            net.rho = Rho::hard(-0.5);
            net.biases.iter_mut().for_each(|b| b.fill(0.0));
            x -= 0.5;
        }
        let out = Output::Nudged { beta: 0.5, target: d.view(), cost: CostKind::HalfSquared };
        let mut fixed = Vec::new();
        for schedule in [Schedule::Synchronous, Schedule::Alternating] {
            let dynamics = Dynamics { rule, ..Dynamics::projected(0.5) }.with_schedule(schedule);
            let mut states = States::with_input(&net, x.view()).unwrap();
            let mut relaxer = Relaxer::new(&net, 4, 0);
            relaxer.set_input(&net, x.view()).unwrap();
            let res = relaxer
                .relax_to_residual(&net, &mut states, &out, &dynamics, 1e-13, 10_000)
                .unwrap();
            assert!(res.converged, "{rule:?} {schedule:?}: {res:?}");
            assert!(dynamics.residual(&net, &states, &out) <= 1e-13);
            fixed.push(states);
        }
        if rule == UpdateRuleKind::ProjectedGradient {
            let at_bound = fixed[0].layers[1..].iter().flatten().filter(|&&v| v == 0.0 || v == 1.0);
            assert!(at_bound.count() > 0, "the example should saturate some units");
        }
        for k in 1..fixed[0].layers.len() {
            let diff = (&fixed[0].layers[k] - &fixed[1].layers[k]).mapv(f64::abs);
            assert!(diff.fold(0.0f64, |m, &v| m.max(v)) < 1e-11, "{rule:?} layer {k}");
        }
    }
}

#[test]
fn relaxer_residual_matches_the_reference_and_counts_steps_exactly() {
    let (net, x, d) = random_net(&[5, 7, 6, 3], 1.5, 3, 11);
    let mut r = rng(12);
    let mut states = States::with_input(&net, x.view()).unwrap();
    for l in &mut states.layers[1..] {
        l.mapv_inplace(|_| r.random_range(-0.2..1.2));
    }
    let mut relaxer = Relaxer::new(&net, 3, 0);
    relaxer.set_input(&net, x.view()).unwrap();
    let outputs = [
        Output::Free,
        Output::Nudged { beta: 0.7, target: d.view(), cost: CostKind::Squared },
        Output::Clamped { target: d.view() },
    ];
    for rule in [UpdateRuleKind::ProjectedGradient, UpdateRuleKind::LeakyIntegrator] {
        let dynamics = Dynamics { rule, ..Dynamics::projected(0.5) };
        for out in &outputs {
            let fast = relaxer.residual(&net, &states, out, &dynamics).unwrap();
            let reference = dynamics.residual(&net, &states, out);
            assert!((fast - reference).abs() < 1e-12 * (1.0 + reference), "{fast} {reference}");
        }
    }
    // relax_to_residual stops at the first step whose state has residual <= tol.
    let out = Output::Free;
    for schedule in [Schedule::Synchronous, Schedule::Alternating] {
        let dynamics = Dynamics::projected(0.5).with_schedule(schedule);
        let mut a = states.clone();
        let res = relaxer.relax_to_residual(&net, &mut a, &out, &dynamics, 1e-6, 5000).unwrap();
        assert!(res.converged && res.steps > 1, "{res:?}");
        let mut b = states.clone();
        for _ in 0..res.steps - 1 {
            relaxer.step(&net, &mut b, &out, &dynamics).unwrap();
        }
        assert!(dynamics.residual(&net, &b, &out) > 1e-6);
        relaxer.step(&net, &mut b, &out, &dynamics).unwrap();
        assert_eq!(a, b);
        assert!(dynamics.residual(&net, &b, &out) <= 1e-6);
    }
}

/// [`random_net`] with smaller weights and biases shifted up, so that most units are inside
/// the box.
fn mid_range_net(
    sizes: &[usize],
    batch: usize,
    seed: u64,
) -> (LayeredNet<f64>, Array2<f64>, Array2<f64>) {
    let (mut net, x, d) = random_net(sizes, 0.6, batch, seed);
    net.biases.iter_mut().for_each(|b| *b += 0.3);
    (net, x, d)
}

/// A tight free fixed point (alternating schedule, residual <= 1e-14; eps 1 is exact
/// block-coordinate descent for the hard sigmoid, the sigmoid needs a smaller step).
fn tight_fixed_point(net: &LayeredNet<f64>, start: &States<f64>) -> States<f64> {
    let mut states = start.clone();
    let mut relaxer = Relaxer::new(net, states.batch(), 0);
    relaxer.set_input(net, states.layers[0].view()).unwrap();
    let eps = if matches!(net.rho, Rho::HardSigmoid { .. }) { 1.0 } else { 0.5 };
    let dynamics = Dynamics::projected(eps).with_schedule(Schedule::Alternating);
    let res = relaxer
        .relax_to_residual(net, &mut states, &Output::Free, &dynamics, 1e-14, 100_000)
        .unwrap();
    assert!(res.converged, "{res:?}");
    states
}

fn mean_cost(net: &LayeredNet<f64>, start: &States<f64>, d: &Array2<f64>, kind: CostKind) -> f64 {
    let fixed = tight_fixed_point(net, start);
    energy::cost(fixed.output(), d.view(), kind).mean().unwrap()
}

#[test]
fn true_gradient_matches_finite_differences_of_the_fixed_point_loss() {
    for (seed, rho, kind) in [
        (21, Rho::default(), CostKind::HalfSquared),
        (22, Rho::default(), CostKind::Squared),
        (23, Rho::Sigmoid { centre: 0.5 }, CostKind::HalfSquared),
    ] {
        let (mut net, x, d) = mid_range_net(&[5, 4, 3, 2], 3, seed);
        net.rho = rho;
        let fixed = tight_fixed_point(&net, &States::with_input(&net, x.view()).unwrap());
        let truth = gradient::true_gradient(&net, &fixed, d.view(), kind, 1e-13, 1000).unwrap();
        if rho == Rho::default() {
            // Some units sit at a bound, so the restriction to the free units is exercised.
            let f = truth.interior_fraction;
            assert!(f < 1.0 && f > 0.3, "seed {seed}: interior fraction {f}");
        }
        let h = 1e-6;
        let fd = |perturb: &dyn Fn(&mut LayeredNet<f64>, f64)| {
            let (mut plus, mut minus) = (net.clone(), net.clone());
            perturb(&mut plus, h);
            perturb(&mut minus, -h);
            (mean_cost(&plus, &fixed, &d, kind) - mean_cost(&minus, &fixed, &d, kind)) / (2.0 * h)
        };
        for k in 0..net.depth() {
            for ((i, j), &g) in truth.grad.weights[k].indexed_iter() {
                let num = fd(&|n, e| n.weights[k][(i, j)] += e);
                assert!((num - g).abs() < 1e-7 + 1e-5 * g.abs(), "W{k}[{i},{j}]: {num} vs {g}");
            }
            for (j, &g) in truth.grad.biases[k].indexed_iter() {
                let num = fd(&|n, e| n.biases[k][j] += e);
                assert!((num - g).abs() < 1e-7 + 1e-5 * g.abs(), "b{k}[{j}]: {num} vs {g}");
            }
        }
    }
}

#[test]
fn true_gradient_of_a_single_layer_is_the_delta_rule() {
    // No hidden layer: y* = clip(rho(x) W + b), so dL/dW = rho(x)^T ((y* - d) 1[0 < y* < 1]) / n.
    let (net, x, d) = random_net(&[6, 4], 1.5, 5, 31);
    let fixed = tight_fixed_point(&net, &States::with_input(&net, x.view()).unwrap());
    let y = fixed.output();
    let delta = Array2::from_shape_fn(y.dim(), |(b, j)| {
        let v = y[(b, j)];
        if v > 0.0 && v < 1.0 { (v - d[(b, j)]) / 5.0 } else { 0.0 }
    });
    let expected = x.mapv(|v| v.clamp(0.0, 1.0)).t().dot(&delta);
    let truth =
        gradient::true_gradient(&net, &fixed, d.view(), CostKind::HalfSquared, 1e-14, 10).unwrap();
    assert!(delta.iter().any(|&v| v == 0.0), "some outputs should saturate");
    let err = (&truth.grad.weights[0] - &expected).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
    assert!(err < 1e-12, "{err}");
    assert!(truth.iterations <= 1);
}

#[test]
fn centred_ep_with_small_beta_matches_the_true_gradient() {
    let (net, x, d) = mid_range_net(&[6, 5, 4, 3], 4, 41);
    let fixed = tight_fixed_point(&net, &States::with_input(&net, x.view()).unwrap());
    let truth = gradient::true_gradient(&net, &fixed, d.view(), CostKind::HalfSquared, 1e-13, 1000)
        .unwrap();
    let nudged = |beta: f64| {
        let mut s = fixed.clone();
        let out = Output::Nudged { beta, target: d.view(), cost: CostKind::HalfSquared };
        let dynamics = Dynamics::projected(0.5).with_schedule(Schedule::Alternating);
        let mut relaxer = Relaxer::new(&net, 4, 0);
        relaxer.set_input(&net, x.view()).unwrap();
        assert!(
            relaxer
                .relax_to_residual(&net, &mut s, &out, &dynamics, 1e-14, 100_000)
                .unwrap()
                .converged
        );
        s
    };
    let beta = 1e-4;
    let centred = gradient::ep_estimate(&net, &nudged(beta), &nudged(-beta), 2.0 * beta);
    let one_sided = gradient::ep_estimate(&net, &nudged(beta), &fixed, beta);
    for k in 0..net.depth() {
        let (c, r) = crate::backprop::compare_flat(&centred.layer(k), &truth.grad.layer(k));
        assert!(c > 1.0 - 1e-8 && (r - 1.0).abs() < 1e-4, "centred layer {k}: {c} {r}");
        let (c, r) = crate::backprop::compare_flat(&one_sided.layer(k), &truth.grad.layer(k));
        assert!(c > 0.999 && (r - 1.0).abs() < 1e-2, "one-sided layer {k}: {c} {r}");
    }
}

/// `batch` uniform inputs of 12 units and one-hot targets of 4 classes (example `b` of class
/// `b % 4`): the gradient-fidelity tests' data.
fn gradcheck_batch(batch: usize, r: &mut ChaCha8Rng) -> (Array2<f64>, Array2<f64>) {
    let x = Array2::from_shape_fn((batch, 12), |_| r.random_range(0.0..1.0));
    let mut target = Array2::zeros((batch, 4));
    for b in 0..batch {
        target[(b, b % 4)] = 1.0;
    }
    (x, target)
}

#[test]
fn gradient_fidelity_experiment_shows_centred_accuracy_and_one_sided_bias() {
    let (x, target) = gradcheck_batch(6, &mut rng(51));
    let settings = ebm_config::GradcheckConfig {
        hidden_layers: vec![1, 2],
        hidden_size: 8,
        betas: vec![1e-3, 0.1, 1.0],
        weight_scale: 0.7,
        tolerance: 1e-12,
        max_steps: 100_000,
        epsilon: 1.0,
        schedule: Schedule::Alternating,
        ..Default::default()
    };
    let half = CostKind::HalfSquared;
    let (rows, depths) =
        gradcheck::gradient_fidelity(&settings, half, x.view(), target.view(), 3).unwrap();
    assert_eq!(rows.len(), (2 + 3) * 3 * 2);
    assert!(depths.iter().all(|d| d.free_residual <= 1e-12));
    for r in &rows {
        if r.beta == 1e-3 && r.nudging == Nudging::Centred {
            assert!(r.cosine > 0.9999 && (r.norm_ratio - 1.0).abs() < 1e-3, "{r:?}");
        }
    }
    // The one-sided bias grows with beta: the relative error at beta 1 exceeds that at 1e-3.
    let err = |h: usize, k: usize, beta: f64, nudging: Nudging| {
        rows.iter()
            .find(|r| {
                r.hidden_layers == h && r.layer == k && r.beta == beta && r.nudging == nudging
            })
            .unwrap()
            .relative_error
    };
    for h in [1, 2] {
        for k in 0..=h {
            let one_sided = Nudging::OneSided;
            assert!(err(h, k, 1.0, one_sided) > err(h, k, 1e-3, one_sided));
            // Centred nudging removes the first-order bias.
            assert!(err(h, k, 1e-3, Nudging::Centred) < 0.1 * err(h, k, 1e-3, one_sided));
        }
    }
}

#[test]
fn gradient_fidelity_of_a_given_net_labels_its_rows_and_checks_shapes() {
    let mut r = rng(52);
    let (x, target) = gradcheck_batch(4, &mut r);
    // An f32 net (as a checkpoint holds), cast to f64 exactly.
    let net32 =
        LayeredNet::<f32>::scaled_uniform(&[12, 8, 4], Rho::default(), 0.7, &mut r).unwrap();
    let net = net32.cast::<f64>();
    assert_eq!(net.sizes(), net32.sizes());
    assert_eq!(net.weights[0][(3, 5)], f64::from(net32.weights[0][(3, 5)]));
    let settings = ebm_config::GradcheckConfig {
        betas: vec![1e-4],
        tolerance: 1e-12,
        max_steps: 100_000,
        epsilon: 1.0,
        schedule: Schedule::Alternating,
        ..Default::default()
    };
    let half = CostKind::HalfSquared;
    let trained = || NetLabel::Given("trained".to_owned());
    let (rows, depth) =
        gradcheck::gradient_fidelity_of(&settings, half, trained(), &net, x.view(), target.view())
            .unwrap();
    assert_eq!((depth.net.name(), depth.hidden_layers), ("trained", 1));
    assert_eq!(rows.len(), 2 * 2);
    for row in &rows {
        assert_eq!(row.net, trained());
        if row.nudging == Nudging::Centred {
            assert!(row.cosine > 0.9999, "{row:?}");
        }
    }
    // Zero couplings into the output and biases (2, -2, -2, -2): y* = (1, 0, 0, 0) exactly,
    // so the examples of class 0 have zero cost and the others do not.
    let mut clipped = net.clone();
    clipped.weights[1].fill(0.0);
    clipped.biases[1] = ndarray::arr1(&[2.0, -2.0, -2.0, -2.0]);
    let costly =
        gradcheck::costly_examples(&settings, half, &clipped, x.view(), target.view(), 10).unwrap();
    assert_eq!(costly, vec![1, 2, 3]);
    let costly =
        gradcheck::costly_examples(&settings, half, &clipped, x.view(), target.view(), 2).unwrap();
    assert_eq!(costly, vec![1, 2]);
    let wrong = Array2::zeros((4, 3));
    let err =
        gradcheck::gradient_fidelity_of(&settings, half, trained(), &net, x.view(), wrong.view())
            .unwrap_err();
    assert!(err.to_string().contains("`trained`"), "{err}");
}

#[test]
fn both_schedules_count_steps_to_the_same_fixed_point() {
    let (net, x, _) = mid_range_net(&[10, 8, 8, 8, 4], 5, 61);
    let choices = [(Schedule::Synchronous, 0.5), (Schedule::Alternating, 1.0)];
    let out = relax_steps::steps_to_residual(&net, x.view(), &choices, 1e-10, 10_000).unwrap();
    for (row, states) in &out {
        assert!(row.converged && row.residual <= 1e-10, "{row:?}");
        let dynamics = Dynamics::projected(0.5);
        assert!(dynamics.residual(&net, states, &Output::Free) <= 1e-10);
    }
    let diff = (out[0].1.output() - out[1].1.output()).mapv(f64::abs);
    assert!(diff.fold(0.0f64, |m, &v| m.max(v)) < 1e-8);
    assert!(out[1].0.steps < out[0].0.steps, "{:?} {:?}", out[0].0, out[1].0);
}

#[test]
fn all_finite_finds_a_nan_or_infinity_anywhere() {
    for len in [0usize, 5, 16, 37] {
        let clean: Vec<f32> = (0..len).map(|i| i as f32 * 1e30 - 3.0).collect();
        assert!(crate::kernels::all_finite(&clean), "len {len}");
        for pos in 0..len {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut v = clean.clone();
                v[pos] = bad;
                assert!(!crate::kernels::all_finite(&v), "len {len}, {bad} at {pos}");
            }
        }
    }
    assert!(crate::kernels::all_finite(&[f32::MAX, f32::MAX, -f32::MAX]));
}

/// A random f32 net on sparse inputs (about 20% non-zero, like MNIST) with outputs that clip.
fn sparse_f32_case(sizes: &[usize], batch: usize, seed: u64) -> (LayeredNet<f32>, Array2<f32>) {
    let mut r = rng(seed);
    let mut net = LayeredNet::<f32>::scaled_uniform(sizes, Rho::default(), 1.5, &mut r).unwrap();
    for b in &mut net.biases {
        b.mapv_inplace(|_| r.random_range(-0.5..0.3));
    }
    let x = Array2::from_shape_fn((batch, sizes[0]), |_| {
        if r.random_bool(0.2) { r.random_range(0.0..1.0) } else { 0.0 }
    });
    (net, x)
}

#[test]
fn sparse_kernels_match_the_dense_reference_step_for_step() {
    use ebm_config::Kernels;
    // Output widths <= THIN make the layer below the fused one; 40 > 32 is not thin.
    let cases: &[&[usize]] = &[&[50, 10], &[50, 37, 10], &[50, 40, 35, 3], &[50, 20, 40, 40]];
    let mut skipped_zeros = 0usize;
    for (c, sizes) in cases.iter().enumerate() {
        for schedule in [Schedule::Synchronous, Schedule::Alternating] {
            for (o, eps) in [(0, 0.5), (1, 1.0), (2, 0.3), (3, 0.5)] {
                let batch = 6;
                let (net, x) = sparse_f32_case(sizes, batch, 100 + c as u64);
                let n_out = *sizes.last().unwrap();
                let mut r = rng(7 + o as u64);
                let d = Array2::from_shape_fn((batch, n_out), |_| f32::from(r.random_bool(0.3)));
                let out = match o {
                    0 => Output::Free,
                    1 => {
                        Output::Nudged { beta: 0.7, target: d.view(), cost: CostKind::HalfSquared }
                    }
                    2 => Output::Nudged { beta: -0.5, target: d.view(), cost: CostKind::Squared },
                    _ => Output::Clamped { target: d.view() },
                };
                let dynamics = Dynamics::projected(eps).with_schedule(schedule);
                let mut start = States::with_input(&net, x.view()).unwrap();
                for l in &mut start.layers[1..] {
                    l.mapv_inplace(|_| r.random_range(-0.5f32..1.5).clamp(0.0, 1.0));
                }
                let mut states = [start.clone(), start];
                let mut relaxers = [Kernels::Sparse, Kernels::Dense].map(|k| {
                    let mut relaxer = Relaxer::new(&net, batch, 0);
                    relaxer.set_kernels(k);
                    relaxer.set_input(&net, x.view()).unwrap();
                    relaxer
                });
                assert!(
                    relaxers[0].sparse_input().is_some() && relaxers[1].sparse_input().is_none()
                );
                for step in 0..25 {
                    let mut deltas = [0.0; 2];
                    for i in 0..2 {
                        deltas[i] =
                            relaxers[i].step(&net, &mut states[i], &out, &dynamics).unwrap();
                    }
                    // The input products differ in order (sparse gather against GEMM), the
                    // state steps do not: compare to f32 rounding of the input drive.
                    for k in 1..=net.depth() {
                        let diff = (&states[0].layers[k] - &states[1].layers[k])
                            .mapv(f32::abs)
                            .fold(0.0f32, |m, &v| m.max(v));
                        assert!(
                            diff < 2e-5,
                            "{sizes:?} {schedule:?} output {o} step {step} layer {k}: {diff}"
                        );
                    }
                    assert!((deltas[0] - deltas[1]).abs() < 2e-5);
                    skipped_zeros += states[0].output().iter().filter(|&&v| v == 0.0).count();
                }
            }
        }
    }
    assert!(skipped_zeros > 1000, "the cases must exercise zero rates: {skipped_zeros}");
}

#[test]
fn sparse_kernels_are_bit_identical_to_the_dense_step_given_the_same_input_drive() {
    use ebm_config::Kernels;
    // With a dense input (every pixel non-zero) both relaxers take the GEMM input path, so
    // every difference would come from the state steps: there must be none.
    for sizes in [&[30usize, 40, 10][..], &[30, 40, 35, 10]] {
        for schedule in [Schedule::Synchronous, Schedule::Alternating] {
            let (net, _) = sparse_f32_case(sizes, 5, 3);
            let mut r = rng(4);
            let x = Array2::from_shape_fn((5, sizes[0]), |_| r.random_range(0.01f32..1.0));
            let d = Array2::from_shape_fn((5, 10), |_| f32::from(r.random_bool(0.3)));
            let out = Output::Nudged { beta: 0.5, target: d.view(), cost: CostKind::HalfSquared };
            let dynamics = Dynamics::projected(0.5).with_schedule(schedule);
            let mut states = [(); 2].map(|_| States::with_input(&net, x.view()).unwrap());
            for (i, k) in [Kernels::Sparse, Kernels::Dense].into_iter().enumerate() {
                let mut relaxer = Relaxer::new(&net, 5, 0);
                relaxer.set_kernels(k);
                relaxer.set_input(&net, x.view()).unwrap();
                let stop = Stop { max_steps: 40, tolerance: 0.0, trace_energy: false };
                relaxer.relax(&net, &mut states[i], &out, &dynamics, &stop).unwrap();
            }
            assert_eq!(states[0].layers, states[1].layers, "{sizes:?} {schedule:?}");
            let zeros = states[0].layers[1].iter().filter(|&&v| v == 0.0).count();
            assert!(zeros > 0 && zeros < states[0].layers[1].len(), "{zeros}");
        }
    }
}

#[test]
fn sparse_input_products_match_dense_products() {
    use crate::kernels::SparseInput;
    let mut r = rng(11);
    let mut sparse = SparseInput::default();
    // Widths exercise the 64- and 16-column blocks and the scalar tail.
    for (batch, width, n) in [(7, 40, 83), (20, 100, 500), (3, 5, 16), (4, 9, 1)] {
        let x = Array2::from_shape_fn((batch, width), |_| {
            if r.random_bool(0.25) { r.random_range(0.1f32..1.0) } else { 0.0 }
        });
        let w = Array2::from_shape_fn((width, n), |_| r.random_range(-1.0f32..1.0));
        let d = Array2::from_shape_fn((batch, n), |_| r.random_range(-1.0f32..1.0));
        sparse.fill(&x.view());
        let nnz = x.iter().filter(|&&v| v != 0.0).count();
        assert_eq!(sparse.entries.len(), nnz);
        assert!((sparse.density() - nnz as f64 / (batch * width) as f64).abs() < 1e-12);
        // Both forms list exactly the non-zeros, in unit order and in example order.
        for (j, &u) in sparse.units.iter().enumerate() {
            let col: Vec<(u32, f32)> = (0..batch)
                .filter(|&b| x[(b, u as usize)] != 0.0)
                .map(|b| (b as u32, x[(b, u as usize)]))
                .collect();
            assert_eq!(&sparse.entries[sparse.starts[j]..sparse.starts[j + 1]], &col[..]);
        }
        for b in 0..batch {
            let row: Vec<(f32, u32)> =
                (0..width).filter(|&i| x[(b, i)] != 0.0).map(|i| (x[(b, i)], i as u32)).collect();
            assert_eq!(
                &sparse.row_entries[sparse.row_starts[b]..sparse.row_starts[b + 1]],
                &row[..]
            );
        }
        let close = |a: &Array2<f32>, b: &Array2<f32>| {
            let err = (a - b).mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v));
            assert!(err < 1e-5, "{batch}x{width}x{n}: {err}");
        };
        let mut out = d.clone();
        sparse.acc_product(&w, &mut out);
        close(&out, &(&d + &x.dot(&w)));
        let mut w2 = w.clone();
        sparse.acc_outer(0.3, &d, &mut w2);
        close(&w2, &(&w + &(x.t().dot(&d) * 0.3)));
        // f sees every non-zero once, unit by unit then example by example.
        let mut seen = Vec::new();
        let mut w3 = w.clone();
        sparse.acc_outer_with(1.0, &d, &mut w3, |v| {
            seen.push(v);
            0.0
        });
        assert_eq!(w3, w, "f = 0 changes nothing");
        let expected: Vec<f32> = sparse.entries.iter().map(|&(_, v)| v).collect();
        assert_eq!(seen, expected);
    }
}

#[test]
fn thin_dot_kernel_sums_each_entry_in_its_documented_order() {
    // acc_dot_rows is register-blocked over rows and columns; every entry must still be the
    // 16-lane sum of its own terms, lanes folded in order, then the scalar tail: bit for bit.
    let mut r = rng(12);
    // Two rows at a time (AVX-512) or one (AVX2, baseline): both checked on any machine.
    for ((rows, k, n), paired) in [(20, 500, 10), (3, 37, 7), (1, 16, 1), (5, 15, 11), (4, 64, 5)]
        .into_iter()
        .flat_map(|shape| [(shape, true), (shape, false)])
    {
        let a = Array2::from_shape_fn((rows, k), |_| r.random_range(-1.0f32..1.0));
        let b_t = Array2::from_shape_fn((n, k), |_| r.random_range(-1.0f32..1.0));
        let c0 = Array2::from_shape_fn((rows, n), |_| r.random_range(-1.0f32..1.0));
        let mut c = c0.clone();
        crate::kernels::acc_dot_rows_paired(&a, &b_t, &mut c, paired);
        let full = k / 16 * 16;
        for i in 0..rows {
            for j in 0..n {
                let mut lanes = [0.0f32; 16];
                for start in (0..full).step_by(16) {
                    for (l, lane) in lanes.iter_mut().enumerate() {
                        *lane += a[(i, start + l)] * b_t[(j, start + l)];
                    }
                }
                let mut total = lanes.iter().fold(0.0f32, |t, &v| t + v);
                for t in full..k {
                    total += a[(i, t)] * b_t[(j, t)];
                }
                let expected = c0[(i, j)] + total;
                assert_eq!(
                    c[(i, j)].to_bits(),
                    expected.to_bits(),
                    "({rows},{k},{n}) at ({i},{j})"
                );
            }
        }
    }
}

/// A net with states inside the linear region and inputs in (0, 1), for the spiking messages.
fn spiking_case(seed: u64, batch: usize) -> (LayeredNet<f64>, States<f64>) {
    let mut r = rng(seed);
    let mut net = LayeredNet::<f64>::glorot_uniform(&[6, 5, 4], Rho::default(), &mut r).unwrap();
    for b in &mut net.biases {
        b.mapv_inplace(|_| r.random_range(-0.5..0.5));
    }
    let x = Array2::from_shape_fn((1, 6), |_| r.random_range(0.05..0.95));
    let mut one = States::with_input(&net, x.view()).unwrap();
    for layer in &mut one.layers[1..] {
        layer.mapv_inplace(|_| r.random_range(0.05..0.95));
    }
    // `batch` copies of the one example: every row draws its own spikes.
    let layers = one.layers.iter().map(|l| l.broadcast((batch, l.ncols())).unwrap().to_owned());
    (net, States { layers: layers.collect() })
}

#[test]
fn spiking_messages_estimate_the_rates_net_input_with_the_bernoulli_variance() {
    // With the leaky integrator at eps = 1 and every state inside the linear region, one step
    // gives s_i <- sum_j W_ij m_j + b_i, the messages m_j being spikes of probability rho(s_j):
    // its mean over draws is the rate step's value, its variance sum_j W_ij^2 p_j (1 - p_j).
    let (batch, rounds) = (500, 40);
    let (net, start) = spiking_case(3, batch);
    let spiking = Dynamics { messages: ebm_config::Messages::Spikes, ..Dynamics::leaky(1.0, 0.0) };
    let mut rates = start.clone();
    let mut relaxer = Relaxer::new(&net, batch, 9);
    relaxer.set_input(&net, start.layers[0].view()).unwrap();
    relaxer.step(&net, &mut rates, &Output::Free, &Dynamics::leaky(1.0, 0.0)).unwrap();
    let p: Vec<Array2<f64>> = start.layers.iter().map(|l| l.mapv(|v| net.rho.eval(v))).collect();
    let n = (batch * rounds) as f64;
    for k in 1..=net.depth() {
        // Closed-form variance of layer k's net input: from below through W_(k-1), from above
        // through W_k^T.
        let var_of = |w: &Array2<f64>, q: &Array2<f64>, upward: bool| -> Vec<f64> {
            let bern = q.row(0).mapv(|v| v * (1.0 - v));
            if upward {
                (0..w.ncols()).map(|i| w.column(i).mapv(|x| x * x).dot(&bern)).collect()
            } else {
                (0..w.nrows()).map(|i| w.row(i).mapv(|x| x * x).dot(&bern)).collect()
            }
        };
        let mut var = var_of(&net.weights[k - 1], &p[k - 1], true);
        if k < net.depth() {
            for (v, a) in var.iter_mut().zip(var_of(&net.weights[k], &p[k + 1], false)) {
                *v += a;
            }
        }
        let (mut sum, mut sum_sq) = (vec![0.0; var.len()], vec![0.0; var.len()]);
        for _ in 0..rounds {
            let mut s = start.clone();
            relaxer.step(&net, &mut s, &Output::Free, &spiking).unwrap();
            for row in s.layers[k].rows() {
                for (i, &v) in row.iter().enumerate() {
                    sum[i] += v;
                    sum_sq[i] += v * v;
                }
            }
        }
        for i in 0..var.len() {
            let mean = sum[i] / n;
            let sample_var = sum_sq[i] / n - mean * mean;
            let expected = rates.layers[k][[0, i]];
            assert!(
                (mean - expected).abs() < 5.0 * (var[i] / n).sqrt(),
                "layer {k} unit {i}: mean {mean} against the rates' {expected}"
            );
            assert!(
                (sample_var / var[i] - 1.0).abs() < 0.06,
                "layer {k} unit {i}: variance {sample_var} against {}",
                var[i]
            );
        }
    }
}

#[test]
fn spiking_messages_of_binary_rates_are_the_rates_and_draws_are_seeded() {
    // Rates of exactly 0 or 1 spike with certainty, so a spiking step is the rate step.
    let (net, mut start) = spiking_case(4, 3);
    let mut r = rng(5);
    for layer in &mut start.layers {
        layer.mapv_inplace(|_| if r.random_range(0..2) == 0 { -0.3 } else { 1.4 });
    }
    start.layers[0].mapv_inplace(|v| v.clamp(0.0, 1.0));
    let rates = Dynamics::leaky(0.5, 0.0);
    let spiking = Dynamics { messages: ebm_config::Messages::Spikes, ..rates };
    let step = |dynamics: &Dynamics, states: &States<f64>, seed: u64| {
        let mut s = states.clone();
        let mut relaxer = Relaxer::new(&net, 3, seed);
        relaxer.set_input(&net, s.layers[0].view()).unwrap();
        relaxer.step(&net, &mut s, &Output::Free, dynamics).unwrap();
        s
    };
    let (a, b) = (step(&rates, &start, 1), step(&spiking, &start, 1));
    for (x, y) in a.layers.iter().zip(&b.layers) {
        assert!(x.iter().zip(y).all(|(x, y)| (x - y).abs() < 1e-12), "{x} against {y}");
    }
    // Rates inside (0, 1): the same seed draws the same spikes, another seed others.
    let (net_mid, mid) = spiking_case(6, 3);
    let draw = |seed: u64| {
        let mut s = mid.clone();
        let mut relaxer = Relaxer::new(&net_mid, 3, seed);
        relaxer.set_input(&net_mid, s.layers[0].view()).unwrap();
        for _ in 0..5 {
            relaxer.step(&net_mid, &mut s, &Output::Free, &spiking).unwrap();
        }
        s
    };
    assert_eq!(draw(7).layers, draw(7).layers);
    assert_ne!(draw(7).layers, draw(8).layers);
}

/// A 1-2-1 net with feedback matrices: one step by hand. Layer 1's drive from above is
/// `rho(y) V_1`, not `rho(y) W_1^T`; layer 2's drive from below stays `rho(h) W_1 + b_1`;
/// `V_0` is never read (the input is clamped).
#[test]
fn feedback_matrices_drive_the_layer_below_in_a_hand_computed_step() {
    let tied = LayeredNet::from_parts(
        vec![array![[0.5, -0.2]], array![[0.4], [0.6]]],
        vec![array![0.1, 0.3], array![0.05]],
        Rho::hard(0.0),
    )
    .unwrap();
    let own =
        tied.clone().with_feedback(vec![array![[99.0], [99.0]], array![[-0.3, 0.8]]]).unwrap();
    let x = array![[1.0]];
    let start = |net: &LayeredNet<f64>| {
        let mut s = States::with_input(net, x.view()).unwrap();
        s.layers[1] = array![[0.2, 0.7]];
        s.layers[2] = array![[0.5]];
        s
    };
    // eps 0.5, interior states (rho' = 1): s <- s + eps (u - s) under both rules, with
    // u_h = rho(x) W_0 + b_0 + rho(y) V_1 = [0.45, 0.5] and u_y = 0.05 + 0.2 0.4 + 0.7 0.6.
    let expected = [array![[0.325, 0.6]], array![[0.525]]];
    // The tied net's drive from above is rho(y) W_1^T = [0.2, 0.3] instead.
    let tied_expected = [array![[0.5, 0.55]], array![[0.525]]];
    for dynamics in [Dynamics::projected(0.5), Dynamics::leaky(0.5, 0.0)] {
        for (net, want) in [(&own, &expected), (&tied, &tied_expected)] {
            let mut states = start(net);
            let mut relaxer = Relaxer::new(net, 1, 0);
            relaxer.set_input(net, x.view()).unwrap();
            relaxer.step(net, &mut states, &Output::Free, &dynamics).unwrap();
            for k in 1..=2 {
                let err = (&states.layers[k] - &want[k - 1]).mapv(f64::abs).sum();
                assert!(err < 1e-12, "{:?} layer {k}: {}", dynamics.rule, states.layers[k]);
            }
        }
    }
}

/// Feedback matrices equal to `W_k^T` give the energy-based net's relaxation (through the
/// reference step, to rounding), and misshapen ones are refused.
#[test]
fn transposed_feedback_relaxes_like_the_tied_net() {
    let (net, x, d) = random_net(&[6, 8, 7, 3], 0.8, 4, 21);
    let transposed = net.weights.iter().map(|w| w.t().to_owned()).collect();
    let own = net.clone().with_feedback(transposed).unwrap();
    let out = Output::Nudged { beta: 0.5, target: d.view(), cost: CostKind::HalfSquared };
    for schedule in [Schedule::Synchronous, Schedule::Alternating] {
        let dynamics = Dynamics::projected(0.5).with_schedule(schedule);
        let mut ends = Vec::new();
        for n in [&net, &own] {
            let mut states = States::with_input(n, x.view()).unwrap();
            relax(n, &mut states, &out, &dynamics, &Stop::steps(30), 0).unwrap();
            ends.push(states);
        }
        for k in 1..ends[0].layers.len() {
            let diff = (&ends[0].layers[k] - &ends[1].layers[k]).mapv(f64::abs);
            assert!(diff.fold(0.0f64, |m, &v| m.max(v)) < 1e-12, "{schedule:?} layer {k}");
        }
    }
    let wrong = vec![Array2::zeros((8, 6)), Array2::zeros((3, 7)), Array2::zeros((3, 7))];
    assert!(matches!(net.clone().with_feedback(wrong), Err(CoreError::Shape { .. })));
    let wrong = vec![Array2::zeros((6, 8)), Array2::zeros((7, 8)), Array2::zeros((3, 7))];
    assert!(matches!(net.with_feedback(wrong), Err(CoreError::Shape { .. })));
}
