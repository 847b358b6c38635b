//! Named presets: the paper's three MNIST networks (Scellier & Bengio, Table 1), the reference
//! code's variant of the first, and a quick run on the embedded subset. Each is
//! `Config::default()` (the paper's 784-500-10 setting) with its own changes.

use crate::{BetaSign, Config, CostKind, DataOrder, Schedule};

/// A named starting configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The default: 784-500-10 for 15 epochs on the embedded MNIST subset, with the best
    /// setting known for that size (layer-alternating relaxation at eps 1, centred nudging at
    /// beta 0.5, zero-start free phases, shuffled data; `docs/gradient.md`).
    Quick,
    /// 784-500-10, T 20, K 4, beta 1, alphas 0.1 0.05, 25 epochs (the paper's Table 1).
    Ep1h,
    /// As `ep-1h` but with the reference code's cost ||y - d||^2 and beta 0.5.
    Ep1hCode,
    /// 784-500-500-10, T 100, K 6, beta 1, alphas 0.4 0.1 0.01, 60 epochs.
    Ep2h,
    /// 784-500-500-500-10, T 500, K 8, beta 1, alphas 0.128 0.032 0.008 0.002, 500 epochs.
    Ep3h,
}

impl Preset {
    /// Every preset, in the order `ebm config presets` lists them.
    pub const ALL: [Preset; 5] =
        [Preset::Quick, Preset::Ep1h, Preset::Ep1hCode, Preset::Ep2h, Preset::Ep3h];

    /// The preset's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Quick => "quick",
            Preset::Ep1h => "ep-1h",
            Preset::Ep1hCode => "ep-1h-code",
            Preset::Ep2h => "ep-2h",
            Preset::Ep3h => "ep-3h",
        }
    }

    /// One line saying what the preset is.
    pub fn description(self) -> &'static str {
        match self {
            Preset::Quick => {
                "784-500-10, 15 epochs on the embedded 10k/2k subset, alternating eps 1, centred beta 0.5 (default)"
            }
            Preset::Ep1h => "784-500-10, T 20, K 4, beta 1, alphas 0.1 0.05, 25 epochs (paper)",
            Preset::Ep1hCode => {
                "ep-1h with the reference code's C = ||y-d||^2 and beta 0.5 (25 epochs)"
            }
            Preset::Ep2h => "784-500-500-10, T 100, K 6, beta 1, alphas 0.4 0.1 0.01, 60 epochs",
            Preset::Ep3h => {
                "784-500-500-500-10, T 500, K 8, beta 1, alphas 0.128 0.032 0.008 0.002, 500 epochs"
            }
        }
    }

    /// All preset names.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|p| p.name()).collect()
    }

    /// Look a preset up by name.
    pub fn from_name(name: &str) -> Option<Preset> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The preset's configuration.
    pub fn config(self) -> Config {
        let mut c = Config::default();
        match self {
            Preset::Quick => {
                c.dynamics.epsilon = 1.0;
                c.dynamics.schedule = Schedule::Alternating;
                c.training.beta = 0.5;
                c.training.beta_sign = BetaSign::Centred;
                c.training.persistent_particles = false;
                c.training.data_order = DataOrder::Shuffled;
            }
            Preset::Ep1h => {
                c.training.epochs = 25;
            }
            Preset::Ep1hCode => {
                c.training.epochs = 25;
                c.training.beta = 0.5;
                c.training.cost = CostKind::Squared;
            }
            Preset::Ep2h => {
                c.model.layers = vec![784, 500, 500, 10];
                c.dynamics.free_steps = 100;
                c.dynamics.nudged_steps = 6;
                c.training.alphas = vec![0.4, 0.1, 0.01];
                c.training.epochs = 60;
            }
            Preset::Ep3h => {
                c.model.layers = vec![784, 500, 500, 500, 10];
                c.dynamics.free_steps = 500;
                c.dynamics.nudged_steps = 8;
                c.training.alphas = vec![0.128, 0.032, 0.008, 0.002];
                c.training.epochs = 500;
            }
        }
        c
    }
}

impl std::str::FromStr for Preset {
    type Err = crate::ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::from_name(s).ok_or_else(|| crate::ConfigError::UnknownPreset(s.to_owned()))
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
