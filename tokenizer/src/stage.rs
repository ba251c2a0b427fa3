//! The tokenizer stage: `NormalizedRecord`s in, `TokenizedRecord`s keyed by tenant out.
//!
//! A batch is read in parts of [`PART_RECORDS`] and tokenized with the vault in two
//! rounds:
//! 1. For each part, [`TokenizeStage::prepare`] decodes its records and lists the
//!    personal values neither cached nor listed by an earlier part; the vault answers
//!    which tokens exist (`/v1/find`, a read); [`TokenizeStage::settle`] applies them
//!    and encodes the part's records if every value has its token. A part's find call
//!    is sent as soon as the part is prepared, up to [`FINDS_IN_FLIGHT`] at once, and
//!    parts are settled in order: the vault reads earlier parts, several at a time on
//!    its reading connections, while the stage decodes later ones.
//! 2. The values found nowhere go in one `/v1/tokenize` call for the whole batch, so
//!    new values cost the vault one write per batch, not one per part; the records
//!    that waited for them are then encoded ([`TokenizeStage::encode`]).
//!
//! The vault's answer for a value never changes, so a redelivered record yields the
//! same tokenized record. A vault that is down or overloaded fails the batch as
//! transient: the runtime retries it and nothing passes untokenized. A vault that
//! refuses a request's content (too many values, too large, a value it cannot take)
//! would refuse the retry too: the batch is split in halves until it passes, and a
//! record refused alone goes to the DLQ (`vault_refused`), so no batch blocks the
//! stage.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::{future::Future, pin::Pin};

use audit_runtime::dlq::Rejection;
use audit_runtime::stage::{Delivery, InputMessage, Outcome, OutputRecord, Stage, TransientError};
use audit_schemas::{Codec, NormalizedRecord, TokenizedRecord};
use audit_vault_api::client::{VaultClient, VaultClientError};
use audit_vault_api::{
    ErasuresRequest, FindResponse, TenantValues, TokenizeItem, TokenizeRequest, TokenizeResponse,
};
use tokio_util::task::AbortOnDropHandle;

use crate::cache::{TokenCache, ValueMap};
use crate::policy::Policy;

/// Records per find call. Small enough that a batch of the runtime's default size
/// (2,000) makes a pipeline of eight calls, large enough that each call still carries
/// hundreds of values.
pub const PART_RECORDS: usize = 250;

/// Find calls sent and not yet settled, at most: a batch of the default size has all
/// its parts in flight at once, and a larger batch does not open a connection per part.
pub const FINDS_IN_FLIGHT: usize = 8;

/// The tokens of one batch, by slot: each distinct (tenant, value) of the batch has
/// one, shared by all its parts, so a value is asked for once per batch.
/// No `Debug`: it holds clear values.
#[derive(Default)]
pub struct BatchTokens {
    /// Tenants whose erasures were checked for this batch: only their cached tokens
    /// may be used.
    checked: HashSet<String>,
    slot_of: ValueMap<usize>,
    /// The token of each slot, once known.
    tokens: Vec<Option<String>>,
    /// Values the vault has no token for yet, per tenant: created at the end.
    missing: Wanted,
}

impl BatchTokens {
    /// A batch of the tenants `checked`: their erasure counts were read for it, and the
    /// cache forgot the tenants whose count moved.
    pub fn new(checked: HashSet<String>) -> BatchTokens {
        BatchTokens { checked, ..BatchTokens::default() }
    }

    /// The values no part found, for one tokenize call; `None` when there are none.
    pub fn take_missing(&mut self) -> Option<Missing> {
        if self.missing.is_empty() {
            return None;
        }
        let (request, asked) = into_request(std::mem::take(&mut self.missing));
        Some(Missing { request, asked })
    }
}

/// The values a batch must create, as one tokenize request.
pub struct Missing {
    /// What the vault is asked to tokenize.
    pub request: TokenizeRequest,
    /// Per tenant of `request`, its name and the slot and cache key of each item.
    asked: Vec<(String, Asked)>,
}

