//! The commands that move a review through its statutory process, one form page each: a
//! GET shows the form (refused at once to a role that may not use it), a POST checks what
//! was typed, sends the command and goes back to the review; a refusal naming fields is
//! shown beside them, any other (the review is not at that stage, a guard does not hold) as
//! the 409 page with the registry's reason. The two that cannot be undone (the rapid
//! review's decision, publication) ask the user to check their answers first.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use cspr_platform::access::rules::REGISTRY;
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use minijinja::{Value, context};
use serde::Serialize;

use super::{request_id_of, review_path};
use crate::AppState;
use crate::forms::{DateParts, Form, FormErrors};
use crate::pages::{
    PageError, Posted, Shared, SignedIn, answered, authed, render, review_of, see_other,
    with_status,
};
use crate::session::{Session, User};
use crate::views::{self, ReviewView, words};

/// A command's GET handler that is only its form: `name` shows `template` (refused at once to
/// a role that may never use `method`) with the date inputs `dates` and the page's own
/// `extra`. Every plain form page of the commands is written this one way.
macro_rules! get_form {
    ($(#[$attr:meta])* $name:ident: $method:literal, $template:literal, $dates:expr, $extra:expr) => {
        $(#[$attr])*
        pub(super) async fn $name(
            State(state): Shared,
            Path(id): Path<String>,
            signed: SignedIn,
        ) -> Response {
            let outcome =
                form_get(&state, &signed, &id, $method, $template, $dates, $extra).await;
            signed.finish(&state, outcome)
        }
    };
}

mod information;
mod meetings;
mod progress;
mod publication;
mod rapid_review;
mod scoping;

pub(crate) use information::information_rows;
use information::{answer, answer_form, ask, ask_form};
use meetings::{
    cancel_meeting, cancel_meeting_form, change_meeting, change_meeting_form, meetings,
    record_meeting, record_meeting_form, schedule_meeting, schedule_meeting_form,
};
use progress::*;
use publication::*;
use rapid_review::*;
use scoping::*;

pub(crate) fn routes() -> axum::Router<std::sync::Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/reviews/{id}/notification",
            get(notification_form).post(notification),
        )
        .route(
            "/reviews/{id}/decision",
            get(decision_form).post(decision_check),
        )
        .route("/reviews/{id}/decision/confirm", post(decision))
        .route(
            "/reviews/{id}/rapid-review",
            get(rapid_review_form).post(rapid_review),
        )
        .route(
            "/reviews/{id}/panel-response",
            get(panel_response_form).post(panel_response),
        )
        .route(
            "/reviews/{id}/panel-member",
            get(panel_member_form).post(panel_member),
        )
        .route("/reviews/{id}/reviewer", get(reviewer_form).post(reviewer))
        .route(
            "/reviews/{id}/terms-of-reference",
            get(terms_form).post(terms),
        )
        .route("/reviews/{id}/advance", get(advance_form).post(advance))
        .route(
            "/reviews/{id}/parallel-processes",
            get(parallel_form).post(parallel),
        )
        .route(
            "/reviews/{id}/parallel-processes/{process}/end",
            get(end_parallel_form).post(end_parallel),
        )
        .route(
            "/reviews/{id}/information-requests",
            get(ask_form).post(ask),
        )
        .route(
            "/reviews/{id}/information-requests/{request}/answer",
            get(answer_form).post(answer),
        )
        .route(
            "/reviews/{id}/publication-plan",
            get(schedule_form).post(schedule),
        )
        .route(
            "/reviews/{id}/pre-publication-notice",
            get(notice_form).post(notice),
        )
        .route(
            "/reviews/{id}/publication",
            get(publication_form).post(publication_check),
        )
        .route("/reviews/{id}/publication/confirm", post(publication))
        .route("/reviews/{id}/meetings", get(meetings))
        .route(
            "/reviews/{id}/meetings/new",
            get(schedule_meeting_form).post(schedule_meeting),
        )
        .route(
            "/reviews/{id}/meetings/{meeting}/change",
            get(change_meeting_form).post(change_meeting),
        )
        .route(
            "/reviews/{id}/meetings/{meeting}/cancel",
            get(cancel_meeting_form).post(cancel_meeting),
        )
        .route(
            "/reviews/{id}/meetings/{meeting}/record",
            get(record_meeting_form).post(record_meeting),
        )
}

pub(crate) const TEMPLATES: &[(&str, &str)] = templates![
    "admin/command.html",
    "admin/notification.html",
    "admin/decision.html",
    "admin/check.html",
    "admin/panel_member.html",
    "admin/reviewer.html",
    "admin/terms_of_reference.html",
    "admin/advance.html",
    "admin/parallel_processes.html",
    "admin/end_parallel_process.html",
    "admin/publication_plan.html",
    "admin/pre_publication_notice.html",
    "admin/publication.html",
    "admin/information_requests.html",
    "admin/rapid_review.html",
    "admin/panel_response.html",
    "reviewer/information_answer.html",
    "admin/meetings.html",
    "admin/meeting.html",
    "admin/meeting_cancel.html",
    "admin/meeting_record.html",
    "admin/meeting_summary.html",
];

/// How many agency rows the terms of reference form has (empty ones are ignored).
pub(crate) const AGENCY_ROWS: usize = 6;

