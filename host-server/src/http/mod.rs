//! HTTP on hyper through axum: the router ([`app`]), its tower layers, the
//! extractors the handlers take ([`Caller`], [`Bearer`], [`JsonBody`], ...), the
//! one place where an [`Error`] becomes an answer, and the accept loop
//! ([`serve`](crate::serve), plain TCP or TLS, HTTP/1.1 and HTTP/2).
//!
//! Every answer our code gives is JSON (`GET /metrics` aside, which is
//! Prometheus text). What hyper refuses before a request exists (a malformed
//! head, a head over the limits, bad chunked framing) keeps hyper's bare status.

mod extract;
pub(crate) mod serve;

pub use extract::{Bearer, Caller, ClientAddr, DeviceId, JsonBody};

use crate::api::{self, AppState, MAX_BODY};
use crate::error::Error;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Request, State};
use axum::http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Router};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tower::ServiceBuilder;
use tower::timeout::TimeoutLayer;
use tower_http::body::Limited;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

/// The `Allow` of the routes that answer `GET` (and so `HEAD`).
const GET: &str = "GET, HEAD";

/// Where the public session keys and the command ring are published (RFC 8615
/// well-known URI).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The router: every route, the 404 and 405 answers, and the layers every
/// request passes (outermost first): a request id (`x-request-id`, kept if the
/// client sent one, echoed in the answer), a tracing span, the request counter
/// of `/metrics`, the request timeout ([`Shared::request_timeout`](crate::Shared::request_timeout), 408), the
/// body limit ([`MAX_BODY`], 413: a declared `Content-Length` is refused before
/// the body is read, a body without one when it passes the limit), and the body
/// read whole before the handler runs.
pub fn app(state: AppState) -> Router {
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(Sequential::new()))
        .layer(TraceLayer::new_for_http().make_span_with(span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(HandleErrorLayer::new(|_: BoxError| async {
            Error::RequestTimeout
        }))
        .layer(TimeoutLayer::new(state.request_timeout))
        .layer(middleware::from_fn(refuse_declared_oversize))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .map_request(unlimited)
        .layer(middleware::from_fn(read_whole_body));
    Router::new()
        .route("/healthz", get(api::healthz).fallback(not_allowed(GET)))
        .route("/readyz", get(api::readyz).fallback(not_allowed(GET)))
        .route("/metrics", get(api::metrics).fallback(not_allowed(GET)))
        .route(
            "/openapi.json",
            get(api::openapi).fallback(not_allowed(GET)),
        )
        .route(JWKS_PATH, get(api::jwks).fallback(not_allowed(GET)))
        .route("/me", get(api::me).fallback(not_allowed(GET)))
        .route("/login", post(api::login).fallback(not_allowed("POST")))
        .route("/refresh", post(api::refresh).fallback(not_allowed("POST")))
        .route(
            "/logout",
            post(api::logout)
                .delete(api::logout)
                .fallback(not_allowed("POST, DELETE")),
        )
        .route(
            "/devices/{id}/commands",
            post(api::command).fallback(not_allowed("POST")),
        )
        .route(
            "/devices/{id}/trust",
            post(api::trust).fallback(not_allowed("POST")),
        )
        .fallback(|| async { Error::NotFound("no such route".into()) })
        .layer(layers)
        .with_state(state)
}

/// The answer of a known route asked with a method it does not have.
fn not_allowed(
    allow: &'static str,
) -> impl Fn() -> std::future::Ready<Error> + Clone + Send + Sync + 'static {
    move || std::future::ready(Error::MethodNotAllowed(allow))
}

/// The route a path belongs to, as `/metrics` labels it: a route's pattern, or
/// `other` (so the series stay few whatever paths clients send).
#[must_use]
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/openapi.json" => "/openapi.json",
        JWKS_PATH => JWKS_PATH,
        "/me" => "/me",
        "/login" => "/login",
        "/refresh" => "/refresh",
        "/logout" => "/logout",
        _ => device_route(path),
    }
}

/// The label of a `/devices/{id}/...` path.
fn device_route(path: &str) -> &'static str {
    let Some(rest) = path.strip_prefix("/devices/") else {
        return "other";
    };
    let one_id = |id: &str| !id.is_empty() && !id.contains('/');
    if rest.strip_suffix("/commands").is_some_and(one_id) {
        "/devices/{id}/commands"
    } else if rest.strip_suffix("/trust").is_some_and(one_id) {
        "/devices/{id}/trust"
    } else {
        "other"
    }
}

/// Counts every answer by route and status (after the timeout, so a 408 counts).
async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = route_label(request.uri().path());
    let response = next.run(request).await;
    state.metrics.request(route, response.status().as_u16());
    response
}

/// Refuses a body declared larger than [`MAX_BODY`] before any of it is read
/// (so a client waiting on `Expect: 100-continue` gets the 413 instead of
/// `100 Continue`), and ends the connection after the answer.
async fn refuse_declared_oversize(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        let mut response = Error::BodyTooLarge.into_response();
        // HTTP/1: the unread body cannot be skipped; hyper leaves HTTP/2 this field out.
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            HeaderValue::from_static("close"),
        );
        return response;
    }
    next.run(request).await
}

