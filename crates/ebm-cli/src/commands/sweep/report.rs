//! `ebm sweep report DIR`: every setting's headline figures as mean, sd, min and max over its
//! seeds (`table.md`, `table.csv`), each run's figures (`runs.csv`), and learning curves with a
//! band of one sd over seeds (`test_error_band.svg`, `validation_error_band.svg`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use ebm_config::sweep::{SweepPlan, Task};
use serde::Serialize;
use trainer::sweep::Spread;

use super::run::{Status, status};
use crate::cli::GlobalOpts;
use crate::output::OutDir;
use crate::plot::{self, Chart, Series};
use crate::report::{self, Picture, Report, Table};

/// One run's headline figures (errors as fractions), as `runs.csv` holds them.
#[derive(Debug, Clone, Serialize)]
struct RunRow {
    task: usize,
    setting: String,
    seed: u64,
    /// finished, partial (a checkpoint, not every epoch) or not started.
    status: &'static str,
    epochs: Option<u64>,
    select: Option<String>,
    selected_epoch: Option<f64>,
    selected_validation_error: Option<f64>,
    selected_test_error: Option<f64>,
    selected_test_error_persistent: Option<f64>,
    last_test_error: Option<f64>,
    last_test_error_persistent: Option<f64>,
    last_train_error: Option<f64>,
    last_train_error_running: Option<f64>,
    /// Training and evaluation seconds over all epochs (also across resumes).
    seconds: Option<f64>,
    dir: String,
}

/// A headline figure: its `runs.csv` column, its heading, and whether it is an error.
struct Figure {
    key: &'static str,
    heading: &'static str,
    percent: bool,
    get: fn(&RunRow) -> Option<f64>,
}

const fn fig(
    key: &'static str,
    heading: &'static str,
    percent: bool,
    get: fn(&RunRow) -> Option<f64>,
) -> Figure {
    Figure { key, heading, percent, get }
}

const FIGURES: [Figure; 9] = [
    fig("selected_test_error", "test % (selected epoch)", true, |r| r.selected_test_error),
    fig("selected_test_error_persistent", "test % (selected, persistent)", true, |r| {
        r.selected_test_error_persistent
    }),
    fig("selected_validation_error", "validation % (selected)", true, |r| {
        r.selected_validation_error
    }),
    fig("selected_epoch", "selected epoch", false, |r| r.selected_epoch),
    fig("last_test_error", "test % (last epoch)", true, |r| r.last_test_error),
    fig("last_test_error_persistent", "test % (last, persistent)", true, |r| {
        r.last_test_error_persistent
    }),
    fig("last_train_error", "train % (last, re-evaluated)", true, |r| r.last_train_error),
    fig("last_train_error_running", "train % (last, running)", true, |r| {
        r.last_train_error_running
    }),
    fig("seconds", "seconds", false, |r| r.seconds),
];

/// One line of `table.csv`.
#[derive(Debug, Serialize)]
struct TableRow<'a> {
    setting: &'a str,
    figure: &'static str,
    n: usize,
    mean: f64,
    sd: f64,
    min: f64,
    max: f64,
}

/// One line of `curves.csv`: a per-epoch figure over a setting's seeds.
#[derive(Debug, Serialize)]
struct CurveRow<'a> {
    setting: &'a str,
    figure: &'static str,
    epoch: u64,
    n: usize,
    mean: f64,
    sd: f64,
    min: f64,
    max: f64,
}

#[derive(Serialize)]
struct SettingSummary<'a> {
    label: &'a str,
    runs: usize,
    finished: usize,
    figures: BTreeMap<&'static str, Spread>,
}

#[derive(Serialize)]
struct Summary<'a> {
    command: &'static str,
    sweep: &'a str,
    runs: usize,
    finished: usize,
    settings: Vec<SettingSummary<'a>>,
}

