//! The STDP simulation of section 4.2 (Figures 3, 4, 5): random rate sequences, spike trains
//! sampled from them, the paper's windowed pairing, and the three update rules evaluated at
//! every paired presynaptic spike.
//!
//! Parallel over sequences (rayon); each sequence draws from its own streams
//! ([`crate::rng::Stream`]) and returns partial sums that are combined in sequence order, so
//! the report is bit-identical whatever the number of threads.

use ebm_config::{StdpConfig, ValidConfig};
use ebm_core::Rho;
use rayon::prelude::*;

use crate::lanes::{lane_times, windowed_counts};
use crate::pairing::for_each_pair;
use crate::rates::{Generator, Slope, Voltages};
use crate::report::{Curve, Example, Figure4, Figure5, MeanSqDs, Report, SchemeAgreement};
use crate::rng::{Stream, stream};
use crate::stats::{linear_fit, pearson};
use crate::train::{SpikeProbability, bernoulli_lanes, threshold};
use crate::{Scheme, SpikeTrain, StdpKernel};

/// Number of rules in Figure 4: rate (Eq 3.18), spike (Eq 4.1), NN-STDP.
const RULES: usize = 3;
/// Names of the Figure 4 rules.
pub const RULE_NAMES: [&str; RULES] = ["rate", "spike", "nn-stdp"];
/// Schemes compared with the spike rule per train: the paper's and Morrison's three.
const SCHEMES: usize = 4;
/// Trains per sequence (the first ones) on which the schemes are compared with the spike rule.
pub const SCHEME_TRAINS: usize = 16;

/// The experiment, built from a validated configuration.
#[derive(Debug, Clone)]
pub struct Experiment {
    seed: u64,
    /// The `[stdp]` section: sizes, spike model, derivative, rates, learning rate.
    stdp: StdpConfig,
    kernel: StdpKernel,
    rho: Rho,
}

/// What one sequence contributes; combined in sequence order by [`Experiment::combine`].
#[derive(Debug, Clone, Default)]
pub struct SequenceStats {
    /// Pairs per `dt` bin.
    pub counts: Vec<u64>,
    /// Per rule, per bin: sum of updates.
    pub sums: [Vec<f64>; RULES],
    /// Per presynaptic step with pairs: (rate-rule update, pairs, sum of NN-STDP updates).
    pub groups: Vec<(f64, u64, f64)>,
    /// Sum over steps of (ds)^2 without / with weight changes.
    pub sq_ds: [f64; 2],
    /// Presynaptic and postsynaptic spikes.
    pub spikes: [u64; 2],
    /// Per train of the first [`SCHEME_TRAINS`]: spike-rule total, then each scheme's STDP total.
    pub per_train: Vec<[f64; 1 + SCHEMES]>,
    /// Figure 3 (sequence 0 only).
    pub example: Option<Example>,
}

impl Experiment {
    /// The experiment of `config.stdp` with `config.seed` and `config.model.rho`.
    pub fn new(config: &ValidConfig) -> Self {
        Self {
            seed: config.seed,
            stdp: config.stdp.clone(),
            kernel: StdpKernel::from_config(&config.stdp),
            rho: Rho::from_config(&config.model.rho),
        }
    }

    /// Run every sequence (in parallel) and combine them in order.
    pub fn run(&self) -> Report {
        let stats: Vec<SequenceStats> =
            (0..self.stdp.sequences).into_par_iter().map(|n| self.sequence(n)).collect();
        self.combine(&stats)
    }

    /// The voltages of sequence `n`: index `v = t + window + 1` holds step `t`, for
    /// `t` in `-window - 1 ..= steps + window`.
    pub fn voltages(&self, n: usize) -> Voltages {
        let len = self.stdp.steps + 2 * self.stdp.window + 2;
        let mut rng = stream(self.seed, Stream::Rates { sequence: n as u64 });
        Generator(&self.stdp).generate(
            len,
            self.stdp.window + 1,
            self.stdp.learning_rate,
            &self.rho,
            &mut rng,
        )
    }

