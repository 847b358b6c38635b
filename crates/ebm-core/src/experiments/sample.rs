//! The noisy leaky integrator as Langevin MCMC (Bengio et al. 2017, section 2: the leaky
//! integrator with noise, Eq 2.1-2.2 in `docs/paper-map.md`, Eq 2.4-2.6 in issue 20's
//! numbering): does its stationary distribution approach the Boltzmann density
//! `p(s) ∝ exp(-E(s)/T)` of the free units (Eq 2.7's energy, the input clamped) as eps shrinks?
//!
//! A tiny net (1-3 free units) is drawn from the seed; `p` is integrated on a grid (midpoint
//! rule, [`Boltzmann`]). Chains (all from zero states) run under
//!
//! - the paper's update `s <- s + eps (R(s + eta) - s)`, `eta ~ N(0, sigma^2)`, `R(s) = s -
//!   dE/ds` (Eq 2.9): the project's own step ([`crate::Relaxer::step`] with
//!   [`Dynamics::leaky`]). Expanded, `s + eps (R(s + eta) - s) = s - eps dE/ds(s) + eps (R(s +
//!   eta) - R(s))`: the noise enters through `R` only (to first order `eps dR/ds eta`, coloured
//!   by the couplings, Eq 2.6), and the leak `-eps s` carries none. With the hard sigmoid
//!   `R_i = rho'(s_i) u_i` is bounded by `|b_i| + sum_j |W_ij|`, so the update is a weighted
//!   average `(1 - eps) s + eps R` of bounded values: its stationary spread is `O(sqrt(eps))`
//!   whatever sigma, while `p` has unit-scale Gaussian tails (the `s^2 / 2` term);
//! - exact (unadjusted) Langevin `s <- s - eps dE/ds + sqrt(2 eps T) xi`, `xi ~ N(0, I)`
//!   (`energy::grad_energy`), whose bias vanishes as eps -> 0;
//! - Metropolis-adjusted Langevin (the same proposal, accepted with the Metropolis-Hastings
//!   ratio): exact at every eps, so its distances measure the Monte Carlo floor (histogram noise
//!   of the chains' finite samples) and check the grid.
//!
//! Every recorded step of every chain is binned (`bins` per unit over `[grid_min, grid_max]`,
//! samples outside counted apart); total variation and KL(sampled || p) of the joint and of each
//! unit's marginal, the moments, and each figure's spread over independent groups of chains
//! (its Monte Carlo error) are reported per (sampler, eps).

use ebm_config::SampleConfig;
use ndarray::{Array1, Array2};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::Serialize;

use crate::energy::{energy, grad_energy};
use crate::{CoreError, Dynamics, LayeredNet, Output, Relaxer, Rho, States};

/// Grid points evaluated per energy call (bounds the batch's memory).
const CHUNK: usize = 1 << 15;

/// A sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamplerKind {
    /// The paper's update with a fixed sigma.
    Paper,
    /// The paper's update with `sigma = sqrt(2 T / eps)`.
    PaperMatched,
    /// Exact (unadjusted) Langevin.
    Langevin,
    /// Metropolis-adjusted Langevin (exact for every eps).
    Metropolis,
}

impl SamplerKind {
    /// The name it serialises to.
    pub fn name(self) -> &'static str {
        match self {
            SamplerKind::Paper => "paper",
            SamplerKind::PaperMatched => "paper-matched",
            SamplerKind::Langevin => "langevin",
            SamplerKind::Metropolis => "metropolis",
        }
    }
}

/// The net and its clamped input.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The net (weights and biases drawn from the seed).
    pub net: LayeredNet<f64>,
    /// The clamped input `x`: `(1, n_0)`, uniform in rho's linear range.
    pub x: Array2<f64>,
}

