//! The submissions service's own settings: submission limits, concurrent streams, the
//! clean-up of abandoned stages and report reminders.

use std::time::Duration;

use cspr_platform::config::{ConfigError, Env};

use crate::domain::Limits;

#[derive(Debug, Clone)]
pub struct SubmissionsConfig {
    /// What one submission may carry.
    pub limits: Limits,
    /// A report turns "due soon" this many days before its due date.
    pub due_soon_days: u32,
    /// How often the reminder sweep and the stage sweep run.
    pub sweep_interval: Duration,
    /// SubmitAgencyReport streams one agency (of one partnership) may have open at once in
    /// this process, so that one agency's system cannot take the service from the others.
    pub max_streams_per_agency: u32,
    /// A staged submission untouched for this long is abandoned (its stream's process
    /// died): the stage sweep deletes it.
    pub stage_max_age: Duration,
}

/// The default of [`SubmissionsConfig::max_streams_per_agency`].
const MAX_STREAMS_PER_AGENCY: u32 = 4;
/// The default of [`SubmissionsConfig::stage_max_age`].
const STAGE_MAX_AGE: Duration = Duration::from_secs(3600);
/// The shortest stage age allowed: well past the longest a live stream goes without
/// touching its stage (a batch is written at least every minute while entries arrive, and
/// a stream is cut after 120 s without a message), so a live stream is never swept.
const STAGE_MAX_AGE_FLOOR: Duration = Duration::from_secs(600);

impl SubmissionsConfig {
    /// Reads `CSPR_SUBMISSIONS_*` (see the README).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Limits::default();
        let limits = Limits {
            max_entries: u64::from(
                env.u32_or("CSPR_SUBMISSIONS_MAX_ENTRIES", defaults.max_entries as u32)?,
            ),
            max_entry_text: env.u32_or(
                "CSPR_SUBMISSIONS_MAX_ENTRY_TEXT",
                defaults.max_entry_text as u32,
            )? as usize,
            max_narrative_text: env.u32_or(
                "CSPR_SUBMISSIONS_MAX_NARRATIVE_TEXT",
                defaults.max_narrative_text as u32,
            )? as usize,
        };
        if limits.max_entries == 0 {
            return Err(ConfigError::new(
                "CSPR_SUBMISSIONS_MAX_ENTRIES",
                "must be at least 1",
            ));
        }
        let max_streams_per_agency = env.u32_or(
            "CSPR_SUBMISSIONS_MAX_STREAMS_PER_AGENCY",
            MAX_STREAMS_PER_AGENCY,
        )?;
        if max_streams_per_agency == 0 {
            return Err(ConfigError::new(
                "CSPR_SUBMISSIONS_MAX_STREAMS_PER_AGENCY",
                "must be at least 1",
            ));
        }
        let stage_max_age = env.duration_or("CSPR_SUBMISSIONS_STAGE_MAX_AGE", STAGE_MAX_AGE)?;
        if stage_max_age < STAGE_MAX_AGE_FLOOR {
            return Err(ConfigError::new(
                "CSPR_SUBMISSIONS_STAGE_MAX_AGE",
                "must be at least 10m: a live stream may go 3 minutes without writing its stage",
            ));
        }
        Ok(Self {
            limits,
            due_soon_days: env.u32_or("CSPR_SUBMISSIONS_DUE_SOON_DAYS", 5)?,
            sweep_interval: env
                .duration_or("CSPR_SUBMISSIONS_SWEEP_INTERVAL", Duration::from_secs(300))?,
            max_streams_per_agency,
            stage_max_age,
        })
    }
}

impl Default for SubmissionsConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            due_soon_days: 5,
            sweep_interval: Duration::from_secs(300),
            max_streams_per_agency: MAX_STREAMS_PER_AGENCY,
            stage_max_age: STAGE_MAX_AGE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_limit_and_stage_age_are_read_and_checked() {
        let config = SubmissionsConfig::from_env(&Env::isolated([
            ("CSPR_SUBMISSIONS_MAX_STREAMS_PER_AGENCY", "2"),
            ("CSPR_SUBMISSIONS_STAGE_MAX_AGE", "30m"),
        ]))
        .expect("valid");
        assert_eq!(config.max_streams_per_agency, 2);
        assert_eq!(config.stage_max_age, Duration::from_secs(1800));
        let defaults = SubmissionsConfig::from_env(&Env::isolated::<[(&str, &str); 0], _, _>([]))
            .expect("defaults");
        assert_eq!(defaults.max_streams_per_agency, 4);
        assert_eq!(defaults.stage_max_age, Duration::from_secs(3600));
        for (variable, value) in [
            ("CSPR_SUBMISSIONS_MAX_STREAMS_PER_AGENCY", "0"),
            ("CSPR_SUBMISSIONS_STAGE_MAX_AGE", "2m"),
        ] {
            let refused = SubmissionsConfig::from_env(&Env::isolated([(variable, value)]))
                .expect_err("refused");
            assert_eq!(refused.variable, variable);
        }
    }
}
