//! Who is calling: bearer tokens (JWT) verified before any handler runs, turned into a
//! [`Principal`] that handlers read with [`principal`].
//!
//! The [`Authenticator`] is a tonic interceptor wrapped around each service (health and
//! reflection stay open, as load balancers and tooling need them). A missing, expired or
//! forged token is `UNAUTHENTICATED`; what a valid caller may do is decided in handlers by
//! the RPC's rule in [`crate::access::rules`].
//!
//! Keys: a development HS256 secret, one PEM public key, or the identity provider's
//! published key set (JWKS, by URL or OpenID Connect discovery), fetched in the background
//! and refreshed when the provider rotates its keys (`jwks`). Claims: the partnership,
//! roles and agency are read where the configured mapping says (`claims`).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Status};

use crate::config::{AuthConfig, AuthKeys, ClaimMapping};
use crate::error::ServiceError;

mod claims;
mod jwks;

pub use jwks::KeySetStatus;
// The HTTP client of every call to an identity provider (the web's OpenID Connect sign-in,
// the tests' provider): the key fetches' own.
pub use jwks::http_client;
use jwks::{KeySet, ProviderKeys, VerifyingKey};

crate::named_enum! {
    /// The roles of api.md. Unknown role names in a token are ignored (a newer issuer may know
    /// roles this version does not).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum Role {
        /// Runs the review lifecycle, manages panel, agencies and actions.
        PartnershipAdmin => "partnership_admin",
        /// Panel member who also makes decisions and approvals.
        PanelChair => "panel_chair",
        /// Reads reviews, reports, chronologies and actions.
        PanelMember => "panel_member",
        /// Independent reviewer; sees the reviews they are appointed to.
        Reviewer => "reviewer",
        /// An agency's system or staff; needs the `org` claim.
        Agency => "agency",
        /// Family engagement.
        FamilyLiaison => "family_liaison",
        /// Read-only, audit included, family data redacted.
        Auditor => "auditor",
        /// Health and delivery status; no case content.
        Operations => "operations",
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The verified caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Claim `sub`: who the caller is.
    pub subject: String,
    /// Claim `partnership` (or as mapped): the tenant everything is scoped to.
    pub partnership: String,
    /// Claim `roles` (or as mapped), the known ones.
    pub roles: Vec<Role>,
    /// Claim `org` (or as mapped): the agency of an agency caller.
    pub org: Option<String>,
    /// The caller's network address, for audit records.
    pub peer: Option<String>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The role names, for audit records.
    pub fn role_names(&self) -> Vec<String> {
        self.roles
            .iter()
            .map(|role| role.as_str().to_string())
            .collect()
    }
}

/// The claims cspr's development tokens carry, under the default claim names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub partnership: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
    /// Not before (RFC 7519 §4.1.5): a token used earlier is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    pub iss: String,
    pub aud: String,
}

/// Verifies bearer tokens; cheap to clone (shared keys).
#[derive(Clone)]
pub struct Authenticator {
    /// The keys tokens must be signed with.
    keys: Keys,
    /// Where the partnership, roles and agency are in a token.
    claims: Arc<ClaimMapping>,
}

/// A configured key, or the identity provider's set kept fresh in the background.
#[derive(Clone)]
enum Keys {
    Configured(Arc<KeySet>),
    Provider(Arc<ProviderKeys>),
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match &self.keys {
            Keys::Configured(_) => "configured key",
            Keys::Provider(_) => "identity provider's key set",
        };
        formatter
            .debug_struct("Authenticator")
            .field("keys", &keys)
            .field("claims", &self.claims)
            .finish()
    }
}

/// A key that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the token key: {0}")]
pub struct KeyError(String);

