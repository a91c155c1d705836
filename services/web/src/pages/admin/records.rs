//! What a review's records say: the agency report requests (from the submissions service,
//! which asks each agency in the terms of reference), and the audit trail of every command
//! and read on the review (every service's, joined, paged).

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use chrono::NaiveDate;
use cspr_platform::access::rules::{REGISTRY, SUBMISSIONS};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::submissions::v1 as submissions;
use minijinja::context;
use serde::Serialize;

use crate::AppState;
use crate::forms::{field, form_fields};
use crate::pages::{PageError, Shared, SignedIn, authed, render, review_of};
use crate::timeline;
use crate::views::{self, ReviewView};

pub(crate) fn routes() -> axum::Router<std::sync::Arc<AppState>> {
    use axum::routing::get;
    axum::Router::new()
        .route("/reviews/{id}/reports", get(reports))
        .route("/reviews/{id}/audit", get(audit))
        .route("/reports/rapid-reviews", get(rapid_reviews))
}

pub(crate) const TEMPLATES: &[(&str, &str)] = templates![
    "admin/reports.html",
    "admin/audit.html",
    "admin/rapid_reviews.html",
];

/// Audit records on one page.
pub(crate) const AUDIT_PAGE_SIZE: i32 = 50;
/// A report request due within this many days is "due" (before it, "outstanding").
pub(crate) const DUE_SOON_DAYS: i64 = 14;
/// Report requests read for one review at most (pages of 200).
const MAX_REPORT_PAGES: usize = 10;

/// A report request's status as the panel follows it, and its tag colour.
pub(crate) fn report_status(
    status: submissions::ReportStatus,
    due: Option<NaiveDate>,
    today: NaiveDate,
) -> (&'static str, &'static str) {
    use submissions::ReportStatus as S;
    match status {
        S::Accepted => ("Accepted", "govuk-tag--green"),
        S::Waived => ("Waived", "govuk-tag--grey"),
        S::Returned => ("Returned", "govuk-tag--orange"),
        S::Submitted => ("Submitted", "govuk-tag--light-blue"),
        S::Requested | S::Unspecified => match due {
            Some(due) if due < today => ("Overdue", "govuk-tag--red"),
            Some(due) if (due - today).num_days() <= DUE_SOON_DAYS => ("Due", "govuk-tag--yellow"),
            _ => ("Outstanding", "govuk-tag--blue"),
        },
    }
}

#[derive(Debug, Serialize)]
struct ReportRow {
    agency: String,
    agency_id: String,
    contact: String,
    due_on: Option<String>,
    status: &'static str,
    tag: &'static str,
    version: i32,
    note: String,
}

