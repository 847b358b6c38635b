//! The `data` argument of `ebm.train`: `"embedded"`, a directory of the four IDX files, or
//! numpy arrays `(x_train, y_train, x_test, y_test)` made into a `DataSplits` here (the
//! library reads data only from files).

use std::path::PathBuf;

use ebm_config::ValidConfig;
use ndarray::{Array2, ArrayView2, ArrayViewD, Axis, Ix2};
use numpy::{
    AllowTypeChange, IntoPyArray, PyArray2, PyArrayLike1, PyArrayLikeDyn, PyArrayMethods,
    PyReadonlyArray2, PyReadonlyArrayDyn,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use sha2::{Digest, Sha256};
use trainer::data::location_of;
use trainer::{DataSource, DataSplits, Dataset, Limits, Location};

/// Where a run's data comes from, resolved while the GIL is held; files are read without it.
pub(crate) enum DataArg {
    /// The embedded subset or a directory: read by `DataSplits::load`.
    Location(Location),
    /// Arrays given by the caller, already split and limited as the config says.
    Arrays(Box<DataSplits>),
}

impl DataArg {
    /// The data (files are read here: call it with the GIL released).
    pub(crate) fn load(self, config: &ValidConfig) -> Result<DataSplits, trainer::DataError> {
        match self {
            DataArg::Location(location) => {
                DataSplits::load(&location, Limits::from_config(&config.data))
            }
            DataArg::Arrays(splits) => Ok(*splits),
        }
    }
}

/// Resolve `data`: `None` is the config's `data.dir` (else the embedded subset), as `ebm
/// train` without `--data`; a `str` or `os.PathLike` is `--data` (`"embedded"` names the
/// embedded subset); a tuple or list of four arrays is `(x_train, y_train, x_test, y_test)`.
pub(crate) fn data_arg(data: Option<&Bound<'_, PyAny>>, config: &ValidConfig) -> PyResult<DataArg> {
    let Some(data) = data else {
        return Ok(DataArg::Location(location_of(&config.data)));
    };
    if data.is_instance_of::<PyTuple>() || data.is_instance_of::<PyList>() {
        let parts: Vec<Bound<'_, PyAny>> = data.try_iter()?.collect::<PyResult<_>>()?;
        let [xtr, ytr, xte, yte] = parts.as_slice() else {
            return Err(PyValueError::new_err(format!(
                "data as arrays is (x_train, y_train, x_test, y_test): got {} items",
                parts.len()
            )));
        };
        return Ok(DataArg::Arrays(Box::new(splits(config, xtr, ytr, xte, yte)?)));
    }
    match data.extract::<PathBuf>() {
        Ok(path) => Ok(DataArg::Location(Location::from_arg(&path))),
        Err(_) => Err(PyTypeError::new_err(format!(
            "data must be \"embedded\", a directory or (x_train, y_train, x_test, y_test), not {}",
            data.get_type().name()?
        ))),
    }
}

/// Images as `(n, pixels)` floats, their `(rows, cols)`, and the bytes that fingerprint them
/// (when asked for).
pub(crate) struct Images {
    pub(crate) x: Array2<f32>,
    shape: (usize, usize),
    digest: Vec<u8>,
}

fn be(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}

/// Images from `(n, pixels)` or `(n, rows, cols)`: `uint8` pixels are divided by 255 (as the
/// IDX reader does), any other dtype is converted to float32 and must be finite.
pub(crate) fn images(name: &str, obj: &Bound<'_, PyAny>, digest: bool) -> PyResult<Images> {
    if let Ok(raw) = obj.extract::<PyReadonlyArrayDyn<'_, u8>>() {
        let a = raw.as_array();
        let (x, shape) = flatten(name, a.mapv(|p| f32::from(p) / 255.0).view())?;
        // As the IDX file would hold it: the same fingerprint as the files of the same digits.
        let mut bytes = Vec::new();
        if digest {
            bytes.extend(0x0000_0803u32.to_be_bytes());
            for d in [x.nrows(), shape.0, shape.1] {
                bytes.extend(be(d));
            }
            bytes.extend(a.iter().copied());
        }
        return Ok(Images { x, shape, digest: bytes });
    }
    let floats: PyArrayLikeDyn<'_, f32, AllowTypeChange> = obj
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be a numeric array of images")))?;
    let a = floats.as_array();
    if let Some(i) = a.iter().position(|v| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "{name} holds a non-finite value (at flat index {i})"
        )));
    }
    let (x, shape) = flatten(name, a)?;
    let mut bytes = Vec::new();
    if digest {
        bytes.extend(b"ebm-f32-images");
        for d in [x.nrows(), shape.0, shape.1] {
            bytes.extend(be(d));
        }
        bytes.extend(x.iter().flat_map(|v| v.to_le_bytes()));
    }
    Ok(Images { x, shape, digest: bytes })
}

