//! Loading Sigma rules at start (`--rules`): files, folders (`.yml`/`.yaml`, hidden entries
//! skipped) and the pack we ship. Each rule is checked and compiled once.
//!
//! Refused, each named with its file and the reason: a rule whose logsource is not
//! `product: aws, service: cloudtrail`; one the parser or the evaluator cannot take; correlation
//! rules (counting over time) and filter documents, which we do not evaluate. A rule named
//! explicitly (a file given to `--rules`) that is refused stops the run ([`LoadError`]); refusals
//! inside a folder are reported and skipped (a SigmaHQ checkout holds thousands of rules for other
//! logs), but a folder with no usable rule stops the run too. The same rule id loaded twice is
//! kept once.

use super::{builtin, Detector, Level, RuleInfo, RuleSource};
use rsigma_eval::{compile_rule, CompiledRule};
use rsigma_parser::{parse_sigma_yaml, SigmaRule};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The largest rule file read (a Sigma rule is a few KB).
const MAX_RULE_FILE: u64 = 1 << 20;

/// A rule (or rule file) that was not loaded, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The file (`builtin:NAME` for the pack).
    pub file: String,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.reason)
    }
}

/// The rules cannot be used: the run stops.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A rule file named explicitly was refused.
    #[error("--rules {0}")]
    Refused(Skipped),
    /// A path that cannot be read.
    #[error("--rules {path}: {error}")]
    Unreadable {
        /// The path.
        path: String,
        /// The I/O error.
        error: String,
    },
    /// A folder (or the whole set) without one usable rule.
    #[error("--rules {0}: no Sigma rule for AWS CloudTrail could be loaded")]
    Empty(String),
}

/// Loads every source; returns the detector and what was skipped (to be reported).
pub fn load(sources: &[RuleSource]) -> Result<(Detector, Vec<Skipped>), LoadError> {
    let mut loader = Loader::default();
    for source in sources {
        match source {
            RuleSource::Builtin => {
                let before = loader.rules.len();
                for (name, text) in builtin::RULES {
                    loader.add_text(&format!("builtin:{name}"), text);
                }
                if loader.rules.len() == before {
                    return Err(LoadError::Empty("builtin".into()));
                }
            }
            RuleSource::Path(path) => loader.add_path(path)?,
        }
    }
    Ok((Detector::new(&loader.parsed, loader.compiled, loader.rules), loader.skipped))
}

#[derive(Default)]
struct Loader {
    parsed: Vec<SigmaRule>,
    compiled: Vec<CompiledRule>,
    rules: Vec<RuleInfo>,
    skipped: Vec<Skipped>,
    ids: HashSet<String>,
}

