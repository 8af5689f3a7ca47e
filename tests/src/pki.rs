//! Certificates for tests of TLS: a CA of the test's own, and certificates it signed for a
//! daemon on this machine (`localhost`, `127.0.0.1`) and for a client, as PEM files in a
//! temporary directory (`ca.pem`, `server.pem`, `server.key`, `client.pem`, `client.key`).

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A CA and the certificates it signed, in files.
#[derive(Debug)]
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A new CA, with a server and a client certificate.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("write a certificate")
        };
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Roster test CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("a key"))
            .expect("the CA's certificate");
        write("ca.pem", ca.pem());
        for (name, names) in [
            (
                "server",
                vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            ),
            ("client", vec!["client.roster.test".to_owned()]),
        ] {
            let key = KeyPair::generate().expect("a key");
            let cert = CertificateParams::new(names)
                .expect("certificate parameters")
                .signed_by(&key, &ca)
                .expect("a certificate");
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Self { dir }
    }

    /// The file `name` in the directory (`ca.pem`, `server.key`, or one a test writes).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The directory, kept until the returned value is dropped.
    pub fn into_dir(self) -> tempfile::TempDir {
        self.dir
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}
