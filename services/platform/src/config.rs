//! Typed settings read from environment variables, validated once at start-up.
//!
//! Every variable is documented in the README's configuration table. A bad value stops the
//! process with a message naming the variable, so operators never chase a half-configured
//! service. Settings are read through [`Env`] so tests can supply their own without touching
//! the process environment.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A bad or missing configuration value, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

/// Where settings come from: the process environment, or a map in tests.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Values that override (or, with `isolated`, replace) the process environment.
    overrides: HashMap<String, String>,
    /// When true, the process environment is not read at all (tests).
    isolated: bool,
}

impl Env {
    /// Reads the process environment.
    pub fn process() -> Self {
        Self::default()
    }

    /// Reads only the given values (tests).
    pub fn isolated<I, K, V>(values: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            overrides: values
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
            isolated: true,
        }
    }

    /// Sets one value on top of what is already there.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides.insert(key.into(), value.into());
        self
    }

    /// The value of a variable; empty values count as unset.
    pub fn get(&self, key: &str) -> Option<String> {
        let value = match self.overrides.get(key) {
            Some(value) => Some(value.clone()),
            None if self.isolated => None,
            None => std::env::var(key).ok(),
        };
        value.filter(|value| !value.trim().is_empty())
    }

    /// Parses a variable with `parse`, or returns `default` when unset.
    pub fn parse_or<T>(
        &self,
        key: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.get(key) {
            Some(raw) => parse(raw.trim()).map_err(|message| ConfigError::new(key, message)),
            None => Ok(default),
        }
    }

    /// A duration written like `30s`, `5m`, `1h 30m`.
    pub fn duration_or(&self, key: &str, default: Duration) -> Result<Duration, ConfigError> {
        self.parse_or(key, default, |raw| {
            humantime::parse_duration(raw)
                .map_err(|error| format!("not a duration ({error}), e.g. 30s or 5m"))
        })
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`).
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        self.parse_or(key, default, |raw| {
            match raw.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err("not true or false".to_string()),
            }
        })
    }

    /// A whole number.
    pub fn u32_or(&self, key: &str, default: u32) -> Result<u32, ConfigError> {
        self.parse_or(key, default, |raw| {
            raw.parse::<u32>()
                .map_err(|_| "not a whole number".to_string())
        })
    }
}

/// The names of the six services, in port order. The binary serves any subset.
pub const SERVICE_NAMES: [&str; 6] = [
    "registry",
    "submissions",
    "practitioners",
    "family",
    "actions",
    "notifications",
];

/// The default gRPC port of a service (api.md): registry 50051 … notifications 50056.
pub fn default_port(service: &str) -> Option<u16> {
    SERVICE_NAMES
        .iter()
        .position(|name| *name == service)
        .map(|index| 50051 + index as u16)
}

/// Where a client (the `cspr` commands, the web front end) reaches `service`:
/// `CSPR_<SERVICE>_URL`, else the service's local default port (`http://127.0.0.1:50051`
/// for the registry …).
pub fn service_url(env: &Env, service: &str) -> String {
    env.get(&format!("CSPR_{}_URL", service.to_ascii_uppercase()))
        .unwrap_or_else(|| {
            format!(
                "http://127.0.0.1:{}",
                default_port(service).unwrap_or_default()
            )
        })
}

/// How tokens are verified.
#[derive(Clone)]
pub enum AuthKeys {
    /// A shared HS256 secret: development and tests only.
    Hs256Secret(Vec<u8>),
    /// A PEM public key (RS256 or EdDSA), for production issuers.
    PublicKeyPem { pem: Vec<u8>, path: PathBuf },
    /// The identity provider's published keys (JWKS), fetched and kept fresh: providers
    /// rotate their keys without telling anyone.
    Jwks(JwksConfig),
}

impl std::fmt::Debug for AuthKeys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hs256Secret(_) => formatter.write_str("Hs256Secret(<redacted>)"),
            Self::PublicKeyPem { path, .. } => {
                write!(formatter, "PublicKeyPem({})", path.display())
            }
            Self::Jwks(jwks) => write!(formatter, "{jwks:?}"),
        }
    }
}

/// Where the identity provider's key set comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// `CSPR_AUTH_JWKS_URL`: the key set itself.
    Url(String),
    /// `CSPR_AUTH_OIDC_DISCOVERY=true`: the `jwks_uri` of the issuer's OpenID Connect
    /// discovery document (`<CSPR_AUTH_ISSUER>/.well-known/openid-configuration`), looked up
    /// again at every refresh.
    Discovery,
}

