//! The report as one self-contained HTML page: inline CSS, inline SVG charts, no script, and a
//! Content-Security-Policy that forbids the page any request (`default-src 'none'`), so that it
//! opens offline, from a mail attachment or a USB stick, and nothing in it can phone home.
//!
//! Every value from an event is attacker-controlled (a user agent, a bucket or user name can hold
//! `<script>`): all of it goes through [`esc`]. Each chart's numbers are also a table. The
//! sections are in `sections.rs`.

use super::model::{Report, Row, Table};
use super::svg::{self, esc};
use std::fmt::Write;

/// The page's style: readable on a phone (one column, tables scroll sideways) and printed.
const STYLE: &str = r#"
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;margin:0 auto;max-width:1100px;padding:0 16px 48px}
header{border-bottom:3px solid #0072b2;margin-bottom:8px}
h1{font-size:1.6em;margin:16px 0 4px}h2{font-size:1.3em;margin:32px 0 8px;border-bottom:1px solid #ddd}h3{font-size:1.05em;margin:18px 0 6px}
.meta,.note{color:#555;font-size:.9em}
nav a{margin-right:12px;white-space:nowrap}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 10px}.kpi b{display:block;font-size:1.4em}.kpi span{color:#555;font-size:.85em}
.charts{display:flex;flex-wrap:wrap;gap:24px}
figure{margin:0;flex:1 1 420px;min-width:0}figcaption{font-weight:600;margin-bottom:6px}
svg.pie{width:200px;height:200px;float:left;margin:0 16px 8px 0}
svg.bars{width:100%;max-width:640px;height:auto;display:block}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.9em;margin:4px 0 8px}
th,td{border-bottom:1px solid #e5e5e5;padding:3px 8px;text-align:left;vertical-align:top}
td{word-break:break-word;max-width:38em}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.sw{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:6px;vertical-align:-1px}
.warn{color:#a40000}
@media (max-width:600px){body{font-size:14px;padding:0 8px}svg.pie{float:none;display:block;margin:0 auto 8px}}
@media print{nav{display:none}body{max-width:none;font-size:11px}section{break-inside:avoid-page}h2{break-after:avoid}a{color:inherit;text-decoration:none}}
"#;

/// The whole page.
pub fn page(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    let _ = write!(out, "<title>CloudTrail report</title><style>{STYLE}</style></head><body>\n");
    super::sections::write_all(report, &mut out);
    out.push_str("</body></html>\n");
    out
}

/// A number with thousands separators.
pub fn num(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A KPI box.
pub fn kpi(out: &mut String, value: &str, label: &str) {
    let _ = write!(out, "<div class=\"kpi\"><b>{}</b><span>{}</span></div>", esc(value), esc(label));
}

/// A row's key parts joined for a chart label.
pub fn label(row: &Row) -> String {
    row.key.join(" · ")
}

/// The note under a table whose counts are bounded estimates.
fn bound_note(out: &mut String, table: &Table) {
    if table.error_bound > 0 {
        let _ = write!(
            out,
            "<p class=\"note warn\">More distinct values than the report keeps exactly: each count may be too high by at most {}.</p>",
            num(table.error_bound)
        );
    }
}

/// A table of `table`'s rows with one column per name in `columns` (the key's parts), the
/// count, and (for first-seen tables) the time; `swatches`: colour each row like its chart slice.
pub fn rows(out: &mut String, table: &Table, columns: &[&str], swatches: bool) {
    if table.rows.is_empty() {
        out.push_str("<p class=\"note\">None.</p>");
        return;
    }
    let first_seen = table.rows.iter().any(|r| r.first_seen.is_some());
    out.push_str("<div class=\"scroll\"><table><thead><tr>");
    for c in columns {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("<th class=\"n\">events</th>");
    if first_seen {
        out.push_str("<th>first seen</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for (i, row) in table.rows.iter().enumerate() {
        out.push_str("<tr>");
        for (j, part) in row.key.iter().enumerate() {
            let sw = if swatches && j == 0 {
                format!("<span class=\"sw\" style=\"background:{}\"></span>", svg::color(i))
            } else {
                String::new()
            };
            let _ = write!(out, "<td>{sw}{}</td>", esc(part));
        }
        let _ = write!(out, "<td class=\"n\">{}</td>", num(row.count));
        if let Some(t) = &row.first_seen {
            let _ = write!(out, "<td>{}</td>", esc(t));
        }
        out.push_str("</tr>");
    }
    if table.others > 0 {
        let sw = if swatches {
            format!("<span class=\"sw\" style=\"background:{}\"></span>", svg::OTHERS)
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\">{sw}<i>others</i></td><td class=\"n\">{}</td></tr>",
            columns.len(),
            num(table.others)
        );
    }
    out.push_str("</tbody></table></div>");
    bound_note(out, table);
}

/// A pie chart of `table` with its table beside it, in a figure with id `id`.
pub fn pie_figure(out: &mut String, id: &str, caption: &str, table: &Table, column: &str) {
    let slices: Vec<(String, u64)> = table.rows.iter().map(|r| (label(r), r.count)).collect();
    let _ = write!(out, "<figure id=\"{id}\"><figcaption>{}</figcaption>", esc(caption));
    out.push_str(&svg::pie(caption, &slices, table.others));
    rows(out, table, &[column], true);
    out.push_str("</figure>");
}

/// A bar chart of `table` followed by its table, in a figure with id `id`.
pub fn bar_figure(out: &mut String, id: &str, caption: &str, table: &Table, columns: &[&str]) {
    let _ = write!(out, "<figure id=\"{id}\"><figcaption>{}</figcaption>", esc(caption));
    if !table.rows.is_empty() {
        let bars: Vec<(String, u64)> = table.rows.iter().map(|r| (label(r), r.count)).collect();
        out.push_str(&svg::bars(caption, &bars));
    }
    rows(out, table, columns, false);
    out.push_str("</figure>");
}
