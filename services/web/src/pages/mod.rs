//! The pages, by who uses them (one module each), and what they share: the signed-in user
//! as an extractor, a gRPC refusal shown as a person would want it, rendering with the
//! user and the CSRF token, and the security headers of every response.

/// A page module's templates: each by its name under `templates/` and its text, read into
/// the binary at build time (one way for every module, so a name and its file cannot differ).
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $name)))),*]
    };
}

mod actions;
mod admin;
mod agency;
mod family;
mod operations;
mod panel;
mod reviewer;
mod reviews;
mod sign_in;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Serialize;
use tonic::Code;

use cspr_platform::access::rules::{ACTIONS, NOTIFICATIONS, REGISTRY};

use crate::AppState;
use crate::forms::{Form, check_csrf};
use crate::session::{self, Session, User};

pub(crate) type Shared = State<Arc<AppState>>;

/// Every page's route: each module of pages brings its own.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .merge(sign_in::routes())
        .merge(reviews::routes())
        .merge(admin::routes())
        .merge(agency::routes())
        .merge(operations::routes())
        .merge(actions::routes())
        .merge(reviewer::routes())
        .merge(family::routes())
        .merge(panel::routes())
}

/// Every page module's templates, by name: compiled in.
pub(crate) const TEMPLATES: &[&[(&str, &str)]] = &[
    actions::TEMPLATES,
    admin::TEMPLATES,
    admin::commands::TEMPLATES,
    admin::records::TEMPLATES,
    agency::TEMPLATES,
    family::TEMPLATES,
    operations::TEMPLATES,
    panel::TEMPLATES,
    reviewer::TEMPLATES,
    reviews::TEMPLATES,
    sign_in::TEMPLATES,
];

/// A signed-in request: its session and user. Without one, the request goes to sign-in.
pub(crate) struct SignedIn {
    pub(crate) session: Session,
    pub(crate) user: User,
}

impl FromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        signed_in(state, &parts.headers)
            .map(|(session, user)| Self { session, user })
            .map_err(|error| error.page(state))
    }
}

impl SignedIn {
    /// The page `outcome` made; a refusal as its page (an expired token ends the session).
    pub(crate) fn finish(
        &self,
        state: &AppState,
        outcome: Result<Response, PageError>,
    ) -> Response {
        finish(state, &self.session, outcome)
    }

    /// [`PageError::NoAccess`] unless the user's roles could ever be allowed `method` of
    /// `service` (as the platform's access table says, the services' own rule): a form is
    /// refused before it is filled in, not after.
    pub(crate) fn may(&self, service: &str, method: &str) -> Result<(), PageError> {
        if self.user.may(service, method) {
            Ok(())
        } else {
            Err(PageError::NoAccess)
        }
    }
}

/// A signed-in form post whose CSRF token is the session's: the user and what the form sent.
pub(crate) struct Posted {
    pub(crate) session: Session,
    pub(crate) user: User,
    pub(crate) form: Form,
}

/// The largest form the pages accept (a spreadsheet upload has its own limit).
const MAX_FORM_BYTES: usize = 256 * 1024;

impl FromRequest<Arc<AppState>> for Posted {
    type Rejection = Response;

    async fn from_request(
        request: Request,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let (session, user) =
            signed_in(state, request.headers()).map_err(|error| error.page(state))?;
        let body = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                PageError::Invalid(vec![FieldError {
                    field: "form".into(),
                    description: format!("the form is larger than {} KiB", MAX_FORM_BYTES / 1024),
                }])
                .page_in(state, Some(&session))
            })?;
        let form = Form::parse(&body);
        check_csrf(&session, &form.fields).map_err(|error| error.page_in(state, Some(&session)))?;
        Ok(Self {
            session,
            user,
            form,
        })
    }
}

impl Posted {
    pub(crate) fn finish(
        &self,
        state: &AppState,
        outcome: Result<Response, PageError>,
    ) -> Response {
        finish(state, &self.session, outcome)
    }
}

/// A form page shown again with its problems is a 400, so tools (and tests) see the refusal.
pub(crate) fn with_status(page: Response, has_errors: bool) -> Response {
    if has_errors {
        (StatusCode::BAD_REQUEST, page).into_response()
    } else {
        page
    }
}

