//! The sweep plot: FPIR and SEL against gallery size, analytic lines and simulated points.

use super::*;
use plotters::style::text_anchor;

/// One curve of a sweep: analytic values (a line) and simulated ones (points with whiskers).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSeries {
    /// Label (the threshold).
    pub label: String,
    /// (gallery size, value) of the analytic mode.
    pub analytic: Vec<(f64, f64)>,
    /// Simulated values, x = gallery size.
    pub simulated: Vec<IntervalPoint>,
}

/// Legend entries per row, below each panel.
const LEGEND_COLUMNS: usize = 2;
/// Height of a legend row, pixels.
const LEGEND_ROW: u32 = 18;

/// FPIR (left, linear) and SEL (right, log) against gallery size (log), one series per
/// threshold: lines for the analytic mode, points with whiskers for simulation.
///
/// Each panel's legend is drawn below it, never over the data. On the log panel the axis
/// spans the curves and the simulated points; a whisker reaching below a tenth of the smallest
/// of those (an interval whose lower end is 1e-30, say) stops at the bottom of the axis (the
/// sweep's table gives the interval in full).
pub fn sweep(fpir: &[SweepSeries], sel: &[SweepSeries]) -> Result<String, PlotError> {
    // A seventh colour, grey, before the six repeat.
    let palette: Vec<RGBColor> = PALETTE.iter().copied().chain([GREY]).collect();
    let rows = fpir.len().max(sel.len()).div_ceil(LEGEND_COLUMNS) as u32;
    let plot_height = HEIGHT + 40;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, plot_height + rows * LEGEND_ROW + 8))
            .into_drawing_area();
        root.fill(&WHITE).map_err(fail("sweep"))?;
        let panels = root.split_evenly((1, 2));
        let xs = || {
            fpir.iter().chain(sel).flat_map(|s| {
                s.analytic
                    .iter()
                    .map(|p| p.0)
                    .chain(s.simulated.iter().map(|p| p.x))
            })
        };
        let (x_lo, x_hi) = log_range(xs());
        for (panel, (series, title, log_y)) in panels.iter().zip([
            (fpir, "FPIR against gallery size", false),
            (sel, "SEL (false candidates per search)", true),
        ]) {
            let (panel, legend) = panel.split_vertically(plot_height);
            draw_legend(
                &legend,
                series
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.label.as_str(), palette[i % palette.len()])),
            )?;
            // The log axis's floor: a tenth of the smallest curve value or simulated point.
            let floor = series
                .iter()
                .flat_map(|s| {
                    s.analytic
                        .iter()
                        .map(|p| p.1)
                        .chain(s.simulated.iter().map(|p| p.value))
                })
                .filter(|v| *v > 0.0)
                .fold(f64::INFINITY, f64::min)
                / 10.0;
            let lower = |p: &IntervalPoint| if log_y { p.lower.max(floor) } else { p.lower };
            let values = || {
                series.iter().flat_map(|s| {
                    s.analytic.iter().map(|p| p.1).chain(
                        s.simulated
                            .iter()
                            .flat_map(|p| [p.value, lower(p), p.upper]),
                    )
                })
            };
            let mut chart = ChartBuilder::on(&panel);
            chart
                .caption(title, (FONT, 15))
                .margin(12)
                .margin_right(40)
                .x_label_area_size(40)
                .y_label_area_size(56);
            let x_fmt = |v: &f64| log_tick(*v);
            let y_fmt = |v: &f64| log_tick(*v);
            macro_rules! draw {
                ($chart:expr) => {{
                    let mut chart = $chart;
                    chart
                        .configure_mesh()
                        .x_desc("gallery entries N (log)")
                        .x_label_formatter(&x_fmt)
                        .y_label_formatter(&y_fmt)
                        .light_line_style(WHITE)
                        .draw()
                        .map_err(fail("sweep"))?;
                    for (i, s) in series.iter().enumerate() {
                        let color = palette[i % palette.len()];
                        let keep = |y: f64| !log_y || y > 0.0;
                        chart
                            .draw_series(LineSeries::new(
                                s.analytic.iter().copied().filter(|p| keep(p.1)),
                                color.stroke_width(2),
                            ))
                            .map_err(fail("sweep"))?;
                        chart
                            .draw_series(s.simulated.iter().filter(|p| keep(p.value)).map(|p| {
                                PathElement::new(vec![(p.x, lower(p)), (p.x, p.upper)], color)
                            }))
                            .map_err(fail("sweep"))?;
                        chart
                            .draw_series(
                                s.simulated
                                    .iter()
                                    .filter(|p| keep(p.value))
                                    .map(|p| Circle::new((p.x, p.value), 3, color.filled())),
                            )
                            .map_err(fail("sweep"))?;
                    }
                }};
            }
            if log_y {
                let (y_lo, y_hi) = log_range(values());
                draw!(
                    chart
                        .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())
                        .map_err(fail("sweep"))?
                );
            } else {
                draw!(
                    chart
                        .build_cartesian_2d((x_lo..x_hi).log_scale(), 0.0..1.05)
                        .map_err(fail("sweep"))?
                );
            }
        }
        root.present().map_err(fail("sweep"))?;
    }
    Ok(super::side_by_side(svg, 2))
}

