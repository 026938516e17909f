//! Image folders: one subfolder of PNG or JPEG images per class (the `ImageFolder` layout of
//! torchvision and most users' data), decoded with the `image` crate into the byte layout of
//! the built-in loaders, and turned into a [`FeatureSet`] with their preprocessing.
//!
//! Layout: `DIR/<class name>/<image file>`. Classes are the subfolders in sorted (byte) order,
//! as torchvision numbers them; images are the files of each class folder in sorted order,
//! decoded by content (a `.png` that holds a JPEG still loads). Files whose extension is not
//! `png`, `jpg` or `jpeg` (any case) and hidden entries (name starting with `.`) are skipped.
//!
//! Every image must have the shape of the first one (height x width), unless
//! [`ImageFolderOptions::resize`] names one shape to resize to. Colour: a folder of grayscale
//! images stays one channel (the layout of MNIST: row-major height x width); if any image
//! has colour, all are RGB, stored as three planes like CIFAR-10 (1024 red, then green, then
//! blue bytes for 32 x 32), grayscale images replicated to three planes. Alpha is dropped
//! (images are composited on nothing: the colour channels are kept as stored).

use std::path::{Path, PathBuf};

use image::{DynamicImage, GenericImageView, imageops::FilterType};

use crate::FeatureSet;
use crate::error::{Error, Result};

/// Options of [`load_image_folder`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageFolderOptions {
    /// Resize every image to `(height, width)` (bilinear, `image`'s Triangle filter). `None`
    /// (the default): every image must already have the first image's shape.
    pub resize: Option<(u32, u32)>,
}

impl ImageFolderOptions {
    /// These options with `resize`.
    pub fn with_resize(self, resize: Option<(u32, u32)>) -> Self {
        Self { resize }
    }
}

/// The images of one folder, decoded: one byte per pixel and channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFolder {
    /// The folder read.
    pub root: PathBuf,
    /// Class names: the subfolders of `root` in sorted order (class `c` is `class_names[c]`).
    pub class_names: Vec<String>,
    /// `[channels, height, width]`, channels 1 (grayscale) or 3 (RGB).
    pub image_shape: [usize; 3],
    /// `labels.len() * channels * height * width` bytes, image after image, each image plane
    /// after plane (each plane row-major).
    pub pixels: Vec<u8>,
    /// The class of each image, in `0..class_names.len()`.
    pub labels: Vec<usize>,
    /// The file of each image, in order.
    pub files: Vec<PathBuf>,
}

impl ImageFolder {
    /// Bytes per image (`channels * height * width`).
    pub fn dim(&self) -> usize {
        self.image_shape.iter().product()
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the folder holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Images per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.class_names.len()];
        for &l in &self.labels {
            counts[l] += 1;
        }
        counts
    }

    /// The bytes of image `i`, or `None` when out of range.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let d = self.dim();
        self.pixels.get(i * d..(i + 1) * d)
    }
}

fn folder_err(path: &Path, problem: impl Into<String>) -> Error {
    Error::ImageFolder {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The entries of `dir` in sorted order, hidden ones left out, with whether each is a folder.
fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(folder_err(&path, "file name is not valid UTF-8"));
        };
        if name.starts_with('.') {
            continue;
        }
        // Follows symbolic links, as a user who links class folders into place expects.
        let is_dir = std::fs::metadata(&path).map_err(io_err(&path))?.is_dir();
        out.push((name, path, is_dir));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn is_image_name(name: &str) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg"))
}

/// Reads an image folder: the class subfolders of `dir` (sorted) and their PNG/JPEG images.
///
/// `classes` fixes the class list instead (a test folder must use its training folder's
/// numbering): the subfolders must then be exactly those classes.
///
/// Errors name the folder or file: no class subfolders, fewer than two classes, a class
/// folder without images, an image that does not decode, a shape that differs from the
/// first image's (without `resize`), a folder too large to hold in memory.
pub fn load_image_folder(
    dir: &Path,
    classes: Option<&[String]>,
    opts: &ImageFolderOptions,
) -> Result<ImageFolder> {
    let meta = std::fs::metadata(dir).map_err(io_err(dir))?;
    if !meta.is_dir() {
        return Err(folder_err(
            dir,
            "is not a folder; an image folder holds one subfolder of PNG/JPEG images per class",
        ));
    }
    let class_dirs: Vec<(String, PathBuf)> = sorted_entries(dir)?
        .into_iter()
        .filter(|(_, _, is_dir)| *is_dir)
        .map(|(name, path, _)| (name, path))
        .collect();
    let class_names: Vec<String> = match classes {
        Some(c) => c.to_vec(),
        None => class_dirs.iter().map(|(n, _)| n.clone()).collect(),
    };
    if class_dirs.is_empty() {
        return Err(folder_err(
            dir,
            "has no class subfolders; an image folder holds one subfolder of PNG/JPEG images per class",
        ));
    }
    if class_names.len() < 2 {
        return Err(folder_err(
            dir,
            format!(
                "has {} class subfolder; at least 2 classes are needed",
                class_names.len()
            ),
        ));
    }
    let mut files = Vec::new();
    let mut labels = Vec::new();
    for (name, path) in &class_dirs {
        let Some(label) = class_names.iter().position(|c| c == name) else {
            return Err(folder_err(
                path,
                format!(
                    "is not a class of the training folder (its classes: {})",
                    class_names.join(", ")
                ),
            ));
        };
        let before = files.len();
        for (file, fpath, is_dir) in sorted_entries(path)? {
            if !is_dir && is_image_name(&file) {
                files.push(fpath);
                labels.push(label);
            }
        }
        if files.len() == before {
            return Err(folder_err(
                path,
                "holds no .png, .jpg or .jpeg image; every class folder needs at least one",
            ));
        }
    }
    if let Some(missing) = class_names
        .iter()
        .find(|c| !class_dirs.iter().any(|(n, _)| n == *c))
    {
        return Err(folder_err(
            dir,
            format!(
                "has no subfolder '{missing}'; it needs one per class of the training folder ({})",
                class_names.join(", ")
            ),
        ));
    }
    let mut decoded = Decoded::default();
    for (i, path) in files.iter().enumerate() {
        let img = decode(path)?;
        let img = match opts.resize {
            Some((h, w)) if img.dimensions() != (w, h) => {
                img.resize_exact(w, h, FilterType::Triangle)
            }
            _ => img,
        };
        decoded.push(path, img, files.len(), i)?;
    }
    let (image_shape, pixels) = decoded.finish();
    Ok(ImageFolder {
        root: dir.to_path_buf(),
        class_names,
        image_shape,
        pixels,
        labels,
        files,
    })
}

