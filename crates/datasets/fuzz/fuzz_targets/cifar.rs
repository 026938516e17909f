//! Fuzz the CIFAR-10 batch and class-name parsers with arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = imbalance_datasets::parse_cifar_batch(data) {
        assert_eq!(batch.pixels.len(), batch.labels.len() * 3072);
        assert_eq!(data.len(), batch.labels.len() * 3073);
    }
    let _ = imbalance_datasets::parse_class_names(data);
});
