//! The action plan's pages: a review's actions and their summary (the partnership's roles),
//! adding an action to an approved recommendation (partnership_admin), an action's progress
//! and evidence of impact (its owner agency or the business unit), and verifying that
//! evidence (partnership_admin). An agency lead's own actions are at `/actions`.
//!
//! The actions service decides who sees what: an agency sees only its own actions (another's
//! answers NOT_FOUND), so these pages never ask the registry for a review on an agency's
//! behalf (an agency may not read reviews).

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use cspr_platform::access::rules::{ACTIONS, REGISTRY};
use cspr_proto::actions::v1 as actions;
use cspr_proto::registry::v1 as registry;
use minijinja::context;
use serde::Serialize;

use super::admin::{request_id, request_id_of};
use super::{
    PageError, Posted, Shared, SignedIn, authed, commanded, posted_form, render, review_of,
    with_status,
};
use crate::AppState;
use crate::forms::{Form, field, form_fields};
use crate::session::{Session, User};
use crate::views::{self, words};

pub(crate) fn routes() -> axum::Router<std::sync::Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/actions", get(own_actions))
        .route("/reviews/{id}/actions", get(review_actions))
        .route(
            "/reviews/{id}/actions/new",
            get(new_action_form).post(new_action),
        )
        .route("/reviews/{id}/actions/{action}", get(action_page))
        .route(
            "/reviews/{id}/actions/{action}/progress",
            post(record_progress),
        )
        .route("/reviews/{id}/actions/{action}/verify", post(verify))
}

pub(crate) const TEMPLATES: &[(&str, &str)] = templates![
    "actions/list.html",
    "actions/new.html",
    "actions/action.html",
];

/// Actions on one page.
const PAGE_SIZE: i32 = 25;

/// The most actions one review's plan is read through to find one action (the service has
/// no read of one action: a plan is a handful of actions, one per recommendation or so).
const MOST_ACTIONS_SEARCHED: usize = 2_000;

/// An action as the pages show it.
#[derive(Debug, Serialize)]
struct ActionView {
    id: String,
    review_id: String,
    review_reference: String,
    recommendation_ref: String,
    description: String,
    owner_agency: String,
    /// The owner agency's name in the review's terms of reference, where the user may read
    /// the review (the action itself names the agency by id).
    owner_agency_name: String,
    owner_email: String,
    due_date: Option<String>,
    measure_of_success: String,
    status: String,
    /// The proto name of the status, for the progress form's radios.
    status_value: &'static str,
    tag: &'static str,
    overdue: bool,
    cancel_reason: String,
    evidence_of_impact: String,
    progress: Vec<ProgressView>,
    verified: Option<String>,
    verified_by: String,
}

#[derive(Debug, Serialize)]
struct ProgressView {
    time: Option<String>,
    author: String,
    status: String,
    note: String,
}

fn status_words(status: actions::ActionStatus) -> String {
    words(status.as_str_name(), "ACTION_STATUS_")
}

fn status_tag(status: actions::ActionStatus) -> &'static str {
    use actions::ActionStatus::*;
    match status {
        Verified => "govuk-tag--green",
        Completed => "govuk-tag--turquoise",
        InProgress => "govuk-tag--blue",
        Cancelled => "govuk-tag--grey",
        NotStarted | Unspecified => "govuk-tag--grey",
    }
}

/// The names of the agencies in a review's terms of reference, by id: for the roles that may
/// read the review; none otherwise, or when the review cannot be read now (the pages then
/// show the agency's id, as the action names it).
async fn agency_names(
    state: &AppState,
    user: &User,
    review_id: &str,
) -> std::collections::HashMap<String, String> {
    if !user.may(REGISTRY, "GetReview") {
        return Default::default();
    }
    match review_of(state, user, review_id).await {
        Ok(review) => review
            .terms_of_reference
            .into_iter()
            .flat_map(|terms| terms.agencies_in_scope)
            .map(|agency| (agency.id, agency.name))
            .collect(),
        Err(_) => Default::default(),
    }
}

impl ActionView {
    /// The view, with its owner's name from `names` (by agency id).
    fn named(action: &actions::Action, names: &std::collections::HashMap<String, String>) -> Self {
        let mut view = Self::from(action);
        if let Some(name) = names.get(&action.owner_agency) {
            view.owner_agency_name = name.clone();
        }
        view
    }
}

