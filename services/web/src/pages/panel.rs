//! The panel's pages (panel_chair, panel_member): the agency reports of a review with where
//! each stands, one report with its narrative, version and chronology; for the chair, the
//! forms to accept it, return it (saying what is missing) or waive it (with the reason).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use cspr_platform::access::rules::{REGISTRY, SUBMISSIONS};
use cspr_proto::registry::v1 as registry;
use cspr_proto::submissions::v1 as submissions;
use futures::StreamExt;
use minijinja::context;
use serde::Serialize;

use super::agency::{RequestView, list_requests, status_view};
use super::{
    PageError, Posted, Shared, SignedIn, authed, posted_form, render, review_of, see_other,
    with_status,
};
use crate::AppState;
use crate::forms::Form;
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
        .route("/panel/reviews/{id}/overview", get(overview))
        .route("/panel/reviews/{id}/overview/check", get(overview_check))
        .route(
            "/panel/reviews/{id}/overview/approve",
            post(approve_overview),
        )
        .route(
            "/panel/reviews/{id}/overview/comment",
            post(comment_on_overview),
        )
}

pub(crate) const TEMPLATES: &[(&str, &str)] = templates![
    "panel/reports.html",
    "panel/report.html",
    "panel/overview.html",
    "panel/overview_check.html",
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
        let requests = list_requests(&state, &signed.user, &id, "").await?;
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
            context! {
                review_id => id,
                rows,
                may_meetings => signed.user.may(REGISTRY, "ListPanelMeetings"),
            },
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
    let request = list_requests(state, user, id, "")
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
                    limit: 0,
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
    let mut form = posted_form(posted);
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

/// A piece of a comparison: text both versions have, or only the old, or only the new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DiffPart {
    /// "same", "deleted" or "inserted".
    pub(crate) kind: &'static str,
    pub(crate) text: String,
}

/// What changed from `old` to `new`, word by word (`by_line`: line by line), as the parts
/// the page shows in turn (deleted as <del>, inserted as <ins>, the text escaped).
pub(crate) fn diff(old: &str, new: &str, by_line: bool) -> Vec<DiffPart> {
    use similar::{ChangeTag, TextDiff};
    let diff = if by_line {
        TextDiff::from_lines(old, new)
    } else {
        TextDiff::from_words(old, new)
    };
    let mut parts: Vec<DiffPart> = Vec::new();
    for change in diff.iter_all_changes() {
        let kind = match change.tag() {
            ChangeTag::Equal => "same",
            ChangeTag::Delete => "deleted",
            ChangeTag::Insert => "inserted",
        };
        match parts.last_mut() {
            // Word by word, a run of one kind is one part; line by line, each line is one.
            Some(last) if last.kind == kind && !by_line => last.text.push_str(change.value()),
            _ => parts.push(DiffPart {
                kind,
                text: change.value().to_string(),
            }),
        }
    }
    parts
}

