//! The web front end's settings, from `CSPR_WEB_*` and the service URLs the `cspr` client
//! commands read too.

use std::net::SocketAddr;
use std::time::Duration;

use cspr_platform::config::{AuthConfig, ConfigError, Env, service_url};
use cspr_platform::tls::ClientTls;

/// What the web front end needs to run.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// `CSPR_WEB_ADDR`: where it listens (default `0.0.0.0:8080`).
    pub addr: SocketAddr,
    /// `CSPR_WEB_PUBLIC_URL`: the address people's browsers use (default
    /// `http://localhost:8080`). When it is `https://` (TLS ends at a proxy in front), the
    /// session cookie is marked `Secure`.
    pub public_url: String,
    /// `CSPR_WEB_IDLE_TIMEOUT`: a session unused this long is signed out (default 30m).
    pub idle_timeout: Duration,
    /// `CSPR_REGISTRY_URL`: the registry's gRPC address.
    pub registry_url: String,
    /// `CSPR_TLS_CA`, `CSPR_TLS_CLIENT_CERT`, `CSPR_TLS_CLIENT_KEY`: how the gRPC client
    /// verifies the services (and presents itself), as the `cspr` commands do.
    pub client_tls: ClientTls,
    /// The development sign-in's token settings: only when `CSPR_AUTH_HS256_SECRET` is set,
    /// so a production deployment never offers a sign-in that mints tokens.
    pub development_auth: Option<AuthConfig>,
}

impl WebConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let addr = env.parse_or(
            "CSPR_WEB_ADDR",
            SocketAddr::from(([0, 0, 0, 0], 8080)),
            |raw| {
                raw.parse()
                    .map_err(|_| "not a socket address, e.g. 0.0.0.0:8080".to_string())
            },
        )?;
        let public_url = env
            .get("CSPR_WEB_PUBLIC_URL")
            .unwrap_or_else(|| "http://localhost:8080".to_string());
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "CSPR_WEB_PUBLIC_URL",
                "must start with http:// or https://",
            ));
        }
        let idle_timeout =
            env.duration_or("CSPR_WEB_IDLE_TIMEOUT", Duration::from_secs(30 * 60))?;
        if idle_timeout.is_zero() {
            return Err(ConfigError::new(
                "CSPR_WEB_IDLE_TIMEOUT",
                "must be more than 0",
            ));
        }
        let development_auth = match env.get("CSPR_AUTH_HS256_SECRET") {
            Some(_) => Some(AuthConfig::from_env(env)?),
            None => None,
        };
        Ok(Self {
            addr,
            public_url,
            idle_timeout,
            registry_url: service_url(env, "registry"),
            client_tls: ClientTls {
                ca: env.get("CSPR_TLS_CA").map(Into::into),
                cert: env.get("CSPR_TLS_CLIENT_CERT").map(Into::into),
                key: env.get("CSPR_TLS_CLIENT_KEY").map(Into::into),
            },
            development_auth,
        })
    }

    /// Whether the session cookie is `Secure`: the browser reaches the web over TLS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let config = WebConfig::from_env(&Env::isolated([("", "")])).expect("defaults");
        assert_eq!(config.addr.to_string(), "0.0.0.0:8080");
        assert_eq!(config.idle_timeout, Duration::from_secs(1800));
        assert_eq!(config.registry_url, "http://127.0.0.1:50051");
        assert!(config.development_auth.is_none());
        assert!(!config.secure_cookies());
        let config = WebConfig::from_env(&Env::isolated([
            ("CSPR_WEB_ADDR", "127.0.0.1:9000"),
            ("CSPR_WEB_IDLE_TIMEOUT", "5m"),
            ("CSPR_WEB_PUBLIC_URL", "https://cspr.example"),
            ("CSPR_REGISTRY_URL", "http://registry:50051"),
            ("CSPR_AUTH_HS256_SECRET", "a-development-secret"),
        ]))
        .expect("overrides");
        assert_eq!(config.addr.port(), 9000);
        assert_eq!(config.idle_timeout, Duration::from_secs(300));
        assert_eq!(config.registry_url, "http://registry:50051");
        assert!(config.development_auth.is_some());
        assert!(config.secure_cookies());
        let error = WebConfig::from_env(&Env::isolated([("CSPR_WEB_IDLE_TIMEOUT", "soon")]))
            .expect_err("refused");
        assert_eq!(error.variable, "CSPR_WEB_IDLE_TIMEOUT");
    }
}
