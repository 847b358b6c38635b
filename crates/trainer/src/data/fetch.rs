//! `fetch`: download data files from an ordered list of mirrors, verify each file's SHA-256,
//! and write it atomically (temporary file in the target directory, then a rename), so a
//! failed, interrupted or corrupt download never leaves a partial file behind.
//!
//! Each file is tried on every mirror in order until one gives bytes with an accepted hash
//! (SHA-256 or MD5, as the data set's publisher gives them). The data sets known by name are
//! [`DATASETS`]: MNIST, Fashion-MNIST and Kuzushiji-MNIST, all four IDX files of MNIST's names.
//! A file already present with an accepted hash is kept and not downloaded again.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::Digest;
use sha2::Sha256;

use super::DataError;

/// Public MNIST mirrors, tried in this order (each holds the four `.gz` files at
/// `<mirror><name>`).
pub const MNIST_MIRRORS: &[&str] = &[
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// The four MNIST files with their accepted SHA-256 hashes.
///
/// Two hashes are accepted per file:
/// - the original files as served by the public mirrors (the widely published hashes of
///   `train-images-idx3-ubyte.gz` etc., as listed by TensorFlow Datasets, Keras and others);
/// - the files in `../shared/data/mnist` (its `SHA256SUMS`): the same uncompressed bytes,
///   recompressed with `gzip -9 -n`, so their hashes differ from the originals'.
pub const MNIST_REMOTE_FILES: &[RemoteFile] = &[
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        sha256: &[
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
        ],
        md5: &[],
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        sha256: &[
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
        ],
        md5: &[],
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        sha256: &[
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
        ],
        md5: &[],
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        sha256: &[
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
        ],
        md5: &[],
    },
];

/// A file to download: its name (appended to each mirror's base URL) and the checksums
/// (lowercase hex) accepted for it: the file is accepted when its SHA-256 or its MD5 is listed
/// (publishers give one or the other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    /// File name, also the name written in the target directory.
    pub name: &'static str,
    /// Accepted SHA-256 hashes, lowercase hex.
    pub sha256: &'static [&'static str],
    /// Accepted MD5 hashes, lowercase hex (as Fashion-MNIST and Kuzushiji-MNIST publish them).
    pub md5: &'static [&'static str],
}

/// A data set `ebm data fetch` knows: its name, public mirrors and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteDataset {
    /// The name on the command line.
    pub name: &'static str,
    /// Base URLs, tried in order.
    pub mirrors: &'static [&'static str],
    /// The four IDX files with their checksums.
    pub files: &'static [RemoteFile],
}

/// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; MIT licence): 70,000 28x28 images of 10 kinds
/// of clothing, MNIST's file names and format. The MD5 sums are the publisher's (the
/// `zalandoresearch/fashion-mnist` README).
pub const FASHION_MNIST_FILES: &[RemoteFile] = &[
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        sha256: &[],
        md5: &["8d4fb7e6c68d591d4c3dfef9ec88bf0d"],
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        sha256: &[],
        md5: &["25c81989df183df01b3e8a0aad5dffbe"],
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        sha256: &[],
        md5: &["bef4ecab320f06d8554ea6380940ec79"],
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        sha256: &[],
        md5: &["bb300cfdad3c16e7a12a480ee83cd310"],
    },
];

/// Kuzushiji-MNIST (Clanuwat et al. 2018; CC BY-SA 4.0): 70,000 28x28 images of 10 cursive
/// Japanese characters, MNIST's file names and format. The MD5 sums are the publisher's (the
/// `rois-codh/kmnist` distribution).
pub const KMNIST_FILES: &[RemoteFile] = &[
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        sha256: &[],
        md5: &["bdb82020997e1d708af4cf47b453dcf7"],
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        sha256: &[],
        md5: &["e144d726b3acfaa3e44228e80efcd344"],
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        sha256: &[],
        md5: &["5c965bf0a639b31b8f53240b1b52f4d7"],
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        sha256: &[],
        md5: &["7320c461ea6c1c855c0b718fb2a4b134"],
    },
];

/// The data sets `ebm data fetch` knows.
pub const DATASETS: &[RemoteDataset] = &[
    RemoteDataset { name: "mnist", mirrors: MNIST_MIRRORS, files: MNIST_REMOTE_FILES },
    RemoteDataset {
        name: "fashion-mnist",
        mirrors: &[
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ],
        files: FASHION_MNIST_FILES,
    },
    RemoteDataset {
        name: "kmnist",
        mirrors: &[
            "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
            "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        ],
        files: KMNIST_FILES,
    },
];

/// The data set called `name` (case-insensitive).
pub fn dataset(name: &str) -> Result<&'static RemoteDataset, DataError> {
    DATASETS
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| DataError::UnknownDataset { name: name.to_owned() })
}

/// Where and how to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Base URLs, tried in order; each file is fetched from `<mirror><name>` (a `/` is added
    /// between the two when the mirror does not end with one). [`fetch_dataset`] uses the data
    /// set's own mirrors when this is empty (the default).
    pub mirrors: Vec<String>,
    /// Longest wait for a connection (DNS, TCP and TLS) to a mirror before trying the next.
    pub connect_timeout: Duration,
    /// Longest wait for any single read from a mirror (the response headers, then each piece
    /// of the body): a mirror that accepts the connection and then stalls is given up after
    /// this long without data, however long the whole download takes.
    pub read_timeout: Duration,
    /// Largest accepted response body, in bytes; a larger one is refused without being
    /// stored.
    pub max_bytes: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            mirrors: Vec::new(),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            max_bytes: 64 << 20,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The file written (or kept).
    pub path: PathBuf,
    /// The URL it came from; `None` when an existing file with an accepted hash was kept.
    pub url: Option<String>,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Fetch the named data set ([`DATASETS`]) into `dir`, creating `dir` if needed. `options`'
