//! `imbalance train` and `imbalance preview` on your own data. Features: `.npy` files written
//! here by hand (NumPy's format version 1.0, as `numpy.save` writes it), good ones in float32
//! and float64 and every kind of bad one; the exponential (CIFAR-10-LT) profile on them; and
//! one run on the preprocessed MNIST pixels written to `.npy`, which must give exactly the
//! built-in path's result (skipped when ../shared/datasets is absent). Images: PNG folders
//! (one subfolder per class) train exactly as their preprocessed pixels written to `.npy`, and
//! `preview` draws a dataset or a folder.

use std::path::PathBuf;

mod common;
use common::{fails, floats, imbalance, json, shared_datasets as data_dir};

/// A `.npy` file: `descr` like `<f8`, the shape, and the raw little-endian data.
fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let fo = if fortran { "True" } else { "False" };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': {fo}, 'shape': {dims}, }}");
    // NumPy pads the header with spaces and a newline to a multiple of 64 bytes.
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f64_npy(rows: usize, cols: usize, x: &[f64]) -> Vec<u8> {
    let data: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy("<f8", false, &[rows, cols], &data)
}

fn f32_npy(rows: usize, cols: usize, x: &[f32]) -> Vec<u8> {
    let data: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy("<f4", false, &[rows, cols], &data)
}

fn i64_npy(y: &[i64]) -> Vec<u8> {
    let data: Vec<u8> = y.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy("<i8", false, &[y.len()], &data)
}

fn u8_npy(y: &[u8]) -> Vec<u8> {
    npy("|u1", false, &[y.len()], y)
}

/// A fresh temporary folder for one test.
struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("imbalance-npy-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// Three separated clusters in dimension 12, exactly representable in f32: `n_per` rows per
/// class, class c centred at 2 e_c, noise on a 1/64 grid from a fixed integer hash.
fn blobs(n_per: usize, salt: u64) -> (Vec<f32>, Vec<i64>) {
    blobs_with(&[n_per; 3], salt)
}

/// [`blobs`] with `counts[c]` rows of class c (at most 12 classes).
fn blobs_with(counts: &[usize], salt: u64) -> (Vec<f32>, Vec<i64>) {
    let d = 12;
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut h = salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for (c, &n_c) in counts.iter().enumerate() {
        for _ in 0..n_c {
            for j in 0..d {
                h ^= h << 13;
                h ^= h >> 7;
                h ^= h << 17;
                let noise = ((h % 129) as f32 - 64.0) / 64.0;
                x.push(noise + if j == c { 2.0 } else { 0.0 });
            }
            y.push(c as i64);
        }
    }
    (x, y)
}

/// Writes a good set of four files (features in f32 or f64) and returns their paths.
fn good_files(t: &Tmp, tag: &str, double: bool) -> [String; 4] {
    let (x, y) = blobs(60, 1);
    let (xt, yt) = blobs(40, 2);
    let (n, nt) = (y.len(), yt.len());
    let (a, b) = if double {
        let w = |v: &[f32]| v.iter().map(|&f| f as f64).collect::<Vec<f64>>();
        (f64_npy(n, 12, &w(&x)), f64_npy(nt, 12, &w(&xt)))
    } else {
        (f32_npy(n, 12, &x), f32_npy(nt, 12, &xt))
    };
    [
        t.write(&format!("{tag}-train.npy"), &a),
        t.write(&format!("{tag}-train-labels.npy"), &i64_npy(&y)),
        t.write(&format!("{tag}-test.npy"), &b),
        t.write(&format!("{tag}-test-labels.npy"), &i64_npy(&yt)),
    ]
}

fn file_args<'a>(f: &'a [String; 4], extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "train",
        "--features-file",
        &f[0],
        "--labels-file",
        &f[1],
        "--test-features-file",
        &f[2],
        "--test-labels-file",
        &f[3],
    ];
    a.extend_from_slice(extra);
    a
}

const RUN: [&str; 12] = [
    "--counts",
    "40,20,5",
    "--features",
    "identity",
    "--method",
    "la",
    "--time",
    "1e4",
    "--predict",
    "--moment-samples",
    "10",
    "--json",
];

