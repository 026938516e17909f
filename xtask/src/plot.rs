//! Figures for the experiments: theory as lines, simulations as markers with vertical error
//! bars, one or more panels side by side, rendered with plotters to SVG and PNG.
//!
//! ```no_run
//! use xtask::plot::{Figure, Panel};
//! let rho = vec![1.0, 10.0, 100.0];
//! let fig = Figure::new("Per-class error of CE")
//!     .note("lines: theory; points: simulation, mean ± 1 std over 5 seeds")
//!     .panel(
//!         Panel::new("minority", "imbalance ratio ρ", "test error")
//!             .log_x()
//!             .line("CE", rho.clone(), vec![0.1, 0.3, 0.6])
//!             .points("CE", rho.clone(), vec![0.11, 0.29, 0.62], Some(vec![0.01, 0.02, 0.03])),
//!     );
//! fig.write(std::path::Path::new("results/e1"), "errors").unwrap();
//! ```
//!
//! Conventions that keep figures readable and comparable:
//! * colours are assigned per series *label*, in order of first appearance in the figure, and
//!   are the same in every panel; a theory line and simulation points with the same label share
//!   the colour and one legend entry (line with marker);
//! * every distinct points label also gets its own marker shape (circle, triangle, square,
//!   cross, ...), so figures survive grey-scale printing;
//! * the legend sits in a band below the panels, so it never covers data;
//! * log axes get ticks at 1-2-5 or at decades, labelled with plain numbers (`0.01`, `100`);
//! * data outside an explicitly set axis range is clipped, never drawn over the labels.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::table::round_sig;
use imbalance_datasets::{write_atomic, write_atomic_with};

/// Font family for all text (fontconfig resolves it; DejaVu Sans on our machines).
const FONT: &str = "sans-serif";
/// Tick label font size. plotters draws text at about 0.81 of the nominal size (16.1 px in
/// the SVG for 20), so these are chosen to give >= 16 px for everything.
const TICK_FONT: u32 = 20;
/// Axis description font size.
const AXIS_FONT: u32 = 22;
/// Panel title font size.
const PANEL_FONT: u32 = 24;
/// Figure title font size.
const TITLE_FONT: u32 = 28;
/// Legend and note font size.
const LEGEND_FONT: u32 = 20;

/// Tableau-10 colours (distinguishable, colour-blind-friendlier than plotters' defaults).
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// One data series of a panel.
#[derive(Debug, Clone, PartialEq)]
pub enum Series {
    /// A theory curve: a solid line through `(xs[i], ys[i])`.
    Line {
        /// Legend label (also selects the colour).
        label: String,
        /// Abscissae.
        xs: Vec<f64>,
        /// Ordinates (non-finite values, and non-positive ones on a log axis, are skipped).
        ys: Vec<f64>,
    },
    /// Simulation results: markers at `(xs[i], ys[i])` with vertical error bars
    /// `ys[i] ± err[i]` (e.g. one standard deviation over seeds).
    Points {
        /// Legend label (also selects the colour).
        label: String,
        /// Abscissae.
        xs: Vec<f64>,
        /// Ordinates (e.g. means over seeds).
        ys: Vec<f64>,
        /// Half-lengths of the error bars, if any.
        err: Option<Vec<f64>>,
    },
}

impl Series {
    /// The legend label.
    pub fn label(&self) -> &str {
        match self {
            Series::Line { label, .. } | Series::Points { label, .. } => label,
        }
    }
}

/// One chart: axes, labels and series.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Panel title (above the chart; may be empty).
    pub title: String,
    /// x-axis label (with units).
    pub x_label: String,
    /// y-axis label (with units).
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Fixed x range (data coordinates); automatic from the data when `None`.
    pub x_range: Option<(f64, f64)>,
    /// Fixed y range (data coordinates); automatic from the data (with error bars) when `None`.
    pub y_range: Option<(f64, f64)>,
    /// The series, drawn lines first, then error bars, then markers.
    pub series: Vec<Series>,
}

