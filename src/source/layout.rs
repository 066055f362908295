//! CloudTrail's S3 layout, and the filters that narrow a backfill by it.
//!
//! A trail writes `[TRAIL-PREFIX/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/FILE.json.gz`,
//! with the other log kinds beside `CloudTrail/` (`CloudTrail-Insight/`, `CloudTrail-NetworkActivity/`,
//! `CloudTrail-Aggregated/`, and whatever `CloudTrail-*` kind AWS adds next) and integrity digests
//! under `CloudTrail-Digest/`. Every `CloudTrail-*` folder but the digests is a log kind
//! ([`is_log_kind`]): a new kind is read without a release of this tool.
//! This file reads keys (or local paths) against that layout, and decides whether a key or a
//! listing prefix can hold events the user asked for (`--start/--end`, `--account`, `--region`).

use chrono::{Datelike, Months, NaiveDate};

/// The folder of integrity digests, which hold no events.
pub const DIGEST_KIND: &str = "CloudTrail-Digest";

/// The folder names every log kind starts with.
pub const KIND_STEM: &str = "CloudTrail";

/// True for a folder under an account that holds CloudTrail log files: `CloudTrail` and every
/// `CloudTrail-*` kind but the digests.
pub fn is_log_kind(folder: &str) -> bool {
    folder == KIND_STEM
        || folder.strip_prefix("CloudTrail-").is_some_and(|rest| !rest.is_empty() && folder != DIGEST_KIND)
}

/// Where a key sits in the layout.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyKind<'a> {
    /// A log file (or Insight file) in the layout.
    Log(LogKey<'a>),
    /// An integrity digest: never indexed.
    Digest,
    /// Under `AWSLogs/` but not a CloudTrail log (another service's logs, a stray object).
    OtherUnderAwsLogs,
    /// Not in the layout at all.
    Outside,
}

/// The parts of a log key that filters look at.
#[derive(Debug, PartialEq, Eq)]
pub struct LogKey<'a> {
    /// The 12-digit account.
    pub account: &'a str,
    /// The region folder.
    pub region: &'a str,
    /// The UTC day folder.
    pub day: NaiveDate,
}

/// True for integrity digests (`CloudTrail-Digest/` in the path), which are not logs. The one
/// path rule every source uses; the decoder also knows a digest by its content.
pub fn is_digest(key: &str) -> bool {
    matches!(classify(key), KeyKind::Digest) || key.split(['/', '\\']).any(|part| part == DIGEST_KIND)
}

/// Reads a key (or a `/`-separated path) against the layout.
pub fn classify(key: &str) -> KeyKind<'_> {
    let Some(after) = after_anchor(key) else { return KeyKind::Outside };
    let parts: Vec<&str> = after.split('/').collect();
    let parts = match parts.first() {
        Some(org) if org.starts_with("o-") => &parts[1..],
        _ => &parts[..],
    };
    // account / kind / region / yyyy / mm / dd / file
    if parts.len() >= 2 && parts[1] == DIGEST_KIND {
        return KeyKind::Digest;
    }
    if parts.len() != 7 || !is_log_kind(parts[1]) || !is_log_name(parts[6]) {
        return KeyKind::OtherUnderAwsLogs;
    }
    let day = format!("{}-{}-{}", parts[3], parts[4], parts[5]);
    match NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
        Ok(day) => KeyKind::Log(LogKey { account: parts[0], region: parts[2], day }),
        Err(_) => KeyKind::OtherUnderAwsLogs,
    }
}

/// The text after the last `AWSLogs/` path segment.
fn after_anchor(key: &str) -> Option<&str> {
    let at = key.rfind("AWSLogs/")?;
    let starts_segment = at == 0 || key.as_bytes()[at - 1] == b'/';
    starts_segment.then(|| &key[at + "AWSLogs/".len()..])
}

fn is_log_name(name: &str) -> bool {
    name.ends_with(".json.gz") || name.ends_with(".json")
}

