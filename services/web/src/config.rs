//! The web front end's settings, from `CSPR_WEB_*` and the service URLs the `cspr` client
//! commands read too.

use std::net::SocketAddr;
use std::time::Duration;

use cspr_platform::config::{AuthConfig, ConfigError, Env, service_url};
use cspr_platform::tls::ClientTls;

/// Where the web calls each of the six services (`CSPR_REGISTRY_URL` …), as the `cspr`
/// commands do: by default each service's local port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrls {
    pub registry: String,
    pub submissions: String,
    pub practitioners: String,
    pub family: String,
    pub actions: String,
    pub notifications: String,
}

impl ServiceUrls {
    pub fn from_env(env: &Env) -> Self {
        Self {
            registry: service_url(env, "registry"),
            submissions: service_url(env, "submissions"),
            practitioners: service_url(env, "practitioners"),
            family: service_url(env, "family"),
            actions: service_url(env, "actions"),
            notifications: service_url(env, "notifications"),
        }
    }

    /// The URL of `service`, by its name.
    pub fn of(&self, service: &str) -> Option<&str> {
        match service {
            "registry" => Some(&self.registry),
            "submissions" => Some(&self.submissions),
            "practitioners" => Some(&self.practitioners),
            "family" => Some(&self.family),
            "actions" => Some(&self.actions),
            "notifications" => Some(&self.notifications),
            _ => None,
        }
    }

    /// The URL of `service`, by its name, to change: `cspr serve all` points the web at the services
    /// it serves beside it, unless `CSPR_<SERVICE>_URL` says otherwise.
    pub fn of_mut(&mut self, service: &str) -> Option<&mut String> {
        match service {
            "registry" => Some(&mut self.registry),
            "submissions" => Some(&mut self.submissions),
            "practitioners" => Some(&mut self.practitioners),
            "family" => Some(&mut self.family),
            "actions" => Some(&mut self.actions),
            "notifications" => Some(&mut self.notifications),
            _ => None,
        }
    }
}

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
    /// `CSPR_<SERVICE>_URL`: where each service's gRPC API is.
    pub services: ServiceUrls,
    /// `CSPR_TLS_CA`, `CSPR_TLS_CLIENT_CERT`, `CSPR_TLS_CLIENT_KEY`: how the gRPC client
    /// verifies the services (and presents itself), as the `cspr` commands do.
    pub client_tls: ClientTls,
    /// `CSPR_WEB_DASHBOARDS_URL`: where the operations page links for the dashboards
    /// (Grafana; default `http://localhost:3000`, as the compose stack runs it).
    pub dashboards_url: String,
    /// The development sign-in's token settings: only when `CSPR_AUTH_HS256_SECRET` is set,
    /// so a production deployment never offers a sign-in that mints tokens.
    pub development_auth: Option<AuthConfig>,
    /// Signing in with the partnership's identity provider, when `CSPR_WEB_OIDC_ISSUER` is set.
    pub oidc: Option<OidcConfig>,
}

/// Signing people in with OpenID Connect (authorization code with PKCE).
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// `CSPR_WEB_OIDC_ISSUER`: the provider; its discovery document is
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// `CSPR_WEB_OIDC_CLIENT_ID`: the web's client at the provider (required).
    pub client_id: String,
    /// `CSPR_WEB_OIDC_CLIENT_SECRET`: its secret, for a confidential client (sent as
    /// `client_secret_post`); unset for a public client, which PKCE alone protects.
    pub client_secret: Option<String>,
    /// `CSPR_WEB_OIDC_RESOURCE`: the resource indicator (RFC 8707) asked for, so the access
    /// token is for the services (default: `CSPR_AUTH_AUDIENCE`, the audience they expect;
    /// `none` sends none, for a provider that gives its audience otherwise).
    pub resource: Option<String>,
    /// `CSPR_WEB_OIDC_SCOPE`: the scopes asked for (default `openid`).
    pub scope: String,
    /// How the access token is verified: the services' own `CSPR_AUTH_*` settings (the
    /// provider's JWKS and claim mapping), so the web sees the caller as they will.
    pub verify: AuthConfig,
}

