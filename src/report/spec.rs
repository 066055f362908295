//! What a report counts, defined once for both ways of computing it: from files (`aggregate.rs`,
//! a predicate per scope on the fields the transform notes) and from a cluster (`cluster.rs`, the
//! same scope as a query, each table as a `terms` or `multi_terms` aggregation). Keeping the two
//! side by side here is what keeps their numbers equal (tested on the corpus on both engines).

use serde_json::{json, Value};

/// The fields the report reads, by [`F`] index (dotted paths, also the indexed field names).
pub const FIELDS: &[&str] = &[
    "eventName",
    "eventSource",
    "awsRegion",
    "recipientAccountId",
    "userIdentity.type",
    "userIdentity.arn",
    "userIdentity.accessKeyId",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "readOnly",
    "eventType",
    "responseElements.ConsoleLogin",
    "additionalEventData.MFAUsed",
];

/// Where a launch or creation names what it made, in this order of preference (read for the
/// launches alone, by a walk of their own: the objects that hold them are large and only
/// launches need them).
pub const RESOURCES: &[&str] = &[
    "responseElements.instancesSet.items.*.instanceId",
    "requestParameters.bucketName",
    "requestParameters.userName",
    "requestParameters.roleName",
    "requestParameters.functionName",
    "requestParameters.dBInstanceIdentifier",
    "requestParameters.stackName",
    "requestParameters.groupName",
    "requestParameters.keyName",
    "requestParameters.name",
    "requestParameters.vpcId",
];

/// A field of [`FIELDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum F {
    /// `eventName`.
    EventName,
    /// `eventSource`.
    EventSource,
    /// `awsRegion`.
    Region,
    /// `recipientAccountId`.
    Account,
    /// `userIdentity.type`.
    IdentityType,
    /// `userIdentity.arn`: "the principal" everywhere in the report.
    Arn,
    /// `userIdentity.accessKeyId`.
    AccessKey,
    /// `sourceIPAddress`.
    SourceIp,
    /// `userAgent`.
    UserAgent,
    /// `errorCode`.
    ErrorCode,
    /// `readOnly`.
    ReadOnly,
    /// `eventType`.
    EventType,
    /// `responseElements.ConsoleLogin`.
    ConsoleLogin,
    /// `additionalEventData.MFAUsed`.
    MfaUsed,
}

impl F {
    /// The field's name.
    pub fn name(self) -> &'static str {
        FIELDS[self as usize]
    }
}

/// Calls whose name starts with one of these read without changing anything; an event without
/// `readOnly` counts as a write unless its name starts so (or it is a sign-in).
pub const READ_PREFIXES: &[&str] = &[
    "Get", "List", "Describe", "Head", "Lookup", "Search", "View", "Check", "Preview", "Estimate", "Scan",
    "Query",
];

/// `errorCode`s holding one of these are refusals for want of permission.
pub const DENIED: &[&str] = &["AccessDenied", "UnauthorizedOperation"];

/// The default resource launches and creations listed with who, when, where from.
pub const LAUNCH_EVENTS: &[&str] = &[
    "RunInstances",
    "CreateBucket",
    "CreateUser",
    "CreateRole",
    "CreateAccessKey",
    "CreateLoginProfile",
    "CreateFunction20150331",
    "CreateDBInstance",
    "CreateStack",
    "CreateVpc",
    "CreateSecurityGroup",
    "CreateKeyPair",
    "CreateSecret",
    "CreateTrail",
];

/// Which events a count or table is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every event.
    All,
    /// Console operations (the `--console-only` rule).
    Console,
    /// Calls that change something (see [`READ_PREFIXES`]).
    Write,
    /// Console operations that change something: the automation candidates.
    ConsoleWrite,
    /// The "who did what" tables: writes, or every call with the reads included.
    Activity,
    /// `ConsoleLogin` events.
    SignIn,
    /// Sign-ins that succeeded.
    SignInSuccess,
    /// Sign-ins that failed.
    SignInFailed,
    /// Successful sign-ins without MFA.
    SignInNoMfa,
    /// The root user's calls.
    Root,
    /// Calls with an `errorCode`.
    Error,
    /// Calls refused for want of permission ([`DENIED`]).
    Denied,
    /// Calls from an address (not an AWS service's name).
    Caller,
    /// Calls made by AWS itself (`AWS Internal`, `*.amazonaws.com`).
    Internal,
    /// The launches and creations listed.
    Launch,
}

