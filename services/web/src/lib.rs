//! The cspr web front end: server-rendered GOV.UK pages for the people who run a review.
//!
//! It is a gRPC client of the services like any other, calling them with the signed-in
//! user's bearer token (held in a server-side [`session`]): it owns no case data and reads no
//! database, so every rule (roles, tenancy, validation) is the services' own, and a refusal
//! is shown as a page a person understands ([`pages::PageError`]).

mod assets;
mod chronology_svg;
pub mod config;
mod forms;
mod oidc;
mod pages;
mod session;
mod svg;
mod timeline;
mod uk_time;
mod upload;
mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use cspr_proto::actions::v1::action_monitoring_client::ActionMonitoringClient;
use cspr_proto::family::v1::family_engagement_client::FamilyEngagementClient;
use cspr_proto::notifications::v1::notifications_client::NotificationsClient;
use cspr_proto::practitioners::v1::practitioner_engagement_client::PractitionerEngagementClient;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;

pub use config::WebConfig;

/// The name `cspr serve` knows it by.
pub const SERVICE_NAME: &str = "web";

/// Why the web front end could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("a service's address: {0}")]
    Service(#[from] cspr_platform::tls::TlsError),
    #[error("OpenID Connect sign-in: {0}")]
    Oidc(String),
}

/// What every request handler shares.
pub(crate) struct AppState {
    pub(crate) config: WebConfig,
    pub(crate) sessions: session::Sessions,
    pub(crate) templates: views::Templates,
    pub(crate) services: Services,
    /// Signing in with the partnership's identity provider, where configured.
    pub(crate) oidc: Option<oidc::Oidc>,
}

/// A gRPC client of each service. Each connects lazily: the web starts (and shows "try
/// again") while a service is down, and reconnects when it is back.
#[derive(Clone)]
pub(crate) struct Services {
    pub(crate) registry: ReviewRegistryClient<Channel>,
    pub(crate) notifications: NotificationsClient<Channel>,
    pub(crate) actions: ActionMonitoringClient<Channel>,
    /// Agency reports and the combined chronology (a stream of up to tens of thousands).
    pub(crate) submissions: AgencySubmissionsClient<Channel>,
    pub(crate) practitioners: PractitionerEngagementClient<Channel>,
    pub(crate) family: FamilyEngagementClient<Channel>,
    /// Each service's standard gRPC health service, by name, for the operations page.
    pub(crate) health: Vec<(&'static str, HealthClient<Channel>)>,
}

/// The largest message the web sends or accepts: a chronology page or a whole report.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

impl Services {
    fn connect(config: &WebConfig) -> Result<Self, WebError> {
        let channel = |url: &str| -> Result<Channel, WebError> {
            Ok(config
                .client_tls
                .endpoint(url)?
                .connect_timeout(std::time::Duration::from_secs(3))
                .timeout(std::time::Duration::from_secs(30))
                .connect_lazy())
        };
        let urls = &config.services;
        let health = cspr_platform::config::SERVICE_NAMES
            .into_iter()
            .map(|name| {
                let url = urls.of(name).unwrap_or_default();
                Ok((name, HealthClient::new(channel(url)?)))
            })
            .collect::<Result<Vec<_>, WebError>>()?;
        Ok(Self {
            health,
            registry: ReviewRegistryClient::new(channel(&urls.registry)?)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            notifications: NotificationsClient::new(channel(&urls.notifications)?)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            actions: ActionMonitoringClient::new(channel(&urls.actions)?)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            submissions: AgencySubmissionsClient::new(channel(&urls.submissions)?)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            practitioners: PractitionerEngagementClient::new(channel(&urls.practitioners)?)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            family: FamilyEngagementClient::new(channel(&urls.family)?)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        })
    }
}

/// The web front end, serving.
#[derive(Debug)]
pub struct RunningWeb {
    /// Where it listens (the real port when 0 was asked for).
    pub addr: SocketAddr,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    ended: CancellationToken,
}

impl RunningWeb {
    /// Resolves when the server stops: after shutdown, or when it failed.
    pub async fn ended(&self) {
        self.ended.cancelled().await;
    }

    /// Waits for the server to finish its open requests after shutdown.
    pub async fn stopped(self) -> std::io::Result<()> {
        match self.server.await {
            Ok(outcome) => outcome,
            Err(error) => Err(std::io::Error::other(error)),
        }
    }
}

/// The router, on `config` (tests serve it themselves too).
fn router(state: Arc<AppState>) -> Router {
    pages::routes()
        .route("/assets/{*path}", get(assets::serve))
        // For an orchestrator's HTTP probes: the web serves (it has no state of its own to
        // be unready for; a service it calls being down is a "try again" page, not a reason
        // to take the web out of the load balancer). No session is made.
        .route("/healthz", get(|| async { "ok" }))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(pages::security_headers))
        .with_state(state)
}

/// Starts serving on `config.addr` until `shutdown` is cancelled.
pub async fn start(config: WebConfig, shutdown: CancellationToken) -> Result<RunningWeb, WebError> {
    let services = Services::connect(&config)?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| WebError::Listen {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| WebError::Listen {
        addr: config.addr,
        source,
    })?;
    let oidc = match &config.oidc {
        Some(settings) => {
            let authenticator = cspr_platform::auth::Authenticator::new(&settings.verify)
                .map_err(|error| WebError::Oidc(error.to_string()))?;
            let oidc = oidc::Oidc::new(settings.clone(), &config.public_url, authenticator)
                .map_err(|error| WebError::Oidc(error.to_string()))?;
            // The provider's keys, kept fresh as the services keep theirs.
            if let Some(refresh) = oidc.authenticator().key_refresh(shutdown.clone()) {
                tokio::spawn(refresh);
            }
            Some(oidc)
        }
        None => None,
    };
    let state = Arc::new(AppState {
        oidc,
        sessions: session::Sessions::new(config.idle_timeout),
        templates: views::Templates::new(),
        services,
        config,
    });
    let app = router(state);
    let ended = CancellationToken::new();
    let done = ended.clone();
    let server = tokio::spawn(async move {
        let outcome = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        done.cancel();
        outcome
    });
    tracing::info!(%addr, "web front end listening");
    Ok(RunningWeb {
        addr,
        server,
        ended,
    })
}
