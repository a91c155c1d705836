//! The notifications service's own settings: where mail goes and how patiently.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use cspr_platform::config::{ConfigError, Env};

use crate::domain::RetryPolicy;

/// Where emails go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTarget {
    /// An SMTP server: `smtp://host:port` (STARTTLS when offered), `smtps://user:pass@host:465`.
    Smtp { url: String },
    /// `.eml` files in a folder (the embedded default, for a laptop).
    Files { directory: PathBuf },
}

#[derive(Debug, Clone)]
pub struct NotificationsConfig {
    pub target: MailTarget,
    /// The From address.
    pub from: String,
    pub retry: RetryPolicy,
    /// Deliveries sent at once (over the SMTP connection pool).
    pub concurrency: u32,
    /// Backstop poll of the sender when no notification wakes it.
    pub poll_interval: Duration,
    /// How long a sender holds the deliveries it claimed (see
    /// [`crate::sender::SenderSettings::claim`]).
    pub claim: Duration,
    /// Each partnership's business unit mailbox (partnership id → address), for what the
    /// business unit must hear of (a panel member found involved in the case); a
    /// partnership without one is not emailed those.
    pub business_units: BTreeMap<String, String>,
}

impl NotificationsConfig {
    /// The defaults (the README's), sending to `target`.
    pub fn to(target: MailTarget) -> Self {
        Self {
            target,
            from: "CSPR reviews <no-reply@cspr.localhost>".to_string(),
            retry: RetryPolicy::default(),
            concurrency: 32,
            poll_interval: Duration::from_secs(1),
            claim: Duration::from_secs(5 * 60),
            business_units: BTreeMap::new(),
        }
    }

    /// Reads `CSPR_SMTP_URL`, `CSPR_MAIL_FROM`, `CSPR_MAIL_DIR`, `CSPR_MAIL_MAX_ATTEMPTS`,
    /// `CSPR_MAIL_RETRY_BASE`, `CSPR_MAIL_CONCURRENCY`, `CSPR_MAIL_POLL_INTERVAL`,
    /// `CSPR_MAIL_CLAIM`, `CSPR_BUSINESS_UNIT_EMAILS` (see the README).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let target = match env.get("CSPR_SMTP_URL") {
            Some(url) => {
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                    return Err(ConfigError::new(
                        "CSPR_SMTP_URL",
                        "must start with smtp:// or smtps://",
                    ));
                }
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url)
                    .map_err(|error| ConfigError::new("CSPR_SMTP_URL", error.to_string()))?;
                MailTarget::Smtp { url }
            }
            None => MailTarget::Files {
                directory: PathBuf::from(
                    env.get("CSPR_MAIL_DIR")
                        .unwrap_or_else(|| "./var/mail".to_string()),
                ),
            },
        };
        let defaults = Self::to(target);
        let from = env.get("CSPR_MAIL_FROM").unwrap_or(defaults.from);
        from.parse::<lettre::message::Mailbox>().map_err(|error| {
            ConfigError::new("CSPR_MAIL_FROM", format!("not an address: {error}"))
        })?;
        let max_attempts =
            env.u32_or("CSPR_MAIL_MAX_ATTEMPTS", defaults.retry.max_attempts as u32)?;
        if max_attempts == 0 {
            return Err(ConfigError::new(
                "CSPR_MAIL_MAX_ATTEMPTS",
                "must be at least 1",
            ));
        }
        Ok(Self {
            from,
            retry: RetryPolicy {
                max_attempts: i32::try_from(max_attempts).unwrap_or(i32::MAX),
                base: env.duration_or("CSPR_MAIL_RETRY_BASE", defaults.retry.base)?,
                cap: defaults.retry.cap,
            },
            concurrency: env
                .u32_or("CSPR_MAIL_CONCURRENCY", defaults.concurrency)?
                .max(1),
            poll_interval: env.duration_or("CSPR_MAIL_POLL_INTERVAL", defaults.poll_interval)?,
            claim: match env.duration_or("CSPR_MAIL_CLAIM", defaults.claim)? {
                claim if claim < Duration::from_secs(1) => {
                    return Err(ConfigError::new(
                        "CSPR_MAIL_CLAIM",
                        "must be at least 1s (longer than a send takes)",
                    ));
                }
                claim => claim,
            },
            business_units: business_units(env.get("CSPR_BUSINESS_UNIT_EMAILS"))?,
            target: defaults.target,
        })
    }
}

