//! A review's statutory timeline drawn as a picture: a server-rendered SVG, one row per
//! deadline (a marker at its due date coloured by status, a smaller one where it was done),
//! one row per parallel process (a span from its start to its end, or to today while it
//! runs), the projected completion as a diamond and a line for today. It is pure: dates in,
//! markup out, so its geometry is unit-tested. No `style` attributes (the CSP forbids inline
//! style): presentation attributes only. The page keeps the deadlines table as its text
//! alternative; the SVG has its own `<title>` and `<desc>`.

use chrono::{Datelike, Duration, NaiveDate};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;

use crate::svg::escape;
use crate::views::words;

/// The picture's width in SVG units (it scales to its container).
pub(crate) const WIDTH: f64 = 800.0;
/// Where the chart starts: the labels are on the left of it.
pub(crate) const CHART_LEFT: f64 = 230.0;
pub(crate) const CHART_RIGHT: f64 = WIDTH - 20.0;
/// The axis (month ticks) above the rows.
pub(crate) const AXIS_HEIGHT: f64 = 36.0;
pub(crate) const ROW_HEIGHT: f64 = 30.0;
/// Days of margin either side of the earliest and latest dates.
const MARGIN_DAYS: i64 = 10;

/// GOV.UK colours for the statuses.
pub(crate) fn colour(status: registry::DeadlineStatus) -> &'static str {
    match status {
        registry::DeadlineStatus::Met => "#00703c",
        registry::DeadlineStatus::AtRisk => "#ffdd00",
        registry::DeadlineStatus::Missed => "#d4351c",
        registry::DeadlineStatus::Pending | registry::DeadlineStatus::Unspecified => "#505a5f",
    }
}

/// A proto date as a calendar day.
pub(crate) fn day(date: Option<&Date>) -> Option<NaiveDate> {
    let date = date?;
    NaiveDate::from_ymd_opt(
        date.year,
        u32::try_from(date.month).ok()?,
        u32::try_from(date.day).ok()?,
    )
}

/// Days to x: the scale of the chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scale {
    pub(crate) start: NaiveDate,
    pub(crate) end: NaiveDate,
}

impl Scale {
    /// The days from the earliest to the latest of `dates` (and `today`), with a margin.
    pub(crate) fn spanning(dates: impl IntoIterator<Item = NaiveDate>, today: NaiveDate) -> Self {
        let (mut start, mut end) = (today, today);
        for date in dates {
            start = start.min(date);
            end = end.max(date);
        }
        Self {
            start: start - Duration::days(MARGIN_DAYS),
            end: end + Duration::days(MARGIN_DAYS),
        }
    }

    /// Where `date` is drawn: proportional between the chart's edges, clamped to them.
    pub(crate) fn x(&self, date: NaiveDate) -> f64 {
        let days = (self.end - self.start).num_days().max(1) as f64;
        let offset = (date - self.start).num_days() as f64;
        let x = CHART_LEFT + (CHART_RIGHT - CHART_LEFT) * offset / days;
        (x.clamp(CHART_LEFT, CHART_RIGHT) * 10.0).round() / 10.0
    }

    /// The first of each month inside the scale, for the axis ticks; every other month
    /// when there would be more than 12.
    pub(crate) fn month_ticks(&self) -> Vec<NaiveDate> {
        let mut ticks = Vec::new();
        let mut month = NaiveDate::from_ymd_opt(self.start.year(), self.start.month(), 1);
        while let Some(first) = month {
            if first > self.end {
                break;
            }
            if first >= self.start {
                ticks.push(first);
            }
            month = first.checked_add_months(chrono::Months::new(1));
        }
        if ticks.len() > 12 {
            let step = ticks.len().div_ceil(12);
            ticks = ticks.into_iter().step_by(step).collect();
        }
        ticks
    }
}

/// The y of the middle of row `index`.
pub(crate) fn row_y(index: usize) -> f64 {
    AXIS_HEIGHT + ROW_HEIGHT * index as f64 + ROW_HEIGHT / 2.0
}

