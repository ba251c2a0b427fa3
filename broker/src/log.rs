//! One partition's log: an append-only file of record batches and the in-memory index
//! of where each batch starts.
//!
//! Guarantees: offsets are dense and assigned in append order; a batch is visible to
//! readers once written to the file (so a killed process loses nothing it acknowledged:
//! the bytes are in the operating system's cache); [`PartitionLog::sync_to`] makes them
//! durable against power loss as well, and the produce path waits for it before it
//! acknowledges. A read costs one index lookup and one positioned read, however far
//! behind the reader is. On open, a torn or damaged tail (a crash in the middle of a
//! write) is cut off, never served.

use std::{
    collections::{HashMap, VecDeque},
    fs::{File, OpenOptions},
    io::{BufReader, Read, Seek, SeekFrom},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use bytes::Bytes;
use tracing::warn;

use crate::{
    batch::{self, BatchHeader, HEADER_LEN},
    error::BrokerError,
};

/// Where a batch starts.
#[derive(Debug, Clone, Copy)]
struct Entry {
    base_offset: i64,
    position: u64,
    max_timestamp: i64,
}

/// The last batches of one idempotent producer, to recognise a retried batch.
#[derive(Debug, Default)]
struct Producer {
    epoch: i16,
    /// (base sequence, base offset) of its last batches, oldest first.
    recent: VecDeque<(i32, i64)>,
}

/// Kafka clients keep at most five batches in flight per partition.
const RECENT_BATCHES: usize = 5;

#[derive(Debug, Default)]
struct State {
    index: Vec<Entry>,
    next_offset: i64,
    end: u64,
    producers: HashMap<i64, Producer>,
}

impl State {
    /// Base offset of an earlier batch that `header` repeats, if it does.
    fn duplicate_of(&self, header: &BatchHeader) -> Option<i64> {
        if header.producer_id < 0 || header.base_sequence < 0 {
            return None;
        }
        let producer = self.producers.get(&header.producer_id)?;
        if producer.epoch != header.producer_epoch {
            return None;
        }
        producer
            .recent
            .iter()
            .find(|(sequence, _)| *sequence == header.base_sequence)
            .map(|(_, offset)| *offset)
    }

    fn record(&mut self, header: &BatchHeader, base_offset: i64, position: u64) {
        self.index.push(Entry { base_offset, position, max_timestamp: header.max_timestamp });
        self.next_offset = base_offset + header.records;
        self.end = position + header.size as u64;
        if header.producer_id < 0 || header.base_sequence < 0 {
            return;
        }
        let producer = self.producers.entry(header.producer_id).or_default();
        if producer.epoch != header.producer_epoch {
            producer.epoch = header.producer_epoch;
            producer.recent.clear();
        }
        if producer.recent.len() == RECENT_BATCHES {
            producer.recent.pop_front();
        }
        producer.recent.push_back((header.base_sequence, base_offset));
    }
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Offset of the first record of the request (of the original, for a retry).
    pub base_offset: i64,
    /// File length after the append: what must be synced for it to be durable.
    pub end: u64,
}

/// What a read found.
#[derive(Debug, Clone)]
pub struct Slice {
    /// Whole batches starting with the one holding the requested offset; empty at the end.
    pub records: Bytes,
    /// The offset the next record will get.
    pub high_watermark: i64,
}

/// A read outside the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange;

/// One partition's log file and index.
#[derive(Debug)]
pub struct PartitionLog {
    path: PathBuf,
    file: Arc<File>,
    state: Mutex<State>,
    /// File length known to be on disk; the lock also makes concurrent syncs one.
    synced: tokio::sync::Mutex<u64>,
}

impl PartitionLog {
    /// Opens (or creates) the log at `path`, rebuilding its index and cutting off a
    /// damaged tail.
    pub fn open(path: &Path) -> Result<Self, BrokerError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(BrokerError::storage(path))?;
        let state = scan(&file, path)?;
        if file.metadata().map_err(BrokerError::storage(path))?.len() > state.end {
            warn!(path = %path.display(), valid_bytes = state.end, "cutting off an incomplete or damaged tail");
            file.set_len(state.end).map_err(BrokerError::storage(path))?;
            file.sync_all().map_err(BrokerError::storage(path))?;
        }
        let synced = state.end;
        Ok(PartitionLog {
            path: path.to_owned(),
            file: Arc::new(file),
            state: Mutex::new(state),
            synced: tokio::sync::Mutex::new(synced),
        })
    }

    /// The offset the next record will get.
    pub fn high_watermark(&self) -> i64 {
        self.lock().next_offset
    }

    /// Appends a produce request's batches for this partition, skipping those that
    /// repeat a batch the same idempotent producer already wrote.
    pub fn append(&self, batches: &[(BatchHeader, &[u8])]) -> Result<Appended, BrokerError> {
        let mut state = self.lock();
        let mut first_offset = None;
        let mut buffer = Vec::with_capacity(batches.iter().map(|(header, _)| header.size).sum());
        let mut placed = Vec::with_capacity(batches.len());
        let mut next_offset = state.next_offset;
        for (header, bytes) in batches {
            if let Some(original) = state.duplicate_of(header) {
                first_offset.get_or_insert(original);
                continue;
            }
            first_offset.get_or_insert(next_offset);
            let position = state.end + buffer.len() as u64;
            let start = buffer.len();
            buffer.extend_from_slice(bytes);
            batch::place(&mut buffer[start..], next_offset);
            placed.push((*header, next_offset, position));
            next_offset += header.records;
        }
        if !buffer.is_empty() {
            self.file.write_all_at(&buffer, state.end).map_err(BrokerError::storage(&self.path))?;
        }
        for (header, base_offset, position) in placed {
            state.record(&header, base_offset, position);
        }
        Ok(Appended { base_offset: first_offset.unwrap_or(state.next_offset), end: state.end })
    }

    /// Reads whole batches from the one holding `offset`, up to `max_bytes` (but at
    /// least one batch, so a batch larger than the limit still gets through).
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<Slice, OutOfRange> {
        let (start, length, high_watermark) = {
            let state = self.lock();
            if offset < 0 || offset > state.next_offset {
                return Err(OutOfRange);
            }
            let first = state.index.partition_point(|entry| entry.base_offset <= offset).saturating_sub(1);
            let Some(start) = state.index.get(first).filter(|_| offset < state.next_offset) else {
                return Ok(Slice { records: Bytes::new(), high_watermark: state.next_offset });
            };
            let mut end = next_position(&state, first);
            for at in first + 1..state.index.len() {
                let batch_end = next_position(&state, at);
                if batch_end - start.position > max_bytes as u64 {
                    break;
                }
                end = batch_end;
            }
            (start.position, end - start.position, state.next_offset)
        };
        let mut buffer = vec![0_u8; length as usize];
        if let Err(error) = self.file.read_exact_at(&mut buffer, start) {
            warn!(path = %self.path.display(), %error, "log read failed");
            return Ok(Slice { records: Bytes::new(), high_watermark });
        }
        Ok(Slice { records: Bytes::from(buffer), high_watermark })
    }

    /// The first offset of the first batch with a record at or after `timestamp`
    /// (milliseconds), or `None` when every record is older.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Option<i64> {
        let state = self.lock();
        state.index.iter().find(|entry| entry.max_timestamp >= timestamp).map(|entry| entry.base_offset)
    }

    /// Makes everything up to file length `end` durable, sharing one `fsync` among
    /// every caller waiting at the same time.
    pub async fn sync_to(&self, end: u64) -> Result<(), BrokerError> {
        let mut synced = self.synced.lock().await;
        if *synced >= end {
            return Ok(());
        }
        let written = self.lock().end;
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .expect("sync does not panic")
            .map_err(BrokerError::storage(&self.path))?;
        *synced = written;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("log state is never poisoned")
    }
}

