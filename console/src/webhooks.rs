//! Webhooks, through the notifier's API: the tenant's list, registration (the API key
//! and signing secret shown this once), a webhook's page (edit, activate or
//! deactivate, ping, delete) with its delivery log, and the retry of a dead letter.
//! Every change is made by the notifier, which records it in the trail first.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{ApiError, encode};
use crate::page::{Section, error, page, respond, text};
use crate::session::{Posted, Session, SignedIn};
use crate::{Console, signed_out_response};

/// The registration and edit form.
#[derive(Debug, Default, Deserialize)]
pub struct WebhookForm {
    #[serde(default)]
    url: String,
    /// Event types, separated by commas or spaces; `*` for all.
    #[serde(default)]
    events: String,
    #[serde(default)]
    description: String,
    /// `on` when checked.
    #[serde(default)]
    insecure: String,
    /// `on` when checked.
    #[serde(default)]
    active: String,
}

impl WebhookForm {
    fn body(&self) -> Value {
        let events: Vec<&str> =
            self.events.split([',', ' ', '\n']).map(str::trim).filter(|name| !name.is_empty()).collect();
        let description = (!self.description.trim().is_empty()).then(|| self.description.trim());
        json!({
            "url": self.url.trim(),
            "events": events,
            "description": description,
            "insecure": self.insecure == "on",
            "active": self.active == "on",
        })
    }
}

/// What a page of a webhook says above its content.
enum Notice {
    None,
    Said(String),
    Problem(String),
}

/// `GET /console/webhooks`.
pub async fn list(State(console): State<Console>, SignedIn(session): SignedIn) -> Response {
    list_page(&console, &session, None, Notice::None).await
}

/// `POST /console/webhooks`: registers; shows the key and secret once.
pub async fn create(
    State(console): State<Console>,
    Posted(session): Posted,
    Form(form): Form<WebhookForm>,
) -> Response {
    match console.apis.webhooks(&session, (Method::POST, ""), Some(form.body())).await {
        Ok(created) => {
            let body = html! {
                h1 { "Webhook registered" }
                p.notice role="status" { "Copy the API key and the signing secret now: they are shown this once." }
                dl.record {
                    dt { "Id" } dd { (text(&created["id"])) }
                    dt { "Target" } dd { (text(&created["url"])) }
                    dt { "API key (sent as X-API-Key)" } dd { code { (text(&created["apiKey"])) } }
                    dt { "Signing secret (Standard Webhooks)" } dd { code { (text(&created["secret"])) } }
                }
                p { a href={ "/console/webhooks/" (encode(&text(&created["id"]))) } { "Open the webhook" } " · " a href="/console/webhooks" { "All webhooks" } }
            };
            respond(StatusCode::CREATED, page("Webhook registered", Section::Webhooks, Some(&session), body))
        }
        Err(ApiError::SignedOut(reason)) => signed_out_response(&reason),
        Err(problem) => {
            list_page(&console, &session, Some(&form), Notice::Problem(problem.to_string())).await
        }
    }
}

