//! SVG plots, drawn with plotters' SVG backend from small view structs (never from the
//! statistics types directly).
//!
//! Invariants: output depends only on the inputs (no fonts are measured from the system, no
//! time or randomness), so plots are byte-identical across runs and machines; every function
//! handles empty inputs by drawing a labelled empty chart.

mod sweep;

pub use sweep::{SweepSeries, sweep};

use crate::format;
use crate::special::normal_quantile;
use plotters::prelude::*;

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {plot}: {message}")]
pub struct PlotError {
    plot: &'static str,
    message: String,
}

fn fail<E: std::fmt::Debug>(plot: &'static str) -> impl Fn(E) -> PlotError {
    move |e| PlotError {
        plot,
        message: format!("{e:?}"),
    }
}

/// A value with its interval at a position x.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalPoint {
    /// Position.
    pub x: f64,
    /// Estimate.
    pub value: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// A named threshold to mark on a threshold axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Label, e.g. `67 % [identity]`.
    pub label: String,
    /// Score.
    pub score: f64,
}

/// One labelled bar with its interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// Label under the bar.
    pub label: String,
    /// Estimate (None: no data, no bar).
    pub value: Option<IntervalPoint>,
}

const WIDTH: u32 = 900;
const HEIGHT: u32 = 420;
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(214, 95, 14);
const GREY: RGBColor = RGBColor(120, 120, 120);
const FONT: &str = "sans-serif";

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        return (lo - 0.05, hi + 0.05);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let positive: Vec<f64> = values.filter(|v| *v > 0.0 && v.is_finite()).collect();
    let lo = positive.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = positive.iter().copied().fold(0.0, f64::max);
    if positive.is_empty() {
        return (1e-3, 1.0);
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    (lo, hi)
}

/// FPIR (exact step curve and the named thresholds with intervals) and SEL (named thresholds
/// with intervals, log scale) against threshold.
pub fn threshold_curves(
    fpir_curve: &[(f64, f64)],
    fpir: &[IntervalPoint],
    sel: &[IntervalPoint],
    markers: &[Marker],
) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(fail("threshold curves"))?;
        let panels = root.split_evenly((1, 2));
        let xs = markers
            .iter()
            .map(|m| m.score)
            .chain(fpir_curve.iter().map(|p| p.0));
        let (x_lo, x_hi) = padded(
            xs.clone().fold(f64::INFINITY, f64::min),
            xs.fold(f64::NEG_INFINITY, f64::max),
        );

        let mut left = ChartBuilder::on(&panels[0])
            .caption("FPIR: share of searches with a false candidate", (FONT, 15))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(x_lo..x_hi, 0.0..1.05)
            .map_err(fail("threshold curves"))?;
        left.configure_mesh()
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .x_desc("threshold (score)")
            .y_desc("FPIR")
            .x_label_formatter(&|v| sweep::log_tick(*v))
            .y_label_formatter(&|v| sweep::log_tick(*v))
            .light_line_style(WHITE)
            .draw()
            .map_err(fail("threshold curves"))?;
        draw_markers(&mut left, markers, (0.0, 1.05), 0.03)?;
        left.draw_series(LineSeries::new(
            fpir_curve.iter().copied(),
            BLUE.stroke_width(2),
        ))
        .map_err(fail("threshold curves"))?;
        draw_intervals(&mut left, fpir, BLUE)?;

        let (y_lo, y_hi) = log_range(sel.iter().flat_map(|p| [p.value, p.lower, p.upper]));
        let mut right = ChartBuilder::on(&panels[1])
            .caption("SEL: false candidates per search (log scale)", (FONT, 15))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(x_lo..x_hi, (y_lo..y_hi).log_scale())
            .map_err(fail("threshold curves"))?;
        right
            .configure_mesh()
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .x_desc("threshold (score)")
            .y_desc("false candidates per search")
            .x_label_formatter(&|v| sweep::log_tick(*v))
            .y_label_formatter(&|v| sweep::log_tick(*v))
            .light_line_style(WHITE)
            .draw()
            .map_err(fail("threshold curves"))?;
        draw_markers(
            &mut right,
            markers,
            (y_lo, y_hi),
            y_lo * (y_hi / y_lo).powf(0.03),
        )?;
        let shown: Vec<IntervalPoint> = sel.iter().filter(|p| p.value > 0.0).cloned().collect();
        right
            .draw_series(LineSeries::new(
                shown.iter().map(|p| (p.x, p.value)),
                ORANGE.stroke_width(2),
            ))
            .map_err(fail("threshold curves"))?;
        draw_intervals(&mut right, &shown, ORANGE)?;
        root.present().map_err(fail("threshold curves"))?;
    }
    Ok(svg)
}

