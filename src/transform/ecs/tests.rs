//! `ecs_fields` on real events, one or more per identity type, each ECS value checked against
//! the source event. Events are from the shared corpus (Invictus IR / Stratus Red Team,
//! TrailDiscover, trailscraper, OTRF) trimmed to the fields that matter; the identity types the
//! corpus lacks (Root, AWSAccount, IdentityCenterUser, SAMLUser, WebIdentityUser) use the
//! `userIdentity` examples of AWS's CloudTrail and IAM documentation.

use super::ecs_fields;
use crate::transform::{Preset, Transform, TransformSpec};
use serde_json::{json, Value};

/// The ECS fields of `raw`, and `raw` parsed.
fn ecs(raw: &str) -> (Value, Value) {
    let event: Value = serde_json::from_str(raw).expect("test event is JSON");
    (Value::Object(ecs_fields(&event, "default")), event)
}

/// The field at a dotted path (`Value::Null` when absent).
fn at<'v>(v: &'v Value, path: &str) -> &'v Value {
    path.split('.').fold(v, |v, key| v.get(key).unwrap_or(&Value::Null))
}

fn related_users(f: &Value) -> Vec<&str> {
    at(f, "related.user").as_array().map_or(vec![], |a| a.iter().filter_map(Value::as_str).collect())
}

const IAM_USER_CREATE_ACCESS_KEY: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDATFQR7NSC5AU2ZV3IE","arn":"arn:aws:iam::123837392027:user/bert-jan","accountId":"123837392027","accessKeyId":"AKIATFQR7NSC8Q4X20BJ","userName":"bert-jan"},"eventTime":"2023-07-10T12:24:29Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"192.168.10.20","userAgent":"stratus-red-team_61e3765a-ab18-4da8-b5ac-4ec10986ed4b","requestParameters":{"userName":"stratus-red-team-backdoor-u-user"},"responseElements":{"accessKey":{"accessKeyId":"AKIATFQR7NSC3ZO6PKAZ","status":"Active","userName":"stratus-red-team-backdoor-u-user","createDate":"Jul 10, 2023 12:24:29 PM"}},"requestID":"6e516ef1-9cd8-47ad-b467-3f672af5d137","eventID":"64b7de64-bf53-47ae-b7e3-d30cb1b5136e","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123837392027","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.2","cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","clientProvidedHostHeader":"iam.amazonaws.com"}}"#;

