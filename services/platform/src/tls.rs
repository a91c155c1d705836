//! TLS for cspr's gRPC (rustls with the ring provider; no OpenSSL): the server's side
//! (`CSPR_TLS_CERT`, `CSPR_TLS_KEY`), mutual TLS for agency systems (`CSPR_TLS_CLIENT_CA`,
//! `CSPR_TLS_CLIENT_AUTH`), and the clients' side ([`ClientTls`]), which the `cspr` client
//! commands use and the web front end will.
//!
//! The server does the TLS accept itself (see [`crate::connections`]) rather than through
//! tonic's `tls_config`, so that the handshake timeout bounds the TLS handshake and the HTTP/2
//! preface after it together, and the idle timeout and shutdown's cut-off hold over TLS as
//! they do over plain TCP.
//!
//! # The agency of a client certificate
//!
//! A client certificate verified against `CSPR_TLS_CLIENT_CA` names its agency (the `org`
//! claim agency tokens carry) by a URI subject alternative name `urn:cspr:agency:<org>`, or,
//! if it has none, by its subject's common name (CN). A call whose token has an `org` is
//! `PERMISSION_DENIED` unless the org is the certificate's agency: a stolen agency token is
//! of no use without that agency's key. With `CSPR_TLS_CLIENT_AUTH=optional` clients without
//! a certificate (staff, the web front end) may connect, but an `agency` token on such a
//! connection is `UNAUTHENTICATED`: agency systems always come with their certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::{Request, Status};
use x509_cert::der::{Decode, Tag, Tagged};

use crate::auth::{Principal, Role};
use crate::config::{ConfigError, Env};

/// The URI SAN prefix that names a client certificate's agency.
pub const AGENCY_URI_PREFIX: &str = "urn:cspr:agency:";

/// The server's TLS: its certificate chain and key, and whether clients show certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTls {
    /// `CSPR_TLS_CERT`: the server's certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// `CSPR_TLS_KEY`: its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Mutual TLS, when `CSPR_TLS_CLIENT_CA` is set.
    pub client_auth: Option<ClientAuth>,
}

/// Mutual TLS: the CA client certificates are verified against, and whether one is required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAuth {
    /// `CSPR_TLS_CLIENT_CA`: the CA certificate(s), PEM.
    pub ca: PathBuf,
    /// `CSPR_TLS_CLIENT_AUTH`: `required` (the default: a client without a certificate is
    /// refused at the handshake) or `optional` (only agency tokens need one).
    pub required: bool,
}

/// A certificate or key that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(String);