/// What part of the history to read. Empty lists mean "all".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayoutFilter {
    /// First day, inclusive.
    pub start: Option<NaiveDate>,
    /// Last day, inclusive.
    pub end: Option<NaiveDate>,
    /// Accounts to read.
    pub accounts: Vec<String>,
    /// Regions to read.
    pub regions: Vec<String>,
}

impl LayoutFilter {
    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self.start.is_none() && self.end.is_none() && self.accounts.is_empty() && self.regions.is_empty()
    }

    /// Whether a log key is wanted.
    pub fn wants(&self, key: &LogKey) -> bool {
        self.wants_account(key.account) && self.wants_region(key.region) && self.wants_day(key.day)
    }

    /// Whether an account folder is wanted.
    pub fn wants_account(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|a| a == account)
    }

    /// Whether a region folder is wanted.
    pub fn wants_region(&self, region: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| r == region)
    }

    /// Whether a day is in range.
    pub fn wants_day(&self, day: NaiveDate) -> bool {
        self.start.is_none_or(|s| day >= s) && self.end.is_none_or(|e| day <= e)
    }

    /// The dated folders (`YYYY/`, `YYYY/MM/` or `YYYY/MM/DD/`) that cover exactly the range, when it
    /// is bounded on both sides: whole years and months are one folder each, so a long range
    /// costs few listings.
    pub fn date_folders(&self) -> Option<Vec<String>> {
        let (mut day, end) = (self.start?, self.end?);
        let mut folders = Vec::new();
        while day <= end {
            let year_end = NaiveDate::from_ymd_opt(day.year(), 12, 31)?;
            let month_end = day.checked_add_months(Months::new(1))?.pred_opt()?;
            if day.ordinal() == 1 && year_end <= end {
                folders.push(day.format("%Y/").to_string());
                day = year_end.succ_opt()?;
            } else if day.day() == 1 && month_end <= end {
                folders.push(day.format("%Y/%m/").to_string());
                day = month_end.succ_opt()?;
            } else {
                folders.push(day.format("%Y/%m/%d/").to_string());
                day = day.succ_opt()?;
            }
        }
        Some(folders)
    }
}

/// Where a listing prefix (ending in `/`) stands in the layout, for the crawler.
#[derive(Debug, PartialEq, Eq)]
pub enum Position {
    /// Before `AWSLogs/` (bucket root or a trail prefix): look for `AWSLogs/` below.
    AboveAnchor,
    /// At `AWSLogs/`: children are organisation or account folders.
    Anchor,
    /// At `AWSLogs/o-ORG/`: children are accounts.
    Org,
    /// At an account: children are kinds (CloudTrail, CloudTrail-Insight, CloudTrail-Digest…) and
    /// other services' folders.
    Account(String),
    /// At a kind folder: children are regions.
    Kind,
    /// At a region: below are YYYY/MM/DD/ folders.
    Region,
    /// Inside the dated folders: list everything below.
    Dated,
}