/// Every scope, in the order of the report's `counts`.
pub const SCOPES: &[(Scope, &str)] = &[
    (Scope::All, "events"),
    (Scope::Console, "console"),
    (Scope::Write, "writes"),
    (Scope::ConsoleWrite, "console_writes"),
    (Scope::Activity, "activity"),
    (Scope::SignIn, "sign_ins"),
    (Scope::SignInSuccess, "sign_ins_succeeded"),
    (Scope::SignInFailed, "sign_ins_failed"),
    (Scope::SignInNoMfa, "sign_ins_without_mfa"),
    (Scope::Root, "root"),
    (Scope::Error, "errors"),
    (Scope::Denied, "access_denied"),
    (Scope::Caller, "from_addresses"),
    (Scope::Internal, "from_aws"),
    (Scope::Launch, "launches"),
];

/// How a table's rows are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// The most frequent first (ties: by key).
    Count,
    /// The latest first seen first (ties: by key).
    FirstSeen,
}

/// One table: the events of `scope`, counted by the values of `dims` (events missing one are not
/// counted), its `rows` first rows by `order` and the rest as "others".
#[derive(Debug)]
pub struct TableSpec {
    /// The id in the JSON.
    pub id: &'static str,
    /// Which events.
    pub scope: Scope,
    /// Counted by.
    pub dims: &'static [F],
    /// Rows shown.
    pub rows: usize,
    /// Which rows.
    pub order: Order,
    /// For a table of one field: events without it are counted under this key (so that a pie
    /// adds up to its scope), instead of not at all.
    pub missing: Option<&'static str>,
}

const fn t(id: &'static str, scope: Scope, dims: &'static [F], rows: usize) -> TableSpec {
    TableSpec { id, scope, dims, rows, order: Order::Count, missing: None }
}

const fn first(id: &'static str, scope: Scope, dims: &'static [F]) -> TableSpec {
    TableSpec { id, scope, dims, rows: 20, order: Order::FirstSeen, missing: None }
}

const fn pie(id: &'static str, dim: &'static [F], missing: &'static str) -> TableSpec {
    TableSpec { id, scope: Scope::Console, dims: dim, rows: 10, order: Order::Count, missing: Some(missing) }
}

/// Every table of a report.
pub const TABLES: &[TableSpec] = &[
    t("accounts", Scope::All, &[F::Account], 10),
    t("regions", Scope::All, &[F::Region], 10),
    t("source_ips", Scope::Caller, &[F::SourceIp], 15),
    t("aws_callers", Scope::Internal, &[F::SourceIp], 10),
    t("principals", Scope::All, &[F::Arn], 15),
    pie("console_actions", &[F::EventName], "(no eventName)"),
    pie("console_users", &[F::Arn], "(no userIdentity.arn)"),
    t("console_writes", Scope::ConsoleWrite, &[F::Arn, F::EventName], 25),
    t("activity_principals", Scope::Activity, &[F::Arn], 15),
    t("activity", Scope::Activity, &[F::Arn, F::EventSource, F::EventName], 60),
    t("sign_in_users", Scope::SignIn, &[F::Arn], 10),
    t("sign_in_ips", Scope::SignIn, &[F::SourceIp], 10),
    t("sign_in_failed_users", Scope::SignInFailed, &[F::Arn], 10),
    t("sign_in_failed_ips", Scope::SignInFailed, &[F::SourceIp], 10),
    t("sign_in_without_mfa_users", Scope::SignInNoMfa, &[F::Arn], 10),
    t("root_actions", Scope::Root, &[F::EventName], 10),
    t("root_ips", Scope::Root, &[F::SourceIp], 10),
    t("error_codes", Scope::Error, &[F::ErrorCode], 10),
    t("errors", Scope::Error, &[F::Arn, F::EventName, F::ErrorCode], 20),
    t("access_denied", Scope::Denied, &[F::Arn, F::EventName], 20),
    first("new_principals", Scope::All, &[F::Arn]),
    first("new_access_keys", Scope::All, &[F::AccessKey]),
    first("new_ips", Scope::Caller, &[F::SourceIp]),
];

