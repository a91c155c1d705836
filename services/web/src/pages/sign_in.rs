//! Signing in (the development sign-in; OpenID Connect where configured) and out.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use cspr_platform::auth::{Role, TokenRequest, issue_development_token};
use minijinja::context;
use serde::Serialize;

use super::{PageError, Shared, current, render, with_cookie};
use crate::AppState;
use crate::forms::{check_csrf, field, fields_named, form_fields};
use crate::session::{self, Session, User};
use crate::views;

pub(crate) fn routes() -> axum::Router<std::sync::Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/sign-in", get(sign_in_form).post(sign_in))
        .route("/sign-in/oidc", get(oidc_start))
        .route(crate::oidc::CALLBACK_PATH, get(oidc_callback))
        .route("/sign-out", post(sign_out))
}

pub(crate) const TEMPLATES: &[(&str, &str)] = templates!["sign_in.html", "signed_in.html",];

/// How long a development sign-in's token lives; the session's idle timeout ends it sooner.
const DEVELOPMENT_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(12 * 60 * 60);

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
    failed: bool,
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
        context! {
            development => state.config.development_auth.is_some(),
            oidc => state.oidc.is_some(),
            failed,
            form,
            roles,
            errors,
        },
    )?;
    Ok(if errors.is_empty() {
        response
    } else {
        (StatusCode::BAD_REQUEST, response).into_response()
    })
}

pub(crate) async fn sign_in_form(
    State(state): Shared,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let failed = query.is_some_and(|query| query.contains("failed"));
    let (session, new) = match current(&state, &headers) {
        Some(session) if session.user.is_some() => return Redirect::to("/").into_response(),
        Some(session) => (session, false),
        None => (state.sessions.create(None), true),
    };
    let page = sign_in_page(&state, &session, &SignInForm::default(), &[], &[], failed)
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
    let roles: Vec<String> = fields_named(&fields, "roles")
        .into_iter()
        .filter_map(Role::parse)
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
        return sign_in_page(state, &session, &form, &roles, &errors, false);
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
    let signed_in = state.sessions.create(Some(User::new(
        form.name,
        form.partnership,
        &roles,
        (!form.org.is_empty()).then_some(form.org),
        token,
    )));
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

/// GET /sign-in/oidc: off to the partnership's identity provider, with a new sign-in's
/// state and PKCE challenge.
async fn oidc_start(State(state): Shared) -> Response {
    let Some(oidc) = &state.oidc else {
        return PageError::NotFound.page(&state);
    };
    match oidc.start().await {
        Ok((id, url)) => with_cookie(
            Redirect::to(&url).into_response(),
            crate::oidc::set_cookie(&id, state.config.secure_cookies()),
        ),
        Err(error) => {
            tracing::warn!(%error, "an OpenID Connect sign-in could not start");
            PageError::Unavailable.page(&state)
        }
    }
}

/// GET /sign-in/callback: the provider's answer. Its code is exchanged for an access token
/// that is verified as the services will; then a new session. Anything else is "you were
/// not signed in" (the cause is logged, never shown or put in a URL).
async fn oidc_callback(
    State(state): Shared,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let secure = state.config.secure_cookies();
    let Some(oidc) = &state.oidc else {
        return PageError::NotFound.page(&state);
    };
    let query = form_fields(query.unwrap_or_default().as_bytes());
    let outcome = match (
        crate::oidc::cookie_id(&headers),
        field(&query, "code"),
        field(&query, "error"),
    ) {
        (_, _, error) if !error.is_empty() => Err(format!(
            "the identity provider answered {error}: {}",
            field(&query, "error_description")
        )),
        (Some(id), code, _) if !code.is_empty() => oidc
            .finish(&id, field(&query, "state"), code)
            .await
            .map_err(|error| error.to_string()),
        (None, _, _) => Err("no sign-in cookie came back with the answer".to_string()),
        (Some(_), _, _) => Err("the answer has no code".to_string()),
    };
    let (token, principal) = match outcome {
        Ok(signed) => signed,
        Err(cause) => {
            tracing::warn!(%cause, "an OpenID Connect sign-in failed");
            return with_cookie(
                Redirect::to("/sign-in?failed=1").into_response(),
                crate::oidc::clear_cookie(secure),
            );
        }
    };
    let session = state
        .sessions
        .create(Some(User::verified(principal, token)));
    // A page of this site that goes on to the dashboard: the browser arrived here from the
    // provider's site, and a Strict cookie is not sent on a redirect chain that began
    // elsewhere, but it is on a navigation this page starts.
    let page = render(&state, "signed_in.html", &session, context! {})
        .unwrap_or_else(|error| error.page(&state));
    let page = with_cookie(page, session::set_cookie(&session.id, secure));
    with_cookie(page, crate::oidc::clear_cookie(secure))
}
