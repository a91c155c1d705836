//! `cspr serve <services…|all>`: runs services in this process until SIGTERM or ctrl-c.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cspr_platform::clock::SystemClock;
use cspr_platform::config::{ConfigError, Env, PlatformConfig, ServiceConfig};
use cspr_platform::server::{
    Ending, RunningService, ServiceContext, StartError, termination_signal,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::cli::{ServeArgs, ServiceArg};

/// The services this build contains: the gRPC services of [`SERVICES`] in port order, then
/// the web front end (an HTTP client of them, with no database or bus of its own).
pub(crate) fn available() -> Vec<&'static str> {
    SERVICES
        .iter()
        .map(|service| service.name)
        .chain([cspr_web::SERVICE_NAME])
        .collect()
}

/// Resolves `all`; keeps the order given, without repeats. (Names were checked by clap:
/// [`ServiceArg`] lists exactly the services of this build.)
pub(crate) fn resolve(requested: &[ServiceArg]) -> Vec<&'static str> {
    let mut selected: Vec<&'static str> = Vec::new();
    for service in requested {
        let names = match service.service_name() {
            Some(name) => vec![name],
            None => available(),
        };
        for name in names {
            if !selected.contains(&name) {
                selected.push(name);
            }
        }
    }
    selected
}

/// One service of this build: how its settings are read and how it is started with them.
struct Service {
    /// Its `SERVICE_NAME`, as `resolve` returns it.
    name: &'static str,
    /// Reads the service's own settings (only for the services served: the family service's
    /// need a data key) into the start of the service.
    read: fn(&Env) -> Result<Start, ConfigError>,
}

/// A service's `start`, its settings read.
type Start = Box<
    dyn FnOnce(ServiceContext) -> BoxFuture<'static, Result<RunningService, StartError>> + Send,
>;

/// Every service of this build, in port order.
const SERVICES: [Service; 6] = [
    Service {
        name: cspr_registry::SERVICE_NAME,
        read: |env| {
            let config = cspr_registry::config::RegistryConfig::from_env(env)?;
            Ok(Box::new(move |context| {
                cspr_registry::start(context, config).boxed()
            }))
        },
    },
    Service {
        name: cspr_submissions::SERVICE_NAME,
        read: |env| {
            let config = cspr_submissions::config::SubmissionsConfig::from_env(env)?;
            Ok(Box::new(move |context| {
                cspr_submissions::start(context, config).boxed()
            }))
        },
    },
    Service {
        name: cspr_practitioners::SERVICE_NAME,
        read: |env| {
            let config = cspr_practitioners::PractitionersConfig::from_env(env)?;
            Ok(Box::new(move |context| {
                cspr_practitioners::start(context, config).boxed()
            }))
        },
    },
    Service {
        name: cspr_family::SERVICE_NAME,
        read: |env| {
            let config = cspr_family::FamilyConfig::from_env(env)?;
            Ok(Box::new(move |context| {
                cspr_family::start(context, config).boxed()
            }))
        },
    },
    Service {
        name: cspr_actions::SERVICE_NAME,
        read: |env| {
            let config = cspr_actions::ActionsConfig::from_env(env)?;
            Ok(Box::new(move |context| {
                cspr_actions::start(context, config).boxed()
            }))
        },
    },
    Service {
        name: cspr_notifications::SERVICE_NAME,
        read: |env| {
            let config = cspr_notifications::config::NotificationsConfig::from_env(env)?;
            Ok(Box::new(move |context| {
                cspr_notifications::start(context, config).boxed()
            }))
        },
    },
];

/// Every setting of the selected services: the shared ones, and each service's address,
/// database and own settings, in the order selected.
struct Settings {
    platform: PlatformConfig,
    services: Vec<(ServiceConfig, Start)>,
    /// The web front end's, when it is served.
    web: Option<cspr_web::WebConfig>,
}

