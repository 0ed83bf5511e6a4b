//! PNG copies of a report's figures, for slides and word processors: each SVG drawn by
//! `resvg` at twice its size on white, with one font compiled into the binary (DejaVu Sans,
//! from the `dejavu` crate), never a font of the machine, so the same SVG gives the same PNG
//! bytes on every machine running the same build.
//!
//! Invariants: nothing here reads the file system or the clock; the PNG is a function of the
//! SVG text alone.

use super::ReportError;
use std::sync::{Arc, OnceLock};

/// Pixels per SVG unit: 900-unit figures become 1,800-pixel images, sharp on a slide.
pub const SCALE: f32 = 2.0;

/// The font database: DejaVu Sans only, standing for every generic family.
fn fonts() -> Arc<resvg::usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = resvg::usvg::fontdb::Database::new();
            db.load_font_data(dejavu::sans::regular().to_vec());
            db.set_sans_serif_family("DejaVu Sans");
            db.set_serif_family("DejaVu Sans");
            db.set_monospace_family("DejaVu Sans");
            Arc::new(db)
        })
        .clone()
}

/// Draws an SVG as a PNG at [`SCALE`] times its size, on white.
///
/// # Errors
/// [`ReportError::Png`] when the SVG cannot be parsed or is too large to draw.
pub fn render(svg: &str) -> Result<Vec<u8>, ReportError> {
    let fail = |what: &str| ReportError::Png(format!("PNG copy: {what}"));
    let options = resvg::usvg::Options {
        fontdb: fonts(),
        font_family: "DejaVu Sans".into(),
        ..resvg::usvg::Options::default()
    };
    let tree = resvg::usvg::Tree::from_str(svg, &options).map_err(|e| fail(&e.to_string()))?;
    let size = tree.size();
    let (w, h) = (
        (size.width() * SCALE).ceil() as u32,
        (size.height() * SCALE).ceil() as u32,
    );
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(w.max(1), h.max(1)).ok_or_else(|| fail("too large"))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(SCALE, SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(|e| fail(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_becomes_a_png_twice_its_size_with_its_text_drawn() {
        let svg = |text: &str| {
            format!(
                r#"<svg width="200" height="50" viewBox="0 0 200 50" xmlns="http://www.w3.org/2000/svg"><text x="10" y="30" font-family="sans-serif" font-size="20">{text}</text></svg>"#
            )
        };
        let png = render(&svg("1 in 1,000")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, at bytes 16..24.
        assert_eq!(&png[16..24], &[0, 0, 1, 144, 0, 0, 0, 100]);
        // Same SVG, same bytes; the text is drawn (a different text, different pixels).
        assert_eq!(png, render(&svg("1 in 1,000")).unwrap());
        assert_ne!(png, render(&svg("")).unwrap());
        assert!(render("<svg").is_err());
    }
}
