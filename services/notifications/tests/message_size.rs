//! The notifications service refuses messages over `CSPR_MAX_MESSAGE_BYTES` like every other
//! service (it once started without the limit, so tonic's 4 MiB default applied instead),
//! with RESOURCE_EXHAUSTED, gRPC's code for it (tonic's own is OUT_OF_RANGE).

use chrono::NaiveDate;
use cspr_notifications::config::{MailTarget, NotificationsConfig};
use cspr_platform::clock::ManualClock;
use cspr_platform::testing;
use cspr_proto::notifications::v1 as pb;
use cspr_proto::notifications::v1::notifications_client::NotificationsClient;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn an_oversized_request_is_refused_with_the_size_error() {
    // Arrange: a limit of 4 KiB.
    testing::init();
    let mut platform = testing::platform_config(&testing::nats_url());
    platform.max_message_bytes = 4 * 1024;
    let shutdown = CancellationToken::new();
    let clock = ManualClock::on(NaiveDate::from_ymd_opt(2026, 4, 20).expect("date"));
    let context = testing::context(
        cspr_notifications::SERVICE_NAME,
        &platform,
        &clock,
        &shutdown,
    )
    .await;
    let database_url = context.service.database_url.clone();
    let mail_dir = std::env::temp_dir().join(testing::unique("mail"));
    let config = NotificationsConfig {
        from: "CSPR reviews <no-reply@cspr.test>".into(),
        concurrency: 1,
        ..NotificationsConfig::to(MailTarget::Files {
            directory: mail_dir.clone(),
        })
    };
    let running = cspr_notifications::start(context, config)
        .await
        .expect("starts");
    let channel = testing::channel(running.addr).await;
    testing::wait_serving(channel.clone(), cspr_notifications::GRPC_NAME).await;
    let mut client = NotificationsClient::new(channel);
    let token = testing::token(&platform, "southvale", &["operations"], None, "ops");

    // Act: a request of 8 KiB, and one well inside the limit.
    let oversized = client
        .get_delivery(testing::authed(
            pb::GetDeliveryRequest {
                delivery_id: "x".repeat(8 * 1024),
            },
            &token,
        ))
        .await
        .expect_err("refused");
    let small = client
        .get_delivery(testing::authed(
            pb::GetDeliveryRequest {
                delivery_id: "not-a-uuid".into(),
            },
            &token,
        ))
        .await
        .expect_err("not a delivery");

    // Assert: the size error for the first, the handler's own answer for the second.
    assert_eq!(
        oversized.code(),
        tonic::Code::ResourceExhausted,
        "{oversized:?}"
    );
    assert!(
        oversized.message().contains("message length too large"),
        "{oversized:?}"
    );
    assert_ne!(small.code(), tonic::Code::ResourceExhausted, "{small:?}");

    shutdown.cancel();
    running.stopped().await.expect("stops");
    testing::drop_database(&database_url).await;
    let _ = std::fs::remove_dir_all(mail_dir);
}