/// mirrors replace the data set's own when given.
pub fn fetch_dataset(
    name: &str,
    dir: &Path,
    options: &FetchOptions,
) -> Result<Vec<Fetched>, DataError> {
    let d = dataset(name)?;
    if options.mirrors.is_empty() {
        let own = FetchOptions {
            mirrors: d.mirrors.iter().map(|m| (*m).to_owned()).collect(),
            ..options.clone()
        };
        return fetch(d.files, dir, &own);
    }
    fetch(d.files, dir, options)
}

/// Fetch `files` into `dir` (created if needed), trying each mirror in order for each file.
/// Stops at the first file that no mirror can give; a directory this call created is removed
/// again if it is still empty then.
pub fn fetch(
    files: &[RemoteFile],
    dir: &Path,
    options: &FetchOptions,
) -> Result<Vec<Fetched>, DataError> {
    if options.mirrors.is_empty() {
        return Err(DataError::NoMirrors);
    }
    let created = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(options.connect_timeout))
        .timeout_per_read(Some(options.read_timeout))
        .http_status_as_error(true)
        .build()
        .into();
    let fetched: Result<Vec<Fetched>, DataError> =
        files.iter().map(|file| fetch_one(&agent, file, dir, options)).collect();
    if fetched.is_err() && created {
        // Only succeeds on an empty directory: files already verified are kept.
        let _ = std::fs::remove_dir(dir);
    }
    fetched
}

fn fetch_one(
    agent: &ureq::Agent,
    file: &RemoteFile,
    dir: &Path,
    options: &FetchOptions,
) -> Result<Fetched, DataError> {
    let path = dir.join(file.name);
    if let Ok((digests, bytes)) = hash_file(&path)
        && accepted(file, &digests)
    {
        tracing::info!("{}: present, checksum ok", path.display());
        return Ok(Fetched { path, url: None, sha256: digests.sha256, bytes });
    }
    let mut attempts = Vec::with_capacity(options.mirrors.len());
    for mirror in &options.mirrors {
        let url = join_url(mirror, file.name);
        tracing::info!("downloading {url}");
        match download(agent, &url, file, &path, options.max_bytes) {
            Ok((sha256, bytes)) => {
                return Ok(Fetched { path, url: Some(url), sha256, bytes });
            }
            Err(reason) => {
                tracing::warn!("{url}: {reason}");
                attempts.push(format!("{url}: {reason}"));
            }
        }
    }
    Err(DataError::AllMirrorsFailed { name: file.name.to_owned(), attempts })
}

/// Download `url` into a temporary file beside `path`, check its hash, and rename it to
/// `path`. On any failure the temporary file is removed (dropped) and the reason returned.
fn download(
    agent: &ureq::Agent,
    url: &str,
    file: &RemoteFile,
    path: &Path,
    max_bytes: u64,
) -> Result<(String, u64), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let mut tmp = crate::io::temp_file_beside(path)
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))?;
    let mut reader = response.body_mut().with_config().limit(max_bytes).reader();
    let mut hasher = Hasher::default();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| format!("download: {e}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
        bytes += n as u64;
    }
    let digests = hasher.finish();
    if !accepted(file, &digests) {
        let expected: Vec<String> = file
            .sha256
            .iter()
            .map(|h| format!("SHA-256 {h}"))
            .chain(file.md5.iter().map(|h| format!("MD5 {h}")))
            .collect();
        return Err(format!(
            "checksum mismatch: SHA-256 {}, MD5 {}; expected one of {}",
            digests.sha256,
            digests.md5,
            expected.join(", ")
        ));
    }
    let sha256 = digests.sha256;
    tmp.as_file().sync_all().map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
    crate::io::readable_by_all(tmp.as_file())
        .map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
    tmp.persist(path).map_err(|e| format!("cannot write {}: {}", path.display(), e.error))?;
    Ok((sha256, bytes))
}

/// A file's SHA-256 and MD5, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256.
    pub sha256: String,
    /// MD5 (to check against publishers that give only MD5).
    pub md5: String,
}

/// Both digests of a stream, in one pass.
#[derive(Default)]
struct Hasher(Sha256, md5::Md5);

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
        self.1.update(bytes);
    }

    fn finish(self) -> Digests {
        Digests { sha256: hex(&self.0.finalize()), md5: hex(&self.1.finalize()) }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn accepted(file: &RemoteFile, d: &Digests) -> bool {
    file.sha256.iter().any(|h| h.eq_ignore_ascii_case(&d.sha256))
        || file.md5.iter().any(|h| h.eq_ignore_ascii_case(&d.md5))
}

fn join_url(mirror: &str, name: &str) -> String {
    if mirror.ends_with('/') { format!("{mirror}{name}") } else { format!("{mirror}/{name}") }
}

/// SHA-256 and MD5 (lowercase hex) and size of a file.
pub fn hash_file(path: &Path) -> Result<(Digests, u64), DataError> {
    let mut f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Hasher::default();
    let bytes = std::io::copy(&mut f, &mut hasher).map_err(|e| DataError::io(path, e))?;
    Ok((hasher.finish(), bytes))
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests;
