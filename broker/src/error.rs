//! What can go wrong in the broker: starting it, reading its storage, and the input
//! a client sends. Client input errors become Kafka error codes in responses, never a
//! stopped broker.

use std::{io, net::SocketAddr, path::PathBuf};

/// What can go wrong starting or running the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The listen address is taken or not local.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// Requested address.
        addr: SocketAddr,
        /// The I/O error.
        source: io::Error,
    },
    /// A file of the storage could not be read or written.
    #[error("broker storage {path}: {source}")]
    Storage {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Another broker holds the storage directory's lock.
    #[error("broker storage {path} is in use by another broker")]
    InUse {
        /// The lock file.
        path: PathBuf,
    },
    /// A file of the storage holds something this broker did not write.
    #[error("broker storage {path} is damaged: {detail}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
}

impl BrokerError {
    pub(crate) fn storage(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> BrokerError {
        let path = path.into();
        move |source| BrokerError::Storage { path, source }
    }
}

/// Why a produced record batch is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    /// Fewer bytes than the header or the batch's own length says.
    #[error("batch truncated: {have} bytes of {need}")]
    Truncated {
        /// Bytes present.
        have: usize,
        /// Bytes needed.
        need: usize,
    },
    /// A message format older than 2 (Kafka 0.11).
    #[error("unsupported message format {magic}")]
    UnsupportedMagic {
        /// The magic byte.
        magic: u8,
    },
    /// A negative or too small length or offset delta.
    #[error("invalid batch length {length}")]
    BadLength {
        /// The value read.
        length: i32,
    },
    /// The CRC does not match the bytes.
    #[error("batch checksum mismatch")]
    Crc,
}
