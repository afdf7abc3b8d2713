# A two-prime RSA key whose modulus has exactly 2049 bits (OpenSSL rounds odd sizes down).
import secrets
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization

def is_probable_prime(n, rounds=64):
    if n < 2: return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0: return n == p
    d, s = n - 1, 0
    while d % 2 == 0: d //= 2; s += 1
    for _ in range(rounds):
        a = secrets.randbelow(n - 3) + 2
        x = pow(a, d, n)
        if x in (1, n - 1): continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1: break
        else: return False
    return True

def prime():
    # 1025-bit primes below 2^1024 * sqrt(2), so that p*q < 2^2049.
    while True:
        c = (1 << 1024) | secrets.randbits(1022) | 1
        if c % 65537 != 1 and is_probable_prime(c): return c

e = 65537
while True:
    p, q = prime(), prime()
    n = p * q
    if p != q and n.bit_length() == 2049: break
d = pow(e, -1, (p - 1) * (q - 1))
key = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p),
                            rsa.RSAPublicNumbers(e, n)).private_key()
print(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()).decode(), end="")
