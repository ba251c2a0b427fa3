//! TLS for tests: a certificate authority made for the test, and a TLS-terminating
//! proxy in front of a plaintext server (the embedded broker), as a managed Kafka
//! cluster's TLS listener looks to its clients.
//!
//! Server certificates name `localhost` and `127.0.0.1`, so clients keep checking the
//! host name against the certificate, as they do in production.

use std::{net::SocketAddr, sync::Arc};

use rustls::pki_types::PrivatePkcs8KeyDer;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A certificate authority that exists for one test.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl TestCa {
    /// A new authority with a fresh key.
    pub fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().expect("a key is generated");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("empty names are valid");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let pem = params.self_signed(&key).expect("the authority signs itself").pem();
        TestCa { issuer: rcgen::Issuer::new(params, key), pem }
    }

    /// The authority's certificate, PEM: what clients trust.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server configuration with a certificate for `localhost` and `127.0.0.1` issued
    /// by this authority.
    pub fn server_config(&self) -> rustls::ServerConfig {
        let key = rcgen::KeyPair::generate().expect("a key is generated");
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let params = rcgen::CertificateParams::new(names).expect("the names are valid");
        let certificate = params.signed_by(&key, &self.issuer).expect("the authority signs");
        let private = PrivatePkcs8KeyDer::from(key.serialize_der());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the default versions are supported")
            .with_no_client_auth()
            .with_single_cert(vec![certificate.der().clone()], private.into())
            .expect("the certificate matches its key")
    }
}

/// Accepts TLS on a loopback port and forwards each connection's plaintext to an
/// upstream server; stops when dropped.
pub struct TlsProxy {
    addr: SocketAddr,
    shutdown: CancellationToken,
}

impl TlsProxy {
    /// Takes connections on `listener`, terminates TLS with a certificate from `ca`
    /// and forwards to `upstream`. Binding first lets a broker advertise the proxy's
    /// address before the proxy knows the broker's.
    pub fn start(listener: TcpListener, upstream: SocketAddr, ca: &TestCa) -> TlsProxy {
        let addr = listener.local_addr().expect("a bound listener has an address");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server_config()));
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((client, _)) = accepted else { continue };
                let (acceptor, stop) = (acceptor.clone(), stop.clone());
                tokio::spawn(async move {
                    // A client that refuses our certificate ends here, as it should.
                    let Ok(mut client) = acceptor.accept(client).await else { return };
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        TlsProxy { addr, shutdown }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
