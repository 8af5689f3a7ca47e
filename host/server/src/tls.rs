//! TLS for the API: a certificate and key from PEM files, and optionally the client
//! certificates a CA signed (mutual TLS).
//!
//! Handshakes run in tasks of their own, so a client that stalls in one holds up nobody:
//! [`TlsListener`] hands the router only connections whose handshake is done.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// The `[tls]` table of the daemon's configuration. Paths are relative to the configuration
/// file.
///
/// ```toml
/// [tls]
/// cert = "server.pem"      # the certificate chain, PEM
/// key = "server.key"       # its private key, PEM
/// client_ca = "ca.pem"     # optional: only clients with a certificate this CA signed
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The certificate's private key.
    pub key: PathBuf,
    /// The CA whose client certificates are required, when clients must have one.
    pub client_ca: Option<PathBuf>,
}

/// How long a client may take over its handshake.
const HANDSHAKE_PATIENCE: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the router.
const BACKLOG: usize = 1024;

impl TlsConfig {
    /// The rustls configuration these files make.
    ///
    /// # Errors
    /// A message naming the file that cannot be read or used.
    pub fn server_config(&self, base_dir: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
        // ring builds in seconds where aws-lc-rs takes minutes; it offers no post-quantum
        // key exchange, which rustls marks by deprecating its provider.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cert_path = base_dir.join(&self.cert);
        let key_path = base_dir.join(&self.key);
        let chain = certificates(&cert_path)?;
        let key = PrivateKeyDer::from_pem_file(&key_path)
            .map_err(|e| format!("tls key {}: {e}", key_path.display()))?;
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("tls: {e}"))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let ca_path = base_dir.join(ca);
                let mut roots = rustls::RootCertStore::empty();
                for cert in certificates(&ca_path)? {
                    roots
                        .add(cert)
                        .map_err(|e| format!("tls client_ca {}: {e}", ca_path.display()))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| format!("tls client_ca {}: {e}", ca_path.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            format!(
                "tls cert {} and key {}: {e}",
                cert_path.display(),
                key_path.display()
            )
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Every certificate in a PEM file (at least one).
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("tls certificate {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "tls certificate {}: no certificate in it",
            path.display()
        ));
    }
    Ok(certs)
}

/// Connections that completed their TLS handshake, for `axum::serve`.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (sender, ready) = mpsc::channel(BACKLOG);
        let acceptor = tokio::spawn(accept(listener, TlsAcceptor::from(config), sender));
        Ok(Self {
            ready,
            local_addr,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

/// Accept connections and shake hands with each in a task of its own.
async fn accept(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: give the process a moment.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_PATIENCE, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The acceptor never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
