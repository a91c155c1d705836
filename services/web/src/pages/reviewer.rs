//! The independent reviewer's workspace: the reviews they are appointed to, each review's
//! combined chronology (a table and a timeline picture, filtered and paged), each agency's
//! report, the practitioners (confirming suggestions, holding contact back, conversations,
//! the learning event, its attendance and learning by theme) and the overview report.
//! The services decide who may see what: these pages only ask them.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use cspr_platform::access::rules::{PRACTITIONERS, REGISTRY, SUBMISSIONS};
use cspr_proto::google::r#type::Date;
use cspr_proto::practitioners::v1 as practitioners;
use cspr_proto::registry::v1 as registry;
use cspr_proto::submissions::v1 as submissions;
use minijinja::context;
use serde::Serialize;

use super::admin::{request_id, request_id_of};
use super::{
    PageError, Posted, Shared, SignedIn, authed, commanded, posted_form, render, review_of,
    see_other, with_status,
};
use crate::AppState;
use crate::chronology_svg::{self, TimelineEntry};
use crate::forms::{DateParts, Form, FormErrors, fields_named};
use crate::session::{Session, User};
use crate::views::REPORT_SECTIONS as SECTIONS;
use crate::views::{self, ChoiceView, OptionView, ReviewView};

/// Chronology entries on one page.
pub(crate) const CHRONOLOGY_PAGE_SIZE: usize = 100;

pub(crate) fn routes() -> axum::Router<std::sync::Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/reviewer", get(appointed_reviews))
        .route("/reviews/{id}/workspace", get(workspace))
        .route("/reviews/{id}/chronology", get(chronology))
        .route("/reviews/{id}/agency-reports/{agency}", get(agency_report))
        .route("/reviews/{id}/practitioners", get(practitioner_list))
        .route(
            "/reviews/{id}/practitioners/new",
            get(register_form).post(register),
        )
        .route(
            "/reviews/{id}/practitioners/{practitioner}/confirm",
            get(confirm_form).post(confirm),
        )
        .route(
            "/reviews/{id}/practitioners/{practitioner}/defer",
            get(defer_form).post(defer),
        )
        .route(
            "/reviews/{id}/practitioners/{practitioner}/release",
            post(release),
        )
        .route(
            "/reviews/{id}/practitioners/{practitioner}/conversation",
            get(conversation_form).post(conversation),
        )
        .route(
            "/reviews/{id}/learning-events/new",
            get(learning_event_form).post(learning_event),
        )
        .route(
            "/reviews/{id}/learning-events/{event}",
            get(attendance_form).post(attendance),
        )
        .route(
            "/reviews/{id}/learning/{kind}/{source}",
            get(learning_form).post(learning),
        )
        .route(
            "/reviews/{id}/overview",
            get(overview_form).post(overview_check),
        )
        .route("/reviews/{id}/overview/submit", post(overview_submit))
}

pub(crate) const TEMPLATES: &[(&str, &str)] = templates![
    "reviewer/reviews.html",
    "reviewer/workspace.html",
    "reviewer/chronology.html",
    "reviewer/agency_report.html",
    "reviewer/practitioners.html",
    "reviewer/practitioner_form.html",
    "reviewer/defer.html",
    "reviewer/conversation.html",
    "reviewer/learning_event.html",
    "reviewer/attendance.html",
    "reviewer/learning.html",
    "reviewer/overview.html",
    "reviewer/overview_check.html",
];

/// Every date input of a form (fields `NAME-day` …) by NAME, as typed, for the template.
pub(crate) fn date_inputs(form: &Form) -> BTreeMap<String, DateParts> {
    form.fields
        .iter()
        .filter_map(|(key, _)| key.strip_suffix("-day"))
        .map(|name| (name.to_string(), form.date_parts(name)))
        .collect()
}

/// A form page: `template` with what was sent, its problems (a 400 when there are any),
/// its idempotency key and the review; `extra` is the page's own.
pub(crate) fn form_page(
    state: &AppState,
    session: &Session,
    template: &str,
    form: &Form,
    request_id: &str,
    review: &registry::Review,
    extra: minijinja::Value,
) -> Result<Response, PageError> {
    let page = render(
        state,
        template,
        session,
        context! {
            form => form.values(),
            errors => form.errors,
            dates => date_inputs(form),
            request_id,
            review => ReviewView::from(review),
            ..extra
        },
    )?;
    Ok(with_status(page, !form.errors.is_empty()))
}

/// A moment from a date input and an "HH:MM" field, in UTC.
pub(crate) fn moment(
    form: &mut Form,
    name: &str,
    label: &str,
    time_field: &str,
) -> Option<prost_types::Timestamp> {
    let day = form.date(name, label, true);
    let time = form.get(time_field).to_string();
    let parsed = chrono::NaiveTime::parse_from_str(&time, "%H:%M").ok();
    if parsed.is_none() {
        form.errors
            .add(time_field, "Enter a time as hours and minutes, like 14:30");
    }
    let day = day?;
    let date = chrono::NaiveDate::from_ymd_opt(
        day.year,
        u32::try_from(day.month).ok()?,
        u32::try_from(day.day).ok()?,
    )?;
    let at = date.and_time(parsed?).and_utc();
    Some(prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    })
}

// ---------------------------------------------------------------------------------------
// The reviews the reviewer is appointed to, and a review's workspace.

