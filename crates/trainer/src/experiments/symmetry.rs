//! `ebm symmetry`: does learning symmetrise untied weights? (Bengio et al. 2017, Eq 2.10: with
//! a forward matrix `W_k` and a feedback matrix `V_k` per pair of layers, the dynamics see the
//! symmetric part `1/2 (W_k + V_k^T)`, "which automatically symmetrizes the weight matrix when
//! following a weight update like the one we propose".)
//!
//! Each [`VARIANTS`] entry trains a net of `symmetry.layers` on the first examples of the data
//! set through the trainer's own epoch loop ([`crate::run::train_with`]) with an [`Untied`]
//! rule wrapped around the contrastive or the temporal rule; the forward matrices are the
//! seed's Glorot draw (the tied net's), the feedback matrices an independent one (the `Init`
//! stream at index 1). Two couplings:
//!
//! - `averaged` (Eq 2.10): the dynamics use `M_k = (W_k + V_k^T) / 2`;
//! - `own`: each matrix in its own direction, `W_k` upward and `V_k` downward (no energy; the
//!   feedback-alignment setting of section 6), through [`LayeredNet::with_feedback`].
//!
//! and two rules, both such that the pair's average moves as the tied weight would:
//!
//! - contrastive: both matrices take the tied update `Delta` (`W += Delta`, `V^T += Delta`), so
//!   `W - V^T` does not move (and shrinks by `1 - weight_decay` per minibatch with decay);
//! - local (Eq 3.18, each matrix its own postsynaptic factor): `W_ij` (into unit `i` of the
//!   upper layer) by `rho(s_j) ds_i/dt`, `V_ji` (into unit `j` of the lower layer) by
//!   `rho(s_i) ds_j/dt`, each at twice the layer's rate, so that their sum is the tied temporal
//!   rule's `Delta` and their difference the antisymmetric part
//!   `a_ij = sum_t (rho_j delta rho_i - rho_i delta rho_j)` (the area the trajectory sweeps in
//!   the `(rho_j, rho_i)` plane): `W += Delta + c a`, `V^T += Delta - c a`. The clamped input
//!   never moves, so `V_0` never learns and `W_0` takes `2 Delta_0`.
//!
//! The asymmetry `||W_k - V_k^T|| / ||W_k||` and the angle between `W_k` and `V_k^T` are
//! measured per pair of layers at the start and after every epoch, with the test error from
//! zero states.

use std::sync::{Arc, Mutex, PoisonError};

use ebm_config::{Section, ValidConfig};
use ebm_core::{LayeredNet, Relaxer, States};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Zip};
use serde::Serialize;

use crate::TrainError;
use crate::data::DataSplits;
use crate::ep::rules::{Contrastive, Rates, Temporal, layer_buffers, rates_into};
use crate::ep::{BatchContext, LearningRule, Phases};
use crate::evaluate::evaluate;
use crate::rng::{Stream, stream_rng};
use crate::run::{EpochMetrics, Observer, TrainState, train_with};

/// How the dynamics use the two matrices of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Coupling {
    /// One matrix (the reference).
    Tied,
    /// `(W + V^T) / 2` in both directions (Eq 2.10).
    Averaged,
    /// `W` upward, `V` downward.
    Own,
}

/// The weight update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Update {
    /// Nudged minus free products (Scellier & Bengio, Eq 13).
    Contrastive,
    /// Postsynaptic rate of change times presynaptic rate (Eq 3.18), per matrix when untied.
    Local,
}

/// One trained variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Variant {
    /// Its label in the results.
    pub name: &'static str,
    /// How the dynamics use the matrices.
    pub coupling: Coupling,
    /// The update.
    pub update: Update,
    /// Whether `symmetry.weight_decay` applies.
    pub decay: bool,
}

const fn variant(name: &'static str, coupling: Coupling, update: Update, decay: bool) -> Variant {
    Variant { name, coupling, update, decay }
}