/// Distinct values counted (exact up to a bound: see `distinct.rs`): the distinct keys of a
/// table of one field, whose scope they share (from a cluster they are counted by paging through
/// that table's keys).
pub const DISTINCT: &[(&str, F, &str)] = &[
    ("accounts", F::Account, "accounts"),
    ("regions", F::Region, "regions"),
    ("principals", F::Arn, "new_principals"),
    ("access_keys", F::AccessKey, "new_access_keys"),
    ("ips", F::SourceIp, "new_ips"),
];

/// Whether `source` names AWS itself rather than an address.
pub fn is_internal(source: &str) -> bool {
    source == "AWS Internal" || source.ends_with(".amazonaws.com")
}

/// Whether an `errorCode` is a refusal for want of permission.
pub fn is_denied(code: &str) -> bool {
    DENIED.iter().any(|d| code.contains(d))
}

/// The query selecting `scope`'s events on the indexed documents (the same predicates as
/// `aggregate.rs`); `console` is the console rule's query.
pub fn scope_query(scope: Scope, with_reads: bool, launches: &[String], console: &Value) -> Value {
    let term = |f: F, v: &str| json!({"term": {f.name(): v}});
    let exists = |f: F| json!({"exists": {"field": f.name()}});
    let and = |a: Vec<Value>| json!({"bool": {"filter": a}});
    match scope {
        Scope::All => json!({"match_all": {}}),
        Scope::Console => console.clone(),
        Scope::Write => {
            let mut not = vec![exists(F::ReadOnly), term(F::EventType, "AwsConsoleSignIn")];
            not.extend(READ_PREFIXES.iter().map(|p| json!({"prefix": {F::EventName.name(): p}})));
            json!({"bool": {"should": [
                {"term": {F::ReadOnly.name(): false}},
                {"bool": {"filter": [exists(F::EventName)], "must_not": not}}
            ], "minimum_should_match": 1}})
        }
        Scope::ConsoleWrite => {
            and(vec![console.clone(), scope_query(Scope::Write, false, launches, console)])
        }
        Scope::Activity if with_reads => scope_query(Scope::All, false, launches, console),
        Scope::Activity => scope_query(Scope::Write, false, launches, console),
        Scope::SignIn => term(F::EventName, "ConsoleLogin"),
        Scope::SignInSuccess => {
            and(vec![term(F::EventName, "ConsoleLogin"), term(F::ConsoleLogin, "Success")])
        }
        Scope::SignInFailed => {
            and(vec![term(F::EventName, "ConsoleLogin"), term(F::ConsoleLogin, "Failure")])
        }
        Scope::SignInNoMfa => and(vec![
            term(F::EventName, "ConsoleLogin"),
            term(F::ConsoleLogin, "Success"),
            term(F::MfaUsed, "No"),
        ]),
        Scope::Root => term(F::IdentityType, "Root"),
        Scope::Error => exists(F::ErrorCode),
        Scope::Denied => {
            let any: Vec<Value> = DENIED
                .iter()
                .map(|d| json!({"wildcard": {F::ErrorCode.name(): {"value": format!("*{d}*")}}}))
                .collect();
            json!({"bool": {"should": any, "minimum_should_match": 1}})
        }
        Scope::Internal => json!({"bool": {"should": [
            term(F::SourceIp, "AWS Internal"),
            {"regexp": {F::SourceIp.name(): ".*\\.amazonaws\\.com"}}
        ], "minimum_should_match": 1}}),
        Scope::Caller => json!({"bool": {
            "filter": [exists(F::SourceIp)],
            "must_not": [scope_query(Scope::Internal, false, launches, console)]
        }}),
        Scope::Launch => json!({"terms": {F::EventName.name(): launches}}),
    }
}