/// The identity provider's keys: where from, and how often they are fetched again.
#[derive(Debug, Clone)]
pub struct JwksConfig {
    pub source: JwksSource,
    /// `CSPR_AUTH_JWKS_REFRESH_INTERVAL`: how often the key set is fetched again, so a key
    /// the provider adds is known before its first token arrives.
    pub refresh_interval: Duration,
    /// `CSPR_AUTH_JWKS_MIN_REFRESH_INTERVAL`: the least time between two fetches. A token
    /// with an unknown `kid` asks for a fetch at once, but no more often than this, so
    /// tokens with made-up kids cannot hammer the provider; failed fetches are retried
    /// this often too.
    pub min_refresh_interval: Duration,
}

/// Which claims the partnership, the roles and the agency are read from: an identity
/// provider may only be able to put them under names of its own (`groups`,
/// `realm_access.roles`, `https://cspr.example/partnership`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// `CSPR_AUTH_CLAIM_PARTNERSHIP`: a claim name or a dotted path into nested objects.
    pub partnership: String,
    /// `CSPR_AUTH_CLAIM_ROLES`: a list of strings, or one space-separated string.
    pub roles: String,
    /// `CSPR_AUTH_CLAIM_ORG`: the agency of an agency caller.
    pub org: String,
    /// `CSPR_AUTH_ROLE_PREFIX`: when set, only role values starting with it count, without
    /// it (`cspr:reviewer` → `reviewer`), so a provider's other groups are never roles.
    pub role_prefix: Option<String>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            partnership: "partnership".into(),
            roles: "roles".into(),
            org: "org".into(),
            role_prefix: None,
        }
    }
}

impl ClaimMapping {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let path = |variable: &str, default: String| -> Result<String, ConfigError> {
            let path = env.get(variable).map(|path| path.trim().to_string());
            match path {
                Some(path) if path.split('.').any(str::is_empty) => Err(ConfigError::new(
                    variable,
                    "a claim name, or a dotted path with no empty part (e.g. realm_access.roles)",
                )),
                Some(path) => Ok(path),
                None => Ok(default),
            }
        };
        Ok(Self {
            partnership: path("CSPR_AUTH_CLAIM_PARTNERSHIP", defaults.partnership)?,
            roles: path("CSPR_AUTH_CLAIM_ROLES", defaults.roles)?,
            org: path("CSPR_AUTH_CLAIM_ORG", defaults.org)?,
            role_prefix: env.get("CSPR_AUTH_ROLE_PREFIX"),
        })
    }
}

/// Token verification settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The verification key.
    pub keys: AuthKeys,
    /// Expected `iss` claim.
    pub issuer: String,
    /// Expected `aud` claim.
    pub audience: String,
    /// Where the partnership, roles and agency are in a token.
    pub claims: ClaimMapping,
}

/// The variables that each name a source of token keys; exactly one is set.
const KEY_SOURCES: &str = "CSPR_AUTH_HS256_SECRET (development), CSPR_AUTH_PUBLIC_KEY_FILE, \
     CSPR_AUTH_JWKS_URL or CSPR_AUTH_OIDC_DISCOVERY=true";

