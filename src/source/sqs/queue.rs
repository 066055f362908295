//! The queue seam: the three calls the SQS source makes on its queue (receive, delete, change
//! visibility), so that the consumer's decisions — delete a message only when every file is safe,
//! keep it when one is not, leave a refused or unreadable one to the redrive policy, give back what
//! was received while stopping — can be tested without a queue server. [`SqsQueue`] is the AWS SDK's;
//! tests use an in-memory one (`tests.rs`).

use crate::errors::chain;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use std::future::Future;
use std::time::Duration;

/// One message as received: its id (for logs), its receipt handle (for delete and visibility) and
/// its body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// The message id.
    pub id: String,
    /// The receipt handle of this receive.
    pub receipt: String,
    /// The body.
    pub body: String,
}

/// What the SQS source needs of a queue. Errors are one line, fit for a log.
pub trait Queue: Send + Sync + 'static {
    /// The queue's name for logs (its URL).
    fn name(&self) -> &str;

    /// Up to `max` messages, waiting at most `wait` for the first; each stays invisible to other
    /// consumers for `visibility`.
    fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> impl Future<Output = Result<Vec<Received>, String>> + Send;

    /// Deletes a received message.
    fn delete(&self, receipt: &str) -> impl Future<Output = Result<(), String>> + Send;

    /// Makes a received message invisible for `visibility` from now (0: visible again at once).
    fn change_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// An SQS queue through the AWS SDK.
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(client: aws_sdk_sqs::Client, url: String) -> Self {
        SqsQueue { client, url }
    }
}

/// Seconds for the SQS API, which takes an `i32`.
fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

impl Queue for SqsQueue {
    fn name(&self) -> &str {
        &self.url
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, String> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(i32::MAX))
            .wait_time_seconds(seconds(wait))
            .visibility_timeout(seconds(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| chain(&e))?;
        let messages = output.messages.unwrap_or_default().into_iter().map(|m| Received {
            id: m.message_id.unwrap_or_default(),
            receipt: m.receipt_handle.unwrap_or_default(),
            body: m.body.unwrap_or_default(),
        });
        Ok(messages.collect())
    }

    async fn delete(&self, receipt: &str) -> Result<(), String> {
        let request = self.client.delete_message().queue_url(&self.url).receipt_handle(receipt);
        request.send().await.map(|_| ()).map_err(|e| chain(&e))
    }

    async fn change_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), String> {
        let request = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(visibility));
        request.send().await.map(|_| ()).map_err(|e| chain(&e))
    }
}
