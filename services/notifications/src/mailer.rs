//! Sending one message: over SMTP (lettre's pooled async transport, rustls) or as an `.eml`
//! file. Failures say whether trying again can help.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::calendar::Method;
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

/// Builds the message of a delivery: plain text and HTML alternatives and, for a panel
/// meeting, its calendar entry as a third (`text/calendar; method=...`, iMIP, RFC 6047
/// §2.4). Its Message-ID is the delivery id, so a receiver can recognise a rare resend
/// after a crash.
pub fn build_message(
    from: &Mailbox,
    recipient: &str,
    subject: &str,
    text: &str,
    html: &str,
    calendar: Option<(Method, &str)>,
    delivery_id: &str,
) -> Result<Message, SendError> {
    let failed = |error: String| SendError {
        permanent: true,
        message: error,
    };
    let to: Mailbox = recipient
        .parse()
        .map_err(|error| failed(format!("invalid recipient {recipient:?}: {error}")))?;
    let mut alternatives = MultiPart::alternative()
        .singlepart(SinglePart::plain(text.to_string()))
        .singlepart(SinglePart::html(html.to_string()));
    if let Some((method, entry)) = calendar {
        let content_type = ContentType::parse(&method.content_type())
            .map_err(|error| failed(format!("cannot build the calendar part: {error}")))?;
        // As it is (7bit, the entry's own CRLF lines) when it is ASCII, as iMIP's examples
        // are; else encoded as lettre chooses.
        let body = Body::new_with_encoding(entry.to_string(), ContentTransferEncoding::SevenBit)
            .unwrap_or_else(|_| Body::new(entry.to_string()));
        alternatives =
            alternatives.singlepart(SinglePart::builder().header(content_type).body(body));
    }
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{delivery_id}@cspr>")))
        .multipart(alternatives)
        .map_err(|error| failed(format!("cannot build the message: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> Mailbox {
        "CSPR reviews <no-reply@cspr.test>".parse().expect("from")
    }

    fn raw(message: &Message) -> String {
        String::from_utf8(message.formatted()).expect("ASCII")
    }

    #[test]
    fn a_calendar_entry_is_the_third_alternative_as_it_is() {
        let entry = "BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\nORGANIZER;CN=CSPR:mailto:a@b.example\r\nEND:VCALENDAR\r\n";
        let message = build_message(
            &from(),
            "tess@panel.example.org",
            "Cancelled",
            "text",
            "<p>html</p>",
            Some((Method::Cancel, entry)),
            "d1",
        )
        .expect("builds");
        let raw = raw(&message);
        let plain = raw.find("Content-Type: text/plain").expect("plain");
        let html = raw.find("Content-Type: text/html").expect("html");
        let calendar = raw
            .find("Content-Type: text/calendar; method=CANCEL; charset=utf-8")
            .expect("the calendar part");
        assert!(plain < html && html < calendar, "{raw}");
        let part = &raw[calendar..];
        assert!(part.contains("Content-Transfer-Encoding: 7bit"), "{raw}");
        assert!(part.contains(entry), "unchanged: {raw}");
    }

    #[test]
    fn a_non_ascii_entry_is_encoded_and_an_email_without_one_is_as_before() {
        let message = build_message(
            &from(),
            "tess@panel.example.org",
            "Invitation",
            "text",
            "<p>html</p>",
            Some((Method::Request, "LOCATION:Café\r\n")),
            "d2",
        )
        .expect("builds");
        let raw = raw(&message);
        assert!(raw.contains("text/calendar; method=REQUEST"), "{raw}");
        assert!(!raw.contains("Café"), "encoded: {raw}");
        let plain = build_message(
            &from(),
            "tess@panel.example.org",
            "Report requested",
            "text",
            "<p>html</p>",
            None,
            "d3",
        )
        .expect("builds");
        let raw = self::raw(&plain);
        assert!(raw.contains("multipart/alternative") && !raw.contains("text/calendar"));
    }
}
