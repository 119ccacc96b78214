"""The box's own certificate authority and HTTPS certificate.

Browsers refuse an https page calling http:// (mixed content), so a web POS served over HTTPS
can only reach the box over HTTPS. The box has no public name a public CA would certify, so
at its first start it makes its own CA (kept in the data dir, never leaving the box but as
its certificate), and with it a server certificate naming ``comptoir.local``, the host's
name, ``localhost`` and every address of the box. A shop trusts the CA once per tablet (the
setup page offers it, with an iPad/iPhone profile); afterwards the server certificate can be
renewed, for new addresses or before it expires, without anyone noticing.

The CA vouches for the box alone: X.509 name constraints limit it to the box's own names
(``comptoir.local``, its host name and ``HOST.local``, ``localhost``) and to private, loopback
and link-local addresses, so whoever reads its key off the card still cannot make a tablet
trust a certificate for any other site. A CA made before that (or for another host name) is
replaced, and ``replaced`` tells the setup page to ask the owner to install it again on each
tablet. The keys are files only the box's own user can read (0600 in a 0700 folder).

``ensure`` is called by the web process at start and by the background process as addresses
change; it writes only when something changed, atomically. The web process picks up a new
certificate without a restart (server.py).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from appliance.store import card

CA_DAYS = 3650
SERVER_DAYS = 397  # what Apple accepts for any server certificate
RENEW_BEFORE = datetime.timedelta(days=30)
BOX_NAME = "comptoir.local"
# The addresses a shop's box can have, and all its CA may vouch for besides its names.
PERMITTED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8",
    "fc00::/7", "fe80::/10", "::1/128"))


@dataclass(frozen=True)
class Paths:
    directory: Path

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def key(self) -> Path:
        return self.directory / "server.key"

    @property
    def cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def replaced(self) -> Path:
        """Written when a CA the tablets trusted was replaced, until the owner says they
        installed the new one."""
        return self.directory / "ca-replaced"


def paths(data_dir: Path) -> Paths:
    return Paths(data_dir / "tls")


def wanted_names(addresses: list[str]) -> tuple[list[str], list[str]]:
    """The DNS names and IP addresses the server certificate must carry."""
    host = socket.gethostname().split(".")[0].lower()
    names = sorted({BOX_NAME, "localhost", host, f"{host}.local"})
    ips = sorted({a for a in ("127.0.0.1", *addresses) if _private(a)}, key=lambda a: ipaddress.ip_address(a).packed)
    return names, ips


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in PERMITTED_NETWORKS)


def _constraints(names: list[str]) -> x509.NameConstraints:
    return x509.NameConstraints(
        permitted_subtrees=[*(x509.DNSName(n) for n in names), *(x509.IPAddress(n) for n in PERMITTED_NETWORKS)],
        excluded_subtrees=None)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())  # fast to sign and verify on a Raspberry Pi


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _make_ca(where: Paths, names: list[str]) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Comptoir"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"Comptoir box {uuid.uuid4().hex[:8]}")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(days=1))
            .not_valid_after(_now() + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_constraints(names), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    card.write_atomically(where.ca_key, _pem_key(key), mode=0o600)
    card.write_atomically(where.ca_cert, cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _load_ca(where: Paths, names: list[str]) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
    """The CA on the card, if it is there and is constrained to exactly these names."""
    if not (where.ca_key.exists() and where.ca_cert.exists()):
        return None
    key = serialization.load_pem_private_key(where.ca_key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    cert = x509.load_pem_x509_certificate(where.ca_cert.read_bytes())
    try:
        constraints = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints != _constraints(names):
        where.replaced.write_text(_now().isoformat())  # the tablets trust the old one: say so
        return None
    return key, cert


def _current_is_fine(where: Paths, ca: x509.Certificate, names: list[str], ips: list[str]) -> bool:
    if not (where.cert.exists() and where.key.exists()):
        return False
    cert = x509.load_pem_x509_certificate(where.cert.read_bytes())
    if cert.issuer != ca.subject or cert.not_valid_after_utc - _now() < RENEW_BEFORE:
        return False
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (set(alt.get_values_for_type(x509.DNSName)) >= set(names)
            and {str(a) for a in alt.get_values_for_type(x509.IPAddress)} >= set(ips))


def ensure(data_dir: Path, addresses: list[str]) -> bool:
    """Make the CA if there is none, and a server certificate if there is none, or it lacks
    a name or an address, or it expires within RENEW_BEFORE. True when it wrote one."""
    where = paths(data_dir)
    where.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    where.directory.chmod(0o700)  # made before the keys were kept private
    names, ips = wanted_names(addresses)
    ca_key, ca = _load_ca(where, names) or _make_ca(where, names)
    if _current_is_fine(where, ca, names, ips):
        return False
    key = _key()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BOX_NAME)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(days=1))
            .not_valid_after(_now() + datetime.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    card.write_atomically(where.key, _pem_key(key), mode=0o600)
    card.write_atomically(where.cert, cert.public_bytes(serialization.Encoding.PEM) + where.ca_cert.read_bytes())
    return True


def ca_pem(data_dir: Path) -> bytes:
    return paths(data_dir).ca_cert.read_bytes()


def ca_replaced(data_dir: Path) -> bool:
    """Was the CA replaced since the owner last installed it on the tablets?"""
    return paths(data_dir).replaced.exists()


def ca_installed(data_dir: Path) -> None:
    """The owner installed the new CA on every tablet: stop asking."""
    paths(data_dir).replaced.unlink(missing_ok=True)


def apple_profile(data_dir: Path, shop: str) -> bytes:
    """A configuration profile that installs the CA on an iPad or iPhone (Settings, then
    General, About, Certificate Trust Settings to trust it)."""
    der = x509.load_pem_x509_certificate(ca_pem(data_dir)).public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha256(der).hexdigest()
    profile_id, payload_id = (str(uuid.UUID(digest[i:i + 32])) for i in (0, 32))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>PayloadContent</key><array><dict>
<key>PayloadCertificateFileName</key><string>comptoir-ca.cer</string>
<key>PayloadContent</key><data>{base64.b64encode(der).decode()}</data>
<key>PayloadDisplayName</key><string>Comptoir</string>
<key>PayloadIdentifier</key><string>local.comptoir.ca.{payload_id}</string>
<key>PayloadType</key><string>com.apple.security.root</string>
<key>PayloadUUID</key><string>{payload_id}</string>
<key>PayloadVersion</key><integer>1</integer>
</dict></array>
<key>PayloadDisplayName</key><string>Comptoir · {escape(shop)}</string>
<key>PayloadIdentifier</key><string>local.comptoir.{profile_id}</string>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadUUID</key><string>{profile_id}</string>
<key>PayloadVersion</key><integer>1</integer>
</dict></plist>
""".encode()
