//! The figures people read: every text of every committed figure (tick labels, axis names,
//! legends, marker labels) lies inside its SVG's view box, so no number is cut at the edge
//! (a "1,000,000,000" that shows as "1,000,000" is a wrong number on a picture).
//!
//! Text widths are estimated, not measured (no font is loaded): 0.5 em per character, about
//! the average advance of a sans-serif face's digits and lower-case letters, so the estimate
//! errs on the short side and a reported overflow is a real one.

use std::path::{Path, PathBuf};

/// One `<text>` element: its string and the box it covers (x0..x1, y0..y1).
#[derive(Debug)]
pub struct TextBox {
    pub text: String,
    pub x: (f64, f64),
    pub y: (f64, f64),
    /// Font size (px) and whether the text runs upwards.
    pub size: f64,
    pub rotated: bool,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].to_string())
}

fn number(tag: &str, name: &str) -> Option<f64> {
    attr(tag, name)?.parse().ok()
}

/// (width, height, every text's box) of an SVG as plotters writes it.
pub fn text_boxes(svg: &str) -> (f64, f64, Vec<TextBox>) {
    let head = &svg[svg.find("<svg").expect("an <svg> element")..];
    let head = &head[..head.find('>').unwrap()];
    let (width, height) = (
        number(head, "width").unwrap(),
        number(head, "height").unwrap(),
    );
    let mut boxes = Vec::new();
    let mut rest = svg;
    while let Some(at) = rest.find("<text") {
        let tag_end = at + rest[at..].find('>').unwrap();
        let tag = &rest[at..tag_end];
        let close = tag_end + rest[tag_end..].find("</text>").unwrap();
        let text = rest[tag_end + 1..close].trim().replace("&amp;", "&");
        rest = &rest[close..];
        let (x, y) = (number(tag, "x").unwrap(), number(tag, "y").unwrap());
        let size = number(tag, "font-size").unwrap_or(10.0);
        let length = 0.5 * size * text.chars().count() as f64;
        let (before, after) = match attr(tag, "text-anchor").as_deref() {
            Some("middle") => (length / 2.0, length / 2.0),
            Some("end") => (length, 0.0),
            _ => (0.0, length),
        };
        let rotated = attr(tag, "transform").is_some_and(|t| t.starts_with("rotate(270"));
        // Along the text: [anchor - before, anchor + after]; across it: the anchor itself (the
        // glyphs' height is not checked, only where the text starts and ends).
        let (xs, ys) = if rotated {
            ((x, x), (y - after, y + before))
        } else {
            ((x - before, x + after), (y, y))
        };
        boxes.push(TextBox {
            text,
            x: xs,
            y: ys,
            size,
            rotated,
        });
    }
    (width, height, boxes)
}

/// The texts of `svg` that reach outside its view box, by more than half a pixel.
pub fn outside(svg: &str) -> Vec<TextBox> {
    let (w, h, boxes) = text_boxes(svg);
    boxes
        .into_iter()
        .filter(|b| b.x.0 < -0.5 || b.x.1 > w + 0.5 || b.y.0 < -0.5 || b.y.1 > h + 0.5)
        .collect()
}

/// Pairs of horizontal texts of `svg` that overlap: on the same line (baselines closer than
/// 0.8 em) and with overlapping extents (by more than a pixel).
pub fn overlapping(svg: &str) -> Vec<(String, String)> {
    let (_, _, boxes) = text_boxes(svg);
    let flat: Vec<&TextBox> = boxes
        .iter()
        .filter(|b| !b.rotated && !b.text.is_empty())
        .collect();
    let mut out = Vec::new();
    for (i, a) in flat.iter().enumerate() {
        for b in &flat[i + 1..] {
            let same_line = (a.y.0 - b.y.0).abs() < 0.8 * a.size.min(b.size);
            let overlap = a.x.1.min(b.x.1) - a.x.0.max(b.x.0);
            if same_line && overlap > 1.0 {
                out.push((a.text.clone(), b.text.clone()));
            }
        }
    }
    out
}

fn committed_figures() -> Vec<PathBuf> {
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(reports).unwrap() {
        let dir = entry.unwrap().path();
        for svg in [dir.join("sweep.svg")] {
            if svg.is_file() {
                out.push(svg);
            }
        }
        if let Ok(plots) = std::fs::read_dir(dir.join("plots")) {
            out.extend(plots.map(|p| p.unwrap().path()));
        }
    }
    out.sort();
    out
}

#[test]
fn every_text_of_every_committed_figure_lies_inside_its_view_box_and_overlaps_no_other() {
    let figures = committed_figures();
    assert!(figures.len() >= 40, "only {} figures found", figures.len());
    let mut problems = Vec::new();
    for path in &figures {
        let svg = std::fs::read_to_string(path).unwrap();
        let (_, _, boxes) = text_boxes(&svg);
        assert!(!boxes.is_empty(), "{}: no text", path.display());
        for b in outside(&svg) {
            problems.push(format!("{}: {:?}", path.display(), b));
        }
        for (a, b) in overlapping(&svg) {
            problems.push(format!("{}: `{a}` overlaps `{b}`", path.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_bounds_check_can_fail() {
    let svg = |x: f64, anchor: &str, transform: &str| {
        format!(
            "<svg width=\"100\" height=\"50\" viewBox=\"0 0 100 50\"><text x=\"{x}\" y=\"20\" text-anchor=\"{anchor}\" font-size=\"10\"{transform}>1,000,000,000</text></svg>"
        )
    };
    // 13 characters at 10 px: about 65 px long.
    assert!(outside(&svg(30.0, "start", "")).is_empty());
    assert_eq!(
        outside(&svg(40.0, "start", "")).len(),
        1,
        "cut at the right edge"
    );
    assert_eq!(
        outside(&svg(20.0, "middle", "")).len(),
        1,
        "cut at the left edge"
    );
    assert_eq!(outside(&svg(99.0, "end", "")).len(), 0);
    assert_eq!(
        outside(&svg(10.0, "middle", " transform=\"rotate(270, 10, 20)\"")).len(),
        1,
        "a rotated label runs along y: 65 px do not fit in 50"
    );
    let two = |x2: f64, y2: f64| {
        format!(
            "<svg width=\"300\" height=\"50\"><text x=\"10\" y=\"20\" font-size=\"10\">region A, male</text><text x=\"{x2}\" y=\"{y2}\" font-size=\"10\">region B</text></svg>"
        )
    };
    // "region A, male" is about 70 px long: a neighbour at 60 on the same line overlaps it.
    assert_eq!(overlapping(&two(60.0, 20.0)).len(), 1);
    assert!(overlapping(&two(90.0, 20.0)).is_empty());
    assert!(overlapping(&two(60.0, 35.0)).is_empty(), "another line");
}
