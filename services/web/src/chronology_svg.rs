//! The combined chronology as a picture: a timeline with a lane per agency, each entry a
//! mark at its day. Server-rendered SVG with presentation attributes only (the
//! Content-Security-Policy forbids inline style), each mark titled with its words so a
//! screen reader and a hover both tell what it is. Pure: entries in, geometry and markup out.

use std::fmt::Write;

use crate::svg::escape;

/// Width of the whole picture, in user units (it scales to its container).
pub(crate) const WIDTH: f64 = 960.0;
/// Room on the left for each lane's agency name.
pub(crate) const LABEL_WIDTH: f64 = 200.0;
/// Room on the right, so the last mark is whole.
pub(crate) const RIGHT_PAD: f64 = 20.0;
/// Height of one lane.
pub(crate) const LANE_HEIGHT: f64 = 40.0;
/// Room above the lanes for the first and last dates.
pub(crate) const TOP: f64 = 30.0;
/// A mark's radius.
pub(crate) const RADIUS: f64 = 5.0;

/// One entry to draw.
#[derive(Debug, Clone)]
pub(crate) struct TimelineEntry {
    /// Its lane (the agency's name).
    pub(crate) lane: String,
    /// Days since 1970-01-01.
    pub(crate) day: i64,
    /// Words for the mark's title ("9 March 2026, Southvale Police: Home visit").
    pub(crate) title: String,
}

/// A lane: its agency and where its line is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lane {
    pub(crate) label: String,
    pub(crate) y: f64,
}

/// A drawn entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mark {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) title: String,
}

/// Where everything goes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    pub(crate) width: f64,
    pub(crate) height: f64,
    pub(crate) lanes: Vec<Lane>,
    pub(crate) marks: Vec<Mark>,
    /// The first and last day drawn (days since 1970-01-01), when there are entries.
    pub(crate) span: Option<(i64, i64)>,
}

/// The lanes in the order their agencies first appear; each entry's x in proportion to its
/// day between the first and the last (a single day: the middle).
pub(crate) fn layout(entries: &[TimelineEntry]) -> Layout {
    let mut lanes: Vec<Lane> = Vec::new();
    for entry in entries {
        if !lanes.iter().any(|lane| lane.label == entry.lane) {
            let y = TOP + LANE_HEIGHT * lanes.len() as f64 + LANE_HEIGHT / 2.0;
            lanes.push(Lane {
                label: entry.lane.clone(),
                y,
            });
        }
    }
    let span = entries
        .iter()
        .map(|entry| entry.day)
        .min()
        .zip(entries.iter().map(|entry| entry.day).max());
    let left = LABEL_WIDTH;
    let right = WIDTH - RIGHT_PAD;
    let x_of = |day: i64| match span {
        Some((first, last)) if last > first => {
            left + (right - left) * (day - first) as f64 / (last - first) as f64
        }
        _ => (left + right) / 2.0,
    };
    let marks = entries
        .iter()
        .map(|entry| Mark {
            x: x_of(entry.day),
            y: lanes
                .iter()
                .find(|lane| lane.label == entry.lane)
                .map(|lane| lane.y)
                .unwrap_or(TOP),
            title: entry.title.clone(),
        })
        .collect();
    Layout {
        width: WIDTH,
        height: TOP + LANE_HEIGHT * lanes.len().max(1) as f64 + 10.0,
        lanes,
        marks,
        span,
    }
}

