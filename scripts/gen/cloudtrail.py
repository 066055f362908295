#!/usr/bin/env python3
"""Generate realistic CloudTrail log files, laid out in a directory as a trail writes them to S3.

Test and benchmark data for cloudtrail-es. The output is deterministic: the same arguments and
--seed give byte-identical files. Python 3.11 standard library only.

Layout under --out (with --org ID, AWSLogs/ID/ACCOUNT/... instead of AWSLogs/ACCOUNT/...):
  AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_<16 alnum>.json.gz
      gzip'd compact {"Records":[...]}; every event lies in the file's 5-minute window.
  AWSLogs/ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail-Digest_REGION_TRAIL_REGION_<end>.json.gz
      one digest per account, region and hour (no Records); omitted with --no-digests.

The events mix console activity (~30%: "AWS Internal"/console user agents, ConsoleLogin sign-ins,
sessionCredentialFromConsole), SDK/CLI/Terraform calls and AWS service activity, from IAM users,
assumed roles, the root user and AWS services. About 5% fail with errorCode/errorMessage. Some
paths deliberately change JSON type between events (requestParameters.filter, .startTime,
.maxResults, .tags, .parameters, .disableApiTermination), some values are non-ASCII, and access
keys look real (AKIA.../ASIA..., 20 characters) but are random.

Usage:
  scripts/gen/cloudtrail.py --out /tmp/ct                      # 2,000 events, 2 accounts, 2 regions, 3 days
  scripts/gen/cloudtrail.py --out /tmp/ct --events 120000 --seed 7 --org o-a1b2c3d4e5
  scripts/gen/cloudtrail.py --out /tmp/big --events 200000 --single-file --no-digests
"""
import argparse
import base64
import calendar
import hashlib
import itertools
import json
import os
import random
import re
import string
import sys
import time
import zlib
from dataclasses import dataclass
from typing import Callable

WINDOW = 300  # seconds covered by one log file (CloudTrail delivers about every 5 minutes)
HOUR = 3600
ERROR_RATE = 0.05
UNICODE_RATE = 0.02
DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
UPPER = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
# Key order of a real record; assembled events follow it.
FIELD_ORDER = (
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
    "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
    "responseElements", "additionalEventData", "requestID", "eventID", "readOnly", "resources",
    "eventType", "managementEvent", "recipientAccountId", "sharedEventID", "serviceEventDetails",
    "eventCategory", "tlsDetails", "sessionCredentialFromConsole",
)

USER_NAMES = ["alice", "bob", "carol", "dave", "erin", "frank"]
SSO_ROLES = ["AWSReservedSSO_AdministratorAccess_6f0e6a0c2b1d4e3f", "AWSReservedSSO_ReadOnly_0a9b8c7d6e5f4a3b"]
WORK_ROLES = ["ci-deploy", "app-server", "OrganizationAccountAccessRole", "lambda-exec"]
INSPECTOR_ROLE = "AWSServiceRoleForAmazonInspector2"  # a service-linked role
BROWSERS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.97",
]
S3_CONSOLE = ("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.184-153.731.amzn2int.x86_64 "
              "OpenJDK_64-Bit_Server_VM/25.372-b08 java/1.8.0_372 vendor/Oracle_Corporation cfg/retry-mode/standard]")
SDK_AGENTS = [
    "aws-cli/2.15.43 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0-1018-aws md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off md/command#{cmd}",
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/{cmd}",
    "Boto3/1.34.98 md/Botocore#1.34.98 ua/2.0 os/linux#5.10.215-203.850.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.98",
    "[Boto3/1.33.13 Python/3.9.18 Linux/5.15.0-1057-aws Botocore/1.33.13]",
    "APN/1.0 HashiCorp/1.0 Terraform/1.8.2 (+https://www.terraform.io) terraform-provider-aws/5.48.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/{svc}#1.0",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/{svc}#1.2.3",
    "aws-sdk-java/2.25.40 Linux/5.10.215-203.850.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/legacy",
]
OBJECT_KEYS = ["reports/2024/05/summary.csv", "exports/orders-000123.parquet", "uploads/avatar-8812.png",
               "backups/db/2024-05-01.sql.gz", "logs/app/2024/05/01/app.log", "config/settings.json"]
OFFICE_IPS, AWS_IPS = [81, 88, 109, 185, 203], [3, 18, 34, 52, 54]  # first octets of public IPs
UNICODE_VALUES = ["Zoë Müller", "données-été.csv", "東京チーム", "отчёт-май", "résumé ✓ 🚀", "Ünïcødé — naïve"]


class Rand(random.Random):
    """random.Random plus the identifier shapes CloudTrail uses."""

    def uuid(self):
        n = self.getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62) | (0x4 << 76) | (0x2 << 62)
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def token(self, n, alphabet=UPPER):
        return "".join(self.choices(alphabet, k=n))

    def b64(self, nbytes):
        return base64.b64encode(self.randbytes(nbytes)).decode()

    def hex(self, nbytes):
        return self.randbytes(nbytes).hex()

    def maybe_unicode(self, value):
        return self.choice(UNICODE_VALUES) if self.random() < UNICODE_RATE else value

    def ipv4(self, first_octets):
        return f"{self.choice(first_octets)}.{self.randrange(256)}.{self.randrange(256)}.{self.randrange(1, 255)}"


@dataclass
class Account:
    id: str
    users: list      # IAM users: dict(name, pid, arn, key, ip)
    roles: dict      # role name -> dict(name, id, arn)
    buckets: list
    instances: list
    key_id: str
    functions: list


