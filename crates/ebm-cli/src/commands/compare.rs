//! `ebm compare RUN...`: learning curves of several `ebm train` results directories on one
//! plot (test error against epoch), with a table of their final figures.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::{CompareArgs, GlobalOpts};
use crate::output::{OutDir, UserError};
use crate::plot::{self, Chart, Series};
use crate::report::{self, Picture, Report, Table};

/// One epoch of one run, as `compare.csv` holds it.
#[derive(Debug, Clone, Serialize)]
struct Row {
    run: String,
    epoch: usize,
    train_error_running: f64,
    test_error: f64,
    test_error_persistent: f64,
    seconds: f64,
}

/// A run's final figures, as `summary.json` lists them.
#[derive(Debug, Serialize)]
struct RunSummary {
    run: String,
    dir: PathBuf,
    seed: u64,
    rule: String,
    epochs: usize,
    final_test_error: f64,
    final_test_error_persistent: f64,
    final_train_error_running: f64,
    median_epoch_seconds: f64,
}

#[derive(Serialize)]
struct Summary {
    command: &'static str,
    runs: Vec<RunSummary>,
}

/// `ebm compare`.
pub fn run(args: &CompareArgs, global: &GlobalOpts) -> Result<()> {
    if !args.labels.is_empty() && args.labels.len() != args.runs.len() {
        return Err(UserError(format!(
            "--label given {} times for {} runs: give one per run or none",
            args.labels.len(),
            args.runs.len()
        ))
        .into());
    }
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    for (i, dir) in args.runs.iter().enumerate() {
        let label = args.labels.get(i).cloned().unwrap_or_else(|| {
            dir.file_name()
                .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into())
        });
        let (summary, run_rows) = read_run(dir, &label)?;
        runs.push(summary);
        rows.extend(run_rows);
    }
    let out_path = global.out.clone().unwrap_or_else(|| Path::new("results").join("compare"));
    let out = OutDir::fresh(&out_path, global.force)?;
    out.write_csv("compare.csv", &rows)?;
    let summary = Summary { command: "compare", runs };
    out.write_json("summary.json", &summary)?;
    let runs = &summary.runs;
    let series = |f: fn(&Row) -> f64| -> Vec<Series> {
        let mut series: Vec<Series> = Vec::new();
        for r in &rows {
            if series.last().is_none_or(|s| s.name != r.run) {
                series.push(Series::line(r.run.clone(), Vec::new()));
            }
            let s = series.last_mut().expect("pushed above");
            s.points.push((r.epoch as f64, 100.0 * f(r)));
        }
        series
    };
    let chart = |title| Chart {
        title,
        x_label: "epoch",
        y_label: "test error (%)",
        log_x: false,
        log_y: true,
    };
    let zero = plot::svg_text(&chart("Test error, from zero states"), &series(|r| r.test_error))?;
    let persistent = plot::svg_text(
        &chart("Test error, persistent particles"),
        &series(|r| r.test_error_persistent),
    )?;
    let pictures = vec![
        Picture::svg(
            "test_error.svg",
            "Test error per epoch, from zero states, one line per run.",
            zero,
        ),
        Picture::svg(
            "test_error_persistent.svg",
            "Test error per epoch from the persistent test particles, one line per run.",
            persistent,
        ),
    ];
    for p in &pictures {
        out.write(&p.file, &p.bytes)?;
    }
    let pct = |v: f64| format!("{:.2}", 100.0 * v);
    let table = Table {
        caption: "Final figures per run (errors in %)".into(),
        header: [
            "run",
            "seed",
            "rule",
            "epochs",
            "test",
            "test (persistent)",
            "train (running)",
            "median epoch s",
        ]
        .map(String::from)
        .to_vec(),
        rows: runs
            .iter()
            .map(|r| {
                vec![
                    r.run.clone(),
                    r.seed.to_string(),
                    r.rule.clone(),
                    r.epochs.to_string(),
                    pct(r.final_test_error),
                    pct(r.final_test_error_persistent),
                    pct(r.final_train_error_running),
                    format!("{:.2}", r.median_epoch_seconds),
                ]
            })
            .collect(),
    };
    let report = Report {
        title: format!("ebm compare: {} runs", args.runs.len()),
        status: format!("Written {}.", report::now()),
        pictures,
        tables: vec![table],
        details: vec![(
            "Runs compared".into(),
            runs.iter()
                .map(|r| format!("{}: {}", r.run, r.dir.display()))
                .collect::<Vec<_>>()
                .join("\n"),
        )],
        ..Report::default()
    };
    out.write("report.html", report.html().as_bytes())?;
    tracing::info!("compared {} runs -> {}", args.runs.len(), out.path().display());
    Ok(())
}

/// The summary and per-epoch rows of one `ebm train` results directory.
fn read_run(dir: &Path, label: &str) -> Result<(RunSummary, Vec<Row>)> {
    let bad = |what: String| UserError(format!("{}: {what}", dir.display()));
    let summary_path = dir.join("summary.json");
    let text = std::fs::read_to_string(&summary_path).map_err(|e| {
        bad(format!("cannot read summary.json: {e} (is it an `ebm train` results directory?)"))
    })?;
    let s: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("summary.json is not valid JSON: {e}")))?;
    let num = |key: &str| {
        s[key].as_f64().ok_or_else(|| bad(format!("summary.json has no number `{key}`")))
    };
    let mut seconds: Vec<f64> = s["epoch_seconds"]
        .as_array()
        .map_or_else(Vec::new, |a| a.iter().filter_map(|v| v.as_f64()).collect());
    seconds.sort_by(f64::total_cmp);
    let summary = RunSummary {
        run: label.to_owned(),
        dir: dir.to_owned(),
        seed: s["seed"].as_u64().ok_or_else(|| bad("summary.json has no `seed`".into()))?,
        rule: s["config"]["training"]["rule"].as_str().unwrap_or("contrastive").to_owned(),
        epochs: s["epochs"].as_u64().unwrap_or(0) as usize,
        final_test_error: num("final_test_error")?,
        final_test_error_persistent: num("final_test_error_persistent")?,
        final_train_error_running: num("final_train_error_running")?,
        median_epoch_seconds: seconds.get(seconds.len() / 2).copied().unwrap_or(f64::NAN),
    };
    let metrics = dir.join("metrics.csv");
    let mut reader = csv::Reader::from_path(&metrics)
        .map_err(|e| bad(format!("cannot read metrics.csv: {e}")))?;
    let headers = reader.headers().map_err(|e| bad(format!("metrics.csv: {e}")))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(format!("metrics.csv has no column `{name}`")))
    };
    let cols = [
        column("epoch")?,
        column("train_error_running")?,
        column("test_error")?,
        column("test_error_persistent")?,
        column("seconds")?,
    ];
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("metrics.csv: {e}")))?;
        let field = |i: usize| -> Result<f64> {
            let raw = record.get(cols[i]).unwrap_or("");
            raw.parse::<f64>().map_err(|_| {
                bad(format!(
                    "metrics.csv line {}: `{}` = {raw:?} is not a number",
                    line + 2,
                    &headers[cols[i]]
                ))
                .into()
            })
        };
        rows.push(Row {
            run: label.to_owned(),
            epoch: field(0)? as usize,
            train_error_running: field(1)?,
            test_error: field(2)?,
            test_error_persistent: field(3)?,
            seconds: field(4)?,
        });
    }
    if rows.is_empty() {
        return Err(bad("metrics.csv has no epochs".into())).context("nothing to compare");
    }
    Ok((summary, rows))
}
