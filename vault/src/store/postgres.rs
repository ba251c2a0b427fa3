//! The replicated engine: PostgreSQL through a connection pool.
//!
//! Several vault replicas share one database. Batches travel as arrays (`unnest`,
//! `= ANY`), so a batch of a thousand values is one statement, not a thousand. Racing
//! inserts of one value meet the unique blind index: the loser's `ON CONFLICT DO
//! NOTHING` waits for the winner's commit and the caller reads the winner's token.
//! Batches insert in (tenant, key) order, so two batches sharing values wait on each
//! other in one direction and never deadlock.
//! Migrations take a transaction-scoped advisory lock so replicas starting together
//! apply each step once.

use std::collections::HashMap;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{NoTls, Row, types::ToSql};

use super::migrations::{self, POSTGRES, SCHEMA_TABLE};
use super::{BlindIndex, StoreError, TenantRows, TokenPage, TokenQuery, TokenRow};

const TOKEN_COLUMNS: &str = "token, blind_index, owner_id, owner_ext_index, sealed, created_ms, erased_ms";
/// Arbitrary constant naming the vault's migration lock.
const MIGRATION_LOCK: i64 = 0x7661_756c_745f_6d67;
const POOL_SIZE: usize = 16;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PostgresStore")
    }
}

impl PostgresStore {
    /// Connects to `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = Manager::from_config(config, NoTls, manager_config);
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|error| StoreError::Pool(error.to_string()))?;
        let store = PostgresStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|error| match error {
            deadpool_postgres::PoolError::Backend(error) => StoreError::Postgres(error),
            other => StoreError::Pool(other.to_string()),
        })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        transaction.batch_execute(SCHEMA_TABLE).await?;
        let row = transaction.query_one("SELECT COALESCE(MAX(version), 0) FROM vault_schema", &[]).await?;
        let applied: i64 = row.get(0);
        let known = migrations::latest(POSTGRES);
        if applied > known {
            return Err(StoreError::SchemaTooNew { found: applied, known });
        }
        for migration in POSTGRES.iter().filter(|migration| migration.version > applied) {
            transaction.batch_execute(migration.sql).await?;
            let sql = "INSERT INTO vault_schema (version, name, applied_ms) VALUES ($1, $2, $3)";
            transaction.execute(sql, &[&migration.version, &migration.name, &migrations::now_ms()]).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    pub(super) async fn tenant_key(&self, tenant: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        let sql = "SELECT wrapped_key FROM tenant_keys WHERE tenant_id = $1";
        let row = client.query_opt(sql, &[&tenant]).await?;
        Ok(row.map(|row| row.get(0)))
    }

    pub(super) async fn insert_tenant_key(
        &self,
        tenant: &str,
        wrapped: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let client = self.client().await?;
        let sql = "INSERT INTO tenant_keys (tenant_id, wrapped_key, created_ms) VALUES ($1, $2, $3)
                   ON CONFLICT (tenant_id) DO NOTHING";
        client.execute(sql, &[&tenant, &wrapped, &migrations::now_ms()]).await?;
        drop(client);
        self.tenant_key(tenant).await?.ok_or(StoreError::Corrupt("tenant key vanished after insert"))
    }

    pub(super) async fn subject_keys(
        &self,
        tenant: &str,
        owners: &[&str],
    ) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let client = self.client().await?;
        let sql =
            "SELECT owner_id, wrapped_key FROM subject_keys WHERE tenant_id = $1 AND owner_id = ANY($2)";
        let rows = client.query(sql, &[&tenant, &owners]).await?;
        Ok(rows.into_iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    pub(super) async fn insert_subject_keys(
        &self,
        keys: &[TenantRows<(String, Vec<u8>)>],
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO subject_keys (tenant_id, owner_id, wrapped_key, created_ms)
                   SELECT $1, owner, wrapped, $4 FROM unnest($2::text[], $3::bytea[]) AS new (owner, wrapped)
                   ORDER BY owner ON CONFLICT (tenant_id, owner_id) DO NOTHING";
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let statement = transaction.prepare(sql).await?;
        let now = migrations::now_ms();
        for tenant_keys in in_tenant_order(keys) {
            let owners: Vec<&str> = tenant_keys.rows.iter().map(|(owner, _)| owner.as_str()).collect();
            let wrapped: Vec<&[u8]> = tenant_keys.rows.iter().map(|(_, key)| key.as_slice()).collect();
            transaction.execute(&statement, &[&tenant_keys.tenant, &owners, &wrapped, &now]).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    pub(super) async fn tokens_by_index(
        &self,
        wanted: &[TenantRows<BlindIndex>],
    ) -> Result<Vec<HashMap<BlindIndex, String>>, StoreError> {
        let client = self.client().await?;
        // A statement per tenant: the planner walks the `(tenant_id, blind_index)` index
        // for `= ANY`, where a join with an `unnest` of the keys measured 1.8 times slower.
        let statement = client
            .prepare("SELECT blind_index, token FROM tokens WHERE tenant_id = $1 AND blind_index = ANY($2)")
            .await?;
        let mut found = Vec::with_capacity(wanted.len());
        for tenant in wanted {
            let indexes: Vec<&[u8]> = tenant.rows.iter().map(|index| index.as_slice()).collect();
            let mut tokens = HashMap::with_capacity(indexes.len());
            for row in client.query(&statement, &[&tenant.tenant, &indexes]).await? {
                let index: Vec<u8> = row.get(0);
                let index: BlindIndex =
                    index.try_into().map_err(|_| StoreError::Corrupt("blind index length"))?;
                tokens.insert(index, row.get(1));
            }
            found.push(tokens);
        }
        Ok(found)
    }

    pub(super) async fn insert_tokens(&self, rows: &[TenantRows<TokenRow>]) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO tokens (tenant_id, {TOKEN_COLUMNS})
             SELECT $1, * FROM unnest($2::text[], $3::bytea[], $4::text[], $5::bytea[], $6::bytea[],
                                      $7::bigint[], $8::bigint[]) AS new ({TOKEN_COLUMNS})
             ORDER BY blind_index
             ON CONFLICT (tenant_id, blind_index) DO NOTHING"
        );
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let statement = transaction.prepare(&sql).await?;
        for tenant_rows in in_tenant_order(rows) {
            let columns = TokenColumns::from(tenant_rows.rows.as_slice());
            let params: [&(dyn ToSql + Sync); 8] = [
                &tenant_rows.tenant,
                &columns.tokens,
                &columns.blind_indexes,
                &columns.owners,
                &columns.owner_ext_indexes,
                &columns.sealed,
                &columns.created,
                &columns.erased,
            ];
            transaction.execute(&statement, &params).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    pub(super) async fn tokens(&self, tenant: &str, tokens: &[&str]) -> Result<Vec<TokenRow>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE tenant_id = $1 AND token = ANY($2)");
        let rows = client.query(&sql, &[&tenant, &tokens]).await?;
        rows.iter().map(token_row).collect()
    }

    pub(super) async fn sealed_tokens(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<TokenRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE tenant_id = $1 AND sealed IS NOT NULL LIMIT $2"
        );
        let rows = client.query(&sql, &[&tenant, &limit]).await?;
        rows.iter().map(token_row).collect()
    }

    pub(super) async fn search(&self, tenant: &str, query: &TokenQuery) -> Result<TokenPage, StoreError> {
        let token = query.token.as_deref();
        let value = query.blind_index.as_ref().map(|index| index.as_slice());
        let owner = query.owner_id.as_deref();
        let owner_ext = query.owner_ext_index.as_ref().map(|index| index.as_slice());
        // A NULL parameter leaves its condition out, so one statement serves every filter.
        let condition = "tenant_id = $1 AND ($2::text IS NULL OR token = $2)
            AND ($3::bytea IS NULL OR blind_index = $3) AND ($4::text IS NULL OR owner_id = $4)
            AND ($5::bytea IS NULL OR owner_ext_index = $5)";
        let params: [&(dyn ToSql + Sync); 5] = [&tenant, &token, &value, &owner, &owner_ext];
        let client = self.client().await?;
        let count =
            client.query_one(&format!("SELECT COUNT(*) FROM tokens WHERE {condition}"), &params).await?;
        let total: i64 = count.get(0);
        let page_sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE {condition} ORDER BY created_ms, token LIMIT {} OFFSET {}",
            query.limit, query.offset
        );
        let rows = client.query(&page_sql, &params).await?;
        let rows = rows.iter().map(token_row).collect::<Result<_, _>>()?;
        Ok(TokenPage { total: u64::try_from(total).unwrap_or(0), rows })
    }

    pub(super) async fn erase_subject(
        &self,
        tenant: &str,
        owner: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let erased = transaction
            .execute(
                "UPDATE tokens SET sealed = NULL, blind_index = NULL, owner_ext_index = NULL, erased_ms = $3
                 WHERE tenant_id = $1 AND owner_id = $2 AND sealed IS NOT NULL",
                &[&tenant, &owner, &now_ms],
            )
            .await?;
        let sql = "DELETE FROM subject_keys WHERE tenant_id = $1 AND owner_id = $2";
        transaction.execute(sql, &[&tenant, &owner]).await?;
        let sql = "INSERT INTO tenant_erasures (tenant_id, erasures) VALUES ($1, 1)
                   ON CONFLICT (tenant_id) DO UPDATE SET erasures = tenant_erasures.erasures + 1";
        transaction.execute(sql, &[&tenant]).await?;
        transaction.commit().await?;
        Ok(erased)
    }

    pub(super) async fn erasures(&self, tenants: &[String]) -> Result<Vec<u64>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT tenant_id, erasures FROM tenant_erasures WHERE tenant_id = ANY($1)", &[&tenants])
            .await?;
        let found: HashMap<String, i64> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        Ok(tenants.iter().map(|tenant| found.get(tenant).map_or(0, |count| *count as u64)).collect())
    }
}