/// The variants `ebm symmetry` trains, in order.
pub const VARIANTS: [Variant; 8] = [
    variant("tied-contrastive", Coupling::Tied, Update::Contrastive, false),
    variant("tied-local", Coupling::Tied, Update::Local, false),
    variant("averaged-contrastive", Coupling::Averaged, Update::Contrastive, false),
    variant("averaged-contrastive-decay", Coupling::Averaged, Update::Contrastive, true),
    variant("averaged-local", Coupling::Averaged, Update::Local, false),
    variant("averaged-local-decay", Coupling::Averaged, Update::Local, true),
    variant("own-local", Coupling::Own, Update::Local, false),
    variant("own-local-decay", Coupling::Own, Update::Local, true),
];

/// A variant's figures at one epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochRow {
    /// Epochs done (0 = the start).
    pub epoch: usize,
    /// Test error from zero states.
    pub test_error: f64,
    /// The free phase's errors during the epoch (none at the start).
    pub train_error_running: Option<f64>,
    /// `||W - V^T|| / ||W||` over every pair of layers (0 for the tied net).
    pub asymmetry: f64,
    /// The angle between `W` and `V^T` over every pair, in degrees.
    pub angle_degrees: f64,
    /// The asymmetry of each pair `k` (`W_k`, `V_k`).
    pub layer_asymmetry: Vec<f64>,
    /// The angle of each pair, in degrees.
    pub layer_angle_degrees: Vec<f64>,
}

/// A variant's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantRun {
    /// The variant.
    #[serde(flatten)]
    pub variant: Variant,
    /// The weight decay it used (0 without).
    pub weight_decay: f64,
    /// The start and every epoch.
    pub epochs: Vec<EpochRow>,
    /// Test error after the last epoch.
    pub final_test_error: f64,
    /// Asymmetry after the last epoch over its value at the start.
    pub asymmetry_ratio: f64,
}

/// The experiment's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SymmetryRun {
    /// Training examples used.
    pub train_examples: usize,
    /// Test examples used.
    pub test_examples: usize,
    /// One run per variant of [`VARIANTS`].
    pub variants: Vec<VariantRun>,
}

/// The two matrices of every pair: `forward[k]`: `(n_k, n_(k+1))`, `backward[k]`:
/// `(n_(k+1), n_k)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Untied {
    /// `W_k`.
    pub forward: Vec<Array2<f32>>,
    /// `V_k`.
    pub backward: Vec<Array2<f32>>,
    /// How the dynamics use them.
    pub coupling: Coupling,
}

impl Untied {
    /// Write what the dynamics use into `net`: `(W + V^T) / 2` (averaged), or `W` with the
    /// feedback matrices `V` (own); the tied coupling leaves `net` as it is.
    pub fn sync(&self, net: &mut LayeredNet<f32>) {
        match self.coupling {
            Coupling::Tied => {}
            Coupling::Averaged => {
                for ((m, w), v) in net.weights.iter_mut().zip(&self.forward).zip(&self.backward) {
                    Zip::from(m).and(w).and(&v.t()).for_each(|m, &w, &v| *m = 0.5 * (w + v));
                }
            }
            Coupling::Own => {
                for (m, w) in net.weights.iter_mut().zip(&self.forward) {
                    m.assign(w);
                }
                match &mut net.feedback {
                    Some(f) => f.iter_mut().zip(&self.backward).for_each(|(f, v)| f.assign(v)),
                    None => net.feedback = Some(self.backward.clone()),
                }
            }
        }
    }

    /// Per pair `k` and over all pairs (last): `||W - V^T||^2`, `||W||^2`, `||V||^2`,
    /// `<W, V^T>`.
    fn sums(&self) -> Vec<[f64; 4]> {
        let mut rows: Vec<[f64; 4]> = self
            .forward
            .iter()
            .zip(&self.backward)
            .map(|(w, v)| {
                let mut s = [0.0; 4];
                Zip::from(w).and(&v.t()).for_each(|&w, &v| {
                    let (w, v) = (f64::from(w), f64::from(v));
                    s[0] += (w - v).powi(2);
                    s[1] += w * w;
                    s[2] += v * v;
                    s[3] += w * v;
                });
                s
            })
            .collect();
        let total = rows.iter().fold([0.0; 4], |a, r| std::array::from_fn(|i| a[i] + r[i]));
        rows.push(total);
        rows
    }

