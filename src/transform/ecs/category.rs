//! `event.outcome`, `event.type` and `event.category`, as the integration's pipeline sets them.
//!
//! - `event.outcome` is `failure` when the event has an `errorCode` or an `errorMessage`,
//!   `success` otherwise; for `ConsoleLogin`, the lower-cased `responseElements.ConsoleLogin`
//!   (`Success`/`Failure`) decides instead.
//! - `event.kind` is `event`; `event.type` is `["info"]` unless the event's name is one of the
//!   API calls the integration categorizes (below: mostly IAM), which then give both `type` and
//!   `category`. Every other call has no `event.category`, as with the integration; EQL rules
//!   such as `iam where …` rely on exactly this table.

use super::{present, text, Out};
use serde_json::Value;

/// ECS categories used by the table.
const IAM: &str = "iam";
const AUTH: &str = "authentication";
const FILE: &str = "file";

/// `(eventName, event.category, event.type)`.
const CATEGORIZED: &[(&str, &str, &[&str])] = &[
    ("AddUserToGroup", IAM, &["group", "change"]),
    ("AssumeRole", AUTH, &["info"]),
    ("AttachGroupPolicy", IAM, &["group", "change"]),
    ("AttachUserPolicy", IAM, &["user", "change"]),
    ("ChangePassword", IAM, &["user", "change"]),
    ("ConsoleLogin", AUTH, &["info"]),
    ("CreateAccessKey", IAM, &["user", "change"]),
    ("CreateBucket", FILE, &["creation"]),
    ("CreateGroup", IAM, &["group", "creation"]),
    ("CreateKeyPair", IAM, &["admin", "creation"]),
    ("CreateUser", IAM, &["user", "creation"]),
    ("CreateVirtualMFADevice", IAM, &["user", "change"]),
    ("DeactivateMFADevice", IAM, &["user", "change"]),
    ("DeleteAccessKey", IAM, &["user", "change"]),
    ("DeleteBucket", FILE, &["deletion"]),
    ("DeleteGroup", IAM, &["group", "deletion"]),
    ("DeleteGroupPolicy", IAM, &["group", "change"]),
    ("DeleteSSHPublicKey", IAM, &["user", "change"]),
    ("DeleteUser", IAM, &["user", "deletion"]),
    ("DeleteUserPermissionsBoundary", IAM, &["user", "change"]),
    ("DeleteUserPolicy", IAM, &["user", "change"]),
    ("DeleteVirtualMFADevice", IAM, &["user", "change"]),
    ("DetachGroupPolicy", IAM, &["group", "change"]),
    ("DetachUserPolicy", IAM, &["user", "change"]),
    ("EnableMFADevice", IAM, &["user", "change"]),
    ("GetGroup", IAM, &["group", "info"]),
    ("GetGroupPolicy", IAM, &["group", "info"]),
    ("GetUser", IAM, &["user", "info"]),
    ("GetUserPolicy", IAM, &["user", "info"]),
    ("ListAttachedGroupPolicies", IAM, &["group", "info"]),
    ("ListAttachedUserPolicies", IAM, &["user", "info"]),
    ("ListGroupPolicies", IAM, &["group", "info"]),
    ("ListGroups", IAM, &["group", "info"]),
    ("ListGroupsForUser", IAM, &["user", "info"]),
    ("ListUserPolicies", IAM, &["user", "info"]),
    ("ListUserTags", IAM, &["user", "info"]),
    ("ListUsers", IAM, &["user", "info"]),
    ("PutGroupPolicy", IAM, &["group", "change"]),
    ("PutUserPermissionsBoundary", IAM, &["user", "change"]),
    ("PutUserPolicy", IAM, &["user", "change"]),
    ("RemoveUserFromGroup", IAM, &["group", "change"]),
    ("SetDefaultPolicyVersion", IAM, &["admin", "change"]),
    ("SetSecurityTokenServicePreferences", IAM, &["admin", "change"]),
    ("TagUser", IAM, &["user", "change"]),
    ("UntagUser", IAM, &["user", "change"]),
    ("UpdateAccessKey", IAM, &["user", "change"]),
    ("UpdateAccountPasswordPolicy", IAM, &["admin", "change"]),
    ("UpdateGroup", IAM, &["group", "change"]),
    ("UpdateLoginProfile", IAM, &["user", "change"]),
    ("UpdateRole", IAM, &["admin", "change"]),
    ("UpdateSSHPublicKey", IAM, &["user", "change"]),
    ("UpdateUser", IAM, &["user", "change"]),
];

/// `success` or `failure` (or, for `ConsoleLogin`, what the response says, lower-cased).
pub(super) fn outcome(event: &Value) -> String {
    if text(event, &["eventName"]) == Some("ConsoleLogin") {
        if let Some(result) = text(event, &["responseElements", "ConsoleLogin"]) {
            return result.to_lowercase();
        }
    }
    let failed = present(event, &["errorCode"]).is_some() || present(event, &["errorMessage"]).is_some();
    if failed { "failure" } else { "success" }.to_string()
}

/// `event.kind`, `event.outcome`, `event.type` and (for the table's calls) `event.category`.
pub(super) fn categorize(event: &Value, out: &mut Out) {
    out.set("event.kind", "event");
    out.set("event.outcome", outcome(event));
    let name = text(event, &["eventName"]);
    match CATEGORIZED.iter().find(|(call, _, _)| Some(*call) == name) {
        Some((_, category, types)) => {
            out.set("event.category", vec![*category]);
            out.set("event.type", types.to_vec());
        }
        None => out.set("event.type", vec!["info"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_fail_and_console_login_says_itself() {
        assert_eq!(outcome(&json!({"eventName": "StopLogging"})), "success");
        assert_eq!(
            outcome(&json!({"eventName": "StopLogging", "errorCode": null, "errorMessage": ""})),
            "success"
        );
        assert_eq!(outcome(&json!({"eventName": "StopLogging", "errorCode": "AccessDenied"})), "failure");
        assert_eq!(outcome(&json!({"eventName": "GetObject", "errorMessage": "Access Denied"})), "failure");
        let login = |r: &str| json!({"eventName": "ConsoleLogin", "errorMessage": "x", "responseElements": {"ConsoleLogin": r}});
        assert_eq!(outcome(&login("Success")), "success");
        assert_eq!(outcome(&login("Failure")), "failure");
    }

    #[test]
    fn the_table_gives_category_and_type_and_the_rest_is_info() {
        let mut out = Out::default();
        categorize(&json!({"eventName": "AttachUserPolicy"}), &mut out);
        let fields = Value::Object(out.into_map());
        assert_eq!(fields["event"]["category"], json!(["iam"]));
        assert_eq!(fields["event"]["type"], json!(["user", "change"]));
        let mut out = Out::default();
        categorize(&json!({"eventName": "DeleteTrail"}), &mut out);
        let fields = Value::Object(out.into_map());
        assert_eq!(fields["event"]["type"], json!(["info"]));
        assert!(fields["event"].get("category").is_none());
        assert!(CATEGORIZED.windows(2).all(|w| w[0].0 < w[1].0), "sorted, no duplicates");
    }
}
