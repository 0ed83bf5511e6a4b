//! The DET plot: missed mates against false positives on normal-deviate (probit) axes,
//! ticked at plain probabilities and labelled in words.

use super::*;

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
        for (i, (name, points)) in curves.iter().enumerate().filter(|(_, c)| !c.1.is_empty()) {
            let color = PALETTE[i % PALETTE.len()];
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
