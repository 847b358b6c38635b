//! Sweep files: many `ebm train` runs from one base configuration, a grid of overrides and a
//! list of seeds (`ebm sweep plan FILE`).
//!
//! ```toml
//! name = "ep-1h-rules"            # the Slurm job name (default: the file's stem)
//! preset = "ep-1h"                # base preset (optional)
//! config = "base.toml"            # base config file, relative to this file (optional)
//! data = "/data/mnist"            # --data of every run (optional; relative to this file)
//! seeds = [1, 2, 3, 4, 5]
//! threads = 1                     # --threads of every run
//! set = ["data.validation=10000", "training.select=best-validation"]   # every run
//!
//! [grid]                          # the Cartesian product of these values (keys in order)
//! "training.rule" = ["contrastive", "temporal", "spiking"]
//!
//! [[settings]]                    # named settings, crossed with the grid (optional)
//! label = "wide"
//! set = ["model.layers=[784, 1000, 10]"]
//!
//! [slurm]                         # `ebm sweep slurm`: the sbatch array script
//! parallel = 8                    # at most 8 array tasks at once (#SBATCH --array=0-M%8)
//! cpus_per_task = 1               # default: threads
//! time = "04:00:00"
//! partition = "cpu"               # optional, like account, mem, options and setup
//! setup = ["module load gcc"]
//! ```
//!
//! Every run's configuration is built and validated when the sweep is planned, so a bad grid
//! value is refused before anything runs, naming the setting.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::{ConfigError, ConfigSource, Section};

/// A sweep file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Name of the sweep (the Slurm job name); default: the file's stem.
    #[serde(default)]
    pub name: Option<String>,
    /// Base preset of every run.
    #[serde(default)]
    pub preset: Option<String>,
    /// Base config file of every run (relative to the sweep file).
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// Data of every run: a directory (relative to the sweep file) or `embedded`.
    #[serde(default)]
    pub data: Option<String>,
    /// The seeds: every setting runs once per seed.
    pub seeds: Vec<u64>,
    /// Worker threads of each run.
    #[serde(default = "one")]
    pub threads: usize,
    /// Overrides (`path=value`) applied to every run, before the setting's own.
    #[serde(default)]
    pub set: Vec<String>,
    /// Key -> list of values: every combination is a setting.
    #[serde(default)]
    pub grid: Table,
    /// Named settings, crossed with the grid.
    #[serde(default)]
    pub settings: Vec<NamedSetting>,
    /// The Slurm array script's settings.
    #[serde(default)]
    pub slurm: SlurmSpec,
}

fn one() -> usize {
    1
}

/// A named setting: a label and its overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedSetting {
    /// Label in tables and plots.
    pub label: String,
    /// Its overrides.
    #[serde(default)]
    pub set: Vec<String>,
}

/// What `ebm sweep slurm` puts in the sbatch script.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmSpec {
    /// At most this many array tasks at once (`%P`); default: no limit.
    #[serde(default)]
    pub parallel: Option<usize>,
    /// `--cpus-per-task`; default: the sweep's `threads`.
    #[serde(default)]
    pub cpus_per_task: Option<usize>,
    /// `--time` of each task (default `24:00:00`).
    #[serde(default)]
    pub time: Option<String>,
    /// `--partition`.
    #[serde(default)]
    pub partition: Option<String>,
    /// `--account`.
    #[serde(default)]
    pub account: Option<String>,
    /// `--mem` (e.g. `4G`).
    #[serde(default)]
    pub mem: Option<String>,
    /// Further `#SBATCH` options, as given (e.g. `--qos=short`).
    #[serde(default)]
    pub options: Vec<String>,
    /// Shell lines run before the task (e.g. `module load ...`).
    #[serde(default)]
    pub setup: Vec<String>,
}

/// One setting of a sweep: its label and overrides (the grid's and the named setting's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// Label in tables and plots, e.g. `training.rule=temporal`.
    pub label: String,
    /// Its overrides, after the sweep's `set`.
    pub set: Vec<String>,
}

/// One run of a planned sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Index (the Slurm array task id).
    pub task: usize,
    /// Index of the setting.
    pub setting: usize,
    /// The setting's label.
    pub label: String,
    /// The seed.
    pub seed: u64,
    /// The run's results directory, relative to the sweep directory.
    pub dir: String,
    /// Every override of the run (the sweep's, then the setting's), without the seed.
    pub set: Vec<String>,
}

