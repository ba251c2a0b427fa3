//! Attempt outcomes written in groups: the outcomes that finished while one group was
//! being written form the next, one transaction each, so a busy dispatcher pays one
//! synchronous commit per group rather than one per delivery. An attempt waits until
//! its group is durable, so its delivery stays in flight (never read and attempted
//! again) until its outcome is written.

use tokio::sync::{mpsc, oneshot};

use crate::store::{Attempt, Store};

/// Most outcomes in one transaction.
const MAX_GROUP: usize = 256;

/// One outcome waiting to be written.
struct Entry {
    id: String,
    attempt: Attempt,
    written: oneshot::Sender<Result<(), String>>,
}

/// Hands outcomes to the writer task; the task ends when the last `Recorder` is dropped.
#[derive(Clone)]
pub struct Recorder {
    sender: mpsc::Sender<Entry>,
}

impl Recorder {
    /// Starts the writer task on `store`.
    pub fn start(store: Store) -> Recorder {
        let (sender, receiver) = mpsc::channel(MAX_GROUP * 4);
        tokio::spawn(write_groups(store, receiver));
        Recorder { sender }
    }

    /// Records `attempt` on delivery `id` and waits until it is durable; why not, if
    /// it could not be written.
    pub async fn record(&self, id: String, attempt: Attempt) -> Result<(), String> {
        let (written, answer) = oneshot::channel();
        self.sender.send(Entry { id, attempt, written }).await.map_err(|_| "recorder stopped".to_owned())?;
        answer.await.map_err(|_| "recorder stopped".to_owned())?
    }
}

async fn write_groups(store: Store, mut receiver: mpsc::Receiver<Entry>) {
    while let Some(first) = receiver.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(entry) => group.push(entry),
                Err(_) => break,
            }
        }
        let rows: Vec<(&str, &Attempt)> =
            group.iter().map(|entry| (entry.id.as_str(), &entry.attempt)).collect();
        let result = store.record(&rows).await.map_err(|error| error.to_string());
        for entry in group {
            let _ = entry.written.send(result.clone());
        }
    }
}
