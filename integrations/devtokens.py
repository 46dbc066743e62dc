"""Development signing: a local RSA key that stands in for Entra ID in the offline demo.

`send_test_alert`, the tests and the benchmark sign tokens here exactly as Entra ID does
(same header, same claims); the server validates them with the production code, fetching
the public key from a key set URL like any tenant's. Never used to validate anything.
"""

import base64
import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .choices import AZURE_MONITOR_ACTION_GROUP_APP_ID, DEFAULT_REQUIRED_ROLE


def generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    """Load the development key at `path`, creating it (mode 0600) on first use."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError(f"{path} does not hold an RSA private key")
        return key
    key = generate_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_id(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """A stable `kid` for a key: the thumbprint of its public part, as Entra ID's are."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _b64(hashlib.sha1(der, usedforsecurity=False).digest())


def jwks_document(*keys: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> dict[str, Any]:
    """The public key set, shaped like Entra ID's discovery/v2.0/keys document."""
    out = []
    for key in keys:
        public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
        kid = key_id(public)
        jwk.update({"kid": kid, "use": "sig", "x5t": kid})
        out.append(jwk)
    return {"keys": out}


def entra_claims(
    *,
    tenant_id: str,
    audience: str,
    app_id: str = AZURE_MONITOR_ACTION_GROUP_APP_ID,
    roles: list[str] | None = None,
    version: str = "1.0",
    lifetime: int = 3600,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of an app-only token Entra ID issues to the action group application."""
    now = int(time.time()) if now is None else now
    object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{tenant_id}:{app_id}"))
    claims: dict[str, Any] = {
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "idp": f"https://sts.windows.net/{tenant_id}/",
        "oid": object_id,
        "roles": [DEFAULT_REQUIRED_ROLE] if roles is None else roles,
        "sub": object_id,
        "tid": tenant_id,
        "uti": _b64(os.urandom(16)),
        "ver": version,
    }
    if version == "2.0":
        claims.update(
            iss=f"https://login.microsoftonline.com/{tenant_id}/v2.0", azp=app_id, azpacr="2"
        )
    else:
        claims.update(iss=f"https://sts.windows.net/{tenant_id}/", appid=app_id, appidacr="2")
    return claims


def sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, *, kid: str | None = None) -> str:
    """Sign claims with RS256 and Entra ID's header (typ, alg, x5t, kid)."""
    kid = kid or key_id(key)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "x5t": kid})
