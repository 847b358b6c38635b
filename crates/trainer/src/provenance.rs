//! Provenance: what produced a run's numbers (program version and commit, command line, times,
//! threads, machine, data), carried by every checkpoint, model file and `summary.json`.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::data::DataSource;

/// One process's part in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// The program version (`ebm --version`).
    pub version: String,
    /// The git commit the program was built from (`unknown` outside a git checkout).
    pub git_commit: String,
    /// The command line (`argv`).
    pub command: Vec<String>,
    /// When the process started (RFC 3339, UTC).
    pub started: String,
    /// When it finished or last wrote its state (RFC 3339, UTC); `None` while it runs.
    pub finished: Option<String>,
    /// Worker threads it used.
    pub threads: usize,
    /// Cores the machine offers the process.
    pub host_cores: usize,
    /// The instruction set the relaxation kernels ran on (`avx512`, `avx2+fma`, `baseline`:
    /// chosen at run time, see `ebm_core::kernels::simd_level`).
    #[serde(default)]
    pub simd: String,
}

/// Where a run's numbers come from: the current (or last) process, the data, and, for a run
/// continued with `--resume`, the processes before it, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The process that wrote this record.
    #[serde(flatten)]
    pub process: Process,
    /// The data the run was trained (or evaluated) on.
    pub data: DataSource,
    /// Earlier processes of the same run (`--resume`), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed_from: Vec<Process>,
}

impl Process {
    /// The running process, started now.
    pub fn start(version: &str, git_commit: &str, command: Vec<String>, threads: usize) -> Self {
        Self {
            version: version.to_owned(),
            git_commit: git_commit.to_owned(),
            command,
            started: now(),
            finished: None,
            threads,
            host_cores: std::thread::available_parallelism().map_or(1, usize::from),
            simd: ebm_core::kernels::simd_level().to_owned(),
        }
    }
}

impl Provenance {
    /// A record for `process` on `data`.
    pub fn new(process: Process, data: DataSource) -> Self {
        Self { process, data, resumed_from: Vec::new() }
    }

    /// The record of a run continued by `process`: the saved record's processes become
    /// `resumed_from`.
    pub fn resumed(saved: Provenance, process: Process) -> Self {
        let mut resumed_from = saved.resumed_from;
        resumed_from.push(saved.process);
        Self { process, data: saved.data, resumed_from }
    }

    /// The record stamped as finished now (for a checkpoint or a final summary).
    pub fn stamped(&self) -> Self {
        let mut p = self.clone();
        p.process.finished = Some(now());
        p
    }
}

/// The current time, RFC 3339 in UTC to the second.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