/// The recommendations as the comparison reads them: one a line.
fn recommendations_text(report: &registry::OverviewReport) -> String {
    report
        .recommendations
        .iter()
        .map(|recommendation| {
            let to = if recommendation.addressed_to.is_empty() {
                String::new()
            } else {
                format!(" (to {})", recommendation.addressed_to.join(", "))
            };
            format!("{}: {}{to}\n", recommendation.r#ref, recommendation.text)
        })
        .collect()
}

/// The sections of a version (beside its summary), as (comment section, heading, text), in
/// the report's order.
fn sections_of(report: &registry::OverviewReport) -> Vec<(String, String, String)> {
    let mut sections: Vec<(String, String, String)> = report
        .enquiry_findings
        .iter()
        .enumerate()
        .map(|(index, given)| {
            (
                format!("enquiry:{}", index + 1),
                format!("Findings: {}", given.line_of_enquiry),
                given.findings.clone(),
            )
        })
        .collect();
    for ((section, heading, _), text) in views::REPORT_SECTIONS
        .iter()
        .zip(views::report_section_texts(report))
    {
        if !text.is_empty() {
            sections.push(((*section).into(), (*heading).into(), text.clone()));
        }
    }
    sections
}

#[derive(Debug, Serialize)]
struct SectionView {
    section: String,
    heading: String,
    text: String,
}

#[derive(Debug, Serialize)]
struct CommentView {
    version: i32,
    section: String,
    text: String,
    author: String,
    at: Option<String>,
    answer: String,
    answered_in_version: i32,
}

#[derive(Debug, Serialize)]
struct OverviewView {
    version: i32,
    latest_version: i32,
    findings: String,
    sections: Vec<SectionView>,
    recommendations: Vec<(String, String, String)>,
    comments: Vec<CommentView>,
    submitted_at: Option<String>,
    approved_at: Option<String>,
}

impl OverviewView {
    fn of(report: &registry::OverviewReport, review: &registry::Review) -> Self {
        let agency_name = |id: &str| {
            review
                .terms_of_reference
                .iter()
                .flat_map(|terms| &terms.agencies_in_scope)
                .find(|agency| agency.id == id)
                .map_or_else(
                    || {
                        if id == "partnership" {
                            "the safeguarding partnership".to_string()
                        } else {
                            id.to_string()
                        }
                    },
                    |agency| agency.name.clone(),
                )
        };
        Self {
            version: report.version,
            latest_version: report.latest_version.max(report.version),
            findings: report.findings.clone(),
            sections: sections_of(report)
                .into_iter()
                .map(|(section, heading, text)| SectionView {
                    section,
                    heading,
                    text,
                })
                .collect(),
            recommendations: report
                .recommendations
                .iter()
                .map(|recommendation| {
                    (
                        recommendation.r#ref.clone(),
                        recommendation.text.clone(),
                        recommendation
                            .addressed_to
                            .iter()
                            .map(|id| agency_name(id))
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                })
                .collect(),
            comments: report
                .comments
                .iter()
                .map(|comment| CommentView {
                    version: comment.version,
                    section: views::report_section_words(&comment.section, review),
                    text: comment.text.clone(),
                    author: comment.author.clone(),
                    at: views::time(comment.comment_time.as_ref()),
                    answer: comment.answer.clone(),
                    answered_in_version: comment.answered_in_version,
                })
                .collect(),
            submitted_at: views::time(report.submit_time.as_ref()),
            approved_at: views::time(report.approve_time.as_ref()),
        }
    }
}

/// The sections a panel member may comment on in `report`: (value, label) for the select.
fn commentable(report: &registry::OverviewReport) -> Vec<minijinja::Value> {
    std::iter::once(("summary".to_string(), "Summary".to_string()))
        .chain(
            sections_of(report)
                .into_iter()
                .map(|(section, heading, _)| (section, heading)),
        )
        .chain(std::iter::once((
            "recommendations".to_string(),
            "Recommendations".to_string(),
        )))
        .map(|(value, label)| context! { value, label })
        .collect()
}

/// The review and its latest overview report (else not found: nothing to approve yet).
async fn latest_overview(
    state: &AppState,
    user: &User,
    id: &str,
) -> Result<(registry::Review, registry::OverviewReport), PageError> {
    let review = review_of(state, user, id).await?;
    let report = review.overview_report.clone().ok_or(PageError::NotFound)?;
    Ok((review, report))
}

/// Whether the chair may approve `report` now: their roles, the stage, not yet approved.
fn approvable(user: &User, review: &registry::Review, report: &registry::OverviewReport) -> bool {
    user.may(REGISTRY, "ApproveOverviewReport")
        && review.stage == registry::Stage::PanelApproval as i32
        && report.approve_time.is_none()
}

/// GET /panel/reviews/{id}/overview: the latest version, with what changed since the one
/// before, and the panel's comments.
async fn overview(State(state): Shared, signed: SignedIn, Path(id): Path<String>) -> Response {
    let outcome = async {
        signed.may(REGISTRY, "GetOverviewReport")?;
        overview_page(&state, &signed.session, &signed.user, &id, &Form::default()).await
    }
    .await;
    signed.finish(&state, outcome)
}

/// The panel's overview page, with `form` (a comment being written) and its errors.
async fn overview_page(
    state: &AppState,
    session: &Session,
    user: &User,
    id: &str,
    form: &Form,
) -> Result<Response, PageError> {
    // The review carries its latest version whole: sections, comments, latest_version.
    let (review, report) = latest_overview(state, user, id).await?;
    let mut client = state.services.registry.clone();
    let previous = if report.version > 1 {
        Some(
            client
                .get_overview_report(authed(
                    registry::GetOverviewReportRequest {
                        review_id: id.to_string(),
                        version: report.version - 1,
                    },
                    user,
                )?)
                .await?
                .into_inner(),
        )
    } else {
        None
    };
    let sections_text = |report: &registry::OverviewReport| -> String {
        sections_of(report)
            .into_iter()
            .map(|(_, heading, text)| format!("{heading}\n{text}\n"))
            .collect()
    };
    let changes = previous.as_ref().map(|previous| {
        context! {
            version => previous.version,
            findings => diff(&previous.findings, &report.findings, false),
            sections => diff(&sections_text(previous), &sections_text(&report), true),
            recommendations => diff(
                &recommendations_text(previous),
                &recommendations_text(&report),
                true,
            ),
        }
    });
    let may_comment = user.may(REGISTRY, "CommentOnOverviewReport")
        && review.stage == registry::Stage::PanelApproval as i32;
    let page = render(
        state,
        "panel/overview.html",
        session,
        context! {
            review_id => id,
            reference => review.reference,
            stage => views::stage_words(review.stage),
            report => OverviewView::of(&report, &review),
            sections => commentable(&report),
            changes,
            may_approve => approvable(user, &review, &report),
            may_comment,
            form => form.values(),
            errors => form.errors,
        },
    )?;
    Ok(super::with_status(page, !form.errors.is_empty()))
}

/// POST /panel/reviews/{id}/overview/comment: a comment on a section of the latest version.
async fn comment_on_overview(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        if !posted.user.may(REGISTRY, "CommentOnOverviewReport") {
            return Err(PageError::NoAccess);
        }
        let mut form = posted_form(&posted);
        let section = form.required("section", "Choose the section you comment on");
        let text = form.required("text", "Enter your comment");
        if !form.errors.is_empty() {
            return overview_page(&state, &posted.session, &posted.user, &id, &form).await;
        }
        let mut client = state.services.registry.clone();
        let commented = client
            .comment_on_overview_report(authed(
                registry::CommentOnOverviewReportRequest {
                    review_id: id.clone(),
                    version: version_of(&form),
                    section,
                    text,
                },
                &posted.user,
            )?)
            .await;
        match super::answered(commented, &mut form)? {
            Some(_) => Ok(see_other(&format!("/panel/reviews/{id}/overview#comments"))),
            None => overview_page(&state, &posted.session, &posted.user, &id, &form).await,
        }
    }
    .await;
    posted.finish(&state, outcome)
}

/// The `version` of a query string, when it is a number.
fn version_in(uri: &axum::http::Uri) -> Option<i32> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "version")
        .and_then(|(_, value)| value.trim().parse().ok())
}

