//! Fuzz the IDX parsers (and the gzip front end) with arbitrary bytes: they must return
//! Ok or Err, never panic, and never allocate from an untrusted header alone.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(images) = imbalance_datasets::parse_idx_images(data) {
        assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
    }
    if let Ok(labels) = imbalance_datasets::parse_idx_labels(data) {
        assert!(labels.iter().all(|&l| l < 10));
    }
    if let Ok(raw) = imbalance_datasets::maybe_gunzip(data.to_vec()) {
        let _ = imbalance_datasets::parse_idx_images(&raw);
        let _ = imbalance_datasets::parse_idx_labels(&raw);
    }
});