#[test]
fn f32_and_f64_files_train_to_the_same_result() {
    let t = Tmp::new("good");
    let f32s = good_files(&t, "f32", false);
    let f64s = good_files(&t, "f64", true);
    let a = json(&file_args(&f32s, &RUN));
    let b = json(&file_args(&f64s, &RUN));
    let e = floats(&a["per_class_error"]);
    assert_eq!(e.len(), 3);
    assert!(e.iter().all(|x| (0.0..=1.0).contains(x)), "{e:?}");
    // The clusters are 2 apart with noise of size ~0.6 per coordinate: well learned.
    assert!(a["balanced_error"].as_f64().unwrap() < 0.2, "{a}");
    let p = floats(&a["predicted_per_class_error"]);
    assert!(p.iter().all(|x| x.is_finite() && (0.0..=1.0).contains(x)));
    // The f32 values are exact in f64, so the two runs are the same computation.
    assert_eq!(a["per_class_error"], b["per_class_error"]);
    assert_eq!(
        a["predicted_per_class_error"],
        b["predicted_per_class_error"]
    );
    let c = &a["config"];
    assert_eq!(c["dim"], 12);
    assert_eq!(c["classes"], 3);
    assert_eq!(floats(&c["counts"]), vec![40.0, 20.0, 5.0]);
    assert_eq!(c["features_files"]["train"], f32s[0].as_str());
    assert_eq!(a["test_per_class"], serde_json::json!([40, 40, 40]));

    // Table output names the files' shape.
    let mut table = file_args(&f32s, &RUN);
    table.pop();
    let out = imbalance(&table);
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("dimension 12, 3 classes"), "{s}");
    assert!(s.contains("balanced error"), "{s}");
}

#[test]
fn exp_profile_on_feature_files() {
    let t = Tmp::new("exp");
    let f = good_files(&t, "f64", true);
    let v = json(&file_args(
        &f,
        &[
            "--profile",
            "exp",
            "--n-max",
            "40",
            "--ratio",
            "10",
            "--method",
            "ce",
            "--time",
            "1e4",
            "--json",
        ],
    ));
    // n_c = floor(40 * 10^(-c/2)): 40, 12.65 -> 12, 4.
    assert_eq!(floats(&v["config"]["counts"]), vec![40.0, 12.0, 4.0]);
    assert_eq!(v["n_train"], 56);
    // --minority only goes with step; asking for more rows than a class has is one line.
    fails(
        &file_args(
            &f,
            &[
                "--profile",
                "exp",
                "--n-max",
                "40",
                "--ratio",
                "10",
                "--minority",
                "1",
                "--method",
                "ce",
            ],
        ),
        "only goes with --profile step",
    );
    fails(
        &file_args(
            &f,
            &[
                "--profile",
                "exp",
                "--n-max",
                "61",
                "--ratio",
                "10",
                "--method",
                "ce",
            ],
        ),
        "has only 60 training images",
    );
}

