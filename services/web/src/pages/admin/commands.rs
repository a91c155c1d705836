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
use crate::pages::{PageError, Posted, Shared, SignedIn, authed, render, see_other, with_status};
use crate::session::{Session, User};
use crate::views::{self, ReviewView, words};

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
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$((concat!("admin/", $name), include_str!(concat!("../../../templates/admin/", $name)))),*]
    };
}

pub(crate) const TEMPLATES: &[(&str, &str)] = templates![
    "notification.html",
    "decision.html",
    "check.html",
    "panel_member.html",
    "reviewer.html",
    "terms_of_reference.html",
    "advance.html",
    "parallel_processes.html",
    "end_parallel_process.html",
    "publication_plan.html",
    "pre_publication_notice.html",
    "publication.html",
];

/// How many agency rows the terms of reference form has (empty ones are ignored).
pub(crate) const AGENCY_ROWS: usize = 6;

/// The review, as the signed-in user may see it.
async fn load(state: &AppState, user: &User, id: &str) -> Result<registry::Review, PageError> {
    let mut client = state.services.registry.clone();
    Ok(client
        .get_review(authed(
            registry::GetReviewRequest {
                review_id: id.to_string(),
            },
            user,
        )?)
        .await?
        .into_inner())
}

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

/// A command's answer: `Some` when done; `None` when the registry named fields (now in
/// `form.errors`); any other refusal as its page.
fn answered<T>(
    result: Result<tonic::Response<T>, tonic::Status>,
    form: &mut Form,
) -> Result<Option<T>, PageError> {
    match result {
        Ok(response) => Ok(Some(response.into_inner())),
        Err(status) => {
            PageError::from(status).into_form_errors(&mut form.errors)?;
            Ok(None)
        }
    }
}

/// The posted form, to check; refused before anything is checked when the user's roles may
/// never use `method` (a check page is not shown to someone who could not confirm it).
fn posted_form(posted: &Posted, method: &str) -> Result<Form, PageError> {
    if !posted.user.may(REGISTRY, method) {
        return Err(PageError::NoAccess);
    }
    Ok(Form {
        fields: posted.form.fields.clone(),
        errors: FormErrors::default(),
    })
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
    let review = load(state, &signed.user, id).await?;
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
    let review = load(state, &posted.user, id).await?;
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

// ---- Notification ------------------------------------------------------------------

async fn notification_form(
    State(state): Shared,
    Path(id): Path<String>,
    signed: SignedIn,
) -> Response {
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "RecordNotificationSent",
        "admin/notification.html",
        &["sent_on"],
        |_, _| context! {},
    )
    .await;
    signed.finish(&state, outcome)
}