type Chart<'a, X, Y> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>;

/// Grey vertical lines at the named thresholds, each labelled along its line (text running
/// upwards from `label_y`), so neighbouring labels never overlap or leave the chart.
fn draw_markers<Y>(
    chart: &mut Chart<'_, plotters::coord::types::RangedCoordf64, Y>,
    markers: &[Marker],
    (y_lo, y_hi): (f64, f64),
    label_y: f64,
) -> Result<(), PlotError>
where
    Y: Ranged<ValueType = f64>,
{
    for m in markers {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(m.score, y_lo), (m.score, y_hi)],
                GREY.mix(0.6),
            )))
            .map_err(fail("threshold markers"))?;
        chart
            .draw_series(std::iter::once(Text::new(
                m.label.clone(),
                (m.score, label_y),
                (FONT, 12)
                    .into_font()
                    .transform(FontTransform::Rotate270)
                    .color(&GREY),
            )))
            .map_err(fail("threshold markers"))?;
    }
    Ok(())
}

fn draw_intervals<Y>(
    chart: &mut Chart<'_, plotters::coord::types::RangedCoordf64, Y>,
    points: &[IntervalPoint],
    color: RGBColor,
) -> Result<(), PlotError>
where
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(
            points.iter().map(|p| {
                PathElement::new(vec![(p.x, p.lower), (p.x, p.upper)], color.stroke_width(2))
            }),
        )
        .map_err(fail("intervals"))?;
    chart
        .draw_series(
            points
                .iter()
                .map(|p| Circle::new((p.x, p.value), 4, color.filled())),
        )
        .map_err(fail("intervals"))?;
    Ok(())
}

/// A normal-deviate (probit) axis whose ticks sit at plain probabilities and are labelled in
/// words (see [`in_words`]).
struct ProbitAxis {
    range: (f64, f64),
    ticks: Vec<f64>,
}

impl Ranged for ProbitAxis {
    type FormatOption = plotters::coord::ranged1d::NoDefaultFormatting;
    type ValueType = f64;

    /// As plotters maps a plain f64 range.
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let (lo, hi) = self.range;
        let t = (v - lo) / (hi - lo);
        let length = limit.1 - limit.0;
        if length >= 0 {
            limit.0 + (f64::from(length) * t + 1e-3).floor() as i32
        } else {
            limit.0 + (f64::from(length) * t - 1e-3).ceil() as i32
        }
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.0..self.range.1
    }
}

impl plotters::coord::ranged1d::ValueFormatter<f64> for ProbitAxis {
    fn format(value: &f64) -> String {
        in_words(0.5 * libm::erfc(-value / std::f64::consts::SQRT_2))
    }
}

/// The ascending `ticks`, thinned so neighbours are at least `gap` apart, keeping the one
/// nearest 0 (50 % on a probit axis) and walking outwards from it.
fn spaced(ticks: &[f64], gap: f64) -> Vec<f64> {
    let Some(centre) = (0..ticks.len()).min_by(|&a, &b| ticks[a].abs().total_cmp(&ticks[b].abs()))
    else {
        return Vec::new();
    };
    let mut kept = vec![ticks[centre]];
    let mut last = ticks[centre];
    for &t in &ticks[centre + 1..] {
        if t - last >= gap {
            kept.push(t);
            last = t;
        }
    }
    last = ticks[centre];
    for &t in ticks[..centre].iter().rev() {
        if last - t >= gap {
            kept.push(t);
            last = t;
        }
    }
    kept.sort_by(f64::total_cmp);
    kept
}

/// A probability as a lay reader says it: "1 in 1,000" below 5 %, else a percentage.
fn in_words(p: f64) -> String {
    if p < 0.045 {
        format!("1 in {}", format::count((1.0 / p).round() as u64))
    } else {
        format!("{} %", (100.0 * p).round())
    }
}