/// A sweep file read, resolved against its directory and checked: each run's configuration
/// has been built and validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    /// The sweep's name.
    pub name: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// The file as read, with `config` and `data` made absolute.
    pub spec: SweepSpec,
    /// The settings in order.
    pub settings: Vec<Setting>,
    /// The runs: every setting for every seed (setting-major).
    pub tasks: Vec<Task>,
}

impl SweepSpec {
    /// Read and parse a sweep file (unknown keys and wrong types refused, naming the key).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        crate::load::parse_typed(&text, &path.display().to_string())
    }

    /// The settings: each named setting (or none) crossed with every combination of the grid.
    pub fn settings(&self) -> Result<Vec<Setting>, String> {
        let mut combos: Vec<(Vec<String>, Vec<String>)> = vec![(vec![], vec![])];
        for (key, values) in &self.grid {
            let Value::Array(values) = values else {
                return Err(format!("grid.\"{key}\" must be a list of values"));
            };
            if values.is_empty() {
                return Err(format!("grid.\"{key}\" is an empty list"));
            }
            let mut next = Vec::new();
            for (labels, sets) in &combos {
                for v in values {
                    let shown = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let mut labels = labels.clone();
                    labels.push(format!("{key}={shown}"));
                    let mut sets = sets.clone();
                    sets.push(format!("{key}={v}"));
                    next.push((labels, sets));
                }
            }
            combos = next;
        }
        let named: Vec<Option<&NamedSetting>> = if self.settings.is_empty() {
            vec![None]
        } else {
            self.settings.iter().map(Some).collect()
        };
        let mut out = Vec::new();
        for n in named {
            for (labels, sets) in &combos {
                let mut label: Vec<String> = n.map(|n| n.label.clone()).into_iter().collect();
                label.extend(labels.iter().cloned());
                let mut set: Vec<String> = self.set.clone();
                set.extend(n.map(|n| n.set.clone()).unwrap_or_default());
                set.extend(sets.iter().cloned());
                let label = if label.is_empty() { "base".to_owned() } else { label.join(", ") };
                out.push(Setting { label, set });
            }
        }
        let mut labels: Vec<&str> = out.iter().map(|s| s.label.as_str()).collect();
        labels.sort_unstable();
        if let Some(w) = labels.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("two settings have the label `{}`", w[0]));
        }
        Ok(out)
    }

    /// The configuration source of one run: the base preset and file, the overrides, the seed.
    pub fn source(&self, set: &[String], seed: u64) -> Result<ConfigSource, ConfigError> {
        let preset = self.preset.as_deref().map(str::parse).transpose()?;
        let mut source = ConfigSource { preset, file: self.config.clone(), overrides: vec![] };
        for raw in set {
            source.set(raw)?;
        }
        source.set(&format!("seed={seed}"))?;
        Ok(source)
    }
}

impl SweepPlan {
    /// Read the sweep file at `path`, resolve its paths and build and validate every run's
    /// configuration; `data` (from the command line, relative to the working directory)
    /// replaces the file's `data`. Paths in the plan are absolute, so runs may start anywhere.
    pub fn from_file(path: &Path, data: Option<&str>) -> Result<Self, ConfigError> {
        let bad = |reason: String| ConfigError::Sweep { path: path.to_owned(), reason };
        let mut spec = SweepSpec::from_file(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let absolute = |p: &Path| {
            let p = base.join(p);
            p.canonicalize().or_else(|_| std::path::absolute(&p)).unwrap_or(p)
        };
        spec.config = spec.config.as_deref().map(absolute);
        if let Some(d) = data {
            // given on the command line: relative to the working directory
            let d = match d {
                "embedded" => d.to_owned(),
                dir => std::path::absolute(dir).map_or(dir.to_owned(), |p| p.display().to_string()),
            };
            spec.data = Some(d);
        } else if let Some(d) = spec.data.as_deref().filter(|d| *d != "embedded") {
            spec.data = Some(absolute(Path::new(d)).display().to_string());
        }
        if spec.seeds.is_empty() {
            return Err(bad("seeds is empty: give at least one seed".into()));
        }
        let mut seeds = spec.seeds.clone();
        seeds.sort_unstable();
        if let Some(w) = seeds.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad(format!("seed {} is listed twice", w[0])));
        }
        if spec.threads == 0 {
            return Err(bad("threads = 0: must be at least 1".into()));
        }
        if spec.slurm.parallel == Some(0) || spec.slurm.cpus_per_task == Some(0) {
            return Err(bad("slurm.parallel and slurm.cpus_per_task must be at least 1".into()));
        }
        let settings = spec.settings().map_err(bad)?;
        for s in &settings {
            let config = spec.source(&s.set, spec.seeds[0]).and_then(|src| src.load());
            config
                .and_then(|c| c.validate_sections(&Section::TRAIN))
                .map_err(|e| bad(format!("setting `{}`: {e}", s.label)))?;
        }
        let mut tasks = Vec::new();
        for (i, s) in settings.iter().enumerate() {
            for &seed in &spec.seeds {
                tasks.push(Task {
                    task: tasks.len(),
                    setting: i,
                    label: s.label.clone(),
                    seed,
                    dir: format!("runs/{:02}-{}/seed-{seed}", i, slug(&s.label)),
                    set: s.set.clone(),
                });
            }
        }
        let name = spec.name.clone().unwrap_or_else(|| {
            path.file_stem().map_or_else(|| "sweep".into(), |s| s.to_string_lossy().into_owned())
        });
        let file = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        Ok(Self { name, file, spec, settings, tasks })
    }
}