impl AuthConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let secret = env.get("CSPR_AUTH_HS256_SECRET");
        let public_key = env.get("CSPR_AUTH_PUBLIC_KEY_FILE");
        let jwks_url = env.get("CSPR_AUTH_JWKS_URL");
        let discovery = env.bool_or("CSPR_AUTH_OIDC_DISCOVERY", false)?;
        let given: Vec<&str> = [
            ("CSPR_AUTH_HS256_SECRET", secret.is_some()),
            ("CSPR_AUTH_PUBLIC_KEY_FILE", public_key.is_some()),
            ("CSPR_AUTH_JWKS_URL", jwks_url.is_some()),
            ("CSPR_AUTH_OIDC_DISCOVERY", discovery),
        ]
        .into_iter()
        .filter_map(|(variable, set)| set.then_some(variable))
        .collect();
        if let [first, second, ..] = given[..] {
            return Err(ConfigError::new(
                second,
                format!("set one of {KEY_SOURCES}, not both {first} and {second}"),
            ));
        }
        let issuer = env.get("CSPR_AUTH_ISSUER");
        let keys = if let Some(secret) = secret {
            if secret.len() < 16 {
                return Err(ConfigError::new(
                    "CSPR_AUTH_HS256_SECRET",
                    "must be at least 16 characters",
                ));
            }
            AuthKeys::Hs256Secret(secret.into_bytes())
        } else if let Some(path) = public_key {
            let path = PathBuf::from(path);
            let pem = std::fs::read(&path).map_err(|error| {
                ConfigError::new(
                    "CSPR_AUTH_PUBLIC_KEY_FILE",
                    format!("cannot read {}: {error}", path.display()),
                )
            })?;
            AuthKeys::PublicKeyPem { pem, path }
        } else if jwks_url.is_some() || discovery {
            // The provider's `iss` must be named: the development default would refuse
            // every token it issues, and discovery starts from it.
            let Some(issuer) = &issuer else {
                return Err(ConfigError::new(
                    "CSPR_AUTH_ISSUER",
                    "required with CSPR_AUTH_JWKS_URL or CSPR_AUTH_OIDC_DISCOVERY: the identity provider's issuer, exactly as its tokens' iss claim says",
                ));
            };
            let source = match jwks_url {
                Some(url) => {
                    check_fetch_url(&url)
                        .map_err(|message| ConfigError::new("CSPR_AUTH_JWKS_URL", message))?;
                    JwksSource::Url(url)
                }
                None => {
                    check_fetch_url(issuer)
                        .map_err(|message| ConfigError::new("CSPR_AUTH_ISSUER", message))?;
                    JwksSource::Discovery
                }
            };
            let refresh_interval = env.duration_or(
                "CSPR_AUTH_JWKS_REFRESH_INTERVAL",
                Duration::from_secs(10 * 60),
            )?;
            let min_refresh_interval = env.duration_or(
                "CSPR_AUTH_JWKS_MIN_REFRESH_INTERVAL",
                Duration::from_secs(10),
            )?;
            if min_refresh_interval.is_zero() || min_refresh_interval > refresh_interval {
                return Err(ConfigError::new(
                    "CSPR_AUTH_JWKS_MIN_REFRESH_INTERVAL",
                    "must be more than 0 and at most CSPR_AUTH_JWKS_REFRESH_INTERVAL",
                ));
            }
            AuthKeys::Jwks(JwksConfig {
                source,
                refresh_interval,
                min_refresh_interval,
            })
        } else {
            return Err(ConfigError::new(
                "CSPR_AUTH_HS256_SECRET",
                format!("no token key configured: set one of {KEY_SOURCES}"),
            ));
        };
        Ok(Self {
            keys,
            issuer: issuer.unwrap_or_else(|| "cspr-dev".to_string()),
            audience: env
                .get("CSPR_AUTH_AUDIENCE")
                .unwrap_or_else(|| "cspr".to_string()),
            claims: ClaimMapping::from_env(env)?,
        })
    }
}

/// A URL the identity provider's keys may be fetched from: `https://`, or `http://` to
/// this machine only (a provider run by a test, or a sidecar), as keys fetched in clear
/// over a network could be anyone's.
pub fn check_fetch_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|error| format!("not a URL ({error})"))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("must be https:// (http:// only to localhost)".into()),
        _ => Err("must be an https:// URL".into()),
    }
}

/// Settings every service shares. `Debug` hides the passwords in the URLs (settings are
/// logged and printed in errors).
#[derive(Clone)]
pub struct PlatformConfig {
    /// The PostgreSQL server URL; each service uses its own database on it.
    pub database_url: String,
    /// The NATS server URL.
    pub nats_url: String,
    /// First token of every subject; also prefixes stream and consumer names.
    pub subject_prefix: String,
    /// Replicas of each JetStream stream: 1 on one server, 3 on a NATS cluster.
    pub nats_stream_replicas: usize,
    /// Token verification.
    pub auth: AuthConfig,
    /// Largest gRPC message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Connections per service pool.
    pub database_max_connections: u32,
    /// How often the outbox relay looks for rows if no notification arrives.
    pub outbox_poll_interval: Duration,
    /// How long health answers NOT_SERVING after a shutdown signal while calls are still
    /// served, so that load balancers stop sending before the listener closes.
    pub shutdown_drain: Duration,
    /// The whole shutdown, from the signal: the drain, then in-flight calls and background
    /// work finishing. Calls still open then are cut off (and logged), so a client holding
    /// a stream open cannot keep the process alive.
    pub shutdown_grace: Duration,
    /// Timeouts and limits of the gRPC server's connections.
    pub connections: ConnectionLimits,
    /// How often gauges (serving, outbox backlog, consumer lag, business counts) are read.
    pub gauge_interval: Duration,
    /// gRPC over TLS (and mutual TLS) when a certificate is configured; plaintext if `None`.
    pub tls: Option<crate::tls::ServerTls>,
}

