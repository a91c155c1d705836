//! The keys tokens are checked against: one configured key, or the identity provider's
//! published key set (JWKS), fetched in the background and swapped in whole.
//!
//! The interceptor that verifies tokens is synchronous, so it never waits for the network:
//! it reads the key set in hand ([`ProviderKeys::current`]). [`ProviderKeys::run`] fetches
//! the set at start, every `CSPR_AUTH_JWKS_REFRESH_INTERVAL`, and when a token names a
//! `kid` the set does not have (a provider that started signing with a new key before the
//! periodic fetch saw it). That call is refused `UNAVAILABLE` (retry: the set is being
//! fetched); fetches happen at most once per `CSPR_AUTH_JWKS_MIN_REFRESH_INTERVAL`, so a
//! token with an unknown `kid` within that time of the last fetch is `UNAUTHENTICATED`, and
//! tokens with made-up kids cannot make cspr hammer the provider. A failed fetch keeps the
//! keys in hand: tokens signed with them verify while the provider is down.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::KeyError;
use crate::config::{JwksConfig, JwksSource, check_fetch_url};
use crate::error::{ServiceError, cause_chain};

/// A whole fetch (connect, TLS, answer) may take this long: the provider's endpoints are
/// small static documents, and a hung fetch would hold up the next one.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest discovery document or key set read; real ones are a few kilobytes.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// A key tokens may be signed with, and how tokens signed with it are validated.
pub(super) struct VerifyingKey {
    /// The JWK `kid`; `None` for a configured key.
    kid: Option<String>,
    /// The one algorithm the key is used with (from the JWK's `alg`, or its type).
    algorithm: Algorithm,
    key: DecodingKey,
    /// The shared validation (issuer, audience, leeway) limited to `algorithm`.
    validation: Validation,
}

impl VerifyingKey {
    pub(super) fn new(
        kid: Option<String>,
        algorithm: Algorithm,
        key: DecodingKey,
        base: &Validation,
    ) -> Self {
        let mut validation = base.clone();
        validation.algorithms = vec![algorithm];
        Self {
            kid,
            algorithm,
            key,
            validation,
        }
    }
}

/// The keys in use at one moment.
pub(super) struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// One configured key (HS256 secret or PEM): tried whatever `kid` a token names.
    pub(super) fn single(key: VerifyingKey) -> Self {
        Self { keys: vec![key] }
    }

    /// The signing keys of a JWK set document. Keys cspr cannot use (encryption keys,
    /// symmetric keys, unknown types or curves) are left out and named in the second
    /// value; a set with no usable key at all is refused, so it never replaces a good one.
    pub(super) fn from_jwks(
        document: &[u8],
        base: &Validation,
    ) -> Result<(Self, Vec<String>), String> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<Value>,
        }
        let document: Document =
            serde_json::from_slice(document).map_err(|error| format!("not a JWK set ({error})"))?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (index, value) in document.keys.into_iter().enumerate() {
            let kid = value.get("kid").and_then(Value::as_str).map(str::to_string);
            match signing_key(value) {
                Ok(Some((algorithm, key))) => {
                    keys.push(VerifyingKey::new(kid, algorithm, key, base));
                }
                Ok(None) => {}
                Err(reason) => skipped.push(format!(
                    "key {} ({}): {reason}",
                    index,
                    kid.as_deref().unwrap_or("no kid")
                )),
            }
        }
        if keys.is_empty() {
            return Err(format!(
                "no key usable for verifying tokens (RS256/384/512, PS256/384/512, ES256, ES384, EdDSA){}",
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!(": {}", skipped.join("; "))
                }
            ));
        }
        Ok((Self { keys }, skipped))
    }

    /// The kids of the keys, in the set's order (`None` for a key without one).
    pub(super) fn kids(&self) -> Vec<Option<String>> {
        self.keys.iter().map(|key| key.kid.clone()).collect()
    }

    /// The keys that may have signed a token with `header`: the one of its `kid`, or, for
    /// a token without a `kid`, each key of its algorithm (one, with most providers).
    pub(super) fn candidates(&self, header: &Header) -> Vec<&VerifyingKey> {
        match &header.kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|key| key.kid.as_deref() == Some(kid.as_str()))
                .collect(),
            None => self
                .keys
                .iter()
                .filter(|key| key.algorithm == header.alg)
                .collect(),
        }
    }

    /// Every key (a configured one is used whatever the token's header says).
    pub(super) fn all(&self) -> Vec<&VerifyingKey> {
        self.keys.iter().collect()
    }
}