#[test]
fn iam_user_creating_an_access_key_for_another_user() {
    let (f, e) = ecs(IAM_USER_CREATE_ACCESS_KEY);
    let ui = &e["userIdentity"];
    assert_eq!(at(&f, "user.name"), &ui["userName"]);
    assert_eq!(at(&f, "user.id"), &ui["principalId"]);
    assert_eq!(at(&f, "cloud.account.id"), &ui["accountId"]);
    assert_eq!(at(&f, "aws.cloudtrail.user_identity.type"), "IAMUser");
    assert_eq!(at(&f, "aws.cloudtrail.user_identity.arn"), &ui["arn"]);
    assert_eq!(at(&f, "aws.cloudtrail.user_identity.access_key_id"), &ui["accessKeyId"]);
    assert_eq!(at(&f, "user.target.name"), &e["requestParameters"]["userName"]);
    assert_eq!(related_users(&f), ["bert-jan", "AIDATFQR7NSC5AU2ZV3IE", "stratus-red-team-backdoor-u-user"]);
    for (ecs, source) in [
        ("event.id", "eventID"),
        ("event.provider", "eventSource"),
        ("event.action", "eventName"),
        ("cloud.region", "awsRegion"),
        ("source.address", "sourceIPAddress"),
        ("source.ip", "sourceIPAddress"),
        ("user_agent.original", "userAgent"),
        ("aws.cloudtrail.request_id", "requestID"),
        ("aws.cloudtrail.event_type", "eventType"),
        ("aws.cloudtrail.event_version", "eventVersion"),
        ("aws.cloudtrail.event_category", "eventCategory"),
        ("aws.cloudtrail.recipient_account_id", "recipientAccountId"),
        ("aws.cloudtrail.read_only", "readOnly"),
        ("aws.cloudtrail.management_event", "managementEvent"),
    ] {
        assert_eq!(at(&f, ecs), &e[source], "{ecs}");
    }
    assert_eq!(at(&f, "event.outcome"), "success");
    assert_eq!(at(&f, "event.kind"), "event");
    assert_eq!(at(&f, "event.category"), &json!(["iam"]));
    assert_eq!(at(&f, "event.type"), &json!(["user", "change"]));
    assert_eq!(at(&f, "data_stream.dataset"), "aws.cloudtrail");
    assert_eq!(at(&f, "data_stream.namespace"), "default");
    assert_eq!(at(&f, "cloud.provider"), "aws");
    assert_eq!(at(&f, "cloud.service.name"), "iam");
    assert_eq!(at(&f, "related.ip"), &json!(["192.168.10.20"]));
    assert_eq!(at(&f, "tls.version_protocol"), "tls");
    assert_eq!(at(&f, "tls.version"), "1.2");
    assert_eq!(at(&f, "tls.cipher"), &e["tlsDetails"]["cipherSuite"]);
    assert_eq!(at(&f, "tls.client.server_name"), &e["tlsDetails"]["clientProvidedHostHeader"]);
    assert_eq!(at(&f, "aws.cloudtrail.request_parameters"), "{userName=stratus-red-team-backdoor-u-user}");
    assert_eq!(
        at(&f, "aws.cloudtrail.response_elements"),
        "{accessKey={accessKeyId=AKIATFQR7NSC3ZO6PKAZ, userName=stratus-red-team-backdoor-u-user, status=Active, createDate=Jul 10, 2023 12:24:29 PM}}"
    );
    assert_eq!(at(&f, "aws.cloudtrail.flattened.request_parameters"), &e["requestParameters"]);
    assert_eq!(at(&f, "aws.cloudtrail.flattened.response_elements"), &e["responseElements"]);
    assert!(f.get("@timestamp").is_none(), "the document already has it");
    for key in f.as_object().unwrap().keys() {
        assert!(e.get(key).is_none(), "{key} would collide with a CloudTrail field");
    }
}

#[test]
fn iam_user_attaching_administrator_access_to_another_user() {
    let (f, e) = ecs(
        r#"{"userIdentity":{"type":"IAMUser","principalId":"AIDATFQR7NSC5AU2ZV3IE","arn":"arn:aws:iam::123837392027:user/bert-jan","accountId":"123837392027","accessKeyId":"AKIATFQR7NSC8Q4X20BJ","userName":"bert-jan"},"eventTime":"2023-07-10T12:24:49Z","eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","requestParameters":{"userName":"malicious-iam-user","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"},"responseElements":null,"eventID":"f4923a37-92d5-4dfd-9786-6caef2b5f33c"}"#,
    );
    assert_eq!(
        at(&f, "aws.cloudtrail.request_parameters"),
        "{policyArn=arn:aws:iam::aws:policy/AdministratorAccess, userName=malicious-iam-user}"
    );
    assert_eq!(at(&f, "user.target.name"), &e["requestParameters"]["userName"]);
    assert_eq!(at(&f, "user.name"), "bert-jan");
    assert!(at(&f, "aws.cloudtrail.response_elements").is_null(), "null payloads are absent");
    assert_eq!(at(&f, "event.category"), &json!(["iam"]));
}