impl PlatformConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let database_url = env
            .get("CSPR_DATABASE_URL")
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
        check_postgres_url("CSPR_DATABASE_URL", &database_url)?;
        let nats_url = env
            .get("CSPR_NATS_URL")
            .unwrap_or_else(|| "nats://127.0.0.1:4222".to_string());
        if !nats_url
            .split(',')
            .map(str::trim)
            .all(|server| server.starts_with("nats://") || server.starts_with("tls://"))
        {
            return Err(ConfigError::new(
                "CSPR_NATS_URL",
                "each server (comma-separated) must start with nats:// or tls://",
            ));
        }
        let subject_prefix = env
            .get("CSPR_SUBJECT_PREFIX")
            .unwrap_or_else(|| "cspr".to_string());
        if subject_prefix.is_empty()
            || !subject_prefix.chars().all(|character| {
                character.is_ascii_alphanumeric() || character == '_' || character == '-'
            })
        {
            return Err(ConfigError::new(
                "CSPR_SUBJECT_PREFIX",
                "must be letters, digits, '_' or '-' (it becomes a subject token and a stream name)",
            ));
        }
        let nats_stream_replicas = env.u32_or("CSPR_NATS_STREAM_REPLICAS", 1)?;
        if !(1..=5).contains(&nats_stream_replicas) {
            return Err(ConfigError::new(
                "CSPR_NATS_STREAM_REPLICAS",
                "must be between 1 and 5",
            ));
        }
        let shutdown_drain = env.duration_or("CSPR_SHUTDOWN_DRAIN", Duration::from_secs(5))?;
        let shutdown_grace = env.duration_or("CSPR_SHUTDOWN_GRACE", Duration::from_secs(20))?;
        if shutdown_drain >= shutdown_grace {
            return Err(ConfigError::new(
                "CSPR_SHUTDOWN_DRAIN",
                "must be shorter than CSPR_SHUTDOWN_GRACE, which it is part of",
            ));
        }
        Ok(Self {
            database_url,
            nats_url,
            subject_prefix,
            nats_stream_replicas: nats_stream_replicas as usize,
            auth: AuthConfig::from_env(env)?,
            max_message_bytes: env.u32_or("CSPR_MAX_MESSAGE_BYTES", 4 * 1024 * 1024)? as usize,
            database_max_connections: env.u32_or("CSPR_DATABASE_MAX_CONNECTIONS", 10)?,
            outbox_poll_interval: env
                .duration_or("CSPR_OUTBOX_POLL_INTERVAL", Duration::from_secs(1))?,
            shutdown_drain,
            shutdown_grace,
            connections: ConnectionLimits::from_env(env)?,
            gauge_interval: env.duration_or("CSPR_GAUGE_INTERVAL", Duration::from_secs(15))?,
            tls: crate::tls::ServerTls::from_env(env)?,
        })
    }
}

/// How the gRPC server treats connections, so that none is held open for nothing: hyper
/// bounds neither the wait for an HTTP/2 connection preface nor a connection without calls,
/// and advertises no limit on concurrent streams unless told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A connection that has not sent the HTTP/2 connection preface by then is closed (a
    /// raw TCP connection that never speaks HTTP/2).
    pub handshake_timeout: Duration,
    /// A connection with no call open for this long is closed.
    pub idle_timeout: Duration,
    /// An HTTP/2 PING is sent after this long without a frame from the client…
    pub keepalive_interval: Duration,
    /// …and the connection closed if it is not answered within this (a dead peer).
    pub keepalive_timeout: Duration,
    /// Calls one connection may have open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`); a
    /// client queues the ones over it.
    pub max_concurrent_streams: u32,
}