/// Reads a `/`-terminated listing prefix.
pub fn position(prefix: &str) -> Position {
    let Some(after) = after_anchor(prefix) else { return Position::AboveAnchor };
    let mut parts: Vec<&str> = after.split('/').filter(|p| !p.is_empty()).collect();
    let org = parts.first().is_some_and(|p| p.starts_with("o-"));
    if org {
        parts.remove(0);
    }
    match parts.len() {
        0 if org => Position::Org,
        0 => Position::Anchor,
        1 => Position::Account(parts[0].to_string()),
        2 => Position::Kind,
        3 => Position::Region,
        _ => Position::Dated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The log kinds documented today; [`is_log_kind`] decides, and takes any later `CloudTrail-*` too.
    const LOG_KINDS: [&str; 4] =
        ["CloudTrail", "CloudTrail-Insight", "CloudTrail-NetworkActivity", "CloudTrail-Aggregated"];

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn keys_are_read_against_the_layout() {
        let key =
            "trail/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2024/05/01/1_CloudTrail_x.json.gz";
        assert_eq!(
            classify(key),
            KeyKind::Log(LogKey { account: "111122223333", region: "eu-west-1", day: day("2024-05-01") })
        );
        for kind in LOG_KINDS.iter().chain(&["CloudTrail-SomethingNew"]) {
            let key = format!("AWSLogs/111122223333/{kind}/us-east-1/2024/05/01/x.json.gz");
            assert!(matches!(classify(&key), KeyKind::Log(_)), "{key}");
        }
        let digest = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/x.json.gz";
        assert_eq!(classify(digest), KeyKind::Digest);
        for other in [
            "AWSLogs/111122223333/Config/us-east-1/2024/05/01/x.json.gz",
            "AWSLogs/111122223333/CloudTrailX/us-east-1/2024/05/01/x.json.gz",
            "AWSLogs/111122223333/CloudTrail-/us-east-1/2024/05/01/x.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/notes.txt",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/13/01/x.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/x.json.gz",
        ] {
            assert_eq!(classify(other), KeyKind::OtherUnderAwsLogs, "{other}");
        }
        assert_eq!(classify("exports/x.json.gz"), KeyKind::Outside);
        assert_eq!(classify("myAWSLogs/1/CloudTrail/r/2024/01/01/x.json"), KeyKind::Outside);
    }

    #[test]
    fn every_cloudtrail_kind_but_digests_is_a_log_kind() {
        for kind in LOG_KINDS {
            assert!(is_log_kind(kind), "{kind}");
        }
        assert!(is_log_kind("CloudTrail-Future"));
        for not in [DIGEST_KIND, "CloudTrail-", "CloudTrailX", "Config", "cloudtrail", ""] {
            assert!(!is_log_kind(not), "{not}");
        }
    }

    #[test]
    fn filters_narrow_by_account_region_and_day() {
        let f = LayoutFilter {
            start: Some(day("2024-05-01")),
            end: Some(day("2024-05-03")),
            accounts: vec!["1".into()],
            regions: vec![],
        };
        let key = |account, d| LogKey { account, region: "r", day: day(d) };
        assert!(f.wants(&key("1", "2024-05-01")) && f.wants(&key("1", "2024-05-03")));
        assert!(!f.wants(&key("1", "2024-04-30")) && !f.wants(&key("2", "2024-05-02")));
        assert_eq!(f.date_folders().unwrap(), ["2024/05/01/", "2024/05/02/", "2024/05/03/"]);
        assert!(LayoutFilter { start: Some(day("2024-05-01")), ..Default::default() }
            .date_folders()
            .is_none());
    }

    #[test]
    fn long_ranges_are_listed_by_whole_years_and_months() {
        let f = LayoutFilter {
            start: Some(day("2022-11-30")),
            end: Some(day("2024-02-02")),
            ..Default::default()
        };
        assert_eq!(
            f.date_folders().unwrap(),
            ["2022/11/30/", "2022/12/", "2023/", "2024/01/", "2024/02/01/", "2024/02/02/"]
        );
        let leap = LayoutFilter {
            start: Some(day("2024-02-01")),
            end: Some(day("2024-02-29")),
            ..Default::default()
        };
        assert_eq!(leap.date_folders().unwrap(), ["2024/02/"]);
    }

    #[test]
    fn prefixes_know_their_place() {
        assert_eq!(position(""), Position::AboveAnchor);
        assert_eq!(position("trail/"), Position::AboveAnchor);
        assert_eq!(position("trail/AWSLogs/"), Position::Anchor);
        assert_eq!(position("AWSLogs/o-abc/"), Position::Org);
        assert_eq!(position("AWSLogs/o-abc/1111/"), Position::Account("1111".into()));
        assert_eq!(position("AWSLogs/1111/CloudTrail/"), Position::Kind);
        assert_eq!(position("AWSLogs/1111/CloudTrail/us-east-1/"), Position::Region);
        assert_eq!(position("AWSLogs/1111/CloudTrail/us-east-1/2024/"), Position::Dated);
    }
}
