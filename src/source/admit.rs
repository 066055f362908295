//! Which of the files a source finds this run takes.
//!
//! Two rules, applied before anything is downloaded or read:
//! - `--state`: a file recorded as finished by an earlier run is not read again;
//! - `--shard K/N`: a stable share of the files by a hash of their name, so N machines can split
//!   one backfill with no coordination and no overlap.

use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::str::FromStr;

/// `K/N`: this machine takes shard K (0-based) of N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This machine's shard, `0..count`.
    pub index: u64,
    /// How many shards there are.
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not K/N with 0 <= K < N (e.g. 0/3)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// True when the file named `name` belongs to this shard. Stable across runs and machines.
    pub fn takes(&self, name: &str) -> bool {
        let digest = Sha256::digest(name.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % self.count == self.index
    }
}

/// What to do with a file a source found.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Read it.
    Take,
    /// An earlier run finished it.
    AlreadyDone,
    /// Another machine's share.
    OtherShard,
}

/// The admission rules of one run.
#[derive(Debug, Default)]
pub struct Admit {
    /// Files finished by earlier runs.
    pub done: HashSet<String>,
    /// This machine's share, if the work is split.
    pub shard: Option<Shard>,
    /// Files an earlier run sent unverified events of: their events replace what is indexed.
    pub replace: HashSet<String>,
}

impl Admit {
    /// Decides for the file named `name`.
    pub fn check(&self, name: &str) -> Admission {
        if self.shard.is_some_and(|s| !s.takes(name)) {
            Admission::OtherShard
        } else if self.done.contains(name) {
            Admission::AlreadyDone
        } else {
            Admission::Take
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_reject_nonsense() {
        assert_eq!("1/3".parse::<Shard>().unwrap(), Shard { index: 1, count: 3 });
        for bad in ["3/3", "1/0", "x/2", "1", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_split_without_overlap_or_gap() {
        let shards: Vec<Shard> = (0..3).map(|k| Shard { index: k, count: 3 }).collect();
        let mut sizes = [0; 3];
        for i in 0..3000 {
            let name = format!("s3://b/AWSLogs/1/CloudTrail/r/2024/01/01/f{i}.json.gz");
            let owners: Vec<usize> = (0..3).filter(|&k| shards[k].takes(&name)).collect();
            assert_eq!(owners.len(), 1, "{name} is in exactly one shard");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 800), "roughly even: {sizes:?}");
    }

    #[test]
    fn done_files_are_not_taken_again() {
        let admit = Admit { done: ["a".to_string()].into_iter().collect(), ..Admit::default() };
        assert_eq!(admit.check("a"), Admission::AlreadyDone);
        assert_eq!(admit.check("b"), Admission::Take);
    }
}
