//! The business unit's pages (partnership_admin): recording a serious incident, and the
//! commands that move a review through its statutory process.

use axum::extract::State;
use axum::response::Response;
use cspr_platform::access::rules::{REGISTRY, SUBMISSIONS};
use cspr_proto::registry::v1 as registry;
use minijinja::context;

use super::{PageError, Posted, Shared, SignedIn, authed, render, see_other};
use crate::AppState;
use crate::forms::{Form, FormErrors};
use crate::session::Session;

pub(crate) mod commands;
pub(crate) mod records;

pub(crate) fn routes() -> axum::Router<std::sync::Arc<AppState>> {
    use axum::routing::get;
    axum::Router::new()
        .route("/reviews/new", get(new_review_form).post(new_review))
        .merge(commands::routes())
        .merge(records::routes())
}

/// A review's page.
pub(crate) fn review_path(id: &str) -> String {
    format!("/reviews/{id}")
}

pub(crate) const TEMPLATES: &[(&str, &str)] = templates!["admin/new_review.html",];

/// A new idempotency key for a form: sent back with it, so submitting it twice (a double
/// click, a resend after a timeout) is one command.
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The form's idempotency key as sent, or a new one when it is missing or not a key.
pub(crate) fn request_id_of(form: &Form) -> String {
    let sent = form.get("request_id");
    match uuid::Uuid::parse_str(sent) {
        Ok(_) => sent.to_string(),
        Err(_) => request_id(),
    }
}

fn new_review_page(
    state: &AppState,
    session: &Session,
    form: &Form,
    request_id: &str,
) -> Result<Response, PageError> {
    let page = render(
        state,
        "admin/new_review.html",
        session,
        context! {
            form => form.values(),
            errors => form.errors,
            incident_date => form.date_parts("incident_date"),
            became_aware_on => form.date_parts("became_aware_on"),
            request_id,
        },
    )?;
    Ok(super::with_status(page, !form.errors.is_empty()))
}

/// GET /reviews/new: the serious incident form.
pub(crate) async fn new_review_form(State(state): Shared, signed: SignedIn) -> Response {
    let outcome = signed
        .may(REGISTRY, "CreateReview")
        .and_then(|()| new_review_page(&state, &signed.session, &Form::default(), &request_id()));
    signed.finish(&state, outcome)
}

/// POST /reviews/new: opens the review, then shows it.
pub(crate) async fn new_review(State(state): Shared, posted: Posted) -> Response {
    let outcome = create_review(&state, &posted).await;
    posted.finish(&state, outcome)
}

async fn create_review(state: &AppState, posted: &Posted) -> Result<Response, PageError> {
    let mut form = Form {
        fields: posted.form.fields.clone(),
        errors: FormErrors::default(),
    };
    let request_id = request_id_of(&form);
    let child_alias = form.required("child_alias", "Enter an alias for the child");
    let local_authority = form.required("local_authority", "Enter the local authority");
    let incident_date = form.date("incident_date", "the date of the incident", true);
    let became_aware_on = form.date(
        "became_aware_on",
        "the date the partnership became aware",
        true,
    );
    if !form.errors.is_empty() {
        return new_review_page(state, &posted.session, &form, &request_id);
    }
    let mut client = state.services.registry.clone();
    let created = client
        .create_review(authed(
            registry::CreateReviewRequest {
                request_id: request_id.clone(),
                child_alias,
                local_authority,
                incident_date,
                became_aware_on,
            },
            &posted.user,
        )?)
        .await;
    match created {
        Ok(review) => Ok(see_other(&format!("/reviews/{}", review.into_inner().id))),
        Err(status) => {
            PageError::from(status).into_form_errors(&mut form.errors)?;
            new_review_page(state, &posted.session, &form, &request_id)
        }
    }
}

/// A command of the review page: the page's path under the review, its words, and the
/// RPC that decides who may use it.
struct Command {
    path: &'static str,
    label: &'static str,
    service: &'static str,
    method: &'static str,
    /// Whether it can be done at the review's stage (the registry decides; the page only
    /// leaves out what cannot apply).
    applies: fn(registry::Stage) -> bool,
}