    /// Simulate sequence `n`: its rates, `trains` spike trains, pairing and updates.
    pub fn sequence(&self, n: usize) -> SequenceStats {
        let (steps, w) = (self.stdp.steps, self.stdp.window);
        let bins = 2 * w + 1;
        let volt = self.voltages(n);
        let rho = &self.rho;
        let p = |s: f64| {
            threshold(self.stdp.spike_model.probability(self.stdp.spike_scale, rho.rho(s)))
        };
        let pre_thr: Vec<u64> = (0..steps).map(|t| p(volt.pre[t + w + 1])).collect();
        let post_thr: Vec<u64> = (0..steps + 2 * w).map(|u| p(volt.post[u + 1])).collect();
        // rule values at each presynaptic step: ds_i/dt (spike rule, Eq 4.1 with xi_j = 1)
        // and rho(s_j) ds_i/dt (rate rule, Eq 3.18)
        let ds: Vec<f64> =
            (0..steps).map(|t| self.stdp.derivative.at(&volt.post, t + w + 1)).collect();
        let rate: Vec<f64> = (0..steps).map(|t| ds[t] * rho.rho(volt.pre[t + w + 1])).collect();
        let kernel: Vec<f64> = (0..bins).map(|d| self.kernel.eval(d as i64 - w as i64)).collect();

        let mut counts = vec![0u32; steps * bins];
        let mut pre = vec![0u64; steps];
        let mut post = vec![0u64; steps + 2 * w];
        let mut out = SequenceStats::default();
        for b in 0..self.stdp.trains.div_ceil(64) {
            let lanes = (self.stdp.trains - 64 * b).min(64);
            let mask = if lanes == 64 { u64::MAX } else { (1u64 << lanes) - 1 };
            let (sequence, block) = (n as u64, b as u64);
            let mut rng = stream(self.seed, Stream::Spikes { sequence, block, post: false });
            for (word, &thr) in pre.iter_mut().zip(&pre_thr) {
                *word = bernoulli_lanes(thr, &mut rng) & mask;
            }
            let mut rng = stream(self.seed, Stream::Spikes { sequence, block, post: true });
            for (word, &thr) in post.iter_mut().zip(&post_thr) {
                *word = bernoulli_lanes(thr, &mut rng) & mask;
            }
            windowed_counts(&pre, &post, w, &mut counts);
            out.spikes[0] += pre.iter().map(|x| u64::from(x.count_ones())).sum::<u64>();
            out.spikes[1] += post.iter().map(|x| u64::from(x.count_ones())).sum::<u64>();
            if b == 0 {
                let offset = post.len() as i64;
                let table: Vec<f64> = (-offset..=offset).map(|d| self.kernel.eval(d)).collect();
                out.per_train = (0..lanes.min(SCHEME_TRAINS) as u32)
                    .map(|lane| self.train_totals(&pre, &post, lane, &ds, &table))
                    .collect();
                if n == 0 {
                    out.example = Some(self.example(&pre, &post, &volt, &ds));
                }
            }
        }

        out.counts = vec![0; bins];
        out.sums = std::array::from_fn(|_| vec![0.0; bins]);
        for t in 0..steps {
            let row = &counts[t * bins..(t + 1) * bins];
            let (mut total, mut stdp) = (0u64, 0.0);
            for (d, &c) in row.iter().enumerate() {
                if c == 0 {
                    continue;
                }
                let c64 = u64::from(c);
                let cf = f64::from(c);
                out.counts[d] += c64;
                out.sums[0][d] += cf * rate[t];
                out.sums[1][d] += cf * ds[t];
                out.sums[2][d] += cf * kernel[d];
                total += c64;
                stdp += cf * kernel[d];
            }
            if total > 0 {
                out.groups.push((rate[t], total, stdp));
            }
        }
        for t in 0..steps {
            let v = t + w + 1;
            out.sq_ds[0] += (volt.post[v + 1] - volt.post[v]).powi(2);
            out.sq_ds[1] += (volt.post_learning[v + 1] - volt.post_learning[v]).powi(2);
        }
        out
    }