impl Authenticator {
    /// Reads the configured key, or prepares the provider's key set, which is empty (calls
    /// are `UNAVAILABLE`) until [`Authenticator::key_refresh`] runs and has fetched it.
    pub fn new(config: &AuthConfig) -> Result<Self, KeyError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // RFC 7519: a token must not be accepted before its `nbf` (jsonwebtoken checks only
        // `exp` unless told); the same 30 s leeway covers clock skew both ways.
        validation.validate_nbf = true;
        validation.leeway = 30;
        let configured = |key, algorithm| {
            Keys::Configured(Arc::new(KeySet::single(VerifyingKey::new(
                None,
                algorithm,
                key,
                &validation,
            ))))
        };
        let keys = match &config.keys {
            AuthKeys::Hs256Secret(secret) => {
                configured(DecodingKey::from_secret(secret), Algorithm::HS256)
            }
            AuthKeys::PublicKeyPem { pem, path } => {
                if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
                    configured(key, Algorithm::RS256)
                } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
                    configured(key, Algorithm::EdDSA)
                } else {
                    return Err(KeyError(format!(
                        "{} is neither an RSA nor an Ed25519 public key in PEM form",
                        path.display()
                    )));
                }
            }
            AuthKeys::Jwks(jwks) => Keys::Provider(Arc::new(ProviderKeys::new(
                jwks,
                &config.issuer,
                validation.clone(),
            )?)),
        };
        Ok(Self {
            keys,
            claims: Arc::new(config.claims.clone()),
        })
    }

    /// Verifies a raw token into a principal.
    pub fn verify(&self, token: &str) -> Result<Principal, ServiceError> {
        let payload = match &self.keys {
            Keys::Configured(set) => jwks::decode(token, &set.all())?,
            Keys::Provider(provider) => {
                let header = jsonwebtoken::decode_header(token).map_err(|error| {
                    ServiceError::Unauthenticated(format!("invalid token: {error}"))
                })?;
                let set = provider.current()?;
                let candidates = set.candidates(&header);
                if candidates.is_empty() {
                    return Err(match header.kid {
                        Some(_) => provider.unknown_kid(),
                        None => ServiceError::Unauthenticated(format!(
                            "invalid token: no kid, and no key of its algorithm {:?}",
                            header.alg
                        )),
                    });
                }
                jwks::decode(token, &candidates)?
            }
        };
        claims::principal(&payload, &self.claims)
    }

    /// The background work that keeps the identity provider's key set fresh, to run until
    /// `shutdown` (the service builder runs it supervised); `None` for a configured key.
    pub fn key_refresh(
        &self,
        shutdown: CancellationToken,
    ) -> Option<impl Future<Output = ()> + Send + 'static> {
        match &self.keys {
            Keys::Configured(_) => None,
            Keys::Provider(provider) => Some(Arc::clone(provider).run(shutdown)),
        }
    }

    /// Waits until there are keys to verify with (at once for a configured key); false if
    /// `shutdown` came first. A service turns SERVING only then.
    pub async fn keys_ready(&self, shutdown: &CancellationToken) -> bool {
        match &self.keys {
            Keys::Configured(_) => true,
            Keys::Provider(provider) => provider.loaded(shutdown).await,
        }
    }

    /// The identity provider's key set as fetched so far; `None` for a configured key.
    pub fn key_status(&self) -> Option<KeySetStatus> {
        match &self.keys {
            Keys::Configured(_) => None,
            Keys::Provider(provider) => Some(provider.status()),
        }
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = request.metadata().get("authorization").ok_or_else(|| {
            Status::unauthenticated("missing authorization metadata (Bearer token)")
        })?;
        let value = header
            .to_str()
            .map_err(|_| Status::unauthenticated("authorization metadata is not text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| Status::unauthenticated("authorization must be 'Bearer <token>'"))?;
        let mut principal = self.verify(token.trim()).map_err(Status::from)?;
        principal.peer = request.remote_addr().map(|addr| addr.to_string());
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

/// The verified caller of a request (set by the [`Authenticator`]).
pub fn principal<T>(request: &Request<T>) -> Result<Principal, ServiceError> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ServiceError::Unauthenticated("no verified caller".into()))
}

/// The verified caller of a request and its message: the first step of most handlers.
pub fn caller<T>(request: Request<T>) -> Result<(Principal, T), ServiceError> {
    let principal = principal(&request)?;
    Ok((principal, request.into_inner()))
}

/// What a development token should say.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub subject: String,
    pub partnership: String,
    pub roles: Vec<String>,
    pub org: Option<String>,
    pub ttl: Duration,
}

