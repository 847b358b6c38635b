//! Where a data set came from ([`DataSource`]): the embedded subset or a directory, and a
//! fingerprint of its contents, so that a run records what it was trained on and `eval` or
//! `--resume` can find the same data again (or refuse other data).
//!
//! The fingerprint is `sha256:` followed by the SHA-256 (lowercase hex) of the four
//! *decompressed* IDX files concatenated in the order train images, train labels, test images,
//! test labels: the same for raw and gzipped copies of the same data, and reproducible with
//! `zcat train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz
//! t10k-labels-idx1-ubyte.gz | sha256sum`. It covers the whole files; `data.train_limit` and the
//! like are part of the run's config.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::idx::{IMAGES_MAGIC, IdxImages, LABELS_MAGIC};

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Location {
    /// The subset embedded in the binary.
    Embedded,
    /// A directory of IDX files (absolute, as resolved when the run started).
    Dir(PathBuf),
    /// Arrays a front end held in memory (the Python package's `data=(x_train, ...)`): there
    /// is nothing to read again, only the fingerprint to compare the same arrays with.
    Memory,
}

/// The word that names the embedded subset wherever a data directory is expected
/// (`--data embedded`, the `source` of a [`DataSource`]).
pub const EMBEDDED: &str = "embedded";

/// How a [`Location::Memory`] is written where a location is recorded.
pub const MEMORY: &str = "<arrays in memory>";

impl Location {
    /// `embedded`, or a directory made absolute (relative to the working directory).
    pub fn from_arg(arg: &Path) -> Self {
        if arg.as_os_str() == EMBEDDED {
            return Location::Embedded;
        }
        Location::Dir(std::path::absolute(arg).unwrap_or_else(|_| arg.to_owned()))
    }
}

impl From<Location> for String {
    fn from(l: Location) -> String {
        l.to_string()
    }
}

impl From<String> for Location {
    fn from(s: String) -> Location {
        match s.as_str() {
            EMBEDDED => Location::Embedded,
            MEMORY => Location::Memory,
            _ => Location::Dir(PathBuf::from(s)),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Embedded => f.write_str(EMBEDDED),
            Location::Dir(d) => write!(f, "{}", d.display()),
            Location::Memory => f.write_str(MEMORY),
        }
    }
}

/// A data set's origin and content fingerprint, as recorded by a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSource {
    /// `embedded`, or the absolute data directory.
    pub source: Location,
    /// `sha256:<hex>` of the four decompressed IDX files (see the module documentation).
    pub fingerprint: String,
}

impl DataSource {
    /// Whether `other` holds the same data (same fingerprint), wherever it lives.
    pub fn same_data(&self, other: &DataSource) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = self.fingerprint.get(..19).unwrap_or(&self.fingerprint);
        write!(f, "{} ({short}...)", self.source)
    }
}

/// Hashes the decoded IDX files in order, header included, as the files hold them.
#[derive(Debug, Default)]
pub(crate) struct Fingerprint(Sha256);

impl Fingerprint {
    /// An images file: magic, count, rows, cols, pixels.
    pub(crate) fn images(&mut self, images: &IdxImages) {
        self.0.update(IMAGES_MAGIC.to_be_bytes());
        for d in [images.count(), images.rows, images.cols] {
            self.0.update(u32_be(d));
        }
        self.0.update(&images.pixels);
    }

    /// A labels file: magic, count, labels.
    pub(crate) fn labels(&mut self, labels: &[u8]) {
        self.0.update(LABELS_MAGIC.to_be_bytes());
        self.0.update(u32_be(labels.len()));
        self.0.update(labels);
    }

    /// `sha256:<hex>`.
    pub(crate) fn finish(self) -> String {
        format!("sha256:{}", super::fetch::hex(&self.0.finalize()))
    }
}

/// A dimension as the IDX header holds it (decoded files never exceed `u32`).
fn u32_be(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}