/// The picture's markup; `first` and `last` are the span's dates in words, `description`
/// what it shows (its accessible name).
pub(crate) fn render(layout: &Layout, first: &str, last: &str, description: &str) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="cspr-timeline" viewBox="0 0 {w} {h}" width="100%" role="img" aria-labelledby="timeline-title"><title id="timeline-title">{description}</title>"#,
        w = layout.width,
        h = layout.height,
        description = escape(description),
    );
    if layout.span.is_some() {
        let _ = write!(
            svg,
            r##"<text x="{LABEL_WIDTH}" y="18" font-size="13" fill="#505a5f">{}</text><text x="{}" y="18" font-size="13" fill="#505a5f" text-anchor="end">{}</text>"##,
            escape(first),
            WIDTH - RIGHT_PAD,
            escape(last),
        );
    }
    for (index, lane) in layout.lanes.iter().enumerate() {
        let band = if index % 2 == 0 { "#f3f2f1" } else { "#ffffff" };
        let _ = write!(
            svg,
            r##"<g class="cspr-timeline__lane"><rect x="0" y="{top}" width="{w}" height="{LANE_HEIGHT}" fill="{band}"/><text x="8" y="{text_y}" font-size="14" fill="#0b0c0c">{label}</text><line x1="{LABEL_WIDTH}" y1="{y}" x2="{x2}" y2="{y}" stroke="#b1b4b6" stroke-width="1"/></g>"##,
            top = lane.y - LANE_HEIGHT / 2.0,
            w = layout.width,
            text_y = lane.y + 5.0,
            label = escape(&lane.label),
            y = lane.y,
            x2 = WIDTH - RIGHT_PAD,
        );
    }
    for mark in &layout.marks {
        let _ = write!(
            svg,
            r##"<circle cx="{:.1}" cy="{}" r="{RADIUS}" fill="#1d70b8" stroke="#0b0c0c" stroke-width="1"><title>{}</title></circle>"##,
            mark.x,
            mark.y,
            escape(&mark.title),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(lane: &str, day: i64) -> TimelineEntry {
        TimelineEntry {
            lane: lane.into(),
            day,
            title: format!("{lane} {day}"),
        }
    }

    #[test]
    fn a_lane_per_agency_in_order_of_first_appearance() {
        let layout = layout(&[
            entry("Police", 10),
            entry("Health", 20),
            entry("Police", 30),
        ]);
        assert_eq!(layout.lanes.len(), 2);
        assert_eq!(layout.lanes[0].label, "Police");
        assert_eq!(layout.lanes[0].y, TOP + LANE_HEIGHT / 2.0);
        assert_eq!(layout.lanes[1].y, TOP + LANE_HEIGHT * 1.5);
        assert_eq!(layout.height, TOP + 2.0 * LANE_HEIGHT + 10.0);
        // Marks sit on their agency's lane.
        assert_eq!(layout.marks[1].y, layout.lanes[1].y);
        assert_eq!(layout.marks[2].y, layout.lanes[0].y);
    }

    #[test]
    fn days_are_placed_in_proportion_between_the_first_and_the_last() {
        let layout = layout(&[entry("A", 0), entry("B", 50), entry("A", 100)]);
        assert_eq!(layout.span, Some((0, 100)));
        assert_eq!(layout.marks[0].x, LABEL_WIDTH);
        assert_eq!(layout.marks[2].x, WIDTH - RIGHT_PAD);
        let middle = (LABEL_WIDTH + WIDTH - RIGHT_PAD) / 2.0;
        assert!((layout.marks[1].x - middle).abs() < 1e-9);
        // One day only: in the middle, not divided by zero.
        let single = super::layout(&[entry("A", 7), entry("B", 7)]);
        assert_eq!(single.marks[0].x, middle);
    }

    #[test]
    fn nothing_to_draw_is_an_empty_picture() {
        let layout = layout(&[]);
        assert!(layout.lanes.is_empty() && layout.marks.is_empty());
        assert_eq!(layout.span, None);
        let svg = render(&layout, "", "", "No entries");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("<circle"));
    }

    #[test]
    fn the_markup_escapes_words_and_has_no_inline_style() {
        let layout = layout(&[TimelineEntry {
            lane: "<b>Police</b>".into(),
            day: 1,
            title: "A&E \"visit\"".into(),
        }]);
        let svg = render(&layout, "1 January 1970", "1 January 1970", "Timeline");
        assert!(svg.contains("&lt;b&gt;Police&lt;/b&gt;"), "{svg}");
        assert!(svg.contains("A&amp;E &quot;visit&quot;"), "{svg}");
        assert!(!svg.contains("style="), "{svg}");
        assert_eq!(svg.matches("class=\"cspr-timeline__lane\"").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 1);
    }
}
