//! The contrastive rule (Scellier & Bengio, arXiv:1602.05179, Eq 13):
//!
//! `dW_k = alpha_k / beta * mean_batch(rho(s^beta_k)^T rho(s^beta_(k+1)) - rho(s^0_k)^T rho(s^0_(k+1)))`
//!
//! with biases updated likewise at the rate of their incoming weights. The contrast is between
//! the nudged and the free fixed point, or (centred nudging) between the `+beta` and `-beta`
//! fixed points, divided by `2 beta`. The first layer's update is one product
//! `rho(x)^T (rho(h^beta) - rho(h^0))`, since `rho(x)` is the same in both phases.

use ebm_core::kernels::par_gemm;
use ebm_core::{LayeredNet, States};
use ndarray::{Array2, Zip};

use super::{BatchContext, LearningRule, Phases, add_bias_update, add_input_outer, layer_buffers};

/// The two-point contrastive update.
#[derive(Debug, Clone)]
pub struct Contrastive {
    /// `rho` of the positive end, per layer.
    rho_pos: Vec<Array2<f32>>,
    /// `rho` of the negative end, then the difference `pos - neg`, per layer.
    rho_neg: Vec<Array2<f32>>,
}

impl Contrastive {
    /// Buffers for `net` and minibatches of `batch`.
    pub fn new(net: &LayeredNet<f32>, batch: usize) -> Self {
        Self { rho_pos: layer_buffers(net, batch), rho_neg: layer_buffers(net, batch) }
    }
}

impl LearningRule for Contrastive {
    fn finish(&mut self, ctx: &BatchContext<'_>, net: &mut LayeredNet<f32>, phases: &Phases<'_>) {
        let depth = net.depth();
        let pos: &States<f32> = &phases.nudged[0];
        let neg: &States<f32> = if ctx.plan.is_centred() { &phases.nudged[1] } else { phases.free };
        let rho = net.rho;
        let map_rho = |dst: &mut Array2<f32>, src: &Array2<f32>| {
            Zip::from(dst).and(src).for_each(|d, &v| *d = rho.eval(v))
        };
        for k in 1..=depth {
            map_rho(&mut self.rho_pos[k], &pos.layers[k]);
            map_rho(&mut self.rho_neg[k], &neg.layers[k]);
        }
        let coef = ctx.coefficients;
        // W_k += c (rho(pos_k)^T rho(pos_(k+1)) - rho(neg_k)^T rho(neg_(k+1))) for k >= 1.
        for k in 1..depth {
            let c = coef[k];
            par_gemm(c, &self.rho_pos[k].t(), &self.rho_pos[k + 1], 1.0, &mut net.weights[k]);
            par_gemm(-c, &self.rho_neg[k].t(), &self.rho_neg[k + 1], 1.0, &mut net.weights[k]);
        }
        // Biases from the differences (kept in rho_neg), and W_0 as one product: rho(x) is the
        // same in both phases, so dW_0 = c rho(x)^T (rho(h^beta) - rho(h^0)).
        for k in 0..depth {
            let c = coef[k];
            Zip::from(&mut self.rho_neg[k + 1])
                .and(&self.rho_pos[k + 1])
                .for_each(|n, &p| *n = p - *n);
            let diff = &self.rho_neg[k + 1];
            add_bias_update(&mut net.biases[k], c, diff);
            if k == 0 {
                add_input_outer(phases.relaxer, c, diff, &mut net.weights[0]);
            }
        }
    }
}