/// Probit position of a rate, clamped to the plot's range.
fn probit(p: f64, floor: f64) -> f64 {
    normal_quantile(p.clamp(floor, 1.0 - floor))
}

/// DET: FNIR against FPIR on normal-deviate (probit) axes, one curve per slice.
pub fn det(curves: &[(String, Vec<(f64, f64)>)], floor: f64) -> Result<String, PlotError> {
    det_with(
        curves,
        floor,
        [
            "DET: missed mates (FNIR) against false positives (FPIR), probit axes",
            "FPIR",
            "FNIR (mate not in the top K or below threshold)",
        ],
    )
}

/// A DET plot with its own caption and axis names (`[caption, x, y]`).
pub fn det_with(
    curves: &[(String, Vec<(f64, f64)>)],
    floor: f64,
    [caption, x_desc, y_desc]: [&str; 3],
) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT + 60)).into_drawing_area();
        root.fill(&WHITE).map_err(fail("DET"))?;
        let (lo, hi) = (probit(floor, floor), probit(1.0 - floor, floor));
        // Ticks at plain probabilities, named in words ("1 in 1,000", "50 %").
        let ticks: Vec<f64> = [
            1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999,
        ]
        .iter()
        .map(|&p| normal_quantile(p))
        .filter(|z| (lo..=hi).contains(z))
        .collect();
        // Keep ticks at least one label's width apart (about 90 of the ~760 px), going out
        // from 50 % both ways, so "1 in 100,000" and "1 in 10,000" never collide.
        let ticks = spaced(&ticks, (hi - lo) * 90.0 / 760.0);
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 15))
            .margin(14)
            .margin_right(40)
            .x_label_area_size(40)
            .y_label_area_size(84)
            .build_cartesian_2d(
                ProbitAxis {
                    range: (lo, hi),
                    ticks: ticks.clone(),
                },
                ProbitAxis {
                    range: (lo, hi),
                    ticks,
                },
            )
            .map_err(fail("DET"))?;
        let label =
            |v: &f64| <ProbitAxis as plotters::coord::ranged1d::ValueFormatter<f64>>::format(v);
        chart
            .configure_mesh()
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&label)
            .y_label_formatter(&label)
            .light_line_style(WHITE)
            .draw()
            .map_err(fail("DET"))?;
        if curves.iter().all(|c| c.1.is_empty()) {
            chart
                .draw_series(std::iter::once(Text::new(
                    "no DET curve: it needs mated and non-mated searches",
                    (lo + 0.2 * (hi - lo), 0.0),
                    (FONT, 14),
                )))
                .map_err(fail("DET"))?;
        }
        let palette = [
            BLUE,
            ORANGE,
            RGBColor(44, 160, 44),
            RGBColor(148, 103, 189),
            RGBColor(140, 86, 75),
            RGBColor(227, 119, 194),
        ];
        for (i, (name, points)) in curves.iter().enumerate().filter(|(_, c)| !c.1.is_empty()) {
            let color = palette[i % palette.len()];
            chart
                .draw_series(LineSeries::new(
                    points
                        .iter()
                        .map(|&(fpir, fnir)| (probit(fpir, floor), probit(fnir, floor))),
                    color.stroke_width(2),
                ))
                .map_err(fail("DET"))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(GREY)
            .draw()
            .map_err(fail("DET"))?;
        root.present().map_err(fail("DET"))?;
    }
    Ok(svg)
}