impl Panel {
    /// An empty panel with linear axes.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            x_range: None,
            y_range: None,
            series: Vec::new(),
        }
    }

    /// Use a logarithmic x axis.
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }

    /// Use a logarithmic y axis.
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// Fix the x range.
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }

    /// Fix the y range (e.g. `(0.0, 1.0)` for error rates).
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// Add a theory line. Panics if `xs` and `ys` differ in length (a bug, not bad input).
    pub fn line(mut self, label: impl Into<String>, xs: Vec<f64>, ys: Vec<f64>) -> Self {
        assert_eq!(xs.len(), ys.len(), "line: xs and ys differ in length");
        self.series.push(Series::Line {
            label: label.into(),
            xs,
            ys,
        });
        self
    }

    /// Add simulation points with optional error bars. Panics on length mismatches.
    pub fn points(
        mut self,
        label: impl Into<String>,
        xs: Vec<f64>,
        ys: Vec<f64>,
        err: Option<Vec<f64>>,
    ) -> Self {
        assert_eq!(xs.len(), ys.len(), "points: xs and ys differ in length");
        if let Some(e) = &err {
            assert_eq!(e.len(), ys.len(), "points: err and ys differ in length");
        }
        self.series.push(Series::Points {
            label: label.into(),
            xs,
            ys,
            err,
        });
        self
    }
}

/// A figure: a title, panels side by side, a shared legend below them and an optional note.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Figure title (top; may be empty).
    pub title: String,
    /// A one-line note under the legend, e.g. what lines and points mean.
    pub note: Option<String>,
    /// Panels, left to right.
    pub panels: Vec<Panel>,
    /// Width in pixels; `None` = max(1000, 520 per panel).
    pub width: Option<u32>,
    /// Height in pixels; `None` = 600.
    pub height: Option<u32>,
}