/// Checks `token` with `keys` in turn: the claims of the first whose signature matches
/// (and whose claims then pass), or why the token is refused.
pub(super) fn decode(
    token: &str,
    keys: &[&VerifyingKey],
) -> Result<Map<String, Value>, ServiceError> {
    let mut refusal = None;
    for key in keys {
        match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &key.validation) {
            Ok(data) => return Ok(data.claims),
            // The signature checked out but a claim did not (expired, audience…), or the
            // key does not fit the token's algorithm: no other key changes that.
            Err(error) if !matches!(error.kind(), ErrorKind::InvalidSignature) => {
                return Err(invalid(&error));
            }
            Err(error) => refusal = Some(error),
        }
    }
    Err(match refusal {
        Some(error) => invalid(&error),
        None => {
            ServiceError::Unauthenticated("invalid token: no key of the token's algorithm".into())
        }
    })
}

fn invalid(error: &jsonwebtoken::errors::Error) -> ServiceError {
    ServiceError::Unauthenticated(format!("invalid token: {error}"))
}

/// The algorithm and key of a JWK usable for verifying signatures; `None` for a key meant
/// for something else (`use: enc`, `key_ops` without `verify`).
fn signing_key(value: Value) -> Result<Option<(Algorithm, DecodingKey)>, String> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|error| format!("not a JWK ({error})"))?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|usage| *usage != PublicKeyUse::Signature)
        || jwk
            .common
            .key_operations
            .as_ref()
            .is_some_and(|operations| !operations.contains(&KeyOperations::Verify))
    {
        return Ok(None);
    }
    let algorithm = algorithm_of(&jwk)?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|error| error.to_string())?;
    Ok(Some((algorithm, key)))
}

/// The JWK's `alg` when it fits the key type, else the type's usual one (RSA → RS256,
/// P-256 → ES256, P-384 → ES384, Ed25519 → EdDSA). A symmetric key is never taken from
/// a published set: anyone who can read the set could sign with it.
fn algorithm_of(jwk: &Jwk) -> Result<Algorithm, String> {
    let (usual, fits): (Algorithm, &[Algorithm]) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (
            Algorithm::RS256,
            &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
        ),
        AlgorithmParameters::EllipticCurve(params) => match params.curve {
            EllipticCurve::P256 => (Algorithm::ES256, &[Algorithm::ES256]),
            EllipticCurve::P384 => (Algorithm::ES384, &[Algorithm::ES384]),
            ref curve => return Err(format!("unsupported curve {curve:?}")),
        },
        AlgorithmParameters::OctetKeyPair(params) => match params.curve {
            EllipticCurve::Ed25519 => (Algorithm::EdDSA, &[Algorithm::EdDSA]),
            ref curve => return Err(format!("unsupported curve {curve:?}")),
        },
        AlgorithmParameters::OctetKey(_) => {
            return Err("a symmetric key (kty oct) is never used from a key set".into());
        }
        _ => return Err("unsupported key type".into()),
    };
    let Some(named) = jwk.common.key_algorithm else {
        return Ok(usual);
    };
    match Algorithm::try_from(named) {
        Ok(algorithm) if fits.contains(&algorithm) => Ok(algorithm),
        _ => Err(format!("alg {named} does not fit its key type")),
    }
}

/// What the provider's key set looks like from here (tests, diagnostics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySetStatus {
    /// The kids of the keys in use, in the set's order; empty before the first fetch.
    pub kids: Vec<Option<String>>,
    /// Where the set was last fetched from (discovered, with OpenID Connect discovery).
    pub jwks_url: Option<String>,
    /// Fetches tried, and of those failed.
    pub fetches: u64,
    pub failed_fetches: u64,
    /// Why the latest fetch failed; `None` when it worked.
    pub last_error: Option<String>,
}

/// The bookkeeping of fetches, read by the interceptor to decide an unknown `kid`.
#[derive(Debug, Default)]
struct Fetching {
    /// A fetch is under way, or asked for and about to start.
    busy: bool,
    /// When the latest fetch started.
    last_started: Option<Instant>,
    status: KeySetStatus,
}

/// The identity provider's keys, kept fresh by [`ProviderKeys::run`].
pub(super) struct ProviderKeys {
    config: JwksConfig,
    /// `CSPR_AUTH_ISSUER`: discovery starts from it, and the document must name it.
    issuer: String,
    /// The validation every key's is made from.
    base: Validation,
    client: reqwest::Client,
    /// The set in use; `None` until the first fetch worked.
    keys: RwLock<Option<Arc<KeySet>>>,
    fetching: Mutex<Fetching>,
    /// Wakes [`ProviderKeys::run`] for a fetch before its time.
    wake: Notify,
    /// True once a set is in hand (readiness waits for it).
    loaded: watch::Sender<bool>,
}