/// Values to ask the vault for, per tenant, each with its slot and cache key.
type Wanted = BTreeMap<String, (Vec<TokenizeItem>, Asked)>;

/// The slot and cache key of each value asked of the vault for one tenant.
type Asked = Vec<(usize, String)>;

/// A decoded part of a batch.
///
/// Each record lists the slots of its personal values in the order [`Policy::visit`]
/// meets them, which is the same in both passes, so applying the tokens needs no
/// lookup by value.
pub struct Part {
    records: Vec<Result<NormalizedRecord, Rejection>>,
    /// Per record, the slot of each personal value, in visit order.
    slots: Vec<Vec<usize>>,
    /// Per tenant of `request`, its name and the slot and cache key of each item.
    asked: Vec<(String, Asked)>,
}

/// A settled part: encoded, or waiting for values the batch must create.
pub enum Settled {
    /// One outcome per record.
    Encoded(Vec<Outcome>),
    /// Some value of the part has no token yet.
    Waiting(Part),
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

    /// Decodes `messages`, one part of a batch, and returns it with the values whose
    /// tokens the vault must find for it.
    pub fn prepare(&mut self, batch: &mut BatchTokens, messages: &[InputMessage]) -> (Part, TokenizeRequest) {
        let mut records: Vec<Result<NormalizedRecord, Rejection>> =
            messages.iter().map(|message| self.decode(message)).collect();
        let mut wanted = Wanted::new();
        let mut slots = Vec::with_capacity(records.len());
        for record in records.iter_mut() {
            let mut record_slots = Vec::new();
            if let Ok(record) = record {
                let tenant = record.tenant_id.clone();
                let cache_usable = batch.checked.contains(&tenant);
                self.policy.visit(record, &mut |value, owner| {
                    let key = TokenCache::key(&tenant, value);
                    let slot = *batch.slot_of.entry(key).or_insert_with_key(|key| {
                        let cached = if cache_usable { self.cache.get(key) } else { None };
                        if cached.is_none() {
                            let asked = wanted.entry(tenant.clone()).or_default();
                            asked.0.push(TokenizeItem { value: value.to_owned(), owner: owner.clone() });
                            asked.1.push((batch.tokens.len(), key.clone()));
                        }
                        batch.tokens.push(cached);
                        batch.tokens.len() - 1
                    });
                    record_slots.push(slot);
                    None
                });
            }
            slots.push(record_slots);
        }
        let (request, asked) = into_request(wanted);
        (Part { records, slots, asked }, request)
    }

    /// Applies the tokens the vault `found` for `part`'s `request`; values it has none
    /// for join the batch's missing ones. Parts are settled in order.
    pub fn settle(
        &mut self,
        batch: &mut BatchTokens,
        (mut part, request): (Part, TokenizeRequest),
        found: FindResponse,
    ) -> Result<Settled, TransientError> {
        let asked = std::mem::take(&mut part.asked);
        answers_match(
            &asked,
            found.tenants.iter().map(|answered| (&answered.tenant, answered.tokens.len())),
        )?;
        let answers = request.tenants.into_iter().zip(found.tenants);
        for ((question, answered), (tenant, asked)) in answers.zip(asked) {
            let items = question.items.into_iter().zip(asked).zip(answered.tokens);
            for ((item, slot), token) in items {
                match token {
                    Some(token) => self.remember(batch, slot, token),
                    None => {
                        let missing = batch.missing.entry(tenant.clone()).or_default();
                        missing.0.push(item);
                        missing.1.push(slot);
                    }
                }
            }
        }
        let ready = part.slots.iter().flatten().all(|slot| batch.tokens[*slot].is_some());
        Ok(if ready { Settled::Encoded(self.encode(batch, part)) } else { Settled::Waiting(part) })
    }

