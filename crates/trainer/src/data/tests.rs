//! Tests of the IDX reader and writer, the loaders and the embedded subset.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::idx::{self, IdxImages};
use super::*;

fn p(name: &str) -> PathBuf {
    PathBuf::from(name)
}

fn images(count: usize, rows: usize, cols: usize) -> IdxImages {
    IdxImages {
        rows,
        cols,
        pixels: (0..count * rows * cols).map(|i| (i * 7 % 256) as u8).collect(),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A directory holding the four standard files (gzipped when `gz`) with `n_train` / `n_test`
/// small images.
fn mnist_dir(n_train: usize, n_test: usize, gz: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let suffix = if gz { ".gz" } else { "" };
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
    for (iname, lname, n) in
        [(TRAIN_IMAGES, TRAIN_LABELS, n_train), (TEST_IMAGES, TEST_LABELS, n_test)]
    {
        write(
            dir.path(),
            &format!("{iname}{suffix}"),
            &idx::encode_images(&images(n, 28, 28), gz).unwrap(),
        );
        write(
            dir.path(),
            &format!("{lname}{suffix}"),
            &idx::encode_labels(&labels(n), gz).unwrap(),
        );
    }
    dir
}

fn shared_mnist() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mnist"));
    dir.is_dir().then_some(dir)
}

// ---- reading good files ----

#[test]
fn raw_and_gzip_images_read_back_identically() {
    let img = images(3, 4, 5);
    for gz in [false, true] {
        let bytes = idx::encode_images(&img, gz).unwrap();
        assert_eq!(bytes.starts_with(&idx::GZIP_MAGIC), gz);
        assert_eq!(idx::parse_images(&bytes, &p("x")).unwrap(), img);
    }
}

#[test]
fn gzip_is_detected_by_magic_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let labels = vec![1, 2, 3];
    // gzip content under a raw name, raw content under a .gz name
    let a = write(dir.path(), "labels", &idx::encode_labels(&labels, true).unwrap());
    let b = write(dir.path(), "labels.gz", &idx::encode_labels(&labels, false).unwrap());
    assert_eq!(idx::read_labels(&a).unwrap(), labels);
    assert_eq!(idx::read_labels(&b).unwrap(), labels);
}

#[test]
fn dataset_scales_pixels_to_unit_interval_and_flattens() {
    let img = IdxImages { rows: 2, cols: 2, pixels: vec![0, 255, 51, 102, 1, 2, 3, 4] };
    let ds = Dataset::from_idx(&img, &[3, 9], None, &p("i"), &p("l")).unwrap();
    assert_eq!(ds.images.dim(), (2, 4));
    assert_eq!(ds.images[[0, 0]], 0.0);
    assert_eq!(ds.images[[0, 1]], 1.0);
    assert!((ds.images[[0, 2]] - 0.2).abs() < 1e-7);
    assert_eq!(ds.labels, vec![3, 9]);
    let first = Dataset::from_idx(&img, &[3, 9], Some(1), &p("i"), &p("l")).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first.images.row(0), ds.images.row(0));
}

#[test]
fn load_dir_accepts_raw_or_gz_names_and_applies_limits() {
    for gz in [false, true] {
        let dir = mnist_dir(30, 20, gz);
        let all = DataSplits::load_dir(dir.path(), Limits::default()).unwrap();
        assert_eq!((all.train.len(), all.test.len()), (30, 20));
        assert_eq!(all.train.input_size(), 784);
        let some = DataSplits::load_dir(
            dir.path(),
            Limits { train: Some(7), test: Some(100), validation: 0 },
        )
        .unwrap();
        assert_eq!((some.train.len(), some.test.len()), (7, 20));
        assert_eq!(some.train.labels[..], all.train.labels[..7]);
    }
}

