//! Notifications: participants learn what is asked of them by email — agency safeguarding
//! leads (report requested, due soon, overdue, returned), panel members and the reviewer
//! (appointed; invited to panel meetings, with a calendar entry updated on each change or
//! cancellation), the panel chair (deadlines at risk or missed) — each exactly once.
//!
//! Every other service's events are consumed (a durable consumer per stream) and turned into
//! **deliveries**, one per (event, recipient, template), unique in the database. A sender
//! loop sends due deliveries over SMTP (lettre, pooled, rustls) or, with no SMTP configured,
//! writes `.eml` files; failures retry with backoff and jitter, then end FAILED. Recipients'
//! addresses come from the events; the service keeps no other personal data.
//!
//! # Layout
//! - [`config`]: SMTP or file target, From, retries.
//! - [`domain`]: which event causes which email to whom; templates; retry policy.
//! - [`calendar`]: a panel meeting's calendar entry (iCalendar), sent with its emails.
//! - `templates/`: the emails, plain text (first line: subject) and HTML.
//! - [`store`]: the only SQL.
//! - [`events`]: the consumer handler that plans deliveries.
//! - [`sender`]: the sending loop.
//! - [`mailer`]: SMTP or file transport.
//! - [`grpc`]: `cspr.notifications.v1.Notifications` (deliveries for operators).
//! - `migrations/`: the notifications database (versions from 1000).

pub mod calendar;
pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod mailer;
pub mod sender;
pub mod store;

use std::sync::Arc;

use cspr_platform::server::{RunningService, ServiceBuilder, ServiceContext, StartError};
use cspr_proto::notifications::v1::notifications_server::NotificationsServer;
use lettre::message::Mailbox;
use tonic::server::NamedService;

use crate::calendar::Organizer;
use crate::config::NotificationsConfig;
use crate::domain::Templates;
use crate::events::{EventHandler, SOURCES};
use crate::grpc::NotificationsApi;
use crate::mailer::Mailer;
use crate::sender::{Sender, SenderSettings};

/// The service name (database `cspr_notifications`, stream `<PREFIX>_NOTIFICATIONS`).
pub const SERVICE_NAME: &str = "notifications";
/// The gRPC service health reports on.
pub const GRPC_NAME: &str = <NotificationsServer<NotificationsApi> as NamedService>::NAME;

/// The sender, built from a context (tests drive it directly).
pub fn sender(
    context: &ServiceContext,
    config: &NotificationsConfig,
) -> Result<Sender, StartError> {
    let mailer = Mailer::new(&config.target, config.concurrency).map_err(StartError::Setup)?;
    Ok(Sender::new(
        context.pool.clone(),
        mailer,
        from(config)?,
        SenderSettings::from(config),
        Arc::clone(&context.clock),
    ))
}

/// The From mailbox (`CSPR_MAIL_FROM`).
fn from(config: &NotificationsConfig) -> Result<Mailbox, StartError> {
    config
        .from
        .parse()
        .map_err(|error| StartError::Setup(format!("CSPR_MAIL_FROM: {error}")))
}

/// Starts the service: gRPC, its consumers of every producing service, the sender.
pub async fn start(
    context: ServiceContext,
    config: NotificationsConfig,
) -> Result<RunningService, StartError> {
    let templates =
        Arc::new(Templates::load().map_err(|error| StartError::Setup(error.to_string()))?);
    let sender = sender(&context, &config)?;
    let api = NotificationsApi::new(
        context.pool.clone(),
        Arc::clone(&context.clock),
        context.audit.clone(),
    );
    // The invitations' calendar entries are organised by the From mailbox.
    let from = from(&config)?;
    let handler = EventHandler::new(
        templates,
        Arc::clone(&context.clock),
        config.business_units.clone(),
        Organizer {
            name: from.name.clone(),
            email: from.email.to_string(),
        },
    );
    ServiceBuilder::new(context, NotificationsServer::new(api), || {
        sqlx::migrate!("./migrations")
    })
    .consumes(&SOURCES, handler)
    .job("sender", move |shutdown| sender.run(shutdown))
    .start()
    .await
}
