//! What handlers take from a request, each refusal an [`Error`] (so answered in
//! the same JSON shape as every other error): the bearer token, the caller it
//! proves, a JSON body, the device id of the path, the client's address.

use crate::api::{AppState, is_json};
use crate::error::Error;
use crate::store::Grant;
use crate::tokens::{Kind, Verified, unix_now};
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Path, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// The client's address, put into every request by the accept loop (`None` when
/// a request did not come through it, as in tests that call the router
/// directly). The failed-login throttle counts by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .unwrap_or(ClientAddr(None)))
    }
}

/// The one value of a header field that may appear at most once.
///
/// # Errors
/// [`Error::Malformed`] if the field appears more than once.
fn single<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    label: &str,
) -> Result<Option<&'a HeaderValue>, Error> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Error::Malformed(format!("more than one {label}")));
    }
    Ok(first)
}

/// The token of an `Authorization: Bearer` field. As an `Option`, a request
/// without one (or with another scheme) gives `None`.
///
/// Refused: no bearer token (401 `missing-token`), a token that is empty or not
/// text (401 `invalid-token`, `malformed`), two `Authorization` fields (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer(pub String);

impl Bearer {
    fn from_headers(headers: &HeaderMap) -> Result<Option<Bearer>, Error> {
        Ok(bearer_token(headers)?.map(|token| Bearer(token.to_owned())))
    }
}

/// The token of the `Authorization: Bearer` field, as [`Bearer`] takes it.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let Some(value) = single(headers, &AUTHORIZATION, "Authorization")? else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::InvalidToken("malformed"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Err(Error::InvalidToken("malformed"))
            } else {
                Ok(Some(token))
            }
        }
        _ => Ok(None),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        Bearer::from_headers(&parts.headers)?.ok_or(Error::MissingToken)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Bearer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Error> {
        Bearer::from_headers(&parts.headers)
    }
}

/// The caller: an access token, verified, not revoked, whose user still exists,
/// and the user's grants as the store holds them now.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The access token's claims.
    pub token: Verified,
    /// The user's grants.
    pub grants: Arc<[Grant]>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = bearer_token(&parts.headers)?.ok_or(Error::MissingToken)?;
        // Verified first with the ring as loaded: a token refused for any reason
        // but an unknown key costs no store read (a forged one, say). Then the
        // session is checked against the revocation counter (the instance's lease
        // while it holds, else a read that starts after the request arrived), so
        // a logout acknowledged by any instance on the database is seen by the
        // next request everywhere; the counter tells whether the key rings changed (`ring`):
        // if they did, the token is verified again with the new ones (a retired
        // key refused, a key added elsewhere known).
        let loaded = state.tokens.loaded();
        let now = unix_now();
        let first = loaded.verify(token, Kind::Access, now);
        if let Err(e) = &first
            && *e != Error::InvalidToken("unknown-key")
        {
            return Err(e.clone());
        }
        let started = Instant::now();
        let counter = state.sessions.counter().await?;
        let tokens = state.tokens.at_counter(counter).await?;
        let token = if Arc::ptr_eq(&tokens, &loaded) {
            first?
        } else {
            tokens.verify(token, Kind::Access, now)?
        };
        let grants = state
            .sessions
            .session_at(counter, &token.jti, &token.fam, &token.sub)
            .await;
        state
            .metrics
            .observe(crate::metrics::StoreOp::Session, started.elapsed());
        let grants = grants?;
        let grants = grants.ok_or(Error::InvalidToken("revoked"))?;
        Ok(Caller { token, grants })
    }
}

/// The `{id}` of `/devices/{id}/commands`, percent-decoded. Refused (400) if it
/// is not UTF-8 once decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DeviceId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        match <Path<String> as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(DeviceId(id)),
            Err(PathRejection::FailedToDeserializePathParams(e))
                if matches!(
                    e.kind(),
                    axum::extract::path::ErrorKind::InvalidUtf8InPathParam { .. }
                ) =>
            {
                Err(Error::Malformed(
                    "the path is not UTF-8 once decoded".into(),
                ))
            }
            Err(other) => Err(Error::Malformed(other.body_text())),
        }
    }
}

/// A JSON body of type `T`.
///
/// Refused: a body not declared JSON (415; `application/json` or
/// `application/*+json`, see [`is_json`]), two `Content-Type` fields (400), a
/// body over the limit (413), a body that cannot be read (400) or is not a `T`
/// (400 `malformed`, with serde's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> JsonBody<T> {
    /// The body as a `T`, or `None` if the request has no body at all (the
    /// refresh token may come in a header instead).
    ///
    /// # Errors
    /// As the extractor.
    pub async fn optional(request: Request) -> Result<Option<T>, Error> {
        let content_type = single(request.headers(), &CONTENT_TYPE, "Content-Type")?.cloned();
        let bytes = read(request).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        parse(content_type.as_ref(), &bytes).map(Some)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(request: Request, _: &S) -> Result<Self, Error> {
        let content_type = single(request.headers(), &CONTENT_TYPE, "Content-Type")?.cloned();
        if !is_json(content_type.as_ref().map(HeaderValue::as_bytes)) {
            return Err(Error::UnsupportedMediaType);
        }
        let bytes = read(request).await?;
        parse(content_type.as_ref(), &bytes).map(JsonBody)
    }
}

fn parse<T: DeserializeOwned>(
    content_type: Option<&HeaderValue>,
    bytes: &[u8],
) -> Result<T, Error> {
    if !is_json(content_type.map(HeaderValue::as_bytes)) {
        return Err(Error::UnsupportedMediaType);
    }
    serde_json::from_slice(bytes).map_err(|e| Error::Malformed(format!("invalid JSON body: {e}")))
}

/// The whole body, within the body limit layer's bound.
async fn read(request: Request) -> Result<Bytes, Error> {
    read_body(request.into_body()).await
}

/// The whole of `body`, within the body limit layer's bound.
///
/// # Errors
/// [`Error::BodyTooLarge`] past the limit; [`Error::Malformed`] if it cannot be
/// read (hyper refused its chunked coding, say).
pub(crate) async fn read_body(body: Body) -> Result<Bytes, Error> {
    match body.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(cause) = source {
                if cause.is::<http_body_util::LengthLimitError>() {
                    return Err(Error::BodyTooLarge);
                }
                source = cause.source();
            }
            Err(Error::Malformed(format!("could not read the body: {e}")))
        }
    }
}
