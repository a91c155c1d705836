//! The panel's pages (panel_chair, panel_member): the agency reports of a review with where
//! each stands, one report with its narrative, version and chronology; for the chair, the
//! forms to accept it, return it (saying what is missing) or waive it (with the reason).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use cspr_platform::access::rules::SUBMISSIONS;
use cspr_proto::submissions::v1 as submissions;
use futures::StreamExt;
use minijinja::context;
use serde::Serialize;

use super::agency::{RequestView, status_view};
use super::{PageError, Posted, Shared, SignedIn, authed, render, see_other, with_status};
use crate::AppState;
use crate::forms::{Form, FormErrors};
use crate::session::{Session, User};
use crate::views;

pub(crate) fn routes() -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/panel/reviews/{id}", get(reports))
        .route("/panel/reviews/{id}/agencies/{agency}", get(report))
        .route("/panel/reviews/{id}/agencies/{agency}/accept", post(accept))
        .route(
            "/panel/reviews/{id}/agencies/{agency}/return",
            post(return_report),
        )
        .route("/panel/reviews/{id}/agencies/{agency}/waive", post(waive))
}

pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    (
        "panel/reports.html",
        include_str!("../../templates/panel/reports.html"),
    ),
    (
        "panel/report.html",
        include_str!("../../templates/panel/report.html"),
    ),
];

/// The latest version of an agency's report as the panel reads it.
#[derive(Debug, Serialize)]
struct ReportView {
    version: i32,
    status: String,
    tag: &'static str,
    author_name: String,
    author_role: String,
    summary: String,
    analysis_of_involvement: String,
    what_went_well: String,
    what_could_have_been_better: String,
    learning: String,
    entry_count: i64,
    submitted_at: Option<String>,
    decision_note: String,
}

