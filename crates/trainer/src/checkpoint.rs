//! Checkpoints as `.npz` (numpy-loadable): arrays `W0..`, `b0..`, the persistent particles
//! `train_s1..`, `test_s1..`, the current epoch's starting weights `epoch_start_W0..`, and `meta`
//! (UTF-8 JSON bytes: format version, effective config as TOML, epoch, minibatch, running sums,
//! metrics history). Written atomically (temp file + rename), so a crash never leaves a
//! partial checkpoint; reading checks every array's presence and shape.
//!
//! Every random draw is a pure function of (seed, stream, epoch, minibatch) (see
//! [`crate::ep::stream_rng`]), so no generator state needs saving: resuming from a checkpoint
//! reproduces the uninterrupted run bit for bit.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use ebm_config::{Config, ValidConfig};
use ebm_core::{LayeredNet, Rho};
use ndarray::{Array1, Array2};
use ndarray_npy::{NpzReader, NpzWriter};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::data::Mnist;
use crate::run::{EpochMetrics, PartialEpoch, TrainState, check_data};

/// The checkpoint file name inside a run's directory.
pub const FILE_NAME: &str = "checkpoint.npz";
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    config_toml: String,
    epoch: usize,
    batch: usize,
    partial: PartialEpoch,
    history: Vec<EpochMetrics>,
}

fn bad(path: &Path, reason: impl Into<String>) -> TrainError {
    TrainError::Checkpoint { path: path.to_owned(), reason: reason.into() }
}

/// Write `state` to `path` atomically.
pub fn save(path: &Path, state: &TrainState) -> Result<(), TrainError> {
    let write_err = |e: std::io::Error| TrainError::Write { path: path.to_owned(), source: e };
    let npz_err = |e: ndarray_npy::WriteNpzError| bad(path, format!("cannot write: {e}"));
    let tmp = crate::data::idx::temp_file_beside(path).map_err(write_err)?;
    {
        let mut npz = NpzWriter::new(BufWriter::new(tmp.as_file()));
        for (k, (w, b)) in state.net.weights.iter().zip(&state.net.biases).enumerate() {
            npz.add_array(format!("W{k}"), w).map_err(npz_err)?;
            npz.add_array(format!("b{k}"), b).map_err(npz_err)?;
        }
        for (k, (tr, te)) in state.train_particles.iter().zip(&state.test_particles).enumerate() {
            npz.add_array(format!("train_s{}", k + 1), tr).map_err(npz_err)?;
            npz.add_array(format!("test_s{}", k + 1), te).map_err(npz_err)?;
        }
        for (k, w) in state.epoch_start.iter().enumerate() {
            npz.add_array(format!("epoch_start_W{k}"), w).map_err(npz_err)?;
        }
        let meta = Meta {
            format: FORMAT,
            config_toml: state.config.to_toml_string(),
            epoch: state.epoch,
            batch: state.batch,
            partial: state.partial.clone(),
            history: state.history.clone(),
        };
        let json = serde_json::to_vec(&meta).expect("meta serialises");
        npz.add_array("meta", &Array1::from(json)).map_err(npz_err)?;
        let writer = npz.finish().map_err(npz_err)?;
        writer
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?
            .sync_all()
            .map_err(write_err)?;
    }
    crate::data::idx::readable_by_all(tmp.as_file()).map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}

type Npz = NpzReader<BufReader<File>>;