/// `CSPR_BUSINESS_UNIT_EMAILS`: `partnership=address`, comma-separated (e.g.
/// `southvale=safeguarding.bu@southvale.example.org,northmoor=bu@northmoor.example.org`).
fn business_units(raw: Option<String>) -> Result<BTreeMap<String, String>, ConfigError> {
    let error = |message: String| ConfigError::new("CSPR_BUSINESS_UNIT_EMAILS", message);
    let mut units = BTreeMap::new();
    for pair in raw.iter().flat_map(|raw| raw.split(',')) {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let Some((partnership, address)) = pair.split_once('=') else {
            return Err(error(format!("{pair:?} is not partnership=address")));
        };
        let (partnership, address) = (partnership.trim(), address.trim());
        if partnership.is_empty() {
            return Err(error(format!("{pair:?} names no partnership")));
        }
        address.parse::<lettre::Address>().map_err(|parse| {
            error(format!(
                "{address:?} (for {partnership}) is not an address: {parse}"
            ))
        })?;
        if units
            .insert(partnership.to_string(), address.to_string())
            .is_some()
        {
            return Err(error(format!("{partnership} is given twice")));
        }
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_units_are_read_per_partnership_and_checked() {
        let config = NotificationsConfig::from_env(&Env::isolated([(
            "CSPR_BUSINESS_UNIT_EMAILS",
            " southvale = bu@southvale.example.org ,northmoor=bu@northmoor.example.org",
        )]))
        .expect("valid");
        assert_eq!(
            config.business_units,
            BTreeMap::from([
                (
                    "northmoor".to_string(),
                    "bu@northmoor.example.org".to_string()
                ),
                (
                    "southvale".to_string(),
                    "bu@southvale.example.org".to_string()
                ),
            ])
        );
        assert!(
            NotificationsConfig::from_env(&Env::isolated([("CSPR_MAIL_DIR", "/tmp/mail")]))
                .expect("valid")
                .business_units
                .is_empty()
        );
        for (raw, says) in [
            ("southvale", "is not partnership=address"),
            ("=bu@southvale.example.org", "names no partnership"),
            ("southvale=not an address", "is not an address"),
            ("southvale=a@b.example,southvale=c@d.example", "given twice"),
        ] {
            let error =
                NotificationsConfig::from_env(&Env::isolated([("CSPR_BUSINESS_UNIT_EMAILS", raw)]))
                    .expect_err(raw);
            assert!(error.to_string().contains(says), "{raw}: {error}");
        }
    }

    #[test]
    fn without_smtp_mail_goes_to_files() {
        let config =
            NotificationsConfig::from_env(&Env::isolated([("CSPR_MAIL_DIR", "/tmp/mail")]))
                .expect("valid");
        assert_eq!(
            config.target,
            MailTarget::Files {
                directory: "/tmp/mail".into()
            }
        );
    }

    #[test]
    fn bad_settings_name_their_variable() {
        for (variable, value) in [
            ("CSPR_SMTP_URL", "http://mail"),
            ("CSPR_MAIL_FROM", "not an address"),
            ("CSPR_MAIL_MAX_ATTEMPTS", "0"),
        ] {
            let error = NotificationsConfig::from_env(&Env::isolated([(variable, value)]))
                .expect_err(variable);
            assert_eq!(error.variable, variable);
        }
    }
}
