//! What a review's records say: the agency report requests (from the submissions service,
//! which asks each agency in the terms of reference), and the audit trail of every command
//! on the review (the registry's, paged).

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
    actor: String,
    roles: String,
    action: String,
    outcome: String,
    ok: bool,
}

/// GET /reviews/{id}/audit: the review's audit trail, oldest first, a page at a time.
async fn audit(
    State(state): Shared,
    Path(id): Path<String>,
    signed: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = async {
        signed.may(REGISTRY, "ListAuditRecords")?;
        let query = form_fields(query.as_deref().unwrap_or("").as_bytes());
        let page_token = field(&query, "page_token").to_string();
        let review = review_of(&state, &signed.user, &id).await?;
        let page = state
            .services
            .registry
            .clone()
            .list_audit_records(authed(
                registry::ListAuditRecordsRequest {
                    review_id: id.clone(),
                    page_size: AUDIT_PAGE_SIZE,
                    page_token: page_token.clone(),
                },
                &signed.user,
            )?)
            .await?
            .into_inner();
        let rows: Vec<AuditRow> = page
            .records
            .iter()
            .map(|record| AuditRow {
                time: views::time(record.time.as_ref()),
                actor: record.actor.clone(),
                roles: record.actor_roles.join(", "),
                action: record.action.clone(),
                outcome: record.outcome.clone(),
                ok: record.outcome == "ok",
            })
            .collect();
        let link = |token: &str| {
            let mut url = form_urlencoded::Serializer::new(String::new());
            url.append_pair("page_token", token);
            format!("/reviews/{id}/audit?{}", url.finish())
        };
        let next_page = (!page.next_page_token.is_empty()).then(|| link(&page.next_page_token));
        let first_page = (!page_token.is_empty()).then(|| format!("/reviews/{id}/audit"));
        render(
            &state,
            "admin/audit.html",
            &signed.session,
            context! {
                review => ReviewView::from(&review),
                review_id => review.id,
                rows,
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
