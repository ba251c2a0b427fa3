//! Registering webhooks: the rules a new webhook must meet, its API key and signing
//! secret made (or taken) and sealed, then stored. Independent of HTTP.

use std::sync::Arc;

use audit_auth::Principal;
use audit_schemas::actions;

use crate::NotifierError;
use crate::changes::{Change, ChangeKind, ChangeLog};
use crate::http::{CreateWebhook, CreatedWebhook, Pinged, UpdateWebhook};
use crate::post::Poster;
use crate::seal::MasterKey;
use crate::signature;
use crate::sink::now_ms;
use crate::store::{SealedSecrets, Store, Webhook};
use crate::target::{Targets, check};

/// Longest description.
const MAX_DESCRIPTION: usize = 500;
/// Most event types on one webhook.
const MAX_EVENTS: usize = 100;

/// Webhook registration.
pub struct Webhooks {
    /// Where webhooks are kept.
    pub store: Store,
    /// Seals keys and secrets.
    pub key: Arc<MasterKey>,
    /// Which target addresses are allowed.
    pub targets: Targets,
    /// Sends pings.
    pub poster: Arc<Poster>,
    /// Records every change in the trail before it is made.
    pub changes: Arc<ChangeLog>,
}

impl Webhooks {
    /// Checks and stores `request` for the caller's tenant; the webhook with its key
    /// and secret.
    pub async fn create(
        &self,
        caller: &Principal,
        request: CreateWebhook,
    ) -> Result<CreatedWebhook, NotifierError> {
        self.check(Settings { url: &request.url, insecure: request.insecure, events: &request.events })
            .await?;
        check_description(request.description.as_deref())?;
        let api_key = match request.api_key {
            Some(key) => check_api_key(key)?,
            None => signature::new_api_key(),
        };
        let secret = signature::new_secret();
        let webhook = Webhook {
            id: uuid::Uuid::new_v4().to_string(),
            tenant: caller.tenant.clone(),
            url: request.url,
            events: request.events,
            insecure: request.insecure,
            active: request.active,
            description: request.description,
            created_ms: now_ms(),
        };
        let sealed = SealedSecrets {
            api_key: self.key.seal(&webhook.id, &api_key),
            secret: self.key.seal(&webhook.id, &secret),
        };
        self.record(ChangeKind::Create, &webhook, caller).await?;
        self.store.insert_webhook(&webhook, &sealed).await?;
        Ok(CreatedWebhook { webhook: webhook.into(), api_key, secret })
    }
}

impl Webhooks {
    /// Applies `changes` to the caller's webhook `id`; the webhook as it now is.
    pub async fn update(
        &self,
        caller: &Principal,
        id: &str,
        changes: UpdateWebhook,
    ) -> Result<Webhook, NotifierError> {
        let mut webhook = self.find(caller, id).await?;
        webhook.url = changes.url.unwrap_or(webhook.url);
        webhook.events = changes.events.unwrap_or(webhook.events);
        webhook.insecure = changes.insecure.unwrap_or(webhook.insecure);
        webhook.active = changes.active.unwrap_or(webhook.active);
        check_description(changes.description.as_deref())?;
        webhook.description = changes.description.or(webhook.description);
        self.check(Settings { url: &webhook.url, insecure: webhook.insecure, events: &webhook.events })
            .await?;
        let api_key = changes.api_key.map(check_api_key).transpose()?;
        let sealed = api_key.map(|key| self.key.seal(&webhook.id, &key));
        self.record(ChangeKind::Update, &webhook, caller).await?;
        self.store.update_webhook(&webhook, sealed, None).await?;
        Ok(webhook)
    }

    /// A new signing secret for the caller's webhook `id`, shown this once.
    pub async fn rotate_secret(&self, caller: &Principal, id: &str) -> Result<String, NotifierError> {
        let webhook = self.find(caller, id).await?;
        let secret = signature::new_secret();
        self.record(ChangeKind::RotateSecret, &webhook, caller).await?;
        self.store.update_webhook(&webhook, None, Some(self.key.seal(&webhook.id, &secret))).await?;
        Ok(secret)
    }

