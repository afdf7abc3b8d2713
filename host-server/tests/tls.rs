//! The real binary serving TLS on loopback with a certificate made here (rcgen),
//! spoken to by a rustls client: HTTP/1.1 and, chosen by ALPN, HTTP/2; the TLS
//! key file's permission check; and HTTP/2 without TLS (prior knowledge), whose
//! limits the server announces in its SETTINGS frame.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use latchkey_harness::{Error, ServerBuilder, TempDir, temp_dir};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey-server");

/// A directory with a self-signed certificate for `localhost` and 127.0.0.1
/// (`cert.pem`, and `key.pem` at `key_mode`), and a builder for the server.
fn setup(label: &str, key_mode: u32) -> Result<(TempDir, ServerBuilder, Vec<u8>), Error> {
    let dir = temp_dir(&format!("tls-{label}"))?;
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    set_mode(&key, key_mode);
    let builder = ServerBuilder::new(Path::new(BIN), &dir.path().join("latchkey.db"))
        .arg("--dev-keys")
        .arg("--log")
        .arg("warn")
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key);
    Ok((dir, builder, made.cert.der().to_vec()))
}

#[cfg(unix)]
fn set_mode(path: &PathBuf, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_: &PathBuf, _: u32) {}

/// A TLS client trusting only `cert`, offering `alpn`.
fn connector(cert: &[u8], alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(pki_types::CertificateDer::from(cert.to_vec()))
        .unwrap();
    #[allow(deprecated)] // ring, as the server uses; see host-server/src/http/serve.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

async fn tls_stream(
    addr: SocketAddr,
    cert: &[u8],
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = pki_types::ServerName::try_from("localhost").unwrap();
    connector(cert, alpn).connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn https_over_http1_and_http2_by_alpn() -> Result<(), Error> {
    let (_dir, builder, cert) = setup("serve", 0o600)?;
    let server = builder.start()?;
    let addr = server.addr();

    // HTTP/1.1 (ALPN http/1.1), raw bytes through TLS.
    let mut stream = tls_stream(addr, &cert, &[b"http/1.1"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.ends_with(r#"{"status":"ok","version":"0.1.0"}"#),
        "{answer}"
    );

    // HTTP/2 (ALPN h2), through hyper's client.
    let stream = tls_stream(addr, &cert, &[b"h2", b"http/1.1"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    for path in ["/healthz", "/readyz"] {
        let request = hyper::Request::get(format!("https://localhost{path}"))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = send.send_request(request).await.unwrap();
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert!(body["status"].is_string(), "{body}");
    }
    let request = hyper::Request::get("https://localhost/me")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = send.send_request(request).await.unwrap();
    assert_eq!(
        (
            response.status(),
            response.headers()["www-authenticate"].to_str().unwrap()
        ),
        (hyper::StatusCode::UNAUTHORIZED, "Bearer realm=\"latchkey\"")
    );

    // Plain HTTP on the TLS port is no request.
    let mut plain = TcpStream::connect(addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    let _ = plain.read_to_end(&mut rest);
    assert!(!rest.starts_with(b"HTTP/1.1 200"), "{rest:?}");
    Ok(())
}

#[cfg(unix)]
#[test]
fn a_tls_key_readable_by_others_is_refused() -> Result<(), Error> {
    let (dir, _, _) = setup("mode", 0o644)?;
    let key = dir.path().join("key.pem");
    let out = ServerBuilder::new(Path::new(BIN), &dir.path().join("latchkey.db")).admin_output(
        &[
            "--dev-keys",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--tls-cert",
            dir.path().join("cert.pem").to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        "",
    )?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("run `chmod 600 {}`", key.display())),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "never listened");
    Ok(())
}

/// HTTP/2 with prior knowledge on the plain port: the server's first SETTINGS
/// frame announces its stream and header-list limits, and a request is answered.
#[tokio::test]
async fn h2c_announces_its_limits_and_answers() -> Result<(), Error> {
    let dir = temp_dir("h2c")?;
    let server = ServerBuilder::new(Path::new(BIN), &dir.path().join("latchkey.db"))
        .arg("--dev-keys")
        .arg("--log")
        .arg("warn")
        .start()?;
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The preface and an empty SETTINGS frame.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).unwrap();
    let length = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    assert_eq!((head[3], head[4]), (0x4, 0x0), "a SETTINGS frame first");
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload).unwrap();
    let settings: Vec<(u16, u32)> = payload
        .chunks_exact(6)
        .map(|s| {
            (
                u16::from_be_bytes([s[0], s[1]]),
                u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
            )
        })
        .collect();
    // SETTINGS_MAX_CONCURRENT_STREAMS (3) and SETTINGS_MAX_HEADER_LIST_SIZE (6).
    assert!(settings.contains(&(0x3, 64)), "{settings:?}");
    assert!(settings.contains(&(0x6, 16 * 1024)), "{settings:?}");

    let tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = hyper::Request::get("http://localhost/healthz")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = send.send_request(request).await.unwrap();
    assert_eq!(
        (response.version(), response.status()),
        (hyper::Version::HTTP_2, hyper::StatusCode::OK)
    );
    Ok(())
}