    /// One train of the first block: the spike rule's total `sum_t xi_j(t) ds_i/dt(t)` and each
    /// scheme's total STDP change (presynaptic times shifted by `window` onto the padded
    /// postsynaptic axis).
    fn train_totals(
        &self,
        pre: &[u64],
        post: &[u64],
        lane: u32,
        ds: &[f64],
        table: &[f64],
    ) -> [f64; 1 + SCHEMES] {
        let w = self.stdp.window as u32;
        let pre_t = SpikeTrain::new(lane_times(pre, lane, w)).unwrap_or_default();
        let post_t = SpikeTrain::new(lane_times(post, lane, 0)).unwrap_or_default();
        let mut out = [0.0; 1 + SCHEMES];
        out[0] = pre_t.times().iter().map(|&t| ds[(t - w) as usize]).sum();
        let schemes = [
            Scheme::Windowed { window: w },
            Scheme::Symmetric,
            Scheme::PreCentred,
            Scheme::Restricted,
        ];
        // kernel lookup: |dt| < post.len()
        let offset = post.len() as i64;
        for (k, scheme) in schemes.into_iter().enumerate() {
            let mut total = 0.0;
            for_each_pair(scheme, &pre_t, &post_t, |p| {
                total += table[(p.dt() + offset) as usize];
            });
            out[1 + k] = total;
        }
        out
    }

    /// Figure 3 from train 0 of sequence 0.
    fn example(&self, pre: &[u64], post: &[u64], volt: &Voltages, ds: &[f64]) -> Example {
        let (steps, w) = (self.stdp.steps, self.stdp.window);
        let pre_spikes = lane_times(pre, 0, 0);
        let post_spikes = lane_times(&post[w..w + steps], 0, 0);
        let rho_pre: Vec<f64> = (0..steps).map(|t| self.rho.rho(volt.pre[t + w + 1])).collect();
        let rho_post = (0..steps).map(|t| self.rho.rho(volt.post[t + w + 1])).collect();
        let (mut ws, mut wr) = (vec![0.0; steps + 1], vec![0.0; steps + 1]);
        let mut next = 0;
        for t in 0..steps {
            let xi = if pre_spikes.get(next) == Some(&(t as u32)) {
                next += 1;
                1.0
            } else {
                0.0
            };
            ws[t + 1] = ws[t] + self.stdp.learning_rate * xi * ds[t];
            wr[t + 1] = wr[t] + self.stdp.learning_rate * rho_pre[t] * ds[t];
        }
        Example {
            pre_spikes,
            post_spikes,
            rho_pre,
            rho_post,
            weight_spike_rule: ws,
            weight_rate_rule: wr,
        }
    }

