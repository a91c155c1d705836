//! `cspr health check <addr>`: asks `grpc.health.v1` and exits 0 only when SERVING.

use std::process::ExitCode;
use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::cli::HealthArgs;

pub(crate) async fn check(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let channel = args
        .tls
        .client_tls()
        .endpoint(&args.addr)?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|error| crate::client::cannot_connect(&args.addr, error))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: args.service.clone(),
        })
        .await
        .map_err(|status| crate::client::explain(status).context("health check failed"))?
        .into_inner();
    let status = ServingStatus::try_from(response.status).unwrap_or(ServingStatus::Unknown);
    println!("{}", status.as_str_name());
    Ok(if status == ServingStatus::Serving {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