impl From<&actions::Action> for ActionView {
    fn from(action: &actions::Action) -> Self {
        let status = action.status();
        Self {
            id: action.id.clone(),
            review_id: action.review_id.clone(),
            review_reference: action.review_reference.clone(),
            recommendation_ref: action.recommendation_ref.clone(),
            description: action.description.clone(),
            owner_agency: action.owner_agency.clone(),
            owner_agency_name: String::new(),
            owner_email: action.owner_email.clone(),
            due_date: views::date(action.due_date.as_ref()),
            measure_of_success: action.measure_of_success.clone(),
            status: status_words(status),
            status_value: status.as_str_name(),
            tag: status_tag(status),
            overdue: action.overdue,
            cancel_reason: action.cancel_reason.clone(),
            evidence_of_impact: action.evidence_of_impact.clone(),
            progress: action
                .progress
                .iter()
                .rev()
                .map(|note| ProgressView {
                    time: views::time(note.time.as_ref()),
                    author: note.author.clone(),
                    status: status_words(note.status()),
                    note: note.note.clone(),
                })
                .collect(),
            verified: views::time(action.verify_time.as_ref()),
            verified_by: action.verified_by.clone(),
        }
    }
}

/// The statuses a filter or the progress form offers: (proto name, words).
#[derive(Debug, Serialize)]
struct StatusOption {
    value: &'static str,
    label: String,
}

fn status_options(statuses: &[actions::ActionStatus]) -> Vec<StatusOption> {
    statuses
        .iter()
        .map(|status| StatusOption {
            value: status.as_str_name(),
            label: status_words(*status),
        })
        .collect()
}

/// What a progress update may set (VERIFIED is the partnership's, by verifying).
const PROGRESS_STATUSES: [actions::ActionStatus; 4] = [
    actions::ActionStatus::NotStarted,
    actions::ActionStatus::InProgress,
    actions::ActionStatus::Completed,
    actions::ActionStatus::Cancelled,
];

/// The list's filters, from the query: status and overdue only, and the page.
struct Filters {
    status: Option<actions::ActionStatus>,
    overdue_only: bool,
    page_token: String,
}

impl Filters {
    fn of(query: &str) -> Self {
        let query = form_fields(query.as_bytes());
        Self {
            status: actions::ActionStatus::from_str_name(field(&query, "status"))
                .filter(|status| *status != actions::ActionStatus::Unspecified),
            overdue_only: field(&query, "overdue") == "yes",
            page_token: field(&query, "page_token").to_string(),
        }
    }

    /// This list's URL at `path` with these filters and `page_token`.
    fn link(&self, path: &str, page_token: &str) -> String {
        let mut url = form_urlencoded::Serializer::new(String::new());
        if let Some(status) = self.status {
            url.append_pair("status", status.as_str_name());
        }
        if self.overdue_only {
            url.append_pair("overdue", "yes");
        }
        if !page_token.is_empty() {
            url.append_pair("page_token", page_token);
        }
        format!("{path}?{}", url.finish())
    }
}

/// GET /actions: the actions the signed-in user's organisation owns (an agency lead), or
/// every action of the partnership (the roles that read them all).
async fn own_actions(
    State(state): Shared,
    signed: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = list_page(
        &state,
        &signed.session,
        &signed.user,
        None,
        query.as_deref().unwrap_or(""),
    )
    .await;
    signed.finish(&state, outcome)
}

/// GET /reviews/{id}/actions: a review's action plan.
async fn review_actions(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = list_page(
        &state,
        &signed.session,
        &signed.user,
        Some(&id),
        query.as_deref().unwrap_or(""),
    )
    .await;
    signed.finish(&state, outcome)
}

