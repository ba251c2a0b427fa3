//! The index schema: what a signed record becomes in Tantivy.
//!
//! One keyword field holds every scalar attribute of the record as a `path=value`
//! term, the path in lowercase (SCIM attribute names are case-insensitive): `eq` is a
//! term lookup, `sw`/`ew`/`co`/`pr` and `*` wildcards are automata over one path's
//! terms. `message` is also a text field for word search. `created` (milliseconds)
//! and `sequence` are indexed and fast for ranges and sorting; `tenant` is its own
//! keyword field because every query is scoped to one tenant; `buckets` holds the
//! tenant's time buckets of `created` ([`crate::buckets`]) so time ranges read one
//! tenant's postings. The stored document is the JWS, which carries the signed
//! payload, so nothing is stored twice, and the record's tree hashes (the subtrees of
//! its tenant's Merkle tree its leaf closes), which proofs are built from.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, NumericOptions, STORED, STRING, Schema, TEXT, TextFieldIndexing,
    TextOptions,
};

/// Fields of the audit record index.
#[derive(Debug, Clone)]
pub struct IndexSchema {
    /// The Tantivy schema.
    pub schema: Schema,
    /// Tenant id (keyword).
    pub tenant: Field,
    /// Record id (keyword, for upserts and `GET` by id).
    pub id: Field,
    /// `created` in milliseconds since the epoch, indexed and fast (Tantivy's date
    /// terms keep only seconds; ranges here must be exact to the millisecond).
    pub created: Field,
    /// The tenant's sequence number, indexed and fast.
    pub sequence: Field,
    /// Every scalar attribute as `path=value`.
    pub keyword: Field,
    /// `message`, tokenized for word search.
    pub message: Field,
    /// Tenant-scoped time buckets of `created`.
    pub buckets: Field,
    /// The JWS (stored only).
    pub jws: Field,
    /// The record's tree hashes, end to end (stored only).
    pub tree: Field,
}

impl IndexSchema {
    /// The schema every shard uses.
    pub fn new() -> IndexSchema {
        let mut builder = Schema::builder();
        let tenant = builder.add_text_field("tenant", STRING | FAST);
        let id = builder.add_text_field("id", STRING);
        let created = builder.add_i64_field("created", NumericOptions::default() | INDEXED | FAST);
        let sequence = builder.add_u64_field("sequence", NumericOptions::default() | INDEXED | FAST);
        // Raw terms without positions: exact values, never phrase-searched.
        let keyword_indexing =
            TextFieldIndexing::default().set_tokenizer("raw").set_index_option(IndexRecordOption::Basic);
        let keyword = builder
            .add_text_field("kw", TextOptions::default().set_indexing_options(keyword_indexing.clone()));
        let message = builder.add_text_field("message", TEXT);
        let buckets =
            builder.add_text_field("buckets", TextOptions::default().set_indexing_options(keyword_indexing));
        let jws = builder.add_text_field("jws", STORED);
        let tree = builder.add_bytes_field("tree", STORED);
        IndexSchema {
            schema: builder.build(),
            tenant,
            id,
            created,
            sequence,
            keyword,
            message,
            buckets,
            jws,
            tree,
        }
    }
}

impl Default for IndexSchema {
    fn default() -> Self {
        IndexSchema::new()
    }
}

/// The keyword term of `value` at attribute `path`.
pub fn keyword_term(path: &str, value: &str) -> String {
    let mut term = String::with_capacity(path.len() + value.len() + 1);
    term.extend(path.chars().flat_map(char::to_lowercase));
    term.push('=');
    term.push_str(value);
    term
}