@dataclass
class Ctx:
    """What an event builder needs: the RNG, the file's account and region, the event time."""
    g: Rand
    acct: Account
    region: str
    ts: int = 0
    actor_arn: str = ""


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def human(ts):
    """The Java-style date AWS puts in some response fields: 'May 1, 2024, 11:00:00 AM'."""
    t = time.gmtime(ts)
    return (f"{MONTHS[t.tm_mon - 1]} {t.tm_mday}, {t.tm_year}, {(t.tm_hour % 12) or 12}:"
            f"{t.tm_min:02d}:{t.tm_sec:02d} {'AM' if t.tm_hour < 12 else 'PM'}")


def make_account(g, index):
    acct = f"{g.randrange(10**10, 10**11)}{index % 10}"  # 12 digits, distinct
    users = [{"name": n, "pid": "AIDA" + g.token(17), "arn": f"arn:aws:iam::{acct}:user/{n}",
              "key": "AKIA" + g.token(16), "ip": g.ipv4(OFFICE_IPS)}
             for n in USER_NAMES]
    users[-1]["ip"] = f"2001:db8:{g.randrange(65536):x}::{g.randrange(65536):x}"  # one IPv6 user
    roles = {n: {"name": n, "id": "AROA" + g.token(17), "arn": f"arn:aws:iam::{acct}:role/{n}"}
             for n in SSO_ROLES + WORK_ROLES + [INSPECTOR_ROLE]}
    roles[INSPECTOR_ROLE]["arn"] = f"arn:aws:iam::{acct}:role/aws-service-role/inspector2.amazonaws.com/" + INSPECTOR_ROLE
    return Account(
        id=acct, users=users, roles=roles,
        buckets=[f"acme-{p}-{acct}" for p in ("app-assets", "data-lake", "terraform-state", "cloudtrail-logs")],
        instances=[f"i-0{g.hex(8)}" for _ in range(6)],
        key_id=g.uuid(),
        functions=["orders-api", "thumbnailer", "nightly-report"],
    )


# ---------------------------------------------------------------- userIdentity variants

def session_attributes(c, mfa):
    return {"creationDate": iso(c.ts - c.g.randrange(60, 3000)), "mfaAuthenticated": mfa}


def session_context(c, issuer=None):
    return {"sessionIssuer": issuer or {}, "webIdFederationData": {},
            "attributes": session_attributes(c, "false" if issuer else "true")}


def iam_user(c, user, temporary):
    ident = {"type": "IAMUser", "principalId": user["pid"], "arn": user["arn"], "accountId": c.acct.id,
             "accessKeyId": "ASIA" + c.g.token(16) if temporary else user["key"], "userName": user["name"]}
    if temporary:
        ident["sessionContext"] = session_context(c)
    c.actor_arn = user["arn"]
    return ident


def assumed_role(c, role, session, temporary=True, invoked_by=None):
    arn = f"arn:aws:sts::{c.acct.id}:assumed-role/{role['name']}/{session}"
    issuer = {"type": "Role", "principalId": role["id"], "arn": role["arn"], "accountId": c.acct.id,
              "userName": role["name"]}
    ident = {"type": "AssumedRole", "principalId": f"{role['id']}:{session}", "arn": arn, "accountId": c.acct.id}
    if temporary:
        ident["accessKeyId"] = "ASIA" + c.g.token(16)
    ident["sessionContext"] = session_context(c, issuer)
    if invoked_by:
        ident["invokedBy"] = invoked_by
    c.actor_arn = arn
    return ident


def root(c, key):
    c.actor_arn = f"arn:aws:iam::{c.acct.id}:root"
    ident = {"type": "Root", "principalId": c.acct.id, "arn": c.actor_arn, "accountId": c.acct.id, "accessKeyId": key}
    if key:
        ident["sessionContext"] = {"attributes": session_attributes(c, "true")}
    return ident


def aws_service(c, service):
    c.actor_arn = service
    return {"type": "AWSService", "invokedBy": service}


# ---------------------------------------------------------------- API builders
# Each returns the event parts that depend on the API: requestParameters, responseElements and
# optionally resources, additionalEventData, serviceEventDetails (and errorMessage for a failed sign-in).

def s3_host(c, bucket):
    return f"{bucket}.s3.{c.region}.amazonaws.com"


def s3_extra(c, out=0, into=0):
    return {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": into,
            "AuthenticationMethod": "AuthHeader", "x-amz-id-2": c.g.b64(56), "bytesTransferredOut": out}


def bucket_res(c, bucket):
    return {"accountId": c.acct.id, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}


def s3_list_buckets(c):
    return {"requestParameters": {"Host": f"s3.{c.region}.amazonaws.com"}, "responseElements": None,
            "additionalEventData": s3_extra(c, out=c.g.randrange(800, 9000))}


def s3_get_bucket_acl(c):
    b = c.g.choice(c.acct.buckets)
    return {"requestParameters": {"bucketName": b, "Host": s3_host(c, b), "acl": ""}, "responseElements": None,
            "additionalEventData": s3_extra(c, out=552), "resources": [bucket_res(c, b)]}


def s3_create_bucket(c):
    b = f"acme-scratch-{c.g.token(8, string.ascii_lowercase)}"
    config = {"LocationConstraint": c.region, "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}
    req = {"CreateBucketConfiguration": config, "bucketName": b, "Host": s3_host(c, b)}
    return {"requestParameters": req, "responseElements": None, "additionalEventData": s3_extra(c, into=153),
            "resources": [bucket_res(c, b)]}


def s3_object(c, size_key):
    b = c.g.choice(c.acct.buckets)
    key = c.g.choice(OBJECT_KEYS)
    if c.g.random() < UNICODE_RATE * 5:
        key = f"uploads/{c.g.choice(UNICODE_VALUES)}.pdf"
    size = c.g.randrange(100, 5_000_000)
    return {"requestParameters": {"bucketName": b, "Host": s3_host(c, b), "key": key}, "responseElements": None,
            "additionalEventData": s3_extra(c, **{size_key: size}),
            "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{b}/{key}"}, bucket_res(c, b)]}


