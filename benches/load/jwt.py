#!/usr/bin/env python3
"""ES256 JWKS and JWT minting for the load benchmark, Python stdlib + the openssl CLI.

  jwt.py jwks  KEY.pem KID                      print a JWKS with KEY's public key
  jwt.py token KEY.pem KID --iss I --aud A [--sub S] [--ttl SECONDS]
                                                print a signed JWT (compact form)

The token carries sub, email, groups ["engineering"], iat, nbf (iat - 60) and exp
(iat + ttl, default one day). The ES256 signature is raw r||s (RFC 7518 3.4), converted
from the DER that `openssl dgst -sign` produces.
"""
import argparse
import base64
import json
import subprocess
import sys
import time


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def openssl(args, data: bytes = b"") -> bytes:
    return subprocess.run(["openssl", *args], input=data, check=True,
                          capture_output=True).stdout


def public_xy(key: str) -> tuple[bytes, bytes]:
    # SubjectPublicKeyInfo DER of a P-256 key ends with the uncompressed point 04||X||Y.
    der = openssl(["pkey", "-in", key, "-pubout", "-outform", "DER"])
    point = der[-65:]
    if point[0] != 4:
        raise SystemExit("jwt.py: not an uncompressed P-256 public key")
    return point[1:33], point[33:]


def der_to_raw(sig: bytes) -> bytes:
    """ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r||s, 32 bytes each."""
    def length(buf: bytes, i: int) -> tuple[int, int]:
        n = buf[i]
        if n < 0x80:
            return n, i + 1
        k = n & 0x7F
        return int.from_bytes(buf[i + 1:i + 1 + k], "big"), i + 1 + k

    if sig[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    _, i = length(sig, 1)
    out = b""
    for _ in range(2):
        if sig[i] != 0x02:
            raise ValueError("not a DER INTEGER")
        n, i = length(sig, i + 1)
        v = int.from_bytes(sig[i:i + n], "big")
        out += v.to_bytes(32, "big")
        i += n
    return out


def jwks(key: str, kid: str) -> dict:
    x, y = public_xy(key)
    return {"keys": [{"kty": "EC", "crv": "P-256", "x": b64u(x), "y": b64u(y),
                      "kid": kid, "alg": "ES256", "use": "sig"}]}


def token(key: str, kid: str, iss: str, aud: str, sub: str, ttl: int) -> str:
    now = int(time.time())
    header = {"alg": "ES256", "kid": kid, "typ": "JWT"}
    claims = {"iss": iss, "aud": aud, "sub": sub, "email": f"{sub}@example.com",
              "email_verified": True, "groups": ["engineering"],
              "iat": now, "nbf": now - 60, "exp": now + ttl}
    signing_input = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64u(json.dumps(claims, separators=(",", ":")).encode()))
    der = openssl(["dgst", "-sha256", "-sign", key], signing_input.encode())
    return signing_input + "." + b64u(der_to_raw(der))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    j = sub.add_parser("jwks")
    j.add_argument("key")
    j.add_argument("kid")
    t = sub.add_parser("token")
    t.add_argument("key")
    t.add_argument("kid")
    t.add_argument("--iss", required=True)
    t.add_argument("--aud", required=True)
    t.add_argument("--sub", default="load-user")
    t.add_argument("--ttl", type=int, default=86400)
    a = p.parse_args()
    if a.cmd == "jwks":
        print(json.dumps(jwks(a.key, a.kid), indent=2))
    else:
        print(token(a.key, a.kid, a.iss, a.aud, a.sub, a.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
