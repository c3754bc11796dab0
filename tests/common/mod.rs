//! Test harness for end-to-end tests: a real server on a loopback port over a
//! fresh database (SQLite by default, PostgreSQL when
//! `LIENTHONG_TEST_BACKEND=postgres`), with the Hanoi directory and the demo
//! forms installed, and generated clients carrying bearer tokens.
#![allow(dead_code, reason = "each test file uses a different part of the harness")]

use std::net::SocketAddr;
use std::sync::Arc;

use lienthong::config::{ConfigFile, ServerConfig, ServerOverrides};
use lienthong::proto;
use lienthong::proto::directory_service_client::DirectoryServiceClient;
use lienthong::proto::form_service_client::FormServiceClient;
use lienthong::proto::report_service_client::ReportServiceClient;
use lienthong_domain::auth::Role;
use lienthong_domain::period::{Period, Periodicity, WindowRule, vietnam_date};
use lienthong_domain::service::{Clock, Services, TokenService, system_clock};
use lienthong_domain::store::Store;
use lienthong_store::testing::TestDatabase;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub const WARD: &str = "00004-peoples-committee";
pub const OTHER_WARD: &str = "00008-peoples-committee";
pub const WARD_PARTY: &str = "00004-party-committee";
pub const TTHC_OWNER: &str = "01-public-service-centre";
pub const STAFFING_OWNER: &str = "01-home-affairs";
pub const ADMIN_ORGAN: &str = "01-city-office";

pub struct TestServer {
    pub address: SocketAddr,
    pub store: Arc<dyn Store>,
    pub database: TestDatabase,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Authorised = InterceptedService<Channel, Bearer>;

/// A clock a test sets by hand, for data whose dates must not depend on the
/// day the test runs.
#[derive(Clone)]
pub struct ManualClock(Arc<std::sync::Mutex<time::OffsetDateTime>>);

impl ManualClock {
    pub fn at(instant: time::OffsetDateTime) -> ManualClock {
        ManualClock(Arc::new(std::sync::Mutex::new(instant)))
    }

    pub fn set(&self, instant: time::OffsetDateTime) {
        *self.0.lock().expect("clock lock") = instant;
    }

    pub fn clock(&self) -> Clock {
        let instant = self.0.clone();
        Arc::new(move || *instant.lock().expect("clock lock"))
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with_clock(system_clock()).await
    }

    /// A server whose services read time from `clock`.
    pub async fn start_with_clock(clock: Clock) -> TestServer {
        // Server logs show up with a failing test's output (RUST_LOG to change).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let database = TestDatabase::fresh().await;
        let store = lienthong_store::connect(&database.url)
            .await
            .expect("store opens");
        lienthong::demo::install_directory_and_forms(store.clone(), time::OffsetDateTime::now_utc())
            .await
            .expect("directory and forms install");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let config = ServerConfig::resolve(
            ServerOverrides {
                listen: Some(address),
                database_url: Some(database.url.clone()),
            },
            ConfigFile::default(),
        )
        .expect("config");
        let services = Services::new(store.clone(), clock);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            lienthong::server::serve(&config, services, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        TestServer {
            address,
            store,
            database,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Signals shutdown and waits for the server to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("server task"),
            None => Ok(()),
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .expect("endpoint")
            .connect()
            .await
            .expect("connects")
    }

    /// Issues a token directly on the store, as `lienthong token issue` does.
    pub async fn token(&self, organ: &str, roles: &[Role]) -> String {
        TokenService::new(self.store.clone(), system_clock())
            .issue(organ, roles, "test", None)
            .await
            .expect("token issues")
            .secret
    }

    pub async fn reports(&self, token: &str) -> ReportServiceClient<Authorised> {
        ReportServiceClient::with_interceptor(self.channel().await, bearer(Some(token)))
    }

    pub async fn forms(&self, token: &str) -> FormServiceClient<Authorised> {
        FormServiceClient::with_interceptor(self.channel().await, bearer(Some(token)))
    }

    pub async fn directory(&self, token: Option<&str>) -> DirectoryServiceClient<Authorised> {
        DirectoryServiceClient::with_interceptor(self.channel().await, bearer(token))
    }

    /// A submitter client for `organ`.
    pub async fn submitter(&self, organ: &str) -> ReportServiceClient<Authorised> {
        let token = self.token(organ, &[Role::Submitter]).await;
        self.reports(&token).await
    }

    pub async fn reviewer(&self, organ: &str) -> ReportServiceClient<Authorised> {
        let token = self.token(organ, &[Role::Reviewer]).await;
        self.reports(&token).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn bearer(token: Option<&str>) -> Bearer {
    Bearer(token.map(|token| format!("Bearer {token}").parse().expect("ascii token")))
}

/// The monthly period open today: its window has started and its deadline
/// has not passed, so a submission for it is on time.
pub fn current_month() -> Period {
    Period::containing(
        Periodicity::Monthly,
        WindowRule::Decree09,
        vietnam_date(time::OffsetDateTime::now_utc()),
    )
    .expect("every date is in a monthly window")
}

pub fn integer(code: &str, value: i64) -> proto::IndicatorValue {
    proto::IndicatorValue {
        indicator_code: code.to_owned(),
        value: Some(proto::indicator_value::Value::IntegerValue(value)),
    }
}

pub fn decimal(code: &str, value: &str) -> proto::IndicatorValue {
    proto::IndicatorValue {
        indicator_code: code.to_owned(),
        value: Some(proto::indicator_value::Value::DecimalValue(value.to_owned())),
    }
}

/// A valid set of values for the demo form `tthc-monthly`.
pub fn tthc_values() -> Vec<proto::IndicatorValue> {
    vec![
        integer("dossiers_received", 532),
        integer("dossiers_online", 75),
        integer("dossiers_resolved_on_time", 498),
        integer("dossiers_overdue", 12),
        integer("citizen_feedback_received", 28),
    ]
}

pub fn tthc_submission(organ: &str, period: &str, request_id: &str) -> proto::SubmitReportRequest {
    proto::SubmitReportRequest {
        organ: organ.to_owned(),
        form_code: "tthc-monthly".to_owned(),
        form_version: 0,
        period: period.to_owned(),
        values: tthc_values(),
        narrative: "Tình hình tiếp nhận hồ sơ ổn định.".to_owned(),
        request_id: request_id.to_owned(),
    }
}

/// The field violations of an INVALID_ARGUMENT status, as (field, description).
pub fn field_violations(status: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt as _;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|violation| (violation.field, violation.description))
        .collect()
}

/// The violation types of a FAILED_PRECONDITION status.
pub fn precondition_violations(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    status
        .get_details_precondition_failure()
        .expect("PreconditionFailure details")
        .violations
        .into_iter()
        .map(|violation| violation.r#type)
        .collect()
}

/// The status code of a call, `Ok` for success: one column of an authorisation matrix.
pub fn code_of<T>(result: Result<tonic::Response<T>, tonic::Status>) -> tonic::Code {
    match result {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}