def s3_get_object(c):
    return s3_object(c, "out")


def s3_put_object(c):
    parts = s3_object(c, "into")
    parts["responseElements"] = {"x-amz-server-side-encryption": "AES256", "x-amz-version-id": c.g.token(32, ALNUM)}
    return parts


def ec2_describe_instances(c):
    if c.g.random() < 0.5:
        req = {"instancesSet": {"items": [{"instanceId": c.g.choice(c.acct.instances)}]}, "filterSet": {}}
    else:
        running = {"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}}
        req = {"instancesSet": {}, "filterSet": {"items": [running]}}
    return {"requestParameters": req, "responseElements": None}


def ec2_describe_regions(c):
    return {"requestParameters": {"regionSet": {}, "allRegions": True}, "responseElements": None}


def ec2_run_instances(c):
    image, iid = f"ami-0{c.g.hex(8)}", f"i-0{c.g.hex(8)}"
    tags = [{"key": "Name", "value": c.g.maybe_unicode("web")}]
    req = {"instancesSet": {"items": [{"imageId": image, "minCount": 1, "maxCount": 1}]},
           "instanceType": c.g.choice(["t3.micro", "m7g.large", "c6i.xlarge"]), "blockDeviceMapping": {},
           "monitoring": {"enabled": False}, "disableApiTermination": False, "clientToken": c.g.uuid(),
           "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": tags}]}}
    instance = {"instanceId": iid, "imageId": image, "instanceState": {"code": 0, "name": "pending"},
                "privateDnsName": f"ip-10-0-{c.g.randrange(256)}-{c.g.randrange(256)}.ec2.internal",
                "launchTime": c.ts * 1000, "subnetId": f"subnet-0{c.g.hex(8)}"}
    resp = {"requestId": c.g.uuid(), "reservationId": f"r-0{c.g.hex(8)}", "ownerId": c.acct.id, "groupSet": {},
            "instancesSet": {"items": [instance]}}
    return {"requestParameters": req, "responseElements": resp}


def ec2_terminate_instances(c):
    iid = c.g.choice(c.acct.instances)
    change = {"instanceId": iid, "currentState": {"code": 32, "name": "shutting-down"},
              "previousState": {"code": 16, "name": "running"}}
    resp = {"requestId": c.g.uuid(), "instancesSet": {"items": [change]}}
    return {"requestParameters": {"instancesSet": {"items": [{"instanceId": iid}]}}, "responseElements": resp}


def ec2_modify_instance_attribute(c):
    # disableApiTermination is an object here and a boolean in RunInstances.
    return {"requestParameters": {"instanceId": c.g.choice(c.acct.instances), "disableApiTermination": {"value": True}},
            "responseElements": {"requestId": c.g.uuid(), "_return": True}}


def ec2_spot_price_history(c):
    # startTime/endTime are epoch milliseconds here and strings in cloudtrail LookupEvents.
    return {"requestParameters": {"startTime": (c.ts - 86400) * 1000, "endTime": c.ts * 1000,
                                  "instanceTypeSet": {"items": [{"instanceType": "c6i.large"}]},
                                  "productDescriptionSet": {"items": [{"productDescription": "Linux/UNIX"}]}},
            "responseElements": None}


def iam_create_user(c):
    name = f"svc-{c.g.token(6, string.ascii_lowercase)}"
    # tags is a list here and an object in lambda CreateFunction.
    req = {"userName": name, "tags": [{"key": "owner", "value": c.g.maybe_unicode("platform-team")}]}
    resp = {"user": {"path": "/", "userName": name, "userId": "AIDA" + c.g.token(17),
                     "arn": f"arn:aws:iam::{c.acct.id}:user/{name}", "createDate": human(c.ts)}}
    return {"requestParameters": req, "responseElements": resp}


def iam_attach_user_policy(c):
    policy = c.g.choice(["AdministratorAccess", "ReadOnlyAccess", "AmazonS3FullAccess"])
    return {"requestParameters": {"userName": c.g.choice(USER_NAMES), "policyArn": f"arn:aws:iam::aws:policy/{policy}"},
            "responseElements": None}


def iam_create_access_key(c):
    user = c.g.choice(USER_NAMES)
    key = {"userName": user, "accessKeyId": "AKIA" + c.g.token(16), "status": "Active", "createDate": human(c.ts)}
    resp = {"accessKey": key}
    return {"requestParameters": {"userName": user}, "responseElements": resp}


def iam_create_role(c):
    name = f"app-{c.g.token(6, string.ascii_lowercase)}"
    trust = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
             '"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}')
    resp = {"role": {"path": "/", "roleName": name, "roleId": "AROA" + c.g.token(17),
                     "arn": f"arn:aws:iam::{c.acct.id}:role/{name}", "createDate": human(c.ts),
                     "assumeRolePolicyDocument": trust}}
    req = {"roleName": name, "assumeRolePolicyDocument": trust, "tags": [{"key": "app", "value": "orders"}]}
    return {"requestParameters": req, "responseElements": resp}


def iam_list_users(c):
    return {"requestParameters": None if c.g.random() < 0.7 else {"maxItems": 100}, "responseElements": None}