impl ServerTls {
    /// `CSPR_TLS_CERT` and `CSPR_TLS_KEY` (both or neither), `CSPR_TLS_CLIENT_CA` and
    /// `CSPR_TLS_CLIENT_AUTH`; `None` when no certificate is configured (plaintext gRPC).
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let client_ca = env.get("CSPR_TLS_CLIENT_CA");
        let client_auth = env.get("CSPR_TLS_CLIENT_AUTH");
        let (cert, key) = match (env.get("CSPR_TLS_CERT"), env.get("CSPR_TLS_KEY")) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) => {
                if client_ca.is_some() || client_auth.is_some() {
                    return Err(ConfigError::new(
                        "CSPR_TLS_CLIENT_CA",
                        "mutual TLS needs the server's own CSPR_TLS_CERT and CSPR_TLS_KEY",
                    ));
                }
                return Ok(None);
            }
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "CSPR_TLS_KEY",
                    "CSPR_TLS_CERT is set: set its key too",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "CSPR_TLS_CERT",
                    "CSPR_TLS_KEY is set: set the certificate too",
                ));
            }
        };
        let required = match client_auth.as_deref() {
            None | Some("required") => true,
            Some("optional") => false,
            Some(_) => {
                return Err(ConfigError::new(
                    "CSPR_TLS_CLIENT_AUTH",
                    "must be 'required' or 'optional'",
                ));
            }
        };
        if client_ca.is_none() && client_auth.is_some() {
            return Err(ConfigError::new(
                "CSPR_TLS_CLIENT_AUTH",
                "needs CSPR_TLS_CLIENT_CA, the CA client certificates are verified against",
            ));
        }
        Ok(Some(Self {
            cert: cert.into(),
            key: key.into(),
            client_auth: client_ca.map(|ca| ClientAuth {
                ca: ca.into(),
                required,
            }),
        }))
    }

    /// Reads the files into the acceptor the server's connections go through (HTTP/2 only,
    /// by ALPN). Read at start-up: a rotated certificate takes effect at the next restart.
    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = read_certificates(&self.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|error| {
            TlsError(format!(
                "cannot read a private key from {}: {error}",
                self.key.display()
            ))
        })?;
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsError(error.to_string()))?;
        let builder = match &self.client_auth {
            None => builder.with_no_client_auth(),
            Some(client_auth) => {
                let roots = root_store(&client_auth.ca)?;
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                );
                let verifier = if client_auth.required {
                    verifier
                } else {
                    verifier.allow_unauthenticated()
                };
                builder.with_client_cert_verifier(
                    verifier
                        .build()
                        .map_err(|error| TlsError(format!("client CA: {error}")))?,
                )
            }
        };
        let mut config = builder.with_single_cert(certs, key).map_err(|error| {
            TlsError(format!(
                "{} and {} do not make a server identity: {error}",
                self.cert.display(),
                self.key.display()
            ))
        })?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// Every certificate of a PEM file, at least one.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let unreadable = |error: &dyn std::fmt::Display| {
        TlsError(format!("cannot read {}: {error}", path.display()))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|error| unreadable(&error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| unreadable(&error))?;
    if certs.is_empty() {
        return Err(unreadable(&"no PEM certificate in it"));
    }
    Ok(certs)
}

fn root_store(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certificates(path)? {
        roots
            .add(cert)
            .map_err(|error| TlsError(format!("{}: {error}", path.display())))?;
    }
    Ok(roots)
}

/// The agency a client certificate (DER) names: its first URI SAN `urn:cspr:agency:<org>`,
/// else its subject's CN; `None` if it names none (or cannot be read).
pub fn certificate_agency(der: &[u8]) -> Option<String> {
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let tbs = &cert.tbs_certificate;
    let from_san = tbs
        .extensions
        .iter()
        .flatten()
        .filter(|extension| extension.extn_id == SUBJECT_ALT_NAME)
        .filter_map(|extension| SubjectAltName::from_der(extension.extn_value.as_bytes()).ok())
        .flat_map(|names| names.0)
        .find_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => uri
                .to_string()
                .strip_prefix(AGENCY_URI_PREFIX)
                .map(str::to_string),
            _ => None,
        });
    let from_cn = || {
        tbs.subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .filter(|attribute| attribute.oid == COMMON_NAME)
            .find_map(|attribute| match attribute.value.tag() {
                Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => {
                    std::str::from_utf8(attribute.value.value())
                        .ok()
                        .map(str::to_string)
                }
                _ => None,
            })
    };
    from_san
        .or_else(from_cn)
        .filter(|agency| !agency.is_empty())
}

const COMMON_NAME: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("2.5.4.3");
const SUBJECT_ALT_NAME: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("2.5.29.17");

/// Checks a verified caller against its connection's client certificate (inside the
/// [`crate::auth::Authenticator`], which has put the [`Principal`] in the request): see the
/// module docs. Without mutual TLS configured it lets every call through.
#[derive(Clone, Debug)]
pub struct AgencyCertificates {
    /// Mutual TLS is on: an agency token must come with a certificate.
    mutual: bool,
}

impl AgencyCertificates {
    pub fn new(tls: Option<&ServerTls>) -> Self {
        Self {
            mutual: tls.is_some_and(|tls| tls.client_auth.is_some()),
        }
    }

