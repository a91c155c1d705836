//! The actions service's own settings: when reminders fall due and how often they are swept.

use std::time::Duration;

use cspr_platform::config::{ConfigError, Env};

/// The service's settings.
#[derive(Debug, Clone)]
pub struct ActionsConfig {
    /// An action turns "due soon" this many days before its due date.
    pub due_soon_days: u32,
    /// Overdue by this many days, an action is escalated to the partnership.
    pub escalate_after_days: u32,
    /// How often reminders are swept.
    pub sweep_interval: Duration,
}

impl ActionsConfig {
    /// Reads `CSPR_ACTIONS_DUE_SOON_DAYS`, `CSPR_ACTIONS_ESCALATE_AFTER_DAYS`,
    /// `CSPR_ACTIONS_SWEEP_INTERVAL`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            due_soon_days: env.u32_or("CSPR_ACTIONS_DUE_SOON_DAYS", 14)?,
            escalate_after_days: env.u32_or("CSPR_ACTIONS_ESCALATE_AFTER_DAYS", 30)?,
            sweep_interval: env
                .duration_or("CSPR_ACTIONS_SWEEP_INTERVAL", Duration::from_secs(3600))?,
        })
    }
}
