//! The notifications service started for real against a real SMTP server (the platform's
//! `SmtpSink`, in-process) run by the test, fed with other services' events as they would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use cspr_notifications::config::{MailTarget, NotificationsConfig};
use cspr_notifications::domain::RetryPolicy;
use cspr_platform::testing::{self, TestService, TestSetup};
use cspr_proto::events::v1::{Event, event::Body};
use cspr_proto::google::r#type::Date;
use cspr_proto::notifications::v1 as pb;
use cspr_proto::notifications::v1::notifications_client::NotificationsClient;
use sqlx::PgPool;
use tonic::transport::Channel;

pub use testing::{SmtpSink, authed};

pub const PARTNERSHIP: &str = "southvale";

pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub struct TestNotifications {
    /// The running service, its clock, platform settings and clean-up.
    pub service: TestService,
    /// The service's database.
    pub pool: PgPool,
    pub client: NotificationsClient<Channel>,
}

impl std::ops::Deref for TestNotifications {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.service
    }
}

impl TestNotifications {
    /// Starts the service sending to `target`.
    pub async fn start(target: MailTarget) -> Self {
        Self::start_on(target, &testing::server_url()).await
    }

    /// As [`TestNotifications::start`], its database on the PostgreSQL server at
    /// `database_server_url` (a test's own [`testing::PgCluster`]).
    pub async fn start_on(target: MailTarget, database_server_url: &str) -> Self {
        let today = NaiveDate::from_ymd_opt(2026, 4, 20).expect("date");
        let setup = TestSetup::on_servers(
            cspr_notifications::SERVICE_NAME,
            &testing::nats_url(),
            database_server_url,
            today,
        )
        .await;
        let pool = setup.context.pool.clone();
        let config = NotificationsConfig {
            target,
            from: "CSPR reviews <no-reply@cspr.test>".into(),
            retry: RetryPolicy {
                max_attempts: 10,
                base: Duration::from_secs(60),
                cap: Duration::from_secs(600),
            },
            concurrency: 16,
            poll_interval: Duration::from_millis(100),
        };
        let started = cspr_notifications::start(setup.context.clone(), config);
        let service = setup.serve(cspr_notifications::GRPC_NAME, started).await;
        Self {
            client: NotificationsClient::new(service.channel.clone()),
            pool,
            service,
        }
    }

    pub fn operations(&self) -> String {
        self.service
            .token(PARTNERSHIP, &["operations"], None, "ops")
    }

    /// Publishes an event of `review_id` as its producer would, waits until the service
    /// consumed it, and returns it.
    pub async fn publish(&self, review_id: &str, body: Body) -> Event {
        let event = testing::foreign_event(PARTNERSHIP, review_id, body);
        self.service.deliver(&event).await;
        event
    }

    /// How many deliveries are planned.
    pub async fn delivery_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM deliveries")
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    /// Waits until the deliveries with `status` number `count`; returns them.
    pub async fn wait_for_status(
        &self,
        status: pb::DeliveryStatus,
        count: usize,
    ) -> Vec<pb::Delivery> {
        self.service
            .eventually(&format!("{count} deliveries {status:?}"), || async {
                let deliveries = self.deliveries(status).await;
                (deliveries.len() == count).then_some(deliveries)
            })
            .await
    }

    pub async fn deliveries(&self, status: pb::DeliveryStatus) -> Vec<pb::Delivery> {
        let mut client = self.client.clone();
        client
            .list_deliveries(authed(
                pb::ListDeliveriesRequest {
                    status: status as i32,
                    page_size: 200,
                    ..Default::default()
                },
                &self.operations(),
            ))
            .await
            .expect("list")
            .into_inner()
            .deliveries
    }

    pub async fn stop(self) {
        self.service.stop().await;
    }
}

/// The header value `name` of a raw message (first occurrence, unfolded).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let mut lines = raw.lines().peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None;
        }
        if line.to_ascii_lowercase().starts_with(&prefix) {
            let mut value = line[prefix.len()..].trim().to_string();
            while let Some(next) = lines.peek() {
                if next.starts_with(' ') || next.starts_with('\t') {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
            return Some(value);
        }
    }
    None
}

/// Undoes quoted-printable (soft line breaks and `=XX` escapes).
fn decode_quoted_printable(encoded: &str) -> String {
    let joined = encoded.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'=' && index + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[index + 1..index + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(value) => {
                decoded.push(value);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).replace("\r\n", "\n")
}

/// The decoded plain-text part of a message.
pub fn plain_text(raw: &str) -> String {
    let Some(start) = raw.find("Content-Type: text/plain") else {
        return String::new();
    };
    let part = &raw[start..];
    let body_start = part
        .find("\r\n\r\n")
        .map(|index| index + 4)
        .or_else(|| part.find("\n\n").map(|index| index + 2))
        .unwrap_or(0);
    let body = &part[body_start..];
    let end = body
        .find("\r\n--")
        .or_else(|| body.find("\n--"))
        .unwrap_or(body.len());
    let headers = &part[..body_start];
    if headers.contains("quoted-printable") {
        decode_quoted_printable(&body[..end])
    } else {
        body[..end].replace("\r\n", "\n")
    }
}
