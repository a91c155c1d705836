//! Moving a review on, and the parallel processes that can delay it.

use super::*;

// ---- Advance stage -----------------------------------------------------------------

pub(super) fn advance_extra(review: &registry::Review) -> Value {
    let stages: Vec<Choice> = review
        .next_stages()
        .map(|stage| Choice {
            value: stage.as_str_name().into(),
            label: words(stage.as_str_name(), "STAGE_"),
            hint: None,
        })
        .collect();
    let only = (stages.len() == 1).then(|| stages[0].value.clone());
    context! { stages, only }
}

get_form! {
    advance_form: "AdvanceStage", "admin/advance.html", &[],
    |review, _| advance_extra(review)
}

pub(super) async fn advance(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "AdvanceStage")?;
        let to_stage = registry::Stage::from_str_name(form.get("to_stage"))
            .filter(|stage| *stage != registry::Stage::Unspecified);
        match to_stage {
            None => form.errors.add("to_stage", "Select the stage to move to"),
            Some(to_stage) => {
                let mut client = state.services.registry.clone();
                let result = client
                    .advance_stage(authed(
                        registry::AdvanceStageRequest {
                            review_id: id.clone(),
                            to_stage: to_stage as i32,
                        },
                        &posted.user,
                    )?)
                    .await;
                if answered(result, &mut form)?.is_some() {
                    return Ok(see_other(&review_path(&id)));
                }
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/advance.html",
            &form,
            &[],
            advance_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Parallel processes ------------------------------------------------------------

pub(super) fn parallel_extra(user: &User) -> impl Fn(&registry::Review) -> Value + '_ {
    move |review| {
        let kinds: Vec<Choice> = (1..)
            .map_while(|value| registry::ParallelProcessKind::try_from(value).ok())
            .map(|kind| Choice {
                value: kind.as_str_name().into(),
                label: words(kind.as_str_name(), "PARALLEL_PROCESS_KIND_"),
                hint: None,
            })
            .collect();
        let may_end = user.may(REGISTRY, "EndParallelProcess");
        let processes: Vec<Value> = review
            .parallel_processes
            .iter()
            .map(|process| {
                context! {
                    id => process.id,
                    kind => words(process.kind().as_str_name(), "PARALLEL_PROCESS_KIND_"),
                    description => process.description,
                    started_on => views::date(process.started_on.as_ref()),
                    ended_on => views::date(process.ended_on.as_ref()),
                    days_impact => process.days_impact,
                    end_href => (may_end && process.ended_on.is_none()).then(|| format!(
                        "/reviews/{}/parallel-processes/{}/end", review.id, process.id
                    )),
                }
            })
            .collect();
        context! { kinds, processes }
    }
}

pub(super) async fn parallel_form(
    State(state): Shared,
    Path(id): Path<String>,
    signed: SignedIn,
) -> Response {
    let user = signed.user.clone();
    let extra = parallel_extra(&user);
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "RecordParallelProcess",
        "admin/parallel_processes.html",
        &["started_on"],
        |review, _| extra(review),
    )
    .await;
    signed.finish(&state, outcome)
}

pub(super) async fn parallel(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordParallelProcess")?;
        let request_id = request_id_of(&form);
        let kind = registry::ParallelProcessKind::from_str_name(form.get("kind"))
            .filter(|kind| *kind != registry::ParallelProcessKind::Unspecified);
        if kind.is_none() {
            form.errors.add("kind", "Select the kind of process");
        }
        let description = form.required("description", "Enter a short description");
        let started_on = form.date("started_on", "the date it started", true);
        if let (true, Some(kind)) = (form.errors.is_empty(), kind) {
            let mut client = state.services.registry.clone();
            let result = client
                .record_parallel_process(authed(
                    registry::RecordParallelProcessRequest {
                        review_id: id.clone(),
                        request_id,
                        kind: kind as i32,
                        description,
                        started_on,
                    },
                    &posted.user,
                )?)
                .await;
            if answered(result, &mut form)?.is_some() {
                return Ok(see_other(&format!("/reviews/{id}/parallel-processes")));
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/parallel_processes.html",
            &form,
            &["started_on"],
            parallel_extra(&posted.user),
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

pub(super) fn end_extra(process: &str) -> impl Fn(&registry::Review) -> Value + '_ {
    move |review| {
        let found = review
            .parallel_processes
            .iter()
            .find(|candidate| candidate.id == process);
        context! {
            process_id => process,
            kind => found.map(|process| words(process.kind().as_str_name(), "PARALLEL_PROCESS_KIND_")),
            description => found.map(|process| process.description.clone()),
            started_on => found.and_then(|process| views::date(process.started_on.as_ref())),
        }
    }
}

pub(super) async fn end_parallel_form(
    State(state): Shared,
    Path((id, process)): Path<(String, String)>,
    signed: SignedIn,
) -> Response {
    let extra = end_extra(&process);
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "EndParallelProcess",
        "admin/end_parallel_process.html",
        &["ended_on"],
        |review, _| extra(review),
    )
    .await;
    signed.finish(&state, outcome)
}

pub(super) async fn end_parallel(
    State(state): Shared,
    Path((id, process)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "EndParallelProcess")?;
        let ended_on = form.date("ended_on", "the date it ended", true);
        if form.errors.is_empty() {
            let mut client = state.services.registry.clone();
            let result = client
                .end_parallel_process(authed(
                    registry::EndParallelProcessRequest {
                        review_id: id.clone(),
                        parallel_process_id: process.clone(),
                        ended_on,
                    },
                    &posted.user,
                )?)
                .await;
            if answered(result, &mut form)?.is_some() {
                return Ok(see_other(&format!("/reviews/{id}/parallel-processes")));
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/end_parallel_process.html",
            &form,
            &["ended_on"],
            end_extra(&process),
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}
