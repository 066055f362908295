//! Event filters: `--include FIELD=GLOB`, `--exclude FIELD=GLOB` and `--console-only`.
//!
//! An event is kept when all of these hold:
//!
//! 1. no `--exclude` matches it;
//! 2. if any `--include` is given: for every FIELD named by an `--include`, at least one of that
//!    field's GLOBs matches (OR between the globs of one field, AND between fields);
//! 3. with `--console-only`: it is a console operation (`console.rs`).
//!
//! So `--include eventSource=s3.amazonaws.com --include eventSource=iam.amazonaws.com --include
//! userIdentity.userName=alice --exclude 'eventName=Get*'` keeps alice's S3 and IAM events that
//! are not `Get…` calls.
//!
//! `FIELD=GLOB` matches when the field has a value that the glob matches as a whole. FIELD uses
//! the path syntax of `path.rs` (`resources.*.ARN` looks at every element). A string is compared
//! as its text, a number, boolean or null as its JSON text (`readOnly=false`, `errorCode=null`), an
//! array by its elements; an object never matches, nor does a missing field (a missing field fails
//! an include and passes an exclude). In a GLOB, `*` is any run of characters (dots and slashes
//! too), `?` one character, `\` makes the next character literal; case matters. Filters look at
//! the event as CloudTrail wrote it, before redaction.
//!
//! Filtering happens after the event is validated and before its time is read: an invalid event
//! is always dead-lettered, an event a filter drops is dropped even if it has no usable time.

use super::capture::{any_scalar, Found, Slots};
use super::console::Console;
pub use super::glob::Glob;
use super::path::{split_unescaped, FieldPath, PathError};
use std::fmt;
use std::str::FromStr;

/// One `--include` or `--exclude`: `FIELD=GLOB`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldFilter {
    /// The field.
    pub path: FieldPath,
    /// What its value must look like.
    pub glob: Glob,
}

/// A filter that cannot be parsed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// No `=`.
    #[error("expected FIELD=GLOB, e.g. eventName=Describe* (got {0:?})")]
    NoEquals(String),
    /// The field part is wrong.
    #[error(transparent)]
    Path(#[from] PathError),
}

impl FromStr for FieldFilter {
    type Err = FilterError;

    fn from_str(text: &str) -> Result<Self, FilterError> {
        let (path, glob) = split_unescaped(text, '=').ok_or_else(|| FilterError::NoEquals(text.into()))?;
        Ok(FieldFilter { path: path.parse()?, glob: Glob::new(glob) })
    }
}

impl fmt::Display for FieldFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.path, self.glob.text())
    }
}

/// The filters of a run, with the capture slots of their fields.
#[derive(Debug, Default)]
pub struct Filters {
    /// Per field: the globs of which one must match.
    include: Vec<(u16, Vec<Glob>)>,
    exclude: Vec<(u16, Glob)>,
    console: Option<Console>,
}

impl Filters {
    /// Builds the filters, asking `slots` to capture the fields they read.
    pub fn new(
        include: &[FieldFilter],
        exclude: &[FieldFilter],
        console_only: bool,
        slots: &mut Slots,
    ) -> Self {
        let mut filters = Filters::default();
        for f in include {
            let slot = slots.slot(&f.path);
            match filters.include.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, globs)) => globs.push(f.glob.clone()),
                None => filters.include.push((slot, vec![f.glob.clone()])),
            }
        }
        for f in exclude {
            filters.exclude.push((slots.slot(&f.path), f.glob.clone()));
        }
        if console_only {
            filters.console = Some(Console::new(slots));
        }
        filters
    }

    /// True when nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty() && self.console.is_none()
    }

    /// Whether the event in `src`, with the values `found` on the way, is kept.
    pub fn keep(&self, src: &[u8], found: &Found) -> bool {
        let any = |slot: u16, globs: &[Glob]| {
            found
                .values(src, slot)
                .any(|raw| any_scalar(raw, &mut |text| globs.iter().any(|g| g.matches(text))))
        };
        if self.exclude.iter().any(|(slot, glob)| any(*slot, std::slice::from_ref(glob))) {
            return false;
        }
        if !self.include.iter().all(|(slot, globs)| any(*slot, globs)) {
            return false;
        }
        self.console.as_ref().is_none_or(|c| c.matches(src, found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        let f: FieldFilter = "eventName=Describe*".parse().unwrap();
        assert_eq!((f.path.to_string(), f.glob.text()), ("eventName".into(), "Describe*"));
        let f: FieldFilter = r"tags.a\=b=x=y".parse().unwrap();
        assert_eq!(f.to_string(), r"tags.a\=b=x=y");
        assert!(f.glob.matches("x=y"));
        assert!("eventName".parse::<FieldFilter>().unwrap_err().to_string().contains("FIELD=GLOB"));
        let f: FieldFilter = "readOnly=true".parse().unwrap();
        assert!(f.glob.matches("true"));
    }

    /// Runs the filters on `event` (found by a real walk).
    fn keeps(include: &[&str], exclude: &[&str], event: &str) -> bool {
        let parse = |l: &[&str]| l.iter().map(|f| f.parse().unwrap()).collect::<Vec<FieldFilter>>();
        let mut slots = Slots::default();
        let filters = Filters::new(&parse(include), &parse(exclude), false, &mut slots);
        let (src, found) = crate::transform::walk::capture_for_tests(&slots, event);
        filters.keep(&src, &found)
    }

    #[test]
    fn semantics() {
        let e = r#"{"eventName":"DescribeInstances","eventSource":"ec2.amazonaws.com","readOnly":true,
            "userIdentity":{"userName":"alice"},"errorCode":null,
            "resources":[{"ARN":"arn:aws:s3:::logs"},{"ARN":"arn:aws:s3:::data"}],"tags":["a",["b"]],
            "requestParameters":{"filter":{"x":1}}}"#;
        let cases: &[(&[&str], &[&str], bool)] = &[
            (&[], &[], true),
            (&[], &["eventName=Describe*"], false),
            (&[], &["eventName=Get*", "eventName=List*"], true),
            (&["eventName=Describe*"], &[], true),
            (&["eventName=Get*"], &[], false),
            (&["eventName=Get*", "eventName=Describe*"], &[], true),
            (&["eventName=Describe*", "userIdentity.userName=bob"], &[], false),
            (&["eventName=Describe*", "userIdentity.userName=alice"], &[], true),
            (&["eventName=Describe*"], &["readOnly=true"], false),
            (&["readOnly=false"], &[], false),
            (&["errorCode=null"], &[], true),
            (&[], &["errorCode=*"], false),
            (&["missing=*"], &[], false),
            (&[], &["missing=*"], true),
            (&["resources.*.ARN=*:::data"], &[], true),
            (&["resources.*.ARN=*:::none"], &[], false),
            (&["tags=b"], &[], true),
            (&["requestParameters.filter=*"], &[], false),
            (&["requestParameters.filter.x=1"], &[], true),
            (&["**.userName=alice"], &[], true),
        ];
        for (include, exclude, want) in cases {
            assert_eq!(keeps(include, exclude, e), *want, "include {include:?} exclude {exclude:?}");
        }
    }
}
