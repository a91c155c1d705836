//! The command line: every command and option, with help text.
//!
//! One shape for every client command, so what works for one works for all:
//! - `cspr <noun> <verb>` (`review list`, `report submit`, `action summary`); `serve` alone is
//!   a bare verb, because it is the server itself rather than a client command;
//! - a review is always named by `--review <ID>`;
//! - every command prints through `--output table|json|csv` (see `output.rs`);
//! - services, stages and roles are value enums, so `--help` lists the choices and a typo is
//!   refused before anything is sent.

use std::sync::LazyLock;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};
use cspr_platform::auth::Role;
use cspr_proto::registry::v1 as registry;
use cspr_registry::convert::stage_to_proto;
use cspr_registry::domain::stage::Stage;

use crate::output::{Output, enum_name};

/// Child Safeguarding Practice Reviews: services and command-line client.
#[derive(Debug, Parser)]
#[command(name = "cspr", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run services in this process (configuration from CSPR_* environment variables).
    Serve(ServeArgs),
    /// Development tokens signed with CSPR_AUTH_HS256_SECRET (production tokens come from
    /// the identity provider: CSPR_AUTH_JWKS_URL or CSPR_AUTH_OIDC_DISCOVERY).
    #[command(subcommand)]
    Token(TokenCommand),
    /// A service's gRPC health, for container health checks.
    #[command(subcommand)]
    Health(HealthCommand),
    /// Reviews in the registry: create, list, show, timeline.
    Review(Client<ReviewCommand>),
    /// Agency reports: submit one from a file, list a review's requests.
    Report(Client<ReportCommand>),
    /// A review's combined chronology of every agency's entries.
    Chronology(Client<ChronologyCommand>),
    /// The practitioners of a review.
    Practitioner(Client<PractitionerCommand>),
    /// Practitioner learning events.
    LearningEvent(Client<LearningEventCommand>),
    /// The family members of a review.
    Family(Client<FamilyCommand>),
    /// Action plans: a review's actions and the figures.
    Action(Client<ActionCommand>),
}

/// A client command: how to reach the service and print, then what to do.
#[derive(Debug, Args)]
pub(crate) struct Client<C: Subcommand> {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(subcommand)]
    pub(crate) command: C,
}

/// How client commands reach a service and print what it answers.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection and output")]
pub(crate) struct ClientArgs {
    /// The service address (default: the service's CSPR_<SERVICE>_URL, else its local port).
    #[arg(long, global = true)]
    pub(crate) addr: Option<String>,
    /// A bearer token (see `cspr token create`).
    #[arg(long, global = true, env = "CSPR_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// How to print: a table for people, JSON or CSV for scripts.
    #[arg(long, short, global = true, value_enum, default_value_t = Output::Table)]
    pub(crate) output: Output,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
}

/// TLS of a client command: how it verifies the server, and its own certificate for mutual
/// TLS. Any of them makes a bare `host:port` address `https://`.
#[derive(Debug, Args)]
pub(crate) struct TlsArgs {
    /// The CA certificate (PEM) the server's certificate must chain to. Without it an
    /// https:// address is verified against the system's roots.
    #[arg(long, global = true, env = "CSPR_TLS_CA", value_name = "PEM")]
    pub(crate) ca: Option<std::path::PathBuf>,
    /// A client certificate (PEM) for mutual TLS: an agency system's, naming its agency.
    #[arg(long, global = true, env = "CSPR_TLS_CLIENT_CERT", value_name = "PEM")]
    pub(crate) cert: Option<std::path::PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, global = true, env = "CSPR_TLS_CLIENT_KEY", value_name = "PEM")]
    pub(crate) key: Option<std::path::PathBuf>,
}

impl TlsArgs {
    pub(crate) fn client_tls(&self) -> cspr_platform::tls::ClientTls {
        cspr_platform::tls::ClientTls {
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        }
    }
}