#[test]
fn assumed_role_of_an_ec2_instance() {
    let (f, e) = ecs(
        r#"{"requestParameters":{"prefix":"","encoding-type":"url","Host":"mordors3stack-s3bucket-llp2yingx64a.s3.amazonaws.com","list-type":"2","bucketName":"mordors3stack-s3bucket-llp2yingx64a"},"userAgent":"[aws-cli/1.18.136 Python/3.8.5 Darwin/19.5.0 botocore/1.17.59]","awsRegion":"us-east-1","userIdentity":{"arn":"arn:aws:sts::123456789123:assumed-role/MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0/i-0317f6c6b66ae9c40","type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::123456789123:role/MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0","userName":"MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0","accountId":"123456789123","principalId":"AROA5FLZVX4OAMSW6BCRH","type":"Role"},"attributes":{"mfaAuthenticated":"false","creationDate":"2020-09-14T00:48:30Z"},"ec2RoleDelivery":"1.0"},"accountId":"123456789123","principalId":"AROA5FLZVX4OAMSW6BCRH:i-0317f6c6b66ae9c40","accessKeyId":"ASIA5FLZVX4OPVKKVBMX"},"eventName":"ListObjects","sourceIPAddress":"1.2.3.4","resources":[{"ARNPrefix":"arn:aws:s3:::mordors3stack-s3bucket-llp2yingx64a/","type":"AWS::S3::Object"},{"ARN":"arn:aws:s3:::mordors3stack-s3bucket-llp2yingx64a","accountId":"123456789123","type":"AWS::S3::Bucket"}],"eventSource":"s3.amazonaws.com","@timestamp":"2020-09-14T01:00:33.000Z","eventID":"bf575a0c-c344-4302-a468-00e6a84a127a","additionalEventData":{"bytesTransferredOut":500.0,"SignatureVersion":"SigV4"}}"#,
    );
    let issuer = &e["userIdentity"]["sessionContext"]["sessionIssuer"];
    assert_eq!(at(&f, "user.name"), &issuer["userName"], "the role is the actor");
    assert_eq!(at(&f, "user.id"), &e["userIdentity"]["principalId"]);
    assert_eq!(at(&f, "aws.cloudtrail.user_identity.session_context.session_issuer.arn"), &issuer["arn"]);
    assert_eq!(
        at(&f, "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id"),
        &issuer["principalId"]
    );
    assert_eq!(
        at(&f, "aws.cloudtrail.user_identity.session_context.session_issuer.account_id"),
        &issuer["accountId"]
    );
    assert_eq!(at(&f, "aws.cloudtrail.user_identity.session_context.session_issuer.type"), "Role");
    assert_eq!(at(&f, "aws.cloudtrail.user_identity.session_context.mfa_authenticated"), "false");
    assert_eq!(
        at(&f, "aws.cloudtrail.user_identity.session_context.creation_date"),
        "2020-09-14T00:48:30.000Z"
    );
    assert!(related_users(&f).contains(&"i-0317f6c6b66ae9c40"), "the session name");
    assert!(at(&f, "user.email").is_null());
    assert_eq!(
        at(&f, "aws.cloudtrail.request_parameters"),
        "{list-type=2, bucketName=mordors3stack-s3bucket-llp2yingx64a, encoding-type=url, Host=mordors3stack-s3bucket-llp2yingx64a.s3.amazonaws.com}"
    );
    assert_eq!(
        at(&f, "aws.cloudtrail.additional_eventdata"),
        "{SignatureVersion=SigV4, bytesTransferredOut=500.0}"
    );
    assert_eq!(
        at(&f, "aws.cloudtrail.resources"),
        &json!([
            {"arn": "arn:aws:s3:::mordors3stack-s3bucket-llp2yingx64a", "account_id": "123456789123", "type": "AWS::S3::Bucket"},
            {"ARNPrefix": "arn:aws:s3:::mordors3stack-s3bucket-llp2yingx64a/", "type": "AWS::S3::Object"}
        ])
    );
    assert!(at(&f, "user_agent.name").is_null(), "a bracketed CLI agent is not parsed");
    assert!(at(&f, "event.category").is_null());
}

#[test]
fn assumed_role_of_an_identity_center_session_named_by_email() {
    // TrailDiscover's SSO session, its session name made an email address as AWS writes them.
    let (f, e) = ecs(
        r#"{"userIdentity":{"type":"AssumedRole","principalId":"AROA****************:adan@example.com","arn":"arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_AdministratorAccess_1b74cd717d47002b/adan@example.com","accountId":"111111111111","accessKeyId":"AKIA****************","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA****************:User","arn":"arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/us-east-2/AWSReservedSSO_AdministratorAccess_1b74cd717d47002b","accountId":"111111111111","userName":"AWSReservedSSO_AdministratorAccess_1b74cd717d47002b"},"attributes":{"creationDate":"2025-10-12T14:55:21Z","mfaAuthenticated":"false"}},"inScopeOf":{}},"eventTime":"2025-10-12T14:55:33Z","eventSource":"ce.amazonaws.com","eventName":"GetCostForecast","sourceIPAddress":"0.0.0.0","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/0.0.0.0 Safari/537.36","errorCode":"InternalFailure","errorMessage":"We messed up somewhere, sorry.","eventID":"08194c17-c516-4c6d-9a71-2814da709c18"}"#,
    );
    let issuer = &e["userIdentity"]["sessionContext"]["sessionIssuer"];
    assert_eq!(at(&f, "user.name"), &issuer["userName"]);
    assert_eq!(at(&f, "user.email"), "adan@example.com");
    let users = related_users(&f);
    assert!(users.contains(&"adan@example.com") && users.contains(&"adan"), "{users:?}");
    assert_eq!(at(&f, "event.outcome"), "failure");
    assert_eq!(at(&f, "aws.cloudtrail.error_code"), &e["errorCode"]);
    assert_eq!(at(&f, "aws.cloudtrail.error_message"), &e["errorMessage"]);
    assert_eq!(at(&f, "user_agent.name"), "Chrome");
    assert_eq!(at(&f, "source.ip"), "0.0.0.0");
}