impl Default for ConnectionLimits {
    /// The documented defaults (README, "Configuration").
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            // RFC 9113 §6.5.2: no smaller than 100, so as not to limit parallelism.
            max_concurrent_streams: 100,
        }
    }
}

impl ConnectionLimits {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let positive = |key: &str, default: Duration| {
            let value = env.duration_or(key, default)?;
            if value.is_zero() {
                return Err(ConfigError::new(key, "must be longer than 0s"));
            }
            Ok(value)
        };
        let max_concurrent_streams = env.u32_or(
            "CSPR_HTTP2_MAX_CONCURRENT_STREAMS",
            defaults.max_concurrent_streams,
        )?;
        if max_concurrent_streams == 0 {
            return Err(ConfigError::new(
                "CSPR_HTTP2_MAX_CONCURRENT_STREAMS",
                "must be at least 1",
            ));
        }
        Ok(Self {
            handshake_timeout: positive(
                "CSPR_HTTP2_HANDSHAKE_TIMEOUT",
                defaults.handshake_timeout,
            )?,
            idle_timeout: positive("CSPR_HTTP2_IDLE_TIMEOUT", defaults.idle_timeout)?,
            keepalive_interval: positive(
                "CSPR_HTTP2_KEEPALIVE_INTERVAL",
                defaults.keepalive_interval,
            )?,
            keepalive_timeout: positive(
                "CSPR_HTTP2_KEEPALIVE_TIMEOUT",
                defaults.keepalive_timeout,
            )?,
            max_concurrent_streams,
        })
    }
}

/// Settings of one service: where it listens and which database it owns. `Debug` hides the
/// database password.
#[derive(Clone)]
pub struct ServiceConfig {
    /// The service name (e.g. "registry").
    pub name: &'static str,
    /// Where the gRPC server listens.
    pub addr: SocketAddr,
    /// The service's own database.
    pub database_url: String,
}

impl fmt::Debug for PlatformConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PlatformConfig")
            .field("database_url", &redact_password(&self.database_url))
            .field("nats_url", &redact_password(&self.nats_url))
            .field("subject_prefix", &self.subject_prefix)
            .field("nats_stream_replicas", &self.nats_stream_replicas)
            .field("auth", &self.auth)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("database_max_connections", &self.database_max_connections)
            .field("outbox_poll_interval", &self.outbox_poll_interval)
            .field("shutdown_drain", &self.shutdown_drain)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("connections", &self.connections)
            .field("gauge_interval", &self.gauge_interval)
            .field("tls", &self.tls)
            .finish()
    }
}

impl fmt::Debug for ServiceConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ServiceConfig")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("database_url", &redact_password(&self.database_url))
            .finish()
    }
}

/// `url` with every password in it replaced by `***`: whatever any reading of it takes for
/// a password. `url` may be one URL whose password holds commas (PostgreSQL reads it whole)
/// or a comma-separated list of servers (NATS reads each on its own), so an authority is
/// taken to start at the beginning, after every `://` and after every comma, and to run to
/// the next `/`, `?` or `#`; in each, the password of its user info (from the first `:` to
/// the last `@`) is hidden. So is the value of every `password=` parameter (libpq's other
/// way of giving it, after `?` or `&`, up to the next `&` or `#`). A list whose later server
/// is written without `scheme://` may show less than its passwords, never more.
pub fn redact_password(url: &str) -> String {
    const KEY: &str = "password=";
    let mut hidden = vec![false; url.len()];
    let authorities = std::iter::once(0)
        .chain(url.match_indices("://").map(|(at, _)| at + 3))
        .chain(url.match_indices(',').map(|(at, _)| at + 1));
    for start in authorities {
        let rest = &url[start..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            hidden[start + colon + 1..start + at].fill(true);
        }
    }
    for (at, _) in url.match_indices(['?', '&']) {
        let parameter = &url[at + 1..];
        if parameter
            .get(..KEY.len())
            .is_some_and(|key| key.eq_ignore_ascii_case(KEY))
        {
            let value = &parameter[KEY.len()..];
            let from = at + 1 + KEY.len();
            hidden[from..from + value.find(['&', '#']).unwrap_or(value.len())].fill(true);
        }
    }
    let mut redacted = String::with_capacity(url.len());
    let mut hiding = false;
    for (index, character) in url.char_indices() {
        if !hidden[index] {
            redacted.push(character);
        } else if !hiding {
            redacted.push_str("***");
        }
        hiding = hidden[index];
    }
    redacted
}

