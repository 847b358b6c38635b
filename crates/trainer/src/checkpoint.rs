//! A run's files as `.npz` (numpy-loadable), written atomically (temporary file + rename), so a
//! crash never leaves a partial file:
//!
//! - `model.npz`, what a user shares: the weights `W0..` (`(n_k, n_(k+1))`, float32), the
//!   biases `b0..` (`(n_(k+1),)`) and `meta`; about 1.6 MB for `ep-1h`.
//! - `checkpoint.npz`, what `--resume` needs: the same, plus the persistent particles
//!   `train_s1..` (`(n_train, n_k)`) and `test_s1..` (`(n_test, n_k)`) and the current epoch's
//!   starting weights `epoch_start_W0..`, and with a validation set its persistent particles
//!   `validation_s1..` (`(n_validation, n_k)`).
//!
//! `meta` is a `uint8` array holding UTF-8 JSON: format version, kind (`model` or `checkpoint`),
//! the effective config as TOML, the provenance (program, command, times, data source and
//! fingerprint), epoch, minibatch, the current epoch's running sums and the metrics history.
//! `docs/formats.md` documents every field.
//!
//! Every random draw is a pure function of (seed, stream, epoch, minibatch) (see
//! [`crate::ep::stream_rng`]), so no generator state needs saving: resuming from a checkpoint
//! reproduces the uninterrupted run bit for bit. What a resumed run may change is fixed here
//! ([`RESUME_MAY_CHANGE`]); anything else would change the meaning of the saved state and is
//! refused.

use std::path::Path;

use ebm_config::{Config, ValidConfig};
use ebm_core::{LayeredNet, Rho};
use ndarray::{Array1, Array2, Ix1, Ix2};
use ndarray_npy::NpzWriter;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::data::DataSplits;
use crate::npz::NpzFile;
use crate::provenance::Provenance;
use crate::run::{EpochMetrics, PartialEpoch, SelectedEpoch, TrainState, check_data};

/// The resume state's file name inside a run's directory.
pub const FILE_NAME: &str = "checkpoint.npz";
/// The model file's name inside a run's directory.
pub const MODEL_FILE_NAME: &str = "model.npz";
/// The format this program writes; it reads this one and format 1 (no provenance, no kind).
const FORMAT: u32 = 2;
/// Largest `meta` accepted (the history of a long run is a few hundred kB).
const MAX_META_BYTES: usize = 64 << 20;

/// Config keys (or whole sections) that `--resume` may change: how long to run, the learning
/// rates from here on (annealing a run by hand), how often to save and evaluate the training
/// set, where to write, and the other commands' settings. `data.dir` may point elsewhere when
/// the data there has the recorded fingerprint. Every other key (the model, the data and its
/// limits, the seed, the dynamics, the batch size and data order, nudging and the learning
/// rule) would change the meaning of the saved state (its particles, its position in the
/// epoch) or mix two algorithms in one run, and is refused. The saved config is the latest;
/// the command lines of earlier processes are in `provenance.resumed_from`.
pub const RESUME_MAY_CHANGE: &[&str] = &[
    "training.epochs",
    "training.alphas",
    "training.alpha_decay",
    "training.checkpoint_every",
    "training.checkpoint_every_batches",
    "training.train_eval_every",
    "training.train_eval_examples",
    "data.dir",
    "output",
    "stdp",
    "propagate",
    "gradcheck",
    "relax_steps",
    "symmetry",
];

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `checkpoint.npz`: everything a resumed run needs.
    Checkpoint,
    /// `model.npz`: the parameters and the run's description.
    Model,
}

fn checkpoint_kind() -> Kind {
    Kind::Checkpoint
}

#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    #[serde(default = "checkpoint_kind")]
    kind: Kind,
    config_toml: String,
    #[serde(default)]
    provenance: Option<Provenance>,
    epoch: usize,
    batch: usize,
    partial: PartialEpoch,
    history: Vec<EpochMetrics>,
    #[serde(default)]
    selected: Option<SelectedEpoch>,
}

/// What a saved file says about its run (its `meta`).
#[derive(Debug, Clone)]
pub struct SavedRun {
    /// What the file holds.
    pub kind: Kind,
    /// The saved effective config, with any overrides applied.
    pub config: ValidConfig,
    /// Provenance and data source (`None` in files of format 1).
    pub provenance: Option<Provenance>,
    /// Completed epochs.
    pub epoch: usize,
    /// Minibatches completed in the current epoch.
    pub batch: usize,
    /// Metrics of the completed epochs.
    pub history: Vec<EpochMetrics>,
}