/// Bars with interval whiskers, one panel per metric (for example FPIR, SEL, FNIR by group).
pub fn bars(title: &str, panels: &[(String, bool, Vec<Bar>)]) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        // Bars are named under them while the names fit; otherwise numbered, with a key of
        // the numbers below the panels (three columns), so no name is cut or overlaps.
        let k = panels.len().max(1);
        let n_max = panels.iter().map(|p| p.2.len()).max().unwrap_or(1).max(1);
        let longest = panels
            .iter()
            .flat_map(|p| p.2.iter().map(|b| b.label.chars().count()))
            .max()
            .unwrap_or(0);
        let numbered = (n_max * (longest * 7 + 12)) as u32 + 80 > WIDTH / k as u32;
        let names: Vec<String> = panels
            .first()
            .map(|p| p.2.iter().map(|b| b.label.clone()).collect())
            .unwrap_or_default();
        let key_rows = if numbered {
            names.len().div_ceil(3) as u32
        } else {
            0
        };
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT + 20 * key_rows)).into_drawing_area();
        root.fill(&WHITE).map_err(fail("bars"))?;
        let root = root.titled(title, (FONT, 16)).map_err(fail("bars"))?;
        let (plot, key) = root.split_vertically(HEIGHT - 30);
        for (i, name) in names.iter().enumerate().filter(|_| numbered) {
            let (row, column) = ((i / 3) as i32, (i % 3) as i32);
            key.draw(&Text::new(
                format!("{} = {name}", i + 1),
                (20 + column * 290, 6 + row * 20),
                (FONT, 12),
            ))
            .map_err(fail("bars"))?;
        }
        let areas = plot.split_evenly((1, k));
        for ((metric, is_rate, bars), area) in panels.iter().zip(&areas) {
            let top = bars
                .iter()
                .filter_map(|b| b.value.as_ref().map(|v| v.upper))
                .fold(0.0, f64::max);
            let y_hi = if *is_rate {
                1.05
            } else {
                (top * 1.1).max(1e-9)
            };
            let n = bars.len().max(1);
            let labels: Vec<String> = bars
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    if numbered {
                        (i + 1).to_string()
                    } else {
                        b.label.clone()
                    }
                })
                .collect();
            let mut chart = ChartBuilder::on(area)
                .caption(metric, (FONT, 14))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(52)
                .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..y_hi)
                .map_err(fail("bars"))?;
            chart
                .configure_mesh()
                .label_style((FONT, 12))
                .axis_desc_style((FONT, 13))
                .disable_x_mesh()
                .x_labels(n)
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 {
                        labels.get(i as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_label_formatter(&|v| sweep::log_tick(*v))
                .light_line_style(WHITE)
                .draw()
                .map_err(fail("bars"))?;
            for (i, bar) in bars.iter().enumerate() {
                let x = i as f64;
                match &bar.value {
                    Some(v) => {
                        chart
                            .draw_series(std::iter::once(Rectangle::new(
                                [(x - 0.3, 0.0), (x + 0.3, v.value)],
                                BLUE.mix(0.75).filled(),
                            )))
                            .map_err(fail("bars"))?;
                        chart
                            .draw_series(std::iter::once(PathElement::new(
                                vec![(x, v.lower), (x, v.upper)],
                                BLACK.stroke_width(2),
                            )))
                            .map_err(fail("bars"))?;
                    }
                    None => {
                        chart
                            .draw_series(std::iter::once(Text::new(
                                "no data",
                                (x - 0.2, 0.05 * y_hi),
                                (FONT, 11),
                            )))
                            .map_err(fail("bars"))?;
                    }
                }
            }
        }
        root.present().map_err(fail("bars"))?;
    }
    Ok(svg)
}

