//! The words of an alert: who did what, when, from where, whether it failed, and a Discover link;
//! for a Sigma finding (a document with a `rule`), also the rule's title, level, tags and author
//! (the Detection Rule License asks messages based on matches to keep the author).
//! The exact texts are documented in docs/guides/follow-and-alerts.md ("Alerts"); the tests below pin them.
//!
//! Everything is read from the document as indexed (after redaction), never from the raw event,
//! so a redacted value cannot appear: a redacted `userIdentity.userName` falls back to the ARN,
//! and so on. Times are UTC unless `--alert-timezone` gives a fixed offset (`+09:00`); named zones
//! (`Asia/Tokyo`) are not supported, to avoid shipping a time-zone database.

use chrono::{DateTime, FixedOffset, Utc};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;
use std::fmt::Write;

/// How times are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Zone(Option<FixedOffset>);

impl std::str::FromStr for Zone {
    type Err = String;

    /// `UTC`, or a fixed offset: `+09:00`, `-05:30`, `+9`.
    fn from_str(text: &str) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("utc") || text == "Z" {
            return Ok(Zone(None));
        }
        let bad = || {
            format!("{text:?} is not UTC or a fixed offset such as +09:00 (named zones are not supported)")
        };
        let (sign, rest) = match text.as_bytes().first() {
            Some(b'+') => (1, &text[1..]),
            Some(b'-') => (-1, &text[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
        let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60)).map(|o| Zone(Some(o))).ok_or_else(bad)
    }
}

impl Zone {
    /// `2024-05-01 10:02:03 UTC`, or `2024-05-01 19:02:03 +09:00`.
    pub fn show(&self, time: &str) -> String {
        let Ok(t) = DateTime::parse_from_rfc3339(time) else { return time.to_string() };
        match self.0 {
            None => t.with_timezone(&Utc).format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            Some(o) => t.with_timezone(&o).format("%Y-%m-%d %H:%M:%S %:z").to_string(),
        }
    }
}

/// A string field of the document (dotted path of object keys).
fn text<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.').try_fold(doc, |v, k| v.get(k))?.as_str().filter(|s| !s.is_empty())
}

/// Who: `root` for the root user, else the user name, else the ARN, else the principal.
pub fn who(doc: &Value) -> String {
    if text(doc, "userIdentity.type") == Some("Root") {
        return "root".into();
    }
    ["userIdentity.userName", "userIdentity.arn", "userIdentity.principalId"]
        .iter()
        .find_map(|p| text(doc, p))
        .unwrap_or("unknown")
        .to_string()
}

/// The first line: `[RULE] WHO: EVENTNAME on EVENTSOURCE`; for a finding,
/// `[RULE] TITLE (LEVEL): WHO: EVENTNAME on EVENTSOURCE`.
pub fn headline(rule: &str, doc: &Value) -> String {
    let what = text(doc, "eventName").unwrap_or("unknown call");
    let source = text(doc, "eventSource").unwrap_or("unknown service");
    match (text(doc, "rule.title"), text(doc, "rule.level")) {
        (Some(title), level) => {
            format!("[{rule}] {title} ({}): {}: {what} on {source}", level.unwrap_or("unknown"), who(doc))
        }
        _ => format!("[{rule}] {}: {what} on {source}", who(doc)),
    }
}

/// For a finding: `sigma: TAGS · author: AUTHOR` (tags as `attack.t1562.008, …`).
fn sigma_line(doc: &Value) -> Option<String> {
    let rule = doc.get("rule")?;
    let tags: Vec<&str> = rule
        .get("tags")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |t| t.iter().filter_map(Value::as_str).collect());
    let tags = if tags.is_empty() { "none".to_string() } else { tags.join(", ") };
    let author = text(doc, "rule.author").unwrap_or("unknown");
    let id = text(doc, "rule.id").unwrap_or("unknown");
    Some(format!("sigma rule {id} · tags: {tags} · author: {author}"))
}

/// One event in full: the headline, when and where from, the error, the link.
pub fn describe(rule: &str, doc: &Value, zone: Zone, kibana: Option<&str>) -> String {
    let mut out = headline(rule, doc);
    let or = |p: &str| text(doc, p).unwrap_or("unknown");
    let when =
        text(doc, "eventTime").or_else(|| text(doc, "@timestamp")).map_or("unknown".into(), |t| zone.show(t));
    let _ = write!(out, "\nwhen: {when}");
    let _ = write!(out, "\nfrom: {} in {} with {}", or("sourceIPAddress"), or("awsRegion"), or("userAgent"));
    if let Some(name) = text(doc, "recipientAccountName") {
        // Only with --account-names: the name, then the id it names.
        let id = text(doc, "recipientAccountId").or_else(|| text(doc, "accountId")).unwrap_or("unknown");
        let _ = write!(out, "\naccount: {name} ({id})");
    }
    if let Some(code) = text(doc, "errorCode") {
        let _ = write!(out, "\nfailed: {code}");
        if let Some(message) = text(doc, "errorMessage") {
            let _ = write!(out, " ({message})");
        }
    }
    if let Some(line) = sigma_line(doc) {
        let _ = write!(out, "\n{line}");
    }
    if let (Some(base), Some(link)) = (kibana, text(doc, "eventID").map(|id| (id, doc))) {
        let _ = write!(out, "\n{}", discover_link(base, link.0, text(doc, "eventTime")));
    }
    out
}