async fn list_page(
    state: &AppState,
    session: &Session,
    user: &User,
    review_id: Option<&str>,
    query: &str,
) -> Result<Response, PageError> {
    let filters = Filters::of(query);
    let mut client = state.services.actions.clone();
    let listed = client
        .list_actions(authed(
            actions::ListActionsRequest {
                review_id: review_id.unwrap_or_default().to_string(),
                status: filters
                    .status
                    .map(|status| status as i32)
                    .unwrap_or_default(),
                overdue_only: filters.overdue_only,
                page_size: PAGE_SIZE,
                page_token: filters.page_token.clone(),
                ..Default::default()
            },
            user,
        )?)
        .await?
        .into_inner();
    // The plan's figures, for the roles that see a whole plan (not an agency's share of it).
    let summary = if user.may(ACTIONS, "GetActionPlanSummary") {
        let summary = client
            .get_action_plan_summary(authed(
                actions::GetActionPlanSummaryRequest {
                    review_id: review_id.unwrap_or_default().to_string(),
                },
                user,
            )?)
            .await?
            .into_inner();
        Some(context! {
            total => summary.total,
            overdue => summary.overdue,
            completion => format!("{:.0}%", summary.completion_rate * 100.0),
            verification => format!("{:.0}%", summary.verification_rate * 100.0),
            plan_complete => summary.plan_complete,
            by_status => summary.by_status.iter().map(|count| context! {
                status => status_words(count.status()),
                count => count.count,
            }).collect::<Vec<_>>(),
        })
    } else {
        None
    };
    let path = match review_id {
        Some(id) => format!("/reviews/{id}/actions"),
        None => "/actions".to_string(),
    };
    let next_page =
        (!listed.next_page_token.is_empty()).then(|| filters.link(&path, &listed.next_page_token));
    let first_page = (!filters.page_token.is_empty()).then(|| filters.link(&path, ""));
    let names = match review_id {
        Some(id) => agency_names(state, user, id).await,
        None => Default::default(),
    };
    let list: Vec<ActionView> = listed
        .actions
        .iter()
        .map(|action| ActionView::named(action, &names))
        .collect();
    render(
        state,
        "actions/list.html",
        session,
        context! {
            review_id,
            path,
            actions => list,
            summary,
            statuses => status_options(&[
                actions::ActionStatus::NotStarted,
                actions::ActionStatus::InProgress,
                actions::ActionStatus::Completed,
                actions::ActionStatus::Verified,
                actions::ActionStatus::Cancelled,
            ]),
            status => filters.status.map(|status| status.as_str_name()).unwrap_or_default(),
            overdue_only => filters.overdue_only,
            next_page,
            first_page,
            may_create => review_id.is_some() && user.may(ACTIONS, "CreateAction"),
        },
    )
}