    /// `(asymmetry, angle in degrees)` per pair, then over all pairs.
    pub fn measures(&self) -> Vec<(f64, f64)> {
        let measure = |s: &[f64; 4]| {
            let cos = (s[3] / (s[1] * s[2]).sqrt().max(f64::MIN_POSITIVE)).clamp(-1.0, 1.0);
            ((s[0] / s[1].max(f64::MIN_POSITIVE)).sqrt(), cos.acos().to_degrees())
        };
        self.sums().iter().map(measure).collect()
    }
}

/// A learning rule for untied matrices around a tied one (`inner`, which updates the net the
/// dynamics use): its update of each weight layer is `Delta`, and `W += Delta + c a`,
/// `V^T += Delta - c a`, with `a` the local rule's antisymmetric part when `local` (see the
/// module's documentation), then the decay. Biases are shared and take `inner`'s update.
#[derive(Debug)]
pub struct UntiedRule {
    inner: Box<dyn LearningRule>,
    params: Arc<Mutex<Untied>>,
    /// The antisymmetric part's buffers, for the local rule.
    local: Option<Antisymmetric>,
    decay: f32,
    /// The net's weights before `inner`'s update.
    before: Vec<Array2<f32>>,
}

/// `a_k = sum_t sign (rho_k^T delta rho_(k+1) - delta rho_k^T rho_(k+1))` for `k >= 1`.
#[derive(Debug)]
struct Antisymmetric {
    /// `rho(s(t))` before the current step; index 0 unused.
    prev: Vec<Array2<f32>>,
    /// `rho(s(t+1)) - rho(s(t))`.
    delta: Vec<Array2<f32>>,
    /// `a_k` (index 0 empty: the input does not move, so `a_0 = Delta_0 / c`).
    area: Vec<Array2<f32>>,
}

impl UntiedRule {
    /// The rule for `update` on `net` with minibatches of `batch`, moving `params` (whose
    /// `sync` gives the net the dynamics use) and decaying both matrices by `decay` per
    /// minibatch.
    pub fn new(
        net: &LayeredNet<f32>,
        batch: usize,
        update: Update,
        params: Arc<Mutex<Untied>>,
        decay: f64,
    ) -> Self {
        let inner: Box<dyn LearningRule> = match update {
            Update::Contrastive => Box::new(Contrastive::new(net, batch)),
            Update::Local => Box::new(Temporal::new(net, batch, Rates)),
        };
        let local = (update == Update::Local).then(|| {
            let mut area = vec![Array2::zeros((0, 0))];
            area.extend(net.weights[1..].iter().map(|w| Array2::zeros(w.dim())));
            Antisymmetric {
                prev: layer_buffers(net, batch),
                delta: layer_buffers(net, batch),
                area,
            }
        });
        let before = net.weights.iter().map(|w| Array2::zeros(w.dim())).collect();
        Self { inner, params, local, decay: decay as f32, before }
    }
}

impl LearningRule for UntiedRule {
    fn stepwise(&self) -> bool {
        self.inner.stepwise()
    }

    fn begin(&mut self, ctx: &BatchContext<'_>, relaxer: &Relaxer<f32>) {
        if let Some(l) = &mut self.local {
            l.area.iter_mut().for_each(|a| a.fill(0.0));
        }
        self.inner.begin(ctx, relaxer);
    }

    fn begin_trajectory(
        &mut self,
        ctx: &BatchContext<'_>,
        trajectory: usize,
        net: &LayeredNet<f32>,
        states: &States<f32>,
    ) {
        if let Some(l) = &mut self.local {
            rates_into(net, states, &mut l.prev);
        }
        self.inner.begin_trajectory(ctx, trajectory, net, states);
    }

