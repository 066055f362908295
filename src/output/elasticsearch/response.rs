//! Reading a `_bulk` response: what happened to each item. Pure functions, no I/O.
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
    /// Try again later; the reason is for logs.
    Retry(String),
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
            ItemOutcome::Retry(format!("HTTP {status}: {}", describe_error(item.error)))
        }
        status => ItemOutcome::Rejected { status, reason: describe_error(item.error) },
    }
}

/// An item status worth retrying: the cluster was overloaded or a shard unavailable.
pub fn retryable_item(status: u16) -> bool {
    status == 429 || status >= 500
}

/// A whole-request status worth retrying: the cluster is busy, or (401/403) refuses credentials
/// it accepted at start, which is a rotation or a permissions change to fix, not a property of
/// the events. Retrying keeps them until the patience runs out (never, in `follow`, whose
/// `/healthz` then fails) instead of dead-lettering every event of every batch meanwhile.
pub fn retryable_request(status: u16) -> bool {
    matches!(status, 401 | 403 | 429 | 502 | 503 | 504)
}

/// Renders an Elasticsearch error object as `type: reason (caused by: type: reason)`.
pub fn describe_error(error: Option<&RawValue>) -> String {
    let Some(raw) = error else { return "no error detail".into() };
    match serde_json::from_str::<ErrorBody>(raw.get()) {
        Ok(body) => render(&body),
        Err(_) => raw.get().chars().take(300).collect(),
    }
}

fn render(body: &ErrorBody) -> String {
    let mut text = match &body.reason {
        Some(reason) => format!("{}: {reason}", body.kind),
        None => body.kind.clone(),
    };
    if let Some(cause) = &body.caused_by {
        text.push_str(&format!(" (caused by: {})", render(cause)));
    }
    text
}

/// The error message of a whole-request failure body, if it is an Elasticsearch error.
pub fn describe_reply_error(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Wrapper<'a> {
        #[serde(borrow)]
        error: &'a RawValue,
    }
    match serde_json::from_slice::<Wrapper>(body) {
        Ok(w) => describe_error(Some(w.error)),
        Err(_) => String::from_utf8_lossy(body).chars().take(300).collect(),
    }
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
            ItemOutcome::Retry("HTTP 429: es_rejected_execution_exception: queue full".into())
        );
        assert_eq!(
            got[3],
            ItemOutcome::Rejected {
                status: 400,
                reason: "document_parsing_exception: failed to parse field [a] (caused by: illegal_argument_exception: bad)".into()
            }
        );
        assert_eq!(got[4], ItemOutcome::Created);
        assert!(matches!(got[5], ItemOutcome::Retry(_)));
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

    #[test]
    fn whole_request_errors_are_described() {
        let body = br#"{"error":{"type":"illegal_argument_exception","reason":"bad ndjson"},"status":400}"#;
        assert_eq!(describe_reply_error(body), "illegal_argument_exception: bad ndjson");
        assert_eq!(describe_reply_error(b"Bad Gateway"), "Bad Gateway");
    }
}
