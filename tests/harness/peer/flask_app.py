"""The Flask-JWT-Extended peer that `cargo xtask bench-server` measures Latchkey against.

The login API a Flask team writes from the Flask-JWT-Extended tutorial, written for this
project: POST /login (JSON username/password checked against a Werkzeug scrypt hash)
returns an access and a refresh token; GET /protected needs a valid access token;
POST /refresh takes a refresh token; DELETE /logout puts the token's jti in a blocklist.
HS256 with a 32-byte secret (00..1f, or LATCHKEY_PEER_SECRET_HEX). The blocklist is a
Python set, so under gunicorn each worker has its own: a token revoked by one worker is
still accepted by the others, as in the tutorial this copies.
"""
import os

from flask import Flask, jsonify, request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)
from werkzeug.security import check_password_hash, generate_password_hash

SECRET = bytes.fromhex(
    os.environ.get(
        "LATCHKEY_PEER_SECRET_HEX",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    )
)
if len(SECRET) < 32:
    raise SystemExit("LATCHKEY_PEER_SECRET_HEX: HS256 needs at least 32 bytes")

app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = SECRET
app.config["JWT_ALGORITHM"] = "HS256"
jwt = JWTManager(app)

# Werkzeug's default method: scrypt, N = 2^15.
USERS = {
    "alice": generate_password_hash("correct horse battery staple"),
    "bob": generate_password_hash("hunter2"),
}
# Checked for unknown users too, so that they cost as much as a wrong password.
UNKNOWN_USER_HASH = generate_password_hash("no such user")

BLOCKLIST = set()


@jwt.token_in_blocklist_loader
def revoked(_header, payload):
    return payload["jti"] in BLOCKLIST


@app.post("/login")
def login():
    data = request.get_json(silent=True) or {}
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return jsonify(msg="username and password required"), 400
    stored = USERS.get(username)
    password_ok = check_password_hash(stored or UNKNOWN_USER_HASH, password)
    if stored is None or not password_ok:
        return jsonify(msg="Bad username or password"), 401
    return jsonify(
        access_token=create_access_token(identity=username, fresh=True),
        refresh_token=create_refresh_token(identity=username),
    )


@app.get("/protected")
@jwt_required()
def protected():
    return jsonify(logged_in_as=get_jwt_identity())


@app.post("/refresh")
@jwt_required(refresh=True)
def refresh():
    return jsonify(access_token=create_access_token(identity=get_jwt_identity(), fresh=False))


@app.delete("/logout")
@jwt_required(verify_type=False)
def logout():
    token = get_jwt()
    BLOCKLIST.add(token["jti"])
    return jsonify(msg=f"{token['type'].capitalize()} token successfully revoked")
