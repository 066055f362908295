//! What counts as a console operation (`--console-only`), as a Rust rule for the pipeline and as
//! an Elasticsearch query ([`console_query`]) for dashboards: both are built from the same tables
//! below, so they select the same events.
//!
//! CloudTrail has no single "done in the console" flag, so the rule combines what it does record.
//! An event is a console operation when at least one of these holds:
//!
//! 1. `sessionCredentialFromConsole` is `"true"`: the call used the credentials of a Management
//!    Console session (CloudTrail 1.08 and later; the field is absent otherwise).
//! 2. `eventType` is `AwsConsoleSignIn` (signing in) or `AwsConsoleAction` (console actions that
//!    are not API calls).
//! 3. `userAgent` is `signin.amazonaws.com` or `console.amazonaws.com`, or matches
//!    `console.*.amazonaws.com` (older records, and per-service consoles such as
//!    `console.ec2.amazonaws.com`).
//! 4. `userAgent` names a console front end: it matches `*Console/*` (`[S3Console/0.4, …]`),
//!    `*Console,*` (`RDS Console, aws-internal/3 …`), `*ConsoleFrontend*` (`EC2ConsoleFrontend,
//!    …`) or `*AWS Console*` (`[AWS Console S3, …]`).
//! 5. `userAgent` is a web browser's, `Mozilla/*`: the console's own pages calling AWS from the
//!    browser (people rarely call AWS APIs from a browser any other way).
//! 6. `userAgent` is `AWS Internal` and the event has no `userIdentity.invokedBy`: a console back
//!    end calling AWS for the signed-in person. With `invokedBy` (e.g. `AWS Internal`, or a
//!    service name), it is an AWS service acting on its own behalf (KMS decrypting for S3, …),
//!    which nobody did in the console.
//!
//! Values are compared exactly (case matters); `*` is any run of characters. A `null` counts as
//! absent. On the corpus of real events (tests/corpus) this selects 7,434 of 11,799 events (mostly the
//! Permiso console-session recordings; see `tests/transform_flags.rs`). The query differs from
//! the Rust rule only for a `userAgent` longer than 1,024 characters, which the index template does
//! not index (`ignore_above`) and so no query can match.

use super::capture::{any_scalar, any_scalar_text, Found, Slots};
use super::glob::Glob;
use serde_json::{json, Value};

/// Rule 1: `sessionCredentialFromConsole` has this value.
const FROM_CONSOLE: &str = "true";
/// Rule 2.
const EVENT_TYPES: &[&str] = &["AwsConsoleSignIn", "AwsConsoleAction"];
/// Rule 3, exact values.
const USER_AGENTS: &[&str] = &["signin.amazonaws.com", "console.amazonaws.com"];
/// Rules 3, 4 and 5.
const USER_AGENT_GLOBS: &[&str] = &[
    "console.*.amazonaws.com",
    "*Console/*",
    "*Console,*",
    "*ConsoleFrontend*",
    "*AWS Console*",
    "Mozilla/*",
];
/// Rule 6.
const AWS_INTERNAL: &str = "AWS Internal";

/// The rule, with the capture slots of the fields it reads.
#[derive(Debug)]
pub struct Console {
    from_console: u16,
    event_type: u16,
    user_agent: u16,
    invoked_by: u16,
    /// The globs of [`USER_AGENT_GLOBS`] that hold [`CONSOLE`] (the front ends of rule 4).
    console_globs: Vec<Glob>,
    /// The others.
    globs: Vec<Glob>,
    /// Finds [`CONSOLE`]: most user agents lack it, which rules out all of `console_globs` at once.
    console: memchr::memmem::Finder<'static>,
}

/// A literal every glob of `console_globs` holds, so every value they match holds it too.
const CONSOLE: &str = "Console";

impl Console {
    /// The rule, capturing its fields through `slots`.
    pub fn new(slots: &mut Slots) -> Self {
        let (console_globs, globs): (Vec<&str>, Vec<&str>) =
            USER_AGENT_GLOBS.iter().partition(|g| g.contains(CONSOLE));
        Console {
            from_console: slots.named("sessionCredentialFromConsole"),
            event_type: slots.named("eventType"),
            user_agent: slots.named("userAgent"),
            invoked_by: slots.named("userIdentity.invokedBy"),
            console_globs: console_globs.into_iter().map(Glob::new).collect(),
            globs: globs.into_iter().map(Glob::new).collect(),
            console: memchr::memmem::Finder::new(CONSOLE.as_bytes()).into_owned(),
        }
    }

    /// True when the event is a console operation: one pass over what the walk captured, each
    /// value read once (the rule runs on every event a report counts).
    pub fn matches(&self, src: &[u8], found: &Found) -> bool {
        self.matches_text(src, None, found)
    }

    /// [`Console::matches`], with `text`, when given, being `src` as the text the walk checked
    /// it to be: a string value is then read from it without checking its UTF-8 again.
    pub fn matches_text(&self, src: &[u8], text: Option<&str>, found: &Found) -> bool {
        let text = text.filter(|t| std::ptr::eq(t.as_bytes(), src));
        let mut aws_internal = false;
        for (slot, range) in found.ranges() {
            let Some(raw) = src.get(range.clone()) else { continue };
            let any_scalar =
                |raw: &[u8], f: &mut dyn FnMut(&str) -> bool| match text.and_then(|t| t.get(range.clone())) {
                    Some(value) => any_scalar_text(value, f),
                    None => any_scalar(raw, f),
                };
            let console = if slot == self.from_console {
                any_scalar(raw, &mut |v| v == FROM_CONSOLE)
            } else if slot == self.event_type {
                any_scalar(raw, &mut |v| EVENT_TYPES.contains(&v))
            } else if slot == self.user_agent {
                any_scalar(raw, &mut |v| {
                    aws_internal |= v == AWS_INTERNAL;
                    self.console_user_agent(v)
                })
            } else {
                false
            };
            if console {
                return true;
            }
        }
        aws_internal && !self.invoked(src, found)
    }