#[test]
fn fingerprint_is_of_the_decoded_files_whatever_the_compression_and_limits() {
    let raw = mnist_dir(30, 20, false);
    let gz = mnist_dir(30, 20, true);
    let a = DataSplits::load_dir(raw.path(), Limits::default()).unwrap();
    let b = DataSplits::load_dir(gz.path(), Limits { train: Some(3), test: None, validation: 0 })
        .unwrap();
    assert!(a.source.fingerprint.starts_with("sha256:"), "{}", a.source.fingerprint);
    assert_eq!(a.source.fingerprint, b.source.fingerprint);
    assert!(a.source.same_data(&b.source));
    // the fingerprint is the SHA-256 of the four decompressed files concatenated
    let mut all = Vec::new();
    for name in MNIST_FILES {
        all.extend(std::fs::read(raw.path().join(name)).unwrap());
    }
    assert_eq!(a.source.fingerprint, format!("sha256:{}", fetch::sha256_hex(&all)));
    let other = mnist_dir(30, 21, false);
    let c = DataSplits::load_dir(other.path(), Limits::default()).unwrap();
    assert_ne!(a.source.fingerprint, c.source.fingerprint);
    assert_eq!(DataSplits::embedded().unwrap().source.source, Location::Embedded);
}

#[test]
fn an_empty_split_is_refused_naming_its_file() {
    let dir = mnist_dir(30, 0, true);
    let err = DataSplits::load_dir(dir.path(), Limits::default()).unwrap_err();
    assert!(matches!(err, DataError::NoExamples { .. }), "{err}");
    assert!(err.to_string().contains(TEST_IMAGES), "{err}");
}

#[test]
fn from_config_picks_dir_or_embedded() {
    let dir = mnist_dir(10, 10, true);
    let config = ebm_config::DataConfig {
        dir: Some(dir.path().to_owned()),
        train_limit: Some(4),
        test_limit: None,
        validation: 0,
    };
    let m = DataSplits::from_config(&config).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (4, 10));
    let config = ebm_config::DataConfig {
        dir: None,
        train_limit: Some(50),
        test_limit: Some(5),
        validation: 0,
    };
    let m = DataSplits::from_config(&config).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (50, 5));
    assert!(m.validation.is_none());
}

#[test]
fn the_validation_set_is_the_last_examples_of_the_training_file_and_never_trained_on() {
    let all = DataSplits::embedded().unwrap();
    let limits = Limits { train: None, test: None, validation: 2000 };
    let split = DataSplits::embedded_limited(limits).unwrap();
    let v = split.validation.as_ref().unwrap();
    assert_eq!((split.train.len(), v.len(), split.test.len()), (8000, 2000, 2000));
    assert_eq!(split.train.images, all.train.images.slice(ndarray::s![..8000, ..]));
    assert_eq!(v.images, all.train.images.slice(ndarray::s![8000.., ..]));
    assert_eq!(v.labels[..], all.train.labels[8000..]);
    assert_eq!((v.classes, split.source.fingerprint.clone()), (10, all.source.fingerprint));
    // train_limit applies to the examples before the validation set
    let limits = Limits { train: Some(9000), test: None, validation: 2000 };
    let split = DataSplits::embedded_limited(limits).unwrap();
    assert_eq!((split.train.len(), split.validation.unwrap().len()), (8000, 2000));
    let limits = Limits { train: None, test: None, validation: 10_000 };
    let err = DataSplits::embedded_limited(limits).unwrap_err();
    assert!(err.to_string().contains("data.validation = 10000 leaves none to train on"), "{err}");
}

