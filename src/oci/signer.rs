//! OCI HTTP request signing ("Signature version 1", draft-cavage-http-signatures-08), I/O-free.
//!
//! Request parts in, headers out: [`sign`] computes the `date`, `host`, body headers and the
//! `Authorization` header exactly as Oracle's Python SDK does (same signing string, same parameter
//! order), so its output is byte-equal to the SDK's on the published vectors (see the tests).
//!
//! Signed headers: `date (request-target) host` for GET/HEAD/DELETE, plus `content-length
//! content-type x-content-sha256` for POST/PUT/PATCH. The federation call omits `host`
//! ([`HostHeader::Omitted`]), as both the Python and the Go SDK do.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
use sha2::{Digest as _, Sha256};

/// Why a request could not be signed or a key could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignError {
    /// The private key PEM is neither PKCS#1 (`RSA PRIVATE KEY`) nor PKCS#8 (`PRIVATE KEY`) RSA.
    KeyFormat,
    /// Generating a session key failed (the OS random source failed).
    KeyGeneration,
    /// The URL is not `scheme://host[:port]/path[?query]` without credentials.
    Url(&'static str),
    /// The method is not one OCI signs.
    Method,
    /// The RSA operation failed.
    Signature,
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignError::KeyFormat => f.write_str("private key is not an RSA key in PKCS#1 or PKCS#8 PEM"),
            SignError::KeyGeneration => f.write_str("could not generate an RSA session key"),
            SignError::Url(why) => write!(f, "cannot sign URL: {why}"),
            SignError::Method => f.write_str("unsupported HTTP method for OCI signing"),
            SignError::Signature => f.write_str("RSA signing failed"),
        }
    }
}

impl std::error::Error for SignError {}

/// An RSA private key used to sign OCI requests (the instance leaf key or a session key).
///
/// Kept only in RAM; the underlying key zeroizes itself on drop; `Debug` is redacted.
pub struct RsaKey(rsa::RsaPrivateKey);

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaKey([redacted])")
    }
}

impl RsaKey {
    /// Parses a PEM private key, PKCS#1 or PKCS#8 (IMDS has served both forms).
    pub fn from_pem(pem: &str) -> Result<RsaKey, SignError> {
        let pem = pem.trim();
        rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(pem))
            .map(RsaKey)
            .map_err(|_| SignError::KeyFormat)
    }

    /// Generates a fresh RSA-2048 (e = 65537) session key, as the SDKs do on every token refresh.
    pub fn generate_session_key() -> Result<RsaKey, SignError> {
        rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map(RsaKey).map_err(|_| SignError::KeyGeneration)
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn public_spki_der(&self) -> Result<Vec<u8>, SignError> {
        self.0.to_public_key().to_public_key_der().map(|d| d.as_bytes().to_vec()).map_err(|_| SignError::KeyFormat)
    }

    /// RSASSA-PKCS1-v1_5 over SHA-256 (blinded), base64.
    fn sign_b64(&self, data: &[u8]) -> Result<String, SignError> {
        let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(self.0.clone());
        let sig = signer.try_sign_with_rng(&mut rand_core::OsRng, data).map_err(|_| SignError::Signature)?;
        Ok(B64.encode(sig.to_bytes()))
    }
}

/// Whether the `host` header is part of the signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostHeader {
    /// Signed (every service call).
    Signed,
    /// Not signed (the `/v1/x509` federation call).
    Omitted,
}

/// The parts of a request that the signature covers.
#[derive(Clone, Debug)]
pub struct RequestParts<'a> {
    /// Upper-case method: GET, HEAD, DELETE, POST, PUT or PATCH.
    pub method: &'a str,
    /// The full URL exactly as it will be sent (path and query still percent-encoded).
    pub url: &'a str,
    /// The `date` header value (RFC 7231 IMF-fixdate, see [`http_date`]).
    pub date: &'a str,
    /// The body (empty for GET).
    pub body: &'a [u8],
    /// The content type of the body (signed only for methods with a body).
    pub content_type: &'a str,
}