/// The request as the router takes it, its body still bounded by the limit.
fn unlimited(request: axum::http::Request<Limited<axum::body::Body>>) -> Request {
    request.map(axum::body::Body::new)
}

/// Reads the body whole (it is at most [`MAX_BODY`]) before the handler runs.
/// A handler that refuses early (a missing token, say) would otherwise leave
/// part of the body unread, and hyper then closes the HTTP/1.1 connection after
/// the answer, at times without saying so: a client that reuses it for its next
/// request finds it closed. A body that has already ended (a `GET`'s) is left
/// as it is.
async fn read_whole_body(request: Request, next: Next) -> Response {
    if axum::body::HttpBody::is_end_stream(request.body()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match extract::read_body(body).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(e) => e.into_response(),
    }
}

/// The tracing span of one request, named by its id.
fn span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::debug_span!(
        "request",
        id,
        method = %request.method(),
        path = %request.uri().path(),
        version = ?request.version(),
    )
}

/// Request ids `<process>-<n>`: a random prefix per process, then a counter.
#[derive(Clone)]
struct Sequential {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl Sequential {
    fn new() -> Self {
        let mut bytes = [0u8; 4];
        let _ = crate::keys::random_bytes(&mut bytes);
        Sequential {
            prefix: crate::keys::to_hex(&bytes).into(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for Sequential {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        // From the `String` itself: no second copy.
        HeaderValue::try_from(format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// A JSON answer with status 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json(pub Vec<u8>);

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        ([(CONTENT_TYPE, APPLICATION_JSON)], self.0).into_response()
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

/// The one place an error becomes an answer: its status, the JSON body
/// `{"error": code, "message": text}`, and `WWW-Authenticate`, `Retry-After` or
/// `Allow` where the error calls for one. A server error's detail is logged here
/// and never sent.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let message = match &self {
            Error::NotReady(detail) => {
                tracing::warn!(%detail, "not ready");
                "the store cannot be reached".to_owned()
            }
            e if e.is_internal() => {
                // The detail may name files or SQL; it goes to the log only.
                tracing::error!(error = %e, "internal error");
                "internal error".to_owned()
            }
            e => e.to_string(),
        };
        let body = serde_json::to_vec(&ErrorBody {
            error: self.code(),
            message,
        })
        .unwrap_or_default();
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let field: Option<(HeaderName, HeaderValue)> = match &self {
            Error::MissingToken => Some((
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"latchkey\""),
            )),
            Error::InvalidToken(code) => HeaderValue::from_str(&format!(
                "Bearer error=\"invalid_token\", error_description=\"{code}\""
            ))
            .ok()
            .map(|v| (WWW_AUTHENTICATE, v)),
            Error::Throttled { retry_after } | Error::TooManyTokens { retry_after } => {
                Some((RETRY_AFTER, HeaderValue::from(*retry_after)))
            }
            Error::MethodNotAllowed(allow) => HeaderValue::from_str(allow).ok().map(|v| (ALLOW, v)),
            _ => None,
        };
        let mut response = (status, [(CONTENT_TYPE, APPLICATION_JSON)], body).into_response();
        if let Some((name, value)) = field {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn parts(error: Error) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let response = error.into_response();
        let status = response.status().as_u16();
        let fields = response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, fields, body.to_vec())
    }

    #[tokio::test]
    async fn server_errors_hide_their_detail() {
        let (status, _, body) =
            parts(Error::Store("no such table: users at /secret/path".into())).await;
        assert_eq!(status, 500);
        assert_eq!(body, br#"{"error":"internal","message":"internal error"}"#);
        let (status, _, body) = parts(Error::NotReady("/secret/path: locked".into())).await;
        assert_eq!(status, 503);
        assert_eq!(
            body,
            br#"{"error":"not-ready","message":"the store cannot be reached"}"#
        );
    }

    #[tokio::test]
    async fn errors_carry_their_header_fields() {
        let (status, fields, _) = parts(Error::InvalidToken("expired")).await;
        assert_eq!(status, 401);
        assert_eq!(
            fields,
            [
                ("content-type".to_owned(), "application/json".to_owned()),
                (
                    "www-authenticate".to_owned(),
                    "Bearer error=\"invalid_token\", error_description=\"expired\"".to_owned()
                )
            ]
        );
        let (status, fields, _) = parts(Error::Throttled { retry_after: 7 }).await;
        assert_eq!(status, 429);
        assert!(fields.contains(&("retry-after".to_owned(), "7".to_owned())));
        let (status, fields, _) = parts(Error::MethodNotAllowed("GET, HEAD")).await;
        assert_eq!(status, 405);
        assert!(fields.contains(&("allow".to_owned(), "GET, HEAD".to_owned())));
    }

    #[test]
    fn routes_are_labelled_by_pattern() {
        assert_eq!(route_label("/me"), "/me");
        assert_eq!(
            route_label("/devices/door-1/commands"),
            "/devices/{id}/commands"
        );
        assert_eq!(route_label("/devices//commands"), "other");
        assert_eq!(route_label("/devices/door-1/trust"), "/devices/{id}/trust");
        assert_eq!(route_label("/devices/a/b/trust"), "other");
        assert_eq!(route_label("/devices/a/b/commands"), "other");
        assert_eq!(route_label("/wp-admin"), "other");
    }
}
