//! The IDX reader on arbitrary bytes: as given (raw IDX or a gzip stream, told apart by the
//! magic bytes, as the reader does), and gzip-compressed (so that the decompressed contents
//! reach the header and length checks). The first byte chooses the mode. Any input must give
//! `Ok` or a typed `DataError`, never a panic or an unbounded allocation.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use trainer::data::idx;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let bytes = if mode & 1 == 1 { idx::gzip(rest) } else { rest.to_vec() };
    let name = Path::new("fuzz");
    if let Ok(images) = idx::parse_images(&bytes, name) {
        // A successful parse is self-consistent: re-encoding gives back the same images.
        assert_eq!(images.pixels.len(), images.count() * images.pixels_per_image());
        let again = idx::encode_images(&images, false).expect("encodes");
        assert_eq!(idx::parse_images(&again, name).expect("re-reads"), images);
    }
    if let Ok(labels) = idx::parse_labels(&bytes, name) {
        assert!(labels.iter().all(|&l| l <= 9));
        let again = idx::encode_labels(&labels, mode & 2 == 2).expect("encodes");
        assert_eq!(idx::parse_labels(&again, name).expect("re-reads"), labels);
    }
});
