//! The tokenizer stage: `NormalizedRecord`s in, `TokenizedRecord`s keyed by tenant out.
//!
//! A batch is tokenized in two pure steps around one vault call: [`TokenizeStage::prepare`]
//! decodes the records and lists the personal values whose tokens are not cached;
//! [`TokenizeStage::complete`] applies the tokens and encodes. The vault's answer for
//! a value never changes, so a redelivered record yields the same tokenized record.
//! A vault failure fails the batch as transient: the runtime retries it and nothing
//! passes untokenized.

use std::collections::{BTreeMap, HashMap};

use audit_core::dlq::Rejection;
use audit_core::stage::{Delivery, InputMessage, Outcome, OutputRecord, Stage, TransientError};
use audit_core::vault_api::{TenantValues, TokenizeItem, TokenizeRequest, TokenizeResponse};
use audit_core::vault_client::VaultClient;
use audit_schemas::{Codec, NormalizedRecord, TokenizedRecord};

use crate::cache::TokenCache;
use crate::policy::Policy;

/// A decoded batch waiting for its tokens.
///
/// Each distinct (tenant, value) of the batch has a slot; each record lists the slots
/// of its personal values in the order [`Policy::visit`] meets them, which is the
/// same in both passes, so applying the tokens needs no lookup by value.
pub struct Prepared {
    records: Vec<Result<NormalizedRecord, Rejection>>,
    /// Per record, the slot of each personal value, in visit order.
    slots: Vec<Vec<usize>>,
    /// The token of each slot, once known.
    tokens: Vec<Option<String>>,
    /// Values the cache did not know, per tenant, each once.
    pub request: TokenizeRequest,
    /// Per tenant of `request`, the slot and cache key of each item.
    asked: Vec<Asked>,
}

/// The slot and cache key of each value asked of the vault for one tenant.
type Asked = Vec<(usize, String)>;

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
        let mut slot_of: HashMap<String, usize> = HashMap::new();
        let mut tokens = Vec::new();
        let mut wanted: BTreeMap<String, (Vec<TokenizeItem>, Asked)> = BTreeMap::new();
        let mut slots = Vec::with_capacity(records.len());
        for record in records.iter_mut() {
            let mut record_slots = Vec::new();
            if let Ok(record) = record {
                let tenant = record.tenant_id.clone();
                self.policy.visit(record, &mut |value, owner| {
                    let key = TokenCache::key(&tenant, value);
                    let slot = *slot_of.entry(key).or_insert_with_key(|key| {
                        let cached = self.cache.get(key);
                        if cached.is_none() {
                            let asked = wanted.entry(tenant.clone()).or_default();
                            asked.0.push(TokenizeItem { value: value.to_owned(), owner: owner.clone() });
                            asked.1.push((tokens.len(), key.clone()));
                        }
                        tokens.push(cached);
                        tokens.len() - 1
                    });
                    record_slots.push(slot);
                    None
                });
            }
            slots.push(record_slots);
        }
        let (tenants, asked) = wanted
            .into_iter()
            .map(|(tenant, (items, asked))| (TenantValues { tenant, items }, asked))
            .unzip();
        Prepared { records, slots, tokens, request: TokenizeRequest { tenants }, asked }
    }

    /// Applies the vault's `answer` to `prepared` and encodes one outcome per input.
    pub fn complete(
        &mut self,
        prepared: Prepared,
        answer: TokenizeResponse,
    ) -> Result<Vec<Outcome>, TransientError> {
        let Prepared { records, slots, mut tokens, request, asked } = prepared;
        if answer.tenants.len() != request.tenants.len() {
            return Err(TransientError("vault answered for a different set of tenants".into()));
        }
        for ((question, answered), asked) in request.tenants.iter().zip(answer.tenants).zip(asked) {
            if question.tenant != answered.tenant || asked.len() != answered.tokens.len() {
                return Err(TransientError("vault answer does not match the request".into()));
            }
            for ((slot, key), token) in asked.into_iter().zip(answered.tokens) {
                self.cache.insert(key, token.clone());
                tokens[slot] = Some(token);
            }
        }
        Ok(records
            .into_iter()
            .zip(slots)
            .map(|(record, slots)| self.tokenize(record, &slots, &tokens))
            .collect())
    }

    fn tokenize(
        &self,
        record: Result<NormalizedRecord, Rejection>,
        slots: &[usize],
        tokens: &[Option<String>],
    ) -> Outcome {
        let mut record = match record {
            Ok(record) => record,
            Err(rejection) => return Outcome::Reject(rejection),
        };
        let mut next = slots.iter();
        let mut missing = false;
        let paths = self.policy.visit(&mut record, &mut |_, _| {
            let token = next.next().and_then(|slot| tokens[*slot].clone());
            missing |= token.is_none();
            token
        });
        if missing || next.next().is_some() {
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

    /// A batch's tokens depend on nothing delivered before it, so its vault round trip
    /// runs while the broker acknowledges the previous batch.
    fn delivery(&self) -> Delivery {
        Delivery::Overlapped
    }
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
