//! The agency lead's pages (role `agency`, their agency in the claim `org`): the agency's
//! report requests, and a report uploaded as a narrative and a chronology spreadsheet
//! (checked row by row before anything is sent, then streamed to SubmitAgencyReport).

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cspr_platform::access::rules::SUBMISSIONS;
use cspr_platform::chronology::{Limits, NarrativeInput, parse_narrative};
use cspr_platform::convert::date_from_proto;
use cspr_platform::projection::reviews::ScopePeriod;
use cspr_proto::submissions::v1 as submissions;
use minijinja::context;
use serde::Serialize;

use super::{PageError, Shared, SignedIn, authed, render, see_other, sentence, with_status};
use crate::AppState;
use crate::forms::{FormError, FormErrors, check_csrf};
use crate::session::User;
use crate::upload;
use crate::views;

pub(crate) fn routes() -> axum::Router<Arc<AppState>> {
    use axum::routing::get;
    axum::Router::new()
        .route("/agency", get(requests))
        .route("/agency/chronology-template.csv", get(template))
        .route(
            "/agency/reviews/{id}",
            get(upload_form)
                .post(upload_report)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
}

pub(crate) const TEMPLATES: &[(&str, &str)] =
    templates!["agency/requests.html", "agency/upload.html",];

/// The largest upload (narrative and spreadsheet): what one gRPC message may carry.
const MAX_UPLOAD_BYTES: usize = 12 * 1024 * 1024;

/// The most rows a spreadsheet may have (the service's own default limit).
const MAX_ROWS: u64 = 100_000;

/// A report request as the pages show it.
#[derive(Debug, Serialize)]
pub(crate) struct RequestView {
    pub(crate) review_id: String,
    pub(crate) review_reference: String,
    pub(crate) agency_id: String,
    pub(crate) agency_name: String,
    pub(crate) contact_email: String,
    pub(crate) due_date: Option<String>,
    pub(crate) scope_start: Option<String>,
    pub(crate) scope_end: Option<String>,
    pub(crate) status: String,
    pub(crate) tag: &'static str,
    pub(crate) latest_version: i32,
    pub(crate) decision_note: String,
    pub(crate) returned: bool,
    pub(crate) waived: bool,
    /// Whether the agency may submit (a new version) now.
    pub(crate) open: bool,
    /// Past its due date with nothing awaiting the panel (requested or returned).
    pub(crate) overdue: bool,
}

/// A report status in words with its GOV.UK tag colour.
pub(crate) fn status_view(status: i32) -> (String, &'static str) {
    use submissions::ReportStatus as S;
    let status = S::try_from(status).unwrap_or(S::Unspecified);
    let tag = match status {
        S::Requested => "govuk-tag--blue",
        S::Submitted => "govuk-tag--yellow",
        S::Accepted => "govuk-tag--green",
        S::Returned => "govuk-tag--red",
        S::Waived | S::Unspecified => "govuk-tag--grey",
    };
    (views::words(status.as_str_name(), "REPORT_STATUS_"), tag)
}

impl RequestView {
    pub(crate) fn of(request: &submissions::ReportRequest) -> Self {
        use submissions::ReportStatus as S;
        let (status, tag) = status_view(request.status);
        let kind = S::try_from(request.status).unwrap_or(S::Unspecified);
        let today = chrono::Utc::now().date_naive();
        let overdue = matches!(kind, S::Requested | S::Returned)
            && date_from_proto(request.due_date.as_ref()).is_ok_and(|due| due < today);
        Self {
            review_id: request.review_id.clone(),
            review_reference: request.review_reference.clone(),
            agency_id: request.agency_id.clone(),
            agency_name: request.agency_name.clone(),
            contact_email: request.contact_email.clone(),
            due_date: views::date(request.due_date.as_ref()),
            scope_start: views::date(request.scope_start.as_ref()),
            scope_end: views::date(request.scope_end.as_ref()),
            status,
            tag,
            latest_version: request.latest_version,
            decision_note: request.decision_note.clone(),
            returned: kind == S::Returned,
            waived: kind == S::Waived,
            open: matches!(kind, S::Requested | S::Submitted | S::Returned),
            overdue,
        }
    }
}

/// The signed-in agency's id, if the user is an agency's (the role and the claim).
fn agency_of(signed: &SignedIn) -> Result<String, PageError> {
    signed.may(SUBMISSIONS, "SubmitAgencyReport")?;
    signed
        .user
        .org
        .clone()
        .filter(|org| !org.is_empty())
        .ok_or(PageError::NoAccess)
}

/// Every report request of a review (`agency_id` empty) or of an agency (`review_id` empty),
/// page by page up to a thousand: the agency's and the panel's pages list them this one way.
pub(crate) async fn list_requests(
    state: &AppState,
    user: &User,
    review_id: &str,
    agency_id: &str,
) -> Result<Vec<submissions::ReportRequest>, PageError> {
    let mut client = state.services.submissions.clone();
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_report_requests(authed(
                submissions::ListReportRequestsRequest {
                    review_id: review_id.to_string(),
                    agency_id: agency_id.to_string(),
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

/// GET /agency: the agency's report requests, with due dates and where each stands.
async fn requests(State(state): Shared, signed: SignedIn) -> Response {
    let outcome = async {
        let agency = agency_of(&signed)?;
        let requests = list_requests(&state, &signed.user, "", &agency).await?;
        let requests: Vec<RequestView> = requests.iter().map(RequestView::of).collect();
        render(
            &state,
            "agency/requests.html",
            &signed.session,
            context! { requests, agency },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// GET /agency/chronology-template.csv: the spreadsheet's header row.
async fn template() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"chronology-template.csv\"",
            ),
        ],
        upload::template_csv(),
    )
        .into_response()
}

/// The narrative and author fields of the upload form, by name, with their labels.
const TEXT_FIELDS: [(&str, &str); 7] = [
    ("author_name", "the name of the report's author"),
    ("author_role", "the author's job title"),
    ("summary", "a summary of the agency's involvement"),
    ("analysis_of_involvement", "the analysis of the involvement"),
    ("what_went_well", "what went well"),
    ("what_could_have_been_better", "what could have been better"),
    ("learning", "the learning"),
];

/// The one request of `agency` on review `id` (else not found: another agency's review).
async fn request_of(
    state: &AppState,
    user: &User,
    id: &str,
    agency: &str,
) -> Result<submissions::ReportRequest, PageError> {
    list_requests(state, user, id, agency)
        .await?
        .into_iter()
        .find(|request| request.review_id == id && request.agency_id == agency)
        .ok_or(PageError::NotFound)
}

/// What the upload form was sent with.
#[derive(Debug, Default)]
struct Upload {
    fields: Vec<(String, String)>,
    file_name: String,
    file: Vec<u8>,
}

impl Upload {
    fn get(&self, name: &str) -> &str {
        crate::forms::field(&self.fields, name)
    }
}

fn upload_page(
    state: &AppState,
    signed: &SignedIn,
    request: &submissions::ReportRequest,
    upload: &Upload,
    errors: &FormErrors,
) -> Result<Response, PageError> {
    let form: std::collections::BTreeMap<&str, &str> = TEXT_FIELDS
        .iter()
        .map(|(name, _)| (*name, upload.get(name)))
        .collect();
    let based_on = request.latest_version;
    let page = render(
        state,
        "agency/upload.html",
        &signed.session,
        context! {
            request => RequestView::of(request),
            form,
            errors,
            based_on,
            columns => upload::COLUMNS.iter().map(|(column, _)| *column).collect::<Vec<_>>(),
        },
    )?;
    Ok(with_status(page, !errors.is_empty()))
}

/// GET /agency/reviews/{id}: the request, the panel's reason when returned, the upload form.
async fn upload_form(State(state): Shared, signed: SignedIn, Path(id): Path<String>) -> Response {
    let outcome = async {
        let agency = agency_of(&signed)?;
        let request = request_of(&state, &signed.user, &id, &agency).await?;
        upload_page(
            &state,
            &signed,
            &request,
            &Upload::default(),
            &FormErrors::default(),
        )
    }
    .await;
    signed.finish(&state, outcome)
}

async fn read_upload(multipart: &mut Multipart) -> Result<Upload, PageError> {
    let too_big = |error: axum::extract::multipart::MultipartError| {
        PageError::Invalid(vec![super::FieldError {
            field: "chronology".into(),
            description: format!(
                "the upload could not be read (at most {} MiB): {error}",
                MAX_UPLOAD_BYTES / 1024 / 1024
            ),
        }])
    };
    let mut upload = Upload::default();
    while let Some(field) = multipart.next_field().await.map_err(too_big)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "chronology" {
            upload.file_name = field.file_name().unwrap_or_default().to_string();
            upload.file = field.bytes().await.map_err(too_big)?.to_vec();
        } else {
            let value = field.text().await.map_err(too_big)?;
            upload.fields.push((name, value));
        }
    }
    Ok(upload)
}

/// A problem on the chronology: every one is listed (one a row), each linking to the file.
fn chronology_error(errors: &mut FormErrors, message: String) {
    errors
        .by_field
        .entry("chronology".into())
        .or_insert_with(|| message.clone());
    errors.list.push(FormError {
        field: "chronology".into(),
        message,
    });
}

/// The form field a service's violation names (`header.narrative.summary` → `summary`,
/// `entries[41].occurred_on` → the spreadsheet's row and column).
fn service_error(errors: &mut FormErrors, field: &str, description: &str) {
    if let Some(rest) = field.strip_prefix("entries[")
        && let Some((index, name)) = rest.split_once("].")
        && let Ok(index) = index.parse::<u64>()
    {
        let error = upload::RowError {
            row: upload::row_of(index),
            column: Some(upload::column_of(name).to_string()),
            message: description.to_string(),
        };
        chronology_error(errors, error.to_string());
        return;
    }
    let name = field.rsplit('.').next().unwrap_or(field);
    if TEXT_FIELDS.iter().any(|(known, _)| *known == name) {
        errors.add(name, &sentence(description));
    } else {
        chronology_error(errors, sentence(&format!("{field}: {description}")));
    }
}

/// POST /agency/reviews/{id}: checks every part, then streams the report, then the request.
async fn upload_report(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let outcome = async {
        let agency = agency_of(&signed)?;
        let upload = read_upload(&mut multipart).await?;
        check_csrf(&signed.session, &upload.fields)?;
        let request = request_of(&state, &signed.user, &id, &agency).await?;
        submit(&state, &signed, &request, &upload).await
    }
    .await;
    signed.finish(&state, outcome)
}

async fn submit(
    state: &AppState,
    signed: &SignedIn,
    request: &submissions::ReportRequest,
    upload: &Upload,
) -> Result<Response, PageError> {
    let limits = Limits::default();
    let mut errors = FormErrors::default();
    for (name, label) in &TEXT_FIELDS[..2] {
        if upload.get(name).trim().is_empty() {
            errors.add(name, &sentence(&format!("Enter {label}")));
        } else if upload.get(name).chars().count() > 200 {
            errors.add(name, &sentence(&format!("{label}: at most 200 characters")));
        }
    }
    let mut violations = Vec::new();
    let narrative = parse_narrative(
        NarrativeInput {
            summary: upload.get("summary"),
            analysis_of_involvement: upload.get("analysis_of_involvement"),
            what_went_well: upload.get("what_went_well"),
            what_could_have_been_better: upload.get("what_could_have_been_better"),
            learning: upload.get("learning"),
        },
        &limits,
        &mut violations,
    );
    for violation in violations {
        let name = violation.field.rsplit('.').next().unwrap_or_default();
        let label = TEXT_FIELDS
            .iter()
            .find(|(known, _)| *known == name)
            .map_or(name, |(_, label)| label);
        let message = if violation.description == "required" {
            format!("Enter {label}")
        } else {
            format!("{label}: {}", violation.description)
        };
        errors.add(name, &sentence(&message));
    }
    let scope = match (
        date_from_proto(request.scope_start.as_ref()),
        date_from_proto(request.scope_end.as_ref()),
    ) {
        (Ok(start), Ok(end)) => ScopePeriod { start, end },
        _ => {
            return Err(PageError::Refused(
                "the review has no scope period yet".into(),
            ));
        }
    };
    let entries = if upload.file.is_empty() {
        chronology_error(
            &mut errors,
            "Choose the chronology spreadsheet (a CSV file)".into(),
        );
        Vec::new()
    } else {
        match upload::parse_chronology(&upload.file, scope, &limits, MAX_ROWS) {
            Ok(entries) => entries,
            Err(rows) => {
                for row in rows {
                    chronology_error(&mut errors, sentence(&row.to_string()));
                }
                Vec::new()
            }
        }
    };
    if !errors.is_empty() {
        return upload_page(state, signed, request, upload, &errors);
    }
    // The same form sent again with the same content is the same submission; a new upload
    // after the panel returned a version (another `based_on`) is a new one.
    let based_on = upload.get("based_on");
    let mut parts: Vec<&[u8]> = vec![
        request.review_id.as_bytes(),
        request.agency_id.as_bytes(),
        based_on.as_bytes(),
    ];
    parts.extend(
        TEXT_FIELDS
            .iter()
            .map(|(name, _)| upload.get(name).as_bytes()),
    );
    parts.push(&upload.file);
    let header = submissions::SubmissionHeader {
        request_id: upload::request_id_of(&parts),
        review_id: request.review_id.clone(),
        agency_id: request.agency_id.clone(),
        author_name: upload.get("author_name").trim().to_string(),
        author_role: upload.get("author_role").trim().to_string(),
        narrative: Some(submissions::Narrative {
            summary: narrative.summary,
            analysis_of_involvement: narrative.analysis_of_involvement,
            what_went_well: narrative.what_went_well,
            what_could_have_been_better: narrative.what_could_have_been_better,
            learning: narrative.learning,
        }),
        entry_count: 0,
    };
    let stream = futures::stream::iter(upload::messages(header, entries));
    let mut client = state.services.submissions.clone();
    match client
        .submit_agency_report(authed(stream, &signed.user)?)
        .await
    {
        Ok(_) => Ok(see_other(&format!("/agency/reviews/{}", request.review_id))),
        Err(status) => match PageError::from(status) {
            PageError::Invalid(fields) if !fields.is_empty() => {
                for field in fields {
                    service_error(&mut errors, &field.field, &field.description);
                }
                upload_page(state, signed, request, upload, &errors)
            }
            other => Err(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_violation_lands_on_its_row_or_field() {
        let mut errors = FormErrors::default();
        service_error(&mut errors, "entries[2].occurred_on", "outside the scope");
        service_error(&mut errors, "header.narrative.summary", "required");
        let messages: Vec<&str> = errors.list.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            ["Row 4, column date: outside the scope", "Required."]
        );
        assert_eq!(errors.list[1].field, "summary");
    }

    #[test]
    fn a_request_past_its_due_date_is_overdue_until_sent() {
        use cspr_proto::google::r#type::Date;
        let mut request = submissions::ReportRequest {
            status: submissions::ReportStatus::Requested as i32,
            due_date: Some(Date {
                year: 2020,
                month: 1,
                day: 31,
            }),
            ..Default::default()
        };
        let view = RequestView::of(&request);
        assert!(view.overdue && view.open);
        assert_eq!(
            (view.status.as_str(), view.tag),
            ("Requested", "govuk-tag--blue")
        );
        assert_eq!(view.due_date.as_deref(), Some("31 January 2020"));
        request.status = submissions::ReportStatus::Submitted as i32;
        assert!(!RequestView::of(&request).overdue);
        request.status = submissions::ReportStatus::Returned as i32;
        assert!(RequestView::of(&request).returned && RequestView::of(&request).overdue);
        request.due_date = Some(Date {
            year: 2999,
            month: 1,
            day: 1,
        });
        assert!(!RequestView::of(&request).overdue);
    }
}