fn bad(path: &Path, reason: impl Into<String>) -> TrainError {
    TrainError::Checkpoint { path: path.to_owned(), reason: reason.into() }
}

/// Write the resume state of `state` to `path` atomically.
pub fn save(path: &Path, state: &TrainState) -> Result<(), TrainError> {
    write(path, state, Kind::Checkpoint)
}

/// The file a `--checkpoint` argument names: a file, or a run directory (its
/// `checkpoint.npz`, else its `model.npz`).
pub fn resolve(arg: &Path) -> std::path::PathBuf {
    if arg.is_dir() {
        let resume = arg.join(FILE_NAME);
        if resume.exists() { resume } else { arg.join(MODEL_FILE_NAME) }
    } else {
        arg.to_owned()
    }
}

/// Write the model file of `state` (parameters and `meta`) to `path` atomically.
pub fn save_model(path: &Path, state: &TrainState) -> Result<(), TrainError> {
    write(path, state, Kind::Model)
}

fn write(path: &Path, state: &TrainState, kind: Kind) -> Result<(), TrainError> {
    encode(path, state, kind)?.write()
}

/// A checkpoint built in memory, to be written later (e.g. by another thread while training
/// goes on): [`Encoded::write`] writes it atomically.
#[derive(Debug)]
pub struct Encoded {
    path: std::path::PathBuf,
    bytes: Vec<u8>,
    /// The epochs and minibatches done in the state it holds.
    pub done: (usize, usize),
}

impl Encoded {
    /// Write it to its path atomically (temp file, sync, rename).
    pub fn write(&self) -> Result<(), TrainError> {
        crate::io::write_atomic_with(&self.path, |w| w.write_all(&self.bytes))?;
        Ok(())
    }

