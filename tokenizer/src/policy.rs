//! The PII policy applied: the personal values of a record, and who each belongs to.
//!
//! Which fields hold personal data is [`PiiPolicy`] (crate `audit-schemas`, shared
//! with the query-api, which resolves filters on the same fields). A value belongs to the target user for `targetUserId.*`, to the acting
//! user for `actingUserId.*`, and otherwise to the target user when there is one,
//! else the acting user. The literal `null` (the platform's placeholder for an absent
//! value) and empty strings are not personal data and stay as they are.

use audit_schemas::fields::{PiiPolicy, code_path};
use audit_schemas::{NormalizedRecord, UserRef};
use audit_vault_api::Owner;

use crate::detect::{Span, find_in_code, find_pii, replace_spans};

/// The shared policy, as the tokenizer applies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy(PiiPolicy);

impl From<PiiPolicy> for Policy {
    fn from(fields: PiiPolicy) -> Self {
        Policy(fields)
    }
}

/// Decides the token of one personal value: `None` leaves it as it is (the first,
/// collecting pass), `Some(token)` replaces it.
pub type Replace<'a> = dyn FnMut(&str, &Owner) -> Option<String> + 'a;

impl Policy {
    /// Visits every personal value of `record` in a fixed order, replacing each one
    /// `replace` answers for; returns the paths of the fields that now hold tokens.
    pub fn visit(&self, record: &mut NormalizedRecord, replace: &mut Replace<'_>) -> Vec<String> {
        let target = owner_of(record.target_user.as_ref());
        let acting = owner_of(record.acting_user.as_ref());
        let default_owner = if target != Owner::default() { target.clone() } else { acting.clone() };
        let mut paths = Vec::new();
        let policy = &self.0;
        if policy.user_ids {
            if let Some(id) = record.target_user.as_mut().and_then(|user| user.id.as_mut()) {
                whole(id, &target, replace).then(|| paths.push("targetUserId.id".to_owned()));
            }
            if let Some(id) = record.acting_user.as_mut().and_then(|user| user.id.as_mut()) {
                whole(id, &acting, replace).then(|| paths.push("actingUserId.id".to_owned()));
            }
        }
        if policy.host
            && let Some(host) = record.host.as_mut()
        {
            whole(host, &default_owner, replace).then(|| paths.push("host".to_owned()));
        }
        if policy.message
            && let Some(message) = record.message.as_mut()
        {
            scanned(message, find_pii, &default_owner, replace).then(|| paths.push("message".to_owned()));
        }
        for (code, value) in record.action.action_parameters.iter_mut() {
            let changed = if policy.whole_codes.contains(code) {
                whole(value, &default_owner, replace)
            } else if policy.scanned_codes.contains(code) {
                scanned(value, find_in_code, &default_owner, replace)
            } else {
                false
            };
            if changed {
                paths.push(code_path(code));
            }
        }
        paths
    }
}

/// The data subject of a user reference: internal id and external (personal) id.
fn owner_of(user: Option<&UserRef>) -> Owner {
    let Some(user) = user else { return Owner::default() };
    let present = |value: &Option<String>| value.clone().filter(|value| is_personal(value));
    Owner { id: present(&user.immutable_id), ext_id: present(&user.id) }
}

fn is_personal(value: &str) -> bool {
    !value.is_empty() && value != "null"
}

/// Offers a whole field; true if it was replaced.
fn whole(value: &mut String, owner: &Owner, replace: &mut Replace<'_>) -> bool {
    if !is_personal(value) {
        return false;
    }
    match replace(value, owner) {
        Some(token) => {
            *value = token;
            true
        }
        None => false,
    }
}

/// Offers each span `find` reports; true if any was replaced.
fn scanned(
    value: &mut String,
    find: fn(&str) -> Vec<Span>,
    owner: &Owner,
    replace: &mut Replace<'_>,
) -> bool {
    let spans = find(value);
    // Every span is offered, also when collecting, so one pass finds them all.
    let offered: Vec<Option<String>> =
        spans.iter().map(|span| replace(&value[span.range.clone()], owner)).collect();
    let Some(tokens) = offered.into_iter().collect::<Option<Vec<String>>>() else { return false };
    if tokens.is_empty() {
        return false;
    }
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    *value = replace_spans(value, &spans, &tokens);
    true
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
