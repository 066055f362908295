//! Reading a `_bulk` response: what happened to each item, and why, in words that never quote the
//! document ([`scrub_reason`]). Pure functions, no I/O.
//!
//! A 200 answer can still hold failures: `"errors": true` and a per-item `status`. Each item is
//! created (201), already there (409 on `create`), worth retrying (429 and 5xx: the cluster was
//! busy), or rejected for good (any other 4xx: a mapping error and the like).

use serde::Deserialize;
use serde_json::value::RawValue;

/// What happened to one item.
#[derive(Debug, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Newly indexed.
    Created,
    /// A document with this id was already there.
    AlreadyPresent,
    /// Try again later.
    Retry {
        /// The item's HTTP status (429, 5xx).
        status: u16,
        /// For logs.
        reason: String,
    },
    /// Rejected for good.
    Rejected {
        /// The item's HTTP status.
        status: u16,
        /// `type: reason` of the error, with its cause.
        reason: String,
    },
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow)]
    items: Vec<Envelope<'a>>,
}

/// `{"create": {...}}` (or `index`, for responses to other action types).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(alias = "index", alias = "update", alias = "delete", borrow)]
    create: Item<'a>,
}

#[derive(Deserialize)]
struct Item<'a> {
    status: u16,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    caused_by: Option<Box<ErrorBody>>,
}

/// One outcome per item, in request order. `expected` is the number of items sent.
pub fn parse_response(body: &[u8], expected: usize) -> Result<Vec<ItemOutcome>, String> {
    let response: Response =
        serde_json::from_slice(body).map_err(|e| format!("unreadable _bulk response: {e}"))?;
    if response.items.len() != expected {
        return Err(format!("_bulk response has {} items for {expected} sent", response.items.len()));
    }
    Ok(response.items.into_iter().map(|e| outcome(e.create)).collect())
}

fn outcome(item: Item) -> ItemOutcome {
    match item.status {
        200..=299 => ItemOutcome::Created,
        409 => ItemOutcome::AlreadyPresent,
        status if retryable_item(status) => {
            ItemOutcome::Retry { status, reason: format!("HTTP {status}: {}", describe_error(item.error)) }
        }
        status => ItemOutcome::Rejected { status, reason: describe_error(item.error) },
    }
}

/// An item status worth retrying: the cluster was overloaded or a shard unavailable.
pub fn retryable_item(status: u16) -> bool {
    status == 429 || status >= 500
}

/// A status that says the cluster is overloaded (as a whole answer, or an item's inside a 200):
/// the adaptive concurrency cuts on it (`concurrency.rs`). 502 and 504 are what a managed
/// domain's gateway answers when the nodes behind it are too busy.
pub fn pushback(status: u16, item: bool) -> bool {
    match item {
        true => matches!(status, 429 | 503),
        false => matches!(status, 429 | 502 | 503 | 504),
    }
}

/// A whole-request status worth retrying: the cluster is busy, or (401/403) refuses credentials
/// it accepted at start, which is a rotation or a permissions change to fix, not a property of
/// the events. Retrying keeps them until the patience runs out (never, in `follow`, whose
/// `/healthz` then fails) instead of dead-lettering every event of every batch meanwhile.
pub fn retryable_request(status: u16) -> bool {
    matches!(status, 401 | 403 | 429 | 502 | 503 | 504)
}

/// Renders an Elasticsearch error object as `type: reason (caused by: type: reason)`, with every
/// value preview scrubbed ([`scrub_reason`]): one line, at most [`MAX_REASON`] characters.
pub fn describe_error(error: Option<&RawValue>) -> String {
    let Some(raw) = error else { return "no error detail".into() };
    match serde_json::from_str::<ErrorBody>(raw.get()) {
        Ok(body) => bounded(&render(&body, "")),
        Err(_) => scrub_reason(raw.get()),
    }
}

