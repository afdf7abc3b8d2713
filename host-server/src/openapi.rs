//! The OpenAPI 3.1 description served at `GET /openapi.json`. A test sends a
//! request to every path and method listed here and checks the router knows it.

use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn token_pair() -> Value {
    json!({
        "description": "A new access token and refresh token",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TokenPair" } } }
    })
}

/// The OpenAPI document.
#[must_use]
pub fn document() -> Value {
    let unauthorized = error_response(
        "Missing, invalid, expired or revoked token (`WWW-Authenticate: Bearer error=\"invalid_token\", error_description=<reason>`)",
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "latchkey-server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Login, token refresh and revocation, and device command tokens. See host-server/README.md."
        },
        "paths": {
            "/healthz": { "get": {
                "summary": "Liveness",
                "responses": { "200": { "description": "Up" } }
            }},
            "/readyz": { "get": {
                "summary": "Readiness: the store answers a read",
                "responses": {
                    "200": { "description": "Ready (`{\"status\":\"ready\"}`)" },
                    "503": error_response("The store cannot be reached (`not-ready`)")
                }
            }},
            "/.well-known/jwks.json": { "get": {
                "summary": "The public keys as a JWK Set (kid, alg, use: sig): the session ring's EdDSA, ES256 or RS256 keys, which verify access tokens (typ at+jwt), and the command ring; never an HS256 key. Cache-Control: public, max-age=300",
                "responses": { "200": { "description": "JWK Set", "content": { "application/jwk-set+json": {} } } }
            }},
            "/metrics": { "get": {
                "summary": "Counters in the Prometheus text format",
                "responses": { "200": { "description": "Requests by route and status, logins by outcome, hashing queue depth, store latency", "content": { "text/plain": {} } } }
            }},
            "/login": { "post": {
                "summary": "Password login",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["username", "password"],
                    "properties": { "username": { "type": "string" }, "password": { "type": "string" } }
                }}}},
                "responses": {
                    "200": token_pair(),
                    "400": error_response("Malformed body"),
                    "401": error_response("Bad username or password"),
                    "413": error_response("Body too large"),
                    "415": error_response("Not application/json"),
                    "429": error_response("Too many failed logins (`Retry-After`)")
                }
            }},
            "/refresh": { "post": {
                "summary": "Rotate a refresh token (Bearer header or JSON body); reuse revokes the family",
                "security": [{ "bearer": [] }],
                "requestBody": { "required": false, "content": { "application/json": { "schema": {
                    "type": "object", "properties": { "refresh_token": { "type": "string" } }
                }}}},
                "responses": { "200": token_pair(), "401": unauthorized.clone() }
            }},
            "/logout": {
                "post": {
                    "summary": "Revoke the access token and its refresh family",
                    "security": [{ "bearer": [] }],
                    "responses": { "200": { "description": "Logged out" }, "401": unauthorized.clone() }
                },
                "delete": {
                    "summary": "Same as POST /logout",
                    "security": [{ "bearer": [] }],
                    "responses": { "200": { "description": "Logged out" }, "401": unauthorized.clone() }
                }
            },
            "/me": { "get": {
                "summary": "The caller's identity and grants",
                "security": [{ "bearer": [] }],
                "responses": { "200": { "description": "Identity" }, "401": unauthorized.clone() }
            }},
            "/devices/{id}/commands": { "post": {
                "summary": "Issue a command token for a device (and deliver it when a bridge is configured)",
                "security": [{ "bearer": [] }],
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["command"],
                    "properties": {
                        "command": { "type": "string", "enum": crate::api::COMMANDS },
                        "args": { "description": "led: [0-255]; others: none" }
                    }
                }}}},
                "responses": {
                    "200": { "description": "Command token with its `seq` (and `device_verdict` when bridged)" },
                    "400": error_response("Unknown command, bad arguments, or `trust` (never issued as a command token)"),
                    "401": unauthorized.clone(),
                    "403": error_response("Not granted"),
                    "404": error_response("No such device"),
                    "429": error_response("The caller already has 16 command tokens for this device within 300 s (`too-many-tokens`, `Retry-After`)"),
                    "503": error_response("Device unreachable; the message says whether the command did not run or may have run")
                }
            }},
            "/devices/{id}/trust": { "post": {
                "summary": "Send a trust statement signed with the root key (`latchkey-server device trust`) to the device over its bridge; for callers granted `trust` on the device",
                "security": [{ "bearer": [] }],
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["statement"],
                    "properties": { "statement": { "type": "string", "description": "The compact JWS (typ lk-trust+jwt)" } }
                }}}},
                "responses": {
                    "200": { "description": "`{device, epoch, device_verdict}`, the verdict as the device wrote it (`OK epoch=N keys=K` or a refusal)" },
                    "400": error_response("Not a trust statement for this device signed by the root key"),
                    "401": unauthorized,
                    "403": error_response("Not granted `trust` on the device"),
                    "404": error_response("No such device, no bridge to it, or trust delivery off (no --root-public-key)"),
                    "503": error_response("Device unreachable; the message says whether the statement did not reach it or may have")
                }
            }},
            "/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": { "description": "OpenAPI 3.1" } }
            }}
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error", "message"], "properties": {
                    "error": { "type": "string" }, "message": { "type": "string" }
                }},
                "TokenPair": { "type": "object",
                    "required": ["access_token", "refresh_token", "token_type", "expires_in"],
                    "properties": {
                        "access_token": { "type": "string" },
                        "refresh_token": { "type": "string" },
                        "token_type": { "const": "Bearer" },
                        "expires_in": { "type": "integer" }
                    }
                }
            }
        }
    })
}
