#!/bin/bash
# LocalStack "ready" hook (mounted into /etc/localstack/init/ready.d/ by docker-compose.yml): the
# trail's bucket, the queue cloudtrail-es follows, and the S3 event notification that sends every
# new log file's key to the queue, as a real trail bucket would be wired.
#
# Env (defaults for docker-compose.yml): BUCKET, QUEUE, AWS_CLI (the CLI to call; awslocal in
# LocalStack, e.g. "aws --endpoint-url http://127.0.0.1:5000" to try it against moto).
set -euo pipefail
BUCKET="${BUCKET:-cloudtrail-logs}"
QUEUE="${QUEUE:-cloudtrail-events}"
read -r -a AWS <<<"${AWS_CLI:-awslocal}"

"${AWS[@]}" s3api create-bucket --bucket "$BUCKET" >/dev/null
queue_url=$("${AWS[@]}" sqs create-queue --queue-name "$QUEUE" --query QueueUrl --output text)
queue_arn=$("${AWS[@]}" sqs get-queue-attributes --queue-url "$queue_url" --attribute-names QueueArn \
  --query Attributes.QueueArn --output text)
# Log files and digests both end in .json.gz; cloudtrail-es skips digests by their key.
"${AWS[@]}" s3api put-bucket-notification-configuration --bucket "$BUCKET" --notification-configuration "{
  \"QueueConfigurations\": [{
    \"QueueArn\": \"$queue_arn\",
    \"Events\": [\"s3:ObjectCreated:*\"],
    \"Filter\": {\"Key\": {\"FilterRules\": [{\"Name\": \"prefix\", \"Value\": \"AWSLogs/\"},
                                            {\"Name\": \"suffix\", \"Value\": \".json.gz\"}]}}
  }]
}"
echo "cloudtrail-es: s3://$BUCKET notifies $queue_url of new log files"