fn row(dir: &Path, t: &Task) -> RunRow {
    let mut r = RunRow {
        task: t.task,
        setting: t.label.clone(),
        seed: t.seed,
        status: "not started",
        epochs: None,
        select: None,
        selected_epoch: None,
        selected_validation_error: None,
        selected_test_error: None,
        selected_test_error_persistent: None,
        last_test_error: None,
        last_test_error_persistent: None,
        last_train_error: None,
        last_train_error_running: None,
        seconds: None,
        dir: t.dir.clone(),
    };
    match status(&dir.join(&t.dir)) {
        Status::Finished(s) => {
            let sel = &s["selected"];
            r.status = "finished";
            r.epochs = s["epochs"].as_u64();
            r.select = sel["rule"].as_str().map(str::to_owned);
            r.selected_epoch = sel["epoch"].as_f64();
            r.selected_validation_error = sel["validation_error"].as_f64();
            r.selected_test_error = sel["test_error"].as_f64();
            r.selected_test_error_persistent = sel["test_error_persistent"].as_f64();
            r.last_test_error = s["final_test_error"].as_f64();
            r.last_test_error_persistent = s["final_test_error_persistent"].as_f64();
            r.last_train_error = s["final_train_error"].as_f64();
            r.last_train_error_running = s["final_train_error_running"].as_f64();
            r.seconds = s["run_seconds"].as_f64();
        }
        Status::Partial => r.status = "partial",
        Status::New => {}
    }
    r
}

/// Per-epoch values of `columns` in a run's `metrics.csv` (missing or empty cells left out).
fn curves(run_dir: &Path, columns: &[&str]) -> Vec<BTreeMap<u64, f64>> {
    let mut out = vec![BTreeMap::new(); columns.len()];
    let Ok(mut reader) = csv::Reader::from_path(run_dir.join("metrics.csv")) else {
        return out;
    };
    let Ok(headers) = reader.headers().cloned() else { return out };
    let find = |name: &str| headers.iter().position(|h| h == name);
    let Some(epoch_col) = find("epoch") else { return out };
    let cols: Vec<Option<usize>> = columns.iter().map(|c| find(c)).collect();
    for record in reader.records().map_while(Result::ok) {
        let Some(epoch) = record.get(epoch_col).and_then(|e| e.parse::<u64>().ok()) else {
            continue;
        };
        for (k, col) in cols.iter().enumerate() {
            if let Some(v) = col.and_then(|c| record.get(c)).and_then(|v| v.parse::<f64>().ok()) {
                out[k].insert(epoch, v);
            }
        }
    }
    out
}

fn cell(s: Option<&Spread>, percent: bool) -> String {
    let Some(s) = s else { return "-".into() };
    let k = if percent { 100.0 } else { 1.0 };
    let digits = if percent { 2 } else { 0 };
    if s.n == 1 {
        return format!("{:.digits$}", k * s.mean);
    }
    format!(
        "{:.digits$} ± {:.digits$} [{:.digits$}, {:.digits$}]",
        k * s.mean,
        k * s.sd,
        k * s.min,
        k * s.max
    )
}

/// `ebm sweep report DIR`.
pub(super) fn run(dir: &Path, global: &GlobalOpts) -> Result<()> {
    let plan: SweepPlan = super::read_plan(dir)?;
    let out_path = global.out.clone().unwrap_or_else(|| dir.join("report"));
    let out = OutDir::fresh(&out_path, true)?;
    let rows: Vec<RunRow> = plan.tasks.iter().map(|t| row(dir, t)).collect();
    out.write_csv("runs.csv", &rows)?;
    let finished = rows.iter().filter(|r| r.status == "finished").count();
    let mut table = Vec::new();
    let mut settings = Vec::new();
    let mut md = format!(
        "# Sweep `{}`: {} of {} runs finished\n\nEach cell: mean ± sd [min, max] over the finished runs (seeds {:?}); errors in %. Base: {}{}; every run: {}.\n\n| setting | runs |",
        plan.name,
        finished,
        rows.len(),
        plan.spec.seeds,
        plan.spec.preset.as_deref().map(|p| format!("preset {p}")).unwrap_or("defaults".into()),
        plan.spec.config.as_ref().map(|c| format!(", file {}", c.display())).unwrap_or_default(),
        if plan.spec.set.is_empty() {
            "no overrides".to_owned()
        } else {
            format!("`{}`", plan.spec.set.join("`, `"))
        },
    );
    let mut html = Table {
        caption: "Every setting: mean ± sd [min, max] over the finished runs (errors in %)".into(),
        header: ["setting", "runs"].map(String::from).to_vec(),
        rows: Vec::new(),
    };
    for f in &FIGURES {
        md.push_str(&format!(" {} |", f.heading));
        html.header.push(f.heading.to_owned());
    }
    md.push_str(&format!("\n|---|---|{}\n", "---|".repeat(FIGURES.len())));
    for (i, s) in plan.settings.iter().enumerate() {
        let mine: Vec<&RunRow> =
            rows.iter().zip(&plan.tasks).filter(|(_, t)| t.setting == i).map(|(r, _)| r).collect();
        let done: Vec<&&RunRow> = mine.iter().filter(|r| r.status == "finished").collect();
        let mut figures = BTreeMap::new();
        md.push_str(&format!("| {} | {} of {} |", s.label, done.len(), mine.len()));
        let mut cells = vec![s.label.clone(), format!("{} of {}", done.len(), mine.len())];
        for f in &FIGURES {
            let spread = Spread::of(done.iter().filter_map(|r| (f.get)(r)));
            md.push_str(&format!(" {} |", cell(spread.as_ref(), f.percent)));
            cells.push(cell(spread.as_ref(), f.percent));
            if let Some(sp) = spread {
                figures.insert(f.key, sp);
                table.push(TableRow {
                    setting: &s.label,
                    figure: f.key,
                    n: sp.n,
                    mean: sp.mean,
                    sd: sp.sd,
                    min: sp.min,
                    max: sp.max,
                });
            }
        }
        md.push('\n');
        html.rows.push(cells);
        settings.push(SettingSummary {
            label: &s.label,
            runs: mine.len(),
            finished: done.len(),
            figures,
        });
    }
    md.push_str(&format!(
        "\nRe-run: `ebm sweep plan {}{} --out DIR && ebm sweep run DIR --jobs N && ebm sweep report DIR`.\n",
        plan.file.display(),
        plan.spec.data.as_deref().map(|d| format!(" --data {d}")).unwrap_or_default()
    ));
    out.write_csv("table.csv", &table)?;
    out.write("table.md", md.as_bytes())?;
    let pictures = write_curves(&out, dir, &plan)?;
    let report = Report {
        title: format!("ebm sweep report: {}", plan.name),
        status: format!("{finished} of {} runs finished. Written {}.", rows.len(), report::now()),
        pictures,
        tables: vec![html],
        details: vec![("table.md".into(), md.clone())],
        ..Report::default()
    };
    out.write("report.html", report.html().as_bytes())?;
    out.write_json(
        "summary.json",
        &Summary {
            command: "sweep report",
            sweep: &plan.name,
            runs: rows.len(),
            finished,
            settings,
        },
    )?;
    crate::say!("{}", md.trim_end())?;
    tracing::info!("sweep report -> {}", out.path().display());
    Ok(())
}

