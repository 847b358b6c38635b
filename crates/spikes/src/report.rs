//! What the section 4.2 experiment returns: the data of Figures 3, 4 and 5, E[(ds)^2] with and
//! without weight changes, and the agreement of the spike rule with the nearest-neighbour
//! schemes. Plain data (serde), no formatting.

use std::cmp::Ordering;

use serde::Serialize;

/// One rule's Figure 4 curve: mean update per `dt` bin with its standard error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// Rule name (`rate`, `spike`, `nn-stdp`).
    pub name: String,
    /// Mean update per bin (NaN where the bin is empty).
    pub mean: Vec<f64>,
    /// Standard error of the mean, clustered by sequence (the trains of one sequence share its
    /// rates, so sequences, not pairs, are the independent units).
    pub se: Vec<f64>,
}

/// Figure 4: mean weight change against `dt = t_post - t_pre`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure4 {
    /// The bins, `-window ..= window`.
    pub dt: Vec<i64>,
    /// Pairs per bin.
    pub counts: Vec<u64>,
    /// Rate rule (Eq 3.18), spike rule (Eq 4.1), nearest-neighbour STDP, in that order.
    pub curves: Vec<Curve>,
}

impl Figure4 {
    /// The table's columns: `dt`, `count`, then each curve's `{name}_mean` and `{name}_se`
    /// (`-` in a name written `_`), the names of `ebm stdp`'s `metrics.csv` and of
    /// `ebm.stdp(table="figure4")`.
    pub fn columns(&self) -> Vec<String> {
        let mut columns = vec!["dt".to_owned(), "count".to_owned()];
        for c in &self.curves {
            let name = c.name.replace('-', "_");
            columns.push(format!("{name}_mean"));
            columns.push(format!("{name}_se"));
        }
        columns
    }

    /// Bin `i`'s curve values in the order of [`Figure4::columns`] after `dt` and `count`.
    pub fn curve_values(&self, i: usize) -> impl Iterator<Item = f64> + '_ {
        self.curves.iter().flat_map(move |c| [c.mean[i], c.se[i]])
    }
}

/// Figure 5: binned mean NN-STDP update against the rate-rule update.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure5 {
    /// Mean rate-rule update per bin (bins of equal pair counts).
    pub rate: Vec<f64>,
    /// Mean NN-STDP update per bin.
    pub stdp: Vec<f64>,
    /// Pairs per bin.
    pub counts: Vec<u64>,
    /// Pearson correlation of the binned means.
    pub pearson_r: f64,
    /// Least-squares slope of `stdp` on `rate`.
    pub slope: f64,
    /// Least-squares intercept.
    pub intercept: f64,
}

/// Figure 3: one sequence and one train.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Example {
    /// Presynaptic spike times (steps `0..steps`).
    pub pre_spikes: Vec<u32>,
    /// Postsynaptic spike times within `0..steps`.
    pub post_spikes: Vec<u32>,
    /// Presynaptic rate `rho(s_j)` per step.
    pub rho_pre: Vec<f64>,
    /// Postsynaptic rate `rho(s_i)` per step.
    pub rho_post: Vec<f64>,
    /// Weight under the spike rule (Eq 4.1), `W(t+1) = W(t) + lr xi_j(t) ds_i/dt(t)`.
    pub weight_spike_rule: Vec<f64>,
    /// Weight under the rate rule (Eq 3.18), `W(t+1) = W(t) + lr rho(s_j(t)) ds_i/dt(t)`.
    pub weight_rate_rule: Vec<f64>,
}

/// E[(s_(t+1) - s_t)^2] of the postsynaptic voltage with and without weight changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeanSqDs {
    /// With the synapse driving `s_i` and `W` learning by Eq 3.18.
    pub with_updates: f64,
    /// With `W` fixed at 0.
    pub without_updates: f64,
    /// Mean over sequences of the paired difference (with - without).
    pub difference: f64,
    /// Standard error of `difference` over sequences.
    pub difference_se: f64,
}

/// Agreement, over the first `SCHEME_TRAINS` (16) trains of every sequence, of a pairing scheme's total
/// STDP weight change with the spike rule's (Eq 4.1) total over the same train.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemeAgreement {
    /// Scheme name.
    pub scheme: String,
    /// Mean total weight change per train.
    pub mean_dw: f64,
    /// Pearson correlation, across trains, with the spike rule's total.
    pub pearson_r_spike_rule: f64,
}

/// Everything the experiment measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Seed of the run.
    pub seed: u64,
    /// Presynaptic spikes.
    pub pre_spikes: u64,
    /// Postsynaptic spikes (over the padded steps).
    pub post_spikes: u64,
    /// Presynaptic spikes that paired (updates made).
    pub pairs: u64,
    /// Figure 4.
    pub fig4: Figure4,
    /// Figure 5.
    pub fig5: Figure5,
    /// Figure 3.
    pub example: Example,
    /// E[(ds)^2].
    pub mean_sq_ds: MeanSqDs,
    /// Pairing schemes against the spike rule.
    pub schemes: Vec<SchemeAgreement>,
}

impl Curve {
    /// Bins that break the sign pattern: `1 <= dt` without a 95% interval (mean +- 1.96 se)
    /// entirely above 0, or `dt <= -1` without one entirely below 0 (empty bins count).
    pub fn sign_failures(&self, dt: &[i64]) -> usize {
        dt.iter()
            .zip(&self.mean)
            .zip(&self.se)
            .filter(|&((&d, &m), &s)| match d {
                0 => false,
                d if d > 0 => (m - 1.96 * s).partial_cmp(&0.0) != Some(Ordering::Greater),
                _ => (m + 1.96 * s).partial_cmp(&0.0) != Some(Ordering::Less),
            })
            .count()
    }

    /// Whether the mean is > 0 in every bin `1..=w` and < 0 in every bin `-w..=-1`, with the
    /// 95% interval excluding 0 (the paper's Figure 4 claim).
    pub fn sign_pattern(&self, dt: &[i64]) -> bool {
        self.sign_failures(dt) == 0
    }

    /// The `dt` of the largest |mean| on the negative and on the positive side.
    pub fn peak_dt(&self, dt: &[i64]) -> (i64, i64) {
        let peak = |neg: bool| {
            dt.iter()
                .zip(&self.mean)
                .filter(|(d, m)| (if neg { **d < 0 } else { **d > 0 }) && m.is_finite())
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .map_or(0, |(d, _)| *d)
        };
        (peak(true), peak(false))
    }

    /// Whether |mean| is largest near `dt = 0`, as in Bi & Poo: on each side the largest
    /// |mean| lies within a quarter of the window from 0, and the outermost bin's |mean| is at
    /// most half of it.
    pub fn peaks_near_zero(&self, dt: &[i64]) -> bool {
        let w = dt.iter().copied().max().unwrap_or(0);
        let (neg, pos) = self.peak_dt(dt);
        let at = |d: i64| dt.iter().position(|&x| x == d).map_or(f64::NAN, |i| self.mean[i].abs());
        let near = |d: i64| d != 0 && d.abs() * 4 <= w.max(4);
        near(neg) && near(pos) && at(-w) <= 0.5 * at(neg) && at(w) <= 0.5 * at(pos)
    }
}
