#!/usr/bin/env python3
"""Puts one bomb where a follower finds it, for scripts/bench/bombs.sh's follow mode (moto only).

  follow_bomb.py setup FILE   -> creates a bucket and a queue in moto, uploads FILE under a
                                 CloudTrail key, sends the S3 event notification; prints the queue URL
  follow_bomb.py pending URL  -> prints how many messages are still in the queue (visible + in flight)

Runs with moto's venv Python (boto3 comes with moto). The endpoint is $AWS_ENDPOINT_URL.
"""
import json
import os
import sys
import uuid

import boto3

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
KEY = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T0000Z_bomb.json.gz"


def client(service):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def setup(path):
    name = f"bench-bomb-{uuid.uuid4().hex[:12]}"
    s3, sqs = client("s3"), client("sqs")
    s3.create_bucket(Bucket=name)
    with open(path, "rb") as body:
        s3.put_object(Bucket=name, Key=KEY, Body=body)
    size = os.path.getsize(path)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    record = {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
              "eventName": "ObjectCreated:Put",
              "s3": {"bucket": {"name": name}, "object": {"key": KEY, "size": size}}}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [record]}))
    print(url)


def pending(url):
    attrs = client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    print(sum(int(v) for v in attrs["Attributes"].values()))


if __name__ == "__main__":
    {"setup": setup, "pending": pending}[sys.argv[1]](sys.argv[2])