/// Heat map of a rate matrix on a log colour scale, with each cell's value written in it.
pub fn heat_map(
    title: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<Option<f64>>],
) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let height = (120 + 60 * rows.len().max(1)) as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height.max(260))).into_drawing_area();
        root.fill(&WHITE).map_err(fail("heat map"))?;
        let (plot, scale) = root.split_horizontally(WIDTH - 120);
        let (nr, nc) = (rows.len().max(1), columns.len().max(1));
        // Column names under the cells while they fit; otherwise the columns are numbered and
        // each row names its number ("region A, male (1)"), with the unnumbered rest listed
        // in the axis name.
        let label_area = |longest: usize| (longest as u32 * 7 + 40).clamp(80, 320);
        let longest_row = rows.iter().map(|r| r.chars().count()).max().unwrap_or(0);
        let plot_width = (WIDTH - 120 - label_area(longest_row + 5) - 24) as usize;
        let numbered = columns
            .iter()
            .map(|c| c.chars().count() * 7 + 12)
            .max()
            .unwrap_or(0)
            * nc
            > plot_width;
        let row_names: Vec<String> = rows
            .iter()
            .map(|r| match columns.iter().position(|c| c == r) {
                Some(i) if numbered => format!("{r} ({})", i + 1),
                _ => r.clone(),
            })
            .collect();
        let column_names: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if numbered {
                    format!("({})", i + 1)
                } else {
                    c.clone()
                }
            })
            .collect();
        let unlisted: Vec<String> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| numbered && !rows.contains(c))
            .map(|(i, c)| format!("{} = {c}", i + 1))
            .collect();
        let x_desc = if !numbered {
            "candidate group".to_string()
        } else if unlisted.is_empty() {
            "candidate group (numbered as the probe groups)".to_string()
        } else {
            format!("candidate group ({})", unlisted.join(", "))
        };
        let longest = row_names
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(0);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, 15))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(label_area(longest))
            .build_cartesian_2d(0.0..nc as f64, 0.0..nr as f64)
            .map_err(fail("heat map"))?;
        chart
            .configure_mesh()
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .disable_mesh()
            .x_labels(nc * 2 + 1)
            .y_labels(nr * 2 + 1)
            .x_label_formatter(&|x| cell_label(*x, &column_names))
            .y_label_formatter(&|y| cell_label(*y, &row_names))
            .x_desc(x_desc.as_str())
            .y_desc("probe group")
            .draw()
            .map_err(fail("heat map"))?;
        let logs: Vec<f64> = values
            .iter()
            .flatten()
            .flatten()
            .filter(|v| **v > 0.0)
            .map(|v| v.log10())
            .collect();
        let (lo, hi) = (
            logs.iter().copied().fold(f64::INFINITY, f64::min),
            logs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        for (r, row) in values.iter().enumerate() {
            for (c, value) in row.iter().enumerate() {
                let y = (nr - 1 - r) as f64;
                let (fill, text) = match value {
                    Some(v) if *v > 0.0 => (shade(v.log10(), lo, hi), format::rate(*v)),
                    Some(_) => (RGBColor(245, 245, 245), "0".to_string()),
                    None => (RGBColor(255, 255, 255), "-".to_string()),
                };
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(c as f64, y), (c as f64 + 1.0, y + 1.0)],
                        fill.filled(),
                    )))
                    .map_err(fail("heat map"))?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        text,
                        (c as f64 + 0.38, y + 0.45),
                        (FONT, 13),
                    )))
                    .map_err(fail("heat map"))?;
            }
        }
        if lo.is_finite() {
            colour_scale(&scale, lo, hi)?;
        }
        root.present().map_err(fail("heat map"))?;
    }
    Ok(svg)
}

/// The fill of a cell whose log10 value is `l` on a scale from `lo` (light) to `hi` (dark).
fn shade(l: f64, lo: f64, hi: f64) -> RGBColor {
    let t = if hi > lo { (l - lo) / (hi - lo) } else { 1.0 };
    let shade = (235.0 - 200.0 * t) as u8;
    RGBColor(255, shade, shade.saturating_sub(20))
}

/// The heat map's colour scale: a vertical bar from the lowest value (bottom) to the
/// highest (top), with both ends and the middle labelled.
fn colour_scale(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    lo: f64,
    hi: f64,
) -> Result<(), PlotError> {
    let (_, h) = area.dim_in_pixel();
    let (top, bottom) = (50i32, h as i32 - 60);
    let steps = 20;
    for i in 0..steps {
        let t0 = f64::from(i) / f64::from(steps);
        let y0 = bottom - ((bottom - top) as f64 * (t0 + 1.0 / f64::from(steps))) as i32;
        let y1 = bottom - ((bottom - top) as f64 * t0) as i32;
        area.draw(&Rectangle::new(
            [(10, y0), (30, y1)],
            shade(lo + t0 * (hi - lo), lo, hi).filled(),
        ))
        .map_err(fail("colour scale"))?;
    }
    let label = |t: f64| format::rate(10f64.powf(lo + t * (hi - lo)));
    for (t, y) in [(1.0, top), (0.5, (top + bottom) / 2), (0.0, bottom)] {
        if t == 0.5 && hi <= lo {
            continue;
        }
        area.draw(&Text::new(label(t), (36, y - 6), (FONT, 12)))
            .map_err(fail("colour scale"))?;
    }
    area.draw(&Text::new("FMR (log)", (4, top - 24), (FONT, 12)))
        .map_err(fail("colour scale"))?;
    Ok(())
}

