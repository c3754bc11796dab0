//! End-to-end: what the server offers beside the lienthong services —
//! health, reflection v1 and v1alpha, gRPC-Web with CORS — and graceful
//! shutdown.

mod common;

use common::*;
use lienthong_domain::auth::Role;
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn health_is_open_and_reports_each_service() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    for service in [
        "",
        "lienthong.v1.DirectoryService",
        "lienthong.v1.FormService",
        "lienthong.v1.ReportService",
        "lienthong.v1.ResolutionService",
    ] {
        let response = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("health answers without a token")
            .into_inner();
        assert_eq!(response.status(), ServingStatus::Serving, "{service:?}");
    }
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_the_services() {
    let server = TestServer::start().await;
    {
        use tonic_reflection::pb::v1::ServerReflectionRequest;
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        let mut client = ServerReflectionClient::new(server.channel().await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = client
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("reflection v1")
            .into_inner();
        let response = stream.message().await.expect("stream").expect("a response");
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("unexpected reflection answer");
        };
        let names: Vec<String> = list.service.into_iter().map(|service| service.name).collect();
        for expected in [
            "lienthong.v1.DirectoryService",
            "lienthong.v1.FormService",
            "lienthong.v1.ReportService",
            "lienthong.v1.ResolutionService",
        ] {
            assert!(
                names.iter().any(|name| name == expected),
                "{expected} missing from {names:?}"
            );
        }
    }
    {
        use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
        let mut client = ServerReflectionClient::new(server.channel().await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "lienthong.v1.ReportService".to_owned(),
            )),
        };
        let mut stream = client
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("reflection v1alpha")
            .into_inner();
        let response = stream.message().await.expect("stream").expect("a response");
        let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
            panic!("unexpected reflection answer");
        };
        assert!(!files.file_descriptor_proto.is_empty());
    }
}

/// Sends one HTTP/1.1 request and returns the raw response.
async fn http1(address: std::net::SocketAddr, head: &str, body: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    response
}

#[tokio::test]
async fn grpc_web_and_cors_serve_browsers() {
    let server = TestServer::start().await;
    let token = server.token(WARD, &[Role::Submitter]).await;

    let preflight = http1(
        server.address,
        "OPTIONS /lienthong.v1.DirectoryService/GetLocality HTTP/1.1\r\nHost: localhost\r\n\
         Origin: https://portal.example\r\nAccess-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: authorization,content-type,x-grpc-web\r\nConnection: close\r\n\r\n",
        b"",
    )
    .await;
    let preflight = String::from_utf8_lossy(&preflight).to_lowercase();
    assert!(preflight.starts_with("http/1.1 200"), "{preflight}");
    assert!(
        preflight.contains("access-control-allow-origin: https://portal.example"),
        "{preflight}"
    );

    let message = lienthong::proto::GetLocalityRequest {
        name: "localities/00004".to_owned(),
    }
    .encode_to_vec();
    let mut frame = vec![0_u8];
    frame.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    frame.extend_from_slice(&message);
    let head = format!(
        "POST /lienthong.v1.DirectoryService/GetLocality HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nOrigin: https://portal.example\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        frame.len()
    );
    let response = http1(server.address, &head, &frame).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("Phường Ba Đình"),
        "the locality comes back in the body: {text}"
    );
    assert!(text.contains("grpc-status:0"), "trailers in the body: {text}");
}

#[tokio::test]
async fn shutdown_turns_health_not_serving_and_stops() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "lienthong.v1.ReportService".to_owned(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("stream").expect("status");
    assert_eq!(first.status(), ServingStatus::Serving);

    let stopping = tokio::spawn(server.stop());
    let next = watch.message().await.expect("stream").expect("status");
    assert_eq!(next.status(), ServingStatus::NotServing);
    // An open watch is an in-flight request; closing it lets the drain finish.
    drop(watch);
    drop(health);
    tokio::time::timeout(std::time::Duration::from_secs(30), stopping)
        .await
        .expect("stops once in-flight calls end")
        .expect("task")
        .expect("clean stop");
}