    fn on_step(
        &mut self,
        ctx: &BatchContext<'_>,
        trajectory: usize,
        net: &mut LayeredNet<f32>,
        states: &States<f32>,
    ) {
        if let Some(l) = &mut self.local {
            let (rho, depth) = (net.rho, net.depth());
            let sign = ctx.plan.trajectories[trajectory].sign;
            for k in 1..=depth {
                Zip::from(&mut l.delta[k])
                    .and(&states.layers[k])
                    .and(&l.prev[k])
                    .for_each(|d, &s, &p| *d = rho.eval(s) - p);
            }
            for k in 1..depth {
                general_mat_mul(sign, &l.prev[k].t(), &l.delta[k + 1], 1.0, &mut l.area[k]);
                general_mat_mul(-sign, &l.delta[k].t(), &l.prev[k + 1], 1.0, &mut l.area[k]);
            }
            for k in 1..=depth {
                l.prev[k] += &l.delta[k];
            }
        }
        self.inner.on_step(ctx, trajectory, net, states);
    }

    fn finish(&mut self, ctx: &BatchContext<'_>, net: &mut LayeredNet<f32>, phases: &Phases<'_>) {
        for (b, w) in self.before.iter_mut().zip(&net.weights) {
            b.assign(w);
        }
        self.inner.finish(ctx, net, phases);
        let mut p = self.params.lock().unwrap_or_else(PoisonError::into_inner);
        let keep = 1.0 - self.decay;
        for k in 0..net.depth() {
            // Delta, then W += Delta + c a and V^T += Delta - c a.
            let mut delta = &net.weights[k] - &self.before[k];
            let mut up = delta.clone();
            match &self.local {
                Some(_) if k == 0 => {
                    up *= 2.0;
                    delta.fill(0.0);
                }
                Some(l) => {
                    up.scaled_add(ctx.coefficients[k], &l.area[k]);
                    delta.scaled_add(-ctx.coefficients[k], &l.area[k]);
                }
                None => {}
            }
            p.forward[k] += &up;
            p.backward[k] += &delta.t();
            if self.decay > 0.0 {
                p.forward[k] *= keep;
                p.backward[k] *= keep;
            }
        }
        p.sync(net);
    }
}

/// Collects a variant's rows after every epoch.
struct Rows {
    params: Option<Arc<Mutex<Untied>>>,
    /// Pairs of layers (the tied net's rows are zeros).
    pairs: usize,
    rows: Vec<EpochRow>,
}

impl Rows {
    fn push(&mut self, epoch: usize, test_error: f64, train_error_running: Option<f64>) {
        let measures = match &self.params {
            Some(p) => p.lock().unwrap_or_else(PoisonError::into_inner).measures(),
            None => vec![(0.0, 0.0); self.pairs + 1],
        };
        let (asymmetry, angle_degrees) = measures.last().copied().unwrap_or((0.0, 0.0));
        let pairs = &measures[..measures.len().saturating_sub(1)];
        self.rows.push(EpochRow {
            epoch,
            test_error,
            train_error_running,
            asymmetry,
            angle_degrees,
            layer_asymmetry: pairs.iter().map(|m| m.0).collect(),
            layer_angle_degrees: pairs.iter().map(|m| m.1).collect(),
        });
    }
}

impl Observer for Rows {
    type Error = TrainError;
    fn on_epoch(&mut self, m: &EpochMetrics, _state: &TrainState) -> Result<(), TrainError> {
        self.push(m.epoch, m.test_error, Some(m.train_error_running));
        Ok(())
    }
}

