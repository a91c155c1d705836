//! `cspr token`: a development token for people and scripts trying the system.

use std::process::ExitCode;

use anyhow::Context;
use cspr_platform::auth::{Role, TokenRequest, issue_development_token};
use cspr_platform::config::{AuthConfig, Env};

use crate::cli::TokenArgs;

pub(crate) fn run(args: TokenArgs) -> anyhow::Result<ExitCode> {
    for role in &args.roles {
        if Role::parse(role).is_none() {
            anyhow::bail!(
                "unknown role {role:?}; known roles: {}",
                Role::ALL
                    .iter()
                    .map(|role| role.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if args.roles.iter().any(|role| role == "agency") && args.org.is_none() {
        anyhow::bail!("an agency token needs --org <agency id>");
    }
    let config = AuthConfig::from_env(&Env::process()).context("reading token settings")?;
    let token = issue_development_token(
        &config,
        &TokenRequest {
            subject: args.sub,
            partnership: args.partnership,
            roles: args.roles,
            org: args.org,
            ttl: args.ttl,
        },
    )?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
