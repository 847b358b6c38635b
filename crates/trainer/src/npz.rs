//! Reading `.npz` archives (this program's or numpy's) so that anything numpy can write is
//! either taken or refused with a message, never a panic or an abort: each array's `.npy`
//! header is read and checked (shape, dtype, declared size against the archive entry) before
//! its data is allocated. Float arrays may be `float32` or `float64` (cast), either byte order,
//! C or Fortran order (converted to C order, which the kernels need).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use ndarray_npy::ReadNpyExt;
use ndarray_npy::npy::header::Header;
use zip::ZipArchive;

use crate::TrainError;

/// An open `.npz` archive.
pub struct NpzFile {
    zip: ZipArchive<BufReader<File>>,
    path: PathBuf,
}

impl std::fmt::Debug for NpzFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpzFile").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Element types the reader takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F32,
    F64,
    U8,
}

impl Dtype {
    fn size(self) -> u64 {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
            Dtype::U8 => 1,
        }
    }

    /// From a numpy type descriptor such as `<f4`, `>f8` or `|u1`.
    fn parse(descr: &str) -> Option<Self> {
        let body = descr.trim_start_matches(['<', '>', '=', '|']);
        match body {
            "f4" => Some(Dtype::F32),
            "f8" => Some(Dtype::F64),
            "u1" | "B" => Some(Dtype::U8),
            _ => None,
        }
    }
}

impl NpzFile {
    /// Open `path`; a file that is not a zip archive is refused.
    pub fn open(path: &Path) -> Result<Self, TrainError> {
        let file = File::open(path).map_err(|e| bad(path, format!("cannot open: {e}")))?;
        let zip = ZipArchive::new(BufReader::new(file))
            .map_err(|e| bad(path, format!("not a readable .npz file: {e}")))?;
        Ok(Self { zip, path: path.to_owned() })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the archive holds an array called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.entry(name).is_some()
    }

    /// The archive entry of array `name` (`name.npy`, or `name` as numpy also accepts).
    fn entry(&self, name: &str) -> Option<String> {
        let npy = format!("{name}.npy");
        self.zip
            .index_for_name(&npy)
            .map(|_| npy)
            .or_else(|| self.zip.index_for_name(name).map(|_| name.to_owned()))
    }

    /// Read array `name`'s header and check it: the dtype is one of `allowed`, the shape is
    /// accepted by `shape_ok` (which says what was expected), and the declared data fits in the
    /// archive entry. Returns the entry name and the dtype.
    fn check(
        &mut self,
        name: &str,
        allowed: &[Dtype],
        shape_ok: impl FnOnce(&[usize]) -> Result<(), String>,
    ) -> Result<(String, Dtype), TrainError> {
        let path = self.path.clone();
        let entry =
            self.entry(name).ok_or_else(|| bad(&path, format!("array `{name}` is missing")))?;
        let mut file =
            self.zip.by_name(&entry).map_err(|e| bad(&path, format!("array `{name}`: {e}")))?;
        let entry_size = file.size();
        let header = Header::from_reader(&mut file)
            .map_err(|e| bad(&path, format!("array `{name}`: not a .npy array: {e}")))?;
        let descr = header.type_descriptor.as_string().cloned().unwrap_or_default();
        let dtype = Dtype::parse(&descr).filter(|d| allowed.contains(d)).ok_or_else(|| {
            bad(
                &path,
                format!(
                    "array {name} has dtype {}, expected {}",
                    header.type_descriptor,
                    names(allowed)
                ),
            )
        })?;
        shape_ok(&header.shape).map_err(|reason| bad(&path, format!("array {name} {reason}")))?;
        header
            .shape
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d as u64))
            .filter(|&b| b <= entry_size)
            .ok_or_else(|| {
                bad(
                    &path,
                    format!(
                        "array `{name}` declares shape {} of {descr}, more than the {entry_size} bytes its entry holds",
                        tuple(&header.shape)
                    ),
                )
            })?;
        Ok((entry, dtype))
    }

    /// Float array `name` of exactly `shape`, as `f32` in standard (C) layout.
    pub fn floats(&mut self, name: &str, shape: &[usize]) -> Result<ArrayD<f32>, TrainError> {
        let (entry, dtype) = self.check(name, &[Dtype::F32, Dtype::F64], |got| {
            if got == shape {
                Ok(())
            } else {
                Err(format!("has shape {}, the config needs {}", tuple(got), tuple(shape)))
            }
        })?;
        let path = self.path.clone();
        let read_err = |e: ndarray_npy::ReadNpyError| bad(&path, format!("array `{name}`: {e}"));
        let file =
            self.zip.by_name(&entry).map_err(|e| bad(&path, format!("array `{name}`: {e}")))?;
        let a: ArrayD<f32> = match dtype {
            Dtype::F32 => ArrayD::<f32>::read_npy(file).map_err(read_err)?,
            Dtype::F64 => ArrayD::<f64>::read_npy(file).map_err(read_err)?.mapv(|v| v as f32),
            Dtype::U8 => unreachable!("not allowed above"),
        };
        let a = if a.is_standard_layout() { a } else { a.as_standard_layout().into_owned() };
        if !a.as_slice().is_some_and(ebm_core::kernels::all_finite) {
            return Err(bad(&path, format!("array {name} holds NaN or infinite values")));
        }
        Ok(a.into_shape_with_order(IxDyn(shape)).expect("shape checked"))
    }

    /// Byte array `name` (1-dimensional `uint8`) of at most `max_len` bytes.
    pub fn bytes(&mut self, name: &str, max_len: usize) -> Result<Vec<u8>, TrainError> {
        let (entry, _) = self.check(name, &[Dtype::U8], |got| match got {
            [n] if *n <= max_len => Ok(()),
            [n] => Err(format!("holds {n} bytes, more than the {max_len} accepted")),
            _ => Err(format!("has shape {}, expected one dimension", tuple(got))),
        })?;
        let path = self.path.clone();
        let file =
            self.zip.by_name(&entry).map_err(|e| bad(&path, format!("array `{name}`: {e}")))?;
        let a =
            ArrayD::<u8>::read_npy(file).map_err(|e| bad(&path, format!("array `{name}`: {e}")))?;
        Ok(a.into_iter().collect())
    }
}

/// A shape as numpy prints it: `(784, 20)`, `(20,)`.
fn tuple(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    }
}

fn names(allowed: &[Dtype]) -> &'static str {
    if allowed.contains(&Dtype::U8) { "uint8" } else { "float32 or float64" }
}

fn bad(path: &Path, reason: impl Into<String>) -> TrainError {
    TrainError::Checkpoint { path: path.to_owned(), reason: reason.into() }
}
