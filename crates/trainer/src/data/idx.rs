//! The IDX format of MNIST (u8 only; any image size, any `u8` labels): reading, raw or gzip, with every check done before any
//! large allocation, and writing (for the subset tool and round-trip tests).
//!
//! Layout (big-endian): a magic number `0x0000_08_NN` (`0x08` = unsigned byte, `NN` = number of
//! dimensions), one u32 per dimension, then the data in row-major order. Images are `idx3`
//! (`0x00000803`: count, rows, cols), labels `idx1` (`0x00000801`: count).
//!
//! Gzip is recognised by the two magic bytes `1f 8b`, never by the file name. The declared size
//! is checked against the file's length before reading the data (raw files) or by reading at most
//! one byte more than declared (gzip), so a header declaring 2^31 x 2^31 items is refused without
//! allocating.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::DataError;

/// Magic number of an IDX file of u8 images (3 dimensions: count, rows, cols).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of u8 labels (1 dimension: count).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// The two first bytes of a gzip stream.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Largest number of bytes reserved up front when the decompressed length is not known yet.
const MAX_RESERVE: usize = 1 << 24;

/// Images read from an IDX file: `count` images of `rows x cols` u8 pixels, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Rows per image (28 for MNIST).
    pub rows: usize,
    /// Columns per image (28 for MNIST).
    pub cols: usize,
    /// Pixels, image after image: `count * rows * cols` bytes.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// Pixels per image (`rows * cols`).
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// Number of images.
    pub fn count(&self) -> usize {
        self.pixels.len().checked_div(self.pixels_per_image()).unwrap_or(0)
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.pixels_per_image();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut pixels = Vec::with_capacity(indices.len() * self.pixels_per_image());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Self { rows: self.rows, cols: self.cols, pixels }
    }
}

/// Which kind of IDX file is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }
    fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGES_MAGIC,
            Kind::Labels => LABELS_MAGIC,
        }
    }
    fn ndims(self) -> usize {
        match self {
            Kind::Images => 3,
            Kind::Labels => 1,
        }
    }
    fn header_len(self) -> usize {
        4 + 4 * self.ndims()
    }
}

/// Read an images file (`idx3`, raw or gzip).
pub fn read_images(path: &Path) -> Result<IdxImages, DataError> {
    let (dims, pixels) = read_file(path, Kind::Images)?;
    Ok(IdxImages { rows: dims[1] as usize, cols: dims[2] as usize, pixels })
}

/// Read a labels file (`idx1`, raw or gzip): one `u8` class per item.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let (_, labels) = read_file(path, Kind::Labels)?;
    Ok(labels)
}

/// Parse an images file held in memory (raw or gzip); `name` is used in error messages.
pub fn parse_images(bytes: &[u8], name: &Path) -> Result<IdxImages, DataError> {
    let (dims, pixels) = parse_bytes(bytes, name, Kind::Images)?;
    Ok(IdxImages { rows: dims[1] as usize, cols: dims[2] as usize, pixels })
}

/// Parse a labels file held in memory (raw or gzip); `name` is used in error messages.
pub fn parse_labels(bytes: &[u8], name: &Path) -> Result<Vec<u8>, DataError> {
    let (_, labels) = parse_bytes(bytes, name, Kind::Labels)?;
    Ok(labels)
}

fn read_file(path: &Path, kind: Kind) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    // `File::open` succeeds on a directory on Unix: look first.
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_dir() {
        return Err(DataError::IsDirectory { path: path.to_owned() });
    }
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = meta.len();
    if len == 0 {
        return Err(DataError::Empty { path: path.to_owned() });
    }
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf().map_err(|e| DataError::io(path, e))?;
    if head.starts_with(&GZIP_MAGIC) {
        decode(MultiGzDecoder::new(reader), None, path, kind, true)
    } else {
        decode(reader, Some(len), path, kind, false)
    }
}

fn parse_bytes(bytes: &[u8], path: &Path, kind: Kind) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.to_owned() });
    }
    if bytes.starts_with(&GZIP_MAGIC) {
        decode(MultiGzDecoder::new(bytes), None, path, kind, true)
    } else {
        decode(bytes, Some(bytes.len() as u64), path, kind, false)
    }
}

