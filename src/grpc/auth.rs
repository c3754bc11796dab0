//! Bearer-token authentication as a tower layer in front of every service.
//! Health and reflection stay open so load balancers and tools can probe
//! without a token. The authenticated [`Principal`] travels in the request
//! extensions to the service methods.
//!
//! [`Principal`]: lienthong_domain::auth::Principal

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use lienthong_domain::service::TokenService;
use tonic::Status;
use tower::{Layer, Service};

use super::status::to_status;

/// Paths served without a token.
const OPEN_PATH_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

#[derive(Debug, Clone)]
pub struct AuthLayer {
    tokens: TokenService,
}

impl AuthLayer {
    pub fn new(tokens: TokenService) -> Self {
        Self { tokens }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticated {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Authenticated<S> {
    inner: S,
    tokens: TokenService,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for Authenticated<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    RequestBody: Send + 'static,
    ResponseBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: Request<RequestBody>) -> Self::Future {
        // The ready inner service is the one polled; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let tokens = self.tokens.clone();
        Box::pin(async move {
            let path = request.uri().path();
            if OPEN_PATH_PREFIXES.iter().any(|prefix| path.starts_with(prefix)) {
                return inner.call(request).await;
            }
            let secret = match bearer_token(&request) {
                Ok(secret) => secret,
                Err(status) => return Ok(status.into_http()),
            };
            match tokens.authenticate(&secret).await {
                Ok(principal) => {
                    tracing::debug!(organ = %principal.organ.id, token_id = principal.token_id, path, "authenticated");
                    request.extensions_mut().insert(principal);
                    request.extensions_mut().insert(PresentedToken(secret));
                    inner.call(request).await
                }
                Err(error) => Ok(to_status(error).into_http()),
            }
        })
    }
}

/// The secret a request was authenticated with, for streams that outlive
/// the moment of authentication and must check it again.
#[derive(Clone)]
pub struct PresentedToken(pub String);

impl std::fmt::Debug for PresentedToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PresentedToken(…)")
    }
}

fn bearer_token<B>(request: &Request<B>) -> Result<String, Status> {
    let header = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| Status::unauthenticated("missing `authorization: Bearer <token>` metadata"))?;
    let value = header
        .to_str()
        .map_err(|_| Status::unauthenticated("the authorization header is not text"))?;
    let (scheme, secret) = value
        .split_once(' ')
        .ok_or_else(|| Status::unauthenticated("expected `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || secret.trim().is_empty() {
        return Err(Status::unauthenticated("expected `Bearer <token>`"));
    }
    Ok(secret.trim().to_owned())
}
