//! Tests of the local-in-time learning rules (`training.rule = "temporal" | "spiking"`): the
//! temporal rule summed over the nudged trajectory is the contrastive update less the
//! second-order terms `sum_t delta rho_i delta rho_j`, and the spiking rule is an unbiased
//! estimate of the temporal rule.

use ebm_config::{BetaSign, Config, CostKind, LearningRule, ValidConfig};
use ebm_core::{LayeredNet, Output, Relaxer, States, Stop};
use ndarray::{Array2, s};

use crate::Limits;
use crate::batch::Rows;
use crate::data::DataSplits;
use crate::ep::{Minibatch, Workspace, train_batch};
use crate::run::init_net;

const BATCH: usize = 10;

fn config(rule: LearningRule, sign: BetaSign, seed: u64) -> ValidConfig {
    let mut c = Config { seed, ..Config::default() };
    c.model.layers = vec![784, 12, 7, 10];
    c.training.alphas = vec![0.3, 0.2, 0.1];
    c.training.batch_size = BATCH;
    c.training.beta_sign = sign;
    c.training.rule = rule;
    c.training.persistent_particles = false;
    c.dynamics.nudged_steps = 6;
    c.validate().unwrap()
}

fn data() -> DataSplits {
    DataSplits::embedded_limited(Limits { train: Some(BATCH), test: Some(BATCH), validation: 0 })
        .unwrap()
}

/// The net after one minibatch of `config` from `net0`.
fn one_batch(config: &ValidConfig, net0: &LayeredNet<f32>, data: &DataSplits) -> LayeredNet<f32> {
    let mut net = net0.clone();
    let mut ws = Workspace::new(config, &net, BATCH);
    train_batch(
        config,
        &mut net,
        &mut ws,
        &mut [],
        Minibatch { data: &data.train, rows: Rows::Range(0), epoch: 0, index: 0 },
    )
    .unwrap();
    net
}

fn max_abs(a: &Array2<f32>) -> f32 {
    a.iter().fold(0.0f32, |m, &v| m.max(v.abs()))
}

/// `sum_t delta rho_k(t)^T delta rho_(k+1)(t)` along the nudged trajectory at `beta`, from the
/// free fixed point, replayed with ebm-core alone (layer 0, the clamped input, gives zero).
fn second_order(
    config: &ValidConfig,
    net: &LayeredNet<f32>,
    data: &DataSplits,
    beta: f32,
) -> Vec<Array2<f32>> {
    let x = data.train.images.slice(s![0..BATCH, ..]).to_owned();
    let mut target = Array2::<f32>::zeros((BATCH, 10));
    for b in 0..BATCH {
        target[(b, data.train.labels[b] as usize)] = 1.0;
    }
    let dyn_ = ebm_core::Dynamics::of(&config.dynamics);
    let mut states = States::with_input(net, x.view()).unwrap();
    let mut relaxer = Relaxer::new(net, BATCH, 0);
    relaxer.set_input(net, x.view()).unwrap();
    let free_stop = Stop::steps(config.dynamics.free_steps);
    relaxer.relax(net, &mut states, &Output::Free, &dyn_, &free_stop).unwrap();
    let out = Output::Nudged { beta, target: target.view(), cost: CostKind::HalfSquared };
    let rho = |a: &Array2<f32>| a.mapv(|v| net.rho.eval(v));
    let mut sums: Vec<Array2<f32>> = net.weights.iter().map(|w| Array2::zeros(w.dim())).collect();
    for _ in 0..config.dynamics.nudged_steps {
        let before: Vec<_> = states.layers.iter().map(rho).collect();
        relaxer.step(net, &mut states, &out, &dyn_).unwrap();
        let delta: Vec<_> = states.layers.iter().zip(&before).map(|(s, b)| rho(s) - b).collect();
        for (k, sum) in sums.iter_mut().enumerate() {
            *sum += &delta[k].t().dot(&delta[k + 1]);
        }
    }
    sums
}

/// The free fixed point and the end of the nudged phase at `beta` of the first minibatch,
/// replayed with ebm-core alone.
fn phases(
    config: &ValidConfig,
    net: &LayeredNet<f32>,
    data: &DataSplits,
    beta: f32,
) -> [States<f32>; 2] {
    let x = data.train.images.slice(s![0..BATCH, ..]).to_owned();
    let target = data.train.one_hot(crate::batch::Rows::Range(0), BATCH);
    let dyn_ = ebm_core::Dynamics::of(&config.dynamics);
    let mut relaxer = Relaxer::new(net, BATCH, 0);
    relaxer.set_input(net, x.view()).unwrap();
    let mut free = States::with_input(net, x.view()).unwrap();
    relaxer
        .relax(net, &mut free, &Output::Free, &dyn_, &Stop::steps(config.dynamics.free_steps))
        .unwrap();
    let mut nudged = free.clone();
    let out = Output::Nudged { beta, target: target.view(), cost: config.training.cost };
    relaxer
        .relax(net, &mut nudged, &out, &dyn_, &Stop::steps(config.dynamics.nudged_steps))
        .unwrap();
    [free, nudged]
}

