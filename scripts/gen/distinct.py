#!/usr/bin/env python3
"""Generate CloudTrail log files where every event has its own principal, source IP and access key.

The input of `report`'s memory bound (docs/guides/report.md, "Bounds"): its tables and distinct
counts must stay bounded however many distinct keys a trail holds. Used by
`scripts/bench/run.sh report-page` (memory mode) and by the test `report_memory`.
Deterministic; Python 3 standard library only.

Usage: scripts/gen/distinct.py OUT EVENTS
  writes OUT/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/*.json.gz, 10,000 events a file
"""
import gzip
import os
import sys


# One event; written as text (a million dicts through json.dump take four times as long).
EVENT = (
    '{{"eventVersion":"1.08","eventTime":"2024-05-01T{h:02d}:{m:02d}:{s:02d}Z",'
    '"eventSource":"s3.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1",'
    '"sourceIPAddress":"10.{a}.{b}.{c}","userAgent":"aws-cli/2.15.0","eventID":"ev-{i:09d}",'
    '"readOnly":{ro},"recipientAccountId":"111122223333","eventType":"AwsApiCall",'
    '"userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/user-{i:09d}",'
    '"accessKeyId":"AKIA{i:016d}","userName":"user-{i:09d}"}}}}'
)


def event(i):
    return EVENT.format(h=i // 3600 % 24, m=i // 60 % 60, s=i % 60, name="PutObject" if i % 3 else "GetObject",
                        a=i >> 16 & 255, b=i >> 8 & 255, c=i & 255, i=i, ro="true" if i % 3 == 0 else "false")


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    per_file = 10000
    folder = os.path.join(out, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01")
    os.makedirs(folder, exist_ok=True)
    for f in range(0, n, per_file):
        records = ",".join(event(i) for i in range(f, min(n, f + per_file)))
        name = "111122223333_CloudTrail_us-east-1_20240501T0000Z_%06d.json.gz" % (f // per_file)
        # Level 1: the events repeat their shape, so it compresses well and fast.
        with gzip.open(os.path.join(folder, name), "wt", compresslevel=1) as fh:
            fh.write('{"Records":[' + records + "]}")


if __name__ == "__main__":
    main()