/// Draw `config`'s net and input from `seed` (stream 0).
pub fn model(config: &SampleConfig, seed: u64) -> Result<Model, CoreError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rho = Rho::hard(config.rho_beta1);
    let mut net =
        LayeredNet::<f64>::scaled_uniform(&config.layers, rho, config.weight_scale, &mut rng)?;
    let b = config.bias_scale;
    for bias in &mut net.biases {
        bias.mapv_inplace(|_| if b > 0.0 { rng.random_range(-b..=b) } else { 0.0 });
    }
    let (lo, hi) = rho.bounds();
    let x = Array2::from_shape_fn((1, config.layers[0]), |_| rng.random_range(lo..hi));
    Ok(Model { net, x })
}

/// The free units as (layer, column), layer 1 first.
fn free_units(net: &LayeredNet<f64>) -> Vec<(usize, usize)> {
    let sizes = net.sizes();
    (1..sizes.len()).flat_map(|k| (0..sizes[k]).map(move |j| (k, j))).collect()
}

/// The Boltzmann density `exp(-E/T) / Z` of the free units, binned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Boltzmann {
    /// Lower edge of the bins.
    pub lo: f64,
    /// Bin width.
    pub width: f64,
    /// Bins per unit.
    pub bins: usize,
    /// Probability of each joint bin (unit 0 varies slowest): `bins^units` entries.
    #[serde(skip)]
    pub joint: Vec<f64>,
    /// Each unit's marginal bin probabilities.
    pub marginals: Vec<Vec<f64>>,
    /// Each unit's mean.
    pub mean: Vec<f64>,
    /// Each unit's variance.
    pub variance: Vec<f64>,
    /// The largest probability of a bin on the grid's boundary (the tails cut off are smaller).
    pub edge_mass: f64,
}

/// Integrate `exp(-E/T)` over the grid of `config` (`bins * subdivisions` midpoints per unit)
/// with the input clamped to `x`: Eq 2.7's energy through [`energy`], in chunks.
pub fn boltzmann(model: &Model, config: &SampleConfig) -> Boltzmann {
    let units = free_units(&model.net);
    let d = units.len();
    let (bins, sub) = (config.bins, config.subdivisions);
    let fine = bins * sub;
    let width = (config.grid_max - config.grid_min) / bins as f64;
    let h = width / sub as f64;
    let total = fine.pow(d as u32);
    let coordinate =
        |index: usize, unit: usize| -> usize { index / fine.pow((d - 1 - unit) as u32) % fine };
    // Pass 1: the energies (kept: at most MAX_GRID_POINTS) and their minimum.
    let mut energies = Vec::with_capacity(total);
    for start in (0..total).step_by(CHUNK) {
        let n = CHUNK.min(total - start);
        let x = Array2::from_shape_fn((n, model.x.ncols()), |(_, j)| model.x[(0, j)]);
        let mut states = States::with_input(&model.net, x.view()).expect("shapes of the net");
        for r in 0..n {
            for (u, &(k, j)) in units.iter().enumerate() {
                let i = coordinate(start + r, u);
                states.layers[k][(r, j)] = config.grid_min + (i as f64 + 0.5) * h;
            }
        }
        energies.extend(energy(&model.net, &states));
    }
    let e_min = energies.iter().copied().fold(f64::INFINITY, f64::min);
    let t = config.temperature;
    let mut joint = vec![0.0; bins.pow(d as u32)];
    let mut sums = vec![[0.0f64; 2]; d];
    let mut z = 0.0;
    for (index, &e) in energies.iter().enumerate() {
        let w = (-(e - e_min) / t).exp();
        z += w;
        let mut bin = 0;
        for (u, sum) in sums.iter_mut().enumerate() {
            let i = coordinate(index, u);
            bin = bin * bins + i / sub;
            let s = config.grid_min + (i as f64 + 0.5) * h;
            sum[0] += w * s;
            sum[1] += w * s * s;
        }
        joint[bin] += w;
    }
    joint.iter_mut().for_each(|p| *p /= z);
    let marginals = marginalise(&joint, bins, d);
    let mean: Vec<f64> = sums.iter().map(|s| s[0] / z).collect();
    let variance = sums.iter().zip(&mean).map(|(s, m)| s[1] / z - m * m).collect();
    let edge_mass = marginals.iter().flat_map(|m| [m[0], m[bins - 1]]).fold(0.0, f64::max);
    Boltzmann { lo: config.grid_min, width, bins, joint, marginals, mean, variance, edge_mass }
}

