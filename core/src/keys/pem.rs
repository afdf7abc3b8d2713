//! PEM public keys (RFC 7468, strict): `PUBLIC KEY` (a SubjectPublicKeyInfo) and
//! `RSA PUBLIC KEY` (PKCS#1), decoded by `pem-rfc7468` into a caller buffer, then
//! read as DER.

use super::KeyMaterial;
use crate::Error;

/// What a PEM label says the document is.
enum Label {
    Spki,
    Pkcs1,
}

impl Label {
    fn of(label: &str) -> Result<Self, Error> {
        match label {
            "PUBLIC KEY" => Ok(Label::Spki),
            "RSA PUBLIC KEY" => Ok(Label::Pkcs1),
            // PKCS#8 (`PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`), PKCS#1 and SEC1
            // (`RSA PRIVATE KEY`, `EC PRIVATE KEY`), OpenSSH, ...
            l if l.ends_with("PRIVATE KEY") => Err(Error::PrivateKey),
            // Certificates, requests, parameters: not a public key on its own.
            _ => Err(Error::UnsupportedKey),
        }
    }
}

impl<'a> KeyMaterial<'a> {
    /// Reads one PEM public key: `-----BEGIN PUBLIC KEY-----` (SPKI, as
    /// [`from_spki_der`](Self::from_spki_der)) or `-----BEGIN RSA PUBLIC KEY-----`
    /// (PKCS#1, as [`from_pkcs1_der`](Self::from_pkcs1_der)). The DER is decoded
    /// into `buf`, and the material borrows from it; [`PEM_BUFFER_LEN`] bytes hold
    /// any key this returns.
    ///
    /// RFC 7468's strict grammar: base64 lines of 64 characters but the last, no
    /// headers. The label is read before anything is decoded, so a private key is
    /// refused without its bytes being written to `buf`.
    ///
    /// [`PEM_BUFFER_LEN`]: super::PEM_BUFFER_LEN
    ///
    /// # Errors
    /// - [`Error::PrivateKey`]: a label ending in `PRIVATE KEY`;
    /// - [`Error::UnsupportedKey`]: any other label but the two above
    ///   (`CERTIFICATE`, ...), or as [`from_spki_der`](Self::from_spki_der);
    /// - [`Error::BufferTooSmall`]: `buf` cannot hold the DER;
    /// - [`Error::InvalidKey`]: not one strict PEM document, or its DER is malformed.
    pub fn from_pem(pem: &[u8], buf: &'a mut [u8]) -> Result<Self, Error> {
        let label = pem_rfc7468::decode_label(pem).map_err(|_| Error::InvalidKey)?;
        let kind = Label::of(label)?;
        let mut decoder = pem_rfc7468::Decoder::new(pem).map_err(|_| Error::InvalidKey)?;
        let out = buf
            .get_mut(..decoder.remaining_len())
            .ok_or(Error::BufferTooSmall)?;
        let der = decoder.decode(out).map_err(|_| Error::InvalidKey)?;
        if !decoder.is_finished() {
            return Err(Error::InvalidKey);
        }
        match kind {
            Label::Spki => Self::from_spki_der(der),
            Label::Pkcs1 => Self::from_pkcs1_der(der),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{ED25519_KEY_LEN, PEM_BUFFER_LEN};

    /// RFC 8410 section 10.1's Ed25519 public key.
    const ED25519_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
        MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
        -----END PUBLIC KEY-----\n";

    #[test]
    fn rfc8410_ed25519() {
        let mut buf = [0u8; PEM_BUFFER_LEN];
        let m = KeyMaterial::from_pem(ED25519_PEM.as_bytes(), &mut buf).unwrap();
        let KeyMaterial::Ed25519(x) = m else {
            panic!("{m:?}")
        };
        assert_eq!(x.len(), ED25519_KEY_LEN);
        assert_eq!(x[..4], [0x19, 0xbf, 0x44, 0x09]);
        // 44 bytes of DER: one fewer is too small.
        let mut small = [0u8; 43];
        assert_eq!(
            KeyMaterial::from_pem(ED25519_PEM.as_bytes(), &mut small),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn labels() {
        extern crate std;
        for (label, want) in [
            ("PRIVATE KEY", Error::PrivateKey),
            ("ENCRYPTED PRIVATE KEY", Error::PrivateKey),
            ("RSA PRIVATE KEY", Error::PrivateKey),
            ("EC PRIVATE KEY", Error::PrivateKey),
            ("CERTIFICATE", Error::UnsupportedKey),
            ("EC PARAMETERS", Error::UnsupportedKey),
        ] {
            let pem = ED25519_PEM.replace("PUBLIC KEY", label);
            let mut buf = [0xa5u8; PEM_BUFFER_LEN];
            assert_eq!(
                KeyMaterial::from_pem(pem.as_bytes(), &mut buf),
                Err(want),
                "{label}"
            );
            // Refused from its label alone: nothing was decoded into the buffer.
            assert!(buf.iter().all(|&b| b == 0xa5), "{label}");
        }
        // Mismatched boundaries, an `RSA PUBLIC KEY` holding an SPKI.
        let pem = ED25519_PEM.replacen("PUBLIC KEY", "RSA PUBLIC KEY", 1);
        let mut buf = [0u8; PEM_BUFFER_LEN];
        assert_eq!(
            KeyMaterial::from_pem(pem.as_bytes(), &mut buf),
            Err(Error::InvalidKey)
        );
        let pem = ED25519_PEM.replace("PUBLIC KEY", "RSA PUBLIC KEY");
        assert_eq!(
            KeyMaterial::from_pem(pem.as_bytes(), &mut buf),
            Err(Error::InvalidKey)
        );
    }
}
