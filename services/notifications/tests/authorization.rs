//! The authorization matrix of the notifications service: every RPC × every shape of
//! caller on a delivery of the test's partnership, each answer as `access::rules` predicts.

mod common;

use common::{NotificationsTest, TestNotifications, authed};
use cspr_notifications::config::MailTarget;
use cspr_platform::access::rules;
use cspr_platform::testing::matrix::Matrix;
use cspr_platform::testing::{proto_date, unique};
use cspr_proto::events::v1::AgencyReportRequested;
use cspr_proto::events::v1::event::Body;
use cspr_proto::notifications::v1 as pb;
use tonic::Status;

#[tokio::test]
async fn every_rpc_answers_every_caller_as_the_table_says() {
    let directory = std::env::temp_dir().join(unique("cspr-mail-"));
    let service = TestNotifications::start(MailTarget::Files {
        directory: directory.clone(),
    })
    .await;
    let review_id = uuid::Uuid::now_v7().to_string();
    service
        .deliver_body(
            &review_id,
            Body::AgencyReportRequested(AgencyReportRequested {
                agency_id: "police".into(),
                agency_name: "Southvale Police".into(),
                contact_email: "lead@police.southvale.example.org".into(),
                due_date: proto_date(2026, 5, 1),
                review_reference: "SOUTHVALE-2026-001".into(),
                scope_start: proto_date(2024, 9, 15),
                scope_end: proto_date(2026, 3, 9),
            }),
        )
        .await;
    let delivery = service
        .wait_for_status(pb::DeliveryStatus::Sent, 1)
        .await
        .remove(0);
    let matrix = Matrix::of(rules::NOTIFICATIONS);
    let cases = matrix
        .run(&service, |method, token| {
            let mut client = service.client.clone();
            let delivery_id = delivery.id.clone();
            async move {
                match method {
                    "ListDeliveries" => client
                        .list_deliveries(authed(pb::ListDeliveriesRequest::default(), &token))
                        .await
                        .map(drop),
                    "GetDelivery" => client
                        .get_delivery(authed(pb::GetDeliveryRequest { delivery_id }, &token))
                        .await
                        .map(drop),
                    // A sent delivery is not retried: FAILED_PRECONDITION once allowed.
                    "RetryDelivery" => client
                        .retry_delivery(authed(pb::RetryDeliveryRequest { delivery_id }, &token))
                        .await
                        .map(drop),
                    other => Err(Status::unimplemented(format!("no call for {other}"))),
                }
            }
        })
        .await;
    assert_eq!(cases, 3 * 22, "every RPC × every caller");
    service.stop().await;
    let _ = std::fs::remove_dir_all(&directory);
}