/// Each unit's marginal of a joint over `bins^d` cells (unit 0 varies slowest).
fn marginalise(joint: &[f64], bins: usize, d: usize) -> Vec<Vec<f64>> {
    let mut out = vec![vec![0.0; bins]; d];
    for (cell, &p) in joint.iter().enumerate() {
        for (u, m) in out.iter_mut().enumerate() {
            m[cell / bins.pow((d - 1 - u) as u32) % bins] += p;
        }
    }
    out
}

/// Counts of the chains' recorded states.
#[derive(Debug, Clone)]
struct Histogram {
    joint: Vec<f64>,
    /// Samples with some unit off the grid.
    outside: f64,
    /// Per unit: counts per bin and off the grid.
    marginals: Vec<Vec<f64>>,
    marginal_outside: Vec<f64>,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    n: f64,
}

impl Histogram {
    fn new(bins: usize, d: usize) -> Self {
        Self {
            joint: vec![0.0; bins.pow(d as u32)],
            outside: 0.0,
            marginals: vec![vec![0.0; bins]; d],
            marginal_outside: vec![0.0; d],
            sum: vec![0.0; d],
            sum_sq: vec![0.0; d],
            n: 0.0,
        }
    }

    fn add(&mut self, values: &[f64], p: &Boltzmann) {
        let mut bin = Some(0usize);
        for (u, &v) in values.iter().enumerate() {
            self.sum[u] += v;
            self.sum_sq[u] += v * v;
            let i = ((v - p.lo) / p.width).floor();
            if i >= 0.0 && i < p.bins as f64 {
                self.marginals[u][i as usize] += 1.0;
                bin = bin.map(|b| b * p.bins + i as usize);
            } else {
                self.marginal_outside[u] += 1.0;
                bin = None;
            }
        }
        match bin {
            Some(b) => self.joint[b] += 1.0,
            None => self.outside += 1.0,
        }
        self.n += 1.0;
    }

    fn merge(&mut self, other: &Histogram) {
        let add = |a: &mut [f64], b: &[f64]| a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        add(&mut self.joint, &other.joint);
        for (a, b) in self.marginals.iter_mut().zip(&other.marginals) {
            add(a, b);
        }
        add(&mut self.marginal_outside, &other.marginal_outside);
        add(&mut self.sum, &other.sum);
        add(&mut self.sum_sq, &other.sum_sq);
        self.outside += other.outside;
        self.n += other.n;
    }

    /// (TV, KL) of the joint, then per unit, against `p`.
    fn distances(&self, p: &Boltzmann) -> Distances {
        let joint = tv_kl(&self.joint, self.outside, self.n, &p.joint);
        let marginals = (0..self.marginals.len())
            .map(|u| tv_kl(&self.marginals[u], self.marginal_outside[u], self.n, &p.marginals[u]))
            .collect();
        Distances { joint, marginals }
    }
}

struct Distances {
    joint: (f64, f64),
    marginals: Vec<(f64, f64)>,
}

impl Distances {
    fn max_marginal(&self, f: impl Fn(&(f64, f64)) -> f64) -> f64 {
        self.marginals.iter().map(f).fold(0.0, f64::max)
    }
}