/// Open a checkpoint and read its metadata.
fn open(path: &Path) -> Result<(Npz, Meta), TrainError> {
    let file = File::open(path).map_err(|e| bad(path, format!("cannot open: {e}")))?;
    let mut npz = NpzReader::new(BufReader::new(file))
        .map_err(|e| bad(path, format!("not a readable .npz file: {e}")))?;
    let meta: Array1<u8> = read(&mut npz, path, "meta")?;
    let meta: Meta = serde_json::from_slice(meta.as_slice().unwrap_or(&[]))
        .map_err(|e| bad(path, format!("array `meta` is not valid metadata: {e}")))?;
    if meta.format != FORMAT {
        return Err(bad(
            path,
            format!("format {} (this program reads format {FORMAT})", meta.format),
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

/// The weights `W{k}` and biases `b{k}` of the config's architecture.
fn read_net(
    npz: &mut Npz,
    path: &Path,
    config: &ValidConfig,
) -> Result<LayeredNet<f32>, TrainError> {
    let sizes = &config.model.layers;
    let mut weights = Vec::new();
    let mut biases = Vec::new();
    for k in 0..sizes.len() - 1 {
        weights.push(read_shaped2(npz, path, &format!("W{k}"), (sizes[k], sizes[k + 1]))?);
        let b: Array1<f32> = read(npz, path, &format!("b{k}"))?;
        if b.len() != sizes[k + 1] {
            return Err(bad(
                path,
                format!(
                    "array b{k} has {} entries, the config's architecture {sizes:?} needs {}",
                    b.len(),
                    sizes[k + 1]
                ),
            ));
        }
        biases.push(b);
    }
    let net = LayeredNet::from_parts(weights, biases, Rho::from_config(&config.model.rho))?;
    net.check_finite().map_err(|e| bad(path, e.to_string()))?;
    Ok(net)
}

/// Read a checkpoint and check it against `data`. The effective config is the one saved in the
/// checkpoint, with `overrides` (`path=value`) applied on top (e.g. more epochs).
pub fn load(path: &Path, data: &Mnist, overrides: &[String]) -> Result<TrainState, TrainError> {
    let (mut npz, meta) = open(path)?;
    let config = config_of(path, &meta, overrides)?;
    check_data(&config, data)?;
    let net = read_net(&mut npz, path, &config)?;
    let sizes = &config.model.layers;
    let depth = sizes.len() - 1;
    let mut epoch_start = Vec::new();
    for k in 0..depth {
        let name = format!("epoch_start_W{k}");
        epoch_start.push(read_shaped2(&mut npz, path, &name, (sizes[k], sizes[k + 1]))?);
    }
    let mut train_particles = Vec::new();
    let mut test_particles = Vec::new();
    for k in 1..=depth {
        let (n_train, n_test) = (data.train.len(), data.test.len());
        train_particles.push(read_shaped2(
            &mut npz,
            path,
            &format!("train_s{k}"),
            (n_train, sizes[k]),
        )?);
        test_particles.push(read_shaped2(
            &mut npz,
            path,
            &format!("test_s{k}"),
            (n_test, sizes[k]),
        )?);
    }
    Ok(TrainState {
        config,
        net,
        train_particles,
        test_particles,
        epoch: meta.epoch,
        batch: meta.batch,
        partial: meta.partial,
        epoch_start,
        history: meta.history,
    })
}

/// The effective configuration saved in a checkpoint, with `overrides` applied on top (to load
/// the data a resumed run needs before its arrays).
pub fn read_config(path: &Path, overrides: &[String]) -> Result<ValidConfig, TrainError> {
    let (_, meta) = open(path)?;
    config_of(path, &meta, overrides)
}

/// Read only the configuration and the network (for evaluation).
pub fn load_net(path: &Path) -> Result<(ValidConfig, LayeredNet<f32>), TrainError> {
    load_net_with(path, &[])
}

/// [`load_net`] with `--set`-style `overrides` (`path=value`) applied to the checkpoint's
/// config before it is validated (e.g. another relaxation schedule for evaluation).
pub fn load_net_with(
    path: &Path,
    overrides: &[String],
) -> Result<(ValidConfig, LayeredNet<f32>), TrainError> {
    let (mut npz, meta) = open(path)?;
    let config = config_of(path, &meta, overrides)?;
    let net = read_net(&mut npz, path, &config)?;
    Ok((config, net))
}

fn read<T, D>(npz: &mut Npz, path: &Path, name: &str) -> Result<ndarray::Array<T, D>, TrainError>
where
    T: ndarray_npy::ReadableElement,
    D: ndarray::Dimension,
{
    npz.by_name(&format!("{name}.npy")).map_err(|e| bad(path, format!("array `{name}`: {e}")))
}

fn read_shaped2(
    npz: &mut Npz,
    path: &Path,
    name: &str,
    shape: (usize, usize),
) -> Result<Array2<f32>, TrainError> {
    let a: Array2<f32> = read(npz, path, name)?;
    if a.dim() != shape {
        return Err(bad(
            path,
            format!("array {name} has shape {:?}, the config needs {:?}", a.dim(), shape),
        ));
    }
    Ok(a)
}
