//! Spikes and spike-timing-dependent plasticity (STDP): section 4 of Bengio, Mesnard, Fischer,
//! Zhang & Wu, *STDP-compatible approximation of backpropagation in an energy-based model*
//! (Neural Computation 2017).
//!
//! The rate-based update `dW_ij ~ (ds_i/dt) rho(s_j)` (Eq 3.18), or its spiking form
//! `(ds_i/dt) xi_j` with `xi_j` the presynaptic spike (Eq 4.1), is compared with classical
//! nearest-neighbour STDP on spike trains sampled from random rates ([`Experiment`], the
//! paper's Figures 3, 4 and 5). The building blocks: spike generation ([`SpikeModel`],
//! [`sample_train`], [`bernoulli_lanes`]), rate sequences ([`Generator`]), pairing
//! ([`Scheme`], [`pairs`]) and the STDP kernel ([`StdpKernel`]).
//!
//! ```
//! use spikes::{Pair, Scheme, SpikeTrain, StdpKernel, pairs};
//!
//! let pre = SpikeTrain::new(vec![10, 30]).unwrap();
//! let post = SpikeTrain::new(vec![12]).unwrap();
//! // the paper's rule: pre at 10 pairs with post at 12 (dt = +2); pre at 30 has the post
//! // spike 18 steps before it and none after (dt = -18)
//! let p = pairs(Scheme::Windowed { window: 20 }, &pre, &post);
//! assert_eq!(p, vec![Pair { pre: 10, post: 12 }, Pair { pre: 30, post: 12 }]);
//! let k = StdpKernel::default();
//! assert!(k.eval(p[0].dt()) > 0.0 && k.eval(p[1].dt()) < 0.0);
//! ```

mod error;
mod experiment;
mod kernel;
pub mod lanes;
mod pairing;
mod rates;
mod report;
pub mod rng;
mod stats;
mod train;

#[cfg(test)]
mod tests;

pub use error::SpikesError;
pub use experiment::{Experiment, RULE_NAMES, SCHEME_TRAINS, SequenceStats};
pub use kernel::StdpKernel;
pub use pairing::{Pair, Scheme, for_each_pair, pairs, windowed_nearest};
pub use rates::{Derivative, Generator, Slope, Voltages};
pub use report::{Curve, Example, Figure4, Figure5, MeanSqDs, Report, SchemeAgreement};
pub use stats::{linear_fit, pearson};
pub use train::{
    SpikeModel, SpikeProbability, SpikeTrain, bernoulli, bernoulli_lanes, sample_train, threshold,
};
