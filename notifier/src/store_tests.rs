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

async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Store::open(&dir.path().join("notifier.db")).await.unwrap(), dir)
}

fn secrets() -> SealedSecrets {
    SealedSecrets { api_key: vec![1, 2], secret: vec![3, 4] }
}

#[tokio::test]
async fn webhooks_are_kept_per_tenant_and_deleted_with_their_deliveries() {
    let (store, _dir) = store().await;
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
    store.set_active("w2", false).await.unwrap();
    assert!(store.active_webhooks().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_delivery_is_queued_once_and_moves_through_its_attempts() {
    let (store, _dir) = store().await;
    store.insert_webhook(&webhook("w1", "t1", &["*"]), &secrets()).await.unwrap();
    let queued = |id: &str| NewDelivery {
        id: id.into(),
        webhook_id: "w1".into(),
        record_id: format!("record-{id}"),
        body: id.as_bytes().to_vec(),
    };
    store.queue(&[queued("d1"), queued("d2")], 100).await.unwrap();
    store.queue(&[queued("d1")], 500).await.unwrap();
    let due = store.due(100, 10, &[]).await.unwrap();
    assert_eq!(due.len(), 2, "a redelivered record queues nothing new");
    assert_eq!(due[0].1, b"d1".to_vec());
    let retry = Attempt {
        status: DeliveryStatus::Pending,
        code: Some(503),
        error: None,
        next_attempt_ms: Some(5_000),
    };
    store.record("d1", &retry).await.unwrap();
    let done =
        Attempt { status: DeliveryStatus::Delivered, code: Some(200), error: None, next_attempt_ms: None };
    store.record("d2", &done).await.unwrap();
    assert!(store.due(4_999, 10, &[]).await.unwrap().is_empty());
    let later = store.due(5_000, 10, &[]).await.unwrap();
    assert_eq!((later.len(), later[0].0.attempts, later[0].0.last_status), (1, 1, Some(503)));
    assert!(
        store.due(5_000, 10, &["w1".to_owned()]).await.unwrap().is_empty(),
        "a skipped webhook's are left out"
    );
    let delivered = store.deliveries("w1", Some(DeliveryStatus::Delivered), 10).await.unwrap();
    assert_eq!(delivered.iter().map(|delivery| delivery.id.as_str()).collect::<Vec<_>>(), ["d2"]);
}
