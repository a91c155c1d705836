//! The practitioners service's own settings: the deferral sweep.

use std::time::Duration;

use cspr_platform::config::{ConfigError, Env};

/// The service's settings.
#[derive(Debug, Clone)]
pub struct PractitionersConfig {
    /// How often deferrals past their review date are looked for
    /// (`CSPR_PRACTITIONERS_SWEEP_INTERVAL`).
    pub sweep_interval: Duration,
}

impl PractitionersConfig {
    /// Reads `CSPR_PRACTITIONERS_SWEEP_INTERVAL`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            sweep_interval: env.duration_or(
                "CSPR_PRACTITIONERS_SWEEP_INTERVAL",
                Duration::from_secs(3600),
            )?,
        })
    }
}
