//! `ebm eval`: score a model or checkpoint file on the test set of the data its run recorded
//! (or on other data, said so), from zero states and, for a checkpoint of the same data, from
//! its persistent test particles; with `--out`, the summary, the confusion matrix and every
//! prediction. When the run held out a validation split (`data.validation`), its error from zero
//! states is reported too, so that evaluation settings are chosen on it, never on the test set.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;
use trainer::checkpoint::{self, Kind};
use trainer::evaluate::{Evaluation, evaluate};
use trainer::provenance::Provenance;
use trainer::{DataSource, DataSplits};

use super::train::{data_of_saved, this_process};
use crate::cli::{EvalArgs, GlobalOpts};
use crate::output::{OutDir, UserError};
use crate::plot;
use crate::report::{self, Picture, Report, Table};

#[derive(Serialize)]
struct Summary<'a> {
    command: &'static str,
    /// The file scored.
    file: PathBuf,
    kind: Kind,
    /// Free-phase steps of the evaluation.
    steps: usize,
    test_error: f64,
    test_errors: usize,
    test_examples: usize,
    /// From the checkpoint's persistent test particles (checkpoints of the same data only).
    test_error_persistent: Option<f64>,
    /// From zero states on the run's validation split (`data.validation`), with the same
    /// settings: where evaluation settings (steps, `--set dynamics.*`) are to be chosen.
    validation_error: Option<f64>,
    validation_examples: Option<usize>,
    /// Error rate per class (by true label), from zero states.
    per_class_error: Vec<f64>,
    /// Whether the scored data is the data the run recorded.
    same_data_as_run: Option<bool>,
    /// SHA-256 of the parameters (see `docs/formats.md`).
    model_sha256: String,
    /// This evaluation: the process and the data scored.
    provenance: Provenance,
    /// The run that wrote the file.
    run_provenance: Option<&'a Provenance>,
    config: &'a ebm_config::Config,
}

#[derive(Serialize)]
struct Prediction {
    index: usize,
    label: u8,
    prediction: u32,
}

