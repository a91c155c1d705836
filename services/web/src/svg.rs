//! What the two server-rendered pictures (the review's timeline of deadlines and the
//! combined chronology) share: their text goes into XML the same way, so one escape serves
//! both and an agency's or a deadline's words can never become markup in either.

/// Text for XML: the five characters that matter escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_five_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            super::escape(r#"<a href="x">Tom & Jerry's</a> é"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt; é"
        );
    }
}