/// The review a command is about: the same `--review <ID>` in every command.
#[derive(Debug, Args)]
pub(crate) struct ReviewId {
    /// The review id (a UUID, as `review create` and `review list` print it).
    #[arg(long = "review", value_name = "ID")]
    pub(crate) id: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReviewCommand {
    /// Record a serious incident notification (opens a review).
    Create {
        /// The child's alias, never a real name (e.g. "Child Q").
        #[arg(long)]
        alias: String,
        /// The notifying local authority.
        #[arg(long)]
        local_authority: String,
        /// Date of the incident (YYYY-MM-DD).
        #[arg(long)]
        incident_date: chrono::NaiveDate,
        /// Date the local authority became aware (YYYY-MM-DD).
        #[arg(long)]
        became_aware_on: chrono::NaiveDate,
        /// Idempotency key (default: a new UUID); reuse it to retry safely.
        #[arg(long)]
        request_id: Option<String>,
    },
    /// List reviews, newest first, one page at a time.
    List {
        /// Only reviews at this stage.
        #[arg(long, value_enum)]
        stage: Option<StageArg>,
        /// Only reviews with a missed deadline.
        #[arg(long)]
        overdue: bool,
        /// Only reviews with a deadline at risk.
        #[arg(long)]
        at_risk: bool,
        /// Reviews per page (max 200).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// Continue from a previous page (printed on stderr after a full page).
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Show one review: its stage, people and deadlines.
    Show {
        #[command(flatten)]
        review: ReviewId,
    },
    /// Show a review's statutory deadlines and projected completion.
    Timeline {
        #[command(flatten)]
        review: ReviewId,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Submit an agency report from a JSON file (streams its chronology, with progress).
    Submit {
        /// The report: {"review_id", "agency_id", "author_name", "author_role",
        /// "narrative": {…}, "entries": [{"occurred_on": "YYYY-MM-DD", "service",
        /// "description", …}]} (see README).
        #[arg(long)]
        file: std::path::PathBuf,
        /// Idempotency key (default: the file's "request_id", else a hash of the file, so
        /// resubmitting the same file is a harmless retry).
        #[arg(long)]
        request_id: Option<String>,
    },
    /// List a review's agency report requests and where each stands.
    List {
        #[command(flatten)]
        review: ReviewId,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ChronologyCommand {
    /// Print a review's combined chronology (all agencies, in date order).
    Show {
        #[command(flatten)]
        review: ReviewId,
        /// Also entries of submitted reports the panel has not accepted yet.
        #[arg(long)]
        include_pending: bool,
        /// Only this agency.
        #[arg(long)]
        agency: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PractitionerCommand {
    /// List a review's practitioners (with deferrals, and suggestions on request).
    List {
        #[command(flatten)]
        review: ReviewId,
        /// Also practitioners suggested from chronologies, not yet confirmed.
        #[arg(long)]
        suggested: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum LearningEventCommand {
    /// Schedule the learning event: every confirmed practitioner whose involvement overlaps
    /// the scope period and whose contact is not deferred is invited (and emailed).
    Schedule {
        #[command(flatten)]
        review: ReviewId,
        /// When, in RFC 3339 (e.g. 2026-05-12T10:00:00+01:00).
        #[arg(long)]
        at: chrono::DateTime<chrono::FixedOffset>,
        /// A place or an online link.
        #[arg(long)]
        location: String,
        /// The agenda.
        #[arg(long)]
        agenda: String,
        /// Also invite this practitioner (repeatable).
        #[arg(long = "add", value_name = "PRACTITIONER ID")]
        add: Vec<String>,
        /// Leave this practitioner off (repeatable).
        #[arg(long = "remove", value_name = "PRACTITIONER ID")]
        remove: Vec<String>,
        /// Idempotency key (default: a new UUID).
        #[arg(long)]
        request_id: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum FamilyCommand {
    /// List a review's family members (redacted unless your role may see personal data).
    List {
        #[command(flatten)]
        review: ReviewId,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ActionCommand {
    /// List a review's actions.
    List {
        #[command(flatten)]
        review: ReviewId,
        /// Only overdue actions.
        #[arg(long)]
        overdue: bool,
    },
    /// The partnership's action figures, or one review's.
    Summary {
        /// Only this review (default: the whole partnership).
        #[arg(long = "review", value_name = "ID")]
        review: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Services to run, or `all` for every service in this build.
    #[arg(required = true, value_name = "SERVICE", value_enum)]
    pub(crate) services: Vec<ServiceArg>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Print a development token for a partnership and roles, its claims where
    /// CSPR_AUTH_CLAIM_PARTNERSHIP, CSPR_AUTH_CLAIM_ROLES (with CSPR_AUTH_ROLE_PREFIX) and
    /// CSPR_AUTH_CLAIM_ORG say, so it verifies with the same settings.
    Create(TokenArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The partnership (tenant) the token is for.
    #[arg(long)]
    pub(crate) partnership: String,
    /// A role (repeat for several).
    #[arg(long = "role", value_name = "ROLE", required = true, value_enum)]
    pub(crate) roles: Vec<RoleArg>,
    /// The agency id, for agency tokens.
    #[arg(long)]
    pub(crate) org: Option<String>,
    /// The subject (user id).
    #[arg(long, default_value = "dev-user")]
    pub(crate) sub: String,
    /// How long the token is valid, e.g. 1h, 30m, 8h.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub(crate) ttl: std::time::Duration,
}

#[derive(Debug, Subcommand)]
pub(crate) enum HealthCommand {
    /// Ask a service's grpc.health.v1; prints the status, exit 0 only when SERVING.
    Check(HealthArgs),
}

#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// host:port of the service, e.g. 127.0.0.1:50051.
    pub(crate) addr: String,
    /// The gRPC service to ask about (empty: the whole server).
    #[arg(long, default_value = "")]
    pub(crate) service: String,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
}

/// A service `serve` can run, or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ServiceArg {
    Registry,
    Submissions,
    Practitioners,
    Family,
    Actions,
    Notifications,
    /// The web front end (HTTP, CSPR_WEB_ADDR); a client of the others, with no database.
    Web,
    /// Every service of this build.
    All,
}

impl ServiceArg {
    /// The service's own name (its `SERVICE_NAME`); `None` for `all`.
    pub(crate) fn service_name(self) -> Option<&'static str> {
        Some(match self {
            ServiceArg::Registry => cspr_registry::SERVICE_NAME,
            ServiceArg::Submissions => cspr_submissions::SERVICE_NAME,
            ServiceArg::Practitioners => cspr_practitioners::SERVICE_NAME,
            ServiceArg::Family => cspr_family::SERVICE_NAME,
            ServiceArg::Actions => cspr_actions::SERVICE_NAME,
            ServiceArg::Notifications => cspr_notifications::SERVICE_NAME,
            ServiceArg::Web => cspr_web::SERVICE_NAME,
            ServiceArg::All => return None,
        })
    }
}

/// A review stage for `--stage`: the registry's stages, named as JSON output prints them
/// (`information_gathering`), so the list in `--help` is the registry's own and cannot drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StageArg(pub(crate) registry::Stage);

/// The stages `--stage` offers and their names (clap wants `'static` names; a name is the
/// proto's, as [`enum_name`] prints it).
static STAGE_ARGS: LazyLock<Vec<(StageArg, String)>> = LazyLock::new(|| {
    Stage::ALL
        .into_iter()
        .map(|stage| {
            let stage = stage_to_proto(stage);
            (StageArg(stage), enum_name::<registry::Stage>(stage as i32))
        })
        .collect()
});
static STAGE_VARIANTS: LazyLock<Vec<StageArg>> =
    LazyLock::new(|| STAGE_ARGS.iter().map(|(stage, _)| *stage).collect());

impl ValueEnum for StageArg {
    fn value_variants<'a>() -> &'a [Self] {
        &STAGE_VARIANTS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        STAGE_ARGS
            .iter()
            .find(|(stage, _)| stage == self)
            .map(|(_, name)| PossibleValue::new(name.as_str()))
    }
}

impl From<StageArg> for registry::Stage {
    fn from(stage: StageArg) -> Self {
        stage.0
    }
}

/// A token role for `--role`: the platform's roles, by their claim names, so the list in
/// `--help` cannot drift from what the services accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RoleArg(pub(crate) Role);

const ROLE_ARGS: [RoleArg; Role::ALL.len()] = {
    let mut all = [RoleArg(Role::ALL[0]); Role::ALL.len()];
    let mut index = 1;
    while index < all.len() {
        all[index] = RoleArg(Role::ALL[index]);
        index += 1;
    }
    all
};

impl ValueEnum for RoleArg {
    fn value_variants<'a>() -> &'a [Self] {
        &ROLE_ARGS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cspr").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_a_one_line_about() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in command.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
                if about.is_empty() || about.contains('\n') {
                    missing.push(path.clone());
                }
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "cspr", &mut missing);
        assert_eq!(
            missing,
            Vec::<String>::new(),
            "commands without a one-line about"
        );
    }

    #[test]
    fn every_client_command_takes_the_review_the_same_way() {
        let command = Cli::command();
        let mut seen = 0;
        for noun in command.get_subcommands() {
            for verb in noun.get_subcommands() {
                for arg in verb.get_arguments() {
                    let review_like = arg.get_id().as_str().contains("review")
                        || arg.get_long().is_some_and(|long| long.contains("review"));
                    if review_like {
                        seen += 1;
                        assert_eq!(
                            arg.get_long(),
                            Some("review"),
                            "{} {}: {}",
                            noun.get_name(),
                            verb.get_name(),
                            arg.get_id()
                        );
                        assert!(!arg.is_positional());
                    }
                }
            }
        }
        assert!(seen >= 9, "review show, timeline, … take --review ({seen})");
    }

    #[test]
    fn services_parse_by_name_and_all() {
        let Command::Serve(args) = parse(&["serve", "registry", "all"])
            .expect("parses")
            .command
        else {
            panic!("serve");
        };
        assert_eq!(args.services, vec![ServiceArg::Registry, ServiceArg::All]);
        for service in ServiceArg::value_variants() {
            let name = service.to_possible_value().expect("named");
            assert_eq!(
                service.service_name().unwrap_or("all"),
                name.get_name(),
                "the value is the service's own name"
            );
        }
        let names: Vec<&str> = ServiceArg::value_variants()
            .iter()
            .filter_map(|service| service.service_name())
            .collect();
        let mut expected = cspr_platform::config::SERVICE_NAMES.to_vec();
        expected.push(cspr_web::SERVICE_NAME);
        assert_eq!(names, expected, "the gRPC services, then the web front end");
        let refused = parse(&["serve", "nonsense"]).expect_err("refused");
        assert_eq!(refused.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(refused.to_string().contains("notifications"), "{refused}");
    }

    #[test]
    fn stages_parse_by_the_name_json_prints() {
        let mut proto_stages = Vec::new();
        for value in 1.. {
            match registry::Stage::try_from(value) {
                Ok(stage) => proto_stages.push(stage),
                Err(_) => break,
            }
        }
        let stages: Vec<registry::Stage> = StageArg::value_variants()
            .iter()
            .map(|stage| registry::Stage::from(*stage))
            .collect();
        assert_eq!(
            stages, proto_stages,
            "every stage but unspecified, in order"
        );
        let Command::Review(review) =
            parse(&["review", "list", "--stage", "information_gathering"])
                .expect("parses")
                .command
        else {
            panic!("review");
        };
        assert!(matches!(
            review.command,
            ReviewCommand::List {
                stage: Some(StageArg(registry::Stage::InformationGathering)),
                ..
            }
        ));
        let refused = parse(&["review", "list", "--stage", "SCOPING"]).expect_err("refused");
        assert_eq!(refused.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(refused.to_string().contains("scoping"), "lists the choices");
    }

    #[test]
    fn roles_parse_by_their_claim_names() {
        let Command::Token(TokenCommand::Create(args)) = parse(&[
            "token",
            "create",
            "--partnership",
            "southvale",
            "--role",
            "partnership_admin",
            "--role",
            "family_liaison",
        ])
        .expect("parses")
        .command
        else {
            panic!("token");
        };
        assert_eq!(
            args.roles,
            vec![
                RoleArg(Role::PartnershipAdmin),
                RoleArg(Role::FamilyLiaison)
            ]
        );
        let names: Vec<String> = RoleArg::value_variants()
            .iter()
            .map(|role| {
                role.to_possible_value()
                    .expect("named")
                    .get_name()
                    .to_string()
            })
            .collect();
        let expected: Vec<String> = Role::ALL.iter().map(|role| role.to_string()).collect();
        assert_eq!(names, expected);
        let refused = parse(&["token", "create", "--partnership", "p", "--role", "admin"])
            .expect_err("refused");
        assert_eq!(refused.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(
            refused.to_string().contains("partnership_admin"),
            "{refused}"
        );
    }

    #[test]
    fn output_is_one_option_for_every_client_command() {
        for args in [
            &["review", "list", "--output", "json"][..],
            &["report", "list", "--review", "r", "--output", "csv"],
            &["chronology", "show", "--review", "r", "-o", "csv"],
            &["action", "summary", "--output", "table"],
        ] {
            let cli = parse(args).expect("parses");
            let client = match cli.command {
                Command::Review(command) => command.client,
                Command::Report(command) => command.client,
                Command::Chronology(command) => command.client,
                Command::Action(command) => command.client,
                other => panic!("{other:?}"),
            };
            assert_eq!(
                client.output,
                Output::from_str(args[args.len() - 1], false).expect("ok")
            );
        }
        assert!(parse(&["review", "list", "--output", "xml"]).is_err());
        assert!(
            parse(&["review", "list", "--json"]).is_err(),
            "one way to ask"
        );
    }
}
