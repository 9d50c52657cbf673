//! nginx's certificate: the admin's own (`--tls-cert`/`--tls-key`), or a self-signed one made at
//! install for the machine's names.

use std::path::Path;

use anyhow::{Context, bail};

use crate::home::{Home, write_private, write_with_mode};

/// Puts a certificate and key in place unless one is there already. Returns what it did.
pub fn ensure(
    home: &Home,
    names: &[String],
    given: Option<(&Path, &Path)>,
) -> anyhow::Result<Option<String>> {
    let cert_path = home.tls_dir().join("cert.pem");
    let key_path = home.tls_dir().join("key.pem");
    if let Some((cert, key)) = given {
        let cert_pem =
            std::fs::read(cert).with_context(|| format!("cannot read {}", cert.display()))?;
        let key_pem =
            std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?;
        if !String::from_utf8_lossy(&cert_pem).contains("BEGIN CERTIFICATE") {
            bail!("{} is not a PEM certificate", cert.display());
        }
        if !String::from_utf8_lossy(&key_pem).contains("PRIVATE KEY") {
            bail!("{} is not a PEM private key", key.display());
        }
        let changed =
            write_with_mode(&cert_path, &cert_pem, 0o644)? | write_private(&key_path, &key_pem)?;
        return Ok(changed.then(|| format!("installed the certificate {}", cert.display())));
    }
    if cert_path.is_file() && key_path.is_file() {
        return Ok(None);
    }
    let certified = rcgen::generate_simple_self_signed(names.to_vec())
        .context("cannot make a self-signed certificate")?;
    write_with_mode(&cert_path, certified.cert.pem().as_bytes(), 0o644)?;
    write_private(&key_path, certified.signing_key.serialize_pem().as_bytes())?;
    Ok(Some(format!(
        "made a self-signed certificate for {} ({}); give your own with --tls-cert/--tls-key",
        names.join(", "),
        cert_path.display()
    )))
}
