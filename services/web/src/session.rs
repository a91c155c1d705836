//! Server-side sessions: the browser holds only a random id (cookie `cspr_session`); the
//! user's bearer token, who they are and the session's CSRF token stay here, in memory.
//! A session unused for the idle timeout is gone, and so is every session when the
//! process restarts (people sign in again: nothing of theirs is lost, it is in the services).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cspr_platform::auth::{Principal, Role};
use rand::RngCore;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "cspr_session";

/// Who is signed in, and the token the services are called with on their behalf.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) name: String,
    pub(crate) partnership: String,
    pub(crate) roles: Vec<String>,
    /// Their agency, for the agency role.
    pub(crate) org: Option<String>,
    pub(crate) token: String,
    /// The same as the services will see in the token, for deciding what to offer.
    principal: Principal,
}

impl User {
    pub(crate) fn new(
        name: String,
        partnership: String,
        roles: &[String],
        org: Option<String>,
        token: String,
    ) -> Self {
        let principal = Principal {
            subject: name.clone(),
            partnership: partnership.clone(),
            roles: roles.iter().filter_map(|role| Role::parse(role)).collect(),
            org: org.clone(),
            peer: None,
        };
        Self {
            name,
            partnership,
            roles: principal
                .roles
                .iter()
                .map(|role| role.as_str().to_string())
                .collect(),
            org,
            token,
            principal,
        }
    }

    /// The person an identity provider's access token names, as the services verified it
    /// would be (their name is their subject: what the audit trail records).
    pub(crate) fn verified(principal: Principal, token: String) -> Self {
        Self {
            name: principal.subject.clone(),
            partnership: principal.partnership.clone(),
            roles: principal.role_names(),
            org: principal.org.clone(),
            token,
            principal,
        }
    }

    /// Whether the user's roles could be allowed `method` of `service` at all (the access
    /// table's first step; the service still decides on the review's facts).
    pub(crate) fn may(&self, service: &str, method: &str) -> bool {
        cspr_platform::access::rules::lookup(service, method)
            .is_ok_and(|rule| rule.gate(&self.principal).is_ok())
    }
}

/// One browser's session: its CSRF token from the first page, a user once signed in.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) csrf: String,
    pub(crate) user: Option<User>,
    last_seen: Instant,
}

/// All sessions of this process.
#[derive(Clone)]
pub(crate) struct Sessions {
    inner: Arc<Mutex<HashMap<String, Session>>>,
    idle_timeout: Duration,
}

/// 256 random bits, hex: session ids, CSRF tokens, and a sign-in's OpenID Connect state and
/// PKCE verifier (ThreadRng is a CSPRNG seeded from the operating system).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Sessions {
    pub(crate) fn new(idle_timeout: Duration) -> Self {
        Self {
            inner: Arc::default(),
            idle_timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves only whole entries behind.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The live session with this id (its idle clock restarted), if any.
    pub(crate) fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = self.lock();
        match sessions.get_mut(id) {
            Some(session) if now.duration_since(session.last_seen) < self.idle_timeout => {
                session.last_seen = now;
                Some(session.clone())
            }
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    /// A new session (of `user`, once signed in). Expired sessions are dropped first, so
    /// abandoned ones do not pile up.
    pub(crate) fn create(&self, user: Option<User>) -> Session {
        let now = Instant::now();
        let session = Session {
            id: random_token(),
            csrf: random_token(),
            user,
            last_seen: now,
        };
        let mut sessions = self.lock();
        sessions.retain(|_, kept| now.duration_since(kept.last_seen) < self.idle_timeout);
        sessions.insert(session.id.clone(), session.clone());
        session
    }

    /// Ends a session (sign-out, sign-in's id rotation, a token the services no longer take).
    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// Whether two secrets are the same, compared without an early exit (a CSRF token, an
/// OpenID Connect state): how long the comparison takes says nothing of where they differ.
pub(crate) fn same_secret(sent: &[u8], expected: &[u8]) -> bool {
    sent.len() == expected.len()
        && sent
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// The session id in a request's `Cookie` headers.
pub(crate) fn cookie_id(headers: &axum::http::HeaderMap) -> Option<String> {
    cookie_named(headers, COOKIE)
}

/// The value of the cookie `name` in a request's `Cookie` headers.
pub(crate) fn cookie_named(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// The `Set-Cookie` value for a session: only this site's requests carry it
/// (SameSite=Strict), no script reads it (HttpOnly), over TLS only when served over TLS.
pub(crate) fn set_cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// Clears the cookie (sign-out).
pub(crate) fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_session_is_gone_and_ids_are_random() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let first = sessions.create(None);
        let second = sessions.create(None);
        assert_ne!(first.id, second.id);
        assert_eq!(first.id.len(), 64, "256 bits in hex");
        assert!(sessions.get(&first.id).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(sessions.get(&first.id).is_none(), "idle past the timeout");
    }

    #[test]
    fn the_cookie_is_read_among_others() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            "other=1; cspr_session=abc".parse().expect("header"),
        );
        assert_eq!(cookie_id(&headers).as_deref(), Some("abc"));
        assert!(set_cookie("abc", true).ends_with("; Secure"));
    }
}