#[test]
fn federated_user() {
    let (f, e) = ecs(
        r#"{"awsRegion":"ap-isob-east-1r","eventID":"91529247-c4c4-4793-afc8-d70bbcfe9d19","eventName":"GetCallerIdentity","eventSource":"sts.amazonaws.com","eventTime":"2024-11-30T08:43:18Z","requestParameters":null,"responseElements":null,"sourceIPAddress":"255.090.254.5","tlsDetails":{"cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"sts.ap-isob-east-1r.amazonaws.com","tlsVersion":"TLSv1.3"},"userAgent":"aws-sdk-go-v2/1.32.3 os/linux lang/go#1.23.1","userIdentity":{"accessKeyId":"ASIASTJKC5GCM7ZE6LUP","accountId":"742491224508","arn":"arn:aws:sts::742491224508:federated-user/stratus_red_team","principalId":"742491224508:stratus_red_team","sessionContext":{"attributes":{"creationDate":"2024-11-30T08:43:17Z","mfaAuthenticated":"false"},"sessionIssuer":{"accountId":"742491224508","arn":"arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user","principalId":"AIDAN7SEM6PEVTNQR8M4","type":"IAMUser","userName":"stratus-red-team-user-federation-user"},"webIdFederationData":{}},"type":"FederatedUser"}}"#,
    );
    let ui = &e["userIdentity"];
    assert_eq!(at(&f, "user.name"), &ui["sessionContext"]["sessionIssuer"]["userName"], "who federated");
    assert_eq!(at(&f, "user.id"), &ui["principalId"]);
    assert!(related_users(&f).contains(&"stratus_red_team"), "the federated name");
    assert_eq!(at(&f, "source.address"), "255.090.254.5");
    assert!(at(&f, "source.ip").is_null(), "not an address: leading zeros are ambiguous");
    assert_eq!(at(&f, "tls.version"), "1.3");
    assert!(at(&f, "aws.cloudtrail.request_parameters").is_null());
}

#[test]
fn aws_service_assuming_a_role() {
    let (f, e) = ecs(
        r#"{"eventVersion":"1.05","userIdentity":{"type":"AWSService","invokedBy":"config.amazonaws.com"},"eventTime":"2017-12-11T15:04:51Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"eu-central-1","sourceIPAddress":"config.amazonaws.com","userAgent":"config.amazonaws.com","requestParameters":{"roleArn":"arn:aws:iam::111111111111:role/someRole","roleSessionName":"AutoScalingDescribeHandlerSession"},"responseElements":{"credentials":{"accessKeyId":"BBBBBBBBBBBBBBBBBBBBB","expiration":"Nov 18, 2017 1:21:51 AM","sessionToken":"someSessionToken"},"assumedRoleUser":{"assumedRoleId":"CCCCCCCCCCCCCCCCCCCCC:AutoScalingDescribeHandlerSession","arn":"arn:aws:sts::111111111111:assumed-role/someRoleOther/AutoScalingDescribeHandlerSession"}},"eventID":"b25ff7e3-f1cf-4b7f-883d-b09168c454d5","resources":[{"ARN":"arn:aws:iam::111111111111:role/someRole","accountId":"111111111111","type":"AWS::IAM::Role"}],"eventType":"AwsApiCall","recipientAccountId":"111111111111","sharedEventID":"61742ed6-324a-4133-a3ee-1ead9cd1b75c"}"#,
    );
    assert_eq!(at(&f, "user.name"), &e["userIdentity"]["invokedBy"]);
    assert_eq!(at(&f, "aws.cloudtrail.user_identity.invoked_by"), &e["userIdentity"]["invokedBy"]);
    assert!(at(&f, "user.id").is_null() && at(&f, "cloud.account.id").is_null());
    assert_eq!(at(&f, "source.address"), "config.amazonaws.com");
    assert!(at(&f, "source.ip").is_null() && at(&f, "related.ip").is_null());
    assert_eq!(at(&f, "aws.cloudtrail.shared_event_id"), &e["sharedEventID"]);
    assert_eq!(&at(&f, "aws.cloudtrail.resources")[0]["arn"], &e["resources"][0]["ARN"]);
    assert_eq!(at(&f, "event.category"), &json!(["authentication"]));
    assert_eq!(
        at(&f, "aws.cloudtrail.response_elements"),
        "{assumedRoleUser={assumedRoleId=CCCCCCCCCCCCCCCCCCCCC:AutoScalingDescribeHandlerSession, arn=arn:aws:sts::111111111111:assumed-role/someRoleOther/AutoScalingDescribeHandlerSession}, credentials={accessKeyId=BBBBBBBBBBBBBBBBBBBBB, sessionToken=someSessionToken, expiration=Nov 18, 2017 1:21:51 AM}}"
    );
    let entities = at(&f, "related.entity").as_array().unwrap();
    assert!(
        entities.contains(&e["requestParameters"]["roleArn"]) && entities.contains(&e["resources"][0]["ARN"])
    );
}