/// Total variation `1/2 sum |q - p|` (samples off the grid count fully) and `KL(q || p)` over
/// the grid's bins, `q = counts / n`.
fn tv_kl(counts: &[f64], outside: f64, n: f64, p: &[f64]) -> (f64, f64) {
    let (mut tv, mut kl) = (outside / n, 0.0);
    for (&c, &p) in counts.iter().zip(p) {
        let q = c / n;
        tv += (q - p).abs();
        if q > 0.0 {
            kl += if p > 0.0 { q * (q / p).ln() } else { f64::INFINITY };
        }
    }
    (0.5 * tv, kl)
}

/// One (sampler, noise, eps): the distances to the Boltzmann density.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleRow {
    /// The sampler.
    pub sampler: SamplerKind,
    /// sigma of the paper's noise; for Langevin and Metropolis the per-step spread
    /// `sqrt(2 eps T)`.
    pub noise_std: f64,
    /// Step size.
    pub epsilon: f64,
    /// Recorded steps per chain (after the burn-in).
    pub steps: usize,
    /// Total variation of the joint histogram to the density.
    pub tv_joint: f64,
    /// Its Monte Carlo error: the standard deviation over the groups of chains / sqrt(groups).
    pub tv_joint_error: f64,
    /// KL(sampled || Boltzmann) of the joint histogram.
    pub kl_joint: f64,
    /// The largest total variation of a unit's marginal.
    pub tv_marginal: f64,
    /// Its Monte Carlo error (as `tv_joint_error`).
    pub tv_marginal_error: f64,
    /// The largest KL of a unit's marginal.
    pub kl_marginal: f64,
    /// The largest |sampled mean - Boltzmann mean| over the units.
    pub mean_error: f64,
    /// The smallest sampled variance / Boltzmann variance over the units.
    pub variance_ratio_min: f64,
    /// The largest sampled variance / Boltzmann variance over the units.
    pub variance_ratio_max: f64,
    /// Share of recorded samples with a unit off the grid.
    pub outside_fraction: f64,
    /// Share of proposals accepted (Metropolis only).
    pub acceptance: Option<f64>,
}

/// A sampler's trend as eps shrinks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// The sampler.
    pub sampler: SamplerKind,
    /// sigma of the paper's noise (fixed sigma only; null for the others).
    pub noise_std: Option<f64>,
    /// Slope of log(tv_joint) against log(eps), least squares over the step sizes whose
    /// tv_joint is at least 3 times the Monte Carlo floor there (null if fewer than two).
    pub slope: Option<f64>,
    /// The step sizes the slope is fitted on.
    pub fitted_epsilons: Vec<f64>,
    /// Slope of log |variance_ratio_max - 1| against log(eps), every step size: about 1 for a
    /// first-order bias (exact Langevin) and about 0 for a spread that collapses (ratio -> 0).
    pub variance_slope: Option<f64>,
    /// tv_joint at the largest eps.
    pub tv_largest_epsilon: f64,
    /// tv_joint at the smallest eps.
    pub tv_smallest_epsilon: f64,
}

/// The figures the regression check and the conclusion read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Headline {
    /// The largest and smallest eps.
    pub largest_epsilon: f64,
    /// The smallest eps.
    pub smallest_epsilon: f64,
    /// The Monte Carlo floor of tv_joint at the smallest eps: the Metropolis tv_joint there (or,
    /// without Metropolis, 3 times the largest tv_joint_error there).
    pub floor: f64,
    /// Exact Langevin's tv_joint at the largest eps.
    pub langevin_tv_largest_epsilon: f64,
    /// Exact Langevin's tv_joint at the smallest eps.
    pub langevin_tv_smallest_epsilon: f64,
    /// Exact Langevin's slope of log TV against log eps.
    pub langevin_slope: Option<f64>,
    /// The paper's noise, every sigma: the smallest tv_joint at the smallest eps.
    pub paper_min_tv_smallest_epsilon: f64,
    /// The paper's noise, every sigma: the smallest tv_joint at any eps.
    pub paper_min_tv: f64,
    /// The paper's noise, every sigma and unit: the largest variance ratio at the smallest eps.
    pub paper_max_variance_ratio_smallest_epsilon: f64,
}