def sts_assume_role(c):
    role = c.acct.roles[c.g.choice(WORK_ROLES)]
    session = c.g.choice(["terraform", f"GitHubActions-{c.g.randrange(10**9)}", f"botocore-session-{c.ts}"])
    creds = {"accessKeyId": "ASIA" + c.g.token(16), "sessionToken": "IQoJb3JpZ2luX2Vj" + c.g.b64(300),
             "expiration": human(c.ts + HOUR)}
    user = {"assumedRoleId": f"{role['id']}:{session}",
            "arn": f"arn:aws:sts::{c.acct.id}:assumed-role/{role['name']}/{session}"}
    return {"requestParameters": {"roleArn": role["arn"], "roleSessionName": session, "durationSeconds": 3600},
            "responseElements": {"credentials": creds, "assumedRoleUser": user},
            "resources": [{"accountId": c.acct.id, "type": "AWS::IAM::Role", "ARN": role["arn"]}]}


def no_params(c):
    return {"requestParameters": None, "responseElements": None}


def key_arn(c):
    return f"arn:aws:kms:{c.region}:{c.acct.id}:key/{c.acct.key_id}"


def kms_resources(c):
    return [{"accountId": c.acct.id, "type": "AWS::KMS::Key", "ARN": key_arn(c)}]


def function_arn(c):
    return f"arn:aws:lambda:{c.region}:{c.acct.id}:function:{c.g.choice(c.acct.functions)}"


def kms_decrypt(c):
    ctx = {"aws:lambda:FunctionArn": function_arn(c)}
    return {"requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": ctx},
            "responseElements": None, "resources": kms_resources(c)}


def kms_generate_data_key(c):
    b = c.g.choice(c.acct.buckets)
    req = {"keyId": key_arn(c), "keySpec": "AES_256",
           "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{b}/{c.g.choice(OBJECT_KEYS)}"}}
    return {"requestParameters": req, "responseElements": None, "resources": kms_resources(c)}


def lambda_invoke(c):
    arn = function_arn(c)
    return {"requestParameters": {"functionName": arn, "invocationType": "RequestResponse"}, "responseElements": None,
            "additionalEventData": {"functionVersion": f"{arn}:$LATEST"},
            "resources": [{"accountId": c.acct.id, "type": "AWS::Lambda::Function", "ARN": arn}]}


def lambda_create_function(c):
    name = f"fn-{c.g.token(6, string.ascii_lowercase)}"
    role = c.acct.roles["lambda-exec"]["arn"]
    req = {"functionName": name, "runtime": "python3.12", "role": role, "handler": "app.handler", "code": {},
           "tags": {"team": c.g.maybe_unicode("payments")}}
    resp = {"functionName": name, "functionArn": f"arn:aws:lambda:{c.region}:{c.acct.id}:function:{name}",
            "runtime": "python3.12", "role": role, "codeSize": c.g.randrange(1000, 900000), "state": "Pending"}
    return {"requestParameters": req, "responseElements": resp}


def trail_arn(c):
    return f"arn:aws:cloudtrail:us-east-1:{c.acct.id}:trail/management-events"


def cloudtrail_stop_logging(c):
    return {"requestParameters": {"name": trail_arn(c)}, "responseElements": None,
            "resources": [{"accountId": c.acct.id, "type": "AWS::CloudTrail::Trail", "ARN": trail_arn(c)}]}


def cloudtrail_lookup_events(c):
    # startTime is a string here and a number in ec2 DescribeSpotPriceHistory; maxResults an int
    # here and a string in guardduty ListDetectors.
    return {"requestParameters": {"startTime": human(c.ts - 86400), "endTime": human(c.ts), "maxResults": 50},
            "responseElements": None}


def cloudtrail_describe_trails(c):
    return {"requestParameters": {"trailNameList": [], "includeShadowTrails": True}, "responseElements": None}


def health_event_aggregates(c):
    # filter is an object here and a string in resource-explorer-2 ListResources.
    req = {"aggregateField": "eventTypeCategory",
           "filter": {"eventStatusCodes": ["open", "upcoming"], "startTimes": [{"from": human(c.ts - 7 * 86400)}]}}
    return {"requestParameters": req, "responseElements": None}


def resource_explorer_list(c):
    return {"requestParameters": {"filter": c.g.choice(["service:ec2", "resourcetype:s3:bucket", "region:" + c.region]),
                                  "maxResults": 100}, "responseElements": None}


def guardduty_list_detectors(c):
    return {"requestParameters": {"maxResults": "50"}, "responseElements": None}


def ssm_send_command(c):
    # parameters is a string here (hidden by AWS) and an object in StartSession.
    req = {"documentName": "AWS-RunShellScript", "instanceIds": [c.g.choice(c.acct.instances)],
           "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS", "interactive": False}
    resp = {"command": {"commandId": c.g.uuid(), "documentName": "AWS-RunShellScript", "status": "Pending",
                        "requestedDateTime": human(c.ts), "targetCount": 1, "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"}}
    return {"requestParameters": req, "responseElements": resp}


def ssm_start_session(c):
    iid = c.g.choice(c.acct.instances)
    req = {"target": iid, "documentName": "AWS-StartPortForwardingSession",
           "parameters": {"portNumber": ["5432"], "localPortNumber": ["15432"]}}
    session = f"{c.actor_arn.rsplit('/', 1)[-1]}-{c.g.hex(8)}"
    resp = {"sessionId": session, "tokenValue": "Value hidden due to security reasons.",
            "streamUrl": f"wss://ssmmessages.{c.region}.amazonaws.com/v1/data-channel/{session}?role=publish_subscribe"}
    return {"requestParameters": req, "responseElements": resp}


