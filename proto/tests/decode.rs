//! Event decoding is the bus's input from other processes: arbitrary bytes must be refused
//! (or decoded) without panicking, and every event round-trips.

use cspr_proto::events::v1::{Event, ReviewCreated, event::Body};
use proptest::prelude::*;
use prost::Message;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Event::decode(bytes.as_slice());
    }

    #[test]
    fn events_round_trip(id in "[a-f0-9-]{1,36}", reference in "\\PC{0,40}", partnership in "[a-z]{1,20}") {
        let event = Event {
            id,
            r#type: "review_created".into(),
            occurred_at: None,
            partnership_id: partnership,
            review_id: String::new(),
            actor: None,
            body: Some(Body::ReviewCreated(ReviewCreated { reference, ..Default::default() })),
        };
        let decoded = Event::decode(event.encode_to_vec().as_slice()).expect("decodes");
        prop_assert_eq!(decoded, event);
    }
}

/// The oneof `body` of `cspr.events.v1.Event` as the descriptor set describes it: (field
/// number, field name) of every event type, so a type added to the proto is checked too.
fn event_types_in_descriptor() -> Vec<(i32, String)> {
    let descriptors = prost_types::FileDescriptorSet::decode(cspr_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set decodes");
    let event = descriptors
        .file
        .iter()
        .filter(|file| file.package() == "cspr.events.v1")
        .flat_map(|file| &file.message_type)
        .find(|message| message.name() == "Event")
        .expect("cspr.events.v1.Event in the descriptor set");
    let body = event
        .oneof_decl
        .iter()
        .position(|oneof| oneof.name() == "body")
        .expect("Event has a oneof body") as i32;
    event
        .field
        .iter()
        .filter(|field| field.oneof_index == Some(body))
        .map(|field| (field.number(), field.name().to_string()))
        .collect()
}

/// Which service publishes the events numbered `number` (the proto's 1xx … 5xx blocks).
fn producer_of_block(number: i32) -> &'static str {
    match number / 100 {
        1 => "registry",
        2 => "submissions",
        3 => "practitioners",
        4 => "family",
        5 => "actions",
        _ => panic!("event field {number} is outside the producers' blocks"),
    }
}

#[test]
fn every_event_type_decodes_and_names_its_type_and_producer() {
    let types = event_types_in_descriptor();
    assert!(types.len() >= 40, "only {} event types found", types.len());
    for (number, name) in &types {
        // An envelope with only this body (an empty message): tag `number`, wire type 2
        // (length-delimited), length 0, after an id.
        let mut bytes = Event {
            id: "0190b7a2-0000-7000-8000-000000000000".into(),
            ..Default::default()
        }
        .encode_to_vec();
        prost::encoding::encode_key(
            *number as u32,
            prost::encoding::WireType::LengthDelimited,
            &mut bytes,
        );
        prost::encoding::encode_varint(0, &mut bytes);

        let event = Event::decode(bytes.as_slice())
            .unwrap_or_else(|error| panic!("{name} ({number}) does not decode: {error}"));
        let body = event
            .body
            .as_ref()
            .unwrap_or_else(|| panic!("{name} ({number}) decodes without a body"));
        assert_eq!(body.type_name(), name, "type name of field {number}");
        assert_eq!(
            body.producer(),
            producer_of_block(*number),
            "producer of {name}"
        );
        assert_eq!(event.encode_to_vec(), bytes, "{name} re-encodes the same");
    }
}
