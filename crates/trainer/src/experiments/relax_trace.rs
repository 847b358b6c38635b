//! A trained net's relaxation, step by step, on the first examples of a data set (the picture
//! `ebm relax` and `ebm train` draw): the evaluation's free phase from zero states
//! (`dynamics.eval_steps` steps, or `free_steps` when 0), then the training's nudged phase (`dynamics.nudged_steps`
//! steps at `+training.beta`, the configured cost) toward each example's one-hot target
//! ([`ebm_core::experiments::trace`]).

use ebm_config::ValidConfig;
use ebm_core::experiments::trace::{RelaxTrace, relax_trace};
use ebm_core::{Dynamics, LayeredNet};
use rand::RngCore;

use crate::TrainError;
use crate::batch::Rows;
use crate::data::Dataset;
use crate::rng::{Stream, stream_rng};

/// The first `examples` examples of `data` relaxed by `net` under `config`'s dynamics; returns
/// the trace and the examples' labels.
pub fn run(
    config: &ValidConfig,
    net: &LayeredNet<f32>,
    data: &Dataset,
    examples: usize,
) -> Result<(RelaxTrace, Vec<u8>), TrainError> {
    let n = examples.min(data.len());
    let x = data.images.slice(ndarray::s![..n, ..]);
    let target = data.one_hot(Rows::Range(0), n);
    let d = &config.dynamics;
    let noise_seed = stream_rng(config.seed, Stream::Diagnostics, 0).next_u64();
    let trace = relax_trace(
        net,
        x,
        target.view(),
        &Dynamics::of(d),
        config.eval_steps(),
        d.nudged_steps,
        config.training.beta,
        config.training.cost,
        noise_seed,
    )?;
    Ok((trace, data.labels[..n].to_vec()))
}
