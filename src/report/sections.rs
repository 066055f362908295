//! The sections of the report page, in reading order: what a responder or an auditor asks first
//! (how much, what is done by hand in the console, who did what, what was launched, who signed
//! in, root, what failed, from where, what is new), each a heading, numbers, charts and tables.

use super::html::{bar_figure, kpi, num, pie_figure, rows};
use super::model::{Report, Table};
use super::svg::esc;
use std::fmt::Write;

const NAV: &[(&str, &str)] = &[
    ("totals", "Totals"),
    ("console", "Console operations"),
    ("activity", "Who did what"),
    ("launches", "Launches"),
    ("sign-ins", "Sign-ins"),
    ("root", "Root"),
    ("errors", "Errors"),
    ("sources", "Sources"),
    ("first-seen", "First seen"),
];

/// Writes every section.
pub fn write_all(r: &Report, out: &mut String) {
    header(r, out);
    totals(r, out);
    console(r, out);
    activity(r, out);
    launches(r, out);
    sign_ins(r, out);
    root(r, out);
    errors(r, out);
    sources(r, out);
    first_seen(r, out);
    findings(r, out);
}

fn count(r: &Report, name: &str) -> u64 {
    r.counts.get(name).copied().unwrap_or(0)
}

fn table<'r>(r: &'r Report, id: &str) -> std::borrow::Cow<'r, Table> {
    r.tables.get(id).map_or_else(|| std::borrow::Cow::Owned(Table::default()), std::borrow::Cow::Borrowed)
}

fn section(out: &mut String, id: &str, title: &str, intro: &str) {
    let _ = write!(out, "<section id=\"{id}\"><h2>{}</h2>", esc(title));
    if !intro.is_empty() {
        let _ = write!(out, "<p class=\"note\">{intro}</p>");
    }
}

fn header(r: &Report, out: &mut String) {
    out.push_str("<header><h1>CloudTrail report</h1><p class=\"meta\">");
    if let Some(span) = &r.span {
        let _ = write!(out, "{} to {} · ", esc(&span.first), esc(&span.last));
    }
    let _ = write!(out, "{} events · from {}", num(r.events), esc(&r.about.input.join(", ")));
    if r.about.console_only {
        out.push_str(" · console operations only");
    }
    let _ = write!(out, " · made {}</p></header><nav>", esc(&r.about.generated));
    for (id, title) in NAV {
        let _ = write!(out, "<a href=\"#{id}\">{title}</a>");
    }
    if r.findings.is_some() {
        out.push_str("<a href=\"#findings\">Findings</a>");
    }
    out.push_str("</nav>");
}

fn totals(r: &Report, out: &mut String) {
    section(out, "totals", "Totals", "");
    out.push_str("<div class=\"kpis\">");
    kpi(out, &num(r.events), "events");
    for (id, label) in [
        ("accounts", "accounts"),
        ("regions", "regions"),
        ("principals", "principals (ARNs)"),
        ("access_keys", "access keys"),
        ("ips", "source addresses"),
    ] {
        let d = r.distinct.get(id).copied().unwrap_or_default();
        let value = if d.exact { num(d.count) } else { format!("≥ {}", num(d.count)) };
        kpi(out, &value, label);
    }
    kpi(out, &num(count(r, "errors")), "errors");
    kpi(out, &num(count(r, "access_denied")), "access denied");
    kpi(out, &num(count(r, "console")), "console operations");
    kpi(out, &num(count(r, "writes")), "writes");
    out.push_str("</div>");
    if let Some(span) = &r.span {
        let _ = write!(out, "<p>From <b>{}</b> to <b>{}</b> (UTC).</p>", esc(&span.first), esc(&span.last));
    }
    out.push_str("</section>");
}

