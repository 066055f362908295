//! ECS fields for one CloudTrail event: what Elastic's AWS CloudTrail integration (its
//! `aws.cloudtrail` ingest pipeline) produces for the same event, computed here so that Elastic
//! Security's prebuilt AWS rules, its Security app and the integration's dashboards work on our
//! documents without any ingest pipeline.
//!
//! [`ecs_fields`] is a pure function from the event (as redaction left it: a redacted field has
//! no ECS copy either) to nested objects to be merged at the top of the document, beside the
//! event's own fields, which stay unchanged. None of the names can collide: CloudTrail's are
//! camelCase (`eventName`), ECS's are `event`, `user`, `source`, `cloud`, `aws`… `@timestamp` is
//! not included: the document already has it, with the value ECS wants (`eventTime`).
//!
//! What is produced, learned from the integration's pipeline, field definitions and pipeline
//! test results (written anew here):
//! - `ecs.version`, `data_stream.{type,dataset,namespace}`, `event.{module,dataset,kind,id,
//!   provider,action,outcome,type,category}` (`category.rs`), `cloud.{provider,region,
//!   service.name,account.id}`;
//! - `source.address` (`sourceIPAddress`), `source.ip` and `related.ip` only when it is an
//!   address (services appear as `ec2.amazonaws.com`); `user_agent.original`, and
//!   `user_agent.name` for desktop browsers and the AWS CLI;
//!   `tls.{version_protocol,version,cipher,client.server_name}`;
//! - `user.*`, `related.user`, `group.*` and `aws.cloudtrail.user_identity.*` (`user.rs`);
//!   `related.entity` (`entity.rs`);
//! - `aws.cloudtrail.*`: the scalars renamed to snake case; `request_parameters`,
//!   `response_elements`, `additional_eventdata`, `service_event_details` as the strings the
//!   integration writes (Java `Map.toString()`, `java.rs`) and their objects under
//!   `aws.cloudtrail.flattened.*`; `resources` (`arn`, `account_id`, `type`, deduplicated);
//!   `console_login.additional_eventdata.{mobile_version,login_to,mfa_used}`.
//!
//! Like the pipeline, `null` and `""` count as absent everywhere. Not produced: `source.geo.*`
//! and `source.as.*` (they need a GeoIP database), the rest of `user_agent.*`, `event.created`,
//! `event.ingested` and `event.original` (the original is the document itself).

mod category;
mod entity;
mod java;
#[cfg(test)]
mod tests;
mod user;

use serde_json::{Map, Value};
use std::net::IpAddr;

/// `data_stream.dataset` and `event.dataset`: the dataset the prebuilt rules select.
pub const DATASET: &str = "aws.cloudtrail";
/// The ECS version the integration declares for these fields.
pub const ECS_VERSION: &str = "8.11.0";
/// Above this length (in UTF-16 units, as Java counts) a payload string gets no flattened copy.
const FLATTENED_MAX: usize = 32766;

/// The ECS fields for `event`, a CloudTrail event after redaction, whose documents go to the
/// data stream namespace `namespace` (`default` unless configured). See the module docs.
pub fn ecs_fields(event: &Value, namespace: &str) -> Map<String, Value> {
    let mut out = Out::default();
    out.set("ecs.version", ECS_VERSION);
    out.set("data_stream.type", "logs");
    out.set("data_stream.dataset", DATASET);
    out.set("data_stream.namespace", namespace);
    out.set("event.module", "aws");
    out.set("event.dataset", DATASET);
    out.set("cloud.provider", "aws");
    out.text("event.id", event, &["eventID"]);
    aggregated(event, &mut out);
    out.text("event.provider", event, &["eventSource"]);
    out.text("event.action", event, &["eventName"]);
    out.text("cloud.region", event, &["awsRegion"]);
    if let Some(service) = text(event, &["eventSource"]).and_then(|s| s.strip_suffix(".amazonaws.com")) {
        out.set("cloud.service.name", service);
    }
    category::categorize(event, &mut out);
    network(event, &mut out);
    for (from, to) in SCALARS {
        out.copy(&format!("aws.cloudtrail.{to}"), present(event, &[from]));
    }
    user::identity(event, &mut out);
    let request = payload(event, "requestParameters", "request_parameters", &mut out);
    let response = payload(event, "responseElements", "response_elements", &mut out);
    let additional = payload(event, "additionalEventData", "additional_eventdata", &mut out);
    payload(event, "serviceEventDetails", "service_event_details", &mut out);
    out.copy(
        "aws.cloudtrail.flattened.insight_details",
        event.get("insightDetails").and_then(java::prune).as_ref(),
    );
    user::targets(request.as_ref(), response.as_ref(), &mut out);
    resources(event, &mut out);
    if text(event, &["eventName"]) == Some("ConsoleLogin") {
        console_login(additional.as_ref(), &mut out);
    }
    entity::related(event, &mut out);
    account_name(event, &mut out);
    out.into_map()
}

