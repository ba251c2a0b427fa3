//! Every change to a webhook is itself an audit event on the raw topic, shaped like any
//! platform event, recorded before the change is made (fail closed, see
//! [`audit_runtime::trail`]): a change the trail does not hold is never made.
//!
//! The event names the webhook, its target without query or fragment (where tokens of
//! a receiver may hide) and its event types; never its API key or signing secret.

use audit_runtime::config::KafkaConfig;
use audit_runtime::trail::TrailWriter;
use audit_schemas::trail::{TrailEvent, TrailEventError};

use crate::NotifierError;
use crate::store::Webhook;

/// Component id in the events' `id` field.
pub const COMPONENT: &str = "webhook-notifier";

/// Kinds of change, each an actionName of the trail's catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A webhook was registered.
    Create,
    /// Its settings or API key changed.
    Update,
    /// It was deleted.
    Delete,
    /// Its signing secret was replaced.
    RotateSecret,
}

impl ChangeKind {
    /// The event's `actionName`.
    pub fn action_name(self) -> &'static str {
        match self {
            ChangeKind::Create => "createWebhook",
            ChangeKind::Update => "updateWebhook",
            ChangeKind::Delete => "deleteWebhook",
            ChangeKind::RotateSecret => "rotateWebhookSecret",
        }
    }
}

/// A change to record.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// What was done.
    pub kind: ChangeKind,
    /// The webhook as it is after the change (before it, for a deletion).
    pub webhook: &'a Webhook,
    /// Who did it (the bearer token's `sub`).
    pub actor: &'a str,
}

/// Writes webhook changes to the raw topic.
pub struct ChangeLog(TrailWriter);

impl ChangeLog {
    /// A log writing to `topic`.
    pub fn new(kafka: &KafkaConfig, topic: &str) -> Result<ChangeLog, NotifierError> {
        Ok(ChangeLog(TrailWriter::new(kafka, topic)?))
    }

    /// Writes `change` and waits for the broker's acknowledgement.
    pub async fn record(&self, change: Change<'_>) -> Result<(), NotifierError> {
        // The trail names no such tenant, so no change can be made in it: the caller's error.
        let event = event(change)
            .map_err(|error| NotifierError::InvalidField { field: "tenant", detail: error.to_string() })?;
        let payload = event.to_string();
        self.0
            .record(&change.webhook.tenant, payload.as_bytes())
            .await
            .map_err(|error| NotifierError::TrailUnavailable(error.to_string()))
    }
}

/// The raw event of `change`, within the ingestor's bounds (`audit_schemas::trail`).
pub fn event(change: Change<'_>) -> Result<serde_json::Value, TrailEventError> {
    let webhook = change.webhook;
    let event = TrailEvent::new(&webhook.tenant, COMPONENT, change.kind.action_name())?
        .parameter("WID", &webhook.id)
        .parameter("URL", &without_query(&webhook.url))
        .parameter("EVT", &webhook.events.join(","))
        .parameter("ACT", &webhook.active.to_string())
        .actor(change.actor);
    Ok(event.to_json())
}

fn without_query(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_event_names_the_webhook_but_neither_its_query_nor_its_secrets() {
        let webhook = Webhook {
            id: "w1".into(),
            tenant: "t1".into(),
            url: "https://crm.example/hooks?token=s3cret#x".into(),
            events: vec!["createUser".into(), "deleteUser".into()],
            insecure: false,
            active: true,
            description: None,
            created_ms: 0,
        };
        let event = event(Change { kind: ChangeKind::Create, webhook: &webhook, actor: "admin-1" }).unwrap();
        assert_eq!(event["tenantId"], "t1");
        assert_eq!(event["action"]["actionName"], "createWebhook");
        assert_eq!(event["action"]["actionParameters"]["URL"], "https://crm.example/hooks");
        assert_eq!(event["action"]["actionParameters"]["EVT"], "createUser,deleteUser");
        assert_eq!(event["actingUserId"]["id"], "admin-1");
        assert!(!event.to_string().contains("s3cret"));
        for kind in [ChangeKind::Create, ChangeKind::Update, ChangeKind::Delete, ChangeKind::RotateSecret] {
            assert!(audit_schemas::actions::is_known(kind.action_name()));
        }
    }
}
