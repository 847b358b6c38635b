//! `Dataset` (images as an `(n, pixels)` f32 matrix in [0, 1], integer labels) and `DataSplits`
//! (a train and a test set and where they came from), loaded from a directory of the four
//! standard IDX files (MNIST's names; any image size and number of classes), from the embedded
//! MNIST subset, or as the configuration's `data` section says.

use std::path::{Path, PathBuf};

use ebm_config::DataConfig;
use ndarray::Array2;

use super::DataError;
use super::embedded;
use super::idx::{self, IdxImages};
use super::source::{DataSource, Fingerprint, Location};
use crate::batch::Rows;

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
    /// labels: (n,), classes `0..classes`.
    pub labels: Vec<u8>,
    /// Number of classes (one output unit each): one more than the largest label of the data
    /// set's splits (10 for MNIST).
    pub classes: usize,
    /// Rows and columns of an image (28 x 28 for MNIST).
    pub image_shape: (usize, usize),
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
        let n = limit.map_or(labels.len(), |l| l.min(labels.len()));
        Self::from_idx_rows(images, labels, 0..n, images_path, labels_path)
    }

    /// Build from decoded IDX contents, keeping the items `rows` (within the file). Fails if the
    /// counts differ (the paths are for the message).
    pub fn from_idx_rows(
        images: &IdxImages,
        labels: &[u8],
        rows: std::ops::Range<usize>,
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
        let rows = rows.start.min(labels.len())..rows.end.min(labels.len());
        let d = images.pixels_per_image();
        let pixels: Vec<f32> = images.pixels[rows.start * d..rows.end * d]
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect();
        let image_shape = (images.rows, images.cols);
        let images = Array2::from_shape_vec((rows.len(), d), pixels).expect("n * d pixels");
        let labels = labels[rows].to_vec();
        let classes = labels.iter().max().map_or(0, |&l| usize::from(l) + 1);
        Ok(Self { images, labels, classes, image_shape })
    }

    /// The examples `rows` (in that order) as a new data set.
    pub fn select(&self, rows: &[usize]) -> Self {
        Self {
            images: self.images.select(ndarray::Axis(0), rows),
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
            classes: self.classes,
            image_shape: self.image_shape,
        }
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
    pub fn input_size(&self) -> usize {
        self.images.ncols()
    }

    /// Examples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// The one-hot targets of `rows` (Eq 3.3's `d`): `out` is `(rows, classes)`, 1 at each
    /// example's label and 0 elsewhere.
    pub fn one_hot_into(&self, rows: Rows<'_>, out: &mut Array2<f32>) {
        out.fill(0.0);
        for b in 0..out.nrows() {
            if let Some(v) = out.get_mut((b, usize::from(self.labels[rows.row(b)]))) {
                *v = 1.0;
            }
        }
    }

    /// The one-hot targets of `rows` as a new `(n, classes)` array.
    pub fn one_hot(&self, rows: Rows<'_>, n: usize) -> Array2<f32> {
        let mut out = Array2::zeros((n, self.classes));
        self.one_hot_into(rows, &mut out);
        out
    }
}

/// How many examples of each split to keep (the first N; `None` = all), and how many of the
/// training file's last examples to hold out for validation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Training examples to keep (of those before the validation set).
    pub train: Option<usize>,
    /// Test examples to keep.
    pub test: Option<usize>,
    /// The last examples of the training file held out as the validation set (0 = none).
    pub validation: usize,
}

impl Limits {
    /// The limits of a configuration's `data` section.
    pub fn from_config(config: &DataConfig) -> Self {
        Self { train: config.train_limit, test: config.test_limit, validation: config.validation }
    }
}

/// A data set's training, validation and test splits, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSplits {
    /// The training set.
    pub train: Dataset,
    /// The validation set: the last `data.validation` examples of the training file, never
    /// trained on (`None` without one).
    pub validation: Option<Dataset>,
    /// The test set.
    pub test: Dataset,
    /// Where the files came from and their content fingerprint.
    pub source: DataSource,
}

/// The four decoded files of a data set, before limits are applied.
struct Files {
    train_images: IdxImages,
    train_labels: Vec<u8>,
    test_images: IdxImages,
    test_labels: Vec<u8>,
    /// Names of the four files, in the order above, for messages.
    paths: [PathBuf; 4],
}

