//! Setting a local review up: its panel (with the independence declaration), its reviewer
//! and its terms of reference (the agencies asked for reports).

use super::*;

// ---- Panel member ------------------------------------------------------------------

pub(super) fn panel_extra(review: &registry::Review) -> Value {
    let roles = vec![
        Choice {
            value: registry::PanelRole::Chair.as_str_name().into(),
            label: "Chair".into(),
            hint: Some("Signs off decisions and the overview report. A panel has one chair."),
        },
        Choice {
            value: registry::PanelRole::Member.as_str_name().into(),
            label: "Member".into(),
            hint: None,
        },
    ];
    let panel: Vec<Value> = review
        .panel
        .iter()
        .map(|member| {
            context! {
                name => member.name,
                organisation => member.organisation,
                role => words(member.role().as_str_name(), "PANEL_ROLE_"),
            }
        })
        .collect();
    context! { roles, panel }
}

get_form! {
    panel_member_form: "AppointPanelMember", "admin/panel_member.html", &[],
    |review, _| panel_extra(review)
}

pub(super) async fn panel_member(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "AppointPanelMember")?;
        let request_id = request_id_of(&form);
        let name = form.required("name", "Enter the panel member's name");
        let email = form.required("email", "Enter the panel member's email address");
        let organisation = form.required("organisation", "Enter the organisation they come from");
        let role = registry::PanelRole::from_str_name(form.get("role"))
            .filter(|role| *role != registry::PanelRole::Unspecified);
        if role.is_none() {
            form.errors.add(
                "role",
                "Select whether they chair the panel or are a member",
            );
        }
        let declares = form.get("declares_no_involvement") == "yes";
        if !declares {
            form.errors.add(
                "declares_no_involvement",
                "The panel member must declare they were not directly involved in the case",
            );
        }
        if let (true, Some(role)) = (form.errors.is_empty(), role) {
            let mut client = state.services.registry.clone();
            let result = client
                .appoint_panel_member(authed(
                    registry::AppointPanelMemberRequest {
                        review_id: id.clone(),
                        request_id,
                        name,
                        email,
                        organisation,
                        role: role as i32,
                        declares_no_involvement: declares,
                        independence_statement: form.get("independence_statement").into(),
                    },
                    &posted.user,
                )?)
                .await;
            match result {
                Ok(_) => return Ok(see_other(&review_path(&id))),
                // The registry's panel rules, beside the field that can fix them: an
                // involved practitioner or someone already on the panel (their email), a
                // second chair (the role). Any other refusal (the review has ended) is its
                // page.
                Err(status)
                    if status.code() == tonic::Code::FailedPrecondition
                        && panel_field(status.message(), form.get("email")).is_some() =>
                {
                    let field = panel_field(status.message(), form.get("email")).unwrap_or("email");
                    form.errors
                        .add(field, &crate::pages::sentence(status.message()));
                }
                Err(status) => {
                    PageError::from(status).into_form_errors(&mut form.errors)?;
                }
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/panel_member.html",
            &form,
            &[],
            panel_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

/// The field of the panel member form a refusal of the registry is about, if any.
pub(crate) fn panel_field(message: &str, email: &str) -> Option<&'static str> {
    if !email.is_empty() && message.to_lowercase().contains(&email.to_lowercase()) {
        Some("email")
    } else if message.contains("already has a chair") {
        Some("role")
    } else {
        None
    }
}

// ---- Reviewer ----------------------------------------------------------------------

pub(super) async fn reviewer_form(
    State(state): Shared,
    Path(id): Path<String>,
    signed: SignedIn,
) -> Response {
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "AppointReviewer",
        "admin/reviewer.html",
        &["appointed_on"],
        |review, form| {
            if let Some(reviewer) = &review.reviewer {
                fill(form, "name", &reviewer.name);
                fill(form, "email", &reviewer.email);
                fill(form, "subject", &reviewer.subject);
            }
            context! {}
        },
    )
    .await;
    signed.finish(&state, outcome)
}

