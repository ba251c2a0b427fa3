//! Searching the indexer's shards: every `shard-NNNN` directory under the index
//! directory, each read through a reader that [`Shards::reload`] moves to the
//! indexer's latest commit as soon as it sees one (it is called every 50 ms; Tantivy's
//! own watcher looks only every 500 ms, twice the indexer's commit interval).
//!
//! A search runs one query per shard, counting every match (the exact total) and
//! keeping the first `startIndex + count` by `created`; the shards' heads are merged
//! with a fixed tie order (shard, then document), so pages do not overlap or skip
//! while the index is unchanged. Pages deeper than [`MAX_WINDOW`] are refused rather
//! than computed. New shards are picked up by [`Shards::refresh`].

pub mod created;
pub mod query;

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use audit_index::schema::IndexSchema;
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, Index, IndexReader, Order, ReloadPolicy, Searcher, TantivyDocument, Term};

use crate::QueryError;
use crate::plan::Node;

/// Deepest result a page may reach (`startIndex + count`).
pub const MAX_WINDOW: usize = 100_000;

/// Sort order by `created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// Oldest first.
    Ascending,
    /// Newest first.
    Descending,
}

/// Which slice of the results to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Results to skip (`startIndex - 1`).
    pub offset: usize,
    /// Results to return.
    pub count: usize,
    /// Order by `created`.
    pub order: SortOrder,
}

/// One page of results: the exact total and the JWS of each record on the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Every match of the query.
    pub total: usize,
    /// The page's records, as stored (compact JWS).
    pub records: Vec<String>,
}

struct Shard {
    partition: i32,
    reader: IndexReader,
    /// The shard's `meta.json`, and its modification time when the reader last loaded.
    meta: PathBuf,
    loaded: std::sync::Mutex<Option<std::time::SystemTime>>,
}

/// The shards under one index directory.
pub struct Shards {
    root: PathBuf,
    schema: IndexSchema,
    open: RwLock<Vec<Shard>>,
    /// Shards that could not be opened, with their `meta.json` time then: retried only
    /// once it changes (a reindex), not every refresh.
    refused: std::sync::Mutex<std::collections::HashMap<i32, Option<std::time::SystemTime>>>,
}

impl std::fmt::Debug for Shards {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Shards").field("root", &self.root).finish_non_exhaustive()
    }
}

impl Shards {
    /// The shards under `root` (none yet is fine: they appear as the indexer creates them).
    pub fn open(root: &Path) -> Result<Shards, QueryError> {
        let shards = Shards {
            root: root.to_owned(),
            schema: IndexSchema::new(),
            open: RwLock::new(Vec::new()),
            refused: Default::default(),
        };
        shards.refresh()?;
        Ok(shards)
    }

