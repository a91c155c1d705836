//! Family engagement over gRPC against real PostgreSQL and NATS, with the privacy checks:
//! restrictions block contact until lifted, personal fields are ciphertext in the database,
//! a seeded name never reaches the bus or the logs, the role matrix of every RPC, and audit
//! records for reads.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{FamilyTest, Refusal, Reply, TestFamily, assert_says, authed, date};
use cspr_proto::family::v1 as pb;
use tonic::Code;

/// Everything the services in this test process log, at debug level.
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer_buffer = Arc::clone(&buffer);
        let _ = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || CaptureWriter(Arc::clone(&writer_buffer)))
            .try_init();
        buffer
    })
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn contact_waits_while_restricted_and_resumes_after_lifting() {
    captured_logs();
    let service = TestFamily::start().await;
    let review_id = service.review_with_reviewer().await;
    let member = service
        .add_member(&review_id, "Morgan Testfamily", false)
        .await;
    let mut client = service.client.clone();
    let liaison = service.role_token("family_liaison");

    let restricted = client
        .restrict_contact(authed(
            pb::RestrictContactRequest {
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                reason: pb::RestrictionReason::CriminalInvestigation as i32,
                detail: "Awaiting the police's agreement".into(),
                authorised_by: "Senior investigating officer".into(),
                review_date: date(2026, 6, 1),
                based_on_version: None,
            },
            &liaison,
        ))
        .await
        .reply("restricted");
    assert!(restricted.restriction.is_some());
    let contact = |request_id: &str| pb::RecordContactRequest {
        request_id: request_id.into(),
        review_id: review_id.clone(),
        member_id: member.id.clone(),
        contacted_at: Some(prost_types::Timestamp {
            seconds: 1_776_600_000,
            nanos: 0,
        }),
        made_by: "Dana Reed (health visitor)".into(),
        route: "known professional".into(),
        summary: "Explained the review; they would like to contribute.".into(),
    };
    for refused in [
        client
            .record_contact(authed(contact("c1"), &liaison))
            .await
            .refused(Code::FailedPrecondition, "restricted"),
        client
            .record_contribution(authed(
                pb::RecordContributionRequest {
                    request_id: "v1".into(),
                    review_id: review_id.clone(),
                    member_id: member.id.clone(),
                    views: "Their views".into(),
                },
                &liaison,
            ))
            .await
            .refused(Code::FailedPrecondition, "restricted"),
        client
            .consult_on_publication(authed(
                pb::ConsultOnPublicationRequest {
                    request_id: "p1".into(),
                    review_id: review_id.clone(),
                    member_id: member.id.clone(),
                    response_due: date(2026, 7, 1),
                },
                &liaison,
            ))
            .await
            .refused(Code::FailedPrecondition, "restricted"),
    ] {
        assert_says(&refused, "restricted");
    }

    client
        .lift_restriction(authed(
            pb::LiftRestrictionRequest {
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                based_on_version: None,
            },
            &liaison,
        ))
        .await
        .expect("lifted");
    let after = client
        .record_contact(authed(contact("c2"), &liaison))
        .await
        .reply("contact");
    assert_eq!(after.contact_count, 1);
    let after = client
        .record_contribution(authed(
            pb::RecordContributionRequest {
                request_id: "v2".into(),
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                views: "The health visitor listened; school did not hear our worries.".into(),
            },
            &liaison,
        ))
        .await
        .reply("contribution");
    assert_eq!(after.contribution_count, 1);
    let consulted = client
        .consult_on_publication(authed(
            pb::ConsultOnPublicationRequest {
                request_id: "p2".into(),
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                response_due: date(2026, 7, 1),
            },
            &liaison,
        ))
        .await
        .reply("consulted");
    assert!(
        consulted
            .publication_consultation
            .as_ref()
            .is_some_and(|consultation| !consultation.responded)
    );
    let answered = client
        .record_publication_response(authed(
            pb::RecordPublicationResponseRequest {
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                response: "They agree to publication if the child is not identifiable.".into(),
                based_on_version: None,
            },
            &liaison,
        ))
        .await
        .reply("response");
    assert!(
        answered
            .publication_consultation
            .as_ref()
            .is_some_and(|consultation| consultation.responded)
    );

    // Restrictions past their review date are flagged once.
    client
        .restrict_contact(authed(
            pb::RestrictContactRequest {
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                reason: pb::RestrictionReason::Trial as i32,
                detail: String::new(),
                authorised_by: "CPS".into(),
                review_date: date(2026, 4, 25),
                based_on_version: None,
            },
            &liaison,
        ))
        .await
        .expect("restricted again");
    let sweep =
        cspr_family::jobs::RestrictionSweep::new(service.store.clone(), Duration::from_secs(3600));
    assert_eq!(sweep.sweep_once().await.expect("sweep"), 0);
    service
        .clock
        .set_date(cspr_platform::testing::date("2026-04-26"));
    assert_eq!(sweep.sweep_once().await.expect("sweep"), 1);
    assert_eq!(sweep.sweep_once().await.expect("sweep"), 0);
    service.stop().await;
}

