//! The report as a list of blocks, rendered to Markdown and to self-contained HTML (figures
//! inlined as base64 PNG), so both say exactly the same.

use base64::Engine;
use std::path::{Path, PathBuf};

/// One block of the report.
#[derive(Clone, Debug)]
pub enum Block {
    /// A heading of level 1 to 3.
    Heading(u8, String),
    /// A paragraph of plain text (Markdown inline code allowed).
    Paragraph(String),
    /// A table: header and rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// A figure: the PNG (an SVG lies beside it) and its caption.
    Figure(PathBuf, String),
    /// Verbatim text (a settings file) in the given language.
    Code(String, String),
}

fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The blocks as Markdown; figure paths relative to `base` (the report's directory).
pub fn markdown(blocks: &[Block], base: &Path) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&format!("{} {text}\n\n", "#".repeat(*level as usize)))
            }
            Block::Paragraph(text) => out.push_str(&format!("{text}\n\n")),
            Block::Table(header, rows) => {
                out.push_str(&format!("| {} |\n", header.join(" | ")));
                out.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
                for row in rows {
                    out.push_str(&format!("| {} |\n", row.join(" | ")));
                }
                out.push('\n');
            }
            Block::Figure(png, caption) => {
                let png_rel = relative(png, base);
                let svg_rel = relative(&png.with_extension("svg"), base);
                out.push_str(&format!(
                    "![{caption}]({png_rel})\n\n*{caption}* ([SVG]({svg_rel}))\n\n"
                ));
            }
            Block::Code(language, text) => {
                out.push_str(&format!("```{language}\n{}\n```\n\n", text.trim_end()))
            }
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Inline `code` spans of a Markdown line as HTML.
fn inline(text: &str) -> String {
    escape(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// The blocks as one HTML file with every figure embedded.
pub fn html(blocks: &[Block], title: &str) -> std::io::Result<String> {
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
         body{{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.45}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #999;padding:3px 8px;text-align:right}}\
         th{{background:#eee}}img{{max-width:100%}}figcaption{{font-style:italic}}</style></head><body>\n",
        escape(title)
    );
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&format!("<h{level}>{}</h{level}>\n", inline(text)))
            }
            Block::Paragraph(text) => out.push_str(&format!("<p>{}</p>\n", inline(text))),
            Block::Table(header, rows) => {
                out.push_str("<table><tr>");
                for h in header {
                    out.push_str(&format!("<th>{}</th>", inline(h)));
                }
                out.push_str("</tr>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        out.push_str(&format!("<td>{}</td>", inline(cell)));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::Figure(png, caption) => {
                let bytes = std::fs::read(png)?;
                let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                out.push_str(&format!(
                    "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{data}\"><figcaption>{0}</figcaption></figure>\n",
                    escape(caption)
                ));
            }
            Block::Code(_, text) => out.push_str(&format!("<pre>{}</pre>\n", escape(text))),
        }
    }
    out.push_str("</body></html>\n");
    Ok(out)
}
