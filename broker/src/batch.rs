//! Kafka record batches (magic 2) as the log stores them: opaque bytes behind a fixed
//! header.
//!
//! The broker never decodes records. It reads a batch's header to count its records,
//! to check its CRC and to find its producer's sequence, then writes the bytes as they
//! came, with only the base offset (outside the CRC) set to the batch's place in the log.
//! So what a consumer fetches is bit for bit what the producer sent, compression
//! included.

use crate::error::BatchError;

/// Bytes before a batch's first record.
pub const HEADER_LEN: usize = 61;
/// Offsets of the header's fields, as Kafka's `DefaultRecordBatch` lays them out.
const BASE_OFFSET: usize = 0;
const LENGTH: usize = 8;
const LEADER_EPOCH: usize = 12;
const MAGIC: usize = 16;
const CRC: usize = 17;
const ATTRIBUTES: usize = 21;
const LAST_OFFSET_DELTA: usize = 23;
const MAX_TIMESTAMP: usize = 35;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;
/// The length field counts the bytes after itself.
const LENGTH_END: usize = 12;

/// What the broker reads of one batch's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Bytes of the whole batch, header included.
    pub size: usize,
    /// Records it holds (last offset delta + 1).
    pub records: i64,
    /// Largest record timestamp, milliseconds.
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or -1.
    pub base_sequence: i32,
    /// Whether it belongs to a transaction (this broker has none to offer).
    pub transactional: bool,
    /// Whether it is a transaction marker.
    pub control: bool,
}

impl BatchHeader {
    /// Reads the header at the start of `bytes`; `bytes` may end anywhere after it.
    pub fn parse(bytes: &[u8]) -> Result<Self, BatchError> {
        if bytes.len() < HEADER_LEN {
            return Err(BatchError::Truncated { have: bytes.len(), need: HEADER_LEN });
        }
        if bytes[MAGIC] != 2 {
            return Err(BatchError::UnsupportedMagic { magic: bytes[MAGIC] });
        }
        let length = i32_at(bytes, LENGTH);
        let size = usize::try_from(length).map_err(|_| BatchError::BadLength { length })? + LENGTH_END;
        if size < HEADER_LEN {
            return Err(BatchError::BadLength { length });
        }
        let last_offset_delta = i32_at(bytes, LAST_OFFSET_DELTA);
        if last_offset_delta < 0 {
            return Err(BatchError::BadLength { length: last_offset_delta });
        }
        let attributes = u16::from_be_bytes([bytes[ATTRIBUTES], bytes[ATTRIBUTES + 1]]);
        Ok(BatchHeader {
            size,
            records: i64::from(last_offset_delta) + 1,
            max_timestamp: i64_at(bytes, MAX_TIMESTAMP),
            producer_id: i64_at(bytes, PRODUCER_ID),
            producer_epoch: i16::from_be_bytes([bytes[PRODUCER_EPOCH], bytes[PRODUCER_EPOCH + 1]]),
            base_sequence: i32_at(bytes, BASE_SEQUENCE),
            transactional: attributes & 0x10 != 0,
            control: attributes & 0x20 != 0,
        })
    }
}

/// Splits a produce request's records into batches, checking each one's CRC.
pub fn split(mut bytes: &[u8]) -> Result<Vec<(BatchHeader, &[u8])>, BatchError> {
    let mut batches = Vec::new();
    while !bytes.is_empty() {
        let header = BatchHeader::parse(bytes)?;
        if bytes.len() < header.size {
            return Err(BatchError::Truncated { have: bytes.len(), need: header.size });
        }
        let (batch, rest) = bytes.split_at(header.size);
        check_crc(batch)?;
        batches.push((header, batch));
        bytes = rest;
    }
    Ok(batches)
}

/// Checks the CRC-32C that covers everything from the attributes on.
pub fn check_crc(batch: &[u8]) -> Result<(), BatchError> {
    let stored = u32::from_be_bytes(batch[CRC..CRC + 4].try_into().expect("four bytes"));
    let computed = crc32c::crc32c(&batch[ATTRIBUTES..]);
    if stored == computed { Ok(()) } else { Err(BatchError::Crc) }
}

/// Sets the fields outside the CRC that the log owns: the base offset, and the leader
/// epoch (always 0: this broker is the only leader there is).
pub fn place(batch: &mut [u8], base_offset: i64) {
    batch[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
    batch[LEADER_EPOCH..LEADER_EPOCH + 4].copy_from_slice(&0_i32.to_be_bytes());
}

/// The base offset written in a stored batch.
pub fn base_offset(batch: &[u8]) -> i64 {
    i64_at(batch, BASE_OFFSET)
}

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
}

fn i64_at(bytes: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A batch of `records` empty records (record bodies are opaque to the broker, so
    /// the body is filler of the right length) with a valid CRC.
    pub(crate) fn batch(records: i32, producer: (i64, i16, i32)) -> Vec<u8> {
        let body = vec![7_u8; 10 * records as usize];
        let mut bytes = vec![0_u8; HEADER_LEN];
        bytes.extend_from_slice(&body);
        let length = (bytes.len() - LENGTH_END) as i32;
        bytes[LENGTH..LENGTH + 4].copy_from_slice(&length.to_be_bytes());
        bytes[MAGIC] = 2;
        bytes[LAST_OFFSET_DELTA..LAST_OFFSET_DELTA + 4].copy_from_slice(&(records - 1).to_be_bytes());
        bytes[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&1_700_000_000_000_i64.to_be_bytes());
        bytes[PRODUCER_ID..PRODUCER_ID + 8].copy_from_slice(&producer.0.to_be_bytes());
        bytes[PRODUCER_EPOCH..PRODUCER_EPOCH + 2].copy_from_slice(&producer.1.to_be_bytes());
        bytes[BASE_SEQUENCE..BASE_SEQUENCE + 4].copy_from_slice(&producer.2.to_be_bytes());
        bytes[57..61].copy_from_slice(&records.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[ATTRIBUTES..]);
        bytes[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn reads_what_a_producer_wrote() {
        let bytes = batch(5, (42, 1, 10));
        let header = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(header.size, bytes.len());
        assert_eq!(header.records, 5);
        assert_eq!((header.producer_id, header.producer_epoch, header.base_sequence), (42, 1, 10));
        assert!(!header.transactional && !header.control);
    }

    #[test]
    fn splits_concatenated_batches_and_places_them() {
        let mut bytes = batch(2, (-1, -1, -1));
        bytes.extend(batch(3, (-1, -1, -1)));
        let batches = split(&bytes).unwrap();
        assert_eq!(batches.iter().map(|(header, _)| header.records).collect::<Vec<_>>(), [2, 3]);
        let mut second = batches[1].1.to_vec();
        place(&mut second, 1234);
        assert_eq!(base_offset(&second), 1234);
        check_crc(&second).expect("placing leaves the CRC valid");
    }

    #[test]
    fn refuses_damaged_batches() {
        let mut flipped = batch(2, (-1, -1, -1));
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(split(&flipped), Err(BatchError::Crc)));
        let whole = batch(2, (-1, -1, -1));
        assert!(matches!(split(&whole[..whole.len() - 3]), Err(BatchError::Truncated { .. })));
        let mut old = batch(1, (-1, -1, -1));
        old[MAGIC] = 1;
        assert!(matches!(split(&old), Err(BatchError::UnsupportedMagic { magic: 1 })));
    }
}