    /// Where it goes.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `state`'s checkpoint, encoded for `path` but not written ([`save`] is `encode` + write).
pub fn encode_checkpoint(path: &Path, state: &TrainState) -> Result<Encoded, TrainError> {
    encode(path, state, Kind::Checkpoint)
}

fn encode(path: &Path, state: &TrainState, kind: Kind) -> Result<Encoded, TrainError> {
    // Built in memory, where writing cannot fail, then written through one atomic writer: a
    // full disk gives one error and no half-finished archive reports anything on drop.
    let npz_err = |e: ndarray_npy::WriteNpzError| bad(path, format!("cannot encode: {e}"));
    let mut npz = NpzWriter::new(std::io::Cursor::new(Vec::new()));
    for (k, (w, b)) in state.net.weights.iter().zip(&state.net.biases).enumerate() {
        npz.add_array(format!("W{k}"), w).map_err(npz_err)?;
        npz.add_array(format!("b{k}"), b).map_err(npz_err)?;
    }
    if kind == Kind::Checkpoint {
        for (k, (tr, te)) in state.train_particles.iter().zip(&state.test_particles).enumerate() {
            npz.add_array(format!("train_s{}", k + 1), tr).map_err(npz_err)?;
            npz.add_array(format!("test_s{}", k + 1), te).map_err(npz_err)?;
        }
        for (k, w) in state.epoch_start.iter().enumerate() {
            npz.add_array(format!("epoch_start_W{k}"), w).map_err(npz_err)?;
        }
        for (k, v) in state.validation_particles.iter().enumerate() {
            npz.add_array(format!("validation_s{}", k + 1), v).map_err(npz_err)?;
        }
    }
    let meta = Meta {
        format: FORMAT,
        kind,
        config_toml: state.config.to_toml_string(),
        provenance: Some(state.provenance.stamped()),
        epoch: state.epoch,
        batch: state.batch,
        partial: state.partial.clone(),
        history: state.history.clone(),
        selected: state.selected.clone(),
    };
    let json = serde_json::to_vec(&meta).map_err(|e| bad(path, format!("cannot encode: {e}")))?;
    npz.add_array("meta", &Array1::from(json)).map_err(npz_err)?;
    let bytes = npz.finish().map_err(npz_err)?.into_inner();
    Ok(Encoded { path: path.to_owned(), bytes, done: (state.epoch, state.batch) })
}

/// SHA-256 (lowercase hex) of the parameters as a model file stores them: the little-endian
/// float32 bytes of `W0`, `b0`, `W1`, `b1`, ... in that order, each array in C order. Two runs
/// with this digest equal trained to bit-identical parameters.
pub fn parameters_sha256(net: &LayeredNet<f32>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut add = |values: &mut dyn Iterator<Item = &f32>| {
        let bytes: Vec<u8> = values.flat_map(|v| v.to_le_bytes()).collect();
        hasher.update(&bytes);
    };
    for (w, b) in net.weights.iter().zip(&net.biases) {
        add(&mut w.iter());
        add(&mut b.iter());
    }
    crate::data::fetch::hex(&hasher.finalize())
}

/// Open a saved file and read its metadata.
fn open(path: &Path) -> Result<(NpzFile, Meta), TrainError> {
    let mut npz = NpzFile::open(path)?;
    let meta = npz.bytes("meta", MAX_META_BYTES)?;
    let meta: Meta = serde_json::from_slice(&meta)
        .map_err(|e| bad(path, format!("array `meta` is not valid metadata: {e}")))?;
    if !(1..=FORMAT).contains(&meta.format) {
        return Err(bad(
            path,
            format!("format {} (this program reads formats 1 to {FORMAT})", meta.format),
        ));
    }
    Ok((npz, meta))
}

/// The saved config with `overrides` applied, validated.
fn config_of(path: &Path, meta: &Meta, overrides: &[String]) -> Result<ValidConfig, TrainError> {
    Config::from_toml_str(&meta.config_toml, &format!("{} (meta)", path.display()))
        .and_then(|c| c.with_overrides(overrides))
        .and_then(Config::validate)
        .map_err(|e| bad(path, e.to_string()))
}

fn saved_run(path: &Path, meta: &Meta, overrides: &[String]) -> Result<SavedRun, TrainError> {
    Ok(SavedRun {
        kind: meta.kind,
        config: config_of(path, meta, overrides)?,
        provenance: meta.provenance.clone(),
        epoch: meta.epoch,
        batch: meta.batch,
        history: meta.history.clone(),
    })
}

fn matrix(npz: &mut NpzFile, name: &str, shape: (usize, usize)) -> Result<Array2<f32>, TrainError> {
    let a = npz.floats(name, &[shape.0, shape.1])?;
    Ok(a.into_dimensionality::<Ix2>().expect("two dimensions checked"))
}

/// The weights `W{k}` and biases `b{k}` of the config's architecture.
fn read_net(npz: &mut NpzFile, config: &ValidConfig) -> Result<LayeredNet<f32>, TrainError> {
    let sizes = &config.model.layers;
    let mut weights = Vec::new();
    let mut biases = Vec::new();
    for k in 0..sizes.len() - 1 {
        weights.push(matrix(npz, &format!("W{k}"), (sizes[k], sizes[k + 1]))?);
        let b = npz.floats(&format!("b{k}"), &[sizes[k + 1]])?;
        biases.push(b.into_dimensionality::<Ix1>().expect("one dimension checked"));
    }
    let net = LayeredNet::from_parts(weights, biases, Rho::from_config(&config.model.rho))
        .map_err(|e| bad(npz.path(), e.to_string()))?;
    Ok(net)
}

/// Read a checkpoint to continue its run on `data`. The effective config is the saved one with
/// `overrides` (`path=value`) applied; an override of a key outside [`RESUME_MAY_CHANGE`] is
/// refused, and so is data whose fingerprint differs from the recorded one.
pub fn load(
    path: &Path,
    data: &DataSplits,
    overrides: &[String],
) -> Result<TrainState, TrainError> {
    let (mut npz, meta) = open(path)?;
    if meta.kind != Kind::Checkpoint {
        return Err(bad(path, "is a model file, not a checkpoint: it cannot be resumed"));
    }
    let saved = config_of(path, &meta, &[])?;
    let config = config_of(path, &meta, overrides)?;
    check_resume_changes(path, &saved, &config)?;
    if let Some(p) = &meta.provenance {
        check_same_data(p, data)?;
    }
    check_data(&config, data)?;
    let net = read_net(&mut npz, &config)?;
    let sizes = &config.model.layers;
    let depth = sizes.len() - 1;
    let mut epoch_start = Vec::new();
    for k in 0..depth {
        epoch_start.push(matrix(&mut npz, &format!("epoch_start_W{k}"), (sizes[k], sizes[k + 1]))?);
    }
    let mut train_particles = Vec::new();
    let mut test_particles = Vec::new();
    for k in 1..=depth {
        train_particles.push(matrix(
            &mut npz,
            &format!("train_s{k}"),
            (data.train.len(), sizes[k]),
        )?);
        test_particles.push(matrix(&mut npz, &format!("test_s{k}"), (data.test.len(), sizes[k]))?);
    }
    let mut validation_particles = Vec::new();
    if let Some(v) = &data.validation {
        for k in 1..=depth {
            let name = format!("validation_s{k}");
            validation_particles.push(matrix(&mut npz, &name, (v.len(), sizes[k]))?);
        }
    }
    let provenance = meta.provenance.unwrap_or_else(|| TrainState::default_provenance(data));
    Ok(TrainState {
        config,
        net,
        train_particles,
        test_particles,
        validation_particles,
        selected: meta.selected,
        epoch: meta.epoch,
        batch: meta.batch,
        partial: meta.partial,
        epoch_start,
        history: meta.history,
        provenance,
    })
}

/// Refuse a resumed config that changes a key outside [`RESUME_MAY_CHANGE`].
fn check_resume_changes(
    path: &Path,
    saved: &ValidConfig,
    config: &ValidConfig,
) -> Result<(), TrainError> {
    let allowed = |key: &str| {
        RESUME_MAY_CHANGE
            .iter()
            .any(|a| key == *a || key.strip_prefix(a).is_some_and(|rest| rest.starts_with('.')))
    };
    // A schedule that ends the run annealed depends on the run's length: the epochs are then
    // part of what was declared before the run.
    let fixed_length = saved.training.schedule != ebm_config::RateSchedule::Constant;
    let refused: Vec<String> = saved
        .changed_keys(config)
        .into_iter()
        .filter(|c| !allowed(&c.key) || (fixed_length && c.key == "training.epochs"))
        .map(|c| c.to_string())
        .collect();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(TrainError::ResumeChange { path: path.to_owned(), changes: refused })
    }
}