#[test]
fn unknown_type_and_no_type() {
    // An IAM Identity Center session logged as `Unknown` (TrailDiscover).
    let (f, e) = ecs(
        r#"{"userIdentity":{"type":"Unknown","principalId":"AROA****************:User","arn":"arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_AdministratorAccess_1b74cd717d47002b/AdanAlvarez","accountId":"111111111111","accessKeyId":"AKIA****************"},"eventTime":"2026-02-08T17:04:36Z","eventSource":"agreement-marketplace.amazonaws.com","eventName":"AcceptAgreementRequest","eventID":"a048ca6f-5d17-48ef-a818-8db62b4cf3bd"}"#,
    );
    assert_eq!(
        at(&f, "user.name"),
        "AWSReservedSSO_AdministratorAccess_1b74cd717d47002b",
        "the role in the ARN"
    );
    assert_eq!(at(&f, "user.id"), &e["userIdentity"]["principalId"]);
    // A service event with no identity type (Invictus IR).
    let (f, e) = ecs(
        r#"{"eventVersion":"1.08","userIdentity":{"accountId":"123837392027","invokedBy":"ec2.amazonaws.com"},"eventTime":"2023-07-10T12:03:26Z","eventSource":"ec2.amazonaws.com","eventName":"SharedSnapshotVolumeCreated","requestParameters":null,"responseElements":null,"eventID":"6b70c0d5-e0b2-4bc0-b903-556e0346a7ac","eventType":"AwsServiceEvent","serviceEventDetails":{"snapshotId":"snap-0e83092ae538da583"}}"#,
    );
    assert_eq!(at(&f, "user.name"), &e["userIdentity"]["invokedBy"]);
    assert_eq!(at(&f, "cloud.account.id"), &e["userIdentity"]["accountId"]);
    assert!(at(&f, "aws.cloudtrail.user_identity.type").is_null());
    assert_eq!(at(&f, "aws.cloudtrail.service_event_details"), "{snapshotId=snap-0e83092ae538da583}");
    assert_eq!(at(&f, "aws.cloudtrail.flattened.service_event_details"), &e["serviceEventDetails"]);
}