#[test]
fn contrastive_rule_applies_minus_the_energy_parameter_gradient_difference() {
    // dW_k = -alpha_k / (beta batch) (dE/dW_k(s^beta) - dE/dW_k(s^0)), with dE/dW the
    // reference of ebm_core::energy (Eq 2.7 differentiated in W and b).
    let data = data();
    let config = config(LearningRule::Contrastive, BetaSign::Fixed, 1);
    let net0 = init_net(&config).unwrap();
    let net1 = one_batch(&config, &net0, &data);
    let [free, nudged] = phases(&config, &net0, &data, config.training.beta as f32);
    let (w_free, b_free) = ebm_core::energy::param_gradient(&net0, &free);
    let (w_nudged, b_nudged) = ebm_core::energy::param_gradient(&net0, &nudged);
    for k in 0..3 {
        let c = config.training.alphas[k] as f32 / (config.training.beta as f32 * BATCH as f32);
        let expected = (&w_nudged[k] - &w_free[k]) * -c;
        let got = &net1.weights[k] - &net0.weights[k];
        let err = max_abs(&(&got - &expected));
        // f32 rounding of the weights themselves (W + dW is stored, dW read back) and of dW
        let tol = 4.0 * f32::EPSILON * max_abs(&net0.weights[k]) + 1e-5 * max_abs(&expected);
        assert!(err <= tol, "W{k}: {err} (tolerance {tol})");
        assert!(max_abs(&expected) > 1e-4, "W{k}: the update must not vanish");
        let expected_b = (&b_nudged[k] - &b_free[k]) * -c;
        let err_b = (&(&net1.biases[k] - &net0.biases[k]) - &expected_b)
            .iter()
            .fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(err_b <= 1e-6, "b{k}: {err_b}");
    }
}

#[test]
fn temporal_rule_is_the_contrastive_update_less_the_second_order_terms() {
    let data = data();
    for sign in [BetaSign::Fixed, BetaSign::Centred] {
        let contrastive = config(LearningRule::Contrastive, sign, 1);
        let temporal = config(LearningRule::Temporal, sign, 1);
        let net0 = init_net(&contrastive).unwrap();
        let net_c = one_batch(&contrastive, &net0, &data);
        let net_t = one_batch(&temporal, &net0, &data);
        let (second, denominator) = match sign {
            BetaSign::Centred => {
                let pos = second_order(&temporal, &net0, &data, 1.0);
                let neg = second_order(&temporal, &net0, &data, -1.0);
                (pos.iter().zip(&neg).map(|(p, n)| p - n).collect::<Vec<_>>(), 2.0)
            }
            _ => (second_order(&temporal, &net0, &data, 1.0), 1.0),
        };
        for k in 0..3 {
            let c = temporal.training.alphas[k] as f32 / (denominator * BATCH as f32);
            let correction = &second[k] * c;
            let update_c = &net_c.weights[k] - &net0.weights[k];
            let update_t = &net_t.weights[k] - &net0.weights[k];
            // Contrastive = temporal + second-order terms, entry by entry.
            let err = max_abs(&(&update_c - &(&update_t + &correction)));
            assert!(err < 2e-6, "{sign:?} W{k}: temporal + second order is off by {err}");
            // The biases see a constant presynaptic rate: no second-order term.
            let db = max_abs(&(&net_t.biases[k] - &net_c.biases[k]).insert_axis(ndarray::Axis(0)));
            assert!(db < 1e-6, "{sign:?} b{k}: {db}");
            if k == 0 {
                // The input is clamped: delta x = 0, the rules agree on W_0.
                assert_eq!(max_abs(&correction), 0.0);
            } else {
                // The check can fail: the second-order terms are far above its tolerance.
                let size = max_abs(&correction);
                assert!(size > 1e-4, "{sign:?} W{k}: second-order terms only {size}");
                assert!(size < 0.5 * max_abs(&update_c), "{sign:?} W{k}: second order dominates");
            }
        }
    }
}

#[test]
fn spiking_rule_is_an_unbiased_estimate_of_the_temporal_rule() {
    // The spikes do not enter the trajectory, so E[xi_j] = rho_j makes the spiking update's
    // mean the temporal update. Average it over many spike streams (seeds).
    let data = data();
    let temporal = config(LearningRule::Temporal, BetaSign::Fixed, 1);
    let net0 = init_net(&temporal).unwrap();
    let net_t = one_batch(&temporal, &net0, &data);
    let runs = 400;
    let mut mean: Vec<Array2<f32>> = net0.weights.iter().map(|w| Array2::zeros(w.dim())).collect();
    let mut single_err = [0.0f32; 3];
    for seed in 1..=runs {
        let net_s = one_batch(&config(LearningRule::Spiking, BetaSign::Fixed, seed), &net0, &data);
        for k in 0..3 {
            let update = &net_s.weights[k] - &net0.weights[k];
            if seed == 1 {
                let t = &net_t.weights[k] - &net0.weights[k];
                single_err[k] = norm(&(&update - &t)) / norm(&t);
            }
            mean[k] += &(update / runs as f32);
        }
        assert_eq!(net_s.biases, net_t.biases, "biases see no spikes");
    }
    for k in 0..3 {
        let t = &net_t.weights[k] - &net0.weights[k];
        let rel = norm(&(&mean[k] - &t)) / norm(&t);
        // One spike stream is a noisy estimate; the mean of 400 is about 20x less noisy
        // (measured: 0.15 / 0.0082 on W_0, 0.14 / 0.0085 on W_1, 0.20 / 0.0088 on W_2).
        assert!(
            single_err[k] > 0.1,
            "W{k}: one spiking update is within {} of temporal",
            single_err[k]
        );
        assert!(rel < single_err[k] / 8.0, "W{k}: mean of {runs} spiking updates is {rel} off");
    }
}

fn norm(a: &Array2<f32>) -> f32 {
    a.iter().map(|&v| v * v).sum::<f32>().sqrt()
}
