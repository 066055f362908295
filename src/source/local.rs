//! Local files and folders: every regular file under each root, recursively, in a stable (sorted)
//! order. Hidden files (`.name`) are left out. Which files are logs is decided by their content,
//! not their names, so `.json`, `.json.gz` and unnamed files are all read.

use super::LogFile;
use crossbeam_channel::Sender;
use std::path::PathBuf;
use tracing::error;
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

/// Checks that every root exists before anything starts.
pub fn check_roots(roots: &[PathBuf]) -> Result<(), MissingRoot> {
    for root in roots {
        if let Err(e) = std::fs::metadata(root) {
            return Err(MissingRoot { path: root.display().to_string(), reason: e.to_string() });
        }
    }
    Ok(())
}

/// Sends every file under `roots` to `files`; returns how many entries could not be read
/// (each is logged with its path). Stops early if the receiver goes away.
pub fn walk(roots: &[PathBuf], files: &Sender<LogFile>) -> u64 {
    let mut unreadable = 0;
    for root in roots {
        let walker = WalkDir::new(root).follow_links(true).sort_by_file_name().into_iter();
        let entries =
            walker.filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in entries {
            match entry {
                Ok(e) if e.file_type().is_file() => {
                    if files.send(LogFile::local(e.into_path())).is_err() {
                        return unreadable;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    unreadable += 1;
                    let path =
                        e.path().map_or_else(|| root.display().to_string(), |p| p.display().to_string());
                    error!(
                        "{path}: cannot read: {}",
                        e.io_error().map_or_else(|| e.to_string(), |io| io.to_string())
                    );
                }
            }
        }
    }
    unreadable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_recursively_in_order_skipping_hidden() {
        let dir = tempfile::tempdir().unwrap();
        for p in ["b/2.json.gz", "b/1.json", "a.json", ".hidden/x.json", "b/.DS_Store"] {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "{}").unwrap();
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        assert_eq!(walk(&[dir.path().to_path_buf()], &tx), 0);
        drop(tx);
        let names: Vec<String> = rx
            .iter()
            .map(|f| f.name.strip_prefix(&*dir.path().display().to_string()).unwrap().to_string())
            .collect();
        assert_eq!(names, ["/a.json", "/b/1.json", "/b/2.json.gz"]);
    }

    #[test]
    fn a_single_file_is_its_own_source_and_missing_roots_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("one.json");
        std::fs::write(&file, "{}").unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        walk(std::slice::from_ref(&file), &tx);
        assert_eq!(rx.try_iter().count(), 1);
        let err = check_roots(&[dir.path().join("nope")]).unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("No such file"), "{err}");
    }
}