/// Where the batch after `index[at]` starts (the file's end for the last one).
fn next_position(state: &State, at: usize) -> u64 {
    state.index.get(at + 1).map_or(state.end, |entry| entry.position)
}

/// Rebuilds the index from the file's batch headers, stopping at the first batch that
/// is incomplete, unreadable, out of sequence or (the last one) fails its checksum.
fn scan(file: &File, path: &Path) -> Result<State, BrokerError> {
    let length = file.metadata().map_err(BrokerError::storage(path))?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reader.seek(SeekFrom::Start(0)).map_err(BrokerError::storage(path))?;
    let mut state = State::default();
    let mut header_bytes = [0_u8; HEADER_LEN];
    let mut position = 0_u64;
    while position + HEADER_LEN as u64 <= length {
        reader.read_exact(&mut header_bytes).map_err(BrokerError::storage(path))?;
        let Ok(header) = BatchHeader::parse(&header_bytes) else { break };
        let base_offset = batch::base_offset(&header_bytes);
        if position + header.size as u64 > length || base_offset != state.next_offset {
            break;
        }
        let is_last = position + header.size as u64 == length;
        if is_last {
            let mut whole = header_bytes.to_vec();
            whole.resize(header.size, 0);
            reader.read_exact(&mut whole[HEADER_LEN..]).map_err(BrokerError::storage(path))?;
            if batch::check_crc(&whole).is_err() {
                break;
            }
        } else {
            reader.seek_relative((header.size - HEADER_LEN) as i64).map_err(BrokerError::storage(path))?;
        }
        state.record(&header, base_offset, position);
        position += header.size as u64;
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::tests::batch;

    fn append(log: &PartitionLog, records: i32, producer: (i64, i16, i32)) -> Appended {
        let bytes = batch(records, producer);
        let batches = batch::split(&bytes).unwrap();
        log.append(&batches).unwrap()
    }

    fn offsets_in(slice: &Slice) -> Vec<i64> {
        batch::split(&slice.records).unwrap().iter().map(|(_, bytes)| batch::base_offset(bytes)).collect()
    }

    #[test]
    fn assigns_dense_offsets_and_reads_from_any_of_them() {
        let dir = tempfile::tempdir().unwrap();
        let log = PartitionLog::open(&dir.path().join("0.log")).unwrap();
        assert_eq!(append(&log, 3, (-1, -1, -1)).base_offset, 0);
        assert_eq!(append(&log, 2, (-1, -1, -1)).base_offset, 3);
        assert_eq!(append(&log, 4, (-1, -1, -1)).base_offset, 5);
        assert_eq!(log.high_watermark(), 9);
        assert_eq!(offsets_in(&log.read(0, 1 << 20).unwrap()), [0, 3, 5]);
        assert_eq!(offsets_in(&log.read(4, 1 << 20).unwrap()), [3, 5]);
        assert_eq!(offsets_in(&log.read(8, 1 << 20).unwrap()), [5]);
        assert!(log.read(9, 1 << 20).unwrap().records.is_empty());
        assert_eq!(log.read(10, 1 << 20).unwrap_err(), OutOfRange);
    }

    #[test]
    fn stops_at_the_byte_limit_but_always_returns_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let log = PartitionLog::open(&dir.path().join("0.log")).unwrap();
        for _ in 0..10 {
            append(&log, 10, (-1, -1, -1));
        }
        let size = batch(10, (-1, -1, -1)).len();
        assert_eq!(offsets_in(&log.read(0, 1).unwrap()), [0]);
        assert_eq!(offsets_in(&log.read(0, 3 * size).unwrap()), [0, 10, 20]);
        assert_eq!(offsets_in(&log.read(25, 2 * size + 5).unwrap()), [20, 30]);
    }

    #[test]
    fn a_retried_batch_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = PartitionLog::open(&dir.path().join("0.log")).unwrap();
        assert_eq!(append(&log, 2, (7, 0, 0)).base_offset, 0);
        assert_eq!(append(&log, 2, (7, 0, 2)).base_offset, 2);
        assert_eq!(append(&log, 2, (7, 0, 0)).base_offset, 0, "retry answers the original offset");
        assert_eq!(log.high_watermark(), 4);
        assert_eq!(append(&log, 2, (7, 1, 0)).base_offset, 4, "a new epoch starts over");
    }

    #[test]
    fn reopening_restores_offsets_producers_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        {
            let log = PartitionLog::open(&path).unwrap();
            append(&log, 3, (9, 0, 0));
            append(&log, 3, (9, 0, 3));
        }
        let whole = std::fs::metadata(&path).unwrap().len();
        let torn = batch(5, (-1, -1, -1));
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut file, &torn[..torn.len() - 4]).unwrap();
        drop(file);

        let log = PartitionLog::open(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        assert_eq!(log.high_watermark(), 6);
        assert_eq!(append(&log, 3, (9, 0, 3)).base_offset, 3, "producer state survives");
        assert_eq!(append(&log, 1, (-1, -1, -1)).base_offset, 6);
    }

    #[test]
    fn a_damaged_last_batch_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        {
            let log = PartitionLog::open(&path).unwrap();
            append(&log, 3, (-1, -1, -1));
            append(&log, 3, (-1, -1, -1));
        }
        let bytes = std::fs::read(&path).unwrap();
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0xff;
        std::fs::write(&path, &damaged).unwrap();
        let log = PartitionLog::open(&path).unwrap();
        assert_eq!(log.high_watermark(), 3);
    }

    #[test]
    fn finds_offsets_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let log = PartitionLog::open(&dir.path().join("0.log")).unwrap();
        append(&log, 2, (-1, -1, -1));
        assert_eq!(log.offset_for_timestamp(0), Some(0));
        assert_eq!(log.offset_for_timestamp(i64::MAX), None);
    }

    #[tokio::test]
    async fn sync_covers_what_was_appended() {
        let dir = tempfile::tempdir().unwrap();
        let log = PartitionLog::open(&dir.path().join("0.log")).unwrap();
        let appended = append(&log, 2, (-1, -1, -1));
        log.sync_to(appended.end).await.unwrap();
        assert_eq!(*log.synced.lock().await, appended.end);
    }
}
