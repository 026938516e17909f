//! Image folders (`DIR/<class>/<image>`): the MNIST test set and CIFAR-10 images written as
//! PNG files load to the same pixels as the IDX / CIFAR loaders, and every bad layout or file
//! is one error naming it. The real-data tests skip when `../shared/datasets` is absent.

use std::path::Path;

use image::{GrayImage, RgbImage};
use imbalance_datasets::{
    DatasetName, Error, ImageFolderOptions, LoadOptions, Split, image_folder_features, load,
    load_image_folder, load_image_folders, preprocess,
};

mod common;
use common::shared;

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("imbalance-image-folder-")
        .tempdir()
        .unwrap()
}

/// Writes image `i` of a split of `ds` as `<dir>/<class name>/<i:05>.png`.
fn write_split(ds: &imbalance_datasets::Dataset, split: Split, dir: &Path, take: usize) {
    let [c, h, w] = ds.image_shape;
    for (i, &label) in ds.raw_labels(split).iter().enumerate().take(take) {
        let class = dir.join(&ds.class_names[label as usize]);
        std::fs::create_dir_all(&class).unwrap();
        let px = ds.image(split, i).unwrap();
        let path = class.join(format!("{i:05}.png"));
        if c == 1 {
            GrayImage::from_raw(w as u32, h as u32, px.to_vec())
                .unwrap()
                .save(&path)
                .unwrap();
        } else {
            // CIFAR bytes are planar (R plane, G plane, B plane); PNG is interleaved.
            let plane = h * w;
            let rgb = (0..plane)
                .flat_map(|j| [px[j], px[plane + j], px[2 * plane + j]])
                .collect();
            RgbImage::from_raw(w as u32, h as u32, rgb)
                .unwrap()
                .save(&path)
                .unwrap();
        }
    }
}

/// The images of `ds` (first `take` of a split) grouped by class in the loader's order: class
/// by class (sorted names), within a class in file-name (= original index) order.
fn expected_by_class(
    ds: &imbalance_datasets::Dataset,
    split: Split,
    take: usize,
) -> (Vec<u8>, Vec<String>) {
    let mut names: Vec<String> = ds.class_names.clone();
    names.sort();
    let labels = ds.raw_labels(split);
    let mut pixels = Vec::new();
    for name in &names {
        for i in 0..take.min(labels.len()) {
            if &ds.class_names[labels[i] as usize] == name {
                pixels.extend_from_slice(ds.image(split, i).unwrap());
            }
        }
    }
    (pixels, names)
}

#[test]
fn mnist_test_set_as_png_folder_loads_to_the_idx_pixels() {
    let Some(root) = shared() else { return };
    let ds = load(DatasetName::Mnist, Some(&root), &LoadOptions::default()).unwrap();
    let dir = temp_dir();
    write_split(&ds, Split::Test, dir.path(), usize::MAX);
    let f = load_image_folder(dir.path(), None, &ImageFolderOptions::default()).unwrap();
    assert_eq!(f.image_shape, [1, 28, 28]);
    assert_eq!(f.len(), ds.n_test());
    let (pixels, names) = expected_by_class(&ds, Split::Test, usize::MAX);
    assert_eq!(f.class_names, names);
    assert!(f.pixels == pixels, "pixels differ from the IDX loader's");
    // Class counts follow the class names (MNIST's names "0 - zero" ... sort as the labels).
    assert_eq!(f.class_counts(), ds.class_counts(Split::Test));
}

#[test]
fn cifar_images_as_png_folder_load_to_the_planar_cifar_bytes() {
    let Some(root) = shared() else { return };
    let ds = load(DatasetName::Cifar10, Some(&root), &LoadOptions::default()).unwrap();
    let dir = temp_dir();
    let take = 300;
    write_split(&ds, Split::Test, dir.path(), take);
    let f = load_image_folder(dir.path(), None, &ImageFolderOptions::default()).unwrap();
    assert_eq!(f.image_shape, [3, 32, 32]);
    let (pixels, names) = expected_by_class(&ds, Split::Test, take);
    assert_eq!(f.class_names, names);
    assert!(f.pixels == pixels, "pixels differ from the CIFAR loader's");
}

/// A tiny folder: `counts[c]` gray images of `h x w` in class folder `class{c}`, pixel values
/// that tell the images apart.
fn tiny_folder(dir: &Path, counts: &[usize], h: u32, w: u32) {
    for (c, &n) in counts.iter().enumerate() {
        let class = dir.join(format!("class{c}"));
        std::fs::create_dir_all(&class).unwrap();
        for i in 0..n {
            GrayImage::from_fn(w, h, |x, y| {
                image::Luma([(c * 50 + i * 7 + (x + y) as usize) as u8])
            })
            .save(class.join(format!("{i}.png")))
            .unwrap();
        }
    }
}