fn render(body: &ErrorBody, outer: &str) -> String {
    let reason = body.reason.as_deref().map(scrub_reason).unwrap_or_default();
    // Causes often repeat their parent's reason (Jackson's, three times): say it once.
    let mut text = if reason.is_empty() || outer.contains(&reason) {
        body.kind.clone()
    } else {
        format!("{}: {reason}", body.kind)
    };
    if let Some(cause) = &body.caused_by {
        text.push_str(&format!(" (caused by: {})", render(cause, &format!("{outer} {reason}"))));
    }
    text
}

/// The error message of a whole-request failure body, if it is an Elasticsearch error; its text
/// scrubbed otherwise.
pub fn describe_reply_error(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Wrapper<'a> {
        #[serde(borrow)]
        error: &'a RawValue,
    }
    match serde_json::from_slice::<Wrapper>(body) {
        Ok(w) => match serde_json::from_str::<String>(w.error.get()) {
            Ok(text) => scrub_reason(&text),
            Err(_) => describe_error(Some(w.error)),
        },
        Err(_) => scrub_reason(&String::from_utf8_lossy(body)),
    }
}

/// The longest reason kept, in characters.
pub const MAX_REASON: usize = 500;

/// What replaces a value the cluster quoted.
const WITHHELD: &str = "(value withheld)";

/// A cluster's error reason without the document content it quotes, on one line and bounded.
///
/// Elasticsearch and OpenSearch quote the rejected value or the document itself: Jackson's
/// `[Source: (byte[])"{…}"; line: 1, column: 32]`, `Preview of field's value: '…'`, `For input
/// string: "…"`, `failed to parse date field […]`, `'…' is not an IP string literal`, the prefix of
/// an immense term. Those are cut; the error type, field names (in brackets), mapping types and
/// positions are kept, and Jackson's `Duplicate field 'k'` reads `duplicate field `k``. Any other
/// quoted text is withheld too (a quote opens only after a non-alphanumeric character, so
/// `field's` is not one); control characters become spaces or `\u{…}`.
pub fn scrub_reason(reason: &str) -> String {
    let mut text = reason.to_string();
    // Jackson's location: keep line and column, never the source.
    while let Some(at) = text.find("[Source: ") {
        let rest = &text[at..];
        let tail = rest.rfind("; line: ").and_then(|l| {
            let end = rest[l..].find(']')? + l;
            Some((rest[l + 2..end].to_string(), end + 1))
        });
        let (position, end) = tail.unwrap_or_else(|| (String::new(), rest.len()));
        let before = text[..at].trim_end().trim_end_matches(" at").trim_end().to_string();
        let sep = if position.is_empty() { String::new() } else { format!(" [{position}]") };
        text = format!("{before}{sep}{}", &text[at + end..]);
    }
    // Messages whose end is the value.
    for marker in
        ["Preview of field's value:", "For input string:", "The prefix of the first immense term is:"]
    {
        if let Some(at) = text.find(marker) {
            let keep = if marker.starts_with("The prefix") {
                text[at..].find("]...'").map(|e| at + e + 5)
            } else {
                None
            };
            let after = keep.map(|e| text[e..].to_string()).unwrap_or_default();
            text = format!("{} {WITHHELD}{after}", &text[..at + marker.len()]);
        }
    }
    // Values in brackets after these words (field names in brackets are kept).
    for (marker, end) in [
        ("date field [", "] with format ["),
        ("value [", "] as only ["),
        ("Value [", "]"),
        ("value [", "]"),
        ("Numeric value (", ") out of range"),
    ] {
        let mut from = 0;
        while let Some(at) = text[from..].find(marker).map(|a| a + from) {
            let open = at + marker.len();
            let Some(close) = text[open..].find(end).map(|c| c + open) else { break };
            text.replace_range(open..close, WITHHELD);
            from = open + WITHHELD.len();
        }
    }
    bounded(&unquote(&text))
}

