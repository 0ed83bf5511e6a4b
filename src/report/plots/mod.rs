//! SVG plots, drawn with plotters' SVG backend from small view structs (never from the
//! statistics types directly).
//!
//! Invariants: output depends only on the inputs (no fonts are measured from the system, no
//! time or randomness), so plots are byte-identical across runs and machines; every function
//! handles empty inputs by drawing a labelled empty chart.

mod det;
mod heat_map;
mod sweep;

pub use det::{det, det_with};
pub use heat_map::heat_map;
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
/// The colours of successive curves (matplotlib's first six), repeated beyond six.
const PALETTE: [RGBColor; 6] = [
    BLUE,
    ORANGE,
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];
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

/// Marks an SVG as `panels` panels of equal width side by side (`data-panels` on its root),
/// so that the HTML report can stack them on a narrow screen.
pub(super) fn side_by_side(svg: String, panels: u32) -> String {
    svg.replacen("<svg ", &format!("<svg data-panels=\"{panels}\" "), 1)
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
    Ok(side_by_side(svg, 2))
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
                                (FONT, 12),
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