/// The label of the cell whose centre is at `v` (axes tick at half-cell steps).
fn cell_label(v: f64, names: &[String]) -> String {
    let centre = v - 0.5;
    let i = centre.round();
    if (centre - i).abs() < 1e-6 && i >= 0.0 {
        names.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// A count axis label: whole numbers only (thousands separated), nothing between them.
fn whole(v: f64) -> String {
    if v >= 0.0 && (v - v.round()).abs() < 1e-9 {
        format::count(v.round() as u64)
    } else {
        String::new()
    }
}

/// Histogram of false candidates per search.
pub fn histogram(title: &str, counts: &[u64]) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(fail("histogram"))?;
        let max = counts.iter().copied().max().unwrap_or(0);
        let min = counts.iter().copied().min().unwrap_or(0);
        // Integer bins up to 40 distinct values, else 30 equal bins over [min, max].
        let (start, width) = if max - min < 40 {
            (min as f64 - 0.5, 1.0)
        } else {
            (min as f64, ((max - min) as f64 / 30.0).ceil())
        };
        let n_bins = (((max as f64 + 1.0 - start) / width).ceil() as usize).max(1);
        let mut bins = vec![0u64; n_bins];
        for &c in counts {
            let b = (((c as f64 - start) / width).floor() as usize).min(n_bins - 1);
            bins[b] += 1;
        }
        let top = bins.iter().copied().max().unwrap_or(1).max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 15))
            .margin(12)
            .margin_right(36)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(start..start + n_bins as f64 * width, 0.0..top * 1.1)
            .map_err(fail("histogram"))?;
        chart
            .configure_mesh()
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .x_desc("false candidates in one search")
            .y_desc("searches")
            .x_label_formatter(&|v| whole(*v))
            .y_label_formatter(&|v| whole(*v))
            .light_line_style(WHITE)
            .draw()
            .map_err(fail("histogram"))?;
        chart
            .draw_series(
                bins.iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(i, &n)| {
                        let x0 = start + i as f64 * width;
                        Rectangle::new(
                            [(x0, 0.0), (x0 + width * 0.95, n as f64)],
                            BLUE.mix(0.75).filled(),
                        )
                    }),
            )
            .map_err(fail("histogram"))?;
        root.present().map_err(fail("histogram"))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, value: f64) -> IntervalPoint {
        IntervalPoint {
            x,
            value,
            lower: value * 0.8,
            upper: value * 1.2,
        }
    }

    #[test]
    fn plots_are_svg_and_deterministic() {
        let markers = vec![Marker {
            label: "0.50".into(),
            score: 0.5,
        }];
        let a = threshold_curves(
            &[(0.4, 1.0), (0.5, 0.5), (0.6, 0.01)],
            &[point(0.5, 0.5)],
            &[point(0.5, 12.0)],
            &markers,
        )
        .unwrap();
        let b = threshold_curves(
            &[(0.4, 1.0), (0.5, 0.5), (0.6, 0.01)],
            &[point(0.5, 0.5)],
            &[point(0.5, 12.0)],
            &markers,
        )
        .unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with("<svg") && a.contains("FPIR"));
        let d = det(&[("all".into(), vec![(0.01, 0.5), (0.1, 0.2)])], 1e-3).unwrap();
        assert!(d.contains("DET"));
        let bars = bars(
            "by group",
            &[(
                "FPIR".into(),
                true,
                vec![
                    Bar {
                        label: "women".into(),
                        value: Some(point(0.0, 0.4)),
                    },
                    Bar {
                        label: "men".into(),
                        value: None,
                    },
                ],
            )],
        )
        .unwrap();
        assert!(bars.contains("women") && bars.contains("no data"));
        let heat = heat_map(
            "FMR",
            &["a".into()],
            &["a".into(), "b".into()],
            &[vec![Some(1e-4), Some(0.0)]],
        )
        .unwrap();
        assert!(heat.contains("1.00e-4"));
        let hist = histogram("per search", &[0, 3, 3, 500]).unwrap();
        assert!(hist.contains("<rect"));
    }

    #[test]
    fn empty_inputs_draw_labelled_charts() {
        assert!(threshold_curves(&[], &[], &[], &[]).is_ok());
        assert!(det(&[], 1e-3).unwrap().contains("no DET curve"));
        assert!(bars("none", &[]).is_ok());
        assert!(heat_map("none", &[], &[], &[]).is_ok());
        assert!(histogram("none", &[]).is_ok());
    }
}