#[test]
fn bad_feature_files_are_one_clear_line() {
    let t = Tmp::new("bad");
    let f = good_files(&t, "ok", true);
    let (x, y) = blobs(60, 1);
    let n = y.len();
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let data = |v: &[f64]| v.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    // Each case replaces one of the four files and names what must appear in the message.
    let with = |slot: usize, name: &str, bytes: Vec<u8>| {
        let mut g = f.clone();
        g[slot] = t.write(name, &bytes);
        g
    };
    let run = |g: [String; 4], expect: &str| {
        fails(
            &file_args(&g, &["--counts", "10,10,5", "--method", "ce"]),
            expect,
        );
    };

    // Features: shape, dtype, order, values, length.
    run(
        with(0, "one-d.npy", npy("<f8", false, &[n * 12], &data(&x64))),
        "not 2-D",
    );
    run(
        with(0, "three-d.npy", npy("<f8", false, &[n, 3, 4], &data(&x64))),
        "not 2-D",
    );
    let ints: Vec<u8> = (0..n * 12).flat_map(|i| (i as i64).to_le_bytes()).collect();
    run(
        with(0, "int-features.npy", npy("<i8", false, &[n, 12], &ints)),
        "not float32 or float64",
    );
    run(
        with(0, "complex.npy", npy("<c16", false, &[n, 6], &data(&x64))),
        "not float32 or float64",
    );
    run(
        with(0, "fortran.npy", npy("<f8", true, &[n, 12], &data(&x64))),
        "Fortran",
    );
    let mut nan = x64.clone();
    nan[12 * 7 + 3] = f64::NAN;
    run(
        with(0, "nan.npy", f64_npy(n, 12, &nan)),
        "row 7, column 3 is not finite",
    );
    let mut inf = x64.clone();
    inf[5] = f64::INFINITY;
    run(with(0, "inf.npy", f64_npy(n, 12, &inf)), "not finite");
    let whole = f64_npy(n, 12, &x64);
    run(
        with(0, "truncated.npy", whole[..whole.len() - 100].to_vec()),
        "truncated file",
    );
    let mut longer = whole.clone();
    longer.extend_from_slice(&[0; 8]);
    run(with(0, "trailing.npy", longer), "trailing bytes");
    // A header announcing far more data than the file holds is refused before reading.
    run(
        with(
            0,
            "huge.npy",
            npy("<f8", false, &[1 << 40, 1 << 20], &data(&x64)),
        ),
        "truncated file",
    );
    run(
        with(
            0,
            "overflow.npy",
            npy("<f8", false, &[1 << 62, 1 << 62], &[]),
        ),
        "too large",
    );
    run(
        with(0, "header-only.npy", whole[..40].to_vec()),
        "shorter than its",
    );
    run(with(0, "tiny.npy", b"\x93NUM".to_vec()), "too short");
    run(
        with(0, "text.npy", b"1.0,2.0\n3.0,4.0\n".to_vec()),
        "not a NumPy .npy file",
    );
    run(
        with(
            0,
            "fewer-rows.npy",
            f64_npy(n - 1, 12, &x64[..(n - 1) * 12]),
        ),
        "holds 180 labels, but",
    );
    run(
        with(2, "narrow-test.npy", f64_npy(120, 11, &x64[..120 * 11])),
        "has 11 feature columns, but the training features",
    );

    // Labels: dtype, shape, sign, range, every class present.
    run(
        with(
            1,
            "float-labels.npy",
            npy("<f8", false, &[n], &data(&vec![0.0; n])),
        ),
        "not an integer type",
    );
    let y2: Vec<u8> = y.iter().flat_map(|&l| l.to_le_bytes()).collect();
    run(
        with(1, "column-labels.npy", npy("<i8", false, &[n, 1], &y2)),
        "not 1-D",
    );
    let mut neg = y.clone();
    neg[4] = -1;
    run(
        with(1, "negative.npy", i64_npy(&neg)),
        "label -1 at index 4 is negative",
    );
    let mut gap = y.clone();
    for l in gap.iter_mut() {
        if *l == 1 {
            *l = 2;
        }
    }
    run(
        with(1, "gap.npy", i64_npy(&gap)),
        "no training row has label 1",
    );
    let mut big = y.clone();
    big[0] = 1 << 40;
    run(with(1, "big-label.npy", i64_npy(&big)), "out of range");
    let mut unseen = vec![0u8; 120];
    unseen[119] = 3;
    run(
        with(3, "unseen-test-label.npy", u8_npy(&unseen)),
        "label 3 at index 119 is not a class",
    );
    let mut no_class_2: Vec<u8> = (0..120).map(|i| (i / 40) as u8).collect();
    for l in no_class_2.iter_mut().filter(|l| **l == 2) {
        *l = 1;
    }
    run(
        with(3, "no-class-2-test-labels.npy", u8_npy(&no_class_2)),
        "no test row has label 2",
    );
    run(
        with(3, "short-test-labels.npy", u8_npy(&[0; 100])),
        "holds 100 labels, but",
    );

    // Missing files and flags.
    let mut gone = f.clone();
    gone[2] = t.0.join("does-not-exist.npy").display().to_string();
    run(gone, "does-not-exist.npy");
    fails(
        &["train", "--features-file", &f[0], "--method", "ce"],
        "--labels-file",
    );
    fails(
        &file_args(&f, &["--dataset", "mnist", "--method", "ce"]),
        "not both",
    );
    fails(
        &file_args(&f, &["--data-dir", "/tmp", "--method", "ce"]),
        "--data-dir: only goes with --dataset",
    );
    fails(&["train", "--method", "ce"], "--dataset: missing");
    fails(
        &file_args(&f, &["--counts", "10,10", "--method", "ce"]),
        "one count per class",
    );
}

