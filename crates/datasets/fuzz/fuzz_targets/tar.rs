//! Fuzz the streaming tar reader with arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = imbalance_datasets::tar::for_each_file(
        data,
        "fuzz.tar",
        |source| imbalance_datasets::Error::Gzip {
            file: "fuzz.tar".into(),
            source,
        },
        |entry, r| {
            let mut buf = Vec::new();
            let n = r.read_to_end(&mut buf).unwrap_or(0) as u64;
            assert!(n <= entry.size);
            Ok(())
        },
    );
});
