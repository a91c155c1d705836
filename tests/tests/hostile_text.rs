//! Text PostgreSQL cannot store, sent to every unary and server-streaming RPC of every
//! service: each string field of each request (nested messages and lists included) in turn
//! holds a NUL byte, the others plausible values (the review's id, known agencies, emails,
//! the first value of each enum), so the bad text gets as far into each handler as it can.
//! Whatever a call answers, it is never INTERNAL or UNKNOWN: the NUL is the caller's error
//! (INVALID_ARGUMENT) or the call is refused for another reason first.
//!
//! The requests are built from the descriptors (`cspr_proto::FILE_DESCRIPTOR_SET`), so an RPC
//! or field added later is swept without changing this test.

use std::str::FromStr;

use bytes::{Buf, BufMut};
use chrono::NaiveDate;
use cspr_notifications::config::MailTarget;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor, Value};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

/// Request and reply as encoded bytes: the sweep only reads the status.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let length = src.remaining();
        Ok(Some(src.copy_to_bytes(length).to_vec()))
    }
}

/// Which string field (in the order [`seeded`] visits them) gets the NUL, and what was seen.
struct Poison {
    target: usize,
    seen: usize,
    path: Option<String>,
}

/// A plausible value for a string field, by its name.
fn text_for(field: &str, review_id: &str) -> String {
    match field {
        "review_id" => review_id.to_string(),
        "page_token" => String::new(),
        "agency_id" | "org" | "owner_agency" => "health-visiting".to_string(),
        name if name.contains("email") || name == "recipient" => {
            "someone@southvale.example.org".to_string()
        }
        "request_id" => uuid::Uuid::new_v4().to_string(),
        name if name == "id" || name.ends_with("_id") => uuid::Uuid::new_v4().to_string(),
        _ => "plausible text".to_string(),
    }
}

/// A request with every field filled plausibly, the `poison.target`-th string holding a NUL.
fn seeded(
    descriptor: &MessageDescriptor,
    review_id: &str,
    prefix: &str,
    depth: usize,
    poison: &mut Poison,
) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    for field in descriptor.fields() {
        if field.is_map() {
            continue;
        }
        // Of a oneof, only the first member is set (setting another clears it).
        if let Some(oneof) = field.containing_oneof()
            && oneof.fields().next().map(|first| first.number()) != Some(field.number())
        {
            continue;
        }
        let path = format!("{prefix}{}", field.name());
        let value = match field.kind() {
            Kind::String => {
                let index = poison.seen;
                poison.seen += 1;
                if index == poison.target {
                    poison.path = Some(path.clone());
                    Value::String(format!("{}\0tail", text_for(field.name(), review_id)))
                } else {
                    Value::String(text_for(field.name(), review_id))
                }
            }
            Kind::Enum(enumeration) => Value::EnumNumber(
                enumeration
                    .values()
                    .find(|value| value.number() != 0)
                    .map_or(0, |value| value.number()),
            ),
            Kind::Message(nested) if nested.full_name() == "google.type.Date" => {
                let mut date = DynamicMessage::new(nested.clone());
                date.set_field_by_name("year", Value::I32(2026));
                date.set_field_by_name("month", Value::I32(3));
                date.set_field_by_name("day", Value::I32(20));
                Value::Message(date)
            }
            Kind::Message(nested) if depth < 3 => Value::Message(seeded(
                &nested,
                review_id,
                &format!("{path}."),
                depth + 1,
                poison,
            )),
            _ => continue,
        };
        if field.is_list() {
            message.set_field(&field, Value::List(vec![value]));
        } else {
            message.set_field(&field, value);
        }
    }
    message
}

#[tokio::test]
async fn a_nul_byte_in_any_string_field_of_any_rpc_is_never_internal() {
    let mail = tempfile::tempdir().expect("mail dir");
    let stack = cspr_tests::spawn_stack(
        NaiveDate::from_ymd_opt(2026, 3, 26).expect("date"),
        MailTarget::Files {
            directory: mail.path().to_path_buf(),
        },
    )
    .await;
    let review_id = stack.decided_review("hostile-text").await;
    stack
        .set_terms(
            &review_id,
            vec![cspr_proto::registry::v1::Agency {
                id: "health-visiting".into(),
                name: "Southvale Community Health Trust".into(),
                contact_email: "lead@hv.southvale.example.org".into(),
            }],
        )
        .await;
    stack.settle().await;
    let everyone = stack.token(
        "southvale",
        &[
            "partnership_admin",
            "panel_chair",
            "panel_member",
            "reviewer",
            "family_liaison",
            "auditor",
            "operations",
        ],
        None,
        "rae",
    );
    let agency = stack.token("southvale", &["agency"], Some("health-visiting"), "hv");

    let pool = DescriptorPool::decode(cspr_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let mut calls = 0;
    let mut refused_as_invalid = 0;
    let mut failures = Vec::new();
    for service in pool.services() {
        let addr = match service.package_name() {
            "cspr.registry.v1" => stack.registry.addr,
            "cspr.submissions.v1" => stack.submissions.addr,
            "cspr.practitioners.v1" => stack.practitioners.addr,
            "cspr.family.v1" => stack.family.addr,
            "cspr.actions.v1" => stack.actions.addr,
            "cspr.notifications.v1" => stack.notifications.addr,
            _ => continue,
        };
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        for method in service.methods() {
            if method.is_client_streaming() {
                // SubmitAgencyReport: its header and entries are checked by the
                // submissions suite's own hostile-stream tests.
                continue;
            }
            let rpc = format!("/{}/{}", service.full_name(), method.name());
            for target in 0.. {
                let mut poison = Poison {
                    target,
                    seen: 0,
                    path: None,
                };
                let request = seeded(&method.input(), &review_id, "", 0, &mut poison);
                let Some(path) = poison.path else { break };
                for token in [&everyone, &agency] {
                    let mut grpc = tonic::client::Grpc::new(channel.clone());
                    grpc.ready().await.expect("ready");
                    let mut call = tonic::Request::new(request.encode_to_vec());
                    call.metadata_mut().insert(
                        "authorization",
                        format!("Bearer {token}").parse().expect("header"),
                    );
                    let route = http::uri::PathAndQuery::from_str(&rpc).expect("path");
                    let answer = if method.is_server_streaming() {
                        match grpc.server_streaming(call, route, RawCodec).await {
                            Ok(response) => response.into_inner().message().await.map(|_| ()),
                            Err(status) => Err(status),
                        }
                    } else {
                        grpc.unary(call, route, RawCodec).await.map(|_| ())
                    };
                    calls += 1;
                    if let Err(status) = answer {
                        match status.code() {
                            Code::Internal | Code::Unknown => failures.push(format!(
                                "{rpc} with a NUL in {path}: {:?} {}",
                                status.code(),
                                status.message()
                            )),
                            Code::InvalidArgument => refused_as_invalid += 1,
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    eprintln!("{calls} calls, {refused_as_invalid} refused as INVALID_ARGUMENT");
    assert!(calls > 300, "the sweep reached only {calls} calls");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    stack.stop().await;
}
