//! The pages: sign-in and sign-out, the dashboard, a review; a gRPC refusal shown as a
//! person would want it; the security headers of every response.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use cspr_platform::auth::{Role, TokenRequest, issue_development_token};
use cspr_proto::registry::v1 as registry;
use minijinja::context;
use serde::Serialize;
use tonic::Code;

use crate::AppState;
use crate::session::{self, Session, User};
use crate::views::{self, ReviewView};

type Shared = State<Arc<AppState>>;

/// How long a development sign-in's token lives; the session's idle timeout ends it sooner.
const DEVELOPMENT_TOKEN_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// Reviews on one dashboard page.
pub(crate) const PAGE_SIZE: i32 = 20;

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
    /// Anything else: logged, shown as a problem with the service.
    Internal(String),
}

#[derive(Debug, Serialize)]
pub(crate) struct FieldError {
    field: String,
    description: String,
}

impl From<tonic::Status> for PageError {
    fn from(status: tonic::Status) -> Self {
        use tonic_types::StatusExt;
        match status.code() {
            Code::Unauthenticated => Self::SignIn,
            Code::PermissionDenied => Self::NoAccess,
            Code::NotFound => Self::NotFound,
            Code::Unavailable | Code::DeadlineExceeded => Self::Unavailable,
            Code::InvalidArgument => Self::Invalid(
                status
                    .get_error_details()
                    .bad_request()
                    .map(|bad_request| {
                        bad_request
                            .field_violations
                            .iter()
                            .map(|violation| FieldError {
                                field: violation.field.clone(),
                                description: violation.description.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
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
    fn page(self, state: &AppState) -> Response {
        self.page_in(state, None)
    }

    fn page_in(self, state: &AppState, session: Option<&Session>) -> Response {
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
fn current(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    session::cookie_id(headers).and_then(|id| state.sessions.get(&id))
}

/// The signed-in session and its user, else [`PageError::SignIn`].
fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<(Session, User), PageError> {
    let session = current(state, headers).ok_or(PageError::SignIn)?;
    let user = session.user.clone().ok_or(PageError::SignIn)?;
    Ok((session, user))
}

/// A page of `template`, with the signed-in user and the session's CSRF token for its forms.
fn render(
    state: &AppState,
    template: &str,
    session: &Session,
    page: minijinja::Value,
) -> Result<Response, PageError> {
    let user = session.user.as_ref().map(|user| {
        context! { name => user.name, partnership => user.partnership, roles => user.roles.join(", ") }
    });
    let html = state
        .templates
        .render(template, context! { user, csrf => session.csrf, ..page })
        .map_err(|error| PageError::Internal(format!("template {template}: {error}")))?;
    Ok(Html(html).into_response())
}

/// A gRPC request with the user's token, as the services expect it.
fn authed<T>(message: T, user: &User) -> Result<tonic::Request<T>, PageError> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {}", user.token)
        .parse()
        .map_err(|_| PageError::SignIn)?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

/// A form's fields, repeated names kept (the roles' checkboxes).
fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.trim())
        .unwrap_or_default()
}

/// The form's CSRF token is the session's: a form from elsewhere cannot act as the user.
fn check_csrf(session: &Session, fields: &[(String, String)]) -> Result<(), PageError> {
    let sent = field(fields, "csrf_token").as_bytes();
    let expected = session.csrf.as_bytes();
    // Same length always (64 hex digits); compared without an early exit.
    let same = sent.len() == expected.len()
        && sent
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0;
    if same { Ok(()) } else { Err(PageError::Csrf) }
}

fn with_cookie(mut response: Response, cookie: String) -> Response {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Default, Serialize)]
struct SignInForm {
    name: String,
    partnership: String,
    org: String,
}

#[derive(Debug, Serialize)]
struct SignInError {
    field: &'static str,
    message: &'static str,
}

fn sign_in_page(
    state: &AppState,
    session: &Session,
    form: &SignInForm,
    checked: &[String],
    errors: &[SignInError],
) -> Result<Response, PageError> {
    let roles: Vec<_> = Role::ALL
        .iter()
        .map(|role| {
            context! {
                value => role.as_str(),
                label => views::words(role.as_str(), ""),
                checked => checked.iter().any(|name| name == role.as_str()),
            }
        })
        .collect();
    let response = render(
        state,
        "sign_in.html",
        session,
        context! { development => state.config.development_auth.is_some(), form, roles, errors },
    )?;
    Ok(if errors.is_empty() {
        response
    } else {
        (StatusCode::BAD_REQUEST, response).into_response()
    })
}

pub(crate) async fn sign_in_form(State(state): Shared, headers: HeaderMap) -> Response {
    let (session, new) = match current(&state, &headers) {
        Some(session) if session.user.is_some() => return Redirect::to("/").into_response(),
        Some(session) => (session, false),
        None => (state.sessions.create(None), true),
    };
    let page = sign_in_page(&state, &session, &SignInForm::default(), &[], &[])
        .unwrap_or_else(|error| error.page(&state));
    if new {
        with_cookie(
            page,
            session::set_cookie(&session.id, state.config.secure_cookies()),
        )
    } else {
        page
    }
}

pub(crate) async fn sign_in(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response {
    sign_in_submitted(&state, &headers, &body).unwrap_or_else(|error| error.page(&state))
}

fn sign_in_submitted(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, PageError> {
    let session = current(state, headers).ok_or(PageError::Csrf)?;
    let fields = form_fields(body);
    check_csrf(&session, &fields)?;
    let Some(auth) = &state.config.development_auth else {
        return Err(PageError::NotFound);
    };
    let form = SignInForm {
        name: field(&fields, "name").to_string(),
        partnership: field(&fields, "partnership").to_string(),
        org: field(&fields, "org").to_string(),
    };
    let roles: Vec<String> = fields
        .iter()
        .filter(|(key, _)| key == "roles")
        .filter_map(|(_, value)| Role::parse(value))
        .map(|role| role.as_str().to_string())
        .collect();
    let mut errors = Vec::new();
    if form.name.is_empty() {
        errors.push(SignInError {
            field: "name",
            message: "Enter your name",
        });
    }
    if form.partnership.is_empty() {
        errors.push(SignInError {
            field: "partnership",
            message: "Enter the partnership",
        });
    }
    if roles.is_empty() {
        errors.push(SignInError {
            field: "roles",
            message: "Select at least one role",
        });
    }
    if roles.iter().any(|role| role == Role::Agency.as_str()) && form.org.is_empty() {
        errors.push(SignInError {
            field: "org",
            message: "Enter the agency for the agency role",
        });
    }
    if !errors.is_empty() {
        return sign_in_page(state, &session, &form, &roles, &errors);
    }
    let token = issue_development_token(
        auth,
        &TokenRequest {
            subject: form.name.clone(),
            partnership: form.partnership.clone(),
            roles: roles.clone(),
            org: (!form.org.is_empty()).then(|| form.org.clone()),
            ttl: DEVELOPMENT_TOKEN_TTL,
        },
    )
    .map_err(|error| PageError::Internal(error.to_string()))?;
    // A new id on sign-in: an id someone planted before it is worth nothing after.
    state.sessions.remove(&session.id);
    let signed_in = state.sessions.create(Some(User {
        name: form.name,
        partnership: form.partnership,
        roles,
        token,
    }));
    Ok(with_cookie(
        Redirect::to("/").into_response(),
        session::set_cookie(&signed_in.id, state.config.secure_cookies()),
    ))
}

pub(crate) async fn sign_out(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let outcome = current(&state, &headers)
        .ok_or(PageError::Csrf)
        .and_then(|session| {
            check_csrf(&session, &form_fields(&body))?;
            Ok(session)
        });
    match outcome {
        Ok(session) => {
            state.sessions.remove(&session.id);
            with_cookie(
                Redirect::to("/sign-in").into_response(),
                session::clear_cookie(state.config.secure_cookies()),
            )
        }
        Err(error) => error.page(&state),
    }
}

/// A page that called the services: an expired token ends the session.
fn finish(state: &AppState, session: &Session, outcome: Result<Response, PageError>) -> Response {
    match outcome {
        Ok(response) => response,
        Err(PageError::SignIn) => {
            state.sessions.remove(&session.id);
            PageError::SignIn.page(state)
        }
        Err(error) => error.page_in(state, Some(session)),
    }
}

pub(crate) async fn dashboard(
    State(state): Shared,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (session, user) = match signed_in(&state, &headers) {
        Ok(signed_in) => signed_in,
        Err(error) => return error.page(&state),
    };
    let outcome = dashboard_page(&state, &session, &user, query.as_deref().unwrap_or("")).await;
    finish(&state, &session, outcome)
}

async fn dashboard_page(
    state: &AppState,
    session: &Session,
    user: &User,
    query: &str,
) -> Result<Response, PageError> {
    let query = form_fields(query.as_bytes());
    let stage_name = field(&query, "stage");
    let stage = registry::Stage::from_str_name(stage_name);
    let page_token = field(&query, "page_token");
    let mut client = state.registry.clone();
    let response = client
        .list_reviews(authed(
            registry::ListReviewsRequest {
                stage: stage.map(|stage| stage as i32).unwrap_or_default(),
                page_size: PAGE_SIZE,
                page_token: page_token.to_string(),
                ..Default::default()
            },
            user,
        )?)
        .await?
        .into_inner();
    let stage_value = stage.map(|stage| stage.as_str_name()).unwrap_or_default();
    let link = |token: &str| {
        let mut url = form_urlencoded::Serializer::new(String::new());
        if !stage_value.is_empty() {
            url.append_pair("stage", stage_value);
        }
        if !token.is_empty() {
            url.append_pair("page_token", token);
        }
        format!("/?{}", url.finish())
    };
    let next_page = (!response.next_page_token.is_empty()).then(|| link(&response.next_page_token));
    let first_page = (!page_token.is_empty()).then(|| link(""));
    let reviews: Vec<ReviewView> = response.reviews.iter().map(ReviewView::from).collect();
    render(
        state,
        "dashboard.html",
        session,
        context! {
            reviews,
            stages => views::stages(),
            stage => stage_value,
            next_page,
            first_page,
        },
    )
}

pub(crate) async fn review(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (session, user) = match signed_in(&state, &headers) {
        Ok(signed_in) => signed_in,
        Err(error) => return error.page(&state),
    };
    let outcome = async {
        let mut client = state.registry.clone();
        let review = client
            .get_review(authed(registry::GetReviewRequest { review_id: id }, &user)?)
            .await?
            .into_inner();
        render(
            &state,
            "review.html",
            &session,
            context! { review => ReviewView::from(&review) },
        )
    }
    .await;
    finish(&state, &session, outcome)
}

pub(crate) async fn not_found(State(state): Shared) -> Response {
    PageError::NotFound.page(&state)
}