/// Images the free phase reads: a C-contiguous float32 `(n, pixels)` array in place (no
/// copy; it stays borrowed, read-only, while Rust reads it), anything else converted as
/// [`images`] converts it.
pub(crate) enum ImagesIn<'py> {
    Borrowed(PyReadonlyArray2<'py, f32>),
    Owned(Array2<f32>),
}

impl ImagesIn<'_> {
    pub(crate) fn view(&self) -> ArrayView2<'_, f32> {
        match self {
            ImagesIn::Borrowed(a) => a.as_array(),
            ImagesIn::Owned(a) => a.view(),
        }
    }
}

/// `obj` as [`ImagesIn`]: borrowed when its layout allows, else a converted copy.
pub(crate) fn images_in<'py>(name: &str, obj: &Bound<'py, PyAny>) -> PyResult<ImagesIn<'py>> {
    if let Ok(a) = obj.cast::<PyArray2<f32>>()
        && let Ok(ro) = a.try_readonly()
        && ro.as_array().is_standard_layout()
    {
        if let Some(i) = ro.as_array().iter().position(|v| !v.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "{name} holds a non-finite value (at flat index {i})"
            )));
        }
        return Ok(ImagesIn::Borrowed(ro));
    }
    Ok(ImagesIn::Owned(images(name, obj, false)?.x))
}

fn flatten(name: &str, a: ArrayViewD<'_, f32>) -> PyResult<(Array2<f32>, (usize, usize))> {
    let shape = a.shape().to_vec();
    match shape[..] {
        [n, rows, cols] => {
            let x = a.as_standard_layout().into_owned().into_shape_with_order((n, rows * cols));
            Ok((x.map_err(|e| PyValueError::new_err(e.to_string()))?, (rows, cols)))
        }
        [_, d] => {
            let side = (d as f64).sqrt().round() as usize;
            let image = if side * side == d { (side, side) } else { (1, d) };
            let x = a.into_dimensionality::<Ix2>().expect("two dimensions").to_owned();
            Ok((x, image))
        }
        _ => Err(PyValueError::new_err(format!(
            "{name} has shape {shape:?}: expected (n, pixels) or (n, rows, cols)"
        ))),
    }
}

/// Labels `0..=255` of `n` examples.
pub(crate) fn labels(name: &str, obj: &Bound<'_, PyAny>, n: usize) -> PyResult<Vec<u8>> {
    let y: PyArrayLike1<'_, i64, AllowTypeChange> = obj.extract().map_err(|_| {
        PyTypeError::new_err(format!("{name} must be a one-dimensional array of integer labels"))
    })?;
    let y = y.as_array();
    if y.len() != n {
        return Err(PyValueError::new_err(format!("{name} has {} labels for {n} images", y.len())));
    }
    y.iter()
        .enumerate()
        .map(|(i, &l)| {
            u8::try_from(l).map_err(|_| {
                PyValueError::new_err(format!("{name}[{i}] = {l}: a label must be 0 to 255"))
            })
        })
        .collect()
}