#[test]
fn embedded_subset_is_balanced_mnist() {
    let m = DataSplits::embedded().unwrap();
    assert_eq!(m.train.images.dim(), (10_000, 784));
    assert_eq!(m.test.images.dim(), (2_000, 784));
    assert_eq!(m.train.class_counts(), [1000; 10]);
    assert_eq!(m.test.class_counts(), [200; 10]);
    assert!(m.train.images.iter().all(|&x| (0.0..=1.0).contains(&x)));
    // The first examples of the real files are all taken (their classes are not yet full).
    assert_eq!(m.train.labels[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(m.test.labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
}

#[test]
fn embedded_subset_matches_the_rule_on_the_real_files() {
    let Some(dir) = shared_mnist() else { return };
    let m = DataSplits::embedded().unwrap();
    for (split, (iname, lname, per_class)) in [
        (TRAIN_IMAGES, TRAIN_LABELS, embedded::TRAIN_PER_CLASS),
        (TEST_IMAGES, TEST_LABELS, embedded::TEST_PER_CLASS),
    ]
    .into_iter()
    .enumerate()
    {
        let lpath = find_file(&dir, lname).unwrap();
        let labels = idx::read_labels(&lpath).unwrap();
        let img = idx::read_images(&find_file(&dir, iname).unwrap()).unwrap();
        let keep = balanced_indices(&labels, per_class, &lpath).unwrap();
        let want: Vec<u8> = keep.iter().map(|&i| labels[i]).collect();
        let ds = if split == 0 { &m.train } else { &m.test };
        assert_eq!(ds.labels, want);
        let last = *keep.last().unwrap();
        let expect: Vec<f32> = img.image(last).iter().map(|&b| f32::from(b) / 255.0).collect();
        assert_eq!(ds.images.row(ds.len() - 1).to_vec(), expect);
    }
}

#[test]
fn full_mnist_reads_with_documented_counts() {
    let Some(dir) = shared_mnist() else { return };
    let lpath = find_file(&dir, TRAIN_LABELS).unwrap();
    let labels = idx::read_labels(&lpath).unwrap();
    assert_eq!(labels.len(), 60_000);
    let mut counts = [0usize; 10];
    labels.iter().for_each(|&l| counts[usize::from(l)] += 1);
    assert_eq!(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    let m = DataSplits::load_dir(&dir, Limits::default()).unwrap();
    assert_eq!(m.test.images.dim(), (10_000, 784));
    // `zcat train-images... train-labels... t10k-images... t10k-labels... | sha256sum`
    assert_eq!(
        m.source.fingerprint,
        "sha256:b2d8f5bf39174ee5ffeefa97e42d673c35432b411bb5d1f74fbbeddae7f1690a"
    );
    assert_eq!(m.source.source, Location::Dir(std::path::absolute(&dir).unwrap()));
}

#[test]
fn balanced_indices_takes_the_first_of_each_class_in_order() {
    let labels = [0, 1, 0, 2, 1, 0, 2, 3, 4, 5, 6, 7, 8, 9, 9, 3, 4, 5, 6, 7, 8];
    assert_eq!(balanced_indices(&labels, 1, &p("l")).unwrap(), [0, 1, 3, 7, 8, 9, 10, 11, 12, 13]);
    let err = balanced_indices(&labels, 3, &p("l")).unwrap_err();
    assert!(matches!(err, DataError::NotEnoughExamples { class: 1, available: 2, wanted: 3, .. }));
}

// ---- bad input (issue 6) ----

#[test]
fn empty_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "e", b"");
    let err = idx::read_images(&path).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()));
    // an empty gzip member decompresses to nothing
    let path = write(dir.path(), "e.gz", &idx::gzip(b""));
    let err = idx::read_labels(&path).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
}

#[test]
fn truncated_header_is_refused() {
    let bytes = idx::encode_images(&images(1, 2, 2), false).unwrap();
    for len in [2, 4, 15] {
        let err = idx::parse_images(&bytes[..len], &p("t")).unwrap_err();
        assert!(
            matches!(err, DataError::TruncatedHeader { len: l, needed: 16, .. } if l == len),
            "{err}"
        );
    }
}

#[test]
fn wrong_magic_is_refused_naming_both_numbers() {
    let labels = idx::encode_labels(&[1, 2], false).unwrap();
    let err = idx::parse_images(&labels, &p("x")).unwrap_err();
    assert!(matches!(err, DataError::BadMagic { found: 0x801, expected: 0x803, .. }), "{err}");
    assert!(err.to_string().contains("0x00000801"));
    let err = idx::parse_labels(b"PK\x03\x04\0\0\0\0", &p("x")).unwrap_err();
    assert!(matches!(err, DataError::BadMagic { .. }), "{err}");
}

