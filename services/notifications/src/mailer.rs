//! Sending one message: over SMTP (lettre's pooled async transport, rustls) or as an `.eml`
//! file. Failures say whether trying again can help.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailTarget;

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// True when no retry can succeed (e.g. 5xx "mailbox unavailable", a malformed address).
    pub permanent: bool,
    pub message: String,
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files {
        transport: AsyncFileTransport<Tokio1Executor>,
        directory: PathBuf,
    },
}

impl Mailer {
    pub fn new(target: &MailTarget, pool_size: u32) -> Result<Self, String> {
        match target {
            MailTarget::Smtp { url } => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|error| error.to_string())?
                    .timeout(Some(Duration::from_secs(15)))
                    .pool_config(PoolConfig::new().max_size(pool_size))
                    .build();
                Ok(Mailer::Smtp(transport))
            }
            MailTarget::Files { directory } => {
                std::fs::create_dir_all(directory)
                    .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
                tracing::info!(directory = %directory.display(), "no CSPR_SMTP_URL: emails are written as .eml files");
                Ok(Mailer::Files {
                    transport: AsyncFileTransport::<Tokio1Executor>::new(directory),
                    directory: directory.clone(),
                })
            }
        }
    }

    /// Sends one message.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Mailer::Smtp(transport) => {
                transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|error| SendError {
                        permanent: error.is_permanent(),
                        message: error.to_string(),
                    })
            }
            Mailer::Files {
                transport,
                directory,
            } => transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|error| SendError {
                    permanent: false,
                    message: format!("cannot write to {}: {error}", directory.display()),
                }),
        }
    }
}

/// Builds the message of a delivery (plain text and HTML alternatives). Its Message-ID is
/// the delivery id, so a receiver can recognise a rare resend after a crash.
pub fn build_message(
    from: &Mailbox,
    recipient: &str,
    subject: &str,
    text: &str,
    html: &str,
    delivery_id: &str,
) -> Result<Message, SendError> {
    let to: Mailbox = recipient.parse().map_err(|error| SendError {
        permanent: true,
        message: format!("invalid recipient {recipient:?}: {error}"),
    })?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{delivery_id}@cspr>")))
        .multipart(lettre::message::MultiPart::alternative_plain_html(
            text.to_string(),
            html.to_string(),
        ))
        .map_err(|error| SendError {
            permanent: true,
            message: format!("cannot build the message: {error}"),
        })
}
