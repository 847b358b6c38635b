//! The pictures and `report.html` of an `ebm train` run, rewritten after every epoch (and on
//! an interrupt): the learning curve, the first layer's receptive fields, the training
//! dynamics per epoch, and a relaxation of the first test examples (free and nudged phases,
//! hidden states at the free fixed point), each also a file of its own.

use anyhow::Result;
use trainer::DataSplits;
use trainer::run::{EpochMetrics, TrainState};

use crate::output::OutDir;
use crate::pictures;
use crate::plot::{self, Chart, Series};
use crate::report::{self, Picture, Report, Table};

/// Test examples the run's relaxation picture shows.
pub const RELAX_EXAMPLES: usize = 8;

/// Where the run is, as the report says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Training (or finished, if the state says so).
    Running,
    /// Stopped by SIGINT, state saved.
    Interrupted,
}

/// Write the run's pictures and `report.html` into `out`; `metrics_csv` is the run's
/// `metrics.csv`.
pub fn write(
    out: &OutDir,
    state: &TrainState,
    data: &DataSplits,
    preset: Option<&str>,
    metrics_csv: &[u8],
    status: Status,
) -> Result<()> {
    let mut pictures = vec![Picture::svg(
        "learning_curve.svg",
        "Error rates per epoch (log scale): the running training error is counted during the epoch's minibatches; the other curves re-evaluate from zero states (or the persistent particles) after the epoch.",
        learning_curve(state)?,
    )];
    let w0 = &state.net.weights[0];
    let fields = format!(
        "the first {} of {} units of hidden layer 1, each as a {}x{} image; blue negative, white 0, red positive, one scale for all",
        w0.ncols().min(pictures::FIELDS),
        w0.ncols(),
        data.train.image_shape.0,
        data.train.image_shape.1,
    );
    // What training added to the initial (Glorot) weights, which the run's seed redraws: the
    // initial noise is larger than what EP's small steps add, and hides it in W_0 itself.
    let learned = w0 - &trainer::run::init_net(&state.config)?.weights[0];
    let (png, scale) = pictures::receptive_fields_png(&learned, data.train.image_shape)?;
    pictures.push(Picture::png(
        "receptive_fields.png",
        format!(
            "Receptive fields, what training changed: W_0 minus its initial (Glorot) draw from the run's seed, for {fields} (full colour at |change| = {scale:.3})."
        ),
        png,
    ));
    let (png, scale) = pictures::receptive_fields_png(w0, data.train.image_shape)?;
    pictures.push(Picture::png(
        "input_weights.png",
        format!("The input weights W_0 themselves (initial draw included), for {fields} (full colour at |w| = {scale:.3})."),
        png,
    ));
    pictures.push(Picture::svg(
        "training_dynamics.svg",
        "Per epoch: the mean energy E and cost C at the free fixed points of the training minibatches, and how much each weight matrix moved over the epoch.",
        pictures::training_dynamics_svg(&state.history)?,
    ));
    if !data.test.is_empty() {
        let (trace, labels) = trainer::experiments::relax_trace::run(
            &state.config,
            &state.net,
            &data.test,
            RELAX_EXAMPLES,
        )?;
        pictures.push(Picture::svg(
            "relaxation.svg",
            format!(
                "A relaxation of the first {} test examples with the current weights: the free phase ({} steps from zero states, as the test evaluation), then the nudged phase ({} steps toward the one-hot targets, beta = {}). Means over the examples; the last panel of each row is the first example's output units.",
                labels.len(),
                state.config.eval_steps(),
                state.config.dynamics.nudged_steps,
                trace.beta,
            ),
            pictures::relaxation_svg(&trace, &labels)?,
        ));
        pictures.push(Picture::svg(
            "hidden_states.svg",
            "The hidden states of those examples at the free fixed point; a saturated unit (rho'(s) = 0, at or beyond a kink of the hard sigmoid) ignores its inputs (section 2.3.1).",
            pictures::hidden_states_svg(&trace)?,
        ));
    }
    for p in &pictures {
        out.write(&p.file, &p.bytes)?;
    }
    let report = Report {
        title: format!(
            "ebm train: {:?}{}",
            state.config.model.layers,
            preset.map(|p| format!(" ({p})")).unwrap_or_default()
        ),
        status: status_line(state, status),
        in_progress: status == Status::Running && !state.finished(),
        summary: summary(state, data, preset),
        pictures,
        tables: Table::from_csv("Per epoch (metrics.csv)", metrics_csv).into_iter().collect(),
        details: vec![
            ("Config (TOML)".into(), state.config.config().to_toml_string()),
            (
                "Provenance".into(),
                serde_json::to_string_pretty(&state.provenance.stamped()).unwrap_or_default(),
            ),
        ],
    };
    out.write("report.html", report.html().as_bytes())?;
    Ok(())
}

