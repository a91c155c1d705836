//! What a form sent, read the GOV.UK way: fields by name (repeated ones kept, for
//! checkboxes), dates as day, month and year, and the problems found, for the error summary
//! and beside each field.

use std::collections::BTreeMap;

use cspr_proto::google::r#type::Date;
use serde::Serialize;

use crate::pages::PageError;
use crate::session::Session;

/// A form's fields, repeated names kept (checkboxes), each line break a line feed.
pub(crate) fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .into_owned()
        .map(|(name, value)| (name, line_feeds(value)))
        .collect()
}

/// A textarea's line breaks as the services take them: a browser sends each as CR LF, and
/// a carriage return is a control character the services refuse in free text.
fn line_feeds(value: String) -> String {
    if value.contains('\r') {
        value.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        value
    }
}

/// The first value sent as `name`, trimmed; empty when not sent.
pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.trim())
        .unwrap_or_default()
}

/// Every non-empty value sent as `name`, trimmed (checkboxes, repeated rows).
pub(crate) fn fields_named<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
        .collect()
}

/// The form's CSRF token is the session's: a form from elsewhere cannot act as the user.
pub(crate) fn check_csrf(session: &Session, fields: &[(String, String)]) -> Result<(), PageError> {
    let same = crate::session::same_secret(
        field(fields, "csrf_token").as_bytes(),
        session.csrf.as_bytes(),
    );
    if same { Ok(()) } else { Err(PageError::Csrf) }
}

/// A submitted form: its fields, and the problems found with them so far.
#[derive(Debug, Default)]
pub(crate) struct Form {
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) errors: FormErrors,
}

impl Form {
    pub(crate) fn parse(body: &[u8]) -> Self {
        Self {
            fields: form_fields(body),
            errors: FormErrors::default(),
        }
    }

    /// The value of `name`, trimmed ("" when not sent).
    /// Replaces every value of `name` with `value` (e.g. the version a form was made from,
    /// once the user has seen a newer one).
    pub(crate) fn set(&mut self, name: &str, value: &str) {
        self.fields.retain(|(field, _)| field != name);
        self.fields.push((name.to_string(), value.to_string()));
    }

    pub(crate) fn get(&self, name: &str) -> &str {
        field(&self.fields, name)
    }

    /// The value of `name`, or a problem "`message`" on it when empty.
    pub(crate) fn required(&mut self, name: &str, message: &str) -> String {
        let value = self.get(name).to_string();
        if value.is_empty() {
            self.errors.add(name, message);
        }
        value
    }

    /// The date in `name-day`, `name-month`, `name-year` (the GOV.UK date input). `label`
    /// names it in messages ("the date of the incident"). `None` when it was left empty and
    /// is optional; a problem on `name` when it is wrong or required and missing.
    pub(crate) fn date(&mut self, name: &str, label: &str, required: bool) -> Option<Date> {
        let parts = [
            self.get(&format!("{name}-day")).to_string(),
            self.get(&format!("{name}-month")).to_string(),
            self.get(&format!("{name}-year")).to_string(),
        ];
        match parse_date(&parts, label, required) {
            Ok(date) => date,
            Err(message) => {
                self.errors.add(name, &message);
                None
            }
        }
    }

    /// The date input's three parts as sent, to show them again beside a problem.
    pub(crate) fn date_parts(&self, name: &str) -> DateParts {
        DateParts {
            day: self.get(&format!("{name}-day")).to_string(),
            month: self.get(&format!("{name}-month")).to_string(),
            year: self.get(&format!("{name}-year")).to_string(),
        }
    }