fn new_action_page(
    state: &AppState,
    session: &Session,
    review: &registry::Review,
    form: &Form,
    request_id: &str,
) -> Result<Response, PageError> {
    let report = review.overview_report.as_ref();
    let approved = report.is_some_and(|report| report.approve_time.is_some());
    let recommendations: Vec<_> = report
        .filter(|_| approved)
        .map(|report| {
            report
                .recommendations
                .iter()
                .map(|recommendation| {
                    context! {
                        value => recommendation.r#ref,
                        label => format!("{}: {}", recommendation.r#ref, recommendation.text),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let agencies: Vec<_> = std::iter::once(context! { value => "", label => "Choose an agency" })
        .chain(
            review
                .terms_of_reference
                .iter()
                .flat_map(|terms| terms.agencies_in_scope.iter())
                .map(|agency| context! { value => agency.id, label => agency.name }),
        )
        .collect();
    let page = render(
        state,
        "actions/new.html",
        session,
        context! {
            review => views::ReviewView::from(review),
            approved,
            recommendations,
            agencies,
            form => form.values(),
            errors => form.errors,
            due_date => form.date_parts("due_date"),
            request_id,
        },
    )?;
    Ok(with_status(page, !form.errors.is_empty()))
}

/// GET /reviews/{id}/actions/new: an action for one of the approved recommendations.
async fn new_action_form(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let outcome = async {
        signed.may(ACTIONS, "CreateAction")?;
        let review = review_of(&state, &signed.user, &id).await?;
        new_action_page(
            &state,
            &signed.session,
            &review,
            &Form::default(),
            &request_id(),
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/actions/new: adds the action (its owner is emailed), then the plan.
async fn new_action(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = create_action(&state, &posted, &id).await;
    posted.finish(&state, outcome)
}

async fn create_action(
    state: &AppState,
    posted: &Posted,
    review_id: &str,
) -> Result<Response, PageError> {
    if !posted.user.may(ACTIONS, "CreateAction") {
        return Err(PageError::NoAccess);
    }
    let review = review_of(state, &posted.user, review_id).await?;
    let mut form = posted_form(posted);
    let request_id = request_id_of(&form);
    let recommendation_ref = form.required(
        "recommendation_ref",
        "Choose the recommendation the action answers",
    );
    let description = form.required("description", "Enter what will be done");
    let owner_agency = form.required("owner_agency", "Choose the agency that owns the action");
    let owner_email = form.required(
        "owner_email",
        "Enter the email address of the action's owner",
    );
    let due_date = form.date("due_date", "the date the action is due", true);
    let measure_of_success =
        form.required("measure_of_success", "Enter how success will be judged");
    let again = |form: &Form| new_action_page(state, &posted.session, &review, form, &request_id);
    if !form.errors.is_empty() {
        return again(&form);
    }
    let mut client = state.services.actions.clone();
    let created = client
        .create_action(authed(
            actions::CreateActionRequest {
                request_id: request_id.clone(),
                review_id: review_id.to_string(),
                recommendation_ref,
                description,
                owner_agency,
                owner_email,
                due_date,
                measure_of_success,
            },
            &posted.user,
        )?)
        .await;
    commanded(
        created,
        &mut form,
        |action| format!("/reviews/{review_id}/actions/{}", action.id),
        again,
    )
}

/// The action `action_id` of the review, as the user may see it (NOT_FOUND otherwise).
async fn find_action(
    state: &AppState,
    user: &User,
    review_id: &str,
    action_id: &str,
) -> Result<actions::Action, PageError> {
    let mut client = state.services.actions.clone();
    let mut page_token = String::new();
    let mut searched = 0;
    loop {
        let page = client
            .list_actions(authed(
                actions::ListActionsRequest {
                    review_id: review_id.to_string(),
                    page_size: 200,
                    page_token,
                    ..Default::default()
                },
                user,
            )?)
            .await?
            .into_inner();
        searched += page.actions.len();
        if let Some(action) = page
            .actions
            .into_iter()
            .find(|action| action.id == action_id)
        {
            return Ok(action);
        }
        if page.next_page_token.is_empty() || searched >= MOST_ACTIONS_SEARCHED {
            return Err(PageError::NotFound);
        }
        page_token = page.next_page_token;
    }
}

fn action_page_of(
    state: &AppState,
    session: &Session,
    user: &User,
    (action, names): (&actions::Action, &std::collections::HashMap<String, String>),
    form: &Form,
) -> Result<Response, PageError> {
    action_page_with(state, session, user, (action, names), form, None)
}

/// [`action_page_of`], with what the service said when the form was made from a version
/// of the action someone else has since changed (`stale`): the page shows the action as it
/// is now beside what the user sent.
fn action_page_with(
    state: &AppState,
    session: &Session,
    user: &User,
    (action, names): (&actions::Action, &std::collections::HashMap<String, String>),
    form: &Form,
    stale: Option<&str>,
) -> Result<Response, PageError> {
    let view = ActionView::named(action, names);
    let status = action.status();
    let may_verify = user.may(ACTIONS, "VerifyAction")
        && status == actions::ActionStatus::Completed
        && !action.evidence_of_impact.is_empty();
    let final_status = matches!(
        status,
        actions::ActionStatus::Verified | actions::ActionStatus::Cancelled
    );
    let selected = match form.get("status") {
        "" => view.status_value,
        sent => sent,
    }
    .to_string();
    let page = render(
        state,
        "actions/action.html",
        session,
        context! {
            action => view,
            may_update => user.may(ACTIONS, "UpdateActionProgress") && !final_status,
            may_verify,
            may_read_review => user.may(REGISTRY, "GetReview"),
            statuses => status_options(&PROGRESS_STATUSES),
            selected,
            // The version the forms are made from: the one shown.
            version => action.version,
            stale => stale.map(crate::pages::sentence),
            form => form.values(),
            errors => form.errors,
        },
    )?;
    Ok(with_status(page, !form.errors.is_empty()))
}

/// The answer to an update of the action: done, to its page; ABORTED (someone else changed
/// it since the page was read), its page as it is now with the user's entries kept and a
/// banner saying so (409); refused otherwise, as every form is.
async fn updated<T>(
    state: &AppState,
    posted: &Posted,
    (id, action_id): (&str, &str),
    result: Result<tonic::Response<T>, tonic::Status>,
    form: &mut Form,
    again: impl FnOnce(&Form) -> Result<Response, PageError>,
) -> Result<Response, PageError> {
    if let Err(status) = &result
        && status.code() == tonic::Code::Aborted
    {
        let current = find_action(state, &posted.user, id, action_id).await?;
        let names = agency_names(state, &posted.user, id).await;
        let mut page = action_page_with(
            state,
            &posted.session,
            &posted.user,
            (&current, &names),
            form,
            Some(status.message()),
        )?;
        *page.status_mut() = axum::http::StatusCode::CONFLICT;
        return Ok(page);
    }
    commanded(
        result,
        form,
        |_| format!("/reviews/{id}/actions/{action_id}"),
        again,
    )
}

/// The version a posted form was made from (its hidden field).
fn based_on(form: &Form) -> Option<i32> {
    form.get("based_on_version").parse().ok()
}

/// GET /reviews/{id}/actions/{action}: the action, its progress, and what may be done.
async fn action_page(
    State(state): Shared,
    signed: SignedIn,
    Path((id, action_id)): Path<(String, String)>,
) -> Response {
    let outcome = async {
        let action = find_action(&state, &signed.user, &id, &action_id).await?;
        let names = agency_names(&state, &signed.user, &id).await;
        action_page_of(
            &state,
            &signed.session,
            &signed.user,
            (&action, &names),
            &Form::default(),
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST …/progress: a status, a note and evidence of impact.
async fn record_progress(
    State(state): Shared,
    Path((id, action_id)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let action = find_action(&state, &posted.user, &id, &action_id).await?;
        let names = agency_names(&state, &posted.user, &id).await;
        let mut form = posted_form(&posted);
        let status = actions::ActionStatus::from_str_name(form.get("status"))
            .filter(|status| PROGRESS_STATUSES.contains(status));
        if status.is_none() {
            form.errors.add("status", "Choose where the action is");
        }
        let cancel_reason = form.get("cancel_reason").to_string();
        if status == Some(actions::ActionStatus::Cancelled) && cancel_reason.is_empty() {
            form.errors
                .add("cancel_reason", "Enter why the action is no longer pursued");
        }
        let note = form.required("note", "Enter a note of the progress made");
        let evidence_of_impact = form.get("evidence_of_impact").to_string();
        let again = |form: &Form| {
            action_page_of(
                &state,
                &posted.session,
                &posted.user,
                (&action, &names),
                form,
            )
        };
        let (Some(status), true) = (status, form.errors.is_empty()) else {
            return again(&form);
        };
        let mut client = state.services.actions.clone();
        let result = client
            .update_action_progress(authed(
                actions::UpdateActionProgressRequest {
                    action_id: action.id.clone(),
                    status: status as i32,
                    cancel_reason,
                    note,
                    evidence_of_impact,
                    based_on_version: based_on(&form),
                },
                &posted.user,
            )?)
            .await;
        updated(&state, &posted, (&id, &action_id), result, &mut form, again).await
    }
    .await;
    posted.finish(&state, outcome)
}

/// POST …/verify: the partnership confirms the evidence of impact.
async fn verify(
    State(state): Shared,
    Path((id, action_id)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        if !posted.user.may(ACTIONS, "VerifyAction") {
            return Err(PageError::NoAccess);
        }
        let action = find_action(&state, &posted.user, &id, &action_id).await?;
        let mut form = posted_form(&posted);
        let note = form.required("verify_note", "Enter what the partnership checked");
        if !form.errors.is_empty() {
            let names = agency_names(&state, &posted.user, &id).await;
            return action_page_of(
                &state,
                &posted.session,
                &posted.user,
                (&action, &names),
                &form,
            );
        }
        let mut client = state.services.actions.clone();
        let result = client
            .verify_action(authed(
                actions::VerifyActionRequest {
                    action_id: action.id.clone(),
                    note,
                    based_on_version: based_on(&form),
                },
                &posted.user,
            )?)
            .await;
        let names = agency_names(&state, &posted.user, &id).await;
        let again = |form: &Form| {
            action_page_of(
                &state,
                &posted.session,
                &posted.user,
                (&action, &names),
                form,
            )
        };
        updated(&state, &posted, (&id, &action_id), result, &mut form, again).await
    }
    .await;
    posted.finish(&state, outcome)
}
