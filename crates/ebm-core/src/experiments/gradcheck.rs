//! The gradient-fidelity experiment: how close is the equilibrium-propagation update to the
//! true gradient of the loss at the free fixed point (Scellier & Bengio, arXiv:1602.05179,
//! Theorem 1; the check of Ernoult et al. 2019), per layer, as beta varies, one-sided
//! (`s^beta` against `s^0`) and centred (`s^beta` against `s^(-beta)`, Laborieux et al. 2021).
//!
//! For each depth: a network `784 - h x hidden_layers - 10` (weights `weight_scale` x
//! Glorot-uniform from the seed, zero biases), the free fixed point of the given inputs relaxed
//! to a tight projected residual in f64, the true gradient ([`crate::gradient::true_gradient`]),
//! and for every beta the nudged fixed points at `+beta` and `-beta` relaxed from the free one
//! to the same residual. Each layer's parameters `(W_k, b_k)` are compared as one vector.

use ebm_config::{CostKind, GradcheckConfig};
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::backprop::compare_flat;
use crate::energy::cost;
use crate::gradient::{ParamGrad, ep_estimate, true_gradient};
use crate::{CoreError, Dynamics, LayeredNet, Output, Relaxation, Relaxer, Rho, States};

/// The relaxation of every fixed point: the projected rule with the section's step and
/// schedule (neither changes the fixed points).
fn dynamics(g: &GradcheckConfig) -> Dynamics {
    Dynamics::projected(g.epsilon).with_schedule(g.schedule)
}

/// The two EP estimates compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Nudging {
    /// `s^beta` against `s^0`, divided by `beta`.
    OneSided,
    /// `s^beta` against `s^(-beta)`, divided by `2 beta`.
    Centred,
}

/// The network a row measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetLabel {
    /// Drawn from the seed (`weight_scale` x Glorot-uniform, zero biases); written `glorot`.
    Glorot,
    /// A given network, e.g. a trained checkpoint, named by the caller (its path).
    Given(String),
}

impl NetLabel {
    /// How the label is written.
    pub fn name(&self) -> &str {
        match self {
            NetLabel::Glorot => "glorot",
            NetLabel::Given(name) => name,
        }
    }
}

impl Serialize for NetLabel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One comparison: a layer's EP estimate at one beta against the true gradient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradcheckRow {
    /// The network measured: `glorot` (drawn from the seed) or a caller's label (e.g. a
    /// trained checkpoint's path).
    pub net: NetLabel,
    /// Hidden layers of the network.
    pub hidden_layers: usize,
    /// Weight layer `k` (between layers `k` and `k+1`; 0 = input to first hidden), with its
    /// bias `b_k`.
    pub layer: usize,
    /// Nudging strength.
    pub beta: f64,
    /// `one-sided` or `centred`.
    pub nudging: Nudging,
    /// Cosine between the EP estimate and the true gradient (NaN when the true gradient is 0,
    /// as are the two ratios below).
    pub cosine: f64,
    /// `|EP estimate| / |true gradient|`.
    pub norm_ratio: f64,
    /// `|EP estimate - true gradient| / |true gradient|`.
    pub relative_error: f64,
    /// `|true gradient|` of the layer.
    pub true_norm: f64,
    /// Largest projected residual of the nudged fixed points used.
    pub nudged_residual: f64,
}

/// Per-depth facts about the free fixed point and the solve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradcheckDepth {
    /// The network measured (as [`GradcheckRow::net`]).
    pub net: NetLabel,
    /// Hidden layers.
    pub hidden_layers: usize,
    /// Layer sizes.
    pub sizes: Vec<usize>,
    /// Projected residual of the free fixed point.
    pub free_residual: f64,
    /// Steps the free phase took.
    pub free_steps: usize,
    /// Fraction of units strictly inside the box at the free fixed point.
    pub interior_fraction: f64,
    /// Conjugate-gradient iterations of the adjoint solve.
    pub cg_iterations: usize,
    /// Its relative residual.
    pub cg_residual: f64,
    /// Mean cost at the free fixed point.
    pub mean_cost: f64,
}

/// Run the experiment (the `[gradcheck]` section `g`, the cost `cost`) on inputs `x`
/// (`(n, inputs)`) with targets `target` (`(n, classes)`), for Glorot nets of each depth.
pub fn gradient_fidelity(
    g: &GradcheckConfig,
    cost: CostKind,
    x: ArrayView2<'_, f64>,
    target: ArrayView2<'_, f64>,
    seed: u64,
) -> Result<(Vec<GradcheckRow>, Vec<GradcheckDepth>), CoreError> {
    let mut rows = Vec::new();
    let mut depths = Vec::new();
    for &hidden in &g.hidden_layers {
        let mut sizes = vec![x.ncols()];
        sizes.extend(std::iter::repeat_n(g.hidden_size, hidden));
        sizes.push(target.ncols());
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(hidden as u64);
        let net =
            LayeredNet::<f64>::scaled_uniform(&sizes, Rho::default(), g.weight_scale, &mut rng)?;
        let (r, d) = gradient_fidelity_of(g, cost, NetLabel::Glorot, &net, x, target)?;
        rows.extend(r);
        depths.push(d);
    }
    Ok((rows, depths))
}