/// The splits of arrays as `DataSplits::load` makes them of files: the last
/// `data.validation` training examples held out, `data.train_limit` / `data.test_limit`
/// applied, the classes those of both arrays.
fn splits(
    config: &ValidConfig,
    xtr: &Bound<'_, PyAny>,
    ytr: &Bound<'_, PyAny>,
    xte: &Bound<'_, PyAny>,
    yte: &Bound<'_, PyAny>,
) -> PyResult<DataSplits> {
    let train_images = images("x_train", xtr, true)?;
    let train_labels = labels("y_train", ytr, train_images.x.nrows())?;
    let test_images = images("x_test", xte, true)?;
    let test_labels = labels("y_test", yte, test_images.x.nrows())?;
    if train_images.x.ncols() != test_images.x.ncols() {
        return Err(PyValueError::new_err(format!(
            "x_train has {} pixels per image but x_test has {}",
            train_images.x.ncols(),
            test_images.x.ncols()
        )));
    }
    let mut hasher = Sha256::new();
    for part in [
        &train_images.digest,
        &idx_labels(&train_labels),
        &test_images.digest,
        &idx_labels(&test_labels),
    ] {
        hasher.update(part);
    }
    let fingerprint = format!(
        "sha256:{}",
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let classes = train_labels.iter().chain(&test_labels).max().map_or(0, |&l| usize::from(l) + 1);
    let dataset = |im: &Images, labels: &[u8], rows: std::ops::Range<usize>| Dataset {
        images: im.x.slice_axis(Axis(0), rows.clone().into()).to_owned(),
        labels: labels[rows].to_vec(),
        classes,
        image_shape: im.shape,
    };
    let data = &config.data;
    let n = train_labels.len();
    if data.validation > 0 && data.validation >= n {
        return Err(PyValueError::new_err(format!(
            "data.validation = {} holds out every one of the {n} training examples",
            data.validation
        )));
    }
    let held_out = n - data.validation;
    let kept = data.train_limit.map_or(held_out, |l| l.min(held_out));
    let n_test = data.test_limit.map_or(test_labels.len(), |l| l.min(test_labels.len()));
    let splits = DataSplits {
        train: dataset(&train_images, &train_labels, 0..kept),
        validation: (data.validation > 0)
            .then(|| dataset(&train_images, &train_labels, held_out..n)),
        test: dataset(&test_images, &test_labels, 0..n_test),
        source: DataSource { source: Location::Memory, fingerprint },
    };
    for (set, name) in [(&splits.train, "x_train"), (&splits.test, "x_test")] {
        if set.is_empty() {
            return Err(PyValueError::new_err(format!("{name} has no example")));
        }
    }
    Ok(splits)
}

/// Labels as an IDX labels file holds them.
fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = 0x0000_0801u32.to_be_bytes().to_vec();
    bytes.extend(be(labels.len()));
    bytes.extend_from_slice(labels);
    bytes
}

/// The four arrays of a data set: `(x_train, y_train, x_test, y_test)`, images as `(n,
/// pixels)` float32 in [0, 1] (pixel / 255, as training sees them), labels uint8. `source` is
/// `"embedded"` (the embedded MNIST subset, 10,000 / 2,000; the default) or a directory of the
/// four IDX files (raw or `.gz`).
#[pyfunction]
#[pyo3(signature = (source = None))]
pub(crate) fn load_data<'py>(
    py: Python<'py>,
    source: Option<PathBuf>,
) -> PyResult<Bound<'py, PyTuple>> {
    let location = source.map_or(Location::Embedded, |s| Location::from_arg(&s));
    let data = py
        .detach(|| DataSplits::load(&location, Limits::default()))
        .map_err(|e| crate::train_err(e.into()))?;
    let DataSplits { train, test, .. } = data;
    (
        train.images.into_pyarray(py),
        train.labels.into_pyarray(py),
        test.images.into_pyarray(py),
        test.labels.into_pyarray(py),
    )
        .into_pyobject(py)
}