#[tokio::test]
async fn a_member_with_direct_contact_is_consulted_on_publication_by_the_liaison() {
    captured_logs();
    let service = TestFamily::start().await;
    let review_id = service.review_with_reviewer().await;
    let mut client = service.client.clone();
    let liaison = service.role_token("family_liaison");
    let member = client
        .add_family_member(authed(
            pb::AddFamilyMemberRequest {
                request_id: "add-direct".into(),
                review_id: review_id.clone(),
                relationship: pb::Relationship::Parent as i32,
                name: "Robin Directline".into(),
                contact_decision_note: "Wants to be asked directly.".into(),
                route: Some(pb::add_family_member_request::Route::Direct(
                    pb::DirectContact {
                        contact_details: "07700 900123".into(),
                        reason: "No professional is working with the family now".into(),
                    },
                )),
                request_contact: false,
                contact_purpose: String::new(),
            },
            &liaison,
        ))
        .await
        .reply("added");
    let consulted = client
        .consult_on_publication(authed(
            pb::ConsultOnPublicationRequest {
                request_id: "consult-direct".into(),
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                response_due: date(2026, 7, 1),
            },
            &liaison,
        ))
        .await
        .reply("a direct route is a route");
    let consultation = consulted
        .publication_consultation
        .expect("the consultation is recorded");
    assert!(consultation.direct && !consultation.responded);
    // On the bus: that it happened, directly, with no one to email and no contact details.
    let events = service.published(2).await;
    let sent = events
        .iter()
        .find_map(|(_, event)| match &event.body {
            Some(cspr_proto::events::v1::event::Body::PublicationConsultationSent(sent)) => {
                Some(sent.clone())
            }
            _ => None,
        })
        .expect("PublicationConsultationSent published");
    assert!(sent.direct, "{sent:?}");
    assert!(sent.professional_email.is_empty() && sent.professional_name.is_empty());
    assert_eq!(sent.relationship, "parent");
    for (_, event) in &events {
        let bytes = prost::Message::encode_to_vec(event);
        assert!(
            !String::from_utf8_lossy(&bytes).contains("07700 900123"),
            "contact details on the bus: {event:?}"
        );
    }
    let answered = client
        .record_publication_response(authed(
            pb::RecordPublicationResponseRequest {
                review_id,
                member_id: member.id,
                response: "Agrees, as long as the school is not named.".into(),
                based_on_version: None,
            },
            &liaison,
        ))
        .await
        .reply("response");
    assert!(
        answered
            .publication_consultation
            .is_some_and(|consultation| consultation.responded && consultation.direct)
    );
    service.stop().await;
}