def ssm_get_parameter(c):
    name = c.g.choice(["/app/prod/db-url", "/app/prod/api-key"])
    return {"requestParameters": {"name": name, "withDecryption": True}, "responseElements": None}


def kms_rotate_key(c):
    return {"requestParameters": None, "responseElements": None, "resources": kms_resources(c),
            "serviceEventDetails": {"keyId": c.acct.key_id}}


def ec2_shared_snapshot(c):
    return {"requestParameters": None, "responseElements": None,
            "serviceEventDetails": {"snapshotId": f"snap-0{c.g.hex(8)}"}}


def signin_console_login(c):
    ok = c.g.random() > 0.08
    parts = {"requestParameters": None, "responseElements": {"ConsoleLogin": "Success" if ok else "Failure"},
             "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
                                     "MobileVersion": "No", "MFAUsed": "Yes" if ok else "No"}}
    if not ok:
        parts["errorMessage"] = "Failed authentication"
    return parts


@dataclass
class Api:
    source: str                       # "s3" means eventSource "s3.amazonaws.com"
    name: str
    build: Callable[[Ctx], dict]
    read_only: bool = False
    data: bool = False                # a data event: managementEvent false, eventCategory Data
    global_: bool = False             # a global service, logged in us-east-1 only


APIS = {f"{a.source}:{a.name}": a for a in [
    Api("s3", "ListBuckets", s3_list_buckets, read_only=True),
    Api("s3", "GetBucketAcl", s3_get_bucket_acl, read_only=True),
    Api("s3", "CreateBucket", s3_create_bucket),
    Api("s3", "GetObject", s3_get_object, read_only=True, data=True),
    Api("s3", "PutObject", s3_put_object, data=True),
    Api("ec2", "DescribeInstances", ec2_describe_instances, read_only=True),
    Api("ec2", "DescribeRegions", ec2_describe_regions, read_only=True),
    Api("ec2", "RunInstances", ec2_run_instances),
    Api("ec2", "TerminateInstances", ec2_terminate_instances),
    Api("ec2", "ModifyInstanceAttribute", ec2_modify_instance_attribute),
    Api("ec2", "DescribeSpotPriceHistory", ec2_spot_price_history, read_only=True),
    Api("ec2", "SharedSnapshotVolumeCreated", ec2_shared_snapshot),
    Api("iam", "CreateUser", iam_create_user, global_=True),
    Api("iam", "AttachUserPolicy", iam_attach_user_policy, global_=True),
    Api("iam", "CreateAccessKey", iam_create_access_key, global_=True),
    Api("iam", "CreateRole", iam_create_role, global_=True),
    Api("iam", "ListUsers", iam_list_users, read_only=True, global_=True),
    Api("sts", "AssumeRole", sts_assume_role, read_only=True),
    Api("sts", "GetCallerIdentity", no_params, read_only=True),
    Api("kms", "Decrypt", kms_decrypt, read_only=True),
    Api("kms", "GenerateDataKey", kms_generate_data_key, read_only=True),
    Api("kms", "RotateKey", kms_rotate_key),
    Api("lambda", "Invoke", lambda_invoke, data=True),
    Api("lambda", "CreateFunction20150331", lambda_create_function),
    Api("lambda", "ListFunctions20150331", no_params, read_only=True),
    Api("cloudtrail", "StopLogging", cloudtrail_stop_logging),
    Api("cloudtrail", "LookupEvents", cloudtrail_lookup_events, read_only=True),
    Api("cloudtrail", "DescribeTrails", cloudtrail_describe_trails, read_only=True),
    Api("health", "DescribeEventAggregates", health_event_aggregates, read_only=True),
    Api("resource-explorer-2", "ListResources", resource_explorer_list, read_only=True),
    Api("guardduty", "ListDetectors", guardduty_list_detectors, read_only=True),
    Api("ssm", "SendCommand", ssm_send_command),
    Api("ssm", "StartSession", ssm_start_session),
    Api("ssm", "GetParameter", ssm_get_parameter, read_only=True),
    Api("signin", "ConsoleLogin", signin_console_login),
]}

