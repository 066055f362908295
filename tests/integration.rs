//! Integration tests: the real binary against real servers from `scripts/dev-stack.sh`.
//! One test binary; each module is one feature.

mod util;

// Reading files: broken input, digests, --output NDJSON. No server needed.
mod local_files;
// Sending to real Elasticsearch and OpenSearch: exactly once, dead letters, unreachable clusters.
mod es_bulk;
// `setup`: templates installed idempotently; corpus, generated and hostile events with zero rejections.
mod setup;
// Kibana / OpenSearch Dashboards saved objects: references, fields, pie aggregations, import.
mod kibana;
