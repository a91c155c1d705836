//! The submissions service's own settings: submission limits and report reminders.

use std::time::Duration;

use cspr_platform::config::{ConfigError, Env};

use crate::domain::Limits;

#[derive(Debug, Clone)]
pub struct SubmissionsConfig {
    /// What one submission may carry.
    pub limits: Limits,
    /// A report turns "due soon" this many days before its due date.
    pub due_soon_days: u32,
    /// How often the reminder sweep runs.
    pub sweep_interval: Duration,
}

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
        Ok(Self {
            limits,
            due_soon_days: env.u32_or("CSPR_SUBMISSIONS_DUE_SOON_DAYS", 5)?,
            sweep_interval: env
                .duration_or("CSPR_SUBMISSIONS_SWEEP_INTERVAL", Duration::from_secs(300))?,
        })
    }
}

impl Default for SubmissionsConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            due_soon_days: 5,
            sweep_interval: Duration::from_secs(300),
        }
    }
}
