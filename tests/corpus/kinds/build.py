#!/usr/bin/env python3
"""Writes the synthetic log-kind fixtures under AWSLogs/ here (tests/log_kinds.rs reads them).

Hand-written events, not real ones: every account, ARN, id and address is made up (AWS's
documentation accounts 111122223333 and 444455556666). The shapes follow AWS's CloudTrail user
guide: record contents for management/data/network activity events (eventVersion 1.11 fields),
network activity events (AwsVpceEvent), aggregated events (AwsAggregatedEvent), Insights events.
The long values are policies and templates of the sizes AWS allows: a KMS key policy of about
32 KB (the most KMS takes; with its path it is one term over Lucene's 32,766 bytes), a
CloudFormation templateBody of 50 KB (51,200 allowed) and one of 36 KB in responseElements, and a
20 KB bucket policy (the S3 limit), which fits in one term and stays in place; and one 200 KB leaf, an
API Gateway PutRestApi `body` (an OpenAPI definition; CloudTrail events may be up to 256 KB). Run it again after editing an event:
    python3 tests/corpus/kinds/build.py
Output is deterministic (gzip without a timestamp).
"""
import gzip
import json
from pathlib import Path

HERE = Path(__file__).parent
ACCOUNT = "111122223333"
ROOT = HERE / "AWSLogs" / ACCOUNT


def write(kind, region, day, name, records, key="Records"):
    folder = ROOT / kind / region / day.replace("-", "/")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = day.replace("-", "")
    path = folder / f"{ACCOUNT}_{kind}_{region}_{stamp}T1930Z_{name}.json.gz"
    body = json.dumps({key: records} if key else records, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(body, mtime=0))


def identity_center_user():
    return {"type": "IdentityCenterUser", "accountId": ACCOUNT,
            "onBehalfOf": {"userId": "94482488-3041-7026-18f3-be45837cd0e4",
                           "identityStoreArn": "arn:aws:identitystore::111122223333:identitystore/d-9067642ac7"},
            "credentialId": "EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE"}


def role(session="alice"):
    return {"type": "AssumedRole", "principalId": f"AROAEXAMPLEROLEID:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/{session}", "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEKEYID0001",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID",
                                                 "arn": f"arn:aws:iam::{ACCOUNT}:role/Admin", "accountId": ACCOUNT,
                                                 "userName": "Admin"},
                               "attributes": {"creationDate": "2025-11-17T19:00:00Z", "mfaAuthenticated": "false"}}}


def event(n, name, source, identity, **fields):
    e = {"eventVersion": "1.11", "userIdentity": identity, "eventTime": f"2025-11-17T19:{n:02d}:00Z",
         "eventSource": source, "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
         "userAgent": "aws-cli/2.22.0 md/awscrt#0.23.0 ua/2.0 os/linux#6.8 md/arch#x86_64 lang/python#3.12.6",
         "requestParameters": None, "responseElements": None,
         "requestID": f"req-kinds-{n:04d}", "eventID": f"kinds-mgmt-{n:04d}", "readOnly": False,
         "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCOUNT,
         "eventCategory": "Management",
         "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                        "clientProvidedHostHeader": f"{source.split('.')[0]}.us-east-1.amazonaws.com",
                        "keyExchange": "x25519"}}
    e.update(fields)
    return e


def statements(n, size):
    """A key or bucket policy of about `size` bytes: `n`-numbered statements until it is that long."""
    out, i = [], 0
    while len(json.dumps({"Version": "2012-10-17", "Statement": out}, indent=2)) < size:
        out.append({"Sid": f"Allow{n}x{i}", "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/app-{i:05d}"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
                    "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})
        i += 1
    return json.dumps({"Version": "2012-10-17", "Statement": out}, indent=2)


def template(size):
    resources, i = {}, 0
    while len(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}, indent=1)) < size:
        resources[f"Queue{i:05d}"] = {"Type": "AWS::SQS::Queue",
                                      "Properties": {"QueueName": f"kinds-queue-{i:05d}",
                                                     "VisibilityTimeout": 30, "MessageRetentionPeriod": 345600}}
        i += 1
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}, indent=1)