/// GET /reviews/{id}/reports: the agency report requests of the review, with their status.
async fn reports(State(state): Shared, Path(id): Path<String>, signed: SignedIn) -> Response {
    let outcome = async {
        signed.may(SUBMISSIONS, "ListReportRequests")?;
        let review = review_of(&state, &signed.user, &id).await?;
        let mut requests = Vec::new();
        let mut page_token = String::new();
        for _ in 0..MAX_REPORT_PAGES {
            let page = state
                .services
                .submissions
                .clone()
                .list_report_requests(authed(
                    submissions::ListReportRequestsRequest {
                        review_id: id.clone(),
                        page_size: 200,
                        page_token,
                        ..Default::default()
                    },
                    &signed.user,
                )?)
                .await?
                .into_inner();
            requests.extend(page.report_requests);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        let today = timeline::today();
        let rows: Vec<ReportRow> = requests
            .iter()
            .map(|request| {
                let (status, tag) = report_status(
                    request.status(),
                    timeline::day(request.due_date.as_ref()),
                    today,
                );
                ReportRow {
                    agency: request.agency_name.clone(),
                    agency_id: request.agency_id.clone(),
                    contact: request.contact_email.clone(),
                    due_on: views::date(request.due_date.as_ref()),
                    status,
                    tag,
                    version: request.latest_version,
                    note: request.decision_note.clone(),
                }
            })
            .collect();
        let in_scope = review
            .terms_of_reference
            .as_ref()
            .map_or(0, |terms| terms.agencies_in_scope.len());
        render(
            &state,
            "admin/reports.html",
            &signed.session,
            context! {
                review => ReviewView::from(&review),
                review_id => review.id,
                rows,
                in_scope,
                waiting => in_scope > requests.len(),
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

#[derive(Debug, Serialize)]
struct AuditRow {
    time: Option<String>,
    /// Which service's trail it is from ("registry", "family", …).
    service: &'static str,
    actor: String,
    roles: String,
    action: String,
    outcome: String,
    ok: bool,
}

/// The services whose trails make a review's, in the order a tie in time is shown.
const TRAILS: [&str; 5] = [
    "registry",
    "submissions",
    "practitioners",
    "family",
    "actions",
];

/// One page of `service`'s trail of the review (`page_token` empty: the first).
async fn trail_page(
    state: &AppState,
    user: &crate::session::User,
    service: &str,
    request: registry::ListAuditRecordsRequest,
) -> Result<registry::ListAuditRecordsResponse, PageError> {
    let services = &state.services;
    let request = authed(request, user)?;
    let page = match service {
        "registry" => services.registry.clone().list_audit_records(request).await,
        "submissions" => {
            services
                .submissions
                .clone()
                .list_audit_records(request)
                .await
        }
        "practitioners" => {
            services
                .practitioners
                .clone()
                .list_audit_records(request)
                .await
        }
        "family" => services.family.clone().list_audit_records(request).await,
        _ => services.actions.clone().list_audit_records(request).await,
    }?;
    Ok(page.into_inner())
}

/// GET /reviews/{id}/audit: the review's whole audit trail, every service's (the registry,
/// submissions, practitioners, family, actions), a page at a time: each page holds the next
/// records of every service that has more, oldest first. The query carries each service's
/// next page token (`<service>=…`); a page after the first names only the services that
/// had more.
async fn audit(
    State(state): Shared,
    Path(id): Path<String>,
    signed: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = async {
        signed.may(REGISTRY, "ListAuditRecords")?;
        let query = form_fields(query.as_deref().unwrap_or("").as_bytes());
        let first = query.is_empty();
        let review = review_of(&state, &signed.user, &id).await?;
        let mut rows: Vec<(prost_types::Timestamp, usize, AuditRow)> = Vec::new();
        // Each service's next page token (the serializer is not Send: built at the end).
        let mut next: Vec<(&str, String)> = Vec::new();
        let mut unreadable = Vec::new();
        for (order, service) in TRAILS.iter().enumerate() {
            let token = field(&query, service).to_string();
            if !first && token.is_empty() {
                continue;
            }
            let page = trail_page(
                &state,
                &signed.user,
                service,
                registry::ListAuditRecordsRequest {
                    review_id: id.clone(),
                    page_size: AUDIT_PAGE_SIZE,
                    page_token: token,
                },
            )
            .await;
            let page = match page {
                Ok(page) => page,
                // One service out of reach: the others' trails still show, saying so.
                Err(PageError::Unavailable) => {
                    unreadable.push(*service);
                    continue;
                }
                Err(other) => return Err(other),
            };
            for record in page.records {
                rows.push((
                    record.time.unwrap_or_default(),
                    order,
                    AuditRow {
                        time: views::time(record.time.as_ref()),
                        service,
                        actor: record.actor.clone(),
                        roles: record.actor_roles.join(", "),
                        action: record.action.clone(),
                        ok: record.outcome == "ok",
                        outcome: record.outcome,
                    },
                ));
            }
            if !page.next_page_token.is_empty() {
                next.push((service, page.next_page_token));
            }
        }
        rows.sort_by_key(|(time, order, _)| (time.seconds, time.nanos, *order));
        let rows: Vec<AuditRow> = rows.into_iter().map(|(_, _, row)| row).collect();
        let next_page = (!next.is_empty()).then(|| {
            let mut url = form_urlencoded::Serializer::new(String::new());
            url.extend_pairs(next);
            format!("/reviews/{id}/audit?{}", url.finish())
        });
        let first_page = (!first).then(|| format!("/reviews/{id}/audit"));
        render(
            &state,
            "admin/audit.html",
            &signed.session,
            context! {
                review => ReviewView::from(&review),
                review_id => review.id,
                rows,
                unreadable,
                next_page,
                first_page,
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// GET /reports/rapid-reviews?year=YYYY: how the partnership's rapid reviews went, for the
/// reviews notified to the national Panel in a calendar year (this year unless asked).
async fn rapid_reviews(
    State(state): Shared,
    signed: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = async {
        signed.may(REGISTRY, "SummarizeRapidReviews")?;
        let query = form_fields(query.as_deref().unwrap_or("").as_bytes());
        let this_year = chrono::Datelike::year(&timeline::today());
        let year = match field(&query, "year").trim() {
            "" => this_year,
            raw => raw
                .parse::<i32>()
                .ok()
                .filter(|year| (2000..=this_year + 1).contains(year))
                .ok_or(PageError::NotFound)?,
        };
        let day = |month, day| Date { year, month, day };
        let summary = state
            .services
            .registry
            .clone()
            .summarize_rapid_reviews(authed(
                registry::SummarizeRapidReviewsRequest {
                    from: Some(day(1, 1)),
                    to: Some(day(12, 31)),
                },
                &signed.user,
            )?)
            .await?
            .into_inner();
        let rows = [
            ("Notified to the national Panel", summary.notified),
            ("Rapid review recorded", summary.rapid_reviews_recorded),
            ("Became local reviews", summary.became_local_reviews),
            ("Decided not to hold a local review", summary.not_proceeding),
            ("Awaiting the decision", summary.awaiting_decision),
            ("Sent to the national Panel", summary.sent_to_panel),
            ("The Panel agreed", summary.panel_agrees),
            ("The Panel asked for more", summary.panel_asks_for_more),
            ("The Panel will hold a national review", summary.panel_national_review),
            ("Awaiting the Panel's response", summary.awaiting_panel_response),
        ]
        .into_iter()
        .map(|(label, count)| context! { label, count })
        .collect::<Vec<_>>();
        render(
            &state,
            "admin/rapid_reviews.html",
            &signed.session,
            context! {
                year,
                rows,
                previous => format!("/reports/rapid-reviews?year={}", year - 1),
                next => (year < this_year).then(|| format!("/reports/rapid-reviews?year={}", year + 1)),
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requested_report_is_outstanding_then_due_then_overdue() {
        let today = NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
        let status = |status, days: i64| {
            report_status(status, Some(today + chrono::Duration::days(days)), today).0
        };
        use submissions::ReportStatus as S;
        assert_eq!(status(S::Requested, 30), "Outstanding");
        assert_eq!(status(S::Requested, DUE_SOON_DAYS), "Due");
        assert_eq!(status(S::Requested, 0), "Due");
        assert_eq!(status(S::Requested, -1), "Overdue");
        assert_eq!(status(S::Accepted, -10), "Accepted");
        assert_eq!(status(S::Waived, -10), "Waived");
        assert_eq!(status(S::Returned, 5), "Returned");
        assert_eq!(status(S::Submitted, -1), "Submitted");
    }
}