impl OidcConfig {
    fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(issuer) = env.get("CSPR_WEB_OIDC_ISSUER") else {
            return Ok(None);
        };
        let client_id = env.get("CSPR_WEB_OIDC_CLIENT_ID").ok_or_else(|| {
            ConfigError::new(
                "CSPR_WEB_OIDC_CLIENT_ID",
                "required with CSPR_WEB_OIDC_ISSUER: the web's client id at the identity provider",
            )
        })?;
        let verify = AuthConfig::from_env(env)?;
        if matches!(verify.keys, cspr_platform::config::AuthKeys::Hs256Secret(_)) {
            return Err(ConfigError::new(
                "CSPR_WEB_OIDC_ISSUER",
                "OpenID Connect sign-in verifies the provider's tokens with its keys: set \
                 CSPR_AUTH_JWKS_URL or CSPR_AUTH_OIDC_DISCOVERY=true, not CSPR_AUTH_HS256_SECRET",
            ));
        }
        let resource = match env.get("CSPR_WEB_OIDC_RESOURCE") {
            Some(none) if none == "none" => None,
            Some(resource) => Some(resource),
            None => Some(verify.audience.clone()),
        };
        Ok(Some(Self {
            issuer,
            client_id,
            client_secret: env.get("CSPR_WEB_OIDC_CLIENT_SECRET"),
            resource,
            scope: env
                .get("CSPR_WEB_OIDC_SCOPE")
                .unwrap_or_else(|| "openid".to_string()),
            verify,
        }))
    }
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
            services: ServiceUrls::from_env(env),
            dashboards_url: env
                .get("CSPR_WEB_DASHBOARDS_URL")
                .unwrap_or_else(|| "http://localhost:3000".to_string()),
            client_tls: ClientTls {
                ca: env.get("CSPR_TLS_CA").map(Into::into),
                cert: env.get("CSPR_TLS_CLIENT_CERT").map(Into::into),
                key: env.get("CSPR_TLS_CLIENT_KEY").map(Into::into),
            },
            development_auth,
            oidc: OidcConfig::from_env(env)?,
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
        assert_eq!(config.services.registry, "http://127.0.0.1:50051");
        assert_eq!(config.services.notifications, "http://127.0.0.1:50056");
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
        assert_eq!(config.services.registry, "http://registry:50051");
        assert!(config.development_auth.is_some());
        assert!(config.secure_cookies());
        let error = WebConfig::from_env(&Env::isolated([("CSPR_WEB_IDLE_TIMEOUT", "soon")]))
            .expect_err("refused");
        assert_eq!(error.variable, "CSPR_WEB_IDLE_TIMEOUT");
    }

    #[test]
    fn openid_connect_needs_a_client_and_the_providers_keys() {
        assert!(
            WebConfig::from_env(&Env::isolated([("", "")]))
                .expect("defaults")
                .oidc
                .is_none()
        );
        let provider = [
            ("CSPR_WEB_OIDC_ISSUER", "https://id.example"),
            ("CSPR_AUTH_OIDC_DISCOVERY", "true"),
            ("CSPR_AUTH_ISSUER", "https://id.example"),
            ("CSPR_AUTH_AUDIENCE", "urn:cspr"),
        ];
        let error = WebConfig::from_env(&Env::isolated(provider)).expect_err("no client");
        assert_eq!(error.variable, "CSPR_WEB_OIDC_CLIENT_ID");
        let with_client: Vec<_> = provider
            .into_iter()
            .chain([("CSPR_WEB_OIDC_CLIENT_ID", "cspr-web")])
            .collect();
        let oidc = WebConfig::from_env(&Env::isolated(with_client.clone()))
            .expect("configured")
            .oidc
            .expect("oidc");
        assert_eq!(oidc.client_id, "cspr-web");
        assert_eq!(
            oidc.resource.as_deref(),
            Some("urn:cspr"),
            "the services' audience"
        );
        assert_eq!(oidc.scope, "openid");
        assert!(oidc.client_secret.is_none());
        let development = [
            ("CSPR_WEB_OIDC_ISSUER", "https://id.example"),
            ("CSPR_WEB_OIDC_CLIENT_ID", "cspr-web"),
            ("CSPR_AUTH_HS256_SECRET", "a-development-secret"),
        ];
        let error = WebConfig::from_env(&Env::isolated(development)).expect_err("no keys");
        assert_eq!(error.variable, "CSPR_WEB_OIDC_ISSUER");
    }
}