#[test]
fn declared_dims_must_match_the_data_length() {
    let mut bytes = idx::encode_images(&images(2, 3, 3), false).unwrap();
    let short = bytes[..bytes.len() - 1].to_vec();
    let err = idx::parse_images(&short, &p("s")).unwrap_err();
    assert!(matches!(err, DataError::TooShort { expected: 18, actual: 17, .. }), "{err}");
    bytes.push(0);
    let err = idx::parse_images(&bytes, &p("l")).unwrap_err();
    assert!(matches!(err, DataError::TooLong { expected: 18, .. }), "{err}");
    // the same through gzip, where the length is only known by decompressing
    let err = idx::parse_images(&idx::gzip(&short), &p("s")).unwrap_err();
    assert!(matches!(err, DataError::TooShort { actual: 17, .. }), "{err}");
    let err = idx::parse_images(&idx::gzip(&bytes), &p("l")).unwrap_err();
    assert!(matches!(err, DataError::TooLong { .. }), "{err}");
}

#[test]
fn huge_declared_dims_are_refused_without_allocating() {
    // 2^31 images of 2^31 x 1 pixels: 2^62 bytes declared, 4 present.
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&idx::IMAGES_MAGIC.to_be_bytes());
    bytes.extend_from_slice(&(1u32 << 31).to_be_bytes());
    bytes.extend_from_slice(&(1u32 << 31).to_be_bytes());
    bytes.extend_from_slice(&1u32.to_be_bytes());
    bytes.extend_from_slice(&[0; 4]);
    let err = idx::parse_images(&bytes, &p("h")).unwrap_err();
    assert!(
        matches!(err, DataError::TooShort { expected, actual: 4, .. } if expected == 1 << 62),
        "{err}"
    );
    let err = idx::parse_images(&idx::gzip(&bytes), &p("h.gz")).unwrap_err();
    assert!(matches!(err, DataError::TooShort { actual: 4, .. }), "{err}");
    // u32::MAX^3 overflows u64
    let mut bytes = idx::IMAGES_MAGIC.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0xff; 12]);
    let err = idx::parse_images(&bytes, &p("o")).unwrap_err();
    assert!(matches!(err, DataError::BadDims { .. }), "{err}");
}

#[test]
fn image_and_label_counts_must_match() {
    let dir = mnist_dir(5, 5, false);
    write(dir.path(), TEST_LABELS, &idx::encode_labels(&[1, 2, 3], false).unwrap());
    let err = DataSplits::load_dir(dir.path(), Limits::default()).unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { images: 5, labels: 3, .. }), "{err}");
    assert!(err.to_string().contains(TEST_LABELS));
}

#[test]
fn the_classes_are_the_labels_of_both_splits() {
    // any u8 label is a class: 0 to 10 make eleven classes, whatever split holds the largest
    let bytes = idx::encode_labels(&[0, 9, 10, 3], true).unwrap();
    assert_eq!(idx::parse_labels(&bytes, &p("lab")).unwrap(), [0, 9, 10, 3]);
    let dir = mnist_dir(5, 5, false);
    write(dir.path(), TEST_LABELS, &idx::encode_labels(&[0, 1, 12, 2, 3], false).unwrap());
    let data =
        DataSplits::load_dir(dir.path(), Limits { train: None, test: Some(2), validation: 0 })
            .unwrap();
    assert_eq!((data.classes(), data.train.classes, data.test.classes), (13, 13, 13));
    assert_eq!(data.train.class_counts().len(), 13);
    let target = data.test.one_hot(crate::batch::Rows::Range(0), 2);
    assert_eq!(target.dim(), (2, 13));
    assert_eq!((target[(0, 0)], target[(1, 1)], target.sum()), (1.0, 1.0, 2.0));
}

#[test]
fn training_and_test_images_of_other_shapes_are_refused() {
    let dir = mnist_dir(5, 5, false);
    write(dir.path(), TEST_IMAGES, &idx::encode_images(&images(5, 28, 27), false).unwrap());
    let err = DataSplits::load_dir(dir.path(), Limits::default()).unwrap_err();
    assert!(
        matches!(err, DataError::ShapeMismatch { train: (28, 28), test: (28, 27), .. }),
        "{err}"
    );
}

