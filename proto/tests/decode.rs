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

#[test]
fn every_body_names_its_type_and_producer() {
    let body = Body::ReviewCreated(ReviewCreated::default());
    assert_eq!(body.type_name(), "review_created");
    assert_eq!(body.producer(), "registry");
}