/// `ebm eval`.
pub fn run(args: &EvalArgs, global: &GlobalOpts) -> Result<()> {
    // The file carries its config; --set (and --seed) apply on top of it, as for --resume. A
    // second base config would be ambiguous, so --config / --preset are refused.
    if global.config.is_some() || global.preset.is_some() {
        return Err(UserError(
            "ebm eval uses the checkpoint's config: change it with --set PATH=VALUE, not --config or --preset".into(),
        )
        .into());
    }
    let file = checkpoint::resolve(&args.checkpoint);
    let overrides = super::overrides(global);
    let (saved, net) = checkpoint::load_net_with(&file, &overrides)?;
    let config = &saved.config;
    let data = data_of_saved(args.data.as_deref(), &saved, &file)?;
    trainer::run::check_data(config, &data)?;
    let run_data = saved.provenance.as_ref().map(|p| &p.data);
    let same_data = run_data.map(|d| d.same_data(&data.source));
    let steps = args.steps.unwrap_or_else(|| config.eval_steps());
    let zero = crate::logging::with_spinner("evaluating the test set from zero states", || {
        evaluate(config, &net, &data.test, steps, config.training.cost, None)
    })?;
    let validation = match &data.validation {
        Some(v) => Some(crate::logging::with_spinner(
            "evaluating the validation set from zero states",
            || evaluate(config, &net, v, steps, config.training.cost, None),
        )?),
        None => None,
    };
    let persistent = match (same_data, saved.kind) {
        (Some(true), Kind::Checkpoint) => {
            match checkpoint::load_test_particles(&file, config, data.test.len())? {
                Some(mut particles) => Some(
                    evaluate(
                        config,
                        &net,
                        &data.test,
                        steps,
                        config.training.cost,
                        Some(&mut particles),
                    )?
                    .error_rate(),
                ),
                None => None,
            }
        }
        _ => None,
    };
    crate::say!(
        "test error {:.2}% ({} of {} misclassified, free phase of {steps} steps from zero states){} on {}{}",
        100.0 * zero.error_rate(),
        zero.errors,
        zero.examples,
        persistent
            .map(|p| format!(", {:.2}% from the checkpoint's persistent particles", 100.0 * p))
            .unwrap_or_default(),
        data.source,
        other_data_note(run_data, same_data),
    )?;
    if let Some(v) = &validation {
        crate::say!(
            "validation error {:.2}% ({} of {} misclassified, from zero states)",
            100.0 * v.error_rate(),
            v.errors,
            v.examples,
        )?;
    }
    if let Some(dir) = &global.out {
        let out = OutDir::fresh(dir, global.force)?;
        let classes = *config.model.layers.last().unwrap_or(&0);
        let confusion = confusion(&zero, &data, classes);
        let summary = Summary {
            command: "eval",
            file: file.clone(),
            kind: saved.kind,
            steps,
            test_error: zero.error_rate(),
            test_errors: zero.errors,
            test_examples: zero.examples,
            test_error_persistent: persistent,
            validation_error: validation.as_ref().map(|v| v.error_rate()),
            validation_examples: validation.as_ref().map(|v| v.examples),
            per_class_error: per_class_error(&confusion),
            same_data_as_run: same_data,
            model_sha256: checkpoint::parameters_sha256(&net),
            provenance: Provenance::new(this_process(), data.source.clone()).stamped(),
            run_provenance: saved.provenance.as_ref(),
            config: config.config(),
        };
        out.write_json("summary.json", &summary)?;
        let mut csv = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["label".to_owned()];
        header.extend((0..classes).map(|c| format!("predicted_{c}")));
        csv.write_record(&header)?;
        for (label, row) in confusion.iter().enumerate() {
            let mut rec = vec![label.to_string()];
            rec.extend(row.iter().map(ToString::to_string));
            csv.write_record(&rec)?;
        }
        out.write("confusion.csv", &csv.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        let rows: Vec<Prediction> = data
            .test
            .labels
            .iter()
            .zip(&zero.predictions)
            .enumerate()
            .map(|(index, (&label, &prediction))| Prediction { index, label, prediction })
            .collect();
        out.write_csv("predictions.csv", &rows)?;
        if config.output.plots {
            let title = format!(
                "Confusion matrix, test error {:.2}% ({} examples)",
                100.0 * zero.error_rate(),
                zero.examples
            );
            let svg = plot::confusion_text(&title, &confusion)?;
            out.write("confusion.svg", svg.as_bytes())?;
            let pct = |v: f64| format!("{:.2}%", 100.0 * v);
            let report = Report {
                title: format!("ebm eval: {}", file.display()),
                status: format!("Written {}.", report::now()),
                summary: vec![
                    ("layers".into(), format!("{:?}", config.model.layers)),
                    (
                        "data".into(),
                        format!("{}{}", data.source, other_data_note(run_data, same_data)),
                    ),
                    ("free-phase steps".into(), steps.to_string()),
                    (
                        "test error".into(),
                        format!(
                            "{} from zero states ({} of {}){}",
                            pct(zero.error_rate()),
                            zero.errors,
                            zero.examples,
                            persistent
                                .map(|p| format!(", {} from persistent particles", pct(p)))
                                .unwrap_or_default()
                        ),
                    ),
                ],
                pictures: vec![Picture::svg(
                    "confusion.svg",
                    "The test set's confusion matrix from zero states: rows are the true classes (each with its error rate), columns the predictions, cells shaded by their share of the row.",
                    svg,
                )],
                tables: vec![Table {
                    caption: "Error rate per class".into(),
                    header: vec!["class".into(), "examples".into(), "error".into()],
                    rows: summary
                        .per_class_error
                        .iter()
                        .enumerate()
                        .map(|(c, e)| {
                            vec![
                                c.to_string(),
                                confusion[c].iter().sum::<usize>().to_string(),
                                pct(*e),
                            ]
                        })
                        .collect(),
                }],
                ..Report::default()
            };
            out.write("report.html", report.html().as_bytes())?;
        }
        tracing::info!("results in {}", out.path().display());
    }
    Ok(())
}

/// Said after the figure when the scored data is not the run's.
fn other_data_note(run_data: Option<&DataSource>, same: Option<bool>) -> String {
    match (run_data, same) {
        (Some(run), Some(false)) => format!(" (not the run's data: it was trained on {run})"),
        _ => String::new(),
    }
}

/// `confusion[label][prediction]`: counts over the test set.
fn confusion(e: &Evaluation, data: &DataSplits, classes: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0usize; classes]; classes];
    for (&label, &p) in data.test.labels.iter().zip(&e.predictions) {
        if let Some(cell) = m.get_mut(usize::from(label)).and_then(|row| row.get_mut(p as usize)) {
            *cell += 1;
        }
    }
    m
}

/// Error rate of each class (NaN for a class with no example).
fn per_class_error(confusion: &[Vec<usize>]) -> Vec<f64> {
    confusion
        .iter()
        .enumerate()
        .map(|(c, row)| {
            let total: usize = row.iter().sum();
            let wrong = total - row.get(c).copied().unwrap_or(0);
            if total == 0 { f64::NAN } else { wrong as f64 / total as f64 }
        })
        .collect()
}
