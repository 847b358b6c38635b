//! `Dataset` (images as an `(n, pixels)` f32 matrix in [0, 1], labels 0..=9) and `Mnist` (a
//! train and a test set), loaded from a directory of the four standard files, from the embedded
//! subset, or as the configuration's `data` section says.

use std::path::{Path, PathBuf};

use ebm_config::DataConfig;
use ndarray::Array2;

use super::DataError;
use super::embedded;
use super::idx::{self, IdxImages};

/// The standard training images file name (raw; a `.gz` suffix is accepted too).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// The standard training labels file name.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// The standard test images file name.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// The standard test labels file name.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
/// The four standard names, in the order train images, train labels, test images, test labels.
pub const MNIST_FILES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// A labelled set of images, each flattened to one row (permutation-invariant input).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// images: (n, rows * cols), pixel / 255 in [0, 1]; (n, 784) for MNIST.
    pub images: Array2<f32>,
    /// labels: (n,), digits 0..=9.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Build from decoded IDX contents, keeping the first `limit` items (all when `None`).
    /// Fails if the counts differ (the paths are for the message).
    pub fn from_idx(
        images: &IdxImages,
        labels: &[u8],
        limit: Option<usize>,
        images_path: &Path,
        labels_path: &Path,
    ) -> Result<Self, DataError> {
        if images.count() != labels.len() {
            return Err(DataError::CountMismatch {
                images_path: images_path.to_owned(),
                images: images.count(),
                labels_path: labels_path.to_owned(),
                labels: labels.len(),
            });
        }
        let n = limit.map_or(labels.len(), |l| l.min(labels.len()));
        let d = images.pixels_per_image();
        let pixels: Vec<f32> =
            images.pixels[..n * d].iter().map(|&p| f32::from(p) / 255.0).collect();
        let images = Array2::from_shape_vec((n, d), pixels).expect("n * d pixels");
        Ok(Self { images, labels: labels[..n].to_vec() })
    }

    /// Read an images and a labels file (raw or gzip), keeping the first `limit` items.
    pub fn from_files(
        images_path: &Path,
        labels_path: &Path,
        limit: Option<usize>,
    ) -> Result<Self, DataError> {
        let images = idx::read_images(images_path)?;
        let labels = idx::read_labels(labels_path)?;
        Self::from_idx(&images, &labels, limit, images_path, labels_path)
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no example.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Inputs per example (784 for MNIST).
    pub fn n_features(&self) -> usize {
        self.images.ncols()
    }

    /// Examples per class, indexed by digit.
    pub fn class_counts(&self) -> [usize; 10] {
        let mut counts = [0; 10];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }
}

/// How many examples of each split to keep (the first N; `None` = all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Training examples to keep.
    pub train: Option<usize>,
    /// Test examples to keep.
    pub test: Option<usize>,
}

impl Limits {
    /// The limits of a configuration's `data` section.
    pub fn from_config(config: &DataConfig) -> Self {
        Self { train: config.train_limit, test: config.test_limit }
    }
}

/// MNIST: a training and a test set.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist {
    /// The training set.
    pub train: Dataset,
    /// The test set.
    pub test: Dataset,
}

impl Mnist {
    /// The embedded class-balanced subset (10,000 training and 2,000 test digits; see
    /// `crates/trainer/data/mini-mnist/README.md`).
    pub fn embedded() -> Result<Self, DataError> {
        Self::embedded_limited(Limits::default())
    }

    /// The embedded subset, keeping the first examples of each split as `limits` says.
    pub fn embedded_limited(limits: Limits) -> Result<Self, DataError> {
        let load = |images: &[u8], labels: &[u8], iname: &str, lname: &str, limit| {
            let ipath = PathBuf::from(format!("<embedded>/{iname}.gz"));
            let lpath = PathBuf::from(format!("<embedded>/{lname}.gz"));
            let images = idx::parse_images(images, &ipath)?;
            let labels = idx::parse_labels(labels, &lpath)?;
            Dataset::from_idx(&images, &labels, limit, &ipath, &lpath)
        };
        Ok(Self {
            train: load(
                embedded::TRAIN_IMAGES_GZ,
                embedded::TRAIN_LABELS_GZ,
                TRAIN_IMAGES,
                TRAIN_LABELS,
                limits.train,
            )?,
            test: load(
                embedded::TEST_IMAGES_GZ,
                embedded::TEST_LABELS_GZ,
                TEST_IMAGES,
                TEST_LABELS,
                limits.test,
            )?,
        })
    }

    /// Load the four standard files from `dir` (each raw or `.gz`), keeping the first
    /// examples of each split as `limits` says.
    pub fn load_dir(dir: &Path, limits: Limits) -> Result<Self, DataError> {
        let train = Dataset::from_files(
            &find_file(dir, TRAIN_IMAGES)?,
            &find_file(dir, TRAIN_LABELS)?,
            limits.train,
        )?;
        let test = Dataset::from_files(
            &find_file(dir, TEST_IMAGES)?,
            &find_file(dir, TEST_LABELS)?,
            limits.test,
        )?;
        Ok(Self { train, test })
    }

    /// What the configuration's `data` section says: `dir` when set, else the embedded subset;
    /// `train_limit` / `test_limit` applied either way.
    pub fn from_config(config: &DataConfig) -> Result<Self, DataError> {
        let limits = Limits::from_config(config);
        match &config.dir {
            Some(dir) => Self::load_dir(dir, limits),
            None => Self::embedded_limited(limits),
        }
    }
}

/// The path of the standard file `name` in `dir`: `name.gz` if it exists, else `name`.
/// A missing directory or file gives an error naming it.
pub fn find_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => {
            return Err(DataError::Io {
                path: dir.to_owned(),
                source: std::io::Error::other("not a directory"),
            });
        }
        Ok(_) => {}
        Err(e) => return Err(DataError::io(dir, e)),
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.symlink_metadata().is_ok() {
        return Ok(gz);
    }
    let raw = dir.join(name);
    if raw.symlink_metadata().is_ok() {
        return Ok(raw);
    }
    Err(DataError::MissingFile { dir: dir.to_owned(), name: name.to_owned() })
}

/// Indices of the first `per_class` examples of each digit, in file order (the rule of the
/// embedded subset). Fails, naming `labels_path`, if a digit has fewer examples.
pub fn balanced_indices(
    labels: &[u8],
    per_class: usize,
    labels_path: &Path,
) -> Result<Vec<usize>, DataError> {
    let mut taken = [0usize; 10];
    let mut indices = Vec::with_capacity(10 * per_class);
    for (i, &l) in labels.iter().enumerate() {
        let slot = taken.get_mut(usize::from(l)).ok_or(DataError::BadLabel {
            path: labels_path.to_owned(),
            index: i,
            value: l,
        })?;
        if *slot < per_class {
            *slot += 1;
            indices.push(i);
        }
    }
    if let Some((class, &available)) = taken.iter().enumerate().find(|(_, t)| **t < per_class) {
        return Err(DataError::NotEnoughExamples {
            path: labels_path.to_owned(),
            class: class as u8,
            available,
            wanted: per_class,
        });
    }
    Ok(indices)
}