fn console(r: &Report, out: &mut String) {
    section(
        out,
        "console",
        "Console operations",
        "Operations people did in the AWS Management Console (the rule of <code>--console-only</code> and of the dashboards).",
    );
    let _ = write!(
        out,
        "<p><b>{}</b> console operations, <b>{}</b> of them writes.</p>",
        num(count(r, "console")),
        num(count(r, "console_writes"))
    );
    out.push_str("<div class=\"charts\" id=\"console-charts\">");
    pie_figure(out, "console-actions", "By action", &table(r, "console_actions"), "action");
    pie_figure(out, "console-users", "By user", &table(r, "console_users"), "principal");
    out.push_str("</div><h3>Manual write operations, most frequent first</h3>");
    out.push_str("<p class=\"note\">Changes made by hand in the console: the candidates for automation.</p>");
    bar_figure(
        out,
        "console-writes",
        "Manual writes by user and action",
        &table(r, "console_writes"),
        &["principal", "action"],
    );
    out.push_str("</section>");
}

fn activity(r: &Report, out: &mut String) {
    let what = if r.about.with_reads { "every call" } else { "calls that change something (writes)" };
    section(out, "activity", "Who did what", &format!("Principal → service → action, {what}."));
    rows(out, &table(r, "activity_principals"), &["principal"], false);
    out.push_str("<h3>By principal, service and action</h3>");
    let t = table(r, "activity");
    let principals = table(r, "activity_principals");
    // Grouped by principal (in the order of the table above), each principal's rows most frequent first.
    let mut sorted = t.rows.clone();
    let rank = |p: &str| principals.rows.iter().position(|x| x.key[0] == p).unwrap_or(usize::MAX);
    sorted.sort_by(|a, b| {
        rank(&a.key[0]).cmp(&rank(&b.key[0])).then(a.key[0].cmp(&b.key[0])).then(b.count.cmp(&a.count))
    });
    let grouped = Table { rows: sorted, ..t.into_owned() };
    rows(out, &grouped, &["principal", "service", "action"], false);
    out.push_str("</section>");
}

