//! The notifications service started for real against a real SMTP server (the platform's
//! `SmtpSink`, in-process) run by the test, fed with other services' events as they would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::path::PathBuf;
use std::time::Duration;

use cspr_notifications::config::{MailTarget, NotificationsConfig};
use cspr_notifications::domain::RetryPolicy;
use cspr_platform::testing::{self, TestApp, TestSetup};
use cspr_proto::events::v1::{Event, event::Body};
use cspr_proto::notifications::v1 as pb;
use cspr_proto::notifications::v1::notifications_client::NotificationsClient;
use tonic::transport::Channel;

/// The business unit mailbox of [`PARTNERSHIP`] in the service's settings.
pub const BUSINESS_UNIT: &str = "business.unit@southvale.example.org";

pub use testing::{
    PARTNERSHIP, REVIEW_REFERENCE, Refusal, Reply, SmtpSink, authed, files_in, proto_date as date,
};

/// The notifications service under test, on 2026-04-20 (no store of its own: the tests
/// read its database through the pool).
pub type TestNotifications = TestApp<NotificationsClient<Channel>, ()>;

/// What the notifications tests do with the service.
pub trait NotificationsTest {
    /// Starts the service sending to `target`.
    async fn start(target: MailTarget) -> Self;
    /// As [`NotificationsTest::start`], its database on the PostgreSQL server at
    /// `database_server_url` (a test's own [`testing::PgCluster`]).
    async fn start_on(target: MailTarget, database_server_url: &str) -> Self;
    /// How many deliveries are planned.
    async fn delivery_count(&self) -> i64;
    /// Waits until the deliveries with `status` number `count`; returns them.
    async fn wait_for_status(&self, status: pb::DeliveryStatus, count: usize) -> Vec<pb::Delivery>;
    async fn deliveries(&self, status: pb::DeliveryStatus) -> Vec<pb::Delivery>;
}

impl NotificationsTest for TestNotifications {
    async fn start(target: MailTarget) -> Self {
        Self::start_on(target, &testing::server_url()).await
    }

    async fn start_on(target: MailTarget, database_server_url: &str) -> Self {
        let setup = TestSetup::on_servers(
            cspr_notifications::SERVICE_NAME,
            &testing::nats_url(),
            database_server_url,
            testing::date("2026-04-20"),
        )
        .await;
        let config = NotificationsConfig {
            from: "CSPR reviews <no-reply@cspr.test>".into(),
            retry: RetryPolicy {
                max_attempts: 10,
                base: Duration::from_secs(60),
                cap: Duration::from_secs(600),
            },
            concurrency: 16,
            poll_interval: Duration::from_millis(100),
            business_units: [(PARTNERSHIP.to_string(), BUSINESS_UNIT.to_string())].into(),
            ..NotificationsConfig::to(target)
        };
        setup
            .serve_app(
                cspr_notifications::GRPC_NAME,
                |context| cspr_notifications::start(context, config),
                NotificationsClient::new,
                |_| (),
            )
            .await
    }

    async fn delivery_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM deliveries")
            .fetch_one(self.pool())
            .await
            .expect("count")
    }

    async fn wait_for_status(&self, status: pb::DeliveryStatus, count: usize) -> Vec<pb::Delivery> {
        self.eventually(&format!("{count} deliveries {status:?}"), || async {
            let deliveries = self.deliveries(status).await;
            (deliveries.len() == count).then_some(deliveries)
        })
        .await
    }

    async fn deliveries(&self, status: pb::DeliveryStatus) -> Vec<pb::Delivery> {
        let mut client = self.client.clone();
        client
            .list_deliveries(authed(
                pb::ListDeliveriesRequest {
                    status: status as i32,
                    page_size: 200,
                    ..Default::default()
                },
                &self.role_token("operations"),
            ))
            .await
            .reply("list")
            .deliveries
    }
}

/// The header value `name` of a raw message (the platform's, one copy for every suite).
pub use cspr_platform::testing::mail_header as header;

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
