//! The registry from the outside: a gRPC client with a development token creates a review
//! and reads the statutory due dates; a plain NATS subscriber on `<prefix>.registry.>` sees
//! the event, with the event id as `Nats-Msg-Id`.

use std::time::Duration;

use chrono::NaiveDate;
use cspr_proto::events::v1::{Event, event::Body};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as pb;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use futures::StreamExt;
use prost::Message;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

#[tokio::test]
async fn a_client_creates_a_review_and_a_subscriber_sees_the_event() {
    // Arrange
    let stack = cspr_tests::spawn_stack(
        NaiveDate::from_ymd_opt(2026, 3, 11).expect("date"),
        mail_folder(),
    )
    .await;
    let nats = async_nats::connect(cspr_platform::testing::nats_url())
        .await
        .expect("nats");
    let mut subscriber = nats
        .subscribe(format!("{}.registry.>", stack.platform.subject_prefix))
        .await
        .expect("subscribe");
    let token = cspr_platform::testing::token(
        &stack.platform,
        "southvale",
        &["partnership_admin"],
        None,
        "alice",
    );
    let mut client = ReviewRegistryClient::connect(format!("http://{}", stack.registry.addr))
        .await
        .expect("connect");

    // Act
    let mut request = tonic::Request::new(pb::CreateReviewRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        child_alias: "Child Q".into(),
        local_authority: "Southvale Council".into(),
        incident_date: date(2026, 3, 9),
        became_aware_on: date(2026, 3, 10),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let review = client
        .create_review(request)
        .await
        .expect("created")
        .into_inner();

    // Assert: the SIN is due 5 working days after becoming aware.
    let notification = review
        .deadlines
        .iter()
        .find(|deadline| deadline.kind == pb::DeadlineKind::Notification as i32)
        .expect("notification deadline");
    assert_eq!(notification.due_on, date(2026, 3, 17));

    let message = tokio::time::timeout(Duration::from_secs(10), subscriber.next())
        .await
        .expect("event within 10 s")
        .expect("message");
    assert_eq!(
        message.subject.as_str(),
        format!("{}.registry.review_created", stack.platform.subject_prefix)
    );
    let event = Event::decode(message.payload.as_ref()).expect("an Event envelope");
    let msg_id = message
        .headers
        .as_ref()
        .and_then(|headers| headers.get("Nats-Msg-Id"))
        .map(|value| value.as_str().to_string());
    assert_eq!(msg_id.as_deref(), Some(event.id.as_str()));
    assert_eq!(event.review_id, review.id);
    let Some(Body::ReviewCreated(created)) = event.body else {
        panic!("review_created body");
    };
    assert_eq!(created.reference, review.reference);
    assert_eq!(created.notification_due_on, date(2026, 3, 17));

    stack.stop().await;
}

#[tokio::test]
async fn each_port_reflects_what_it_serves() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let stack = cspr_tests::spawn_stack(
        NaiveDate::from_ymd_opt(2026, 3, 11).expect("date"),
        mail_folder(),
    )
    .await;
    let ports = [
        (stack.registry.addr, cspr_registry::GRPC_NAME),
        (stack.submissions.addr, cspr_submissions::GRPC_NAME),
        (stack.practitioners.addr, cspr_practitioners::GRPC_NAME),
        (stack.family.addr, cspr_family::GRPC_NAME),
        (stack.actions.addr, cspr_actions::GRPC_NAME),
        (stack.notifications.addr, cspr_notifications::GRPC_NAME),
    ];
    let distinct: std::collections::BTreeSet<_> =
        ports.iter().map(|(_, service)| *service).collect();
    assert_eq!(distinct.len(), 6, "six services, six names");
    for (addr, service) in ports {
        let mut client = ServerReflectionClient::new(cspr_platform::testing::channel(addr).await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = client
            .server_reflection_info(tokio_stream::iter(vec![request]))
            .await
            .expect("reflection")
            .into_inner();
        let response = responses.next().await.expect("a response").expect("ok");
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("a service list");
        };
        let mut names: Vec<String> = list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                service,
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection"
            ]
        );
    }
    stack.stop().await;
}

/// Emails of these suites go to a throwaway folder.
fn mail_folder() -> cspr_notifications::config::MailTarget {
    cspr_notifications::config::MailTarget::Files {
        directory: std::env::temp_dir().join(cspr_platform::testing::unique("cspr-mail-")),
    }
}
