//! The partnership's requests to the reviewer for information, in writing: the business
//! unit (or the chair) asks on the review's page of requests, the appointed reviewer answers
//! each from their workspace, and both pages show where every request stands.

use super::*;

/// A request's status as the people following it read it, and its tag colour.
fn status_tag(status: registry::InformationRequestStatus) -> (&'static str, &'static str) {
    use registry::InformationRequestStatus as S;
    match status {
        S::Open | S::Unspecified => ("Awaiting answer", "govuk-tag--blue"),
        S::Overdue => ("Overdue", "govuk-tag--red"),
        S::Answered => ("Answered", "govuk-tag--green"),
        S::AnsweredLate => ("Answered late", "govuk-tag--orange"),
    }
}

/// The review's requests for information, oldest first, for a table; `answer_links` adds
/// the link to answer each open one (the appointed reviewer's view).
pub(crate) fn information_rows(review: &registry::Review, answer_links: bool) -> Vec<Value> {
    review
        .information_requests
        .iter()
        .map(|request| information_row(review, request, answer_links))
        .collect()
}

/// One request of [`information_rows`].
fn information_row(
    review: &registry::Review,
    request: &registry::InformationRequest,
    answer_link: bool,
) -> Value {
    let (status, tag) = status_tag(request.status());
    context! {
        id => request.id,
        question => request.question,
        requested_by => request.requested_by,
        asked_at => views::time(request.request_time.as_ref()),
        respond_by => views::date(request.respond_by.as_ref()),
        status,
        tag,
        answer => request.answer,
        answered_at => views::time(request.answer_time.as_ref()),
        answer_href => (answer_link && request.answer_time.is_none()).then(|| format!(
            "/reviews/{}/information-requests/{}/answer", review.id, request.id
        )),
    }
}

fn ask_extra(review: &registry::Review) -> Value {
    context! { requests => information_rows(review, false) }
}

get_form! {
    /// GET /reviews/{id}/information-requests: the requests so far and the form to ask.
    ask_form: "RequestInformationFromReviewer", "admin/information_requests.html", &["respond_by"],
    |review, _| ask_extra(review)
}

/// POST /reviews/{id}/information-requests: asks the reviewer.
pub(super) async fn ask(State(state): Shared, Path(id): Path<String>, posted: Posted) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RequestInformationFromReviewer")?;
        let request_id = request_id_of(&form);
        let question = form.required("question", "Enter what you are asking the reviewer");
        let respond_by = form.date("respond_by", "the day an answer is wanted by", true);
        let reply_to_email = form.get("reply_to_email").trim().to_string();
        if form.errors.is_empty() {
            let mut client = state.services.registry.clone();
            let result = client
                .request_information_from_reviewer(authed(
                    registry::RequestInformationFromReviewerRequest {
                        review_id: id.clone(),
                        request_id,
                        question,
                        respond_by,
                        reply_to_email,
                    },
                    &posted.user,
                )?)
                .await;
            if answered(result, &mut form)?.is_some() {
                return Ok(see_other(&format!("/reviews/{id}/information-requests")));
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/information_requests.html",
            &form,
            &["respond_by"],
            ask_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

fn answer_extra(request: &str) -> impl Fn(&registry::Review) -> Value + '_ {
    move |review| {
        let found = review
            .information_requests
            .iter()
            .find(|candidate| candidate.id == request)
            .map(|found| information_row(review, found, false));
        context! { request_id_answered => request, request => found }
    }
}

/// GET /reviews/{id}/information-requests/{request}/answer: the question and the answer's form.
pub(super) async fn answer_form(
    State(state): Shared,
    Path((id, request)): Path<(String, String)>,
    signed: SignedIn,
) -> Response {
    let extra = answer_extra(&request);
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "AnswerInformationRequest",
        "reviewer/information_answer.html",
        &[],
        |review, _| extra(review),
    )
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/information-requests/{request}/answer: the reviewer's answer, then back
/// to their workspace.
pub(super) async fn answer(
    State(state): Shared,
    Path((id, request)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "AnswerInformationRequest")?;
        let answer = form.required("answer", "Enter your answer");
        if form.errors.is_empty() {
            let mut client = state.services.registry.clone();
            let result = client
                .answer_information_request(authed(
                    registry::AnswerInformationRequestRequest {
                        review_id: id.clone(),
                        information_request_id: request.clone(),
                        answer,
                    },
                    &posted.user,
                )?)
                .await;
            if answered(result, &mut form)?.is_some() {
                return Ok(see_other(&format!("/reviews/{id}/workspace")));
            }
        }
        again(
            &state,
            &posted,
            &id,
            "reviewer/information_answer.html",
            &form,
            &[],
            answer_extra(&request),
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}
