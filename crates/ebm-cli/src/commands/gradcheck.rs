//! `ebm gradcheck` and `ebm relax-steps`: the gradient-fidelity experiment (the EP update
//! against the true gradient at the free fixed point, per layer, as beta varies) and the steps
//! the free phase needs to reach a residual under synchronous and alternating updates. Both on
//! MNIST inputs (the embedded subset unless `--data`); see `docs/gradient.md`.

use anyhow::{Result, bail};
use ebm_config::{Schedule, Section};
use ebm_core::argmax_rows;
use ebm_core::convergence::{StepsRow, steps_to_residual};
use ebm_core::gradcheck::{
    GradcheckDepth, GradcheckRow, GradcheckSettings, costly_examples, gradient_fidelity,
    gradient_fidelity_of,
};
use ebm_core::{LayeredNet, Rho};
use ndarray::{Array2, Axis};
use serde::Serialize;
use trainer::rng::{Stream, stream_rng};

use crate::cli::{GlobalOpts, GradcheckArgs, RelaxStepsArgs};
use crate::output::{OutDir, results_dir};
use crate::plot::{self, Chart, Series};

#[derive(Serialize)]
struct Summary<'a> {
    command: &'static str,
    seed: u64,
    data: String,
    /// Indices of the training examples used for the Glorot nets.
    examples: Vec<usize>,
    /// For each checkpoint: the training examples used (those with non-zero cost).
    trained_examples: Vec<TrainedExamples>,
    /// Per depth and layer, the centred and one-sided figures at the smallest beta.
    headline: Vec<Headline>,
    depths: &'a [GradcheckDepth],
    rows: &'a [GradcheckRow],
    config: &'a ebm_config::Config,
}

#[derive(Serialize)]
struct TrainedExamples {
    net: String,
    /// Evenly spaced training examples scanned.
    candidates: usize,
    /// Indices of those with non-zero cost at the free fixed point (at most `examples`).
    examples: Vec<usize>,
}

#[derive(Serialize)]
struct Headline {
    /// `glorot` or the checkpoint's path.
    net: String,
    hidden_layers: usize,
    layer: usize,
    beta: f64,
    centred_cosine: f64,
    centred_norm_ratio: f64,
    one_sided_cosine: f64,
    one_sided_norm_ratio: f64,
}

