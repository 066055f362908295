//! Who made the call (`user.*`, `aws.cloudtrail.user_identity.*`, `cloud.account.id`) and whom it
//! names (`user.target.*`, `user.changes.name`, `group.*`), plus `related.user`.
//!
//! `user.name` is the acting principal, which is what the prebuilt rules compare and count:
//!
//! | `userIdentity.type` | `user.name` | `user.id` |
//! |---|---|---|
//! | `IAMUser` (and `SAMLUser`, `WebIdentityUser`, `Unknown`…) | `userName` | `principalId` |
//! | `AssumedRole` | the role: `sessionContext.sessionIssuer.userName` | `principalId` (`AROA…:session`) |
//! | `FederatedUser` | the IAM user who federated: `sessionIssuer.userName` | `principalId` |
//! | `Root` | `userName` if any, else `root` | `principalId` (the account) |
//! | `AWSService` | the service: `invokedBy` | — |
//! | `AWSAccount` | `userName` if any, else the calling `accountId` | `principalId` |
//! | `IdentityCenterUser` | `userName` if any, else `onBehalfOf.userId` | `onBehalfOf.userId` |
//!
//! When the preferred field is missing, the name comes from the ARN (`user/NAME`,
//! `assumed-role/ROLE/…`, `federated-user/NAME`, `root`), then from `invokedBy`. The integration
//! agrees on the first three rows; it leaves `user.name` empty for the others, which we fill so
//! that every event has an actor. A session's own name (the ARN's last part: an email address
//! for IAM Identity Center sessions, an instance ID for EC2 roles) goes to `related.user`, with
//! the part before `@` and `user.email` when it is an email address; `onBehalfOf.userId` (IAM
//! Identity Center, since 2025 in place of `userName`/`principalId`) goes to `related.user` and
//! `aws.cloudtrail.user_identity.on_behalf_of.*`.

use super::{present, text, Out};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The identity fields of `event`.
pub(super) fn identity(event: &Value, out: &mut Out) {
    let Some(ui) = event.get("userIdentity").filter(|v| v.is_object()) else { return };
    let kind = text(ui, &["type"]);
    let issuer = |key: &str| text(ui, &["sessionContext", "sessionIssuer", key]);
    let base = "aws.cloudtrail.user_identity";
    out.text(&format!("{base}.type"), ui, &["type"]);
    out.text(&format!("{base}.arn"), ui, &["arn"]);
    out.text(&format!("{base}.access_key_id"), ui, &["accessKeyId"]);
    out.text(&format!("{base}.invoked_by"), ui, &["invokedBy"]);
    let context = format!("{base}.session_context");
    out.copy(
        &format!("{context}.mfa_authenticated"),
        present(ui, &["sessionContext", "attributes", "mfaAuthenticated"]),
    );
    if let Some(date) = text(ui, &["sessionContext", "attributes", "creationDate"]).and_then(iso_date) {
        out.set(&format!("{context}.creation_date"), date);
    }
    for (from, to) in
        [("type", "type"), ("principalId", "principal_id"), ("arn", "arn"), ("accountId", "account_id")]
    {
        if let Some(v) = issuer(from) {
            out.set(&format!("{context}.session_issuer.{to}"), v);
        }
    }
    let on_behalf = text(ui, &["onBehalfOf", "userId"]);
    out.text(&format!("{base}.on_behalf_of.user_id"), ui, &["onBehalfOf", "userId"]);
    out.text(&format!("{base}.on_behalf_of.identity_store_arn"), ui, &["onBehalfOf", "identityStoreArn"]);
    out.text("cloud.account.id", ui, &["accountId"]);

    let own = text(ui, &["userName"]);
    let arn = text(ui, &["arn"]);
    let name = match kind {
        Some("AssumedRole" | "FederatedUser") => issuer("userName").or_else(|| arn.and_then(arn_name)),
        Some("Root") => own.or(Some("root")),
        Some("IdentityCenterUser") => own.or(on_behalf),
        Some("AWSService") => text(ui, &["invokedBy"]).or(own),
        Some("AWSAccount") => own.or_else(|| text(ui, &["accountId"])),
        _ => own
            .or_else(|| issuer("userName"))
            .or_else(|| arn.and_then(arn_name))
            .or_else(|| text(ui, &["invokedBy"])),
    };
    let id = text(ui, &["principalId"]).or(on_behalf);
    if let Some(own) = own {
        out.push("related.user", own);
    }
    if let Some(name) = name {
        out.set("user.name", name);
        out.push("related.user", name);
    }
    if let Some(id) = id {
        out.set("user.id", id);
        out.push("related.user", id);
    }
    if let Some(user) = on_behalf {
        out.push("related.user", user);
    }
    if matches!(kind, Some("AssumedRole" | "FederatedUser")) {
        if let Some(session) = arn.and_then(session_name) {
            out.push("related.user", session);
            if let Some((local, _)) = session.split_once('@') {
                out.push("related.user", local);
                out.set("user.email", session);
            }
        }
    }
}

