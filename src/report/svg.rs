//! Inline SVG charts for the report page: a pie and a horizontal bar chart, drawn from a table's
//! rows. No script, no font, no external reference: the page shows them offline, printed and
//! with JavaScript off. Every text that comes from an event is escaped ([`esc`]); the chart's
//! numbers are also in the table printed beside it (the chart is decoration of that table).

use std::fmt::Write;

/// Slice and bar colours (colour-blind-friendly, from Okabe and Ito), then grey for "others".
pub const COLORS: &[&str] = &[
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000", "#7f3c8d",
    "#11a579",
];
/// The colour of "others".
pub const OTHERS: &str = "#bbbbbb";

/// The colour of slice `i` of a chart.
pub fn color(i: usize) -> &'static str {
    COLORS[i % COLORS.len()]
}

/// Text made safe for HTML and SVG content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `n` characters of `text`, with `…` when cut.
pub fn short(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// At most `n` characters of `text`, its end kept (an ARN's end names the user), with `…` first
/// when cut.
pub fn tail(text: &str, n: usize) -> String {
    let count = text.chars().count();
    if count <= n {
        return text.to_string();
    }
    let skip = count - n + 1;
    format!("…{}", text.chars().skip(skip).collect::<String>())
}

/// A pie of `slices` (label, count) plus `others` (grey), titled `title` for screen readers.
pub fn pie(title: &str, slices: &[(String, u64)], others: u64) -> String {
    let total: u64 = slices.iter().map(|s| s.1).sum::<u64>() + others;
    let mut svg =
        format!(r#"<svg class="pie" viewBox="-110 -110 220 220" role="img" aria-label="{}">"#, esc(title));
    if total == 0 {
        svg.push_str(r##"<circle r="100" fill="#eeeeee"/></svg>"##);
        return svg;
    }
    let mut parts: Vec<(&str, u64, &str)> =
        slices.iter().enumerate().map(|(i, (label, n))| (label.as_str(), *n, color(i))).collect();
    if others > 0 {
        parts.push(("others", others, OTHERS));
    }
    let mut angle = -std::f64::consts::FRAC_PI_2;
    for (label, n, fill) in parts.into_iter().filter(|p| p.1 > 0) {
        let share = n as f64 / total as f64;
        let title = format!("<title>{}: {n} ({:.1}%)</title>", esc(label), share * 100.0);
        if share >= 0.9999 {
            let _ = write!(svg, r#"<circle r="100" fill="{fill}">{title}</circle>"#);
            break;
        }
        let end = angle + share * std::f64::consts::TAU;
        let (x0, y0, x1, y1) =
            (100.0 * angle.cos(), 100.0 * angle.sin(), 100.0 * end.cos(), 100.0 * end.sin());
        let large = u8::from(share > 0.5);
        let _ = write!(
            svg,
            r##"<path d="M0 0L{x0:.2} {y0:.2}A100 100 0 {large} 1 {x1:.2} {y1:.2}Z" fill="{fill}" stroke="#fff" stroke-width="1">{title}</path>"##
        );
        angle = end;
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars of `bars` (label, count), the longest the largest count.
pub fn bars(title: &str, bars: &[(String, u64)]) -> String {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let (row, label_w, bar_w) = (22, 300.0, 280.0);
    let height = row * bars.len().max(1);
    let mut svg = format!(
        r#"<svg class="bars" viewBox="0 0 {w} {height}" role="img" aria-label="{}">"#,
        esc(title),
        w = label_w + bar_w + 70.0
    );
    for (i, (label, n)) in bars.iter().enumerate() {
        let y = i * row;
        let w = (*n as f64 / max as f64 * bar_w).max(1.0);
        let _ = write!(
            svg,
            r#"<text x="{tx}" y="{ty}" text-anchor="end" font-size="12">{l}</text><rect x="{label_w}" y="{ry}" width="{w:.1}" height="16" fill="{c}"><title>{full}: {n}</title></rect><text x="{nx:.1}" y="{ty}" font-size="12">{n}</text>"#,
            tx = label_w - 6.0,
            ty = y + 15,
            l = esc(&tail(label, 40)),
            ry = y + 3,
            c = color(0),
            full = esc(label),
            nx = label_w + w + 4.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_text() {
        let evil = r#"<script>alert(1)</script>"><img src=x onerror=alert(2)>'"#;
        let out = esc(evil);
        assert!(!out.contains('<') && !out.contains('>') && !out.contains('"') && !out.contains('\''));
        for chart in [pie(evil, &[(evil.into(), 3)], 1), bars(evil, &[(evil.into(), 3)])] {
            assert!(!chart.contains("<script") && !chart.contains("<img"), "{chart}");
        }
    }

    #[test]
    fn a_pie_has_one_slice_per_value_and_others() {
        let p = pie("t", &[("a".into(), 2), ("b".into(), 1)], 1);
        assert_eq!(p.matches("<path").count(), 3);
        assert!(p.contains("a: 2 (50.0%)") && p.contains("others: 1 (25.0%)"));
        assert_eq!(pie("t", &[("all".into(), 5)], 0).matches("<circle").count(), 1);
        assert!(short("abcdef", 3) == "abc…" && short("ab", 3) == "ab");
        assert!(tail("arn:aws:iam::1:user/bob", 8) == "…ser/bob" && tail("ab", 3) == "ab");
    }
}