fn decode(path: &Path) -> Result<DynamicImage> {
    let reader = image::ImageReader::open(path)
        .map_err(io_err(path))?
        .with_guessed_format()
        .map_err(io_err(path))?;
    reader.decode().map_err(|e| {
        folder_err(
            path,
            format!("cannot be decoded as a PNG or JPEG image ({e})"),
        )
    })
}

/// Images decoded so far: grayscale ones as one plane, colour ones as three, until
/// [`Decoded::finish`] brings all to the same number of channels.
#[derive(Default)]
struct Decoded {
    /// `(height, width)` of every image (the first one's).
    shape: Option<(usize, usize)>,
    first: PathBuf,
    /// Each image's bytes, planar.
    planes: Vec<Vec<u8>>,
    any_colour: bool,
}

impl Decoded {
    fn push(&mut self, path: &Path, img: DynamicImage, total: usize, i: usize) -> Result<()> {
        let (w, h) = img.dimensions();
        let (w, h) = (w as usize, h as usize);
        match self.shape {
            None => {
                // Sized before anything is held: every image takes up to 3 h w bytes.
                let bytes = total
                    .checked_mul(3)
                    .and_then(|b| b.checked_mul(h))
                    .and_then(|b| b.checked_mul(w));
                let mut probe: Vec<u8> = Vec::new();
                if bytes.is_none_or(|b| probe.try_reserve_exact(b).is_err()) {
                    return Err(folder_err(
                        path.parent().unwrap_or(path),
                        format!(
                            "{total} images of {h} x {w} pixels do not fit in memory (up to 3 x {total} x {h} x {w} bytes); use a smaller folder or resize"
                        ),
                    ));
                }
                self.shape = Some((h, w));
                self.first = path.to_path_buf();
                self.planes.reserve_exact(total);
            }
            Some((h0, w0)) if (h0, w0) != (h, w) => {
                return Err(folder_err(
                    path,
                    format!(
                        "is {h} x {w} pixels (height x width), but {} (image 1) is {h0} x {w0}; images of one folder need one shape (or resize them)",
                        self.first.display()
                    ),
                ));
            }
            Some(_) => {}
        }
        debug_assert_eq!(self.planes.len(), i);
        let colour = img.color().has_color();
        self.any_colour |= colour;
        let bytes = if colour {
            let rgb = img.to_rgb8();
            let raw = rgb.as_raw();
            (0..3)
                .flat_map(|c| raw.iter().skip(c).step_by(3).copied())
                .collect()
        } else {
            img.to_luma8().into_raw()
        };
        self.planes.push(bytes);
        Ok(())
    }

    fn finish(self) -> ([usize; 3], Vec<u8>) {
        let (h, w) = self.shape.unwrap_or((0, 0));
        let channels = if self.any_colour { 3 } else { 1 };
        let mut pixels = Vec::with_capacity(self.planes.len() * channels * h * w);
        for p in self.planes {
            if channels == 3 && p.len() == h * w {
                for _ in 0..3 {
                    pixels.extend_from_slice(&p);
                }
            } else {
                pixels.extend_from_slice(&p);
            }
        }
        ([channels, h, w], pixels)
    }
}

/// Reads a training folder and a test folder (numbered by the training folder's classes, the
/// same class subfolders).
/// The test folder's images must have the training images' shape (after `resize`).
pub fn load_image_folders(
    train: &Path,
    test: &Path,
    opts: &ImageFolderOptions,
) -> Result<(ImageFolder, ImageFolder)> {
    let tr = load_image_folder(train, None, opts)?;
    let te = load_image_folder(test, Some(&tr.class_names), opts)?;
    if te.image_shape != tr.image_shape {
        let [c, h, w] = tr.image_shape;
        let [ct, ht, wt] = te.image_shape;
        return Err(folder_err(
            test,
            format!(
                "holds {ct}-channel {ht} x {wt} images, but the training folder {} holds {c}-channel {h} x {w} ones",
                train.display()
            ),
        ));
    }
    Ok((tr, te))
}

/// The features of a training and a test folder, preprocessed as the built-in loaders'
/// images ([`crate::preprocess`]): pixels scaled to [0, 1] and centred by the mean of ALL
/// training images.
pub fn image_folder_features(train: &ImageFolder, test: &ImageFolder) -> Result<FeatureSet> {
    let d = train.dim();
    let mean = crate::subsample::pixel_mean(&train.pixels, d);
    let all = |f: &ImageFolder| crate::subsample::centred_rows(&f.pixels, &mean);
    let name = |f: &ImageFolder| f.root.display().to_string();
    FeatureSet::new(
        d,
        all(train),
        train.labels.clone(),
        all(test),
        test.labels.clone(),
        [name(train), name(train), name(test), name(test)],
    )
}