/// A marginal density for the plot: bin centres and density (probability / width).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marginal {
    /// "boltzmann", or the sampler.
    pub source: String,
    /// sigma of the paper's noise, or the per-step spread.
    pub noise_std: f64,
    /// The free unit (0-based, layer 1 first).
    pub unit: usize,
    /// Bin centre.
    pub x: f64,
    /// Density.
    pub density: f64,
}

/// Everything `ebm sample` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sampling {
    /// One per (sampler, noise, eps).
    pub rows: Vec<SampleRow>,
    /// One per (sampler, noise).
    pub trends: Vec<Trend>,
    /// The headline figures.
    pub headline: Headline,
    /// The density's moments, edge mass and marginals.
    pub boltzmann: Boltzmann,
    /// The Boltzmann marginals and every sampler's at the smallest eps.
    #[serde(skip)]
    pub marginals: Vec<Marginal>,
    /// The net's weights per layer (row-major).
    pub weights: Vec<Vec<Vec<f64>>>,
    /// The net's biases per layer.
    pub biases: Vec<Vec<f64>>,
    /// The clamped input.
    pub input: Vec<f64>,
}

/// Run every sampler at every eps of `config` on the net drawn from `seed`.
pub fn run(config: &SampleConfig, seed: u64) -> Result<Sampling, CoreError> {
    let model = model(config, seed)?;
    let p = boltzmann(&model, config);
    let t = config.temperature;
    let mut kinds: Vec<(SamplerKind, Option<f64>)> =
        config.paper_noise_std.iter().map(|&s| (SamplerKind::Paper, Some(s))).collect();
    if config.paper_matched {
        kinds.push((SamplerKind::PaperMatched, None));
    }
    kinds.push((SamplerKind::Langevin, None));
    if config.metropolis {
        kinds.push((SamplerKind::Metropolis, None));
    }
    let smallest = config.epsilons.iter().copied().fold(f64::INFINITY, f64::min);
    let mut rows = Vec::new();
    let mut marginals = boltzmann_marginals(&p);
    for (ki, &(kind, sigma)) in kinds.iter().enumerate() {
        for (ei, &eps) in config.epsilons.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(1 + (ki * config.epsilons.len() + ei) as u64);
            let noise_std = match kind {
                SamplerKind::Paper => sigma.unwrap_or(0.0),
                SamplerKind::PaperMatched => (2.0 * t / eps).sqrt(),
                SamplerKind::Langevin | SamplerKind::Metropolis => (2.0 * eps * t).sqrt(),
            };
            let chain = Chain { kind, noise_std, epsilon: eps, temperature: t };
            let (groups, acceptance, steps) = chain.run(&model, config, &p, &mut rng)?;
            let mut all = Histogram::new(p.bins, p.marginals.len());
            groups.iter().for_each(|g| all.merge(g));
            if eps == smallest {
                marginals.extend(histogram_marginals(&all, &p, kind, noise_std));
            }
            rows.push(row(&chain, steps, &all, &groups, &p, acceptance));
        }
    }
    let trends = kinds
        .iter()
        .map(|&(kind, sigma)| {
            let mine: Vec<&SampleRow> = rows
                .iter()
                .filter(|r| r.sampler == kind && (sigma.is_none() || Some(r.noise_std) == sigma))
                .collect();
            trend(kind, sigma, &mine, &rows)
        })
        .collect::<Vec<_>>();
    let headline = headline(&rows, &trends, floor_at(&rows, smallest));
    Ok(Sampling {
        rows,
        trends,
        headline,
        boltzmann: p,
        marginals,
        weights: model
            .net
            .weights
            .iter()
            .map(|w| w.outer_iter().map(|r| r.to_vec()).collect())
            .collect(),
        biases: model.net.biases.iter().map(|b| b.to_vec()).collect(),
        input: model.x.row(0).to_vec(),
    })
}

