//! One self-contained HTML page per run (`report.html`), per `ebm compare` and per sweep
//! report: the headline figures, every picture inline (as `data:` URIs, so the page opens from
//! disk with no server and no network), tables, and the config and provenance. While a run is
//! in progress the page reloads itself every few seconds, so a browser shows the run as it
//! goes; the finished page does not.

use std::fmt::Write as _;

use base64::Engine as _;

/// Seconds between reloads of a page whose run is in progress.
pub const REFRESH_SECONDS: u32 = 10;

/// A picture of the report.
#[derive(Debug, Clone)]
pub struct Picture {
    /// What it shows (the caption under it).
    pub caption: String,
    /// The file it was also written to (named in the caption).
    pub file: String,
    /// `image/svg+xml` or `image/png`.
    pub mime: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl Picture {
    /// An SVG picture.
    pub fn svg(file: &str, caption: impl Into<String>, text: String) -> Self {
        Self {
            caption: caption.into(),
            file: file.into(),
            mime: "image/svg+xml",
            bytes: text.into_bytes(),
        }
    }

    /// A PNG picture.
    pub fn png(file: &str, caption: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self { caption: caption.into(), file: file.into(), mime: "image/png", bytes }
    }
}

/// A table of the report.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// What it holds.
    pub caption: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table from CSV text (the first record is the header); `None` if it does not parse.
    pub fn from_csv(caption: impl Into<String>, csv_text: &[u8]) -> Option<Self> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(csv_text);
        let header = reader.headers().ok()?.iter().map(str::to_owned).collect();
        let rows = reader
            .records()
            .map(|r| r.map(|r| r.iter().map(short_number).collect()))
            .collect::<Result<_, _>>()
            .ok()?;
        Some(Self { caption: caption.into(), header, rows })
    }
}

/// A cell as a person reads it: numbers with many digits shortened to 6 significant digits.
fn short_number(cell: &str) -> String {
    match cell.parse::<f64>() {
        Ok(v) if cell.len() > 8 && v.is_finite() => {
            let t = format!("{v:.5e}");
            let v: f64 = t.parse().unwrap_or(v);
            if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e6) {
                format!("{v:e}")
            } else {
                format!("{v}")
            }
        }
        _ => cell.to_owned(),
    }
}

/// One report page.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The page's title and heading.
    pub title: String,
    /// One line under the heading: what state the run is in, and when the page was written.
    pub status: String,
    /// Reload every [`REFRESH_SECONDS`] (the run is in progress).
    pub in_progress: bool,
    /// Headline figures: (name, value).
    pub summary: Vec<(String, String)>,
    /// The pictures, in order.
    pub pictures: Vec<Picture>,
    /// The tables, in order.
    pub tables: Vec<Table>,
    /// Preformatted blocks at the end, folded: (title, text), e.g. the config and provenance.
    pub details: Vec<(String, String)>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1800px;\
padding:0 1em;color:#222}h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}\
.status{color:#555}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;\
padding:2px 8px;text-align:right}th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}.summary td{text-align:left}\
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{color:#444;\
font-size:.92em;margin-top:.3em}img.pixels{image-rendering:pixelated}pre{background:#f7f7f7;\
padding:.6em;overflow-x:auto;font-size:.85em}.scroll{max-height:32em;overflow-y:auto;display:inline-block}";

impl Report {
    /// The page as self-contained HTML.
    pub fn html(&self) -> String {
        let mut h = String::with_capacity(
            4096 + self.pictures.iter().map(|p| p.bytes.len() * 4 / 3 + 512).sum::<usize>(),
        );
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        if self.in_progress {
            let _ = writeln!(h, "<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">");
        }
        let _ = writeln!(
            h,
            "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
            esc(&self.title)
        );
        let _ = writeln!(
            h,
            "<h1>{}</h1>\n<p class=\"status\">{}</p>",
            esc(&self.title),
            esc(&self.status)
        );
        if !self.summary.is_empty() {
            h.push_str("<table class=\"summary\">\n");
            for (k, v) in &self.summary {
                let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
            }
            h.push_str("</table>\n");
        }
        for p in &self.pictures {
            let data = base64::engine::general_purpose::STANDARD.encode(&p.bytes);
            let class = if p.mime == "image/png" { " class=\"pixels\"" } else { "" };
            let _ = writeln!(
                h,
                "<figure><img{class} src=\"data:{};base64,{data}\" alt=\"{}\"><figcaption>{} <i>({})</i></figcaption></figure>",
                p.mime,
                esc(&p.file),
                esc(&p.caption),
                esc(&p.file)
            );
        }
        for t in &self.tables {
            let _ = writeln!(h, "<h2>{}</h2>\n<div class=\"scroll\"><table>", esc(&t.caption));
            h.push_str("<tr>");
            for c in &t.header {
                let _ = write!(h, "<th>{}</th>", esc(c));
            }
            h.push_str("</tr>\n");
            for r in &t.rows {
                h.push_str("<tr>");
                for c in r {
                    let _ = write!(h, "<td>{}</td>", esc(c));
                }
                h.push_str("</tr>\n");
            }
            h.push_str("</table></div>\n");
        }
        for (title, text) in &self.details {
            let _ = writeln!(
                h,
                "<details><summary>{}</summary><pre>{}</pre></details>",
                esc(title),
                esc(text)
            );
        }
        h.push_str("</body>\n</html>\n");
        h
    }
}

/// `text` escaped for HTML text and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The time now, as the report's status line gives it (UTC, to the second).
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_inlines_its_pictures_escapes_its_text_and_refreshes_only_in_progress() {
        let mut r = Report {
            title: "run <1>".into(),
            status: "finished".into(),
            summary: vec![("test error".into(), "2.5% & more".into())],
            pictures: vec![Picture::png("a.png", "fields", vec![1, 2, 3])],
            tables: vec![Table::from_csv("per epoch", b"epoch,e\n1,0.123456789012\n").unwrap()],
            ..Report::default()
        };
        let html = r.html();
        assert!(html.contains("<title>run &lt;1&gt;</title>"));
        assert!(html.contains("2.5% &amp; more"));
        assert!(html.contains("src=\"data:image/png;base64,AQID\""));
        assert!(html.contains("<td>0.123457</td>"));
        assert!(!html.contains("http-equiv=\"refresh\""));
        assert!(!html.contains("http://") && !html.contains("https://"));
        r.in_progress = true;
        assert!(r.html().contains("<meta http-equiv=\"refresh\" content=\"10\">"));
    }

    #[test]
    fn long_numbers_are_shortened_and_other_cells_kept() {
        assert_eq!(short_number("0.30000000000000004"), "0.3");
        assert_eq!(short_number("0.000012345678901"), "1.23457e-5");
        assert_eq!(short_number("12"), "12");
        assert_eq!(short_number("ep-1h"), "ep-1h");
    }
}