impl Figure {
    /// An empty figure.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            note: None,
            panels: Vec::new(),
            width: None,
            height: None,
        }
    }

    /// Add a panel (to the right of the existing ones).
    pub fn panel(mut self, panel: Panel) -> Self {
        self.panels.push(panel);
        self
    }

    /// Set the note shown under the legend.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Set the size in pixels.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = Some(width);
        self.height = Some(height);
        self
    }

    /// The size in pixels.
    pub fn dimensions(&self) -> (u32, u32) {
        let n = self.panels.len().max(1) as u32;
        (
            self.width.unwrap_or((520 * n).max(1000)),
            self.height.unwrap_or(600),
        )
    }

    /// Render to an SVG document.
    pub fn render_svg(&self) -> Result<String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.dimensions()).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(pe)?;
        }
        Ok(svg)
    }

    /// Render to a PNG file at `path` (atomically).
    pub fn render_png(&self, path: &Path) -> Result<()> {
        write_atomic_with(path, |tmp| {
            let root = BitMapBackend::new(tmp, self.dimensions()).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(pe)?;
            Ok(())
        })
    }

    /// Write `<dir>/<stem>.svg` and `<dir>/<stem>.png` atomically; returns the paths.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        let svg = dir.join(format!("{stem}.svg"));
        let png = dir.join(format!("{stem}.png"));
        write_atomic(&svg, self.render_svg()?.as_bytes())?;
        self.render_png(&png)?;
        Ok(vec![svg, png])
    }

    /// Distinct labels in order of first appearance, with (has line, has points).
    fn legend_entries(&self) -> Vec<(String, bool, bool)> {
        let mut out: Vec<(String, bool, bool)> = Vec::new();
        for s in self.panels.iter().flat_map(|p| &p.series) {
            let idx = match out.iter().position(|e| e.0 == s.label()) {
                Some(i) => i,
                None => {
                    out.push((s.label().to_string(), false, false));
                    out.len() - 1
                }
            };
            match s {
                Series::Line { .. } => out[idx].1 = true,
                Series::Points { .. } => out[idx].2 = true,
            }
        }
        out
    }

    /// Draw the whole figure on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(pe)?;
        let (w, h) = self.dimensions();
        let entries = self.legend_entries();
        let styles = Styles::new(&entries);

        // Title band.
        let title_h = if self.title.is_empty() { 10 } else { 50 };
        if !self.title.is_empty() {
            let style = TextStyle::from((FONT, TITLE_FONT).into_font())
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new(self.title.clone(), ((w / 2) as i32, 28), style))
                .map_err(pe)?;
        }

        // Legend band: lay entries out in rows, centred.
        let font = (FONT, LEGEND_FONT).into_font();
        let sample_w = 44i32;
        let gap = 34i32;
        let mut widths = Vec::new();
        for (label, _, _) in &entries {
            let (tw, _) = root
                .estimate_text_size(label, &TextStyle::from(font.clone()))
                .map_err(pe)?;
            widths.push(sample_w + 8 + tw as i32);
        }
        let max_row = (w as i32 - 40).max(200);
        let mut rows: Vec<Vec<usize>> = vec![];
        let mut cur_w = 0;
        for (i, ew) in widths.iter().enumerate() {
            if rows.is_empty() || (cur_w + ew > max_row && cur_w > 0) {
                rows.push(vec![]);
                cur_w = 0;
            }
            if let Some(r) = rows.last_mut() {
                r.push(i);
            }
            cur_w += ew + gap;
        }
        let row_h = 30i32;
        let note_h = if self.note.is_some() { 30 } else { 0 };
        let legend_h = rows.len() as i32 * row_h + note_h + 16;
        let (_, rest) = root.split_vertically(title_h);
        let (panels_area, legend_area) = rest.split_vertically(h as i32 - title_h - legend_h);

        for (r, row) in rows.iter().enumerate() {
            let total: i32 =
                row.iter().map(|&i| widths[i]).sum::<i32>() + gap * (row.len() as i32 - 1);
            let mut x = (w as i32 - total) / 2;
            let y = 8 + r as i32 * row_h + row_h / 2;
            for &i in row {
                let (label, has_line, has_points) = &entries[i];
                let st = styles.get(label);
                if *has_line {
                    legend_area
                        .draw(&PathElement::new(
                            vec![(x, y), (x + sample_w, y)],
                            st.color.stroke_width(3),
                        ))
                        .map_err(pe)?;
                }
                if *has_points {
                    draw_marker_px(&legend_area, (x + sample_w / 2, y), st)?;
                }
                let ts = TextStyle::from(font.clone()).pos(Pos::new(HPos::Left, VPos::Center));
                legend_area
                    .draw(&Text::new(label.clone(), (x + sample_w + 8, y), ts))
                    .map_err(pe)?;
                x += widths[i] + gap;
            }
        }
        if let Some(note) = &self.note {
            let ts = TextStyle::from((FONT, LEGEND_FONT).into_font())
                .color(&RGBColor(80, 80, 80))
                .pos(Pos::new(HPos::Center, VPos::Center));
            let y = 8 + rows.len() as i32 * row_h + note_h / 2;
            legend_area
                .draw(&Text::new(note.clone(), ((w / 2) as i32, y), ts))
                .map_err(pe)?;
        }

        if self.panels.is_empty() {
            return Ok(());
        }
        let areas = panels_area.split_evenly((1, self.panels.len()));
        for (panel, area) in self.panels.iter().zip(areas.iter()) {
            draw_panel(panel, area, &styles)?;
        }
        Ok(())
    }
}

/// Colour and marker of one label.
#[derive(Debug, Clone, Copy)]
struct SeriesStyle {
    color: RGBColor,
    marker: usize,
}

/// Label -> style map of one figure.
struct Styles(Vec<(String, SeriesStyle)>);

impl Styles {
    fn new(entries: &[(String, bool, bool)]) -> Self {
        let mut marker = 0;
        let v = entries
            .iter()
            .enumerate()
            .map(|(i, (label, _, has_points))| {
                let (r, g, b) = PALETTE[i % PALETTE.len()];
                let st = SeriesStyle {
                    color: RGBColor(r, g, b),
                    marker,
                };
                if *has_points {
                    marker += 1;
                }
                (label.clone(), st)
            })
            .collect();
        Styles(v)
    }

