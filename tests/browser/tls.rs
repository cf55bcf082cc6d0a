//! The app over `https` for the browser tests, so that the gate's `https` behaviour (its
//! `__Host-` cookies, `Secure`) is what Chromium sees. The certificate is self-signed for
//! `127.0.0.1` and `localhost`, made once for these tests with
//! `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 36500`, and
//! its key is in the repository: it protects nothing. Chromium is started with
//! `--ignore-certificate-errors`, so it trusts it.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

const CERTIFICATE: &[u8] = include_bytes!("../fixtures/tls/localhost.crt");
const KEY: &[u8] = include_bytes!("../fixtures/tls/localhost.key");

/// A listener whose connections have finished their TLS handshake, for `axum::serve`.
/// Handshakes run on tasks of their own: a connection that never finishes one (a
/// browser's speculative preconnect) holds up no other.
pub struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Listens on `listener` with the test certificate.
    pub fn new(listener: TcpListener) -> Self {
        let certificate =
            CertificateDer::from_pem_slice(CERTIFICATE).expect("the test certificate");
        let key = PrivateKeyDer::from_pem_slice(KEY).expect("the test key");
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring's defaults")
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)
            .expect("the test certificate and key match");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let local_addr = listener.local_addr().expect("a bound listener");
        let (sender, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Ok((tcp, peer)) = listener.accept().await {
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = sender.send((tls, peer)).await;
                    }
                });
            }
        });
        Self { local_addr, ready }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop ended (the listener failed): serve nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
