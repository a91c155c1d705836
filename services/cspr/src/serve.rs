//! `cspr serve <services…|all>`: runs services in this process until SIGTERM or ctrl-c.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cspr_platform::clock::SystemClock;
use cspr_platform::config::{ConfigError, Env, PlatformConfig, ServiceConfig};
use cspr_platform::server::{RunningService, ServiceContext, termination_signal};
use tokio_util::sync::CancellationToken;

use crate::cli::{ServeArgs, ServiceArg};

/// The services this build contains, in port order.
pub(crate) const AVAILABLE: [&str; 6] = [
    cspr_registry::SERVICE_NAME,
    cspr_submissions::SERVICE_NAME,
    cspr_practitioners::SERVICE_NAME,
    cspr_family::SERVICE_NAME,
    cspr_actions::SERVICE_NAME,
    cspr_notifications::SERVICE_NAME,
];

/// Resolves `all`; keeps the order given, without repeats. (Names were checked by clap:
/// [`ServiceArg`] lists exactly the services of this build.)
pub(crate) fn resolve(requested: &[ServiceArg]) -> Vec<&'static str> {
    let mut selected: Vec<&'static str> = Vec::new();
    for service in requested {
        let names = match service.service_name() {
            Some(name) => vec![name],
            None => AVAILABLE.to_vec(),
        };
        for name in names {
            if !selected.contains(&name) {
                selected.push(name);
            }
        }
    }
    selected
}

/// Every setting of the selected services.
struct Settings {
    platform: PlatformConfig,
    service_configs: Vec<ServiceConfig>,
    registry_config: cspr_registry::config::RegistryConfig,
    submissions_config: cspr_submissions::config::SubmissionsConfig,
    practitioners_config: cspr_practitioners::PractitionersConfig,
    /// Read only when the family service is served: it needs a data key.
    family_config: Option<cspr_family::FamilyConfig>,
    actions_config: cspr_actions::ActionsConfig,
    notifications_config: cspr_notifications::config::NotificationsConfig,
}

impl Settings {
    fn from_env(env: &Env, services: &[&'static str]) -> Result<Self, ConfigError> {
        let platform = PlatformConfig::from_env(env)?;
        let service_configs = services
            .iter()
            .map(|name| ServiceConfig::from_env(env, name, &platform))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            registry_config: cspr_registry::config::RegistryConfig::from_env(env)?,
            submissions_config: cspr_submissions::config::SubmissionsConfig::from_env(env)?,
            practitioners_config: cspr_practitioners::PractitionersConfig::from_env(env)?,
            family_config: if services.contains(&cspr_family::SERVICE_NAME) {
                Some(cspr_family::FamilyConfig::from_env(env)?)
            } else {
                None
            },
            actions_config: cspr_actions::ActionsConfig::from_env(env)?,
            notifications_config: cspr_notifications::config::NotificationsConfig::from_env(env)?,
            platform,
            service_configs,
        })
    }
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let services = resolve(&args.services);
    // Configuration is read completely before anything starts: a bad value names its
    // variable and exits with code 2.
    let settings = match Settings::from_env(&Env::process(), &services) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    let Settings {
        platform,
        service_configs,
        registry_config,
        submissions_config,
        practitioners_config,
        family_config,
        actions_config,
        notifications_config,
    } = settings;

    let telemetry_name = match services.as_slice() {
        [single] => format!("cspr-{single}"),
        _ => "cspr".to_string(),
    };
    let telemetry =
        cspr_platform::telemetry::init(&telemetry_name).context("starting telemetry")?;
    let shutdown = CancellationToken::new();
    let clock = Arc::new(SystemClock);
    let mut running: Vec<RunningService> = Vec::new();
    for service_config in service_configs {
        let context = ServiceContext::new(
            service_config.name,
            platform.clone(),
            service_config,
            clock.clone(),
            shutdown.clone(),
        )
        .await
        .with_context(|| format!("preparing {}", services.join(", ")))?;
        let started = match context.name {
            cspr_registry::SERVICE_NAME => {
                cspr_registry::start(context, registry_config.clone()).await
            }
            cspr_submissions::SERVICE_NAME => {
                cspr_submissions::start(context, submissions_config.clone()).await
            }
            cspr_practitioners::SERVICE_NAME => {
                cspr_practitioners::start(context, practitioners_config.clone()).await
            }
            cspr_family::SERVICE_NAME => match &family_config {
                Some(config) => cspr_family::start(context, config.clone()).await,
                None => anyhow::bail!("the family service's settings were not read"),
            },
            cspr_actions::SERVICE_NAME => {
                cspr_actions::start(context, actions_config.clone()).await
            }
            cspr_notifications::SERVICE_NAME => {
                cspr_notifications::start(context, notifications_config.clone()).await
            }
            other => anyhow::bail!("no start function for {other}"),
        };
        match started {
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

    tokio::select! {
        _ = termination_signal() => tracing::info!("termination signal received"),
        _ = shutdown.cancelled() => tracing::warn!("a service stopped; shutting down the others"),
    }
    shutdown.cancel();
    let mut clean = true;
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
        assert_eq!(resolve(&[ServiceArg::All]), AVAILABLE.to_vec());
        assert_eq!(
            AVAILABLE.to_vec(),
            cspr_platform::config::SERVICE_NAMES.to_vec(),
            "every service of the architecture is in this build"
        );
        let submissions_first = resolve(&[ServiceArg::Submissions, ServiceArg::All]);
        assert_eq!(submissions_first[0], "submissions");
        assert_eq!(submissions_first.len(), AVAILABLE.len(), "no repeats");
        assert_eq!(
            resolve(&[ServiceArg::Registry, ServiceArg::Registry]),
            vec!["registry"]
        );
        assert_eq!(
            resolve(&[ServiceArg::Family, ServiceArg::Registry]),
            vec!["family", "registry"]
        );
    }
}