/// `cloud.account.name`: the `recipientAccountName` that `--account-names` added, when it names
/// `cloud.account.id` (the caller's account; for a call from another account it does not).
fn account_name(event: &Value, out: &mut Out) {
    let Some(name) = text(event, &["recipientAccountName"]) else { return };
    let recipient = text(event, &["recipientAccountId"]).or_else(|| text(event, &["accountId"]));
    if recipient.is_some() && out.get("cloud.account.id").and_then(Value::as_str) == recipient {
        out.set("cloud.account.name", name);
    }
}

/// An aggregated event (a 5-minute summary of data events) has `eventId` and `accountId` where
/// other events have `eventID` and `recipientAccountId`, and no caller: only these are copied.
fn aggregated(event: &Value, out: &mut Out) {
    if text(event, &["eventID"]).is_none() {
        out.text("event.id", event, &["eventId"]);
    }
    if text(event, &["eventCategory"]) == Some("Aggregated") {
        out.text("cloud.account.id", event, &["accountId"]);
    }
}

/// Top-level fields copied as they are to `aws.cloudtrail.*`.
const SCALARS: [(&str, &str); 13] = [
    ("eventVersion", "event_version"),
    ("eventCategory", "event_category"),
    ("errorCode", "error_code"),
    ("errorMessage", "error_message"),
    ("requestID", "request_id"),
    ("eventType", "event_type"),
    ("apiVersion", "api_version"),
    ("managementEvent", "management_event"),
    ("readOnly", "read_only"),
    ("recipientAccountId", "recipient_account_id"),
    ("sharedEventID", "shared_event_id"),
    ("vpcEndpointId", "vpc_endpoint_id"),
    ("sessionCredentialFromConsole", "session_credential_from_console"),
];

/// `source.*`, `related.ip`, `user_agent.*`, `tls.*`.
fn network(event: &Value, out: &mut Out) {
    if let Some(address) = text(event, &["sourceIPAddress"]) {
        out.set("source.address", address);
        if let Ok(ip) = address.parse::<IpAddr>() {
            out.set("source.ip", ip.to_string());
            out.push("related.ip", &ip.to_string());
        }
    }
    if let Some(agent) = text(event, &["userAgent"]) {
        out.set("user_agent.original", agent);
        if let Some(name) = agent_name(agent) {
            out.set("user_agent.name", name);
        }
    }
    if let Some((protocol, version)) =
        text(event, &["tlsDetails", "tlsVersion"]).and_then(|v| v.split_once('v'))
    {
        out.set("tls.version_protocol", protocol.to_lowercase());
        out.set("tls.version", version);
    }
    out.text("tls.cipher", event, &["tlsDetails", "cipherSuite"]);
    out.text("tls.client.server_name", event, &["tlsDetails", "clientProvidedHostHeader"]);
}

/// `user_agent.name` where the integration's user-agent parser certainly agrees: desktop browsers
/// (the names rules test, e.g. `user_agent.name: (Chrome or Firefox …)`) and the AWS CLI. Mobile
/// browsers (`Mobile Safari`, `Chrome Mobile`…) and everything else get no name.
fn agent_name(agent: &str) -> Option<&'static str> {
    if agent.starts_with("aws-cli/") {
        return Some("aws-cli");
    }
    if !agent.starts_with("Mozilla/") || agent.contains("Mobile") {
        return None;
    }
    let has = |token: &str| agent.contains(token);
    Some(if has("Edg/") || has("Edge/") {
        "Edge"
    } else if has("OPR/") || has("Opera") {
        "Opera"
    } else if has("HeadlessChrome/") {
        "HeadlessChrome"
    } else if has("Firefox/") {
        "Firefox"
    } else if has("Chrome/") {
        "Chrome"
    } else if has("Safari/") && has("Version/") {
        "Safari"
    } else {
        return None;
    })
}

