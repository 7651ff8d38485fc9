"""Detached compact JWS as cluster-bootstrap's token/jws computes it (HS256, kid = token id)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compute_detached(content: str, token_id: str, token_secret: str) -> str:
    header = b64url(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode())
    payload = b64url(content.encode())
    key = token_secret.encode().ljust(32, b"\0")
    sig = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}..{b64url(sig)}"


def verify_detached(content: str, token_id: str, token_secret: str, detached: str) -> bool:
    return hmac.compare_digest(compute_detached(content, token_id, token_secret), detached)
