//! `related.entity`: the identifiers of the principals and resources an event involves (ARNs,
//! principal IDs, user, role and policy names, access key IDs), which entity analytics and some
//! prebuilt rules read (`not related.entity: arn\:aws\:iam\:\:aws\:policy*`).
//!
//! The integration fills it from the identity of every event and, for a list of calls, from
//! their request and response; this is that identity part and the calls of the IAM, STS, sign-in
//! and CloudTrail services. Other services' calls (EC2, S3, KMS…) only get the identity part.

use super::{text, Out};
use serde_json::Value;

/// Paths read for every event.
const ALWAYS: &[&[&str]] = &[
    &["userIdentity", "arn"],
    &["userIdentity", "identityProvider"],
    &["userIdentity", "principalId"],
    &["userIdentity", "sessionContext", "sessionIssuer", "arn"],
    &["userIdentity", "sessionContext", "sessionIssuer", "userName"],
    &["userIdentity", "sessionContext", "webIdFederationData", "federatedProvider"],
    &["userIdentity", "userName"],
];

const REQ: &str = "requestParameters";
const RESP: &str = "responseElements";

/// `(eventName, paths)` for the calls whose request or response names entities.
const BY_CALL: &[(&str, &[&[&str]])] = &[
    (
        "AssumeRole",
        &[
            &["additionalEventData", "MFAIdentifier"],
            &[REQ, "roleArn"],
            &[RESP, "assumedRoleUser", "arn"],
            &[REQ, "roleSessionName"],
            &["sourceIdentity"],
        ],
    ),
    ("AttachRolePolicy", &[&[REQ, "policyArn"], &[REQ, "roleName"]]),
    ("ConsoleLogin", &[&["additionalEventData", "MFAIdentifier"]]),
    (
        "CreateAccessKey",
        &[&[REQ, "userName"], &[RESP, "accessKey", "userName"], &[RESP, "accessKey", "accessKeyId"]],
    ),
    ("CreateRole", &[&[RESP, "role", "arn"], &[REQ, "roleName"]]),
    ("CreateUser", &[&[RESP, "user", "arn"], &[RESP, "user", "userName"], &[RESP, "user", "userId"]]),
    ("DeleteAccessKey", &[&[REQ, "userName"], &[REQ, "accessKeyId"]]),
    ("DeleteRole", &[&[REQ, "roleName"]]),
    ("DeleteTrail", &[&[REQ, "name"]]),
    ("DeleteUser", &[&[REQ, "userName"]]),
    ("DeleteUserPolicy", &[&[REQ, "userName"], &[REQ, "policyName"]]),
    ("DetachRolePolicy", &[&[REQ, "policyArn"], &[REQ, "roleName"]]),
    ("GetSessionToken", &[&[RESP, "accessKeyId"]]),
    ("PutUserPolicy", &[&[REQ, "userName"], &[REQ, "policyName"]]),
    ("StopLogging", &[&[REQ, "name"]]),
    ("UpdateAccessKey", &[&[REQ, "userName"], &[REQ, "accessKeyId"]]),
];

/// Fills `related.entity`.
pub(super) fn related(event: &Value, out: &mut Out) {
    let name = text(event, &["eventName"]);
    let extra = BY_CALL.iter().find(|(call, _)| Some(*call) == name).map_or(&[][..], |(_, paths)| *paths);
    for path in ALWAYS.iter().chain(extra) {
        if let Some(v) = text(event, path) {
            out.push("related.entity", v);
        }
    }
    if let Some(Value::Array(resources)) = event.get("resources") {
        for arn in resources.iter().filter_map(|r| text(r, &["ARN"])) {
            out.push("related.entity", arn);
        }
    }
}
