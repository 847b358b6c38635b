//! `ebm gradcheck`: the gradient-fidelity experiment (`trainer::experiments::gradcheck`): the
//! EP update against the true gradient at the free fixed point, per layer, as beta varies, on
//! MNIST inputs (the embedded subset unless `--data`); see `docs/gradient.md`. This file loads
//! the checkpoints and writes the results.

use anyhow::Result;
use ebm_config::Section;
use ebm_core::experiments::gradcheck::{GradcheckDepth, GradcheckRow, NetLabel, Nudging};
use serde::Serialize;
use trainer::experiments::GivenNet;
use trainer::experiments::gradcheck::{Headline, MeasuredOn};

use crate::cli::{GlobalOpts, GradcheckArgs};
use crate::output::{OutDir, plain, results_dir};
use crate::plot::{self, Chart, Series};

#[derive(Serialize)]
struct Summary<'a> {
    command: &'static str,
    seed: u64,
    data: String,
    /// Indices of the training examples used for the Glorot nets.
    examples: &'a [usize],
    /// For each checkpoint: the training examples used (those with non-zero cost).
    trained_examples: &'a [MeasuredOn],
    /// Per depth and layer, the centred and one-sided figures at the smallest beta.
    headline: &'a [Headline],
    depths: &'a [GradcheckDepth],
    rows: &'a [GradcheckRow],
    config: &'a ebm_config::Config,
}

/// `ebm gradcheck`: writes `summary.json`, `metrics.csv` and `cosine-*.svg`.
pub fn run(args: &GradcheckArgs, global: &GlobalOpts) -> Result<()> {
    let config = super::load(global, &[Section::Gradcheck, Section::Training, Section::Data])?;
    let out = OutDir::fresh(&results_dir(global, &config, "gradcheck"), global.force)?;
    let data = super::train::load_data(args.data.as_deref(), &config)?;
    let mut given = Vec::new();
    for path in &args.checkpoints {
        let (trained, net) = trainer::checkpoint::load_net(path)?;
        let name = path.display().to_string();
        given.push(GivenNet { name, cost: trained.training.cost, net });
    }
    let result =
        crate::logging::with_spinner("EP estimates and true gradients at each beta", || {
            trainer::experiments::gradcheck::run(&config, &data, &given)
        })?;
    for m in &result.measured_on {
        crate::say!(
            "{}: {} examples with non-zero cost found among {} candidates",
            m.net,
            m.examples.len(),
            m.candidates
        )?;
    }
    let rows = &result.rows;
    out.write_csv("metrics.csv", rows)?;
    out.write_json(
        "summary.json",
        &Summary {
            command: "gradcheck",
            seed: config.seed,
            data: data.source.to_string(),
            examples: &result.examples,
            trained_examples: &result.measured_on,
            headline: &result.headline,
            depths: &result.depths,
            rows,
            config: &config,
        },
    )?;
    if config.output.plots {
        for (nudging, file) in
            [(Nudging::Centred, "cosine-centred.svg"), (Nudging::OneSided, "cosine-one-sided.svg")]
        {
            let mut series = Vec::new();
            for d in &result.depths {
                let label = match &d.net {
                    NetLabel::Glorot => format!("{} hidden", d.hidden_layers),
                    NetLabel::Given(name) => format!("{name} ({} hidden)", d.hidden_layers),
                };
                for k in 0..=d.hidden_layers {
                    let points = rows
                        .iter()
                        .filter(|r| {
                            r.net == d.net
                                && r.hidden_layers == d.hidden_layers
                                && r.layer == k
                                && r.nudging == nudging
                        })
                        .map(|r| (r.beta, (1.0 - r.cosine).max(1e-16)))
                        .collect();
                    series.push(Series::line(format!("{label}, W{k}"), points));
                }
            }
            let name = match nudging {
                Nudging::Centred => "centred",
                Nudging::OneSided => "one-sided",
            };
            let title = format!(
                "EP estimate ({name} nudging) vs the true gradient: 1 - cosine per layer, {} examples",
                config.gradcheck.examples
            );
            let chart = Chart {
                title: &title,
                x_label: "beta",
                y_label: "1 - cosine(EP estimate, dL/dtheta)",
                log_x: true,
                log_y: true,
            };
            plot::svg(&out, file, &chart, &series)?;
        }
    }
    crate::say!(
        "EP estimate vs true gradient (seed {}, {} examples per Glorot net) -> {}",
        config.seed,
        config.gradcheck.examples,
        out.path().display()
    )?;
    // Every row is in metrics.csv; -v lists them here too.
    for r in rows {
        tracing::debug!(
            "{} {} hidden W{} beta {} {}: cosine {:.8}, norm ratio {:.5}, relative error {:.3e}",
            r.net.name(),
            r.hidden_layers,
            r.layer,
            r.beta,
            plain(&r.nudging),
            r.cosine,
            r.norm_ratio,
            r.relative_error
        );
    }
    crate::say!(
        "{:<10} {:>6} {:>5} {:>8} {:>16} {:>10} {:>16} {:>10}",
        "net",
        "hidden",
        "layer",
        "beta",
        "centred cosine",
        "ratio",
        "one-sided cosine",
        "ratio"
    )?;
    for h in &result.headline {
        crate::say!(
            "{:<10} {:>6} {:>5} {:>8} {:>16.10} {:>10.5} {:>16.10} {:>10.5}",
            h.net.name(),
            h.hidden_layers,
            format!("W{}", h.layer),
            h.beta,
            h.centred_cosine,
            h.centred_norm_ratio,
            h.one_sided_cosine,
            h.one_sided_norm_ratio
        )?;
    }
    crate::say!("{}", conclusion(&result.headline))?;
    Ok(())
}

/// The experiment's finding in one line, in the paper's terms: how close the EP estimate is to
/// the true gradient at the smallest beta, centred and one-sided, for the Glorot nets and any
/// given ones.
fn conclusion(headline: &[Headline]) -> String {
    let worst = |given: bool, f: fn(&Headline) -> f64| {
        headline
            .iter()
            .filter(|h| matches!(h.net, NetLabel::Given(_)) == given)
            .map(f)
            .fold(f64::INFINITY, f64::min)
    };
    let beta = headline.iter().map(|h| h.beta).fold(f64::INFINITY, f64::min);
    let mut line = format!(
        "conclusion: the EP update follows the true gradient of the loss (Scellier & Bengio, Theorem 1): at beta = {beta}, min cosine over every layer 1 - {:.1e} centred, 1 - {:.1e} one-sided (Glorot nets)",
        1.0 - worst(false, |h| h.centred_cosine),
        1.0 - worst(false, |h| h.one_sided_cosine),
    );
    if headline.iter().any(|h| matches!(h.net, NetLabel::Given(_))) {
        line.push_str(&format!(
            "; trained nets: 1 - {:.1e} centred, 1 - {:.1e} one-sided",
            1.0 - worst(true, |h| h.centred_cosine),
            1.0 - worst(true, |h| h.one_sided_cosine),
        ));
    }
    line
}