async fn notification(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordNotificationSent")?;
        let sent_on = form.date("sent_on", "the date the notification was sent", true);
        if form.errors.is_empty() {
            let mut client = state.services.registry.clone();
            let result = client
                .record_notification_sent(authed(
                    registry::RecordNotificationSentRequest {
                        review_id: id.clone(),
                        sent_on,
                        national_panel_reference: form.get("national_panel_reference").into(),
                    },
                    &posted.user,
                )?)
                .await;
            match answered(result, &mut form) {
                Ok(Some(_)) => return Ok(see_other(&review_path(&id))),
                Ok(None) => {}
                // Sent twice (a double click, a resend): the first one did it.
                Err(PageError::Refused(reason)) => {
                    let review = load(&state, &posted.user, &id).await?;
                    if review
                        .notification
                        .as_ref()
                        .is_some_and(|notification| notification.sent_on == sent_on)
                    {
                        return Ok(see_other(&review_path(&id)));
                    }
                    return Err(PageError::Refused(reason));
                }
                Err(other) => return Err(other),
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/notification.html",
            &form,
            &["sent_on"],
            no_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Decision (check your answers) -------------------------------------------------

fn decisions() -> Vec<Choice> {
    vec![
        Choice {
            value: registry::Decision::LocalCspr.as_str_name().into(),
            label: "Hold a local child safeguarding practice review".into(),
            hint: Some("The review moves to scoping and the six-month clock starts."),
        },
        Choice {
            value: registry::Decision::NoLocalCspr.as_str_name().into(),
            label: "Do not hold a local review".into(),
            hint: Some("The review closes as not proceeding. Give the rationale."),
        },
    ]
}

fn decision_extra(_: &registry::Review) -> Value {
    context! { decisions => decisions() }
}

async fn decision_form(State(state): Shared, Path(id): Path<String>, signed: SignedIn) -> Response {
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "RecordDecision",
        "admin/decision.html",
        &["decided_on"],
        |review, _| decision_extra(review),
    )
    .await;
    signed.finish(&state, outcome)
}

/// The decision as typed, checked: `None` when something is wrong (in `form.errors`).
fn read_decision(form: &mut Form) -> Option<(registry::Decision, Date, String)> {
    let decision = registry::Decision::from_str_name(form.get("decision"))
        .filter(|decision| *decision != registry::Decision::Unspecified);
    if decision.is_none() {
        form.errors
            .add("decision", "Select whether a local review will be held");
    }
    let decided_on = form.date("decided_on", "the date of the decision", true);
    let rationale = form.get("rationale").to_string();
    if decision == Some(registry::Decision::NoLocalCspr) && rationale.is_empty() {
        form.errors.add(
            "rationale",
            "Enter the rationale for not holding a local review",
        );
    }
    Some((decision?, decided_on?, rationale)).filter(|_| form.errors.is_empty())
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

async fn decision_check(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordDecision")?;
        let checked = read_decision(&mut form);
        let review = load(&state, &posted.user, &id).await?;
        let Some((decision, decided_on, rationale)) = checked else {
            return page(
                &state,
                &posted.session,
                "admin/decision.html",
                &review,
                &form,
                &["decided_on"],
                decision_extra(&review),
            );
        };
        let label = decisions()
            .into_iter()
            .find(|choice| choice.value == decision.as_str_name())
            .map(|choice| choice.label)
            .unwrap_or_default();
        check_page(
            &state,
            &posted.session,
            &review,
            &form,
            "Check the rapid review decision before recording it",
            vec![
                Row {
                    key: "Decision",
                    value: label,
                },
                Row {
                    key: "Date of the decision",
                    value: views::date(Some(&decided_on)).unwrap_or_default(),
                },
                Row {
                    key: "Rationale",
                    value: if rationale.is_empty() {
                        "None given".into()
                    } else {
                        rationale
                    },
                },
            ],
            &format!("/reviews/{id}/decision/confirm"),
            "Once recorded, the decision cannot be changed: it moves the review on.",
            "Record the decision",
        )
    }
    .await;
    posted.finish(&state, outcome)
}

async fn decision(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordDecision")?;
        let change = form.get("change") == "yes";
        let checked = read_decision(&mut form);
        if let (Some((decision, decided_on, rationale)), false) = (checked, change) {
            let mut client = state.services.registry.clone();
            let sent = registry::RapidReviewDecision {
                decision: decision as i32,
                decided_on: Some(decided_on),
                rationale,
            };
            let result = client
                .record_decision(authed(
                    registry::RecordDecisionRequest {
                        review_id: id.clone(),
                        decision: sent.decision,
                        decided_on: sent.decided_on,
                        rationale: sent.rationale.clone(),
                    },
                    &posted.user,
                )?)
                .await;
            match answered(result, &mut form) {
                Ok(Some(_)) => return Ok(see_other(&review_path(&id))),
                Ok(None) => {}
                // Sent twice: the first one recorded this very decision.
                Err(PageError::Refused(reason)) => {
                    let review = load(&state, &posted.user, &id).await?;
                    if review.decision.as_ref() == Some(&sent) {
                        return Ok(see_other(&review_path(&id)));
                    }
                    return Err(PageError::Refused(reason));
                }
                Err(other) => return Err(other),
            }
        }
        if change {
            form.errors = FormErrors::default();
        }
        again(
            &state,
            &posted,
            &id,
            "admin/decision.html",
            &form,
            &["decided_on"],
            decision_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Panel member ------------------------------------------------------------------

fn panel_extra(review: &registry::Review) -> Value {
    let roles = vec![
        Choice {
            value: registry::PanelRole::Chair.as_str_name().into(),
            label: "Chair".into(),
            hint: Some("Signs off decisions and the overview report. A panel has one chair."),
        },
        Choice {
            value: registry::PanelRole::Member.as_str_name().into(),
            label: "Member".into(),
            hint: None,
        },
    ];
    let panel: Vec<Value> = review
        .panel
        .iter()
        .map(|member| {
            context! {
                name => member.name,
                organisation => member.organisation,
                role => words(member.role().as_str_name(), "PANEL_ROLE_"),
            }
        })
        .collect();
    context! { roles, panel }
}

async fn panel_member_form(
    State(state): Shared,
    Path(id): Path<String>,
    signed: SignedIn,
) -> Response {
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "AppointPanelMember",
        "admin/panel_member.html",
        &[],
        |review, _| panel_extra(review),
    )
    .await;
    signed.finish(&state, outcome)
}

async fn panel_member(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "AppointPanelMember")?;
        let request_id = request_id_of(&form);
        let name = form.required("name", "Enter the panel member's name");
        let email = form.required("email", "Enter the panel member's email address");
        let organisation = form.required("organisation", "Enter the organisation they come from");
        let role = registry::PanelRole::from_str_name(form.get("role"))
            .filter(|role| *role != registry::PanelRole::Unspecified);
        if role.is_none() {
            form.errors.add(
                "role",
                "Select whether they chair the panel or are a member",
            );
        }
        let declares = form.get("declares_no_involvement") == "yes";
        if !declares {
            form.errors.add(
                "declares_no_involvement",
                "The panel member must declare they were not directly involved in the case",
            );
        }
        if let (true, Some(role)) = (form.errors.is_empty(), role) {
            let mut client = state.services.registry.clone();
            let result = client
                .appoint_panel_member(authed(
                    registry::AppointPanelMemberRequest {
                        review_id: id.clone(),
                        request_id,
                        name,
                        email,
                        organisation,
                        role: role as i32,
                        declares_no_involvement: declares,
                        independence_statement: form.get("independence_statement").into(),
                    },
                    &posted.user,
                )?)
                .await;
            match result {
                Ok(_) => return Ok(see_other(&review_path(&id))),
                // The registry's panel rules, beside the field that can fix them: an
                // involved practitioner or someone already on the panel (their email), a
                // second chair (the role). Any other refusal (the review has ended) is its
                // page.
                Err(status)
                    if status.code() == tonic::Code::FailedPrecondition
                        && panel_field(status.message(), form.get("email")).is_some() =>
                {
                    let field = panel_field(status.message(), form.get("email")).unwrap_or("email");
                    form.errors
                        .add(field, &crate::pages::sentence(status.message()));
                }
                Err(status) => {
                    PageError::from(status).into_form_errors(&mut form.errors)?;
                }
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/panel_member.html",
            &form,
            &[],
            panel_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

/// The field of the panel member form a refusal of the registry is about, if any.
pub(crate) fn panel_field(message: &str, email: &str) -> Option<&'static str> {
    if !email.is_empty() && message.to_lowercase().contains(&email.to_lowercase()) {
        Some("email")
    } else if message.contains("already has a chair") {
        Some("role")
    } else {
        None
    }
}

// ---- Reviewer ----------------------------------------------------------------------

async fn reviewer_form(State(state): Shared, Path(id): Path<String>, signed: SignedIn) -> Response {
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "AppointReviewer",
        "admin/reviewer.html",
        &["appointed_on"],
        |review, form| {
            if let Some(reviewer) = &review.reviewer {
                fill(form, "name", &reviewer.name);
                fill(form, "email", &reviewer.email);
                fill(form, "subject", &reviewer.subject);
            }
            context! {}
        },
    )
    .await;
    signed.finish(&state, outcome)
}

async fn reviewer(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "AppointReviewer")?;
        let name = form.required("name", "Enter the reviewer's name");
        let email = form.required("email", "Enter the reviewer's email address");
        let subject = form.required("subject", "Enter the reviewer's sign-in identity");
        let appointed_on = form.date("appointed_on", "the date of the appointment", true);
        if form.errors.is_empty() {
            let mut client = state.services.registry.clone();
            let result = client
                .appoint_reviewer(authed(
                    registry::AppointReviewerRequest {
                        review_id: id.clone(),
                        name,
                        email,
                        subject,
                        appointed_on,
                    },
                    &posted.user,
                )?)
                .await;
            if answered(result, &mut form)?.is_some() {
                return Ok(see_other(&review_path(&id)));
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/reviewer.html",
            &form,
            &["appointed_on"],
            no_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Terms of reference ------------------------------------------------------------

const TERMS_DATES: &[&str] = &["scope_start", "scope_end", "report_due_date"];

fn terms_extra(_: &registry::Review) -> Value {
    context! { rows => (0..AGENCY_ROWS).collect::<Vec<_>>() }
}

async fn terms_form(State(state): Shared, Path(id): Path<String>, signed: SignedIn) -> Response {
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "SetTermsOfReference",
        "admin/terms_of_reference.html",
        TERMS_DATES,
        |review, form| {
            // A revision starts from the terms as they are.
            if let Some(terms) = &review.terms_of_reference {
                fill_date(form, "scope_start", terms.scope_start.as_ref());
                fill_date(form, "scope_end", terms.scope_end.as_ref());
                fill_date(form, "report_due_date", terms.report_due_date.as_ref());
                fill(
                    form,
                    "key_lines_of_enquiry",
                    &terms.key_lines_of_enquiry.join("\n"),
                );
                fill(form, "methodology", &terms.methodology);
                for (row, agency) in terms.agencies_in_scope.iter().enumerate() {
                    fill(form, &format!("agency_id_{row}"), &agency.id);
                    fill(form, &format!("agency_name_{row}"), &agency.name);
                    fill(form, &format!("agency_email_{row}"), &agency.contact_email);
                }
            }
            terms_extra(review)
        },
    )
    .await;
    signed.finish(&state, outcome)
}

/// The agency rows filled in (an empty row is ignored), each with its row number; a row
/// half filled in is a problem on its first empty field.
pub(crate) fn agency_rows(form: &mut Form) -> Vec<(usize, registry::Agency)> {
    let mut agencies = Vec::new();
    for row in 0..AGENCY_ROWS {
        let [id, name, email] = ["agency_id", "agency_name", "agency_email"]
            .map(|field| form.get(&format!("{field}_{row}")).to_string());
        if id.is_empty() && name.is_empty() && email.is_empty() {
            continue;
        }
        let number = row + 1;
        for (field, value, what) in [
            ("agency_id", &id, "an id"),
            ("agency_name", &name, "a name"),
            ("agency_email", &email, "a contact email address"),
        ] {
            if value.is_empty() {
                form.errors.add(
                    &format!("{field}_{row}"),
                    &format!("Enter {what} for agency {number}"),
                );
            }
        }
        agencies.push((
            row,
            registry::Agency {
                id,
                name,
                contact_email: email,
            },
        ));
    }
    agencies
}

/// The registry's field names (`agencies_in_scope[1].contact_email`) as the form's, with the
/// rows sent (empty rows left out) mapped back to the rows shown.
pub(crate) fn terms_field(field: &str, rows: &[usize]) -> String {
    if let Some(rest) = field.strip_prefix("agencies_in_scope[")
        && let Some((index, name)) = rest.split_once("].")
    {
        let row = index
            .parse::<usize>()
            .ok()
            .and_then(|index| rows.get(index).copied())
            .unwrap_or_default();
        let name = match name {
            "id" => "agency_id",
            "name" => "agency_name",
            _ => "agency_email",
        };
        return format!("{name}_{row}");
    }
    if field == "agencies_in_scope" {
        return "agency_id_0".into();
    }
    if field.starts_with("key_lines_of_enquiry") {
        return "key_lines_of_enquiry".into();
    }
    field.to_string()
}

/// Whether `terms` are what `request` sets (a resend of them).
pub(crate) fn same_terms(
    terms: &registry::TermsOfReference,
    request: &registry::SetTermsOfReferenceRequest,
) -> bool {
    terms.scope_start == request.scope_start
        && terms.scope_end == request.scope_end
        && terms.key_lines_of_enquiry == request.key_lines_of_enquiry
        && terms.methodology == request.methodology
        && terms.agencies_in_scope == request.agencies_in_scope
        && terms.report_due_date == request.report_due_date
}

async fn terms(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "SetTermsOfReference")?;
        let scope_start = form.date("scope_start", "the start of the period under review", true);
        let scope_end = form.date("scope_end", "the end of the period under review", true);
        let lines: Vec<String> = form
            .get("key_lines_of_enquiry")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(String::from)
            .collect();
        if lines.is_empty() {
            form.errors.add(
                "key_lines_of_enquiry",
                "Enter at least one key line of enquiry",
            );
        }
        let methodology = form.required("methodology", "Enter how the review will be run");
        let agencies = agency_rows(&mut form);
        if agencies.is_empty() {
            form.errors.add(
                "agency_id_0",
                "Enter at least one agency to ask for a report",
            );
        }
        let report_due_date = form.date("report_due_date", "the date agency reports are due", true);
        if form.errors.is_empty() {
            let rows: Vec<usize> = agencies.iter().map(|(row, _)| *row).collect();
            let request = registry::SetTermsOfReferenceRequest {
                review_id: id.clone(),
                scope_start,
                scope_end,
                key_lines_of_enquiry: lines,
                methodology,
                agencies_in_scope: agencies.into_iter().map(|(_, agency)| agency).collect(),
                report_due_date,
            };
            // Every setting is a new version that asks the agencies again: the same terms
            // sent twice (a double click, a resend) are not revised a second time.
            let review = load(&state, &posted.user, &id).await?;
            if review
                .terms_of_reference
                .as_ref()
                .is_some_and(|terms| same_terms(terms, &request))
            {
                return Ok(see_other(&review_path(&id)));
            }
            let mut client = state.services.registry.clone();
            let result = client
                .set_terms_of_reference(authed(request, &posted.user)?)
                .await;
            match result {
                Ok(_) => return Ok(see_other(&review_path(&id))),
                Err(status) => match PageError::from(status) {
                    PageError::Invalid(fields) if !fields.is_empty() => {
                        for field in fields {
                            form.errors.add(
                                &terms_field(&field.field, &rows),
                                &crate::pages::sentence(&field.description),
                            );
                        }
                    }
                    other => return Err(other),
                },
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/terms_of_reference.html",
            &form,
            TERMS_DATES,
            terms_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Advance stage -----------------------------------------------------------------

/// The stages that may follow `stage` (the registry's lifecycle).
pub(crate) fn next_stages(stage: registry::Stage) -> Vec<registry::Stage> {
    use registry::Stage as S;
    match stage {
        S::Notified => vec![S::RapidReview],
        S::RapidReview => vec![S::Scoping, S::NotProceeding],
        S::Scoping => vec![S::InformationGathering],
        S::InformationGathering => vec![S::Engagement],
        S::Engagement => vec![S::OverviewDrafting],
        S::OverviewDrafting => vec![S::PanelApproval],
        S::PanelApproval => vec![S::PrePublication],
        S::PrePublication => vec![S::Published],
        S::Published => vec![S::ActionMonitoring],
        S::ActionMonitoring => vec![S::Closed],
        S::NotProceeding | S::Closed | S::Unspecified => vec![],
    }
}

fn advance_extra(review: &registry::Review) -> Value {
    let stages: Vec<Choice> = next_stages(review.stage())
        .into_iter()
        .map(|stage| Choice {
            value: stage.as_str_name().into(),
            label: words(stage.as_str_name(), "STAGE_"),
            hint: None,
        })
        .collect();
    let only = (stages.len() == 1).then(|| stages[0].value.clone());
    context! { stages, only }
}

async fn advance_form(State(state): Shared, Path(id): Path<String>, signed: SignedIn) -> Response {
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "AdvanceStage",
        "admin/advance.html",
        &[],
        |review, _| advance_extra(review),
    )
    .await;
    signed.finish(&state, outcome)
}

async fn advance(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "AdvanceStage")?;
        let to_stage = registry::Stage::from_str_name(form.get("to_stage"))
            .filter(|stage| *stage != registry::Stage::Unspecified);
        match to_stage {
            None => form.errors.add("to_stage", "Select the stage to move to"),
            Some(to_stage) => {
                let mut client = state.services.registry.clone();
                let result = client
                    .advance_stage(authed(
                        registry::AdvanceStageRequest {
                            review_id: id.clone(),
                            to_stage: to_stage as i32,
                        },
                        &posted.user,
                    )?)
                    .await;
                if answered(result, &mut form)?.is_some() {
                    return Ok(see_other(&review_path(&id)));
                }
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/advance.html",
            &form,
            &[],
            advance_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Parallel processes ------------------------------------------------------------

fn parallel_extra(user: &User) -> impl Fn(&registry::Review) -> Value + '_ {
    move |review| {
        let kinds: Vec<Choice> = (1..)
            .map_while(|value| registry::ParallelProcessKind::try_from(value).ok())
            .map(|kind| Choice {
                value: kind.as_str_name().into(),
                label: words(kind.as_str_name(), "PARALLEL_PROCESS_KIND_"),
                hint: None,
            })
            .collect();
        let may_end = user.may(REGISTRY, "EndParallelProcess");
        let processes: Vec<Value> = review
            .parallel_processes
            .iter()
            .map(|process| {
                context! {
                    id => process.id,
                    kind => words(process.kind().as_str_name(), "PARALLEL_PROCESS_KIND_"),
                    description => process.description,
                    started_on => views::date(process.started_on.as_ref()),
                    ended_on => views::date(process.ended_on.as_ref()),
                    days_impact => process.days_impact,
                    end_href => (may_end && process.ended_on.is_none()).then(|| format!(
                        "/reviews/{}/parallel-processes/{}/end", review.id, process.id
                    )),
                }
            })
            .collect();
        context! { kinds, processes }
    }
}

async fn parallel_form(State(state): Shared, Path(id): Path<String>, signed: SignedIn) -> Response {
    let user = signed.user.clone();
    let extra = parallel_extra(&user);
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "RecordParallelProcess",
        "admin/parallel_processes.html",
        &["started_on"],
        |review, _| extra(review),
    )
    .await;
    signed.finish(&state, outcome)
}

async fn parallel(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordParallelProcess")?;
        let request_id = request_id_of(&form);
        let kind = registry::ParallelProcessKind::from_str_name(form.get("kind"))
            .filter(|kind| *kind != registry::ParallelProcessKind::Unspecified);
        if kind.is_none() {
            form.errors.add("kind", "Select the kind of process");
        }
        let description = form.required("description", "Enter a short description");
        let started_on = form.date("started_on", "the date it started", true);
        if let (true, Some(kind)) = (form.errors.is_empty(), kind) {
            let mut client = state.services.registry.clone();
            let result = client
                .record_parallel_process(authed(
                    registry::RecordParallelProcessRequest {
                        review_id: id.clone(),
                        request_id,
                        kind: kind as i32,
                        description,
                        started_on,
                    },
                    &posted.user,
                )?)
                .await;
            if answered(result, &mut form)?.is_some() {
                return Ok(see_other(&format!("/reviews/{id}/parallel-processes")));
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/parallel_processes.html",
            &form,
            &["started_on"],
            parallel_extra(&posted.user),
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

fn end_extra(process: &str) -> impl Fn(&registry::Review) -> Value + '_ {
    move |review| {
        let found = review
            .parallel_processes
            .iter()
            .find(|candidate| candidate.id == process);
        context! {
            process_id => process,
            kind => found.map(|process| words(process.kind().as_str_name(), "PARALLEL_PROCESS_KIND_")),
            description => found.map(|process| process.description.clone()),
            started_on => found.and_then(|process| views::date(process.started_on.as_ref())),
        }
    }
}

async fn end_parallel_form(
    State(state): Shared,
    Path((id, process)): Path<(String, String)>,
    signed: SignedIn,
) -> Response {
    let extra = end_extra(&process);
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "EndParallelProcess",
        "admin/end_parallel_process.html",
        &["ended_on"],
        |review, _| extra(review),
    )
    .await;
    signed.finish(&state, outcome)
}

async fn end_parallel(
    State(state): Shared,
    Path((id, process)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "EndParallelProcess")?;
        let ended_on = form.date("ended_on", "the date it ended", true);
        if form.errors.is_empty() {
            let mut client = state.services.registry.clone();
            let result = client
                .end_parallel_process(authed(
                    registry::EndParallelProcessRequest {
                        review_id: id.clone(),
                        parallel_process_id: process.clone(),
                        ended_on,
                    },
                    &posted.user,
                )?)
                .await;
            if answered(result, &mut form)?.is_some() {
                return Ok(see_other(&format!("/reviews/{id}/parallel-processes")));
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/end_parallel_process.html",
            &form,
            &["ended_on"],
            end_extra(&process),
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Publication plan and pre-publication notice -----------------------------------

fn publication_extra(review: &registry::Review) -> Value {
    let publication = review.publication.clone().unwrap_or_default();
    context! {
        planned_on => views::date(publication.planned_on.as_ref()),
        notice_due_by => views::date(publication.notice_due_by.as_ref()),
        notice_sent_on => views::date(publication.notice_sent_on.as_ref()),
    }
}

async fn schedule_form(State(state): Shared, Path(id): Path<String>, signed: SignedIn) -> Response {
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "SchedulePublication",
        "admin/publication_plan.html",
        &["planned_on"],
        |review, _| publication_extra(review),
    )
    .await;
    signed.finish(&state, outcome)
}

/// A command of one date (the publication plan, the notice): sent, or the form again.
#[allow(clippy::too_many_arguments)]
async fn one_date<T>(
    state: &AppState,
    posted: &Posted,
    method: &str,
    id: &str,
    name: &'static str,
    label: &str,
    template: &str,
    send: impl AsyncFnOnce(Date) -> Result<tonic::Response<T>, tonic::Status>,
) -> Result<Response, PageError> {
    let mut form = posted_form(posted, method)?;
    if let Some(date) = form.date(name, label, true)
        && answered(send(date).await, &mut form)?.is_some()
    {
        return Ok(see_other(&review_path(id)));
    }
    again(
        state,
        posted,
        id,
        template,
        &form,
        &[name],
        publication_extra,
    )
    .await
}

async fn schedule(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let request = |planned_on| {
            authed(
                registry::SchedulePublicationRequest {
                    review_id: id.clone(),
                    planned_on: Some(planned_on),
                },
                &posted.user,
            )
        };
        one_date(
            &state,
            &posted,
            "SchedulePublication",
            &id,
            "planned_on",
            "the planned publication date",
            "admin/publication_plan.html",
            async |date| {
                let request = request(date).map_err(|_| tonic::Status::unauthenticated(""))?;
                state
                    .services
                    .registry
                    .clone()
                    .schedule_publication(request)
                    .await
            },
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

async fn notice_form(State(state): Shared, Path(id): Path<String>, signed: SignedIn) -> Response {
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "RecordPrePublicationNotice",
        "admin/pre_publication_notice.html",
        &["sent_on"],
        |review, _| publication_extra(review),
    )
    .await;
    signed.finish(&state, outcome)
}

async fn notice(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let request = |sent_on| {
            authed(
                registry::RecordPrePublicationNoticeRequest {
                    review_id: id.clone(),
                    sent_on: Some(sent_on),
                },
                &posted.user,
            )
        };
        one_date(
            &state,
            &posted,
            "RecordPrePublicationNotice",
            &id,
            "sent_on",
            "the date the notice was sent",
            "admin/pre_publication_notice.html",
            async |date| {
                let request = request(date).map_err(|_| tonic::Status::unauthenticated(""))?;
                state
                    .services
                    .registry
                    .clone()
                    .record_pre_publication_notice(request)
                    .await
            },
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Publication (check your answers) ----------------------------------------------

async fn publication_form(
    State(state): Shared,
    Path(id): Path<String>,
    signed: SignedIn,
) -> Response {
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "RecordPublication",
        "admin/publication.html",
        &["published_on"],
        |review, _| publication_extra(review),
    )
    .await;
    signed.finish(&state, outcome)
}

/// Publication as typed, checked: `None` when something is wrong.
fn read_publication(form: &mut Form) -> Option<registry::RecordPublicationRequest> {
    let published = match form.get("published") {
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            form.errors
                .add("published", "Select whether the report was published");
            None
        }
    };
    let mut request = registry::RecordPublicationRequest::default();
    match published {
        Some(true) => {
            request.published = true;
            request.published_on = form.date("published_on", "the date of publication", true);
            request.location = form.required("location", "Enter where the report is published");
        }
        Some(false) => {
            request.not_published_justification = form.required(
                "not_published_justification",
                "Enter why the report is not published",
            );
        }
        None => {}
    }
    form.errors.is_empty().then_some(request)
}

/// Whether the publication recorded is the one `request` asks for (a resend of it).
fn same_publication(
    recorded: &registry::Publication,
    request: &registry::RecordPublicationRequest,
) -> bool {
    recorded.outcome_recorded
        && recorded.published == request.published
        && if request.published {
            recorded.published_on == request.published_on && recorded.location == request.location
        } else {
            recorded.not_published_justification == request.not_published_justification
        }
}

async fn publication_check(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordPublication")?;
        let checked = read_publication(&mut form);
        let review = load(&state, &posted.user, &id).await?;
        let Some(request) = checked else {
            return page(
                &state,
                &posted.session,
                "admin/publication.html",
                &review,
                &form,
                &["published_on"],
                publication_extra(&review),
            );
        };
        let rows = if request.published {
            vec![
                Row {
                    key: "Published",
                    value: "Yes".into(),
                },
                Row {
                    key: "Date of publication",
                    value: views::date(request.published_on.as_ref()).unwrap_or_default(),
                },
                Row {
                    key: "Where it is published",
                    value: request.location,
                },
            ]
        } else {
            vec![
                Row {
                    key: "Published",
                    value: "No".into(),
                },
                Row {
                    key: "Why it is not published",
                    value: request.not_published_justification,
                },
            ]
        };
        check_page(
            &state,
            &posted.session,
            &review,
            &form,
            "Check the publication before recording it",
            rows,
            &format!("/reviews/{id}/publication/confirm"),
            "Once recorded, publication cannot be changed: the review moves to published.",
            "Record publication",
        )
    }
    .await;
    posted.finish(&state, outcome)
}

async fn publication(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordPublication")?;
        let change = form.get("change") == "yes";
        let checked = read_publication(&mut form);
        if let (Some(request), false) = (checked, change) {
            let mut client = state.services.registry.clone();
            let result = client
                .record_publication(authed(
                    registry::RecordPublicationRequest {
                        review_id: id.clone(),
                        ..request.clone()
                    },
                    &posted.user,
                )?)
                .await;
            match answered(result, &mut form) {
                Ok(Some(_)) => return Ok(see_other(&review_path(&id))),
                Ok(None) => {}
                // Sent twice: the first one recorded this very outcome.
                Err(PageError::Refused(reason)) => {
                    let review = load(&state, &posted.user, &id).await?;
                    if review
                        .publication
                        .as_ref()
                        .is_some_and(|recorded| same_publication(recorded, &request))
                    {
                        return Ok(see_other(&review_path(&id)));
                    }
                    return Err(PageError::Refused(reason));
                }
                Err(other) => return Err(other),
            }
        }
        if change {
            form.errors = FormErrors::default();
        }
        again(
            &state,
            &posted,
            &id,
            "admin/publication.html",
            &form,
            &["published_on"],
            publication_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_agency_rows_are_ignored_and_half_filled_ones_named() {
        let mut form = Form::parse(
            b"agency_id_0=police&agency_name_0=Police&agency_email_0=p%40x.org\
              &agency_id_2=gp&agency_name_2=&agency_email_2=g%40x.org\
              &agency_id_4=health&agency_name_4=Health&agency_email_4=h%40x.org",
        );
        let rows = agency_rows(&mut form);
        assert_eq!(
            rows.iter().map(|(row, _)| *row).collect::<Vec<_>>(),
            vec![0, 2, 4]
        );
        assert_eq!(rows[2].1.id, "health");
        assert_eq!(
            form.errors.by_field["agency_name_2"],
            "Enter a name for agency 3"
        );
        assert_eq!(form.errors.list.len(), 1);
        // The registry's names of the rows sent are the rows shown.
        assert_eq!(
            terms_field("agencies_in_scope[2].contact_email", &[0, 2, 4]),
            "agency_email_4"
        );
        assert_eq!(
            terms_field("agencies_in_scope[1].id", &[0, 2, 4]),
            "agency_id_2"
        );
        assert_eq!(
            terms_field("key_lines_of_enquiry[3]", &[]),
            "key_lines_of_enquiry"
        );
        assert_eq!(terms_field("scope_end", &[]), "scope_end");
    }

    #[test]
    fn a_panel_refusal_is_put_beside_the_field_that_fixes_it() {
        assert_eq!(
            panel_field("Ann@x.org is already on the panel", "ann@x.org"),
            Some("email")
        );
        assert_eq!(
            panel_field("the panel already has a chair", "b@x.org"),
            Some("role")
        );
        assert_eq!(
            panel_field(
                "appointing a panel member is not possible at CLOSED",
                "b@x.org"
            ),
            None
        );
    }

    #[test]
    fn the_next_stage_follows_the_lifecycle() {
        assert_eq!(
            next_stages(registry::Stage::RapidReview),
            vec![registry::Stage::Scoping, registry::Stage::NotProceeding]
        );
        assert!(next_stages(registry::Stage::Closed).is_empty());
    }
}
