//! Figures with plotters, each written as PNG and SVG from one drawing routine.
//!
//! Text uses DejaVu Sans embedded in the binary (no system fonts needed). Colours are chosen to
//! stay apart in grey print: heat maps run from white to dark blue with monotone luminance, and
//! line and point series pair a colour of distinct lightness with a distinct marker.

use glh_artifacts::{Error, Result};
use plotters::coord::Shift;
use plotters::element::ComposedElement;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};
use std::sync::Once;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const SANS: &str = "sans-serif";

fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        let _ = plotters::style::register_font(SANS, FontStyle::Normal, FONT);
    });
}

/// Series colours: black, blue, orange, grey, purple, green (distinct in grey too).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 0, 0),
    RGBColor(0, 90, 181),
    RGBColor(230, 159, 0),
    RGBColor(140, 140, 140),
    RGBColor(170, 68, 153),
    RGBColor(0, 140, 90),
];

/// The colour of series i.
pub fn series_colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A legend entry in pixel coordinates: a line and a marker polygon, offset together.
type LegendEntry<DB> =
    ComposedElement<(i32, i32), DB, PathElement<(i32, i32)>, Polygon<(i32, i32)>>;

/// A legend entry: the series' line with its marker on it, so that two series sharing a
/// colour (the palette repeats after six) still differ in the legend. Markers are polygons
/// here (one element type for all four shapes) drawn like the chart's own: a circle, a
/// triangle, an x and a square, by `i % 4`.
fn legend_entry<DB: DrawingBackend>(at: (i32, i32), colour: RGBColor, i: usize) -> LegendEntry<DB> {
    let (cx, cy) = (11.0_f64, 0.0_f64);
    let at_angles = |r: f64, angles: &[f64]| -> Vec<(i32, i32)> {
        angles
            .iter()
            .map(|a| {
                (
                    (cx + r * a.cos()).round() as i32,
                    (cy + r * a.sin()).round() as i32,
                )
            })
            .collect()
    };
    let shape: Vec<(i32, i32)> = match i % 4 {
        0 => at_angles(
            4.5,
            &(0..8)
                .map(|k| f64::from(k) * std::f64::consts::FRAC_PI_4)
                .collect::<Vec<_>>(),
        ),
        1 => vec![(11, -5), (16, 4), (6, 4)],
        2 => {
            // A plus of arm 5 and half-width 1, turned by 45 degrees.
            let (a, r) = (1.0, 5.0);
            let plus = [
                (-a, -r),
                (a, -r),
                (a, -a),
                (r, -a),
                (r, a),
                (a, a),
                (a, r),
                (-a, r),
                (-a, a),
                (-r, a),
                (-r, -a),
                (-a, -a),
            ];
            let c = std::f64::consts::FRAC_1_SQRT_2;
            plus.iter()
                .map(|&(x, y)| {
                    (
                        (cx + c * (x - y)).round() as i32,
                        (cy + c * (x + y)).round() as i32,
                    )
                })
                .collect()
        }
        _ => vec![(7, -4), (15, -4), (15, 4), (7, 4)],
    };
    EmptyElement::at(at)
        + PathElement::new(vec![(0, 0), (22, 0)], colour.stroke_width(3))
        + Polygon::new(shape, colour.filled())
}

/// White (0) to dark blue (1), luminance falling monotonically, so grey print keeps the order.
pub fn density_colour(v: f64) -> RGBColor {
    let t = v.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(255.0, 8.0), lerp(255.0, 40.0), lerp(255.0, 110.0))
}

/// A figure drawn on any plotters backend.
pub trait Figure {
    /// Pixel size.
    fn size(&self) -> (u32, u32);
    /// Draws the figure.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>;
}

fn plot_error<E: std::fmt::Debug>(e: E) -> Error {
    Error::Unsupported(format!("drawing a figure: {e:?}"))
}

/// Writes `<stem>.png` and `<stem>.svg`; returns the PNG's path.
pub fn save(figure: &impl Figure, stem: &Path) -> Result<PathBuf> {
    register_font();
    // Appended, not `with_extension`: stems such as `spectra_s0.8` contain dots.
    let with = |ext: &str| PathBuf::from(format!("{}.{ext}", stem.display()));
    let (png, svg) = (with("png"), with("svg"));
    {
        let area = BitMapBackend::new(&png, figure.size()).into_drawing_area();
        area.fill(&WHITE).map_err(plot_error)?;
        figure.draw(&area)?;
        area.present().map_err(plot_error)?;
    }
    {
        let area = SVGBackend::new(&svg, figure.size()).into_drawing_area();
        area.fill(&WHITE).map_err(plot_error)?;
        figure.draw(&area)?;
        area.present().map_err(plot_error)?;
    }
    Ok(png)
}

