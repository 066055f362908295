//! Sending one alert message, with bounded retries ([`Backoff`]): a webhook POST (Slack-compatible
//! `{"text": …}`, or the generic JSON body) or an SNS `Publish`.
//!
//! A 2xx reply is delivered; 408, 429, 5xx and network errors are retried until the patience runs
//! out; any other 4xx means the request itself is wrong (a revoked token…) and is given up at once.
//! Errors name the destination by its host only: `reqwest` errors are stripped of their URL.

use super::rules::Destination;
use crate::backoff::Backoff;
use crate::errors::chain;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// One message, in the forms the destinations take.
pub struct Outgoing {
    /// The text (Slack's `text`, SNS's message).
    pub text: String,
    /// SNS's subject.
    pub subject: String,
    /// The generic webhook's body.
    pub json: Value,
}

/// How a delivery ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Accepted.
    Delivered,
    /// Not accepted after the retries (or refused for good): the reason.
    GaveUp(String),
    /// The run is stopping: neither delivered nor given up.
    Stopped,
}

/// Sends messages.
pub struct Sender {
    http: reqwest::Client,
    sns: Option<aws_sdk_sns::Client>,
    backoff: Backoff,
}

enum Failure {
    Retry(String),
    Permanent(String),
}

impl Sender {
    /// A sender; `sns` is needed only for SNS destinations.
    pub fn new(sns: Option<aws_sdk_sns::Client>, backoff: Backoff) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Sender { http, sns, backoff }
    }

    /// Sends `out` to `to`, retrying as the backoff allows.
    pub async fn deliver(
        &self,
        rule: &str,
        to: &Destination,
        out: &Outgoing,
        abort: &CancellationToken,
    ) -> Sent {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let failure = tokio::select! {
                r = self.once(to, out) => match r { Ok(()) => return Sent::Delivered, Err(f) => f },
                _ = abort.cancelled() => return Sent::Stopped,
            };
            let reason = match failure {
                Failure::Permanent(why) => return Sent::GaveUp(why),
                Failure::Retry(why) => why,
            };
            attempt += 1;
            let wait = self.backoff.delay(attempt);
            if self.backoff.exhausted(started, wait) {
                return Sent::GaveUp(format!("{reason} (gave up after {attempt} tries)"));
            }
            warn!("alert `{rule}` to {to}: {reason}; trying again in {wait:.1?}");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = abort.cancelled() => return Sent::Stopped,
            }
        }
    }

    async fn once(&self, to: &Destination, out: &Outgoing) -> Result<(), Failure> {
        let (url, body) = match to {
            Destination::Slack(url) => (url, serde_json::json!({ "text": out.text })),
            Destination::Webhook(url) => (url, out.json.clone()),
            Destination::Sns(arn) => return self.publish(arn, out).await,
        };
        let body = serde_json::to_vec(&body).map_err(|e| Failure::Permanent(e.to_string()))?;
        let reply = self
            .http
            .post(url.clone())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::Retry(chain(&e.without_url())))?;
        let status = reply.status();
        match status.as_u16() {
            200..=299 => Ok(()),
            408 | 429 | 500..=599 => Err(Failure::Retry(format!("HTTP {status}"))),
            _ => Err(Failure::Permanent(format!("HTTP {status}"))),
        }
    }

    async fn publish(&self, arn: &str, out: &Outgoing) -> Result<(), Failure> {
        let Some(sns) = &self.sns else { return Err(Failure::Permanent("no SNS client".into())) };
        let request = sns.publish().topic_arn(arn).subject(&out.subject).message(&out.text);
        request.send().await.map(|_| ()).map_err(|e| {
            use aws_sdk_sns::error::ProvideErrorMetadata;
            let code = e.code().unwrap_or_default().to_string();
            let why = chain(&e);
            match code.as_str() {
                "NotFound" | "AuthorizationError" | "InvalidParameter" | "InvalidParameterValue" => {
                    Failure::Permanent(why)
                }
                _ => Failure::Retry(why),
            }
        })
    }
}
