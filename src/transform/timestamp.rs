//! The UTC day of an event, for naming its daily index.
//!
//! CloudTrail writes `eventTime` as RFC 3339 in UTC (`2023-07-19T21:33:41Z`); offsets, if any, are
//! converted to UTC. A space-separated `YYYY-MM-DD HH:MM:SS[.f]` (seen in re-exported corpora) is
//! taken as UTC.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};

/// A calendar day in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day {
    /// Year, e.g. 2024.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month, 1–31.
    pub day: u32,
    /// The instant itself, in Unix seconds.
    pub unix: i64,
}

/// The UTC day of a timestamp string, or `None` if it is not a timestamp we understand.
pub fn utc_day(text: &str) -> Option<Day> {
    let t = DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok().map(|n| n.and_utc()))?;
    Some(Day { year: t.year(), month: t.month(), day: t.day(), unix: t.timestamp() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Option<(i32, u32, u32)> {
        utc_day(text).map(|d| (d.year, d.month, d.day))
    }

    #[test]
    fn cloudtrail_times_give_their_day() {
        assert_eq!(day("2023-07-19T21:33:41Z"), Some((2023, 7, 19)));
        assert_eq!(day("2020-09-14T01:19:40.123Z"), Some((2020, 9, 14)));
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        assert_eq!(day("2024-01-01T01:30:00+02:00"), Some((2023, 12, 31)));
    }

    #[test]
    fn space_separated_times_are_utc() {
        assert_eq!(day("2025-03-26 16:43:57.000000000"), Some((2025, 3, 26)));
    }

    #[test]
    fn nonsense_is_rejected() {
        for bad in ["", "yesterday", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "1700000000"] {
            assert_eq!(day(bad), None, "{bad}");
        }
    }
}