#[test]
fn own_features_are_used_as_given_with_a_linear_probe() {
    // An imbalanced pool of 60, 30 and 8 rows: without counts flags every row trains, with
    // the data's own counts; the feature map is the identity (a linear probe); --predict
    // needs no --moment-samples (each class gives all it has, up to 500).
    let t = Tmp::new("as-given");
    let (x, y) = blobs_with(&[60, 30, 8], 1);
    let (xt, yt) = blobs(40, 2);
    let f = [
        t.write("x.npy", &f32_npy(y.len(), 12, &x)),
        t.write("y.npy", &i64_npy(&y)),
        t.write("xt.npy", &f32_npy(yt.len(), 12, &xt)),
        t.write("yt.npy", &i64_npy(&yt)),
    ];
    let run = ["--method", "la", "--time", "1e4", "--json"];
    let v = json(&file_args(&f, &[&run[..], &["--predict"]].concat()));
    assert_eq!(floats(&v["config"]["counts"]), [60.0, 30.0, 8.0]);
    assert_eq!(v["n_train"], 98);
    assert_eq!(v["config"]["features"], "identity");
    assert_eq!(floats(&v["moment_counts"]), [60.0, 30.0, 8.0]);
    assert!(v["config"]["moment_samples"].is_null());
    assert_eq!(floats(&v["predicted_per_class_error"]).len(), 3);
    // The same run, spelled out: the same subsample order, the same errors.
    let spelled = json(&file_args(
        &f,
        &[&run[..], &["--counts", "60,30,8", "--features", "identity"]].concat(),
    ));
    assert_eq!(spelled["per_class_error"], v["per_class_error"]);
    // Random features only when asked (the width as researchers write it).
    let relu = json(&file_args(
        &f,
        &[&run[..], &["--features", "relu:1e2"]].concat(),
    ));
    assert_eq!(relu["config"]["features"], "relu:100");
    // Asking explicitly for more moment samples than a class has stays an error.
    fails(
        &file_args(
            &f,
            &[&run[..], &["--predict", "--moment-samples", "40"]].concat(),
        ),
        "asks for 40 images of class 1",
    );
    // An image folder is used as given too.
    let dir = t.0.join("folder");
    png_folder(&dir.join("train"), &[12, 7], 1);
    png_folder(&dir.join("test"), &[5, 5], 2);
    let (train, test) = (dir.join("train"), dir.join("test"));
    let v = json(&[
        "train",
        "--image-folder",
        train.to_str().unwrap(),
        "--test-image-folder",
        test.to_str().unwrap(),
        "--features",
        "identity",
        "--method",
        "ce",
        "--time",
        "1e3",
        "--json",
    ]);
    assert_eq!(floats(&v["config"]["counts"]), [12.0, 7.0]);
}