/// One sampler at one step size.
struct Chain {
    kind: SamplerKind,
    noise_std: f64,
    epsilon: f64,
    temperature: f64,
}

impl Chain {
    /// Run `config.chains` chains from zero states; returns one histogram per group of chains,
    /// the acceptance rate (Metropolis) and the recorded steps.
    fn run(
        &self,
        model: &Model,
        config: &SampleConfig,
        p: &Boltzmann,
        rng: &mut ChaCha8Rng,
    ) -> Result<(Vec<Histogram>, Option<f64>, usize), CoreError> {
        let net = &model.net;
        let units = free_units(net);
        let chains = config.chains;
        let x = Array2::from_shape_fn((chains, model.x.ncols()), |(_, j)| model.x[(0, j)]);
        let mut states = States::with_input(net, x.view())?;
        let mut relaxer = Relaxer::new(net, chains, rng.next_u64());
        relaxer.set_input(net, x.view())?;
        let dynamics = Dynamics::leaky(self.epsilon, self.noise_std);
        let burn = (config.burn_in_time / self.epsilon).ceil() as usize;
        let steps = (config.sample_time / self.epsilon).ceil() as usize;
        let mut groups = vec![Histogram::new(p.bins, units.len()); config.groups];
        let (mut accepted, mut proposed) = (0usize, 0usize);
        let mut values = vec![0.0; units.len()];
        for step in 0..burn + steps {
            match self.kind {
                SamplerKind::Paper | SamplerKind::PaperMatched => {
                    relaxer.step(net, &mut states, &Output::Free, &dynamics)?;
                }
                SamplerKind::Langevin => {
                    states = langevin_proposal(net, &states, self.epsilon, self.temperature, rng);
                }
                SamplerKind::Metropolis => {
                    let a = self.metropolis_step(net, &mut states, rng);
                    if step >= burn {
                        accepted += a;
                        proposed += chains;
                    }
                }
            }
            check_finite(&states, step)?;
            if step >= burn {
                for c in 0..chains {
                    for (v, &(k, j)) in values.iter_mut().zip(&units) {
                        *v = states.layers[k][(c, j)];
                    }
                    groups[c * config.groups / chains].add(&values, p);
                }
            }
        }
        let acceptance = (self.kind == SamplerKind::Metropolis)
            .then(|| accepted as f64 / proposed.max(1) as f64);
        Ok((groups, acceptance, steps))
    }

    /// One Metropolis-adjusted Langevin step of every chain; returns the number accepted.
    /// Accept `s'` with probability `min(1, exp(-(E(s') - E(s)) / T) q(s | s') / q(s' | s))`,
    /// `q(b | a) ∝ exp(-|b - a + eps dE/ds(a)|^2 / (4 eps T))`.
    fn metropolis_step(
        &self,
        net: &LayeredNet<f64>,
        states: &mut States<f64>,
        rng: &mut ChaCha8Rng,
    ) -> usize {
        let (eps, t) = (self.epsilon, self.temperature);
        let proposal = langevin_proposal(net, states, eps, t, rng);
        let (e0, e1) = (energy(net, states), energy(net, &proposal));
        let (g0, g1) = (grad_energy(net, states), grad_energy(net, &proposal));
        let mut log_q = Array1::<f64>::zeros(states.batch());
        for k in 1..states.layers.len() {
            let (s0, s1) = (&states.layers[k], &proposal.layers[k]);
            for c in 0..states.batch() {
                for j in 0..s0.ncols() {
                    let back = s0[(c, j)] - s1[(c, j)] + eps * g1[k][(c, j)];
                    let forth = s1[(c, j)] - s0[(c, j)] + eps * g0[k][(c, j)];
                    log_q[c] += (forth * forth - back * back) / (4.0 * eps * t);
                }
            }
        }
        let mut accepted = 0;
        for c in 0..states.batch() {
            let log_alpha = -(e1[c] - e0[c]) / t + log_q[c];
            let u: f64 = rng.random();
            if u.ln() < log_alpha {
                accepted += 1;
                for k in 1..states.layers.len() {
                    let row = proposal.layers[k].row(c).to_owned();
                    states.layers[k].row_mut(c).assign(&row);
                }
            }
        }
        accepted
    }
}

