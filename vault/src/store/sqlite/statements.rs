//! The statements of the SQLite store, each on a connection it is handed: the store
//! decides which connection (the writer or a reader) and runs them off the async
//! workers. Every multi-row write is one transaction.

use std::collections::HashMap;

use libsql::{Connection, Value, params_from_iter};

use super::super::migrations;
use super::super::{StoreError, TenantRows, TokenPage, TokenQuery, TokenRow};

const TOKEN_COLUMNS: &str = "token, blind_index, owner_id, owner_ext_index, sealed, created_ms, erased_ms";

pub(super) async fn tenant_key(connection: &Connection, tenant: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let sql = "SELECT wrapped_key FROM tenant_keys WHERE tenant_id = ?1";
    let mut rows = connection.query(sql, [tenant]).await?;
    Ok(match rows.next().await? {
        Some(row) => Some(row.get::<Vec<u8>>(0)?),
        None => None,
    })
}

/// Stores `wrapped` unless the tenant has a key already; returns the key that won.
pub(super) async fn insert_tenant_key(
    connection: &Connection,
    tenant: &str,
    wrapped: Vec<u8>,
) -> Result<Vec<u8>, StoreError> {
    let sql = "INSERT INTO tenant_keys (tenant_id, wrapped_key, created_ms) VALUES (?1, ?2, ?3)
               ON CONFLICT (tenant_id) DO NOTHING";
    let params = vec![text(tenant), Value::Blob(wrapped), Value::Integer(migrations::now_ms())];
    connection.execute(sql, params_from_iter(params)).await?;
    tenant_key(connection, tenant).await?.ok_or(StoreError::Corrupt("tenant key vanished after insert"))
}

pub(super) async fn subject_keys(
    connection: &Connection,
    tenant: &str,
    owners: &[String],
) -> Result<HashMap<String, Vec<u8>>, StoreError> {
    let mut keys = HashMap::with_capacity(owners.len());
    let lookup = KeyLookup {
        select: "SELECT owner_id, wrapped_key FROM subject_keys WHERE tenant_id = ? AND owner_id IN",
        tenant,
        keys: owners.iter().map(|owner| text(owner)).collect(),
    };
    for_each_row(connection, lookup, |row| {
        keys.insert(row.get::<String>(0)?, row.get::<Vec<u8>>(1)?);
        Ok(())
    })
    .await?;
    Ok(keys)
}

pub(super) async fn insert_subject_keys(
    connection: &Connection,
    keys: &[TenantRows<(String, Vec<u8>)>],
) -> Result<(), StoreError> {
    let transaction = connection.transaction().await?;
    let sql =
        "INSERT INTO subject_keys (tenant_id, owner_id, wrapped_key, created_ms) VALUES (?1, ?2, ?3, ?4)
               ON CONFLICT (tenant_id, owner_id) DO NOTHING";
    let statement = transaction.prepare(sql).await?;
    let now = migrations::now_ms();
    for tenant_keys in keys {
        for (owner, wrapped) in &tenant_keys.rows {
            let params = vec![
                text(&tenant_keys.tenant),
                text(owner),
                Value::Blob(wrapped.clone()),
                Value::Integer(now),
            ];
            statement.execute(params_from_iter(params)).await?;
            statement.reset();
        }
    }
    drop(statement);
    transaction.commit().await?;
    Ok(())
}

pub(super) async fn insert_tokens(
    connection: &Connection,
    rows: &[TenantRows<TokenRow>],
) -> Result<(), StoreError> {
    let transaction = connection.transaction().await?;
    let sql = format!(
        "INSERT INTO tokens (tenant_id, {TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (tenant_id, blind_index) DO NOTHING"
    );
    let statement = transaction.prepare(&sql).await?;
    for tenant_rows in rows {
        for row in &tenant_rows.rows {
            let params: Vec<Value> =
                std::iter::once(text(&tenant_rows.tenant)).chain(row_values(row)).collect();
            statement.execute(params_from_iter(params)).await?;
            statement.reset();
        }
    }
    drop(statement);
    transaction.commit().await?;
    Ok(())
}

pub(super) async fn tokens(
    connection: &Connection,
    tenant: &str,
    tokens: &[String],
) -> Result<Vec<TokenRow>, StoreError> {
    let mut found = Vec::with_capacity(tokens.len());
    let select = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE tenant_id = ? AND token IN");
    let lookup =
        KeyLookup { select: &select, tenant, keys: tokens.iter().map(|token| text(token)).collect() };
    for_each_row(connection, lookup, |row| {
        found.push(token_row(row)?);
        Ok(())
    })
    .await?;
    Ok(found)
}

pub(super) async fn sealed_tokens(
    connection: &Connection,
    tenant: &str,
    limit: usize,
) -> Result<Vec<TokenRow>, StoreError> {
    let sql =
        format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE tenant_id = ?1 AND sealed IS NOT NULL LIMIT ?2");
    let params = vec![text(tenant), Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX))];
    let mut rows = connection.query(&sql, params_from_iter(params)).await?;
    let mut found = Vec::new();
    while let Some(row) = rows.next().await? {
        found.push(token_row(&row)?);
    }
    Ok(found)
}

pub(super) async fn search(
    connection: &Connection,
    tenant: &str,
    query: &TokenQuery,
) -> Result<TokenPage, StoreError> {
    let (condition, params) = search_condition(tenant, query);
    let count_sql = format!("SELECT COUNT(*) FROM tokens WHERE {condition}");
    let mut rows = connection.query(&count_sql, params_from_iter(params.clone())).await?;
    let total = match rows.next().await? {
        Some(row) => row.get::<u64>(0)?,
        None => 0,
    };
    let page_sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE {condition} ORDER BY created_ms, token LIMIT {} OFFSET {}",
        query.limit, query.offset
    );
    let mut rows = connection.query(&page_sql, params_from_iter(params)).await?;
    let mut page = Vec::new();
    while let Some(row) = rows.next().await? {
        page.push(token_row(&row)?);
    }
    Ok(TokenPage { total, rows: page })
}

