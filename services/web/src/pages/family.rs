//! The family's pages, for the appointed reviewer and family liaison (who do the family
//! engagement): the family members, adding one with the route to contact them (through a
//! professional they know, or directly with the reason), restricting contact and lifting
//! it, the contact log, their contributions, and the consultation on publication. Who sees
//! names and notes is the family service's decision: a redacted record is shown as such.

use axum::extract::{Path, State};
use axum::response::Response;
use cspr_platform::access::rules::FAMILY;
use cspr_proto::family::v1 as family;
use cspr_proto::registry::v1 as registry;
use minijinja::context;
use serde::Serialize;

use super::admin::{request_id, request_id_of};
use super::reviewer::{form_page, moment};
use super::{
    PageError, Posted, Shared, SignedIn, authed, commanded, posted_form, render, review_of,
    see_other,
};
use crate::AppState;
use crate::forms::Form;
use crate::session::Session;
use crate::views::{self, OptionView, ReviewView};

pub(crate) fn routes() -> axum::Router<std::sync::Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/reviews/{id}/family", get(members))
        .route("/reviews/{id}/family/new", get(add_form).post(add))
        .route("/reviews/{id}/family/{member}", get(member))
        .route("/reviews/{id}/family/{member}/lift", post(lift))
        .route(
            "/reviews/{id}/family/{member}/{action}",
            get(action_form).post(action),
        )
}

pub(crate) const TEMPLATES: &[(&str, &str)] = templates![
    "family/members.html",
    "family/add.html",
    "family/member.html",
    "family/action.html",
];

/// The family pages are for those who do the family engagement (the service's rule for
/// its commands): others are refused before anything is shown.
fn may_engage(signed: &SignedIn) -> Result<(), PageError> {
    signed.may(FAMILY, "AddFamilyMember")
}

#[derive(Debug, Serialize)]
struct MemberView {
    id: String,
    relationship: String,
    name: String,
    redacted: bool,
    contact_decision_note: String,
    route: String,
    known_professional: bool,
    restricted: bool,
    restriction: String,
    contact_count: i32,
    contribution_count: i32,
    consultation: Option<ConsultationView>,
    /// Why requests to approach them wait (their professional's contact is deferred), and
    /// which, in words; empty when none do.
    held_reason: String,
    held: Vec<&'static str>,
    /// The contact log the service gave (the latest, newest first; none when redacted).
    contacts: Vec<ContactView>,
    /// Their contributions likewise.
    contributions: Vec<ContributionView>,
}

/// One row of the contact log.
#[derive(Debug, Serialize)]
struct ContactView {
    when: String,
    route: String,
    made_by: String,
    summary: String,
}

/// One contribution: their views, in paragraphs as written, when and by whom recorded.
#[derive(Debug, Serialize)]
struct ContributionView {
    paragraphs: Vec<String>,
    recorded: String,
    recorded_by: String,
}

/// Text as its writer broke it into lines, without the blank ones.
fn paragraphs(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Debug, Serialize)]
struct ConsultationView {
    sent: Option<String>,
    response_due: Option<String>,
    responded: bool,
    response: String,
    /// Asked directly by the family liaison, not through a professional.
    direct: bool,
}

fn relationship_words(value: i32) -> String {
    family::Relationship::try_from(value)
        .map(|relationship| views::words(relationship.as_str_name(), "RELATIONSHIP_"))
        .unwrap_or_default()
}

