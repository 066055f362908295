//! The file output: writes the bulk NDJSON to a file or stdout instead of sending it (`--output`).
//! The batches arrive framed by the bulk encoder (`elasticsearch/encode.rs`), so this file writes
//! exactly what would have been sent.
//!
//! An event counts as delivered once its batch is written and flushed, the same rule as "accepted
//! by Elasticsearch", so every downstream guarantee holds when feeding another tool.

use super::batch::Batch;
use crate::ack::Delivery;
use crate::private_file::{self, How};
use crate::stats::Stats;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use tokio::sync::mpsc::Receiver;

/// The largest batch written at once, whatever `--batch-bytes` says (a bulk request's size means
/// nothing to a file). A batch body is held while it fills and, with this output, handed back to
/// the readers for their next batches (`batch::Spares`): with 1 MiB bodies the process holds less
/// than it did with 5 MB ones freed after each write, and faults in no new page per batch.
pub const FILE_BATCH_BYTES: usize = 1 << 20;

/// Where `--output` writes.
pub struct FileOutput {
    out: Box<dyn Write + Send>,
}

impl FileOutput {
    /// `-` is stdout; anything else is a file, created (0600) or truncated, never through a
    /// symbolic link (see `private_file.rs`).
    pub fn open(path: &Path) -> io::Result<Self> {
        let out: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(BufWriter::with_capacity(1 << 20, io::stdout()))
        } else {
            Box::new(BufWriter::with_capacity(1 << 20, private_file::open(path, How::Truncate)?))
        };
        Ok(FileOutput { out })
    }

    /// Writes every batch until the channel closes (blocking: run it on a blocking thread).
    pub fn run(mut self, mut batches: Receiver<Batch>, stats: &Stats) -> io::Result<()> {
        while let Some(mut batch) = batches.blocking_recv() {
            self.out.write_all(&batch.body)?;
            self.out.flush()?;
            let findings = batch.items.iter().filter(|i| i.finding).count() as u64;
            Stats::add(&stats.events_indexed, batch.items.len() as u64 - findings);
            Stats::add(&stats.findings_indexed, findings);
            // The newest event time, told once per batch rather than per item.
            let mut newest = None;
            for item in batch.items.drain(..) {
                newest = newest.max(Some(item.time));
                item.ack.settle(Delivery::Delivered);
            }
            if let Some(newest) = newest {
                stats.delivered_time(newest);
            }
            // Its buffers go back to the readers (`Spares`).
            batch.recycle();
        }
        self.out.flush()
    }
}
