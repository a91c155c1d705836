//! Everyone's start: the dashboard of reviews, and a review's page.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use cspr_platform::access::rules::{ACTIONS, FAMILY, PRACTITIONERS, REGISTRY, SUBMISSIONS};
use cspr_proto::registry::v1 as registry;
use minijinja::context;
use serde::Serialize;

use super::{PageError, Shared, SignedIn, authed, render};
use crate::forms::{field, form_fields};
use crate::session::{Session, User};
use crate::views::{self, ReviewView};
use crate::{AppState, timeline};

/// Reviews on one dashboard page.
pub(crate) const PAGE_SIZE: i32 = 20;

pub(crate) fn routes() -> axum::Router<std::sync::Arc<AppState>> {
    use axum::routing::get;
    axum::Router::new()
        .route("/", get(dashboard))
        .route("/reviews/{id}", get(review))
}

pub(crate) const TEMPLATES: &[(&str, &str)] = templates!["dashboard.html", "review.html",];

pub(crate) async fn dashboard(
    State(state): Shared,
    signed: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = dashboard_page(
        &state,
        &signed.session,
        &signed.user,
        query.as_deref().unwrap_or(""),
    )
    .await;
    signed.finish(&state, outcome)
}

/// Where a signed-in person starts when the reviews dashboard is not for them (everyone
/// lands on `/` after signing in): an agency lead at their report requests, the operations
/// team at the services' health. `None`: the dashboard (or, for a role that may read no
/// reviews, the registry's refusal as "no access").
fn home_elsewhere(user: &User) -> Option<&'static str> {
    use cspr_platform::access::rules::NOTIFICATIONS;
    if user.may(REGISTRY, "ListReviews") {
        None
    } else if user.may(SUBMISSIONS, "SubmitAgencyReport") {
        Some("/agency")
    } else if user.may(NOTIFICATIONS, "ListDeliveries") {
        Some("/operations")
    } else {
        None
    }
}

async fn dashboard_page(
    state: &AppState,
    session: &Session,
    user: &User,
    query: &str,
) -> Result<Response, PageError> {
    if let Some(home) = home_elsewhere(user) {
        return Ok(super::see_other(home));
    }
    let query = form_fields(query.as_bytes());
    let stage_name = field(&query, "stage");
    let stage = registry::Stage::from_str_name(stage_name);
    let page_token = field(&query, "page_token");
    // The registry's own filters (ListReviewsRequest): every page of them, not this one.
    let at_risk = field(&query, "at_risk") == "yes";
    let overdue = field(&query, "overdue") == "yes";
    let mut client = state.services.registry.clone();
    let response = client
        .list_reviews(authed(
            registry::ListReviewsRequest {
                stage: stage.map(|stage| stage as i32).unwrap_or_default(),
                page_size: PAGE_SIZE,
                page_token: page_token.to_string(),
                at_risk_only: at_risk,
                overdue_only: overdue,
            },
            user,
        )?)
        .await?
        .into_inner();
    let stage_value = stage.map(|stage| stage.as_str_name()).unwrap_or_default();
    let link = |token: &str| {
        let mut url = form_urlencoded::Serializer::new(String::new());
        if !stage_value.is_empty() {
            url.append_pair("stage", stage_value);
        }
        if at_risk {
            url.append_pair("at_risk", "yes");
        }
        if overdue {
            url.append_pair("overdue", "yes");
        }
        if !token.is_empty() {
            url.append_pair("page_token", token);
        }
        format!("/?{}", url.finish())
    };
    let next_page = (!response.next_page_token.is_empty()).then(|| link(&response.next_page_token));
    let first_page = (!page_token.is_empty()).then(|| link(""));
    let reviews: Vec<ReviewView> = response.reviews.iter().map(ReviewView::from).collect();
    render(
        state,
        "dashboard.html",
        session,
        context! {
            reviews,
            stages => views::stages(),
            stage => stage_value,
            at_risk,
            overdue,
            filtered => stage.is_some() || at_risk || overdue,
            next_page,
            first_page,
        },
    )
}

