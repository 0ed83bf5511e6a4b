//! The sweep plot: FPIR and SEL against gallery size, analytic lines and simulated points.

use super::*;

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

/// FPIR (left, linear) and SEL (right, log) against gallery size (log), one series per
/// threshold: lines for the analytic mode, points with whiskers for simulation.
pub fn sweep(fpir: &[SweepSeries], sel: &[SweepSeries]) -> Result<String, PlotError> {
    let palette = [
        BLUE,
        ORANGE,
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        GREY,
    ];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT + 40)).into_drawing_area();
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
            let values = || {
                series.iter().flat_map(|s| {
                    s.analytic
                        .iter()
                        .map(|p| p.1)
                        .chain(s.simulated.iter().flat_map(|p| [p.value, p.lower, p.upper]))
                })
            };
            let mut chart = ChartBuilder::on(panel);
            chart
                .caption(title, (FONT, 15))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(56);
            let x_fmt = |v: &f64| format::mean(*v);
            let y_fmt = |v: &f64| format::rate(*v);
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
                            .map_err(fail("sweep"))?
                            .label(s.label.clone())
                            .legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                            });
                        chart
                            .draw_series(s.simulated.iter().filter(|p| keep(p.lower)).map(|p| {
                                PathElement::new(vec![(p.x, p.lower), (p.x, p.upper)], color)
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
                    chart
                        .configure_series_labels()
                        .position(SeriesLabelPosition::UpperLeft)
                        .background_style(WHITE.mix(0.8))
                        .border_style(GREY)
                        .draw()
                        .map_err(fail("sweep"))?;
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
    Ok(svg)
}