fn open(stage: registry::Stage) -> bool {
    !matches!(
        stage,
        registry::Stage::NotProceeding | registry::Stage::Closed
    )
}

fn scoping_on(stage: registry::Stage) -> bool {
    open(stage) && stage as i32 >= registry::Stage::Scoping as i32
}

const COMMANDS: &[Command] = &[
    Command {
        path: "notification",
        label: "Record the notification to the national Panel",
        service: REGISTRY,
        method: "RecordNotificationSent",
        applies: |stage| stage == registry::Stage::Notified,
    },
    Command {
        path: "decision",
        label: "Record the rapid review decision",
        service: REGISTRY,
        method: "RecordDecision",
        applies: |stage| stage == registry::Stage::RapidReview,
    },
    Command {
        path: "rapid-review",
        label: "Record the rapid review and the national Panel's response",
        service: REGISTRY,
        method: "RecordRapidReview",
        applies: |stage| !matches!(stage, registry::Stage::Notified | registry::Stage::Closed),
    },
    Command {
        path: "panel-member",
        label: "Appoint a panel member",
        service: REGISTRY,
        method: "AppointPanelMember",
        applies: open,
    },
    Command {
        path: "reviewer",
        label: "Appoint the independent reviewer",
        service: REGISTRY,
        method: "AppointReviewer",
        applies: scoping_on,
    },
    Command {
        path: "terms-of-reference",
        label: "Set the terms of reference",
        service: REGISTRY,
        method: "SetTermsOfReference",
        applies: |stage| {
            matches!(
                stage,
                registry::Stage::Scoping
                    | registry::Stage::InformationGathering
                    | registry::Stage::Engagement
            )
        },
    },
    Command {
        path: "advance",
        label: "Move the review to its next stage",
        service: REGISTRY,
        method: "AdvanceStage",
        applies: open,
    },
    Command {
        path: "parallel-processes",
        label: "Record or end a parallel process",
        service: REGISTRY,
        method: "RecordParallelProcess",
        applies: open,
    },
    Command {
        path: "meetings",
        label: "Panel meetings: schedule, change, cancel or record one",
        service: REGISTRY,
        method: "SchedulePanelMeeting",
        applies: open,
    },
    Command {
        path: "information-requests",
        label: "Ask the reviewer for information",
        service: REGISTRY,
        method: "RequestInformationFromReviewer",
        applies: scoping_on,
    },
    Command {
        path: "publication-plan",
        label: "Plan the publication date",
        service: REGISTRY,
        method: "SchedulePublication",
        applies: |stage| stage == registry::Stage::PrePublication,
    },
    Command {
        path: "pre-publication-notice",
        label: "Record the pre-publication notice",
        service: REGISTRY,
        method: "RecordPrePublicationNotice",
        applies: |stage| stage == registry::Stage::PrePublication,
    },
    Command {
        path: "publication",
        label: "Record publication",
        service: REGISTRY,
        method: "RecordPublication",
        applies: |stage| stage == registry::Stage::PrePublication,
    },
    Command {
        path: "reports",
        label: "Agency reports: who was asked, and where each stands",
        service: SUBMISSIONS,
        method: "ListReportRequests",
        applies: |stage| stage as i32 >= registry::Stage::Scoping as i32,
    },
    Command {
        path: "audit",
        label: "Audit trail",
        service: REGISTRY,
        method: "ListAuditRecords",
        applies: |_| true,
    },
];

/// A link of the review page to one of its command pages.
#[derive(Debug, serde::Serialize)]
pub(crate) struct CommandLink {
    pub(crate) href: String,
    pub(crate) label: &'static str,
}

/// The command pages `user` may use on `review` at its stage, as links.
pub(crate) fn commands(user: &crate::session::User, review: &registry::Review) -> Vec<CommandLink> {
    let stage = review.stage();
    COMMANDS
        .iter()
        .filter(|command| (command.applies)(stage) && user.may(command.service, command.method))
        .map(|command| CommandLink {
            href: format!("/reviews/{}/{}", review.id, command.path),
            label: command.label,
        })
        .collect()
}

