//! `ebm stdp`: the STDP simulation of section 4.2 (Figures 3, 4, 5), written under `--out`
//! (default `results/stdp`) as `summary.json`, `metrics.csv` (the Figure 4 table) and SVG plots.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;
use spikes::{Experiment, Report};

use ebm_config::Section;

use crate::cli::{GlobalOpts, StdpArgs};
use crate::output::OutDir;
use crate::plot::{self, Chart, Series, Style};

/// Run the experiment and write its results.
pub fn run(_args: &StdpArgs, global: &GlobalOpts) -> anyhow::Result<()> {
    let config = super::load(global, &[Section::Stdp, Section::Model])?;
    let out_path = global
        .out
        .clone()
        .or_else(|| config.output.dir.clone())
        .unwrap_or_else(|| PathBuf::from("results/stdp"));
    let out = OutDir::fresh(&out_path, global.force)?;
    let experiment = Experiment::new(&config);
    let s = &config.stdp;
    tracing::info!(
        "stdp: {} sequences x {} steps x {} trains, seed {}",
        s.sequences,
        s.steps,
        s.trains,
        config.seed
    );
    let start = Instant::now();
    let report = crate::logging::with_spinner("simulating spike trains and pairing spikes", || {
        experiment.run()
    });
    let seconds = start.elapsed().as_secs_f64();

    let fig4 = &report.fig4;
    let curve = |i: usize| &fig4.curves[i];
    let sign: serde_json::Map<String, serde_json::Value> =
        fig4.curves.iter().map(|c| (c.name.clone(), json!(c.sign_pattern(&fig4.dt)))).collect();
    let peaks: serde_json::Map<String, serde_json::Value> =
        fig4.curves.iter().map(|c| (c.name.clone(), json!(c.peaks_near_zero(&fig4.dt)))).collect();
    let failures: serde_json::Map<String, serde_json::Value> =
        fig4.curves.iter().map(|c| (c.name.clone(), json!(c.sign_failures(&fig4.dt)))).collect();
    let peak_dt: serde_json::Map<String, serde_json::Value> = fig4
        .curves
        .iter()
        .map(|c| (c.name.clone(), json!(<[i64; 2]>::from(c.peak_dt(&fig4.dt)))))
        .collect();
    let m = &report.mean_sq_ds;
    let summary = json!({
        "command": "stdp",
        "seed": config.seed,
        "seconds": seconds,
        "threads": rayon_threads(),
        "pairs": report.pairs,
        "pre_spikes": report.pre_spikes,
        "post_spikes": report.post_spikes,
        "fig5_pearson_r": report.fig5.pearson_r,
        "fig5_slope": report.fig5.slope,
        "fig5_intercept": report.fig5.intercept,
        "mean_sq_ds_with_updates": m.with_updates,
        "mean_sq_ds_without_updates": m.without_updates,
        "mean_sq_ds_difference": m.difference,
        "mean_sq_ds_difference_se": m.difference_se,
        "fig4_sign_pattern": sign,
        "fig4_peaks_near_zero": peaks,
        "fig4_sign_failures": failures,
        "fig4_peak_dt": peak_dt,
        "fig4": {
            "dt": fig4.dt,
            "counts": fig4.counts,
            "rate_mean": curve(0).mean,
            "rate_se": curve(0).se,
            "spike_mean": curve(1).mean,
            "spike_se": curve(1).se,
            "nn_stdp_mean": curve(2).mean,
            "nn_stdp_se": curve(2).se,
        },
        "fig5": report.fig5,
        "schemes": report.schemes,
        "config": { "seed": config.seed, "stdp": config.stdp, "rho": config.model.rho },
    });
    out.write_json("summary.json", &summary)?;
    out.write("metrics.csv", metrics_csv(&report).as_bytes())?;
    if config.output.plots {
        plots(&out, &report)?;
    }

    crate::say!(
        "stdp: {} sequences x {} steps x {} trains in {seconds:.3} s, {} pairs",
        s.sequences,
        s.steps,
        s.trains,
        report.pairs
    )?;
    for c in &fig4.curves {
        crate::say!(
            "  figure 4 {:<8} sign pattern {} ({} bins fail)  peaks at dt = {} and {:+}, near 0: {}",
            c.name,
            if c.sign_pattern(&fig4.dt) { "holds" } else { "FAILS" },
            c.sign_failures(&fig4.dt),
            c.peak_dt(&fig4.dt).0,
            c.peak_dt(&fig4.dt).1,
            if c.peaks_near_zero(&fig4.dt) { "yes" } else { "no" },
        )?;
    }
    crate::say!(
        "  figure 5 Pearson r {:.4}, slope {:.4}",
        report.fig5.pearson_r,
        report.fig5.slope
    )?;
    crate::say!(
        "  E[(ds)^2] with updates {:.6e}, without {:.6e} (difference {:+.3e} +- {:.1e}, seed {})",
        m.with_updates,
        m.without_updates,
        m.difference,
        m.difference_se,
        config.seed
    )?;
    let holds = fig4.curves.iter().filter(|c| c.sign_pattern(&fig4.dt)).count();
    crate::say!(
        "conclusion: {holds} of {} curves ({}) show STDP's sign pattern (potentiation when the postsynaptic spike follows, depression when it precedes; Figure 4), and the rate rule rho(s_j) ds_i/dt (Eq 3.18) predicts nearest-neighbour STDP's update with r = {:.3} (Figure 5)",
        fig4.curves.len(),
        fig4.curves.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
        report.fig5.pearson_r
    )?;
    crate::say!("  results in {}", out.path().display())?;
    Ok(())
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The Figure 4 table.
fn metrics_csv(report: &Report) -> String {
    let f = &report.fig4;
    let mut text = f.columns().join(",");
    text.push('\n');
    for (i, dt) in f.dt.iter().enumerate() {
        let _ = write!(text, "{dt},{}", f.counts[i]);
        for v in f.curve_values(i) {
            let _ = write!(text, ",{v:e}");
        }
        text.push('\n');
    }
    text
}

fn plots(out: &OutDir, report: &Report) -> anyhow::Result<()> {
    let ex = &report.example;
    let steps = ex.rho_pre.len();
    let line = |name: &str, ys: &[f64]| {
        Series::line(name, ys.iter().enumerate().map(|(t, &y)| (t as f64, y)).collect())
    };
    let marks = |name: &str, ts: &[u32], y: f64| Series {
        name: name.into(),
        points: ts.iter().map(|&t| (f64::from(t), y)).collect(),
        errors: vec![],
        band: vec![],
        style: Style::Points,
    };
    plot::svg(
        out,
        "fig3.svg",
        &Chart {
            title: "Figure 3: rates and spikes (sequence 0, train 0)",
            x_label: "t (steps)",
            y_label: "rate rho(s)",
            ..Chart::default()
        },
        &[
            line("rho(s_j) presynaptic", &ex.rho_pre),
            line("rho(s_i) postsynaptic", &ex.rho_post),
            marks("presynaptic spikes", &ex.pre_spikes, 1.1),
            marks("postsynaptic spikes", &ex.post_spikes, 1.2),
        ],
    )?;
    plot::svg(
        out,
        "fig3-weight.svg",
        &Chart {
            title: "Figure 3: weight over time (sequence 0, train 0)",
            x_label: "t (steps)",
            y_label: "W",
            ..Chart::default()
        },
        &[
            line("W, spike rule (Eq 4.1)", &ex.weight_spike_rule),
            line("W, rate rule (Eq 3.18)", &ex.weight_rate_rule),
        ],
    )?;
    debug_assert!(ex.weight_spike_rule.len() == steps + 1 || steps == 0);

    let f = &report.fig4;
    let series: Vec<Series> = f
        .curves
        .iter()
        .map(|c| {
            let scale = c.mean.iter().filter(|m| m.is_finite()).fold(0.0f64, |a, m| a.max(m.abs()));
            let scale = if scale > 0.0 { scale } else { 1.0 };
            Series {
                name: format!("{} (/{scale:.3e})", c.name),
                points: f.dt.iter().zip(&c.mean).map(|(&d, &m)| (d as f64, m / scale)).collect(),
                errors: c.se.iter().map(|s| 1.96 * s / scale).collect(),
                band: vec![],
                style: Style::LinePoints,
            }
        })
        .collect();
    plot::svg(
        out,
        "fig4.svg",
        &Chart {
            title: "Figure 4: mean weight change vs dt (normalised, 95% intervals)",
            x_label: "dt = t_post - t_pre (steps)",
            y_label: "mean dW / max |mean dW|",
            ..Chart::default()
        },
        &series,
    )?;
    plot::svg(
        out,
        "fig4-counts.svg",
        &Chart {
            title: "Figure 4: pairs per dt bin",
            x_label: "dt = t_post - t_pre (steps)",
            y_label: "pairs",
            ..Chart::default()
        },
        &[Series::line(
            "pairs",
            f.dt.iter().zip(&f.counts).map(|(&d, &c)| (d as f64, c as f64)).collect(),
        )],
    )?;

    let g = &report.fig5;
    let (x0, x1) =
        g.rate.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let fit = |x: f64| g.slope * x + g.intercept;
    plot::svg(
        out,
        "fig5.svg",
        &Chart {
            title: &format!(
                "Figure 5: NN-STDP vs rate rule (binned), r = {:.3}, slope = {:.3}",
                g.pearson_r, g.slope
            ),
            x_label: "rate-rule update rho(s_j) ds_i/dt (Eq 3.18)",
            y_label: "mean NN-STDP update",
            ..Chart::default()
        },
        &[
            Series {
                name: "binned means".into(),
                points: g.rate.iter().copied().zip(g.stdp.iter().copied()).collect(),
                errors: vec![],
                band: vec![],
                style: Style::Points,
            },
            Series {
                name: "least-squares fit".into(),
                points: vec![(x0, fit(x0)), (x1, fit(x1))],
                errors: vec![],
                band: vec![],
                style: Style::Line,
            },
        ],
    )?;
    Ok(())
}