/// GET /reviewer: the reviews the signed-in reviewer is appointed to (the registry answers
/// a reviewer with those only).
pub(crate) async fn appointed_reviews(State(state): Shared, signed: SignedIn) -> Response {
    let outcome = async {
        // Others' list of reviews is the dashboard: this page is the reviewer's own.
        if !signed.user.roles.iter().any(|role| role == "reviewer") {
            return Err(PageError::NoAccess);
        }
        let mut client = state.services.registry.clone();
        let response = client
            .list_reviews(authed(
                registry::ListReviewsRequest {
                    page_size: 200,
                    ..Default::default()
                },
                &signed.user,
            )?)
            .await?
            .into_inner();
        let reviews: Vec<ReviewView> = response.reviews.iter().map(ReviewView::from).collect();
        render(
            &state,
            "reviewer/reviews.html",
            &signed.session,
            context! { reviews },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

#[derive(Debug, Serialize)]
struct ReportRequestView {
    agency_id: String,
    agency_name: String,
    status: String,
    due_date: Option<String>,
    latest_version: i32,
}

/// GET /reviews/{id}/workspace: the review and what the reviewer works on.
pub(crate) async fn workspace(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let outcome = async {
        let review = review_of(&state, &signed.user, &id).await?;
        let mut requests = Vec::new();
        if signed.user.may(SUBMISSIONS, "ListReportRequests") {
            let mut client = state.services.submissions.clone();
            let listed = client
                .list_report_requests(authed(
                    submissions::ListReportRequestsRequest {
                        review_id: id.clone(),
                        page_size: 200,
                        ..Default::default()
                    },
                    &signed.user,
                )?)
                .await;
            match listed {
                Ok(listed) => {
                    requests = listed
                        .into_inner()
                        .report_requests
                        .iter()
                        .map(|request| ReportRequestView {
                            agency_id: request.agency_id.clone(),
                            agency_name: request.agency_name.clone(),
                            status: report_status(request.status),
                            due_date: views::date(request.due_date.as_ref()),
                            latest_version: request.latest_version,
                        })
                        .collect();
                }
                Err(status) if status.code() == tonic::Code::PermissionDenied => {}
                Err(status) => return Err(status.into()),
            }
        }
        let user = &signed.user;
        render(
            &state,
            "reviewer/workspace.html",
            &signed.session,
            context! {
                review => ReviewView::from(&review),
                requests,
                may_chronology => user.may(SUBMISSIONS, "StreamCombinedChronology"),
                may_practitioners => user.may(PRACTITIONERS, "ListPractitioners"),
                may_family => user.may(cspr_platform::access::rules::FAMILY, "AddFamilyMember"),
                may_overview => user.may(REGISTRY, "SubmitOverviewReport"),
                may_meetings => user.may(REGISTRY, "ListPanelMeetings"),
                information => crate::pages::admin::commands::information_rows(
                    &review,
                    user.may(REGISTRY, "AnswerInformationRequest"),
                ),
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

fn report_status(status: i32) -> String {
    submissions::ReportStatus::try_from(status)
        .map(|status| views::words(status.as_str_name(), "REPORT_STATUS_"))
        .unwrap_or_default()
}

/// GET /reviews/{id}/agency-reports/{agency}: the latest version of one agency's report.
pub(crate) async fn agency_report(
    State(state): Shared,
    signed: SignedIn,
    Path((id, agency)): Path<(String, String)>,
) -> Response {
    let outcome = async {
        let review = review_of(&state, &signed.user, &id).await?;
        let mut client = state.services.submissions.clone();
        let report = client
            .get_agency_report(authed(
                submissions::GetAgencyReportRequest {
                    review_id: id.clone(),
                    agency_id: agency.clone(),
                    version: 0,
                },
                &signed.user,
            )?)
            .await?
            .into_inner();
        let narrative = report.narrative.clone().unwrap_or_default();
        render(
            &state,
            "reviewer/agency_report.html",
            &signed.session,
            context! {
                review => ReviewView::from(&review),
                agency_id => report.agency_id,
                agency_name => report.agency_name,
                version => report.version,
                author_name => report.author_name,
                author_role => report.author_role,
                status => report_status(report.status),
                decision_note => report.decision_note,
                entry_count => report.entry_count,
                submitted => views::time(report.submit_time.as_ref()),
                content_hash => report.content_hash,
                summary => narrative.summary,
                analysis => narrative.analysis_of_involvement,
                went_well => narrative.what_went_well,
                could_be_better => narrative.what_could_have_been_better,
                learning => narrative.learning,
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

// ---------------------------------------------------------------------------------------
// The combined chronology.

/// The last page number the chronology is read to.
const MAX_PAGE: usize = 1_000_000;

/// What the chronology's filter asks for.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ChronologyFilter {
    pub(crate) agency: String,
    /// Part of the practitioner's name, any case.
    pub(crate) practitioner: String,
    practitioner_lower: String,
    pub(crate) from: Option<Date>,
    pub(crate) to: Option<Date>,
    /// Only accepted reports' entries (else the latest submitted too).
    pub(crate) accepted_only: bool,
    /// 1 for the first.
    pub(crate) page: usize,
}

fn ordinal(date: &Date) -> (i32, i32, i32) {
    (date.year, date.month, date.day)
}

impl ChronologyFilter {
    /// The filter in a query string; its problems on `form.errors`.
    pub(crate) fn parse(form: &mut Form) -> Self {
        let from = form.date("from", "the start date", false);
        let to = form.date("to", "the end date", false);
        if let (Some(from), Some(to)) = (&from, &to)
            && ordinal(from) > ordinal(to)
        {
            form.errors.add(
                "to",
                "The end date must be the same as or after the start date",
            );
        }
        // Past the millionth page there is nothing (and no arithmetic overflows).
        let page = form
            .get("page")
            .parse::<usize>()
            .unwrap_or(1)
            .clamp(1, MAX_PAGE);
        Self {
            agency: form.get("agency").to_string(),
            practitioner: form.get("practitioner").to_string(),
            practitioner_lower: form.get("practitioner").to_lowercase(),
            from,
            to,
            accepted_only: form.get("reports") == "accepted",
            page,
        }
    }

    /// Whether the stream's `entry` is one the filter asks for (the agency is asked of the
    /// service itself).
    /// How many entries to ask the service for, for page `self.page` of `page_size`: the
    /// pages before it, this one and one more (to know there is a next page), when every
    /// filter is the service's own; all of them (0) when the web filters too (practitioner,
    /// dates), as it cannot know how many it will skip.
    pub(crate) fn limit(&self, page_size: usize) -> i32 {
        if !self.practitioner.is_empty() || self.from.is_some() || self.to.is_some() {
            return 0;
        }
        let wanted = self.page.max(1).saturating_mul(page_size).saturating_add(1);
        i32::try_from(wanted).unwrap_or(0)
    }

    pub(crate) fn matches(&self, entry: &submissions::CombinedChronologyEntry) -> bool {
        let Some(inner) = entry.entry.as_ref() else {
            return false;
        };
        if !self.practitioner.is_empty()
            && !inner
                .practitioner_name
                .to_lowercase()
                .contains(&self.practitioner_lower)
        {
            return false;
        }
        let day = inner.occurred_on.as_ref().map(ordinal);
        if let Some(from) = &self.from
            && day.is_none_or(|day| day < ordinal(from))
        {
            return false;
        }
        if let Some(to) = &self.to
            && day.is_none_or(|day| day > ordinal(to))
        {
            return false;
        }
        true
    }

    /// This filter's query string at `page`.
    pub(crate) fn link(&self, review_id: &str, page: usize) -> String {
        let mut url = form_urlencoded::Serializer::new(String::new());
        if !self.agency.is_empty() {
            url.append_pair("agency", &self.agency);
        }
        if !self.practitioner.is_empty() {
            url.append_pair("practitioner", &self.practitioner);
        }
        for (name, date) in [("from", &self.from), ("to", &self.to)] {
            if let Some(date) = date {
                url.append_pair(&format!("{name}-day"), &date.day.to_string());
                url.append_pair(&format!("{name}-month"), &date.month.to_string());
                url.append_pair(&format!("{name}-year"), &date.year.to_string());
            }
        }
        if self.accepted_only {
            url.append_pair("reports", "accepted");
        }
        if page > 1 {
            url.append_pair("page", &page.to_string());
        }
        format!("/reviews/{review_id}/chronology?{}", url.finish())
    }
}

/// One page of the entries `filter` asks for, read from `entries` in order: the earlier
/// pages' are skipped, reading stops once the page is full and one more is known to exist
/// (so the first page of a long chronology is quick). Whether there is a next page too.
pub(crate) async fn page_of<S, E>(
    entries: &mut S,
    filter: &ChronologyFilter,
    page_size: usize,
) -> Result<(Vec<submissions::CombinedChronologyEntry>, bool), E>
where
    S: futures::Stream<Item = Result<submissions::CombinedChronologyEntry, E>> + Unpin,
{
    use futures::StreamExt;
    let skip = (filter.page.max(1) - 1).saturating_mul(page_size);
    let mut skipped = 0;
    let mut page = Vec::new();
    let mut more = false;
    // Read to the end of the stream, never cancel it: asked with [`ChronologyFilter::limit`]
    // the service ends it one entry after the page; with the filters the web applies itself
    // it is the whole chronology (a cancelled stream per page would, under load, make the
    // HTTP/2 connection to the service give up).
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        if more || !filter.matches(&entry) {
            continue;
        }
        if skipped < skip {
            skipped += 1;
            continue;
        }
        if page.len() == page_size {
            more = true;
            continue;
        }
        page.push(entry);
    }
    Ok((page, more))
}

#[derive(Debug, Serialize)]
struct EntryView {
    date: Option<String>,
    time_of_day: String,
    agency_name: String,
    service: String,
    practitioner: String,
    description: String,
    outcome: String,
    report_status: String,
}

fn days_since_epoch(date: Option<&Date>) -> Option<i64> {
    let date = date?;
    let day = chrono::NaiveDate::from_ymd_opt(
        date.year,
        u32::try_from(date.month).ok()?,
        u32::try_from(date.day).ok()?,
    )?;
    Some(
        day.signed_duration_since(chrono::NaiveDate::default())
            .num_days(),
    )
}

/// GET /reviews/{id}/chronology: the combined chronology, filtered and paged, as a table
/// and a timeline with a lane per agency.
pub(crate) async fn chronology(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = async {
        let review = review_of(&state, &signed.user, &id).await?;
        let mut form = Form::parse(query.as_deref().unwrap_or_default().as_bytes());
        let filter = ChronologyFilter::parse(&mut form);
        let mut agencies = vec![OptionView {
            value: String::new(),
            label: "All agencies".into(),
        }];
        if let Some(terms) = &review.terms_of_reference {
            agencies.extend(terms.agencies_in_scope.iter().map(|agency| OptionView {
                value: agency.id.clone(),
                label: agency.name.clone(),
            }));
        }
        let (entries, more) = if form.errors.is_empty() {
            let mut client = state.services.submissions.clone();
            let mut stream = client
                .stream_combined_chronology(authed(
                    submissions::StreamCombinedChronologyRequest {
                        review_id: id.clone(),
                        include_pending: !filter.accepted_only,
                        agency_id: filter.agency.clone(),
                        limit: filter.limit(CHRONOLOGY_PAGE_SIZE),
                    },
                    &signed.user,
                )?)
                .await?
                .into_inner();
            page_of(&mut stream, &filter, CHRONOLOGY_PAGE_SIZE).await?
        } else {
            (Vec::new(), false)
        };
        let timeline: Vec<TimelineEntry> = entries
            .iter()
            .filter_map(|entry| {
                let inner = entry.entry.as_ref()?;
                Some(TimelineEntry {
                    lane: entry.agency_name.clone(),
                    day: days_since_epoch(inner.occurred_on.as_ref())?,
                    title: format!(
                        "{}, {}: {}",
                        views::date(inner.occurred_on.as_ref()).unwrap_or_default(),
                        entry.agency_name,
                        inner.service
                    ),
                })
            })
            .collect();
        let layout = chronology_svg::layout(&timeline);
        let first = entries
            .first()
            .and_then(|entry| entry.entry.as_ref())
            .and_then(|inner| views::date(inner.occurred_on.as_ref()))
            .unwrap_or_default();
        let last = entries
            .last()
            .and_then(|entry| entry.entry.as_ref())
            .and_then(|inner| views::date(inner.occurred_on.as_ref()))
            .unwrap_or_default();
        let svg = chronology_svg::render(
            &layout,
            &first,
            &last,
            &format!(
                "Timeline of the {} entries on this page, a lane for each of {} agencies",
                entries.len(),
                layout.lanes.len()
            ),
        );
        let rows: Vec<EntryView> = entries
            .iter()
            .map(|entry| {
                let inner = entry.entry.clone().unwrap_or_default();
                let practitioner = match (
                    inner.practitioner_name.is_empty(),
                    inner.practitioner_role.is_empty(),
                ) {
                    (false, false) => {
                        format!("{} ({})", inner.practitioner_name, inner.practitioner_role)
                    }
                    (false, true) => inner.practitioner_name.clone(),
                    (true, _) => inner.practitioner_role.clone(),
                };
                EntryView {
                    date: views::date(inner.occurred_on.as_ref()),
                    time_of_day: inner.time_of_day,
                    agency_name: entry.agency_name.clone(),
                    service: inner.service,
                    practitioner,
                    description: inner.description,
                    outcome: inner.outcome,
                    report_status: report_status(entry.report_status),
                }
            })
            .collect();
        let first_row = (filter.page - 1) * CHRONOLOGY_PAGE_SIZE + 1; // page ≤ MAX_PAGE
        let page = render(
            &state,
            "reviewer/chronology.html",
            &signed.session,
            context! {
                review => ReviewView::from(&review),
                form => form.values(),
                errors => form.errors,
                dates => date_inputs(&form),
                agencies,
                agency => filter.agency,
                reports => if filter.accepted_only { "accepted" } else { "all" },
                rows,
                first_row,
                last_row => first_row + entries.len().saturating_sub(1),
                page_number => filter.page,
                previous_page => (filter.page > 1).then(|| filter.link(&id, filter.page - 1)),
                next_page => more.then(|| filter.link(&id, filter.page + 1)),
                svg => minijinja::Value::from_safe_string(svg),
            },
        )?;
        Ok(with_status(page, !form.errors.is_empty()))
    }
    .await;
    signed.finish(&state, outcome)
}

// ---------------------------------------------------------------------------------------
// Practitioners.

#[derive(Debug, Serialize)]
struct PractitionerView {
    id: String,
    name: String,
    role: String,
    agency_id: String,
    /// The agency's name in the terms of reference (its id when not there).
    agency_name: String,
    email: String,
    involvement: String,
    suggested: bool,
    deferred: bool,
    deferral: String,
}

fn deferral_words(reason: i32) -> String {
    practitioners::DeferralReason::try_from(reason)
        .map(|reason| views::words(reason.as_str_name(), "DEFERRAL_REASON_"))
        .unwrap_or_default()
}

impl From<&practitioners::Practitioner> for PractitionerView {
    fn from(practitioner: &practitioners::Practitioner) -> Self {
        let involvement = match (
            views::date(practitioner.involvement_start.as_ref()),
            views::date(practitioner.involvement_end.as_ref()),
        ) {
            (Some(start), Some(end)) => format!("{start} to {end}"),
            _ => String::new(),
        };
        Self {
            id: practitioner.id.clone(),
            name: practitioner.name.clone(),
            role: practitioner.role.clone(),
            agency_id: practitioner.agency_id.clone(),
            agency_name: practitioner.agency_id.clone(),
            email: practitioner.email.clone(),
            involvement,
            suggested: practitioner.status() == practitioners::PractitionerStatus::Suggested,
            deferred: practitioner.deferral.is_some(),
            deferral: practitioner
                .deferral
                .as_ref()
                .map(|deferral| {
                    let mut words = deferral_words(deferral.reason);
                    if !deferral.detail.is_empty() {
                        words = format!("{words}: {}", deferral.detail);
                    }
                    if let Some(review) = views::date(deferral.review_date.as_ref()) {
                        words = format!("{words} (look again by {review})");
                    }
                    words
                })
                .unwrap_or_default(),
        }
    }
}

async fn practitioners_of(
    state: &AppState,
    user: &User,
    id: &str,
) -> Result<Vec<practitioners::Practitioner>, PageError> {
    let mut client = state.services.practitioners.clone();
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let response = client
            .list_practitioners(authed(
                practitioners::ListPractitionersRequest {
                    review_id: id.to_string(),
                    include_suggested: true,
                    page_size: 500,
                    page_token,
                },
                user,
            )?)
            .await?
            .into_inner();
        all.extend(response.practitioners);
        if response.next_page_token.is_empty() || all.len() >= 5_000 {
            return Ok(all);
        }
        page_token = response.next_page_token;
    }
}

/// GET /reviews/{id}/practitioners: confirmed and suggested practitioners.
pub(crate) async fn practitioner_list(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let outcome = async {
        let review = review_of(&state, &signed.user, &id).await?;
        let listed = practitioners_of(&state, &signed.user, &id).await?;
        let (suggested, confirmed): (Vec<PractitionerView>, Vec<PractitionerView>) = listed
            .iter()
            .map(|practitioner| {
                let mut view = PractitionerView::from(practitioner);
                let name = agency_name_of(&review, &view.agency_id);
                if !name.is_empty() {
                    view.agency_name = name;
                }
                view
            })
            .partition(|practitioner| practitioner.suggested);
        render(
            &state,
            "reviewer/practitioners.html",
            &signed.session,
            context! {
                review => ReviewView::from(&review),
                suggested,
                confirmed,
                may_write => signed.user.may(PRACTITIONERS, "RegisterPractitioner"),
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

fn agency_options(review: &registry::Review) -> Vec<OptionView> {
    let mut options = vec![OptionView {
        value: String::new(),
        label: "Choose the agency".into(),
    }];
    if let Some(terms) = &review.terms_of_reference {
        options.extend(terms.agencies_in_scope.iter().map(|agency| OptionView {
            value: agency.id.clone(),
            label: agency.name.clone(),
        }));
    }
    options
}

fn agency_name_of(review: &registry::Review, agency_id: &str) -> String {
    review
        .terms_of_reference
        .as_ref()
        .and_then(|terms| terms.agencies_in_scope.iter().find(|a| a.id == agency_id))
        .map(|agency| agency.name.clone())
        .unwrap_or_default()
}

fn practitioner_form_page(
    state: &AppState,
    session: &Session,
    form: &Form,
    request_id: &str,
    review: &registry::Review,
    practitioner: Option<&str>,
) -> Result<Response, PageError> {
    let action = match practitioner {
        Some(practitioner) => format!(
            "/reviews/{}/practitioners/{practitioner}/confirm",
            review.id
        ),
        None => format!("/reviews/{}/practitioners/new", review.id),
    };
    form_page(
        state,
        session,
        "reviewer/practitioner_form.html",
        form,
        request_id,
        review,
        context! {
            action,
            confirming => practitioner.is_some(),
            agencies => agency_options(review),
        },
    )
}

/// GET /reviews/{id}/practitioners/new.
pub(crate) async fn register_form(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let outcome = async {
        signed.may(PRACTITIONERS, "RegisterPractitioner")?;
        let review = review_of(&state, &signed.user, &id).await?;
        practitioner_form_page(
            &state,
            &signed.session,
            &Form::default(),
            &request_id(),
            &review,
            None,
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// GET /reviews/{id}/practitioners/{practitioner}/confirm: the suggestion's name, role
/// and agency, for the reviewer to complete.
pub(crate) async fn confirm_form(
    State(state): Shared,
    signed: SignedIn,
    Path((id, practitioner)): Path<(String, String)>,
) -> Response {
    let outcome = async {
        signed.may(PRACTITIONERS, "RegisterPractitioner")?;
        let review = review_of(&state, &signed.user, &id).await?;
        let listed = practitioners_of(&state, &signed.user, &id).await?;
        let found = listed
            .iter()
            .find(|listed| listed.id == practitioner)
            .ok_or(PageError::NotFound)?;
        let form = Form {
            fields: vec![
                ("name".into(), found.name.clone()),
                ("role".into(), found.role.clone()),
                ("agency_id".into(), found.agency_id.clone()),
                ("email".into(), found.email.clone()),
            ],
            errors: FormErrors::default(),
        };
        practitioner_form_page(
            &state,
            &signed.session,
            &form,
            &request_id(),
            &review,
            Some(&practitioner),
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/practitioners/new.
pub(crate) async fn register(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = register_practitioner(&state, &posted, &id, None).await;
    posted.finish(&state, outcome)
}

/// POST /reviews/{id}/practitioners/{practitioner}/confirm.
pub(crate) async fn confirm(
    State(state): Shared,
    Path((id, practitioner)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = register_practitioner(&state, &posted, &id, Some(&practitioner)).await;
    posted.finish(&state, outcome)
}

async fn register_practitioner(
    state: &AppState,
    posted: &Posted,
    id: &str,
    practitioner: Option<&str>,
) -> Result<Response, PageError> {
    let review = review_of(state, &posted.user, id).await?;
    let mut form = posted_form(posted);
    let request_id = request_id_of(&form);
    let name = form.required("name", "Enter the practitioner's name");
    let role = form.required("role", "Enter the practitioner's job title");
    let agency_id = form.required("agency_id", "Choose the practitioner's agency");
    let email = form.required("email", "Enter the practitioner's work email address");
    let involvement_start = form.date(
        "involvement_start",
        "the date they started working with the family",
        true,
    );
    let involvement_end = form.date(
        "involvement_end",
        "the date they stopped working with the family",
        true,
    );
    let again = |form: &Form| {
        practitioner_form_page(
            state,
            &posted.session,
            form,
            &request_id,
            &review,
            practitioner,
        )
    };
    if !form.errors.is_empty() {
        return again(&form);
    }
    let mut client = state.services.practitioners.clone();
    let registered = client
        .register_practitioner(authed(
            practitioners::RegisterPractitionerRequest {
                request_id: request_id.clone(),
                review_id: id.to_string(),
                practitioner_id: practitioner.unwrap_or_default().to_string(),
                agency_name: agency_name_of(&review, &agency_id),
                name,
                role,
                agency_id,
                email,
                involvement_start,
                involvement_end,
            },
            &posted.user,
        )?)
        .await;
    commanded(
        registered,
        &mut form,
        |_| format!("/reviews/{id}/practitioners"),
        again,
    )
}

fn defer_page(
    state: &AppState,
    session: &Session,
    form: &Form,
    review: &registry::Review,
    practitioner: &practitioners::Practitioner,
) -> Result<Response, PageError> {
    let reasons = [
        (
            practitioners::DeferralReason::PoliceInvestigationWitness,
            "A witness in a police investigation",
        ),
        (practitioners::DeferralReason::Other, "Another reason"),
    ]
    .into_iter()
    .map(|(reason, label)| OptionView {
        value: reason.as_str_name().to_string(),
        label: label.to_string(),
    })
    .collect::<Vec<_>>();
    form_page(
        state,
        session,
        "reviewer/defer.html",
        form,
        "",
        review,
        context! {
            practitioner => PractitionerView::from(practitioner),
            reasons,
        },
    )
}

async fn practitioner_of(
    state: &AppState,
    user: &User,
    id: &str,
    practitioner: &str,
) -> Result<practitioners::Practitioner, PageError> {
    practitioners_of(state, user, id)
        .await?
        .into_iter()
        .find(|listed| listed.id == practitioner)
        .ok_or(PageError::NotFound)
}

/// GET /reviews/{id}/practitioners/{practitioner}/defer: hold contact back.
pub(crate) async fn defer_form(
    State(state): Shared,
    signed: SignedIn,
    Path((id, practitioner)): Path<(String, String)>,
) -> Response {
    let outcome = async {
        signed.may(PRACTITIONERS, "DeferContact")?;
        let review = review_of(&state, &signed.user, &id).await?;
        let found = practitioner_of(&state, &signed.user, &id, &practitioner).await?;
        defer_page(&state, &signed.session, &Form::default(), &review, &found)
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/practitioners/{practitioner}/defer.
pub(crate) async fn defer(
    State(state): Shared,
    Path((id, practitioner)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let review = review_of(&state, &posted.user, &id).await?;
        let found = practitioner_of(&state, &posted.user, &id, &practitioner).await?;
        let mut form = posted_form(&posted);
        let reason = practitioners::DeferralReason::from_str_name(form.get("reason"));
        if reason.is_none() {
            form.errors.add("reason", "Choose why contact is held back");
        }
        let detail = form.get("detail").to_string();
        let authorised_by = form.required("authorised_by", "Enter who authorised it");
        let review_date = form.date("review_date", "the date to look at it again", true);
        let again = |form: &Form| defer_page(&state, &posted.session, form, &review, &found);
        if !form.errors.is_empty() {
            return again(&form);
        }
        let mut client = state.services.practitioners.clone();
        let deferred = client
            .defer_contact(authed(
                practitioners::DeferContactRequest {
                    review_id: id.clone(),
                    practitioner_id: practitioner.clone(),
                    reason: reason.map(|reason| reason as i32).unwrap_or_default(),
                    detail,
                    authorised_by,
                    review_date,
                },
                &posted.user,
            )?)
            .await;
        commanded(
            deferred,
            &mut form,
            |_| format!("/reviews/{id}/practitioners"),
            again,
        )
    }
    .await;
    posted.finish(&state, outcome)
}

/// POST /reviews/{id}/practitioners/{practitioner}/release: contact may go ahead.
pub(crate) async fn release(
    State(state): Shared,
    Path((id, practitioner)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut client = state.services.practitioners.clone();
        client
            .release_contact(authed(
                practitioners::ReleaseContactRequest {
                    review_id: id.clone(),
                    practitioner_id: practitioner,
                },
                &posted.user,
            )?)
            .await?;
        Ok(see_other(&format!("/reviews/{id}/practitioners")))
    }
    .await;
    posted.finish(&state, outcome)
}

fn conversation_page(
    state: &AppState,
    session: &Session,
    form: &Form,
    request_id: &str,
    review: &registry::Review,
    practitioner: &practitioners::Practitioner,
) -> Result<Response, PageError> {
    form_page(
        state,
        session,
        "reviewer/conversation.html",
        form,
        request_id,
        review,
        context! { practitioner => PractitionerView::from(practitioner) },
    )
}

/// GET /reviews/{id}/practitioners/{practitioner}/conversation.
pub(crate) async fn conversation_form(
    State(state): Shared,
    signed: SignedIn,
    Path((id, practitioner)): Path<(String, String)>,
) -> Response {
    let outcome = async {
        signed.may(PRACTITIONERS, "ScheduleConversation")?;
        let review = review_of(&state, &signed.user, &id).await?;
        let found = practitioner_of(&state, &signed.user, &id, &practitioner).await?;
        conversation_page(
            &state,
            &signed.session,
            &Form::default(),
            &request_id(),
            &review,
            &found,
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/practitioners/{practitioner}/conversation: the invitation goes out;
/// then the learning from it can be recorded.
pub(crate) async fn conversation(
    State(state): Shared,
    Path((id, practitioner)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let review = review_of(&state, &posted.user, &id).await?;
        let found = practitioner_of(&state, &posted.user, &id, &practitioner).await?;
        let mut form = posted_form(&posted);
        let request_id = request_id_of(&form);
        let scheduled_at = moment(&mut form, "scheduled_at", "the day", "time");
        let location = form.required("location", "Enter where it will be, or the online link");
        let advance_information = form.required(
            "advance_information",
            "Enter what the practitioner should prepare",
        );
        let again = |form: &Form| {
            conversation_page(&state, &posted.session, form, &request_id, &review, &found)
        };
        if !form.errors.is_empty() {
            return again(&form);
        }
        let mut client = state.services.practitioners.clone();
        let scheduled = client
            .schedule_conversation(authed(
                practitioners::ScheduleConversationRequest {
                    request_id: request_id.clone(),
                    review_id: id.clone(),
                    practitioner_id: practitioner.clone(),
                    scheduled_at,
                    location,
                    advance_information,
                },
                &posted.user,
            )?)
            .await;
        commanded(
            scheduled,
            &mut form,
            |conversation| format!("/reviews/{id}/learning/conversation/{}", conversation.id),
            again,
        )
    }
    .await;
    posted.finish(&state, outcome)
}

/// The confirmed practitioners (those `also` keeps) as checkboxes named `field`, ticked as
/// the form had them: the learning event's and its attendance's lists are built one way.
fn confirmed_choices(
    listed: &[practitioners::Practitioner],
    form: &Form,
    field: &str,
    also: impl Fn(&practitioners::Practitioner) -> bool,
) -> Vec<ChoiceView> {
    let ticked = fields_named(&form.fields, field);
    listed
        .iter()
        .filter(|p| p.status() == practitioners::PractitionerStatus::Confirmed && also(p))
        .map(|p| ChoiceView {
            value: p.id.clone(),
            label: format!("{}, {}", p.name, p.role),
            checked: ticked.contains(&p.id.as_str()),
        })
        .collect()
}

fn learning_event_page(
    state: &AppState,
    session: &Session,
    form: &Form,
    request_id: &str,
    review: &registry::Review,
    listed: &[practitioners::Practitioner],
) -> Result<Response, PageError> {
    let confirmed = confirmed_choices(listed, form, "remove", |p| p.deferral.is_none());
    form_page(
        state,
        session,
        "reviewer/learning_event.html",
        form,
        request_id,
        review,
        context! { confirmed },
    )
}

/// GET /reviews/{id}/learning-events/new.
pub(crate) async fn learning_event_form(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let outcome = async {
        signed.may(PRACTITIONERS, "ScheduleLearningEvent")?;
        let review = review_of(&state, &signed.user, &id).await?;
        let listed = practitioners_of(&state, &signed.user, &id).await?;
        learning_event_page(
            &state,
            &signed.session,
            &Form::default(),
            &request_id(),
            &review,
            &listed,
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/learning-events/new: to the event's attendance.
pub(crate) async fn learning_event(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let review = review_of(&state, &posted.user, &id).await?;
        let listed = practitioners_of(&state, &posted.user, &id).await?;
        let mut form = posted_form(&posted);
        let request_id = request_id_of(&form);
        let scheduled_at = moment(&mut form, "scheduled_at", "the day of the event", "time");
        let location = form.required("location", "Enter where it will be, or the online link");
        let agenda = form.required("agenda", "Enter the agenda");
        let remove: Vec<String> = fields_named(&form.fields, "remove")
            .into_iter()
            .map(str::to_string)
            .collect();
        let again = |form: &Form| {
            learning_event_page(&state, &posted.session, form, &request_id, &review, &listed)
        };
        if !form.errors.is_empty() {
            return again(&form);
        }
        let mut client = state.services.practitioners.clone();
        let scheduled = client
            .schedule_learning_event(authed(
                practitioners::ScheduleLearningEventRequest {
                    request_id: request_id.clone(),
                    review_id: id.clone(),
                    scheduled_at,
                    location,
                    agenda,
                    add_practitioner_ids: Vec::new(),
                    remove_practitioner_ids: remove,
                },
                &posted.user,
            )?)
            .await;
        commanded(
            scheduled,
            &mut form,
            |event| format!("/reviews/{id}/learning-events/{}", event.id),
            again,
        )
    }
    .await;
    posted.finish(&state, outcome)
}

fn attendance_page(
    state: &AppState,
    session: &Session,
    form: &Form,
    review: &registry::Review,
    event: &str,
    listed: &[practitioners::Practitioner],
) -> Result<Response, PageError> {
    let confirmed = confirmed_choices(listed, form, "attended", |_| true);
    form_page(
        state,
        session,
        "reviewer/attendance.html",
        form,
        "",
        review,
        context! { confirmed, event },
    )
}

/// GET /reviews/{id}/learning-events/{event}: who came.
pub(crate) async fn attendance_form(
    State(state): Shared,
    signed: SignedIn,
    Path((id, event)): Path<(String, String)>,
) -> Response {
    let outcome = async {
        signed.may(PRACTITIONERS, "RecordAttendance")?;
        let review = review_of(&state, &signed.user, &id).await?;
        let listed = practitioners_of(&state, &signed.user, &id).await?;
        attendance_page(
            &state,
            &signed.session,
            &Form::default(),
            &review,
            &event,
            &listed,
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/learning-events/{event}: then the learning from it.
pub(crate) async fn attendance(
    State(state): Shared,
    Path((id, event)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let review = review_of(&state, &posted.user, &id).await?;
        let listed = practitioners_of(&state, &posted.user, &id).await?;
        let mut form = posted_form(&posted);
        let attended: Vec<String> = fields_named(&form.fields, "attended")
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut client = state.services.practitioners.clone();
        let recorded = client
            .record_attendance(authed(
                practitioners::RecordAttendanceRequest {
                    review_id: id.clone(),
                    learning_event_id: event.clone(),
                    attended_practitioner_ids: attended,
                },
                &posted.user,
            )?)
            .await;
        match recorded {
            Ok(_) => Ok(see_other(&format!("/reviews/{id}/learning/event/{event}"))),
            Err(status) => {
                PageError::from(status).into_form_errors(&mut form.errors)?;
                // The service names the list; the checkboxes' first box is its field.
                if let Some(error) = form.errors.list.first_mut() {
                    error.field = "attended".into();
                }
                let first = form.errors.list.first().cloned();
                if let Some(first) = first {
                    form.errors
                        .by_field
                        .insert("attended".into(), first.message);
                }
                attendance_page(&state, &posted.session, &form, &review, &event, &listed)
            }
        }
    }
    .await;
    posted.finish(&state, outcome)
}

/// How many learning points one form offers.
const LEARNING_ROWS: usize = 5;

fn themes() -> Vec<OptionView> {
    let mut options = vec![OptionView {
        value: String::new(),
        label: "Choose a theme".into(),
    }];
    options.extend(
        (1..)
            .map_while(|value| practitioners::LearningTheme::try_from(value).ok())
            .map(|theme| OptionView {
                value: theme.as_str_name().to_string(),
                label: views::words(theme.as_str_name(), "LEARNING_THEME_"),
            }),
    );
    options
}

fn learning_page(
    state: &AppState,
    session: &Session,
    form: &Form,
    request_id: &str,
    review: &registry::Review,
    kind: &str,
    source: &str,
) -> Result<Response, PageError> {
    form_page(
        state,
        session,
        "reviewer/learning.html",
        form,
        request_id,
        review,
        context! {
            kind,
            source,
            themes => themes(),
            rows => (1..=LEARNING_ROWS).collect::<Vec<_>>(),
        },
    )
}

/// GET /reviews/{id}/learning/{event|conversation}/{source}: learning by theme.
pub(crate) async fn learning_form(
    State(state): Shared,
    signed: SignedIn,
    Path((id, kind, source)): Path<(String, String, String)>,
) -> Response {
    let outcome = async {
        signed.may(PRACTITIONERS, "RecordLearning")?;
        if kind != "event" && kind != "conversation" {
            return Err(PageError::NotFound);
        }
        let review = review_of(&state, &signed.user, &id).await?;
        learning_page(
            &state,
            &signed.session,
            &Form::default(),
            &request_id(),
            &review,
            &kind,
            &source,
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/learning/{event|conversation}/{source}.
pub(crate) async fn learning(
    State(state): Shared,
    Path((id, kind, source)): Path<(String, String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        if kind != "event" && kind != "conversation" {
            return Err(PageError::NotFound);
        }
        let review = review_of(&state, &posted.user, &id).await?;
        let mut form = posted_form(&posted);
        let request_id = request_id_of(&form);
        let mut points = Vec::new();
        for row in 1..=LEARNING_ROWS {
            let theme = form.get(&format!("theme_{row}")).to_string();
            let description = form.get(&format!("description_{row}")).to_string();
            if theme.is_empty() && description.is_empty() {
                continue;
            }
            let Some(parsed) = practitioners::LearningTheme::from_str_name(&theme) else {
                form.errors
                    .add(&format!("theme_{row}"), "Choose the theme of this learning");
                continue;
            };
            if description.is_empty() {
                form.errors.add(
                    &format!("description_{row}"),
                    "Enter what was learnt about the system",
                );
                continue;
            }
            points.push(practitioners::LearningPoint {
                theme: parsed as i32,
                description,
            });
        }
        if points.is_empty() && form.errors.is_empty() {
            form.errors
                .add("theme_1", "Enter at least one learning point");
        }
        let again = |form: &Form| {
            learning_page(
                &state,
                &posted.session,
                form,
                &request_id,
                &review,
                &kind,
                &source,
            )
        };
        if !form.errors.is_empty() {
            return again(&form);
        }
        let (learning_event_id, conversation_id) = if kind == "event" {
            (source.clone(), String::new())
        } else {
            (String::new(), source.clone())
        };
        let mut client = state.services.practitioners.clone();
        let recorded = client
            .record_learning(authed(
                practitioners::RecordLearningRequest {
                    request_id: request_id.clone(),
                    review_id: id.clone(),
                    learning_event_id,
                    conversation_id,
                    points,
                },
                &posted.user,
            )?)
            .await;
        commanded(
            recorded,
            &mut form,
            |_| format!("/reviews/{id}/practitioners"),
            again,
        )
    }
    .await;
    posted.finish(&state, outcome)
}

// ---------------------------------------------------------------------------------------
// The overview report: drafted, checked, submitted.

/// How many recommendation rows the form offers.
const RECOMMENDATION_ROWS: usize = 8;

#[derive(Debug, Serialize)]
struct RecommendationRow {
    index: usize,
    reference: String,
    text: String,
    /// Who it may be addressed to, each checked or not: the agencies of the terms of
    /// reference and the partnership.
    addressees: Vec<Addressee>,
}

#[derive(Debug, Serialize)]
struct Addressee {
    value: String,
    label: String,
    checked: bool,
}

/// Who a recommendation may be addressed to: (value, label).
fn addressees_of(review: &registry::Review) -> Vec<(String, String)> {
    review
        .terms_of_reference
        .iter()
        .flat_map(|terms| &terms.agencies_in_scope)
        .map(|agency| (agency.id.clone(), agency.name.clone()))
        .chain(std::iter::once((
            "partnership".to_string(),
            "The safeguarding partnership".to_string(),
        )))
        .collect()
}

fn recommendation_rows(form: &Form, review: &registry::Review) -> Vec<RecommendationRow> {
    let addressees = addressees_of(review);
    (1..=RECOMMENDATION_ROWS)
        .map(|index| {
            let checked = crate::forms::fields_named(&form.fields, &format!("to_{index}"));
            RecommendationRow {
                index,
                reference: form.get(&format!("ref_{index}")).to_string(),
                text: form.get(&format!("text_{index}")).to_string(),
                addressees: addressees
                    .iter()
                    .map(|(value, label)| Addressee {
                        value: value.clone(),
                        label: label.clone(),
                        checked: checked.contains(&value.as_str()),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The terms' key lines of enquiry, each with the form's field for its findings.
#[derive(Debug, Serialize)]
struct EnquiryRow {
    field: String,
    line: String,
    findings: String,
}

fn enquiry_rows(form: &Form, review: &registry::Review) -> Vec<EnquiryRow> {
    review
        .terms_of_reference
        .iter()
        .flat_map(|terms| &terms.key_lines_of_enquiry)
        .enumerate()
        .map(|(index, line)| {
            let field = format!("enquiry_{}", index + 1);
            EnquiryRow {
                findings: form.get(&field).to_string(),
                field,
                line: line.clone(),
            }
        })
        .collect()
}

/// A panel comment not yet answered, with the form's field for its answer.
#[derive(Debug, Serialize)]
struct OpenComment {
    field: String,
    version: i32,
    section: String,
    text: String,
    author: String,
    answer: String,
}

fn open_comments(form: &Form, review: &registry::Review) -> Vec<OpenComment> {
    review
        .overview_report
        .iter()
        .flat_map(|report| &report.comments)
        .filter(|comment| comment.answered_in_version == 0)
        .map(|comment| {
            let field = format!("answer_{}", comment.id);
            OpenComment {
                answer: form.get(&field).to_string(),
                field,
                version: comment.version,
                section: views::report_section_words(&comment.section, review),
                text: comment.text.clone(),
                author: comment.author.clone(),
            }
        })
        .collect()
}

/// The overview report as the form sent it, problems on `form`.
fn overview_of(
    form: &mut Form,
    review: &registry::Review,
) -> registry::SubmitOverviewReportRequest {
    let findings = form.required("findings", "Enter the summary of the review's findings");
    let enquiry_findings = enquiry_rows(form, review)
        .into_iter()
        .map(|row| registry::EnquiryFindings {
            findings: form.required(&row.field, "Enter the findings on this line of enquiry"),
            line_of_enquiry: row.line,
        })
        .collect();
    let mut section = |field: &str, heading: &str| {
        form.required(field, &format!("Answer \u{201c}{heading}\u{201d}"))
    };
    let [
        standards_met,
        policies_followed,
        working_together,
        good_practice,
        learning,
    ] = SECTIONS.map(|(field, heading, _)| section(field, heading));
    let mut recommendations = Vec::new();
    let mut refs = Vec::new();
    for row in recommendation_rows(form, review) {
        match (row.reference.is_empty(), row.text.is_empty()) {
            (true, true) => continue,
            (true, false) => {
                form.errors.add(
                    &format!("ref_{}", row.index),
                    "Enter a reference for this recommendation, like R1",
                );
            }
            (false, true) => {
                form.errors
                    .add(&format!("text_{}", row.index), "Enter the recommendation");
            }
            (false, false) => {
                if refs.contains(&row.reference) {
                    form.errors.add(
                        &format!("ref_{}", row.index),
                        "Each recommendation's reference must be different",
                    );
                }
                refs.push(row.reference.clone());
                recommendations.push(registry::Recommendation {
                    r#ref: row.reference,
                    text: row.text,
                    addressed_to: row
                        .addressees
                        .into_iter()
                        .filter(|addressee| addressee.checked)
                        .map(|addressee| addressee.value)
                        .collect(),
                });
            }
        }
    }
    if recommendations.is_empty() && form.errors.is_empty() {
        form.errors
            .add("ref_1", "Enter at least one recommendation");
    }
    let answers = open_comments(form, review)
        .into_iter()
        .filter(|comment| !comment.answer.trim().is_empty())
        .map(|comment| registry::CommentAnswer {
            comment_id: comment.field.trim_start_matches("answer_").to_string(),
            answer: comment.answer,
        })
        .collect();
    registry::SubmitOverviewReportRequest {
        findings,
        recommendations,
        enquiry_findings,
        standards_met,
        policies_followed,
        working_together,
        good_practice,
        learning,
        answers,
        based_on_version: form.get("based_on_version").parse::<i32>().ok(),
        ..Default::default()
    }
}

fn overview_page(
    state: &AppState,
    session: &Session,
    form: &Form,
    request_id: &str,
    review: &registry::Review,
) -> Result<Response, PageError> {
    overview_page_with(state, session, form, request_id, review, None)
}

/// [`overview_page`], with what the registry said when the draft was made from a version
/// that is no longer the latest (`stale`): the latest version is shown beside the form.
fn overview_page_with(
    state: &AppState,
    session: &Session,
    form: &Form,
    request_id: &str,
    review: &registry::Review,
    stale: Option<&str>,
) -> Result<Response, PageError> {
    let stale = stale.map(|message| {
        let theirs = review.overview_report.as_ref().map(|report| {
            context! {
                version => report.version,
                submitted => views::time(report.submit_time.as_ref()),
                findings => report.findings,
                sections => report.enquiry_findings.iter().map(|given| {
                    context! { heading => given.line_of_enquiry, text => given.findings }
                }).chain(SECTIONS.iter().zip(views::report_section_texts(report))
                    .map(|((_, heading, _), text)| context! { heading => heading, text => text }))
                .collect::<Vec<_>>(),
            }
        });
        context! { message => crate::pages::sentence(message), theirs }
    });
    let latest = review.overview_report.as_ref().map(|report| {
        context! {
            version => report.version,
            submitted => views::time(report.submit_time.as_ref()),
            approved => views::time(report.approve_time.as_ref()),
        }
    });
    let sections: Vec<_> = SECTIONS
        .iter()
        .map(|(field, heading, hint)| {
            context! { field => field, heading => heading, hint => hint, value => form.get(field) }
        })
        .collect();
    form_page(
        state,
        session,
        "reviewer/overview.html",
        form,
        request_id,
        review,
        context! {
            rows => recommendation_rows(form, review),
            enquiries => enquiry_rows(form, review),
            sections,
            comments => open_comments(form, review),
            latest,
            stale,
        },
    )
}

/// GET /reviews/{id}/overview: the draft, starting from the latest version submitted.
pub(crate) async fn overview_form(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let outcome = async {
        signed.may(REGISTRY, "SubmitOverviewReport")?;
        let review = review_of(&state, &signed.user, &id).await?;
        let mut form = Form::default();
        // The version this draft is made from: another submitted meanwhile (another
        // session) is then not overwritten unseen.
        form.fields.push((
            "based_on_version".into(),
            review
                .overview_report
                .as_ref()
                .map_or(0, |report| report.version)
                .to_string(),
        ));
        if let Some(report) = &review.overview_report {
            form.fields
                .push(("findings".into(), report.findings.clone()));
            for row in enquiry_rows(&form, &review) {
                if let Some(given) = report
                    .enquiry_findings
                    .iter()
                    .find(|given| given.line_of_enquiry == row.line)
                {
                    form.fields.push((row.field, given.findings.clone()));
                }
            }
            for ((field, _, _), text) in SECTIONS.iter().zip(views::report_section_texts(report)) {
                form.fields.push(((*field).into(), text.clone()));
            }
            for (index, recommendation) in report.recommendations.iter().enumerate() {
                form.fields
                    .push((format!("ref_{}", index + 1), recommendation.r#ref.clone()));
                form.fields
                    .push((format!("text_{}", index + 1), recommendation.text.clone()));
                for addressee in &recommendation.addressed_to {
                    form.fields
                        .push((format!("to_{}", index + 1), addressee.clone()));
                }
            }
        }
        overview_page(&state, &signed.session, &form, &request_id(), &review)
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/overview: check your answers (or, with `change`, the form again).
pub(crate) async fn overview_check(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let review = review_of(&state, &posted.user, &id).await?;
        let mut form = posted_form(&posted);
        let request_id = request_id_of(&form);
        if form.get("change") == "yes" {
            return overview_page(&state, &posted.session, &form, &request_id, &review);
        }
        let draft = overview_of(&mut form, &review);
        if !form.errors.is_empty() {
            return overview_page(&state, &posted.session, &form, &request_id, &review);
        }
        let names = addressees_of(&review);
        let recommendations: Vec<_> = draft
            .recommendations
            .iter()
            .map(|r| {
                let addressed: Vec<&str> = r
                    .addressed_to
                    .iter()
                    .filter_map(|id| {
                        names
                            .iter()
                            .find(|(value, _)| value == id)
                            .map(|(_, label)| label.as_str())
                    })
                    .collect();
                context! { reference => r.r#ref, text => r.text, addressed => addressed.join(", ") }
            })
            .collect();
        let sections: Vec<_> = SECTIONS
            .iter()
            .map(|(field, heading, _)| context! { heading => heading, text => form.get(field) })
            .collect();
        let comments = open_comments(&form, &review);
        let hidden: Vec<(String, String)> = form
            .fields
            .iter()
            .filter(|(key, value)| {
                key != "csrf_token" && key != "request_id" && !value.trim().is_empty()
            })
            .cloned()
            .collect();
        render(
            &state,
            "reviewer/overview_check.html",
            &posted.session,
            context! {
                review => ReviewView::from(&review),
                findings => draft.findings,
                enquiries => draft.enquiry_findings.iter().map(|given| {
                    context! { line => given.line_of_enquiry, findings => given.findings }
                }).collect::<Vec<_>>(),
                sections,
                comments,
                recommendations,
                hidden,
                request_id,
            },
        )
    }
    .await;
    posted.finish(&state, outcome)
}

/// POST /reviews/{id}/overview/submit: the version goes to the panel.
pub(crate) async fn overview_submit(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let review = review_of(&state, &posted.user, &id).await?;
        let mut form = posted_form(&posted);
        let request_id = request_id_of(&form);
        let draft = overview_of(&mut form, &review);
        let again =
            |form: &Form| overview_page(&state, &posted.session, form, &request_id, &review);
        if !form.errors.is_empty() {
            return again(&form);
        }
        let mut client = state.services.registry.clone();
        let submitted = client
            .submit_overview_report(authed(
                registry::SubmitOverviewReportRequest {
                    review_id: id.clone(),
                    request_id: request_id.clone(),
                    ..draft
                },
                &posted.user,
            )?)
            .await;
        if let Err(status) = &submitted
            && status.code() == tonic::Code::Aborted
        {
            // Another version was submitted since this draft began: the latest beside the
            // draft, and the draft now made from it (sent again, it follows it on purpose).
            let review = review_of(&state, &posted.user, &id).await?;
            let latest = review
                .overview_report
                .as_ref()
                .map_or(0, |report| report.version);
            form.set("based_on_version", &latest.to_string());
            let mut page = overview_page_with(
                &state,
                &posted.session,
                &form,
                &request_id,
                &review,
                Some(status.message()),
            )?;
            *page.status_mut() = axum::http::StatusCode::CONFLICT;
            return Ok(page);
        }
        commanded(
            submitted,
            &mut form,
            |_| format!("/reviews/{id}/workspace"),
            again,
        )
    }
    .await;
    posted.finish(&state, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(agency: &str, name: &str, day: i32) -> submissions::CombinedChronologyEntry {
        submissions::CombinedChronologyEntry {
            agency_id: agency.into(),
            agency_name: agency.into(),
            entry: Some(submissions::ChronologyEntry {
                occurred_on: Some(Date {
                    year: 2025,
                    month: 1,
                    day,
                }),
                practitioner_name: name.into(),
                service: "Visit".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_filter_reads_its_query_and_matches_practitioner_and_dates() {
        let mut form =
            Form::parse(b"agency=police&practitioner=smith&from-day=5&from-month=1&from-year=2025");
        let filter = ChronologyFilter::parse(&mut form);
        assert!(form.errors.is_empty());
        assert_eq!(filter.agency, "police");
        assert_eq!(filter.page, 1);
        assert!(filter.matches(&entry("police", "Jo Smith", 5)));
        assert!(
            !filter.matches(&entry("police", "Jo Smith", 4)),
            "before from"
        );
        assert!(
            !filter.matches(&entry("police", "Al Jones", 9)),
            "another name"
        );
        assert_eq!(
            filter.link("r1", 2),
            "/reviews/r1/chronology?agency=police&practitioner=smith&from-day=5&from-month=1&from-year=2025&page=2"
        );
        let mut huge = Form::parse(b"page=99999999999999999999999");
        assert_eq!(
            ChronologyFilter::parse(&mut huge).page,
            1,
            "not a number: the first"
        );
        let mut far = Form::parse(b"page=18446744073709551615");
        assert_eq!(ChronologyFilter::parse(&mut far).page, MAX_PAGE);
        let mut backwards =
            Form::parse(b"from-day=5&from-month=1&from-year=2025&to-day=1&to-month=1&to-year=2025");
        ChronologyFilter::parse(&mut backwards);
        assert!(backwards.errors.by_field.contains_key("to"));
    }

    #[tokio::test]
    async fn a_page_is_taken_from_its_offset_and_the_service_asked_for_no_more() {
        use futures::StreamExt;
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let read = Arc::new(AtomicUsize::new(0));
        let counter = read.clone();
        let filter = ChronologyFilter {
            page: 2,
            ..Default::default()
        };
        assert_eq!(filter.limit(100), 201, "two pages and one to know of more");
        // The service ends the stream at the limit; the page reads it to its end.
        let limit = usize::try_from(filter.limit(100)).expect("limit");
        let entries = futures::stream::iter((1..=10_000).map(move |n| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(entry("police", "", 1 + n % 28))
        }))
        .take(limit);
        let mut entries = Box::pin(entries);
        let (page, more) = page_of(&mut entries, &filter, 100).await.expect("page");
        assert_eq!(page.len(), 100);
        assert!(more);
        assert_eq!(read.load(Ordering::SeqCst), 201, "nothing past the limit");
        assert!(
            entries.next().await.is_none(),
            "read to the end, not cancelled"
        );
        // A filter the web applies itself: every entry is asked for, and read.
        let filtered = ChronologyFilter {
            practitioner: "pat".into(),
            practitioner_lower: "pat".into(),
            ..Default::default()
        };
        assert_eq!(filtered.limit(100), 0);
        let last = ChronologyFilter {
            page: 100,
            ..Default::default()
        };
        let mut rest = Box::pin(futures::stream::iter(
            (0..9_950).map(|_| Ok::<_, ()>(entry("police", "", 1))),
        ));
        let (page, more) = page_of(&mut rest, &last, 100).await.expect("page");
        assert_eq!(page.len(), 50);
        assert!(!more);
    }

    /// A review whose terms have two lines of enquiry and the police in scope.
    fn review_with_terms() -> registry::Review {
        registry::Review {
            terms_of_reference: Some(registry::TermsOfReference {
                key_lines_of_enquiry: vec!["Sharing?".into(), "Voice?".into()],
                agencies_in_scope: vec![registry::Agency {
                    id: "police".into(),
                    name: "Southvale Police".into(),
                    contact_email: String::new(),
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    const SECTIONS_FILLED: &[u8] = b"&enquiry_1=E1&enquiry_2=E2&standards_met=S&policies_followed=P&working_together=W&good_practice=G&learning=L";

    #[test]
    fn recommendations_need_a_reference_and_text_and_unique_references() {
        let review = review_with_terms();
        let mut body =
            b"findings=F&ref_1=R1&text_1=Do+this&to_1=police&to_1=partnership&ref_2=R1&text_2=That&text_3=x".to_vec();
        body.extend_from_slice(SECTIONS_FILLED);
        let mut form = Form::parse(&body);
        let draft = overview_of(&mut form, &review);
        assert_eq!(draft.findings, "F");
        assert_eq!(draft.recommendations.len(), 2);
        assert_eq!(
            draft.recommendations[0].addressed_to,
            vec!["police", "partnership"]
        );
        assert!(form.errors.by_field.contains_key("ref_2"));
        assert!(form.errors.by_field.contains_key("ref_3"));
        let mut body = b"findings=F".to_vec();
        body.extend_from_slice(SECTIONS_FILLED);
        let mut empty = Form::parse(&body);
        overview_of(&mut empty, &review);
        assert!(empty.errors.by_field.contains_key("ref_1"));
    }

    #[test]
    fn every_line_of_enquiry_and_section_is_asked_for() {
        let review = review_with_terms();
        let mut form = Form::parse(b"findings=F&enquiry_1=E1&ref_1=R1&text_1=T");
        let draft = overview_of(&mut form, &review);
        let mut missing: Vec<&str> = form.errors.by_field.keys().map(String::as_str).collect();
        missing.sort_unstable();
        assert_eq!(
            missing,
            vec![
                "enquiry_2",
                "good_practice",
                "learning",
                "policies_followed",
                "standards_met",
                "working_together"
            ]
        );
        assert_eq!(
            draft.enquiry_findings[0],
            registry::EnquiryFindings {
                line_of_enquiry: "Sharing?".into(),
                findings: "E1".into()
            }
        );
    }
}