/// The principals the call names, from the (pruned) request and response: the integration's
/// `user.target.name` (`requestParameters.userName`: `CreateUser`, `CreateAccessKey` and
/// `AttachUserPolicy` for a user…), `user.target.id` (`CreateUser`'s new user ID),
/// `user.changes.name` (`UpdateUser`'s `newUserName`) and `group.{name,id}`.
pub(super) fn targets(request: Option<&Value>, response: Option<&Value>, out: &mut Out) {
    let req = |key: &str| request.and_then(|r| text(r, &[key]));
    if let Some(target) = req("userName") {
        out.set("user.target.name", target);
        out.push("related.user", target);
    }
    if let Some(renamed) = req("newUserName") {
        out.set("user.changes.name", renamed);
        out.push("related.user", renamed);
    }
    if let Some(group) = req("groupName") {
        out.set("group.name", group);
    }
    if let Some(id) = response.and_then(|r| text(r, &["user", "userId"])) {
        out.set("user.target.id", id);
    }
    if let Some(id) = response.and_then(|r| text(r, &["group", "groupId"])) {
        out.set("group.id", id);
    }
}

/// The resource part of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`).
fn arn_resource(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next() == Some("arn")).then_some(())?;
    parts.nth(4)
}

/// The principal an ARN names: `root`, an IAM user's or role's name, an assumed role's role, a
/// federated user's name.
fn arn_name(arn: &str) -> Option<&str> {
    let resource = arn_resource(arn)?;
    if resource == "root" {
        return Some("root");
    }
    let (kind, rest) = resource.split_once('/')?;
    let name = match kind {
        "assumed-role" => rest.split('/').next(),
        _ => rest.rsplit('/').next(),
    };
    name.filter(|n| !n.is_empty())
}

/// A session's own name: the last part of `assumed-role/ROLE/SESSION` or `federated-user/NAME`.
fn session_name(arn: &str) -> Option<&str> {
    let (kind, rest) = arn_resource(arn)?.split_once('/')?;
    match kind {
        "assumed-role" => rest.split_once('/').map(|(_, session)| session),
        "federated-user" => Some(rest),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

/// An ISO-8601 time as the pipeline's date processor writes it (`2019-10-02T21:50:54.000Z`), or
/// `None` for anything else (CloudTrail's 2013 samples wrote `20131102T010628Z`).
fn iso_date(text: &str) -> Option<String> {
    let t = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
    Some(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_their_principal() {
        assert_eq!(arn_name("arn:aws:iam::123456789012:root"), Some("root"));
        assert_eq!(arn_name("arn:aws:iam::123456789012:user/division/Alice"), Some("Alice"));
        assert_eq!(arn_name("arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com"), Some("Admin"));
        assert_eq!(arn_name("arn:aws-us-gov:sts::123456789012:federated-user/bob"), Some("bob"));
        assert_eq!(arn_name("not an arn"), None);
        assert_eq!(session_name("arn:aws:sts::1:assumed-role/Admin/i-0abc"), Some("i-0abc"));
        assert_eq!(session_name("arn:aws:iam::1:user/Alice"), None);
    }

    #[test]
    fn session_dates_are_normalized_or_dropped() {
        assert_eq!(iso_date("2019-10-02T21:50:54Z").as_deref(), Some("2019-10-02T21:50:54.000Z"));
        assert_eq!(iso_date("2024-01-01T01:30:00.5+02:00").as_deref(), Some("2023-12-31T23:30:00.500Z"));
        assert_eq!(iso_date("20131102T010628Z"), None);
    }
}
