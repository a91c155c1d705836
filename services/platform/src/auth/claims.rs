//! A verified token's claims turned into a [`Principal`], through the configured
//! [`ClaimMapping`]: identity providers put the partnership, the roles and the agency where
//! they can (`groups`, `realm_access.roles`, `https://cspr.example/partnership`), not always
//! under cspr's own names.

use serde_json::{Map, Value};

use super::{Principal, Role};
use crate::config::ClaimMapping;
use crate::error::ServiceError;

/// The value at `path`: the claim named `path` itself if there is one (namespaced names
/// such as `https://cspr.example/roles` contain dots), else the dotted path through nested
/// objects (`realm_access.roles`).
pub(super) fn lookup<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut segments = path.split('.');
    let first = claims.get(segments.next()?)?;
    segments.try_fold(first, |value, segment| value.as_object()?.get(segment))
}

/// Puts `value` at the dotted `path`, making the objects on the way (development tokens
/// written for a mapping, so `cspr token create` suits any configuration).
pub(super) fn insert(claims: &mut Map<String, Value>, path: &str, value: Value) {
    let mut segments: Vec<&str> = path.split('.').collect();
    let last = segments.pop().unwrap_or(path);
    let mut object = claims;
    for segment in segments {
        let entry = object
            .entry(segment)
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else {
            unreachable!("made an object above")
        };
        object = next;
    }
    object.insert(last.to_string(), value);
}

/// The caller a token's (signature-checked) claims describe.
pub(super) fn principal(
    claims: &Map<String, Value>,
    mapping: &ClaimMapping,
) -> Result<Principal, ServiceError> {
    let subject = text(claims, "sub")?.unwrap_or_default();
    let partnership = text(claims, &mapping.partnership)?.unwrap_or_default();
    let role_values = strings(claims, &mapping.roles)?;
    let org = text(claims, &mapping.org)?;
    // A NUL cannot be stored as PostgreSQL text: refused here, as any request field with
    // one is, rather than failing later as INTERNAL.
    let texts = [subject, partnership]
        .into_iter()
        .chain(role_values.iter().copied())
        .chain(org);
    if texts.into_iter().any(|text| text.contains('\0')) {
        return Err(ServiceError::invalid(
            "authorization",
            "a token claim contains a NUL character",
        ));
    }
    if partnership.trim().is_empty() {
        return Err(ServiceError::Unauthenticated(format!(
            "token has no partnership claim ({})",
            mapping.partnership
        )));
    }
    let roles: Vec<Role> = role_values
        .iter()
        .filter_map(|value| match &mapping.role_prefix {
            Some(prefix) => value.strip_prefix(prefix.as_str()),
            None => Some(value),
        })
        .filter_map(Role::parse)
        .collect();
    let org = org.filter(|org| !org.is_empty());
    if roles.contains(&Role::Agency) && org.is_none() {
        return Err(ServiceError::Unauthenticated(format!(
            "an agency token needs the org claim ({})",
            mapping.org
        )));
    }
    Ok(Principal {
        subject: subject.to_string(),
        partnership: partnership.to_string(),
        roles,
        org: org.map(str::to_string),
        peer: None,
    })
}

/// A text claim; absent or null is `None`, anything else but a string is refused.
fn text<'a>(claims: &'a Map<String, Value>, path: &str) -> Result<Option<&'a str>, ServiceError> {
    match lookup(claims, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(ServiceError::Unauthenticated(format!(
            "token claim {path} is not a string"
        ))),
    }
}

/// A list claim: an array (its strings; other entries, such as a provider's group objects,
/// are no roles) or one space-separated string (as `scope` is written); absent is empty.
fn strings<'a>(claims: &'a Map<String, Value>, path: &str) -> Result<Vec<&'a str>, ServiceError> {
    match lookup(claims, path) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(values)) => Ok(values.iter().filter_map(Value::as_str).collect()),
        Some(Value::String(text)) => Ok(text.split_whitespace().collect()),
        Some(_) => Err(ServiceError::Unauthenticated(format!(
            "token claim {path} is neither a list nor a string"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("an object"),
        }
    }

    #[test]
    fn paths_reach_nested_claims_and_names_with_dots() {
        let claims = claims(json!({
            "realm_access": {"roles": ["reviewer"]},
            "https://cspr.example/partnership": "southvale",
            "a": {"b": "nested"},
            "a.b": "literal",
        }));
        assert_eq!(
            lookup(&claims, "realm_access.roles"),
            Some(&json!(["reviewer"]))
        );
        assert_eq!(
            lookup(&claims, "https://cspr.example/partnership"),
            Some(&json!("southvale"))
        );
        // The literal name wins over the path.
        assert_eq!(lookup(&claims, "a.b"), Some(&json!("literal")));
        assert_eq!(lookup(&claims, "realm_access.missing"), None);
        assert_eq!(lookup(&claims, "a.b.c"), None);
    }

    #[test]
    fn a_mapping_reads_groups_with_a_prefix_and_a_nested_partnership() {
        let mapping = ClaimMapping {
            partnership: "tenant.partnership".into(),
            roles: "groups".into(),
            org: "agency".into(),
            role_prefix: Some("cspr:".into()),
        };
        let principal = principal(
            &claims(json!({
                "sub": "police-system",
                "tenant": {"partnership": "southvale"},
                "groups": ["staff", "cspr:agency", "auditor", {"id": 7}, "cspr:unknown"],
                "agency": "police",
            })),
            &mapping,
        )
        .expect("mapped");
        assert_eq!(principal.partnership, "southvale");
        // `auditor` without the prefix is another application's group, not a role.
        assert_eq!(principal.roles, vec![Role::Agency]);
        assert_eq!(principal.org.as_deref(), Some("police"));
    }

    #[test]
    fn roles_may_be_one_space_separated_string() {
        let principal = principal(
            &claims(json!({"sub": "a", "partnership": "p", "roles": "auditor  reviewer"})),
            &ClaimMapping::default(),
        )
        .expect("mapped");
        assert_eq!(principal.roles, vec![Role::Auditor, Role::Reviewer]);
    }

    #[test]
    fn claims_of_the_wrong_shape_are_refused() {
        for bad in [
            json!({"sub": "a", "partnership": 7}),
            json!({"sub": "a", "partnership": "p", "roles": {"admin": true}}),
            json!({"sub": "a", "partnership": "p", "org": ["police"]}),
            json!({"sub": "a"}),
        ] {
            let error =
                principal(&claims(bad.clone()), &ClaimMapping::default()).expect_err("refused");
            assert!(
                matches!(error, ServiceError::Unauthenticated(_)),
                "{bad}: {error:?}"
            );
        }
    }

    #[test]
    fn insert_makes_the_objects_a_path_needs() {
        let mut claims = claims(json!({"tenant": "flat"}));
        insert(&mut claims, "tenant.partnership", json!("southvale"));
        insert(&mut claims, "groups", json!(["cspr:auditor"]));
        assert_eq!(
            Value::Object(claims),
            json!({"tenant": {"partnership": "southvale"}, "groups": ["cspr:auditor"]})
        );
    }
}