/// Tenants in name order: with rows in key order within each tenant, two transactions
/// sharing rows lock them in the same order and never deadlock.
fn in_tenant_order<T>(batches: &[TenantRows<T>]) -> Vec<&TenantRows<T>> {
    let mut ordered: Vec<&TenantRows<T>> = batches.iter().collect();
    ordered.sort_by(|left, right| left.tenant.cmp(&right.tenant));
    ordered
}

/// Token rows turned into one array per column, for `unnest`.
struct TokenColumns<'a> {
    tokens: Vec<&'a str>,
    blind_indexes: Vec<Option<&'a [u8]>>,
    owners: Vec<Option<&'a str>>,
    owner_ext_indexes: Vec<Option<&'a [u8]>>,
    sealed: Vec<Option<&'a [u8]>>,
    created: Vec<i64>,
    erased: Vec<Option<i64>>,
}

impl<'a> From<&'a [TokenRow]> for TokenColumns<'a> {
    fn from(rows: &'a [TokenRow]) -> Self {
        TokenColumns {
            tokens: rows.iter().map(|row| row.token.as_str()).collect(),
            blind_indexes: rows
                .iter()
                .map(|row| row.blind_index.as_ref().map(|index| index.as_slice()))
                .collect(),
            owners: rows.iter().map(|row| row.owner_id.as_deref()).collect(),
            owner_ext_indexes: rows
                .iter()
                .map(|row| row.owner_ext_index.as_ref().map(|index| index.as_slice()))
                .collect(),
            sealed: rows.iter().map(|row| row.sealed.as_deref()).collect(),
            created: rows.iter().map(|row| row.created_ms).collect(),
            erased: rows.iter().map(|row| row.erased_ms).collect(),
        }
    }
}

fn index_column(row: &Row, column: usize) -> Result<Option<BlindIndex>, StoreError> {
    let bytes: Option<Vec<u8>> = row.get(column);
    bytes.map(|bytes| bytes.try_into().map_err(|_| StoreError::Corrupt("blind index length"))).transpose()
}

fn token_row(row: &Row) -> Result<TokenRow, StoreError> {
    Ok(TokenRow {
        token: row.get(0),
        blind_index: index_column(row, 1)?,
        owner_id: row.get(2),
        owner_ext_index: index_column(row, 3)?,
        sealed: row.get(4),
        created_ms: row.get(5),
        erased_ms: row.get(6),
    })
}
