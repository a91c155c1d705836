//! The panel's meetings: the review's meetings as every reader of the review sees them
//! (when and where, the agenda, where each stands, and a held one's record with its
//! decisions linked to the commands that carried them out), and the business unit's and the
//! chair's forms to schedule, change, cancel and record one. Times are typed and shown in
//! UK time (GMT or BST, [`crate::uk_time`]); the registry keeps them in UTC.
//!
//! A refusal as things stand (the meeting has not started yet, it was cancelled, the review
//! has ended) is shown on the form, in the registry's words, with what was typed kept: the
//! minutes of a meeting are too long to type twice.

use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::*;
use crate::forms::{field, form_fields};
use crate::pages::sentence;
use crate::uk_time;

/// Meetings on one page of the list.
pub(crate) const MEETINGS_PAGE_SIZE: i32 = 20;
/// Pages of 100 read at most to find one meeting (a review has a few dozen at most).
const MAX_MEETING_PAGES: usize = 10;
/// How many decision rows the record form has (empty ones are ignored).
pub(crate) const DECISION_ROWS: usize = 5;
/// How many action point rows the record form has (empty ones are ignored).
pub(crate) const ACTION_POINT_ROWS: usize = 5;

/// The schedule and change form's date input.
const MEETING_DATES: &[&str] = &["date"];

/// The form field a refusal as things stand is shown on (the meeting's summary, or the
/// form's opening words).
const REFUSAL_FIELD: &str = "meeting";

fn meetings_path(id: &str) -> String {
    format!("/reviews/{id}/meetings")
}

// ---- How a meeting reads -----------------------------------------------------------

fn status_tag(status: registry::PanelMeetingStatus) -> (&'static str, &'static str) {
    use registry::PanelMeetingStatus as S;
    match status {
        S::Scheduled | S::Unspecified => ("Scheduled", "govuk-tag--blue"),
        S::Held => ("Held", "govuk-tag--green"),
        S::Cancelled => ("Cancelled", "govuk-tag--grey"),
    }
}

/// A decision's kind in words.
pub(crate) fn decision_words(kind: registry::PanelDecisionKind) -> &'static str {
    use registry::PanelDecisionKind as K;
    match kind {
        K::TermsAgreed => "Terms of reference agreed",
        K::ReportsAccepted => "Agency reports accepted",
        K::ReportApproved => "Overview report approved",
        K::Other => "Other decision",
        K::Unspecified => "",
    }
}

/// The kinds a command carries out, whose decisions say by what (or that nothing has yet).
fn linkable(kind: registry::PanelDecisionKind) -> bool {
    use registry::PanelDecisionKind as K;
    matches!(
        kind,
        K::TermsAgreed | K::ReportsAccepted | K::ReportApproved
    )
}

/// A command that carried a decision out: "SetTermsOfReference, tess-chair, 11 March 2026
/// 12:00"; "AcceptAgencyReport (police), …" for one agency's report.
pub(crate) fn carried_out_words(link: &registry::CommandLink) -> String {
    let mut parts = vec![if link.detail.is_empty() {
        link.action.clone()
    } else {
        format!("{} ({})", link.action, link.detail)
    }];
    if !link.actor.is_empty() {
        parts.push(link.actor.clone());
    }
    parts.extend(views::uk_time(link.time.as_ref()));
    parts.join(", ")
}

/// "Changed 1 time", "Changed 3 times": a cancellation raises the sequence too, so it is
/// not counted as a change.
pub(crate) fn changes_words(meeting: &registry::PanelMeeting) -> Option<String> {
    let cancelled = meeting.status() == registry::PanelMeetingStatus::Cancelled;
    let changes = meeting.sequence - i32::from(cancelled);
    match changes {
        ..=0 => None,
        1 => Some("Changed 1 time".into()),
        many => Some(format!("Changed {many} times")),
    }
}

/// When a meeting is, in UK time: "Thursday 15 July 2027, 10:00 to 12:00" (the end's day
/// too when it is another).
pub(crate) fn when(meeting: &registry::PanelMeeting) -> String {
    let (start, end) = (meeting.start_time.as_ref(), meeting.end_time.as_ref());
    let (Some(day), Some(from)) = (views::uk_day(start), views::uk_clock(start)) else {
        return String::new();
    };
    let to = views::uk_clock(end).unwrap_or_default();
    match views::uk_day(end) {
        Some(end_day) if end_day != day => format!("{day}, {from} to {end_day}, {to}"),
        _ => format!("{day}, {from} to {to}"),
    }
}

/// A location that is an online meeting's link, to follow (only http and https).
fn online_link(location: &str) -> Option<&str> {
    let location = location.trim();
    let lower = location.to_ascii_lowercase();
    ((lower.starts_with("https://") || lower.starts_with("http://")) && !location.contains(' '))
        .then_some(location)
}

/// Lines of text, trimmed, empty ones left out (a textarea of one item a line).
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(String::from)
        .collect()
}

/// Which of a meeting's forms the user is offered: changing and cancelling while the
/// review is open; recording, by the registry's rule, after it ended too (the minutes of
/// its last meeting are still written up).
struct Offers {
    schedule: bool,
    cancel: bool,
    record: bool,
}

impl Offers {
    fn of(user: &User, review: &registry::Review) -> Self {
        let open = super::super::open(review.stage());
        Self {
            schedule: open && user.may(REGISTRY, "SchedulePanelMeeting"),
            cancel: open && user.may(REGISTRY, "CancelPanelMeeting"),
            record: user.may(REGISTRY, "RecordPanelMeeting"),
        }
    }

    fn none() -> Self {
        Self {
            schedule: false,
            cancel: false,
            record: false,
        }
    }
}

fn record_view(record: &registry::PanelMeetingRecord) -> Value {
    let decisions: Vec<Value> = record
        .decisions
        .iter()
        .map(|decision| {
            let kind = decision.kind();
            context! {
                kind => decision_words(kind),
                text => decision.text,
                carried_out => decision.carried_out_by.iter().map(carried_out_words).collect::<Vec<_>>(),
                linkable => linkable(kind),
            }
        })
        .collect();
    let action_points: Vec<Value> = record
        .action_points
        .iter()
        .map(|point| {
            context! {
                text => point.text,
                owner => point.owner,
                due_on => views::date(point.due_on.as_ref()),
            }
        })
        .collect();
    context! {
        attendance => record.attendance,
        apologies => record.apologies,
        minutes => lines(&record.minutes),
        decisions,
        action_points,
        recorded_by => record.recorded_by,
        recorded_at => views::uk_time(record.record_time.as_ref()),
    }
}

