//! Opens connections: TCP, TLS over TCP (rustls, ALPN) or a Unix socket, all behind one
//! [`Stream`] type so the protocol drivers are written once.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::recorder::ErrorKind;
use crate::plan::{LoadPlan, TlsPlan};

/// An open connection of any transport.
pub(super) enum Stream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
    /// A Unix domain socket.
    Unix(UnixStream),
}

/// A failed connection attempt, classified.
#[derive(Debug)]
pub(super) struct ConnectError {
    /// What kind of failure, for the counts.
    pub kind: ErrorKind,
    /// The underlying message, kept as a sample.
    pub detail: String,
}

/// Opens connections to the run's target. Cheap to clone: one per worker.
#[derive(Clone)]
pub(super) struct Connector {
    addr: Option<SocketAddr>,
    socket_path: Option<PathBuf>,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    http2: bool,
    timeout: Duration,
}

impl Connector {
    /// Builds the connector once per run: the TLS configuration and the address to use.
    pub(super) fn new(plan: &LoadPlan) -> anyhow::Result<Connector> {
        let tls = if plan.target.tls {
            let config = tls_config(&plan.tls, plan.http2)?;
            let name = ServerName::try_from(plan.target.host.clone()).with_context(|| {
                format!("'{}' is not a valid TLS server name", plan.target.host)
            })?;
            Some((TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(Connector {
            addr: pick_address(&plan.target.addrs),
            socket_path: plan.target.socket_path.clone(),
            tls,
            http2: plan.http2,
            timeout: plan.timeout,
        })
    }

    /// Opens one connection, within the request timeout.
    pub(super) async fn connect(&self) -> Result<Stream, ConnectError> {
        match tokio::time::timeout(self.timeout, self.open()).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError {
                kind: ErrorKind::Connect,
                detail: format!("connect timed out after {:?}", self.timeout),
            }),
        }
    }

    async fn open(&self) -> Result<Stream, ConnectError> {
        if let Some(path) = &self.socket_path {
            return UnixStream::connect(path)
                .await
                .map(Stream::Unix)
                .map_err(connect_error);
        }
        let addr = self.addr.ok_or_else(|| ConnectError {
            kind: ErrorKind::Connect,
            detail: "no address to connect to".to_string(),
        })?;
        let tcp = TcpStream::connect(addr).await.map_err(connect_error)?;
        // Requests are small and latency is what we measure: never wait to coalesce.
        let _ = tcp.set_nodelay(true);
        let Some((connector, name)) = &self.tls else {
            return Ok(Stream::Tcp(tcp));
        };
        let tls = connector
            .connect(name.clone(), tcp)
            .await
            .map_err(|err| ConnectError {
                kind: ErrorKind::Tls,
                detail: format!("TLS handshake failed: {err}"),
            })?;
        if self.http2 && tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err(ConnectError {
                kind: ErrorKind::Tls,
                detail: "the server did not offer HTTP/2 (ALPN h2); drop --http2".to_string(),
            });
        }
        Ok(Stream::Tls(Box::new(tls)))
    }
}

fn connect_error(err: io::Error) -> ConnectError {
    let kind = if err.kind() == io::ErrorKind::ConnectionRefused {
        ErrorKind::ConnectRefused
    } else {
        ErrorKind::Connect
    };
    ConnectError {
        kind,
        detail: err.to_string(),
    }
}

/// With several addresses (localhost is often ::1 and 127.0.0.1), uses the first that accepts
/// a connection now, so that a server listening on only one of them is not counted as refusing.
fn pick_address(addrs: &[SocketAddr]) -> Option<SocketAddr> {
    if addrs.len() > 1 {
        for addr in addrs {
            if std::net::TcpStream::connect_timeout(addr, Duration::from_secs(1)).is_ok() {
                return Some(*addr);
            }
        }
    }
    addrs.first().copied()
}

/// The rustls client configuration: system roots plus `--cacert`, or no checks with
/// `--insecure`; ALPN offers h2 or http/1.1 as asked.
fn tls_config(plan: &TlsPlan, http2: bool) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("could not set up TLS")?;
    let mut config = if plan.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(insecure::AcceptAll(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        for cert in &plan.extra_roots {
            roots
                .add(cert.clone())
                .context("--cacert: a certificate in the file is not a valid CA certificate")?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

mod insecure {
    //! `--insecure`: a verifier that accepts every certificate but still checks signatures
    //! are well formed, as curl's `-k` does.
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, Error, SignatureScheme};

    #[derive(Debug)]
    pub(super) struct AcceptAll(pub Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAll {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

macro_rules! delegate {
    ($self:ident, $inner:ident => $call:expr) => {
        match $self.get_mut() {
            Stream::Tcp($inner) => $call,
            Stream::Tls($inner) => $call,
            Stream::Unix($inner) => $call,
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
            Stream::Unix(s) => s.is_write_vectored(),
        }
    }
}
