//! Tests of `ebm symmetry`'s untied rules against the tied rules and a replay of the nudged
//! trajectory, and of the experiment's determinism.

use std::sync::{Arc, Mutex};

use ebm_config::{BetaSign, Config, CostKind, ValidConfig};
use ebm_core::{Dynamics, LayeredNet, Output, Relaxer, States, Stop};
use ndarray::{Array2, s};

use super::*;
use crate::Limits;
use crate::batch::Rows as BatchRows;
use crate::ep::{Minibatch, NudgingPlan, Workspace, train_batch};
use crate::run::init_net;

const BATCH: usize = 10;

fn config(sign: BetaSign) -> ValidConfig {
    let mut c = Config { seed: 3, ..Config::default() };
    c.model.layers = vec![784, 12, 7, 10];
    c.training.alphas = vec![0.3, 0.2, 0.1];
    c.training.batch_size = BATCH;
    c.training.beta_sign = sign;
    c.training.persistent_particles = false;
    c.dynamics.nudged_steps = 6;
    c.validate().unwrap()
}

fn data(n: usize) -> DataSplits {
    DataSplits::embedded_limited(Limits { train: Some(n), test: Some(n), validation: 0 }).unwrap()
}

/// An averaged pair from the config's net and an independent draw.
fn untied(config: &ValidConfig, coupling: Coupling) -> Untied {
    let net = init_net(config).unwrap();
    let other = LayeredNet::<f32>::glorot_uniform(
        &config.model.layers,
        net.rho,
        &mut stream_rng(9, Stream::Init, 1),
    )
    .unwrap();
    let backward = other.weights.iter().map(|w| w.t().to_owned()).collect();
    Untied { forward: net.weights, backward, coupling }
}

/// One minibatch of `rule` from `net`.
fn one_batch(config: &ValidConfig, net: &mut LayeredNet<f32>, rule: Box<dyn LearningRule>) {
    let data = data(BATCH);
    let mut ws = Workspace::with_rule(net, BATCH, rule);
    let mb = Minibatch { data: &data.train, rows: BatchRows::Range(0), epoch: 0, index: 0 };
    train_batch(config, net, &mut ws, &mut [], mb).unwrap();
}

/// The untied pair and its net after one minibatch of `update`.
fn untied_batch(config: &ValidConfig, start: &Untied, update: Update, decay: f64) -> Untied {
    let mut net = init_net(config).unwrap();
    start.sync(&mut net);
    let params = Arc::new(Mutex::new(start.clone()));
    let rule = UntiedRule::new(&net, BATCH, update, params.clone(), decay);
    one_batch(config, &mut net, Box::new(rule));
    params.lock().unwrap().clone()
}

fn max_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    (a - b).iter().fold(0.0f32, |m, &v| m.max(v.abs()))
}

fn antisymmetric(u: &Untied, k: usize) -> Array2<f32> {
    &u.forward[k] - &u.backward[k].t()
}

/// Contrastive: the average moves as the tied net's weights do from the same start, and
/// `W - V^T` does not move without decay and shrinks by exactly `1 - decay` with it.
#[test]
fn untied_contrastive_moves_the_average_as_the_tied_rule_and_keeps_the_asymmetry() {
    let config = config(BetaSign::Centred);
    let start = untied(&config, Coupling::Averaged);
    let mut tied = init_net(&config).unwrap();
    start.sync(&mut tied);
    let average = tied.clone();
    let rule = Box::new(Contrastive::new(&tied, BATCH));
    one_batch(&config, &mut tied, rule);
    let after = untied_batch(&config, &start, Update::Contrastive, 0.0);
    let mut net = average.clone();
    after.sync(&mut net);
    for k in 0..3 {
        let moved = max_diff(&tied.weights[k], &average.weights[k]);
        assert!(moved > 1e-3, "layer {k} should learn: {moved}");
        assert!(max_diff(&net.weights[k], &tied.weights[k]) < 1e-6, "layer {k}");
        assert!(max_diff(&antisymmetric(&after, k), &antisymmetric(&start, k)) < 1e-6);
    }
    let decayed = untied_batch(&config, &start, Update::Contrastive, 0.1);
    for k in 0..3 {
        let want = antisymmetric(&start, k) * 0.9;
        assert!(max_diff(&antisymmetric(&decayed, k), &want) < 1e-6, "layer {k}");
    }
}