/// A row-major matrix of values in [0, the heat map's `max`].
#[derive(Clone, Debug)]
pub struct Grid {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows * cols` values.
    pub values: Vec<f64>,
}

/// Heat maps in a grid: one row per label of `row_labels`, one column per `col_labels`.
pub struct HeatmapGrid {
    /// Title.
    pub title: String,
    /// Row labels (methods).
    pub row_labels: Vec<String>,
    /// Column labels (widths).
    pub col_labels: Vec<String>,
    /// `cells[r][c]`, `None` where nothing was computed.
    pub cells: Vec<Vec<Option<Grid>>>,
    /// The value drawn darkest in each row (1 for block densities).
    pub row_max: Vec<f64>,
    /// What the colour bar shows, from 0 (white) to a row's `row_max` (dark).
    pub legend: String,
}

impl HeatmapGrid {
    /// The width of the row labels' column: 110 pixels, or more for a label longer than a
    /// method's name (`shuffled:synflow`; 16 px sans is under 9 px a character).
    fn label_width(&self) -> u32 {
        let longest = self.row_labels.iter().map(|l| l.chars().count()).max();
        (24 + 9 * longest.unwrap_or(0) as u32).max(110)
    }
}

impl Figure for HeatmapGrid {
    fn size(&self) -> (u32, u32) {
        // At least 840 wide so the title and the colour bar's legend fit.
        (
            (20 + self.label_width() + 170 * self.col_labels.len() as u32).max(840),
            110 + 170 * self.row_labels.len() as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let title = area.titled(&self.title, (SANS, 22)).map_err(plot_error)?;
        let (left, body) = title.split_horizontally(self.label_width());
        let (top, body) = body.split_vertically(30);
        let (body, legend) = body.split_vertically(body.dim_in_pixel().1 - 40);
        let cells = body.split_evenly((self.row_labels.len(), self.col_labels.len()));
        let cell_h = body.dim_in_pixel().1 as i32 / self.row_labels.len().max(1) as i32;
        let cell_w = body.dim_in_pixel().0 as i32 / self.col_labels.len().max(1) as i32;
        let text = TextStyle::from((SANS, 16).into_font());
        for (c, label) in self.col_labels.iter().enumerate() {
            top.draw_text(label, &text, (c as i32 * cell_w + cell_w / 3, 8))
                .map_err(plot_error)?;
        }
        for (r, label) in self.row_labels.iter().enumerate() {
            left.draw_text(label, &text, (8, 30 + r as i32 * cell_h + cell_h / 2))
                .map_err(plot_error)?;
        }
        for (i, cell) in cells.iter().enumerate() {
            let (r, c) = (i / self.col_labels.len(), i % self.col_labels.len());
            let Some(grid) = &self.cells[r][c] else {
                continue;
            };
            let (w, h) = cell.dim_in_pixel();
            let (w, h) = (w as f64 - 10.0, h as f64 - 10.0);
            for a in 0..grid.rows {
                for b in 0..grid.cols {
                    let x0 = 5 + (b as f64 * w / grid.cols as f64) as i32;
                    let x1 = 5 + ((b + 1) as f64 * w / grid.cols as f64) as i32;
                    let y0 = 5 + (a as f64 * h / grid.rows as f64) as i32;
                    let y1 = 5 + ((a + 1) as f64 * h / grid.rows as f64) as i32;
                    let colour = density_colour(grid.values[a * grid.cols + b] / self.row_max[r]);
                    cell.draw(&Rectangle::new([(x0, y0), (x1, y1)], colour.filled()))
                        .map_err(plot_error)?;
                }
            }
            cell.draw(&Rectangle::new(
                [(5, 5), (5 + w as i32, 5 + h as i32)],
                BLACK.stroke_width(1),
            ))
            .map_err(plot_error)?;
        }
        // Colour bar: 0 (white) to a row's largest value (dark).
        for k in 0..100 {
            let x = 10 + k * 3;
            legend
                .draw(&Rectangle::new(
                    [(x, 8), (x + 3, 24)],
                    density_colour(k as f64 / 99.0).filled(),
                ))
                .map_err(plot_error)?;
        }
        legend
            .draw_text(
                &self.legend,
                &TextStyle::from((SANS, 14).into_font()),
                (320, 10),
            )
            .map_err(plot_error)?;
        Ok(())
    }
}

/// One line, optionally with a band `(x, low, high)` and a dashed companion.
#[derive(Clone, Debug)]
pub struct Line {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points, in x order.
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)`: the spread drawn around the line.
    pub band: Vec<(f64, f64, f64)>,
    /// `(x, y)` points of a companion curve drawn dashed in the line's colour, without a
    /// legend entry (a noise floor beside its distance); empty for none.
    pub dashed: Vec<(f64, f64)>,
}