#[tokio::test]
async fn requests_through_a_professional_whose_contact_is_deferred_wait_for_the_release() {
    use cspr_proto::events::v1::{self as ev, event::Body};
    captured_logs();
    let service = TestFamily::start().await;
    let review_id = service.review_with_reviewer().await;
    let mut client = service.client.clone();
    let liaison = service.role_token("family_liaison");
    // The member's known professional (add_member's Dana Reed) is, in this review, a police
    // witness whose own contact the reviewer has deferred.
    let dana = uuid::Uuid::now_v7().to_string();
    service
        .deliver_body(
            &review_id,
            Body::PractitionerRegistered(ev::PractitionerRegistered {
                practitioner_id: dana.clone(),
                agency_id: "health-visiting".into(),
                email: "Dana.Reed@hv.southvale.example.org".into(),
                name: "Dana Reed".into(),
                role: "Health visitor".into(),
                agency_name: "Southvale Community Health Trust".into(),
            }),
        )
        .await;
    service
        .deliver_body(
            &review_id,
            Body::ContactDeferred(ev::ContactDeferred {
                practitioner_id: dana.clone(),
                reason: "POLICE_INVESTIGATION_WITNESS".into(),
                review_date: date(2026, 6, 1),
            }),
        )
        .await;

    let member = service
        .add_member(&review_id, "Morgan Heldline", true)
        .await;
    assert_eq!(member.held_requests, ["CONTACT"]);
    assert!(
        member.held_reason.contains("deferred"),
        "{}",
        member.held_reason
    );
    let consulted = client
        .consult_on_publication(authed(
            pb::ConsultOnPublicationRequest {
                request_id: "consult-held".into(),
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                response_due: date(2026, 7, 1),
            },
            &liaison,
        ))
        .await
        .reply("consultation held");
    assert_eq!(consulted.held_requests, ["CONTACT", "CONSULTATION"]);
    let asked = |events: &[(String, cspr_proto::events::v1::Event)]| -> Vec<String> {
        events
            .iter()
            .filter(|(_, event)| {
                matches!(
                    event.body,
                    Some(Body::FamilyContactRequested(_) | Body::PublicationConsultationSent(_))
                )
            })
            .map(|(_, event)| event.r#type.clone())
            .collect()
    };
    let so_far = service.published(1).await;
    assert_eq!(
        so_far
            .iter()
            .map(|(_, event)| event.r#type.as_str())
            .collect::<Vec<_>>(),
        ["family_member_added"],
        "nothing reaches the professional while their contact is deferred"
    );

    // The reviewer releases Dana: both requests go, in the order they were made.
    service
        .deliver_body(
            &review_id,
            Body::ContactReleased(ev::ContactReleased {
                practitioner_id: dana,
            }),
        )
        .await;
    let events = service.published(3).await;
    assert_eq!(
        asked(&events),
        ["family_contact_requested", "publication_consultation_sent"]
    );
    for (_, event) in &events[1..] {
        assert_eq!(
            event.actor.as_ref().map(|actor| actor.subject.as_str()),
            Some("system:held-family-requests")
        );
    }
    let read = client
        .get_family_member(authed(
            pb::GetFamilyMemberRequest {
                review_id,
                member_id: member.id,
            },
            &liaison,
        ))
        .await
        .reply("get");
    assert!(read.held_requests.is_empty() && read.held_reason.is_empty());
    assert!(read.publication_consultation.is_some());
    service.stop().await;
}

#[tokio::test]
async fn personal_data_is_ciphertext_at_rest_and_absent_from_events_and_logs() {
    let logs = captured_logs();
    let service = TestFamily::start().await;
    let review_id = service.review_with_reviewer().await;
    let seeded = "Quillon Seedname";
    let member = service.add_member(&review_id, seeded, true).await;
    assert_eq!(member.name, seeded, "the family liaison sees the name");
    let mut client = service.client.clone();
    client
        .record_contribution(authed(
            pb::RecordContributionRequest {
                request_id: "views".into(),
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                views: format!("{seeded} says the family felt unheard."),
            },
            &service.role_token("family_liaison"),
        ))
        .await
        .expect("contribution");
    client
        .record_contact(authed(
            pb::RecordContactRequest {
                request_id: "contact".into(),
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                contacted_at: Some(prost_types::Timestamp {
                    seconds: 1_776_600_000,
                    nanos: 0,
                }),
                made_by: "Dana Reed (health visitor)".into(),
                route: "known professional".into(),
                summary: format!("{seeded} agreed to talk to the reviewer."),
            },
            &service.role_token("family_liaison"),
        ))
        .await
        .expect("contact");
    // What was sealed opens again for the reviewer, word for word.
    let read = client
        .get_family_member(authed(
            pb::GetFamilyMemberRequest {
                review_id: review_id.clone(),
                member_id: member.id.clone(),
            },
            &service.role_token("reviewer"),
        ))
        .await
        .reply("get");
    assert_eq!(
        read.contributions
            .iter()
            .map(|contribution| contribution.views.as_str())
            .collect::<Vec<_>>(),
        [format!("{seeded} says the family felt unheard.")]
    );
    assert_eq!(
        read.contacts
            .iter()
            .map(|contact| contact.summary.as_str())
            .collect::<Vec<_>>(),
        [format!("{seeded} agreed to talk to the reviewer.")]
    );

    // Read the tables directly: no personal text in clear anywhere.
    let rows: Vec<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT name_sealed, decision_note_sealed FROM family_members")
            .fetch_all(service.store.pool())
            .await
            .expect("members");
    let views: Vec<Vec<u8>> = sqlx::query_scalar("SELECT views_sealed FROM family_contributions")
        .fetch_all(service.store.pool())
        .await
        .expect("contributions");
    let needle = b"Quillon";
    let contains = |bytes: &[u8]| bytes.windows(needle.len()).any(|window| window == needle);
    assert_eq!(rows.len(), 1);
    assert!(
        rows.iter()
            .all(|(name, note)| !contains(name) && !contains(note)),
        "names and notes are sealed"
    );
    assert_eq!(views.len(), 1);
    assert!(
        views.iter().all(|sealed| !contains(sealed)
            && !sealed
                .windows(b"unheard".len())
                .any(|window| window == b"unheard")),
        "contributions are sealed"
    );
    let summaries: Vec<Vec<u8>> = sqlx::query_scalar("SELECT summary_sealed FROM family_contacts")
        .fetch_all(service.store.pool())
        .await
        .expect("contacts");
    assert_eq!(summaries.len(), 1);
    assert!(
        summaries.iter().all(|sealed| !contains(sealed)),
        "contact summaries are sealed"
    );
    for table in ["family_contributions", "family_contacts"] {
        let dump: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT string_agg(t::text, ' ') FROM {table} t"
        )))
        .fetch_one(service.store.pool())
        .await
        .expect("dump");
        assert!(
            !dump.contains("Quillon") && !dump.contains("unheard") && !dump.contains("agreed"),
            "{table} holds the text in clear"
        );
    }
    let dump: String = sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM family_members t")
        .fetch_one(service.store.pool())
        .await
        .expect("dump");
    assert!(
        !dump.contains("Quillon"),
        "no column holds the name in clear"
    );

    // The bus: every family event, byte for byte.
    let events = service.published(3).await;
    assert!(
        events.len() >= 3,
        "member added, contact requested, contribution recorded"
    );
    for (_, event) in &events {
        let bytes = prost::Message::encode_to_vec(event);
        assert!(!contains(&bytes), "event {} carries the name", event.r#type);
    }
    let requested = events
        .iter()
        .find_map(|(_, event)| match &event.body {
            Some(cspr_proto::events::v1::event::Body::FamilyContactRequested(requested)) => {
                Some(requested.clone())
            }
            _ => None,
        })
        .expect("the known professional is asked");
    assert_eq!(
        requested.professional_email,
        "dana.reed@hv.southvale.example.org"
    );
    assert_eq!(requested.relationship, "grandparent");

    // The logs of everything the service did.
    let captured =
        String::from_utf8_lossy(&logs.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
            .to_string();
    assert!(!captured.is_empty(), "logs were captured");
    assert!(!captured.contains("Quillon"), "the name reached the logs");
    service.stop().await;
}

#[tokio::test]
async fn the_role_matrix_of_every_rpc() {
    captured_logs();
    let service = TestFamily::start().await;
    let review_id = service.review_with_reviewer().await;
    let member = service.add_member(&review_id, "Rowan Matrix", false).await;
    let mut client = service.client.clone();

    // (roles, subject, reads: None = denied / Some(redacted), writes allowed)
    let cases: [(&[&str], &str, Option<bool>, bool); 9] = [
        (&["family_liaison"], "fay", Some(false), true),
        (&["reviewer"], common::REVIEWER, Some(false), true),
        (&["reviewer"], "not-appointed", None, false),
        (&["partnership_admin"], "alice", Some(true), false),
        (&["panel_chair"], "tess", Some(true), false),
        (&["panel_member"], "wren", Some(true), false),
        (&["auditor"], "audrey", Some(true), false),
        (&["agency"], "police", None, false),
        (&["operations"], "ops", None, false),
    ];
    for (index, (roles, subject, read, write)) in cases.into_iter().enumerate() {
        let token = service.token(common::PARTNERSHIP, roles, Some("police"), subject);
        let listed = client
            .list_family_members(authed(
                pb::ListFamilyMembersRequest {
                    review_id: review_id.clone(),
                    ..Default::default()
                },
                &token,
            ))
            .await;
        let got = client
            .get_family_member(authed(
                pb::GetFamilyMemberRequest {
                    review_id: review_id.clone(),
                    member_id: member.id.clone(),
                },
                &token,
            ))
            .await;
        match read {
            None => {
                listed.refused(Code::PermissionDenied, &format!("{roles:?} list"));
                got.refused(Code::PermissionDenied, &format!("{roles:?} get"));
            }
            Some(redacted) => {
                let listed = listed.reply("list");
                let got = got.reply("get");
                assert_eq!(listed.members[0].redacted, redacted, "{roles:?}");
                assert_eq!(got.redacted, redacted, "{roles:?}");
                assert_eq!(got.name.is_empty(), redacted, "{roles:?} name");
                assert_eq!(
                    got.contact_decision_note.is_empty(),
                    redacted,
                    "{roles:?} note"
                );
                assert_eq!(
                    got.relationship,
                    pb::Relationship::Grandparent as i32,
                    "relationship stays visible"
                );
            }
        }
        let writes: Vec<Result<(), tonic::Status>> = vec![
            client
                .add_family_member(authed(
                    pb::AddFamilyMemberRequest {
                        request_id: format!("matrix-add-{index}"),
                        review_id: review_id.clone(),
                        relationship: pb::Relationship::Sibling as i32,
                        name: "Sibling".into(),
                        contact_decision_note: String::new(),
                        route: Some(pb::add_family_member_request::Route::Direct(
                            pb::DirectContact {
                                contact_details: "via school".into(),
                                reason: "no professional known".into(),
                            },
                        )),
                        request_contact: false,
                        contact_purpose: String::new(),
                    },
                    &token,
                ))
                .await
                .map(|_| ()),
            client
                .record_contribution(authed(
                    pb::RecordContributionRequest {
                        request_id: format!("matrix-views-{index}"),
                        review_id: review_id.clone(),
                        member_id: member.id.clone(),
                        views: "views".into(),
                    },
                    &token,
                ))
                .await
                .map(|_| ()),
            client
                .restrict_contact(authed(
                    pb::RestrictContactRequest {
                        review_id: review_id.clone(),
                        member_id: member.id.clone(),
                        reason: pb::RestrictionReason::Other as i32,
                        detail: String::new(),
                        authorised_by: "x".into(),
                        review_date: date(2027, 1, 1),
                        based_on_version: None,
                    },
                    &token,
                ))
                .await
                .map(|_| ()),
            client
                .lift_restriction(authed(
                    pb::LiftRestrictionRequest {
                        review_id: review_id.clone(),
                        member_id: member.id.clone(),
                        based_on_version: None,
                    },
                    &token,
                ))
                .await
                .map(|_| ()),
            client
                .record_contact(authed(
                    pb::RecordContactRequest {
                        request_id: format!("matrix-contact-{index}"),
                        review_id: review_id.clone(),
                        member_id: member.id.clone(),
                        contacted_at: Some(prost_types::Timestamp {
                            seconds: 1_776_000_000,
                            nanos: 0,
                        }),
                        made_by: "Dana Reed".into(),
                        route: "known professional".into(),
                        summary: "Spoke about the review.".into(),
                    },
                    &token,
                ))
                .await
                .map(|_| ()),
            client
                .consult_on_publication(authed(
                    pb::ConsultOnPublicationRequest {
                        request_id: format!("matrix-consult-{index}"),
                        review_id: review_id.clone(),
                        member_id: member.id.clone(),
                        response_due: date(2026, 7, 1),
                    },
                    &token,
                ))
                .await
                .map(|_| ()),
            client
                .record_publication_response(authed(
                    pb::RecordPublicationResponseRequest {
                        review_id: review_id.clone(),
                        member_id: member.id.clone(),
                        response: "Agrees".into(),
                        based_on_version: None,
                    },
                    &token,
                ))
                .await
                .map(|_| ()),
        ];
        for outcome in writes {
            match (write, outcome) {
                (true, Ok(())) => {}
                (false, Err(status)) => {
                    assert_eq!(status.code(), Code::PermissionDenied, "{roles:?}")
                }
                (expected, other) => {
                    panic!("{roles:?}: expected write allowed = {expected}, got {other:?}")
                }
            }
        }
    }
    let elsewhere = service.token_elsewhere("family_liaison", None);
    client
        .get_family_member(authed(
            pb::GetFamilyMemberRequest {
                review_id: review_id.clone(),
                member_id: member.id.clone(),
            },
            &elsewhere,
        ))
        .await
        .refused(Code::NotFound, "another partnership");
    client
        .add_family_member(authed(
            pb::AddFamilyMemberRequest {
                request_id: "bad".into(),
                review_id: review_id.clone(),
                request_contact: true,
                ..Default::default()
            },
            &service.role_token("family_liaison"),
        ))
        .await
        .invalid(
            &[
                "relationship",
                "name",
                "route",
                "request_contact",
                "contact_purpose",
            ],
            "bad input",
        );

    // Reads are audited, refusals too.
    let trail = service.audit_trail(&review_id, 500).await;
    assert!(trail.iter().any(|record| record.action == "GetFamilyMember"
        && record.actor == "audrey"
        && record.outcome == "ok"));
    assert!(trail.iter().any(
        |record| record.action == "ListFamilyMembers" && record.outcome == "PERMISSION_DENIED"
    ));
    service.stop().await;
}

#[tokio::test]
async fn the_contact_log_and_contributions_are_read_in_clear_only_by_those_who_may() {
    captured_logs();
    let service = TestFamily::start().await;
    let review_id = service.review_with_reviewer().await;
    let member = service.add_member(&review_id, "Avery Ledger", false).await;
    let mut client = service.client.clone();
    let liaison = service.role_token("family_liaison");
    let reviewer = service.role_token("reviewer");
    let contribution = |request_id: &str, views: &str| pb::RecordContributionRequest {
        request_id: request_id.into(),
        review_id: review_id.clone(),
        member_id: member.id.clone(),
        views: views.into(),
    };
    let contact = |request_id: &str, seconds: i64, summary: &str| pb::RecordContactRequest {
        request_id: request_id.into(),
        review_id: review_id.clone(),
        member_id: member.id.clone(),
        contacted_at: Some(prost_types::Timestamp { seconds, nanos: 0 }),
        made_by: "Dana Reed (health visitor)".into(),
        route: "known professional".into(),
        summary: summary.into(),
    };
    let recorded = client
        .record_contribution(authed(
            contribution("first", "School did not hear our worries."),
            &liaison,
        ))
        .await
        .reply("first contribution");
    assert!(
        recorded.contributions.is_empty() && recorded.contacts.is_empty(),
        "a command's answer stays light"
    );
    service
        .clock
        .set_date(cspr_platform::testing::date("2026-04-21"));
    client
        .record_contribution(authed(
            contribution("second", "The health visitor listened to us."),
            &reviewer,
        ))
        .await
        .reply("second contribution");
    // Logged out of order: the log is by when the contact was made.
    client
        .record_contact(authed(
            contact(
                "later",
                1_776_500_000,
                "They would like to meet the reviewer.",
            ),
            &liaison,
        ))
        .await
        .reply("later contact");
    client
        .record_contact(authed(
            contact("earlier", 1_776_400_000, "Explained the review."),
            &liaison,
        ))
        .await
        .reply("earlier contact");

    let get = |token: String| {
        let mut client = service.client.clone();
        let request = pb::GetFamilyMemberRequest {
            review_id: review_id.clone(),
            member_id: member.id.clone(),
        };
        async move {
            client
                .get_family_member(authed(request, &token))
                .await
                .reply("get")
        }
    };
    for token in [reviewer.clone(), liaison.clone()] {
        let got = get(token).await;
        assert!(!got.redacted);
        let views: Vec<&str> = got
            .contributions
            .iter()
            .map(|contribution| contribution.views.as_str())
            .collect();
        assert_eq!(
            views,
            [
                "The health visitor listened to us.",
                "School did not hear our worries."
            ],
            "newest first, in clear"
        );
        let by: Vec<&str> = got
            .contributions
            .iter()
            .map(|contribution| contribution.recorded_by.as_str())
            .collect();
        assert_eq!(by, [common::REVIEWER, "fay-liaison"]);
        let recorded: Vec<i64> = got
            .contributions
            .iter()
            .map(|contribution| {
                contribution
                    .record_time
                    .as_ref()
                    .map_or(0, |time| time.seconds)
            })
            .collect();
        assert!(
            recorded[0] > recorded[1] && recorded[1] > 0,
            "when each was recorded: {recorded:?}"
        );
        let summaries: Vec<(&str, i64, &str, &str)> = got
            .contacts
            .iter()
            .map(|contact| {
                (
                    contact.summary.as_str(),
                    contact.contact_time.as_ref().map_or(0, |time| time.seconds),
                    contact.made_by.as_str(),
                    contact.route.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summaries,
            [
                (
                    "They would like to meet the reviewer.",
                    1_776_500_000,
                    "Dana Reed (health visitor)",
                    "known professional"
                ),
                (
                    "Explained the review.",
                    1_776_400_000,
                    "Dana Reed (health visitor)",
                    "known professional"
                ),
            ]
        );
        assert!(
            got.contacts
                .iter()
                .all(|contact| contact.record_time.is_some())
        );
    }

    // Those who read members redacted get neither the log nor the contributions.
    for role in [
        "partnership_admin",
        "panel_member",
        "panel_chair",
        "auditor",
    ] {
        let got = get(service.role_token(role)).await;
        assert!(got.redacted, "{role}");
        assert!(got.contacts.is_empty(), "{role} contacts");
        assert!(got.contributions.is_empty(), "{role} contributions");
        assert_eq!(
            (got.contact_count, got.contribution_count),
            (2, 2),
            "{role} counts"
        );
    }
    // The list stays light, even for the reviewer.
    let listed = client
        .list_family_members(authed(
            pb::ListFamilyMembersRequest {
                review_id: review_id.clone(),
                ..Default::default()
            },
            &reviewer,
        ))
        .await
        .reply("list");
    assert_eq!(listed.members.len(), 1);
    assert!(listed.members[0].contributions.is_empty() && listed.members[0].contacts.is_empty());
    assert_eq!(listed.members[0].contribution_count, 2);

    // At most the 100 latest of each; the counts are the whole.
    for index in 0..100 {
        client
            .record_contribution(authed(
                contribution(&format!("bulk-{index}"), &format!("Bulk view {index}")),
                &liaison,
            ))
            .await
            .reply("bulk contribution");
    }
    let got = get(reviewer.clone()).await;
    assert_eq!(got.contribution_count, 102);
    assert_eq!(got.contributions.len(), 100);
    assert_eq!(got.contributions[0].views, "Bulk view 99");
    assert_eq!(got.contributions[99].views, "Bulk view 0");

    // Each read is audited, as before.
    let trail = service.audit_trail(&review_id, 500).await;
    assert!(trail.iter().any(|record| record.action == "GetFamilyMember"
        && record.actor == common::REVIEWER
        && record.outcome == "ok"));
    assert!(trail.iter().any(|record| record.action == "GetFamilyMember"
        && record.actor == "wren"
        && record.outcome == "ok"));
    service.stop().await;
}

/// The reviewer and the family liaison change the same member's record from the same
/// version: the second is told the first got there (ABORTED, naming the current version)
/// instead of overwriting it; every change, an append too, makes a new version.
#[tokio::test]
async fn a_change_made_from_a_version_since_changed_is_aborted() {
    let service = TestFamily::start().await;
    let review_id = service.review_with_reviewer().await;
    let member = service
        .add_member(&review_id, "Morgan Versioned", false)
        .await;
    assert_eq!(member.version, 1);
    let mut client = service.client.clone();
    let liaison = service.role_token("family_liaison");
    let restrict = |based_on_version: Option<i32>| pb::RestrictContactRequest {
        review_id: review_id.clone(),
        member_id: member.id.clone(),
        reason: pb::RestrictionReason::Trial as i32,
        detail: "Until the trial ends".into(),
        authorised_by: "Crown Prosecution Service".into(),
        review_date: date(2026, 9, 1),
        based_on_version,
    };
    let restricted = client
        .restrict_contact(authed(restrict(Some(1)), &liaison))
        .await
        .reply("restricted from version 1");
    assert_eq!(restricted.version, 2);
    let refused = client
        .restrict_contact(authed(restrict(Some(1)), &liaison))
        .await
        .refused(Code::Aborted, "made from version 1");
    assert_says(
        &refused,
        "this family member's record was changed since version 1, which this was made from: the current version is 2",
    );
    let refused = client
        .lift_restriction(authed(
            pb::LiftRestrictionRequest {
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                based_on_version: Some(1),
            },
            &liaison,
        ))
        .await
        .refused(Code::Aborted, "lifted from version 1");
    assert_says(&refused, "the current version is 2");
    let lifted = client
        .lift_restriction(authed(
            pb::LiftRestrictionRequest {
                review_id: review_id.clone(),
                member_id: member.id.clone(),
                based_on_version: Some(2),
            },
            &liaison,
        ))
        .await
        .reply("lifted from the current version");
    assert_eq!((lifted.version, lifted.restriction.is_none()), (3, true));
    let unchecked = client
        .restrict_contact(authed(restrict(None), &liaison))
        .await
        .reply("no version given: not checked");
    assert_eq!(unchecked.version, 4);

    // The family service's own trail of the review, in the registry's shape, a page at a
    // time: every command above, with its outcome.
    let auditor = service.role_token("auditor");
    let list = |page_token: String| cspr_proto::registry::v1::ListAuditRecordsRequest {
        review_id: review_id.clone(),
        page_size: 2,
        page_token,
    };
    let mut actions = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_audit_records(authed(list(token), &auditor))
            .await
            .reply("a page of the trail");
        assert!(page.records.len() <= 2);
        actions.extend(
            page.records
                .iter()
                .map(|record| (record.action.clone(), record.outcome.clone())),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let done: Vec<&str> = actions
        .iter()
        .filter(|(_, outcome)| outcome == "ok")
        .map(|(action, _)| action.as_str())
        .filter(|action| *action != "ListAuditRecords")
        .collect();
    assert_eq!(
        done,
        vec![
            "AddFamilyMember",
            "RestrictContact",
            "LiftRestriction",
            "RestrictContact"
        ],
        "{actions:?}"
    );
    client
        .list_audit_records(authed(list(String::new()), &liaison))
        .await
        .refused(
            Code::PermissionDenied,
            "the liaison does not read the trail",
        );
    service.stop().await;
}