    /// Combine per-sequence results, in sequence order, into the report.
    pub fn combine(&self, stats: &[SequenceStats]) -> Report {
        let w = self.stdp.window;
        let bins = 2 * w + 1;
        let nseq = stats.len() as f64;
        let mut counts = vec![0u64; bins];
        let mut sums = [vec![0.0; bins], vec![0.0; bins], vec![0.0; bins]];
        for s in stats {
            for d in 0..bins {
                counts[d] += s.counts[d];
                for r in 0..RULES {
                    sums[r][d] += s.sums[r][d];
                }
            }
        }
        let curves = (0..RULES)
            .map(|r| {
                let mut mean = vec![f64::NAN; bins];
                let mut se = vec![f64::NAN; bins];
                for d in 0..bins {
                    if counts[d] == 0 {
                        continue;
                    }
                    let c = counts[d] as f64;
                    let m = sums[r][d] / c;
                    // cluster-robust (by sequence) variance of the ratio estimator
                    let ss: f64 =
                        stats.iter().map(|s| (s.sums[r][d] - m * s.counts[d] as f64).powi(2)).sum();
                    mean[d] = m;
                    se[d] = (ss * nseq / (nseq - 1.0).max(1.0)).sqrt() / c;
                }
                Curve { name: RULE_NAMES[r].into(), mean, se }
            })
            .collect();
        let fig4 =
            Figure4 { dt: (-(w as i64)..=w as i64).collect(), counts: counts.clone(), curves };

        let fig5 = self.figure5(stats);

        let steps = self.stdp.steps as f64;
        let without: f64 = stats.iter().map(|s| s.sq_ds[0]).sum::<f64>() / (nseq * steps);
        let with: f64 = stats.iter().map(|s| s.sq_ds[1]).sum::<f64>() / (nseq * steps);
        let diffs: Vec<f64> = stats.iter().map(|s| (s.sq_ds[1] - s.sq_ds[0]) / steps).collect();
        let dmean = diffs.iter().sum::<f64>() / nseq;
        let dvar = diffs.iter().map(|d| (d - dmean).powi(2)).sum::<f64>() / (nseq - 1.0).max(1.0);

        let names = ["paper-windowed", "symmetric", "pre-centred", "restricted"];
        let spike_totals: Vec<f64> =
            stats.iter().flat_map(|s| s.per_train.iter().map(|x| x[0])).collect();
        let schemes = names
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let totals: Vec<f64> =
                    stats.iter().flat_map(|s| s.per_train.iter().map(move |x| x[1 + k])).collect();
                SchemeAgreement {
                    scheme: (*name).into(),
                    mean_dw: totals.iter().sum::<f64>() / totals.len().max(1) as f64,
                    pearson_r_spike_rule: pearson(&spike_totals, &totals),
                }
            })
            .collect();

        Report {
            seed: self.seed,
            pre_spikes: stats.iter().map(|s| s.spikes[0]).sum(),
            post_spikes: stats.iter().map(|s| s.spikes[1]).sum(),
            pairs: counts.iter().sum(),
            fig4,
            fig5,
            example: stats.first().and_then(|s| s.example.clone()).unwrap_or_default(),
            mean_sq_ds: MeanSqDs {
                with_updates: with,
                without_updates: without,
                difference: dmean,
                difference_se: (dvar / nseq).sqrt(),
            },
            schemes,
        }
    }

    /// Figure 5: sort the presynaptic steps by their rate-rule update, cut them into bins of
    /// equal pair counts, and take each bin's mean rate-rule and NN-STDP update.
    fn figure5(&self, stats: &[SequenceStats]) -> Figure5 {
        let mut groups: Vec<(f64, u64, f64)> =
            stats.iter().flat_map(|s| s.groups.iter().copied()).collect();
        groups.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: u64 = groups.iter().map(|g| g.1).sum();
        let nb = self.stdp.fig5_bins as u64;
        let (mut rate, mut stdp, mut counts) = (Vec::new(), Vec::new(), Vec::new());
        let (mut sx, mut sy, mut c, mut cum) = (0.0, 0.0, 0u64, 0u64);
        let mut bin = 0u64;
        for (x, n, y) in groups {
            sx += x * n as f64;
            sy += y;
            c += n;
            cum += n;
            // close the bin once the cumulative count reaches its share
            if cum * nb >= (bin + 1) * total {
                rate.push(sx / c as f64);
                stdp.push(sy / c as f64);
                counts.push(c);
                (sx, sy, c) = (0.0, 0.0, 0);
                bin += 1;
            }
        }
        if c > 0 {
            rate.push(sx / c as f64);
            stdp.push(sy / c as f64);
            counts.push(c);
        }
        let (slope, intercept) = linear_fit(&rate, &stdp);
        Figure5 { pearson_r: pearson(&rate, &stdp), rate, stdp, counts, slope, intercept }
    }
}
