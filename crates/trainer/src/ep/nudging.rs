//! The nudging plan of a minibatch, decided once: the nudged trajectories (their strength and
//! the sign of their contribution) and the denominator of the update (Scellier & Bengio,
//! arXiv:1602.05179, Eq 13; centred nudging: Laborieux et al. 2021).
//!
//! - `fixed`: one trajectory at `+beta`, contrasted with the free phase, divided by `beta`;
//! - `random` (the reference code): the same at `+beta` or `-beta` (drawn per minibatch),
//!   divided by that signed `beta`;
//! - `centred`: trajectories at `+beta` (sign `+1`) and `-beta` (sign `-1`), contrasted with
//!   each other, divided by `2 beta`.

use ebm_config::{BetaSign, TrainingConfig};
use rand::Rng;

use crate::rng::{Stream, stream_rng};

/// One nudged trajectory: the phase runs at `beta`; its contribution to the update is
/// multiplied by `sign`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trajectory {
    /// Nudging strength of the phase (may be negative).
    pub beta: f32,
    /// Sign of the trajectory's contribution.
    pub sign: f32,
}

/// The trajectories of a minibatch's nudged phase and the update's denominator.
#[derive(Debug, Clone, PartialEq)]
pub struct NudgingPlan {
    /// The trajectories, run in order from the free fixed point.
    pub trajectories: Vec<Trajectory>,
    /// The update is the contrast divided by this (`beta`, signed `beta`, or `2 beta`).
    pub denominator: f32,
}

impl NudgingPlan {
    /// The plan of minibatch `index` (see [`crate::rng::batch_index`]) of a run seeded `seed`.
    pub fn new(t: &TrainingConfig, seed: u64, index: u64) -> Self {
        let beta = t.beta as f32;
        match t.beta_sign {
            BetaSign::Fixed => Self::one_sided(beta),
            BetaSign::Random => {
                let positive = stream_rng(seed, Stream::BetaSign, index).random::<bool>();
                Self::one_sided(if positive { beta } else { -beta })
            }
            BetaSign::Centred => Self {
                trajectories: vec![
                    Trajectory { beta, sign: 1.0 },
                    Trajectory { beta: -beta, sign: -1.0 },
                ],
                denominator: 2.0 * beta,
            },
        }
    }

    fn one_sided(beta: f32) -> Self {
        Self { trajectories: vec![Trajectory { beta, sign: 1.0 }], denominator: beta }
    }

    /// Whether the two trajectories are contrasted with each other (centred nudging) rather
    /// than one trajectory with the free phase.
    pub fn is_centred(&self) -> bool {
        self.trajectories.len() == 2
    }

    /// The factor of the update of a weight layer learning at rate `alpha`, averaged over a
    /// minibatch of `batch` examples: `alpha / (denominator batch)`.
    pub fn coefficient(&self, alpha: f64, batch: usize) -> f32 {
        (alpha as f32) / (self.denominator * batch as f32)
    }
}
