//! What the rule checks are written with: readers of raw CloudTrail fields (to decide which
//! events should trigger a rule without looking at any ECS field) and query DSL builders (to
//! write each rule's KQL as the query it stands for).

use serde_json::{json, Value};

/// The non-empty string at a dotted path of a raw event.
pub fn s<'e>(e: &'e Value, path: &str) -> Option<&'e str> {
    path.split('.').try_fold(e, |v, k| v.get(k))?.as_str().filter(|t| !t.is_empty())
}

/// Every scalar at a dotted path, through arrays, as text (what a flattened field indexes).
pub fn values(e: &Value, path: &str) -> Vec<String> {
    let mut level = vec![e];
    for key in path.split('.') {
        level = level
            .iter()
            .filter_map(|v| v.get(key))
            .flat_map(|v| v.as_array().map_or(vec![v], |a| a.iter().collect()))
            .collect();
    }
    level
        .into_iter()
        .filter(|v| !v.is_null())
        .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
        .collect()
}

/// CloudTrail's own reading of success: no error code or message (`null`, `""` are none); a
/// console sign-in says it in its response.
pub fn succeeded(e: &Value) -> bool {
    match (s(e, "eventName"), s(e, "responseElements.ConsoleLogin")) {
        (Some("ConsoleLogin"), Some(result)) => result == "Success",
        _ => ["errorCode", "errorMessage"].iter().all(|k| e.get(k).is_none_or(|v| v.is_null() || v == "")),
    }
}

/// A call of one of `names` to `source`, whatever its outcome.
pub fn call(e: &Value, source: &str, names: &[&str]) -> bool {
    s(e, "eventSource") == Some(source) && s(e, "eventName").is_some_and(|n| names.contains(&n))
}

/// A successful call.
pub fn called(e: &Value, source: &str, names: &[&str]) -> bool {
    call(e, source, names) && succeeded(e)
}

pub fn identity(e: &Value) -> Option<&str> {
    s(e, "userIdentity.type")
}

pub fn from_cfn_or_service_catalog(e: &Value) -> bool {
    matches!(s(e, "sourceIPAddress"), Some("cloudformation.amazonaws.com" | "servicecatalog.amazonaws.com"))
}

/// Neither the user agent nor the caller's ARN names an infrastructure-as-code tool.
pub fn iac_free(e: &Value) -> bool {
    ["userAgent", "userIdentity.arn"]
        .iter()
        .all(|f| !s(e, f).is_some_and(|v| IAC.iter().any(|t| v.contains(t))))
}

pub fn term(field: &str, value: impl Into<Value>) -> Value {
    json!({"term": {field: value.into()}})
}

pub fn terms(field: &str, values: &[&str]) -> Value {
    json!({"terms": {field: values}})
}

pub fn wildcard(field: &str, pattern: &str) -> Value {
    json!({"wildcard": {field: {"value": pattern}}})
}

pub fn exists(field: &str) -> Value {
    json!({"exists": {"field": field}})
}

pub fn any(queries: Vec<Value>) -> Value {
    json!({"bool": {"should": queries}})
}

/// `data_stream.dataset: aws.cloudtrail and event.provider: P and event.action: (A or …)`,
/// `event.outcome: O` when given, `and` each of `more`, `and not` each of `not`.
pub fn query(
    provider: &str,
    actions: &[&str],
    outcome: Option<&str>,
    more: Vec<Value>,
    not: Vec<Value>,
) -> Value {
    let mut filter = vec![
        term("data_stream.dataset", "aws.cloudtrail"),
        term("event.provider", provider),
        terms("event.action", actions),
    ];
    filter.extend(outcome.map(|o| term("event.outcome", o)));
    filter.extend(more);
    json!({"bool": {"filter": filter, "must_not": not}})
}

/// The common case: successful calls, with extra conditions.
pub fn success(provider: &str, actions: &[&str], more: Vec<Value>, not: Vec<Value>) -> Value {
    query(provider, actions, Some("success"), more, not)
}

pub const CT: &str = "cloudtrail.amazonaws.com";
pub const EC2: &str = "ec2.amazonaws.com";
pub const IAM: &str = "iam.amazonaws.com";
pub const STS: &str = "sts.amazonaws.com";
pub const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
pub const IAC: &[&str] = &["terraform", "pulumi", "ansible"];
pub const CFN_OR_CATALOG: &[&str] = &["cloudformation.amazonaws.com", "servicecatalog.amazonaws.com"];
pub const ASSUMING_SERVICES: &[&str] = &[
    "ec2.amazonaws.com",
    "lambda.amazonaws.com",
    "rds.amazonaws.com",
    "ssm.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "ecs.amazonaws.com",
    "eks.amazonaws.com",
    "eks-fargate.amazonaws.com",
    "codepipeline.amazonaws.com",
    "codebuild.amazonaws.com",
    "autoscaling.amazonaws.com",
];
pub const USER_DATA_READERS: &[&str] = &[
    "AWS Internal",
    "cloudformation.amazonaws.com",
    "aidevops.amazonaws.com",
    "elasticmapreduce.amazonaws.com",
    "aiops.amazonaws.com",
];
pub const OPEN: &[&str] = &["0.0.0.0/0", "::/0"];
pub const REMOTE_PORTS: &[&str] = &["21", "22", "23", "445", "3389", "5985", "5986"];
pub const FLAT: &str = "aws.cloudtrail.flattened.request_parameters";

pub fn no_iac(field: &str) -> Value {
    any(IAC.iter().map(|t| wildcard(field, &format!("*{t}*"))).collect())
}