    /// Opens shards created since the last call; returns how many are open.
    pub fn refresh(&self) -> Result<usize, QueryError> {
        let io = |source| QueryError::Io { context: "cannot list the index directory", source };
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(io(error)),
        };
        let known: Vec<i32> = self.read().iter().map(|shard| shard.partition).collect();
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(partition) = name.to_str().and_then(|name| name.strip_prefix("shard-")?.parse().ok())
            else {
                continue;
            };
            let meta = std::fs::metadata(entry.path().join("meta.json")).ok();
            let Some(changed) = meta.map(|meta| meta.modified().ok()) else { continue };
            let mut refused = self.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if known.contains(&partition) || refused.get(&partition) == Some(&changed) {
                continue;
            }
            match open_reader(&entry.path(), &self.schema) {
                Ok(reader) => {
                    refused.remove(&partition);
                    let (meta, loaded) = (entry.path().join("meta.json"), std::sync::Mutex::new(changed));
                    found.push(Shard { partition, reader, meta, loaded });
                }
                Err(error) => {
                    tracing::error!(%error, partition, "shard not searchable");
                    refused.insert(partition, changed);
                }
            }
        }
        let mut open = self.open.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.extend(found);
        open.sort_by_key(|shard| shard.partition);
        Ok(open.len())
    }

    /// Moves each reader whose shard was committed since it last loaded to the new
    /// commit; returns how many moved.
    pub fn reload(&self) -> usize {
        let mut reloaded = 0;
        for shard in self.read().iter() {
            let modified = std::fs::metadata(&shard.meta).and_then(|meta| meta.modified()).ok();
            let mut loaded = shard.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if modified.is_none() || *loaded == modified {
                continue;
            }
            match shard.reader.reload() {
                Ok(()) => {
                    *loaded = modified;
                    reloaded += 1;
                }
                Err(error) => {
                    tracing::warn!(%error, partition = shard.partition, "shard reader not reloaded");
                }
            }
        }
        reloaded
    }

    /// The index schema.
    pub fn schema(&self) -> &IndexSchema {
        &self.schema
    }

    /// Current searchers of every shard.
    pub fn searchers(&self) -> Vec<Searcher> {
        self.read().iter().map(|shard| shard.reader.searcher()).collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Shard>> {
        self.open.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A reader of the shard in `dir`, if it was written with this build's schema (an older
/// shard lacks fields queries rely on: rebuild it with `auditctl reindex`).
fn open_reader(dir: &Path, schema: &IndexSchema) -> Result<IndexReader, QueryError> {
    let index_error = |source| QueryError::Index { path: dir.to_owned(), source };
    let index = Index::open_in_dir(dir).map_err(index_error)?;
    if index.schema() != schema.schema {
        let detail = "the shard's schema differs from this version's; rebuild it with auditctl reindex";
        return Err(index_error(tantivy::TantivyError::SchemaError(detail.into())));
    }
    index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(index_error)
}

/// One page of `tenant`'s records matching `node`.
pub fn search(shards: &Shards, tenant: &str, node: &Node, page: PageRequest) -> Result<Page, QueryError> {
    let query = query::tenant_query(shards.schema(), tenant, node)?;
    let searchers = shards.searchers();
    let window = page.offset.saturating_add(page.count);
    if page.count == 0 || window > MAX_WINDOW {
        let total = count(shards, &searchers, query.as_ref())?;
        if page.count > 0 && page.offset < total {
            return Err(QueryError::TooMany(format!(
                "pages end at result {MAX_WINDOW}; narrow the filter (for example by created) to go further"
            )));
        }
        return Ok(Page { total, records: Vec::new() });
    }
    let order = match page.order {
        SortOrder::Ascending => Order::Asc,
        SortOrder::Descending => Order::Desc,
    };
    let collector = (Count, TopDocs::with_limit(window).order_by_fast_field::<i64>("created", order));
    let mut total = 0;
    let mut heads: Vec<(i64, usize, DocAddress)> = Vec::new();
    for (shard, searcher) in searchers.iter().enumerate() {
        let (matched, top) =
            searcher.search(query.as_ref(), &collector).map_err(|source| index_error(shards, source))?;
        total += matched;
        heads.extend(top.into_iter().map(|(created, address)| (created.unwrap_or_default(), shard, address)));
    }
    heads.sort_by(|left, right| {
        let by_created = left.0.cmp(&right.0);
        let by_created = if page.order == SortOrder::Descending { by_created.reverse() } else { by_created };
        by_created.then((left.1, left.2).cmp(&(right.1, right.2)))
    });
    let records = heads
        .into_iter()
        .skip(page.offset)
        .take(page.count)
        .map(|(_, shard, address)| stored_jws(shards, &searchers[shard], address))
        .collect::<Result<_, _>>()?;
    Ok(Page { total, records })
}

/// The JWS of `tenant`'s record `id`, if the tenant has it.
pub fn by_id(shards: &Shards, tenant: &str, id: &str) -> Result<Option<String>, QueryError> {
    let schema = shards.schema();
    let id_query = TermQuery::new(Term::from_field_text(schema.id, id), IndexRecordOption::Basic);
    let tenant_query = TermQuery::new(Term::from_field_text(schema.tenant, tenant), IndexRecordOption::Basic);
    let query = tantivy::query::BooleanQuery::intersection(vec![Box::new(id_query), Box::new(tenant_query)]);
    for searcher in shards.searchers() {
        let found = searcher
            .search(&query, &TopDocs::with_limit(1).order_by_score())
            .map_err(|source| index_error(shards, source))?;
        if let Some((_, address)) = found.first() {
            return stored_jws(shards, &searcher, *address).map(Some);
        }
    }
    Ok(None)
}

fn count(shards: &Shards, searchers: &[Searcher], query: &dyn Query) -> Result<usize, QueryError> {
    let mut total = 0;
    for searcher in searchers {
        total += searcher.search(query, &Count).map_err(|source| index_error(shards, source))?;
    }
    Ok(total)
}

fn stored_jws(shards: &Shards, searcher: &Searcher, address: DocAddress) -> Result<String, QueryError> {
    let document: TantivyDocument = searcher.doc(address).map_err(|source| index_error(shards, source))?;
    Ok(document
        .get_first(shards.schema().jws)
        .and_then(|value| value.as_str())
        .unwrap_or_default()
        .to_owned())
}

fn index_error(shards: &Shards, source: tantivy::TantivyError) -> QueryError {
    QueryError::Index { path: shards.root.clone(), source }
}

/// `tenant`'s records matching `node` in chain (`sequence`) order, with the view of
/// the shards they were found in: what an export streams.
pub fn export(shards: &Shards, tenant: &str, node: &Node) -> Result<Export, QueryError> {
    let query = query::tenant_query(shards.schema(), tenant, node)?;
    let searchers = shards.searchers();
    let mut records = Vec::new();
    for (shard, searcher) in searchers.iter().enumerate() {
        let addresses = searcher
            .search(query.as_ref(), &DocSetCollector)
            .map_err(|source| index_error(shards, source))?;
        for address in addresses {
            let segment = searcher.segment_reader(address.segment_ord);
            let sequences =
                segment.fast_fields().u64("sequence").map_err(|source| index_error(shards, source))?;
            records.push(Stored {
                sequence: sequences.first(address.doc_id).unwrap_or_default(),
                shard,
                address,
            });
        }
    }
    records.sort_by_key(|stored| (stored.sequence, stored.shard, stored.address));
    Ok(Export { records, searchers, jws: shards.schema().jws, root: shards.root.clone() })
}

/// A stored record's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Its tenant's sequence number.
    pub sequence: u64,
    shard: usize,
    address: DocAddress,
}

/// The records of an export and the searchers they were found with: addresses are
/// only meaningful within the view that produced them.
pub struct Export {
    /// The records, in chain order.
    pub records: Vec<Stored>,
    searchers: Vec<Searcher>,
    jws: tantivy::schema::Field,
    root: PathBuf,
}

impl Export {
    /// The JWS stored at `stored`.
    pub fn jws(&self, stored: &Stored) -> Result<String, QueryError> {
        let searcher = &self.searchers[stored.shard];
        let document: TantivyDocument = searcher
            .doc(stored.address)
            .map_err(|source| QueryError::Index { path: self.root.clone(), source })?;
        Ok(document.get_first(self.jws).and_then(|value| value.as_str()).unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_of_another_schema_are_left_out() {
        let root = tempfile::tempdir().unwrap();
        let mut older = tantivy::schema::Schema::builder();
        older.add_text_field("tenant", tantivy::schema::STRING);
        for (name, schema) in [("shard-0000", older.build()), ("shard-0001", IndexSchema::new().schema)] {
            let dir = root.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            Index::create_in_dir(&dir, schema).unwrap();
        }
        std::fs::create_dir_all(root.path().join("shard-0002")).unwrap();
        let shards = Shards::open(root.path()).unwrap();
        assert_eq!(shards.refresh().unwrap(), 1, "only the shard of this schema is searched");
        assert_eq!(shards.refresh().unwrap(), 1, "a refused shard is not retried until it changes");
        assert_eq!(shards.refused.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_commit_is_searchable_after_the_next_reload() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("shard-0000");
        std::fs::create_dir_all(&dir).unwrap();
        let schema = IndexSchema::new();
        let index = Index::create_in_dir(&dir, schema.schema.clone()).unwrap();
        let shards = Shards::open(root.path()).unwrap();
        assert_eq!(shards.reload(), 0, "nothing committed since the reader opened");
        let mut writer: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
        writer.add_document(tantivy::doc!(schema.tenant => "t1")).unwrap();
        writer.commit().unwrap();
        assert_eq!(shards.searchers()[0].num_docs(), 0, "readers move only on reload");
        assert_eq!(shards.reload(), 1);
        assert_eq!(shards.searchers()[0].num_docs(), 1);
        assert_eq!(shards.reload(), 0, "an unchanged shard is not reloaded again");
    }
}
