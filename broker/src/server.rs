//! Connections: Kafka's framing (a 4-byte length, then the request), decoding, and
//! answers written in the order requests arrived.
//!
//! Each connection reads requests as fast as they come (up to [`MAX_IN_FLIGHT`]
//! unanswered) and starts each at once, so a long-polling fetch never holds up the
//! heartbeat behind it and an `fsync` is shared by the requests waiting on it. A
//! request the broker cannot decode closes its connection, as Kafka does; nothing a
//! client sends stops the broker.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use futures::{StreamExt, stream::FuturesOrdered};
use kafka_protocol::{
    ResponseError,
    messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind},
    protocol::{Decodable, Encodable},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, BufReader},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::mpsc,
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::{
    Shared,
    api::{self, Reply},
};

/// Unanswered requests one connection may have.
const MAX_IN_FLIGHT: usize = 32;
/// Largest request accepted (Kafka's `socket.request.max.bytes` default).
const MAX_REQUEST_BYTES: usize = 100 * 1024 * 1024;

/// Accepts connections until `shutdown`.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection(stream, shared.clone()));
                }
                Err(error) => {
                    warn!(%error, "broker cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// One request on its way to an answer.
struct Pending {
    correlation_id: i32,
    key: ApiKey,
    version: i16,
    /// `None` for a request that gets no answer (a produce with `acks` 0).
    reply: Option<Reply>,
}

async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let (reader, writer) = stream.into_split();
    let (sender, receiver) = mpsc::channel(MAX_IN_FLIGHT);
    let reading = read_requests(reader, shared, sender);
    let writing = write_answers(writer, receiver);
    let (read, ()) = tokio::join!(reading, writing);
    if let Err(reason) = read {
        debug!(%reason, "connection closed");
    }
}

async fn read_requests(
    reader: OwnedReadHalf,
    shared: Arc<Shared>,
    sender: mpsc::Sender<Pending>,
) -> Result<(), String> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    loop {
        let Ok(size) = reader.read_i32().await else { return Ok(()) };
        let size = usize::try_from(size).ok().filter(|size| *size >= 8 && *size <= MAX_REQUEST_BYTES);
        let Some(size) = size else { return Err("request size out of range".into()) };
        let mut frame = BytesMut::zeroed(size);
        reader.read_exact(&mut frame).await.map_err(|error| error.to_string())?;
        let pending = start(&shared, frame.freeze())?;
        if sender.send(pending).await.is_err() {
            return Ok(());
        }
    }
}

/// Decodes one request and starts answering it.
fn start(shared: &Arc<Shared>, mut frame: Bytes) -> Result<Pending, String> {
    let key_code = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let key = ApiKey::try_from(key_code).map_err(|()| format!("unknown api key {key_code}"))?;
    if !api::supports(key, version) {
        if key == ApiKey::ApiVersions {
            // Answered in version 0, which every client reads, with the versions we speak.
            let versions = api::api_versions(ResponseError::UnsupportedVersion.code());
            let reply: Reply = Box::pin(std::future::ready(ResponseKind::ApiVersions(versions)));
            return Ok(Pending { correlation_id, key, version: 0, reply: Some(reply) });
        }
        return Err(format!("unsupported version {version} of {key:?}"));
    }
    let header = RequestHeader::decode(&mut frame, key.request_header_version(version))
        .map_err(|error| format!("undecodable request header: {error}"))?;
    let request = RequestKind::decode(key, &mut frame, version)
        .map_err(|error| format!("undecodable {key:?}: {error}"))?;
    let silent = matches!(&request, RequestKind::Produce(produce) if produce.acks == 0);
    let client_id = header.client_id.as_deref().unwrap_or("client");
    let reply = api::dispatch(shared, request, version, client_id);
    Ok(Pending { correlation_id, key, version, reply: (!silent).then_some(reply) })
}

async fn write_answers(mut writer: OwnedWriteHalf, mut receiver: mpsc::Receiver<Pending>) {
    let mut ordered = FuturesOrdered::new();
    let mut open = true;
    loop {
        tokio::select! {
            pending = receiver.recv(), if open && ordered.len() < MAX_IN_FLIGHT => match pending {
                Some(pending) => ordered.push_back(answer(pending)),
                None => open = false,
            },
            Some(frame) = ordered.next(), if !ordered.is_empty() => {
                let Some(frame) = frame else { continue };
                if writer.write_all(&frame).await.is_err() {
                    return;
                }
            }
            else => return,
        }
    }
}

/// Waits for a request's answer and frames it; `None` when it gets none.
async fn answer(pending: Pending) -> Option<Bytes> {
    let reply = pending.reply?;
    let response = reply.await;
    let mut body = BytesMut::with_capacity(256);
    body.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(pending.correlation_id);
    let encoded = header
        .encode(&mut body, pending.key.response_header_version(pending.version))
        .and_then(|()| response.encode(&mut body, pending.version));
    if let Err(error) = encoded {
        warn!(key = ?pending.key, %error, "response not encodable");
        return None;
    }
    let length = (body.len() - 4) as i32;
    body[..4].copy_from_slice(&length.to_be_bytes());
    Some(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_versions_are_decodable_by_the_protocol_crate() {
        for (key, min, max) in api::SUPPORTED {
            let range = key.valid_versions();
            assert!(range.min <= *min && *max <= range.max, "{key:?} {min}..={max} outside {range:?}");
        }
    }
}