/// `ebm gradcheck`: writes `summary.json`, `metrics.csv` and `cosine-*.svg`.
pub fn run(args: &GradcheckArgs, global: &GlobalOpts) -> Result<()> {
    let config = super::load(global, &[Section::Gradcheck, Section::Training, Section::Data])?;
    let out = OutDir::fresh(&results_dir(global, &config, "gradcheck"), global.force)?;
    let mnist = super::train::load_data(args.data.as_deref(), &config)?;
    let data = mnist.source.to_string();
    let g = &config.gradcheck;
    // Evenly spaced training examples (the seed draws the weights).
    let n = mnist.train.len();
    let spaced = |count: usize| -> Vec<usize> {
        let count = count.min(n);
        (0..count).map(|i| i * n / count).collect()
    };
    let inputs = |indices: &[usize]| {
        let x = mnist.train.images.select(Axis(0), indices).mapv(f64::from);
        let mut target = Array2::<f64>::zeros((indices.len(), 10));
        for (b, &i) in indices.iter().enumerate() {
            target[(b, mnist.train.labels[i] as usize)] = 1.0;
        }
        (x, target)
    };
    let examples = spaced(g.examples);
    let (x, target) = inputs(&examples);
    let settings = GradcheckSettings::from_config(g, config.training.cost);
    let (mut rows, mut depths) =
        gradient_fidelity(&settings, x.view(), target.view(), config.seed)?;
    let mut trained_examples = Vec::new();
    // The candidates scanned for costly examples: the same for every checkpoint.
    let candidates = spaced(g.candidates);
    let (cx, ct) = inputs(&candidates);
    for path in &args.checkpoints {
        // The checkpoint's own cost: the loss it was trained on.
        let (trained, net) = trainer::checkpoint::load_net(path)?;
        let own = GradcheckSettings { cost: trained.training.cost, ..settings.clone() };
        let name = path.display().to_string();
        let net = net.cast::<f64>();
        let costly = costly_examples(&own, &net, cx.view(), ct.view(), g.examples)?;
        if costly.is_empty() {
            bail!(
                "{name}: none of the {} candidate training examples (gradcheck.candidates) has a \
                 non-zero cost at the free fixed point, so the true gradient is 0; raise \
                 gradcheck.candidates",
                candidates.len()
            );
        }
        let chosen: Vec<usize> = costly.iter().map(|&i| candidates[i]).collect();
        crate::say!(
            "{name}: {} examples with non-zero cost found among {} candidates",
            chosen.len(),
            candidates.len()
        )?;
        let (x, target) = inputs(&chosen);
        let (r, d) = gradient_fidelity_of(&own, &name, &net, x.view(), target.view())?;
        rows.extend(r);
        depths.push(d);
        trained_examples.push(TrainedExamples {
            net: name,
            candidates: candidates.len(),
            examples: chosen,
        });
    }

    let beta0 = g.betas.iter().copied().fold(f64::INFINITY, f64::min);
    // Each measured network (a Glorot depth or a checkpoint): its name, hidden layers and
    // label in plots.
    let nets: Vec<(&str, usize, String)> = depths
        .iter()
        .map(|d| {
            let label = if d.net == "glorot" {
                format!("{} hidden", d.hidden_layers)
            } else {
                format!("{} ({} hidden)", d.net, d.hidden_layers)
            };
            (d.net.as_str(), d.hidden_layers, label)
        })
        .collect();
    let same_net = |r: &GradcheckRow, net: &str, h: usize| r.net == net && r.hidden_layers == h;
    let find = |net: &str, h: usize, k: usize, nudging: &str| {
        rows.iter()
            .find(|r| {
                same_net(r, net, h) && r.layer == k && r.beta == beta0 && r.nudging == nudging
            })
            .map_or((f64::NAN, f64::NAN), |r| (r.cosine, r.norm_ratio))
    };
    let mut headline = Vec::new();
    for &(net, h, _) in &nets {
        for k in 0..=h {
            let (cc, cr) = find(net, h, k, "centred");
            let (oc, or) = find(net, h, k, "one-sided");
            headline.push(Headline {
                net: net.to_string(),
                hidden_layers: h,
                layer: k,
                beta: beta0,
                centred_cosine: cc,
                centred_norm_ratio: cr,
                one_sided_cosine: oc,
                one_sided_norm_ratio: or,
            });
        }
    }
    out.write_csv("metrics.csv", &rows)?;
    out.write_json(
        "summary.json",
        &Summary {
            command: "gradcheck",
            seed: config.seed,
            data,
            examples,
            trained_examples,
            headline,
            depths: &depths,
            rows: &rows,
            config: &config,
        },
    )?;
    if config.output.plots {
        for (nudging, file) in
            [("centred", "cosine-centred.svg"), ("one-sided", "cosine-one-sided.svg")]
        {
            let mut series = Vec::new();
            for (net, h, label) in &nets {
                for k in 0..=*h {
                    let points = rows
                        .iter()
                        .filter(|r| same_net(r, net, *h) && r.layer == k && r.nudging == nudging)
                        .map(|r| (r.beta, (1.0 - r.cosine).max(1e-16)))
                        .collect();
                    series.push(Series::line(format!("{label}, W{k}"), points));
                }
            }
            let title = format!("EP ({nudging}) vs true gradient: 1 - cosine per layer");
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
        g.examples,
        out.path().display()
    )?;
    crate::say!(
        "{:<10} {:>6} {:>5} {:>8} {:<9} {:>12} {:>10} {:>10}",
        "net",
        "hidden",
        "layer",
        "beta",
        "nudging",
        "cosine",
        "norm_ratio",
        "rel_error"
    )?;
    for r in &rows {
        crate::say!(
            "{:<10} {:>6} {:>5} {:>8} {:<9} {:>12.8} {:>10.5} {:>10.3e}",
            r.net,
            r.hidden_layers,
            r.layer,
            r.beta,
            r.nudging,
            r.cosine,
            r.norm_ratio,
            r.relative_error
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct StepsSummary<'a> {
    command: &'static str,
    seed: u64,
    data: String,
    tolerance: f64,
    examples: usize,
    rows: &'a [StepsOutRow],
    config: &'a ebm_config::Config,
}

#[derive(Serialize)]
struct StepsOutRow {
    /// `glorot` (from the seed) or the checkpoint's path.
    net: String,
    schedule: Schedule,
    epsilon: f64,
    steps: usize,
    converged: bool,
    residual: f64,
    /// Errors (argmax) of the relaxed outputs on the examples.
    test_errors: usize,
    /// Fraction of examples whose argmax agrees with the first choice's (the energy is not
    /// convex: from the same start, schedules may settle in different fixed points).
    argmax_agreement: f64,
    /// Mean over examples of `max_j |y_j - y_ref,j|` against the first choice's outputs.
    output_difference: f64,
}

/// `ebm relax-steps`: writes `summary.json` and `metrics.csv`.
pub fn relax_steps(args: &RelaxStepsArgs, global: &GlobalOpts) -> Result<()> {
    let config = super::load(global, &[Section::RelaxSteps, Section::Model, Section::Data])?;
    let out = OutDir::fresh(&results_dir(global, &config, "relax-steps"), global.force)?;
    let mnist = super::train::load_data(args.data.as_deref(), &config)?;
    let data = mnist.source.to_string();
    let r = &config.relax_steps;
    let n = r.examples.min(mnist.test.len());
    let x = mnist.test.images.slice(ndarray::s![..n, ..]);
    let labels = &mnist.test.labels[..n];
    let mut nets: Vec<(String, LayeredNet<f32>)> = Vec::new();
    let mut rng = stream_rng(config.seed, Stream::Init, 0);
    let rho = Rho::from_config(&config.model.rho);
    nets.push(("glorot".into(), LayeredNet::glorot_uniform(&r.layers, rho, &mut rng)?));
    for path in &args.checkpoints {
        let (_, net) = trainer::checkpoint::load_net(path)?;
        nets.push((path.display().to_string(), net));
    }
    let mut choices: Vec<(Schedule, f64)> =
        r.synchronous_epsilons.iter().map(|&e| (Schedule::Synchronous, e)).collect();
    choices.extend(r.alternating_epsilons.iter().map(|&e| (Schedule::Alternating, e)));
    let mut rows = Vec::new();
    for (name, net) in &nets {
        let results = steps_to_residual(net, x, &choices, r.tolerance, r.max_steps)?;
        let reference = results[0].1.output().clone();
        let reference_argmax = argmax_rows(reference.view());
        for (steps, states) in results {
            let predicted = argmax_rows(states.output().view());
            let test_errors =
                predicted.iter().zip(labels).filter(|(p, l)| **p != **l as usize).count();
            let agree = predicted.iter().zip(&reference_argmax).filter(|(a, b)| a == b).count();
            let argmax_agreement = agree as f64 / n as f64;
            let diff = (states.output() - &reference).mapv(f32::abs);
            let output_difference = diff
                .rows()
                .into_iter()
                .map(|r| f64::from(r.fold(0.0f32, |m, &v| m.max(v))))
                .sum::<f64>()
                / n as f64;
            crate::say!(
                "{name}: {:?} eps {}: {} steps (residual {:.2e}, converged {}), {} errors / {n}",
                steps.schedule,
                steps.epsilon,
                steps.steps,
                steps.residual,
                steps.converged,
                test_errors
            )?;
            let StepsRow { schedule, epsilon, steps, converged, residual } = steps;
            rows.push(StepsOutRow {
                net: name.clone(),
                schedule,
                epsilon,
                steps,
                converged,
                residual,
                test_errors,
                argmax_agreement,
                output_difference,
            });
        }
    }
    out.write_csv("metrics.csv", &rows)?;
    out.write_json(
        "summary.json",
        &StepsSummary {
            command: "relax-steps",
            seed: config.seed,
            data,
            tolerance: r.tolerance,
            examples: n,
            rows: &rows,
            config: &config,
        },
    )?;
    crate::say!("-> {}", out.path().display())?;
    Ok(())
}
