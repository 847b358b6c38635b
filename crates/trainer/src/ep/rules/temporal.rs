//! The temporal rule (`training.rule = "temporal"`): Eq 3.18 of Bengio et al. 2017, the
//! postsynaptic rate of change times the presynaptic rate `rho(s_j(t))`, accumulated along the
//! nudged trajectory ([`super::Local`]). `rho(x)` is constant, so `W_0`'s per-step terms sum to
//! one product `rho(x)^T sum_t delta rho_1(t)`, the same sum regrouped.

use ebm_core::Relaxer;
use ndarray::Array2;

use super::local::{Local, Presynaptic};
use super::{BatchContext, add_input_outer};

/// The presynaptic rate `rho(s_j(t))`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates;

/// The temporal rule.
pub type Temporal = Local<Rates>;

impl Presynaptic for Rates {
    fn begin(&mut self, _ctx: &BatchContext<'_>, _relaxer: &Relaxer<f32>) {}

    fn step<'a>(
        &'a mut self,
        rates: &'a [Array2<f32>],
        _delta1: &Array2<f32>,
        _c: f32,
        _w0: &mut Array2<f32>,
    ) -> &'a [Array2<f32>] {
        rates
    }

    fn finish_input(
        &self,
        relaxer: &Relaxer<f32>,
        c: f32,
        sum_delta1: &Array2<f32>,
        w0: &mut Array2<f32>,
    ) {
        add_input_outer(relaxer, c, sum_delta1, w0);
    }
}
