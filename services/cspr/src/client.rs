//! What client subcommands share: a channel with the bearer token on every call.

use std::time::Duration;

use anyhow::Context;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};

use crate::cli::ClientArgs;

/// Adds `authorization: Bearer <token>` to each call.
#[derive(Clone)]
pub(crate) struct BearerToken(MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub(crate) type AuthedChannel = InterceptedService<Channel, BearerToken>;

pub(crate) async fn connect(args: &ClientArgs) -> anyhow::Result<AuthedChannel> {
    let token = args
        .token
        .as_deref()
        .context("no token: pass --token or set CSPR_TOKEN (see `cspr token --help`)")?;
    let header: MetadataValue<_> = format!("Bearer {token}")
        .parse()
        .context("token is not valid header text")?;
    let channel = tonic::transport::Endpoint::from_shared(crate::health::endpoint_url(&args.addr))
        .context("invalid --addr")?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("cannot connect to {}", args.addr))?;
    Ok(InterceptedService::new(channel, BearerToken(header)))
}

/// A gRPC error as a person reads it: code, message, and each field violation.
pub(crate) fn explain(status: Status) -> anyhow::Error {
    use tonic_types::StatusExt;
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad_request) = status.get_error_details().bad_request() {
        for violation in &bad_request.field_violations {
            text.push_str(&format!(
                "\n  - {}: {}",
                violation.field, violation.description
            ));
        }
    }
    anyhow::anyhow!(text)
}