impl From<&family::FamilyMember> for MemberView {
    fn from(member: &family::FamilyMember) -> Self {
        let (route, known_professional) = match &member.route {
            Some(family::family_member::Route::KnownProfessional(professional)) => (
                format!(
                    "Through {}, {} ({})",
                    professional.name, professional.agency, professional.email
                ),
                true,
            ),
            Some(family::family_member::Route::Direct(direct)) => {
                let mut words = "Directly".to_string();
                if !direct.contact_details.is_empty() {
                    words = format!("{words}: {}", direct.contact_details);
                }
                if !direct.reason.is_empty() {
                    words = format!("{words} (because {})", direct.reason);
                }
                (words, false)
            }
            None => (String::new(), false),
        };
        let restriction = member
            .restriction
            .as_ref()
            .map(|restriction| {
                let mut words = family::RestrictionReason::try_from(restriction.reason)
                    .map(|reason| views::words(reason.as_str_name(), "RESTRICTION_REASON_"))
                    .unwrap_or_default();
                if !restriction.detail.is_empty() {
                    words = format!("{words}: {}", restriction.detail);
                }
                if !restriction.authorised_by.is_empty() {
                    words = format!("{words}. Authorised by {}", restriction.authorised_by);
                }
                if let Some(review) = views::date(restriction.review_date.as_ref()) {
                    words = format!("{words}. Look again by {review}");
                }
                words
            })
            .unwrap_or_default();
        Self {
            id: member.id.clone(),
            relationship: relationship_words(member.relationship),
            name: if member.redacted && member.name.is_empty() {
                "Withheld".into()
            } else {
                member.name.clone()
            },
            redacted: member.redacted,
            contact_decision_note: member.contact_decision_note.clone(),
            route,
            known_professional,
            restricted: member.restriction.is_some(),
            restriction,
            contact_count: member.contact_count,
            contribution_count: member.contribution_count,
            consultation: member
                .publication_consultation
                .as_ref()
                .map(|consultation| ConsultationView {
                    sent: views::time(consultation.sent_time.as_ref()),
                    response_due: views::date(consultation.response_due.as_ref()),
                    responded: consultation.responded,
                    response: consultation.response.clone(),
                    direct: consultation.direct,
                }),
            held_reason: member.held_reason.clone(),
            held: member
                .held_requests
                .iter()
                .map(|kind| match kind.as_str() {
                    "CONTACT" => "the request to approach them",
                    "CONSULTATION" => "the consultation on publication",
                    _ => "a request",
                })
                .collect(),
            contacts: member
                .contacts
                .iter()
                .map(|contact| ContactView {
                    when: views::time(contact.contact_time.as_ref()).unwrap_or_default(),
                    route: contact.route.clone(),
                    made_by: contact.made_by.clone(),
                    summary: contact.summary.clone(),
                })
                .collect(),
            contributions: member
                .contributions
                .iter()
                .map(|contribution| ContributionView {
                    paragraphs: paragraphs(&contribution.views),
                    recorded: views::time(contribution.record_time.as_ref()).unwrap_or_default(),
                    recorded_by: contribution.recorded_by.clone(),
                })
                .collect(),
        }
    }
}

