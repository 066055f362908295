//! Local files and folders: every regular file under each root, recursively, in a stable (sorted)
//! order. Hidden files and folders (`.name`) are left out, and counted. Which files are logs is decided by their content,
//! not their names, so `.json`, `.json.gz` and unnamed files are all read.

use super::feed::Feed;
use super::LogFile;
use crate::stats::Stats;
use std::path::PathBuf;
use tracing::{debug, error};
use walkdir::WalkDir;

/// Why a root could not be walked at all.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct MissingRoot {
    /// The root as given.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// Checks that a root exists before anything starts.
pub fn check_root(root: &PathBuf) -> Result<(), MissingRoot> {
    std::fs::metadata(root)
        .map(|_| ())
        .map_err(|e| MissingRoot { path: root.display().to_string(), reason: e.to_string() })
}

/// Offers every file under `root` to the feed; returns how many entries could not be read (each
/// is logged with its path). Stops early when the feed closes.
pub fn walk(root: &PathBuf, feed: &Feed) -> u64 {
    let mut unreadable = 0;
    let mut entries = WalkDir::new(root).follow_links(true).sort_by_file_name().into_iter();
    while let Some(entry) = entries.next() {
        match entry {
            Ok(e) if e.depth() > 0 && e.file_name().as_encoded_bytes().starts_with(b".") => {
                debug!("{}: hidden, left out", e.path().display());
                Stats::add(&feed.stats.hidden_skipped, 1);
                if e.file_type().is_dir() {
                    entries.skip_current_dir();
                }
            }
            Ok(e) if e.file_type().is_file() => {
                if !feed.offer(LogFile::local(e.into_path())) {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                unreadable += 1;
                let path = e.path().map_or_else(|| root.display().to_string(), |p| p.display().to_string());
                error!(
                    "{path}: cannot read: {}",
                    e.io_error().map_or_else(|| e.to_string(), |io| io.to_string())
                );
            }
        }
    }
    unreadable
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::feed::tests::collecting_feed;

    #[test]
    fn walks_recursively_in_order_skipping_hidden() {
        let dir = tempfile::tempdir().unwrap();
        for p in ["b/2.json.gz", "b/1.json", "a.json", ".hidden/x.json", "b/.DS_Store"] {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "{}").unwrap();
        }
        let (feed, rx) = collecting_feed();
        assert_eq!(walk(&dir.path().to_path_buf(), &feed), 0);
        assert_eq!(feed.stats.hidden_skipped.load(std::sync::atomic::Ordering::Relaxed), 2, "counted");
        drop(feed);
        let root = dir.path().display().to_string();
        let names: Vec<String> =
            rx.iter().map(|u| u.file.name.strip_prefix(&*root).unwrap().to_string()).collect();
        assert_eq!(names, ["/a.json", "/b/1.json", "/b/2.json.gz"]);
    }

    #[test]
    fn a_single_file_is_its_own_source_and_missing_roots_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("one.json");
        std::fs::write(&file, "{}").unwrap();
        let (feed, rx) = collecting_feed();
        walk(&file, &feed);
        assert_eq!(rx.try_iter().count(), 1);
        let err = check_root(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("No such file"), "{err}");
    }
}