def openapi(size):
    """An OpenAPI definition of about `size` bytes, on one line (as an SDK sends it)."""
    paths, i = {}, 0
    while len(json.dumps({"openapi": "3.0.1", "paths": paths})) < size:
        paths[f"/kinds/items{i:05d}"] = {"get": {"operationId": f"getItem{i:05d}",
                                               "responses": {"200": {"description": "the item"}}}}
        i += 1
    return json.dumps({"openapi": "3.0.1", "info": {"title": "kinds-big-api"}, "paths": paths})


def management():
    root_session = role("root-task")
    root_session["sessionContext"]["assumedRoot"] = "true"
    lambda_role = role("kinds-fn")
    lambda_role["inScopeOf"] = {"issuerType": "AWS::Lambda::Function",
                                "credentialsIssuedTo": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:kinds-fn",
                                "issuerAccountId": ACCOUNT,
                                "issuerSourceArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:kinds-fn"}
    return [
        event(1, "ListBuckets", "s3.amazonaws.com", identity_center_user(), readOnly=True),
        event(2, "DeleteBucketPolicy", "s3.amazonaws.com", root_session,
              requestParameters={"bucketName": "kinds-locked-bucket", "Host": "kinds-locked-bucket.s3.amazonaws.com"}),
        event(3, "GetCallerIdentity", "sts.amazonaws.com", lambda_role, readOnly=True),
        event(4, "PutKeyPolicy", "kms.amazonaws.com", role(),
              requestParameters={"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "policyName": "default",
                                 "policy": statements(4, 32_600), "bypassPolicyLockoutSafetyCheck": False}),
        event(5, "CreateStack", "cloudformation.amazonaws.com", role(),
              requestParameters={"stackName": "kinds-big-stack", "templateBody": template(50_000),
                                 "capabilities": ["CAPABILITY_IAM"]},
              responseElements={"stackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/kinds-big-stack/1"}),
        event(6, "PutBucketPolicy", "s3.amazonaws.com", role(),
              requestParameters={"bucketName": "kinds-policy-bucket", "policy": statements(6, 20_000)}),
        event(7, "GetTemplate", "cloudformation.amazonaws.com", role(), readOnly=True,
              requestParameters={"stackName": "kinds-big-stack"},
              responseElements={"templateBody": template(36_000), "stagesAvailable": ["Original", "Processed"]}),
        event(10, "PutRestApi", "apigateway.amazonaws.com", role(),
              requestParameters={"restApiId": "kinds0api1", "mode": "overwrite", "failOnWarnings": False,
                                 "body": openapi(200_000)},
              responseElements={"id": "kinds0api1", "name": "kinds-big-api"}),
    ]