/// What the business unit has recorded on a review, for its page: the notification, the
/// decision, the panel and the terms of reference.
pub(crate) fn details(review: &registry::Review) -> minijinja::Value {
    use crate::views::{date, words};
    let notification = review.notification.as_ref().map(|notification| {
        context! {
            sent_on => date(notification.sent_on.as_ref()),
            reference => notification.national_panel_reference,
        }
    });
    let decision = review.decision.as_ref().map(|decision| {
        context! {
            decision => match decision.decision() {
                registry::Decision::LocalCspr => "A local review will be held",
                registry::Decision::NoLocalCspr => "No local review",
                registry::Decision::Unspecified => "",
            },
            decided_on => date(decision.decided_on.as_ref()),
            rationale => decision.rationale,
        }
    });
    let panel: Vec<minijinja::Value> = review
        .panel
        .iter()
        .map(|member| {
            context! {
                name => member.name,
                organisation => member.organisation,
                role => words(member.role().as_str_name(), "PANEL_ROLE_"),
                found_involved => (!member.found_involved.is_empty()).then_some(&member.found_involved),
            }
        })
        .collect();
    let terms = review.terms_of_reference.as_ref().map(|terms| {
        context! {
            version => terms.version,
            scope_start => date(terms.scope_start.as_ref()),
            scope_end => date(terms.scope_end.as_ref()),
            report_due_date => date(terms.report_due_date.as_ref()),
            agencies => terms.agencies_in_scope.iter().map(|agency| agency.name.clone()).collect::<Vec<_>>().join(", "),
        }
    });
    let publication = review.publication.as_ref().map(|publication| {
        context! {
            planned_on => date(publication.planned_on.as_ref()),
            notice_sent_on => date(publication.notice_sent_on.as_ref()),
            outcome => publication.outcome_recorded.then(|| if publication.published {
                format!(
                    "Published {} at {}",
                    date(publication.published_on.as_ref()).unwrap_or_default(),
                    publication.location
                )
            } else {
                format!("Not published: {}", publication.not_published_justification)
            }),
        }
    });
    context! {
        notification,
        decision,
        panel,
        terms,
        publication,
        information => information_summary(review),
        outstanding => review.outstanding_agency_reports.join(", "),
    }
}

