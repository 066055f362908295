//! The dashboard's time range, taken from the data it is to show.
//!
//! A dashboard stored with "last 7 days" opens on an empty page after a backfill of last year's
//! logs. So `setup --kibana` asks the cluster for the first and last `@timestamp` in the data
//! view's indices (`min`/`max` aggregations, which Elasticsearch and OpenSearch both have) and
//! stores a range that shows them:
//! - no data yet: the last 7 days, as the files in `kibana/` say (a fresh `follow` fills it);
//! - data reaching into the last 7 days (a live trail): from the first event's UTC day (or 7 days
//!   ago, if later) to `now`, so that new events keep showing;
//! - older data only (a backfill): from the first event's UTC day to the end of the last one's,
//!   as absolute times.
//!
//! The range is part of the saved objects, so a run after new data changed it updates the
//! dashboard, and a run on the same data changes nothing.

use super::super::reconcile::SetupError;
use crate::cluster::EsClient;
use bytes::Bytes;
use chrono::{DateTime, Days, SecondsFormat, TimeZone, Utc};
use elasticsearch::http::Method;
use serde_json::{json, Value};
use tracing::warn;

/// How far back "recent" data reaches, and the range shown when there is none.
const RECENT_DAYS: u64 = 7;
const DEFAULT_FROM: &str = "now-7d";
const NOW: &str = "now";

/// A dashboard's `timeFrom` / `timeTo`: Kibana date math (`now-7d`) or ISO-8601 UTC times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// `timeFrom`.
    pub from: String,
    /// `timeTo`.
    pub to: String,
}

impl Default for TimeRange {
    fn default() -> Self {
        TimeRange { from: DEFAULT_FROM.into(), to: NOW.into() }
    }
}

/// The range that shows events from `first` to `last` (`span`; `None`: no data), seen at `now`.
pub fn covering(span: Option<(DateTime<Utc>, DateTime<Utc>)>, now: DateTime<Utc>) -> TimeRange {
    let Some((first, last)) = span else {
        return TimeRange::default();
    };
    let recent = now - Days::new(RECENT_DAYS);
    let from = if first >= recent { DEFAULT_FROM.to_string() } else { iso(day_start(first)) };
    let to = if last >= recent { NOW.to_string() } else { iso(day_start(last) + Days::new(1)) };
    TimeRange { from, to }
}

fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t.date_naive().and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// `2016-04-13T00:00:00.000Z`, as Kibana writes absolute times.
fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The first and last `@timestamp` in the indices `pattern`; `None` when they hold no event. A
/// refusal (e.g. a user without read rights) is a warning, not a failure: the dashboard then
/// opens on the last 7 days, as without data.
pub async fn of_data(
    client: &EsClient,
    pattern: &str,
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, SetupError> {
    let path = format!("/{pattern}/_search");
    let body = json!({"size": 0, "track_total_hits": false, "aggs": {
        "first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}}}});
    let body = Bytes::from(body.to_string());
    let reply = client.send(Method::Post, &path, Some((body, "application/json"))).await?;
    let answer: Option<Value> = serde_json::from_slice(&reply.body).ok();
    match (reply.status, answer) {
        (200, Some(answer)) => Ok(span(&answer)),
        (status, _) => {
            warn!(
                "could not read the time span of {pattern} (HTTP {status}): the dashboard opens on the last {RECENT_DAYS} days"
            );
            Ok(None)
        }
    }
}

/// The span in a `min`/`max` answer: epoch milliseconds, `null` when no document has the field.
fn span(answer: &Value) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let at = |name: &str| {
        let millis = answer["aggregations"][name]["value"].as_f64()?;
        DateTime::from_timestamp_millis(millis as i64)
    };
    Some((at("first")?, at("last")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn no_data_shows_the_last_week() {
        assert_eq!(covering(None, t("2026-12-01T10:00:00Z")), TimeRange::default());
        assert_eq!(TimeRange::default(), TimeRange { from: "now-7d".into(), to: "now".into() });
    }

    #[test]
    fn old_data_is_shown_from_its_first_to_its_last_day() {
        let now = t("2026-12-01T10:00:00Z");
        let range = covering(Some((t("2016-04-13T18:05:53Z"), t("2026-03-11T07:02:43Z"))), now);
        assert_eq!(range.from, "2016-04-13T00:00:00.000Z");
        assert_eq!(range.to, "2026-03-12T00:00:00.000Z");
        // An event at midnight is inside, the range ends at the end of its day.
        let range = covering(Some((t("2025-01-01T00:00:00Z"), t("2025-01-01T00:00:00Z"))), now);
        assert_eq!(
            (range.from.as_str(), range.to.as_str()),
            ("2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z")
        );
    }

    #[test]
    fn recent_data_keeps_now_as_the_end() {
        let now = t("2026-12-01T10:00:00Z");
        let live = covering(Some((t("2026-11-30T09:00:00Z"), t("2026-12-01T09:59:00Z"))), now);
        assert_eq!(live, TimeRange::default());
        let long = covering(Some((t("2025-06-02T09:00:00Z"), t("2026-11-28T09:00:00Z"))), now);
        assert_eq!((long.from.as_str(), long.to.as_str()), ("2025-06-02T00:00:00.000Z", "now"));
    }

    #[test]
    fn the_span_is_read_from_min_and_max() {
        let answer = json!({"aggregations": {"first": {"value": 1460570753000.0, "value_as_string": "x"},
                                             "last": {"value": 1773212563000.0}}});
        assert_eq!(span(&answer), Some((t("2016-04-13T18:05:53Z"), t("2026-03-11T07:02:43Z"))));
        let empty = json!({"aggregations": {"first": {"value": null}, "last": {"value": null}}});
        assert_eq!(span(&empty), None);
    }
}
