//! The prebuilt rules under test: each one's query (KQL, or the filter of an EQL / ES|QL rule)
//! as query DSL over the ECS fields, and, from the raw CloudTrail fields alone, which events
//! should trigger it. Names and ids are those of `elastic/detection-rules`
//! (`rules/integrations/aws/*.toml`); new-terms and threshold rules are checked on their query.

use super::dsl::*;
use serde_json::Value;
use std::net::IpAddr;

/// One rule.
pub struct Rule {
    /// `name (rule_id)` as in the rule file.
    pub name: &'static str,
    /// The query as DSL.
    pub query: Value,
    /// Whether a raw event should trigger it.
    pub expected: fn(&Value) -> bool,
    /// A condition DSL cannot state without scripts (ES|QL `user.name != user.target.name`),
    /// applied to the hits' `_source`.
    pub compare: Option<fn(&Value) -> bool>,
}

impl Rule {
    fn new(name: &'static str, query: Value, expected: fn(&Value) -> bool) -> Self {
        Rule { name, query, expected, compare: None }
    }
}

/// The rules, each with its query as written in the rule file.
pub fn rules() -> Vec<Rule> {
    let mut rules = vec![
        // data_stream.dataset: "aws.cloudtrail" and event.provider: "cloudtrail.amazonaws.com"
        //   and event.action: "StopLogging" and event.outcome: "success"
        Rule::new(
            "AWS CloudTrail Log Suspended (1aa8fa52-44a7-4dae-b058-f3333b91c8d7)",
            success(CT, &["StopLogging"], vec![], vec![]),
            |e| called(e, CT, &["StopLogging"]),
        ),
        // … event.provider: "cloudtrail.amazonaws.com" and event.action: "DeleteTrail" and event.outcome: "success"
        Rule::new(
            "AWS CloudTrail Log Deleted (7024e2a0-315d-4334-bb1a-441c593e16ab)",
            success(CT, &["DeleteTrail"], vec![], vec![]),
            |e| called(e, CT, &["DeleteTrail"]),
        ),
        // … event.provider: "cloudtrail.amazonaws.com" and event.action: "CreateTrail" and event.outcome: "success"
        Rule::new(
            "AWS CloudTrail Log Created (594e0cbf-86cc-45aa-9ff7-ff27db27d3ed)",
            success(CT, &["CreateTrail"], vec![], vec![]),
            |e| called(e, CT, &["CreateTrail"]),
        ),
        // data_stream.dataset:aws.cloudtrail and event.provider:ec2.amazonaws.com
        //   and event.action:DeleteFlowLogs and event.outcome:success
        Rule::new(
            "AWS VPC Flow Logs Deletion (9395fd2c-9947-4472-86ef-4aceb2f7e872)",
            success(EC2, &["DeleteFlowLogs"], vec![], vec![]),
            |e| called(e, EC2, &["DeleteFlowLogs"]),
        ),
        // New terms on cloud.account.id, user.name: … event.provider: secretsmanager.amazonaws.com
        //   and event.action: GetSecretValue and event.outcome: success
        Rule::new(
            "First Time Seen AWS Secret Value Accessed in Secrets Manager (a00681e3-9ed6-447c-ab2c-be648821c622)",
            success("secretsmanager.amazonaws.com", &["GetSecretValue"], vec![], vec![]),
            |e| called(e, "secretsmanager.amazonaws.com", &["GetSecretValue"]),
        ),
        // EQL: iam where data_stream.dataset == "aws.cloudtrail" and event.provider == "iam.amazonaws.com"
        //   and event.action == "AttachUserPolicy" and event.outcome == "success" and
        //   stringContains(aws.cloudtrail.request_parameters, "policyArn=arn:aws:iam::aws:policy/AdministratorAccess")
        Rule::new(
            "AWS IAM AdministratorAccess Policy Attached to User (9aa4be8d-5828-417d-9f54-7cd304571b24)",
            success(
                IAM,
                &["AttachUserPolicy"],
                vec![
                    term("event.category", "iam"),
                    wildcard("aws.cloudtrail.request_parameters", &format!("*policyArn={ADMIN}*")),
                ],
                vec![],
            ),
            |e| called(e, IAM, &["AttachUserPolicy"]) && s(e, "requestParameters.policyArn") == Some(ADMIN),
        ),
        // ES|QL: where data_stream.dataset == "aws.cloudtrail" and event.provider == "iam.amazonaws.com"
        //   and event.action == "CreateAccessKey" and event.outcome == "success" and user.name != user.target.name
        Rule {
            compare: Some(|src| src["user"]["name"] != src["user"]["target"]["name"]),
            ..Rule::new(
                "AWS IAM User Created Access Keys For Another User (696015ef-718e-40ff-ac4a-cc2ba88dbeeb)",
                success(IAM, &["CreateAccessKey"], vec![exists("user.name"), exists("user.target.name")], vec![]),
                |e| {
                    let target = s(e, "requestParameters.userName");
                    called(e, IAM, &["CreateAccessKey"])
                        && target.is_some_and(|t| s(e, "userIdentity.userName").is_some_and(|u| u != t))
                },
            )
        },
        // New terms on cloud.account.id, user.name: … event.provider: "ssm.amazonaws.com"
        //   and event.action: (GetParameters or GetParameter) and event.outcome: success
        //   and aws.cloudtrail.flattened.request_parameters.withDecryption: true
        //   and not source.address: ("cloudformation.amazonaws.com" or "servicecatalog.amazonaws.com")
        Rule::new(
            "AWS Systems Manager SecureString Parameter Request with Decryption Flag (fd332492-0bc6-11ef-b5be-f661ea17fbcc)",
            success(
                "ssm.amazonaws.com",
                &["GetParameters", "GetParameter"],
                vec![term(&format!("{FLAT}.withDecryption"), "true")],
                vec![terms("source.address", CFN_OR_CATALOG)],
            ),
            |e| {
                called(e, "ssm.amazonaws.com", &["GetParameters", "GetParameter"])
                    && values(e, "requestParameters.withDecryption") == ["true"]
                    && !from_cfn_or_service_catalog(e)
            },
        ),
        // New terms on user.id: … event.provider: "signin.amazonaws.com" and event.action: "ConsoleLogin"
        //   and event.outcome: "success" and aws.cloudtrail.user_identity.type: "IAMUser"
        //   and aws.cloudtrail.console_login.additional_eventdata.mfa_used: false
        Rule::new(
            "AWS IAM User Console Login Without MFA (f5778acd-80e3-4ca0-a32a-6259386dfb20)",
            success(
                "signin.amazonaws.com",
                &["ConsoleLogin"],
                vec![
                    term("aws.cloudtrail.user_identity.type", "IAMUser"),
                    term("aws.cloudtrail.console_login.additional_eventdata.mfa_used", false),
                ],
                vec![],
            ),
            |e| {
                called(e, "signin.amazonaws.com", &["ConsoleLogin"])
                    && identity(e) == Some("IAMUser")
                    && s(e, "additionalEventData.MFAUsed") == Some("No")
            },
        ),
        // New terms on aws.cloudtrail.user_identity.arn, aws.cloudtrail.resources.arn: … "sts.amazonaws.com"
        //   and event.action: "AssumeRole" and event.outcome: "success" and aws.cloudtrail.user_identity.type: "IAMUser"
        Rule::new(
            "AWS STS Role Assumption by User (288a198e-9b9b-11ef-a0a8-f661ea17fbcd)",
            success(STS, &["AssumeRole"], vec![term("aws.cloudtrail.user_identity.type", "IAMUser")], vec![]),
            |e| called(e, STS, &["AssumeRole"]) && identity(e) == Some("IAMUser"),
        ),
        // New terms on …user_identity.invoked_by, …resources.arn: … "sts.amazonaws.com" and event.action: "AssumeRole"
        //   and event.outcome: "success" and aws.cloudtrail.user_identity.type: "AWSService"
        //   and aws.cloudtrail.user_identity.invoked_by: ("ec2.amazonaws.com" or … or "autoscaling.amazonaws.com")
        Rule::new(
            "AWS STS Role Assumption by Service (93075852-b0f5-4b8b-89c3-a226efae5726)",
            success(
                STS,
                &["AssumeRole"],
                vec![
                    term("aws.cloudtrail.user_identity.type", "AWSService"),
                    terms("aws.cloudtrail.user_identity.invoked_by", ASSUMING_SERVICES),
                ],
                vec![],
            ),
            |e| {
                called(e, STS, &["AssumeRole"])
                    && identity(e) == Some("AWSService")
                    && s(e, "userIdentity.invokedBy").is_some_and(|b| ASSUMING_SERVICES.contains(&b))
            },
        ),
    ];
    rules.extend(more_rules());
    rules
}