    /// Whether `principal` may call over a connection whose client certificate (DER, leaf
    /// first) is `certificates`.
    pub fn check(
        &self,
        principal: &Principal,
        certificates: Option<&[CertificateDer<'_>]>,
    ) -> Result<(), Status> {
        if !self.mutual {
            return Ok(());
        }
        let Some(leaf) = certificates.and_then(<[_]>::first) else {
            if principal.has(Role::Agency) {
                return Err(Status::unauthenticated(
                    "agency calls need a client certificate (mutual TLS): none was presented",
                ));
            }
            return Ok(());
        };
        let Some(org) = &principal.org else {
            return Ok(());
        };
        match certificate_agency(leaf) {
            Some(agency) if &agency == org => Ok(()),
            Some(agency) => Err(Status::permission_denied(format!(
                "the token's org '{org}' is not the client certificate's agency '{agency}'"
            ))),
            None => Err(Status::permission_denied(format!(
                "the client certificate names no agency (a URI SAN {AGENCY_URI_PREFIX}<org> or a subject CN), so it cannot carry the token's org '{org}'"
            ))),
        }
    }
}

impl tonic::service::Interceptor for AgencyCertificates {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(principal) = request.extensions().get::<Principal>() {
            let certificates = request.peer_certs();
            self.check(principal, certificates.as_deref().map(Vec::as_slice))?;
        }
        Ok(request)
    }
}

/// How a client reaches a cspr service over TLS: the CA it verifies the server against (the
/// system's roots without one), and its own certificate for mutual TLS. The `cspr` client
/// commands take it from `--ca`/`--cert`/`--key` (`CSPR_TLS_CA`, `CSPR_TLS_CLIENT_CERT`,
/// `CSPR_TLS_CLIENT_KEY`); the web front end's gRPC client will too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// The CA certificate(s) the server's certificate must chain to, PEM.
    pub ca: Option<PathBuf>,
    /// The client's certificate chain (mutual TLS), PEM.
    pub cert: Option<PathBuf>,
    /// Its private key, PEM.
    pub key: Option<PathBuf>,
}

impl ClientTls {
    /// Whether anything asks for TLS (then a bare `host:port` means `https://`).
    pub fn configured(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some()
    }

    /// The URL to dial for `addr`: an `http://` or `https://` URL as given (TLS options
    /// with `http://` are an error, rather than silently sent in the clear), else
    /// `https://addr` when TLS is configured and `http://addr` when not.
    pub fn url(&self, addr: &str) -> Result<String, TlsError> {
        if addr.starts_with("https://") {
            return Ok(addr.to_string());
        }
        if addr.starts_with("http://") {
            if self.configured() {
                return Err(TlsError(format!(
                    "{addr} is plaintext but a CA or client certificate was given: use https://"
                )));
            }
            return Ok(addr.to_string());
        }
        Ok(if self.configured() {
            format!("https://{addr}")
        } else {
            format!("http://{addr}")
        })
    }