    fn get(&self, label: &str) -> SeriesStyle {
        self.0
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, s)| *s)
            .unwrap_or(SeriesStyle {
                color: RGBColor(0, 0, 0),
                marker: 0,
            })
    }
}

/// Half-width of an error bar's caps, in pixels.
const ERROR_CAP: i32 = 6;

/// Draw a marker centred at backend pixel `c` on `area`.
fn draw_marker_px<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: (i32, i32),
    st: SeriesStyle,
) -> Result<()> {
    let fill = st.color.filled();
    let r = 6;
    match st.marker % 5 {
        0 => area.draw(&Circle::new(c, r, fill)),
        1 => area.draw(&TriangleMarker::new(c, r + 2, fill)),
        2 => area.draw(&Rectangle::new(
            [(c.0 - r + 1, c.1 - r + 1), (c.0 + r - 1, c.1 + r - 1)],
            fill,
        )),
        3 => area.draw(&Cross::new(c, r, st.color.stroke_width(3))),
        _ => area.draw(&Polygon::new(
            vec![
                (c.0, c.1 - r - 1),
                (c.0 + r + 1, c.1),
                (c.0, c.1 + r + 1),
                (c.0 - r - 1, c.1),
            ],
            fill,
        )),
    }
    .map_err(pe)
}

/// How one axis maps data to chart coordinates.
#[derive(Debug, Clone, Copy)]
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Axis {
    /// Data value -> chart coordinate (log10 on log axes); `None` if not drawable.
    fn t(&self, v: f64) -> Option<f64> {
        if !v.is_finite() || (self.log && v <= 0.0) {
            None
        } else if self.log {
            Some(v.log10())
        } else {
            Some(v)
        }
    }

    fn contains(&self, t: f64) -> bool {
        let eps = (self.hi - self.lo) * 1e-9;
        t >= self.lo - eps && t <= self.hi + eps
    }

    fn clamp(&self, t: f64) -> f64 {
        t.clamp(self.lo, self.hi)
    }

    /// Build an axis from data values (already in data coordinates) or a fixed range.
    fn new(log: bool, fixed: Option<(f64, f64)>, values: &[f64]) -> Axis {
        let probe = Axis {
            log,
            lo: 0.0,
            hi: 0.0,
        };
        if let Some((a, b)) = fixed
            && let (Some(lo), Some(hi)) = (probe.t(a), probe.t(b))
            && hi > lo
        {
            return Axis { log, lo, hi };
        }
        let ts: Vec<f64> = values.iter().filter_map(|&v| probe.t(v)).collect();
        let (mut lo, mut hi) = ts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &t| {
                (l.min(t), h.max(t))
            });
        if ts.is_empty() {
            (lo, hi) = (0.0, 1.0);
        } else if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            let d = if log { 0.5 } else { (lo.abs() * 0.1).max(0.5) };
            (lo, hi) = (lo - d, hi + d);
        } else {
            let pad = 0.05 * (hi - lo);
            (lo, hi) = (lo - pad, hi + pad);
        }
        Axis { log, lo, hi }
    }

    /// (bold ticks, light grid lines), in chart coordinates. On log axes the bold ticks are
    /// the densest of 1..9, 1-2-3-5, 1-2-5, 1-3, 1 (times powers of ten), then every 2nd, 3rd,
    /// ... decade, whose neighbours are at least `min_gap` of the axis length apart (labels
    /// must not collide) with at most 9 ticks.
    fn ticks(&self, min_gap: f64) -> (Vec<f64>, Vec<f64>) {
        if !self.log {
            return (linear_ticks(self.lo, self.hi), vec![]);
        }
        let span = self.hi - self.lo;
        let (kmin, kmax) = (self.lo.floor() as i64, self.hi.ceil() as i64);
        let in_range = |mantissas: &[u32], every: i64| -> Vec<f64> {
            let mut v = vec![];
            for k in kmin..=kmax {
                if k.rem_euclid(every) != 0 {
                    continue;
                }
                for &m in mantissas {
                    let t = k as f64 + f64::from(m).log10();
                    if self.contains(t) {
                        v.push(t);
                    }
                }
            }
            v
        };
        let acceptable = |v: &[f64]| {
            v.len() >= 2 && v.len() <= 9 && v.windows(2).all(|w| w[1] - w[0] >= min_gap * span)
        };
        let sets: [&[u32]; 5] = [
            &[1, 2, 3, 4, 5, 6, 7, 8, 9],
            &[1, 2, 3, 5],
            &[1, 2, 5],
            &[1, 3],
            &[1],
        ];
        let mut bold = sets
            .iter()
            .map(|m| in_range(m, 1))
            .chain((2..=12).map(|every| in_range(&[1], every)))
            .find(|v| acceptable(v))
            .unwrap_or_default();
        if bold.len() < 2 {
            // Less than a factor ~2 in range: plain ticks in data space.
            bold = linear_ticks(10f64.powf(self.lo), 10f64.powf(self.hi))
                .into_iter()
                .filter(|&v| v > 0.0)
                .map(f64::log10)
                .collect();
        }
        let light = if span <= 8.0 {
            in_range(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 1)
                .into_iter()
                .filter(|t| !bold.iter().any(|b| (b - t).abs() < 1e-9))
                .collect()
        } else {
            vec![]
        };
        (bold, light)
    }

    /// Tick label of chart coordinate `t`.
    fn label(&self, t: f64, step_decimals: usize) -> String {
        if self.log {
            let v = round_sig(10f64.powf(t), 3);
            if (1e-3..1e5).contains(&v) {
                format!("{v}")
            } else {
                format!("{v:e}")
            }
        } else {
            let s = format!("{t:.step_decimals$}");
            if s.trim_start_matches('-')
                .chars()
                .all(|c| c == '0' || c == '.')
            {
                s.trim_start_matches('-').to_string()
            } else {
                s
            }
        }
    }
}