#[test]
fn console_logins_with_and_without_mfa() {
    let (f, e) = ecs(
        r#"{"userIdentity":{"type":"IAMUser","principalId":"AIDATFQR7NSCYG26CT6RI","arn":"arn:aws:iam::123837392027:user/stratus-red-team-nmfalu-gfjyeaypjt","accountId":"123837392027","userName":"stratus-red-team-nmfalu-gfjyeaypjt"},"eventTime":"2023-07-10T12:23:15Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","sourceIPAddress":"192.168.10.20","userAgent":"stratus-red-team_01190e38-873e-4cc4-aede-7ceb7ffc2a4a","requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"No"},"eventID":"70e5932e-9022-4b38-837e-ca10dad94eb7","eventType":"AwsConsoleSignIn"}"#,
    );
    let login = "aws.cloudtrail.console_login.additional_eventdata";
    assert_eq!(at(&f, &format!("{login}.mfa_used")), false);
    assert_eq!(at(&f, &format!("{login}.mobile_version")), false);
    assert_eq!(at(&f, &format!("{login}.login_to")), &e["additionalEventData"]["LoginTo"]);
    assert_eq!(
        at(&f, "aws.cloudtrail.additional_eventdata"),
        "{LoginTo=https://console.aws.amazon.com/console/home, MobileVersion=No, MFAUsed=No}"
    );
    assert_eq!(at(&f, "event.outcome"), "success");
    assert_eq!(at(&f, "event.category"), &json!(["authentication"]));
    assert_eq!(at(&f, "user.name"), &e["userIdentity"]["userName"]);
    let (f, _) = ecs(
        r#"{"userIdentity":{"type":"IAMUser","principalId":"AIDATFQR7NSC5AU2ZV3IE","arn":"arn:aws:iam::123837392027:user/bert-jan","accountId":"123837392027","userName":"bert-jan"},"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","userAgent":"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:102.0) Gecko/20100101 Firefox/102.0","responseElements":{"ConsoleLogin":"Failure"},"errorMessage":"Failed authentication","additionalEventData":{"MobileVersion":"No","MFAIdentifier":"arn:aws:iam::123837392027:mfa/Mobile","MFAUsed":"Yes"},"eventID":"8feee4c2-5e27-4857-8475-bfa7e7b6d791"}"#,
    );
    assert_eq!(at(&f, &format!("{login}.mfa_used")), true);
    assert_eq!(at(&f, "event.outcome"), "failure");
    assert_eq!(at(&f, "user_agent.name"), "Firefox");
    assert!(at(&f, "related.entity")
        .as_array()
        .unwrap()
        .contains(&json!("arn:aws:iam::123837392027:mfa/Mobile")));
}

