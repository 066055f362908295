//! `cloudtrail-es lambda`: the AWS Lambda runtime loop, for a function whose `bootstrap` is this
//! binary (custom runtime, `provided.al2023`).
//!
//! Init, once per execution environment: the settings are checked (a bad one is reported to the
//! Runtime API's init error and the process exits, so Lambda shows the message), the transform
//! and alert rules compiled, the AWS clients and the cluster client made. The cluster is asked
//! what it is and the template installed at the first invocation that needs it, and that is kept:
//! a warm invocation sends no setup request (a cluster that does not answer at the first
//! invocation fails that invocation, not the init, and is tried again at the next).
//!
//! Each invocation (`invocation.rs`) runs the pipeline of `follow` over the messages it brings
//! (`source/lambda.rs`): a message is done only when all its events are indexed or dead-lettered,
//! dead letters shipped to S3 or SQS (`output/dead_letter_ship.rs`).

mod invocation;

use super::indexing::{Connected, IndexingSettings};
use super::Outcome;
use crate::aws::{sdk_config, AwsSettings};
use crate::cluster::{EsClient, Flavor};
use crate::detect::Detector;
use crate::output::alert::{self, AlertSettings};
use crate::output::dead_letter::DeadLetters;
use crate::output::dead_letter_ship::{Destination, Shipper};
use crate::source::notice::ObjectPolicy;
use crate::source::s3::fetch::Fetcher;
use crate::transform::Transform;
use anyhow::{anyhow, Context};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;
use tracing::info;

/// What the function reads and where it sends.
#[derive(Debug)]
pub struct LambdaSettings {
    /// Transform, output, readers (`indexing.dead_letter` is not used: see `dead_letter`).
    pub indexing: IndexingSettings,
    /// Where dead letters go.
    pub dead_letter: Destination,
    /// Which objects notifications may make it read.
    pub objects: ObjectPolicy,
    /// AWS access for S3, SNS and SQS.
    pub aws: AwsSettings,
    /// Alert rules (none: no alerts).
    pub alerts: AlertSettings,
}

/// What lasts from one invocation to the next.
struct Function {
    settings: LambdaSettings,
    fetcher: Arc<Fetcher>,
    sns: Option<aws_sdk_sns::Client>,
    shipper: Option<Shipper>,
    client: Option<EsClient>,
    detector: Option<Arc<Detector>>,
    /// The transform as compiled at init, until the first invocation that reaches the cluster
    /// finishes it for the cluster's kind ([`Prepared`]).
    unprepared: Mutex<Option<Transform>>,
    /// Set by the first invocation that reached the cluster.
    prepared: OnceCell<Prepared>,
}

/// The cluster set up and the transform finished for it (OpenSearch: long values moved, keyword
/// leaves copied), as `follow` does once its output is open.
struct Prepared {
    /// `None` without a cluster (`--no-index`, `--output -`).
    connected: Option<Connected>,
    transform: Arc<Transform>,
}

/// The variables the Runtime API client needs; without them this is not a Lambda environment.
const RUNTIME_VARIABLES: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// Runs the runtime loop: init (a failure is reported to Lambda as an init error), then one
/// invocation after another until Lambda ends the process.
pub async fn run(settings: anyhow::Result<LambdaSettings>) -> anyhow::Result<Outcome> {
    check_environment()?;
    let function = match init(settings).await {
        Ok(function) => Arc::new(function),
        Err(e) => {
            report_init_error(&format!("{e:#}")).await;
            return Err(e);
        }
    };
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let function = function.clone();
        async move { function.invoke(event).await }
    });
    lambda_runtime::Runtime::new(handler)
        .run()
        .await
        .map_err(|e| anyhow!("the Lambda runtime loop stopped: {e}"))?;
    Ok(Outcome::default())
}

/// Fails, naming what is missing, outside a Lambda environment (the runtime client would panic).
fn check_environment() -> anyhow::Result<()> {
    let missing: Vec<&str> = RUNTIME_VARIABLES
        .iter()
        .copied()
        .filter(|v| std::env::var(v).map_or(true, |v| v.is_empty()))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "`lambda` runs inside AWS Lambda or its Runtime Interface Emulator (aws-lambda-rie); {} not set",
            missing.join(", ")
        );
    }
    let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    memory
        .parse::<i32>()
        .map_err(|_| anyhow!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE={memory:?} is not a number"))?;
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    http::Uri::try_from(api.as_str())
        .map_err(|_| anyhow!("AWS_LAMBDA_RUNTIME_API={api:?} is not host:port"))?;
    Ok(())
}