impl Line {
    /// The line on a log10 y axis: each y (its band's and its companion's too) as `log10(y)`.
    /// A point at or below 0 has no place there and is left out; a band's lower end at or below
    /// 0 (a spread wider than its mean) is drawn down to a tenth of the line's value.
    pub fn log10_y(self) -> Line {
        let log = |v: f64| (v > 0.0).then(|| v.log10());
        Line {
            name: self.name,
            points: self
                .points
                .iter()
                .filter_map(|&(x, y)| log(y).map(|ly| (x, ly)))
                .collect(),
            band: self
                .band
                .iter()
                .zip(&self.points)
                .filter_map(|(&(x, low, high), &(_, y))| {
                    let low = if low > 0.0 { low } else { y / 10.0 };
                    Some((x, log(low)?, log(high)?))
                })
                .collect(),
            dashed: self
                .dashed
                .iter()
                .filter_map(|&(x, y)| log(y).map(|ly| (x, ly)))
                .collect(),
        }
    }
}

/// Lines (or, with `points_only`, a scatter) on linear axes; transform the data beforehand for
/// a log axis and say so in the axis label.
pub struct Chart {
    /// Title.
    pub title: String,
    /// x-axis label, with units.
    pub x_label: String,
    /// y-axis label, with units.
    pub y_label: String,
    /// The series.
    pub lines: Vec<Line>,
    /// Draw markers only.
    pub points_only: bool,
}

impl Chart {
    fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let xs = self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
        let ys = self.lines.iter().flat_map(|l| {
            l.points
                .iter()
                .chain(&l.dashed)
                .map(|p| p.1)
                .chain(l.band.iter().flat_map(|b| [b.1, b.2]))
        });
        let span = |v: Vec<f64>| {
            let v: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
            let (lo, hi) = v
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                });
            if !lo.is_finite() {
                return (0.0, 1.0);
            }
            let pad = ((hi - lo) * 0.05).max(1e-12 * hi.abs().max(1.0));
            (lo - pad, hi + pad)
        };
        (span(xs.collect()), span(ys.collect()))
    }
}

