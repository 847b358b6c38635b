//! `[sample]`: The noisy leaky integrator as Langevin MCMC (`ebm sample`).

use serde::{Deserialize, Serialize};

use crate::check::Checker;

/// Largest number of free units (the Boltzmann density is integrated on a grid over them).
pub const MAX_FREE_UNITS: usize = 3;
/// Largest number of grid points `(bins * subdivisions)^free_units` the density is evaluated at.
pub const MAX_GRID_POINTS: usize = 4_000_000;

/// The noisy leaky integrator as Langevin MCMC (`ebm sample`, see `docs/claims.md`): on a tiny
/// net whose input is clamped to a seeded `x`, the stationary distribution of the paper's noisy
/// update `s <- s + eps (R(s + eta) - s)` and of exact (unadjusted) Langevin
/// `s <- s - eps dE/ds + sqrt(2 eps T) xi` against the Boltzmann density `exp(-E/T)` of the free
/// units, integrated on a grid, as eps shrinks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SampleConfig {
    /// Units per layer, input first; the free units (every layer after the input) number 1 to 3.
    pub layers: Vec<usize>,
    /// Weights `U(-a, a)`, `a = weight_scale * sqrt(6 / (n_k + n_(k+1)))` (1 = Glorot).
    pub weight_scale: f64,
    /// Biases `U(-bias_scale, bias_scale)`.
    pub bias_scale: f64,
    /// Lower kink of rho (beta2 = beta1 + 1; the paper's rho: 0).
    pub rho_beta1: f64,
    /// Temperature T of the target `exp(-E/T)` and of the exact Langevin noise (the paper: 1).
    pub temperature: f64,
    /// Step sizes eps to test, each in (0, 1].
    pub epsilons: Vec<f64>,
    /// Standard deviations sigma of the paper's noise `eta` (fixed, whatever eps), each >= 0.
    pub paper_noise_std: Vec<f64>,
    /// Also run the paper's noise with `sigma = sqrt(2 T / eps)`: the noise whose per-step
    /// spread `eps sigma` equals exact Langevin's `sqrt(2 eps T)`.
    pub paper_matched: bool,
    /// Also run Metropolis-adjusted Langevin (exact for every eps): the reference that measures
    /// the Monte Carlo floor of the distances.
    pub metropolis: bool,
    /// Independent chains (all start from zero states).
    pub chains: usize,
    /// The chains are split into this many groups for the Monte Carlo error of each figure.
    pub groups: usize,
    /// Simulated time discarded first (steps = ceil(time / eps)).
    pub burn_in_time: f64,
    /// Simulated time recorded after the burn-in, every step (steps = ceil(time / eps)).
    pub sample_time: f64,
    /// Lower edge of the grid, every free unit.
    pub grid_min: f64,
    /// Upper edge of the grid, every free unit.
    pub grid_max: f64,
    /// Histogram bins per free unit (the joint has `bins^free_units`).
    pub bins: usize,
    /// Midpoint-rule points per bin and unit for the density's integral.
    pub subdivisions: usize,
}

impl Default for SampleConfig {
    fn default() -> Self {
        Self {
            layers: vec![3, 1, 1],
            weight_scale: 1.0,
            bias_scale: 0.5,
            rho_beta1: 0.0,
            temperature: 1.0,
            epsilons: vec![0.5, 0.2, 0.1, 0.05, 0.02],
            paper_noise_std: vec![0.5, 2.0],
            paper_matched: true,
            metropolis: true,
            chains: 400,
            groups: 4,
            burn_in_time: 20.0,
            sample_time: 100.0,
            grid_min: -6.0,
            grid_max: 7.0,
            bins: 26,
            subdivisions: 8,
        }
    }
}

impl SampleConfig {
    /// The free units: every layer after the input.
    pub fn free_units(&self) -> usize {
        self.layers.iter().skip(1).sum()
    }

    /// 1-3 free units, positive sizes, steps in (0, 1], noise >= 0, a grid of increasing
    /// edges small enough to integrate, at least two groups of chains.
    pub(crate) fn check(&self, c: &mut Checker) {
        if self.layers.len() < 2 {
            c.fail(
                "sample.layers",
                format!("has {} entries: need at least 2 (input and output)", self.layers.len()),
            );
        }
        for (i, &n) in self.layers.iter().enumerate() {
            c.positive_count(&format!("sample.layers[{i}]"), n);
        }
        let free = self.free_units();
        if self.layers.len() >= 2 && free > MAX_FREE_UNITS {
            c.fail(
                "sample.layers",
                format!(
                    "= {:?} has {free} free units: at most {MAX_FREE_UNITS} (the density is integrated on a grid)",
                    self.layers
                ),
            );
        }
        c.non_negative("sample.weight_scale", self.weight_scale);
        c.non_negative("sample.bias_scale", self.bias_scale);
        c.finite("sample.rho_beta1", self.rho_beta1);
        c.positive("sample.temperature", self.temperature);
        if self.epsilons.is_empty() {
            c.fail("sample.epsilons", "is empty: give at least one step size");
        }
        for (i, &e) in self.epsilons.iter().enumerate() {
            c.unit_interval(&format!("sample.epsilons[{i}]"), e);
        }
        for (i, &s) in self.paper_noise_std.iter().enumerate() {
            c.non_negative(&format!("sample.paper_noise_std[{i}]"), s);
        }
        c.positive_count("sample.chains", self.chains);
        if self.groups < 2 {
            c.fail("sample.groups", format!("= {}: must be at least 2", self.groups));
        } else if self.groups > self.chains {
            c.fail(
                "sample.groups",
                format!("= {}: more groups than chains ({})", self.groups, self.chains),
            );
        }
        c.non_negative("sample.burn_in_time", self.burn_in_time);
        c.positive("sample.sample_time", self.sample_time);
        if c.finite("sample.grid_min", self.grid_min)
            && c.finite("sample.grid_max", self.grid_max)
            && self.grid_min >= self.grid_max
        {
            c.fail(
                "sample.grid_max",
                format!("= {}: must be above sample.grid_min = {}", self.grid_max, self.grid_min),
            );
        }
        if self.bins < 2 {
            c.fail("sample.bins", format!("= {}: must be at least 2", self.bins));
        }
        c.positive_count("sample.subdivisions", self.subdivisions);
        let per_unit = self.bins.saturating_mul(self.subdivisions);
        let points = (0..free).fold(1usize, |p, _| p.saturating_mul(per_unit));
        if free <= MAX_FREE_UNITS && points > MAX_GRID_POINTS {
            c.fail(
                "sample.subdivisions",
                format!(
                    "= {}: (bins {} x subdivisions)^{free} = {points} grid points, more than {MAX_GRID_POINTS} (lower sample.bins or sample.subdivisions)",
                    self.subdivisions, self.bins
                ),
            );
        }
    }
}