/// The training configuration of the variants: `config` with `symmetry.layers` and
/// `symmetry.epochs`, without the training set's re-evaluation.
fn training_config(config: &ValidConfig) -> Result<ValidConfig, TrainError> {
    let s = &config.symmetry;
    let alphas = config.training.alphas.len();
    if s.layers.len() != alphas + 1 {
        return Err(TrainError::ConfigMismatch {
            field: "symmetry.layers",
            value: format!("{:?}", s.layers),
            reason: format!(
                "{} weight layers, but training.alphas has {alphas} learning rates",
                s.layers.len() - 1
            ),
        });
    }
    let mut c = config.config().clone();
    c.model.layers.clone_from(&s.layers);
    c.training.epochs = s.epochs;
    c.training.train_eval_every = 0;
    c.validate_sections(&Section::TRAIN).map_err(|e| TrainError::ConfigMismatch {
        field: "symmetry",
        value: format!("{:?}", s.layers),
        reason: e.to_string(),
    })
}

/// Train every variant of [`VARIANTS`] on the first `symmetry.train_examples` training and
/// `symmetry.test_examples` test examples of `data`; `progress` hears each variant's name
/// before it trains.
pub fn run(
    config: &ValidConfig,
    data: &DataSplits,
    progress: &mut dyn FnMut(&Variant),
) -> Result<SymmetryRun, TrainError> {
    let s = &config.symmetry;
    let first = |n: usize, len: usize| (0..n.min(len)).collect::<Vec<_>>();
    let data = DataSplits {
        train: data.train.select(&first(s.train_examples, data.train.len())),
        test: data.test.select(&first(s.test_examples, data.test.len())),
        validation: None,
        source: data.source.clone(),
    };
    let tc = training_config(config)?;
    let mut variants = Vec::new();
    for v in VARIANTS {
        progress(&v);
        variants.push(train_variant(&tc, &data, v, s.weight_decay)?);
    }
    Ok(SymmetryRun { train_examples: data.train.len(), test_examples: data.test.len(), variants })
}

/// Train one variant (`tc`: the training configuration of [`training_config`]).
fn train_variant(
    tc: &ValidConfig,
    data: &DataSplits,
    v: Variant,
    weight_decay: f64,
) -> Result<VariantRun, TrainError> {
    let mut state = TrainState::new(tc.clone(), data)?;
    let batch = tc.training.batch_size;
    let decay = if v.decay { weight_decay } else { 0.0 };
    let (rule, params): (Box<dyn LearningRule>, _) = match v.coupling {
        Coupling::Tied => {
            let rule = match v.update {
                Update::Contrastive => Box::new(Contrastive::new(&state.net, batch)) as _,
                Update::Local => Box::new(Temporal::new(&state.net, batch, Rates)) as _,
            };
            (rule, None)
        }
        coupling => {
            let mut rng = stream_rng(tc.seed, Stream::Init, 1);
            let feedback =
                LayeredNet::<f32>::glorot_uniform(&tc.model.layers, state.net.rho, &mut rng)?;
            let untied = Untied {
                forward: state.net.weights.clone(),
                backward: feedback.weights.iter().map(|w| w.t().to_owned()).collect(),
                coupling,
            };
            untied.sync(&mut state.net);
            let params = Arc::new(Mutex::new(untied));
            let rule = UntiedRule::new(&state.net, batch, v.update, params.clone(), decay);
            (Box::new(rule) as _, Some(params))
        }
    };
    let mut rows = Rows { params, pairs: state.net.depth(), rows: Vec::new() };
    let start = evaluate(tc, &state.net, &data.test, tc.eval_steps(), tc.training.cost, None)?;
    rows.push(0, start.error_rate(), None);
    train_with(&mut state, data, &mut rows, rule)?;
    let (first, last) = (&rows.rows[0], rows.rows.last().expect("the start row"));
    let asymmetry_ratio =
        if first.asymmetry > 0.0 { last.asymmetry / first.asymmetry } else { 0.0 };
    Ok(VariantRun {
        variant: v,
        weight_decay: decay,
        final_test_error: last.test_error,
        asymmetry_ratio,
        epochs: rows.rows,
    })
}

#[cfg(test)]
#[path = "symmetry_tests.rs"]
mod tests;
