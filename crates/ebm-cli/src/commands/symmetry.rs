//! `ebm symmetry`: untied forward and feedback matrices trained from an asymmetric start
//! (`trainer::experiments::symmetry`, Eq 2.10), on MNIST (the embedded subset unless
//! `--data`); see `docs/claims.md`. This file writes the results.

use anyhow::Result;
use ebm_config::Section;
use serde::Serialize;
use trainer::experiments::symmetry::{Coupling, SymmetryRun, Update, VariantRun};

use crate::cli::{GlobalOpts, SymmetryArgs};
use crate::output::{OutDir, results_dir};
use crate::plot::{self, Chart, Panel, Series};

#[derive(Serialize)]
struct Summary<'a> {
    command: &'static str,
    seed: u64,
    data: String,
    weight_decay: f64,
    #[serde(flatten)]
    run: &'a SymmetryRun,
    conclusion: &'a str,
    config: &'a ebm_config::Config,
}

/// One row of metrics.csv: a variant at an epoch.
#[derive(Serialize)]
struct CsvRow<'a> {
    variant: &'a str,
    epoch: usize,
    test_error: f64,
    asymmetry: f64,
    angle_degrees: f64,
}

/// `ebm symmetry`: writes `summary.json`, `metrics.csv` and `symmetry.svg`.
pub fn run(args: &SymmetryArgs, global: &GlobalOpts) -> Result<()> {
    let sections = [Section::Symmetry, Section::Model, Section::Dynamics, Section::Training];
    let config = super::load(global, &[&sections[..], &[Section::Data]].concat())?;
    let out = OutDir::fresh(&results_dir(global, &config, "symmetry"), global.force)?;
    let data = super::train::load_data(args.data.as_deref(), &config)?;
    let run = crate::logging::with_spinner("training the tied and untied variants", || {
        trainer::experiments::symmetry::run(&config, &data, &mut |v| {
            tracing::info!("training {}", v.name);
        })
    })?;
    for v in &run.variants {
        let (first, last) = (&v.epochs[0], v.epochs.last().expect("the start row"));
        crate::say!(
            "{:<27} test error {:5.2}% -> {:5.2}%; asymmetry {:.3} -> {:.3}, angle {:5.1} -> {:5.1} deg",
            v.variant.name,
            100.0 * first.test_error,
            100.0 * last.test_error,
            first.asymmetry,
            last.asymmetry,
            first.angle_degrees,
            last.angle_degrees
        )?;
    }
    let conclusion = conclusion(&run.variants);
    let rows: Vec<CsvRow<'_>> = run
        .variants
        .iter()
        .flat_map(|v| {
            v.epochs.iter().map(|e| CsvRow {
                variant: v.variant.name,
                epoch: e.epoch,
                test_error: e.test_error,
                asymmetry: e.asymmetry,
                angle_degrees: e.angle_degrees,
            })
        })
        .collect();
    out.write_csv("metrics.csv", &rows)?;
    out.write_json(
        "summary.json",
        &Summary {
            command: "symmetry",
            seed: config.seed,
            data: data.source.to_string(),
            weight_decay: config.symmetry.weight_decay,
            run: &run,
            conclusion: &conclusion,
            config: &config,
        },
    )?;
    if config.output.plots {
        out.write("symmetry.svg", figure(&run)?.as_bytes())?;
    }
    crate::say!("conclusion: {conclusion}")?;
    crate::say!("-> {}", out.path().display())?;
    Ok(())
}

/// Test error, then the asymmetry over all pairs and of each pair, against epoch: one line per
/// variant.
fn figure(run: &SymmetryRun) -> Result<String> {
    let line = |v: &VariantRun, y: &dyn Fn(&trainer::experiments::symmetry::EpochRow) -> f64| {
        Series::line(v.variant.name, v.epochs.iter().map(|e| (e.epoch as f64, y(e))).collect())
    };
    let pairs = run.variants[0].epochs[0].layer_asymmetry.len();
    let titles: Vec<String> =
        (0..pairs).map(|k| format!("pair {k}: ||W{k} - V{k}^T|| / ||W{k}||")).collect();
    let mut panels = vec![
        Panel {
            chart: Chart {
                title: "test error (zero start)",
                x_label: "epoch",
                y_label: "test error (%)",
                ..Chart::default()
            },
            series: run.variants.iter().map(|v| line(v, &|e| 100.0 * e.test_error)).collect(),
        },
        Panel {
            chart: Chart {
                title: "||W - V^T|| / ||W||, all pairs",
                x_label: "epoch",
                y_label: "relative asymmetry",
                ..Chart::default()
            },
            series: run.variants.iter().map(|v| line(v, &|e| e.asymmetry)).collect(),
        },
    ];
    for (k, title) in titles.iter().enumerate() {
        panels.push(Panel {
            chart: Chart {
                title,
                x_label: "epoch",
                y_label: "relative asymmetry",
                ..Chart::default()
            },
            series: run.variants.iter().map(|v| line(v, &|e| e.layer_asymmetry[k])).collect(),
        });
    }
    let rows = panels.len().div_ceil(2);
    plot::panels_text(
        (1200, 480 * rows as u32),
        (rows, 2),
        &format!(
            "Eq 2.10: untied matrices from independent Glorot draws ({} training examples)",
            run.train_examples
        ),
        &panels,
    )
}

/// One line: what happened to the asymmetry under each rule, and the test errors.
fn conclusion(variants: &[VariantRun]) -> String {
    let find = |c: Coupling, u: Update, decay: bool| {
        variants
            .iter()
            .find(|v| v.variant.coupling == c && v.variant.update == u && v.variant.decay == decay)
    };
    let ratio = |c, u, d| find(c, u, d).map_or(f64::NAN, |v| v.asymmetry_ratio);
    let error = |c, u, d| find(c, u, d).map_or(f64::NAN, |v| 100.0 * v.final_test_error);
    format!(
        "asymmetry after / before: contrastive {:.2} (decay {:.2}), local {:.2} (decay {:.2}), own-direction local {:.2} (decay {:.2}); test error tied {:.2}% / averaged {:.2}% / own {:.2}% (contrastive, local, local)",
        ratio(Coupling::Averaged, Update::Contrastive, false),
        ratio(Coupling::Averaged, Update::Contrastive, true),
        ratio(Coupling::Averaged, Update::Local, false),
        ratio(Coupling::Averaged, Update::Local, true),
        ratio(Coupling::Own, Update::Local, false),
        ratio(Coupling::Own, Update::Local, true),
        error(Coupling::Tied, Update::Contrastive, false),
        error(Coupling::Averaged, Update::Contrastive, false),
        error(Coupling::Own, Update::Local, false),
    )
}