/// The per-epoch curves over seeds: `curves.csv` and one band plot per figure (returned for
/// the report).
fn write_curves(out: &OutDir, dir: &Path, plan: &SweepPlan) -> Result<Vec<Picture>> {
    const COLUMNS: [(&str, &str); 2] =
        [("test_error", "Test error (zero start)"), ("validation_error", "Validation error")];
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    let mut per_setting: Vec<Vec<BTreeMap<u64, Vec<f64>>>> =
        vec![vec![BTreeMap::new(); COLUMNS.len()]; plan.settings.len()];
    for t in &plan.tasks {
        for (k, curve) in curves(&dir.join(&t.dir), &names).into_iter().enumerate() {
            for (epoch, v) in curve {
                per_setting[t.setting][k].entry(epoch).or_default().push(v);
            }
        }
    }
    let mut rows = Vec::new();
    let mut pictures = Vec::new();
    for (k, (column, title)) in COLUMNS.iter().enumerate() {
        let mut series = Vec::new();
        for (i, s) in plan.settings.iter().enumerate() {
            let mut line = Series::line(s.label.clone(), Vec::new());
            for (&epoch, values) in &per_setting[i][k] {
                let Some(sp) = Spread::of(values.iter().copied()) else { continue };
                rows.push(CurveRow {
                    setting: &s.label,
                    figure: column,
                    epoch,
                    n: sp.n,
                    mean: sp.mean,
                    sd: sp.sd,
                    min: sp.min,
                    max: sp.max,
                });
                line.points.push((epoch as f64, 100.0 * sp.mean));
                line.band.push((100.0 * (sp.mean - sp.sd), 100.0 * (sp.mean + sp.sd)));
            }
            if !line.points.is_empty() {
                series.push(line);
            }
        }
        if series.is_empty() {
            continue;
        }
        let title = format!("{title}: mean ± sd over seeds, sweep {}", plan.name);
        let chart = Chart {
            title: &title,
            x_label: "epoch",
            y_label: "error (%)",
            log_x: false,
            log_y: false,
        };
        let file = format!("{column}_band.svg");
        let text = plot::svg_text(&chart, &series)?;
        out.write(&file, text.as_bytes())?;
        pictures.push(Picture::svg(
            &file,
            format!("{title} per epoch: the line is the mean over seeds, the band mean ± sd."),
            text,
        ));
    }
    out.write_csv("curves.csv", &rows)?;
    Ok(pictures)
}