# Which APIs each kind of caller uses, with relative weights.
CONSOLE_APIS = {
    "health:DescribeEventAggregates": 10, "ec2:DescribeInstances": 10, "s3:ListBuckets": 8, "s3:GetBucketAcl": 6,
    "ec2:DescribeRegions": 5, "iam:ListUsers": 5, "lambda:ListFunctions20150331": 4, "cloudtrail:LookupEvents": 4,
    "cloudtrail:DescribeTrails": 3, "resource-explorer-2:ListResources": 3, "guardduty:ListDetectors": 3,
    "ec2:DescribeSpotPriceHistory": 2, "ssm:GetParameter": 2, "ssm:StartSession": 1, "s3:CreateBucket": 1,
    "ec2:RunInstances": 1, "ec2:TerminateInstances": 1, "iam:CreateUser": 1, "iam:AttachUserPolicy": 1,
    "iam:CreateAccessKey": 1, "cloudtrail:StopLogging": 0.2,
}
SDK_APIS = {
    "s3:GetObject": 20, "s3:PutObject": 12, "lambda:Invoke": 10, "sts:GetCallerIdentity": 8, "kms:Decrypt": 6,
    "ec2:DescribeInstances": 6, "sts:AssumeRole": 5, "kms:GenerateDataKey": 4, "s3:ListBuckets": 3,
    "ssm:GetParameter": 3, "cloudtrail:LookupEvents": 2, "guardduty:ListDetectors": 1, "ec2:RunInstances": 2,
    "ec2:TerminateInstances": 1, "ec2:ModifyInstanceAttribute": 1, "s3:CreateBucket": 1, "iam:CreateUser": 2,
    "iam:AttachUserPolicy": 2, "iam:CreateAccessKey": 2, "iam:CreateRole": 1, "lambda:CreateFunction20150331": 1,
    "ssm:SendCommand": 1, "cloudtrail:StopLogging": 0.2,
}
SERVICE_CALLS = {  # API -> the services that call it as AWSService
    "sts:AssumeRole": ["lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "rds.amazonaws.com"],
    "s3:GetBucketAcl": ["cloudtrail.amazonaws.com", "config.amazonaws.com"],
    "kms:Decrypt": ["secretsmanager.amazonaws.com", "s3.amazonaws.com"],
    "kms:GenerateDataKey": ["cloudtrail.amazonaws.com"],
}
SERVICE_EVENTS = {"kms:RotateKey": "AWS Internal", "ec2:SharedSnapshotVolumeCreated": "ec2.amazonaws.com"}
ERRORS = {
    "s3": [("AccessDenied", "Access Denied"), ("NoSuchBucket", "The specified bucket does not exist")],
    "ec2": [("Client.UnauthorizedOperation", "You are not authorized to perform this operation."),
            ("Client.RequestLimitExceeded", "Request limit exceeded.")],
    "iam": [("AccessDenied", "User: {arn} is not authorized to perform: iam:{name} "
                             "because no identity-based policy allows the iam:{name} action"),
            ("NoSuchEntityException", "The user with name carol cannot be found.")],
    "": [("AccessDenied", "User: {arn} is not authorized to perform: {source}:{name}"),
         ("ThrottlingException", "Rate exceeded")],
}


class Picker:
    """Weighted choice among the APIs a caller uses, without the global ones outside us-east-1."""

    def __init__(self, weights, region):
        apis = [(APIS[k], w) for k, w in weights.items() if region == "us-east-1" or not APIS[k].global_]
        self.apis = [a for a, _ in apis]
        self.cum = list(itertools.accumulate(w for _, w in apis))

    def __call__(self, g):
        return g.choices(self.apis, cum_weights=self.cum)[0]


# ---------------------------------------------------------------- callers

class EventMaker:
    """Makes the events of one account and region."""

    def __init__(self, g, acct, region):
        self.c = Ctx(g, acct, region)
        self.console_apis = Picker(CONSOLE_APIS, region)
        self.sdk_apis = Picker(SDK_APIS, region)

    def event(self, ts):
        c = self.c
        c.ts = ts
        roll = c.g.random()
        if roll < 0.03:
            f = self.console_login()
        elif roll < 0.30:
            f = self.console_call()
        elif roll < 0.82:
            f = self.sdk_call()
        elif roll < 0.95:
            f = self.service_call()
        else:
            f = self.service_event()
        return self.finish(f)

    def console_identity(self):
        """A console session: (userIdentity, the person's IP, whether it is the user's own session)."""
        c, roll = self.c, self.c.g.random()
        user = c.g.choice(c.acct.users)
        if roll < 0.55:
            return iam_user(c, user, temporary=True), user["ip"], True
        if roll < 0.90:
            role = c.acct.roles[c.g.choice(SSO_ROLES)]
            return assumed_role(c, role, f"{user['name']}@example.com"), user["ip"], False
        return root(c, "ASIA" + c.g.token(16)), c.acct.users[0]["ip"], True

    def console_call(self):
        c = self.c
        api = self.console_apis(c.g)
        ident, ip, own_session = self.console_identity()
        agent = c.g.choices(["AWS Internal", "console.amazonaws.com", f"console.{api.source}.amazonaws.com", "browser"],
                            cum_weights=[50, 70, 80, 100])[0]
        if agent == "browser":
            agent = S3_CONSOLE if api.source == "s3" else c.g.choice(BROWSERS)
        if agent == "AWS Internal" and c.g.random() < 0.3:
            ip = "AWS Internal"
        f = {"api": api, "userIdentity": ident, "sourceIPAddress": ip, "userAgent": agent}
        if own_session and c.g.random() < 0.7:
            f["sessionCredentialFromConsole"] = "true"
        if agent != "AWS Internal":
            f["tlsDetails"] = self.tls(api)
        return f

    def console_login(self):
        c = self.c
        if c.g.random() < 0.8:
            user = c.g.choice(c.acct.users)
            ident = {"type": "IAMUser", "principalId": user["pid"], "arn": user["arn"], "accountId": c.acct.id,
                     "userName": user["name"]}
            ip = user["ip"]
        else:
            ident, ip = root(c, ""), c.acct.users[0]["ip"]
        api = APIS["signin:ConsoleLogin"]
        agent = c.g.choice(BROWSERS + ["signin.amazonaws.com"])
        return {"api": api, "userIdentity": ident, "sourceIPAddress": ip, "userAgent": agent,
                "eventType": "AwsConsoleSignIn", "hasRequestID": False,
                "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                               "clientProvidedHostHeader": "signin.aws.amazon.com"}}

    def sdk_call(self):
        c = self.c
        api = self.sdk_apis(c.g)
        if c.g.random() < 0.5:
            user = c.g.choice(c.acct.users)
            ident, ip = iam_user(c, user, temporary=False), user["ip"]
        else:
            role = c.acct.roles[c.g.choice(WORK_ROLES)]
            ident = assumed_role(c, role, c.g.choice([c.g.choice(c.acct.instances), "terraform", f"aws-go-sdk-{c.ts}"]))
            ip = c.g.ipv4(AWS_IPS)
        agent = c.g.choice(SDK_AGENTS).format(cmd=f"{api.source}.{api.name.lower()}", svc=api.source)
        return {"api": api, "userIdentity": ident, "sourceIPAddress": ip, "userAgent": agent,
                "tlsDetails": self.tls(api)}

    def service_call(self):
        c = self.c
        key = c.g.choice(list(SERVICE_CALLS) + ["ec2:DescribeInstances"])
        if key in SERVICE_CALLS:
            service = c.g.choice(SERVICE_CALLS[key])
            ident = aws_service(c, service)
        else:  # a service-linked role acting for its service
            service = "inspector2.amazonaws.com"
            ident = assumed_role(c, c.acct.roles[INSPECTOR_ROLE], f"MandoService{c.g.randrange(10**17)}",
                                 temporary=False, invoked_by=service)
        return {"api": APIS[key], "userIdentity": ident, "sourceIPAddress": service, "userAgent": service,
                "sharedEventID": c.g.uuid()}

    def service_event(self):
        c = self.c
        key = c.g.choice(list(SERVICE_EVENTS))
        by = SERVICE_EVENTS[key]
        return {"api": APIS[key], "userIdentity": {"accountId": c.acct.id, "invokedBy": by}, "sourceIPAddress": by,
                "userAgent": by, "eventType": "AwsServiceEvent", "hasRequestID": False, "sharedEventID": c.g.uuid()}

    def tls(self, api):
        host = "iam.amazonaws.com" if api.global_ else f"{api.source}.{self.c.region}.amazonaws.com"
        return {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}

    def finish(self, f):
        """Adds the API's parts and the fields every record has, then orders the keys like AWS."""
        c, api = self.c, f.pop("api")
        f.update(api.build(c))
        if "eventType" not in f and c.g.random() < ERROR_RATE:  # API calls only; sign-ins fail their own way
            self.fail(f, api)
        f.update(eventVersion="1.09", eventTime=iso(c.ts), eventSource=f"{api.source}.amazonaws.com",
                 eventName=api.name, awsRegion=c.region, eventID=c.g.uuid(), readOnly=api.read_only,
                 managementEvent=not api.data, recipientAccountId=c.acct.id,
                 eventCategory="Data" if api.data else "Management")
        f.setdefault("eventType", "AwsApiCall")
        if f.pop("hasRequestID", True):
            f["requestID"] = c.g.token(16) if api.source == "s3" else c.g.uuid()
        return {k: f[k] for k in FIELD_ORDER if k in f}

    def fail(self, f, api):
        code, message = self.c.g.choice(ERRORS.get(api.source, ERRORS[""]))
        f["errorCode"] = code
        f["errorMessage"] = message.format(arn=self.c.actor_arn, name=api.name, source=api.source)
        f["responseElements"] = None


# ---------------------------------------------------------------- files

@dataclass
class LogFile:
    acct: Account
    region: str
    start: int          # start of the file's 5-minute window, epoch seconds
    events: int
    key: str = ""       # S3 key, relative to --out
    sha256: str = ""    # of the uncompressed content, as digests record it
    oldest: str = ""
    newest: str = ""


@dataclass
class Layout:
    out: str
    prefix: str         # "AWSLogs" or "AWSLogs/o-..."
    bucket: str
    trail: str

    def log_key(self, acct, region, ts, token):
        stamp, day = time.strftime("%Y%m%dT%H%MZ", time.gmtime(ts)), time.strftime("%Y/%m/%d", time.gmtime(ts))
        return f"{self.prefix}/{acct}/CloudTrail/{region}/{day}/{acct}_CloudTrail_{region}_{stamp}_{token}.json.gz"

    def digest_key(self, acct, region, ts):
        stamp, day = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts)), time.strftime("%Y/%m/%d", time.gmtime(ts))
        return (f"{self.prefix}/{acct}/CloudTrail-Digest/{region}/{day}/"
                f"{acct}_CloudTrail-Digest_{region}_{self.trail}_{region}_{stamp}.json.gz")


