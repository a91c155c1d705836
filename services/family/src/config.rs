//! The family service's own settings: the keys personal fields are sealed with, and the
//! restriction sweep.

use std::time::Duration;

use cspr_platform::config::{ConfigError, Env};

use crate::crypto::FieldCipher;

/// The service's settings.
#[derive(Debug, Clone)]
pub struct FamilyConfig {
    /// The keys personal fields are sealed with.
    pub cipher: FieldCipher,
    /// How often restrictions past their review date are looked for.
    pub sweep_interval: Duration,
}

impl FamilyConfig {
    /// Reads `CSPR_FAMILY_DATA_KEY`, `CSPR_FAMILY_DATA_OLD_KEYS`, `CSPR_FAMILY_SWEEP_INTERVAL`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            cipher: FieldCipher::from_env(env)?,
            sweep_interval: env
                .duration_or("CSPR_FAMILY_SWEEP_INTERVAL", Duration::from_secs(3600))?,
        })
    }
}