async fn list_page(
    console: &Console,
    session: &Session,
    form: Option<&WebhookForm>,
    notice: Notice,
) -> Response {
    let answer = match console.apis.webhooks(session, (Method::GET, ""), None).await {
        Err(ApiError::SignedOut(reason)) => return signed_out_response(&reason),
        answer => answer,
    };
    let status = if matches!(notice, Notice::Problem(_)) { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let empty = WebhookForm { active: "on".into(), ..WebhookForm::default() };
    let body = html! {
        h1 { "Webhooks" }
        (said(&notice))
        @match &answer {
            Err(problem) => (error(&problem.to_string())),
            Ok(list) => (table(list)),
        }
        h2 { "Register a webhook" }
        (webhook_form("/console/webhooks", form.unwrap_or(&empty), "Register"))
    };
    respond(status, page("Webhooks", Section::Webhooks, Some(session), body))
}

fn table(list: &Value) -> Markup {
    let webhooks = list["webhooks"].as_array().cloned().unwrap_or_default();
    html! {
        @if webhooks.is_empty() { p.muted { "No webhook yet." } }
        @else {
            table {
                thead { tr { th scope="col" { "Target" } th scope="col" { "Event types" } th scope="col" { "State" } th scope="col" { "Description" } } }
                tbody {
                    @for webhook in &webhooks {
                        tr {
                            td { a href={ "/console/webhooks/" (encode(&text(&webhook["id"]))) } { (text(&webhook["url"])) } }
                            td { (events(webhook)) }
                            td { @if webhook["active"] == true { "active" } @else { "inactive" } }
                            td { (text(&webhook["description"])) }
                        }
                    }
                }
            }
        }
    }
}

fn webhook_form(action: &str, form: &WebhookForm, button: &str) -> Markup {
    html! {
        form.filters method="post" action=(action) aria-label=(button) {
            label { "Target URL" input type="url" name="url" value=(form.url) required; }
            label { "Event types (comma-separated, * for all)" input type="text" name="events" value=(form.events) required placeholder="createUser, deleteUser"; }
            label { "Description" input type="text" name="description" value=(form.description); }
            label { "Allow http:// (insecure)" input type="checkbox" name="insecure" checked[form.insecure == "on"]; }
            label { "Active" input type="checkbox" name="active" checked[form.active == "on"]; }
            div.actions { button type="submit" { (button) } }
        }
    }
}

/// The delivery log's filter.
#[derive(Debug, Default, Deserialize)]
pub struct DeliveryFilter {
    #[serde(default)]
    status: String,
}

/// `GET /console/webhooks/{id}`.
pub async fn show(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(filter): Query<DeliveryFilter>,
) -> Response {
    webhook_page(&console, &session, (&id, &filter.status), Notice::None).await
}

/// `POST /console/webhooks/{id}`: saves the form.
pub async fn update(
    State(console): State<Console>,
    Posted(session): Posted,
    Path(id): Path<String>,
    Form(form): Form<WebhookForm>,
) -> Response {
    let answer = console.apis.webhooks(&session, (Method::PATCH, &encode(&id)), Some(form.body())).await;
    let notice = match answer {
        Ok(_) => Notice::Said("Saved.".into()),
        Err(ApiError::SignedOut(reason)) => return signed_out_response(&reason),
        Err(problem) => Notice::Problem(problem.to_string()),
    };
    webhook_page(&console, &session, (&id, ""), notice).await
}

/// `POST /console/webhooks/{id}/ping`: a signed test notification, and what the target said.
pub async fn ping(
    State(console): State<Console>,
    Posted(session): Posted,
    Path(id): Path<String>,
) -> Response {
    let path = format!("{}/ping", encode(&id));
    let notice = match console.apis.webhooks(&session, (Method::POST, &path), None).await {
        Ok(pinged) if pinged["delivered"] == true => {
            Notice::Said(format!("Ping delivered: the target answered {}.", pinged["status"]))
        }
        Ok(pinged) => Notice::Problem(format!(
            "Ping not delivered: {}",
            pinged["error"]
                .as_str()
                .map_or_else(|| format!("the target answered {}", pinged["status"]), str::to_owned)
        )),
        Err(ApiError::SignedOut(reason)) => return signed_out_response(&reason),
        Err(problem) => Notice::Problem(problem.to_string()),
    };
    webhook_page(&console, &session, (&id, ""), notice).await
}

/// `POST /console/webhooks/{id}/delete`.
pub async fn delete(
    State(console): State<Console>,
    Posted(session): Posted,
    Path(id): Path<String>,
) -> Response {
    match console.apis.webhooks(&session, (Method::DELETE, &encode(&id)), None).await {
        Ok(_) => Redirect::to("/console/webhooks").into_response(),
        Err(ApiError::SignedOut(reason)) => signed_out_response(&reason),
        Err(problem) => {
            webhook_page(&console, &session, (&id, ""), Notice::Problem(problem.to_string())).await
        }
    }
}

/// `POST /console/webhooks/{id}/deliveries/{delivery}/retry`.
pub async fn retry(
    State(console): State<Console>,
    Posted(session): Posted,
    Path((id, delivery)): Path<(String, String)>,
) -> Response {
    let path = format!("{}/deliveries/{}/retry", encode(&id), encode(&delivery));
    let notice = match console.apis.webhooks(&session, (Method::POST, &path), None).await {
        Ok(_) => Notice::Said("The delivery is queued again.".into()),
        Err(ApiError::SignedOut(reason)) => return signed_out_response(&reason),
        Err(problem) => Notice::Problem(problem.to_string()),
    };
    webhook_page(&console, &session, (&id, ""), notice).await
}

async fn webhook_page(
    console: &Console,
    session: &Session,
    (id, status): (&str, &str),
    notice: Notice,
) -> Response {
    let query = if status.is_empty() { String::new() } else { format!("?status={}", encode(status)) };
    let (webhook_path, log) = (encode(id), format!("{}/deliveries{query}", encode(id)));
    // The webhook and its log are asked at once: one round trip of waiting, not two.
    let (webhook, deliveries) = futures::join!(
        console.apis.webhooks(session, (Method::GET, &webhook_path), None),
        console.apis.webhooks(session, (Method::GET, &log), None),
    );
    let (webhook, deliveries) = match (webhook, deliveries) {
        (Err(ApiError::SignedOut(reason)), _) | (_, Err(ApiError::SignedOut(reason))) => {
            return signed_out_response(&reason);
        }
        pair => pair,
    };
    let code = match (&webhook, &notice) {
        (Err(problem), _) => problem.status(),
        (Ok(_), Notice::Problem(_)) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let body = html! {
        p { a href="/console/webhooks" { "← Webhooks" } }
        (said(&notice))
        @match &webhook {
            Err(problem) => { h1 { "Webhook" } (error(&problem.to_string())) }
            Ok(webhook) => {
                h1 { "Webhook " (text(&webhook["url"])) }
                (webhook_form(&format!("/console/webhooks/{}", encode(id)), &form_of(webhook), "Save"))
                div.actions {
                    form method="post" action={ "/console/webhooks/" (encode(id)) "/ping" } { button.secondary type="submit" { "Send a ping" } }
                    form method="post" action={ "/console/webhooks/" (encode(id)) "/delete" } { button.secondary type="submit" { "Delete" } }
                }
                h2 { "Deliveries" }
                (delivery_log(id, status, &deliveries))
            }
        }
    };
    respond(code, page("Webhook", Section::Webhooks, Some(session), body))
}

fn delivery_log(id: &str, status: &str, deliveries: &Result<Value, ApiError>) -> Markup {
    html! {
        form.actions method="get" action={ "/console/webhooks/" (encode(id)) } aria-label="Filter deliveries" {
            label { "Status"
                select name="status" {
                    option value="" { "Any" }
                    @for choice in ["pending", "delivered", "dead"] { option value=(choice) selected[choice == status] { (choice) } }
                }
            }
            button.secondary type="submit" { "Show" }
        }
        @match deliveries {
            Err(problem) => (error(&problem.to_string())),
            Ok(list) => {
                table {
                    thead { tr { th scope="col" { "Record" } th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "Last answer" } th scope="col" { "Action" } } }
                    tbody {
                        @for delivery in list["deliveries"].as_array().cloned().unwrap_or_default() {
                            tr {
                                td { (text(&delivery["recordId"])) }
                                td { (text(&delivery["status"])) }
                                td { (text(&delivery["attempts"])) }
                                td { (text(&delivery["lastStatus"])) " " (text(&delivery["lastError"])) }
                                td {
                                    @if delivery["status"] == "dead" {
                                        form method="post" action={ "/console/webhooks/" (encode(id)) "/deliveries/" (encode(&text(&delivery["id"]))) "/retry" } {
                                            button.secondary type="submit" { "Retry" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn form_of(webhook: &Value) -> WebhookForm {
    let on = |value: &Value| if value == true { "on".to_owned() } else { String::new() };
    WebhookForm {
        url: text(&webhook["url"]),
        events: events(webhook),
        description: text(&webhook["description"]),
        insecure: on(&webhook["insecure"]),
        active: on(&webhook["active"]),
    }
}

fn events(webhook: &Value) -> String {
    let names = webhook["events"].as_array().cloned().unwrap_or_default();
    names.iter().map(text).collect::<Vec<_>>().join(", ")
}

fn said(notice: &Notice) -> Markup {
    match notice {
        Notice::None => html! {},
        Notice::Said(message) => html! { p.notice role="status" { (message) } },
        Notice::Problem(problem) => error(problem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_the_notifiers_body() {
        let form = WebhookForm {
            url: " https://crm.example/hook ".into(),
            events: "createUser, deleteUser\nupdateUser".into(),
            active: "on".into(),
            ..WebhookForm::default()
        };
        assert_eq!(
            form.body(),
            json!({"url": "https://crm.example/hook", "events": ["createUser", "deleteUser", "updateUser"], "description": null, "insecure": false, "active": true})
        );
    }
}
