//! Signing a batch's payloads on several threads while the batch is still being linked.
//!
//! Links are computed before signatures (they chain payload hashes, not signatures),
//! so the signatures of a batch are independent. Linking is sequential (each payload
//! names the hash of its tenant's previous one) and costs about as much per record as
//! a signature, so the stage hands each payload over as soon as it is linked and
//! workers sign chunks of them while it links the rest: the cores are busy from the
//! first chunk on, not only once the whole batch is linked. Signatures come back in
//! payload order.

use std::sync::Arc;
use std::sync::mpsc;

use audit_integrity::{SigningKeyPair, jws};
use tokio::task::JoinHandle;

/// Payloads a worker is handed at a time: small, so signing starts soon after the
/// batch does and the last chunk is short; each costs one channel message.
const CHUNK: usize = 128;

/// The signing of one batch: full chunks go round-robin to up to `threads` workers.
pub struct Signing {
    key: Arc<SigningKeyPair>,
    threads: usize,
    chunk: Vec<Vec<u8>>,
    queues: Vec<mpsc::Sender<Vec<Vec<u8>>>>,
    workers: Vec<JoinHandle<Vec<Vec<String>>>>,
    chunks: usize,
}

impl Signing {
    /// Ready to sign with `key` on up to `threads` threads; none starts before a chunk is full.
    pub fn start(key: Arc<SigningKeyPair>, threads: usize) -> Signing {
        Signing {
            key,
            threads: threads.max(1),
            chunk: Vec::with_capacity(CHUNK),
            queues: Vec::new(),
            workers: Vec::new(),
            chunks: 0,
        }
    }

    /// Queues `payload`; its signature follows those of the payloads added before it.
    pub fn add(&mut self, payload: Vec<u8>) {
        self.chunk.push(payload);
        if self.chunk.len() == CHUNK {
            let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
            self.dispatch(chunk);
        }
    }

    fn dispatch(&mut self, chunk: Vec<Vec<u8>>) {
        // A new worker per chunk until there are `threads`: a small batch uses one.
        if self.queues.len() < self.threads {
            let (queue, chunks) = mpsc::channel::<Vec<Vec<u8>>>();
            let key = Arc::clone(&self.key);
            // Signing is CPU work: keep it off the async workers.
            self.workers.push(tokio::task::spawn_blocking(move || {
                chunks.iter().map(|chunk| sign(&key, &chunk)).collect()
            }));
            self.queues.push(queue);
        }
        let queue = &self.queues[self.chunks % self.queues.len()];
        queue.send(chunk).expect("a worker runs until its queue closes");
        self.chunks += 1;
    }

    /// Every signature, in the order the payloads were added.
    pub async fn finish(mut self) -> Vec<String> {
        if !self.chunk.is_empty() {
            let chunk = std::mem::take(&mut self.chunk);
            self.dispatch(chunk);
        }
        // Closing the queues ends each worker once it has signed what it was given.
        self.queues.clear();
        let mut signed = Vec::with_capacity(self.workers.len());
        for worker in self.workers {
            signed.push(worker.await.expect("signing does not panic").into_iter());
        }
        let workers = signed.len();
        (0..self.chunks)
            .flat_map(|chunk| signed[chunk % workers].next().expect("every chunk is signed"))
            .collect()
    }
}

fn sign(key: &SigningKeyPair, payloads: &[Vec<u8>]) -> Vec<String> {
    payloads.iter().map(|payload| jws::sign(&key.key, &key.kid, payload)).collect()
}

#[cfg(test)]
mod tests {
    use audit_integrity::{CompactJws, keys::thumbprint};
    use ed25519_dalek::SigningKey;

    use super::*;

    async fn sign_all(key: &Arc<SigningKeyPair>, payloads: &[Vec<u8>], threads: usize) -> Vec<String> {
        let mut signing = Signing::start(key.clone(), threads);
        payloads.iter().for_each(|payload| signing.add(payload.clone()));
        signing.finish().await
    }

    #[tokio::test]
    async fn parallel_signatures_keep_the_order_of_their_payloads() {
        let signing = SigningKey::from_bytes(&[3; 32]);
        let key = Arc::new(SigningKeyPair { kid: thumbprint(&signing.verifying_key()), key: signing });
        // More chunks than workers, the last one short.
        let payloads: Vec<Vec<u8>> =
            (0..1000).map(|index| format!("{{\"n\":{index}}}").into_bytes()).collect();
        let signed = sign_all(&key, &payloads, 3).await;
        assert_eq!(signed[..10], sign_all(&key, &payloads[..10], 1).await[..]);
        assert_eq!(signed.len(), payloads.len());
        for (payload, jws) in payloads.iter().zip(&signed) {
            assert_eq!(&CompactJws::parse(jws).unwrap().payload, payload);
        }
        assert!(sign_all(&key, &[], 2).await.is_empty());
    }
}
