//! The templates, and the proto messages as the pages show them.

use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

/// The page templates, compiled in; every one is HTML-escaped, whatever its name.
pub(crate) struct Templates(Environment<'static>);

impl Templates {
    pub(crate) fn new() -> Self {
        let mut environment = Environment::new();
        environment.set_auto_escape_callback(|_| AutoEscape::Html);
        let shared = [
            ("layout.html", include_str!("../templates/layout.html")),
            ("macros.html", include_str!("../templates/macros.html")),
            ("error.html", include_str!("../templates/error.html")),
        ];
        for &(name, source) in shared.iter().chain(
            crate::pages::TEMPLATES
                .iter()
                .flat_map(|templates| templates.iter()),
        ) {
            // The templates are part of the build: one that does not parse is a bug that
            // every test would show at once.
            environment
                .add_template(name, source)
                .unwrap_or_else(|error| panic!("template {name}: {error}"));
        }
        Self(environment)
    }

    /// `name` rendered with `context`.
    pub(crate) fn render(
        &self,
        name: &str,
        context: minijinja::Value,
    ) -> Result<String, minijinja::Error> {
        self.0.get_template(name)?.render(context)
    }
}

/// An enum's proto name in words: `STAGE_RAPID_REVIEW` → "Rapid review".
pub(crate) fn words(name: &str, prefix: &str) -> String {
    let rest = name.strip_prefix(prefix).unwrap_or(name).replace('_', " ");
    let lower = rest.to_lowercase();
    let mut letters = lower.chars();
    match letters.next() {
        Some(first) => first.to_uppercase().chain(letters).collect(),
        None => lower,
    }
}

/// The overview report's sections besides the summary, the lines of enquiry and the
/// recommendations, in order: (field, as the services and the forms name it; heading; the
/// form's hint).
pub(crate) const REPORT_SECTIONS: [(&str, &str, &str); 5] = [
    (
        "standards_met",
        "Were the expected standards of practice met?",
        "What practice was expected, and whether it happened",
    ),
    (
        "policies_followed",
        "Were policies and procedures followed?",
        "The local and national procedures that applied, and whether they were followed",
    ),
    (
        "working_together",
        "What can be learned about the way organisations work together?",
        "How the agencies shared information and acted together",
    ),
    (
        "good_practice",
        "Good practice",
        "The areas of success the review found",
    ),
    ("learning", "Learning", "What the partnership should learn"),
];

/// A version's text of each of [`REPORT_SECTIONS`], in their order.
pub(crate) fn report_section_texts(report: &registry::OverviewReport) -> [&String; 5] {
    [
        &report.standards_met,
        &report.policies_followed,
        &report.working_together,
        &report.good_practice,
        &report.learning,
    ]
}

/// A section of the overview report as a comment names it (`enquiry:2`, `learning`), in
/// words, the lines of enquiry by their text in `review`'s terms of reference.
pub(crate) fn report_section_words(section: &str, review: &registry::Review) -> String {
    if let Some((_, heading, _)) = REPORT_SECTIONS
        .iter()
        .find(|(field, _, _)| *field == section)
    {
        return (*heading).to_string();
    }
    match section {
        "summary" => "Summary".into(),
        "recommendations" => "Recommendations".into(),
        other => {
            let line = other
                .strip_prefix("enquiry:")
                .and_then(|number| number.parse::<usize>().ok())
                .and_then(|number| {
                    review
                        .terms_of_reference
                        .as_ref()?
                        .key_lines_of_enquiry
                        .get(number.checked_sub(1)?)
                });
            match line {
                Some(line) => format!("Findings: {line}"),
                None => other.to_string(),
            }
        }
    }
}

pub(crate) fn stage_words(stage: i32) -> String {
    registry::Stage::try_from(stage)
        .map(|stage| words(stage.as_str_name(), "STAGE_"))
        .unwrap_or_default()
}

/// Every stage a review can be at, for the filter: (proto name, words).
pub(crate) fn stages() -> Vec<StageOption> {
    (1..)
        .map_while(|value| registry::Stage::try_from(value).ok())
        .map(|stage| StageOption {
            value: stage.as_str_name(),
            label: words(stage.as_str_name(), "STAGE_"),
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub(crate) struct StageOption {
    pub(crate) value: &'static str,
    pub(crate) label: String,
}

/// One option of a select or one radio: its value and its words (every page's lists of
/// choices are these, so the macros see one shape).
#[derive(Debug, Serialize)]
pub(crate) struct OptionView {
    pub(crate) value: String,
    pub(crate) label: String,
}

/// A checkbox: an option that may already be ticked.
#[derive(Debug, Serialize)]
pub(crate) struct ChoiceView {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) checked: bool,
}

/// A date as people in England write it: 9 March 2026.
pub(crate) fn date(date: Option<&Date>) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let date = date?;
    let month = MONTHS.get(usize::try_from(date.month).ok()?.checked_sub(1)?)?;
    Some(format!("{} {month} {}", date.day, date.year))
}

/// A moment as the pages show it, in UTC: 2 December 2026, 18:54 UTC.
pub(crate) fn time(time: Option<&prost_types::Timestamp>) -> Option<String> {
    let time = time?;
    let at = chrono::DateTime::from_timestamp(time.seconds, 0)?;
    Some(at.format("%-d %B %Y, %H:%M UTC").to_string())
}

/// A protobuf moment as chrono's, `None` when unset or out of range.
pub(crate) fn utc(time: Option<&prost_types::Timestamp>) -> Option<chrono::DateTime<chrono::Utc>> {
    let time = time?;
    chrono::DateTime::from_timestamp(time.seconds, u32::try_from(time.nanos).unwrap_or(0))
}

/// A moment in UK time (GMT or BST, as the clocks show it): 11 March 2026 12:00.
pub(crate) fn uk_time(time: Option<&prost_types::Timestamp>) -> Option<String> {
    let local = crate::uk_time::to_local(utc(time)?);
    Some(local.format("%-d %B %Y %H:%M").to_string())
}

/// The day of a moment in UK time, with its weekday: Thursday 15 July 2027.
pub(crate) fn uk_day(time: Option<&prost_types::Timestamp>) -> Option<String> {
    let local = crate::uk_time::to_local(utc(time)?);
    Some(local.format("%A %-d %B %Y").to_string())
}

/// The time of day of a moment in UK time: 14:30.
pub(crate) fn uk_clock(time: Option<&prost_types::Timestamp>) -> Option<String> {
    let local = crate::uk_time::to_local(utc(time)?);
    Some(local.format("%H:%M").to_string())
}

/// A deadline as the pages show it, its status as a GOV.UK tag.
#[derive(Debug, Serialize)]
pub(crate) struct DeadlineView {
    pub(crate) kind: String,
    pub(crate) due_on: Option<String>,
    pub(crate) done_on: Option<String>,
    pub(crate) status: String,
    /// The tag's colour class.
    pub(crate) tag: &'static str,
}

impl From<&registry::Deadline> for DeadlineView {
    fn from(deadline: &registry::Deadline) -> Self {
        let status = deadline.status();
        let tag = match status {
            registry::DeadlineStatus::Met => "govuk-tag--green",
            registry::DeadlineStatus::AtRisk => "govuk-tag--yellow",
            registry::DeadlineStatus::Missed => "govuk-tag--red",
            registry::DeadlineStatus::Pending | registry::DeadlineStatus::Unspecified => {
                "govuk-tag--grey"
            }
        };
        Self {
            kind: words(deadline.kind().as_str_name(), "DEADLINE_KIND_"),
            due_on: date(deadline.due_on.as_ref()),
            done_on: date(deadline.done_on.as_ref()),
            status: words(status.as_str_name(), "DEADLINE_STATUS_").to_uppercase(),
            tag,
        }
    }
}

/// A review's line on the dashboard, or its page.
#[derive(Debug, Serialize)]
pub(crate) struct ReviewView {
    pub(crate) id: String,
    pub(crate) reference: String,
    pub(crate) child_alias: String,
    pub(crate) local_authority: String,
    pub(crate) stage: String,
    pub(crate) incident_date: Option<String>,
    pub(crate) became_aware_on: Option<String>,
    pub(crate) reviewer: Option<String>,
    /// The next statutory deadline not yet met: the earliest due, started clocks only.
    pub(crate) next: Option<DeadlineView>,
    pub(crate) deadlines: Vec<DeadlineView>,
}

impl From<&registry::Review> for ReviewView {
    fn from(review: &registry::Review) -> Self {
        let next = review
            .deadlines
            .iter()
            .filter(|deadline| {
                deadline.due_on.is_some()
                    && deadline.done_on.is_none()
                    && deadline.status() != registry::DeadlineStatus::Met
            })
            .min_by_key(|deadline| {
                deadline
                    .due_on
                    .as_ref()
                    .map(|due| (due.year, due.month, due.day))
            })
            .map(DeadlineView::from);
        Self {
            id: review.id.clone(),
            reference: review.reference.clone(),
            child_alias: review.child_alias.clone(),
            local_authority: review.local_authority.clone(),
            stage: stage_words(review.stage),
            incident_date: date(review.incident_date.as_ref()),
            became_aware_on: date(review.became_aware_on.as_ref()),
            reviewer: review
                .reviewer
                .as_ref()
                .map(|reviewer| reviewer.name.clone()),
            next,
            deadlines: review.deadlines.iter().map(DeadlineView::from).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_words_and_dates_as_written() {
        assert_eq!(
            stage_words(registry::Stage::RapidReview as i32),
            "Rapid review"
        );
        assert_eq!(
            words("DEADLINE_STATUS_AT_RISK", "DEADLINE_STATUS_"),
            "At risk"
        );
        assert_eq!(
            date(Some(&Date {
                year: 2026,
                month: 3,
                day: 9
            }))
            .as_deref(),
            Some("9 March 2026")
        );
        assert_eq!(stages().len(), 12);
        assert_eq!(stages()[0].value, "STAGE_NOTIFIED");
    }

    #[test]
    fn moments_in_uk_time_are_as_the_clocks_show_them() {
        let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
        // 2027-07-15 09:00 UTC is 10:00 BST; 2026-03-11 12:00 UTC is 12:00 GMT.
        let summer = at(1_815_642_000);
        assert_eq!(
            uk_day(summer.as_ref()).as_deref(),
            Some("Thursday 15 July 2027")
        );
        assert_eq!(uk_clock(summer.as_ref()).as_deref(), Some("10:00"));
        let winter = at(1_773_230_400);
        assert_eq!(
            uk_time(winter.as_ref()).as_deref(),
            Some("11 March 2026 12:00")
        );
        assert_eq!(uk_time(None), None);
    }

    #[test]
    fn every_template_escapes() {
        let templates = Templates::new();
        let html = templates
            .render(
                "error.html",
                minijinja::context! { heading => "<script>x</script>", paragraphs => Vec::<String>::new() },
            )
            .expect("renders");
        assert!(html.contains("&lt;script&gt;x&lt;"), "{html}");
        assert!(!html.contains("<script>x"));
    }
}