impl ServiceConfig {
    /// Reads `CSPR_<SERVICE>_ADDR` and `CSPR_<SERVICE>_DATABASE_URL`; the database defaults
    /// to `cspr_<service>` on the server of `CSPR_DATABASE_URL`.
    pub fn from_env(
        env: &Env,
        name: &'static str,
        platform: &PlatformConfig,
    ) -> Result<Self, ConfigError> {
        let upper = name.to_ascii_uppercase();
        let addr_variable = format!("CSPR_{upper}_ADDR");
        let default_addr = SocketAddr::from(([0, 0, 0, 0], default_port(name).unwrap_or(0)));
        let addr = env.parse_or(&addr_variable, default_addr, |raw| {
            raw.parse::<SocketAddr>()
                .map_err(|_| "not a socket address, e.g. 0.0.0.0:50051".to_string())
        })?;
        let database_variable = format!("CSPR_{upper}_DATABASE_URL");
        let database_url = match env.get(&database_variable) {
            Some(url) => {
                check_postgres_url(&database_variable, &url)?;
                url
            }
            None => with_database_name(&platform.database_url, &format!("cspr_{name}")),
        };
        Ok(Self {
            name,
            addr,
            database_url,
        })
    }
}

fn check_postgres_url(variable: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(())
    } else {
        Err(ConfigError::new(variable, "must be a postgres:// URL"))
    }
}

