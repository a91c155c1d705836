//! `cspr`: the one binary. `cspr serve <services…|all>` runs services in one process; the
//! other commands (`cspr <noun> <verb>`, see `cli.rs`) are clients for people at a terminal,
//! scripts and container health checks.

// A command-line program: printing to stdout is its job.
#![allow(clippy::print_stdout)]

mod action;
mod agency;
mod cli;
mod client;
mod engagement;
mod family;
mod health;
mod output;
mod review;
mod serve;
mod token;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let outcome = match cli.command {
        cli::Command::Serve(args) => serve::run(args).await,
        cli::Command::Token(cli::TokenCommand::Create(args)) => token::create(args),
        cli::Command::Health(cli::HealthCommand::Check(args)) => health::check(args).await,
        cli::Command::Review(args) => review::run(args).await,
        cli::Command::Report(args) => agency::report(args).await,
        cli::Command::Chronology(args) => agency::chronology(args).await,
        cli::Command::Practitioner(args) => engagement::practitioner(args).await,
        cli::Command::LearningEvent(args) => engagement::learning_event(args).await,
        cli::Command::Family(args) => family::family(args).await,
        cli::Command::Action(args) => action::action(args).await,
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
