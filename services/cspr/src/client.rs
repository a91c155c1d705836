//! What client subcommands share: a channel with the bearer token on every call.

use std::time::Duration;

use anyhow::Context;
use cspr_proto::google::r#type::Date;
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

/// The services client commands talk to, with their address variable and local default.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Registry,
    Submissions,
    Practitioners,
    Family,
    Actions,
}

impl Target {
    fn address(self, args: &ClientArgs) -> String {
        let service = match self {
            Target::Registry => "registry",
            Target::Submissions => "submissions",
            Target::Practitioners => "practitioners",
            Target::Family => "family",
            Target::Actions => "actions",
        };
        args.addr.clone().unwrap_or_else(|| {
            cspr_platform::config::service_url(&cspr_platform::config::Env::process(), service)
        })
    }
}

pub(crate) async fn connect(args: &ClientArgs, target: Target) -> anyhow::Result<AuthedChannel> {
    let addr = target.address(args);
    let token = args
        .token
        .as_deref()
        .context("no token: pass --token or set CSPR_TOKEN (see `cspr token create --help`)")?;
    let header: MetadataValue<_> = format!("Bearer {token}")
        .parse()
        .context("token is not valid header text")?;
    let channel = args
        .tls
        .client_tls()
        .endpoint(&addr)?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(600))
        .connect()
        .await
        .map_err(|error| cannot_connect(&addr, error))?;
    Ok(InterceptedService::new(channel, BearerToken(header)))
}

/// A connection that failed, with its whole cause (a certificate the client does not trust
/// is named at the end of it).
pub(crate) fn cannot_connect(addr: &str, error: tonic::transport::Error) -> anyhow::Error {
    anyhow::Error::new(error).context(format!(
        "cannot connect to {addr} (a TLS server needs https:// or --ca; a plaintext one, http://)"
    ))
}

/// The causes of a failure that never reached the service (TLS refused, connection closed),
/// which tonic keeps as the status's source under a bare "transport error".
fn transport_cause(status: &Status) -> Option<String> {
    let mut source = std::error::Error::source(status)?;
    let mut causes = Vec::new();
    loop {
        causes.push(source.to_string());
        match source.source() {
            Some(next) => source = next,
            None => break,
        }
    }
    Some(causes.join(": "))
}

/// A date option (`YYYY-MM-DD`) as the proto's date.
pub(crate) fn proto_date(date: chrono::NaiveDate) -> Option<Date> {
    use chrono::Datelike;
    Some(Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    })
}

/// A gRPC status code in words, e.g. `InvalidArgument` → "invalid argument".
fn code_in_words(code: tonic::Code) -> String {
    let mut words = String::new();
    for (index, letter) in format!("{code:?}").chars().enumerate() {
        if letter.is_ascii_uppercase() && index > 0 {
            words.push(' ');
        }
        words.push(letter.to_ascii_lowercase());
    }
    words
}

/// A gRPC error as a person reads it: what kind of refusal, the service's message, and each
/// field it names.
pub(crate) fn explain(status: Status) -> anyhow::Error {
    use tonic_types::StatusExt;
    let mut text = format!("{}: {}", code_in_words(status.code()), status.message());
    if let Some(cause) = transport_cause(&status) {
        text.push_str(&format!(" ({cause})"));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_words_with_their_fields() {
        assert_eq!(
            code_in_words(tonic::Code::InvalidArgument),
            "invalid argument"
        );
        assert_eq!(code_in_words(tonic::Code::NotFound), "not found");
        assert_eq!(code_in_words(tonic::Code::Unavailable), "unavailable");
        use tonic_types::{ErrorDetails, StatusExt};
        let status = Status::with_error_details(
            tonic::Code::InvalidArgument,
            "the request is not valid",
            ErrorDetails::with_bad_request_violation("review_id", "must be a UUID"),
        );
        assert_eq!(
            explain(status).to_string(),
            "invalid argument: the request is not valid\n  - review_id: must be a UUID"
        );
    }
}
