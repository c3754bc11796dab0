//! Building and running the gRPC server: the lienthong services behind
//! bearer-token authentication, plus health, reflection (v1 and v1alpha) and
//! gRPC-Web with CORS. Shutdown is graceful: health turns NOT_SERVING, the
//! listener closes, and in-flight requests get a bounded grace period.

use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use http::HeaderName;
use lienthong_domain::service::Services;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::ServerConfig;
use crate::grpc::auth::AuthLayer;
use crate::grpc::{
    AnalyticsApi, DirectoryApi, DossierApi, FormApi, RecommendationApi, ReportApi, ResolutionApi,
};
use crate::proto;
use crate::proto::analytics_service_server::AnalyticsServiceServer;
use crate::proto::directory_service_server::DirectoryServiceServer;
use crate::proto::dossier_service_server::DossierServiceServer;
use crate::proto::form_service_server::FormServiceServer;
use crate::proto::recommendation_service_server::RecommendationServiceServer;
use crate::proto::report_service_server::ReportServiceServer;
use crate::proto::resolution_service_server::ResolutionServiceServer;

/// Fully qualified names of the lienthong services, for health checks.
pub const SERVICE_NAMES: [&str; 7] = [
    "lienthong.v1.DirectoryService",
    "lienthong.v1.FormService",
    "lienthong.v1.ReportService",
    "lienthong.v1.RecommendationService",
    "lienthong.v1.ResolutionService",
    "lienthong.v1.AnalyticsService",
    "lienthong.v1.DossierService",
];

/// Serves on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    config: &ServerConfig,
    services: Services,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    set_health(&health_reporter, ServingStatus::Serving).await;

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building reflection v1")?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("building reflection v1alpha")?;

    let limit = config.max_message_bytes;
    let router = Server::builder()
        .accept_http1(true)
        .timeout(config.request_timeout)
        .layer(cors())
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(AuthLayer::new(services.tokens.clone()))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            DirectoryServiceServer::new(DirectoryApi::new(services.directory.clone()))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        )
        .add_service(
            FormServiceServer::new(FormApi::new(services.forms.clone()))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        )
        .add_service(
            ReportServiceServer::new(ReportApi::new(services.reports.clone()))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        )
        .add_service(
            RecommendationServiceServer::new(RecommendationApi::new(
                services.recommendations.clone(),
                services.tokens.clone(),
            ))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
        )
        .add_service(
            ResolutionServiceServer::new(ResolutionApi::new(services.resolutions.clone()))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        )
        .add_service(
            AnalyticsServiceServer::new(AnalyticsApi::new(
                services.analytics.clone(),
                services.dossier.clone(),
                config.analytics_max_rows,
            ))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
        )
        .add_service(
            DossierServiceServer::new(DossierApi::new(services.dossier.clone()))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        );

    let address = listener.local_addr().context("listener address")?;
    tracing::info!(%address, "lienthong serving");
    let (stop_accepting, stopped) = tokio::sync::oneshot::channel::<()>();
    // Nagle's algorithm would hold small responses back until the client's
    // delayed ACK, adding ~40 ms to every call; `Server::tcp_nodelay` does not
    // apply to a listener handed in, so set it on the incoming stream.
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)));
    let server = router.serve_with_incoming_shutdown(incoming, async {
        let _ = stopped.await;
    });
    tokio::pin!(server);

    tokio::select! {
        result = &mut server => return result.context("server failed"),
        () = shutdown => {}
    }
    tracing::info!(grace = ?config.shutdown_grace, "shutting down: health NOT_SERVING, draining requests");
    set_health(&health_reporter, ServingStatus::NotServing).await;
    let _ = stop_accepting.send(());
    match tokio::time::timeout(config.shutdown_grace, server).await {
        Ok(result) => result.context("server failed while draining")?,
        Err(_) => tracing::warn!("requests still running after the grace period were cut off"),
    }
    tracing::info!("lienthong stopped");
    Ok(())
}

async fn set_health(reporter: &HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for service in SERVICE_NAMES {
        reporter.set_service_status(service, status).await;
    }
}

/// CORS for gRPC-Web from browsers. Credentials are bearer tokens, not
/// cookies, so any origin may call; the gRPC status headers are exposed so
/// browser clients can read errors.
fn cors() -> CorsLayer {
    const ALLOWED: [&str; 6] = [
        "authorization",
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
        "grpc-accept-encoding",
    ];
    const EXPOSED: [&str; 3] = ["grpc-status", "grpc-message", "grpc-status-details-bin"];
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([http::Method::POST, http::Method::OPTIONS])
        .allow_headers(ALLOWED.map(HeaderName::from_static))
        .expose_headers(EXPOSED.map(HeaderName::from_static))
        .max_age(Duration::from_secs(24 * 60 * 60))
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
