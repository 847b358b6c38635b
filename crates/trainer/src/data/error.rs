//! `DataError`: everything that can go wrong reading, writing or fetching data. Every variant
//! names the file (or URL) and what is wrong with it, so the CLI can print it as is.

use std::path::PathBuf;

/// An error of the data layer (IDX reading and writing, the MNIST loader, `fetch`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    // ---- opening files ----
    /// The data were arrays a front end held in memory (`Location::Memory`): nothing to read.
    #[error(
        "the data were arrays held in memory, which cannot be read again: pass the same arrays, or a data directory with the same fingerprint"
    )]
    InMemory,
    /// The file does not exist.
    #[error("{path}: no such file")]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file exists but cannot be read.
    #[error("{path}: permission denied")]
    PermissionDenied {
        /// The file.
        path: PathBuf,
    },
    /// A directory was found where a file is expected.
    #[error("{path}: is a directory, expected an IDX file")]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// Neither the raw nor the `.gz` name of a standard file is in the data directory.
    #[error("{dir}: missing {name} (or {name}.gz)")]
    MissingFile {
        /// The data directory.
        dir: PathBuf,
        /// The raw file name, e.g. `train-images-idx3-ubyte`.
        name: String,
    },
    /// Any other I/O error on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    // ---- IDX contents ----
    /// The file (or, for gzip, its decompressed contents) is empty.
    #[error("{path}: empty file")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Fewer bytes than the IDX header needs.
    #[error("{path}: truncated header: {len} bytes, an IDX {kind} header has {needed}")]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// "images" or "labels".
        kind: &'static str,
        /// Bytes present.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The magic number is not the expected one.
    #[error("{path}: wrong magic number 0x{found:08x}, expected 0x{expected:08x} (IDX {kind})")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// "images" or "labels".
        kind: &'static str,
        /// The magic number read.
        found: u32,
        /// The magic number of the expected kind of file.
        expected: u32,
    },
    /// The header declares dimensions whose byte count does not fit in memory arithmetic
    /// (or is zero-sized per item).
    #[error("{path}: header declares impossible dimensions {dims:?}")]
    BadDims {
        /// The file.
        path: PathBuf,
        /// The declared dimensions.
        dims: Vec<u32>,
    },
    /// The data is shorter than the header declares.
    #[error(
        "{path}: too short: the header declares {dims:?} = {expected} data bytes, the file has {actual}"
    )]
    TooShort {
        /// The file.
        path: PathBuf,
        /// The declared dimensions.
        dims: Vec<u32>,
        /// Data bytes declared (after the header).
        expected: u64,
        /// Data bytes present.
        actual: u64,
    },
    /// The data is longer than the header declares.
    #[error(
        "{path}: too long: the header declares {dims:?} = {expected} data bytes, the file has more"
    )]
    TooLong {
        /// The file.
        path: PathBuf,
        /// The declared dimensions.
        dims: Vec<u32>,
        /// Data bytes declared (after the header).
        expected: u64,
    },
    /// The gzip stream ends early.
    #[error("{path}: truncated gzip stream")]
    GzipTruncated {
        /// The file.
        path: PathBuf,
    },
    /// The gzip stream is corrupt (bad CRC, bad header, bad deflate data).
    #[error("{path}: corrupt gzip stream: {reason}")]
    GzipCorrupt {
        /// The file.
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// A label is not a digit 0..=9 (where MNIST's ten classes are required: the embedded
    /// subset's selection).
    #[error("{path}: label {index} is {value}, expected 0..=9")]
    BadLabel {
        /// The labels file.
        path: PathBuf,
        /// Index of the label.
        index: usize,
        /// Its value.
        value: u8,
    },
    /// Images and labels files hold different numbers of items.
    #[error("{images_path} holds {images} images but {labels_path} holds {labels} labels")]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Number of images.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Number of labels.
        labels: usize,
    },
    /// A training or test set holds no example (a run would report a meaningless 0% error).
    #[error("{path}: holds no examples (a training and a test set need at least one)")]
    NoExamples {
        /// The images file.
        path: PathBuf,
    },
    /// The validation set asks for all the training examples or more.
    #[error(
        "{path}: holds {examples} examples, so data.validation = {validation} leaves none to train on"
    )]
    ValidationTooLarge {
        /// The training images file.
        path: PathBuf,
        /// The examples held out.
        validation: usize,
        /// The examples the file holds.
        examples: usize,
    },
    /// The training and test images have different shapes.
    #[error(
        "{train_path} holds {}x{} images but {test_path} holds {}x{} images",
        train.0, train.1, test.0, test.1
    )]
    ShapeMismatch {
        /// The training images file.
        train_path: PathBuf,
        /// Its image shape (rows, columns).
        train: (usize, usize),
        /// The test images file.
        test_path: PathBuf,
        /// Its image shape.
        test: (usize, usize),
    },
    /// A class-balanced subset asks for more examples of a class than there are.
    #[error("{path}: class {class} has {available} examples, {wanted} wanted")]
    NotEnoughExamples {
        /// The labels file.
        path: PathBuf,
        /// The class.
        class: u8,
        /// Examples of it.
        available: usize,
        /// Examples wanted.
        wanted: usize,
    },

    // ---- fetch ----
    /// `fetch` was asked for a dataset it does not know.
    #[error("unknown dataset `{name}` (known: {})", super::fetch::DATASETS.iter().map(|d| d.name).collect::<Vec<_>>().join(", "))]
    UnknownDataset {
        /// The name given.
        name: String,
    },
    /// `fetch` was given no mirror.
    #[error("no mirror to download from")]
    NoMirrors,
    /// Every mirror failed for a file; `attempts` says why for each.
    #[error("{name}: every mirror failed: {}", attempts.join("; "))]
    AllMirrorsFailed {
        /// The file name.
        name: String,
        /// One message per mirror, in order (URL and reason).
        attempts: Vec<String>,
    },
}

impl DataError {
    /// Map an I/O error on opening or reading `path` to the most specific variant.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            std::io::ErrorKind::NotFound => Self::NotFound { path },
            std::io::ErrorKind::PermissionDenied => Self::PermissionDenied { path },
            std::io::ErrorKind::IsADirectory => Self::IsDirectory { path },
            _ => Self::Io { path, source },
        }
    }
}
