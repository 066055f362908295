//! Integration tests: the real binary on files, and against real servers from `scripts/dev/dev-stack.sh`.
//! One test binary; each module is one feature. Modules (or, in a mixed module, tests) that need a
//! server are compiled only with the Cargo feature `servers` (scripts/test.sh turns it on), so that
//! `cargo test` on a machine with no server runs every server-free test and skips none silently.

mod util;

// The flags reference (docs/reference/flags.md) matches clap: flags, commands, defaults, env. No server.
mod flags_reference;
// Reading files: broken input, digests, --output NDJSON. No server needed.
mod local_files;
// CloudWatch Logs payloads (subscription, Firehose, Lambda, export task) read like trail files. No server.
mod cloudwatch_files;
// Sending to real clusters (Elasticsearch 8 and 9, OpenSearch 3 and 2): exactly once, dead letters, unreachable clusters.
mod es_bulk;
// A secured cluster (HTTPS, security on): basic auth, API keys, --ca-cert, --insecure, refusals, no secret shown.
#[cfg(feature = "servers")]
mod es_auth;
// Backfill from S3 (moto): layout, filters, resume with --state, sharding.
#[cfg(feature = "servers")]
mod s3_backfill;
// Follow an SQS queue (moto): message formats, poison messages, kill -9, cluster outage, --to-queue.
#[cfg(feature = "servers")]
mod sqs_follow;
// follow reads only what it was meant to: --allow-bucket, keys outside the layout.
#[cfg(feature = "servers")]
mod follow_scope;
// Redaction and filtering flags: nothing redacted leaks, hash, filters, --console-only and its query.
mod transform_flags;
// `setup` on the four clusters: templates installed idempotently; corpus, generated and hostile events with zero rejections.
#[cfg(feature = "servers")]
mod setup;
// OpenSearch Security Analytics: a detector's template edit survives setup and the next day; aliases
// to the keyword copies of the nine request/response leaves; setup keeps what others add to the template.
#[cfg(feature = "servers")]
mod security_analytics;
// Kibana / OpenSearch Dashboards saved objects: references, fields, pie aggregations, import.
mod kibana;
// The SigV4-checking stand-in for Amazon OpenSearch Service / Serverless is strict: refusals, 404s, _id refusal.
#[cfg(feature = "servers")]
mod sigv4_proxy;
// Backfill and setup into the proxied OpenSearch with SigV4: keys, sessions, --compress, a wrong key, Serverless.
#[cfg(feature = "servers")]
mod sigv4_backfill;
// Follow into the proxied OpenSearch with credentials that expire and rotate mid-run.
#[cfg(feature = "servers")]
mod sigv4_follow;
// ECS output: Elastic Security's prebuilt AWS rules find exactly their trigger events in the corpus.
mod ecs_rules;
// Redaction of every spelling of a field (dotted keys, mixtures), LookupEvents, repeated keys.
mod redaction_spellings;
// Rejections by the real clusters: reasons and log lines name the error, never the values.
#[cfg(feature = "servers")]
mod cluster_reasons;
// Log lines and exit errors escape control characters: a newline in a name forges nothing.
mod log_lines;
// Files holding events: created 0600, planted symbolic links refused.
mod written_files;
// Dead letters: whole lines only, bounded, deep and non-UTF-8 records kept exactly and readable.
mod dead_letters;
// S3 errors against moto: a missing key is not a missing bucket.
#[cfg(feature = "servers")]
mod s3_errors;
// The bulk output when the cluster fails (through an HTTP proxy of our own): outages past the patience, 413 splits, recovery.
#[cfg(feature = "servers")]
mod bulk_reliability;
// Follow facing a document the cluster always refuses with 429: bounded patience, /healthz, the message left to the redrive policy.
#[cfg(feature = "servers")]
mod follow_patience;
// Alerts from follow: chat webhook and SNS texts, kill -9 and redelivery, bursts, receiver outages.
#[cfg(feature = "servers")]
mod alerts;
// ECS output end to end: setup --ecs on the four clusters, --ecs documents land and are found, redaction covers the ECS copies.
mod ecs_output;
// Adaptive bulk concurrency: a 429-injecting proxy; one request per backoff while refused, then recovery, no loss.
#[cfg(feature = "servers")]
mod adaptive_concurrency;
// Refresh off while a backfill writes: back after a normal run, SIGINT, and kill -9 + re-run with --state.
#[cfg(feature = "servers")]
mod refresh_relax;
// A large S3 object whose download breaks off: resumed with a Range request, or failed and re-read by a re-run.
#[cfg(feature = "servers")]
mod s3_resume;
// A damaged gzip member too big to hold: its events were sent unverified, and the re-run replaces them.
#[cfg(feature = "servers")]
mod replace_unverified;
// replay: dead letters sent again once the cause is fixed, exactly once; a cluster that is down, lines that are not letters.
#[cfg(feature = "servers")]
mod replay;
// Every CloudTrail log kind (network activity, aggregated, Insights, new kinds), 1.11 fields and
// values too long to index, from a folder and from S3, on Elasticsearch 8 and 9 and OpenSearch 3 and 2.
#[cfg(feature = "servers")]
mod log_kinds;
// report from files: the corpus's numbers, planted markup escaped, flags and config, files 0600. No server.
mod report;
// report --rules from files: the findings backfill writes, by rule and level; planted markup escaped. No server.
mod report_findings;
// report from a cluster equals the report from files and direct aggregations, on the four clusters.
#[cfg(feature = "servers")]
mod report_cluster;
// report's memory bound on a million distinct principals, keys and addresses (half a minute; no server).
#[cfg(feature = "servers")]
mod report_memory;
// The report page in headless Chromium: offline, no console error, markup as text, a screenshot.
#[cfg(feature = "servers")]
mod report_browser;
// Sigma rules at ingest: every bundled rule fires on its event and not its near miss, findings once.
#[cfg(feature = "servers")]
mod sigma;
// Sigma findings in follow: EventBridge events alert in seconds, the later trail file adds nothing, kill -9.
#[cfg(feature = "servers")]
mod sigma_follow;
// CloudTrail's truncation flag `omitted`: boolean-mapped on the four clusters, counted in the summary and /metrics.
#[cfg(feature = "servers")]
mod truncated_events;
// --account-names: recipientAccountName searchable on the four clusters; the config-file key; a bad file stops the run.
mod account_names;
// The Lambda function under AWS's Runtime Interface Emulator: every event kind exactly once, partial
// batch answers, dead letters to S3 and SQS, an outage, warm starts, init errors.
#[cfg(feature = "servers")]
mod lambda;
