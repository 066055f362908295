//! The cluster client: the one door to Elasticsearch, OpenSearch and Kibana. Outputs (`_bulk`)
//! and `setup` (templates, policies, saved objects) both stand on it; it knows nothing of either.
//!
//! - `settings.rs`: how to reach and authenticate ([`ClusterSettings`], [`Labels`] for messages);
//! - `client.rs`: [`EsClient`], one attempt per request (auth, TLS, gzip, timeouts);
//! - `info.rs`: what the server is ([`ClusterInfo`], [`Flavor`]);
//! - `error.rs`: [`ClientError`], an outage told apart from settings to fix;
//! - `sigv4.rs`: AWS Signature Version 4 for Amazon OpenSearch Service and Serverless.

mod client;
mod error;
mod info;
mod settings;
pub mod sigv4;

pub use client::{shown, EsClient, Reply};
pub use error::ClientError;
pub use info::{ClusterInfo, Flavor};
pub use settings::{ClusterSettings, Labels};