    /// tonic's client TLS: the server verified against the CA (or the system's roots), the
    /// client's identity when a certificate and key are given.
    pub fn tonic_config(&self) -> Result<tonic::transport::ClientTlsConfig, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path)
                .map_err(|error| TlsError(format!("cannot read {}: {error}", path.display())))
        };
        let mut config = tonic::transport::ClientTlsConfig::new();
        config = match &self.ca {
            Some(ca) => {
                // Checked here, so a wrong file is named now rather than as a handshake error.
                read_certificates(ca)?;
                config.ca_certificate(tonic::transport::Certificate::from_pem(read(ca)?))
            }
            None => config.with_native_roots(),
        };
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Ok(config.identity(tonic::transport::Identity::from_pem(
                read(cert)?,
                read(key)?,
            ))),
            (None, None) => Ok(config),
            _ => Err(TlsError(
                "a client certificate needs its key, and a key its certificate".into(),
            )),
        }
    }

    /// An endpoint for `addr` (see [`Self::url`]), with TLS when the URL is `https://`.
    pub fn endpoint(&self, addr: &str) -> Result<tonic::transport::Endpoint, TlsError> {
        let url = self.url(addr)?;
        let endpoint = tonic::transport::Endpoint::from_shared(url.clone())
            .map_err(|error| TlsError(format!("invalid address {url}: {error}")))?;
        if url.starts_with("https://") {
            endpoint
                .tls_config(self.tonic_config()?)
                .map_err(|error| TlsError(error.to_string()))
        } else {
            Ok(endpoint)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(params: rcgen::CertificateParams) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        params.self_signed(&key).expect("cert").der().to_vec()
    }

    #[test]
    fn the_agency_is_the_uri_san_else_the_common_name() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "police-north");
        assert_eq!(
            certificate_agency(&leaf(params.clone())).as_deref(),
            Some("police-north")
        );
        params.subject_alt_names.push(rcgen::SanType::URI(
            "urn:cspr:agency:health-east".try_into().expect("uri"),
        ));
        assert_eq!(
            certificate_agency(&leaf(params)).as_deref(),
            Some("health-east")
        );
        let nameless =
            rcgen::CertificateParams::new(vec!["agency.example".to_string()]).expect("params");
        let mut nameless = nameless;
        nameless.distinguished_name = rcgen::DistinguishedName::new();
        assert_eq!(certificate_agency(&leaf(nameless)), None);
        assert_eq!(certificate_agency(b"not a certificate"), None);
    }

    #[test]
    fn tls_settings_come_in_pairs() {
        let env = |pairs: &[(&str, &str)]| Env::isolated(pairs.iter().copied());
        assert_eq!(ServerTls::from_env(&env(&[])).expect("none"), None);
        let tls = ServerTls::from_env(&env(&[
            ("CSPR_TLS_CERT", "/tls/cert.pem"),
            ("CSPR_TLS_KEY", "/tls/key.pem"),
            ("CSPR_TLS_CLIENT_CA", "/tls/agencies.pem"),
        ]))
        .expect("valid")
        .expect("on");
        assert_eq!(
            tls.client_auth,
            Some(ClientAuth {
                ca: "/tls/agencies.pem".into(),
                required: true
            })
        );
        for (pairs, variable) in [
            (&[("CSPR_TLS_CERT", "c")][..], "CSPR_TLS_KEY"),
            (&[("CSPR_TLS_KEY", "k")][..], "CSPR_TLS_CERT"),
            (&[("CSPR_TLS_CLIENT_CA", "ca")][..], "CSPR_TLS_CLIENT_CA"),
            (
                &[
                    ("CSPR_TLS_CERT", "c"),
                    ("CSPR_TLS_KEY", "k"),
                    ("CSPR_TLS_CLIENT_AUTH", "optional"),
                ][..],
                "CSPR_TLS_CLIENT_AUTH",
            ),
            (
                &[
                    ("CSPR_TLS_CERT", "c"),
                    ("CSPR_TLS_KEY", "k"),
                    ("CSPR_TLS_CLIENT_CA", "ca"),
                    ("CSPR_TLS_CLIENT_AUTH", "sometimes"),
                ][..],
                "CSPR_TLS_CLIENT_AUTH",
            ),
        ] {
            let error = ServerTls::from_env(&env(pairs)).expect_err("refused");
            assert_eq!(error.variable, variable, "{pairs:?}");
        }
    }

    #[test]
    fn a_client_url_says_whether_it_is_tls() {
        let plain = ClientTls::default();
        let tls = ClientTls {
            ca: Some("ca.pem".into()),
            ..ClientTls::default()
        };
        assert_eq!(plain.url("127.0.0.1:1").expect("url"), "http://127.0.0.1:1");
        assert_eq!(tls.url("127.0.0.1:1").expect("url"), "https://127.0.0.1:1");
        assert_eq!(plain.url("https://a:1").expect("url"), "https://a:1");
        assert!(tls.url("http://a:1").is_err());
    }
}