/// Refuse data whose fingerprint differs from the one a run recorded.
pub fn check_same_data(recorded: &Provenance, data: &DataSplits) -> Result<(), TrainError> {
    if recorded.data.same_data(&data.source) {
        Ok(())
    } else {
        Err(TrainError::DataMismatch {
            recorded: recorded.data.clone(),
            given: data.source.clone(),
        })
    }
}

/// The metadata of a model or checkpoint file, its config with `overrides` applied (to find
/// the data a resumed run or an evaluation needs before reading its arrays).
pub fn read_saved(path: &Path, overrides: &[String]) -> Result<SavedRun, TrainError> {
    let (_, meta) = open(path)?;
    saved_run(path, &meta, overrides)
}

/// The network of a model or checkpoint file, with its metadata; `overrides` (`path=value`)
/// apply to the saved config before it is validated (e.g. another relaxation schedule for
/// evaluation).
pub fn load_net_with(
    path: &Path,
    overrides: &[String],
) -> Result<(SavedRun, LayeredNet<f32>), TrainError> {
    let (mut npz, meta) = open(path)?;
    let saved = saved_run(path, &meta, overrides)?;
    let net = read_net(&mut npz, &saved.config)?;
    Ok((saved, net))
}

/// [`load_net_with`] without overrides.
pub fn load_net(path: &Path) -> Result<(ValidConfig, LayeredNet<f32>), TrainError> {
    load_net_with(path, &[]).map(|(saved, net)| (saved.config, net))
}

/// The persistent test particles `test_s1..` of a checkpoint (`None` for a model file), for a
/// test set of `n_test` examples.
pub fn load_test_particles(
    path: &Path,
    config: &ValidConfig,
    n_test: usize,
) -> Result<Option<Vec<Array2<f32>>>, TrainError> {
    let mut npz = NpzFile::open(path)?;
    if !npz.contains("test_s1") {
        return Ok(None);
    }
    let sizes = &config.model.layers;
    (1..sizes.len())
        .map(|k| matrix(&mut npz, &format!("test_s{k}"), (n_test, sizes[k])))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