    /// Deletes the caller's webhook `id` and its deliveries.
    pub async fn delete(&self, caller: &Principal, id: &str) -> Result<(), NotifierError> {
        let webhook = self.find(caller, id).await?;
        self.record(ChangeKind::Delete, &webhook, caller).await?;
        if !self.store.delete_webhook(&caller.tenant, id).await? {
            return Err(NotifierError::NotFound("webhook"));
        }
        Ok(())
    }

    async fn find(&self, caller: &Principal, id: &str) -> Result<Webhook, NotifierError> {
        self.store.webhook(&caller.tenant, id).await?.ok_or(NotifierError::NotFound("webhook"))
    }

    async fn record(
        &self,
        kind: ChangeKind,
        webhook: &Webhook,
        caller: &Principal,
    ) -> Result<(), NotifierError> {
        self.changes.record(Change { kind, webhook, actor: &caller.subject }).await
    }

    /// Sends `{"type": "ping", "id", "tenantId", "created"}` to `tenant`'s webhook `id`
    /// now, signed like any notification; what the target answered.
    pub async fn ping(&self, caller: &Principal, id: &str) -> Result<Pinged, NotifierError> {
        let webhook = self.find(caller, id).await?;
        let tenant = &caller.tenant;
        let message = uuid::Uuid::new_v4().to_string();
        let body =
            serde_json::json!({"type": "ping", "id": message, "tenantId": tenant, "created": now_ms()});
        let body = serde_json::to_vec(&body).expect("json serializes");
        Ok(match self.poster.post(&webhook.id, &message, body).await {
            Ok(status) => {
                Pinged { delivered: (200..300).contains(&status), status: Some(status), error: None }
            }
            Err(error) => Pinged { delivered: false, status: None, error: Some(error) },
        })
    }

    async fn check(&self, settings: Settings<'_>) -> Result<(), NotifierError> {
        check(settings.url, settings.insecure, self.targets)
            .await
            .map_err(|error| NotifierError::InvalidField { field: "url", detail: error.to_string() })?;
        check_events(settings.events)
    }
}

/// What the rules of a webhook look at.
struct Settings<'a> {
    url: &'a str,
    insecure: bool,
    events: &'a [String],
}

fn check_description(description: Option<&str>) -> Result<(), NotifierError> {
    if description.is_some_and(|text| text.chars().count() > MAX_DESCRIPTION) {
        return Err(NotifierError::InvalidField {
            field: "description",
            detail: "at most 500 characters".into(),
        });
    }
    Ok(())
}

fn check_api_key(key: String) -> Result<String, NotifierError> {
    if (16..=256).contains(&key.len()) && key.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Ok(key);
    }
    Err(NotifierError::InvalidField {
        field: "apiKey",
        detail: "16 to 256 printable ascii characters".into(),
    })
}

/// `events` is `["*"]` or event types of the catalogue, at least one.
fn check_events(events: &[String]) -> Result<(), NotifierError> {
    let invalid = |detail: String| NotifierError::InvalidField { field: "events", detail };
    if events.is_empty() || events.len() > MAX_EVENTS {
        return Err(invalid("expected 1 to 100 event types, or [\"*\"]".into()));
    }
    if events.len() > 1 && events.iter().any(|event| event == "*") {
        return Err(invalid("\"*\" stands alone".into()));
    }
    match events.iter().position(|event| event != "*" && !actions::is_known(event)) {
        Some(position) => Err(invalid(format!("event type at position {position} is not in the catalogue"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_from_the_catalogue_or_are_all() {
        let events = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        assert!(check_events(&events(&["*"])).is_ok());
        assert!(check_events(&events(&["createUser", "deleteUser"])).is_ok());
        for bad in [&[][..], &["*", "createUser"][..], &["createUser", "nope"][..]] {
            assert!(matches!(
                check_events(&events(bad)),
                Err(NotifierError::InvalidField { field: "events", .. })
            ));
        }
    }
}