/// The exact Langevin move `s - eps dE/ds(s) + sqrt(2 eps T) xi` of every free layer
/// (`energy::grad_energy`, Eq 2.9); the input stays clamped.
pub fn langevin_proposal(
    net: &LayeredNet<f64>,
    states: &States<f64>,
    epsilon: f64,
    temperature: f64,
    rng: &mut impl Rng,
) -> States<f64> {
    let grads = grad_energy(net, states);
    let spread = (2.0 * epsilon * temperature).sqrt();
    let mut next = states.clone();
    for (s, g) in next.layers.iter_mut().zip(&grads).skip(1) {
        ndarray::Zip::from(s).and(g).for_each(|s, &g| {
            let xi: f64 = rng.sample(StandardNormal);
            *s += -epsilon * g + spread * xi;
        });
    }
    next
}

fn check_finite(states: &States<f64>, step: usize) -> Result<(), CoreError> {
    for (layer, l) in states.layers.iter().enumerate() {
        if !l.iter().all(|v| v.is_finite()) {
            return Err(CoreError::NonFiniteState { layer, step: step + 1 });
        }
    }
    Ok(())
}

fn row(
    chain: &Chain,
    steps: usize,
    all: &Histogram,
    groups: &[Histogram],
    p: &Boltzmann,
    acceptance: Option<f64>,
) -> SampleRow {
    let d = all.distances(p);
    let per_group: Vec<Distances> = groups.iter().map(|g| g.distances(p)).collect();
    let error = |f: &dyn Fn(&Distances) -> f64| {
        let v: Vec<f64> = per_group.iter().map(f).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64;
        (var / v.len() as f64).sqrt()
    };
    let mean: Vec<f64> = all.sum.iter().map(|s| s / all.n).collect();
    let ratios: Vec<f64> = (0..mean.len())
        .map(|u| (all.sum_sq[u] / all.n - mean[u] * mean[u]) / p.variance[u])
        .collect();
    SampleRow {
        sampler: chain.kind,
        noise_std: chain.noise_std,
        epsilon: chain.epsilon,
        steps,
        tv_joint: d.joint.0,
        tv_joint_error: error(&|d| d.joint.0),
        kl_joint: d.joint.1,
        tv_marginal: d.max_marginal(|m| m.0),
        tv_marginal_error: error(&|d| d.max_marginal(|m| m.0)),
        kl_marginal: d.max_marginal(|m| m.1),
        mean_error: mean.iter().zip(&p.mean).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max),
        variance_ratio_min: ratios.iter().copied().fold(f64::INFINITY, f64::min),
        variance_ratio_max: ratios.iter().copied().fold(0.0, f64::max),
        outside_fraction: all.outside / all.n,
        acceptance,
    }
}

/// The Monte Carlo floor of tv_joint at `epsilon` (the same steps, so about as many effective
/// samples): the Metropolis tv_joint there, else 3 times the row's error.
fn floor_at(rows: &[SampleRow], epsilon: f64) -> f64 {
    let at = rows.iter().filter(|r| r.epsilon == epsilon);
    match at.clone().find(|r| r.sampler == SamplerKind::Metropolis) {
        Some(r) => r.tv_joint,
        None => 3.0 * at.map(|r| r.tv_joint_error).fold(0.0, f64::max),
    }
}

/// Least-squares slope of `log y` against `log x`.
fn log_log_slope(points: &[(f64, f64)]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x.ln(), y.ln())).collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    Some(sxy / sxx).filter(|s| s.is_finite())
}

