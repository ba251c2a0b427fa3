//! The SQLite store's own promises: migrations keep every row and the hot lookup reads one index.

use super::*;

fn row(token: &str, index: u8) -> TokenRow {
    TokenRow {
        token: token.to_owned(),
        blind_index: Some([index; 32]),
        owner_id: Some("subject-1".to_owned()),
        owner_ext_index: None,
        sealed: Some(vec![index; 40]),
        created_ms: 1_700_000_000_000,
        erased_ms: None,
    }
}

/// A database as a build knowing only the first migration left it, holding `rows`.
async fn first_version_database(path: &Path, rows: &[TenantRows<TokenRow>]) {
    let database = libsql::Builder::new_local(path).build().await.unwrap();
    let connection = database.connect().unwrap();
    connection.execute(SCHEMA_TABLE, ()).await.unwrap();
    connection.execute_batch(SQLITE[0].sql).await.unwrap();
    connection
        .execute("INSERT INTO vault_schema (version, name, applied_ms) VALUES (1, 'first', 0)", ())
        .await
        .unwrap();
    statements::insert_tokens(&connection, rows).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clustering_the_tokens_keeps_every_row_and_covers_the_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.db");
    let rows = vec![
        TenantRows { tenant: "t1".into(), rows: vec![row("token-a", 1), row("token-b", 2)] },
        TenantRows { tenant: "t2".into(), rows: vec![row("token-c", 1)] },
    ];
    first_version_database(&path, &rows).await;

    let store = SqliteStore::open(&path).await.unwrap();
    let wanted = vec![
        TenantRows { tenant: "t1".into(), rows: vec![[1; 32], [2; 32], [3; 32]] },
        TenantRows { tenant: "t2".into(), rows: vec![[1; 32]] },
    ];
    let found = store.tokens_by_index(wanted).await.unwrap();
    assert_eq!(found[0].get(&[1; 32]).map(String::as_str), Some("token-a"));
    assert_eq!(found[0].get(&[2; 32]).map(String::as_str), Some("token-b"));
    assert_eq!(found[0].len(), 2, "an index never stored finds nothing");
    assert_eq!(found[1].get(&[1; 32]).map(String::as_str), Some("token-c"), "tenants stay apart");
    let kept = store.tokens("t1", &["token-b"]).await.unwrap();
    assert_eq!(kept, vec![row("token-b", 2)], "every column survives the rebuild");

    let writer = store.writer.lock().await;
    let mut plan = writer
        .query(&format!("EXPLAIN QUERY PLAN {}", readers::TOKEN_BY_INDEX), ("t1", vec![1u8; 32]))
        .await
        .unwrap();
    let detail: String = plan.next().await.unwrap().unwrap().get(3).unwrap();
    assert!(detail.contains("COVERING INDEX tokens_value"), "the lookup reads one index: {detail}");
    let mut applied = writer.query("SELECT MAX(version) FROM vault_schema", ()).await.unwrap();
    assert_eq!(applied.next().await.unwrap().unwrap().get::<i64>(0).unwrap(), migrations::latest(SQLITE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unique_value_index_survives_the_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.db");
    first_version_database(&path, &[TenantRows { tenant: "t1".into(), rows: vec![row("token-a", 1)] }]).await;
    let store = SqliteStore::open(&path).await.unwrap();
    let racing = vec![TenantRows { tenant: "t1".into(), rows: vec![row("token-z", 1)] }];
    store.insert_tokens(racing).await.unwrap();
    let found =
        store.tokens_by_index(vec![TenantRows { tenant: "t1".into(), rows: vec![[1; 32]] }]).await.unwrap();
    assert_eq!(
        found[0].get(&[1; 32]).map(String::as_str),
        Some("token-a"),
        "the first token of a value wins"
    );
    assert!(store.tokens("t1", &["token-z"]).await.unwrap().is_empty(), "the loser is not stored");
}