def vpce(n, name, source, category_data=False, denied=False, day="17"):
    e = {"eventVersion": "1.11", "userIdentity": role("net"), "eventTime": f"2025-11-{day}T19:{n:02d}:30Z",
         "eventSource": source, "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "10.0.141.54",
         "requestID": f"req-net-{day}-{n:04d}", "eventID": f"kinds-net-{day}-{n:04d}", "eventType": "AwsVpceEvent",
         "recipientAccountId": ACCOUNT, "sharedEventID": f"shared-net-{day}-{n:04d}",
         "vpcEndpointId": "vpce-0example1234567890", "vpcEndpointAccountId": "444455556666",
         "eventCategory": "NetworkActivity"}
    if denied:
        e["errorCode"] = "VpceAccessDenied"
        e["errorMessage"] = "The request was denied due to a VPC endpoint policy"
        e["userIdentity"] = {"type": "AWSAccount", "accountId": "444455556666", "principalId": ""}
    if category_data:
        e["resources"] = [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::kinds-bucket/key.txt"}]
    return e


def aggregated(n, template_name, primary, details, window="2025-11-17T19:20:00Z", end="2025-11-17T19:25:00Z"):
    return {"eventVersion": "1.0", "accountId": ACCOUNT, "eventId": f"kinds-agg-{n:04d}",
            "eventCategory": "Aggregated", "eventType": "AwsAggregatedEvent", "awsRegion": "us-west-2",
            "eventSource": "s3.amazonaws.com",
            "timeWindow": {"windowStart": window, "windowEnd": end, "windowSize": "PT5M"},
            "summary": {"primaryDimension": {"dimension": primary[0],
                                             "statistics": [{"name": primary[1], "value": primary[2]}],
                                             "aggregationType": "Count"},
                        "details": [{"dimension": d, "statistics": [{"name": k, "value": v} for k, v in stats],
                                     "aggregationType": "Count"} for d, stats in details]}}


def main():
    write("CloudTrail", "us-east-1", "2025-11-17", "kinds111", management())
    write("CloudTrail", "us-east-1", "2025-11-20", "late",
          [event(9, "ListKeys", "kms.amazonaws.com", role(), eventTime="2025-11-20T08:00:00Z",
                 eventID="kinds-mgmt-late")])
    write("CloudTrail-NetworkActivity", "us-east-1", "2025-11-17", "vpce", [
        vpce(1, "ListBuckets", "s3.amazonaws.com"),
        vpce(2, "GetObject", "s3.amazonaws.com", category_data=True),
        vpce(3, "Decrypt", "kms.amazonaws.com", denied=True),
    ])
    write("CloudTrail-NetworkActivity", "us-east-1", "2025-11-20", "vpce", [vpce(4, "ListKeys", "kms.amazonaws.com", day="20")])
    write("CloudTrail-Aggregated", "us-west-2", "2025-11-17", "agg", [
        aggregated(1, "API_ACTIVITY", ("eventName", "PutObject", 1000),
                   [("resourceARN", [("arn:aws:s3:::bucket-1", 800), ("arn:aws:s3:::bucket-2", 150),
                                     ("arn:aws:s3:::bucket-3", 50)])]),
        aggregated(2, "RESOURCE_ACCESS", ("resourceARN", "arn:aws:s3:::bucket-1", 800),
                   [("eventName", [("PutObject", 800)]),
                    ("userAgent", [("aws-sdk-java/2.29.0", 700), ("Mozilla/5.0 (X11; Linux x86_64)", 100)])]),
        aggregated(3, "USER_ACTIONS", ("userIdentity", f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice", 42),
                   [("eventName", [("GetObject", 40), ("PutObject", 2)]),
                    ("sourceIpAddress", [("198.51.100.7", 42)]), ("errorCodes", [("AccessDenied", 2)])]),
    ])
    write("CloudTrail-Aggregated", "us-west-2", "2025-11-16", "agg", [
        aggregated(4, "API_ACTIVITY", ("eventName", "GetObject", 7), [],
                   window="2025-11-16T23:55:00Z", end="2025-11-17T00:00:00Z")])
    write("CloudTrail-Insight", "us-east-1", "2025-11-17", "insight", [{
        "eventVersion": "1.08", "eventTime": "2025-11-17T19:10:00Z", "awsRegion": "us-east-1",
        "eventID": "kinds-insight-0001", "eventType": "AwsCloudTrailInsight", "recipientAccountId": ACCOUNT,
        "sharedEventID": "kinds-insight-shared-1", "eventCategory": "Insight",
        "insightDetails": {"state": "Start", "eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
                           "insightType": "ApiCallRateInsight",
                           "insightContext": {"statistics": {"baseline": {"average": 0.5},
                                                             "insight": {"average": 40.0}}}}}])
    write("CloudTrail-FutureKind", "us-east-1", "2025-11-17", "future", [
        event(8, "DescribeFuture", "future.amazonaws.com", role(), eventID="kinds-future-0001",
              eventCategory="FutureKind")])
    write("CloudTrail-Digest", "us-east-1", "2025-11-17", "digest", {
        "awsAccountId": ACCOUNT, "digestStartTime": "2025-11-17T18:30:00Z", "digestEndTime": "2025-11-17T19:30:00Z",
        "digestS3Bucket": "kinds-trail", "digestS3Object": "AWSLogs/x", "digestPublicKeyFingerprint": "00",
        "digestSignatureAlgorithm": "SHA256withRSA", "logFiles": []}, key=None)


if __name__ == "__main__":
    main()
