//! Tokenizing the clear records through the real vault, as the tokenizer stage does:
//! its own policy finds the personal values and their owners, the vault gives each
//! distinct value its token (batches of at most [`BATCH`]), and the policy's second
//! pass writes the tokens and `tokenizedPaths`.
//!
//! One value has one token per tenant, so asking each distinct value once gives the
//! same records as asking once per occurrence, in a fraction of the calls.

use std::collections::{HashMap, HashSet};

use audit_schemas::{NormalizedRecord, TokenizedRecord};
use audit_vault_api::client::VaultClient;
use audit_vault_api::{Owner, TenantValues, TokenizeItem, TokenizeRequest};
use tokenizer::Policy;

use crate::dataset::Tenant;

/// Most values in one tokenize call.
pub const BATCH: usize = 1_000;

/// A tenant's clear values and their tokens.
pub type Tokens = HashMap<String, String>;

/// Tokens of every personal value of each tenant (same order as `tenants`), and the
/// number of vault calls made.
pub async fn tokenize(vault: &VaultClient, tenants: &mut [Tenant]) -> (Vec<Tokens>, usize) {
    let policy = Policy::default();
    let mut all = Vec::with_capacity(tenants.len());
    let mut calls = 0;
    for tenant in tenants.iter_mut() {
        let items = personal_values(&policy, &mut tenant.records);
        let mut tokens = Tokens::with_capacity(items.len());
        for chunk in items.chunks(BATCH) {
            let values = TenantValues { tenant: tenant.id.clone(), items: chunk.to_vec() };
            let answer = vault
                .tokenize(&TokenizeRequest { tenants: vec![values] })
                .await
                .expect("the vault tokenizes");
            calls += 1;
            let answered = answer.tenants.into_iter().next().expect("one tenant answered").tokens;
            tokens.extend(chunk.iter().map(|item| item.value.clone()).zip(answered));
        }
        all.push(tokens);
    }
    (all, calls)
}

/// Distinct personal values of `records`, each with its first owner (the vault keeps
/// a value's first owner too).
fn personal_values(policy: &Policy, records: &mut [NormalizedRecord]) -> Vec<TokenizeItem> {
    let mut seen = HashSet::new();
    let mut items = Vec::new();
    for record in records {
        // The collecting pass answers nothing, so the record is left as it is.
        policy.visit(record, &mut |value: &str, owner: &Owner| {
            if seen.insert(value.to_owned()) {
                items.push(TokenizeItem { value: value.to_owned(), owner: owner.clone() });
            }
            None
        });
    }
    items
}

/// `record` with its personal values replaced by `tokens`, as the tokenizer emits it.
pub fn apply(policy: &Policy, mut record: NormalizedRecord, tokens: &Tokens) -> TokenizedRecord {
    let paths = policy.visit(&mut record, &mut |value: &str, _: &Owner| tokens.get(value).cloned());
    TokenizedRecord::new(record, paths)
}
