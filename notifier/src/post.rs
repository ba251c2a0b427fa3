//! One notification sent to a webhook's target, what a delivery attempt and a ping
//! share: the webhook and its sealed secrets read, the body signed as Standard Webhooks
//! require, POSTed with the webhook's API key through the one HTTP client of
//! deliveries (rustls, no redirects, names resolved to public addresses only unless
//! private targets are allowed).

use std::sync::Arc;
use std::time::Duration;

use crate::NotifierError;
use crate::config::DeliveryConfig;
use crate::seal::MasterKey;
use crate::signature;
use crate::sink::now_ms;
use crate::store::Store;
use crate::target::{PrivateTarget, PublicResolver, Targets};

/// Sends one notification to a webhook's target: what a delivery attempt and a ping
/// share.
pub struct Poster {
    /// Webhooks and their sealed secrets.
    pub store: Store,
    /// Opens API keys and secrets.
    pub key: Arc<MasterKey>,
    /// The HTTP client (rustls, no redirects).
    pub client: reqwest::Client,
}

impl Poster {
    /// POSTs `body` as message `id` to webhook `webhook`'s target, signed; the
    /// answer's status code, or why there was none.
    pub async fn post(&self, webhook: &str, id: &str, body: Vec<u8>) -> Result<u16, String> {
        let (webhook, sealed) = match self.store.target(webhook).await {
            Ok(Some(target)) => target,
            Ok(None) => return Err(DELETED.into()),
            Err(error) => return Err(format!("store: {error}")),
        };
        if !webhook.active {
            return Err(INACTIVE.into());
        }
        let api_key = self.key.open(&webhook.id, &sealed.api_key).map_err(|error| error.to_string())?;
        let secret = self.key.open(&webhook.id, &sealed.secret).map_err(|error| error.to_string())?;
        let timestamp = now_ms() / 1000;
        let signature = signature::sign(&secret, id, timestamp, &body)
            .ok_or_else(|| "signing secret unusable".to_owned())?;
        let request = self
            .client
            .post(&webhook.url)
            .header("content-type", "application/json")
            .header("x-api-key", api_key.as_str())
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(error) if error.is_timeout() => Err("timeout".into()),
            Err(error) if resolved_private(&error) => Err(PrivateTarget.to_string()),
            Err(error) if error.is_connect() => Err("connection failed".into()),
            Err(_) => Err("request failed".into()),
        }
    }
}

/// Whether `error` comes from [`PublicResolver`] refusing the target's addresses.
fn resolved_private(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.is::<PrivateTarget>() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// Why a delivery could not be made: its webhook is gone or off.
pub const DELETED: &str = "webhook deleted";
pub const INACTIVE: &str = "webhook inactive";

/// The HTTP client of deliveries: rustls with the system's roots and the CA file if
/// any, never following redirects (a target cannot send a notification elsewhere),
/// and under [`Targets::PublicOnly`] resolving names to public addresses only.
pub fn client(config: &DeliveryConfig, targets: Targets) -> Result<reqwest::Client, NotifierError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(5)));
    if targets == Targets::PublicOnly {
        builder = builder.dns_resolver(Arc::new(PublicResolver));
    }
    if let Some(path) = &config.ca_file {
        let pem =
            std::fs::read(path).map_err(|source| NotifierError::KeyFile { path: path.clone(), source })?;
        let certificate =
            reqwest::Certificate::from_pem(&pem).map_err(|error| NotifierError::Client(error.to_string()))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().map_err(|error| NotifierError::Client(error.to_string()))
}
