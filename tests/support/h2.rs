//! A hyper server (HTTP/1.1 and HTTP/2, plain or TLS with a throwaway CA) for protocol tests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

/// A running hyper server; counts requests by protocol version.
pub struct HyperServer {
    pub addr: SocketAddr,
    pub http2_requests: Arc<AtomicU64>,
    pub http1_requests: Arc<AtomicU64>,
    /// PEM file of the CA that signed the server's certificate (TLS servers only).
    pub ca_pem: Option<PathBuf>,
    _runtime: tokio::runtime::Runtime,
}

impl HyperServer {
    /// A plain-TCP server speaking HTTP/1.1 and HTTP/2 with prior knowledge (h2c).
    pub fn plain() -> HyperServer {
        HyperServer::start(None)
    }

    /// A TLS server for `localhost` offering h2 and http/1.1 by ALPN; the CA goes in `dir`.
    pub fn tls(dir: &Path) -> HyperServer {
        HyperServer::start(Some(dir))
    }

    pub fn http2_requests(&self) -> u64 {
        self.http2_requests.load(Ordering::Relaxed)
    }

    pub fn http1_requests(&self) -> u64 {
        self.http1_requests.load(Ordering::Relaxed)
    }

    fn start(tls_dir: Option<&Path>) -> HyperServer {
        let runtime = super::runtime();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let (acceptor, ca_pem) = match tls_dir {
            Some(dir) => {
                let (config, ca) = tls_config();
                let path = dir.join("ca.pem");
                std::fs::write(&path, ca).unwrap();
                (
                    Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
                    Some(path),
                )
            }
            None => (None, None),
        };
        let http2: Arc<AtomicU64> = Arc::default();
        let http1: Arc<AtomicU64> = Arc::default();
        let (h2, h1) = (http2.clone(), http1.clone());
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (h2, h1, acceptor) = (h2.clone(), h1.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let counter = if request.version() == hyper::Version::HTTP_2 {
                                &h2
                            } else {
                                &h1
                            };
                            counter.fetch_add(1, Ordering::Relaxed);
                            async {
                                Ok::<_, Infallible>(hyper::Response::new(Full::new(
                                    Bytes::from_static(b"hello"),
                                )))
                            }
                        });
                    let builder = auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(tcp).await {
                                let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                            }
                        }
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                        }
                    }
                });
            }
        });
        HyperServer {
            addr,
            http2_requests: http2,
            http1_requests: http1,
            ca_pem,
            _runtime: runtime,
        }
    }
}

/// A server config with a leaf for localhost/127.0.0.1 signed by a fresh CA; returns the CA PEM.
fn tls_config() -> (rustls::ServerConfig, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (config, ca.pem())
}