/// A linear f64 coordinate (chart coordinates: log10 of the data on log axes) whose ticks
/// (bold, labelled) and grid lines (light) are given explicitly.
#[derive(Debug, Clone)]
struct TickedAxis {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let frac = (v - self.lo) / (self.hi - self.lo);
        let len = f64::from(limit.1 - limit.0);
        limit.0 + (len * frac).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// About six "nice" ticks (multiples of 1, 2 or 5 times a power of ten) covering [lo, hi].
fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let step = nice_step(lo, hi);
    let k0 = (lo / step - 1e-9).ceil() as i64;
    let k1 = (hi / step + 1e-9).floor() as i64;
    (k0..=k1).map(|k| k as f64 * step).collect()
}

fn nice_step(lo: f64, hi: f64) -> f64 {
    let raw = ((hi - lo) / 5.0).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Decimals needed to print multiples of the nice step of [lo, hi].
fn step_decimals(lo: f64, hi: f64) -> usize {
    let e = nice_step(lo, hi).log10().round() as i64;
    // Steps are 1, 2 or 5 times 10^e (rounding log10 of 5*10^e gives e+1: one decimal too few).
    let e = if (nice_step(lo, hi) / 10f64.powi(e as i32)) < 0.99 {
        e - 1
    } else {
        e
    };
    (-e).max(0) as usize
}

/// Clip the segment a-b to the rectangle (Liang–Barsky); `None` if it lies outside.
fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    x: &Axis,
    y: &Axis,
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x.lo),
        (dx, x.hi - a.0),
        (-dy, a.1 - y.lo),
        (dy, y.hi - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then_some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ))
}

