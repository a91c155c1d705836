//! The command line: every subcommand and option, with help text.

use clap::{Args, Parser, Subcommand};

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
    /// Print a development token signed with CSPR_AUTH_HS256_SECRET.
    Token(TokenArgs),
    /// Check a service's gRPC health (exit 0 when SERVING); for container health checks.
    Health(HealthArgs),
    /// Reviews: create, list, get, timeline.
    Review(ReviewArgs),
    /// Submit an agency report from a JSON file (streams its chronology, with progress).
    Submit(SubmitArgs),
    /// Print a review's combined chronology (all agencies, in date order), or export it as CSV.
    Chronology(ChronologyArgs),
    /// List a review's agency report requests and where each stands.
    Reports(ReportsArgs),
    /// List a review's practitioners (with suggestions from chronologies, and deferrals).
    Practitioners(PractitionersArgs),
    /// Practitioner learning events.
    LearningEvent(LearningEventArgs),
    /// List a review's family members (redacted unless your role may see personal data).
    Family(FamilyArgs),
    /// Actions: `cspr actions <review>` lists a review's actions; `cspr actions summary`
    /// shows the partnership's (or, with --review, one review's) figures.
    Actions(ActionsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ActionsArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// A review id, or `summary`.
    pub(crate) target: String,
    /// With `summary`: only this review.
    #[arg(long)]
    pub(crate) review: Option<String>,
    /// Only overdue actions.
    #[arg(long)]
    pub(crate) overdue: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FamilyArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The review id.
    pub(crate) review: String,
}

#[derive(Debug, Args)]
pub(crate) struct PractitionersArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The review id.
    pub(crate) review: String,
    /// Also suggestions not yet confirmed.
    #[arg(long)]
    pub(crate) suggested: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LearningEventArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(subcommand)]
    pub(crate) command: LearningEventCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LearningEventCommand {
    /// Schedule the learning event: every confirmed practitioner whose involvement overlaps
    /// the scope period and whose contact is not deferred is invited (and emailed).
    Schedule {
        /// The review id.
        #[arg(long)]
        review: String,
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
        #[arg(long = "add")]
        add: Vec<String>,
        /// Leave this practitioner off (repeatable).
        #[arg(long = "remove")]
        remove: Vec<String>,
        /// Idempotency key (default: a new UUID).
        #[arg(long)]
        request_id: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The report: {"review_id", "agency_id", "author_name", "author_role", "narrative": {…},
    /// "entries": [{"occurred_on": "YYYY-MM-DD", "service", "description", …}]} (see README).
    #[arg(long)]
    pub(crate) file: std::path::PathBuf,
    /// Idempotency key (default: the file's "request_id", else a hash of the file, so
    /// resubmitting the same file is a harmless retry).
    #[arg(long)]
    pub(crate) request_id: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ChronologyArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The review id.
    pub(crate) review: String,
    /// Write CSV (with a header row) instead of a table.
    #[arg(long)]
    pub(crate) csv: bool,
    /// Also entries of submitted reports the panel has not accepted yet.
    #[arg(long)]
    pub(crate) include_pending: bool,
    /// Only this agency.
    #[arg(long)]
    pub(crate) agency: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ReportsArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The review id.
    pub(crate) review: String,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Services to run: registry, … or `all` for every service in this build.
    #[arg(required = true, value_name = "SERVICE")]
    pub(crate) services: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The partnership (tenant) the token is for.
    #[arg(long)]
    pub(crate) partnership: String,
    /// A role (repeat for several): partnership_admin, panel_chair, panel_member, reviewer,
    /// agency, family_liaison, auditor, operations.
    #[arg(long = "role", required = true)]
    pub(crate) roles: Vec<String>,
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

#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// host:port of the service, e.g. 127.0.0.1:50051.
    pub(crate) addr: String,
    /// The gRPC service to ask about (empty: the whole server).
    #[arg(long, default_value = "")]
    pub(crate) service: String,
}

/// How client commands reach a service.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// The service address (default: CSPR_REGISTRY_URL or CSPR_SUBMISSIONS_URL, else the
    /// service's local port).
    #[arg(long, global = true)]
    pub(crate) addr: Option<String>,
    /// A bearer token (see `cspr token`).
    #[arg(long, global = true, env = "CSPR_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReviewArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(subcommand)]
    pub(crate) command: ReviewCommand,
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
    /// List reviews, newest first.
    List {
        /// Only this stage, e.g. SCOPING.
        #[arg(long)]
        stage: Option<String>,
        /// Only reviews with a missed deadline.
        #[arg(long)]
        overdue: bool,
        /// Only reviews with a deadline at risk.
        #[arg(long)]
        at_risk: bool,
        /// Reviews per page (max 200).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// Continue from a previous page.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Show one review.
    Get {
        /// The review id.
        id: String,
    },
    /// Show a review's statutory deadlines.
    Timeline {
        /// The review id.
        id: String,
    },
}