/// "3 asked: 1 awaiting an answer (1 overdue), 1 answered late", or nothing when none was.
fn information_summary(review: &registry::Review) -> Option<String> {
    use registry::InformationRequestStatus as S;
    let requests = &review.information_requests;
    if requests.is_empty() {
        return None;
    }
    let count = |wanted: &[S]| {
        requests
            .iter()
            .filter(|request| wanted.contains(&request.status()))
            .count()
    };
    let awaiting = count(&[S::Open, S::Overdue, S::Unspecified]);
    let overdue = count(&[S::Overdue]);
    let late = count(&[S::AnsweredLate]);
    let mut parts = vec![format!("{awaiting} awaiting an answer")];
    if overdue > 0 {
        parts[0].push_str(&format!(" ({overdue} overdue)"));
    }
    if late > 0 {
        parts.push(format!("{late} answered late"));
    }
    Some(format!("{} asked: {}", requests.len(), parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[&str]) -> crate::session::User {
        let roles: Vec<String> = roles.iter().map(|role| role.to_string()).collect();
        crate::session::User::new(
            "Someone".into(),
            "southvale".into(),
            &roles,
            None,
            "token".into(),
        )
    }

    fn links(roles: &[&str], stage: registry::Stage) -> Vec<String> {
        let review = registry::Review {
            id: "r1".into(),
            stage: stage as i32,
            ..Default::default()
        };
        commands(&user(roles), &review)
            .into_iter()
            .map(|link| link.href)
            .collect()
    }

    #[test]
    fn the_review_page_offers_the_commands_of_its_stage_that_the_roles_may_use() {
        let admin = links(&["partnership_admin"], registry::Stage::Notified);
        assert!(
            admin.contains(&"/reviews/r1/notification".to_string()),
            "{admin:?}"
        );
        assert!(!admin.contains(&"/reviews/r1/decision".to_string()));
        assert!(admin.contains(&"/reviews/r1/audit".to_string()));
        let scoping = links(&["partnership_admin"], registry::Stage::Scoping);
        for path in [
            "panel-member",
            "reviewer",
            "terms-of-reference",
            "advance",
            "reports",
            "information-requests",
            "meetings",
        ] {
            assert!(
                scoping.contains(&format!("/reviews/r1/{path}")),
                "{path}: {scoping:?}"
            );
        }
        assert!(!scoping.contains(&"/reviews/r1/publication".to_string()));
        // A chair records the decision and sets terms, but appoints nobody.
        let chair = links(&["panel_chair"], registry::Stage::RapidReview);
        assert_eq!(
            chair,
            vec![
                "/reviews/r1/decision".to_string(),
                "/reviews/r1/rapid-review".to_string(),
                "/reviews/r1/meetings".to_string(),
            ]
        );
        // A panel member has nothing to do here but read the reports (the meetings are
        // among the review's pages for them to read, not a command).
        let member = links(&["panel_member"], registry::Stage::InformationGathering);
        assert_eq!(member, vec!["/reviews/r1/reports".to_string()]);
        // Meetings are scheduled from the notification on, while the review is open.
        let notified = links(&["partnership_admin"], registry::Stage::Notified);
        assert!(
            notified.contains(&"/reviews/r1/meetings".to_string()),
            "{notified:?}"
        );
        let auditor = links(&["auditor"], registry::Stage::Closed);
        assert!(
            auditor.contains(&"/reviews/r1/audit".to_string()),
            "{auditor:?}"
        );
        // An ended review: nothing to command.
        let ended = links(&["partnership_admin"], registry::Stage::NotProceeding);
        assert!(
            !ended
                .iter()
                .any(|href| href.ends_with("/advance") || href.ends_with("/meetings")),
            "{ended:?}"
        );
        let closed = links(&["panel_chair"], registry::Stage::Closed);
        assert_eq!(closed, vec!["/reviews/r1/reports".to_string()]);
    }

    #[test]
    fn the_panel_shows_a_member_found_involved_and_the_requests_are_summed_up() {
        use registry::InformationRequestStatus as S;
        let request = |status: S| registry::InformationRequest {
            status: status as i32,
            ..Default::default()
        };
        let review = registry::Review {
            panel: vec![
                registry::PanelMember {
                    name: "Pat Constable".into(),
                    found_involved: "named in Southvale Police's chronology".into(),
                    ..Default::default()
                },
                registry::PanelMember {
                    name: "Sam Clear".into(),
                    ..Default::default()
                },
            ],
            information_requests: vec![
                request(S::Open),
                request(S::Overdue),
                request(S::AnsweredLate),
                request(S::Answered),
            ],
            ..Default::default()
        };
        let details = details(&review);
        let panel = details.get_attr("panel").expect("panel");
        let found = |index: usize| {
            panel
                .get_item(&minijinja::Value::from(index))
                .and_then(|member| member.get_attr("found_involved"))
                .expect("member")
        };
        assert_eq!(
            found(0).to_string(),
            "named in Southvale Police's chronology"
        );
        assert!(found(1).is_none(), "{}", found(1));
        assert_eq!(
            details
                .get_attr("information")
                .expect("summary")
                .to_string(),
            "4 asked: 2 awaiting an answer (1 overdue), 1 answered late"
        );
        let none = super::details(&registry::Review::default());
        assert!(none.get_attr("information").expect("summary").is_none());
    }

    #[test]
    fn a_form_keeps_its_request_id_and_a_bad_one_is_replaced() {
        let kept = request_id();
        let form = Form::parse(format!("request_id={kept}").as_bytes());
        assert_eq!(request_id_of(&form), kept);
        let form = Form::parse(b"request_id=not-a-key");
        let replaced = request_id_of(&form);
        assert_ne!(replaced, "not-a-key");
        assert!(uuid::Uuid::parse_str(&replaced).is_ok());
    }
}