/// GET /reviews/{id}/family: the family members, and the parallel processes beside them.
pub(crate) async fn members(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let outcome = async {
        may_engage(&signed)?;
        let review = review_of(&state, &signed.user, &id).await?;
        let mut client = state.services.family.clone();
        let mut listed = Vec::new();
        let mut parallel_processes: Vec<String>;
        let mut page_token = String::new();
        loop {
            let response = client
                .list_family_members(authed(
                    family::ListFamilyMembersRequest {
                        review_id: id.clone(),
                        page_size: 200,
                        page_token,
                    },
                    &signed.user,
                )?)
                .await?
                .into_inner();
            listed.extend(response.members.iter().map(MemberView::from));
            parallel_processes = response
                .parallel_processes
                .iter()
                .map(|kind| views::words(kind, "PARALLEL_PROCESS_KIND_"))
                .collect();
            if response.next_page_token.is_empty() || listed.len() >= 2_000 {
                break;
            }
            page_token = response.next_page_token;
        }
        render(
            &state,
            "family/members.html",
            &signed.session,
            context! {
                review => ReviewView::from(&review),
                members => listed,
                parallel_processes,
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

fn relationships() -> Vec<OptionView> {
    (1..)
        .map_while(|value| family::Relationship::try_from(value).ok())
        .map(|relationship| OptionView {
            value: relationship.as_str_name().to_string(),
            label: views::words(relationship.as_str_name(), "RELATIONSHIP_"),
        })
        .collect()
}

fn add_page(
    state: &AppState,
    session: &Session,
    form: &Form,
    request_id: &str,
    review: &registry::Review,
) -> Result<Response, PageError> {
    form_page(
        state,
        session,
        "family/add.html",
        form,
        request_id,
        review,
        context! {
            relationships => relationships(),
            routes => vec![
                OptionView { value: "known_professional".into(), label: "Through a professional the family already knows".into() },
                OptionView { value: "direct".into(), label: "Directly".into() },
            ],
        },
    )
}

/// GET /reviews/{id}/family/new.
pub(crate) async fn add_form(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let outcome = async {
        may_engage(&signed)?;
        let review = review_of(&state, &signed.user, &id).await?;
        add_page(
            &state,
            &signed.session,
            &Form::default(),
            &request_id(),
            &review,
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/family/new: to the member's page.
pub(crate) async fn add(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let review = review_of(&state, &posted.user, &id).await?;
        let mut form = posted_form(&posted);
        let request_id = request_id_of(&form);
        let relationship = family::Relationship::from_str_name(form.get("relationship"));
        if relationship.is_none() {
            form.errors
                .add("relationship", "Choose how they are related to the child");
        }
        let name = form.required("name", "Enter their name");
        let contact_decision_note = form.get("contact_decision_note").to_string();
        let route = match form.get("route") {
            "known_professional" => {
                let name = form.required(
                    "known_professional.name",
                    "Enter the name of the professional they know",
                );
                let agency = form.required(
                    "known_professional.agency",
                    "Enter the professional's agency",
                );
                let email = form.required(
                    "known_professional.email",
                    "Enter the professional's work email address",
                );
                Some(family::add_family_member_request::Route::KnownProfessional(
                    family::KnownProfessional {
                        name,
                        agency,
                        email,
                    },
                ))
            }
            "direct" => {
                let contact_details =
                    form.required("direct.contact_details", "Enter how to contact them");
                let reason = form.required(
                    "direct.reason",
                    "Enter why not through a professional they know",
                );
                Some(family::add_family_member_request::Route::Direct(
                    family::DirectContact {
                        contact_details,
                        reason,
                    },
                ))
            }
            _ => {
                form.errors.add("route", "Choose how to contact them");
                None
            }
        };
        let request_contact = form.get("request_contact") == "yes";
        let contact_purpose = form.get("contact_purpose").to_string();
        let again = |form: &Form| add_page(&state, &posted.session, form, &request_id, &review);
        if !form.errors.is_empty() {
            return again(&form);
        }
        let mut client = state.services.family.clone();
        let added = client
            .add_family_member(authed(
                family::AddFamilyMemberRequest {
                    request_id: request_id.clone(),
                    review_id: id.clone(),
                    relationship: relationship.map(|r| r as i32).unwrap_or_default(),
                    name,
                    contact_decision_note,
                    route,
                    request_contact,
                    contact_purpose,
                },
                &posted.user,
            )?)
            .await;
        commanded(
            added,
            &mut form,
            |member| format!("/reviews/{id}/family/{}", member.id),
            again,
        )
    }
    .await;
    posted.finish(&state, outcome)
}

async fn member_of(
    state: &AppState,
    user: &crate::session::User,
    id: &str,
    member: &str,
) -> Result<family::FamilyMember, PageError> {
    let mut client = state.services.family.clone();
    Ok(client
        .get_family_member(authed(
            family::GetFamilyMemberRequest {
                review_id: id.to_string(),
                member_id: member.to_string(),
            },
            user,
        )?)
        .await?
        .into_inner())
}

/// GET /reviews/{id}/family/{member}: one member and what can be done.
pub(crate) async fn member(
    State(state): Shared,
    signed: SignedIn,
    Path((id, member)): Path<(String, String)>,
) -> Response {
    let outcome = async {
        may_engage(&signed)?;
        let review = review_of(&state, &signed.user, &id).await?;
        let found = member_of(&state, &signed.user, &id, &member).await?;
        render(
            &state,
            "family/member.html",
            &signed.session,
            context! {
                review => ReviewView::from(&review),
                member => MemberView::from(&found),
                version => found.version,
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/family/{member}/lift: contact may go ahead again.
pub(crate) async fn lift(
    State(state): Shared,
    Path((id, member)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut client = state.services.family.clone();
        client
            .lift_restriction(authed(
                family::LiftRestrictionRequest {
                    review_id: id.clone(),
                    member_id: member.clone(),
                    based_on_version: posted_form(&posted).get("based_on_version").parse().ok(),
                },
                &posted.user,
            )?)
            .await?;
        Ok(see_other(&format!("/reviews/{id}/family/{member}")))
    }
    .await;
    posted.finish(&state, outcome)
}

/// The member's commands with a form of their own, by the path's last part.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    Restrict,
    Contact,
    Contribution,
    Consultation,
    Response,
}

impl Action {
    fn parse(name: &str) -> Result<Self, PageError> {
        Ok(match name {
            "restrict" => Self::Restrict,
            "contact" => Self::Contact,
            "contribution" => Self::Contribution,
            "consultation" => Self::Consultation,
            "response" => Self::Response,
            _ => return Err(PageError::NotFound),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Restrict => "restrict",
            Self::Contact => "contact",
            Self::Contribution => "contribution",
            Self::Consultation => "consultation",
            Self::Response => "response",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Self::Restrict => "Restrict contact",
            Self::Contact => "Record a contact",
            Self::Contribution => "Record their contribution",
            Self::Consultation => "Consult them on publication",
            Self::Response => "Record their response on publication",
        }
    }
}

fn action_page(
    state: &AppState,
    session: &Session,
    form: &Form,
    request_id: &str,
    review: &registry::Review,
    member: &family::FamilyMember,
    action: Action,
) -> Result<Response, PageError> {
    action_page_with(
        state,
        session,
        form,
        request_id,
        (review, member),
        action,
        None,
    )
}

/// [`action_page`], with what the service said when the form was made from a version of
/// the member's record someone else has since changed (`stale`): the record as it is now is
/// shown above what the user entered.
fn action_page_with(
    state: &AppState,
    session: &Session,
    form: &Form,
    request_id: &str,
    (review, member): (&registry::Review, &family::FamilyMember),
    action: Action,
    stale: Option<&str>,
) -> Result<Response, PageError> {
    let reasons: Vec<OptionView> = [
        (
            family::RestrictionReason::CriminalInvestigation,
            "A criminal investigation",
        ),
        (family::RestrictionReason::Trial, "A trial"),
        (family::RestrictionReason::Other, "Another reason"),
    ]
    .into_iter()
    .map(|(reason, label)| OptionView {
        value: reason.as_str_name().to_string(),
        label: label.to_string(),
    })
    .collect();
    let contact_routes = vec![
        OptionView {
            value: "known professional".into(),
            label: "Through the professional they know".into(),
        },
        OptionView {
            value: "direct".into(),
            label: "Directly".into(),
        },
    ];
    form_page(
        state,
        session,
        "family/action.html",
        form,
        request_id,
        review,
        context! {
            member => MemberView::from(member),
            // The version the form is made from: the one shown when it was opened.
            version => member.version,
            stale => stale.map(crate::pages::sentence),
            action => action.name(),
            heading => action.heading(),
            reasons,
            contact_routes,
        },
    )
}

/// The version a posted form was made from (its hidden field).
fn based_on(form: &Form) -> Option<i32> {
    form.get("based_on_version").parse().ok()
}

/// GET /reviews/{id}/family/{member}/{action}.
pub(crate) async fn action_form(
    State(state): Shared,
    signed: SignedIn,
    Path((id, member, action)): Path<(String, String, String)>,
) -> Response {
    let outcome = async {
        may_engage(&signed)?;
        let action = Action::parse(&action)?;
        let review = review_of(&state, &signed.user, &id).await?;
        let found = member_of(&state, &signed.user, &id, &member).await?;
        action_page(
            &state,
            &signed.session,
            &Form::default(),
            &request_id(),
            &review,
            &found,
            action,
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/family/{member}/{action}: back to the member.
pub(crate) async fn action(
    State(state): Shared,
    Path((id, member, action)): Path<(String, String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let action = Action::parse(&action)?;
        let review = review_of(&state, &posted.user, &id).await?;
        let found = member_of(&state, &posted.user, &id, &member).await?;
        let mut form = posted_form(&posted);
        let request_id = request_id_of(&form);
        let again = |form: &Form| {
            action_page(
                &state,
                &posted.session,
                form,
                &request_id,
                &review,
                &found,
                action,
            )
        };
        let mut client = state.services.family.clone();
        let (review_id, member_id) = (id.clone(), member.clone());
        let done = match action {
            Action::Restrict => {
                let reason = family::RestrictionReason::from_str_name(form.get("reason"));
                if reason.is_none() {
                    form.errors
                        .add("reason", "Choose why contact is restricted");
                }
                let detail = form.get("detail").to_string();
                let authorised_by = form.required("authorised_by", "Enter who authorised it");
                let review_date = form.date("review_date", "the date to look at it again", true);
                if !form.errors.is_empty() {
                    return again(&form);
                }
                client
                    .restrict_contact(authed(
                        family::RestrictContactRequest {
                            review_id,
                            member_id,
                            reason: reason.map(|r| r as i32).unwrap_or_default(),
                            detail,
                            authorised_by,
                            review_date,
                            based_on_version: based_on(&form),
                        },
                        &posted.user,
                    )?)
                    .await
            }
            Action::Contact => {
                let contacted_at =
                    moment(&mut form, "contacted_at", "the day of the contact", "time");
                let made_by = form.required("made_by", "Enter who made the contact");
                let route = form.required("route", "Choose how the contact was made");
                let summary = form.required("summary", "Enter what passed");
                if !form.errors.is_empty() {
                    return again(&form);
                }
                client
                    .record_contact(authed(
                        family::RecordContactRequest {
                            request_id: request_id.clone(),
                            review_id,
                            member_id,
                            contacted_at,
                            made_by,
                            route,
                            summary,
                        },
                        &posted.user,
                    )?)
                    .await
            }
            Action::Contribution => {
                let views = form.required(
                    "views",
                    "Enter their views on the services and support they were given",
                );
                if !form.errors.is_empty() {
                    return again(&form);
                }
                client
                    .record_contribution(authed(
                        family::RecordContributionRequest {
                            request_id: request_id.clone(),
                            review_id,
                            member_id,
                            views,
                        },
                        &posted.user,
                    )?)
                    .await
            }
            Action::Consultation => {
                let response_due = form.date("response_due", "the date a response is due by", true);
                if !form.errors.is_empty() {
                    return again(&form);
                }
                client
                    .consult_on_publication(authed(
                        family::ConsultOnPublicationRequest {
                            request_id: request_id.clone(),
                            review_id,
                            member_id,
                            response_due,
                        },
                        &posted.user,
                    )?)
                    .await
            }
            Action::Response => {
                let response = form.required("response", "Enter their response");
                if !form.errors.is_empty() {
                    return again(&form);
                }
                client
                    .record_publication_response(authed(
                        family::RecordPublicationResponseRequest {
                            review_id,
                            member_id,
                            response,
                            based_on_version: based_on(&form),
                        },
                        &posted.user,
                    )?)
                    .await
            }
        };
        if let Err(status) = &done
            && status.code() == tonic::Code::Aborted
        {
            // Changed by someone else since the form was opened: the record as it is now
            // above what the user entered, the form now made from it.
            let current = member_of(&state, &posted.user, &id, &member).await?;
            form.set("based_on_version", &current.version.to_string());
            let mut page = action_page_with(
                &state,
                &posted.session,
                &form,
                &request_id,
                (&review, &current),
                action,
                Some(status.message()),
            )?;
            *page.status_mut() = axum::http::StatusCode::CONFLICT;
            return Ok(page);
        }
        commanded(
            done,
            &mut form,
            |_| format!("/reviews/{id}/family/{member}"),
            again,
        )
    }
    .await;
    posted.finish(&state, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redacted_member_is_shown_as_withheld_and_a_route_in_words() {
        let redacted = family::FamilyMember {
            relationship: family::Relationship::Grandparent as i32,
            redacted: true,
            route: Some(family::family_member::Route::Direct(
                family::DirectContact {
                    contact_details: String::new(),
                    reason: String::new(),
                },
            )),
            ..Default::default()
        };
        let view = MemberView::from(&redacted);
        assert_eq!(view.name, "Withheld");
        assert_eq!(view.relationship, "Grandparent");
        assert_eq!(view.route, "Directly");
        assert!(!view.restricted);
        let known = family::FamilyMember {
            name: "Morgan Reed".into(),
            route: Some(family::family_member::Route::KnownProfessional(
                family::KnownProfessional {
                    name: "Jo".into(),
                    agency: "CSC".into(),
                    email: "jo@csc.example.org".into(),
                },
            )),
            restriction: Some(family::Restriction {
                reason: family::RestrictionReason::Trial as i32,
                detail: "Until the verdict".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let view = MemberView::from(&known);
        assert_eq!(view.name, "Morgan Reed");
        assert_eq!(view.route, "Through Jo, CSC (jo@csc.example.org)");
        assert!(view.restricted && view.known_professional);
        assert_eq!(view.restriction, "Trial: Until the verdict");
    }

    #[test]
    fn held_requests_are_explained_to_the_liaison() {
        let member = family::FamilyMember {
            name: "Morgan Reed".into(),
            held_requests: vec!["CONTACT".into(), "CONSULTATION".into()],
            held_reason: "Requests through their known professional are held.".into(),
            ..Default::default()
        };
        let html = crate::views::Templates::new()
            .render(
                "family/member.html",
                context! {
                    review => ReviewView::from(&registry::Review::default()),
                    member => MemberView::from(&member),
                },
            )
            .expect("renders");
        assert!(
            html.contains(
                "Requests through their known professional are held. Waiting: the request to approach them, the consultation on publication."
            ),
            "{html}"
        );
        let none = crate::views::Templates::new()
            .render(
                "family/member.html",
                context! {
                    review => ReviewView::from(&registry::Review::default()),
                    member => MemberView::from(&family::FamilyMember::default()),
                },
            )
            .expect("renders");
        assert!(!none.contains("Waiting:"), "{none}");
    }

    #[test]
    fn the_contact_log_and_contributions_are_shown_as_text() {
        let member = family::FamilyMember {
            name: "Morgan Reed".into(),
            contact_count: 1,
            contribution_count: 3,
            contacts: vec![family::Contact {
                contact_time: Some(prost_types::Timestamp {
                    seconds: 1_776_600_000,
                    nanos: 0,
                }),
                made_by: "Jo <b>Keyworker</b>".into(),
                route: "known professional".into(),
                summary: "Explained the review.".into(),
                ..Default::default()
            }],
            contributions: vec![family::Contribution {
                views: "First line.\n\n  <script>alert(\"family\")</script>  \n".into(),
                record_time: Some(prost_types::Timestamp {
                    seconds: 1_776_600_000,
                    nanos: 0,
                }),
                recorded_by: "Fay Liaison".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let view = MemberView::from(&member);
        assert_eq!(
            view.contributions[0].paragraphs,
            ["First line.", "<script>alert(\"family\")</script>"]
        );
        assert_eq!(view.contacts[0].when, "19 April 2026, 12:00 UTC");
        let html = crate::views::Templates::new()
            .render(
                "family/member.html",
                context! {
                    review => ReviewView::from(&registry::Review::default()),
                    member => view,
                },
            )
            .expect("renders");
        for expected in [
            "<td class=\"govuk-table__cell\">Explained the review.</td>",
            "Jo &lt;b&gt;Keyworker&lt;&#x2f;b&gt;",
            "<p class=\"govuk-body\">First line.</p>",
            "&lt;script&gt;alert(&quot;family&quot;)&lt;&#x2f;script&gt;",
            "Recorded 19 April 2026, 12:00 UTC by Fay Liaison",
            "The latest 1 of 3 contributions, newest first.",
        ] {
            assert!(html.contains(expected), "{expected}: {html}");
        }
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<b>"), "{html}");

        let empty = MemberView::from(&family::FamilyMember::default());
        let html = crate::views::Templates::new()
            .render(
                "family/member.html",
                context! {
                    review => ReviewView::from(&registry::Review::default()),
                    member => empty,
                },
            )
            .expect("renders");
        assert!(html.contains("No contact logged yet."), "{html}");
        assert!(html.contains("No contribution recorded yet."), "{html}");
    }

    #[test]
    fn only_the_known_actions_have_a_form() {
        for name in [
            "restrict",
            "contact",
            "contribution",
            "consultation",
            "response",
        ] {
            assert_eq!(Action::parse(name).map(Action::name).ok(), Some(name));
        }
        assert!(matches!(Action::parse("delete"), Err(PageError::NotFound)));
    }
}
