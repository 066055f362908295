//! How to reach and authenticate to a cluster (or Kibana): plain values, filled in by the command
//! line (`cli/settings.rs`) and read by [`EsClient::new`](super::EsClient::new).
//!
//! [`Labels`] say where each value came from, as the user knows it (a flag, an environment
//! variable), so that messages written down here can name what to fix without this layer knowing
//! any flag: the face fills them in.

use super::sigv4::Service;
use crate::aws::AwsSettings;
use std::path::PathBuf;
use std::time::Duration;

/// How to reach and authenticate to the cluster. Its `Debug` hides the secrets.
#[derive(Clone)]
pub struct ClusterSettings {
    /// Base URL; a `user:password@` in it is used for basic auth and removed from messages.
    pub url: String,
    /// Basic-auth user.
    pub user: Option<String>,
    /// Basic-auth password (from the environment, never a flag).
    pub password: Option<String>,
    /// API key: the encoded form Elasticsearch returns, or `id:key`.
    pub api_key: Option<String>,
    /// PEM file with the CA that signed the cluster's certificate.
    pub ca_cert: Option<PathBuf>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Gzip request bodies.
    pub compress: bool,
    /// Time limit for one request.
    pub timeout: Duration,
    /// Sign every request with AWS SigV4 (Amazon OpenSearch Service, Serverless); `None`: do not.
    pub sigv4: Option<SigV4Settings>,
    /// What the user calls each setting, for messages.
    pub labels: Labels,
}

/// The names under which the user gave each setting: flags or environment variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    /// The URL's flag, e.g. `--es` or `--kibana`.
    pub url: String,
    /// The user's flag, e.g. `--es-user`.
    pub user: String,
    /// The environment variable holding the password.
    pub password_env: String,
    /// The environment variable holding the API key (empty when API keys do not apply).
    pub api_key_env: String,
    /// The flag naming a CA file.
    pub ca_cert: String,
    /// The flag turning verification off.
    pub insecure: String,
}

impl Default for Labels {
    /// The cluster's own flags and variables, with their default names.
    fn default() -> Self {
        Labels {
            url: "--es".into(),
            user: "--es-user".into(),
            password_env: "ELASTICSEARCH_PASSWORD".into(),
            api_key_env: "ELASTICSEARCH_API_KEY".into(),
            ca_cert: "--ca-cert".into(),
            insecure: "--insecure".into(),
        }
    }
}

impl ClusterSettings {
    /// Settings for `url` with nothing else set (no credentials, verification on, 60 s timeout).
    pub fn new(url: impl Into<String>) -> Self {
        ClusterSettings {
            url: url.into(),
            user: None,
            password: None,
            api_key: None,
            ca_cert: None,
            insecure: false,
            compress: false,
            timeout: Duration::from_secs(60),
            sigv4: None,
            labels: Labels::default(),
        }
    }

    /// True for an OpenSearch Serverless collection (signed for `aoss`): no cluster APIs, no ISM.
    pub fn serverless(&self) -> bool {
        self.sigv4.as_ref().is_some_and(|s| s.service == Service::Aoss)
    }
}

/// How to sign: the service, the region, and where the credentials come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigV4Settings {
    /// `es` for a domain, `aoss` for Serverless.
    pub service: Service,
    /// The signing region: the endpoint host's, else `--aws-region`, else the AWS chain's.
    pub region: Option<String>,
    /// Profile (and region) of the standard AWS chain the credentials come from.
    pub aws: AwsSettings,
}

impl SigV4Settings {
    /// Settings for `url`: the service given, else the host's (`*.aoss.amazonaws.com`: `aoss`), else
    /// `es`; the region of the host, else `region`.
    pub fn for_url(url: &str, service: Option<Service>, region: Option<String>, aws: AwsSettings) -> Self {
        let host =
            url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        SigV4Settings {
            service: service.or_else(|| super::sigv4::service_from_host(&host)).unwrap_or(Service::Es),
            region: super::sigv4::region_from_host(&host).or(region),
            aws,
        }
    }
}

impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<hidden>");
        f.debug_struct("ClusterSettings")
            .field("url", &super::shown(&self.url))
            .field("user", &self.user)
            .field("password", &hidden(&self.password))
            .field("api_key", &hidden(&self.api_key))
            .field("ca_cert", &self.ca_cert)
            .field("insecure", &self.insecure)
            .field("compress", &self.compress)
            .field("timeout", &self.timeout)
            .field("sigv4", &self.sigv4)
            .field("labels", &self.labels)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_and_region_come_from_the_host_first() {
        let aws = AwsSettings::default();
        let domain = SigV4Settings::for_url(
            "https://search-ct-x.eu-west-1.es.amazonaws.com",
            None,
            Some("us-east-1".into()),
            aws.clone(),
        );
        assert_eq!((domain.service, domain.region.as_deref()), (Service::Es, Some("eu-west-1")));
        let aoss =
            SigV4Settings::for_url("https://abc.us-west-2.aoss.amazonaws.com:443", None, None, aws.clone());
        assert_eq!((aoss.service, aoss.region.as_deref()), (Service::Aoss, Some("us-west-2")));
        let custom =
            SigV4Settings::for_url("http://127.0.0.1:9", Some(Service::Aoss), Some("ap-south-1".into()), aws);
        assert_eq!((custom.service, custom.region.as_deref()), (Service::Aoss, Some("ap-south-1")));
        let settings = ClusterSettings { sigv4: Some(custom), ..ClusterSettings::new("http://127.0.0.1:9") };
        assert!(settings.serverless());
        assert!(!ClusterSettings::new("http://127.0.0.1:9").serverless());
    }
}
