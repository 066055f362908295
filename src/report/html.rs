//! The building blocks of the report page (`page.rs`): numbers, KPI boxes, tables, and figures
//! that pair a chart with the table of its numbers. Every value from an event is
//! attacker-controlled (a user agent, a bucket or user name can hold `<script>`): all of it goes
//! through [`esc`].

use super::model::{Row, Table};
use super::svg::{self, esc};
use std::fmt::Write;

/// A number with thousands separators.
pub fn num(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
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
    if table.error_bound == u64::MAX {
        out.push_str("<p class=\"note warn\">Too many distinct values to page through: this table was cut short, its counts are lower bounds.</p>");
    } else if table.error_bound > 0 {
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
