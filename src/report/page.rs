//! The report as one self-contained HTML page: inline CSS, inline SVG charts, no script, and a
//! Content-Security-Policy that forbids the page any request (`default-src 'none'`), so that it
//! opens offline, from a mail attachment or a USB stick, and nothing in it can phone home. The
//! sections are in `sections.rs`, their building blocks in `html.rs`.

use super::model::Report;
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
.charts{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
figure{margin:0;flex:1 1 420px;min-width:0}figcaption{font-weight:600;margin-bottom:6px}
svg.pie{width:200px;height:200px;float:left;margin:0 16px 8px 0}
svg.bars{width:100%;max-width:640px;height:auto;display:block}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.9em;margin:4px 0 8px}
th,td{border-bottom:1px solid #e5e5e5;padding:3px 8px;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere;max-width:38em}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
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
    let _ = writeln!(out, "<title>CloudTrail report</title><style>{STYLE}</style></head><body>");
    super::sections::write_all(report, &mut out);
    out.push_str("</body></html>\n");
    out
}