impl Loader {
    fn add_path(&mut self, path: &Path) -> Result<(), LoadError> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path)
            .map_err(|e| LoadError::Unreadable { path: shown.clone(), error: e.to_string() })?;
        if meta.is_dir() {
            let before = self.rules.len();
            for file in rule_files(path) {
                match read(&file) {
                    Ok(text) => self.add_text(&file.display().to_string(), &text),
                    Err(reason) => self.skipped.push(Skipped { file: file.display().to_string(), reason }),
                }
            }
            if self.rules.len() == before {
                return Err(LoadError::Empty(shown));
            }
            return Ok(());
        }
        let text = read(path).map_err(|error| LoadError::Unreadable { path: shown.clone(), error })?;
        let before = self.skipped.len();
        self.add_text(&shown, &text);
        match self.skipped.drain(before..).next() {
            Some(refused) => Err(LoadError::Refused(refused)),
            None => Ok(()),
        }
    }

    /// Parses one file's text and keeps the rules that can be used.
    fn add_text(&mut self, file: &str, text: &str) {
        let mut skip = |reason: String| self.skipped.push(Skipped { file: file.to_string(), reason });
        let collection = match parse_sigma_yaml(text) {
            Ok(c) => c,
            Err(e) => return skip(format!("not a Sigma rule: {e}")),
        };
        if let Some(e) = collection.errors.first() {
            return skip(format!("not a Sigma rule: {e}"));
        }
        if !collection.correlations.is_empty() {
            return skip("correlation rules (counting over time) are not supported".into());
        }
        if !collection.filters.is_empty() {
            return skip("filter documents are not supported".into());
        }
        if collection.rules.is_empty() {
            return skip("no detection rule in the file".into());
        }
        for rule in collection.rules {
            if let Err(reason) = self.add_rule(file, rule) {
                self.skipped.push(Skipped { file: file.to_string(), reason });
            }
        }
    }

    fn add_rule(&mut self, file: &str, rule: SigmaRule) -> Result<(), String> {
        let ls = &rule.logsource;
        let is = |v: &Option<String>, want: &str| v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(want));
        if !(is(&ls.product, "aws") && is(&ls.service, "cloudtrail")) {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            return Err(format!(
                "logsource is product {} / service {}, not aws / cloudtrail",
                show(&ls.product),
                show(&ls.service)
            ));
        }
        let compiled = compile_rule(&rule).map_err(|e| format!("cannot be evaluated: {e}"))?;
        let id = rule.id.clone().unwrap_or_else(|| rule.title.clone());
        if !self.ids.insert(id.clone()) {
            // The same rule given twice (`--rules builtin` and a copy of one of its files): once.
            tracing::debug!("{file}: rule {id} is already loaded; this copy is ignored");
            return Ok(());
        }
        let level =
            rule.level.map_or(Level::Informational, |l| l.as_str().parse().unwrap_or(Level::Informational));
        self.rules.push(RuleInfo {
            id,
            title: rule.title.clone(),
            level,
            tags: rule.tags.clone(),
            author: rule.author.clone().unwrap_or_default(),
            file: file.to_string(),
        });
        self.parsed.push(rule);
        self.compiled.push(compiled);
        Ok(())
    }
}

/// The `.yml`/`.yaml` files under `dir`, sorted, hidden entries skipped.
fn rule_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    file.take(MAX_RULE_FILE + 1).read_to_string(&mut text).map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_RULE_FILE {
        return Err(format!("larger than {MAX_RULE_FILE} bytes"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_rule_loads() {
        let (detector, skipped) = load(&[RuleSource::Builtin]).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(detector.rules().len(), builtin::RULES.len());
        assert!(detector.rules().len() >= 57);
        assert!(detector.rules().iter().all(|r| !r.author.is_empty() && !r.title.is_empty()));
    }

    #[test]
    fn refusals_name_the_file_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let windows = write(
            "win.yml",
            "title: W\nlogsource: {product: windows, category: process_creation}\n\
             detection: {sel: {CommandLine|contains: x}, condition: sel}\n",
        );
        let corr = write(
            "corr.yml",
            "title: C\ncorrelation: {type: event_count, rules: [x], group-by: [a], timespan: 1m, \
             condition: {gte: 3}}\n",
        );
        let good = write(
            "good.yml",
            "title: G\nid: g-1\nauthor: me\nlevel: high\nlogsource: {product: aws, service: cloudtrail}\n\
             detection: {sel: {eventName: StopLogging}, condition: sel}\n",
        );
        write("broken.yml", "title: [unclosed\n");
        let err = |p: &Path| load(&[RuleSource::Path(p.to_path_buf())]).err().unwrap().to_string();
        assert!(err(&windows).contains("win.yml: logsource is product windows"), "{}", err(&windows));
        assert!(err(&corr).contains("correlation rules"), "{}", err(&corr));
        let (d, skipped) = load(&[RuleSource::Path(dir.path().into())]).unwrap();
        assert_eq!(d.rules().len(), 1);
        assert_eq!(d.rules()[0].level, Level::High);
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        let mut hits = Vec::new();
        d.evaluate(br#"{"eventName":"stoplogging"}"#, &mut hits).unwrap();
        assert_eq!(hits, vec![0], "case-insensitive");
        let (d, skipped) = load(&[RuleSource::Path(good.clone()), RuleSource::Path(good)]).unwrap();
        assert!(skipped.is_empty() && d.rules().len() == 1, "the same rule twice is loaded once");
        let empty = tempfile::tempdir().unwrap();
        assert!(err(empty.path()).contains("no Sigma rule"));
    }
}