fn status_line(state: &TrainState, status: Status) -> String {
    let total = state.config.training.epochs;
    let done = state.history.len();
    let what = match status {
        _ if state.finished() => format!("Finished: {done} of {total} epochs."),
        Status::Interrupted => format!(
            "Interrupted after {done} of {total} epochs (state saved; continue with ebm train --resume)."
        ),
        Status::Running => format!(
            "In progress: {done} of {total} epochs done; this page reloads every {} s.",
            report::REFRESH_SECONDS
        ),
    };
    format!("{what} Written {}.", report::now())
}

fn summary(state: &TrainState, data: &DataSplits, preset: Option<&str>) -> Vec<(String, String)> {
    let pct = |v: f64| format!("{:.2}%", 100.0 * v);
    let mut rows = vec![
        ("layers".to_owned(), format!("{:?}", state.config.model.layers)),
        ("preset".to_owned(), preset.unwrap_or("(none: config file or defaults)").to_owned()),
        ("seed".to_owned(), state.config.seed.to_string()),
        ("data".to_owned(), data.source.to_string()),
        (
            "examples".to_owned(),
            format!(
                "{} training, {} validation, {} test",
                data.train.len(),
                data.validation.as_ref().map_or(0, |v| v.len()),
                data.test.len()
            ),
        ),
        ("learning rule".to_owned(), crate::output::plain(&state.config.training.rule)),
    ];
    if let Some(m) = state.history.last() {
        rows.extend([
            (
                format!("test error, epoch {}", m.epoch),
                format!(
                    "{} from zero states, {} from persistent particles",
                    pct(m.test_error),
                    pct(m.test_error_persistent)
                ),
            ),
            (
                "training error".to_owned(),
                format!(
                    "{} running{}",
                    pct(m.train_error_running),
                    m.train_error.map(|e| format!(", {} re-evaluated", pct(e))).unwrap_or_default()
                ),
            ),
        ]);
        if let Some(v) = m.validation_error {
            rows.push(("validation error".to_owned(), pct(v)));
        }
    }
    if let Some(s) = &state.selected {
        rows.push((
            "selected (best validation epoch)".to_owned(),
            format!(
                "epoch {}: validation {}, test {}",
                s.epoch,
                pct(s.validation_error),
                pct(s.test_error)
            ),
        ));
    }
    let train: f64 = state.history.iter().map(|m| m.seconds).sum();
    let eval: f64 = state.history.iter().map(|m| m.eval_seconds).sum();
    rows.extend([
        ("seconds".to_owned(), format!("{train:.1} training, {eval:.1} evaluation")),
        (
            "machine".to_owned(),
            format!(
                "{} threads, SIMD {}",
                state.provenance.process.threads, state.provenance.process.simd
            ),
        ),
    ]);
    rows
}

/// The learning curve's chart: every error rate per epoch, on a log axis.
fn learning_curve(state: &TrainState) -> Result<String> {
    let curve = |f: &dyn Fn(&EpochMetrics) -> Option<f64>| -> Vec<(f64, f64)> {
        state.history.iter().filter_map(|m| f(m).map(|v| (m.epoch as f64, 100.0 * v))).collect()
    };
    let mut series = vec![
        Series::line("train (running)", curve(&|m| Some(m.train_error_running))),
        Series::line(retrain_label(state), curve(&|m| m.train_error)),
        Series::line("test (zero start)", curve(&|m| Some(m.test_error))),
        Series::line("test (persistent particles)", curve(&|m| Some(m.test_error_persistent))),
    ];
    if state.history.iter().any(|m| m.validation_error.is_some()) {
        series.push(Series::line("validation (zero start)", curve(&|m| m.validation_error)));
    }
    let title = format!("Equilibrium propagation, {:?}: error rates", state.config.model.layers);
    let chart =
        Chart { title: &title, x_label: "epoch", y_label: "error (%)", log_x: false, log_y: true };
    plot::svg_text(&chart, &series)
}

/// The learning curve's name for the re-evaluated training error, with how many examples it
/// scored.
fn retrain_label(state: &TrainState) -> String {
    match state.history.iter().rev().find_map(|m| m.train_eval_examples) {
        Some(n) => format!("train ({n} re-evaluated, zero start)"),
        None => "train (re-evaluated, zero start)".to_owned(),
    }
}
