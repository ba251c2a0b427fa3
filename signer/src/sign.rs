//! Signing a batch's payloads on several threads.
//!
//! Links are computed before (they chain payload hashes, not signatures), so the
//! signatures of a batch are independent and split evenly across threads; the order
//! of the results is the order of the payloads.

use std::sync::Arc;

use audit_core::integrity::{SigningKeyPair, jws};

/// JWS of each payload, in order, made on `threads` threads.
pub async fn sign_all(key: Arc<SigningKeyPair>, payloads: Vec<Vec<u8>>, threads: usize) -> Vec<String> {
    if payloads.is_empty() {
        return Vec::new();
    }
    // Signing is CPU work: keep it off the async workers.
    tokio::task::spawn_blocking(move || sign_chunks(&key, &payloads, threads))
        .await
        .expect("signing does not panic")
}

fn sign_chunks(key: &SigningKeyPair, payloads: &[Vec<u8>], threads: usize) -> Vec<String> {
    let sign = |chunk: &[Vec<u8>]| -> Vec<String> {
        chunk.iter().map(|payload| jws::sign(&key.key, &key.kid, payload)).collect()
    };
    // Below a few hundred signatures a second thread costs more than it saves.
    if threads <= 1 || payloads.len() < 256 {
        return sign(payloads);
    }
    let chunk_size = payloads.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> =
            payloads.chunks(chunk_size).map(|chunk| scope.spawn(move || sign(chunk))).collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("signing does not panic")).collect()
    })
}

#[cfg(test)]
mod tests {
    use audit_core::integrity::{CompactJws, keys::thumbprint};
    use ed25519_dalek::SigningKey;

    use super::*;

    #[tokio::test]
    async fn parallel_signatures_keep_the_order_of_their_payloads() {
        let signing = SigningKey::from_bytes(&[3; 32]);
        let key = Arc::new(SigningKeyPair { kid: thumbprint(&signing.verifying_key()), key: signing });
        let payloads: Vec<Vec<u8>> =
            (0..1000).map(|index| format!("{{\"n\":{index}}}").into_bytes()).collect();
        let signed = sign_all(key.clone(), payloads.clone(), 3).await;
        let serial = sign_all(key, payloads[..10].to_vec(), 1).await;
        assert_eq!(signed[..10], serial[..]);
        for (payload, jws) in payloads.iter().zip(&signed) {
            assert_eq!(&CompactJws::parse(jws).unwrap().payload, payload);
        }
    }
}