    /// Rules 3, 4 and 5 on one `userAgent`.
    fn console_user_agent(&self, v: &str) -> bool {
        USER_AGENTS.contains(&v)
            || self.globs.iter().any(|g| g.matches(v))
            || (self.console.find(v.as_bytes()).is_some() && self.console_globs.iter().any(|g| g.matches(v)))
    }

    /// Whether `userIdentity.invokedBy` is there, as Elasticsearch's `exists` sees it: `null` and
    /// arrays of nothing but `null` do not count.
    fn invoked(&self, src: &[u8], found: &Found) -> bool {
        found.values(src, self.invoked_by).any(|raw| match raw.first() {
            Some(b'[') => any_scalar(raw, &mut |v| v != "null"),
            _ => raw != b"null",
        })
    }
}

/// The same rule as an Elasticsearch/OpenSearch query (for the `PREFIX-*` indices with our
/// template, where these fields are keywords): use it as a dashboard filter or a search's `query`.
pub fn console_query() -> Value {
    let mut should = vec![
        json!({"term": {"sessionCredentialFromConsole": FROM_CONSOLE}}),
        json!({"terms": {"eventType": EVENT_TYPES}}),
        json!({"terms": {"userAgent": USER_AGENTS}}),
    ];
    should.extend(USER_AGENT_GLOBS.iter().map(|g| json!({"wildcard": {"userAgent": {"value": g}}})));
    should.push(json!({"bool": {
        "filter": [{"term": {"userAgent": AWS_INTERNAL}}],
        "must_not": [{"exists": {"field": "userIdentity.invokedBy"}}]
    }}));
    json!({"bool": {"should": should, "minimum_should_match": 1}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(event: &str) -> bool {
        let mut slots = Slots::default();
        let rule = Console::new(&mut slots);
        let (src, found) = crate::transform::walk::capture_for_tests(&slots, event);
        let judged = rule.matches(&src, &found);
        let text = std::str::from_utf8(&src).unwrap();
        assert_eq!(
            rule.matches_text(&src, Some(text), &found),
            judged,
            "read from the checked text: {event}"
        );
        judged
    }

    #[test]
    fn each_clause_on_its_own() {
        let yes = [
            r#"{"sessionCredentialFromConsole":"true","userAgent":"aws-cli/2"}"#,
            r#"{"eventType":"AwsConsoleSignIn"}"#,
            r#"{"eventType":"AwsConsoleAction"}"#,
            r#"{"userAgent":"signin.amazonaws.com"}"#,
            r#"{"userAgent":"console.amazonaws.com"}"#,
            r#"{"userAgent":"console.ec2.amazonaws.com"}"#,
            r#"{"userAgent":"[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488]"}"#,
            r#"{"userAgent":"RDS Console, aws-internal/3 aws-sdk-java/1.12.470"}"#,
            r#"{"userAgent":"EC2ConsoleFrontend, aws-internal/3 aws-sdk-java/1.12.470"}"#,
            r#"{"userAgent":"[AWS Console S3, S3Console/0.4 cfg/retry-mode/legacy]"}"#,
            r#"{"userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"}"#,
            r#"{"userAgent":"AWS Internal"}"#,
            r#"{"userAgent":"AWS Internal","userIdentity":{"type":"IAMUser","invokedBy":null}}"#,
            r#"{"userAgent":"AWS Internal","userIdentity":{"invokedBy":"AWS Internal"},"sessionCredentialFromConsole":"true"}"#,
            r#"{"userAgent":"Mozilla\/5.0"}"#,
            r#"{"userAgent":["aws-cli/2", "signin.amazonaws.com"]}"#,
            r#"{"eventType":"AwsConsole\u0053ignIn"}"#,
        ];
        for e in yes {
            assert!(console(e), "{e}");
        }
        let no = [
            r#"{}"#,
            r#"{"sessionCredentialFromConsole":"false"}"#,
            r#"{"eventType":"AwsApiCall","userAgent":"aws-cli/2.13.5 Python/3.11"}"#,
            r#"{"userAgent":"AWS Internal","userIdentity":{"invokedBy":"AWS Internal"}}"#,
            r#"{"userAgent":"AWS Internal","userIdentity":{"invokedBy":"health.amazonaws.com"}}"#,
            r#"{"userAgent":"aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10"}"#,
            r#"{"userAgent":"ec2.amazonaws.com"}"#,
            r#"{"userAgent":"console.amazonaws.com.evil"}"#,
            r#"{"userAgent":"SRPS/Mozilla/5.0"}"#,
            r#"{"userAgent":"aws internal"}"#,
        ];
        for e in no {
            assert!(!console(e), "{e}");
        }
    }

    #[test]
    fn query_file_is_the_query() {
        let file: Value = serde_json::from_str(include_str!("../../mappings/console-query.json")).unwrap();
        assert_eq!(file, console_query(), "regenerate mappings/console-query.json from console_query()");
    }
}