/// A meeting as the pages show it, with the links to its forms the user is offered.
fn meeting_view(
    review_id: &str,
    meeting: &registry::PanelMeeting,
    offers: &Offers,
    now: DateTime<Utc>,
) -> Value {
    let status = meeting.status();
    let (status_words, tag) = status_tag(status);
    let scheduled = status == registry::PanelMeetingStatus::Scheduled;
    let started = views::utc(meeting.start_time.as_ref()).is_some_and(|start| start <= now);
    let base = format!("/reviews/{review_id}/meetings/{}", meeting.id);
    context! {
        id => meeting.id,
        when => when(meeting),
        location => meeting.location,
        location_href => online_link(&meeting.location),
        agenda => meeting.agenda,
        status => status_words,
        tag,
        changes => changes_words(meeting),
        cancel_reason => (!meeting.cancel_reason.is_empty()).then_some(&meeting.cancel_reason),
        scheduled_by => meeting.scheduled_by,
        updated => views::uk_time(meeting.update_time.as_ref()),
        record => meeting.record.as_ref().map(record_view),
        change_href => (scheduled && offers.schedule).then(|| format!("{base}/change")),
        cancel_href => (scheduled && offers.cancel).then(|| format!("{base}/cancel")),
        record_href => (scheduled && started && offers.record).then(|| format!("{base}/record")),
        awaiting_start => scheduled && !started,
    }
}

// ---- The list ------------------------------------------------------------------------