pub(super) async fn reviewer(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "AppointReviewer")?;
        let name = form.required("name", "Enter the reviewer's name");
        let email = form.required("email", "Enter the reviewer's email address");
        let subject = form.required("subject", "Enter the reviewer's sign-in identity");
        let appointed_on = form.date("appointed_on", "the date of the appointment", true);
        if form.errors.is_empty() {
            let mut client = state.services.registry.clone();
            let result = client
                .appoint_reviewer(authed(
                    registry::AppointReviewerRequest {
                        review_id: id.clone(),
                        name,
                        email,
                        subject,
                        appointed_on,
                    },
                    &posted.user,
                )?)
                .await;
            if answered(result, &mut form)?.is_some() {
                return Ok(see_other(&review_path(&id)));
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/reviewer.html",
            &form,
            &["appointed_on"],
            no_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Terms of reference ------------------------------------------------------------

pub(super) const TERMS_DATES: &[&str] = &["scope_start", "scope_end", "report_due_date"];

pub(super) fn terms_extra(_: &registry::Review) -> Value {
    context! { rows => (0..AGENCY_ROWS).collect::<Vec<_>>() }
}

/// The terms as someone else set them while the user was editing: shown beside the form
/// the user sent, with the registry's `message`.
fn stale_terms(review: &registry::Review, message: &str) -> Value {
    let theirs = review.terms_of_reference.as_ref().map(|terms| {
        context! {
            version => terms.version,
            lines => terms.key_lines_of_enquiry,
            methodology => terms.methodology,
            agencies => terms
                .agencies_in_scope
                .iter()
                .map(|agency| format!("{} ({}), {}", agency.name, agency.id, agency.contact_email))
                .collect::<Vec<_>>(),
            due => crate::views::date(terms.report_due_date.as_ref()),
            set => crate::views::time(terms.set_time.as_ref()),
        }
    });
    context! {
        rows => (0..AGENCY_ROWS).collect::<Vec<_>>(),
        stale => context! { message => crate::pages::sentence(message), theirs },
    }
}

pub(super) async fn terms_form(
    State(state): Shared,
    Path(id): Path<String>,
    signed: SignedIn,
) -> Response {
    let outcome = form_get(
        &state,
        &signed,
        &id,
        "SetTermsOfReference",
        "admin/terms_of_reference.html",
        TERMS_DATES,
        |review, form| {
            // A revision starts from the terms as they are, and says which version it was
            // made from (a revision by someone else meanwhile is then not overwritten).
            fill(
                form,
                "based_on_version",
                &review
                    .terms_of_reference
                    .as_ref()
                    .map_or(0, |terms| terms.version)
                    .to_string(),
            );
            if let Some(terms) = &review.terms_of_reference {
                fill_date(form, "scope_start", terms.scope_start.as_ref());
                fill_date(form, "scope_end", terms.scope_end.as_ref());
                fill_date(form, "report_due_date", terms.report_due_date.as_ref());
                fill(
                    form,
                    "key_lines_of_enquiry",
                    &terms.key_lines_of_enquiry.join("\n"),
                );
                fill(form, "methodology", &terms.methodology);
                for (row, agency) in terms.agencies_in_scope.iter().enumerate() {
                    fill(form, &format!("agency_id_{row}"), &agency.id);
                    fill(form, &format!("agency_name_{row}"), &agency.name);
                    fill(form, &format!("agency_email_{row}"), &agency.contact_email);
                }
            }
            terms_extra(review)
        },
    )
    .await;
    signed.finish(&state, outcome)
}

/// The agency rows filled in (an empty row is ignored), each with its row number; a row
/// half filled in is a problem on its first empty field.
pub(crate) fn agency_rows(form: &mut Form) -> Vec<(usize, registry::Agency)> {
    let mut agencies = Vec::new();
    for row in 0..AGENCY_ROWS {
        let [id, name, email] = ["agency_id", "agency_name", "agency_email"]
            .map(|field| form.get(&format!("{field}_{row}")).to_string());
        if id.is_empty() && name.is_empty() && email.is_empty() {
            continue;
        }
        let number = row + 1;
        for (field, value, what) in [
            ("agency_id", &id, "an id"),
            ("agency_name", &name, "a name"),
            ("agency_email", &email, "a contact email address"),
        ] {
            if value.is_empty() {
                form.errors.add(
                    &format!("{field}_{row}"),
                    &format!("Enter {what} for agency {number}"),
                );
            }
        }
        agencies.push((
            row,
            registry::Agency {
                id,
                name,
                contact_email: email,
            },
        ));
    }
    agencies
}

/// The registry's field names (`agencies_in_scope[1].contact_email`) as the form's, with the
/// rows sent (empty rows left out) mapped back to the rows shown.
pub(crate) fn terms_field(field: &str, rows: &[usize]) -> String {
    if let Some(rest) = field.strip_prefix("agencies_in_scope[")
        && let Some((index, name)) = rest.split_once("].")
    {
        let row = index
            .parse::<usize>()
            .ok()
            .and_then(|index| rows.get(index).copied())
            .unwrap_or_default();
        let name = match name {
            "id" => "agency_id",
            "name" => "agency_name",
            _ => "agency_email",
        };
        return format!("{name}_{row}");
    }
    if field == "agencies_in_scope" {
        return "agency_id_0".into();
    }
    if field.starts_with("key_lines_of_enquiry") {
        return "key_lines_of_enquiry".into();
    }
    field.to_string()
}

/// Whether `terms` are what `request` sets (a resend of them).
pub(crate) fn same_terms(
    terms: &registry::TermsOfReference,
    request: &registry::SetTermsOfReferenceRequest,
) -> bool {
    terms.scope_start == request.scope_start
        && terms.scope_end == request.scope_end
        && terms.key_lines_of_enquiry == request.key_lines_of_enquiry
        && terms.methodology == request.methodology
        && terms.agencies_in_scope == request.agencies_in_scope
        && terms.report_due_date == request.report_due_date
}

pub(super) async fn terms(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "SetTermsOfReference")?;
        let scope_start = form.date("scope_start", "the start of the period under review", true);
        let scope_end = form.date("scope_end", "the end of the period under review", true);
        let lines: Vec<String> = form
            .get("key_lines_of_enquiry")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(String::from)
            .collect();
        if lines.is_empty() {
            form.errors.add(
                "key_lines_of_enquiry",
                "Enter at least one key line of enquiry",
            );
        }
        let methodology = form.required("methodology", "Enter how the review will be run");
        let agencies = agency_rows(&mut form);
        if agencies.is_empty() {
            form.errors.add(
                "agency_id_0",
                "Enter at least one agency to ask for a report",
            );
        }
        let report_due_date = form.date("report_due_date", "the date agency reports are due", true);
        if form.errors.is_empty() {
            let rows: Vec<usize> = agencies.iter().map(|(row, _)| *row).collect();
            let request = registry::SetTermsOfReferenceRequest {
                review_id: id.clone(),
                scope_start,
                scope_end,
                key_lines_of_enquiry: lines,
                methodology,
                agencies_in_scope: agencies.into_iter().map(|(_, agency)| agency).collect(),
                report_due_date,
                based_on_version: form.get("based_on_version").parse::<i32>().ok(),
            };
            // Every setting is a new version that asks the agencies again: the same terms
            // sent twice (a double click, a resend) are not revised a second time.
            let review = review_of(&state, &posted.user, &id).await?;
            if review
                .terms_of_reference
                .as_ref()
                .is_some_and(|terms| same_terms(terms, &request))
            {
                return Ok(see_other(&review_path(&id)));
            }
            let mut client = state.services.registry.clone();
            let result = client
                .set_terms_of_reference(authed(request, &posted.user)?)
                .await;
            match result {
                Ok(_) => return Ok(see_other(&review_path(&id))),
                // Changed by someone else since the form was opened: their version beside
                // the user's, and the form now made from theirs (sent again, it replaces
                // it on purpose).
                Err(status) if status.code() == tonic::Code::Aborted => {
                    let review = review_of(&state, &posted.user, &id).await?;
                    let current = review
                        .terms_of_reference
                        .as_ref()
                        .map_or(0, |terms| terms.version);
                    form.set("based_on_version", &current.to_string());
                    let message = status.message().to_string();
                    return again(
                        &state,
                        &posted,
                        &id,
                        "admin/terms_of_reference.html",
                        &form,
                        TERMS_DATES,
                        move |review| stale_terms(review, &message),
                    )
                    .await
                    .map(|mut page| {
                        *page.status_mut() = axum::http::StatusCode::CONFLICT;
                        page
                    });
                }
                Err(status) => match PageError::from(status) {
                    PageError::Invalid(fields) if !fields.is_empty() => {
                        for field in fields {
                            form.errors.add(
                                &terms_field(&field.field, &rows),
                                &crate::pages::sentence(&field.description),
                            );
                        }
                    }
                    other => return Err(other),
                },
            }
        }
        again(
            &state,
            &posted,
            &id,
            "admin/terms_of_reference.html",
            &form,
            TERMS_DATES,
            terms_extra,
        )
        .await
    }
    .await;
    posted.finish(&state, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_agency_rows_are_ignored_and_half_filled_ones_named() {
        let mut form = Form::parse(
            b"agency_id_0=police&agency_name_0=Police&agency_email_0=p%40x.org\
              &agency_id_2=gp&agency_name_2=&agency_email_2=g%40x.org\
              &agency_id_4=health&agency_name_4=Health&agency_email_4=h%40x.org",
        );
        let rows = agency_rows(&mut form);
        assert_eq!(
            rows.iter().map(|(row, _)| *row).collect::<Vec<_>>(),
            vec![0, 2, 4]
        );
        assert_eq!(rows[2].1.id, "health");
        assert_eq!(
            form.errors.by_field["agency_name_2"],
            "Enter a name for agency 3"
        );
        assert_eq!(form.errors.list.len(), 1);
        // The registry's names of the rows sent are the rows shown.
        assert_eq!(
            terms_field("agencies_in_scope[2].contact_email", &[0, 2, 4]),
            "agency_email_4"
        );
        assert_eq!(
            terms_field("agencies_in_scope[1].id", &[0, 2, 4]),
            "agency_id_2"
        );
        assert_eq!(
            terms_field("key_lines_of_enquiry[3]", &[]),
            "key_lines_of_enquiry"
        );
        assert_eq!(terms_field("scope_end", &[]), "scope_end");
    }

    #[test]
    fn a_panel_refusal_is_put_beside_the_field_that_fixes_it() {
        assert_eq!(
            panel_field("Ann@x.org is already on the panel", "ann@x.org"),
            Some("email")
        );
        assert_eq!(
            panel_field("the panel already has a chair", "b@x.org"),
            Some("role")
        );
        assert_eq!(
            panel_field(
                "appointing a panel member is not possible while the review is at closed",
                "b@x.org"
            ),
            None
        );
    }
}
