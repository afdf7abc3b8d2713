#!/usr/bin/env python3
"""Writes malformed.json beside this file: hand-made key inputs (DER, PEM, JWK, JWK
Set), each with the answer latchkey-core's key readers must give.

The inputs are the Wycheproof keys of ../wycheproof (their first groups' RSA 2048,
P-256 and Ed25519 keys), RFC 8410's examples, and mutations of them built here with a
minimal DER writer. Run from anywhere: python3 core/tests/data/keys/make_malformed.py
"""

import base64
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
WYCHEPROOF = os.path.join(HERE, "..", "wycheproof")


def group(name):
    with open(os.path.join(WYCHEPROOF, name)) as f:
        return json.load(f)["testGroups"][0]


RSA = group("rsa_signature_2048_sha256_test.json")
P256 = group("ecdsa_secp256r1_sha256_p1363_test.json")
ED = group("ed25519_test.json")


# A minimal DER writer.
def length(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + length(len(content)) + content


def seq(*items):
    return tlv(0x30, b"".join(items))


def integer(magnitude):
    """A DER INTEGER of the unsigned big-endian `magnitude`, as written (so a
    leading zero or a top bit set is the caller's choice)."""
    return tlv(0x02, magnitude)


def uint(magnitude):
    m = magnitude.lstrip(b"\0") or b"\0"
    return integer(b"\0" + m if m[0] & 0x80 else m)


def oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


NULL = bytes([0x05, 0x00])


def bits(content, unused=0):
    return tlv(0x03, bytes([unused]) + content)


def spki(alg_oid, params, key, unused=0):
    alg = seq(oid(alg_oid), params) if params is not None else seq(oid(alg_oid))
    return seq(alg, bits(key, unused))


RSA_OID = "1.2.840.113549.1.1.1"
EC_OID = "1.2.840.10045.2.1"
P256_OID = "1.2.840.10045.3.1.7"
P384_OID = "1.3.132.0.34"
ED25519_OID = "1.3.101.112"

N = bytes.fromhex(RSA["publicKey"]["modulus"]).lstrip(b"\0")
E = bytes.fromhex(RSA["publicKey"]["publicExponent"])
RSA_SPKI = bytes.fromhex(RSA["publicKeyDer"])
RSA_PKCS1 = bytes.fromhex(RSA["publicKeyAsn"])
assert RSA_PKCS1 == seq(uint(N), uint(E))
assert RSA_SPKI == spki(RSA_OID, NULL, RSA_PKCS1)

POINT = bytes.fromhex(P256["publicKey"]["uncompressed"])
X, Y = POINT[1:33], POINT[33:]
EC_SPKI = bytes.fromhex(P256["publicKeyDer"])
assert EC_SPKI == spki(EC_OID, oid(P256_OID), POINT)

ED_KEY = bytes.fromhex(ED["publicKey"]["pk"])
ED_SPKI = bytes.fromhex(ED["publicKeyDer"])
assert ED_SPKI == spki(ED25519_OID, None, ED_KEY)

# RFC 8410 section 10.3: an Ed25519 private key (PKCS#8).
ED_PKCS8 = bytes.fromhex(
    "302e020100300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"
)


def rsa_spki(n=N, e=E):
    return spki(RSA_OID, NULL, seq(uint(n), uint(e)))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def pem(label, der, width=64, eol="\n", end_label=None):
    text = base64.b64encode(der).decode()
    lines = [text[i : i + width] for i in range(0, len(text), width)]
    end = label if end_label is None else end_label
    return eol.join([f"-----BEGIN {label}-----", *lines, f"-----END {end}-----", ""])


cases = []


def case(fmt, comment, expect, text=None, der=None):
    c = {"format": fmt, "comment": comment}
    if der is not None:
        c["hex"] = der.hex()
    else:
        c["text"] = text
    c["expect"] = expect
    cases.append(c)


# --- SubjectPublicKeyInfo ---------------------------------------------------------
S = "spki"
case(S, "Wycheproof RSA 2048 key", "ok:RSA", der=RSA_SPKI)
case(S, "Wycheproof P-256 key", "ok:EC", der=EC_SPKI)
case(S, "Wycheproof Ed25519 key", "ok:OKP", der=ED_SPKI)
case(S, "empty", "bad-key", der=b"")
case(S, "truncated by one byte", "bad-key", der=RSA_SPKI[:-1])
case(S, "truncated to half", "bad-key", der=RSA_SPKI[: len(RSA_SPKI) // 2])
case(S, "trailing zero byte", "bad-key", der=RSA_SPKI + b"\0")
case(S, "trailing second SPKI", "bad-key", der=ED_SPKI + ED_SPKI)
case(S, "outer length one more than there is", "bad-key", der=bytes([0x30, 0x2B]) + ED_SPKI[2:])
case(S, "BER indefinite length", "bad-key", der=bytes([0x30, 0x80]) + ED_SPKI[2:] + b"\0\0")
case(S, "non-minimal length (long form for 42)", "bad-key", der=bytes([0x30, 0x81, 0x2A]) + ED_SPKI[2:])
case(S, "outer SET, not SEQUENCE", "bad-key", der=bytes([0x31]) + ED_SPKI[1:])
case(S, "PKCS#8 private key (RFC 8410 10.3)", "bad-key", der=ED_PKCS8)
case(S, "PKCS#1 RSAPublicKey, not an SPKI", "bad-key", der=RSA_PKCS1)
case(S, "rsa: parameters absent", "bad-key", der=spki(RSA_OID, None, RSA_PKCS1))
case(S, "rsa: parameters an OID", "bad-key", der=spki(RSA_OID, oid(P256_OID), RSA_PKCS1))
case(S, "rsa: NULL with content", "bad-key", der=spki(RSA_OID, bytes([0x05, 0x01, 0x00]), RSA_PKCS1))
case(S, "rsa: id-RSASSA-PSS key", "unsupported-key", der=spki("1.2.840.113549.1.1.10", None, RSA_PKCS1))
case(S, "rsa: DSA OID", "unsupported-key", der=spki("1.2.840.10040.4.1", NULL, RSA_PKCS1))
case(S, "rsa: bit string with an unused bit", "bad-key", der=spki(RSA_OID, NULL, RSA_PKCS1[:-1] + bytes([RSA_PKCS1[-1] & 0xFE]), unused=1))
case(S, "rsa: key an OCTET STRING, not a BIT STRING", "bad-key", der=seq(seq(oid(RSA_OID), NULL), tlv(0x04, RSA_PKCS1)))
case(S, "rsa: negative modulus (sign byte dropped)", "bad-key", der=spki(RSA_OID, NULL, seq(integer(N), uint(E))))
case(S, "rsa: modulus with a redundant zero byte", "bad-key", der=spki(RSA_OID, NULL, seq(integer(b"\0\0" + N), uint(E))))
case(S, "rsa: modulus zero", "bad-key", der=rsa_spki(n=b"\0"))
case(S, "rsa: exponent zero", "bad-key", der=rsa_spki(e=b"\0"))
case(S, "rsa: negative exponent", "bad-key", der=spki(RSA_OID, NULL, seq(uint(N), integer(b"\xff"))))
case(S, "rsa: 4096-bit modulus, the longest", "ok:RSA", der=rsa_spki(n=b"\xc5" * 512))
case(S, "rsa: 4104-bit modulus, one byte too long", "bad-key", der=rsa_spki(n=b"\xc5" * 513))
case(S, "rsa: 64-bit exponent, the longest", "ok:RSA", der=rsa_spki(e=b"\xff" * 8))
case(S, "rsa: 72-bit exponent, one byte too long", "bad-key", der=rsa_spki(e=b"\x01" * 9))
case(S, "rsa: 1024-bit modulus (well-formed; alg::rsa refuses it)", "ok:RSA", der=rsa_spki(n=N[:128]))
case(S, "rsa: e = 3 (well-formed; alg::rsa refuses it)", "ok:RSA", der=rsa_spki(e=b"\x03"))
case(S, "rsa: RSAPublicKey with trailing bytes", "bad-key", der=spki(RSA_OID, NULL, RSA_PKCS1 + b"\0"))
case(S, "rsa: RSAPublicKey of three integers", "bad-key", der=spki(RSA_OID, NULL, seq(uint(N), uint(E), uint(b"\x01"))))
case(S, "rsa: RSAPublicKey of one integer", "bad-key", der=spki(RSA_OID, NULL, seq(uint(N))))
case(S, "ec: parameters absent", "bad-key", der=spki(EC_OID, None, POINT))
case(S, "ec: parameters NULL (implicitCurve)", "bad-key", der=spki(EC_OID, NULL, POINT))
case(S, "ec: specifiedCurve parameters", "bad-key", der=spki(EC_OID, seq(integer(b"\x01")), POINT))
case(S, "ec: secp256k1", "unsupported-key", der=spki(EC_OID, oid("1.3.132.0.10"), POINT))
case(S, "ec: brainpoolP256r1", "unsupported-key", der=spki(EC_OID, oid("1.3.36.3.3.2.8.1.1.7"), POINT))
case(S, "ec: compressed point", "unsupported-key", der=spki(EC_OID, oid(P256_OID), bytes([2 + (Y[-1] & 1)]) + X))
case(S, "ec: hybrid point", "bad-key", der=spki(EC_OID, oid(P256_OID), bytes([6 + (Y[-1] & 1)]) + X + Y))
case(S, "ec: point prefix 0x05", "bad-key", der=spki(EC_OID, oid(P256_OID), b"\x05" + X + Y))
case(S, "ec: point one byte short", "bad-key", der=spki(EC_OID, oid(P256_OID), POINT[:-1]))
case(S, "ec: point one byte long", "bad-key", der=spki(EC_OID, oid(P256_OID), POINT + b"\0"))
case(S, "ec: the identity (a lone zero byte)", "bad-key", der=spki(EC_OID, oid(P256_OID), b"\0"))
case(S, "ec: P-256 point labelled P-384", "bad-key", der=spki(EC_OID, oid(P384_OID), POINT))
case(S, "ec: point off the curve (well-formed; alg::ecdsa refuses it)", "ok:EC", der=spki(EC_OID, oid(P256_OID), POINT[:-1] + bytes([POINT[-1] ^ 1])))
case(S, "ed25519: parameters NULL", "bad-key", der=spki(ED25519_OID, NULL, ED_KEY))
case(S, "ed25519: key of 31 bytes", "bad-key", der=spki(ED25519_OID, None, ED_KEY[:31]))
case(S, "ed25519: key of 33 bytes", "bad-key", der=spki(ED25519_OID, None, ED_KEY + b"\0"))
case(S, "X25519 key", "unsupported-key", der=spki("1.3.101.110", None, ED_KEY))
case(S, "Ed448 key", "unsupported-key", der=spki("1.3.101.113", None, b"\x01" * 57))

# --- PKCS#1 RSAPublicKey ----------------------------------------------------------
P = "pkcs1"
case(P, "Wycheproof RSA 2048 key", "ok:RSA", der=RSA_PKCS1)
case(P, "truncated by one byte", "bad-key", der=RSA_PKCS1[:-1])
case(P, "trailing zero byte", "bad-key", der=RSA_PKCS1 + b"\0")
case(P, "an SPKI, not an RSAPublicKey", "bad-key", der=RSA_SPKI)
case(P, "RSAPrivateKey-like: version, n, e", "bad-key", der=seq(uint(b"\0"), uint(N), uint(E)))
case(P, "negative modulus", "bad-key", der=seq(integer(N), uint(E)))
case(P, "modulus 513 bytes", "bad-key", der=seq(uint(b"\xc5" * 513), uint(E)))
case(P, "exponent as OCTET STRING", "bad-key", der=seq(uint(N), tlv(0x04, E)))

# --- PEM --------------------------------------------------------------------------
M = "pem"
case(M, "Wycheproof RSA 2048 key (SPKI)", "ok:RSA", text=RSA["publicKeyPem"])
case(M, "Wycheproof P-256 key", "ok:EC", text=P256["publicKeyPem"])
case(M, "Wycheproof Ed25519 key", "ok:OKP", text=ED["publicKeyPem"])
case(M, "RSA PUBLIC KEY (PKCS#1)", "ok:RSA", text=pem("RSA PUBLIC KEY", RSA_PKCS1))
case(M, "CRLF line endings", "ok:RSA", text=pem("PUBLIC KEY", RSA_SPKI, eol="\r\n"))
case(M, "explanatory text before the key (RFC 7468 section 5.2)", "ok:OKP", text="Ed25519 key of group 1\n" + ED["publicKeyPem"])
case(M, "4096-bit modulus, the longest", "ok:RSA", text=pem("PUBLIC KEY", rsa_spki(n=b"\xc5" * 512, e=b"\xff" * 8)))
case(M, "PRIVATE KEY (PKCS#8)", "private-key", text=pem("PRIVATE KEY", ED_PKCS8))
case(M, "ENCRYPTED PRIVATE KEY", "private-key", text=pem("ENCRYPTED PRIVATE KEY", ED_PKCS8))
case(M, "RSA PRIVATE KEY", "private-key", text=pem("RSA PRIVATE KEY", seq(uint(b"\0"), uint(N), uint(E))))
case(M, "EC PRIVATE KEY", "private-key", text=pem("EC PRIVATE KEY", ED_PKCS8))
case(M, "OPENSSH PRIVATE KEY, 70-character lines", "private-key", text=pem("OPENSSH PRIVATE KEY", ED_PKCS8 * 3, width=70))
case(M, "CERTIFICATE", "unsupported-key", text=pem("CERTIFICATE", ED_SPKI))
case(M, "X509 CRL", "unsupported-key", text=pem("X509 CRL", ED_SPKI))
case(M, "EC PARAMETERS", "unsupported-key", text=pem("EC PARAMETERS", oid(P256_OID)))
case(M, "RSA PUBLIC KEY holding an SPKI", "bad-key", text=pem("RSA PUBLIC KEY", RSA_SPKI))
case(M, "PUBLIC KEY holding a PKCS#1 key", "bad-key", text=pem("PUBLIC KEY", RSA_PKCS1))
case(M, "PUBLIC KEY holding a truncated SPKI", "bad-key", text=pem("PUBLIC KEY", RSA_SPKI[:-1]))
case(M, "END label differs", "bad-key", text=pem("PUBLIC KEY", ED_SPKI, end_label="RSA PUBLIC KEY"))
case(M, "no END line", "bad-key", text=ED["publicKeyPem"].split("-----END")[0])
case(M, "text after the END line", "bad-key", text=ED["publicKeyPem"] + "trailer\n")
case(M, "two keys", "bad-key", text=ED["publicKeyPem"] + ED["publicKeyPem"])
case(M, "a character outside base64", "bad-key", text=RSA["publicKeyPem"].replace("M", "*", 2))
case(M, "base64url characters", "bad-key", text=RSA["publicKeyPem"].replace("+", "-").replace("/", "_"))
case(M, "padding missing", "bad-key", text=ED["publicKeyPem"].replace("=", ""))
case(M, "76-character lines", "bad-key", text=pem("PUBLIC KEY", RSA_SPKI, width=76))
case(M, "a header line", "bad-key", text=RSA["publicKeyPem"].replace("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1))
case(M, "lowercase label: not PUBLIC KEY (labels are case-sensitive)", "unsupported-key", text=pem("public key", ED_SPKI))
case(M, "empty", "bad-key", text="")
case(M, "DER, not PEM", "bad-key", text=ED_SPKI.hex())

# --- JWK --------------------------------------------------------------------------
J = "jwk"
RSA_JWK = {"kty": "RSA", "n": b64url(N), "e": b64url(E)}
EC_JWK = {"kty": "EC", "crv": "P-256", "x": b64url(X), "y": b64url(Y)}
ED_JWK = {"kty": "OKP", "crv": "Ed25519", "x": b64url(ED_KEY)}
OCT_JWK = {"kty": "oct", "k": b64url(bytes(range(32)))}


def jwk(base, **changes):
    out = dict(base)
    for k, v in changes.items():
        k = k.rstrip("_")
        if v is None:
            out.pop(k)
        else:
            out[k] = v
    return json.dumps(out, separators=(",", ":"))


def drop(name):
    return {name: None}


case(J, "Wycheproof RSA 2048 key", "ok:RSA", text=json.dumps(RSA["keyJwk"]))
case(J, "Wycheproof P-256 key", "ok:EC", text=json.dumps(P256["publicKeyJwk"]))
case(J, "Wycheproof Ed25519 key", "ok:OKP", text=json.dumps(ED["publicKeyJwk"]))
case(J, "oct key", "ok:oct", text=jwk(OCT_JWK))
case(J, "oct key of no bytes (well-formed; Key::new refuses it)", "ok:oct", text=jwk(OCT_JWK, k=""))
case(J, "whitespace between members", "ok:OKP", text=json.dumps(ED_JWK, indent=2))
case(J, "use sig, key_ops verify, alg, kid, x5c", "ok:RSA", text=jwk(RSA_JWK, use="sig", key_ops=["verify"], alg="RS256", kid="k1", x5c=["MIIB"]))
case(J, "n padded", "bad-key", text=jwk(RSA_JWK, n=base64.urlsafe_b64encode(N).decode()))
case(J, "x padded", "bad-key", text=jwk(ED_JWK, x=b64url(ED_KEY) + "="))
case(J, "n in base64 with + and /", "bad-key", text=jwk(RSA_JWK, n=base64.b64encode(N).decode().rstrip("=")))
case(J, "k with a +", "bad-key", text=jwk(OCT_JWK, k="+" + OCT_JWK["k"][1:]))
case(J, "k with a /", "bad-key", text=jwk(OCT_JWK, k="/" + OCT_JWK["k"][1:]))
case(J, "x with stray bits in its last character", "bad-key", text=jwk(ED_JWK, x=b64url(ED_KEY)[:-1] + "p"))
case(J, "x with a space", "bad-key", text=jwk(ED_JWK, x=" " + b64url(ED_KEY)))
case(J, "x with an escaped newline", "bad-key", text=jwk(ED_JWK, x=b64url(ED_KEY)[:20] + "\n" + b64url(ED_KEY)[20:]))
ESCAPED_X = "\\u00" + ED_JWK["x"][:1].encode().hex() + ED_JWK["x"][1:]
case(J, "x with an escaped alphabet character", "bad-key", text='{"kty":"OKP","crv":"Ed25519","x":"%s"}' % ESCAPED_X)
case(J, "kty missing", "bad-key", text=jwk(RSA_JWK, **drop("kty")))
case(J, "n missing", "bad-key", text=jwk(RSA_JWK, **drop("n")))
case(J, "e missing", "bad-key", text=jwk(RSA_JWK, **drop("e")))
case(J, "crv missing", "bad-key", text=jwk(EC_JWK, **drop("crv")))
case(J, "y missing", "bad-key", text=jwk(EC_JWK, **drop("y")))
case(J, "OKP crv missing", "bad-key", text=jwk(ED_JWK, **drop("crv")))
case(J, "k missing", "bad-key", text=jwk(OCT_JWK, **drop("k")))
case(J, "kty a number", "bad-key", text=jwk(RSA_JWK, kty=1))
case(J, "kty an array", "bad-key", text=jwk(RSA_JWK, kty=["RSA"]))
case(J, "n a number", "bad-key", text=jwk(RSA_JWK, n=65537))
case(J, "e null", "bad-key", text=json.dumps({**RSA_JWK, "e": None}))
case(J, "crv a number", "bad-key", text=jwk(EC_JWK, crv=256))
case(J, "x an object", "bad-key", text=jwk(ED_JWK, x={"b64": ED_JWK["x"]}))
case(J, "alg a number", "bad-key", text=jwk(ED_JWK, alg=1))
case(J, "kid an array", "bad-key", text=jwk(ED_JWK, kid=["a"]))
case(J, "use an array", "bad-key", text=jwk(ED_JWK, use_=["sig"]))
case(J, "key_ops a string", "bad-key", text=jwk(ED_JWK, key_ops="verify"))
case(J, "key_ops with a number", "bad-key", text=jwk(ED_JWK, key_ops=["verify", 1]))
case(J, "key_ops with a duplicate", "bad-key", text=jwk(ED_JWK, key_ops=["verify", "verify"]))
case(J, "n of 513 bytes", "bad-key", text=jwk(RSA_JWK, n=b64url(b"\xc5" * 513)))
case(J, "n of 512 bytes, the longest", "ok:RSA", text=jwk(RSA_JWK, n=b64url(b"\xc5" * 512)))
case(J, "e of 9 bytes", "bad-key", text=jwk(RSA_JWK, e=b64url(b"\x01" * 9)))
case(J, "n with a leading zero byte", "bad-key", text=jwk(RSA_JWK, n=b64url(b"\0" + N)))
case(J, "e with a leading zero byte", "bad-key", text=jwk(RSA_JWK, e=b64url(b"\0" + E)))
case(J, "n empty", "bad-key", text=jwk(RSA_JWK, n=""))
case(J, "x of 31 bytes", "bad-key", text=jwk(EC_JWK, x=b64url(X[1:])))
case(J, "y of 33 bytes", "bad-key", text=jwk(EC_JWK, y=b64url(b"\0" + Y)))
case(J, "P-256 coordinates labelled P-384", "bad-key", text=jwk(EC_JWK, crv="P-384"))
case(J, "Ed25519 x of 33 bytes", "bad-key", text=jwk(ED_JWK, x=b64url(ED_KEY + b"\0")))
case(J, "EC members under kty RSA (Wycheproof wrong_kty)", "bad-key", text=jwk(EC_JWK, kty="RSA"))
case(J, "RSA d", "private-key", text=jwk(RSA_JWK, d=b64url(N)))
case(J, "RSA p", "private-key", text=jwk(RSA_JWK, p=b64url(N[:128])))
case(J, "RSA oth", "private-key", text=jwk(RSA_JWK, oth=[]))
case(J, "EC d", "private-key", text=jwk(EC_JWK, d=b64url(X)))
case(J, "OKP d", "private-key", text=jwk(ED_JWK, d=b64url(ED_KEY)))
case(J, "OKP d on a key for encryption", "private-key", text=jwk(ED_JWK, d=b64url(ED_KEY), use="enc"))
case(J, "use enc", "key-not-for-verify", text=jwk(RSA_JWK, use="enc"))
case(J, "key_ops sign only", "key-not-for-verify", text=jwk(EC_JWK, key_ops=["sign"]))
case(J, "key_ops empty", "key-not-for-verify", text=jwk(OCT_JWK, key_ops=[]))
case(J, "use sig, key_ops encrypt", "key-not-for-verify", text=jwk(ED_JWK, use="sig", key_ops=["encrypt"]))
case(J, "kty unknown", "unsupported-key", text=jwk(RSA_JWK, kty="DSA"))
case(J, "kty lowercase", "unsupported-key", text=jwk(RSA_JWK, kty="rsa"))
case(J, "crv secp256k1", "unsupported-key", text=jwk(EC_JWK, crv="secp256k1"))
case(J, "crv X25519", "unsupported-key", text=jwk(ED_JWK, crv="X25519"))
case(J, "crv Ed448", "unsupported-key", text=jwk(ED_JWK, crv="Ed448"))
case(J, "duplicate kty", "duplicate-member", text='{"kty":"oct","k":"AA","kty":"RSA"}')
case(J, "duplicate k, one escaped", "duplicate-member", text='{"kty":"oct","k":"AA","\\u006b":"AB"}')
case(J, "trailing comma", "bad-json", text='{"kty":"oct","k":"AA",}')
case(J, "a second object", "bad-json", text=jwk(OCT_JWK) + jwk(OCT_JWK))
case(J, "invalid UTF-8 in kid (bytes, as hex)", "bad-utf8", der=b'{"kty":"oct","k":"AA","kid":"\xff"}')
case(J, "an array of one JWK", "not-an-object", text="[" + jwk(OCT_JWK) + "]")
case(J, "nested 9 levels", "too-deep", text='{"kty":"oct","k":"AA","z":[[[[[[[[]]]]]]]]}')
case(J, "nested 8 levels", "ok:oct", text='{"kty":"oct","k":"AA","z":[[[[[[[]]]]]]]}')

# --- JWK Set ----------------------------------------------------------------------
K = "jwks"


def jwks(*keys, **extra):
    return json.dumps({"keys": list(keys), **extra}, separators=(",", ":"))


case(K, "three keys", ["ok:RSA", "ok:EC", "ok:OKP"], text=jwks(RSA_JWK, EC_JWK, ED_JWK))
case(K, "a key for encryption is skippable; a private key is not", ["key-not-for-verify", "ok:OKP", "private-key"], text=jwks({**EC_JWK, "use": "enc"}, ED_JWK, {**EC_JWK, "d": b64url(X)}))
case(K, "unsupported keys and non-objects, each its own error", ["unsupported-key", "not-an-object", "bad-key", "ok:oct"], text=jwks({"kty": "OKP", "crv": "X25519", "x": ED_JWK["x"]}, "RSA", {"kty": "oct"}, OCT_JWK))
case(K, "a key with a duplicate member", ["duplicate-member"], text='{"keys":[{"kty":"oct","k":"AA","k":"AA"}]}')
case(K, "no keys", [], text='{"keys":[]}')
case(K, "other members ignored", ["ok:oct"], text=jwks(OCT_JWK, issuer="x", more={"a": [1]}))
case(K, "keys missing", "bad-key", text='{"Keys":[]}')
case(K, "keys an object", "bad-key", text='{"keys":' + jwk(OCT_JWK) + "}")
case(K, "keys twice", "duplicate-member", text='{"keys":[],"keys":[]}')
case(K, "an array of JWKs", "not-an-object", text="[" + jwk(OCT_JWK) + "]")
case(K, "a key nested too deep", "too-deep", text='{"keys":[{"kty":"oct","k":"AA","z":[[[[[[[[]]]]]]]]}]}')
case(K, "a key nested 8 levels", ["ok:oct"], text='{"keys":[{"kty":"oct","k":"AA","z":[[[[[[[]]]]]]]}]}')
case(K, "truncated", "bad-json", text=jwks(RSA_JWK)[:-2])

out = {
    "source": "hand-made for latchkey-core by core/tests/data/keys/make_malformed.py: the "
    "Wycheproof keys of core/tests/data/wycheproof (first groups of the RSA 2048 SHA-256, "
    "P-256 P1363 and Ed25519 suites), RFC 8410's Ed25519 PKCS#8 example, and mutations of "
    "them; expect is `ok:<kty>` or the error code (a list: one per key of a JWK Set)",
    "cases": cases,
}
with open(os.path.join(HERE, "malformed.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(len(cases), "cases")
