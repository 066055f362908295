//! What to do with a message once every file it names has come back through its receipt.
//!
//! It is deleted only if every file was read to the end and every event of it was indexed or
//! dead-lettered; otherwise it is left in the queue, to be received again (or moved to the queue's
//! dead-letter queue by its redrive policy). Pure: no I/O happens here.

use crate::ack::FileDone;

/// What becomes of a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Everything is safe: delete it.
    Delete,
    /// Something failed: leave it in the queue, for this reason.
    Keep(String),
}

/// The verdict for a message whose files ended as `done`, after `failures` (files that could not
/// even be handed to the readers, with why).
pub fn decide(done: &[FileDone], failures: Vec<String>) -> Verdict {
    let first = failures.into_iter().next().or_else(|| done.iter().find_map(FileDone::failure));
    match first {
        None => Verdict::Delete,
        Some(reason) => Verdict::Keep(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::Delivery;

    fn done(delivery: Delivery, broken: Option<&str>) -> FileDone {
        FileDone {
            file: "s3://b/k".into(),
            delivery,
            broken: broken.map(str::to_string),
            sent_unverified: false,
        }
    }

    #[test]
    fn a_message_is_deleted_only_if_all_its_files_are_safe() {
        let safe = [done(Delivery::Delivered, None), done(Delivery::DeadLettered, None)];
        assert_eq!(decide(&safe, vec![]), Verdict::Delete);
        match decide(&[done(Delivery::Failed, None), done(Delivery::Delivered, None)], vec![]) {
            Verdict::Keep(reason) => assert!(reason.contains("not every event"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn broken_files_and_failed_fetches_keep_the_message() {
        let kept = decide(&[done(Delivery::Delivered, Some("truncated gzip"))], vec![]);
        assert_eq!(kept, Verdict::Keep("s3://b/k: truncated gzip".into()));
        let fetch = decide(&[], vec!["s3://b/k: NoSuchKey".into()]);
        assert_eq!(fetch, Verdict::Keep("s3://b/k: NoSuchKey".into()));
    }
}
