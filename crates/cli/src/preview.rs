//! `imbalance preview`: a PNG grid of training images, one row per class, each row labelled
//! with the class name and its training count under the chosen counts or profile, so a user
//! sees the imbalance they are about to train on.
//!
//! The images shown are the first ones of the subsample `imbalance train` draws with the same
//! counts and `--seed` (the same generator, in the same order), so they are images the run
//! will train on. Labels use the public-domain 8 x 8 bitmap font of the `font8x8` crate: the
//! picture needs no system font and is the same on every machine.

use std::path::PathBuf;

use clap::Args;
use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};
use imbalance_datasets::{
    DatasetName, ImageFolderOptions, LoadOptions, Split, load, load_image_folder, subsample,
    write_atomic,
};
use imbalance_pipeline::ClassCounts;
use rand::SeedableRng;
use rand_pcg::Pcg64;

use crate::counts::{ImageCountsArgs, builtin_counts, own_data_counts};
use crate::error::{Result, usage};
use crate::train::parse_resize;

/// Arguments of `imbalance preview`.
#[derive(Debug, Clone, Args)]
pub struct PreviewArgs {
    /// A built-in dataset (mnist, fashion-mnist, cifar10) or an image folder (one subfolder of
    /// PNG/JPEG images per class).
    #[arg(value_name = "DATASET|DIR")]
    dataset: String,
    /// The PNG file to write.
    #[arg(long, value_name = "FILE.png")]
    out: PathBuf,
    /// Images shown per class (1 to 32; a class with fewer training images shows all).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = crate::args::parse_usize)]
    per_class: usize,
    /// Folder holding `<name>/` for a built-in dataset (as for `imbalance train`).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Resize every image of an image folder to HEIGHTxWIDTH.
    #[arg(long, value_name = "HxW", value_parser = parse_resize)]
    resize: Option<(u32, u32)>,
    #[command(flatten)]
    class_counts: ImageCountsArgs,
    /// Seed of the subsample (as `imbalance train --seed`).
    #[arg(long, value_name = "S", default_value_t = 0, value_parser = crate::args::parse_u64)]
    seed: u64,
}

/// The training pool of a dataset or an image folder, as raw bytes.
struct Pool {
    name: String,
    /// `[channels, height, width]`.
    shape: [usize; 3],
    class_names: Vec<String>,
    pixels: Vec<u8>,
    labels: Vec<usize>,
    /// Images per class of the user's own folder (used as given without counts flags);
    /// `None` for a built-in dataset, whose default counts apply.
    own_counts: Option<Vec<usize>>,
}

impl Pool {
    fn image(&self, i: usize) -> &[u8] {
        let d: usize = self.shape.iter().product();
        &self.pixels[i * d..(i + 1) * d]
    }
}

fn load_pool(args: &PreviewArgs) -> Result<Pool> {
    match args.dataset.parse::<DatasetName>() {
        Ok(name) => {
            if args.resize.is_some() {
                return Err(usage("--resize", "only goes with an image folder"));
            }
            let ds = load(name, args.data_dir.as_deref(), &LoadOptions::default())?;
            let labels = ds.labels(Split::Train);
            Ok(Pool {
                name: name.to_string(),
                shape: ds.image_shape,
                class_names: ds.class_names,
                pixels: ds.train_pixels,
                labels,
                own_counts: None,
            })
        }
        Err(_) if std::path::Path::new(&args.dataset).is_dir() => {
            if args.data_dir.is_some() {
                return Err(usage("--data-dir", "only goes with a built-in dataset"));
            }
            let opts = ImageFolderOptions::default().with_resize(args.resize);
            let f = load_image_folder(std::path::Path::new(&args.dataset), None, &opts)?;
            let path = std::path::Path::new(&args.dataset);
            let own_counts = Some(f.class_counts());
            Ok(Pool {
                // The folder's own name: a title, not a path.
                name: path.file_name().map_or_else(
                    || args.dataset.clone(),
                    |n| n.to_string_lossy().into_owned(),
                ),
                shape: f.image_shape,
                class_names: f.class_names,
                own_counts,
                pixels: f.pixels,
                labels: f.labels,
            })
        }
        Err(e) => Err(usage(
            "DATASET",
            format!(
                "{e}, and '{}' is not a folder of class subfolders",
                args.dataset
            ),
        )),
    }
}

/// Pixels of one glyph cell (8 x 8 font drawn at 2x).
const GLYPH: u32 = 16;
/// Space between tiles and around the grid.
const GAP: u32 = 4;
/// Tiles are upscaled to at least this many pixels on their longer side.
const MIN_TILE: usize = 56;
/// Longest picture side accepted (a larger one is a flag mistake, not a preview).
const MAX_SIDE: u64 = 16_384;