fn err_of(r: Result<impl std::fmt::Debug, Error>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn features_are_scaled_and_centred_like_the_built_in_preprocessing() {
    let (tr, te) = (temp_dir(), temp_dir());
    tiny_folder(tr.path(), &[3, 2], 4, 5);
    tiny_folder(te.path(), &[1, 2], 4, 5);
    let opts = ImageFolderOptions::default();
    let (a, b) = load_image_folders(tr.path(), te.path(), &opts).unwrap();
    let fs = image_folder_features(&a, &b).unwrap();
    assert_eq!(
        (fs.dim, fs.num_classes, fs.n_train(), fs.n_test()),
        (20, 2, 5, 3)
    );
    assert_eq!(fs.train_labels, vec![0, 0, 0, 1, 1]);
    assert_eq!(fs.test_labels, vec![0, 1, 1]);
    // The same images through the IDX path give the same preprocessed rows.
    let ds = imbalance_datasets::Dataset {
        name: DatasetName::Mnist,
        image_shape: [1, 4, 5],
        train_pixels: a.pixels.clone(),
        train_labels: a.labels.iter().map(|&l| l as u8).collect(),
        test_pixels: b.pixels.clone(),
        test_labels: b.labels.iter().map(|&l| l as u8).collect(),
        class_names: a.class_names.clone(),
        files: vec![],
        train_batches: vec![],
        notes: vec![],
        warnings: vec![],
    };
    let p = preprocess(&ds, &[0, 1, 2, 3, 4], &[0, 1, 2]).unwrap();
    assert_eq!(fs.train, p.train);
    assert_eq!(fs.test, p.test);
}

#[test]
fn colour_and_gray_images_mix_as_rgb_and_resize_applies() {
    let dir = temp_dir();
    tiny_folder(dir.path(), &[1, 1], 6, 6);
    // Class 1 gets an RGB image of another size.
    RgbImage::from_pixel(3, 2, image::Rgb([10, 20, 30]))
        .save(dir.path().join("class1/rgb.png"))
        .unwrap();
    let e = err_of(load_image_folder(
        dir.path(),
        None,
        &ImageFolderOptions::default(),
    ));
    assert!(
        e.contains("rgb.png") && e.contains("2 x 3") && e.contains("6 x 6"),
        "{e}"
    );
    let opts = ImageFolderOptions::default().with_resize(Some((2, 3)));
    let f = load_image_folder(dir.path(), None, &opts).unwrap();
    assert_eq!(f.image_shape, [3, 2, 3]);
    assert_eq!(f.labels, vec![0, 1, 1]);
    // The RGB image (third, "rgb.png" sorts after "0.png") keeps its planes.
    let img = f.image(2).unwrap();
    assert_eq!(
        img,
        &[
            10, 10, 10, 10, 10, 10, 20, 20, 20, 20, 20, 20, 30, 30, 30, 30, 30, 30
        ]
    );
    // A gray image is replicated into three equal planes.
    let g = f.image(0).unwrap();
    assert_eq!(&g[..6], &g[6..12]);
    assert_eq!(&g[..6], &g[12..]);
}

#[test]
fn jpeg_images_decode() {
    let dir = temp_dir();
    tiny_folder(dir.path(), &[1, 1], 8, 8);
    GrayImage::from_pixel(8, 8, image::Luma([128]))
        .save(dir.path().join("class0/x.JPG"))
        .unwrap();
    let f = load_image_folder(dir.path(), None, &ImageFolderOptions::default()).unwrap();
    assert_eq!((f.len(), f.image_shape), (3, [1, 8, 8]));
    // JPEG is lossy, but a flat gray image survives within a few levels.
    assert!(f.image(1).unwrap().iter().all(|&v| v.abs_diff(128) <= 2));
}

#[test]
fn bad_folders_name_what_is_wrong() {
    let opts = ImageFolderOptions::default();
    let dir = temp_dir();
    let missing = dir.path().join("nope");
    let e = err_of(load_image_folder(&missing, None, &opts));
    assert!(e.contains("nope"), "{e}");

    let e = err_of(load_image_folder(dir.path(), None, &opts));
    assert!(e.contains("no class subfolders"), "{e}");

    tiny_folder(dir.path(), &[2], 3, 3);
    let e = err_of(load_image_folder(dir.path(), None, &opts));
    assert!(e.contains("at least 2 classes"), "{e}");

    std::fs::create_dir(dir.path().join("class1")).unwrap();
    std::fs::write(dir.path().join("class1/readme.txt"), "not an image").unwrap();
    let e = err_of(load_image_folder(dir.path(), None, &opts));
    assert!(e.contains("class1") && e.contains("holds no .png"), "{e}");

    std::fs::write(
        dir.path().join("class1/broken.png"),
        b"\x89PNG\r\n\x1a\nbroken",
    )
    .unwrap();
    let e = err_of(load_image_folder(dir.path(), None, &opts));
    assert!(
        e.contains("broken.png") && e.contains("cannot be decoded"),
        "{e}"
    );

    // A file given as the folder.
    let file = dir.path().join("class0/0.png");
    let e = err_of(load_image_folder(&file, None, &opts));
    assert!(e.contains("is not a folder"), "{e}");

    // A test folder with a class the training folder does not have.
    let (tr, te) = (temp_dir(), temp_dir());
    tiny_folder(tr.path(), &[1, 1], 3, 3);
    tiny_folder(te.path(), &[1, 1, 1], 3, 3);
    let e = err_of(load_image_folders(tr.path(), te.path(), &opts));
    assert!(
        e.contains("class2") && e.contains("not a class of the training folder"),
        "{e}"
    );

    // A test folder without one of the training classes.
    let te3 = temp_dir();
    tiny_folder(te3.path(), &[1], 3, 3);
    std::fs::create_dir(te3.path().join("other")).unwrap();
    let e = err_of(load_image_folders(tr.path(), te3.path(), &opts));
    assert!(e.contains("other") && e.contains("not a class"), "{e}");
    let te4 = temp_dir();
    tiny_folder(te4.path(), &[1], 3, 3);
    let e = err_of(load_image_folders(tr.path(), te4.path(), &opts));
    assert!(e.contains("no subfolder 'class1'"), "{e}");

    // A test folder of another shape.
    let te2 = temp_dir();
    tiny_folder(te2.path(), &[1, 1], 4, 3);
    let e = err_of(load_image_folders(tr.path(), te2.path(), &opts));
    assert!(e.contains("4 x 3") && e.contains("3 x 3"), "{e}");
}