#[test]
fn gzip_with_bad_crc_is_refused() {
    let mut bytes = idx::encode_labels(&[1, 2, 3, 4], true).unwrap();
    let n = bytes.len();
    bytes[n - 8] ^= 0xff; // the CRC32 of the trailer
    let err = idx::parse_labels(&bytes, &p("crc.gz")).unwrap_err();
    assert!(matches!(err, DataError::GzipCorrupt { .. }), "{err}");
    assert!(err.to_string().starts_with("crc.gz: corrupt gzip"));
}

#[test]
fn truncated_gzip_is_refused() {
    let bytes = idx::encode_images(&images(20, 28, 28), true).unwrap();
    for cut in [bytes.len() - 4, bytes.len() / 2, 12] {
        let err = idx::parse_images(&bytes[..cut], &p("cut.gz")).unwrap_err();
        assert!(matches!(err, DataError::GzipTruncated { .. }), "{cut}: {err}");
    }
}

#[test]
fn directory_missing_and_unreadable_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = idx::read_images(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::IsDirectory { .. }), "{err}");
    let missing = dir.path().join("nope");
    let err = idx::read_images(&missing).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("nope"));
    let err = DataSplits::load_dir(&missing, Limits::default()).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    let err = DataSplits::load_dir(dir.path(), Limits::default()).unwrap_err();
    assert!(matches!(&err, DataError::MissingFile { name, .. } if name == TRAIN_IMAGES), "{err}");
    // a directory under a standard name, the other three files being there
    let full = mnist_dir(3, 3, true);
    let images = full.path().join(format!("{TRAIN_IMAGES}.gz"));
    std::fs::remove_file(&images).unwrap();
    std::fs::create_dir(&images).unwrap();
    let err = DataSplits::load_dir(full.path(), Limits::default()).unwrap_err();
    assert!(matches!(err, DataError::IsDirectory { .. }), "{err}");
}

#[cfg(unix)]
#[test]
#[allow(clippy::print_stderr)]
fn unreadable_file_gives_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    // The mapping itself, whoever runs the test.
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    let err = DataError::io("secret", denied);
    assert!(matches!(err, DataError::PermissionDenied { .. }), "{err}");
    assert_eq!(err.to_string(), "secret: permission denied");
    // A real chmod 000 file: root (CI containers) reads it anyway.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "secret", &[0, 0, 8, 1, 0, 0, 0, 0]);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&path).is_ok() {
        eprintln!(
            "skipped: running as root, a mode-000 file stays readable (see docs/reliability.md)"
        );
        return;
    }
    let err = idx::read_labels(&path).unwrap_err();
    assert!(matches!(err, DataError::PermissionDenied { .. }), "{err}");
}

// ---- writing ----

#[test]
fn locations_round_trip_through_their_recorded_text() {
    for l in [Location::Embedded, Location::Memory, Location::Dir(PathBuf::from("/data/mnist"))] {
        let text = String::from(l.clone());
        assert_eq!(Location::from(text), l);
    }
    assert_eq!(String::from(Location::Memory), source::MEMORY);
    // arrays held in memory cannot be read again: a clear error, not a missing directory
    let err = DataSplits::load(&Location::Memory, Limits::default()).unwrap_err();
    assert!(matches!(err, DataError::InMemory), "{err}");
    assert!(err.to_string().contains("arrays held in memory"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn images_round_trip(count in 0usize..6, rows in 1usize..6, cols in 1usize..6,
                         seed in any::<u64>(), gz in any::<bool>()) {
        let pixels = (0..count * rows * cols)
            .map(|i| (seed.wrapping_mul(i as u64 + 1) >> 13) as u8)
            .collect();
        let img = IdxImages { rows, cols, pixels };
        let bytes = idx::encode_images(&img, gz).unwrap();
        prop_assert_eq!(idx::parse_images(&bytes, &p("x")).unwrap(), img);
    }

    #[test]
    fn labels_round_trip(labels in proptest::collection::vec(0u8..10, 0..50), gz in any::<bool>()) {
        let bytes = idx::encode_labels(&labels, gz).unwrap();
        prop_assert_eq!(idx::parse_labels(&bytes, &p("x")).unwrap(), labels);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = idx::parse_images(&bytes, &p("x"));
        let _ = idx::parse_labels(&bytes, &p("x"));
    }
}
