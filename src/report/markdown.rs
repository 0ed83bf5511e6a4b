//! Markdown exporter: [`Document`] -> `report.md` (GitHub-flavoured tables; figures link the
//! SVG files of the bundle).

use super::document::{Block, Document};
use std::fmt::Write;

fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Renders a document as Markdown.
pub fn render(doc: &Document) -> Vec<u8> {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", doc.title);
    for block in &doc.blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "{} {text}\n", "#".repeat(usize::from(*level) + 1));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {item}");
                }
                out.push('\n');
            }
            Block::Table { header, rows } => {
                let _ = writeln!(
                    out,
                    "| {} |",
                    header
                        .iter()
                        .map(|h| escape_cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let _ = writeln!(out, "|{}", " --- |".repeat(header.len()));
                for row in rows {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        row.iter()
                            .map(|c| escape_cell(c))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    );
                }
                out.push('\n');
            }
            Block::Figure { path, caption } => {
                let _ = writeln!(out, "![{caption}]({path})\n\n*{caption}*\n");
            }
            Block::Code(text) => {
                let _ = writeln!(out, "```text\n{text}\n```\n");
            }
        }
    }
    out.into_bytes()
}