/// Withholds quoted text, except the names in `Duplicate field 'k'` and `with id '…'`.
fn unquote(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let opens = matches!(c, '\'' | '"') && (i == 0 || !chars[i - 1].is_alphanumeric());
        let close = opens
            .then(|| {
                (i + 1..chars.len())
                    .find(|&j| chars[j] == c && chars.get(j + 1).is_none_or(|n| !n.is_alphanumeric()))
            })
            .flatten();
        let Some(close) = close else {
            if opens {
                // A quote that never closes: what follows may be the value.
                out.push_str(WITHHELD);
                break;
            }
            out.push(c);
            i += 1;
            continue;
        };
        let inner: String = chars[i + 1..close].iter().collect();
        let head: String = out.chars().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
        if head.ends_with("Duplicate field ") {
            out.truncate(out.len() - "Duplicate field ".len());
            let key: String = inner.chars().take(64).collect();
            out.push_str(&format!(
                "duplicate field `{key}` (Elasticsearch and OpenSearch refuse a document that repeats a key in one object)"
            ));
        } else if head.ends_with("with id ") || head.ends_with("field=") {
            out.extend(&chars[i..=close]);
        } else {
            out.push_str(WITHHELD);
        }
        i = close + 1;
    }
    out
}

/// One line of at most [`MAX_REASON`] characters: control characters become spaces (line breaks,
/// tabs) or `\u{…}`, runs of spaces one.
fn bounded(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_REASON + 4));
    let mut kept = 0;
    for c in text.chars() {
        let c = if matches!(c, '\n' | '\r' | '\t') { ' ' } else { c };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if kept == MAX_REASON {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
        kept += 1;
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_item_gets_its_outcome() {
        let body = br#"{"took":3,"errors":true,"items":[
            {"create":{"_index":"i","_id":"1","status":201}},
            {"create":{"_index":"i","_id":"2","status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},
            {"create":{"_index":"i","_id":"3","status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
            {"create":{"_index":"i","_id":"4","status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse field [a]","caused_by":{"type":"illegal_argument_exception","reason":"bad"}}}},
            {"index":{"_index":"i","_id":"5","status":200}},
            {"create":{"_index":"i","_id":"6","status":503,"error":{"type":"unavailable_shards_exception"}}}
        ]}"#;
        let got = parse_response(body, 6).unwrap();
        assert_eq!(got[0], ItemOutcome::Created);
        assert_eq!(got[1], ItemOutcome::AlreadyPresent);
        assert_eq!(
            got[2],
            ItemOutcome::Retry {
                status: 429,
                reason: "HTTP 429: es_rejected_execution_exception: queue full".into()
            }
        );
        assert_eq!(
            got[3],
            ItemOutcome::Rejected {
                status: 400,
                reason: "document_parsing_exception: failed to parse field [a] (caused by: illegal_argument_exception: bad)".into()
            }
        );
        assert_eq!(got[4], ItemOutcome::Created);
        assert!(matches!(got[5], ItemOutcome::Retry { status: 503, .. }));
    }

    #[test]
    fn mismatched_or_garbled_responses_are_errors() {
        assert!(parse_response(br#"{"errors":false,"items":[]}"#, 1).unwrap_err().contains("0 items for 1"));
        assert!(parse_response(b"<html>", 1).unwrap_err().contains("unreadable"));
    }

    #[test]
    fn request_statuses_are_classified() {
        assert!([401, 403, 429, 502, 503, 504].iter().all(|&s| retryable_request(s)));
        assert!([400, 404, 413, 500].iter().all(|&s| !retryable_request(s)));
        assert!(retryable_item(429) && retryable_item(503) && !retryable_item(400));
    }

    /// Rejections as Elasticsearch 8.19 and OpenSearch 3.6 wrote them for documents holding the
    /// planted value (see `tests/cluster_reasons.rs`, which provokes them live).
    fn real_rejections() -> Vec<(String, &'static str)> {
        let p = "PLANTEDSECRETVALUE42";
        let bytes = "[80, 76, 65, 78, 84, 69, 68, 83, 69, 67, 82, 69, 84, 86, 65, 76, 85, 69, 52, 50]";
        let immense = format!("Document contains at least one immense term in field=\\\"k\\\" (whose UTF8 encoding is longer than the max length 32766), all of which were skipped. Please correct the analyzer to not produce such terms. The prefix of the first immense term is: '{bytes}...'");
        vec![
            (format!(r#"{{"type":"document_parsing_exception","reason":"[1:7] failed to parse field [n] of type [long] in document with id 'j5Wa'. Preview of field's value: '{p}'","caused_by":{{"type":"illegal_argument_exception","reason":"For input string: \"{p}\""}}}}"#),
             "document_parsing_exception: [1:7] failed to parse field [n] of type [long] in document with id 'j5Wa'. Preview of field's value: (value withheld) (caused by: illegal_argument_exception: For input string: (value withheld))"),
            (format!(r#"{{"type":"mapper_parsing_exception","reason":"failed to parse field [k] of type [keyword] in document with id 'H7m'. Preview of field's value: '{{x={p}}}'","caused_by":{{"type":"illegal_state_exception","reason":"Can't get text on a START_OBJECT at 1:7"}}}}"#),
             "mapper_parsing_exception: failed to parse field [k] of type [keyword] in document with id 'H7m'. Preview of field's value: (value withheld) (caused by: illegal_state_exception: Can't get text on a START_OBJECT at 1:7)"),
            (format!(r#"{{"type":"document_parsing_exception","reason":"[1:7] failed to parse field [d] of type [date] in document with id 'kp'. Preview of field's value: '{p}'","caused_by":{{"type":"illegal_argument_exception","reason":"failed to parse date field [{p}] with format [strict_date_optional_time||epoch_millis]","caused_by":{{"type":"date_time_parse_exception","reason":"Failed to parse with all enclosed parsers"}}}}}}"#),
             "(caused by: illegal_argument_exception: failed to parse date field [(value withheld)] with format [strict_date_optional_time||epoch_millis] (caused by: date_time_parse_exception: Failed to parse with all enclosed parsers))"),
            (format!(r#"{{"type":"mapper_parsing_exception","reason":"failed to parse field [ip] of type [ip] in document with id 'Ib'. Preview of field's value: '{p}'","caused_by":{{"type":"illegal_argument_exception","reason":"'{p}' is not an IP string literal."}}}}"#),
             "(caused by: illegal_argument_exception: (value withheld) is not an IP string literal.)"),
            (format!(r#"{{"type":"mapper_parsing_exception","reason":"failed to parse field [b] of type [boolean] in document with id 'Ir'. Preview of field's value: '{p}'","caused_by":{{"type":"illegal_argument_exception","reason":"Failed to parse value [{p}] as only [true] or [false] are allowed."}}}}"#),
             "Failed to parse value [(value withheld)] as only [true] or [false] are allowed."),
            (format!(r#"{{"type":"document_parsing_exception","reason":"[1:7] failed to parse field [k] of type [keyword] in document with id 'lZ'. Preview of field's value: '{}'","caused_by":{{"type":"illegal_argument_exception","reason":"{immense}"}}}}"#, p.repeat(2000)),
             r#"immense term in field="k" (whose UTF8 encoding is longer than the max length 32766), all of which were skipped. Please correct the analyzer to not produce such terms. The prefix of the first immense term is: (value withheld))"#),
            (format!(r#"{{"type":"illegal_argument_exception","reason":"{}, original message: bytes can be at most 32766 in length; got 40000","caused_by":{{"type":"max_bytes_length_exceeded_exception","reason":"bytes can be at most 32766 in length; got 40000"}}}}"#, immense.replace(". Please", ".  Please")),
             "The prefix of the first immense term is: (value withheld), original message: bytes can be at most 32766 in length; got 40000 (caused by: max_bytes_length_exceeded_exception)"),
            (format!(r#"{{"type":"document_parsing_exception","reason":"[1:6] failed to parse: [1:32] Duplicate field 'k'\n at [Source: (byte[])\"{{\"k\":\"{p}\",\"k\":\"{p}\"}}\"; line: 1, column: 32]","caused_by":{{"type":"x_content_parse_exception","reason":"[1:32] Duplicate field 'k'\n at [Source: (byte[])\"{{\"k\":\"{p}\",\"k\":\"{p}\"}}\"; line: 1, column: 32]","caused_by":{{"type":"json_parse_exception","reason":"Duplicate field 'k'\n at [Source: (byte[])\"{{\"k\":\"{p}\",\"k\":\"{p}\"}}\"; line: 1, column: 32]"}}}}}}"#),
             "document_parsing_exception: [1:6] failed to parse: [1:32] duplicate field `k` (Elasticsearch and OpenSearch refuse a document that repeats a key in one object) [line: 1, column: 32] (caused by: x_content_parse_exception (caused by: json_parse_exception))"),
            (r#"{"type":"mapper_parsing_exception","reason":"failed to parse","caused_by":{"type":"json_parse_exception","reason":"Duplicate field 'k'\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 32]"}}"#.to_string(),
             "mapper_parsing_exception: failed to parse (caused by: json_parse_exception: duplicate field `k` (Elasticsearch and OpenSearch refuse a document that repeats a key in one object) [line: 1, column: 32])"),
            (format!(r#"{{"type":"document_parsing_exception","reason":"[1:6] failed to parse: [1:29] Unexpected end-of-input within/between Object entries\n at [Source: (byte[])\"{{\"k\":\"{p}\",\"; line: 1, column: 29]"}}"#),
             "document_parsing_exception: [1:6] failed to parse: [1:29] Unexpected end-of-input within/between Object entries [line: 1, column: 29]"),
            (r#"{"type":"document_parsing_exception","reason":"[1:7] object mapping for [o] tried to parse field [o] as object, but found a concrete value"}"#.to_string(),
             "document_parsing_exception: [1:7] object mapping for [o] tried to parse field [o] as object, but found a concrete value"),
        ]
    }

    #[test]
    fn rejection_reasons_keep_type_field_and_position_but_no_value() {
        for (raw, want) in real_rejections() {
            let error: &RawValue = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{e}: {raw}"));
            let got = describe_error(Some(error));
            assert!(got.contains(want), "want {want:?}\n got {got:?}");
            assert!(!got.contains("PLANTED") && !got.contains("80, 76"), "{got}");
            assert!(!got.contains('\n') && got.chars().count() <= MAX_REASON + 1, "{got}");
        }
    }

    #[test]
    fn any_other_quoted_text_is_withheld_and_reasons_are_bounded_lines() {
        let cases = [
            (
                "Unrecognized token 'SECRETTOKEN': was expecting (JSON String)",
                "Unrecognized token (value withheld): was expecting (JSON String)",
            ),
            (
                "Numeric value (123456789012345678901234) out of range of long",
                "Numeric value ((value withheld)) out of range of long",
            ),
            (
                "Value [99999999999999999999] is out of range for a long",
                "Value [(value withheld)] is out of range for a long",
            ),
            ("can't parse 'SECRET", "can't parse (value withheld)"),
            ("a\nb\tc\u{1b}[2Jd", "a b c\\u{1b}[2Jd"),
        ];
        for (reason, want) in cases {
            assert_eq!(scrub_reason(reason), want);
        }
        let long = scrub_reason(&"x ".repeat(10_000));
        assert_eq!(long.chars().count(), MAX_REASON + 1);
        assert!(long.ends_with('…'));
        let body = br#"{"error":"Incorrect HTTP method for uri [/] and method [GET], allowed: [DELETE]","status":405}"#;
        assert_eq!(
            describe_reply_error(body),
            "Incorrect HTTP method for uri [/] and method [GET], allowed: [DELETE]"
        );
        assert_eq!(describe_reply_error(b"<html>\n'leak'</html>"), "<html> (value withheld)</html>");
    }

    #[test]
    fn whole_request_errors_are_described() {
        let body = br#"{"error":{"type":"illegal_argument_exception","reason":"bad ndjson"},"status":400}"#;
        assert_eq!(describe_reply_error(body), "illegal_argument_exception: bad ndjson");
        assert_eq!(describe_reply_error(b"Bad Gateway"), "Bad Gateway");
    }
}