/// Draw one panel in `area`.
fn draw_panel<DB: DrawingBackend>(
    panel: &Panel,
    area: &DrawingArea<DB, Shift>,
    styles: &Styles,
) -> Result<()> {
    // Axis ranges from the data, error bars included.
    let mut xv = vec![];
    let mut yv = vec![];
    for s in &panel.series {
        // Only pairs drawable on both axes count (a NaN y must not stretch the x range).
        let probe_x = Axis {
            log: panel.log_x,
            lo: 0.0,
            hi: 0.0,
        };
        let probe_y = Axis {
            log: panel.log_y,
            lo: 0.0,
            hi: 0.0,
        };
        let (xs, ys, err) = match s {
            Series::Line { xs, ys, .. } => (xs, ys, None),
            Series::Points { xs, ys, err, .. } => (xs, ys, err.as_ref()),
        };
        for (i, (&x, &y)) in xs.iter().zip(ys).enumerate() {
            if probe_x.t(x).is_none() || probe_y.t(y).is_none() {
                continue;
            }
            xv.push(x);
            yv.push(y);
            if let Some(e) = err.map(|e| e[i]).filter(|e| e.is_finite()) {
                yv.push(y + e.abs());
                yv.push(y - e.abs());
            }
        }
    }
    let xa = Axis::new(panel.log_x, panel.x_range, &xv);
    let ya = Axis::new(panel.log_y, panel.y_range, &yv);
    // Horizontal tick labels are wider than tall: they need more room between them.
    let (xb, xl) = xa.ticks(0.13);
    let (yb, yl) = ya.ticks(0.07);
    let xdec = step_decimals(xa.lo, xa.hi);
    let ydec = step_decimals(ya.lo, ya.hi);

    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(8)
        .margin_left(10)
        .margin_right(24)
        .margin_bottom(4)
        .x_label_area_size(60)
        .y_label_area_size(90);
    if !panel.title.is_empty() {
        builder.caption(&panel.title, (FONT, PANEL_FONT));
    }
    let mut chart = builder
        .build_cartesian_2d(
            TickedAxis {
                lo: xa.lo,
                hi: xa.hi,
                bold: xb,
                light: xl,
            },
            TickedAxis {
                lo: ya.lo,
                hi: ya.hi,
                bold: yb,
                light: yl,
            },
        )
        .map_err(pe)?;
    let xfmt = |t: &f64| xa.label(*t, xdec);
    let yfmt = |t: &f64| ya.label(*t, ydec);
    chart
        .configure_mesh()
        .x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .label_style((FONT, TICK_FONT))
        .axis_desc_style((FONT, AXIS_FONT))
        .bold_line_style(BLACK.mix(0.15))
        .light_line_style(BLACK.mix(0.05))
        .axis_style(BLACK.mix(0.8))
        .draw()
        .map_err(pe)?;

    // Lines (clipped to the plotting rectangle).
    for s in &panel.series {
        if let Series::Line { label, xs, ys } = s {
            let st = styles.get(label);
            let pts: Vec<Option<(f64, f64)>> = xs
                .iter()
                .zip(ys)
                .map(|(&x, &y)| Some((xa.t(x)?, ya.t(y)?)))
                .collect();
            let mut run: Vec<(f64, f64)> = vec![];
            let mut runs = vec![];
            for w in pts.windows(2) {
                match (w[0], w[1]) {
                    (Some(a), Some(b)) => match clip_segment(a, b, &xa, &ya) {
                        Some((p, q)) => {
                            if run.last() != Some(&p) {
                                if run.len() > 1 {
                                    runs.push(std::mem::take(&mut run));
                                }
                                run = vec![p];
                            }
                            run.push(q);
                        }
                        None => runs.push(std::mem::take(&mut run)),
                    },
                    _ => runs.push(std::mem::take(&mut run)),
                }
            }
            runs.push(run);
            for r in runs.into_iter().filter(|r| r.len() > 1) {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        r,
                        st.color.stroke_width(3),
                    )))
                    .map_err(pe)?;
            }
        }
    }
    // Error bars, then markers on top, both in backend pixels (markers and caps keep their
    // size on any axis).
    let plot = chart.plotting_area();
    let shifted = plot.strip_coord_spec();
    let (ox, oy) = plot.get_base_pixel();
    for s in &panel.series {
        if let Series::Points {
            label,
            xs,
            ys,
            err: Some(err),
        } = s
        {
            let st = styles.get(label);
            for ((&x, &y), &e) in xs.iter().zip(ys).zip(err) {
                let (Some(tx), Some(ty)) = (xa.t(x), ya.t(y)) else {
                    continue;
                };
                if !e.is_finite() || e == 0.0 || !xa.contains(tx) || !ya.contains(ty) {
                    continue;
                }
                let lo = ya.t(y - e.abs()).map_or(ya.lo, |t| ya.clamp(t));
                let hi = ya.t(y + e.abs()).map_or(ya.hi, |t| ya.clamp(t));
                // Drawn by hand: plotters' ErrorBar also paints a disc at the centre, which
                // would hide the series' own marker shape.
                let (bx, by_lo) = plot.map_coordinate(&(tx, lo));
                let by_hi = plot.map_coordinate(&(tx, hi)).1;
                let (bx, by_lo, by_hi) = (bx - ox, by_lo - oy, by_hi - oy);
                let style = st.color.stroke_width(2);
                for path in [
                    vec![(bx, by_lo), (bx, by_hi)],
                    vec![(bx - ERROR_CAP, by_lo), (bx + ERROR_CAP, by_lo)],
                    vec![(bx - ERROR_CAP, by_hi), (bx + ERROR_CAP, by_hi)],
                ] {
                    shifted.draw(&PathElement::new(path, style)).map_err(pe)?;
                }
            }
        }
    }
    for s in &panel.series {
        if let Series::Points { label, xs, ys, .. } = s {
            let st = styles.get(label);
            for (&x, &y) in xs.iter().zip(ys) {
                let (Some(tx), Some(ty)) = (xa.t(x), ya.t(y)) else {
                    continue;
                };
                if !xa.contains(tx) || !ya.contains(ty) {
                    continue;
                }
                let px = plot.map_coordinate(&(tx, ty));
                draw_marker_px(&shifted, (px.0 - ox, px.1 - oy), st)?;
            }
        }
    }
    Ok(())
}