/// Signs a development token with the HS256 secret (the `cspr token` command and tests).
pub fn issue_development_token(
    config: &AuthConfig,
    request: &TokenRequest,
) -> Result<String, KeyError> {
    let AuthKeys::Hs256Secret(secret) = &config.keys else {
        return Err(KeyError(
            "development tokens need CSPR_AUTH_HS256_SECRET; production tokens come from your identity provider".into(),
        ));
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    let claims = Claims {
        sub: request.subject.clone(),
        partnership: request.partnership.clone(),
        roles: request.roles.clone(),
        org: request.org.clone(),
        exp: now + request.ttl.as_secs(),
        iat: now,
        nbf: None,
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
    };
    // Written where the configured mapping reads them, so the token verifies with the
    // same settings whatever the claim names.
    let serde_json::Value::Object(mut payload) =
        serde_json::to_value(&claims).map_err(|error| KeyError(error.to_string()))?
    else {
        return Err(KeyError("claims are not an object".into()));
    };
    for name in ["partnership", "roles", "org"] {
        payload.remove(name);
    }
    let mapping = &config.claims;
    let prefix = mapping.role_prefix.as_deref().unwrap_or_default();
    claims::insert(
        &mut payload,
        &mapping.partnership,
        request.partnership.clone().into(),
    );
    claims::insert(
        &mut payload,
        &mapping.roles,
        request
            .roles
            .iter()
            .map(|role| format!("{prefix}{role}"))
            .collect::<Vec<_>>()
            .into(),
    );
    if let Some(org) = &request.org {
        claims::insert(&mut payload, &mapping.org, org.clone().into());
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &payload,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|error| KeyError(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig {
            keys: AuthKeys::Hs256Secret(b"a-development-secret".to_vec()),
            issuer: "cspr-dev".into(),
            audience: "cspr".into(),
            claims: ClaimMapping::default(),
        }
    }

    fn request(roles: &[&str]) -> TokenRequest {
        TokenRequest {
            subject: "alice".into(),
            partnership: "southvale".into(),
            roles: roles.iter().map(|role| role.to_string()).collect(),
            org: None,
            ttl: Duration::from_secs(600),
        }
    }

    #[test]
    fn a_development_token_round_trips() {
        let token =
            issue_development_token(&config(), &request(&["partnership_admin", "future_role"]))
                .expect("signs");
        let principal = Authenticator::new(&config())
            .expect("key")
            .verify(&token)
            .expect("valid");
        assert_eq!(principal.subject, "alice");
        assert_eq!(principal.partnership, "southvale");
        assert_eq!(principal.roles, vec![Role::PartnershipAdmin]);
    }

    #[test]
    fn a_development_token_follows_the_claim_mapping() {
        let mapped = AuthConfig {
            claims: ClaimMapping {
                partnership: "tenant.partnership".into(),
                roles: "groups".into(),
                org: "agency".into(),
                role_prefix: Some("cspr:".into()),
            },
            ..config()
        };
        let mut request = request(&["agency"]);
        request.org = Some("police".into());
        let token = issue_development_token(&mapped, &request).expect("signs");
        let principal = Authenticator::new(&mapped)
            .expect("key")
            .verify(&token)
            .expect("valid");
        assert_eq!(principal.partnership, "southvale");
        assert_eq!(principal.roles, vec![Role::Agency]);
        assert_eq!(principal.org.as_deref(), Some("police"));
        // The default mapping finds no partnership in it.
        assert!(
            Authenticator::new(&config())
                .expect("key")
                .verify(&token)
                .is_err()
        );
    }

    #[test]
    fn wrong_audience_issuer_or_secret_is_refused() {
        let token = issue_development_token(&config(), &request(&["auditor"])).expect("signs");
        let variants = [
            AuthConfig {
                audience: "other".into(),
                ..config()
            },
            AuthConfig {
                issuer: "other".into(),
                ..config()
            },
            AuthConfig {
                keys: AuthKeys::Hs256Secret(b"another-secret-value".to_vec()),
                ..config()
            },
        ];
        for variant in variants {
            let error = Authenticator::new(&variant)
                .expect("key")
                .verify(&token)
                .expect_err("refused");
            assert!(matches!(error, ServiceError::Unauthenticated(_)));
        }
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        // {"alg":"none"} header with valid-looking claims and no signature.
        let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let claims = "eyJzdWIiOiJhIiwicGFydG5lcnNoaXAiOiJzIiwicm9sZXMiOlsiYXVkaXRvciJdLCJleHAiOjQxMDI0NDQ4MDAsImlzcyI6ImNzcHItZGV2IiwiYXVkIjoiY3NwciJ9";
        let token = format!("{header}.{claims}.");
        assert!(
            Authenticator::new(&config())
                .expect("key")
                .verify(&token)
                .is_err()
        );
    }

    #[test]
    fn agency_tokens_need_an_org() {
        let token = issue_development_token(&config(), &request(&["agency"])).expect("signs");
        assert!(
            Authenticator::new(&config())
                .expect("key")
                .verify(&token)
                .is_err()
        );
    }

    fn signed(claims: &Claims) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(b"a-development-secret"),
        )
        .expect("signs")
    }

    fn claims_now() -> Claims {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        Claims {
            sub: "alice".into(),
            partnership: "southvale".into(),
            roles: vec!["auditor".into()],
            org: None,
            exp: now + 600,
            iat: now,
            nbf: None,
            iss: "cspr-dev".into(),
            aud: "cspr".into(),
        }
    }

    #[test]
    fn a_token_not_yet_valid_is_refused() {
        let authenticator = Authenticator::new(&config()).expect("key");
        let mut claims = claims_now();
        claims.nbf = Some(claims.iat + 300);
        let error = authenticator
            .verify(&signed(&claims))
            .expect_err("nbf in the future");
        assert!(
            matches!(error, ServiceError::Unauthenticated(_)),
            "{error:?}"
        );
        // Within the leeway (clock skew), and in the past, it is accepted.
        claims.nbf = Some(claims.iat + 10);
        authenticator
            .verify(&signed(&claims))
            .expect("nbf within leeway");
        claims.nbf = Some(claims.iat - 60);
        authenticator.verify(&signed(&claims)).expect("nbf past");
    }

    #[test]
    fn a_nul_in_any_claim_is_invalid_argument() {
        let authenticator = Authenticator::new(&config()).expect("key");
        let with_nul: [fn(&mut Claims); 4] = [
            |claims| claims.sub.push('\0'),
            |claims| claims.partnership = "south\0vale".into(),
            |claims| claims.roles.push("auditor\0".into()),
            |claims| claims.org = Some("police\0".into()),
        ];
        for change in with_nul {
            let mut claims = claims_now();
            change(&mut claims);
            let error = authenticator.verify(&signed(&claims)).expect_err("NUL");
            assert!(
                matches!(error, ServiceError::InvalidArgument(_)),
                "{error:?}"
            );
        }
    }
}