impl Files {
    fn into_mnist(self, location: Location, limits: Limits) -> Result<DataSplits, DataError> {
        let mut fingerprint = Fingerprint::default();
        fingerprint.images(&self.train_images);
        fingerprint.labels(&self.train_labels);
        fingerprint.images(&self.test_images);
        fingerprint.labels(&self.test_labels);
        let [ti, tl, si, sl] = &self.paths;
        let n = self.train_labels.len();
        if limits.validation > 0 && limits.validation >= n {
            return Err(DataError::ValidationTooLarge {
                path: ti.clone(),
                validation: limits.validation,
                examples: n,
            });
        }
        let held_out = n - limits.validation;
        let kept = limits.train.map_or(held_out, |l| l.min(held_out));
        let mut train =
            Dataset::from_idx_rows(&self.train_images, &self.train_labels, 0..kept, ti, tl)?;
        let mut validation = (limits.validation > 0)
            .then(|| {
                Dataset::from_idx_rows(&self.train_images, &self.train_labels, held_out..n, ti, tl)
            })
            .transpose()?;
        let mut test =
            Dataset::from_idx(&self.test_images, &self.test_labels, limits.test, si, sl)?;
        for (set, path) in [(&train, ti), (&test, si)] {
            if set.is_empty() {
                return Err(DataError::NoExamples { path: path.clone() });
            }
        }
        if (train.image_shape, train.input_size()) != (test.image_shape, test.input_size()) {
            return Err(DataError::ShapeMismatch {
                train_path: ti.clone(),
                train: train.image_shape,
                test_path: si.clone(),
                test: test.image_shape,
            });
        }
        // The classes of the whole data set (both splits, before the limits).
        let classes = [&self.train_labels, &self.test_labels]
            .iter()
            .flat_map(|l| l.iter().max())
            .max()
            .map_or(0, |&l| usize::from(l) + 1);
        train.classes = classes;
        test.classes = classes;
        if let Some(v) = &mut validation {
            v.classes = classes;
        }
        Ok(DataSplits {
            train,
            validation,
            test,
            source: DataSource { source: location, fingerprint: fingerprint.finish() },
        })
    }
}

impl DataSplits {
    /// Number of classes (labels `0..classes`).
    pub fn classes(&self) -> usize {
        self.train.classes
    }

    /// Inputs per example (pixels per image).
    pub fn input_size(&self) -> usize {
        self.train.input_size()
    }

    /// The embedded class-balanced subset (10,000 training and 2,000 test digits; see
    /// `crates/trainer/data/mini-mnist/README.md`).
    pub fn embedded() -> Result<Self, DataError> {
        Self::embedded_limited(Limits::default())
    }

    /// The embedded subset, keeping the first examples of each split as `limits` says.
    pub fn embedded_limited(limits: Limits) -> Result<Self, DataError> {
        let path = |name: &str| PathBuf::from(format!("<embedded>/{name}.gz"));
        let paths = MNIST_FILES.map(path);
        let files = Files {
            train_images: idx::parse_images(embedded::TRAIN_IMAGES_GZ, &paths[0])?,
            train_labels: idx::parse_labels(embedded::TRAIN_LABELS_GZ, &paths[1])?,
            test_images: idx::parse_images(embedded::TEST_IMAGES_GZ, &paths[2])?,
            test_labels: idx::parse_labels(embedded::TEST_LABELS_GZ, &paths[3])?,
            paths,
        };
        files.into_mnist(Location::Embedded, limits)
    }

    /// Load the four standard files from `dir` (each raw or `.gz`), keeping the first
    /// examples of each split as `limits` says. The source records `dir` made absolute.
    pub fn load_dir(dir: &Path, limits: Limits) -> Result<Self, DataError> {
        let mut paths = Vec::with_capacity(4);
        for name in MNIST_FILES {
            paths.push(find_file(dir, name)?);
        }
        let paths: [PathBuf; 4] = paths.try_into().expect("four names");
        let files = Files {
            train_images: idx::read_images(&paths[0])?,
            train_labels: idx::read_labels(&paths[1])?,
            test_images: idx::read_images(&paths[2])?,
            test_labels: idx::read_labels(&paths[3])?,
            paths,
        };
        files.into_mnist(Location::from_arg(dir), limits)
    }

    /// The data at `location`, keeping the first examples of each split as `limits` says.
    pub fn load(location: &Location, limits: Limits) -> Result<Self, DataError> {
        match location {
            Location::Embedded => Self::embedded_limited(limits),
            Location::Dir(dir) => Self::load_dir(dir, limits),
            Location::Memory => Err(DataError::InMemory),
        }
    }

    /// What the configuration's `data` section says: `dir` when set, else the embedded subset;
    /// `train_limit` / `test_limit` applied either way.
    pub fn from_config(config: &DataConfig) -> Result<Self, DataError> {
        Self::load(&location_of(config), Limits::from_config(config))
    }
}

/// The location a `data` section names: `dir` (where `embedded` names the embedded subset),
/// else the embedded subset.
pub fn location_of(config: &DataConfig) -> Location {
    config.dir.as_deref().map_or(Location::Embedded, Location::from_arg)
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