/// GET /panel/reviews/{id}/overview/check?version=N: check your answers before approving.
async fn overview_check(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let outcome = async {
        signed.may(REGISTRY, "ApproveOverviewReport")?;
        let (review, report) = latest_overview(&state, &signed.user, &id).await?;
        let asked = version_in(&uri).unwrap_or(report.version);
        if asked != report.version {
            return Err(PageError::Refused(format!(
                "version {asked} is not the latest version ({}): read the latest first",
                report.version
            )));
        }
        if !approvable(&signed.user, &review, &report) {
            return Err(PageError::Refused(
                "the overview report is not awaiting the panel's approval".into(),
            ));
        }
        render(
            &state,
            "panel/overview_check.html",
            &signed.session,
            context! {
                review_id => id,
                reference => review.reference,
                report => OverviewView::of(&report, &review),
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /panel/reviews/{id}/overview/approve: the chair approves the version they read.
async fn approve_overview(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        if !posted.user.may(REGISTRY, "ApproveOverviewReport") {
            return Err(PageError::NoAccess);
        }
        let mut client = state.services.registry.clone();
        client
            .approve_overview_report(authed(
                registry::ApproveOverviewReportRequest {
                    review_id: id.clone(),
                    version: version_of(&posted.form),
                },
                &posted.user,
            )?)
            .await?;
        Ok(see_other(&format!("/panel/reviews/{id}/overview")))
    }
    .await;
    posted.finish(&state, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_diff_marks_what_was_deleted_and_inserted() {
        let parts = diff(
            "Concerns were not shared.",
            "Concerns were never shared <b>.",
            false,
        );
        let kinds: Vec<(&str, &str)> = parts.iter().map(|p| (p.kind, p.text.as_str())).collect();
        assert_eq!(kinds[0], ("same", "Concerns were "));
        assert_eq!(kinds[1], ("deleted", "not"));
        assert!(kinds.contains(&("inserted", "<b>.")), "{kinds:?}");
        // Each side is the text it came from.
        let side = |skip: &str| -> String {
            parts
                .iter()
                .filter(|part| part.kind != skip)
                .map(|part| part.text.as_str())
                .collect()
        };
        assert_eq!(side("inserted"), "Concerns were not shared.");
        assert_eq!(side("deleted"), "Concerns were never shared <b>.");
        let lines = diff("R1: a\nR2: b\n", "R1: a\nR2: c\n", true);
        assert_eq!(
            lines[0],
            DiffPart {
                kind: "same",
                text: "R1: a\n".into()
            }
        );
        assert_eq!(lines[1].kind, "deleted");
        assert_eq!(
            lines[2],
            DiffPart {
                kind: "inserted",
                text: "R2: c\n".into()
            }
        );
    }
}