#[test]
fn identity_types_from_aws_documentation() {
    // Root console sign-in (IAM User Guide), without and with an account alias.
    let root = r#"{"userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":""},"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":"Success"},"eventID":"deb1e1f9-c99b-4612-8e9f-21f93b5daf7d"}"#;
    let (f, e) = ecs(root);
    assert_eq!((at(&f, "user.name"), at(&f, "user.id")), (&json!("root"), &e["userIdentity"]["principalId"]));
    assert!(at(&f, "aws.cloudtrail.user_identity.access_key_id").is_null(), "empty is absent");
    let (f, _) = ecs(&root.replace(r#""accessKeyId":"""#, r#""userName":"my-alias""#));
    assert_eq!(at(&f, "user.name"), "my-alias");
    // Another account assuming a role here; anonymous S3 access.
    let (f, e) = ecs(
        r#"{"userIdentity":{"type":"AWSAccount","principalId":"AIDAQRSTUVWXYZEXAMPLE","accountId":"777788889999"},"eventName":"AssumeRole","eventID":"1"}"#,
    );
    assert_eq!(
        (at(&f, "user.name"), at(&f, "user.id")),
        (&e["userIdentity"]["accountId"], &e["userIdentity"]["principalId"])
    );
    let (f, _) = ecs(
        r#"{"userIdentity":{"type":"AWSAccount","principalId":"","accountId":"anonymous"},"eventName":"GetObject","eventID":"2"}"#,
    );
    assert_eq!((at(&f, "user.name"), at(&f, "cloud.account.id")), (&json!("anonymous"), &json!("anonymous")));
    assert!(at(&f, "user.id").is_null());
    // IAM Identity Center since 2025: no userName, no principalId.
    let (f, e) = ecs(
        r#"{"userIdentity":{"type":"IdentityCenterUser","accountId":"111122223333","onBehalfOf":{"userId":"544894e8-80c1-707f-60e3-3ba6510dfac1","identityStoreArn":"arn:aws:identitystore::111122223333:identitystore/d-1234567890"},"credentialId":"EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE"},"eventSource":"sso.amazonaws.com","eventName":"ListAccounts","eventID":"3"}"#,
    );
    let behalf = &e["userIdentity"]["onBehalfOf"];
    assert_eq!((at(&f, "user.id"), at(&f, "user.name")), (&behalf["userId"], &behalf["userId"]));
    assert_eq!(at(&f, "aws.cloudtrail.user_identity.on_behalf_of.user_id"), &behalf["userId"]);
    assert_eq!(
        at(&f, "aws.cloudtrail.user_identity.on_behalf_of.identity_store_arn"),
        &behalf["identityStoreArn"]
    );
    assert_eq!(related_users(&f), ["544894e8-80c1-707f-60e3-3ba6510dfac1"]);
    // Web identity and SAML federation (CloudTrail User Guide).
    let (f, e) = ecs(
        r#"{"userIdentity":{"type":"WebIdentityUser","principalId":"accounts.google.com:application-id.apps.googleusercontent.com:user-id","userName":"user-id","identityProvider":"accounts.google.com"},"eventName":"AssumeRoleWithWebIdentity","eventID":"4"}"#,
    );
    assert_eq!(
        (at(&f, "user.name"), at(&f, "user.id")),
        (&e["userIdentity"]["userName"], &e["userIdentity"]["principalId"])
    );
    assert!(at(&f, "related.entity").as_array().unwrap().contains(&json!("accounts.google.com")));
    let (f, e) = ecs(
        r#"{"userIdentity":{"type":"SAMLUser","principalId":"SampleUkh1i4+ExamplexL/jEvs=:SamlExample","userName":"SamlExample","identityProvider":"Sampleb6n5yEf3yr7U0WEjONVtkQhdYNE9Hjnx8y1EW8="},"eventName":"AssumeRoleWithSAML","eventID":"5"}"#,
    );
    assert_eq!(
        (at(&f, "user.name"), at(&f, "user.id")),
        (&e["userIdentity"]["userName"], &e["userIdentity"]["principalId"])
    );
}

/// The ECS copies come from the event as redaction left it: the real transform redacts, then
/// `ecs_fields` reads its output, so a removed or masked key has no clear copy anywhere.
#[test]
fn redacted_access_keys_do_not_survive_in_the_ecs_copies() {
    let secrets = ["AKIATFQR7NSC8Q4X20BJ", "AKIATFQR7NSC3ZO6PKAZ"];
    let (clear, _) = ecs(IAM_USER_CREATE_ACCESS_KEY);
    assert!(secrets.iter().all(|s| clear.to_string().contains(s)), "without redaction both are copied");
    for (preset, copy) in [("credentials", None), ("credentials=mask", Some("****20BJ"))] {
        let spec =
            TransformSpec { presets: vec![preset.parse::<Preset>().unwrap()], ..TransformSpec::default() };
        let transform = Transform::new(spec).unwrap();
        let redacted = transform.redacted(IAM_USER_CREATE_ACCESS_KEY.as_bytes()).unwrap();
        let (f, _) = ecs(std::str::from_utf8(&redacted).unwrap());
        let text = f.to_string();
        for secret in secrets {
            assert!(!text.contains(secret), "{preset}: {secret} survived in {text}");
        }
        assert_eq!(at(&f, "aws.cloudtrail.user_identity.access_key_id").as_str(), copy, "{preset}");
        assert_eq!(at(&f, "user.name"), "bert-jan", "{preset}: the rest is still there");
    }
}

/// An aggregated event (AWS's `API_ACTIVITY` example shape) gets its id and account, and no user.
#[test]
fn aggregated_events_get_their_id_and_account() {
    let (f, e) = ecs(
        r#"{"eventVersion":"1.0","accountId":"111122223333","eventId":"agg-1","eventCategory":"Aggregated","eventType":"AwsAggregatedEvent","awsRegion":"us-west-2","eventSource":"s3.amazonaws.com","timeWindow":{"windowStart":"2025-11-17T19:20:00Z","windowEnd":"2025-11-17T19:25:00Z","windowSize":"PT5M"},"summary":{"primaryDimension":{"dimension":"eventName","statistics":[{"name":"PutObject","value":1000}],"aggregationType":"Count"},"details":[]}}"#,
    );
    assert_eq!(at(&f, "event.id"), &e["eventId"]);
    assert_eq!(at(&f, "cloud.account.id"), &e["accountId"]);
    assert_eq!(at(&f, "cloud.service.name"), "s3");
    assert_eq!(at(&f, "aws.cloudtrail.event_category"), "Aggregated");
    assert!(at(&f, "user").is_null() && at(&f, "event.action").is_null());
}