impl ProviderKeys {
    pub(super) fn new(
        config: &JwksConfig,
        issuer: &str,
        base: Validation,
    ) -> Result<Self, KeyError> {
        Ok(Self {
            config: config.clone(),
            issuer: issuer.to_string(),
            base,
            client: http_client()?,
            keys: RwLock::new(None),
            fetching: Mutex::new(Fetching::default()),
            wake: Notify::new(),
            loaded: watch::channel(false).0,
        })
    }

    /// The set in hand, or `UNAVAILABLE` before the first fetch worked.
    pub(super) fn current(&self) -> Result<Arc<KeySet>, ServiceError> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| {
                ServiceError::Unavailable("the identity provider's keys are not loaded yet".into())
            })
    }

    /// A token names a `kid` the set does not have: a fetch is asked for unless one is under
    /// way (`UNAVAILABLE` either way: retry once it is in) or the latest started less than
    /// the minimum interval ago (`UNAUTHENTICATED`: the provider had no such key then).
    pub(super) fn unknown_kid(&self) -> ServiceError {
        let mut fetching = self.lock();
        if !fetching.busy
            && fetching
                .last_started
                .is_some_and(|started| started.elapsed() < self.config.min_refresh_interval)
        {
            return ServiceError::Unauthenticated(
                "invalid token: signed with a key (kid) the identity provider does not publish"
                    .into(),
            );
        }
        if !fetching.busy {
            fetching.busy = true;
            self.wake.notify_one();
        }
        ServiceError::Unavailable(
            "the token's signing key (kid) is new here: fetching the identity provider's keys"
                .into(),
        )
    }

    pub(super) fn status(&self) -> KeySetStatus {
        self.lock().status.clone()
    }

    /// Waits until a key set is in hand; false if `shutdown` came first.
    pub(super) async fn loaded(&self, shutdown: &CancellationToken) -> bool {
        let mut loaded = self.loaded.subscribe();
        tokio::select! {
            loaded = loaded.wait_for(|loaded| *loaded) => loaded.is_ok(),
            _ = shutdown.cancelled() => false,
        }
    }

    /// Fetches now, then every refresh interval (every minimum interval while fetches
    /// fail), and when [`ProviderKeys::unknown_kid`] asks, never twice within the minimum
    /// interval; until `shutdown`.
    pub(super) async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let minimum = self.config.min_refresh_interval;
        loop {
            let failed = tokio::select! {
                failed = self.refresh() => failed,
                _ = shutdown.cancelled() => return,
            };
            let wait = if failed {
                minimum
            } else {
                self.config.refresh_interval
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
            }
            let since = self
                .lock()
                .last_started
                .map_or(minimum, |started| started.elapsed());
            if since < minimum {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(minimum - since) => {}
                }
            }
        }
    }

    /// One fetch; the set replaces the one in hand only when it worked. True if it failed.
    async fn refresh(&self) -> bool {
        {
            let mut fetching = self.lock();
            fetching.busy = true;
            fetching.last_started = Some(Instant::now());
            fetching.status.fetches += 1;
        }
        let outcome = self.fetch().await;
        let mut fetching = self.lock();
        fetching.busy = false;
        let failed = outcome.is_err();
        match outcome {
            Ok((set, url, skipped)) => {
                let kids = set.kids();
                if kids != fetching.status.kids {
                    let named: Vec<&str> = kids
                        .iter()
                        .map(|kid| kid.as_deref().unwrap_or("(no kid)"))
                        .collect();
                    tracing::info!(url = %url, kids = ?named, ?skipped, "identity provider keys in use");
                }
                fetching.status.kids = kids;
                fetching.status.jwks_url = Some(url);
                fetching.status.last_error = None;
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(set));
                self.loaded.send_replace(true);
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    keys_in_hand = fetching.status.kids.len(),
                    retry_in = ?self.config.min_refresh_interval,
                    "cannot fetch the identity provider's keys; the keys in hand stay in use"
                );
                fetching.status.failed_fetches += 1;
                fetching.status.last_error = Some(error);
            }
        }
        fetches().add(
            1,
            &[KeyValue::new(
                "outcome",
                if failed { "failed" } else { "ok" },
            )],
        );
        failed
    }

    async fn fetch(&self) -> Result<(KeySet, String, Vec<String>), String> {
        let url = match &self.config.source {
            JwksSource::Url(url) => url.clone(),
            JwksSource::Discovery => self.discover().await?,
        };
        let document = self.get(&url).await?;
        let (set, skipped) =
            KeySet::from_jwks(&document, &self.base).map_err(|error| format!("{url}: {error}"))?;
        Ok((set, url, skipped))
    }

    /// The `jwks_uri` of the issuer's OpenID Connect discovery document, which must name
    /// the issuer exactly (OpenID Connect Discovery 1.0, §4.3).
    async fn discover(&self) -> Result<String, String> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        // §4: a terminating `/` of the issuer is removed before the well-known path.
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let document: Discovery = serde_json::from_slice(&self.get(&url).await?)
            .map_err(|error| format!("{url}: not an OpenID provider configuration ({error})"))?;
        if document.issuer != self.issuer {
            return Err(format!(
                "{url} is the configuration of issuer {:?}, not of CSPR_AUTH_ISSUER {:?}",
                document.issuer, self.issuer
            ));
        }
        check_fetch_url(&document.jwks_uri)
            .map_err(|message| format!("{url}: jwks_uri {}: {message}", document.jwks_uri))?;
        Ok(document.jwks_uri)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut response = self
            .client
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| format!("GET {url}: {}", cause_chain(&error)))?;
        // A redirect must not lead to keys fetched in clear.
        check_fetch_url(response.url().as_str())
            .map_err(|message| format!("GET {url}: redirected to {}: {message}", response.url()))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| format!("GET {url}: {}", cause_chain(&error)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: more than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn lock(&self) -> MutexGuard<'_, Fetching> {
        self.fetching.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The HTTP client of the key fetches: rustls with ring, the system's root certificates
/// (`SSL_CERT_FILE`/`SSL_CERT_DIR` point elsewhere, e.g. at a private CA's). reqwest has
/// no crypto provider of its own here (it would bring aws-lc), so every client of the
/// platform is made by this function.
pub fn http_client() -> Result<reqwest::Client, KeyError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _unparsable) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::warn!(
            errors = ?native.errors,
            "no root certificates found: https:// key sets cannot be fetched (install ca-certificates or set SSL_CERT_FILE)"
        );
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| KeyError(format!("TLS for the key set: {error}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!("cspr/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| {
            KeyError(format!(
                "HTTP client for the key set: {}",
                cause_chain(&error)
            ))
        })
}

