//! Avro binary encoding of the values our schemas are made of: longs, strings, string
//! maps and arrays, and `["null", T]` unions.
//!
//! Each record type maps itself to its newest schema through [`Datum`], field by
//! field in the `.avsc` order; the compatibility tests check that the bytes equal
//! `apache-avro`'s for the same schema. The reader trusts nothing: every length and
//! count is checked against the bytes left, so garbage fails instead of allocating.

use std::collections::BTreeMap;

/// A record type written with its family's newest schema.
pub trait Datum: Sized {
    /// Appends the datum (no header).
    fn write(&self, out: &mut Vec<u8>);
    /// Reads one datum written with the newest schema.
    fn read(input: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Why a datum does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(&'static str);

impl DecodeError {
    pub(crate) fn new(reason: &'static str) -> DecodeError {
        DecodeError(reason)
    }
}

/// Appends a long: zig-zag, then variable length.
pub fn write_long(out: &mut Vec<u8>, value: i64) {
    let mut rest = ((value << 1) ^ (value >> 63)) as u64;
    while rest >= 0x80 {
        out.push((rest as u8 & 0x7f) | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Appends a string: its byte length, then its UTF-8 bytes.
pub fn write_string(out: &mut Vec<u8>, value: &str) {
    write_long(out, value.len() as i64);
    out.extend_from_slice(value.as_bytes());
}

/// Appends bytes: their length, then the bytes.
pub fn write_bytes(out: &mut Vec<u8>, value: &[u8]) {
    write_long(out, value.len() as i64);
    out.extend_from_slice(value);
}

/// Appends a `["null", T]` union.
pub fn write_optional<T>(out: &mut Vec<u8>, value: Option<&T>, write: impl FnOnce(&mut Vec<u8>, &T)) {
    match value {
        None => write_long(out, 0),
        Some(value) => {
            write_long(out, 1);
            write(out, value);
        }
    }
}

/// Appends an optional string.
pub fn write_optional_string(out: &mut Vec<u8>, value: Option<&String>) {
    write_optional(out, value, |out, value| write_string(out, value));
}

/// Appends a map of strings: one block, then the empty block.
pub fn write_map(out: &mut Vec<u8>, map: &BTreeMap<String, String>) {
    if !map.is_empty() {
        write_long(out, map.len() as i64);
        for (key, value) in map {
            write_string(out, key);
            write_string(out, value);
        }
    }
    write_long(out, 0);
}

/// Appends an array of strings: one block, then the empty block.
pub fn write_strings(out: &mut Vec<u8>, items: &[String]) {
    if !items.is_empty() {
        write_long(out, items.len() as i64);
        for item in items {
            write_string(out, item);
        }
    }
    write_long(out, 0);
}

/// Reads values from the bytes of one datum.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    /// Fails unless every byte was read: a datum is exactly its bytes.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() { Ok(()) } else { Err(DecodeError("trailing bytes after the datum")) }
    }

    /// Reads a long.
    pub fn long(&mut self) -> Result<i64, DecodeError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.bytes.split_first().ok_or(DecodeError("datum ends inside a long"))?;
            self.bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err(DecodeError("a long longer than 10 bytes"))
    }

    /// Reads a string.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| DecodeError("string is not utf-8"))
    }

    /// Reads bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let length = usize::try_from(self.long()?).map_err(|_| DecodeError("negative length"))?;
        if length > self.bytes.len() {
            return Err(DecodeError("bytes or string longer than the datum"));
        }
        let (value, rest) = self.bytes.split_at(length);
        self.bytes = rest;
        Ok(value)
    }

    /// Reads a `["null", T]` union.
    pub fn optional<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        match self.long()? {
            0 => Ok(None),
            1 => read(self).map(Some),
            _ => Err(DecodeError("union branch out of range")),
        }
    }

    /// Reads an optional string.
    pub fn optional_string(&mut self) -> Result<Option<String>, DecodeError> {
        self.optional(Self::string)
    }

    /// Reads a map of strings.
    pub fn map(&mut self) -> Result<BTreeMap<String, String>, DecodeError> {
        let mut map = BTreeMap::new();
        self.blocks(|reader| {
            let key = reader.string()?;
            map.insert(key, reader.string()?);
            Ok(())
        })?;
        Ok(map)
    }

    /// Reads an array of strings.
    pub fn strings(&mut self) -> Result<Vec<String>, DecodeError> {
        let mut items = Vec::new();
        self.blocks(|reader| {
            items.push(reader.string()?);
            Ok(())
        })?;
        Ok(items)
    }

    /// Reads the blocks of an array or map, calling `item` once per item.
    fn blocks(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        loop {
            let count = match self.long()? {
                0 => return Ok(()),
                // A negative count is followed by the block's size in bytes.
                negative if negative < 0 => {
                    self.long()?;
                    negative.checked_neg().ok_or(DecodeError("block count out of range"))?
                }
                count => count,
            };
            // Every item takes at least one byte: a larger count is garbage.
            if count as u64 > self.bytes.len() as u64 {
                return Err(DecodeError("block count exceeds the datum"));
            }
            for _ in 0..count {
                item(self)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_round_trip_at_the_edges() {
        for value in [0, -1, 1, 63, -64, 64, i64::MAX, i64::MIN, 1_672_848_274_678] {
            let mut out = Vec::new();
            write_long(&mut out, value);
            let mut reader = Reader::new(&out);
            assert_eq!(reader.long().unwrap(), value);
            reader.finish().unwrap();
        }
    }

    #[test]
    fn longs_use_the_specification_bytes() {
        let cases: &[(i64, &[u8])] = &[(0, &[0]), (-1, &[1]), (1, &[2]), (-64, &[0x7f]), (64, &[0x80, 1])];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            write_long(&mut out, *value);
            assert_eq!(&out, bytes, "{value}");
        }
    }

    #[test]
    fn hostile_lengths_and_counts_are_errors() {
        let cases: &[&[u8]] = &[&[0x80; 11], &[3], &[40, b'a'], &[0xff, 0xff, 0xff, 0xff, 0x0f]];
        for bytes in cases {
            assert!(Reader::new(bytes).string().is_err(), "{bytes:?}");
            assert!(Reader::new(bytes).map().is_err(), "{bytes:?}");
        }
        assert!(Reader::new(&[1, 0xff]).optional_string().is_err(), "union index -1");
        assert!(Reader::new(&[2, 0xff, 0xfe]).string().is_err(), "invalid utf-8");
    }

    #[test]
    fn negative_block_counts_carry_a_size() {
        let mut out = Vec::new();
        write_long(&mut out, -1);
        write_long(&mut out, 4);
        write_string(&mut out, "a");
        write_string(&mut out, "b");
        write_long(&mut out, 0);
        assert_eq!(Reader::new(&out).map().unwrap(), BTreeMap::from([("a".into(), "b".into())]));
    }
}