fn date_words(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// One deadline as drawn.
struct DeadlineRow {
    label: String,
    due: Option<NaiveDate>,
    done: Option<NaiveDate>,
    status: registry::DeadlineStatus,
}

/// One parallel process as drawn.
struct SpanRow {
    label: String,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
}

/// The SVG of `timeline` (its `as_of` is today, else `today`).
pub(crate) fn svg(timeline: &registry::Timeline, today: NaiveDate) -> String {
    let today = day(timeline.as_of.as_ref()).unwrap_or(today);
    let deadlines: Vec<DeadlineRow> = timeline
        .deadlines
        .iter()
        .map(|deadline| DeadlineRow {
            label: words(deadline.kind().as_str_name(), "DEADLINE_KIND_"),
            due: day(deadline.due_on.as_ref()),
            done: day(deadline.done_on.as_ref()),
            status: deadline.status(),
        })
        .collect();
    let spans: Vec<SpanRow> = timeline
        .parallel_processes
        .iter()
        .map(|process| SpanRow {
            label: words(process.kind().as_str_name(), "PARALLEL_PROCESS_KIND_"),
            start: day(process.started_on.as_ref()),
            end: day(process.ended_on.as_ref()),
        })
        .collect();
    let projected = day(timeline.projected_completion.as_ref());
    let dates = deadlines
        .iter()
        .flat_map(|row| [row.due, row.done])
        .chain(spans.iter().flat_map(|row| [row.start, row.end]))
        .chain([projected])
        .flatten();
    let scale = Scale::spanning(dates, today);
    let rows = deadlines.len() + spans.len() + usize::from(projected.is_some());
    let height = AXIS_HEIGHT + ROW_HEIGHT * rows.max(1) as f64 + 24.0;

    let mut description = Vec::new();
    let mut body = String::new();
    // The axis: a tick and the month's name at the first of each month.
    for tick in scale.month_ticks() {
        let x = scale.x(tick);
        body.push_str(&format!(
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#b1b4b6\" stroke-width=\"1\"/>\
             <text x=\"{x}\" y=\"16\" font-size=\"12\" fill=\"#505a5f\" text-anchor=\"middle\">{}</text>",
            AXIS_HEIGHT - 12.0,
            height - 20.0,
            tick.format("%b %Y"),
        ));
    }
    let mut index = 0;
    for row in &deadlines {
        let y = row_y(index);
        index += 1;
        let status = words(row.status.as_str_name(), "DEADLINE_STATUS_");
        body.push_str(&format!(
            "<text x=\"8\" y=\"{}\" font-size=\"14\" fill=\"#0b0c0c\">{}</text>",
            y + 5.0,
            escape(&row.label)
        ));
        match row.due {
            Some(due) => {
                let x = scale.x(due);
                let fill = colour(row.status);
                body.push_str(&format!(
                    "<circle class=\"deadline\" data-status=\"{}\" cx=\"{x}\" cy=\"{y}\" r=\"8\" fill=\"{fill}\" stroke=\"#0b0c0c\" stroke-width=\"1\"><title>{}: due {}, {}</title></circle>",
                    row.status.as_str_name(),
                    escape(&row.label),
                    date_words(due),
                    status.to_lowercase(),
                ));
                if let Some(done) = row.done {
                    let done_x = scale.x(done);
                    body.push_str(&format!(
                        "<line x1=\"{x}\" y1=\"{y}\" x2=\"{done_x}\" y2=\"{y}\" stroke=\"{fill}\" stroke-width=\"2\"/>\
                         <circle class=\"done\" cx=\"{done_x}\" cy=\"{y}\" r=\"4\" fill=\"#ffffff\" stroke=\"#0b0c0c\" stroke-width=\"2\"><title>Done {}</title></circle>",
                        date_words(done),
                    ));
                    description.push(format!(
                        "{}: due {}, done {}, {}.",
                        row.label,
                        date_words(due),
                        date_words(done),
                        status.to_lowercase()
                    ));
                } else {
                    description.push(format!(
                        "{}: due {}, {}.",
                        row.label,
                        date_words(due),
                        status.to_lowercase()
                    ));
                }
            }
            None => {
                body.push_str(&format!(
                    "<text x=\"{CHART_LEFT}\" y=\"{}\" font-size=\"12\" fill=\"#505a5f\">Clock not started</text>",
                    y + 4.0
                ));
                description.push(format!("{}: clock not started.", row.label));
            }
        }
    }
    for row in &spans {
        let y = row_y(index);
        index += 1;
        body.push_str(&format!(
            "<text x=\"8\" y=\"{}\" font-size=\"14\" fill=\"#0b0c0c\">{}</text>",
            y + 5.0,
            escape(&row.label)
        ));
        if let Some(start) = row.start {
            let end = row.end.unwrap_or(today);
            let (x1, x2) = (scale.x(start), scale.x(end.max(start)));
            let until = row.end.map_or_else(
                || "ongoing".to_string(),
                |end| format!("to {}", date_words(end)),
            );
            body.push_str(&format!(
                "<rect class=\"parallel\" x=\"{x1}\" y=\"{}\" width=\"{}\" height=\"14\" fill=\"#1d70b8\" fill-opacity=\"0.6\" stroke=\"#1d70b8\"><title>{}: from {} {until}</title></rect>",
                y - 7.0,
                ((x2 - x1).max(2.0) * 10.0).round() / 10.0,
                escape(&row.label),
                date_words(start),
            ));
            description.push(format!(
                "{}: from {} {until}.",
                row.label,
                date_words(start)
            ));
        }
    }
    if let Some(projected) = projected {
        let y = row_y(index);
        let x = scale.x(projected);
        body.push_str(&format!(
            "<text x=\"8\" y=\"{}\" font-size=\"14\" font-weight=\"bold\" fill=\"#0b0c0c\">Projected completion</text>\
             <polygon class=\"projected\" points=\"{x},{} {},{y} {x},{} {},{y}\" fill=\"#4c2c92\"><title>Projected completion {}</title></polygon>",
            y + 5.0,
            y - 9.0,
            x + 9.0,
            y + 9.0,
            x - 9.0,
            date_words(projected),
        ));
        let days = timeline.parallel_process_days;
        description.push(if days > 0 {
            format!(
                "Projected completion {} (including {days} days of parallel processes).",
                date_words(projected)
            )
        } else {
            format!("Projected completion {}.", date_words(projected))
        });
    }
    let x = scale.x(today);
    body.push_str(&format!(
        "<line class=\"today\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#0b0c0c\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>\
         <text x=\"{x}\" y=\"{}\" font-size=\"12\" fill=\"#0b0c0c\" text-anchor=\"middle\">Today</text>",
        AXIS_HEIGHT - 8.0,
        height - 18.0,
        height - 4.0,
    ));
    description.push(format!("Today is {}.", date_words(today)));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"cspr-timeline\" role=\"img\" aria-labelledby=\"timeline-title timeline-desc\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" font-family=\"sans-serif\">\
         <title id=\"timeline-title\">Statutory timeline</title><desc id=\"timeline-desc\">{}</desc>{body}</svg>",
        escape(&description.join(" "))
    )
}