    /// Applies the tokens the vault created for `missing`.
    pub fn created(
        &mut self,
        batch: &mut BatchTokens,
        missing: Missing,
        answer: TokenizeResponse,
    ) -> Result<(), TransientError> {
        let answered = answer.tenants.iter().map(|answered| (&answered.tenant, answered.tokens.len()));
        answers_match(&missing.asked, answered)?;
        for ((_, asked), answered) in missing.asked.into_iter().zip(answer.tenants) {
            for (slot, token) in asked.into_iter().zip(answered.tokens) {
                self.remember(batch, slot, token);
            }
        }
        Ok(())
    }

    /// One outcome per record of `part`, whose values must all have their tokens.
    pub fn encode(&self, batch: &BatchTokens, part: Part) -> Vec<Outcome> {
        part.records
            .into_iter()
            .zip(part.slots)
            .map(|(record, slots)| self.tokenize(record, &slots, &batch.tokens))
            .collect()
    }

    fn remember(&mut self, batch: &mut BatchTokens, (slot, key): (usize, String), token: String) {
        self.cache.insert(key, token.clone());
        batch.tokens[slot] = Some(token);
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

    /// Settles the part whose find call is `call`.
    async fn settle_call(
        &mut self,
        batch: &mut BatchTokens,
        part: Part,
        call: FindCall,
    ) -> Result<Settled, Failure> {
        let (request, found) = call.await.map_err(transient)?;
        Ok(self.settle(batch, (part, request), found.map_err(Failure::from)?)?)
    }

    /// Tokenizes `messages`, splitting them while the vault refuses their content.
    fn tokenize_or_split<'a>(
        &'a mut self,
        messages: &'a [InputMessage],
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Outcome>, TransientError>> + Send + 'a>> {
        Box::pin(async move {
            match self.tokenize_batch(messages).await {
                Ok(outcomes) => Ok(outcomes),
                Err(Failure::Transient(error)) => Err(error),
                Err(Failure::Refused(detail)) if messages.len() == 1 => {
                    Ok(vec![Outcome::Reject(Rejection::new("vault_refused", detail))])
                }
                Err(Failure::Refused(detail)) => {
                    tracing::warn!(records = messages.len(), %detail, "the vault refused a batch: splitting it");
                    let (first, second) = messages.split_at(messages.len() / 2);
                    let mut outcomes = self.tokenize_or_split(first).await?;
                    outcomes.extend(self.tokenize_or_split(second).await?);
                    Ok(outcomes)
                }
            }
        })
    }

    async fn tokenize_batch(&mut self, messages: &[InputMessage]) -> Result<Vec<Outcome>, Failure> {
        let mut batch = BatchTokens::new(self.forget_erased(messages).await?);
        let mut settled = Vec::with_capacity(messages.len().div_ceil(PART_RECORDS));
        let mut in_flight = VecDeque::with_capacity(FINDS_IN_FLIGHT);
        for part in messages.chunks(PART_RECORDS) {
            if in_flight.len() == FINDS_IN_FLIGHT
                && let Some((oldest, call)) = in_flight.pop_front()
            {
                settled.push(self.settle_call(&mut batch, oldest, call).await?);
            }
            let (part, request) = self.prepare(&mut batch, part);
            in_flight.push_back((part, self.find(request)));
        }
        for (part, call) in in_flight {
            settled.push(self.settle_call(&mut batch, part, call).await?);
        }
        if let Some(missing) = batch.take_missing() {
            let answer = self.vault.tokenize(&missing.request).await?;
            self.created(&mut batch, missing, answer)?;
        }
        let mut outcomes = Vec::with_capacity(messages.len());
        for part in settled {
            match part {
                Settled::Encoded(encoded) => outcomes.extend(encoded),
                Settled::Waiting(part) => outcomes.extend(self.encode(&batch, part)),
            }
        }
        Ok(outcomes)
    }

