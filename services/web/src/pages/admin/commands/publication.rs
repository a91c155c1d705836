//! Publication: its plan, the pre-publication notice, and the outcome (checked before it
//! is sent).

use super::*;

// ---- Publication plan and pre-publication notice -----------------------------------

pub(super) fn publication_extra(review: &registry::Review) -> Value {
    let publication = review.publication.clone().unwrap_or_default();
    context! {
        planned_on => views::date(publication.planned_on.as_ref()),
        notice_due_by => views::date(publication.notice_due_by.as_ref()),
        notice_sent_on => views::date(publication.notice_sent_on.as_ref()),
    }
}

get_form! {
    schedule_form: "SchedulePublication", "admin/publication_plan.html", &["planned_on"],
    |review, _| publication_extra(review)
}

/// A command of one date (the publication plan, the notice): sent, or the form again.
#[allow(clippy::too_many_arguments)]
pub(super) async fn one_date<T>(
    state: &AppState,
    posted: &Posted,
    method: &str,
    id: &str,
    name: &'static str,
    label: &str,
    template: &str,
    send: impl AsyncFnOnce(Date) -> Result<tonic::Response<T>, tonic::Status>,
) -> Result<Response, PageError> {
    let mut form = posted_form(posted, method)?;
    if let Some(date) = form.date(name, label, true)
        && answered(send(date).await, &mut form)?.is_some()
    {
        return Ok(see_other(&review_path(id)));
    }
    again(
        state,
        posted,
        id,
        template,
        &form,
        &[name],
        publication_extra,
    )
    .await
}

pub(super) async fn schedule(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let request = |planned_on| {
            authed(
                registry::SchedulePublicationRequest {
                    review_id: id.clone(),
                    planned_on: Some(planned_on),
                },
                &posted.user,
            )
        };
        one_date(
            &state,
            &posted,
            "SchedulePublication",
            &id,
            "planned_on",
            "the planned publication date",
            "admin/publication_plan.html",
            async |date| {
                let request = request(date).map_err(|_| tonic::Status::unauthenticated(""))?;
                state
                    .services
                    .registry
                    .clone()
                    .schedule_publication(request)
                    .await
            },
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

get_form! {
    notice_form: "RecordPrePublicationNotice", "admin/pre_publication_notice.html", &["sent_on"],
    |review, _| publication_extra(review)
}

pub(super) async fn notice(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let request = |sent_on| {
            authed(
                registry::RecordPrePublicationNoticeRequest {
                    review_id: id.clone(),
                    sent_on: Some(sent_on),
                },
                &posted.user,
            )
        };
        one_date(
            &state,
            &posted,
            "RecordPrePublicationNotice",
            &id,
            "sent_on",
            "the date the notice was sent",
            "admin/pre_publication_notice.html",
            async |date| {
                let request = request(date).map_err(|_| tonic::Status::unauthenticated(""))?;
                state
                    .services
                    .registry
                    .clone()
                    .record_pre_publication_notice(request)
                    .await
            },
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Publication (check your answers) ----------------------------------------------

get_form! {
    publication_form: "RecordPublication", "admin/publication.html", &["published_on"],
    |review, _| publication_extra(review)
}

/// Publication as typed, checked: `None` when something is wrong.
pub(super) fn read_publication(form: &mut Form) -> Option<registry::RecordPublicationRequest> {
    let published = match form.get("published") {
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            form.errors
                .add("published", "Select whether the report was published");
            None
        }
    };
    let mut request = registry::RecordPublicationRequest::default();
    match published {
        Some(true) => {
            request.published = true;
            request.published_on = form.date("published_on", "the date of publication", true);
            request.location = form.required("location", "Enter where the report is published");
        }
        Some(false) => {
            request.not_published_justification = form.required(
                "not_published_justification",
                "Enter why the report is not published",
            );
        }
        None => {}
    }
    form.errors.is_empty().then_some(request)
}

/// Whether the publication recorded is the one `request` asks for (a resend of it).
pub(super) fn same_publication(
    recorded: &registry::Publication,
    request: &registry::RecordPublicationRequest,
) -> bool {
    recorded.outcome_recorded
        && recorded.published == request.published
        && if request.published {
            recorded.published_on == request.published_on && recorded.location == request.location
        } else {
            recorded.not_published_justification == request.not_published_justification
        }
}

pub(super) async fn publication_check(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordPublication")?;
        let checked = read_publication(&mut form);
        let review = review_of(&state, &posted.user, &id).await?;
        let Some(request) = checked else {
            return page(
                &state,
                &posted.session,
                "admin/publication.html",
                &review,
                &form,
                &["published_on"],
                publication_extra(&review),
            );
        };
        let rows = if request.published {
            vec![
                Row {
                    key: "Published",
                    value: "Yes".into(),
                },
                Row {
                    key: "Date of publication",
                    value: views::date(request.published_on.as_ref()).unwrap_or_default(),
                },
                Row {
                    key: "Where it is published",
                    value: request.location,
                },
            ]
        } else {
            vec![
                Row {
                    key: "Published",
                    value: "No".into(),
                },
                Row {
                    key: "Why it is not published",
                    value: request.not_published_justification,
                },
            ]
        };
        check_page(
            &state,
            &posted.session,
            &review,
            &form,
            "Check the publication before recording it",
            rows,
            &format!("/reviews/{id}/publication/confirm"),
            "Once recorded, publication cannot be changed: the review moves to published.",
            "Record publication",
        )
    }
    .await;
    posted.finish(&state, outcome)
}

pub(super) async fn publication(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordPublication")?;
        let change = form.get("change") == "yes";
        let checked = read_publication(&mut form);
        if let (Some(request), false) = (checked, change) {
            let mut client = state.services.registry.clone();
            let result = client
                .record_publication(authed(
                    registry::RecordPublicationRequest {
                        review_id: id.clone(),
                        ..request.clone()
                    },
                    &posted.user,
                )?)
                .await;
            let done = confirmed(&state, &posted, &id, result, &mut form, |review| {
                review
                    .publication
                    .as_ref()
                    .is_some_and(|recorded| same_publication(recorded, &request))
            });
            if let Some(done) = done.await? {
                return Ok(done);
            }
        }
        if change {
            form.errors = FormErrors::default();
        }
        again(
            &state,
            &posted,
            &id,
            "admin/publication.html",
            &form,
            &["published_on"],
            publication_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}
