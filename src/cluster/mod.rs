//! Talking to the cluster (Elasticsearch, OpenSearch, Amazon OpenSearch Service / Serverless): for now the
//! SigV4 signing that AWS-managed clusters require of every request.

pub mod sigv4;
