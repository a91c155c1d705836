//! The operations page of the web front end in front of a whole `cspr serve all` with a real
//! SMTP server: each service's health, the email deliveries (one refused for good by the
//! server), retrying the failed one, and who may see the page.

mod common;

use common::walk::{Dates, Setup, Walk, agency, day};
use common::web::{Browser, Site, runtime};
use common::{Isolated, dev_token};
use cspr_platform::testing::{self, REFUSED_DOMAIN, SmtpSink, authed};
use cspr_proto::notifications::v1 as notifications;
use cspr_proto::notifications::v1::notifications_client::NotificationsClient;
use cspr_proto::registry::v1 as registry;
use reqwest::StatusCode;
use tonic::transport::Channel;

/// A review whose terms of reference ask two agencies for reports: two emails, the second
/// to an address the SMTP server refuses for good. No one appointed (no other email).
async fn review_asking_two_agencies(site: &Site) {
    let refused = registry::Agency {
        contact_email: format!("lead@{REFUSED_DOMAIN}"),
        ..agency("health", "Southvale Health")
    };
    Walk::set_up(
        site,
        Setup {
            alias: "Child O".into(),
            agencies: vec![agency("police", "Southvale Police"), refused],
            dates: Dates::march_2026(day(60)),
            appoint: false,
            stage: registry::Stage::Scoping,
        },
    )
    .await;
}

/// The first delivery at `status`, once there is one.
async fn first_delivery(
    deliveries: &NotificationsClient<Channel>,
    operations: &str,
    status: notifications::DeliveryStatus,
) -> notifications::Delivery {
    testing::eventually(
        &format!("a delivery at {status:?}"),
        testing::DEADLINE,
        || {
            let mut deliveries = deliveries.clone();
            async move {
                deliveries
                    .list_deliveries(authed(
                        notifications::ListDeliveriesRequest {
                            status: status as i32,
                            ..Default::default()
                        },
                        operations,
                    ))
                    .await
                    .ok()?
                    .into_inner()
                    .deliveries
                    .into_iter()
                    .next()
            }
        },
    )
    .await
}

#[test]
fn operations_see_health_and_deliveries_and_retry_a_failed_email() {
    testing::init();
    let runtime = runtime();
    let smtp = runtime.block_on(SmtpSink::start());
    let mut isolated = Isolated::new();
    isolated.env.push(("CSPR_SMTP_URL".to_string(), smtp.url()));
    let site = Site::start(isolated);
    runtime.block_on(async {
        review_asking_two_agencies(&site).await;
        let operations = dev_token(&["operations"], None);
        let deliveries = NotificationsClient::connect(site.grpc("notifications"))
            .await
            .expect("notifications");
        // The refused email is FAILED: a permanent refusal is not retried by itself.
        let failed = first_delivery(
            &deliveries,
            &operations,
            notifications::DeliveryStatus::Failed,
        )
        .await;
        let arrived = smtp.wait_for(1, testing::DEADLINE).await;
        assert_eq!(arrived.len(), 1, "the police's email arrived");

        let mut ops = Browser::signed_in(&site, "Olu Ops", &["operations"], None).await;
        let page = ops.get("/operations").await.ok();
        for service in cspr_platform::config::SERVICE_NAMES {
            assert!(
                page.contains(&format!(
                    "{service}</th><td class=\"govuk-table__cell\"><strong class=\"govuk-tag govuk-tag--green\">Serving"
                )),
                "{service} serving: {page}"
            );
        }
        assert!(page.contains("lead@police.southvale.example.org"), "{page}");
        assert!(page.contains(&format!("lead@{REFUSED_DOMAIN}")), "{page}");
        assert!(page.contains(">Failed<"), "{page}");
        // Only failed ones, when asked: the sent one is not among them.
        let only_failed = ops
            .get("/operations?status=DELIVERY_STATUS_FAILED")
            .await
            .ok();
        assert!(only_failed.contains(&format!("lead@{REFUSED_DOMAIN}")));
        assert!(!only_failed.contains("lead@police.southvale.example.org"));
        let retry = format!("/operations/deliveries/{}/retry", failed.id);
        assert!(only_failed.contains(&retry), "{only_failed}");

        // The SMTP server goes away first: the retried send then fails for now, not for
        // good, so the delivery is seen out of FAILED (RETRYING) rather than failing again.
        let mut smtp = smtp;
        smtp.stop().await;
        let retried = ops.post(&retry, &[]).await;
        assert_eq!(retried.redirected(), "/operations?retried=1");
        let page = ops.get("/operations?retried=1").await.ok();
        assert!(page.contains("back in the queue"), "{page}");
        testing::eventually("the retried delivery out of FAILED", testing::DEADLINE, || {
            let mut deliveries = deliveries.clone();
            let operations = operations.clone();
            let id = failed.id.clone();
            async move {
                let delivery = deliveries
                    .get_delivery(authed(
                        notifications::GetDeliveryRequest { delivery_id: id },
                        &operations,
                    ))
                    .await
                    .ok()?
                    .into_inner();
                matches!(
                    delivery.status(),
                    notifications::DeliveryStatus::Retrying | notifications::DeliveryStatus::Pending
                )
                .then_some(())
            }
        })
        .await;

        // Retrying one that is not failed: the reason, in words, nothing changed.
        let sent = first_delivery(
            &deliveries,
            &operations,
            notifications::DeliveryStatus::Sent,
        )
        .await;
        let refused = ops
            .post(&format!("/operations/deliveries/{}/retry", sent.id), &[])
            .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
        assert!(refused.html.contains("This cannot be done now"));

        // A panel member has no access to operations.
        let mut member = Browser::signed_in(&site, "Pat Member", &["panel_member"], None).await;
        let denied = member.get("/operations").await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
    });
}
