//! A panel meeting's calendar entry — free of I/O: the iCalendar text (RFC 5545) that an
//! invitation, a change or a cancellation carries as its `text/calendar` part (iMIP, RFC
//! 6047), written with the `icalendar` crate.
//!
//! One VEVENT whose UID is `<meeting id>@cspr` in every email about the meeting, so a
//! calendar (Outlook, Google Calendar) updates the entry it has: SEQUENCE 0 for the first
//! invitation, higher for each change, METHOD:CANCEL with STATUS:CANCELLED to remove it.
//! Every invitee is an ATTENDEE of every copy, so the entry is the same for everyone. The
//! agenda is not on the bus, and so never here.

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};

/// The product that wrote the entry.
pub const PRODID: &str = "-//cspr//panel meetings//EN";

/// What the entry asks of the receiver's calendar (iTIP, RFC 5546).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Add the meeting, or update it to this SEQUENCE.
    Request,
    /// Remove it: the meeting was cancelled.
    Cancel,
}

impl Method {
    /// As in `METHOD:` and the part's `method=` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }

    /// The method named `name` (as stored), if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "REQUEST" => Some(Method::Request),
            "CANCEL" => Some(Method::Cancel),
            _ => None,
        }
    }

    /// The MIME type of the email's calendar part (RFC 6047 §2.4).
    pub fn content_type(self) -> String {
        format!("text/calendar; method={}; charset=UTF-8", self.as_str())
    }
}

/// Someone invited: a panel member or the reviewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub name: String,
    pub email: String,
}

/// A panel meeting as one of its events tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    /// The registry's meeting id: the UID is `<meeting_id>@cspr`.
    pub meeting_id: String,
    pub review_reference: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// A place or an online meeting link.
    pub location: String,
    /// 0 for the first invitation, one more for each change or the cancellation.
    pub sequence: u32,
    pub method: Method,
    /// Everyone invited (each once), in every copy.
    pub attendees: Vec<Attendee>,
}

/// Who sends the invitations: the service's From mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organizer {
    /// The display name, if the From address has one.
    pub name: Option<String>,
    pub email: String,
}

/// The entry of `meeting`, stamped `stamp` (when the event occurred): CRLF line ends, long
/// lines folded, text values escaped.
pub fn entry(meeting: &Meeting, organizer: &Organizer, stamp: DateTime<Utc>) -> String {
    let reference = text(&meeting.review_reference);
    let (status, description) = match meeting.method {
        Method::Request => (
            EventStatus::Confirmed,
            format!(
                "Panel meeting of the local child safeguarding practice review {reference}.\n\
                 The agenda and papers are in cspr."
            ),
        ),
        Method::Cancel => (
            EventStatus::Cancelled,
            format!(
                "The panel meeting of the local child safeguarding practice review {reference} \
                 is cancelled."
            ),
        ),
    };
    let mut event = Event::new();
    event
        .uid(&format!("{}@cspr", meeting.meeting_id.trim()))
        .sequence(meeting.sequence)
        .timestamp(stamp)
        .starts(meeting.start)
        .ends(meeting.end)
        .summary(&format!("Panel meeting: {reference}"))
        .location(&text(&meeting.location))
        .description(&description)
        .status(status)
        .append_property(person(
            "ORGANIZER",
            organizer.name.as_deref(),
            &organizer.email,
        ));
    let mut seen = std::collections::HashSet::new();
    for attendee in &meeting.attendees {
        let email = attendee.email.trim();
        if email.is_empty() || !seen.insert(email.to_lowercase()) {
            continue;
        }
        let mut property = person("ATTENDEE", Some(&attendee.name), email);
        property
            .add_parameter("ROLE", "REQ-PARTICIPANT")
            .add_parameter("PARTSTAT", "NEEDS-ACTION")
            .add_parameter("RSVP", "TRUE");
        event.append_multi_property(property);
    }
    // `Calendar::new()` would add a VERSION and PRODID (and CALSCALE) of its own.
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("PRODID", PRODID))
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", meeting.method.as_str()))
        .push(event.done());
    calendar.to_string()
}

