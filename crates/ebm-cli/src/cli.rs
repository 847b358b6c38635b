//! Argument definitions (clap derive). Every option carries its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Energy-based models of biologically plausible credit assignment: equilibrium propagation,
/// early inference as backprop, and STDP, runnable and measurable.
#[derive(Debug, Parser)]
#[command(name = "ebm", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command.
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// TOML configuration file; its keys replace the preset's (or the defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Starting configuration: quick (default), ep-1h, ep-1h-code, ep-2h, ep-3h.
    #[arg(long, global = true, value_name = "NAME")]
    pub preset: Option<String>,
    /// Override one key, applied after the file: `--set training.epochs=3` (repeatable; the
    /// value is TOML, a bare word is a string).
    #[arg(long = "set", global = true, value_name = "PATH=VALUE")]
    pub overrides: Vec<String>,
    /// Seed of every random draw (overrides the config's `seed`).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub seed: Option<u64>,
    /// Results directory (default: the config's output.dir, else results/<command>).
    #[arg(long, global = true, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace an existing results directory.
    #[arg(long, global = true)]
    pub force: bool,
    /// More log output (-v debug, -vv trace); RUST_LOG, when set, takes precedence.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only the error line, if any (no log, no progress).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Worker threads of every command that computes (training, evaluation, the experiments;
    /// for `sweep run`, of each run). Default: RAYON_NUM_THREADS, else all cores. Results do
    /// not depend on it.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub threads: Option<u64>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show, check or list configurations.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Data sets: download MNIST, Fashion-MNIST or Kuzushiji-MNIST with checksums.
    #[command(subcommand)]
    Data(DataCommand),
    /// Train with equilibrium propagation (default: the quick preset on the embedded MNIST
    /// subset); writes summary.json, metrics.csv, learning_curve.svg and checkpoint.npz.
    Train(TrainArgs),
    /// Evaluate a model or checkpoint on the test set of its run's data (from zero states, and
    /// from persistent particles for a checkpoint); with --out DIR also summary.json,
    /// confusion.csv, confusion.svg and predictions.csv.
    Eval(EvalArgs),
    /// The STDP simulation of section 4.2 (Figures 3, 4, 5) -> results/stdp.
    Stdp(StdpArgs),
    /// Early inference is backprop: measure how a nudge of the outputs propagates into the
    /// hidden layers against explicit backpropagation (Bengio et al. 2017, section 3).
    Propagate,
    /// The noisy leaky integrator as Langevin MCMC: the stationary distribution of the paper's
    /// noisy update and of exact Langevin against the Boltzmann density exp(-E/T) of a tiny net,
    /// as eps shrinks (the `[sample]` section) -> results/sample.
    Sample,
    /// Learning curves of several `ebm train` results directories on one plot (test error
    /// against epoch) -> compare.csv, summary.json, test_error.svg (default results/compare).
    Compare(CompareArgs),
    /// Gradient fidelity: the EP update (one-sided and centred) against the true gradient of
    /// the loss at the free fixed point, per layer, as beta varies, for 1, 2 and 3 hidden
    /// layers on MNIST inputs (the `[gradcheck]` section) -> results/gradcheck.
    Gradcheck(GradcheckArgs),
    /// Steps of the free phase from zero states to a residual, synchronous against alternating
    /// layer updates, on MNIST test inputs (the `[relax_steps]` section) -> results/relax-steps.
    RelaxSteps(RelaxStepsArgs),
    /// Untied forward and feedback matrices from independent Glorot draws (Eq 2.10), trained
    /// with the contrastive and the local rule, the dynamics using their average or each in
    /// its own direction, with and without weight decay, against the tied net (the
    /// `[symmetry]` section) -> summary.json, metrics.csv, symmetry.svg (results/symmetry).
    Symmetry(SymmetryArgs),
    /// A saved model's relaxation step by step on the first test examples of its run's data:
    /// the free phase from zero states, then the nudged phase toward the targets ->
    /// relaxation.svg, hidden_states.svg, relax.json, report.html (default results/relax).
    Relax(RelaxArgs),
    /// Draw columns of a CSV file (a metrics.csv, compare.csv, ...) as one SVG chart with the
    /// project's plot style: e.g. redraw a saved learning curve without its run directory.
    Plot(PlotArgs),
    /// Many `ebm train` runs from a sweep file (a base config, a grid of overrides, seeds): plan
    /// them, run them locally or as a Slurm job array, and report mean +/- sd over seeds.
    #[command(subcommand)]
    Sweep(SweepCommand),
}

