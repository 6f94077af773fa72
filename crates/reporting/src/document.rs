//! The report as a list of blocks, rendered to Markdown and to self-contained HTML (figures
//! inlined as base64 PNG), so both say exactly the same: headings carry anchors that the
//! table of contents links to, and settings fold away.

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
    /// Verbatim text folded away under a summary line (HTML `<details>`, which Markdown
    /// viewers such as GitHub's render too): summary, language, text.
    Details(String, String, String),
    /// The table of contents: a link to every heading of levels 2 and 3 after it.
    Contents,
}

/// The anchor of a heading: lower-case letters and digits, runs of anything else one `-`.
pub fn anchor(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// The anchor of every block that is a heading (`None` for the others): [`anchor`] of its
/// text, made unique by `-2`, `-3`, ... in order, since experiments repeat section titles.
fn heading_ids(blocks: &[Block]) -> Vec<Option<String>> {
    let mut seen = std::collections::HashMap::new();
    blocks
        .iter()
        .map(|b| match b {
            Block::Heading(_, text) => {
                let base = anchor(text);
                let count = seen.entry(base.clone()).or_insert(0);
                *count += 1;
                Some(if *count == 1 {
                    base
                } else {
                    format!("{base}-{count}")
                })
            }
            _ => None,
        })
        .collect()
}

/// The headings of levels 2 and 3 after the contents block, with their anchors, in order.
fn contents(blocks: &[Block], ids: &[Option<String>]) -> Vec<(u8, String, String)> {
    let start = blocks
        .iter()
        .position(|b| matches!(b, Block::Contents))
        .unwrap_or(blocks.len());
    (start..blocks.len())
        .filter_map(|i| match (&blocks[i], &ids[i]) {
            (Block::Heading(level, text), Some(id)) if (2..=3).contains(level) => {
                Some((*level, text.clone(), id.clone()))
            }
            _ => None,
        })
        .collect()
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
    let ids = heading_ids(blocks);
    for (block, id) in blocks.iter().zip(&ids) {
        match block {
            Block::Heading(level, text) => out.push_str(&format!(
                "<a id=\"{}\"></a>\n\n{} {text}\n\n",
                id.as_deref().unwrap_or_default(),
                "#".repeat(*level as usize)
            )),
            Block::Paragraph(text) => out.push_str(&format!("{text}\n\n")),
            Block::Details(summary, language, text) => out.push_str(&format!(
                "<details><summary>{}</summary>\n\n```{language}\n{}\n```\n\n</details>\n\n",
                escape(summary),
                text.trim_end()
            )),
            Block::Contents => {
                for (level, text, id) in contents(blocks, &ids) {
                    let indent = "  ".repeat(usize::from(level - 2));
                    out.push_str(&format!("{indent}- [{text}](#{id})\n"));
                }
                out.push('\n');
            }
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

/// Inline `code` spans and `**strong**` text (outside code) of a Markdown line as HTML.
fn inline(text: &str) -> String {
    escape(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                strong(part)
            }
        })
        .collect()
}

/// `**text**` as `<strong>text</strong>`; an unpaired `**` stays as written.
fn strong(text: &str) -> String {
    let parts: Vec<&str> = text.split("**").collect();
    let paired = parts.len() % 2 == 1;
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        match (i % 2 == 1, paired || i + 1 < parts.len()) {
            (true, true) => out.push_str(&format!("<strong>{part}</strong>")),
            (true, false) => out.push_str(&format!("**{part}")),
            (false, _) => out.push_str(part),
        }
    }
    out
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
    let ids = heading_ids(blocks);
    for (block, id) in blocks.iter().zip(&ids) {
        match block {
            Block::Heading(level, text) => out.push_str(&format!(
                "<h{level} id=\"{}\">{}</h{level}>\n",
                id.as_deref().unwrap_or_default(),
                inline(text)
            )),
            Block::Details(summary, _, text) => out.push_str(&format!(
                "<details><summary>{}</summary><pre>{}</pre></details>\n",
                inline(summary),
                escape(text)
            )),
            Block::Contents => {
                out.push_str("<nav><ul>\n");
                for (level, text, id) in contents(blocks, &ids) {
                    let style = if level == 3 {
                        " style=\"margin-left:1.5em\""
                    } else {
                        ""
                    };
                    out.push_str(&format!(
                        "<li{style}><a href=\"#{id}\">{}</a></li>\n",
                        inline(&text)
                    ));
                }
                out.push_str("</ul></nav>\n");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_text_and_code_spans_become_html() {
        assert_eq!(
            inline("**Partial report** (`--allow-partial`): `a**b`"),
            "<strong>Partial report</strong> (<code>--allow-partial</code>): <code>a**b</code>"
        );
        assert_eq!(inline("2 ** 3"), "2 ** 3");
        assert_eq!(inline("x < y"), "x &lt; y");
    }

    #[test]
    fn contents_link_every_later_heading_by_its_anchor() {
        assert_eq!(
            anchor("e1 (L = 4, sparsity 0.8): Masks!"),
            "e1-l-4-sparsity-0-8-masks"
        );
        let blocks = vec![
            Block::Heading(1, "Title".into()),
            Block::Contents,
            Block::Heading(2, "Claims".into()),
            Block::Heading(3, "E1: the grid".into()),
            Block::Heading(3, "E1: the grid".into()),
            Block::Details("Settings".into(), "toml".into(), "k = 64\n".into()),
        ];
        let md = markdown(&blocks, Path::new("."));
        assert!(
            md.contains("- [Claims](#claims)\n  - [E1: the grid](#e1-the-grid)\n"),
            "{md}"
        );
        assert!(md.contains("<a id=\"e1-the-grid\"></a>"), "{md}");
        // A repeated title gets its own anchor.
        assert!(md.contains("  - [E1: the grid](#e1-the-grid-2)\n"), "{md}");
        assert!(md.contains("<details><summary>Settings</summary>\n\n```toml\nk = 64\n```"));
        assert!(!md.contains("[Title]"), "the title is not listed");
        let page = html(&blocks, "t").unwrap();
        assert!(page.contains("<h3 id=\"e1-the-grid\">E1: the grid</h3>"));
        assert!(page.contains("<a href=\"#claims\">Claims</a>"));
        assert!(page.contains("<details><summary>Settings</summary><pre>k = 64\n</pre></details>"));
    }
}