/// Replaces (or adds) the database name in a PostgreSQL URL, keeping its query string.
pub fn with_database_name(server_url: &str, database: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let scheme_end = base.find("://").map(|index| index + 3).unwrap_or(0);
    let host_part_end = base[scheme_end..]
        .find('/')
        .map(|index| scheme_end + index)
        .unwrap_or(base.len());
    let mut url = format!("{}/{}", &base[..host_part_end], database);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base_env() -> Env {
        Env::isolated([("CSPR_AUTH_HS256_SECRET", "a-development-secret")])
    }

    #[test]
    fn service_urls_come_from_their_variable_else_the_local_port() {
        let env = Env::isolated([("CSPR_FAMILY_URL", "https://family.example:443")]);
        assert_eq!(service_url(&env, "registry"), "http://127.0.0.1:50051");
        assert_eq!(service_url(&env, "family"), "https://family.example:443");
        assert_eq!(service_url(&env, "actions"), "http://127.0.0.1:50055");
    }

    #[test]
    fn database_name_is_replaced_or_added() {
        assert_eq!(
            with_database_name(
                "postgres://postgres@127.0.0.1:5432/postgres",
                "cspr_registry"
            ),
            "postgres://postgres@127.0.0.1:5432/cspr_registry"
        );
        assert_eq!(
            with_database_name("postgres://u:p@db:5432", "x"),
            "postgres://u:p@db:5432/x"
        );
        assert_eq!(
            with_database_name("postgres://u@db/a?sslmode=require", "x"),
            "postgres://u@db/x?sslmode=require"
        );
    }

    #[test]
    fn defaults_follow_the_documented_ports() {
        let env = base_env();
        let platform = PlatformConfig::from_env(&env).expect("defaults are valid");
        let registry = ServiceConfig::from_env(&env, "registry", &platform).expect("valid");
        assert_eq!(registry.addr.port(), 50051);
        assert!(registry.database_url.ends_with("/cspr_registry"));
        assert_eq!(platform.nats_url, "nats://127.0.0.1:4222");
        assert_eq!(platform.subject_prefix, "cspr");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases = [
            ("CSPR_REGISTRY_ADDR", "not-an-address"),
            ("CSPR_NATS_URL", "http://x"),
            ("CSPR_NATS_URL", "nats://a:4222,http://b:4222"),
            ("CSPR_SUBJECT_PREFIX", "a.b"),
            ("CSPR_OUTBOX_POLL_INTERVAL", "soon"),
            ("CSPR_DATABASE_URL", "mysql://x"),
            ("CSPR_NATS_STREAM_REPLICAS", "7"),
        ];
        for (variable, value) in cases {
            let env = base_env().with(variable, value);
            let error = PlatformConfig::from_env(&env)
                .and_then(|platform| ServiceConfig::from_env(&env, "registry", &platform))
                .expect_err("bad value must be refused");
            assert_eq!(error.variable, variable);
        }
    }

    #[test]
    fn a_nats_cluster_is_given_as_a_list() {
        let urls = "nats://nats-0:4222, nats://nats-1:4222,nats://nats-2:4222";
        let platform = PlatformConfig::from_env(&base_env().with("CSPR_NATS_URL", urls))
            .expect("a list of servers is valid");
        assert_eq!(platform.nats_url, urls);
    }

    #[test]
    fn debug_hides_database_passwords() {
        let env = base_env()
            .with(
                "CSPR_DATABASE_URL",
                "postgres://cspr:s3cret-pw@db:5432/postgres",
            )
            .with(
                "CSPR_REGISTRY_DATABASE_URL",
                "postgres://cspr@db/cspr_registry?sslmode=require&password=s3cret-pw",
            );
        let platform = PlatformConfig::from_env(&env).expect("valid");
        let registry = ServiceConfig::from_env(&env, "registry", &platform).expect("valid");
        let printed = format!("{platform:?} {registry:?}");
        assert!(!printed.contains("s3cret-pw"), "{printed}");
        assert!(
            printed.contains("postgres://cspr:***@db:5432/postgres"),
            "{printed}"
        );
        assert!(
            printed.contains("postgres://cspr@db/cspr_registry?sslmode=require&password=***"),
            "{printed}"
        );
        // The settings themselves keep the password: only their printing hides it.
        assert!(platform.database_url.contains("s3cret-pw"));
    }

    #[test]
    fn redaction_leaves_urls_without_a_password_alone() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/postgres",
            "nats://127.0.0.1:4222",
            "postgres://u@db/x?sslmode=require",
        ] {
            assert_eq!(redact_password(url), url);
        }
        assert_eq!(
            redact_password("nats://a:pw@n0:4222, nats://a:pw@n1:4222"),
            "nats://a:***@n0:4222, nats://a:***@n1:4222"
        );
    }

    /// Found by the `config` fuzz target (its inputs are kept in fuzz/regressions/config/):
    /// the URL used to be cut at its commas first, so a password with a comma showed what
    /// followed the comma; then a server without a scheme after a path kept its password.
    #[test]
    fn redaction_hides_passwords_with_commas() {
        for (url, redacted) in [
            (
                "postgres://u@db/x?password=se,cret&sslmode=require",
                "postgres://u@db/x?password=***&sslmode=require",
            ),
            (
                "postgres://u:se,cr@t@db1:5432,db2:5432/x",
                "postgres://u:***@db1:5432,db2:5432/x",
            ),
            (
                "nats://a:p,w@n0:4222,nats://b:q,r@n1:4222",
                "nats://a:***@n0:4222,nats://b:***@n1:4222",
            ),
            // A server without a scheme after one with a path (NATS reads it on its own).
            (
                "nats://a@n0:4222/x,:pw@n1:4222",
                "nats://a@n0:4222/x,:***@n1:4222",
            ),
        ] {
            assert_eq!(redact_password(url), redacted);
        }
    }

    #[test]
    fn the_drain_is_part_of_the_grace_period_and_connection_limits_are_positive() {
        let platform = PlatformConfig::from_env(&base_env()).expect("defaults are valid");
        assert_eq!(platform.shutdown_drain, Duration::from_secs(5));
        assert_eq!(platform.connections, ConnectionLimits::default());
        let error = PlatformConfig::from_env(
            &base_env()
                .with("CSPR_SHUTDOWN_DRAIN", "20s")
                .with("CSPR_SHUTDOWN_GRACE", "20s"),
        )
        .expect_err("a drain as long as the grace period");
        assert_eq!(error.variable, "CSPR_SHUTDOWN_DRAIN");
        for (variable, value) in [
            ("CSPR_HTTP2_HANDSHAKE_TIMEOUT", "0s"),
            ("CSPR_HTTP2_IDLE_TIMEOUT", "0s"),
            ("CSPR_HTTP2_MAX_CONCURRENT_STREAMS", "0"),
        ] {
            let error =
                PlatformConfig::from_env(&base_env().with(variable, value)).expect_err("refused");
            assert_eq!(error.variable, variable);
        }
        let limits = ConnectionLimits::from_env(
            &base_env()
                .with("CSPR_HTTP2_HANDSHAKE_TIMEOUT", "2s")
                .with("CSPR_HTTP2_MAX_CONCURRENT_STREAMS", "7"),
        )
        .expect("valid");
        assert_eq!(limits.handshake_timeout, Duration::from_secs(2));
        assert_eq!(limits.max_concurrent_streams, 7);
    }

    #[test]
    fn keys_come_from_one_source_only() {
        let jwks = "https://idp.example/jwks";
        let issuer = "https://idp.example";
        let cases = [
            (
                base_env().with("CSPR_AUTH_JWKS_URL", jwks),
                "CSPR_AUTH_JWKS_URL",
            ),
            (
                Env::isolated([("CSPR_AUTH_JWKS_URL", jwks), ("CSPR_AUTH_ISSUER", issuer)])
                    .with("CSPR_AUTH_OIDC_DISCOVERY", "true"),
                "CSPR_AUTH_OIDC_DISCOVERY",
            ),
            // The provider's issuer must be named.
            (
                Env::isolated([("CSPR_AUTH_JWKS_URL", jwks)]),
                "CSPR_AUTH_ISSUER",
            ),
            (
                Env::isolated([("CSPR_AUTH_OIDC_DISCOVERY", "yes")]),
                "CSPR_AUTH_ISSUER",
            ),
            // Keys fetched in clear only from this machine.
            (
                Env::isolated([
                    ("CSPR_AUTH_JWKS_URL", "http://idp.example/jwks"),
                    ("CSPR_AUTH_ISSUER", issuer),
                ]),
                "CSPR_AUTH_JWKS_URL",
            ),
            (
                Env::isolated([
                    ("CSPR_AUTH_OIDC_DISCOVERY", "true"),
                    ("CSPR_AUTH_ISSUER", "cspr-dev"),
                ]),
                "CSPR_AUTH_ISSUER",
            ),
            (
                Env::isolated([
                    ("CSPR_AUTH_JWKS_URL", jwks),
                    ("CSPR_AUTH_ISSUER", issuer),
                    ("CSPR_AUTH_JWKS_MIN_REFRESH_INTERVAL", "1h"),
                ]),
                "CSPR_AUTH_JWKS_MIN_REFRESH_INTERVAL",
            ),
            (
                base_env().with("CSPR_AUTH_OIDC_DISCOVERY", "maybe"),
                "CSPR_AUTH_OIDC_DISCOVERY",
            ),
            (
                base_env().with("CSPR_AUTH_CLAIM_ROLES", "realm_access..roles"),
                "CSPR_AUTH_CLAIM_ROLES",
            ),
        ];
        for (env, variable) in cases {
            let error = AuthConfig::from_env(&env).expect_err("refused");
            assert_eq!(error.variable, variable, "{error}");
        }
    }

    #[test]
    fn a_jwks_configuration_with_its_claim_mapping() {
        let env = Env::isolated([
            ("CSPR_AUTH_OIDC_DISCOVERY", "true"),
            ("CSPR_AUTH_ISSUER", "http://127.0.0.1:8080/realms/cspr"),
            ("CSPR_AUTH_JWKS_REFRESH_INTERVAL", "1h"),
            ("CSPR_AUTH_CLAIM_ROLES", "realm_access.roles"),
            (
                "CSPR_AUTH_CLAIM_PARTNERSHIP",
                "https://cspr.example/partnership",
            ),
            ("CSPR_AUTH_ROLE_PREFIX", "cspr:"),
        ]);
        let auth = AuthConfig::from_env(&env).expect("valid");
        let AuthKeys::Jwks(jwks) = &auth.keys else {
            panic!("a JWKS configuration: {auth:?}");
        };
        assert_eq!(jwks.source, JwksSource::Discovery);
        assert_eq!(jwks.refresh_interval, Duration::from_secs(3600));
        assert_eq!(jwks.min_refresh_interval, Duration::from_secs(10));
        assert_eq!(
            auth.claims,
            ClaimMapping {
                partnership: "https://cspr.example/partnership".into(),
                roles: "realm_access.roles".into(),
                org: "org".into(),
                role_prefix: Some("cspr:".into()),
            }
        );
    }

    #[test]
    fn a_token_key_is_required() {
        let error = PlatformConfig::from_env(&Env::isolated::<[(&str, &str); 0], &str, &str>([]))
            .expect_err("no key");
        assert_eq!(error.variable, "CSPR_AUTH_HS256_SECRET");
    }
}