/// After a command: to `path`, as a GET (so reloading the page does not send it again).
pub(crate) fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// The review, as the registry lets the user see it (its refusal is the page's). Every page
/// about one review reads it this one way, so the registry alone decides who sees it.
pub(crate) async fn review_of(
    state: &AppState,
    user: &User,
    id: &str,
) -> Result<cspr_proto::registry::v1::Review, PageError> {
    let mut client = state.services.registry.clone();
    Ok(client
        .get_review(authed(
            cspr_proto::registry::v1::GetReviewRequest {
                review_id: id.to_string(),
            },
            user,
        )?)
        .await?
        .into_inner())
}

/// A copy of what was posted, with no problems found yet (the form a POST checks).
pub(crate) fn posted_form(posted: &Posted) -> Form {
    Form {
        fields: posted.form.fields.clone(),
        errors: crate::forms::FormErrors::default(),
    }
}

/// A command's answer: `Some` when done; `None` when the service named fields (now in
/// `form.errors`); any other refusal as its page.
pub(crate) fn answered<T>(
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

/// The end of every command form's POST, one way: done, to the page `done` names (a GET,
/// POST-redirect-GET); refused naming fields, the form `again` with them beside the fields;
/// refused otherwise, that refusal's page.
pub(crate) fn commanded<T>(
    result: Result<tonic::Response<T>, tonic::Status>,
    form: &mut Form,
    done: impl FnOnce(T) -> String,
    again: impl FnOnce(&Form) -> Result<Response, PageError>,
) -> Result<Response, PageError> {
    match answered(result, form)? {
        Some(answer) => Ok(see_other(&done(answer))),
        None => again(form),
    }
}

/// Every response: no inline script or style from anywhere but this site, no framing, no
/// sniffing, no referrer (review ids in URLs stay here), and pages never cached.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
             font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Pages show case data: no browser or proxy keeps them (the assets say otherwise).
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A page that could not be shown, as the person asking sees it.
#[derive(Debug)]
pub(crate) enum PageError {
    /// Not signed in (or the session or its token expired): to the sign-in page.
    SignIn,
    /// The form's CSRF token is missing or wrong.
    Csrf,
    NoAccess,
    NotFound,
    Unavailable,
    /// The service refused what was asked, naming the fields.
    Invalid(Vec<FieldError>),
    /// The service refused it as things stand (FAILED_PRECONDITION, ALREADY_EXISTS,
    /// ABORTED): its reason, in the service's words ("gp's report is still outstanding").
    Refused(String),
    /// Anything else: logged, shown as a problem with the service.
    Internal(String),
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FieldError {
    pub(crate) field: String,
    pub(crate) description: String,
}

impl PageError {
    /// A form's problems from a refusal naming its fields, into `errors` (the proto's field
    /// names are the form's); any other refusal as it is.
    pub(crate) fn into_form_errors(
        self,
        errors: &mut crate::forms::FormErrors,
    ) -> Result<(), PageError> {
        match self {
            Self::Invalid(fields) if !fields.is_empty() => {
                for field in fields {
                    errors.add(&field.field, &sentence(&field.description));
                }
                Ok(())
            }
            other => Err(other),
        }
    }
}

/// A service's message as a sentence: capital first, full stop last.
pub(crate) fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut letters = text.chars();
    let mut out: String = match letters.next() {
        Some(first) => first.to_uppercase().chain(letters).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

impl From<tonic::Status> for PageError {
    fn from(status: tonic::Status) -> Self {
        use cspr_platform::error::FieldViolation;
        match status.code() {
            Code::Unauthenticated => Self::SignIn,
            Code::PermissionDenied => Self::NoAccess,
            Code::NotFound => Self::NotFound,
            Code::Unavailable | Code::DeadlineExceeded => Self::Unavailable,
            Code::InvalidArgument => Self::Invalid(
                FieldViolation::all_in(&status)
                    .into_iter()
                    .map(|violation| FieldError {
                        field: violation.field,
                        description: violation.description,
                    })
                    .collect(),
            ),
            Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => {
                Self::Refused(status.message().to_string())
            }
            Code::ResourceExhausted => Self::Unavailable,
            code => Self::Internal(format!("{code:?}: {}", status.message())),
        }
    }
}

/// The error page; with the signed-in user's header and sign-out when there is one.
fn error_page(
    state: &AppState,
    session: Option<&Session>,
    status: StatusCode,
    heading: &str,
    paragraphs: &[&str],
    fields: &[FieldError],
) -> Response {
    let page = context! { heading, paragraphs, fields };
    let rendered = match session {
        Some(session) => {
            render(state, "error.html", session, page).map(|response| response.into_body())
        }
        None => state
            .templates
            .render("error.html", page)
            .map(axum::body::Body::from)
            .map_err(|error| PageError::Internal(error.to_string())),
    };
    match rendered {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(?error, "the error page does not render");
            (status, heading.to_string()).into_response()
        }
    }
}

impl PageError {
    /// The page for a request without a (signed-in) session.
    pub(crate) fn page(self, state: &AppState) -> Response {
        self.page_in(state, None)
    }

    pub(crate) fn page_in(self, state: &AppState, session: Option<&Session>) -> Response {
        match self {
            Self::SignIn => Redirect::to("/sign-in").into_response(),
            Self::Csrf => error_page(
                state,
                session,
                StatusCode::FORBIDDEN,
                "Your form could not be accepted",
                &[
                    "The page you sent it from was too old or not from this service. Go back, reload the page and try again.",
                ],
                &[],
            ),
            Self::NoAccess => error_page(
                state,
                session,
                StatusCode::FORBIDDEN,
                "You do not have access to this page",
                &[
                    "Your roles do not allow it. If you think they should, ask your partnership's business unit.",
                ],
                &[],
            ),
            Self::NotFound => error_page(
                state,
                session,
                StatusCode::NOT_FOUND,
                "Page not found",
                &[
                    "If you typed the web address, check it is correct. If you followed a link, the review may not exist or may belong to another partnership.",
                ],
                &[],
            ),
            Self::Unavailable => error_page(
                state,
                session,
                StatusCode::SERVICE_UNAVAILABLE,
                "Sorry, there is a problem with the service",
                &["Try again later. Nothing you have already saved has been lost."],
                &[],
            ),
            Self::Invalid(fields) => error_page(
                state,
                session,
                StatusCode::BAD_REQUEST,
                "There is a problem with what was asked",
                &[],
                &fields,
            ),
            Self::Refused(reason) => error_page(
                state,
                session,
                StatusCode::CONFLICT,
                "This cannot be done now",
                &[
                    &sentence(&reason),
                    "Nothing was changed. Go back to see where the review is.",
                ],
                &[],
            ),
            Self::Internal(cause) => {
                tracing::error!(%cause, "a page failed");
                error_page(
                    state,
                    session,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sorry, there is a problem with the service",
                    &["Try again later."],
                    &[],
                )
            }
        }
    }
}

/// The session of this request, if it has a live one.
pub(crate) fn current(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    session::cookie_id(headers).and_then(|id| state.sessions.get(&id))
}

/// The signed-in session and its user, else [`PageError::SignIn`].
fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<(Session, User), PageError> {
    let session = current(state, headers).ok_or(PageError::SignIn)?;
    let user = session.user.clone().ok_or(PageError::SignIn)?;
    Ok((session, user))
}

/// A page of `template`, with the signed-in user and the session's CSRF token for its forms.
pub(crate) fn render(
    state: &AppState,
    template: &str,
    session: &Session,
    page: minijinja::Value,
) -> Result<Response, PageError> {
    let user = session.user.as_ref().map(|user| {
        context! {
            name => user.name,
            partnership => user.partnership,
            roles => user.roles.join(", "),
            org => user.org,
            may_record_incident => user.may(REGISTRY, "CreateReview"),
            may_operate => user.may(NOTIFICATIONS, "ListDeliveries"),
            may_read_actions => user.may(ACTIONS, "ListActions"),
            may_read_reviews => user.may(REGISTRY, "ListReviews"),
            may_summarize_rapid_reviews => user.may(REGISTRY, "SummarizeRapidReviews"),
        }
    });
    let html = state
        .templates
        .render(template, context! { user, csrf => session.csrf, ..page })
        .map_err(|error| PageError::Internal(format!("template {template}: {error}")))?;
    Ok(Html(html).into_response())
}

/// A gRPC request with the user's token, as the services expect it.
pub(crate) fn authed<T>(message: T, user: &User) -> Result<tonic::Request<T>, PageError> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {}", user.token)
        .parse()
        .map_err(|_| PageError::SignIn)?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

pub(crate) fn with_cookie(mut response: Response, cookie: String) -> Response {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A page that called the services: an expired token ends the session.
pub(crate) fn finish(
    state: &AppState,
    session: &Session,
    outcome: Result<Response, PageError>,
) -> Response {
    match outcome {
        Ok(response) => response,
        Err(PageError::SignIn) => {
            state.sessions.remove(&session.id);
            PageError::SignIn.page(state)
        }
        Err(error) => error.page_in(state, Some(session)),
    }
}

pub(crate) async fn not_found(State(state): Shared) -> Response {
    PageError::NotFound.page(&state)
}