/// Destroys a subject's key and every sealed value and blind index it owns, in one
/// transaction; returns how many values were erased.
pub(super) async fn erase_subject(
    connection: &Connection,
    tenant: &str,
    owner: &str,
    now_ms: i64,
) -> Result<u64, StoreError> {
    let transaction = connection.transaction().await?;
    let erased = transaction
        .execute(
            "UPDATE tokens SET sealed = NULL, blind_index = NULL, owner_ext_index = NULL, erased_ms = ?3
             WHERE tenant_id = ?1 AND owner_id = ?2 AND sealed IS NOT NULL",
            params_from_iter([text(tenant), text(owner), Value::Integer(now_ms)]),
        )
        .await?;
    transaction
        .execute("DELETE FROM subject_keys WHERE tenant_id = ?1 AND owner_id = ?2", [tenant, owner])
        .await?;
    transaction
        .execute(
            "INSERT INTO tenant_erasures (tenant_id, erasures) VALUES (?1, 1)
             ON CONFLICT (tenant_id) DO UPDATE SET erasures = erasures + 1",
            [tenant],
        )
        .await?;
    transaction.commit().await?;
    Ok(erased)
}

/// How many erasures each of `tenants` had (0 for none), in order.
pub(super) async fn erasures(connection: &Connection, tenants: &[String]) -> Result<Vec<u64>, StoreError> {
    let statement = connection.prepare("SELECT erasures FROM tenant_erasures WHERE tenant_id = ?1").await?;
    let mut counts = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        statement.reset();
        let mut rows = statement.query([tenant.as_str()]).await?;
        let count = match rows.next().await? {
            Some(row) => row.get::<i64>(0)?,
            None => 0,
        };
        counts.push(u64::try_from(count).unwrap_or(0));
    }
    Ok(counts)
}

/// Keys per `IN (...)` statement; SQLite allows 32,766 parameters.
const CHUNK: usize = 1000;

/// One tenant's rows whose key column is one of `keys`.
struct KeyLookup<'a> {
    /// The statement up to its `IN`, with one `?` for the tenant before it.
    select: &'a str,
    tenant: &'a str,
    keys: Vec<Value>,
}

/// Runs `lookup` in chunks of [`CHUNK`] keys, one `IN (...)` statement each, and hands
/// every row to `read`.
async fn for_each_row(
    connection: &Connection,
    lookup: KeyLookup<'_>,
    mut read: impl FnMut(&libsql::Row) -> Result<(), StoreError> + Send,
) -> Result<(), StoreError> {
    for chunk in lookup.keys.chunks(CHUNK) {
        let sql = format!("{} ({})", lookup.select, anonymous_placeholders(chunk.len()));
        // Parameters are collected before any await: a lazy iterator held across one
        // makes the future's Send-ness unprovable for the compiler.
        let params: Vec<Value> = std::iter::once(text(lookup.tenant)).chain(chunk.iter().cloned()).collect();
        let mut rows = connection.query(&sql, params_from_iter(params)).await?;
        while let Some(row) = rows.next().await? {
            read(&row)?;
        }
    }
    Ok(())
}

/// `?, ?, ...`: anonymous placeholders, numbered by position. Numbered ones (`?17`)
/// cost a linear search each when the statement is compiled.
fn anonymous_placeholders(count: usize) -> String {
    let mut list = String::with_capacity(count * 3);
    for n in 0..count {
        list.push_str(if n == 0 { "?" } else { ", ?" });
    }
    list
}

fn search_condition(tenant: &str, query: &TokenQuery) -> (String, Vec<Value>) {
    let mut condition = String::from("tenant_id = ?1");
    let mut params = vec![text(tenant)];
    let mut add = |column: &str, value: Value| {
        params.push(value);
        condition.push_str(&format!(" AND {column} = ?{}", params.len()));
    };
    if let Some(token) = &query.token {
        add("token", text(token));
    }
    if let Some(index) = &query.blind_index {
        add("blind_index", Value::Blob(index.to_vec()));
    }
    if let Some(owner) = &query.owner_id {
        add("owner_id", text(owner));
    }
    if let Some(index) = &query.owner_ext_index {
        add("owner_ext_index", Value::Blob(index.to_vec()));
    }
    (condition, params)
}

pub(super) fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

fn optional<T>(value: Option<T>, into: impl FnOnce(T) -> Value) -> Value {
    value.map_or(Value::Null, into)
}

fn row_values(row: &TokenRow) -> Vec<Value> {
    vec![
        text(&row.token),
        optional(row.blind_index, |index| Value::Blob(index.to_vec())),
        optional(row.owner_id.as_deref(), text),
        optional(row.owner_ext_index, |index| Value::Blob(index.to_vec())),
        optional(row.sealed.clone(), Value::Blob),
        Value::Integer(row.created_ms),
        optional(row.erased_ms, Value::Integer),
    ]
}

fn token_row(row: &libsql::Row) -> Result<TokenRow, StoreError> {
    Ok(TokenRow {
        token: row.get(0)?,
        blind_index: row.get(1)?,
        owner_id: row.get(2)?,
        owner_ext_index: row.get(3)?,
        sealed: row.get(4)?,
        created_ms: row.get(5)?,
        erased_ms: row.get(6)?,
    })
}