/// A label as a directory name: letters, digits, `.`, `_` and `=` kept, runs of anything else
/// as one `-`, at most 60 characters.
fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '=') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(60).collect();
    if out.is_empty() { "base".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<SweepPlan, ConfigError> {
        let dir = std::env::temp_dir().join(format!("ebm-sweep-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("s{}.toml", text.len()));
        std::fs::write(&path, text).unwrap();
        let plan = SweepPlan::from_file(&path, None);
        std::fs::remove_file(&path).unwrap();
        plan
    }

    #[test]
    fn grid_and_settings_cross_in_order() {
        let p = plan(
            r#"
            preset = "ep-1h"
            seeds = [3, 1]
            set = ["training.epochs=2"]
            [grid]
            "training.rule" = ["contrastive", "temporal"]
            "dynamics.epsilon" = [0.5]
            [[settings]]
            label = "narrow"
            set = ["model.layers=[784, 50, 10]"]
            [[settings]]
            label = "wide"
            set = ["model.layers=[784, 1000, 10]"]
            "#,
        )
        .unwrap();
        let labels: Vec<&str> = p.settings.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "narrow, dynamics.epsilon=0.5, training.rule=contrastive",
                "narrow, dynamics.epsilon=0.5, training.rule=temporal",
                "wide, dynamics.epsilon=0.5, training.rule=contrastive",
                "wide, dynamics.epsilon=0.5, training.rule=temporal",
            ]
        );
        assert_eq!(p.tasks.len(), 8);
        assert_eq!((p.tasks[1].seed, p.tasks[1].setting), (1, 0));
        assert_eq!(p.tasks[7].task, 7);
        assert_eq!(
            p.tasks[3].set,
            [
                "training.epochs=2",
                "model.layers=[784, 50, 10]",
                "dynamics.epsilon=0.5",
                "training.rule=\"temporal\""
            ]
        );
        assert_eq!(
            p.tasks[3].dir,
            "runs/01-narrow-dynamics.epsilon=0.5-training.rule=temporal/seed-1"
        );
        // every run's config loads to what the overrides say
        let c = p.spec.source(&p.tasks[7].set, 1).unwrap().load().unwrap();
        assert_eq!(c.model.layers, vec![784, 1000, 10]);
        assert_eq!(c.seed, 1);
    }

    #[test]
    fn bad_sweeps_are_refused_naming_the_problem() {
        let err = |text: &str| plan(text).unwrap_err().to_string();
        assert!(err("seeds = []").contains("seeds is empty"), "{}", err("seeds = []"));
        assert!(err("seeds = [1, 1]").contains("seed 1 is listed twice"));
        assert!(err("seeds = [1]\nbogus = 2").contains("bogus"));
        let e = err("seeds = [1]\n[grid]\n\"dynamics.epsilon\" = [0.5, -1.0]");
        assert!(e.contains("setting `dynamics.epsilon=-1.0`") && e.contains("epsilon"), "{e}");
        let e = err("seeds = [1]\n[grid]\n\"training.nope\" = [1]");
        assert!(e.contains("nope"), "{e}");
        assert!(err("seeds = [1]\n[grid]\n\"training.epochs\" = 3").contains("must be a list"));
        assert!(err("seeds = [1]\npreset = \"nope\"").contains("unknown preset"));
    }
}
