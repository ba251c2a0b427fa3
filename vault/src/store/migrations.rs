//! Numbered schema migrations, one list per engine, applied in order on open.
//!
//! A migration is never edited once released: changes are new entries. Each database
//! records what it applied in `vault_schema`; a database newer than this build is
//! refused rather than written with an older understanding of its tables.

/// One schema step.
pub struct Migration {
    /// 1, 2, ...: the order of application.
    pub version: i64,
    /// What the step does.
    pub name: &'static str,
    /// The statements, separated by `;`.
    pub sql: &'static str,
}

/// The bookkeeping table, the same on both engines.
pub const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS vault_schema (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_ms BIGINT NOT NULL
)";

/// SQLite: blobs for indexes and sealed bytes.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "tenant keys, subject keys, tokens",
        sql: "
CREATE TABLE tenant_keys (
    tenant_id TEXT PRIMARY KEY,
    wrapped_key BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE subject_keys (
    tenant_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, owner_id)
);
CREATE TABLE tokens (
    tenant_id TEXT NOT NULL,
    token TEXT NOT NULL,
    blind_index BLOB,
    owner_id TEXT,
    owner_ext_index BLOB,
    sealed BLOB,
    created_ms INTEGER NOT NULL,
    erased_ms INTEGER,
    PRIMARY KEY (tenant_id, token)
);
CREATE UNIQUE INDEX tokens_value ON tokens (tenant_id, blind_index);
CREATE INDEX tokens_owner ON tokens (tenant_id, owner_id);
CREATE INDEX tokens_owner_ext ON tokens (tenant_id, owner_ext_index);
",
    },
    Migration {
        version: 2,
        name: "tokens clustered by tenant and token",
        // Without a rowid the table is its primary key's B-tree, and every index entry
        // ends with that key: finding a value's token is one descent of `tokens_value`
        // (a covering index) instead of two, and a new token is written to one B-tree
        // fewer.
        sql: "
CREATE TABLE tokens_clustered (
    tenant_id TEXT NOT NULL,
    token TEXT NOT NULL,
    blind_index BLOB,
    owner_id TEXT,
    owner_ext_index BLOB,
    sealed BLOB,
    created_ms INTEGER NOT NULL,
    erased_ms INTEGER,
    PRIMARY KEY (tenant_id, token)
) WITHOUT ROWID;
INSERT INTO tokens_clustered
    SELECT tenant_id, token, blind_index, owner_id, owner_ext_index, sealed, created_ms, erased_ms FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_clustered RENAME TO tokens;
CREATE UNIQUE INDEX tokens_value ON tokens (tenant_id, blind_index);
CREATE INDEX tokens_owner ON tokens (tenant_id, owner_id);
CREATE INDEX tokens_owner_ext ON tokens (tenant_id, owner_ext_index);
",
    },
    Migration {
        version: 3,
        name: "erasures per tenant",
        // Counted in each erasure's transaction, so a tokenizer that sees the count
        // move forgets the tenant's cached tokens before its next batch.
        sql: "
CREATE TABLE tenant_erasures (
    tenant_id TEXT PRIMARY KEY,
    erasures INTEGER NOT NULL
) WITHOUT ROWID;
",
    },
];

/// PostgreSQL: the same tables with `bytea`.
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "tenant keys, subject keys, tokens",
        sql: "
CREATE TABLE tenant_keys (
    tenant_id TEXT PRIMARY KEY,
    wrapped_key BYTEA NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE subject_keys (
    tenant_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    wrapped_key BYTEA NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, owner_id)
);
CREATE TABLE tokens (
    tenant_id TEXT NOT NULL,
    token TEXT NOT NULL,
    blind_index BYTEA,
    owner_id TEXT,
    owner_ext_index BYTEA,
    sealed BYTEA,
    created_ms BIGINT NOT NULL,
    erased_ms BIGINT,
    PRIMARY KEY (tenant_id, token)
);
CREATE UNIQUE INDEX tokens_value ON tokens (tenant_id, blind_index);
CREATE INDEX tokens_owner ON tokens (tenant_id, owner_id);
CREATE INDEX tokens_owner_ext ON tokens (tenant_id, owner_ext_index);
",
    },
    Migration {
        version: 2,
        name: "erasures per tenant",
        sql: "
CREATE TABLE tenant_erasures (
    tenant_id TEXT PRIMARY KEY,
    erasures BIGINT NOT NULL
);
",
    },
];

/// The newest version in `migrations`.
pub fn latest(migrations: &[Migration]) -> i64 {
    migrations.iter().map(|migration| migration.version).max().unwrap_or(0)
}

/// Milliseconds since the epoch, for bookkeeping columns.
pub fn now_ms() -> i64 {
    let elapsed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}
