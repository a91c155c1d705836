//! The authorization matrix every service's `tests/authorization.rs` runs: each RPC of the
//! service ([`crate::access::rules::RULES`]) called by every shape of caller — no role, each
//! role, of the test's partnership and of another, a reviewer appointed to the seeded review
//! and one who is not, an agency that owns the seeded resource and one that does not — on
//! the running service, each answer checked against what the table predicts
//! ([`rules::decide`]) for the seeded review's facts.
//!
//! A call the table allows must not be refused for who the caller is: its answer is OK, or
//! a refusal of the request itself (INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS),
//! which the service gives only after authorizing, so a test may send minimal bodies. A call
//! the table refuses must be refused with exactly the predicted code.

use std::future::Future;

use tonic::{Code, Status};

use crate::access::ReviewFacts;
use crate::access::rules::{self, Facts, Rule, Scope};
use crate::auth::{Principal, Role};

use super::{OTHER_PARTNERSHIP, PARTNERSHIP, REVIEWER, TestService, persona};

/// The subject of the tests' reviewer who is not appointed to the seeded review.
pub const UNAPPOINTED_REVIEWER: &str = "ravi-unappointed";

/// One shape of caller: its token and the principal the service will see for it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// What the shape is, for failure messages (`reviewer (appointed) of northmoor`).
    pub label: String,
    /// A bearer token of that shape.
    pub token: String,
    /// What the token says, as the service's authenticator turns it into a caller.
    pub principal: Principal,
}

/// What the matrix calls on: the seeded review's facts and which agency owns the seeded
/// resource of each method that names one (an agency's report, an action).
#[derive(Debug, Clone)]
pub struct Matrix<'a> {
    /// The gRPC service (`rules::REGISTRY`, …).
    pub service: &'static str,
    /// The agency owning the seeded resource; agency callers are of it and of another.
    pub own_agency: &'a str,
    /// An agency that owns nothing seeded.
    pub other_agency: &'a str,
    /// The methods whose call names a resource [`Matrix::own_agency`] owns.
    pub owned_by_agency: &'a [&'a str],
}

impl Matrix<'static> {
    /// The matrix of `service`'s RPCs with the agencies every suite uses: `police` owning
    /// what is seeded, `health` owning nothing, and no method naming an agency's resource
    /// (see [`Matrix::owning`]).
    pub fn of(service: &'static str) -> Self {
        Self {
            service,
            own_agency: "police",
            other_agency: "health",
            owned_by_agency: &[],
        }
    }

    /// The same, with `methods` naming a resource `police` owns.
    pub fn owning(self, methods: &'static [&'static str]) -> Self {
        Self {
            owned_by_agency: methods,
            ..self
        }
    }
}

impl Matrix<'_> {
    /// Every shape of caller, in both partnerships (22 shapes).
    pub fn callers(&self, service: &TestService) -> Vec<Caller> {
        let mut shapes: Vec<(String, Vec<Role>, String, Option<String>)> =
            vec![("no role".into(), Vec::new(), "nobody".into(), None)];
        for role in Role::ALL {
            match role {
                Role::Reviewer => {
                    shapes.push((
                        "reviewer (appointed)".into(),
                        vec![role],
                        REVIEWER.into(),
                        None,
                    ));
                    shapes.push((
                        "reviewer (not appointed)".into(),
                        vec![role],
                        UNAPPOINTED_REVIEWER.into(),
                        None,
                    ));
                }
                Role::Agency => {
                    for org in [self.own_agency, self.other_agency] {
                        shapes.push((
                            format!("agency {org}"),
                            vec![role],
                            format!("{org}-system"),
                            Some(org.to_string()),
                        ));
                    }
                }
                _ => shapes.push((
                    role.as_str().into(),
                    vec![role],
                    persona(role.as_str()).into(),
                    None,
                )),
            }
        }
        let mut callers = Vec::new();
        for partnership in [PARTNERSHIP, OTHER_PARTNERSHIP] {
            for (label, roles, subject, org) in &shapes {
                let role_names: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
                callers.push(Caller {
                    label: format!("{label} of {partnership}"),
                    token: service.token(partnership, &role_names, org.as_deref(), subject),
                    principal: Principal {
                        subject: subject.clone(),
                        partnership: partnership.into(),
                        roles: roles.clone(),
                        org: org.clone(),
                        peer: None,
                    },
                });
            }
        }
        callers
    }

    /// What the table predicts for `caller` calling `rule`'s method on the seeded review
    /// (which has [`REVIEWER`] appointed): `None` for allowed, else the refusal's code.
    pub fn expected(&self, rule: &Rule, caller: &Caller) -> Option<Code> {
        let seeded = ReviewFacts::new(PARTNERSHIP, Some(REVIEWER));
        let facts = Facts {
            review: match rule.scope {
                Scope::Partnership => None,
                Scope::Resource | Scope::Either => Some(seeded),
            },
            owner_agency: self
                .owned_by_agency
                .contains(&rule.method)
                .then_some(self.own_agency),
        };
        rules::decide(rule, &caller.principal, facts)
            .err()
            .map(|denied| match denied.code() {
                "NOT_FOUND" => Code::NotFound,
                _ => Code::PermissionDenied,
            })
    }

    /// Runs the matrix: `call(method, token)` for every method of the service and every
    /// caller, each answer checked; panics listing every cell that differs. The number of
    /// cases run.
    pub async fn run<F, Fut>(&self, service: &TestService, call: F) -> usize
    where
        F: Fn(&'static str, String) -> Fut,
        Fut: Future<Output = Result<(), Status>>,
    {
        let callers = self.callers(service);
        let mut cases = 0;
        let mut wrong = Vec::new();
        for rule in rules::of_service(self.service) {
            for caller in &callers {
                let expected = self.expected(rule, caller);
                let answer = call(rule.method, caller.token.clone()).await;
                cases += 1;
                let fits = match (expected, &answer) {
                    (None, Ok(())) => true,
                    (None, Err(status)) => matches!(
                        status.code(),
                        Code::InvalidArgument | Code::FailedPrecondition | Code::AlreadyExists
                    ),
                    (Some(code), Err(status)) => status.code() == code,
                    (Some(_), Ok(())) => false,
                };
                if !fits {
                    wrong.push(format!(
                        "{} as {}: expected {}, got {}",
                        rule.method,
                        caller.label,
                        expected.map_or("allowed".to_string(), |code| format!("{code:?}")),
                        match &answer {
                            Ok(()) => "OK".to_string(),
                            Err(status) => format!("{:?} ({})", status.code(), status.message()),
                        }
                    ));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of {cases} cells differ from the table:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        cases
    }
}

/// A call of `$method` with a minimal body naming the review (authorization is decided
/// before the body is validated, so a matrix may send minimal bodies), its answer without the
/// reply: `minimal_call!(client, get_review, pb::GetReviewRequest, review_id, token)`.
#[macro_export]
macro_rules! minimal_call {
    ($client:expr, $method:ident, $($request:ident)::+, $review_id:expr, $token:expr) => {{
        // Some requests have no field but the review's.
        #[allow(clippy::needless_update)]
        let request = $($request)::+ {
            review_id: $review_id,
            ..Default::default()
        };
        $client
            .$method($crate::testing::authed(request, &$token))
            .await
            .map(drop)
    }};
}
