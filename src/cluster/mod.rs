//! The cluster client: the one door to Elasticsearch, OpenSearch and Kibana. Outputs (`_bulk`)
//! and `setup` (templates, policies, saved objects) both stand on it; it knows nothing of either.
//!
//! - `settings.rs`: how to reach and authenticate ([`ClusterSettings`], [`Labels`] for messages);
//! - `client.rs`: [`EsClient`], one attempt per request (auth, TLS, gzip, timeouts);
//! - `info.rs`: what the server is ([`ClusterInfo`], [`Flavor`]);
//! - `error.rs`: [`ClientError`], an outage told apart from settings to fix;
//! - `sigv4.rs`: AWS Signature Version 4 for Amazon OpenSearch Service and Serverless;
//! - `signing.rs`: how the client signs (its own gzip, the exact URL, refusal messages).

mod client;
mod error;
mod info;
mod settings;
mod signing;
pub mod sigv4;

pub use client::{shown, EsClient, Reply};
pub use error::ClientError;
pub use info::{ClusterInfo, Flavor};
pub use settings::{ClusterSettings, Labels, SigV4Settings};
