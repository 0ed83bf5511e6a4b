//! The cross-group heat map: a rate matrix on a log colour scale, with its colour scale and
//! numbered columns when the group names do not fit.

use super::*;

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