fn trend(kind: SamplerKind, sigma: Option<f64>, rows: &[&SampleRow], all: &[SampleRow]) -> Trend {
    let by_eps = |pick: fn(f64, f64) -> bool| {
        rows.iter().copied().reduce(|a, b| if pick(b.epsilon, a.epsilon) { b } else { a })
    };
    let fitted: Vec<&SampleRow> =
        rows.iter().copied().filter(|r| r.tv_joint >= 3.0 * floor_at(all, r.epsilon)).collect();
    let tv: Vec<(f64, f64)> = fitted.iter().map(|r| (r.epsilon, r.tv_joint)).collect();
    let variance: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r.epsilon, (r.variance_ratio_max - 1.0).abs()))
        .filter(|p| p.1 > 0.0)
        .collect();
    Trend {
        sampler: kind,
        noise_std: sigma,
        slope: log_log_slope(&tv),
        fitted_epsilons: fitted.iter().map(|r| r.epsilon).collect(),
        variance_slope: log_log_slope(&variance),
        tv_largest_epsilon: by_eps(|a, b| a > b).map_or(f64::NAN, |r| r.tv_joint),
        tv_smallest_epsilon: by_eps(|a, b| a < b).map_or(f64::NAN, |r| r.tv_joint),
    }
}

fn headline(rows: &[SampleRow], trends: &[Trend], floor: f64) -> Headline {
    let largest = rows.iter().map(|r| r.epsilon).fold(0.0, f64::max);
    let smallest = rows.iter().map(|r| r.epsilon).fold(f64::INFINITY, f64::min);
    let langevin = trends.iter().find(|t| t.sampler == SamplerKind::Langevin);
    let paper = || {
        rows.iter().filter(|r| matches!(r.sampler, SamplerKind::Paper | SamplerKind::PaperMatched))
    };
    Headline {
        largest_epsilon: largest,
        smallest_epsilon: smallest,
        floor,
        langevin_tv_largest_epsilon: langevin.map_or(f64::NAN, |t| t.tv_largest_epsilon),
        langevin_tv_smallest_epsilon: langevin.map_or(f64::NAN, |t| t.tv_smallest_epsilon),
        langevin_slope: langevin.and_then(|t| t.slope),
        paper_min_tv_smallest_epsilon: paper()
            .filter(|r| r.epsilon == smallest)
            .map(|r| r.tv_joint)
            .fold(f64::INFINITY, f64::min),
        paper_min_tv: paper().map(|r| r.tv_joint).fold(f64::INFINITY, f64::min),
        paper_max_variance_ratio_smallest_epsilon: paper()
            .filter(|r| r.epsilon == smallest)
            .map(|r| r.variance_ratio_max)
            .fold(0.0, f64::max),
    }
}

fn boltzmann_marginals(p: &Boltzmann) -> Vec<Marginal> {
    marginal_rows(&p.marginals, p, "boltzmann".into(), f64::NAN)
}

fn histogram_marginals(
    h: &Histogram,
    p: &Boltzmann,
    kind: SamplerKind,
    noise_std: f64,
) -> Vec<Marginal> {
    let probs: Vec<Vec<f64>> =
        h.marginals.iter().map(|m| m.iter().map(|c| c / h.n).collect()).collect();
    marginal_rows(&probs, p, kind.name().into(), noise_std)
}

fn marginal_rows(
    probs: &[Vec<f64>],
    p: &Boltzmann,
    source: String,
    noise_std: f64,
) -> Vec<Marginal> {
    let mut out = Vec::new();
    for (unit, m) in probs.iter().enumerate() {
        for (i, &q) in m.iter().enumerate() {
            out.push(Marginal {
                source: source.clone(),
                noise_std,
                unit,
                x: p.lo + (i as f64 + 0.5) * p.width,
                density: q / p.width,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