/// GET /reviews/{id}/meetings: the review's panel meetings, earliest first, a page at a time.
pub(super) async fn meetings(
    State(state): Shared,
    Path(id): Path<String>,
    signed: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = async {
        signed.may(REGISTRY, "ListPanelMeetings")?;
        let query = form_fields(query.as_deref().unwrap_or("").as_bytes());
        let page_token = field(&query, "page_token").to_string();
        let review = review_of(&state, &signed.user, &id).await?;
        let page = state
            .services
            .registry
            .clone()
            .list_panel_meetings(authed(
                registry::ListPanelMeetingsRequest {
                    review_id: id.clone(),
                    page_size: MEETINGS_PAGE_SIZE,
                    page_token: page_token.clone(),
                },
                &signed.user,
            )?)
            .await?
            .into_inner();
        let offers = Offers::of(&signed.user, &review);
        let now = Utc::now();
        let meetings: Vec<Value> = page
            .meetings
            .iter()
            .map(|meeting| meeting_view(&id, meeting, &offers, now))
            .collect();
        let link = |token: &str| {
            let mut url = form_urlencoded::Serializer::new(String::new());
            url.append_pair("page_token", token);
            format!("{}?{}", meetings_path(&id), url.finish())
        };
        let next_page = (!page.next_page_token.is_empty()).then(|| link(&page.next_page_token));
        let first_page = (!page_token.is_empty()).then(|| meetings_path(&id));
        render(
            &state,
            "admin/meetings.html",
            &signed.session,
            context! {
                review => ReviewView::from(&review),
                review_id => review.id,
                meetings,
                next_page,
                first_page,
                schedule_href => offers.schedule.then(|| format!("{}/new", meetings_path(&id))),
            },
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// The meeting `meeting_id` of the review, as the registry lists it.
async fn meeting_of(
    state: &AppState,
    user: &User,
    review_id: &str,
    meeting_id: &str,
) -> Result<registry::PanelMeeting, PageError> {
    let mut client = state.services.registry.clone();
    let mut page_token = String::new();
    for _ in 0..MAX_MEETING_PAGES {
        let page = client
            .list_panel_meetings(authed(
                registry::ListPanelMeetingsRequest {
                    review_id: review_id.to_string(),
                    page_size: 100,
                    page_token,
                },
                user,
            )?)
            .await?
            .into_inner();
        if let Some(found) = page
            .meetings
            .into_iter()
            .find(|meeting| meeting.id == meeting_id)
        {
            return Ok(found);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Err(PageError::NotFound)
}

/// A form of a meeting that is no longer scheduled is refused before it is filled in.
fn still_scheduled(meeting: &registry::PanelMeeting, what: &str) -> Result<(), PageError> {
    match meeting.status() {
        registry::PanelMeetingStatus::Held => Err(PageError::Refused(format!(
            "this meeting was held and recorded: it cannot be {what}"
        ))),
        registry::PanelMeetingStatus::Cancelled => Err(PageError::Refused(format!(
            "this meeting was cancelled: it cannot be {what} (schedule a new one)"
        ))),
        _ => Ok(()),
    }
}

// ---- What a form sends, and what the registry answers --------------------------------

/// A time of day as people type it: 14:30, 9:05, 14.30, 1430, 2pm, 2:30pm.
pub(crate) fn parse_clock(text: &str) -> Option<NaiveTime> {
    let text: String = text
        .chars()
        .filter(|letter| !letter.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let (body, afternoon) = match (text.strip_suffix("am"), text.strip_suffix("pm")) {
        (Some(body), _) => (body, Some(false)),
        (_, Some(body)) => (body, Some(true)),
        _ => (text.as_str(), None),
    };
    let (hours, minutes) = match body.split_once([':', '.']) {
        Some(parts) => parts,
        None if afternoon.is_some() => (body, "00"),
        None if body.len() == 4 && body.is_ascii() => body.split_at(2),
        None => return None,
    };
    let digits = |part: &str, lengths: &[usize]| {
        lengths.contains(&part.len()) && part.bytes().all(|byte| byte.is_ascii_digit())
    };
    if !digits(hours, &[1, 2]) || !digits(minutes, &[2]) {
        return None;
    }
    let mut hour: u32 = hours.parse().ok()?;
    let minute: u32 = minutes.parse().ok()?;
    if let Some(afternoon) = afternoon {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if afternoon { 12 } else { 0 };
    }
    NaiveTime::from_hms_opt(hour, minute, 0)
}

/// The time of day in `name`, or a problem on it ("the start time" is `label`).
fn clock(form: &mut Form, name: &str, label: &str) -> Option<NaiveTime> {
    let typed = form.get(name).to_string();
    if typed.is_empty() {
        form.errors.add(name, &format!("Enter {label}"));
        return None;
    }
    let parsed = parse_clock(&typed);
    if parsed.is_none() {
        form.errors.add(
            name,
            &format!("Enter {label} as hours and minutes, like 14:30"),
        );
    }
    parsed
}

/// `time` on `day` in UK time as a moment, or a problem on `name` (the hour the clocks go
/// forward is skipped).
fn uk_moment(
    form: &mut Form,
    name: &str,
    day: NaiveDate,
    time: NaiveTime,
) -> Option<prost_types::Timestamp> {
    match uk_time::to_utc(day.and_time(time)) {
        Ok(at) => Some(prost_types::Timestamp {
            seconds: at.timestamp(),
            nanos: 0,
        }),
        Err(uk_time::NoSuchTime::ClocksGoForward) => {
            form.errors.add(
                name,
                &format!(
                    "The clocks go forward at 1am on {}: there is no {} that day. Enter a time before 1am or from 2am",
                    day.format("%-d %B %Y"),
                    time.format("%H:%M")
                ),
            );
            None
        }
    }
}

/// When, where and what a meeting is for, as the form has them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Arrangements {
    pub(crate) start_time: prost_types::Timestamp,
    pub(crate) end_time: prost_types::Timestamp,
    pub(crate) location: String,
    pub(crate) agenda: Vec<String>,
}

/// The schedule and change form as typed, checked: `None` when something is wrong (in
/// `form.errors`).
pub(crate) fn read_arrangements(form: &mut Form) -> Option<Arrangements> {
    let day = form.date("date", "the day of the meeting", true);
    let start = clock(form, "start_time", "the start time");
    let end = clock(form, "end_time", "the end time");
    let location = form.required("location", "Enter where the meeting is, or its online link");
    let agenda = lines(form.get("agenda"));
    if agenda.is_empty() {
        form.errors
            .add("agenda", "Enter the agenda, one item on each line");
    }
    let day = crate::timeline::day(day.as_ref())?;
    let start_time = uk_moment(form, "start_time", day, start?);
    let end_time = uk_moment(form, "end_time", day, end?);
    if !form.errors.is_empty() {
        return None;
    }
    Some(Arrangements {
        start_time: start_time?,
        end_time: end_time?,
        location,
        agenda,
    })
}

/// The schedule and change form filled from `meeting`, in UK time.
fn fill_arrangements(form: &mut Form, meeting: &registry::PanelMeeting) {
    use chrono::Datelike;
    if let Some(start) = views::utc(meeting.start_time.as_ref()) {
        let day = uk_time::to_local(start).date();
        let date = Date {
            year: day.year(),
            month: i32::try_from(day.month()).unwrap_or_default(),
            day: i32::try_from(day.day()).unwrap_or_default(),
        };
        fill_date(form, "date", Some(&date));
    }
    let start = views::uk_clock(meeting.start_time.as_ref()).unwrap_or_default();
    let end = views::uk_clock(meeting.end_time.as_ref()).unwrap_or_default();
    fill(form, "start_time", &start);
    fill(form, "end_time", &end);
    fill(form, "location", &meeting.location);
    fill(form, "agenda", &meeting.agenda.join("\n"));
}

/// The schedule and change form's field a registry field is (`agenda[2]` is the agenda's).
pub(crate) fn arrangements_field(field: &str) -> String {
    match field {
        "start_time" | "end_time" | "location" => field.to_string(),
        _ if field.starts_with("agenda") => "agenda".into(),
        _ => REFUSAL_FIELD.into(),
    }
}

/// A command's answer on a meeting's form.
enum Answer {
    Done,
    /// The registry named fields: now in the form's problems.
    Invalid,
    /// Not possible as things stand: the registry's reason.
    Refused(String),
}

/// The registry's answer to a meeting command: its field violations into the form's
/// problems (by `field_of`), a refusal as things stand kept to show on the form; any other
/// refusal as its page.
fn answer<T>(
    result: Result<tonic::Response<T>, tonic::Status>,
    form: &mut Form,
    field_of: impl Fn(&str) -> String,
) -> Result<Answer, PageError> {
    match result {
        Ok(_) => Ok(Answer::Done),
        Err(status) => match PageError::from(status) {
            PageError::Invalid(fields) if !fields.is_empty() => {
                for field in fields {
                    form.errors
                        .add(&field_of(&field.field), &sentence(&field.description));
                }
                Ok(Answer::Invalid)
            }
            PageError::Refused(reason) => Ok(Answer::Refused(reason)),
            other => Err(other),
        },
    }
}

/// The form again with the registry's refusal on it, as a 409 (nothing was changed).
fn refused_on(form: &mut Form, reason: &str) {
    form.errors.add(REFUSAL_FIELD, &sentence(reason));
}

fn conflict_if(page: Response, refused: bool) -> Response {
    if refused {
        (StatusCode::CONFLICT, page).into_response()
    } else {
        page
    }
}

/// A meeting's form page: `template` on the review, with the meeting (when there is one)
/// and the page's own `extra`; a 409 when the registry refused it as things stand.
#[allow(clippy::too_many_arguments)]
fn meeting_page(
    state: &AppState,
    session: &Session,
    template: &str,
    review: &registry::Review,
    meeting: Option<&registry::PanelMeeting>,
    form: &Form,
    dates: &[&str],
    extra: Value,
    refused: bool,
) -> Result<Response, PageError> {
    let meeting =
        meeting.map(|meeting| meeting_view(&review.id, meeting, &Offers::none(), Utc::now()));
    let page = page(
        state,
        session,
        template,
        review,
        form,
        dates,
        context! { meeting, back => meetings_path(&review.id), ..extra },
    )?;
    Ok(conflict_if(page, refused))
}

// ---- Schedule and change -------------------------------------------------------------

fn schedule_extra(review: &registry::Review) -> Value {
    context! {
        action => format!("{}/new", meetings_path(&review.id)),
        heading => "Schedule a panel meeting",
        button => "Schedule the meeting",
        new => true,
    }
}

fn change_extra(review: &registry::Review, meeting: &str) -> Value {
    context! {
        action => format!("{}/{meeting}/change", meetings_path(&review.id)),
        heading => "Change a panel meeting",
        button => "Change the meeting",
        new => false,
    }
}

get_form! {
    /// GET /reviews/{id}/meetings/new: the form to schedule a meeting (with its own
    /// idempotency key, so sending it twice is one meeting).
    schedule_meeting_form: "SchedulePanelMeeting", "admin/meeting.html", MEETING_DATES,
    |review, _| context! { back => meetings_path(&review.id), ..schedule_extra(review) }
}

/// What a posted schedule or change form came to.
enum Arranged {
    /// Scheduled or changed: to the list.
    Done(Response),
    /// The form again, with its problems (`refused`: the registry's reason, not a field).
    Again { refused: bool },
}

/// Sends the arrangements of a posted schedule (`request_id`, no meeting) or change (a
/// meeting, no `request_id`) form, its problems on `form`.
async fn arranged(
    state: &AppState,
    posted: &Posted,
    id: &str,
    (request_id, meeting_id): (String, String),
    form: &mut Form,
) -> Result<Arranged, PageError> {
    let Some(arrangements) = read_arrangements(form) else {
        return Ok(Arranged::Again { refused: false });
    };
    let mut client = state.services.registry.clone();
    let result = client
        .schedule_panel_meeting(authed(
            registry::SchedulePanelMeetingRequest {
                review_id: id.to_string(),
                request_id,
                meeting_id,
                start_time: Some(arrangements.start_time),
                end_time: Some(arrangements.end_time),
                location: arrangements.location,
                agenda: arrangements.agenda,
            },
            &posted.user,
        )?)
        .await;
    Ok(match answer(result, form, arrangements_field)? {
        Answer::Done => Arranged::Done(see_other(&meetings_path(id))),
        Answer::Invalid => Arranged::Again { refused: false },
        Answer::Refused(reason) => {
            refused_on(form, &reason);
            Arranged::Again { refused: true }
        }
    })
}

/// POST /reviews/{id}/meetings/new: schedules the meeting (the invitations go out), then
/// the list.
pub(super) async fn schedule_meeting(
    State(state): Shared,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "SchedulePanelMeeting")?;
        let request_id = request_id_of(&form);
        let refused =
            match arranged(&state, &posted, &id, (request_id, String::new()), &mut form).await? {
                Arranged::Done(done) => return Ok(done),
                Arranged::Again { refused } => refused,
            };
        let review = review_of(&state, &posted.user, &id).await?;
        meeting_page(
            &state,
            &posted.session,
            "admin/meeting.html",
            &review,
            None,
            &form,
            MEETING_DATES,
            schedule_extra(&review),
            refused,
        )
    }
    .await;
    posted.finish(&state, outcome)
}

/// GET /reviews/{id}/meetings/{meeting}/change: the form, filled from the meeting.
pub(super) async fn change_meeting_form(
    State(state): Shared,
    Path((id, meeting)): Path<(String, String)>,
    signed: SignedIn,
) -> Response {
    let outcome = async {
        signed.may(REGISTRY, "SchedulePanelMeeting")?;
        let review = review_of(&state, &signed.user, &id).await?;
        let found = meeting_of(&state, &signed.user, &id, &meeting).await?;
        still_scheduled(&found, "changed")?;
        let mut form = Form::default();
        fill_arrangements(&mut form, &found);
        meeting_page(
            &state,
            &signed.session,
            "admin/meeting.html",
            &review,
            Some(&found),
            &form,
            MEETING_DATES,
            change_extra(&review, &meeting),
            false,
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/meetings/{meeting}/change: the new arrangements (an update of the
/// invitees' calendar entry), then the list. The same arrangements again change nothing.
pub(super) async fn change_meeting(
    State(state): Shared,
    Path((id, meeting)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "SchedulePanelMeeting")?;
        let refused = match arranged(
            &state,
            &posted,
            &id,
            (String::new(), meeting.clone()),
            &mut form,
        )
        .await?
        {
            Arranged::Done(done) => return Ok(done),
            Arranged::Again { refused } => refused,
        };
        let review = review_of(&state, &posted.user, &id).await?;
        let found = meeting_of(&state, &posted.user, &id, &meeting).await?;
        meeting_page(
            &state,
            &posted.session,
            "admin/meeting.html",
            &review,
            Some(&found),
            &form,
            MEETING_DATES,
            change_extra(&review, &meeting),
            refused,
        )
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Cancel --------------------------------------------------------------------------

/// GET /reviews/{id}/meetings/{meeting}/cancel: the meeting and the reason's form.
pub(super) async fn cancel_meeting_form(
    State(state): Shared,
    Path((id, meeting)): Path<(String, String)>,
    signed: SignedIn,
) -> Response {
    let outcome = async {
        signed.may(REGISTRY, "CancelPanelMeeting")?;
        let review = review_of(&state, &signed.user, &id).await?;
        let found = meeting_of(&state, &signed.user, &id, &meeting).await?;
        still_scheduled(&found, "cancelled")?;
        meeting_page(
            &state,
            &signed.session,
            "admin/meeting_cancel.html",
            &review,
            Some(&found),
            &Form::default(),
            &[],
            context! {},
            false,
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/meetings/{meeting}/cancel: cancels it (the invitees' calendar entry
/// is cancelled), then the list. Sent twice, the first cancelled it.
pub(super) async fn cancel_meeting(
    State(state): Shared,
    Path((id, meeting)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "CancelPanelMeeting")?;
        let reason = form.required("reason", "Enter why the meeting is cancelled");
        let mut refused = false;
        if form.errors.is_empty() {
            let mut client = state.services.registry.clone();
            let result = client
                .cancel_panel_meeting(authed(
                    registry::CancelPanelMeetingRequest {
                        review_id: id.clone(),
                        meeting_id: meeting.clone(),
                        reason: reason.clone(),
                    },
                    &posted.user,
                )?)
                .await;
            match answer(result, &mut form, |field| match field {
                "reason" => "reason".into(),
                _ => REFUSAL_FIELD.into(),
            })? {
                Answer::Done => return Ok(see_other(&meetings_path(&id))),
                Answer::Invalid => {}
                Answer::Refused(why) => {
                    let found = meeting_of(&state, &posted.user, &id, &meeting).await?;
                    if found.status() == registry::PanelMeetingStatus::Cancelled
                        && found.cancel_reason.trim() == reason
                    {
                        return Ok(see_other(&meetings_path(&id)));
                    }
                    refused_on(&mut form, &why);
                    refused = true;
                }
            }
        }
        let review = review_of(&state, &posted.user, &id).await?;
        let found = meeting_of(&state, &posted.user, &id, &meeting).await?;
        meeting_page(
            &state,
            &posted.session,
            "admin/meeting_cancel.html",
            &review,
            Some(&found),
            &form,
            &[],
            context! {},
            refused,
        )
    }
    .await;
    posted.finish(&state, outcome)
}

// ---- Record --------------------------------------------------------------------------

fn decision_kind_field(row: usize) -> String {
    format!("decision_kind_{row}")
}

fn decision_text_field(row: usize) -> String {
    format!("decision_text_{row}")
}

fn action_field(name: &str, row: usize) -> String {
    format!("action_{name}_{row}")
}

/// The record form's date inputs: each action point's due date.
fn record_dates() -> Vec<String> {
    (0..ACTION_POINT_ROWS)
        .map(|row| action_field("due", row))
        .collect()
}

fn record_extra(review: &registry::Review, meeting: &str) -> Value {
    let kinds: Vec<views::OptionView> = std::iter::once(views::OptionView {
        value: String::new(),
        label: "Select what it was about".into(),
    })
    .chain(
        [
            registry::PanelDecisionKind::TermsAgreed,
            registry::PanelDecisionKind::ReportsAccepted,
            registry::PanelDecisionKind::ReportApproved,
            registry::PanelDecisionKind::Other,
        ]
        .into_iter()
        .map(|kind| views::OptionView {
            value: kind.as_str_name().into(),
            label: decision_words(kind).into(),
        }),
    )
    .collect();
    context! {
        action => format!("{}/{meeting}/record", meetings_path(&review.id)),
        kinds,
        decision_rows => (0..DECISION_ROWS).collect::<Vec<_>>(),
        action_rows => (0..ACTION_POINT_ROWS).collect::<Vec<_>>(),
    }
}

/// The record form as typed, checked: the request (with the rows each decision and action
/// point came from, to put the registry's problems back beside them), `None` when something
/// is wrong (in `form.errors`). Empty rows are ignored; a row half filled in is a problem on
/// what it lacks.
pub(crate) fn read_record(
    form: &mut Form,
) -> Option<(registry::RecordPanelMeetingRequest, Vec<usize>, Vec<usize>)> {
    let attendance = lines(form.get("attendance"));
    if attendance.is_empty() {
        form.errors
            .add("attendance", "Enter who attended, one on each line");
    }
    let apologies = lines(form.get("apologies"));
    let minutes = form.required("minutes", "Enter the minutes of the meeting");
    let mut decisions = Vec::new();
    let mut decision_rows = Vec::new();
    for row in 0..DECISION_ROWS {
        let (kind_field, text_field) = (decision_kind_field(row), decision_text_field(row));
        let kind = form.get(&kind_field).to_string();
        let text = form.get(&text_field).to_string();
        if kind.is_empty() && text.is_empty() {
            continue;
        }
        let number = row + 1;
        let kind = registry::PanelDecisionKind::from_str_name(&kind)
            .filter(|kind| *kind != registry::PanelDecisionKind::Unspecified);
        if kind.is_none() {
            form.errors.add(
                &kind_field,
                &format!("Select what decision {number} was about"),
            );
        }
        if text.is_empty() {
            form.errors.add(
                &text_field,
                &format!("Enter decision {number} as it was minuted"),
            );
        }
        decisions.push(registry::PanelMeetingDecision {
            kind: kind.unwrap_or_default() as i32,
            text,
            carried_out_by: Vec::new(),
        });
        decision_rows.push(row);
    }
    let mut action_points = Vec::new();
    let mut action_rows = Vec::new();
    for row in 0..ACTION_POINT_ROWS {
        let (text_field, owner_field, due_field) = (
            action_field("text", row),
            action_field("owner", row),
            action_field("due", row),
        );
        let text = form.get(&text_field).to_string();
        let owner = form.get(&owner_field).to_string();
        let due = form.date_parts(&due_field);
        if text.is_empty()
            && owner.is_empty()
            && [&due.day, &due.month, &due.year]
                .iter()
                .all(|part| part.trim().is_empty())
        {
            continue;
        }
        let number = row + 1;
        if text.is_empty() {
            form.errors
                .add(&text_field, &format!("Enter action point {number}"));
        }
        if owner.is_empty() {
            form.errors.add(
                &owner_field,
                &format!("Enter who is to do action point {number}"),
            );
        }
        let due_on = form.date(
            &due_field,
            &format!("the day action point {number} is due"),
            true,
        );
        action_points.push(registry::ActionPoint {
            text,
            owner,
            due_on,
        });
        action_rows.push(row);
    }
    if !form.errors.is_empty() {
        return None;
    }
    Some((
        registry::RecordPanelMeetingRequest {
            review_id: String::new(),
            meeting_id: String::new(),
            attendance,
            apologies,
            minutes,
            decisions,
            action_points,
        },
        decision_rows,
        action_rows,
    ))
}

/// The record form's field a registry field is, with the rows sent (empty rows left out)
/// mapped back to the rows shown: `decisions[1].text` of rows 0 and 3 is `decision_text_3`.
pub(crate) fn record_field(field: &str, decision_rows: &[usize], action_rows: &[usize]) -> String {
    let row_of = |rest: &str, rows: &[usize]| -> Option<(usize, String)> {
        let (index, name) = rest.split_once("].")?;
        let row = index
            .parse::<usize>()
            .ok()
            .and_then(|index| rows.get(index).copied())
            .unwrap_or_default();
        Some((row, name.to_string()))
    };
    if let Some(rest) = field.strip_prefix("decisions[")
        && let Some((row, name)) = row_of(rest, decision_rows)
    {
        return match name.as_str() {
            "kind" => decision_kind_field(row),
            _ => decision_text_field(row),
        };
    }
    if let Some(rest) = field.strip_prefix("action_points[")
        && let Some((row, name)) = row_of(rest, action_rows)
    {
        return match name.as_str() {
            "owner" => action_field("owner", row),
            "due_on" => action_field("due", row),
            _ => action_field("text", row),
        };
    }
    match field {
        "decisions" => decision_kind_field(0),
        "action_points" => action_field("text", 0),
        "minutes" => "minutes".into(),
        _ if field.starts_with("attendance") => "attendance".into(),
        _ if field.starts_with("apologies") => "apologies".into(),
        _ => REFUSAL_FIELD.into(),
    }
}

/// GET /reviews/{id}/meetings/{meeting}/record: the meeting and the form for its record.
pub(super) async fn record_meeting_form(
    State(state): Shared,
    Path((id, meeting)): Path<(String, String)>,
    signed: SignedIn,
) -> Response {
    let outcome = async {
        signed.may(REGISTRY, "RecordPanelMeeting")?;
        let review = review_of(&state, &signed.user, &id).await?;
        let found = meeting_of(&state, &signed.user, &id, &meeting).await?;
        still_scheduled(&found, "recorded")?;
        let names = record_dates();
        let dates: Vec<&str> = names.iter().map(String::as_str).collect();
        meeting_page(
            &state,
            &signed.session,
            "admin/meeting_record.html",
            &review,
            Some(&found),
            &Form::default(),
            &dates,
            record_extra(&review, &meeting),
            false,
        )
    }
    .await;
    signed.finish(&state, outcome)
}

/// POST /reviews/{id}/meetings/{meeting}/record: records the meeting as held, then the list
/// (where its decisions show what carried them out). Sent twice, the first recorded it.
pub(super) async fn record_meeting(
    State(state): Shared,
    Path((id, meeting)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let outcome = async {
        let mut form = posted_form(&posted, "RecordPanelMeeting")?;
        let mut refused = false;
        if let Some((mut request, decision_rows, action_rows)) = read_record(&mut form) {
            request.review_id = id.clone();
            request.meeting_id = meeting.clone();
            let (minutes, attendance) = (request.minutes.clone(), request.attendance.clone());
            let mut client = state.services.registry.clone();
            let result = client
                .record_panel_meeting(authed(request, &posted.user)?)
                .await;
            match answer(result, &mut form, |field| {
                record_field(field, &decision_rows, &action_rows)
            })? {
                Answer::Done => return Ok(see_other(&meetings_path(&id))),
                Answer::Invalid => {}
                Answer::Refused(why) => {
                    let found = meeting_of(&state, &posted.user, &id, &meeting).await?;
                    // Compared line by line: the registry may keep the lines as it reads them.
                    if found.record.as_ref().is_some_and(|record| {
                        lines(&record.minutes) == lines(&minutes) && record.attendance == attendance
                    }) {
                        return Ok(see_other(&meetings_path(&id)));
                    }
                    refused_on(&mut form, &why);
                    refused = true;
                }
            }
        }
        let review = review_of(&state, &posted.user, &id).await?;
        let found = meeting_of(&state, &posted.user, &id, &meeting).await?;
        let names = record_dates();
        let dates: Vec<&str> = names.iter().map(String::as_str).collect();
        meeting_page(
            &state,
            &posted.session,
            "admin/meeting_record.html",
            &review,
            Some(&found),
            &form,
            &dates,
            record_extra(&review, &meeting),
            refused,
        )
    }
    .await;
    posted.finish(&state, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> Option<NaiveTime> {
        NaiveTime::parse_from_str(text, "%H:%M").ok()
    }

    #[test]
    fn a_time_of_day_is_read_as_people_type_it() {
        for (typed, meant) in [
            ("14:30", "14:30"),
            ("9:05", "09:05"),
            ("09.05", "09:05"),
            ("1430", "14:30"),
            (" 2pm ", "14:00"),
            ("2:30 PM", "14:30"),
            ("12am", "00:00"),
            ("12pm", "12:00"),
            ("0:00", "00:00"),
        ] {
            assert_eq!(parse_clock(typed), time(meant), "{typed}");
        }
        for wrong in [
            "", "25:00", "14:60", "14", "14:3", "13pm", "noon", "1٤:30", "١٤٣٠",
        ] {
            assert_eq!(parse_clock(wrong), None, "{wrong}");
        }
    }

    fn arrangements_of(body: &str) -> (Option<Arrangements>, Form) {
        let mut form = Form::parse(body.as_bytes());
        (read_arrangements(&mut form), form)
    }

    fn seconds(text: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
            .expect("time")
            .and_utc()
            .timestamp()
    }

    #[test]
    fn a_meeting_is_typed_in_uk_time_and_sent_in_utc() {
        let (summer, _) = arrangements_of(
            "date-day=15&date-month=7&date-year=2027&start_time=10%3A00&end_time=12%3A00\
             &location=Civic+Centre&agenda=Agree+the+terms%0D%0A%0D%0AAny+other+business",
        );
        let summer = summer.expect("read");
        assert_eq!(summer.start_time.seconds, seconds("2027-07-15 09:00"));
        assert_eq!(summer.end_time.seconds, seconds("2027-07-15 11:00"));
        assert_eq!(summer.agenda, vec!["Agree the terms", "Any other business"]);
        let (winter, _) = arrangements_of(
            "date-day=20&date-month=1&date-year=2027&start_time=9.30&end_time=11am\
             &location=x&agenda=y",
        );
        let winter = winter.expect("read");
        assert_eq!(winter.start_time.seconds, seconds("2027-01-20 09:30"));
        assert_eq!(winter.end_time.seconds, seconds("2027-01-20 11:00"));
    }

    #[test]
    fn a_wrong_or_missing_arrangement_is_named_beside_its_field() {
        let (read, form) = arrangements_of("date-day=15&date-month=7&start_time=25%3A00");
        assert!(read.is_none());
        let errors = &form.errors.by_field;
        assert_eq!(errors["date"], "The day of the meeting must include a year");
        assert_eq!(
            errors["start_time"],
            "Enter the start time as hours and minutes, like 14:30"
        );
        assert_eq!(errors["end_time"], "Enter the end time");
        assert_eq!(
            errors["location"],
            "Enter where the meeting is, or its online link"
        );
        assert_eq!(errors["agenda"], "Enter the agenda, one item on each line");
        // The hour the clocks go forward is not there to meet in.
        let (read, form) = arrangements_of(
            "date-day=28&date-month=3&date-year=2027&start_time=01%3A30&end_time=03%3A00\
             &location=x&agenda=y",
        );
        assert!(read.is_none());
        assert!(
            form.errors.by_field["start_time"]
                .starts_with("The clocks go forward at 1am on 28 March 2027"),
            "{:?}",
            form.errors
        );
        assert_eq!(arrangements_field("agenda[3]"), "agenda");
        assert_eq!(arrangements_field("end_time"), "end_time");
        assert_eq!(arrangements_field("meeting_id"), "meeting");
    }

    #[test]
    fn a_form_filled_from_a_meeting_shows_it_in_uk_time() {
        let at = |text| {
            Some(prost_types::Timestamp {
                seconds: seconds(text),
                nanos: 0,
            })
        };
        let meeting = registry::PanelMeeting {
            start_time: at("2027-07-15 23:30"),
            end_time: at("2027-07-16 01:00"),
            location: "https://meet.example.org/panel".into(),
            agenda: vec!["One".into(), "Two".into()],
            ..Default::default()
        };
        let mut form = Form::default();
        fill_arrangements(&mut form, &meeting);
        assert_eq!(form.get("date-day"), "16");
        assert_eq!(form.get("start_time"), "00:30");
        assert_eq!(form.get("end_time"), "02:00");
        assert_eq!(form.get("agenda"), "One\nTwo");
        assert_eq!(when(&meeting), "Friday 16 July 2027, 00:30 to 02:00");
        assert_eq!(
            online_link(&meeting.location),
            Some("https://meet.example.org/panel")
        );
        assert_eq!(online_link("javascript:alert(1)"), None);
        assert_eq!(online_link("Civic Centre, room 2"), None);
        let overnight = registry::PanelMeeting {
            start_time: at("2027-01-20 22:00"),
            end_time: at("2027-01-21 01:00"),
            ..Default::default()
        };
        assert_eq!(
            when(&overnight),
            "Wednesday 20 January 2027, 22:00 to Thursday 21 January 2027, 01:00"
        );
    }

    #[test]
    fn changes_are_counted_without_the_cancellation() {
        let meeting = |sequence, status: registry::PanelMeetingStatus| registry::PanelMeeting {
            sequence,
            status: status as i32,
            ..Default::default()
        };
        use registry::PanelMeetingStatus as S;
        assert_eq!(changes_words(&meeting(0, S::Scheduled)), None);
        assert_eq!(
            changes_words(&meeting(1, S::Scheduled)).as_deref(),
            Some("Changed 1 time")
        );
        assert_eq!(
            changes_words(&meeting(3, S::Held)).as_deref(),
            Some("Changed 3 times")
        );
        assert_eq!(changes_words(&meeting(1, S::Cancelled)), None);
        assert_eq!(
            changes_words(&meeting(3, S::Cancelled)).as_deref(),
            Some("Changed 2 times")
        );
    }

    #[test]
    fn a_decision_says_what_carried_it_out() {
        let link = registry::CommandLink {
            service: "registry".into(),
            action: "SetTermsOfReference".into(),
            actor: "tess-chair".into(),
            time: Some(prost_types::Timestamp {
                seconds: seconds("2026-03-11 12:00"),
                nanos: 0,
            }),
            detail: String::new(),
        };
        assert_eq!(
            carried_out_words(&link),
            "SetTermsOfReference, tess-chair, 11 March 2026 12:00"
        );
        let summer = registry::CommandLink {
            action: "AcceptAgencyReport".into(),
            detail: "police".into(),
            time: Some(prost_types::Timestamp {
                seconds: seconds("2026-05-01 09:00"),
                nanos: 0,
            }),
            ..link
        };
        assert_eq!(
            carried_out_words(&summer),
            "AcceptAgencyReport (police), tess-chair, 1 May 2026 10:00"
        );
        let record = registry::PanelMeetingRecord {
            decisions: vec![
                registry::PanelMeetingDecision {
                    kind: registry::PanelDecisionKind::ReportApproved as i32,
                    text: "Approve it".into(),
                    carried_out_by: vec![],
                },
                registry::PanelMeetingDecision {
                    kind: registry::PanelDecisionKind::Other as i32,
                    text: "Hold a learning event".into(),
                    carried_out_by: vec![],
                },
            ],
            ..Default::default()
        };
        let view = record_view(&record);
        let decisions = view.get_attr("decisions").expect("decisions");
        let decision = |index: usize| decisions.get_item(&Value::from(index)).expect("decision");
        assert_eq!(
            decision(0).get_attr("kind").expect("kind").to_string(),
            "Overview report approved"
        );
        assert!(
            decision(0)
                .get_attr("linkable")
                .expect("linkable")
                .is_true()
        );
        assert!(
            !decision(1)
                .get_attr("linkable")
                .expect("linkable")
                .is_true()
        );
    }

    /// A meeting of "r1" from `start` to `end` (UTC), scheduled by bu-lead.
    fn meeting(id: &str, start: &str, end: &str) -> registry::PanelMeeting {
        let at = |text| {
            Some(prost_types::Timestamp {
                seconds: seconds(text),
                nanos: 0,
            })
        };
        registry::PanelMeeting {
            id: id.into(),
            start_time: at(start),
            end_time: at(end),
            location: "Civic Centre, room 2".into(),
            agenda: vec!["Agree the terms of reference".into()],
            status: registry::PanelMeetingStatus::Scheduled as i32,
            scheduled_by: "bu-lead".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_list_shows_each_meeting_with_its_record_and_only_the_links_offered() {
        let templates = crate::views::Templates::new();
        let now = chrono::DateTime::from_timestamp(seconds("2026-04-01 12:00"), 0).expect("now");
        let mut held = meeting("m1", "2026-03-11 10:00", "2026-03-11 12:00");
        held.status = registry::PanelMeetingStatus::Held as i32;
        held.record = Some(registry::PanelMeetingRecord {
            attendance: vec!["Dr A Shah (chair)".into()],
            apologies: vec![],
            minutes: "The panel met.\nIt agreed the terms.".into(),
            decisions: vec![
                registry::PanelMeetingDecision {
                    kind: registry::PanelDecisionKind::TermsAgreed as i32,
                    text: "The terms are agreed".into(),
                    carried_out_by: vec![registry::CommandLink {
                        service: "registry".into(),
                        action: "SetTermsOfReference".into(),
                        actor: "tess-chair".into(),
                        time: Some(prost_types::Timestamp {
                            seconds: seconds("2026-03-11 12:00"),
                            nanos: 0,
                        }),
                        detail: String::new(),
                    }],
                },
                registry::PanelMeetingDecision {
                    kind: registry::PanelDecisionKind::ReportsAccepted as i32,
                    text: "Accept the reports when they arrive".into(),
                    carried_out_by: vec![],
                },
            ],
            action_points: vec![registry::ActionPoint {
                text: "Book the learning event".into(),
                owner: "Ann Admin".into(),
                due_on: Some(Date {
                    year: 2026,
                    month: 4,
                    day: 30,
                }),
            }],
            recorded_by: "bu-lead".into(),
            record_time: None,
        });
        let started = meeting("m2", "2026-04-01 09:00", "2026-04-01 11:00");
        let mut later = meeting("m3", "2026-07-15 09:00", "2026-07-15 11:00");
        later.sequence = 2;
        let mut cancelled = meeting("m4", "2026-07-16 09:00", "2026-07-16 11:00");
        cancelled.status = registry::PanelMeetingStatus::Cancelled as i32;
        cancelled.sequence = 1;
        cancelled.cancel_reason = "The chair is unwell".into();
        let render = |offers: &Offers| {
            let meetings: Vec<Value> = [&held, &started, &later, &cancelled]
                .into_iter()
                .map(|meeting| meeting_view("r1", meeting, offers, now))
                .collect();
            templates
                .render(
                    "admin/meetings.html",
                    context! {
                        review => context! { reference => "SOUTHVALE-2026-001", child_alias => "Child Q" },
                        review_id => "r1",
                        meetings,
                        schedule_href => offers.schedule.then_some("/reviews/r1/meetings/new"),
                    },
                )
                .expect("renders")
                .replace("&#x2f;", "/")
        };
        let html = render(&Offers {
            schedule: true,
            cancel: true,
            record: true,
        });
        for expected in [
            "Wednesday 11 March 2026, 10:00 to 12:00",
            "Wednesday 15 July 2026, 10:00 to 12:00",
            "govuk-tag--green\">Held</strong>",
            "govuk-tag--grey\">Cancelled</strong>",
            "Changed 2 times",
            "The chair is unwell",
            "Dr A Shah (chair)",
            "<p class=\"govuk-body\">It agreed the terms.</p>",
            "<strong>Terms of reference agreed</strong>: The terms are agreed",
            "Carried out by SetTermsOfReference, tess-chair, 11 March 2026 12:00",
            "<strong>Agency reports accepted</strong>",
            "Not carried out yet",
            "Book the learning event",
            "30 April 2026",
            "href=\"/reviews/r1/meetings/new\"",
            "href=\"/reviews/r1/meetings/m2/record\"",
            "href=\"/reviews/r1/meetings/m3/change\"",
            "href=\"/reviews/r1/meetings/m3/cancel\"",
            "It can be recorded once it has started.",
        ] {
            assert!(html.contains(expected), "{expected} in {html}");
        }
        // Not before it starts, nor once held or cancelled.
        for absent in [
            "m3/record",
            "m1/change",
            "m1/record",
            "m4/cancel",
            "Changed 1 time",
        ] {
            assert!(!html.contains(absent), "{absent} in {html}");
        }
        // A reader: the meetings, no form.
        let read = render(&Offers::none());
        assert!(
            read.contains("Carried out by SetTermsOfReference"),
            "{read}"
        );
        for absent in ["/meetings/new", "/change", "/cancel", "/record"] {
            assert!(!read.contains(absent), "{absent} in {read}");
        }
    }

    #[test]
    fn empty_record_rows_are_ignored_and_half_filled_ones_named() {
        let mut form = Form::parse(
            b"attendance=Tess+Holroyd+%28chair%29%0D%0AAnn+Admin&apologies=&minutes=We+met.%0D%0AWe+agreed.\
              &decision_kind_0=PANEL_DECISION_KIND_TERMS_AGREED&decision_text_0=Agreed\
              &decision_kind_1=&decision_text_1=\
              &decision_kind_3=PANEL_DECISION_KIND_OTHER&decision_text_3=A+learning+event\
              &action_text_0=&action_owner_0=&action_due_0-day=&action_due_0-month=&action_due_0-year=\
              &action_text_2=Book+a+room&action_owner_2=Ann&action_due_2-day=1&action_due_2-month=2&action_due_2-year=2027",
        );
        let (request, decision_rows, action_rows) = read_record(&mut form).expect("read");
        assert_eq!(request.minutes, "We met.\nWe agreed.");
        assert_eq!(
            request.attendance,
            vec!["Tess Holroyd (chair)", "Ann Admin"]
        );
        assert!(request.apologies.is_empty());
        assert_eq!(decision_rows, vec![0, 3]);
        assert_eq!(
            request.decisions[1].kind,
            registry::PanelDecisionKind::Other as i32
        );
        assert_eq!(action_rows, vec![2]);
        assert_eq!(
            request.action_points[0].due_on,
            Some(Date {
                year: 2027,
                month: 2,
                day: 1
            })
        );
        // The registry's names of the rows sent are the rows shown.
        assert_eq!(
            record_field("decisions[1].text", &decision_rows, &action_rows),
            "decision_text_3"
        );
        assert_eq!(
            record_field("action_points[0].due_on", &decision_rows, &action_rows),
            "action_due_2"
        );
        assert_eq!(record_field("attendance[2]", &[], &[]), "attendance");
        assert_eq!(record_field("meeting_id", &[], &[]), "meeting");

        let mut half =
            Form::parse(b"attendance=&minutes=&decision_text_1=Agreed&action_owner_4=Ann");
        assert!(read_record(&mut half).is_none());
        let errors = &half.errors.by_field;
        assert_eq!(errors["attendance"], "Enter who attended, one on each line");
        assert_eq!(errors["minutes"], "Enter the minutes of the meeting");
        assert_eq!(
            errors["decision_kind_1"],
            "Select what decision 2 was about"
        );
        assert_eq!(errors["action_text_4"], "Enter action point 5");
        assert_eq!(
            errors["action_due_4"],
            "Enter the day action point 5 is due"
        );
        assert!(!errors.contains_key("decision_text_1"));
    }
}