impl Chart {
    /// The plot's corner whose box (the outer 35% of each axis) holds the fewest points and
    /// band ends, so the legend hides as little as it can; upper right on a tie, then upper
    /// left, lower right, lower left.
    fn legend_corner(&self, ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64))) -> SeriesLabelPosition {
        let (w, h) = (
            (x1 - x0).max(f64::MIN_POSITIVE),
            (y1 - y0).max(f64::MIN_POSITIVE),
        );
        let near = |v: f64, far: bool, lo: f64, span: f64| {
            let t = (v - lo) / span;
            if far { t > 0.65 } else { t < 0.35 }
        };
        let points: Vec<(f64, f64)> = self
            .lines
            .iter()
            .flat_map(|l| {
                l.points
                    .iter()
                    .chain(&l.dashed)
                    .copied()
                    .chain(l.band.iter().flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]))
            })
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let corners = [
            (SeriesLabelPosition::UpperRight, true, true),
            (SeriesLabelPosition::UpperLeft, false, true),
            (SeriesLabelPosition::LowerRight, true, false),
            (SeriesLabelPosition::LowerLeft, false, false),
        ];
        let count = |right: bool, upper: bool| {
            points
                .iter()
                .filter(|&&(x, y)| near(x, right, x0, w) && near(y, upper, y0, h))
                .count()
        };
        let best = (0..corners.len())
            .min_by_key(|&i| (count(corners[i].1, corners[i].2), i))
            .expect("four corners");
        corners[best].0.clone()
    }
}

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        (900, 600)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let ((x0, x1), (y0, y1)) = self.bounds();
        // Half-size of a square marker in data units (about 4 px).
        let half = ((x1 - x0) * 0.005, (y1 - y0) * 0.007);
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (SANS, 22))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style((SANS, 14))
            .axis_desc_style((SANS, 16))
            .draw()
            .map_err(plot_error)?;
        for (i, line) in self.lines.iter().enumerate() {
            let colour = series_colour(i);
            if !line.band.is_empty() {
                let upper = line.band.iter().map(|b| (b.0, b.2));
                let lower = line.band.iter().rev().map(|b| (b.0, b.1));
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        upper.chain(lower).collect::<Vec<_>>(),
                        colour.mix(0.15).filled(),
                    )))
                    .map_err(plot_error)?;
            }
            if !line.dashed.is_empty() {
                chart
                    .draw_series(DashedLineSeries::new(
                        line.dashed.clone(),
                        8,
                        6,
                        colour.stroke_width(2),
                    ))
                    .map_err(plot_error)?;
            }
            let points = line.points.clone();
            let marker = move |p: (f64, f64)| -> DynElement<'static, DB, (f64, f64)> {
                match i % 4 {
                    0 => Circle::new(p, 4, colour.filled()).into_dyn(),
                    1 => TriangleMarker::new(p, 5, colour.filled()).into_dyn(),
                    2 => Cross::new(p, 5, colour.stroke_width(2)).into_dyn(),
                    _ => Rectangle::new(
                        [(p.0 - half.0, p.1 - half.1), (p.0 + half.0, p.1 + half.1)],
                        colour.filled(),
                    )
                    .into_dyn(),
                }
            };
            let series = if self.points_only {
                chart.draw_series(points.iter().map(|&p| marker(p)))
            } else {
                chart
                    .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                    .map_err(plot_error)?;
                chart.draw_series(
                    points
                        .iter()
                        .step_by((points.len() / 12).max(1))
                        .map(|&p| marker(p)),
                )
            };
            series
                .map_err(plot_error)?
                .label(line.name.clone())
                .legend(move |(x, y)| legend_entry::<DB>((x, y), colour, i));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((SANS, 14))
            .position(self.legend_corner(((x0, x1), (y0, y1))))
            .draw()
            .map_err(plot_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SVG of a one-line chart, with or without a dashed companion.
    fn svg_of(dashed: Vec<(f64, f64)>) -> String {
        let chart = Chart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            lines: vec![Line {
                name: "a".into(),
                points: vec![(0.0, 1.0), (1.0, 2.0)],
                band: Vec::new(),
                dashed,
            }],
            points_only: false,
        };
        register_font();
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, chart.size()).into_drawing_area();
            chart.draw(&area).unwrap();
            area.present().unwrap();
        }
        svg
    }

    #[test]
    fn the_legend_goes_to_the_emptiest_corner() {
        let chart = |points: Vec<(f64, f64)>| Chart {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            lines: vec![Line {
                name: "a".into(),
                points,
                band: Vec::new(),
                dashed: Vec::new(),
            }],
            points_only: false,
        };
        let bounds = ((0.0, 1.0), (0.0, 1.0));
        let corner = |points| format!("{:?}", chart(points).legend_corner(bounds));
        // A falling curve leaves the upper right empty; a rising one fills it and leaves the
        // upper left empty.
        assert_eq!(
            corner(vec![(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)]),
            "UpperRight"
        );
        assert_eq!(
            corner(vec![(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)]),
            "UpperLeft"
        );
        // Points in both upper corners: the lower right.
        assert_eq!(
            corner(vec![(0.0, 0.9), (1.0, 0.9), (0.0, 0.1)]),
            "LowerRight"
        );
    }

    #[test]
    fn a_line_on_a_log_axis_drops_what_has_no_logarithm() {
        let line = Line {
            name: "a".into(),
            points: vec![(0.0, 100.0), (1.0, 1.0), (2.0, 0.0)],
            band: vec![(0.0, 10.0, 1000.0), (1.0, -1.0, 3.0), (2.0, -1.0, 1.0)],
            dashed: vec![(0.0, 0.01)],
        }
        .log10_y();
        assert_eq!(line.points, [(0.0, 2.0), (1.0, 0.0)]);
        // A band below 0 is cut at a tenth of the value; a point at 0 goes with its band.
        assert_eq!(line.band[0], (0.0, 1.0, 3.0));
        assert_eq!(line.band[1].1, -1.0);
        assert_eq!(line.band.len(), 2);
        assert_eq!(line.dashed, [(0.0, -2.0)]);
    }

    #[test]
    fn a_dashed_companion_is_drawn_in_dashes_and_widens_the_axis() {
        let plain = svg_of(Vec::new());
        // From y = 0 to 10: ten units of dashes, each its own segment, and an axis to 10.
        let with = svg_of(vec![(0.0, 0.0), (1.0, 10.0)]);
        let segments = |svg: &str| svg.matches("<polyline").count() + svg.matches("<line").count();
        assert!(
            segments(&with) > segments(&plain) + 5,
            "{} vs {}",
            segments(&with),
            segments(&plain)
        );
        // plotters writes a text's content on a line of its own.
        let labels = |svg: &str| svg.lines().any(|l| l.trim() == "10.0");
        assert!(labels(&with), "the axis reaches 10");
        assert!(!labels(&plain));
    }
}