/// `ebm sweep ...`
#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Read a sweep file (TOML: preset/config, data, seeds, set, [grid], [[settings]],
    /// [slurm]; see docs/sweeps.md), validate every run's config, and write the plan to
    /// --out DIR (sweep.json, one results directory per run under DIR/runs).
    Plan {
        /// The sweep file.
        file: PathBuf,
        /// Data of every run (a directory of IDX files, or `embedded`), replacing the file's
        /// `data`.
        #[arg(long, value_name = "DIR")]
        data: Option<String>,
    },
    /// Run the sweep's runs (each an `ebm train` process): one task (what a Slurm array task
    /// calls), or all of them N at a time; unfinished runs are resumed, finished ones skipped.
    Run {
        /// The sweep directory (made by `ebm sweep plan`).
        dir: PathBuf,
        /// Run only this task (0-based; `$SLURM_ARRAY_TASK_ID`).
        #[arg(long, value_name = "I", conflicts_with = "jobs")]
        task: Option<usize>,
        /// Run every task, N at a time (default 1); each run's output goes to DIR/logs. Each
        /// run gets --threads threads (default: the sweep file's `threads`).
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
    },
    /// Write DIR/sweep.sbatch: a Slurm array script, one task per run, to submit as is with
    /// sbatch (settings from the sweep file's [slurm] section).
    Slurm {
        /// The sweep directory.
        dir: PathBuf,
        /// The ebm executable the tasks run (default: this one).
        #[arg(long, value_name = "PATH")]
        ebm: Option<PathBuf>,
    },
    /// Aggregate the finished runs: table.md / table.csv (mean, sd, min, max over seeds of
    /// each setting's headline figures), runs.csv, curves.csv and learning curves with a band
    /// over seeds -> --out (default DIR/report).
    Report {
        /// The sweep directory.
        dir: PathBuf,
    },
}

/// `ebm compare`
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Results directories of `ebm train` runs (each with summary.json and metrics.csv).
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// Legend label of each run, in order (repeatable; default: the directory's name).
    #[arg(long = "label", value_name = "TEXT")]
    pub labels: Vec<String>,
}

/// `ebm gradcheck`
#[derive(Debug, Args)]
pub struct GradcheckArgs {
    /// Directory holding the four MNIST IDX files; default: the config's data.dir, else the
    /// embedded subset.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Also measure this trained network (a checkpoint.npz, cast to f64; repeatable). The
    /// Glorot networks of `gradcheck.hidden_layers` from the seed are always measured.
    #[arg(long = "checkpoint", value_name = "FILE")]
    pub checkpoints: Vec<PathBuf>,
}

/// `ebm relax-steps`
#[derive(Debug, Args)]
pub struct RelaxStepsArgs {
    /// Directory holding the four MNIST IDX files; default: the config's data.dir, else the
    /// embedded subset.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Also measure this trained network (a checkpoint.npz; repeatable). The Glorot network
    /// of `relax_steps.layers` from the seed is always measured.
    #[arg(long = "checkpoint", value_name = "FILE")]
    pub checkpoints: Vec<PathBuf>,
}