/// The whole message for a group: the first `limit` events in full, then the count of the rest.
pub fn message(rule: &str, docs: &[&Value], more: usize, zone: Zone, kibana: Option<&str>) -> String {
    let mut parts: Vec<String> = docs.iter().map(|d| describe(rule, d, zone, kibana)).collect();
    if more > 0 {
        parts.push(format!("…and {more} more like this"));
    }
    parts.join("\n\n")
}

/// Kibana Discover, searching for the event's id around its time (in the default data view).
pub fn discover_link(base: &str, event_id: &str, time: Option<&str>) -> String {
    let quote = |s: &str| s.replace('!', "!!").replace('\'', "!'");
    let query = format!("eventID:\"{}\"", event_id.replace('"', "\\\""));
    let mut app = format!("(query:(language:kuery,query:'{}'))", quote(&query));
    app = utf8_percent_encode(&app, NON_ALPHANUMERIC).to_string();
    let mut link = format!("{}/app/discover#/?_a={app}", base.trim_end_matches('/'));
    if let Some(t) = time.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
        let around =
            |d: i64| (t + chrono::Duration::minutes(d)).with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%SZ");
        let global = format!("(time:(from:'{}',to:'{}'))", around(-5), around(5));
        let _ = write!(link, "&_g={}", utf8_percent_encode(&global, NON_ALPHANUMERIC));
    }
    link
}

/// A short subject line (SNS allows 100 characters, printable ASCII).
pub fn subject(rule: &str, doc: &Value, count: usize) -> String {
    let mut s: String = headline(rule, doc).chars().filter(|c| c.is_ascii_graphic() || *c == ' ').collect();
    if count > 1 {
        let _ = write!(s, " (+{})", count - 1);
    }
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alice_delete() -> Value {
        json!({"eventID":"e-1","eventTime":"2024-05-01T10:02:03Z","eventName":"DeleteBucket",
               "eventSource":"s3.amazonaws.com","sourceIPAddress":"203.0.113.7","awsRegion":"us-east-1",
               "userAgent":"aws-cli/2.15.0","userIdentity":{"type":"IAMUser","userName":"alice",
               "arn":"arn:aws:iam::111122223333:user/alice"}})
    }

    #[test]
    fn the_exact_text() {
        let mut doc = alice_delete();
        assert_eq!(
            describe("changes", &doc, Zone::default(), None),
            "[changes] alice: DeleteBucket on s3.amazonaws.com\nwhen: 2024-05-01 10:02:03 UTC\n\
             from: 203.0.113.7 in us-east-1 with aws-cli/2.15.0"
        );
        doc["errorCode"] = json!("AccessDenied");
        let jst: Zone = "+09:00".parse().unwrap();
        let text = describe("changes", &doc, jst, Some("http://kibana:5601/"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "when: 2024-05-01 19:02:03 +09:00");
        assert_eq!(lines[3], "failed: AccessDenied");
        assert!(lines[4].starts_with("http://kibana:5601/app/discover#/?_a=%28query"), "{}", lines[4]);
        assert!(
            lines[4].contains("e%2D1") && lines[4].contains("2024%2D05%2D01T09%3A57%3A03Z"),
            "{}",
            lines[4]
        );
        assert_eq!(
            message("changes", &[&doc], 499, Zone::default(), None).lines().last(),
            Some("…and 499 more like this")
        );
        doc["recipientAccountId"] = json!("111122223333");
        let text = describe("changes", &doc, Zone::default(), None);
        assert!(!text.contains("account:"), "no --account-names, no line: {text}");
        doc["recipientAccountName"] = json!("prod");
        let text = describe("changes", &doc, Zone::default(), None);
        assert_eq!(text.lines().nth(3), Some("account: prod (111122223333)"), "{text}");
    }

    #[test]
    fn a_finding_names_its_rule_level_tags_and_author() {
        let mut doc = alice_delete();
        doc["rule"] = json!({"id":"r-1","title":"Bucket Deleted","level":"low","tags":["attack.impact"],
                             "author":"Jane Doe"});
        let text = describe("sigma", &doc, Zone::default(), None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "[sigma] Bucket Deleted (low): alice: DeleteBucket on s3.amazonaws.com");
        assert_eq!(lines[3], "sigma rule r-1 · tags: attack.impact · author: Jane Doe");
    }

    #[test]
    fn who_falls_back_and_root_is_root() {
        let mut doc = alice_delete();
        doc["userIdentity"].as_object_mut().unwrap().remove("userName");
        assert_eq!(who(&doc), "arn:aws:iam::111122223333:user/alice");
        doc["userIdentity"] = json!({"type":"AWSService","principalId":"AIDAEXAMPLE"});
        assert_eq!(who(&doc), "AIDAEXAMPLE");
        doc["userIdentity"] = json!({"type":"Root","arn":"arn:aws:iam::1:root"});
        assert_eq!(who(&doc), "root");
        assert_eq!(who(&json!({})), "unknown");
    }

    #[test]
    fn zones() {
        assert_eq!("UTC".parse::<Zone>().unwrap(), Zone::default());
        assert!("-05:30".parse::<Zone>().is_ok() && "+9".parse::<Zone>().is_ok());
        assert!("Asia/Tokyo".parse::<Zone>().unwrap_err().contains("named zones"));
        assert!("+25:00".parse::<Zone>().is_err());
    }
}
