//! The registry's own settings: the statutory rule set and the deadline sweep.

use std::time::Duration;

use cspr_platform::config::{ConfigError, Env};

use crate::domain::deadlines::{DeadlineRules, RapidReviewClock};

/// Registry settings, read once at start-up.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The statutory timescales (guidance changes; these are configuration).
    pub rules: DeadlineRules,
    /// How often the deadline sweep runs.
    pub sweep_interval: Duration,
}

impl RegistryConfig {
    /// Reads `CSPR_RULE_*` and `CSPR_REGISTRY_SWEEP_INTERVAL` (see the README).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = DeadlineRules::default();
        let rules = DeadlineRules {
            notification_working_days: env.u32_or(
                "CSPR_RULE_NOTIFICATION_WORKING_DAYS",
                defaults.notification_working_days,
            )?,
            rapid_review_working_days: env.u32_or(
                "CSPR_RULE_RAPID_REVIEW_WORKING_DAYS",
                defaults.rapid_review_working_days,
            )?,
            rapid_review_from: match env.get("CSPR_RULE_RAPID_REVIEW_FROM") {
                None => defaults.rapid_review_from,
                Some(raw) => RapidReviewClock::parse(raw.trim()).ok_or_else(|| {
                    ConfigError::new(
                        "CSPR_RULE_RAPID_REVIEW_FROM",
                        format!("{raw:?}: give notification or aware"),
                    )
                })?,
            },
            completion_months: env
                .u32_or("CSPR_RULE_COMPLETION_MONTHS", defaults.completion_months)?,
            pre_publication_working_days: env.u32_or(
                "CSPR_RULE_PRE_PUBLICATION_WORKING_DAYS",
                defaults.pre_publication_working_days,
            )?,
            keep_public_months: env
                .u32_or("CSPR_RULE_KEEP_PUBLIC_MONTHS", defaults.keep_public_months)?,
            at_risk_working_days: env.u32_or(
                "CSPR_RULE_AT_RISK_WORKING_DAYS",
                defaults.at_risk_working_days,
            )?,
            completion_at_risk_days: env.u32_or(
                "CSPR_RULE_COMPLETION_AT_RISK_DAYS",
                defaults.completion_at_risk_days,
            )?,
        };
        if rules.completion_months == 0 {
            return Err(ConfigError::new(
                "CSPR_RULE_COMPLETION_MONTHS",
                "must be at least 1",
            ));
        }
        Ok(Self {
            rules,
            sweep_interval: env
                .duration_or("CSPR_REGISTRY_SWEEP_INTERVAL", Duration::from_secs(300))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rapid_review_clock_is_a_setting() {
        let from = |raw: &str| {
            RegistryConfig::from_env(&Env::isolated([("CSPR_RULE_RAPID_REVIEW_FROM", raw)]))
                .map(|config| config.rules.rapid_review_from)
        };
        assert_eq!(
            from("aware").expect("aware"),
            RapidReviewClock::BecomingAware
        );
        assert_eq!(
            from(" notification ").expect("notification"),
            RapidReviewClock::Notification
        );
        let error = from("decision").expect_err("not a clock");
        assert!(
            error.to_string().contains("give notification or aware"),
            "{error}"
        );
        let defaults =
            RegistryConfig::from_env(&Env::isolated([("CSPR_REGISTRY_SWEEP_INTERVAL", "5m")]))
                .expect("defaults");
        assert_eq!(
            defaults.rules.rapid_review_from,
            RapidReviewClock::Notification
        );
    }
}
