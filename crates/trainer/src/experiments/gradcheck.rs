//! `ebm gradcheck` on a data set: the EP update (one-sided and centred) against the true
//! gradient of the loss at the free fixed point, per layer and beta
//! ([`ebm_core::experiments::gradcheck`]), for Glorot nets of each configured depth on evenly
//! spaced training examples, and for given (trained) nets on training examples whose cost is
//! non-zero (a trained net's outputs sit exactly on most targets, where the gradient is 0).

use ebm_config::ValidConfig;
use ebm_core::experiments::gradcheck::{
    GradcheckDepth, GradcheckRow, NetLabel, Nudging, costly_examples, gradient_fidelity,
    gradient_fidelity_of,
};
use ndarray::{Array2, Axis};
use serde::Serialize;

use super::{GivenNet, spaced};
use crate::TrainError;
use crate::batch::Rows;
use crate::data::{DataSplits, Dataset};

/// The examples a given network was measured on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasuredOn {
    /// The network's label.
    pub net: String,
    /// Evenly spaced training examples scanned (`gradcheck.candidates`).
    pub candidates: usize,
    /// Indices of those with non-zero cost at the free fixed point (at most `examples`).
    pub examples: Vec<usize>,
}

/// Per network, depth and layer: the centred and one-sided figures at the smallest beta.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Headline {
    /// `glorot` or the given network's label.
    pub net: NetLabel,
    /// Hidden layers.
    pub hidden_layers: usize,
    /// Weight layer.
    pub layer: usize,
    /// The smallest beta measured.
    pub beta: f64,
    /// Cosine of the centred estimate with the true gradient.
    pub centred_cosine: f64,
    /// Its norm ratio.
    pub centred_norm_ratio: f64,
    /// Cosine of the one-sided estimate.
    pub one_sided_cosine: f64,
    /// Its norm ratio.
    pub one_sided_norm_ratio: f64,
}

/// Everything the experiment measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradcheck {
    /// One row per network, depth, layer, beta and nudging.
    pub rows: Vec<GradcheckRow>,
    /// One per network measured: its free fixed point and adjoint solve.
    pub depths: Vec<GradcheckDepth>,
    /// The training examples of the Glorot nets.
    pub examples: Vec<usize>,
    /// The training examples of each given network.
    pub measured_on: Vec<MeasuredOn>,
    /// The figures at the smallest beta.
    pub headline: Vec<Headline>,
}

/// The inputs (as f64) and one-hot targets of `indices` of `set`.
fn inputs(set: &Dataset, indices: &[usize]) -> (Array2<f64>, Array2<f64>) {
    let x = set.images.select(Axis(0), indices).mapv(f64::from);
    let target = set.one_hot(Rows::Indices(indices), indices.len()).mapv(f64::from);
    (x, target)
}

/// Run the experiment of `config.gradcheck` (with the training cost) on `data`'s training set,
/// for the Glorot nets of the seed and each of `given`.
pub fn run(
    config: &ValidConfig,
    data: &DataSplits,
    given: &[GivenNet],
) -> Result<Gradcheck, TrainError> {
    let g = &config.gradcheck;
    let set = &data.train;
    let examples = spaced(set.len(), g.examples);
    let (x, target) = inputs(set, &examples);
    let (mut rows, mut depths) =
        gradient_fidelity(g, config.training.cost, x.view(), target.view(), config.seed)?;
    // The candidates scanned for costly examples: the same for every given net.
    let candidates = spaced(set.len(), g.candidates);
    let (cx, ct) = inputs(set, &candidates);
    let mut measured_on = Vec::new();
    for given in given {
        // The net's own cost: the loss it was trained on.
        let net = given.net.cast::<f64>();
        let costly = costly_examples(g, given.cost, &net, cx.view(), ct.view(), g.examples)?;
        if costly.is_empty() {
            return Err(TrainError::ConfigMismatch {
                field: "gradcheck.candidates",
                value: g.candidates.to_string(),
                reason: format!(
                    "none of the {} candidate training examples has a non-zero cost at the free fixed point of {}, so its gradient is 0: raise gradcheck.candidates",
                    candidates.len(),
                    given.name
                ),
            });
        }
        let chosen: Vec<usize> = costly.iter().map(|&i| candidates[i]).collect();
        let (x, target) = inputs(set, &chosen);
        let label = NetLabel::Given(given.name.clone());
        let (r, d) = gradient_fidelity_of(g, given.cost, label, &net, x.view(), target.view())?;
        rows.extend(r);
        depths.push(d);
        measured_on.push(MeasuredOn {
            net: given.name.clone(),
            candidates: candidates.len(),
            examples: chosen,
        });
    }
    let headline = headline(&rows, &depths, g.betas.iter().copied().fold(f64::INFINITY, f64::min));
    Ok(Gradcheck { rows, depths, examples, measured_on, headline })
}

/// The figures at `beta` per network, depth and layer.
fn headline(rows: &[GradcheckRow], depths: &[GradcheckDepth], beta: f64) -> Vec<Headline> {
    let find = |d: &GradcheckDepth, k: usize, nudging: Nudging| {
        rows.iter()
            .find(|r| {
                r.net == d.net
                    && r.hidden_layers == d.hidden_layers
                    && r.layer == k
                    && r.beta == beta
                    && r.nudging == nudging
            })
            .map_or((f64::NAN, f64::NAN), |r| (r.cosine, r.norm_ratio))
    };
    let mut out = Vec::new();
    for d in depths {
        for k in 0..=d.hidden_layers {
            let (centred_cosine, centred_norm_ratio) = find(d, k, Nudging::Centred);
            let (one_sided_cosine, one_sided_norm_ratio) = find(d, k, Nudging::OneSided);
            out.push(Headline {
                net: d.net.clone(),
                hidden_layers: d.hidden_layers,
                layer: k,
                beta,
                centred_cosine,
                centred_norm_ratio,
                one_sided_cosine,
                one_sided_norm_ratio,
            });
        }
    }
    out
}
