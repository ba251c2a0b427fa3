//! The tokenizer stage: `NormalizedRecord`s in, `TokenizedRecord`s keyed by tenant out.
//!
//! A batch is tokenized in two pure steps around one vault call: [`TokenizeStage::prepare`]
//! decodes the records and lists the personal values whose tokens are not cached;
//! [`TokenizeStage::complete`] applies the tokens and encodes. The vault's answer for
//! a value never changes, so a redelivered record yields the same tokenized record.
//! A vault failure fails the batch as transient: the runtime retries it and nothing
//! passes untokenized.

use std::collections::{BTreeMap, HashMap, HashSet};

use audit_core::dlq::Rejection;
use audit_core::stage::{InputMessage, Outcome, OutputRecord, Stage, TransientError};
use audit_core::vault_api::{TenantValues, TokenizeItem, TokenizeRequest, TokenizeResponse};
use audit_core::vault_client::VaultClient;
use audit_schemas::{Codec, NormalizedRecord, TokenizedRecord};

use crate::cache::TokenCache;
use crate::policy::Policy;

/// A decoded batch waiting for its tokens.
pub struct Prepared {
    records: Vec<Result<NormalizedRecord, Rejection>>,
    /// Values the cache did not know, per tenant, each once.
    pub request: TokenizeRequest,
    /// Tokens of this batch, by tenant and value.
    known: HashMap<(String, String), String>,
}

/// Tokenizes records through the vault.
pub struct TokenizeStage {
    policy: Policy,
    vault: VaultClient,
    cache: TokenCache,
    input: Codec<NormalizedRecord>,
    output: Codec<TokenizedRecord>,
}

/// What [`TokenizeStage::new`] needs.
pub struct TokenizeParams {
    /// Which fields to tokenize.
    pub policy: Policy,
    /// The vault.
    pub vault: VaultClient,
    /// Cached tokens, at most.
    pub cache_capacity: usize,
}

impl TokenizeStage {
    /// A stage per `params`, with the published codecs.
    pub fn new(params: TokenizeParams) -> Result<TokenizeStage, audit_schemas::CodecError> {
        Ok(TokenizeStage {
            policy: params.policy,
            vault: params.vault,
            cache: TokenCache::new(params.cache_capacity),
            input: Codec::published("NormalizedRecord")?,
            output: Codec::published("TokenizedRecord")?,
        })
    }

    /// Decodes `batch` and lists the values the vault must tokenize.
    pub fn prepare(&mut self, batch: &[InputMessage]) -> Prepared {
        let mut records: Vec<Result<NormalizedRecord, Rejection>> =
            batch.iter().map(|message| self.decode(message)).collect();
        let mut known = HashMap::new();
        let mut wanted: BTreeMap<String, Vec<TokenizeItem>> = BTreeMap::new();
        let mut asked = HashSet::new();
        for record in records.iter_mut().flatten() {
            let tenant = record.tenant_id.clone();
            self.policy.visit(record, &mut |value, owner| {
                let key = (tenant.clone(), value.to_owned());
                if known.contains_key(&key) || asked.contains(&key) {
                    return None;
                }
                match self.cache.get(&tenant, value) {
                    Some(token) => {
                        known.insert(key, token);
                    }
                    None => {
                        let item = TokenizeItem { value: value.to_owned(), owner: owner.clone() };
                        wanted.entry(tenant.clone()).or_default().push(item);
                        asked.insert(key);
                    }
                }
                None
            });
        }
        let tenants = wanted.into_iter().map(|(tenant, items)| TenantValues { tenant, items }).collect();
        Prepared { records, request: TokenizeRequest { tenants }, known }
    }

    /// Applies the vault's `answer` to `prepared` and encodes one outcome per input.
    pub fn complete(
        &mut self,
        prepared: Prepared,
        answer: TokenizeResponse,
    ) -> Result<Vec<Outcome>, TransientError> {
        let Prepared { records, request, mut known } = prepared;
        if answer.tenants.len() != request.tenants.len() {
            return Err(TransientError("vault answered for a different set of tenants".into()));
        }
        for (asked, answered) in request.tenants.iter().zip(answer.tenants) {
            if asked.tenant != answered.tenant || asked.items.len() != answered.tokens.len() {
                return Err(TransientError("vault answer does not match the request".into()));
            }
            for (item, token) in asked.items.iter().zip(answered.tokens) {
                self.cache.insert(&asked.tenant, &item.value, token.clone());
                known.insert((asked.tenant.clone(), item.value.clone()), token);
            }
        }
        records.into_iter().map(|record| Ok(self.tokenize(record, &known))).collect()
    }

    fn tokenize(
        &self,
        record: Result<NormalizedRecord, Rejection>,
        known: &HashMap<(String, String), String>,
    ) -> Outcome {
        let mut record = match record {
            Ok(record) => record,
            Err(rejection) => return Outcome::Reject(rejection),
        };
        let tenant = record.tenant_id.clone();
        let mut missing = false;
        let paths = self.policy.visit(&mut record, &mut |value, _| {
            let token = known.get(&(tenant.clone(), value.to_owned())).cloned();
            missing |= token.is_none();
            token
        });
        if missing {
            // Unreachable by construction; never forward a record with a clear value left.
            return Outcome::Reject(Rejection::new("token_missing", "a personal value got no token"));
        }
        let record = TokenizedRecord::new(record, paths);
        match self.output.encode(&record) {
            Ok(payload) => {
                Outcome::Forward(vec![OutputRecord { key: record.tenant_id.into_bytes(), payload }])
            }
            Err(error) => Outcome::Reject(Rejection::new("encoding_failed", error.to_string())),
        }
    }

    fn decode(&self, message: &InputMessage) -> Result<NormalizedRecord, Rejection> {
        let bytes = message.payload.as_deref().unwrap_or_default();
        self.input.decode(bytes).map_err(|error| Rejection::new("undecodable_record", error.to_string()))
    }
}

impl Stage for TokenizeStage {
    async fn process(&mut self, batch: &[InputMessage]) -> Result<Vec<Outcome>, TransientError> {
        let prepared = self.prepare(batch);
        let answer = if prepared.request.tenants.is_empty() {
            audit_core::vault_api::TokenizeResponse { tenants: Vec::new() }
        } else {
            self.vault.tokenize(&prepared.request).await.map_err(|error| TransientError(error.to_string()))?
        };
        self.complete(prepared, answer)
    }
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