/// A legend in rows of [`LEGEND_COLUMNS`] entries (a line in the curve's colour, then its
/// label), in an area of its own.
fn draw_legend<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: impl Iterator<Item = (&'a str, RGBColor)>,
) -> Result<(), PlotError> {
    let column_width = 190;
    for (i, (label, color)) in entries.enumerate() {
        let x = 56 + column_width * (i % LEGEND_COLUMNS) as i32;
        let y = (LEGEND_ROW / 2 + LEGEND_ROW * (i / LEGEND_COLUMNS) as u32) as i32;
        area.draw(&PathElement::new(
            vec![(x, y), (x + 18, y)],
            color.stroke_width(2),
        ))
        .map_err(fail("sweep"))?;
        let style = TextStyle::from((FONT, 12).into_font()).pos(text_anchor::Pos::new(
            text_anchor::HPos::Left,
            text_anchor::VPos::Center,
        ));
        area.draw(&Text::new(label.to_string(), (x + 24, y), style))
            .map_err(fail("sweep"))?;
    }
    Ok(())
}

/// A number with up to three significant digits and no trailing zeros.
fn significant(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let decimals = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A tick label on any axis (log or linear), short enough to stay inside its panel and one
/// style per range:
/// "1e-12" below 0.001, "0.01" and "250" in between, "10,000" below a million, then "1 million"
/// and "10 billion".
pub(super) fn log_tick(v: f64) -> String {
    if v < 0.0 {
        return format!("-{}", log_tick(-v));
    }
    // An axis computes its ticks in floating point (999,999.9999999999 for a million): round
    // to 12 significant digits first, so the label's range is the value's.
    let v: f64 = format!("{v:.11e}").parse().unwrap_or(v);
    if v >= 1e9 {
        format!("{} billion", significant(v / 1e9))
    } else if v >= 1e6 {
        format!("{} million", significant(v / 1e6))
    } else if v >= 1000.0 {
        format::count(v.round() as u64)
    } else if v >= 1e-3 || v == 0.0 {
        significant(v)
    } else {
        let text = format!("{v:.2e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e{exponent}")
    }
}

#[cfg(test)]
mod tests {
    use super::{SweepSeries, log_tick, sweep};

    /// Every unrotated text of an SVG as (x, font size, anchor, text), read from its
    /// `<text ...>` elements.
    fn texts(svg: &str) -> Vec<(f64, f64, String, String)> {
        let attr = |tag: &str, name: &str| -> Option<String> {
            let tag = format!(" {tag}");
            let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
            Some(tag[at..at + tag[at..].find('"')?].to_string())
        };
        svg.split("<text ")
            .skip(1)
            .filter_map(|part| {
                let (tag, rest) = part.split_once('>')?;
                if tag.contains("transform") {
                    return None;
                }
                let text = rest.split("</text>").next()?.trim().to_string();
                Some((
                    attr(tag, "x")?.parse().ok()?,
                    attr(tag, "font-size")
                        .and_then(|f| f.parse().ok())
                        .unwrap_or(10.0),
                    attr(tag, "text-anchor").unwrap_or_else(|| "start".into()),
                    text,
                ))
            })
            .collect()
    }

    #[test]
    fn every_tick_label_of_a_city_scale_sweep_lies_inside_the_picture() {
        // Gallery sizes 1e4 to 2.8e9 and SEL from 1e-12 to 1e5: the widest labels a sweep has.
        let sizes: Vec<f64> = (0..12)
            .map(|i| 1e4 * 10f64.powf(f64::from(i) * 0.5))
            .collect();
        let series = |scale: f64| SweepSeries {
            label: "0.50".into(),
            analytic: sizes
                .iter()
                .map(|&n| (n, (scale * n * 1e-14).min(1.0)))
                .collect(),
            simulated: Vec::new(),
        };
        let fpir = [series(1e6)];
        let sel = [SweepSeries {
            analytic: sizes.iter().map(|&n| (n, n * n * 1e-20)).collect(),
            ..series(1.0)
        }];
        let svg = sweep(&fpir, &sel).unwrap();
        let width: f64 = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|v| v.split(' ').next())
            .and_then(|w| w.parse().ok())
            .unwrap();
        let labels = texts(&svg);
        assert!(labels.iter().any(|t| t.3 == "1 billion"), "{labels:?}");
        for (x, size, anchor, text) in labels {
            // A generous width per character (sans-serif digits are about 0.55 em).
            let w = 0.6 * size * text.chars().count() as f64;
            let (lo, hi) = match anchor.as_str() {
                "middle" => (x - w / 2.0, x + w / 2.0),
                "end" => (x - w, x),
                _ => (x, x + w),
            };
            assert!(
                lo >= 0.0 && hi <= width,
                "{text:?} spans {lo:.0}..{hi:.0} of {width}"
            );
        }
    }

    /// (y, text) of every `<text>` element.
    fn text_heights(svg: &str) -> Vec<(f64, String)> {
        svg.split("<text ")
            .skip(1)
            .filter_map(|part| {
                let (tag, rest) = part.split_once('>')?;
                let at = tag.find(" y=\"")? + 4;
                let y = tag[at..at + tag[at..].find('"')?].parse().ok()?;
                Some((y, rest.split("</text>").next()?.trim().to_string()))
            })
            .collect()
    }

    #[test]
    fn the_legends_lie_below_the_panels_and_a_tiny_lower_bound_does_not_stretch_the_log_axis() {
        use crate::report::plots::IntervalPoint;
        let sizes = [1e4, 1e6, 1e8];
        let series = |label: &str, scale: f64| SweepSeries {
            label: label.into(),
            analytic: sizes.iter().map(|&n| (n, scale * n)).collect(),
            // An interval from a handful of clustered events: its lower end is 1e-33.
            simulated: vec![IntervalPoint {
                x: 1e4,
                value: scale * 1e4,
                lower: 1e-33,
                upper: scale * 3e4,
            }],
        };
        let all = [
            series("0.50", 1e-3),
            series("0.55", 1e-6),
            series("67 % [half_cosine]", 1e-12),
        ];
        let svg = sweep(&all, &all).unwrap();
        let texts = text_heights(&svg);
        // The axis description is the lowest text of a panel; every legend label is below it.
        let axis = texts
            .iter()
            .filter(|t| t.1 == "gallery entries N (log)")
            .map(|t| t.0)
            .fold(f64::NAN, f64::max);
        for label in ["0.50", "0.55", "67 % [half_cosine]"] {
            let ys: Vec<f64> = texts.iter().filter(|t| t.1 == label).map(|t| t.0).collect();
            assert_eq!(
                ys.len(),
                2,
                "{label}: one legend entry per panel, {texts:?}"
            );
            assert!(
                ys.iter().all(|&y| y > axis + 12.0),
                "{label} at {ys:?}, axis at {axis}"
            );
        }
        // The smallest value drawn is 1e-12 * 1e4 = 1e-8: the axis stops a decade or so below
        // it, not at 1e-33.
        let exponents: Vec<i32> = texts
            .iter()
            .filter_map(|t| t.1.split_once("e-").and_then(|(_, e)| e.parse().ok()))
            .collect();
        assert!(!exponents.is_empty(), "{texts:?}");
        assert!(exponents.iter().all(|&e| e <= 10), "{exponents:?}");
    }

    #[test]
    fn log_ticks_are_short_and_exact() {
        let cases = [
            (1e-12, "1e-12"),
            (2.5e-5, "2.5e-5"),
            (0.001, "0.001"),
            (0.01, "0.01"),
            (1.0, "1"),
            (10.0, "10"),
            (250.0, "250"),
            (10_000.0, "10,000"),
            (1e6, "1 million"),
            (999_999.999_999_9, "1 million"),
            (0.000_999_999_999_999_9, "0.001"),
            (2.8e9, "2.8 billion"),
            (1e10, "10 billion"),
        ];
        for (v, text) in cases {
            assert_eq!(log_tick(v), text, "{v}");
        }
    }
}
