//! TLS configuration (rustls with the `ring` provider). Client: the Mozilla root set compiled
//! in (webpki-roots, so the result does not depend on the machine's certificate store) plus,
//! optionally, a custom CA from a PEM file (`tls_ca_file` in a venue's config; the loopback
//! replay server's self-signed certificate in tests). Server (replay server only): a
//! self-signed certificate made with rcgen.
#![forbid(unsafe_code)]

use pki_types::pem::PemObject;
use pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Read every certificate of a PEM file.
pub fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in the file", path.display()));
    }
    Ok(certs)
}

/// Client configuration: webpki roots, plus the certificates of `ca_file` if given.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(p) = ca_file {
        for c in read_pem_certs(p)? {
            roots
                .add(c)
                .map_err(|e| format!("{}: certificate rejected: {e}", p.display()))?;
        }
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// A self-signed certificate for `localhost` / `127.0.0.1` / `::1`: (certificate PEM, server config).
pub fn self_signed_server() -> Result<(String, Arc<rustls::ServerConfig>), String> {
    let ck = rcgen::generate_simple_self_signed(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(|e| format!("rcgen: {e}"))?;
    let pem = ck.cert.pem();
    let cert = ck.cert.der().clone();
    let key =
        PrivateKeyDer::try_from(ck.signing_key.serialize_der()).map_err(|e| format!("key: {e}"))?;
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| e.to_string())?;
    Ok((pem, Arc::new(cfg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_build_and_custom_ca_loads() {
        client_config(None).unwrap();
        let (pem, _srv) = self_signed_server().unwrap();
        let dir = std::env::temp_dir().join(format!("arbot-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("ca.pem");
        std::fs::write(&p, &pem).unwrap();
        assert_eq!(read_pem_certs(&p).unwrap().len(), 1);
        client_config(Some(&p)).unwrap();
        std::fs::write(&p, "not a pem").unwrap();
        assert!(client_config(Some(&p)).is_err());
        assert!(client_config(Some(Path::new("/nonexistent/ca.pem"))).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