/// Turn a plotters error (whose type depends on the backend) into an anyhow error.
fn pe<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_linear_ticks() {
        assert_eq!(
            linear_ticks(0.0, 1.0),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(linear_ticks(-0.05, 0.63).len(), 7); // 0, 0.1, ..., 0.6
        assert_eq!(step_decimals(0.0, 1.0), 1);
        assert_eq!(step_decimals(0.0, 2.5), 1); // step 0.5
        assert_eq!(step_decimals(0.0, 100.0), 0);
        let a = Axis {
            log: false,
            lo: 0.0,
            hi: 1.0,
        };
        assert_eq!(a.label(0.6000000000000001, 1), "0.6");
        assert_eq!(a.label(-0.0, 1), "0.0");
    }

    #[test]
    fn log_ticks_and_labels() {
        let a = Axis::new(true, None, &[1.0, 100.0]);
        let (bold, light) = a.ticks(0.13);
        let labels: Vec<String> = bold.iter().map(|&t| a.label(t, 0)).collect();
        assert_eq!(labels, vec!["1", "2", "5", "10", "20", "50", "100"]);
        assert!(!light.is_empty());
        let wide = Axis::new(true, None, &[1e-6, 1.0]);
        let labels: Vec<String> = wide
            .ticks(0.13)
            .0
            .iter()
            .map(|&t| wide.label(t, 0))
            .collect();
        assert_eq!(
            labels,
            vec!["1e-6", "1e-5", "1e-4", "0.001", "0.01", "0.1", "1"]
        );
    }

    #[test]
    fn clipping() {
        let x = Axis {
            log: false,
            lo: 0.0,
            hi: 1.0,
        };
        let y = Axis {
            log: false,
            lo: 0.0,
            hi: 1.0,
        };
        let (p, q) = clip_segment((0.5, 0.5), (0.5, 2.0), &x, &y).unwrap();
        assert_eq!((p, q), ((0.5, 0.5), (0.5, 1.0)));
        assert!(clip_segment((2.0, 2.0), (3.0, 3.0), &x, &y).is_none());
    }

    #[test]
    fn colours_follow_labels_across_panels() {
        let fig = Figure::new("t")
            .panel(
                Panel::new("a", "x", "y")
                    .line("CE", vec![1.0], vec![1.0])
                    .line("LA", vec![1.0], vec![1.0]),
            )
            .panel(Panel::new("b", "x", "y").points("LA", vec![1.0], vec![1.0], None));
        let e = fig.legend_entries();
        assert_eq!(
            e,
            vec![("CE".into(), true, false), ("LA".into(), true, true)]
        );
        let st = Styles::new(&e);
        assert_eq!(st.get("LA").color, RGBColor(255, 127, 14));
    }

    #[test]
    fn svg_contains_labels() {
        let fig = Figure::new("Title").panel(
            Panel::new("p", "rho", "error")
                .log_x()
                .line("theory", vec![1.0, 10.0], vec![0.1, 0.2])
                .points(
                    "sim",
                    vec![1.0, 10.0],
                    vec![0.1, 0.2],
                    Some(vec![0.01, 0.02]),
                ),
        );
        let svg = fig.render_svg().unwrap();
        for s in ["Title", "rho", "error", "theory", "sim"] {
            assert!(svg.contains(s), "svg lacks {s}");
        }
    }

    /// A busy three-panel figure (5 methods, error bars, a line leaving a fixed range, NaN and
    /// non-positive values on a log axis). Rendered to a temporary folder, or to
    /// `$XTASK_KEEP_PLOT/` when set, to look at it.
    #[test]
    fn busy_figure_renders_png_and_svg() {
        let rho: Vec<f64> = vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0];
        let methods = ["CE", "LA", "CDT", "LDAM", "post-hoc"];
        let mut panels = vec![];
        for (pi, name) in ["minority", "majority", "balanced"].iter().enumerate() {
            let mut p = Panel::new(*name, "imbalance ratio ρ", "test error")
                .log_x()
                .y_range(0.0, 0.6);
            for (mi, m) in methods.iter().enumerate() {
                let th: Vec<f64> = rho
                    .iter()
                    .map(|r| {
                        (0.05 + 0.02 * mi as f64 + 0.1 * (pi as f64 + 1.0) * r.ln() / 4.6).min(0.9)
                    })
                    .collect();
                let mut sim: Vec<f64> = th.iter().map(|t| t + 0.01 * (mi as f64 - 2.0)).collect();
                sim[3] = f64::NAN;
                let err = vec![0.02 + 0.005 * mi as f64; rho.len()];
                p = p
                    .line(*m, rho.clone(), th)
                    .points(*m, rho.clone(), sim, Some(err));
            }
            panels.push(p);
        }
        let mut fig = Figure::new("Per-class test error vs imbalance (K = 10, step profile)")
            .note("lines: theory; points: simulation, mean ± 1 std over 5 seeds");
        for p in panels {
            fig = fig.panel(p);
        }
        let loglog = Figure::new("log-log with error bars").panel(
            Panel::new("", "width p", "error")
                .log_x()
                .log_y()
                .line(
                    "theory",
                    vec![10.0, 100.0, 1000.0, 10000.0],
                    vec![0.3, 0.1, 0.03, 0.01],
                )
                .points(
                    "simulation",
                    vec![10.0, 100.0, 1000.0, 10000.0, -1.0],
                    vec![0.32, 0.09, 0.035, 0.012, 0.5],
                    Some(vec![0.1, 0.02, 0.01, 0.004, 0.1]),
                ),
        );
        let t = tempfile::tempdir().unwrap();
        let dir = std::env::var_os("XTASK_KEEP_PLOT")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| t.path().to_path_buf());
        for (f, stem) in [(&fig, "busy"), (&loglog, "loglog")] {
            let paths = f.write(&dir, stem).unwrap();
            let png = std::fs::read(&paths[1]).unwrap();
            assert_eq!(&png[..8], &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]);
        }
        assert_eq!(fig.dimensions(), (1560, 600));
    }
}