/// `cspr.auth.key_fetches`, by outcome.
fn fetches() -> &'static Counter<u64> {
    static FETCHES: OnceLock<Counter<u64>> = OnceLock::new();
    FETCHES.get_or_init(|| crate::metrics::counter(&crate::metrics::AUTH_KEY_FETCHES))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn base() -> Validation {
        Validation::new(Algorithm::RS256)
    }

    // A P-256 public key (RFC 7517 appendix A.1) and an Ed25519 one (RFC 8037 appendix A.2).
    fn ec_key() -> Value {
        json!({"kty": "EC", "crv": "P-256",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"})
    }

    fn ed_key() -> Value {
        json!({"kty": "OKP", "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
    }

    #[test]
    fn algorithms_follow_the_key_type_unless_alg_names_one_that_fits() {
        let mut keys = vec![];
        let mut ec = ec_key();
        ec["kid"] = json!("ec");
        keys.push(ec);
        let mut ed = ed_key();
        ed["kid"] = json!("ed");
        ed["use"] = json!("sig");
        keys.push(ed);
        let mut wrong = ec_key();
        wrong["kid"] = json!("wrong");
        wrong["alg"] = json!("RS256");
        keys.push(wrong);
        keys.push(json!({"kty": "oct", "kid": "secret", "k": "c2VjcmV0"}));
        let mut encryption = ec_key();
        encryption["kid"] = json!("enc");
        encryption["use"] = json!("enc");
        keys.push(encryption);
        let document = serde_json::to_vec(&json!({ "keys": keys })).expect("json");
        let (set, skipped) = KeySet::from_jwks(&document, &base()).expect("a set");
        assert_eq!(set.kids(), vec![Some("ec".into()), Some("ed".into())]);
        assert_eq!(
            set.keys.iter().map(|key| key.algorithm).collect::<Vec<_>>(),
            vec![Algorithm::ES256, Algorithm::EdDSA]
        );
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].contains("does not fit"), "{skipped:?}");
        assert!(skipped[1].contains("symmetric"), "{skipped:?}");
    }

    #[test]
    fn a_set_without_a_usable_key_is_refused() {
        for document in [
            json!({"keys": []}),
            json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
            json!({"not": "a set"}),
        ] {
            let bytes = serde_json::to_vec(&document).expect("json");
            assert!(KeySet::from_jwks(&bytes, &base()).is_err(), "{document}");
        }
    }

    #[test]
    fn a_token_without_kid_is_tried_with_the_keys_of_its_algorithm() {
        let document = serde_json::to_vec(&json!({"keys": [ec_key(), ed_key()]})).expect("json");
        let (set, _) = KeySet::from_jwks(&document, &base()).expect("a set");
        let candidates = set.candidates(&Header::new(Algorithm::EdDSA));
        assert_eq!(candidates.len(), 1);
        assert_eq!(candidates[0].algorithm, Algorithm::EdDSA);
        assert!(set.candidates(&Header::new(Algorithm::RS256)).is_empty());
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("other".into());
        assert!(set.candidates(&header).is_empty());
    }
}
