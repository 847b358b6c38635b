//! `fetch`: download data files from an ordered list of mirrors, verify each file's SHA-256,
//! and write it atomically (temporary file in the target directory, then a rename), so a
//! failed, interrupted or corrupt download never leaves a partial file behind.
//!
//! Each file is tried on every mirror in order until one gives bytes with an accepted hash.
//! A file already present with an accepted hash is kept and not downloaded again.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

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
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        sha256: &[
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
        ],
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        sha256: &[
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
        ],
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        sha256: &[
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
        ],
    },
];

/// A file to download: its name (appended to each mirror's base URL) and the SHA-256 hashes
/// (lowercase hex) accepted for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    /// File name, also the name written in the target directory.
    pub name: &'static str,
    /// Accepted SHA-256 hashes, lowercase hex.
    pub sha256: &'static [&'static str],
}

/// Where and how to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Base URLs, tried in order; each file is fetched from `<mirror><name>` (a `/` is added
    /// between the two when the mirror does not end with one).
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
            mirrors: MNIST_MIRRORS.iter().map(|m| (*m).to_owned()).collect(),
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

/// Fetch the named dataset (only `mnist` is known) into `dir`, creating `dir` if needed.
pub fn fetch_dataset(
    name: &str,
    dir: &Path,
    options: &FetchOptions,
) -> Result<Vec<Fetched>, DataError> {
    match name.to_ascii_lowercase().as_str() {
        "mnist" => fetch(MNIST_REMOTE_FILES, dir, options),
        _ => Err(DataError::UnknownDataset { name: name.to_owned() }),
    }
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
    if let Ok((sha256, bytes)) = hash_file(&path)
        && accepted(file, &sha256)
    {
        tracing::info!("{}: present, checksum ok", path.display());
        return Ok(Fetched { path, url: None, sha256, bytes });
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
    let mut hasher = Sha256::new();
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
    let sha256 = hex(&hasher.finalize());
    if !accepted(file, &sha256) {
        return Err(format!(
            "checksum mismatch: SHA-256 {sha256}, expected one of {}",
            file.sha256.join(", ")
        ));
    }
    tmp.as_file().sync_all().map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
    crate::io::readable_by_all(tmp.as_file())
        .map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
    tmp.persist(path).map_err(|e| format!("cannot write {}: {}", path.display(), e.error))?;
    Ok((sha256, bytes))
}

fn accepted(file: &RemoteFile, sha256: &str) -> bool {
    file.sha256.iter().any(|h| h.eq_ignore_ascii_case(sha256))
}

fn join_url(mirror: &str, name: &str) -> String {
    if mirror.ends_with('/') { format!("{mirror}{name}") } else { format!("{mirror}/{name}") }
}

/// SHA-256 (lowercase hex) and size of a file.
pub fn hash_file(path: &Path) -> Result<(String, u64), DataError> {
    let mut f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut f, &mut hasher).map_err(|e| DataError::io(path, e))?;
    Ok((hex(&hasher.finalize()), bytes))
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
