//! `cspr`: the one binary. `cspr serve <services…|all>` runs services in one process; the
//! other subcommands are clients for people at a terminal and for container health checks.

#![forbid(unsafe_code)]
// A command-line program: printing to stdout is its job.
#![allow(clippy::print_stdout)]

mod agency;
mod cli;
mod client;
mod engagement;
mod health;
mod review;
mod serve;
mod token;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let outcome = match cli.command {
        cli::Command::Serve(args) => serve::run(args).await,
        cli::Command::Token(args) => token::run(args),
        cli::Command::Health(args) => health::run(args).await,
        cli::Command::Review(args) => review::run(args).await,
        cli::Command::Submit(args) => agency::submit(args).await,
        cli::Command::Chronology(args) => agency::chronology(args).await,
        cli::Command::Reports(args) => agency::reports(args).await,
        cli::Command::Practitioners(args) => engagement::practitioners(args).await,
        cli::Command::LearningEvent(args) => engagement::learning_event(args).await,
        cli::Command::Family(args) => engagement::family(args).await,
        cli::Command::Actions(args) => engagement::actions(args).await,
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