    /// Reads the erasure counts of the batch's tenants (its messages' keys) and
    /// forgets the cached tokens of each tenant whose count moved: a value erased in the
    /// vault is never given its old token by a batch that starts after the erasure.
    /// Returns the tenants checked.
    async fn forget_erased(&mut self, messages: &[InputMessage]) -> Result<HashSet<String>, Failure> {
        let keys = messages.iter().filter_map(|message| message.key.as_deref());
        let tenants: BTreeSet<&str> = keys.filter_map(|key| std::str::from_utf8(key).ok()).collect();
        if tenants.is_empty() {
            return Ok(HashSet::new());
        }
        let request =
            ErasuresRequest { tenants: tenants.iter().map(|tenant| (*tenant).to_owned()).collect() };
        let answer = self.vault.erasures(&request).await?;
        if answer.counts.len() != request.tenants.len() {
            return Err(Failure::Transient(transient(
                "the vault's erasure counts do not match the tenants asked",
            )));
        }
        for (tenant, count) in request.tenants.iter().zip(answer.counts) {
            if self.cache.observe_erasures(tenant, count) {
                tracing::info!(tenant, "erasures in the vault: the tenant's cached tokens are forgotten");
            }
        }
        Ok(request.tenants.into_iter().collect())
    }

    /// Sends a find call on its own task, so it proceeds while this stage works on
    /// other parts; the request comes back with the answer. Dropping the handle (a
    /// failed batch) cancels the call.
    fn find(&self, request: TokenizeRequest) -> FindCall {
        let vault = self.vault.clone();
        AbortOnDropHandle::new(tokio::spawn(async move {
            let found = if request.tenants.is_empty() {
                Ok(FindResponse { tenants: Vec::new() })
            } else {
                vault.find(&request).await
            };
            (request, found)
        }))
    }
}

/// Checks that the vault answered every asked tenant, in order, with one token per
/// item: an answer applied by position must match its question exactly.
fn answers_match<'a>(
    asked: &[(String, Asked)],
    answered: impl ExactSizeIterator<Item = (&'a String, usize)>,
) -> Result<(), TransientError> {
    if answered.len() != asked.len() {
        return Err(TransientError("vault answered for a different set of tenants".into()));
    }
    for ((tenant, asked), (answered, tokens)) in asked.iter().zip(answered) {
        if tenant != answered || asked.len() != tokens {
            return Err(TransientError("vault answer does not match the request".into()));
        }
    }
    Ok(())
}

fn into_request(wanted: Wanted) -> (TokenizeRequest, Vec<(String, Asked)>) {
    let (tenants, asked) = wanted
        .into_iter()
        .map(|(tenant, (items, asked))| (TenantValues { tenant: tenant.clone(), items }, (tenant, asked)))
        .unzip();
    (TokenizeRequest { tenants }, asked)
}

/// A find call in flight, giving back its request.
type FindCall = AbortOnDropHandle<(TokenizeRequest, Result<FindResponse, VaultClientError>)>;

fn transient(error: impl std::fmt::Display) -> TransientError {
    TransientError(error.to_string())
}

/// Why a batch was not tokenized.
enum Failure {
    /// Retrying the same batch later may succeed.
    Transient(TransientError),
    /// The vault refuses the request's content: the same request never passes.
    Refused(String),
}

impl From<TransientError> for Failure {
    fn from(error: TransientError) -> Self {
        Failure::Transient(error)
    }
}

impl From<VaultClientError> for Failure {
    fn from(error: VaultClientError) -> Self {
        if error.refuses_content() {
            Failure::Refused(error.to_string())
        } else {
            Failure::Transient(transient(error))
        }
    }
}

impl Stage for TokenizeStage {
    async fn process(&mut self, messages: &[InputMessage]) -> Result<Vec<Outcome>, TransientError> {
        self.tokenize_or_split(messages).await
    }

    /// A batch's tokens depend on nothing delivered before it, so its vault round trips
    /// run while the broker acknowledges the previous batch.
    fn delivery(&self) -> Delivery {
        Delivery::Overlapped
    }
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