fn launches(r: &Report, out: &mut String) {
    section(out, "launches", "Resource launches and creations", "");
    let names: Vec<String> = r.about.launch_events.iter().map(|n| esc(n)).collect();
    let _ = write!(
        out,
        "<p><b>{}</b> calls to {}{}.</p>",
        num(count(r, "launches")),
        names.join(", "),
        if count(r, "launches") > r.launches.len() as u64 { " (the latest are listed)" } else { "" }
    );
    if r.launches.is_empty() {
        out.push_str("<p class=\"note\">None.</p></section>");
        return;
    }
    out.push_str("<div class=\"scroll\"><table><thead><tr><th>when</th><th>action</th><th>what</th><th>who</th><th>from</th><th>user agent</th><th>region</th><th>account</th><th>error</th></tr></thead><tbody>");
    for l in &r.launches {
        let _ = write!(out, "<tr>");
        for v in [
            &l.time,
            &l.action,
            &l.resource,
            &l.principal,
            &l.source_ip,
            &l.user_agent,
            &l.region,
            &l.account,
            &l.error,
        ] {
            let _ = write!(out, "<td>{}</td>", esc(v));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></section>");
}

fn sign_ins(r: &Report, out: &mut String) {
    section(out, "sign-ins", "Console sign-ins", "");
    out.push_str("<div class=\"kpis\">");
    kpi(out, &num(count(r, "sign_ins")), "sign-ins");
    kpi(out, &num(count(r, "sign_ins_succeeded")), "succeeded");
    kpi(out, &num(count(r, "sign_ins_failed")), "failed");
    kpi(out, &num(count(r, "sign_ins_without_mfa")), "succeeded without MFA");
    out.push_str("</div><div class=\"charts\">");
    for (id, caption, column) in [
        ("sign_in_users", "By user", "principal"),
        ("sign_in_ips", "By source IP", "address"),
        ("sign_in_failed_users", "Failed, by user", "principal"),
        ("sign_in_failed_ips", "Failed, by source IP", "address"),
        ("sign_in_without_mfa_users", "Without MFA, by user", "principal"),
    ] {
        let _ = write!(out, "<figure><figcaption>{caption}</figcaption>");
        rows(out, &table(r, id), &[column], false);
        out.push_str("</figure>");
    }
    out.push_str("</div></section>");
}

fn root(r: &Report, out: &mut String) {
    section(out, "root", "Root user activity", "");
    let _ =
        write!(out, "<p><b>{}</b> calls by the root user.</p><div class=\"charts\">", num(count(r, "root")));
    for (id, caption, column) in [("root_actions", "Actions", "action"), ("root_ips", "From", "address")] {
        let _ = write!(out, "<figure><figcaption>{caption}</figcaption>");
        rows(out, &table(r, id), &[column], false);
        out.push_str("</figure>");
    }
    out.push_str("</div></section>");
}

fn errors(r: &Report, out: &mut String) {
    section(out, "errors", "Errors and access denied", "");
    let _ = write!(
        out,
        "<p><b>{}</b> calls failed, <b>{}</b> of them refused for want of permission (AccessDenied, UnauthorizedOperation).</p>",
        num(count(r, "errors")),
        num(count(r, "access_denied"))
    );
    bar_figure(out, "error-codes", "Error codes", &table(r, "error_codes"), &["error code"]);
    out.push_str("<h3>Access denied, by principal and action</h3>");
    rows(out, &table(r, "access_denied"), &["principal", "action"], false);
    out.push_str("<h3>Errors, by principal, action and code</h3>");
    rows(out, &table(r, "errors"), &["principal", "action", "error code"], false);
    out.push_str("</section>");
}

fn sources(r: &Report, out: &mut String) {
    section(out, "sources", "Where calls came from", "");
    let _ = write!(
        out,
        "<p><b>{}</b> calls from addresses, <b>{}</b> made by AWS services on their own (listed apart).</p>",
        num(count(r, "from_addresses")),
        num(count(r, "from_aws"))
    );
    out.push_str("<div class=\"charts\">");
    bar_figure(out, "source-ips", "Top source IPs", &table(r, "source_ips"), &["address"]);
    bar_figure(out, "regions", "Regions", &table(r, "regions"), &["region"]);
    bar_figure(out, "principals", "Top principals", &table(r, "principals"), &["principal"]);
    bar_figure(out, "accounts", "Accounts", &table(r, "accounts"), &["account"]);
    bar_figure(out, "aws-callers", "AWS callers", &table(r, "aws_callers"), &["service"]);
    out.push_str("</div></section>");
}

fn first_seen(r: &Report, out: &mut String) {
    section(
        out,
        "first-seen",
        "First seen in the span",
        "The latest newcomers first: when each was first seen.",
    );
    for (id, caption, column) in [
        ("new_principals", "Principals", "principal"),
        ("new_access_keys", "Access keys", "access key"),
        ("new_ips", "Source IPs", "address"),
    ] {
        let _ = write!(out, "<h3>{caption}</h3>");
        rows(out, &table(r, id), &[column], false);
    }
    out.push_str("</section>");
}

fn findings(r: &Report, out: &mut String) {
    let Some(f) = &r.findings else { return };
    section(
        out,
        "findings",
        "Findings",
        "Sigma detection rules (<code>--rules</code>) that matched, by level and by rule; each rule with its author, as the Detection Rule License asks.",
    );
    out.push_str("<div class=\"kpis\">");
    kpi(out, &num(f.total), "findings");
    for level in crate::detect::Level::ALL.iter().rev() {
        kpi(out, &num(f.levels.get(level.as_str()).copied().unwrap_or(0)), level.as_str());
    }
    out.push_str("</div>");
    // The bars are labelled by the rule's title alone; the table beside has the rest.
    out.push_str("<figure id=\"findings-rules\"><figcaption>By rule</figcaption>");
    if !f.rules.rows.is_empty() {
        let bars: Vec<(String, u64)> = f.rules.rows.iter().map(|r| (r.key[0].clone(), r.count)).collect();
        out.push_str(&super::svg::bars("By rule", &bars));
    }
    rows(out, &f.rules, &["rule", "level", "author", "rule id"], false);
    out.push_str("</figure>");
    out.push_str("<h3>By rule and principal</h3>");
    rows(out, &f.principals, &["rule", "principal"], false);
    out.push_str("</section>");
}