/// Today in the UK's calendar terms (UTC is near enough for a picture).
pub(crate) fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: i32, day: i32) -> Date {
        Date { year, month, day }
    }

    fn on(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("a date")
    }

    #[test]
    fn the_scale_spans_every_date_and_today_with_a_margin() {
        let scale = Scale::spanning([on(2026, 3, 20), on(2026, 9, 10)], on(2026, 4, 1));
        assert_eq!(scale.start, on(2026, 3, 10));
        assert_eq!(scale.end, on(2026, 9, 20));
        assert_eq!(scale.x(scale.start), CHART_LEFT);
        assert_eq!(scale.x(scale.end), CHART_RIGHT);
        // Halfway in days is halfway across.
        let middle = scale.start + Duration::days((scale.end - scale.start).num_days() / 2);
        assert!((scale.x(middle) - (CHART_LEFT + CHART_RIGHT) / 2.0).abs() < 2.0);
        // Outside is clamped to the edges; later is further right.
        assert_eq!(scale.x(on(2020, 1, 1)), CHART_LEFT);
        assert_eq!(scale.x(on(2030, 1, 1)), CHART_RIGHT);
        assert!(scale.x(on(2026, 5, 1)) < scale.x(on(2026, 5, 2)));
        // Today alone: a scale of its margins, not a division by zero.
        let alone = Scale::spanning([], on(2026, 4, 1));
        assert_eq!(alone.x(on(2026, 4, 1)), (CHART_LEFT + CHART_RIGHT) / 2.0);
    }

    #[test]
    fn months_are_ticked_at_their_first_day_and_thinned_over_a_year() {
        let scale = Scale::spanning([on(2026, 3, 20), on(2026, 6, 10)], on(2026, 3, 20));
        assert_eq!(
            scale.month_ticks(),
            vec![on(2026, 4, 1), on(2026, 5, 1), on(2026, 6, 1)]
        );
        let long = Scale::spanning([on(2026, 1, 15), on(2028, 1, 15)], on(2026, 1, 15));
        let ticks = long.month_ticks();
        assert!(ticks.len() <= 12, "{ticks:?}");
        assert!(ticks.iter().all(|tick| tick.day() == 1));
    }

    fn timeline() -> registry::Timeline {
        registry::Timeline {
            review_id: "r".into(),
            deadlines: vec![
                registry::Deadline {
                    kind: registry::DeadlineKind::Notification as i32,
                    due_on: Some(date(2026, 3, 17)),
                    done_on: Some(date(2026, 3, 12)),
                    status: registry::DeadlineStatus::Met as i32,
                    working_days_left: 0,
                },
                registry::Deadline {
                    kind: registry::DeadlineKind::RapidReview as i32,
                    due_on: Some(date(2026, 4, 2)),
                    done_on: None,
                    status: registry::DeadlineStatus::Missed as i32,
                    working_days_left: -3,
                },
                registry::Deadline {
                    kind: registry::DeadlineKind::Completion as i32,
                    due_on: Some(date(2026, 9, 12)),
                    done_on: None,
                    status: registry::DeadlineStatus::AtRisk as i32,
                    working_days_left: 30,
                },
                registry::Deadline {
                    kind: registry::DeadlineKind::KeepPublic as i32,
                    due_on: None,
                    done_on: None,
                    status: registry::DeadlineStatus::Pending as i32,
                    working_days_left: 0,
                },
            ],
            parallel_process_days: 20,
            projected_completion: Some(date(2026, 10, 2)),
            as_of: Some(date(2026, 4, 10)),
            parallel_processes: vec![registry::ParallelProcess {
                id: "p".into(),
                kind: registry::ParallelProcessKind::CoronerInquest as i32,
                description: "<inquest>".into(),
                started_on: Some(date(2026, 3, 20)),
                ended_on: None,
                days_impact: 20,
            }],
        }
    }

    #[test]
    fn each_deadline_is_a_marker_of_its_status_colour_at_its_due_date() {
        let svg = svg(&timeline(), on(2000, 1, 1));
        let scale = Scale::spanning(
            [
                on(2026, 3, 17),
                on(2026, 3, 12),
                on(2026, 4, 2),
                on(2026, 9, 12),
                on(2026, 3, 20),
                on(2026, 10, 2),
            ],
            on(2026, 4, 10),
        );
        assert_eq!(
            svg.matches("<circle class=\"deadline\"").count(),
            3,
            "{svg}"
        );
        for (status, due, row) in [
            ("DEADLINE_STATUS_MET", on(2026, 3, 17), 0),
            ("DEADLINE_STATUS_MISSED", on(2026, 4, 2), 1),
            ("DEADLINE_STATUS_AT_RISK", on(2026, 9, 12), 2),
        ] {
            let status_value = registry::DeadlineStatus::from_str_name(status).expect("status");
            let marker = format!(
                "data-status=\"{status}\" cx=\"{}\" cy=\"{}\" r=\"8\" fill=\"{}\"",
                scale.x(due),
                row_y(row),
                colour(status_value)
            );
            assert!(svg.contains(&marker), "{marker}: {svg}");
        }
        // Done early: a smaller marker at the day it was done.
        assert!(svg.contains(&format!(
            "class=\"done\" cx=\"{}\"",
            scale.x(on(2026, 3, 12))
        )));
        // The clock not started: said, not drawn.
        assert!(svg.contains("Clock not started"));
        // The ongoing inquest: a span from its start to today (the timeline's as_of).
        let span = format!(
            "class=\"parallel\" x=\"{}\" y=\"{}\" width=\"{}\"",
            scale.x(on(2026, 3, 20)),
            row_y(4) - 7.0,
            ((scale.x(on(2026, 4, 10)) - scale.x(on(2026, 3, 20))) * 10.0).round() / 10.0
        );
        assert!(svg.contains(&span), "{span}: {svg}");
        // The projected completion in the last row, and the today line.
        assert!(svg.contains(&format!(
            "points=\"{},{}",
            scale.x(on(2026, 10, 2)),
            row_y(5) - 9.0
        )));
        assert!(svg.contains(&format!(
            "class=\"today\" x1=\"{}\"",
            scale.x(on(2026, 4, 10))
        )));
    }

    #[test]
    fn the_picture_is_accessible_and_has_no_inline_style() {
        let svg = svg(&timeline(), on(2000, 1, 1));
        assert!(svg.starts_with("<svg "));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("<title id=\"timeline-title\">Statutory timeline</title>"));
        assert!(svg.contains(
            "Notification: due 17 March 2026, done 12 March 2026, met. Rapid review: due 2 April 2026, missed."
        ));
        assert!(svg.contains("Keep public: clock not started."));
        assert!(svg.contains("Coroner inquest: from 20 March 2026 ongoing."));
        assert!(svg.contains(
            "Projected completion 2 October 2026 (including 20 days of parallel processes)."
        ));
        assert!(svg.contains("Today is 10 April 2026."));
        assert!(!svg.contains("style="), "{svg}");
        assert!(!svg.contains("<inquest>"));
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
