//! The rapid review: the notification to the national Panel, and its decision (checked
//! before it is sent).

use super::*;

// ---- Notification ------------------------------------------------------------------

get_form! {
    notification_form: "RecordNotificationSent", "admin/notification.html", &["sent_on"],
    |_, _| context! {}
}

pub(super) async fn notification(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordNotificationSent")?;
        let sent_on = form.date("sent_on", "the date the notification was sent", true);
        if form.errors.is_empty() {
            let mut client = state.services.registry.clone();
            let result = client
                .record_notification_sent(authed(
                    registry::RecordNotificationSentRequest {
                        review_id: id.clone(),
                        sent_on,
                        national_panel_reference: form.get("national_panel_reference").into(),
                    },
                    &posted.user,
                )?)
                .await;
            match answered(result, &mut form) {
                Ok(Some(_)) => return Ok(see_other(&review_path(&id))),
                Ok(None) => {}
                // Sent twice (a double click, a resend): the first one did it.
                Err(PageError::Refused(reason)) => {
                    let review = review_of(&state, &posted.user, &id).await?;
                    if review
                        .notification
                        .as_ref()
                        .is_some_and(|notification| notification.sent_on == sent_on)
                    {
                        return Ok(see_other(&review_path(&id)));
                    }
                    return Err(PageError::Refused(reason));
                }
                Err(other) => return Err(other),
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/notification.html",
            &form,
            &["sent_on"],
            no_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Decision (check your answers) -------------------------------------------------

pub(super) fn decisions() -> Vec<Choice> {
    vec![
        Choice {
            value: registry::Decision::LocalCspr.as_str_name().into(),
            label: "Hold a local child safeguarding practice review".into(),
            hint: Some("The review moves to scoping and the six-month clock starts."),
        },
        Choice {
            value: registry::Decision::NoLocalCspr.as_str_name().into(),
            label: "Do not hold a local review".into(),
            hint: Some("The review closes as not proceeding. Give the rationale."),
        },
    ]
}

pub(super) fn decision_extra(_: &registry::Review) -> Value {
    context! { decisions => decisions() }
}

get_form! {
    decision_form: "RecordDecision", "admin/decision.html", &["decided_on"],
    |review, _| decision_extra(review)
}

/// The decision as typed, checked: `None` when something is wrong (in `form.errors`).
pub(super) fn read_decision(form: &mut Form) -> Option<(registry::Decision, Date, String)> {
    let decision = registry::Decision::from_str_name(form.get("decision"))
        .filter(|decision| *decision != registry::Decision::Unspecified);
    if decision.is_none() {
        form.errors
            .add("decision", "Select whether a local review will be held");
    }
    let decided_on = form.date("decided_on", "the date of the decision", true);
    let rationale = form.get("rationale").to_string();
    if decision == Some(registry::Decision::NoLocalCspr) && rationale.is_empty() {
        form.errors.add(
            "rationale",
            "Enter the rationale for not holding a local review",
        );
    }
    Some((decision?, decided_on?, rationale)).filter(|_| form.errors.is_empty())
}

pub(super) async fn decision_check(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordDecision")?;
        let checked = read_decision(&mut form);
        let review = review_of(&state, &posted.user, &id).await?;
        let Some((decision, decided_on, rationale)) = checked else {
            return page(
                &state,
                &posted.session,
                "admin/decision.html",
                &review,
                &form,
                &["decided_on"],
                decision_extra(&review),
            );
        };
        let label = decisions()
            .into_iter()
            .find(|choice| choice.value == decision.as_str_name())
            .map(|choice| choice.label)
            .unwrap_or_default();
        check_page(
            &state,
            &posted.session,
            &review,
            &form,
            "Check the rapid review decision before recording it",
            vec![
                Row {
                    key: "Decision",
                    value: label,
                },
                Row {
                    key: "Date of the decision",
                    value: views::date(Some(&decided_on)).unwrap_or_default(),
                },
                Row {
                    key: "Rationale",
                    value: if rationale.is_empty() {
                        "None given".into()
                    } else {
                        rationale
                    },
                },
            ],
            &format!("/reviews/{id}/decision/confirm"),
            "Once recorded, the decision cannot be changed: it moves the review on.",
            "Record the decision",
        )
    }
    .await;
    posted.finish(&state, outcome)
}

pub(super) async fn decision(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordDecision")?;
        let change = form.get("change") == "yes";
        let checked = read_decision(&mut form);
        if let (Some((decision, decided_on, rationale)), false) = (checked, change) {
            let mut client = state.services.registry.clone();
            let sent = registry::RapidReviewDecision {
                decision: decision as i32,
                decided_on: Some(decided_on),
                rationale,
            };
            let result = client
                .record_decision(authed(
                    registry::RecordDecisionRequest {
                        review_id: id.clone(),
                        decision: sent.decision,
                        decided_on: sent.decided_on,
                        rationale: sent.rationale.clone(),
                    },
                    &posted.user,
                )?)
                .await;
            let done = confirmed(&state, &posted, &id, result, &mut form, |review| {
                review.decision.as_ref() == Some(&sent)
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
            "admin/decision.html",
            &form,
            &["decided_on"],
            decision_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- The rapid review's record and the national Panel's response --------------------

pub(super) const RAPID_REVIEW_DATES: &[&str] = &["meeting_on", "sent_to_panel_on"];

/// The record as it stands and the Panel's response, for the record's page.
pub(super) fn rapid_review_extra(user: &User) -> impl Fn(&registry::Review) -> Value + '_ {
    move |review| {
        let response = review
            .rapid_review
            .as_ref()
            .and_then(|record| record.panel_response.as_ref())
            .map(|response| {
                context! {
                    kind => panel_response_words(response.kind()),
                    received_on => views::date(response.received_on.as_ref()),
                    note => response.note,
                }
            });
        let sent = review
            .rapid_review
            .as_ref()
            .is_some_and(|record| record.sent_to_panel_on.is_some());
        context! {
            recorded => review.rapid_review.is_some(),
            response,
            response_href => (sent && user.may(REGISTRY, "RecordPanelResponse"))
                .then(|| format!("/reviews/{}/panel-response", review.id)),
        }
    }
}

fn panel_response_words(kind: registry::PanelResponseKind) -> &'static str {
    match kind {
        registry::PanelResponseKind::Agrees => "The Panel agrees with the decision",
        registry::PanelResponseKind::AsksForMore => "The Panel asks for more",
        registry::PanelResponseKind::NationalReview => "The Panel will hold a national review",
        registry::PanelResponseKind::Unspecified => "",
    }
}

pub(super) async fn rapid_review_form(
    State(state): Shared,
    Path(id): Path<String>,
    signed: SignedIn,
) -> Response {
    let user = signed.user.clone();
    let extra = rapid_review_extra(&user);
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "RecordRapidReview",
        "admin/rapid_review.html",
        RAPID_REVIEW_DATES,
        |review, form| {
            // A correction starts from the record as it is.
            if let Some(record) = &review.rapid_review {
                fill_date(form, "meeting_on", record.meeting_on.as_ref());
                fill_date(form, "sent_to_panel_on", record.sent_to_panel_on.as_ref());
                fill(
                    form,
                    "contributing_agencies",
                    &record.contributing_agencies.join("\n"),
                );
                fill(form, "learning", &record.learning);
            }
            extra(review)
        },
    )
    .await;
    signed.finish(&state, outcome)
}

pub(super) async fn rapid_review(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordRapidReview")?;
        let meeting_on = form.date("meeting_on", "the day of the rapid review meeting", true);
        let contributing_agencies: Vec<String> = form
            .get("contributing_agencies")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect();
        if contributing_agencies.is_empty() {
            form.errors.add(
                "contributing_agencies",
                "Enter the agencies that contributed, one a line",
            );
        }
        let learning = form.required("learning", "Enter the learning identified so far");
        let sent_to_panel_on = form.date(
            "sent_to_panel_on",
            "the day it was sent to the national Panel",
            false,
        );
        if form.errors.is_empty() {
            let mut client = state.services.registry.clone();
            let result = client
                .record_rapid_review(authed(
                    registry::RecordRapidReviewRequest {
                        review_id: id.clone(),
                        meeting_on,
                        contributing_agencies,
                        learning,
                        sent_to_panel_on,
                    },
                    &posted.user,
                )?)
                .await;
            if answered(result, &mut form)?.is_some() {
                return Ok(see_other(&format!("/reviews/{id}/rapid-review")));
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/rapid_review.html",
            &form,
            RAPID_REVIEW_DATES,
            rapid_review_extra(&posted.user),
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

pub(super) fn panel_response_extra(_: &registry::Review) -> Value {
    let kinds: Vec<Choice> = [
        registry::PanelResponseKind::Agrees,
        registry::PanelResponseKind::AsksForMore,
        registry::PanelResponseKind::NationalReview,
    ]
    .into_iter()
    .map(|kind| Choice {
        value: kind.as_str_name().into(),
        label: panel_response_words(kind).into(),
        hint: None,
    })
    .collect();
    context! { kinds }
}

get_form! {
    panel_response_form: "RecordPanelResponse", "admin/panel_response.html", &["received_on"],
    |review, _| panel_response_extra(review)
}

pub(super) async fn panel_response(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordPanelResponse")?;
        let kind = registry::PanelResponseKind::from_str_name(form.get("kind"))
            .filter(|kind| *kind != registry::PanelResponseKind::Unspecified);
        if kind.is_none() {
            form.errors.add("kind", "Select what the Panel answered");
        }
        let received_on = form.date("received_on", "the day the response was received", true);
        if let (true, Some(kind)) = (form.errors.is_empty(), kind) {
            let mut client = state.services.registry.clone();
            let result = client
                .record_panel_response(authed(
                    registry::RecordPanelResponseRequest {
                        review_id: id.clone(),
                        kind: kind as i32,
                        received_on,
                        note: form.get("note").trim().to_string(),
                    },
                    &posted.user,
                )?)
                .await;
            if answered(result, &mut form)?.is_some() {
                return Ok(see_other(&format!("/reviews/{id}/rapid-review")));
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/panel_response.html",
            &form,
            &["received_on"],
            panel_response_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}