/// `ebm symmetry`
#[derive(Debug, Args)]
pub struct SymmetryArgs {
    /// Directory holding the four MNIST IDX files; default: the config's data.dir, else the
    /// embedded subset.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// `ebm data ...`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download a data set's files into DIR, verifying each file's SHA-256; files already
    /// there with a good checksum are kept. Written atomically: never a partial file.
    Fetch {
        /// The data set: mnist, fashion-mnist or kmnist (Kuzushiji-MNIST).
        dataset: String,
        /// Directory to write the files to (created if needed).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Base URL of a mirror, tried in the order given (repeatable); default: the built-in
        /// list of public mirrors.
        #[arg(long = "mirror", value_name = "URL")]
        mirrors: Vec<String>,
        /// Seconds to wait for a connection to a mirror before trying the next.
        #[arg(long, value_name = "SECS", default_value_t = 15)]
        connect_timeout: u64,
        /// Seconds to wait for any data from a mirror (each read) before trying the next.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        read_timeout: u64,
    },
}

/// `ebm config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (preset + file + overrides) as TOML.
    Show,
    /// Validate the effective configuration; exits 2 naming the first bad key.
    Check,
    /// List the presets.
    Presets,
}

/// `ebm stdp` (sizes and constants come from the config's `[stdp]` section; `--set stdp.x=..`).
#[derive(Debug, Args)]
pub struct StdpArgs {}

/// `ebm train`
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Directory holding the four MNIST IDX files (raw or .gz), or `embedded` for the
    /// embedded subset; default: the config's data.dir, else the embedded subset. With
    /// --resume: the run's recorded data (other data is refused).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Continue the run whose results directory (with checkpoint.npz) is DIR, on the data it
    /// recorded; its saved config is used, with --set overrides on top for the keys that may
    /// change (e.g. --set training.epochs=30). With --out OTHER the run continues in OTHER
    /// and DIR is left untouched (a fork).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
}

/// `ebm plot`
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// The CSV file (a header row, then one row per point).
    pub csv: PathBuf,
    /// The column on the x axis.
    #[arg(long, value_name = "COLUMN")]
    pub x: String,
    /// The columns on the y axis, one series each (repeatable; `COLUMN=LABEL` names the
    /// series).
    #[arg(long = "y", value_name = "COLUMN[=LABEL]", required = true)]
    pub y: Vec<String>,
    /// One series per value of this column (of the single --y column; repeatable: per
    /// combination of values).
    #[arg(long, value_name = "COLUMN")]
    pub group: Vec<String>,
    /// Keep only the rows whose COLUMN equals VALUE (repeatable).
    #[arg(long = "where", value_name = "COLUMN=VALUE")]
    pub filter: Vec<String>,
    /// Plot 100 y (fractions as percentages).
    #[arg(long)]
    pub percent: bool,
    /// Plot 1 - y (e.g. 1 - cosine).
    #[arg(long)]
    pub one_minus: bool,
    /// Logarithmic x axis.
    #[arg(long)]
    pub log_x: bool,
    /// Logarithmic y axis.
    #[arg(long)]
    pub log_y: bool,
    /// The chart's title.
    #[arg(long, default_value = "")]
    pub title: String,
    /// The x axis label (default: the column).
    #[arg(long, value_name = "TEXT")]
    pub x_label: Option<String>,
    /// The y axis label (default: the column).
    #[arg(long, value_name = "TEXT")]
    pub y_label: Option<String>,
    /// The SVG file to write.
    #[arg(long = "svg", value_name = "FILE")]
    pub svg: PathBuf,
}

/// `ebm relax`
#[derive(Debug, Args)]
pub struct RelaxArgs {
    /// The model.npz or checkpoint.npz to relax, or a run directory (its checkpoint.npz, else
    /// its model.npz). Its config gives the dynamics, with --set overrides on top.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// Relax the test examples of this data (a directory of the four MNIST IDX files, or
    /// `embedded`) instead of the data the run recorded.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// How many test examples (the first N).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub examples: usize,
}

/// `ebm eval`
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The model.npz or checkpoint.npz to evaluate, or a run directory (its checkpoint.npz,
    /// else its model.npz).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// Score on this data (a directory of the four MNIST IDX files, or `embedded`) instead of
    /// the data the run recorded; the output says when it is not the run's data.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Free-phase steps (default: the checkpoint config's evaluation steps). The checkpoint's
    /// config is used, with --set overrides on top (e.g. --set dynamics.schedule=alternating).
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
}