/// The rest of the list.
fn more_rules() -> Vec<Rule> {
    vec![
        // … event.provider: ec2.amazonaws.com and event.action: AuthorizeSecurityGroupIngress and event.outcome: success
        //   and aws.cloudtrail.flattened.request_parameters.ipPermissions.items.ipRanges.items.cidrIp: ("0.0.0.0/0" or "::/0")
        //   and aws.cloudtrail.flattened.request_parameters.ipPermissions.items.fromPort: (21 or 22 or … or 5986)
        Rule::new(
            "Insecure AWS EC2 VPC Security Group Ingress Rule Added (25e7fee6-fc25-11ee-ba0f-f661ea17fbce)",
            success(
                EC2,
                &["AuthorizeSecurityGroupIngress"],
                vec![
                    terms(&format!("{FLAT}.ipPermissions.items.ipRanges.items.cidrIp"), OPEN),
                    terms(&format!("{FLAT}.ipPermissions.items.fromPort"), REMOTE_PORTS),
                ],
                vec![],
            ),
            |e| {
                let cidrs = values(e, "requestParameters.ipPermissions.items.ipRanges.items.cidrIp");
                let ports = values(e, "requestParameters.ipPermissions.items.fromPort");
                called(e, EC2, &["AuthorizeSecurityGroupIngress"])
                    && cidrs.iter().any(|c| OPEN.contains(&c.as_str()))
                    && ports.iter().any(|p| REMOTE_PORTS.contains(&p.as_str()))
            },
        ),
        // … event.provider: "logs.amazonaws.com" and event.action: "DeleteLogGroup" and event.outcome: "success"
        //   and source.ip: * and not user_agent.original : "AWS Internal"
        Rule::new(
            "AWS CloudWatch Log Group Deletion (68a7a5a5-a2fc-4a76-ba9f-26849de881b4)",
            success(
                "logs.amazonaws.com",
                &["DeleteLogGroup"],
                vec![exists("source.ip")],
                vec![term("user_agent.original", "AWS Internal")],
            ),
            |e| {
                called(e, "logs.amazonaws.com", &["DeleteLogGroup"])
                    && s(e, "sourceIPAddress").is_some_and(|a| a.parse::<IpAddr>().is_ok())
                    && s(e, "userAgent") != Some("AWS Internal")
            },
        ),
        // … event.provider: "ec2.amazonaws.com" and event.action: "EnableSerialConsoleAccess" and event.outcome: "success"
        Rule::new(
            "AWS EC2 Serial Console Access Enabled (e9fe3645-f588-43d6-99f5-437b3ef56f25)",
            success(EC2, &["EnableSerialConsoleAccess"], vec![], vec![]),
            |e| called(e, EC2, &["EnableSerialConsoleAccess"]),
        ),
        // … event.provider: "organizations.amazonaws.com" and event.action: "LeaveOrganization" (any outcome)
        Rule::new(
            "AWS Attempt to Leave Organization (4236393d-090e-4dfa-9e32-c9a7ec6189ee)",
            query("organizations.amazonaws.com", &["LeaveOrganization"], None, vec![], vec![]),
            |e| call(e, "organizations.amazonaws.com", &["LeaveOrganization"]),
        ),
        // New terms on aws.cloudtrail.user_identity.arn: … event.provider:sts.amazonaws.com
        //   and event.action:GetFederationToken and event.outcome:success
        Rule::new(
            "AWS First Occurrence of STS GetFederationToken Request by User (7a5cc9a8-5ea3-11ef-beec-f661ea17fbce)",
            success(STS, &["GetFederationToken"], vec![], vec![]),
            |e| called(e, STS, &["GetFederationToken"]),
        ),
        // New terms on cloud.account.id, user.name, …instanceId: … event.provider: "ec2.amazonaws.com"
        //   and event.action: "DescribeInstanceAttribute" and event.outcome: "success"
        //   and aws.cloudtrail.flattened.request_parameters.attribute: "userData"
        //   and not aws.cloudtrail.user_identity.invoked_by: ("AWS Internal" or … or "aiops.amazonaws.com")
        Rule::new(
            "AWS EC2 User Data Retrieval for EC2 Instance (c1e79a70-fa6f-11ee-8bc8-f661ea17fbce)",
            success(
                EC2,
                &["DescribeInstanceAttribute"],
                vec![term(&format!("{FLAT}.attribute"), "userData")],
                vec![terms("aws.cloudtrail.user_identity.invoked_by", USER_DATA_READERS)],
            ),
            |e| {
                called(e, EC2, &["DescribeInstanceAttribute"])
                    && s(e, "requestParameters.attribute") == Some("userData")
                    && !s(e, "userIdentity.invokedBy").is_some_and(|b| USER_DATA_READERS.contains(&b))
            },
        ),
        // … event.provider: "iam.amazonaws.com" and event.action: ("CreateLoginProfile" or "UpdateLoginProfile")
        //   and event.outcome: "success" and not aws.cloudtrail.user_identity.type: "AWSService"
        //   and not user_agent.original: (*terraform* or *pulumi* or *ansible*)
        //   and not aws.cloudtrail.user_identity.arn: (*terraform* or *pulumi* or *ansible*)
        //   and not source.as.organization.name: (Amazon* or AMAZON* or Google*)
        //   and not source.address: ("cloudformation.amazonaws.com" or "servicecatalog.amazonaws.com")
        Rule::new(
            "AWS IAM Login Profile Created or Modified for an IAM User (f4dc90eb-e77e-4f0e-b18b-eb50da9e827e)",
            success(
                IAM,
                &["CreateLoginProfile", "UpdateLoginProfile"],
                vec![],
                vec![
                    term("aws.cloudtrail.user_identity.type", "AWSService"),
                    no_iac("user_agent.original"),
                    no_iac("aws.cloudtrail.user_identity.arn"),
                    any(["Amazon*", "AMAZON*", "Google*"].map(|p| wildcard("source.as.organization.name", p)).to_vec()),
                    terms("source.address", CFN_OR_CATALOG),
                ],
            ),
            |e| {
                called(e, IAM, &["CreateLoginProfile", "UpdateLoginProfile"])
                    && identity(e) != Some("AWSService")
                    && iac_free(e)
                    && !from_cfn_or_service_catalog(e)
            },
        ),
        // New terms on …session_issuer.arn: … event.provider:"ec2.amazonaws.com" and event.action:"GetPasswordData"
        //   and aws.cloudtrail.user_identity.type:"AssumedRole" and aws.cloudtrail.error_code:"Client.UnauthorizedOperation"
        Rule::new(
            "AWS EC2 Unauthorized Admin Credential Fetch via Assumed Role (8446517c-f789-11ee-8ad0-f661ea17fbce)",
            query(
                EC2,
                &["GetPasswordData"],
                None,
                vec![
                    term("aws.cloudtrail.user_identity.type", "AssumedRole"),
                    term("aws.cloudtrail.error_code", "Client.UnauthorizedOperation"),
                ],
                vec![],
            ),
            |e| {
                call(e, EC2, &["GetPasswordData"])
                    && identity(e) == Some("AssumedRole")
                    && s(e, "errorCode") == Some("Client.UnauthorizedOperation")
            },
        ),
    ]
}