/// The pages of a review other than its own, each for the users whose roles could reach
/// what it shows: (path, `{id}` the review's, label, service, method the page needs).
const REVIEW_PAGES: &[(&str, &str, &str, &str)] = &[
    (
        "/reviews/{id}/workspace",
        "Reviewer's workspace",
        SUBMISSIONS,
        "ListReportRequests",
    ),
    (
        "/reviews/{id}/reports",
        "Agency report requests",
        SUBMISSIONS,
        "ListReportRequests",
    ),
    (
        "/panel/reviews/{id}",
        "Agency reports: accept, return or waive",
        SUBMISSIONS,
        "ListAgencyReports",
    ),
    (
        "/reviews/{id}/chronology",
        "Combined chronology",
        SUBMISSIONS,
        "StreamCombinedChronology",
    ),
    (
        "/reviews/{id}/practitioners",
        "Practitioners",
        PRACTITIONERS,
        "ListPractitioners",
    ),
    (
        "/reviews/{id}/family",
        "Family",
        FAMILY,
        "ListFamilyMembers",
    ),
    (
        "/reviews/{id}/overview",
        "Write the overview report",
        REGISTRY,
        "SubmitOverviewReport",
    ),
    (
        "/panel/reviews/{id}/overview",
        "Overview report: what changed, approval",
        REGISTRY,
        "GetOverviewReport",
    ),
    (
        "/reviews/{id}/meetings",
        "Panel meetings",
        REGISTRY,
        "ListPanelMeetings",
    ),
    (
        "/reviews/{id}/actions",
        "Action plan",
        ACTIONS,
        "ListActions",
    ),
    (
        "/reviews/{id}/audit",
        "Audit trail",
        REGISTRY,
        "ListAuditRecords",
    ),
];

#[derive(Debug, Serialize)]
struct PageLink {
    href: String,
    label: &'static str,
}

fn review_pages(user: &User, review_id: &str) -> Vec<PageLink> {
    REVIEW_PAGES
        .iter()
        .filter(|(_, _, service, method)| user.may(service, method))
        .map(|(path, label, _, _)| PageLink {
            href: path.replace("{id}", review_id),
            label,
        })
        .collect()
}

pub(crate) async fn review(
    State(state): Shared,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let SignedIn { session, user } = &signed;
    let outcome = async {
        let mut client = state.services.registry.clone();
        let mut timelines = state.services.registry.clone();
        let (review, timeline) = tokio::join!(
            client.get_review(authed(
                registry::GetReviewRequest {
                    review_id: id.clone()
                },
                user
            )?),
            timelines.get_timeline(authed(
                registry::GetTimelineRequest {
                    review_id: id.clone()
                },
                user
            )?),
        );
        let review = review?.into_inner();
        let timeline = timeline?.into_inner();
        let picture = timeline::svg(&timeline, timeline::today());
        render(
            &state,
            "review.html",
            session,
            context! {
                review => ReviewView::from(&review),
                timeline => minijinja::Value::from_safe_string(picture),
                projected_completion => views::date(timeline.projected_completion.as_ref()),
                parallel_process_days => timeline.parallel_process_days,
                commands => super::admin::commands(user, &review),
                pages => review_pages(user, &review.id),
                details => super::admin::details(&review),
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agency_lead_and_operations_start_on_their_own_pages() {
        let user = |roles: &[&str], org: Option<&str>| {
            let roles: Vec<String> = roles.iter().map(|role| role.to_string()).collect();
            User::new(
                "Someone".into(),
                "southvale".into(),
                &roles,
                org.map(str::to_string),
                "token".into(),
            )
        };
        assert_eq!(
            home_elsewhere(&user(&["agency"], Some("police"))),
            Some("/agency")
        );
        assert_eq!(
            home_elsewhere(&user(&["operations"], None)),
            Some("/operations")
        );
        for role in [
            "partnership_admin",
            "panel_chair",
            "panel_member",
            "reviewer",
            "auditor",
        ] {
            assert_eq!(home_elsewhere(&user(&[role], None)), None, "{role}");
        }
    }
}
