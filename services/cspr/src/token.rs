//! `cspr token create`: a development token for people and scripts trying the system.

use std::process::ExitCode;

use anyhow::Context;
use cspr_platform::auth::{Role, TokenRequest, issue_development_token};
use cspr_platform::config::{AuthConfig, Env};

use crate::cli::{RoleArg, TokenArgs};

pub(crate) fn create(args: TokenArgs) -> anyhow::Result<ExitCode> {
    if args.roles.contains(&RoleArg(Role::Agency)) && args.org.is_none() {
        anyhow::bail!("an agency token needs --org <agency id>");
    }
    let config = AuthConfig::from_env(&Env::process()).context("reading token settings")?;
    let token = issue_development_token(
        &config,
        &TokenRequest {
            subject: args.sub,
            partnership: args.partnership,
            roles: args
                .roles
                .iter()
                .map(|role| role.0.as_str().to_string())
                .collect(),
            org: args.org,
            ttl: args.ttl,
        },
    )?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