/// An ORGANIZER or ATTENDEE: `mailto:` the address, its name as CN (if any).
fn person(key: &str, name: Option<&str>, email: &str) -> Property {
    let address: String = email
        .chars()
        .filter(|character| !character.is_whitespace() && !character.is_control())
        .collect();
    let mut property = Property::new(key, format!("mailto:{address}"));
    // A parameter value may hold no DQUOTE nor control character (RFC 5545 §3.1); one with
    // a comma, colon or semicolon is quoted by the crate.
    let name: String = name
        .unwrap_or_default()
        .chars()
        .map(|character| match character {
            '"' => '\'',
            character if character.is_control() => ' ',
            character => character,
        })
        .collect();
    let name = name.trim();
    if !name.is_empty() {
        property.add_parameter("CN", name);
    }
    property.done()
}

/// A TEXT value as the crate may escape it: one kind of line end (LF, written `\n`), no
/// other control character (a bare CR would end the content line).
fn text(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .map(|character| {
            if character.is_control() && character != '\n' && character != '\t' {
                ' '
            } else {
                character
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a time")
            .with_timezone(&Utc)
    }

    fn meeting(method: Method, sequence: u32, location: &str) -> Meeting {
        Meeting {
            meeting_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            review_reference: "SOUTHVALE-2026-001".into(),
            start: at("2026-05-12T10:00:00+01:00"),
            end: at("2026-05-12T12:30:00+01:00"),
            location: location.into(),
            sequence,
            method,
            attendees: vec![
                Attendee {
                    name: "Holroyd, Tess".into(),
                    email: "tess@panel.example.org".into(),
                },
                Attendee {
                    name: "Isla Oakes".into(),
                    email: " isla@reviewers.example.org ".into(),
                },
                Attendee {
                    name: "Isla again".into(),
                    email: "ISLA@reviewers.example.org".into(),
                },
                Attendee {
                    name: "No address".into(),
                    email: String::new(),
                },
            ],
        }
    }

    fn organizer() -> Organizer {
        Organizer {
            name: Some("CSPR reviews".into()),
            email: "no-reply@cspr.test".into(),
        }
    }

    /// The content lines, unfolded (RFC 5545 §3.1).
    fn unfolded(entry: &str) -> Vec<String> {
        entry
            .replace("\r\n ", "")
            .split("\r\n")
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn lines_starting(entry: &str, prefix: &str) -> Vec<String> {
        unfolded(entry)
            .into_iter()
            .filter(|line| line.starts_with(prefix))
            .collect()
    }

    #[test]
    fn an_invitation_is_one_request_event_with_every_attendee() {
        let entry = entry(
            &meeting(Method::Request, 0, "Southvale House, room 2"),
            &organizer(),
            at("2026-04-20T09:15:00Z"),
        );
        let lines = unfolded(&entry);
        assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
        assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
        for (prefix, expected) in [
            ("VERSION", vec!["VERSION:2.0"]),
            ("PRODID", vec!["PRODID:-//cspr//panel meetings//EN"]),
            ("METHOD", vec!["METHOD:REQUEST"]),
            ("BEGIN:VEVENT", vec!["BEGIN:VEVENT"]),
            ("UID", vec!["UID:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@cspr"]),
            ("SEQUENCE", vec!["SEQUENCE:0"]),
            ("DTSTAMP", vec!["DTSTAMP:20260420T091500Z"]),
            ("DTSTART", vec!["DTSTART:20260512T090000Z"]),
            ("DTEND", vec!["DTEND:20260512T113000Z"]),
            ("STATUS", vec!["STATUS:CONFIRMED"]),
            ("SUMMARY", vec!["SUMMARY:Panel meeting: SOUTHVALE-2026-001"]),
            (
                "ORGANIZER",
                vec!["ORGANIZER;CN=CSPR reviews:mailto:no-reply@cspr.test"],
            ),
        ] {
            assert_eq!(lines_starting(&entry, prefix), expected, "{entry}");
        }
        // Each address once (trimmed, whatever its case), none without one; a name with a
        // comma is quoted.
        assert_eq!(
            lines_starting(&entry, "ATTENDEE"),
            [
                "ATTENDEE;CN=\"Holroyd, Tess\";PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:tess@panel.example.org",
                "ATTENDEE;CN=Isla Oakes;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:isla@reviewers.example.org",
            ]
        );
        assert!(
            lines_starting(&entry, "DESCRIPTION")[0].contains("The agenda and papers are in cspr."),
            "{entry}"
        );
    }

    #[test]
    fn commas_semicolons_and_line_ends_in_the_location_are_escaped() {
        let entry = entry(
            &meeting(
                Method::Request,
                1,
                "Room 2; Southvale House, 1 High St\r\nback\\door",
            ),
            &organizer(),
            at("2026-04-20T09:15:00Z"),
        );
        assert_eq!(
            lines_starting(&entry, "LOCATION"),
            ["LOCATION:Room 2\\; Southvale House\\, 1 High St\\nback\\\\door"]
        );
        assert_eq!(lines_starting(&entry, "SEQUENCE"), ["SEQUENCE:1"]);
        assert!(!entry.replace("\r\n", "").contains('\r'), "no bare CR");
    }

    #[test]
    fn lines_end_in_crlf_and_long_ones_are_folded() {
        let link = format!("https://meet.example.org/j/{}", "7".repeat(150));
        let entry = entry(
            &meeting(Method::Request, 0, &link),
            &organizer(),
            at("2026-04-20T09:15:00Z"),
        );
        assert!(entry.ends_with("END:VCALENDAR\r\n"));
        assert!(!entry.replace("\r\n", "").contains('\n'), "only CRLF ends");
        for line in entry.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
        assert!(entry.contains("\r\n "), "folded");
        assert_eq!(
            lines_starting(&entry, "LOCATION"),
            [format!("LOCATION:{link}")]
        );
    }

    #[test]
    fn a_cancellation_cancels_the_same_entry() {
        let invitation = entry(
            &meeting(Method::Request, 1, "Online"),
            &organizer(),
            at("2026-04-20T09:15:00Z"),
        );
        let cancellation = entry(
            &meeting(Method::Cancel, 2, "Online"),
            &organizer(),
            at("2026-04-21T09:15:00Z"),
        );
        assert_eq!(lines_starting(&cancellation, "METHOD"), ["METHOD:CANCEL"]);
        assert_eq!(
            lines_starting(&cancellation, "STATUS"),
            ["STATUS:CANCELLED"]
        );
        assert_eq!(lines_starting(&cancellation, "SEQUENCE"), ["SEQUENCE:2"]);
        assert_eq!(
            lines_starting(&cancellation, "UID"),
            lines_starting(&invitation, "UID")
        );
        assert_eq!(lines_starting(&cancellation, "ATTENDEE").len(), 2);
        assert_eq!(
            Method::Cancel.content_type(),
            "text/calendar; method=CANCEL; charset=UTF-8"
        );
        assert_eq!(Method::from_name("CANCEL"), Some(Method::Cancel));
        assert_eq!(Method::from_name("REQUEST"), Some(Method::Request));
        assert_eq!(Method::from_name("PUBLISH"), None);
    }

    #[test]
    fn names_cannot_break_out_of_their_parameter() {
        let mut meeting = meeting(Method::Request, 0, "Online");
        meeting.attendees = vec![Attendee {
            name: "Eve \"x\";ROLE=CHAIR\r\nATTENDEE:mailto:evil@example.org".into(),
            email: "eve@example.org".into(),
        }];
        let entry = entry(&meeting, &organizer(), at("2026-04-20T09:15:00Z"));
        let attendees = lines_starting(&entry, "ATTENDEE");
        assert_eq!(attendees.len(), 1, "{entry}");
        assert!(attendees[0].ends_with(":mailto:eve@example.org"), "{entry}");
        assert!(
            attendees[0].starts_with(
                "ATTENDEE;CN=\"Eve 'x';ROLE=CHAIR  ATTENDEE:mailto:evil@example.org\";"
            )
        );
    }
}