impl Settings {
    fn from_env(env: &Env, names: &[&'static str]) -> Result<Self, ConfigError> {
        let platform = PlatformConfig::from_env(env)?;
        let mut services = Vec::with_capacity(names.len());
        // `resolve` admits only names of `SERVICES`.
        for service in names
            .iter()
            .flat_map(|name| SERVICES.iter().filter(move |service| service.name == *name))
        {
            let service_config = ServiceConfig::from_env(env, service.name, &platform)?;
            services.push((service_config, (service.read)(env)?));
        }
        let web = if names.contains(&cspr_web::SERVICE_NAME) {
            let mut web = cspr_web::WebConfig::from_env(env)?;
            // The services served beside it are where it calls them, unless told otherwise.
            for (service, _) in &services {
                let set = env
                    .get(&format!("CSPR_{}_URL", service.name.to_ascii_uppercase()))
                    .is_some();
                if let (false, Some(url)) = (set, web.services.of_mut(service.name)) {
                    *url = local_url(service.addr);
                }
            }
            Some(web)
        } else {
            None
        };
        Ok(Self {
            platform,
            services,
            web,
        })
    }
}

/// How a process reaches a server it runs itself on `addr`: over loopback when it listens
/// on every interface.
fn local_url(addr: std::net::SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    format!("http://{}", std::net::SocketAddr::new(ip, addr.port()))
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let names = resolve(&args.services);
    // Configuration is read completely before anything starts: a bad value names its
    // variable and exits with code 2.
    let Settings {
        platform,
        services,
        web,
    } = match Settings::from_env(&Env::process(), &names) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(2));
        }
    };

    let telemetry_name = match names.as_slice() {
        [single] => format!("cspr-{single}"),
        _ => "cspr".to_string(),
    };
    let telemetry =
        cspr_platform::telemetry::init(&telemetry_name).context("starting telemetry")?;
    let shutdown = CancellationToken::new();
    let clock = Arc::new(SystemClock);
    let mut running: Vec<RunningService> = Vec::new();
    for (service_config, start) in services {
        let context = ServiceContext::new(
            service_config.name,
            platform.clone(),
            service_config,
            clock.clone(),
            shutdown.clone(),
        )
        .await
        .with_context(|| format!("preparing {}", names.join(", ")))?;
        match start(context).await {
            Ok(service) => running.push(service),
            Err(error) => {
                shutdown.cancel();
                for service in running {
                    let _ = service.stopped().await;
                }
                telemetry.shutdown();
                return Err(error).context("starting services");
            }
        }
    }

    // The web front end last: the services it calls are up (it connects lazily anyway).
    let web = match web {
        Some(config) => match cspr_web::start(config, shutdown.clone()).await {
            Ok(web) => Some(web),
            Err(error) => {
                shutdown.cancel();
                for service in running {
                    let _ = service.stopped().await;
                }
                telemetry.shutdown();
                return Err(error).context("starting the web front end");
            }
        },
        None => None,
    };
    let web_ended = async {
        match &web {
            Some(web) => web.ended().await,
            None => std::future::pending().await,
        }
    };

    // Until a signal, or until one service can no longer serve: a task of it ended or
    // panicked, so the process exits non-zero for an orchestrator to restart it rather than
    // run on half-dead.
    let first_ended = async {
        if running.is_empty() {
            // Only the web: select_all of nothing would panic.
            return std::future::pending().await;
        }
        futures::future::select_all(
            running
                .iter()
                .map(|service| Box::pin(async move { (service.name, service.ended().await) })),
        )
        .await
        .0
    };
    tokio::select! {
        _ = termination_signal() => tracing::info!("termination signal received"),
        () = web_ended => tracing::error!(service = cspr_web::SERVICE_NAME, "the web front end stopped serving; shutting down the others"),
        (name, ending) = first_ended => match ending {
            Ending::Failed(failure) => tracing::error!(service = name, task = %failure.task, cause = %failure.cause, "a service failed; shutting down the others"),
            Ending::Shutdown => tracing::warn!(service = name, "a service stopped; shutting down the others"),
        },
    }
    shutdown.cancel();
    let mut clean = true;
    if let Some(web) = web
        && let Err(error) = web.stopped().await
    {
        tracing::error!(service = cspr_web::SERVICE_NAME, %error, "web front end stopped with an error");
        clean = false;
    }
    for service in running {
        let name = service.name;
        if let Err(error) = service.stopped().await {
            tracing::error!(service = name, %error, "service stopped with an error");
            clean = false;
        }
    }
    tracing::info!("stopped");
    telemetry.shutdown();
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_expands_without_repeats_in_the_order_given() {
        assert_eq!(resolve(&[ServiceArg::All]), available());
        let mut architecture = cspr_platform::config::SERVICE_NAMES.to_vec();
        architecture.push(cspr_web::SERVICE_NAME);
        assert_eq!(
            available(),
            architecture,
            "every service of the architecture is in this build, and the web front end"
        );
        let submissions_first = resolve(&[ServiceArg::Submissions, ServiceArg::All]);
        assert_eq!(submissions_first[0], "submissions");
        assert_eq!(submissions_first.len(), available().len(), "no repeats");
        assert_eq!(
            resolve(&[ServiceArg::Registry, ServiceArg::Registry]),
            vec!["registry"]
        );
        assert_eq!(
            resolve(&[ServiceArg::Family, ServiceArg::Registry]),
            vec!["family", "registry"]
        );
    }

    #[test]
    fn the_web_calls_the_services_served_beside_it_unless_told() {
        let env = Env::isolated([
            ("CSPR_AUTH_HS256_SECRET", "a-test-secret-0123456789"),
            ("CSPR_REGISTRY_ADDR", "0.0.0.0:6001"),
            ("CSPR_FAMILY_ADDR", "127.0.0.2:6004"),
            ("CSPR_ACTIONS_URL", "http://actions.example:50055"),
        ]);
        let names = resolve(&[ServiceArg::All]);
        let settings = Settings::from_env(&env, &names).expect("settings");
        let web = settings.web.expect("web served");
        assert_eq!(web.services.registry, "http://127.0.0.1:6001");
        assert_eq!(web.services.family, "http://127.0.0.2:6004");
        assert_eq!(web.services.actions, "http://actions.example:50055");
        assert_eq!(web.services.submissions, "http://127.0.0.1:50052");
        let alone = Settings::from_env(&env, &resolve(&[ServiceArg::Web])).expect("settings");
        assert_eq!(
            alone.web.expect("web").services.registry,
            "http://127.0.0.1:50051",
            "the web alone calls the services where CSPR_<SERVICE>_URL (or its default) says"
        );
    }
}