/// Read an IDX stream of `kind`. `total_len`, when known (raw files), is the stream's length in
/// bytes and is checked against the header before anything is allocated.
fn decode(
    reader: impl Read,
    total_len: Option<u64>,
    path: &Path,
    kind: Kind,
    gzip: bool,
) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    let read_err = |e: std::io::Error| -> DataError {
        if !gzip {
            return DataError::io(path, e);
        }
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof => DataError::GzipTruncated { path: path.to_owned() },
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                DataError::GzipCorrupt { path: path.to_owned(), reason: e.to_string() }
            }
            _ => DataError::io(path, e),
        }
    };
    let mut reader = reader;
    let header_len = kind.header_len();
    let mut header = Vec::with_capacity(header_len);
    (&mut reader).take(header_len as u64).read_to_end(&mut header).map_err(read_err)?;
    if header.is_empty() {
        return Err(DataError::Empty { path: path.to_owned() });
    }
    // Report a wrong magic even in a short file: it says more than "truncated".
    if header.len() >= 4 && u32_at(&header, 0) != kind.magic() {
        return Err(DataError::BadMagic {
            path: path.to_owned(),
            kind: kind.name(),
            found: u32_at(&header, 0),
            expected: kind.magic(),
        });
    }
    if header.len() < header_len {
        return Err(DataError::TruncatedHeader {
            path: path.to_owned(),
            kind: kind.name(),
            len: header.len(),
            needed: header_len,
        });
    }
    let dims: Vec<u32> = (0..kind.ndims()).map(|d| u32_at(&header, 4 + 4 * d)).collect();
    let bad_dims = || DataError::BadDims { path: path.to_owned(), dims: dims.clone() };
    let expected =
        dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d))).ok_or_else(bad_dims)?;
    if kind == Kind::Images && (dims[1] == 0 || dims[2] == 0) {
        return Err(bad_dims());
    }
    let mut data = Vec::new();
    if let Some(total) = total_len {
        let actual = total - header_len as u64;
        if actual < expected {
            return Err(DataError::TooShort { path: path.to_owned(), dims, expected, actual });
        }
        if actual > expected {
            return Err(DataError::TooLong { path: path.to_owned(), dims, expected });
        }
        // Checked against the real length: safe to allocate.
        data.reserve_exact(usize::try_from(expected).map_err(|_| bad_dims())?);
    } else {
        data.reserve(usize::try_from(expected).map_or(MAX_RESERVE, |e| e.min(MAX_RESERVE)));
    }
    // One byte more than declared, to tell "too long" without reading an unbounded stream.
    reader.take(expected.saturating_add(1)).read_to_end(&mut data).map_err(read_err)?;
    let actual = data.len() as u64;
    if actual < expected {
        return Err(DataError::TooShort { path: path.to_owned(), dims, expected, actual });
    }
    if actual > expected {
        return Err(DataError::TooLong { path: path.to_owned(), dims, expected });
    }
    Ok((dims, data))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn dim(n: usize) -> std::io::Result<[u8; 4]> {
    u32::try_from(n)
        .map(u32::to_be_bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "dimension > u32"))
}

/// Write `images` as a raw `idx3` stream.
pub fn write_images(mut w: impl Write, images: &IdxImages) -> std::io::Result<()> {
    if images.pixels.len() != images.count() * images.pixels_per_image() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "pixel count is not a multiple of rows * cols",
        ));
    }
    w.write_all(&IMAGES_MAGIC.to_be_bytes())?;
    w.write_all(&dim(images.count())?)?;
    w.write_all(&dim(images.rows)?)?;
    w.write_all(&dim(images.cols)?)?;
    w.write_all(&images.pixels)
}

/// Write `labels` as a raw `idx1` stream.
pub fn write_labels(mut w: impl Write, labels: &[u8]) -> std::io::Result<()> {
    w.write_all(&LABELS_MAGIC.to_be_bytes())?;
    w.write_all(&dim(labels.len())?)?;
    w.write_all(labels)
}

/// Gzip `bytes` at the highest level (as `gzip -9 -n`: no name, mtime 0, so the output is
/// deterministic).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    // Writing to a Vec cannot fail.
    enc.write_all(bytes).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}

/// `images` encoded as an `idx3` file, gzipped when `compress`.
pub fn encode_images(images: &IdxImages, compress: bool) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::with_capacity(16 + images.pixels.len());
    write_images(&mut raw, images)?;
    Ok(if compress { gzip(&raw) } else { raw })
}

/// `labels` encoded as an `idx1` file, gzipped when `compress`.
pub fn encode_labels(labels: &[u8], compress: bool) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::with_capacity(8 + labels.len());
    write_labels(&mut raw, labels)?;
    Ok(if compress { gzip(&raw) } else { raw })
}