    /// The fields as a map for the template (`form.reference`), first value of each name.
    pub(crate) fn values(&self) -> BTreeMap<String, String> {
        let mut values = BTreeMap::new();
        for (key, value) in &self.fields {
            if key != "csrf_token" {
                values.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        values
    }
}

/// A date input's parts as the person typed them.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct DateParts {
    pub(crate) day: String,
    pub(crate) month: String,
    pub(crate) year: String,
}

/// A date from its day, month and year as typed, with the GOV.UK pattern's messages.
pub(crate) fn parse_date(
    [day, month, year]: &[String; 3],
    label: &str,
    required: bool,
) -> Result<Option<Date>, String> {
    let (day, month, year) = (day.trim(), month.trim(), year.trim());
    if day.is_empty() && month.is_empty() && year.is_empty() {
        return if required {
            Err(format!("Enter {label}"))
        } else {
            Ok(None)
        };
    }
    let missing: Vec<&str> = [("a day", day), ("a month", month), ("a year", year)]
        .into_iter()
        .filter(|(_, value)| value.is_empty())
        .map(|(part, _)| part)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} must include {}",
            capitalised(label),
            missing.join(" and ")
        ));
    }
    let number = |value: &str| value.parse::<i32>().ok();
    let (Some(day), Some(month), Some(year)) = (number(day), number(month), number(year)) else {
        return Err(format!("{} must be a real date", capitalised(label)));
    };
    if !(1000..=9999).contains(&year) {
        return Err("Year must include 4 numbers".to_string());
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if day < 1 || day > days_in_month {
        return Err(format!("{} must be a real date", capitalised(label)));
    }
    Ok(Some(Date { year, month, day }))
}

fn capitalised(text: &str) -> String {
    let mut letters = text.chars();
    match letters.next() {
        Some(first) => first.to_uppercase().chain(letters).collect(),
        None => String::new(),
    }
}

/// The problems with a form: in order for the error summary, and by field for the message
/// beside each one. A field is an input's `id` (for a date input, its first part's).
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct FormErrors {
    pub(crate) list: Vec<FormError>,
    pub(crate) by_field: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FormError {
    pub(crate) field: String,
    pub(crate) message: String,
}

impl FormErrors {
    /// A problem on `field`; the first one of a field is the one shown.
    pub(crate) fn add(&mut self, field: &str, message: &str) {
        if self.by_field.contains_key(field) {
            return;
        }
        self.by_field.insert(field.to_string(), message.to_string());
        self.list.push(FormError {
            field: field.to_string(),
            message: message.to_string(),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(day: &str, month: &str, year: &str) -> [String; 3] {
        [day.into(), month.into(), year.into()]
    }

    #[test]
    fn dates_are_read_as_the_govuk_pattern_says() {
        assert_eq!(
            parse_date(&parts("9", "3", "2026"), "the date", true),
            Ok(Some(Date {
                year: 2026,
                month: 3,
                day: 9
            }))
        );
        assert_eq!(parse_date(&parts("", "", ""), "the date", false), Ok(None));
        assert_eq!(
            parse_date(&parts("", "", ""), "the date of the incident", true),
            Err("Enter the date of the incident".into())
        );
        assert_eq!(
            parse_date(&parts("9", "", ""), "the date", true),
            Err("The date must include a month and a year".into())
        );
        assert_eq!(
            parse_date(&parts("30", "2", "2026"), "the date", true),
            Err("The date must be a real date".into())
        );
        assert_eq!(
            parse_date(&parts("29", "2", "2028"), "the date", true).map(|date| date.is_some()),
            Ok(true)
        );
        assert_eq!(
            parse_date(&parts("1", "1", "26"), "the date", true),
            Err("Year must include 4 numbers".into())
        );
        assert_eq!(
            parse_date(&parts("x", "1", "2026"), "the date", true),
            Err("The date must be a real date".into())
        );
    }

    #[test]
    fn a_browsers_line_breaks_are_line_feeds() {
        let form = Form::parse(b"minutes=One%0D%0ATwo%0DThree%0AFour");
        assert_eq!(form.get("minutes"), "One\nTwo\nThree\nFour");
    }

    #[test]
    fn the_first_problem_of_a_field_is_the_one_shown() {
        let mut form = Form::parse(b"reference=&name=Ann&roles=a&roles=b");
        assert_eq!(form.required("reference", "Enter a reference"), "");
        form.errors.add("reference", "another");
        assert_eq!(form.required("name", "Enter a name"), "Ann");
        assert_eq!(form.errors.list.len(), 1);
        assert_eq!(form.errors.by_field["reference"], "Enter a reference");
        assert_eq!(fields_named(&form.fields, "roles"), vec!["a", "b"]);
    }
}