/// Local: `W_k` takes `2 c sum_t rho(s_k)^T delta rho(s_(k+1))` and `V_k` takes
/// `2 c sum_t rho(s_(k+1))^T delta rho(s_k)` (each matrix its own postsynaptic factor), checked
/// against a replay of the nudged trajectory with ebm-core alone; `V_0` does not move (the
/// input is clamped) and the two updates differ (so the asymmetry moves).
#[test]
fn untied_local_rule_gives_each_matrix_its_own_postsynaptic_factor() {
    let config = config(BetaSign::Fixed);
    let start = untied(&config, Coupling::Averaged);
    let after = untied_batch(&config, &start, Update::Local, 0.0);
    // Replay: the free phase, then the nudged steps, on the averaged net.
    let mut net = init_net(&config).unwrap();
    start.sync(&mut net);
    let d = data(BATCH);
    let x = d.train.images.slice(s![0..BATCH, ..]).to_owned();
    let target = d.train.one_hot(BatchRows::Range(0), BATCH);
    let dyn_ = Dynamics::of(&config.dynamics);
    let mut states = States::with_input(&net, x.view()).unwrap();
    let mut relaxer = Relaxer::new(&net, BATCH, 0);
    relaxer.set_input(&net, x.view()).unwrap();
    relaxer.relax(&net, &mut states, &Output::Free, &dyn_, &Stop::steps(20)).unwrap();
    let out = Output::Nudged { beta: 1.0, target: target.view(), cost: CostKind::HalfSquared };
    let rho = |a: &Array2<f32>| a.mapv(|v| net.rho.eval(v));
    let mut up: Vec<Array2<f32>> = net.weights.iter().map(|w| Array2::zeros(w.dim())).collect();
    let mut down = up.clone();
    for _ in 0..config.dynamics.nudged_steps {
        let before: Vec<_> = states.layers.iter().map(rho).collect();
        relaxer.step(&net, &mut states, &out, &dyn_).unwrap();
        let delta: Vec<_> = states.layers.iter().zip(&before).map(|(s, b)| rho(s) - b).collect();
        for k in 0..3 {
            up[k] += &before[k].t().dot(&delta[k + 1]);
            down[k] += &delta[k].t().dot(&before[k + 1]);
        }
    }
    let plan = NudgingPlan::new(&config.training, config.seed, 0);
    for k in 0..3 {
        let c = 2.0 * plan.coefficient(config.training.alphas[k], BATCH);
        let dw = &after.forward[k] - &start.forward[k];
        let dv = &after.backward[k] - &start.backward[k];
        let scale = (&up[k] * c).iter().fold(0.0f32, |m, &v| m.max(v.abs()));
        assert!(scale > 1e-4, "layer {k} should learn");
        assert!(max_diff(&dw, &(&up[k] * c)) < 1e-3 * scale, "W{k}");
        assert!(max_diff(&dv, &(&down[k].t() * c)) < 1e-3 * scale, "V{k}");
    }
    assert_eq!(after.backward[0], start.backward[0]);
    let moved = max_diff(&antisymmetric(&after, 1), &antisymmetric(&start, 1));
    assert!(moved > 1e-5, "the two local updates should differ: {moved}");
}

/// Measures: a symmetric pair has asymmetry 0 and angle 0; `V^T = -W` has asymmetry 2 and
/// angle 180 degrees.
#[test]
fn asymmetry_and_angle_of_known_pairs() {
    let w = Array2::from_shape_fn((3, 2), |(i, j)| (i as f32) - (j as f32) + 0.5);
    let pair = |v: Array2<f32>| Untied {
        forward: vec![w.clone()],
        backward: vec![v],
        coupling: Coupling::Averaged,
    };
    let same = pair(w.t().to_owned()).measures();
    assert!(same[0].0 < 1e-12 && same[0].1 < 1e-3, "{same:?}");
    let opposite = pair(-w.t().to_owned()).measures();
    assert!((opposite[1].0 - 2.0).abs() < 1e-9 && (opposite[1].1 - 180.0).abs() < 1e-6);
}

/// The experiment on a small net: the same numbers from the same seed, learning in every
/// variant (test error below the start's), and `symmetry.layers` counted against
/// `training.alphas`.
#[test]
fn the_experiment_is_deterministic_and_every_variant_learns() {
    let mut c = Config { seed: 5, ..Config::default() };
    c.symmetry.layers = vec![784, 16, 10];
    c.symmetry.epochs = 2;
    c.symmetry.train_examples = 200;
    c.symmetry.test_examples = 100;
    c.training.batch_size = 20;
    let config = c.clone().validate().unwrap();
    let data = data(200);
    let mut names = Vec::new();
    let a = run(&config, &data, &mut |v| names.push(v.name)).unwrap();
    let b = run(&config, &data, &mut |_| {}).unwrap();
    assert_eq!(a, b);
    assert_eq!(names.len(), VARIANTS.len());
    for v in &a.variants {
        assert_eq!(v.epochs.len(), 3, "{}", v.variant.name);
        assert!(v.final_test_error < v.epochs[0].test_error, "{}", v.variant.name);
        let untied = v.variant.coupling != Coupling::Tied;
        assert_eq!(v.epochs[0].asymmetry > 0.5, untied, "{}", v.variant.name);
    }
    c.symmetry.layers = vec![784, 16, 16, 10];
    let err = run(&c.validate().unwrap(), &data, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("symmetry.layers") && err.contains("training.alphas has 2"), "{err}");
}
