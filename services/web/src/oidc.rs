//! Signing people in with OpenID Connect: the authorization code flow with PKCE (RFC 7636,
//! S256) against the partnership's identity provider, whose access tokens the services
//! verify through its JWKS. The web verifies the token it got the same way (the
//! [`Authenticator`] of the same `CSPR_AUTH_*` settings), so what the pages offer is what
//! the services will allow.
//!
//! A sign-in in progress (its `state` and PKCE verifier) is kept here, keyed by a random id
//! in a short-lived cookie of its own: SameSite=Lax, because the provider sends the browser
//! back with a cross-site navigation, on which the session's Strict cookie is not sent. The
//! cookie binds the answer to the browser that asked, so a code sent to someone else's
//! browser (login CSRF) finds nothing waiting for it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cspr_platform::auth::{Authenticator, Principal};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::config::OidcConfig;
use crate::session::{random_token, same_secret};

/// The cookie of a sign-in in progress.
pub(crate) const COOKIE: &str = "cspr_oidc";

/// How long a person may take at the provider's sign-in page.
const PENDING_FOR: Duration = Duration::from_secs(10 * 60);

/// Where the provider sends people back, under the web's public URL.
pub(crate) const CALLBACK_PATH: &str = "/sign-in/callback";

/// What the provider's discovery document says, of what the web uses.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    authorization_endpoint: String,
    token_endpoint: String,
}

/// A sign-in waiting for the provider's answer.
struct Pending {
    state: String,
    verifier: String,
    started: Instant,
}

/// Why a sign-in did not complete (each shown as "sign in again", the cause logged).
#[derive(Debug, thiserror::Error)]
pub(crate) enum OidcError {
    #[error("the identity provider cannot be reached: {0}")]
    Provider(String),
    #[error("no sign-in is waiting for this answer (too old, or from another browser)")]
    NotWaiting,
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    #[error("the identity provider's token is not one the services take: {0}")]
    Token(String),
}

/// The identity provider, as the web signs people in with it.
pub(crate) struct Oidc {
    config: OidcConfig,
    redirect_uri: String,
    http: reqwest::Client,
    discovery: OnceCell<Discovery>,
    pending: Mutex<HashMap<String, Pending>>,
    /// Verifies the access token as the services will.
    authenticator: Authenticator,
}

/// The PKCE challenge of `verifier` (S256).
fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Deserialize)]
struct TokenRefusal {
    error: String,
    #[serde(default)]
    error_description: String,
}

impl Oidc {
    pub(crate) fn new(
        config: OidcConfig,
        public_url: &str,
        authenticator: Authenticator,
    ) -> Result<Self, OidcError> {
        Ok(Self {
            redirect_uri: format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/')),
            http: cspr_platform::auth::http_client()
                .map_err(|error| OidcError::Provider(error.to_string()))?,
            discovery: OnceCell::new(),
            pending: Mutex::default(),
            authenticator,
            config,
        })
    }

    /// The verifier's background key refresh, for the web to run.
    pub(crate) fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    async fn discovery(&self) -> Result<&Discovery, OidcError> {
        self.discovery
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.config.issuer.trim_end_matches('/')
                );
                let response = self
                    .http
                    .get(&url)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|error| OidcError::Provider(format!("{url}: {error}")))?;
                let text = response
                    .text()
                    .await
                    .map_err(|error| OidcError::Provider(format!("{url}: {error}")))?;
                serde_json::from_str::<Discovery>(&text)
                    .map_err(|error| OidcError::Provider(format!("{url}: {error}")))
            })
            .await
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new sign-in: the cookie id it is kept under, and where to send the browser.
    pub(crate) async fn start(&self) -> Result<(String, String), OidcError> {
        let discovery = self.discovery().await?;
        let (id, state, verifier) = (random_token(), random_token(), random_token());
        let mut url = reqwest::Url::parse(&discovery.authorization_endpoint)
            .map_err(|error| OidcError::Provider(format!("authorization_endpoint: {error}")))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.config.client_id)
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("scope", &self.config.scope)
                .append_pair("state", &state)
                .append_pair("code_challenge", &challenge(&verifier))
                .append_pair("code_challenge_method", "S256");
            if let Some(resource) = &self.config.resource {
                query.append_pair("resource", resource);
            }
        }
        let now = Instant::now();
        let mut pending = self.pending();
        pending.retain(|_, waiting| now.duration_since(waiting.started) < PENDING_FOR);
        pending.insert(
            id.clone(),
            Pending {
                state,
                verifier,
                started: now,
            },
        );
        Ok((id, url.into()))
    }

    /// The provider's answer for the sign-in kept under `id`: its code exchanged (with the
    /// verifier) for an access token, verified as the services will.
    pub(crate) async fn finish(
        &self,
        id: &str,
        state: &str,
        code: &str,
    ) -> Result<(String, Principal), OidcError> {
        let waiting = self.pending().remove(id).ok_or(OidcError::NotWaiting)?;
        if waiting.started.elapsed() >= PENDING_FOR
            || !same_secret(waiting.state.as_bytes(), state.as_bytes())
        {
            return Err(OidcError::NotWaiting);
        }
        let discovery = self.discovery().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", waiting.verifier.as_str()),
            ("client_id", self.config.client_id.as_str()),
        ];
        if let Some(secret) = &self.config.client_secret {
            form.push(("client_secret", secret));
        }
        if let Some(resource) = &self.config.resource {
            form.push(("resource", resource));
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .http
            .post(&discovery.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|error| OidcError::Provider(error.to_string()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| OidcError::Provider(error.to_string()))?;
        if !status.is_success() {
            let refusal: Option<TokenRefusal> = serde_json::from_str(&text).ok();
            return Err(OidcError::Refused(match refusal {
                Some(refusal) => format!("{}: {}", refusal.error, refusal.error_description),
                None => format!("{status}"),
            }));
        }
        let answer: TokenAnswer =
            serde_json::from_str(&text).map_err(|error| OidcError::Refused(error.to_string()))?;
        let principal = self
            .authenticator
            .verify(&answer.access_token)
            .map_err(|error| OidcError::Token(error.to_string()))?;
        Ok((answer.access_token, principal))
    }
}

/// The `Set-Cookie` of a sign-in in progress: Lax (it must come back with the provider's
/// cross-site redirect), only to the callback, gone after the time allowed.
pub(crate) fn set_cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={id}; Path={CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        PENDING_FOR.as_secs()
    )
}

/// Clears it, once the answer came.
pub(crate) fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path={CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The sign-in id in a request's cookies.
pub(crate) fn cookie_id(headers: &axum::http::HeaderMap) -> Option<String> {
    crate::session::cookie_named(headers, COOKIE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_the_verifiers_sha256_in_base64url() {
        // As Python's hashlib and base64.urlsafe_b64encode (padding stripped) compute it.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r7wW1gFWFOEjXk"),
            "bwWFMyPfdG9qreDhH2lmftFx_dFeLDalzcT1gb_j68g"
        );
    }

    #[test]
    fn the_pending_cookie_comes_back_only_to_the_callback() {
        let cookie = set_cookie("abc", true);
        assert!(cookie.contains("Path=/sign-in/callback"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.ends_with("; Secure"), "{cookie}");
        assert!(same_secret(b"same", b"same"));
        assert!(!same_secret(b"same", b"diff"));
        assert!(!same_secret(b"same", b"longer"));
    }
}