/// A value and its words, for radios and selects.
#[derive(Debug, Serialize)]
struct Choice {
    value: String,
    label: String,
    hint: Option<&'static str>,
}

/// A command's form page: the review it is about, what was typed, its problems, the date
/// inputs' parts and the idempotency key, with the page's own `extra`.
fn page(
    state: &AppState,
    session: &Session,
    template: &str,
    review: &registry::Review,
    form: &Form,
    dates: &[&str],
    extra: Value,
) -> Result<Response, PageError> {
    let date_parts: BTreeMap<&str, DateParts> = dates
        .iter()
        .map(|name| (*name, form.date_parts(name)))
        .collect();
    let rendered = render(
        state,
        template,
        session,
        context! {
            review => ReviewView::from(review),
            review_id => review.id,
            form => form.values(),
            errors => form.errors,
            dates => date_parts,
            request_id => request_id_of(form),
            ..extra
        },
    )?;
    Ok(with_status(rendered, !form.errors.is_empty()))
}

/// The posted form, to check; refused before anything is checked when the user's roles may
/// never use `method` (a check page is not shown to someone who could not confirm it).
fn posted_form(posted: &Posted, method: &str) -> Result<Form, PageError> {
    if !posted.user.may(REGISTRY, method) {
        return Err(PageError::NoAccess);
    }
    Ok(crate::pages::posted_form(posted))
}

/// A GET of a command's form: refused before the review is read when the user's roles may
/// never use `method`.
async fn form_get(
    state: &AppState,
    signed: &SignedIn,
    id: &str,
    method: &str,
    template: &str,
    dates: &[&str],
    extra: impl Fn(&registry::Review, &mut Form) -> Value,
) -> Result<Response, PageError> {
    signed.may(REGISTRY, method)?;
    let review = review_of(state, &signed.user, id).await?;
    let mut form = Form::default();
    let extra = extra(&review, &mut form);
    page(
        state,
        &signed.session,
        template,
        &review,
        &form,
        dates,
        extra,
    )
}

/// The form of a POST shown again (with its problems) on the review.
async fn again(
    state: &AppState,
    posted: &Posted,
    id: &str,
    template: &str,
    form: &Form,
    dates: &[&str],
    extra: impl Fn(&registry::Review) -> Value,
) -> Result<Response, PageError> {
    let review = review_of(state, &posted.user, id).await?;
    let extra = extra(&review);
    page(
        state,
        &posted.session,
        template,
        &review,
        form,
        dates,
        extra,
    )
}

fn no_extra(_: &registry::Review) -> Value {
    context! {}
}

fn date_value(date: Option<&Date>) -> DateParts {
    date.map(|date| DateParts {
        day: date.day.to_string(),
        month: date.month.to_string(),
        year: date.year.to_string(),
    })
    .unwrap_or_default()
}

/// Puts `date` into the form as its three parts (a form filled from the review).
fn fill_date(form: &mut Form, name: &str, date: Option<&Date>) {
    let parts = date_value(date);
    for (part, value) in [
        ("day", parts.day),
        ("month", parts.month),
        ("year", parts.year),
    ] {
        form.fields.push((format!("{name}-{part}"), value));
    }
}

fn fill(form: &mut Form, name: &str, value: &str) {
    form.fields.push((name.to_string(), value.to_string()));
}

/// The fields of a checked form, to send again from its check page.
fn hidden(form: &Form) -> Vec<(String, String)> {
    form.fields
        .iter()
        .filter(|(name, _)| name != "csrf_token" && name != "change")
        .cloned()
        .collect()
}

#[derive(Debug, Serialize)]
struct Row {
    key: &'static str,
    value: String,
}

/// The answer to a command that cannot be undone, sent from its check page: done, back to
/// the review; a refusal naming fields, `None` (the form again, with them); refused as not
/// possible now, still done when the review already holds what was sent (`already`: a
/// double submit, whose first recorded this very outcome), else that refusal. The rapid
/// review's decision and publication are confirmed this one way.
async fn confirmed<T>(
    state: &AppState,
    posted: &Posted,
    id: &str,
    result: Result<tonic::Response<T>, tonic::Status>,
    form: &mut Form,
    already: impl FnOnce(&registry::Review) -> bool,
) -> Result<Option<Response>, PageError> {
    match answered(result, form) {
        Ok(Some(_)) => Ok(Some(see_other(&review_path(id)))),
        Ok(None) => Ok(None),
        Err(PageError::Refused(reason)) => {
            let review = review_of(state, &posted.user, id).await?;
            if already(&review) {
                return Ok(Some(see_other(&review_path(id))));
            }
            Err(PageError::Refused(reason))
        }
        Err(other) => Err(other),
    }
}

/// The "check your answers" page of a command that cannot be undone.
#[allow(clippy::too_many_arguments)]
fn check_page(
    state: &AppState,
    session: &Session,
    review: &registry::Review,
    form: &Form,
    heading: &str,
    rows: Vec<Row>,
    action: &str,
    warning: &str,
    button: &str,
) -> Result<Response, PageError> {
    render(
        state,
        "admin/check.html",
        session,
        context! {
            review => ReviewView::from(review),
            review_id => review.id,
            heading,
            rows,
            hidden => hidden(form),
            action,
            warning,
            button,
        },
    )
}
