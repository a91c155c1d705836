//! Family engagement across services: a review's family member is added with a known
//! professional; the request to approach them and the publication consultation reach that
//! professional by email (real SMTP) — naming the relationship, never the member's name —
//! and the name appears in no email, no event on any stream.

use std::time::Duration;

use chrono::NaiveDate;
use cspr_platform::testing::{SmtpSink, authed};
use cspr_proto::family::v1 as family;
use cspr_proto::family::v1::family_engagement_client::FamilyEngagementClient;
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

#[tokio::test]
async fn emails_about_family_members_go_to_the_known_professional_without_their_name() {
    let mut smtp = SmtpSink::start().await;
    let stack = cspr_tests::spawn_stack(
        NaiveDate::from_ymd_opt(2026, 3, 26).expect("date"),
        cspr_notifications::config::MailTarget::Smtp { url: smtp.url() },
    )
    .await;
    let admin = stack.token("southvale", &["partnership_admin"], None, "alice");
    let liaison = stack.token("southvale", &["family_liaison"], None, "fay");
    let mut registry_client =
        ReviewRegistryClient::connect(format!("http://{}", stack.registry.addr))
            .await
            .expect("registry");
    let mut family_client =
        FamilyEngagementClient::connect(format!("http://{}", stack.family.addr))
            .await
            .expect("family");
    let review = registry_client
        .create_review(authed(
            registry::CreateReviewRequest {
                request_id: "sin".into(),
                child_alias: "Child Q".into(),
                local_authority: "Southvale Council".into(),
                incident_date: date(2026, 3, 9),
                became_aware_on: date(2026, 3, 10),
            },
            &admin,
        ))
        .await
        .expect("review")
        .into_inner();

    // The family service learns of the review from the registry's event.
    let seeded = "Isolde Seedfamily";
    let add = |request_contact: bool| family::AddFamilyMemberRequest {
        request_id: "grandparent".into(),
        review_id: review.id.clone(),
        relationship: family::Relationship::Grandparent as i32,
        name: seeded.into(),
        contact_decision_note: format!("{seeded} asked to be involved."),
        route: Some(family::add_family_member_request::Route::KnownProfessional(
            family::KnownProfessional {
                name: "Dana Reed".into(),
                agency: "Southvale Community Health Trust".into(),
                email: "dana.reed@hv.southvale.example.org".into(),
            },
        )),
        request_contact,
        contact_purpose: "To hear their view of the support the family received.".into(),
    };
    // The review reaches the family service over the bus.
    stack.settle().await;
    let member = family_client
        .add_family_member(authed(add(true), &liaison))
        .await
        .expect("added once the review is known")
        .into_inner();
    family_client
        .consult_on_publication(authed(
            family::ConsultOnPublicationRequest {
                request_id: "consult".into(),
                review_id: review.id.clone(),
                member_id: member.id.clone(),
                response_due: date(2026, 6, 30),
            },
            &liaison,
        ))
        .await
        .expect("consulted");

    let emails = smtp.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(
        emails.len(),
        2,
        "the approach request and the publication consultation"
    );
    for (recipient, raw) in &emails {
        assert_eq!(
            recipient, "dana.reed@hv.southvale.example.org",
            "the known professional, never the family member"
        );
        assert!(
            raw.contains("grandparent"),
            "the relationship says who is meant"
        );
        assert!(
            !raw.contains("Isolde") && !raw.contains("Seedfamily"),
            "the name stays out of email"
        );
    }
    assert!(emails.iter().any(|(_, raw)| raw.contains("Subject: Request: ask a family member about publication")));

    // No event on any stream carries the name.
    for service in ["registry", "family", "notifications"] {
        let stream = cspr_platform::bus::stream_name(&stack.platform.subject_prefix, service);
        let events = cspr_platform::testing::read_stream(
            &stack.platform.nats_url,
            &stream,
            0,
            Duration::from_secs(2),
        )
        .await;
        for (_, event) in events {
            let bytes = prost::Message::encode_to_vec(&event);
            assert!(
                !bytes.windows(6).any(|window| window == b"Isolde"),
                "{} on {service}",
                event.r#type
            );
        }
    }
    stack.stop().await;
    smtp.stop().await;
}