/// Everything that lasts across invocations; no request to the cluster yet.
async fn init(settings: anyhow::Result<LambdaSettings>) -> anyhow::Result<Function> {
    let mut settings = settings?;
    let transform = settings.indexing.transform()?;
    let detector = settings.indexing.detector(&crate::stats::Stats::default())?;
    if detector.is_none() && settings.alerts.rules.iter().any(|r| r.findings.is_some()) {
        anyhow::bail!(
            "an alert on findings needs Sigma rules: give --rules (e.g. CLOUDTRAIL_ES_RULES=builtin)"
        );
    }
    let aws = sdk_config(&settings.aws).await;
    let wants_sns =
        settings.alerts.rules.iter().any(|r| matches!(r.destination, alert::rules::Destination::Sns(_)));
    let sns = wants_sns.then(|| aws_sdk_sns::Client::new(&aws));
    if !settings.alerts.rules.is_empty() {
        // Unusable rules stop the init, not every invocation.
        let scratch = Arc::new(DeadLetters::new(std::env::temp_dir().join("unused")));
        let abort = tokio_util::sync::CancellationToken::new();
        alert::start(settings.alerts.clone(), None, &scratch, &abort).context("alert rules")?;
    }
    let shipper = settings.dead_letter.is_remote().then(|| Shipper::new(settings.dead_letter.clone(), &aws));
    let client = settings.indexing.client().await?;
    let fetcher = Fetcher::with_regions(&aws, tokio::runtime::Handle::current());
    info!("dead letters go to {}", settings.dead_letter);
    if settings.objects.allow_buckets.is_empty() {
        tracing::warn!(
            "no --allow-bucket (CLOUDTRAIL_ES_ALLOW_BUCKET): any bucket an event names is read with the function's \
             role; name the trail's bucket to refuse the others"
        );
    }
    let unprepared = Mutex::new(Some(transform));
    Ok(Function { settings, fetcher, sns, shipper, client, detector, unprepared, prepared: OnceCell::new() })
}

impl Function {
    /// The cluster set up and the transform finished for it, by the first invocation that gets
    /// that far (a failure is tried again by the next one).
    async fn prepared(&self) -> anyhow::Result<&Prepared> {
        self.prepared
            .get_or_try_init(|| async {
                let connected = match &self.client {
                    Some(client) => Some(self.settings.indexing.set_up(client.clone()).await?),
                    None => None,
                };
                let taken = self.unprepared.lock().ok().and_then(|mut t| t.take());
                let mut transform =
                    taken.ok_or_else(|| anyhow!("the transform could not be prepared earlier"))?;
                // As `Output::refuses_long_leaves`: OpenSearch refuses what Elasticsearch keeps unindexed.
                let opensearch = connected.as_ref().is_some_and(|c| c.info.flavor == Flavor::OpenSearch);
                transform.move_long_values(opensearch);
                if opensearch {
                    transform.copy_keyword_leaves()?;
                }
                Ok(Prepared { connected, transform: Arc::new(transform) })
            })
            .await
    }
}

/// Tells Lambda why the init failed (shown in the function's log and to the invoker); failures to
/// tell are logged.
pub async fn report_init_error(message: &str) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else { return };
    let Ok(base) = http::Uri::try_from(api.as_str()) else { return };
    let body = serde_json::json!({"errorType": "Runtime.InitError", "errorMessage": message}).to_string();
    let client = match lambda_runtime_api_client::Client::builder().with_endpoint(base).build() {
        Ok(client) => client,
        Err(e) => return tracing::error!("cannot report the init error to the Runtime API: {e}"),
    };
    let request = lambda_runtime_api_client::build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .body(lambda_runtime_api_client::body::Body::from(body));
    match request {
        Ok(request) => {
            if let Err(e) = client.call(request).await {
                tracing::error!("cannot report the init error to the Runtime API: {e}");
            }
        }
        Err(e) => tracing::error!("cannot report the init error to the Runtime API: {e}"),
    }
}
