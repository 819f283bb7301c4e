"""Reference client for tests/oci_boot.rs::python_sdk_is_the_reference (Python `oci` SDK).

1. Signs a few requests with the SDK's security-token signer and prints
   `SIGNED\tmethod\turl\tdate\tbody_b64\tauthorization` for the Rust test to compare byte for byte.
2. Runs the SDK's own instance-principal flow against the stand-ins (OCI_METADATA_BASE_URL,
   FEDERATION_ENDPOINT) and reads a secret bundle from the Secrets stand-in (SECRETS_ENDPOINT),
   printing `SECRET_OK <length>` (never the value).
"""
import base64
import os

import oci
from oci._vendor import requests

key = oci.signer.load_private_key(os.environ["LEAF_KEY_PEM"], None)
signer = oci.auth.signers.SecurityTokenSigner("sdk-reference-token", key)
DATE = "Wed, 02 Dec 2026 10:00:00 GMT"
cases = [
    ("GET", "https://secrets.vaults.eu-frankfurt-1.oci.oraclecloud.com/20190301/secretbundles/ocid1.vaultsecret.oc1.eu-frankfurt-1.abc?stage=CURRENT", b""),
    ("GET", "http://127.0.0.1:8080/opc/a%20b/c?x=%2F&y=1", b""),
    ("DELETE", "https://example.oraclecloud.com:8443/20160918/things/ocid1.x", b""),
    ("POST", "https://cell1.notification.us-ashburn-1.oci.oraclecloud.com/20181201/topics/ocid1.onstopic.oc1.iad.x/messages", '{"title": "t", "body": "b\\u00e9"}'.encode()),
    ("POST", "https://secrets.vaults.us-ashburn-1.oci.oraclecloud.com/20190301/secretbundles/actions/getByName?secretName=a&vaultId=b", b""),
    ("PUT", "https://objectstorage.us-ashburn-1.oraclecloud.com/n/ns/b/bucket/o/name", b"\x00\x01binary\xff"),
]
for method, url, body in cases:
    req = requests.Request(method, url, headers={"date": DATE}, data=body).prepare()
    if method in ("POST", "PUT") and not body:
        req.body = b""
        req.headers["content-length"] = "0"
    signed = signer(req)
    print("SIGNED\t%s\t%s\t%s\t%s\t%s" % (method, url, DATE, base64.b64encode(body).decode(), signed.headers["authorization"]))

ip = oci.auth.signers.InstancePrincipalsSecurityTokenSigner(federation_endpoint=os.environ["FEDERATION_ENDPOINT"])
client = oci.secrets.SecretsClient({}, signer=ip, service_endpoint=os.environ["SECRETS_ENDPOINT"])
bundle = client.get_secret_bundle(os.environ["SECRET_OCID"]).data
value = base64.b64decode(bundle.secret_bundle_content.content)
print("SECRET_OK %d" % len(value))