#[test]
fn mnist_pixels_as_npy_match_the_built_in_path() {
    use imbalance_datasets::{LoadOptions, Split, load_dir, preprocess};
    let Some(dir) = data_dir() else { return };
    let ds = load_dir(
        imbalance_datasets::DatasetName::Mnist,
        &dir.join("mnist"),
        &LoadOptions::default(),
    )
    .unwrap();
    // The built-in path feeds the feature map pixels / 255 minus the mean of the whole pool;
    // the .npy path uses its features as given. So write exactly those rows (f64: the same
    // bits), the whole pool in its order (the subsample is drawn from its labels) and the
    // whole test set.
    let all = |n: usize| (0..n).collect::<Vec<usize>>();
    let p = preprocess(&ds, &all(ds.n_train()), &all(ds.n_test())).unwrap();
    let t = Tmp::new("mnist");
    let d = ds.dim();
    let files = [
        t.write("train.npy", &f64_npy(ds.n_train(), d, &p.train)),
        t.write("train-labels.npy", &u8_npy(ds.raw_labels(Split::Train))),
        t.write("test.npy", &f64_npy(ds.n_test(), d, &p.test)),
        t.write("test-labels.npy", &u8_npy(ds.raw_labels(Split::Test))),
    ];
    drop(p);
    let common = [
        "--profile",
        "exp",
        "--n-max",
        "40",
        "--ratio",
        "10",
        "--features",
        "identity",
        "--method",
        "la",
        "--time",
        "1e4",
        "--seed",
        "5",
        "--predict",
        "--moment-samples",
        "20",
        "--json",
    ];
    let dir_s = dir.display().to_string();
    let mut builtin = vec!["train", "--dataset", "mnist", "--data-dir", dir_s.as_str()];
    builtin.extend_from_slice(&common);
    let a = json(&builtin);
    let b = json(&file_args(&files, &common));
    for key in [
        "per_class_error",
        "balanced_error",
        "predicted_per_class_error",
        "effective_rank",
        "time_scale",
        "n_train",
        "test_per_class",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_eq!(a["config"]["counts"], b["config"]["counts"]);
    let e = floats(&a["per_class_error"]);
    assert!(e.iter().all(|x| (0.0..=1.0).contains(x)), "{e:?}");
}

#[test]
fn exp_profile_on_mnist_is_the_long_tailed_profile() {
    let Some(dir) = data_dir() else { return };
    let dir = dir.display().to_string();
    let v = json(&[
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        &dir,
        "--profile",
        "exp",
        "--n-max",
        "100",
        "--ratio",
        "100",
        "--features",
        "relu:300",
        "--method",
        "ce",
        "--time",
        "1e5",
        "--json",
    ]);
    // Cao et al. 2019 (CIFAR-10-LT): n_c = floor(n_max * ratio^(-c/(K-1))), K = 10, as their
    // reference code computes it (python: int(100 * 0.01 ** (c / 9.0))).
    let want = [100.0, 59.0, 35.0, 21.0, 12.0, 7.0, 4.0, 2.0, 1.0, 1.0];
    assert_eq!(floats(&v["config"]["counts"]), want);
}

/// Writes gray `h x w` PNG images into `<dir>/<class{c}>/<i>.png`, `counts[c]` per class, with
/// a class-dependent bright column and hashed noise (so the classes are learnable).
fn png_folder(dir: &std::path::Path, counts: &[usize], salt: u32) {
    let (h, w) = (6u32, 5u32);
    for (c, &n) in counts.iter().enumerate() {
        let class = dir.join(format!("class{c}"));
        std::fs::create_dir_all(&class).unwrap();
        for i in 0..n {
            let img = image::GrayImage::from_fn(w, h, |x, y| {
                let noise = (x * 31 + y * 17 + i as u32 * 13 + salt * 7) % 61;
                image::Luma([(noise + if x == c as u32 { 150 } else { 20 }) as u8])
            });
            img.save(class.join(format!("{i:03}.png"))).unwrap();
        }
    }
}

#[test]
fn image_folders_train_as_their_pixels_written_to_npy() {
    use imbalance_datasets::{ImageFolderOptions, image_folder_features, load_image_folders};
    let t = Tmp::new("folders");
    let (tr, te) = (t.0.join("train"), t.0.join("test"));
    png_folder(&tr, &[30, 20, 12], 1);
    png_folder(&te, &[8, 8, 8], 2);
    let (a, b) = load_image_folders(&tr, &te, &ImageFolderOptions::default()).unwrap();
    let fs = image_folder_features(&a, &b).unwrap();
    let to_u8 = |l: &[usize]| l.iter().map(|&c| c as u8).collect::<Vec<u8>>();
    let files = [
        t.write("x.npy", &f64_npy(fs.n_train(), fs.dim, &fs.train)),
        t.write("y.npy", &u8_npy(&to_u8(&fs.train_labels))),
        t.write("xt.npy", &f64_npy(fs.n_test(), fs.dim, &fs.test)),
        t.write("yt.npy", &u8_npy(&to_u8(&fs.test_labels))),
    ];
    let run = [
        "--counts",
        "20,10,4",
        "--features",
        "identity",
        "--method",
        "la",
        "--time",
        "1e4",
        "--predict",
        "--moment-samples",
        "6",
        "--seed",
        "3",
        "--json",
    ];
    let (trs, tes) = (tr.display().to_string(), te.display().to_string());
    let mut folder_args = vec!["train", "--image-folder", &trs, "--test-image-folder", &tes];
    folder_args.extend_from_slice(&run);
    let x = json(&folder_args);
    let y = json(&file_args(&files, &run));
    for key in [
        "per_class_error",
        "predicted_per_class_error",
        "n_train",
        "test_per_class",
    ] {
        assert_eq!(x[key], y[key], "{key}");
    }
    let e = floats(&x["per_class_error"]);
    assert!(e.iter().all(|v| (0.0..=1.0).contains(v)), "{e:?}");

    // Bad combinations are one line naming the flag.
    let with = |extra: &[&'static str]| {
        let mut v: Vec<String> = folder_args.iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run_fails = |args: Vec<String>, expect: &str| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(&a, expect);
    };
    run_fails(with(&["--dataset", "mnist"]), "--dataset");
    run_fails(with(&["--resize", "32"]), "HEIGHTxWIDTH");
    run_fails(with(&["--resize", "0x4"]), "HEIGHTxWIDTH");
    fails(
        &[
            "train",
            "--image-folder",
            &trs,
            "--counts",
            "5,5,5",
            "--method",
            "ce",
        ],
        "--test-image-folder",
    );
    fails(
        &[
            "train",
            "--test-image-folder",
            &tes,
            "--counts",
            "5,5,5",
            "--method",
            "ce",
        ],
        "only goes with --image-folder",
    );
    fails(
        &[
            "train",
            "--dataset",
            "mnist",
            "--resize",
            "8x8",
            "--method",
            "ce",
        ],
        "--resize: only goes with --image-folder",
    );
    // Counts the folder cannot supply, and a folder of another shape.
    fails(
        &[
            "train",
            "--image-folder",
            &trs,
            "--test-image-folder",
            &tes,
            "--counts",
            "31,1,1",
            "--method",
            "ce",
        ],
        "class 0",
    );
    let odd = t.0.join("odd");
    for c in 0..3 {
        std::fs::create_dir_all(odd.join(format!("class{c}"))).unwrap();
        image::GrayImage::new(3, 3)
            .save(odd.join(format!("class{c}/a.png")))
            .unwrap();
    }
    let odds = odd.display().to_string();
    fails(
        &[
            "train",
            "--image-folder",
            &trs,
            "--test-image-folder",
            &odds,
            "--counts",
            "5,5,5",
            "--method",
            "ce",
        ],
        "3 x 3",
    );
    // With --resize both folders are brought to one shape and the run goes through.
    let r = json(&[
        "train",
        "--image-folder",
        &trs,
        "--test-image-folder",
        &odds,
        "--resize",
        "4x4",
        "--counts",
        "5,5,5",
        "--method",
        "ce",
        "--features",
        "identity",
        "--time",
        "1e3",
        "--json",
    ]);
    assert_eq!(r["test_per_class"], serde_json::json!([1, 1, 1]));
}

#[test]
fn preview_draws_a_folder_and_a_dataset() {
    let t = Tmp::new("preview");
    let dir = t.0.join("imgs");
    png_folder(&dir, &[12, 6, 3], 1);
    let out = t.0.join("grid.png");
    let (dirs, outs) = (dir.display().to_string(), out.display().to_string());
    let o = imbalance(&[
        "preview",
        &dirs,
        "--counts",
        "12,6,2",
        "--per-class",
        "8",
        "--out",
        &outs,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("counts 12,6,2"));
    let img = image::open(&out).unwrap().to_rgb8();
    // Tiles hold the images' gray levels: the bright column (150 + noise) appears, and
    // black text on white is there too.
    let levels: std::collections::BTreeSet<u8> = img.pixels().map(|p| p[0]).collect();
    assert!(
        levels.contains(&0) && levels.contains(&255),
        "text on a white page"
    );
    assert!(
        levels.iter().filter(|&&l| (150..211).contains(&l)).count() > 20,
        "{levels:?}"
    );
    // Three rows of tiles: the height grows with the number of classes, the width with
    // --per-class.
    let o = imbalance(&[
        "preview",
        &dirs,
        "--counts",
        "12,6,2",
        "--per-class",
        "2",
        "--out",
        &outs,
    ]);
    assert!(o.status.success());
    let narrow = image::open(&out).unwrap();
    assert!(narrow.width() < img.width() && narrow.height() == img.height());

    fails(
        &[
            "preview",
            &dirs,
            "--counts",
            "12,6,2",
            "--per-class",
            "0",
            "--out",
            &outs,
        ],
        "--per-class",
    );
    fails(
        &["preview", "no-such-thing", "--out", &outs],
        "not a folder of class subfolders",
    );
    // Without counts flags a folder shows all its images, with its own counts.
    let o = imbalance(&["preview", &dirs, "--out", &outs]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("counts 12,6,3"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    fails(
        &["preview", &dirs, "--counts", "13,1,1", "--out", &outs],
        "class 0",
    );
    fails(
        &["preview", "mnist", "--resize", "8x8", "--out", &outs],
        "--resize",
    );

    let Some(data) = data_dir() else { return };
    let datas = data.display().to_string();
    let o = imbalance(&[
        "preview",
        "cifar10",
        "--data-dir",
        &datas,
        "--profile",
        "exp",
        "--n-max",
        "500",
        "--ratio",
        "100",
        "--out",
        &outs,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("counts 500,299,179,107,64,38,23,13,8,5"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let img = image::open(&out).unwrap().to_rgb8();
    // Colour images: some pixel has unequal channels.
    assert!(img.pixels().any(|p| p[0] != p[1] || p[1] != p[2]));
}

#[test]
fn tune_chooses_from_the_pool_and_trains_at_its_choice() {
    let t = Tmp::new("tune");
    let f = good_files(&t, "f64", true);
    let run = [
        "--counts",
        "40,20,5",
        "--features",
        "identity",
        "--time",
        "1e4",
        "--moment-samples",
        "10",
        "--json",
    ];
    let mut tuned_args = run.to_vec();
    tuned_args.extend_from_slice(&["--method", "la", "--tune"]);
    let a = json(&file_args(&f, &tuned_args));
    let tuned = &a["tuned"];
    assert_eq!(tuned["param"], "tau");
    assert_eq!(tuned["objective"], "balanced");
    let tau = tuned["value"].as_f64().unwrap();
    assert!((0.0..=32.0).contains(&tau), "{tau}");
    assert_eq!(a["config"]["method"]["params"]["tau"].as_f64(), Some(tau));
    // The curve's minimum is at least the refined optimum's value (Brent refines the scan).
    let best = tuned["objective_value"].as_f64().unwrap();
    let curve_min = tuned["curve"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert!(best <= curve_min + 1e-12, "{best} vs scan {curve_min}");
    assert_eq!(a["predicted_balanced_error"].as_f64(), Some(best));
    // Training at that tau by hand gives the same run (the f64 prints round-trip exactly).
    let tau_s = format!("{tau:?}");
    let mut by_hand = run.to_vec();
    by_hand.extend_from_slice(&["--method", "la", "--tau", &tau_s, "--predict"]);
    let b = json(&file_args(&f, &by_hand));
    for key in [
        "per_class_error",
        "predicted_per_class_error",
        "balanced_error",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
    // Worst-class objective, LDAM's margin.
    let mut w = run.to_vec();
    w.extend_from_slice(&["--method", "ldam", "--tune", "worst"]);
    let c = json(&file_args(&f, &w));
    assert_eq!(c["tuned"]["param"], "margin");
    assert_eq!(c["tuned"]["objective"], "worst");

    let mut bad = run.to_vec();
    bad.extend_from_slice(&["--method", "ce", "--tune"]);
    fails(&file_args(&f, &bad), "--tune: ce has nothing to tune");
    let mut bad = run.to_vec();
    bad.extend_from_slice(&["--method", "la", "--tau", "2", "--tune"]);
    fails(&file_args(&f, &bad), "--tau: not with --tune");
    let mut bad = run.to_vec();
    bad.extend_from_slice(&["--method", "la", "--tune", "best"]);
    fails(&file_args(&f, &bad), "allowed: balanced, worst");
}
