use audit_service::database::DatabaseLocation;

use super::*;

fn webhook(id: &str, tenant: &str, events: &[&str]) -> Webhook {
    Webhook {
        id: id.into(),
        tenant: tenant.into(),
        url: "https://crm.example.com/hook".into(),
        events: events.iter().map(|event| (*event).to_owned()).collect(),
        insecure: false,
        active: true,
        description: Some("crm".into()),
        created_ms: 1,
    }
}

/// A new store of each engine: SQLite in a temporary directory, PostgreSQL in a fresh
/// database of the tests' private server.
async fn stores() -> (Vec<Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let locations = [
        DatabaseLocation::Sqlite(dir.path().join("notifier.db")),
        DatabaseLocation::Postgres(testkit::postgres::fresh_database().await),
    ];
    let mut stores = Vec::new();
    for location in &locations {
        stores.push(Store::open(location).await.unwrap());
    }
    (stores, dir)
}

fn secrets() -> SealedSecrets {
    SealedSecrets { api_key: vec![1, 2], secret: vec![3, 4] }
}

#[tokio::test]
async fn webhooks_are_kept_per_tenant_and_deleted_with_their_deliveries() {
    let (stores, _dir) = stores().await;
    for store in stores {
        webhooks_are_kept_per_tenant(&store).await;
    }
}

async fn webhooks_are_kept_per_tenant(store: &Store) {
    store.insert_webhook(&webhook("w1", "t1", &["createUser"]), &secrets()).await.unwrap();
    store.insert_webhook(&webhook("w2", "t2", &["*"]), &secrets()).await.unwrap();
    assert_eq!(store.webhooks("t1").await.unwrap(), vec![webhook("w1", "t1", &["createUser"])]);
    assert_eq!(store.webhook("t2", "w1").await.unwrap(), None, "another tenant's webhook is not found");
    assert_eq!(store.target("w1").await.unwrap().unwrap().1.secret, vec![3, 4]);
    let delivery = NewDelivery {
        id: "d1".into(),
        webhook_id: "w1".into(),
        record_id: "r1".into(),
        body: b"{}".to_vec(),
    };
    store.queue(&[delivery], 10).await.unwrap();
    assert!(!store.delete_webhook("t2", "w1").await.unwrap());
    assert!(store.delete_webhook("t1", "w1").await.unwrap());
    assert!(store.deliveries("w1", None, 10).await.unwrap().is_empty());
    store.queue(&[delivery_of("w2")], 10).await.unwrap();
    store.deactivate("w2").await.unwrap();
    assert!(store.active_webhooks().await.unwrap().is_empty());
    let dead = store.deliveries("w2", Some(DeliveryStatus::Dead), 10).await.unwrap();
    assert_eq!(dead.len(), 1, "a deactivated webhook's pending deliveries are dead letters");
    assert_eq!(store.counts().await.unwrap(), (0, 1));
}

fn delivery_of(webhook: &str) -> NewDelivery {
    NewDelivery {
        id: format!("{webhook}-d"),
        webhook_id: webhook.into(),
        record_id: "r".into(),
        body: b"{}".to_vec(),
    }
}

#[tokio::test]
async fn a_delivery_is_queued_once_and_moves_through_its_attempts() {
    let (stores, _dir) = stores().await;
    for store in stores {
        a_delivery_moves_through_its_attempts(&store).await;
    }
}

/// Due deliveries read at `now` without a lease, or with one until `lease`.
fn due_at(now: i64, skip: &[String], lease: i64) -> DueQuery<'_> {
    DueQuery { now_ms: now, limit: 10, skip, lease_until_ms: lease }
}

async fn a_delivery_moves_through_its_attempts(store: &Store) {
    store.insert_webhook(&webhook("w1", "t1", &["*"]), &secrets()).await.unwrap();
    let queued = |id: &str| NewDelivery {
        id: id.into(),
        webhook_id: "w1".into(),
        record_id: format!("record-{id}"),
        body: id.as_bytes().to_vec(),
    };
    store.queue(&[queued("d1"), queued("d2")], 100).await.unwrap();
    store.queue(&[queued("d1")], 500).await.unwrap();
    let mut due = store.due(&due_at(100, &[], 100)).await.unwrap();
    due.sort_by(|left, right| left.0.id.cmp(&right.0.id));
    assert_eq!(due.len(), 2, "a redelivered record queues nothing new");
    assert_eq!(due[0].1, b"d1".to_vec());
    let retry = Attempt {
        status: DeliveryStatus::Pending,
        code: Some(503),
        error: None,
        next_attempt_ms: Some(5_000),
    };
    store.record(&[("d1", &retry)]).await.unwrap();
    let done =
        Attempt { status: DeliveryStatus::Delivered, code: Some(200), error: None, next_attempt_ms: None };
    store.record(&[("d2", &done)]).await.unwrap();
    assert!(store.due(&due_at(4_999, &[], 4_999)).await.unwrap().is_empty());
    assert!(
        store.due(&due_at(5_000, &["w1".to_owned()], 5_000)).await.unwrap().is_empty(),
        "a skipped webhook's are left out"
    );
    let later = store.due(&due_at(5_000, &[], 60_000)).await.unwrap();
    assert_eq!((later.len(), later[0].0.attempts, later[0].0.last_status), (1, 1, Some(503)));
    if matches!(store, Store::Postgres(_)) {
        // Another replica reading now finds the delivery leased.
        assert!(store.due(&due_at(5_001, &[], 60_000)).await.unwrap().is_empty());
        store.release(&["d1".to_owned()], 5_002).await.unwrap();
        assert_eq!(store.due(&due_at(5_002, &[], 60_000)).await.unwrap().len(), 1, "a lease given back");
        assert_eq!(store.due(&due_at(60_000, &[], 90_000)).await.unwrap().len(), 1, "a lease expires");
    }
    let delivered = store.deliveries("w1", Some(DeliveryStatus::Delivered), 10).await.unwrap();
    assert_eq!(delivered.iter().map(|delivery| delivery.id.as_str()).collect::<Vec<_>>(), ["d2"]);
}
