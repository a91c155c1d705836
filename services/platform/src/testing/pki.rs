//! Certificates a test makes: its own CA, a server certificate for `localhost` and
//! `127.0.0.1`, and agency client certificates, written as PEM files the way an operator
//! mounts them.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::tls::{ClientAuth, ClientTls, ServerTls};

/// A CA and the certificates it issued, in a directory removed on drop.
pub struct TestPki {
    directory: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl TestPki {
    /// A fresh CA (`ca.pem`) and a server certificate for `localhost`/`127.0.0.1`
    /// (`server.pem`, `server.key`).
    pub fn new() -> Self {
        Self::named("cspr test CA")
    }

    /// As [`Self::new`], the CA called `name` (two of them do not trust each other).
    pub fn named(name: &str) -> Self {
        let directory = std::env::temp_dir().join(super::unique("cspr-pki-"));
        std::fs::create_dir_all(&directory).expect("pki directory");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let pki = Self { directory, ca };
        std::fs::write(pki.path("ca.pem"), pki.ca.pem()).expect("ca.pem");
        pki.issue(
            "server",
            vec!["localhost".into(), "127.0.0.1".into()],
            "cspr server",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.directory.join(name)
    }

    /// Writes `<stem>.pem` and `<stem>.key`: a leaf for `names`, subject CN `common_name`.
    fn issue(
        &self,
        stem: &str,
        names: Vec<String>,
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
    ) -> (PathBuf, PathBuf) {
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.ca).expect("leaf certificate");
        let (cert_path, key_path) = (
            self.path(&format!("{stem}.pem")),
            self.path(&format!("{stem}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).expect("leaf pem");
        std::fs::write(&key_path, key.serialize_pem()).expect("leaf key");
        (cert_path, key_path)
    }

    /// The directory the PEM files are in.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// The CA certificate's file.
    pub fn ca_file(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// The server's TLS: its certificate, no client certificates.
    pub fn server(&self) -> ServerTls {
        ServerTls {
            cert: self.path("server.pem"),
            key: self.path("server.key"),
            client_auth: None,
        }
    }

    /// The server's TLS with mutual TLS against this CA, `required` or optional.
    pub fn server_mutual(&self, required: bool) -> ServerTls {
        ServerTls {
            client_auth: Some(ClientAuth {
                ca: self.ca_file(),
                required,
            }),
            ..self.server()
        }
    }

    /// A client that trusts this CA and shows no certificate.
    pub fn client(&self) -> ClientTls {
        ClientTls {
            ca: Some(self.ca_file()),
            ..ClientTls::default()
        }
    }

    /// A client that trusts this CA with a certificate for `agency` (its subject CN).
    pub fn agency_client(&self, agency: &str) -> ClientTls {
        let (cert, key) = self.issue(
            &format!("agency-{agency}"),
            Vec::new(),
            agency,
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        ClientTls {
            ca: Some(self.ca_file()),
            cert: Some(cert),
            key: Some(key),
        }
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
