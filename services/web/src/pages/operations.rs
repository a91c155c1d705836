//! The operations team's page (operations, partnership_admin): each service's health as its
//! own gRPC health service reports it, the partnership's email deliveries with a retry for a
//! failed one, and the links to the dashboards.

use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use cspr_platform::access::rules::NOTIFICATIONS;
use cspr_proto::notifications::v1 as notifications;
use minijinja::context;
use serde::Serialize;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

use super::{PageError, Posted, Shared, SignedIn, authed, render, see_other};
use crate::AppState;
use crate::forms::{field, form_fields};
use crate::views;

pub(crate) fn routes() -> axum::Router<std::sync::Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/operations", get(index))
        .route("/operations/deliveries/{id}/retry", post(retry))
}

pub(crate) const TEMPLATES: &[(&str, &str)] = templates!["operations/index.html",];

/// Deliveries on one page.
const PAGE_SIZE: i32 = 25;

/// How long the page waits for one service's health before calling it not answering.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize)]
struct Health {
    service: &'static str,
    status: &'static str,
    tag: &'static str,
}

/// Every service's health, asked at once.
async fn health(state: &AppState) -> Vec<Health> {
    let checks = state.services.health.iter().map(|(service, client)| {
        let mut client = client.clone();
        async move {
            let answer = tokio::time::timeout(
                HEALTH_TIMEOUT,
                client.check(HealthCheckRequest {
                    service: String::new(),
                }),
            )
            .await;
            let (status, tag) = match answer {
                Ok(Ok(response)) => match response.into_inner().status() {
                    ServingStatus::Serving => ("Serving", "govuk-tag--green"),
                    ServingStatus::NotServing => ("Not serving", "govuk-tag--red"),
                    _ => ("Unknown", "govuk-tag--grey"),
                },
                Ok(Err(_)) | Err(_) => ("Not answering", "govuk-tag--red"),
            };
            Health {
                service,
                status,
                tag,
            }
        }
    });
    futures::future::join_all(checks).await
}

#[derive(Debug, Serialize)]
struct DeliveryView {
    id: String,
    review_reference: String,
    template: String,
    recipient: String,
    subject: String,
    status: String,
    tag: &'static str,
    attempts: i32,
    last_error: String,
    created: Option<String>,
    sent: Option<String>,
    failed: bool,
}

impl From<&notifications::Delivery> for DeliveryView {
    fn from(delivery: &notifications::Delivery) -> Self {
        let status = delivery.status();
        let tag = match status {
            notifications::DeliveryStatus::Sent => "govuk-tag--green",
            notifications::DeliveryStatus::Retrying => "govuk-tag--yellow",
            notifications::DeliveryStatus::Failed => "govuk-tag--red",
            _ => "govuk-tag--grey",
        };
        Self {
            id: delivery.id.clone(),
            review_reference: delivery.review_reference.clone(),
            template: views::words(&delivery.template, ""),
            recipient: delivery.recipient.clone(),
            subject: delivery.subject.clone(),
            status: views::words(status.as_str_name(), "DELIVERY_STATUS_"),
            tag,
            attempts: delivery.attempts,
            last_error: delivery.last_error.clone(),
            created: views::time(delivery.create_time.as_ref()),
            sent: views::time(delivery.sent_time.as_ref()),
            failed: status == notifications::DeliveryStatus::Failed,
        }
    }
}

/// GET /operations: health, deliveries (by status, paged), dashboards.
pub(crate) async fn index(
    State(state): Shared,
    signed: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = async {
        signed.may(NOTIFICATIONS, "ListDeliveries")?;
        let query = form_fields(query.as_deref().unwrap_or_default().as_bytes());
        let status = notifications::DeliveryStatus::from_str_name(field(&query, "status"))
            .filter(|status| *status != notifications::DeliveryStatus::Unspecified);
        let page_token = field(&query, "page_token");
        let (health, deliveries) = tokio::join!(health(&state), async {
            let mut client = state.services.notifications.clone();
            client
                .list_deliveries(authed(
                    notifications::ListDeliveriesRequest {
                        status: status.map(|status| status as i32).unwrap_or_default(),
                        page_size: PAGE_SIZE,
                        page_token: page_token.to_string(),
                        ..Default::default()
                    },
                    &signed.user,
                )?)
                .await
                .map_err(PageError::from)
        });
        let deliveries = deliveries?.into_inner();
        let status_value = status.map(|status| status.as_str_name()).unwrap_or_default();
        let link = |token: &str| {
            let mut url = form_urlencoded::Serializer::new(String::new());
            if !status_value.is_empty() {
                url.append_pair("status", status_value);
            }
            if !token.is_empty() {
                url.append_pair("page_token", token);
            }
            format!("/operations?{}", url.finish())
        };
        let statuses: Vec<_> = (1..)
            .map_while(|value| notifications::DeliveryStatus::try_from(value).ok())
            .map(|status| {
                context! {
                    value => status.as_str_name(),
                    label => views::words(status.as_str_name(), "DELIVERY_STATUS_"),
                }
            })
            .collect();
        let rows: Vec<DeliveryView> = deliveries.deliveries.iter().map(DeliveryView::from).collect();
        render(
            &state,
            "operations/index.html",
            &signed.session,
            context! {
                health,
                deliveries => rows,
                statuses,
                status => status_value,
                next_page => (!deliveries.next_page_token.is_empty()).then(|| link(&deliveries.next_page_token)),
                first_page => (!page_token.is_empty()).then(|| link("")),
                dashboards_url => state.config.dashboards_url,
                may_retry => signed.user.may(NOTIFICATIONS, "RetryDelivery"),
                retried => field(&query, "retried") == "1",
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /operations/deliveries/{id}/retry: a failed delivery back in the queue.
pub(crate) async fn retry(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut client = state.services.notifications.clone();
        client
            .retry_delivery(authed(
                notifications::RetryDeliveryRequest { delivery_id: id },
                &posted.user,
            )?)
            .await?;
        Ok(see_other("/operations?retried=1"))
    }
    .await;
    posted.finish(&state, outcome)
}