/// The headers to send with a signed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `(name, value)` of every header the signature covers except `(request-target)`, plus
    /// `authorization`; names lower-case, in signing order.
    pub headers: Vec<(&'static str, String)>,
    /// The signing string (for diagnostics and tests; contains no secret).
    pub signing_string: String,
}

impl SignedHeaders {
    /// The value of one header.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Splits a URL into (host as written, path-and-query as written).
pub fn split_url(url: &str) -> Result<(&str, &str), SignError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or(SignError::Url("expected http:// or https://"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return Err(SignError::Url("no path")),
    };
    if host.is_empty() || host.contains(['@', ' ', '?', '#']) {
        return Err(SignError::Url("bad host"));
    }
    if path.contains(['#', ' ']) {
        return Err(SignError::Url("fragment or space in path"));
    }
    Ok((host, path))
}

/// base64(SHA-256(body)), the `x-content-sha256` header.
pub fn content_sha256(body: &[u8]) -> String {
    B64.encode(Sha256::digest(body))
}

/// Signs a request with `key`, naming the key `key_id` (`ST$<token>` or `<tenancy>/fed-x509…/<fp>`).
pub fn sign(key: &RsaKey, key_id: &str, req: &RequestParts<'_>, host: HostHeader) -> Result<SignedHeaders, SignError> {
    let with_body = match req.method {
        "GET" | "HEAD" | "DELETE" => false,
        "POST" | "PUT" | "PATCH" => true,
        _ => return Err(SignError::Method),
    };
    let (host_value, target) = split_url(req.url)?;
    let mut headers: Vec<(&'static str, String)> = vec![("date", req.date.to_string())];
    let mut lines = vec![
        format!("date: {}", req.date),
        format!("(request-target): {} {}", req.method.to_ascii_lowercase(), target),
    ];
    let mut names = vec!["date", "(request-target)"];
    if host == HostHeader::Signed {
        lines.push(format!("host: {host_value}"));
        names.push("host");
        headers.push(("host", host_value.to_string()));
    }
    if with_body {
        let body_headers = [
            ("content-length", req.body.len().to_string()),
            ("content-type", req.content_type.to_string()),
            ("x-content-sha256", content_sha256(req.body)),
        ];
        for (name, value) in body_headers {
            lines.push(format!("{name}: {value}"));
            names.push(name);
            headers.push((name, value));
        }
    }
    let signing_string = lines.join("\n");
    let signature = key.sign_b64(signing_string.as_bytes())?;
    // Parameter order as the Python SDK emits it, so the whole header is byte-equal.
    let authorization = format!(
        "Signature algorithm=\"rsa-sha256\",headers=\"{}\",keyId=\"{key_id}\",signature=\"{signature}\",version=\"1\"",
        names.join(" ")
    );
    headers.push(("authorization", authorization));
    Ok(SignedHeaders { headers, signing_string })
}

/// Formats Unix seconds as an HTTP date, e.g. `Thu, 05 Jan 2014 21:31:40 GMT`.
pub fn http_date(unix_secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parses an IMF-fixdate (`Thu, 05 Jan 2014 21:31:40 GMT`) into Unix seconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mut parts = text.trim().split(' ');
    let _weekday = parts.next()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as u32 + 1;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + s)
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    //! The vectors of research/oci.md §3a, produced with the Python `oci` SDK 2.189.0.
    use super::*;

    const KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDCFENGw33yGihy92pDjZQhl0C36rPJj+CvfSC8+q28hxA161QF
NUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6Z4UMR7EOcpfdUE9Hf3m/hs+F
UR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJwoYi+1hqp1fIekaxsyQIDAQAB
AoGBAJR8ZkCUvx5kzv+utdl7T5MnordT1TvoXXJGXK7ZZ+UuvMNUCdN2QPc4sBiA
QWvLw1cSKt5DsKZ8UETpYPy8pPYnnDEz2dDYiaew9+xEpubyeW2oH4Zx71wqBtOK
kqwrXa/pzdpiucRRjk6vE6YY7EBBs/g7uanVpGibOVAEsqH1AkEA7DkjVH28WDUg
f1nqvfn2Kj6CT7nIcE3jGJsZZ7zlZmBmHFDONMLUrXR/Zm3pR5m0tCmBqa5RK95u
412jt1dPIwJBANJT3v8pnkth48bQo/fKel6uEYyboRtA5/uHuHkZ6FQF7OUkGogc
mSJluOdc5t6hI1VsLn0QZEjQZMEOWr+wKSMCQQCC4kXJEsHAve77oP6HtG/IiEn7
kpyUXRNvFsDE0czpJJBvL/aRFUJxuRK91jhjC68sA7NsKMGg5OXb5I5Jj36xAkEA
gIT7aFOYBFwGgQAQkWNKLvySgKbAZRTeLBacpHMuQdl1DfdntvAyqpAZ0lY0RKmW
G6aFKaqQfOXKCyWoUiVknQJAXrlgySFci/2ueKlIE1QqIiLSZ8V8OlpFLRnb1pzI
7U1yQXnTAEFYM560yJlzUpOb1V4cScGd365tiSMvxLOvTA==
-----END RSA PRIVATE KEY-----";
    const DATE: &str = "Thu, 05 Jan 2014 21:31:40 GMT";
    const TEN: &str = "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq";
    const USR: &str = "ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq";
    const FP: &str = "20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34";

    fn key() -> RsaKey {
        RsaKey::from_pem(KEY).unwrap()
    }

    fn sig_of(h: &SignedHeaders) -> String {
        let auth = h.get("authorization").unwrap();
        let start = auth.find("signature=\"").unwrap() + 11;
        auth[start..start + auth[start..].find('"').unwrap()].to_string()
    }

    #[test]
    fn v1_api_key_get() {
        let url = "https://iaas.us-phoenix-1.oraclecloud.com/20160918/instances?availabilityDomain=Pjwf%3A%20PHX-AD-1&compartmentId=ocid1.compartment.oc1..aaaaaaaam3we6vgnherjq5q2idnccdflvjsnog7mlr6rtdb25gilchfeyjxa&displayName=TeamXInstances&volumeId=ocid1.volume.oc1.phx.abyhqljrgvttnlx73nmrwfaux7kcvzfs3s66izvxf2h4lgvyndsdsnoiwr5q";
        let req = RequestParts { method: "GET", url, date: DATE, body: b"", content_type: "application/json" };
        let h = sign(&key(), &format!("{TEN}/{USR}/{FP}"), &req, HostHeader::Signed).unwrap();
        assert_eq!(sig_of(&h), "GBas7grhyrhSKHP6AVIj/h5/Vp8bd/peM79H9Wv8kjoaCivujVXlpbKLjMPeDUhxkFIWtTtLBj3sUzaFj34XE6YZAHc9r2DmE4pMwOAy/kiITcZxa1oHPOeRheC0jP2dqbTll8fmTZVwKZOKHYPtrLJIJQHJjNvxFWeHQjMaR7M=");
        assert!(h.get("authorization").unwrap().contains("headers=\"date (request-target) host\""));
        assert_eq!(h.get("content-length"), None);
    }

    #[test]
    fn v2_api_key_post() {
        let body = "{\n    \"compartmentId\": \"ocid1.compartment.oc1..aaaaaaaam3we6vgnherjq5q2idnccdflvjsnog7mlr6rtdb25gilchfeyjxa\",\n    \"instanceId\": \"ocid1.instance.oc1.phx.abuw4ljrlsfiqw6vzzxb43vyypt4pkodawglp3wqxjqofakrwvou52gb6s5a\",\n    \"volumeId\": \"ocid1.volume.oc1.phx.abyhqljrgvttnlx73nmrwfaux7kcvzfs3s66izvxf2h4lgvyndsdsnoiwr5q\"\n}";
        assert_eq!(body.len(), 316);
        let req = RequestParts {
            method: "POST",
            url: "https://iaas.us-phoenix-1.oraclecloud.com/20160918/volumeAttachments",
            date: DATE,
            body: body.as_bytes(),
            content_type: "application/json",
        };
        let h = sign(&key(), &format!("{TEN}/{USR}/{FP}"), &req, HostHeader::Signed).unwrap();
        assert_eq!(h.get("content-length"), Some("316"));
        assert_eq!(h.get("x-content-sha256"), Some("V9Z20UJTvkvpJ50flBzKE32+6m2zJjweHpDMX/U4Uy0="));
        assert_eq!(sig_of(&h), "Mje8vIDPlwIHmD/cTDwRxE7HaAvBg16JnVcsuqaNRim23fFPgQfLoOOxae6WqKb1uPjYEl0qIdazWaBy/Ml8DRhqlocMwoSXv0fbukP8J5N80LCmzT/FFBvIvTB91XuXI3hYfP9Zt1l7S6ieVadHUfqBedWH0itrtPJBgKmrWso=");
    }

    #[test]
    fn v3_security_token_get_whole_header() {
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln";
        let req = RequestParts {
            method: "GET",
            url: "https://secrets.vaults.us-ashburn-1.oci.oraclecloud.com/20190301/secretbundles/ocid1.vaultsecret.oc1.iad.exampleuniqueid?stage=CURRENT",
            date: DATE,
            body: b"",
            content_type: "application/json",
        };
        let h = sign(&key(), &format!("ST${token}"), &req, HostHeader::Signed).unwrap();
        assert_eq!(
            h.signing_string,
            "date: Thu, 05 Jan 2014 21:31:40 GMT\n(request-target): get /20190301/secretbundles/ocid1.vaultsecret.oc1.iad.exampleuniqueid?stage=CURRENT\nhost: secrets.vaults.us-ashburn-1.oci.oraclecloud.com"
        );
        assert_eq!(
            h.get("authorization").unwrap(),
            "Signature algorithm=\"rsa-sha256\",headers=\"date (request-target) host\",keyId=\"ST$eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln\",signature=\"LRjGviMPbhF3mK9ZqbDel1/nr8ETDDkJvvm2yJQuVY0/PKktWxE3AOz+sWxEDHtuxHnwQELT/3iUTsKbWMLQE/Bpt4iX6cqMsIQgSwQ7ZqM9MYou5N2PKhDG28e49Y82HJUK7jH58OUCyiezoQlTU54hHhFT2CnFTNlju+pRPLw=\",version=\"1\""
        );
    }

    #[test]
    fn v4_security_token_ons_publish() {
        let req = RequestParts {
            method: "POST",
            url: "https://cell1.notification.us-ashburn-1.oci.oraclecloud.com/20181201/topics/ocid1.onstopic.oc1.iad.exampleuniqueid/messages",
            date: DATE,
            body: br#"{"title": "alert", "body": "disk full"}"#,
            content_type: "application/json",
        };
        let h = sign(&key(), "ST$eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln", &req, HostHeader::Signed).unwrap();
        assert_eq!(h.get("x-content-sha256"), Some("InElNwBIw8+0DaDlYaG6glTYNrY8yMARKHNARBk15aM="));
        assert!(h.get("authorization").unwrap().contains("headers=\"date (request-target) host content-length content-type x-content-sha256\""));
        assert_eq!(sig_of(&h), "ko3I3TAFhTwGhg08dYF/WEnAsvOnwir7+C6mlPUIfwtzSDZpeZfbS7wpjJNC20ulPRIGUP+1AVSZuGVxKYv3BGsQ5cKw7UznElNod4nRB/OXYaAC8QGK5DactgOkQBQt5BHQGf8tQKY//ypw0tSSsdYvZ7wH0xSZcZ9XPHub4Oc=");
    }

    #[test]
    fn v5_federation_request_omits_host() {
        let body = br#"{"certificate": "MIIBfake", "publicKey": "MIIBpub", "intermediateCertificates": ["MIIBint"]}"#;
        assert_eq!(body.len(), 92);
        let req = RequestParts { method: "POST", url: "https://auth.us-ashburn-1.oraclecloud.com/v1/x509", date: DATE, body, content_type: "application/json" };
        let key_id = format!("{TEN}/fed-x509/AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD");
        let h = sign(&key(), &key_id, &req, HostHeader::Omitted).unwrap();
        assert_eq!(
            h.signing_string,
            "date: Thu, 05 Jan 2014 21:31:40 GMT\n(request-target): post /v1/x509\ncontent-length: 92\ncontent-type: application/json\nx-content-sha256: 7d1rnneIQCGiQHXmHdlYR6WSj8bePy2Y9hPBGoktKY0="
        );
        assert_eq!(h.get("host"), None);
        assert_eq!(sig_of(&h), "vkkSI+tc5cPD7qFZoMvuHfmf1+f0yWFKybzyvM45LuSfzScqfABX6bvvHu8hA5CWC6o973F5iwmFIj671KJ5Rmb4ZphdFS9CuM8vmSns3QVtVm9GIK6FgIkSsNEC2pvFrAq+IKS/XYFPuUAm6fFYKQ0H98+4Gh3oX+6srC5zrTk=");
    }

    #[test]
    fn v6_security_token_empty_body_post() {
        let req = RequestParts {
            method: "POST",
            url: "https://secrets.vaults.us-ashburn-1.oci.oraclecloud.com/20190301/secretbundles/actions/getByName?secretName=db-pass&vaultId=ocid1.vault.oc1.iad.example",
            date: DATE,
            body: b"",
            content_type: "application/json",
        };
        let h = sign(&key(), "ST$eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln", &req, HostHeader::Signed).unwrap();
        assert_eq!(h.get("content-length"), Some("0"));
        assert_eq!(h.get("x-content-sha256"), Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
        assert_eq!(sig_of(&h), "ZfgImH3YAH7xmcUjeDQ5OBkSZY3J9ZFLRIESn/LUfeB7fyXeZLY5gw1Ot2i5zNPOqFeIriREONw3UcTsnhCA/kH4oHM9jUttB2DkIWkKuach26UilNHJSJKW3eLSblZ3nkuSMAC7mp2cfuKRTnFha8T4XbVXFvGF+YczVHZhldE=");
    }

    #[test]
    fn pkcs8_form_of_the_same_key_signs_the_same() {
        use rsa::pkcs8::EncodePrivateKey as _;
        let pkcs8 = key().0.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let req = RequestParts { method: "GET", url: "https://a.example/x", date: DATE, body: b"", content_type: "" };
        let a = sign(&key(), "k", &req, HostHeader::Signed).unwrap();
        let b = sign(&RsaKey::from_pem(&pkcs8).unwrap(), "k", &req, HostHeader::Signed).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        assert_eq!(RsaKey::from_pem("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----").unwrap_err(), SignError::KeyFormat);
        let req = |method, url| RequestParts { method, url, date: DATE, body: b"", content_type: "" };
        assert!(matches!(sign(&key(), "k", &req("GET", "ftp://x/"), HostHeader::Signed), Err(SignError::Url(_))));
        assert!(matches!(sign(&key(), "k", &req("GET", "https://u@x/"), HostHeader::Signed), Err(SignError::Url(_))));
        assert!(matches!(sign(&key(), "k", &req("GET", "https://x"), HostHeader::Signed), Err(SignError::Url(_))));
        assert_eq!(sign(&key(), "k", &req("TRACE", "https://x/"), HostHeader::Signed), Err(SignError::Method));
        assert_eq!(format!("{:?}", key()), "RsaKey([redacted])");
    }

    #[test]
    fn http_dates_round_trip() {
        // The vectors' date names the wrong weekday (5 Jan 2014 was a Sunday); it is only a string.
        assert_eq!(http_date(1_388_957_500), "Sun, 05 Jan 2014 21:31:40 GMT");
        assert_eq!(parse_http_date(DATE), Some(1_388_957_500));
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        for t in [0i64, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse_http_date(&http_date(t)), Some(t));
        }
        assert_eq!(parse_http_date("garbage"), None);
        assert_eq!(parse_http_date("Thu, 05 Foo 2014 21:31:40 GMT"), None);
    }
}