/// The same comparison on a given network (e.g. a trained checkpoint, cast to `f64`), labelled
/// `name` in its rows; `g.hidden_layers`, `hidden_size` and `weight_scale` are not used. The
/// free fixed point is relaxed with the section's step and schedule to `g.tolerance` whatever
/// the dynamics the network was trained with, so the comparison is at a true fixed point.
pub fn gradient_fidelity_of(
    g: &GradcheckConfig,
    cost_kind: CostKind,
    name: NetLabel,
    net: &LayeredNet<f64>,
    x: ArrayView2<'_, f64>,
    target: ArrayView2<'_, f64>,
) -> Result<(Vec<GradcheckRow>, GradcheckDepth), CoreError> {
    let sizes = net.sizes();
    let expected = vec![sizes[0], sizes[net.depth()]];
    if [x.ncols(), target.ncols()] != expected[..] {
        return Err(CoreError::Shape {
            what: format!("(input, target) columns given for net `{}`", name.name()),
            got: vec![x.ncols(), target.ncols()],
            expected,
        });
    }
    let hidden = net.depth() - 1;
    let (mut relaxer, free, relaxed) = free_fixed_point(g, net, x)?;
    let truth = true_gradient(net, &free, target, cost_kind, 1e-12, 10_000)?;
    let depth_info = GradcheckDepth {
        net: name.clone(),
        hidden_layers: hidden,
        sizes,
        free_residual: relaxed.last_delta,
        free_steps: relaxed.steps,
        interior_fraction: truth.interior_fraction,
        cg_iterations: truth.iterations,
        cg_residual: truth.solve_residual,
        mean_cost: cost(free.output(), target, cost_kind).mean().unwrap_or(0.0),
    };
    let dyn_ = dynamics(g);
    let mut rows = Vec::new();
    for &beta in &g.betas {
        let mut nudged = |b: f64| -> Result<(States<f64>, f64), CoreError> {
            let mut st = free.clone();
            let out = Output::Nudged { beta: b, target, cost: cost_kind };
            let r =
                relaxer.relax_to_residual(net, &mut st, &out, &dyn_, g.tolerance, g.max_steps)?;
            Ok((st, r.last_delta))
        };
        let (plus, r_plus) = nudged(beta)?;
        let (minus, r_minus) = nudged(-beta)?;
        let estimates: [(Nudging, ParamGrad, f64); 2] = [
            (Nudging::OneSided, ep_estimate(net, &plus, &free, beta), r_plus),
            (Nudging::Centred, ep_estimate(net, &plus, &minus, 2.0 * beta), r_plus.max(r_minus)),
        ];
        for (nudging, estimate, nudged_residual) in estimates {
            for k in 0..net.depth() {
                let (est, tru) = (estimate.layer(k), truth.grad.layer(k));
                let true_norm = tru.iter().map(|v| v * v).sum::<f64>().sqrt();
                let (cosine, norm_ratio, relative_error) = if true_norm > 0.0 {
                    let (cosine, norm_ratio) = compare_flat(&est, &tru);
                    let diff_norm =
                        est.iter().zip(&tru).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
                    (cosine, norm_ratio, diff_norm / true_norm)
                } else {
                    // A zero gradient (zero cost on every example) has no direction.
                    (f64::NAN, f64::NAN, f64::NAN)
                };
                rows.push(GradcheckRow {
                    net: name.clone(),
                    hidden_layers: hidden,
                    layer: k,
                    beta,
                    nudging,
                    cosine,
                    norm_ratio,
                    relative_error,
                    true_norm,
                    nudged_residual,
                });
            }
        }
    }
    Ok((rows, depth_info))
}

/// Indices of the rows of `x` whose cost at the free fixed point of `net` (relaxed as in the
/// experiment, in batches of 100) is non-zero, in order, stopping at `wanted`. On a trained net
/// most examples have cost exactly 0 (outputs clipped onto the targets), hence a zero gradient.
pub fn costly_examples(
    g: &GradcheckConfig,
    cost_kind: CostKind,
    net: &LayeredNet<f64>,
    x: ArrayView2<'_, f64>,
    target: ArrayView2<'_, f64>,
    wanted: usize,
) -> Result<Vec<usize>, CoreError> {
    let mut found = Vec::new();
    let mut start = 0;
    while start < x.nrows() && found.len() < wanted {
        let end = (start + 100).min(x.nrows());
        let (_, free, _) = free_fixed_point(g, net, x.slice(ndarray::s![start..end, ..]))?;
        let costs = cost(free.output(), target.slice(ndarray::s![start..end, ..]), cost_kind);
        found.extend(costs.iter().enumerate().filter(|(_, c)| **c > 0.0).map(|(i, _)| start + i));
        start = end;
    }
    found.truncate(wanted);
    Ok(found)
}

/// The free fixed point of inputs `x` from zero states, relaxed to `g.tolerance`, with the
/// relaxer (its input drive set) for nudged phases from it.
fn free_fixed_point(
    g: &GradcheckConfig,
    net: &LayeredNet<f64>,
    x: ArrayView2<'_, f64>,
) -> Result<(Relaxer<f64>, States<f64>, Relaxation), CoreError> {
    let mut relaxer = Relaxer::new(net, x.nrows(), 0);
    relaxer.set_input(net, x)?;
    let mut free = States::with_input(net, x)?;
    let relaxed = relaxer.relax_to_residual(
        net,
        &mut free,
        &Output::Free,
        &dynamics(g),
        g.tolerance,
        g.max_steps,
    )?;
    Ok((relaxer, free, relaxed))
}