def plan_files(g, args, accounts, start):
    """Splits the events into log files of varying size, each in some account, region and window."""
    if args.single_file:
        return [LogFile(accounts[0], args.regions[0], start, args.events)]
    windows = args.days * 86400 // WINDOW
    files, left = [], args.events
    while left > 0:
        n = min(left, g.randint(1, 2 * args.events_per_file - 1))
        files.append(LogFile(g.choice(accounts), g.choice(args.regions), start + g.randrange(windows) * WINDOW, n))
        left -= n
    files.sort(key=lambda f: (f.acct.id, f.region, f.start))
    return files


def records_json(events, batch=2000):
    """The text of {"Records":[...]}, in pieces, so that a huge file is never whole in memory."""
    yield '{"Records":['
    sep = ""
    while chunk := list(itertools.islice(events, batch)):
        yield sep + ",".join(chunk)
        sep = ","
    yield "]}"


def write_gz(path, pieces):
    """Gzips the text pieces into path (no name, mtime 0); returns (gzip bytes, raw bytes, raw sha256)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    gz, digest, raw = zlib.compressobj(6, zlib.DEFLATED, 31), hashlib.sha256(), 0
    with open(path, "wb") as out:
        for piece in pieces:
            data = piece.encode()
            digest.update(data)
            raw += len(data)
            out.write(gz.compress(data))
        out.write(gz.flush())
        return out.tell(), raw, digest.hexdigest()


def write_log(g, layout, f, maker):
    f.key = layout.log_key(f.acct.id, f.region, f.start, g.token(16, ALNUM))
    offsets = sorted(g.randrange(WINDOW) for _ in range(f.events))
    f.oldest, f.newest = iso(f.start + offsets[0]), iso(f.start + offsets[-1])
    events = (DUMPS(maker.event(f.start + o)) for o in offsets)
    gz_bytes, raw_bytes, f.sha256 = write_gz(os.path.join(layout.out, f.key), records_json(events))
    return gz_bytes, raw_bytes


def digest_doc(layout, acct, region, start, logs, prev):
    """One hourly digest; prev is (key, sha256, signature) of the previous digest in the chain, or None."""
    end = start + HOUR
    return {
        "awsAccountId": acct, "digestStartTime": iso(start), "digestEndTime": iso(end),
        "digestS3Bucket": layout.bucket, "digestS3Object": layout.digest_key(acct, region, end),
        "digestPublicKeyFingerprint": hashlib.md5(f"{acct}{region}".encode()).hexdigest(),
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": max((f.newest for f in logs), default=None),
        "oldestEventTime": min((f.oldest for f in logs), default=None),
        "previousDigestS3Bucket": layout.bucket if prev else None,
        "previousDigestS3Object": prev[0] if prev else None,
        "previousDigestHashValue": prev[1] if prev else None,
        "previousDigestHashAlgorithm": "SHA-256" if prev else None,
        "previousDigestSignature": prev[2] if prev else None,
        "logFiles": [{"s3Bucket": layout.bucket, "s3Object": f.key, "hashValue": f.sha256, "hashAlgorithm": "SHA-256",
                      "newestEventTime": f.newest, "oldestEventTime": f.oldest} for f in logs],
    }


def write_digests(g, layout, files, accounts, regions, start, hours):
    """Writes a chain of hourly digests per account and region, empty hours included, as AWS does."""
    by_hour = {}
    for f in files:
        by_hour.setdefault((f.acct.id, f.region, (f.start - start) // HOUR), []).append(f)
    count = 0
    for acct, region in itertools.product((a.id for a in accounts), regions):
        prev = None
        for h in range(hours):
            doc = digest_doc(layout, acct, region, start + h * HOUR, by_hour.get((acct, region, h), []), prev)
            _, _, sha = write_gz(os.path.join(layout.out, doc["digestS3Object"]), [DUMPS(doc)])
            prev = (doc["digestS3Object"], sha, g.hex(256))
            count += 1
    return count


# ---------------------------------------------------------------- command line

def parse_args(argv):
    p = argparse.ArgumentParser(description="Generate deterministic, realistic CloudTrail log files in the S3 layout.")
    p.add_argument("--out", required=True, help="output directory (AWSLogs/ is created in it)")
    p.add_argument("--events", type=int, default=2000, help="total number of events (default 2000)")
    p.add_argument("--events-per-file", type=int, default=100,
                   help="mean events per log file (default 100; sizes vary from 1 to 2N-1)")
    p.add_argument("--accounts", type=int, default=2, help="number of AWS accounts (default 2)")
    p.add_argument("--regions", default="us-east-1,eu-west-1",
                   help="comma-separated regions (default us-east-1,eu-west-1)")
    p.add_argument("--start", default="2024-05-01", help="first day, YYYY-MM-DD (default 2024-05-01)")
    p.add_argument("--days", type=int, default=3, help="number of days covered (default 3)")
    p.add_argument("--seed", type=int, default=1,
                   help="random seed; the same arguments and seed give identical bytes (default 1)")
    p.add_argument("--org", help="organization ID (o-...): lay files out as AWSLogs/ORG/ACCOUNT/...")
    p.add_argument("--no-digests", action="store_true", help="do not write CloudTrail-Digest files")
    p.add_argument("--single-file", action="store_true", help="write all events into one log file (memory tests)")
    args = p.parse_args(argv)
    args.regions = [r for r in args.regions.split(",") if r]
    if min(args.events, args.events_per_file, args.accounts, args.days) < 1 or not args.regions:
        p.error("--events, --events-per-file, --accounts, --days must be >= 1 and --regions non-empty")
    if args.org and not re.fullmatch(r"o-[a-z0-9]{10,32}", args.org):
        p.error("--org must look like o-a1b2c3d4e5 (o- then 10 to 32 lowercase letters or digits)")
    if os.path.exists(os.path.join(args.out, "AWSLogs")):
        p.error(f"{args.out}/AWSLogs already exists; remove it or choose another --out")
    return args


def main(argv=None):
    args = parse_args(argv)
    began = time.perf_counter()
    g = Rand(args.seed)
    accounts = [make_account(g, i) for i in range(args.accounts)]
    start = calendar.timegm(time.strptime(args.start, "%Y-%m-%d"))
    prefix = f"AWSLogs/{args.org}" if args.org else "AWSLogs"
    trail = "org-trail" if args.org else "management-events"
    layout = Layout(args.out, prefix, f"aws-cloudtrail-logs-{accounts[0].id}-{g.hex(4)}", trail)
    files = plan_files(g, args, accounts, start)
    makers, gz_total, raw_total = {}, 0, 0
    for f in files:
        if (f.acct.id, f.region) not in makers:
            makers[f.acct.id, f.region] = EventMaker(g, f.acct, f.region)
        gz_bytes, raw_bytes = write_log(g, layout, f, makers[f.acct.id, f.region])
        gz_total, raw_total = gz_total + gz_bytes, raw_total + raw_bytes
    digests = 0 if args.no_digests else write_digests(g, layout, files, accounts, args.regions, start, args.days * 24)
    elapsed = time.perf_counter() - began
    print(f"gen-cloudtrail: {len(files)} log files, {digests} digests, {args.events} events, "
          f"{raw_total} bytes JSON ({gz_total} gzip) in {args.out} [{elapsed:.1f}s]", file=sys.stderr)


if __name__ == "__main__":
    main()
