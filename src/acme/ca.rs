//! The compiled-in list of ACME certificate authorities. Configuration (including instance
//! metadata) may only *name* one of these; a directory URL can come only from the process
//! environment, for tests (`ACME_DIRECTORY_URL`).

/// An ACME CA the binary knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KnownCa {
    /// Let's Encrypt production (`letsencrypt`).
    LetsEncrypt,
    /// Let's Encrypt staging (`letsencrypt-staging`): untrusted roots, generous limits; for tests.
    LetsEncryptStaging,
    /// ZeroSSL (`zerossl`): requires External Account Binding credentials.
    ZeroSsl,
    /// Google Trust Services (`google`): requires External Account Binding credentials.
    Google,
}

impl KnownCa {
    /// Every known CA, in documentation order.
    pub const ALL: [KnownCa; 4] = [KnownCa::LetsEncrypt, KnownCa::LetsEncryptStaging, KnownCa::ZeroSsl, KnownCa::Google];

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            KnownCa::LetsEncrypt => "letsencrypt",
            KnownCa::LetsEncryptStaging => "letsencrypt-staging",
            KnownCa::ZeroSsl => "zerossl",
            KnownCa::Google => "google",
        }
    }

    /// The compiled-in directory URL.
    pub fn directory_url(self) -> &'static str {
        match self {
            KnownCa::LetsEncrypt => "https://acme-v02.api.letsencrypt.org/directory",
            KnownCa::LetsEncryptStaging => "https://acme-staging-v02.api.letsencrypt.org/directory",
            KnownCa::ZeroSsl => "https://acme.zerossl.com/v2/DV90",
            KnownCa::Google => "https://dv.acme-v02.api.pki.goog/directory",
        }
    }

    /// True when the CA refuses new accounts without External Account Binding.
    pub fn requires_eab(self) -> bool {
        matches!(self, KnownCa::ZeroSsl | KnownCa::Google)
    }

    /// Looks a CA up by its configuration name.
    pub fn parse(name: &str) -> Option<KnownCa> {
        KnownCa::ALL.into_iter().find(|ca| ca.name() == name)
    }

    /// The names, for error messages.
    pub fn names() -> String {
        KnownCa::ALL.iter().map(|ca| ca.name()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_urls_are_https() {
        for ca in KnownCa::ALL {
            assert_eq!(KnownCa::parse(ca.name()), Some(ca));
            assert!(ca.directory_url().starts_with("https://"));
        }
        assert_eq!(KnownCa::parse("https://evil.example/dir"), None);
        assert_eq!(KnownCa::parse("LetsEncrypt"), None);
    }
}
