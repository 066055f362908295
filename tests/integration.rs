//! Integration tests: the real binary against real servers from `scripts/dev-stack.sh`.
//! One test binary; each module is one feature.

mod util;

// Reading files: broken input, digests, --output NDJSON. No server needed.
mod local_files;
// Sending to real clusters (Elasticsearch 8 and 9, OpenSearch 3 and 2): exactly once, dead letters, unreachable clusters.
mod es_bulk;
// A secured cluster (HTTPS, security on): basic auth, API keys, --ca-cert, --insecure, refusals, no secret shown.
mod es_auth;
// Backfill from S3 (moto): layout, filters, resume with --state, sharding.
mod s3_backfill;
// Follow an SQS queue (moto): message formats, poison messages, kill -9, cluster outage, --to-queue.
mod sqs_follow;
// Redaction and filtering flags: nothing redacted leaks, hash, filters, --console-only and its query.
mod transform_flags;
// `setup` on the four clusters: templates installed idempotently; corpus, generated and hostile events with zero rejections.
mod setup;
// Kibana / OpenSearch Dashboards saved objects: references, fields, pie aggregations, import.
mod kibana;
// The SigV4-checking stand-in for Amazon OpenSearch Service / Serverless is strict: refusals, 404s, _id refusal.
mod sigv4_proxy;
// ECS output: Elastic Security's prebuilt AWS rules find exactly their trigger events in the corpus.
mod ecs_rules;
// ECS output end to end: setup --ecs on the four clusters, --ecs documents land and are found, redaction covers the ECS copies.
mod ecs_output;