/// Draws `text` with its top-left corner at `(x, y)`, in black, clipped to the image.
fn draw_text(img: &mut RgbImage, x: u32, y: u32, text: &str) {
    for (i, ch) in text.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS
            .get(ch)
            .or_else(|| font8x8::BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let px = x + i as u32 * GLYPH + col * 2 + dx;
                        let py = y + row as u32 * 2 + dy;
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, Rgb([0, 0, 0]));
                        }
                    }
                }
            }
        }
    }
}

/// The preview picture: a title line, then per class a label and up to `per_class` tiles.
fn render(pool: &Pool, counts: &[usize], shown: &[Vec<usize>], title: &str) -> Result<RgbImage> {
    let [c, h, w] = pool.shape;
    let scale = MIN_TILE.div_ceil(h.max(w).max(1)).max(1);
    let (th, tw) = ((h * scale) as u32, (w * scale) as u32);
    let labels: Vec<String> = pool
        .class_names
        .iter()
        .zip(counts)
        .map(|(name, n)| format!("{name}: n={n}"))
        .collect();
    let label_w = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32 * GLYPH;
    let cols = shown.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let row_h = th.max(GLYPH);
    let width = u64::from(GAP) * 2
        + u64::from(label_w)
        + u64::from(cols) * u64::from(tw + GAP)
        + u64::from(GAP);
    let width = width.max(u64::from(GAP) * 2 + title.chars().count() as u64 * u64::from(GLYPH));
    let height = u64::from(GAP) * 2
        + u64::from(GLYPH + GAP)
        + pool.class_names.len() as u64 * u64::from(row_h + GAP);
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(usage(
            "--per-class",
            format!(
                "the picture would be {width} x {height} pixels (at most {MAX_SIDE} per side): show fewer images per class or resize"
            ),
        ));
    }
    let mut img = RgbImage::from_pixel(width as u32, height as u32, Rgb([255, 255, 255]));
    draw_text(&mut img, GAP, GAP, title);
    let plane = h * w;
    for (class, rows) in shown.iter().enumerate() {
        let y0 = GAP * 2 + GLYPH + class as u32 * (row_h + GAP);
        draw_text(&mut img, GAP, y0 + (row_h - GLYPH) / 2, &labels[class]);
        for (j, &i) in rows.iter().enumerate() {
            let px = pool.image(i);
            let x0 = GAP * 2 + label_w + j as u32 * (tw + GAP);
            for y in 0..th {
                for x in 0..tw {
                    let p = (y as usize / scale) * w + x as usize / scale;
                    let rgb = if c == 3 {
                        [px[p], px[plane + p], px[2 * plane + p]]
                    } else {
                        [px[p]; 3]
                    };
                    img.put_pixel(x0 + x, y0 + y, Rgb(rgb));
                }
            }
        }
    }
    Ok(img)
}

/// The checks of `imbalance preview` that read no data: `--per-class` and the counts flags
/// (`None`: none given).
pub fn check(args: &PreviewArgs) -> Result<Option<ClassCounts>> {
    if !(1..=32).contains(&args.per_class) {
        return Err(usage(
            "--per-class",
            format!("{} is out of range: allowed 1 to 32", args.per_class),
        ));
    }
    args.class_counts.class_counts()
}

/// Runs `imbalance preview`.
pub fn run_preview(args: &PreviewArgs) -> Result<()> {
    let class_counts = check(args)?;
    let pool = load_pool(args)?;
    let k = pool.class_names.len();
    // The same generator, in the same order, as `imbalance train`: counts, then subsample.
    let mut rng = Pcg64::seed_from_u64(args.seed);
    let counts = match &pool.own_counts {
        None => builtin_counts(class_counts.as_ref(), k, &mut rng)?,
        Some(own) => own_data_counts(class_counts.as_ref(), own, &mut rng)?,
    };
    let rows = subsample(&pool.labels, &counts, &mut rng)?;
    let mut shown = vec![Vec::new(); k];
    for &i in &rows {
        let s = &mut shown[pool.labels[i]];
        if s.len() < args.per_class {
            s.push(i);
        }
    }
    let n: usize = counts.iter().sum();
    let title = format!("{}: {n} training images, {k} classes", pool.name);
    let img = render(&pool, &counts, &shown, &title)?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| usage("--out", format!("cannot encode the PNG: {e}")))?;
    write_atomic(&args.out, &png)?;
    eprintln!(
        "wrote {} ({} x {} pixels): {k} classes, counts {}",
        args.out.display(),
        img.width(),
        img.height(),
        counts
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    Ok(())
}