impl ReportView {
    fn of(report: &submissions::AgencyReport) -> Self {
        let (status, tag) = status_view(report.status);
        let narrative = report.narrative.clone().unwrap_or_default();
        Self {
            version: report.version,
            status,
            tag,
            author_name: report.author_name.clone(),
            author_role: report.author_role.clone(),
            summary: narrative.summary,
            analysis_of_involvement: narrative.analysis_of_involvement,
            what_went_well: narrative.what_went_well,
            what_could_have_been_better: narrative.what_could_have_been_better,
            learning: narrative.learning,
            entry_count: report.entry_count,
            submitted_at: views::time(report.submit_time.as_ref()),
            decision_note: report.decision_note.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct EntryView {
    date: Option<String>,
    time: String,
    service: String,
    practitioner: String,
    description: String,
    outcome: String,
}

fn entry_view(entry: &submissions::ChronologyEntry) -> EntryView {
    let practitioner = match (
        entry.practitioner_name.is_empty(),
        entry.practitioner_role.is_empty(),
    ) {
        (false, false) => format!("{} ({})", entry.practitioner_name, entry.practitioner_role),
        (false, true) => entry.practitioner_name.clone(),
        (true, _) => entry.practitioner_role.clone(),
    };
    EntryView {
        date: views::date(entry.occurred_on.as_ref()),
        time: entry.time_of_day.clone(),
        service: entry.service.clone(),
        practitioner,
        description: entry.description.clone(),
        outcome: entry.outcome.clone(),
    }
}

async fn requests_of(
    state: &AppState,
    user: &User,
    review_id: &str,
) -> Result<Vec<submissions::ReportRequest>, PageError> {
    let mut client = state.services.submissions.clone();
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_report_requests(authed(
                submissions::ListReportRequestsRequest {
                    review_id: review_id.to_string(),
                    agency_id: String::new(),
                    page_size: 200,
                    page_token,
                },
                user,
            )?)
            .await?
            .into_inner();
        all.extend(page.report_requests);
        if page.next_page_token.is_empty() || all.len() >= 1000 {
            return Ok(all);
        }
        page_token = page.next_page_token;
    }
}

/// A row of the review's reports: the request, with its latest report when there is one.
#[derive(Debug, Serialize)]
struct RowView {
    request: RequestView,
    submitted_at: Option<String>,
    author: String,
}

/// GET /panel/reviews/{id}: every agency's report request and latest report.
async fn reports(State(state): Shared, signed: SignedIn, Path(id): Path<String>) -> Response {
    let outcome = async {
        signed.may(SUBMISSIONS, "ListAgencyReports")?;
        let requests = requests_of(&state, &signed.user, &id).await?;
        let mut client = state.services.submissions.clone();
        let listed = client
            .list_agency_reports(authed(
                submissions::ListAgencyReportsRequest {
                    review_id: id.clone(),
                    page_size: 200,
                    page_token: String::new(),
                },
                &signed.user,
            )?)
            .await?
            .into_inner()
            .reports;
        let rows: Vec<RowView> = requests
            .iter()
            .map(|request| {
                let report = listed
                    .iter()
                    .find(|report| report.agency_id == request.agency_id);
                RowView {
                    request: RequestView::of(request),
                    submitted_at: report
                        .and_then(|report| views::time(report.submit_time.as_ref())),
                    author: report
                        .map(|report| report.author_name.clone())
                        .unwrap_or_default(),
                }
            })
            .collect();
        render(
            &state,
            "panel/reports.html",
            &signed.session,
            context! { review_id => id, rows },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// The report page, with the chair's forms when the user may decide (and `form`'s problems).
async fn report_page(
    state: &AppState,
    session: &Session,
    user: &User,
    id: &str,
    agency: &str,
    form: &Form,
) -> Result<Response, PageError> {
    if !user.may(SUBMISSIONS, "ListAgencyReports") {
        return Err(PageError::NoAccess);
    }
    let request = requests_of(state, user, id)
        .await?
        .into_iter()
        .find(|request| request.agency_id == agency)
        .ok_or(PageError::NotFound)?;
    let mut client = state.services.submissions.clone();
    let report = if request.latest_version > 0 {
        Some(
            client
                .get_agency_report(authed(
                    submissions::GetAgencyReportRequest {
                        review_id: id.to_string(),
                        agency_id: agency.to_string(),
                        version: 0,
                    },
                    user,
                )?)
                .await?
                .into_inner(),
        )
    } else {
        None
    };
    let mut entries = Vec::new();
    if let Some(report) = &report {
        let mut stream = client
            .stream_combined_chronology(authed(
                submissions::StreamCombinedChronologyRequest {
                    review_id: id.to_string(),
                    include_pending: true,
                    agency_id: agency.to_string(),
                },
                user,
            )?)
            .await?
            .into_inner();
        while let Some(entry) = stream.next().await {
            let entry = entry?;
            if entry.agency_id == agency
                && entry.version == report.version
                && let Some(entry) = &entry.entry
            {
                entries.push(entry_view(entry));
            }
        }
    }
    let request_view = RequestView::of(&request);
    let awaiting = request.status == submissions::ReportStatus::Submitted as i32;
    let may_decide = user.may(SUBMISSIONS, "AcceptAgencyReport");
    let may_waive = user.may(SUBMISSIONS, "WaiveAgencyReport")
        && !request_view.waived
        && request.status != submissions::ReportStatus::Accepted as i32;
    let page = render(
        state,
        "panel/report.html",
        session,
        context! {
            review_id => id,
            request => request_view,
            report => report.as_ref().map(ReportView::of),
            entries,
            may_decide => may_decide && awaiting,
            may_waive,
            form => form.values(),
            errors => form.errors,
        },
    )?;
    Ok(with_status(page, !form.errors.is_empty()))
}

/// GET /panel/reviews/{id}/agencies/{agency}.
async fn report(
    State(state): Shared,
    signed: SignedIn,
    Path((id, agency)): Path<(String, String)>,
) -> Response {
    let outcome = report_page(
        &state,
        &signed.session,
        &signed.user,
        &id,
        &agency,
        &Form::default(),
    )
    .await;
    signed.finish(&state, outcome)
}

/// The version the chair read, as the form sent it.
fn version_of(form: &Form) -> i32 {
    form.get("version").trim().parse().unwrap_or(0)
}

/// A decision: refused before it is sent unless the user's roles allow `method`; back to
/// the report afterwards; a missing text back into the form.
async fn decide(
    state: &AppState,
    posted: &Posted,
    id: &str,
    agency: &str,
    method: &str,
) -> Result<Response, PageError> {
    if !posted.user.may(SUBMISSIONS, method) {
        return Err(PageError::NoAccess);
    }
    let mut form = Form {
        fields: posted.form.fields.clone(),
        errors: FormErrors::default(),
    };
    let mut client = state.services.submissions.clone();
    let user = &posted.user;
    let outcome = match method {
        "AcceptAgencyReport" => client
            .accept_agency_report(authed(
                submissions::AcceptAgencyReportRequest {
                    review_id: id.to_string(),
                    agency_id: agency.to_string(),
                    version: version_of(&form),
                },
                user,
            )?)
            .await
            .map(drop),
        "ReturnAgencyReport" => {
            let missing = form.required("missing", "Enter what is missing or must change");
            if !form.errors.is_empty() {
                return report_page(state, &posted.session, user, id, agency, &form).await;
            }
            client
                .return_agency_report(authed(
                    submissions::ReturnAgencyReportRequest {
                        review_id: id.to_string(),
                        agency_id: agency.to_string(),
                        version: version_of(&form),
                        missing,
                    },
                    user,
                )?)
                .await
                .map(drop)
        }
        _ => {
            let reason = form.required("reason", "Enter why the report is not needed");
            if !form.errors.is_empty() {
                return report_page(state, &posted.session, user, id, agency, &form).await;
            }
            client
                .waive_agency_report(authed(
                    submissions::WaiveAgencyReportRequest {
                        review_id: id.to_string(),
                        agency_id: agency.to_string(),
                        reason,
                    },
                    user,
                )?)
                .await
                .map(drop)
        }
    };
    match outcome {
        Ok(()) => Ok(see_other(&format!("/panel/reviews/{id}/agencies/{agency}"))),
        Err(status) => {
            PageError::from(status).into_form_errors(&mut form.errors)?;
            report_page(state, &posted.session, user, id, agency, &form).await
        }
    }
}

/// POST …/accept: the chair accepts the version they read.
async fn accept(
    State(state): Shared,
    Path((id, agency)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = decide(&state, &posted, &id, &agency, "AcceptAgencyReport").await;
    posted.finish(&state, outcome)
}

/// POST …/return: the chair returns it, saying what is missing.
async fn return_report(
    State(state): Shared,
    Path((id, agency)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = decide(&state, &posted, &id, &agency, "ReturnAgencyReport").await;
    posted.finish(&state, outcome)
}

/// POST …/waive: the chair waives the report, with the reason.
async fn waive(
    State(state): Shared,
    Path((id, agency)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = decide(&state, &posted, &id, &agency, "WaiveAgencyReport").await;
    posted.finish(&state, outcome)
}