/// `aws.cloudtrail.TO` (the Java string) and `aws.cloudtrail.flattened.TO` (the object, when the
/// string is short enough) for the payload `from`; returns the flattened copy.
fn payload(event: &Value, from: &str, to: &str, out: &mut Out) -> Option<Value> {
    let pruned = java::prune(event.get(from)?)?;
    let string = java::to_java_string(&pruned);
    let short = string.encode_utf16().count() < FLATTENED_MAX;
    out.set(&format!("aws.cloudtrail.{to}"), string);
    short.then(|| {
        out.set(&format!("aws.cloudtrail.flattened.{to}"), pruned.clone());
        pruned
    })
}

/// `aws.cloudtrail.resources`: `ARN` → `arn`, `accountId` → `account_id`, one entry per
/// (arn, account, type), in the order the pipeline's `HashMap` of them gives.
fn resources(event: &Value, out: &mut Out) {
    let Some(pruned) = event.get("resources").and_then(java::prune) else { return };
    let Value::Array(items) = pruned else {
        out.set("aws.cloudtrail.resources", pruned);
        return;
    };
    let mut keys: Vec<String> = Vec::new();
    let mut unique: Vec<Map<String, Value>> = Vec::new();
    for item in items {
        let Value::Object(mut resource) = item else { continue };
        for (old, new) in [("ARN", "arn"), ("accountId", "account_id")] {
            if let Some(v) = resource.remove(old) {
                resource.insert(new.into(), v);
            }
        }
        let part =
            |k: &str| resource.get(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
        let key = ["arn", "account_id", "type"].map(|k| part(k).unwrap_or_default()).join("_");
        match keys.iter().position(|k| *k == key) {
            Some(at) => unique[at] = resource,
            None => {
                keys.push(key);
                unique.push(resource);
            }
        }
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let ordered: Vec<Value> =
        java::hash_map_order(&refs).into_iter().map(|i| Value::Object(unique[i].clone())).collect();
    out.set("aws.cloudtrail.resources", ordered);
}

/// `aws.cloudtrail.console_login.additional_eventdata.*` from a `ConsoleLogin`'s
/// `additionalEventData` (`"No"` is false, any other value true).
fn console_login(additional: Option<&Value>, out: &mut Out) {
    let Some(data) = additional else { return };
    let prefix = "aws.cloudtrail.console_login.additional_eventdata";
    if let Some(v) = present(data, &["MobileVersion"]) {
        out.set(&format!("{prefix}.mobile_version"), v != "No");
    }
    out.copy(&format!("{prefix}.login_to"), present(data, &["LoginTo"]));
    if let Some(v) = present(data, &["MFAUsed"]) {
        out.set(&format!("{prefix}.mfa_used"), v != "No");
    }
}

/// The value at `path`, unless it is absent, `null`, `""` or an object/array with nothing else.
pub(super) fn present<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    let found = path.iter().try_fold(value, |v, key| v.get(key))?;
    java::prune(found).is_some().then_some(found)
}

/// The non-empty string at `path`.
pub(super) fn text<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    present(value, path)?.as_str()
}

/// The fields being built, as nested objects addressed by dotted paths.
#[derive(Default)]
pub(super) struct Out(Map<String, Value>);

impl Out {
    /// Sets `path` (`a.b.c`) to `value`, creating the objects on the way.
    pub(super) fn set(&mut self, path: &str, value: impl Into<Value>) {
        let (parents, leaf) = path.rsplit_once('.').map_or((None, path), |(p, l)| (Some(p), l));
        let mut map = &mut self.0;
        for key in parents.into_iter().flat_map(|p| p.split('.')) {
            let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            map = slot.as_object_mut().expect("just made an object");
        }
        map.insert(leaf.to_string(), value.into());
    }

    /// Sets `path` to a copy of `value` when there is one.
    pub(super) fn copy(&mut self, path: &str, value: Option<&Value>) {
        if let Some(v) = value {
            self.set(path, v.clone());
        }
    }

    /// Sets `path` to the non-empty string at `from` in `event`, if any.
    pub(super) fn text(&mut self, path: &str, event: &Value, from: &[&str]) {
        if let Some(v) = text(event, from) {
            self.set(path, v);
        }
    }

    /// The value at `path`, if set.
    pub(super) fn get(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let first = self.0.get(parts.next()?)?;
        parts.try_fold(first, |v, key| v.get(key))
    }

    /// Appends `value` to the array at `path` unless it is already there.
    pub(super) fn push(&mut self, path: &str, value: &str) {
        let mut list = match self.get(path) {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        if !list.iter().any(|v| v == value) {
            list.push(value.into());
            self.set(path, list);
        }
    }

    /// The finished fields.
    pub(super) fn into_map(self) -> Map<String, Value> {
        self.0
    }
}
