//! HTML exporter: [`Document`] -> one self-contained `report.html`: inline CSS and inline SVG,
//! no scripts, no fonts or anything else fetched. Readable on a phone (fluid width, tables
//! scroll sideways), printable to PDF (figures and table rows are not split across pages).

use super::document::{Block, Document};
use std::fmt::Write;

const STYLE: &str = "
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; line-height: 1.5; color: #1b1b1b; margin: 0 auto; max-width: 62rem; padding: 1rem; overflow-wrap: break-word; }
h1 { font-size: 1.6rem; margin-top: 0.5rem; }
h2 { font-size: 1.3rem; border-bottom: 1px solid #ccc; margin-top: 2rem; }
h3 { font-size: 1.1rem; margin-top: 1.5rem; }
.table { overflow-x: auto; margin: 0.8rem 0; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr { break-inside: avoid; }
.nb { white-space: nowrap; }
figure { margin: 1rem 0; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; display: block; }
.plot { overflow-x: auto; }
.panels { display: flex; flex-wrap: wrap; }
.panels svg { flex: 1 1 20rem; max-width: 100%; }
figcaption { font-size: 0.9rem; color: #444; break-before: avoid; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; font-size: 0.85rem; }
code { font-family: ui-monospace, 'SF Mono', Menlo, Consolas, monospace; }
@media (max-width: 40rem) {
  body { padding: 0.6rem; }
  figure { margin-left: -0.6rem; margin-right: -0.6rem; }
  figcaption { padding: 0 0.6rem; }
  .plot svg { min-width: 48rem; }
}
@media print {
  body { max-width: none; padding: 0; }
  .table, .plot, pre { overflow: visible; }
  pre { white-space: pre-wrap; }
  h2, h3 { break-after: avoid; }
  figure svg, .plot svg { min-width: 0; max-height: 11cm; width: auto; margin: 0 auto; }
  .panels { flex-wrap: nowrap; }
  .panels svg { max-height: 8cm; }
}
";

/// Escaped text in which a token that a browser could break inside (a number with a minus or
/// hyphen, such as 1.05e-4 or 1,575,000,000-2) is held together and a number keeps its "%", so
/// no number wraps.
fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut previous = "";
    for (i, token) in text.split(' ').enumerate() {
        if i > 0 {
            // A number keeps its unit on its line: "67 %", not "67" / "%".
            let unit = token.starts_with('%') && previous.ends_with(|c: char| c.is_ascii_digit());
            out.push_str(if unit { "&#160;" } else { " " });
        }
        previous = token;
        let breakable =
            token.contains(|c: char| c.is_ascii_digit()) && token.contains(['-', '\u{2013}', '/']);
        if breakable {
            let _ = write!(out, "<span class=\"nb\">{}</span>", escape(token));
        } else {
            out.push_str(&escape(token));
        }
    }
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Renders a document as one HTML file; `svg(path)` gives the SVG text of a figure.
pub fn render(doc: &Document, svg: &dyn Fn(&str) -> Option<String>) -> Vec<u8> {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&doc.title),
        escape(&doc.title)
    );
    let mut figures = 0;
    for block in &doc.blocks {
        match block {
            Block::Heading(level, text) => {
                let h = level + 1;
                let _ = writeln!(out, "<h{h}>{}</h{h}>", self::text(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "<p>{}</p>", self::text(text));
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(out, "<li>{}</li>", text(item));
                }
                out.push_str("</ul>\n");
            }
            Block::Table { header, rows } => {
                out.push_str("<div class=\"table\"><table>\n<thead><tr>");
                for h in header {
                    let _ = write!(out, "<th>{}</th>", escape(h));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for c in row {
                        let _ = write!(out, "<td>{}</td>", text(c));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody></table></div>\n");
            }
            Block::Figure { path, caption } => {
                figures += 1;
                let body = svg(path).map_or_else(
                    || format!("<p>missing figure {}</p>", escape(path)),
                    |s| figure_body(s.trim(), figures),
                );
                let _ = writeln!(
                    out,
                    "<figure>\n{body}\n<figcaption>{}</figcaption>\n</figure>",
                    text(caption)
                );
            }
            Block::Code(text) => {
                let _ = writeln!(out, "<pre><code>{}</code></pre>", escape(text));
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out.into_bytes()
}

/// The value of attribute `name` in an SVG's root tag.
fn root_attribute<'a>(root: &'a str, name: &str) -> Option<&'a str> {
    let start = root.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = root[start..].find('"')?;
    Some(&root[start..start + len])
}

/// An inline figure. A figure of N side-by-side panels (its root says `data-panels="N"`) is
/// drawn once and shown as N views of one panel each, which sit side by side on a wide screen
/// and stack on a phone; any other figure scrolls sideways on a phone rather than shrink.
fn figure_body(svg: &str, number: usize) -> String {
    let parts = svg.find("<svg").and_then(|start| {
        let end = start + svg[start..].find('>')?;
        let root = &svg[start..=end];
        let panels: u32 = root_attribute(root, "data-panels")?.parse().ok()?;
        let width: f64 = root_attribute(root, "width")?.parse().ok()?;
        let height: f64 = root_attribute(root, "height")?.parse().ok()?;
        let close = svg.rfind("</svg>")?;
        Some((panels, width, height, &svg[end + 1..close]))
    });
    let Some((panels, width, height, inner)) = parts.filter(|p| p.0 > 1) else {
        return format!("<div class=\"plot\">{svg}</div>");
    };
    let w = width / f64::from(panels);
    let mut out = String::from("<div class=\"panels\">");
    for p in 0..panels {
        let _ = write!(
            out,
            "\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" viewBox=\"{} 0 {w} {height}\">",
            w * f64::from(p)
        );
        if p == 0 {
            let _ = write!(out, "<defs><g id=\"figure-{number}\">{inner}</g></defs>");
        }
        let _ = write!(out, "<use href=\"#figure-{number}\"/></svg>");
    }
    out.push_str("\n</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_held_together_and_keep_their_percent_sign() {
        assert_eq!(
            text("FMR 1.05e-4 at 67 % & <b>"),
            "FMR <span class=\"nb\">1.05e-4</span> at 67&#160;% &amp; &lt;b&gt;"
        );
        assert_eq!(text("well-known"), "well-known");
    }

    #[test]
    fn a_two_panel_figure_becomes_two_views_of_one_drawing() {
        let svg = r#"<svg data-panels="2" width="900" height="420" viewBox="0 0 900 420" xmlns="http://www.w3.org/2000/svg"><rect x="1"/></svg>"#;
        let html = figure_body(svg, 3);
        assert!(html.starts_with("<div class=\"panels\">"), "{html}");
        assert!(
            html.contains("viewBox=\"0 0 450 420\"") && html.contains("viewBox=\"450 0 450 420\"")
        );
        // The drawing once, shown twice.
        assert_eq!(html.matches("<rect").count(), 1);
        assert_eq!(html.matches("<use href=\"#figure-3\"/>").count(), 2);
        // Without panels: one scrolling figure, as given.
        let plain = svg.replace(" data-panels=\"2\"", "");
        assert_eq!(
            figure_body(&plain, 1),
            format!("<div class=\"plot\">{plain}</div>")
        );
    }
}
