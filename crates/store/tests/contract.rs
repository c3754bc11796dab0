//! The contract of the domain's `Store`, run against `SqlStore` on the
//! backend the environment selects (see `lienthong_store::testing`): SQLite
//! by default, PostgreSQL with `LIENTHONG_TEST_BACKEND=postgres`.

use std::sync::Arc;

use lienthong_dedup::{CandidateLimits, Decision, MAX_POSTINGS_PER_BAND};
use lienthong_domain::auth::{NewToken, Role};
use lienthong_domain::directory::{Bloc, Directory, LocalityKind, OrganKind, parse_directory};
use lienthong_domain::error::{Error, ResourceKind};
use lienthong_domain::form::{Aggregation, Form, FormDefinition, Indicator, ValueType};
use lienthong_domain::period::{Period, Periodicity, WindowRule};
use lienthong_domain::recommendation::{
    ClusterAction, ClusterDecision, ClusterFilter, ClusterStatus, DedupContext, DedupOutcome,
    NewRecommendation, Recommendation, RecommendationEvent, RecommendationStanding, StoredCandidate,
    Suggestion,
};
use lienthong_domain::report::{IndicatorValue, ReportRevision, ReportStatus, Review, Value};
use lienthong_domain::resolution::{
    CheckedDraft, NewResolution, NewResolutionReview, Resolution, ResolutionFilter, ResolutionReview,
    ResolutionStatus, ResolutionSymbol, ResolutionVerdict, search_terms,
};
use lienthong_domain::store::{
    IdempotencyKey, ImportSummary, LocalityFilter, NewReport, NewReview, OrganFilter, ReportFilter, Store,
    StoredRequest,
};
use lienthong_store::testing::TestDatabase;
use recommendation_fixtures::*;
use rust_decimal::Decimal;
use time::OffsetDateTime;
use time::macros::datetime;

/// Two wards, a commune and the city with its organs and departments.
const DIRECTORY_TSV: &str = "code\tfull_name\tprovince_code\n\
    00004\tPhường Ba Đình\t01\n\
    00008\tPhường Ngọc Hà\t01\n\
    09999\tXã Thử Nghiệm\t01\n";

const FORM_CODE: &str = "tthc-monthly";
const OWNER_DEPARTMENT: &str = "01-public-service-centre";
const BA_DINH_COMMITTEE: &str = "00004-peoples-committee";
const NGOC_HA_COMMITTEE: &str = "00008-peoples-committee";

fn directory() -> Directory {
    parse_directory(DIRECTORY_TSV).expect("the test directory parses")
}

/// An instant at storage precision (microseconds), so round trips compare equal.
fn instant(minutes_after_start: i64) -> OffsetDateTime {
    datetime!(2025-08-03 09:15:00.123456 UTC) + time::Duration::minutes(minutes_after_start)
}

fn period(text: &str) -> Period {
    text.parse().expect("a valid period id")
}

fn indicator(code: &str, value_type: ValueType, aggregation: Aggregation) -> Indicator {
    Indicator {
        code: code.to_owned(),
        name: code.replace('_', " "),
        unit: String::new(),
        value_type,
        aggregation,
        required: false,
        min: None,
        max: None,
        ratio_of: None,
        description: String::new(),
        topics: Vec::new(),
    }
}

/// One indicator of every value type.
fn definition(title: &str, owner_organ: &str) -> FormDefinition {
    FormDefinition {
        title: title.to_owned(),
        description: "Thủ tục hành chính".to_owned(),
        owner_organ: owner_organ.to_owned(),
        periodicity: Periodicity::Monthly,
        window_rule: WindowRule::Decree09,
        deadline_days_after_cutoff: 5,
        reporting_organ_kinds: vec![OrganKind::PeoplesCommittee],
        first_period: Some(period("2025-07")),
        indicators: vec![
            indicator("dossiers_received", ValueType::Integer, Aggregation::Sum),
            indicator("online_rate", ValueType::Percent, Aggregation::Avg),
            indicator("budget", ValueType::MoneyVnd, Aggregation::Sum),
            indicator("area", ValueType::Decimal, Aggregation::Sum),
            indicator("note", ValueType::Text, Aggregation::Last),
            indicator("has_portal", ValueType::Boolean, Aggregation::Last),
        ],
        rules: Vec::new(),
    }
}

fn decimal(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

/// Values of every kind, including extremes and a decimal whose trailing
/// zero must survive.
fn values_of_every_kind() -> Vec<IndicatorValue> {
    let value = |code: &str, value: Value| IndicatorValue {
        indicator_code: code.to_owned(),
        value,
    };
    vec![
        value("dossiers_received", Value::Integer(i64::MIN)),
        value("online_rate", Value::Decimal(decimal("14.10"))),
        value("budget", Value::MoneyVnd(i64::MAX)),
        value("area", Value::Decimal(decimal("-0.000000000000000000000000001"))),
        value(
            "note",
            Value::Text("Ổn định; \"trích dẫn\"\n'dòng hai'".to_owned()),
        ),
        value("has_portal", Value::Boolean(true)),
    ]
}

fn key(request_id: &str) -> IdempotencyKey {
    IdempotencyKey {
        scope: format!("{BA_DINH_COMMITTEE}:SubmitReport"),
        request_id: request_id.to_owned(),
        fingerprint: format!("fingerprint of {request_id}"),
    }
}

fn revision(report_id: i64, number: u32, token_id: i64, submitted_at: OffsetDateTime) -> ReportRevision {
    ReportRevision {
        report_id,
        revision: number,
        form_version: 1,
        values: values_of_every_kind(),
        narrative: format!("revision {number}"),
        amendment_reason: if number == 1 {
            String::new()
        } else {
            "corrected figures".to_owned()
        },
        submitted_at,
        late: false,
        submitted_by_token: token_id,
    }
}

fn new_report(organ_id: &str, locality_code: &str, period_id: &str, token_id: i64) -> NewReport {
    NewReport {
        organ_id: organ_id.to_owned(),
        locality_code: locality_code.to_owned(),
        form_code: FORM_CODE.to_owned(),
        period: period(period_id),
        deadline: datetime!(2025-08-19 23:59:59.999999 +07:00),
        first_revision: ReportRevision {
            late: true,
            ..revision(0, 1, token_id, instant(0))
        },
    }
}

fn new_token(hash: &str, organ_id: &str, roles: Vec<Role>) -> NewToken {
    NewToken {
        token_hash: hash.to_owned(),
        organ_id: organ_id.to_owned(),
        roles,
        label: format!("token {hash}"),
        created_at: instant(0),
        expires_at: None,
    }
}

/// A database with the directory, a submitter's token and form
/// `FORM_CODE` published once.
struct Seeded {
    // Declared before the database: the store's pool goes first.
    store: Arc<dyn Store>,
    token_id: i64,
    database: TestDatabase,
}

async fn seeded() -> Seeded {
    let database = TestDatabase::fresh().await;
    let store = database.connect().await;
    store.import_directory(&directory()).await.expect("import");
    let token = store
        .insert_token(&new_token("submitter", BA_DINH_COMMITTEE, vec![Role::Submitter]))
        .await
        .expect("token");
    store
        .create_form(&Form {
            code: FORM_CODE.to_owned(),
            draft: definition("TTHC", OWNER_DEPARTMENT),
            latest_version: 0,
            created_at: instant(0),
            updated_at: instant(0),
        })
        .await
        .expect("form");
    store.publish_form(FORM_CODE, instant(1)).await.expect("publish");
    Seeded {
        store,
        token_id: token.id,
        database,
    }
}

#[tokio::test]
async fn directory_import_counts_changes_and_is_idempotent() {
    let database = TestDatabase::fresh().await;
    let store = database.connect().await;
    let mut directory = directory();

    let first = store.import_directory(&directory).await.expect("first import");
    assert_eq!(
        first,
        ImportSummary {
            localities_added: 4,
            localities_updated: 0,
            organs_added: 24,
            organs_updated: 0,
        }
    );
    let second = store.import_directory(&directory).await.expect("second import");
    assert_eq!(second, ImportSummary::default());

    directory.localities[0].name = "Phường Ba Đình (mới)".to_owned();
    directory.organs[0].bloc = Bloc::Party;
    let renamed = store.import_directory(&directory).await.expect("third import");
    assert_eq!(
        renamed,
        ImportSummary {
            localities_updated: 1,
            organs_updated: 1,
            ..ImportSummary::default()
        }
    );
    let locality = store
        .get_locality(&directory.localities[0].code)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(locality, directory.localities[0]);
    let organ = store
        .get_organ(&directory.organs[0].id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(organ, directory.organs[0]);
    assert_eq!(store.get_locality("77777").await.expect("read"), None);
    assert_eq!(store.get_organ("no-such-organ").await.expect("read"), None);
}

#[tokio::test]
async fn localities_filter_and_page_in_code_order() {
    let database = TestDatabase::fresh().await;
    let store = database.connect().await;
    store.import_directory(&directory()).await.expect("import");
    let codes = |localities: Vec<lienthong_domain::directory::Locality>| {
        localities
            .into_iter()
            .map(|locality| locality.code)
            .collect::<Vec<_>>()
    };

    let everything = LocalityFilter::default();
    let all = store
        .list_localities(&everything, None, u32::MAX)
        .await
        .expect("list");
    assert_eq!(codes(all), ["00004", "00008", "01", "09999"]);
    let first_page = store.list_localities(&everything, None, 3).await.expect("page 1");
    assert_eq!(codes(first_page), ["00004", "00008", "01"]);
    let last_page = store
        .list_localities(&everything, Some("01"), 3)
        .await
        .expect("page 2");
    assert_eq!(codes(last_page), ["09999"]);
    let past_the_end = store
        .list_localities(&everything, Some("09999"), 3)
        .await
        .expect("page 3");
    assert!(past_the_end.is_empty());

    let wards = LocalityFilter {
        kind: Some(LocalityKind::Ward),
        parent_code: Some("01".to_owned()),
    };
    assert_eq!(
        codes(store.list_localities(&wards, None, 10).await.expect("wards")),
        ["00004", "00008"]
    );
    let provinces = LocalityFilter {
        kind: None,
        parent_code: Some(String::new()),
    };
    assert_eq!(
        codes(
            store
                .list_localities(&provinces, None, 10)
                .await
                .expect("provinces")
        ),
        ["01"]
    );
}

#[tokio::test]
async fn organs_filter_and_page_in_id_order() {
    let database = TestDatabase::fresh().await;
    let store = database.connect().await;
    store.import_directory(&directory()).await.expect("import");
    let ids = |organs: Vec<lienthong_domain::directory::Organ>| {
        organs.into_iter().map(|organ| organ.id).collect::<Vec<_>>()
    };

    let mut expected: Vec<String> = directory().organs.into_iter().map(|organ| organ.id).collect();
    expected.sort();
    let all = store
        .list_organs(&OrganFilter::default(), None, u32::MAX)
        .await
        .expect("list");
    assert_eq!(ids(all), expected);

    // Keyset paging visits every organ exactly once.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_organs(&OrganFilter::default(), after.as_deref(), 5)
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        paged.extend(ids(page));
    }
    assert_eq!(paged, expected);

    let ba_dinh = OrganFilter {
        locality_code: Some("00004".to_owned()),
        ..OrganFilter::default()
    };
    assert_eq!(
        store.list_organs(&ba_dinh, None, 10).await.expect("list").len(),
        4
    );
    let party_departments = OrganFilter {
        locality_code: Some("01".to_owned()),
        bloc: Some(Bloc::Party),
        kind: Some(OrganKind::Department),
    };
    assert_eq!(
        ids(store
            .list_organs(&party_departments, None, 10)
            .await
            .expect("list")),
        ["01-party-organisation"]
    );
}

#[tokio::test]
async fn reporting_organs_are_those_of_the_kinds_in_commune_level_localities() {
    let database = TestDatabase::fresh().await;
    let store = database.connect().await;
    store.import_directory(&directory()).await.expect("import");

    let committees = store
        .reporting_organs(&[OrganKind::PeoplesCommittee])
        .await
        .expect("list");
    let ids: Vec<&str> = committees.iter().map(|organ| organ.id.as_str()).collect();
    // Not the city's People's Committee: the city is not commune-level.
    assert_eq!(
        ids,
        [BA_DINH_COMMITTEE, NGOC_HA_COMMITTEE, "09999-peoples-committee"]
    );
    let two_kinds = store
        .reporting_organs(&[OrganKind::PartyCommittee, OrganKind::FrontCommittee])
        .await
        .expect("list");
    assert_eq!(two_kinds.len(), 6);
    assert!(store.reporting_organs(&[]).await.expect("list").is_empty());
    assert!(
        store
            .reporting_organs(&[OrganKind::Department])
            .await
            .expect("list")
            .is_empty()
    );
}

/// Polls `probe` until it gives a value, for what arrives asynchronously.
async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// On PostgreSQL every change to a token or an organ, made through any
/// connection, moves the generation of principal changes on, so servers can
/// keep tokens until then; SQLite follows nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_to_tokens_and_organs_are_followed_on_postgresql() {
    let database = TestDatabase::fresh().await;
    let store = database.connect().await;
    store.import_directory(&directory()).await.expect("import");
    let first = store
        .insert_token(&new_token("hash-a", BA_DINH_COMMITTEE, vec![Role::Submitter]))
        .await
        .expect("insert");
    let second = store
        .insert_token(&new_token("hash-b", BA_DINH_COMMITTEE, vec![Role::Submitter]))
        .await
        .expect("insert");
    let Some(changes) = store.principal_changes() else {
        assert!(database.url.starts_with("sqlite:"), "only SQLite follows nothing");
        return;
    };
    let following = eventually("following", || changes.generation()).await;

    // As another server or the command line would.
    let other = database.connect().await;
    assert!(other.revoke_token(first.id, instant(1)).await.expect("revoke"));
    let after_revocation = eventually("a revocation elsewhere", || {
        changes.generation().filter(|&generation| generation != following)
    })
    .await;
    let mut renamed = directory();
    for organ in &mut renamed.organs {
        organ.name.push_str(" (renamed)");
    }
    other.import_directory(&renamed).await.expect("rename");
    let after_rename = eventually("an organ renamed elsewhere", || {
        changes
            .generation()
            .filter(|&generation| generation != after_revocation)
    })
    .await;

    // Its own changes count at once, before their notification is back.
    assert!(store.revoke_token(second.id, instant(2)).await.expect("revoke"));
    assert_ne!(changes.generation(), Some(after_rename));

    // A lost listening connection: nothing is kept until another listens,
    // under a new generation, and changes are followed again.
    use sqlx::Connection as _;
    let mut admin = sqlx::PgConnection::connect(&database.url).await.expect("connect");
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'lienthong principal changes' AND datname = current_database()",
    )
    .fetch_all(&mut admin)
    .await
    .expect("terminate");
    assert!(!terminated.is_empty(), "the listening connection was found");
    eventually("not following once the connection is lost", || {
        changes.generation().is_none().then_some(())
    })
    .await;
    let refollowed = eventually("following again", || changes.generation()).await;
    other.import_directory(&directory()).await.expect("rename back");
    eventually("a change after following again", || {
        changes
            .generation()
            .filter(|&generation| generation != refollowed)
    })
    .await;
}

#[tokio::test]
async fn tokens_are_found_by_hash_listed_and_revoked_once() {
    let database = TestDatabase::fresh().await;
    let store = database.connect().await;
    store.import_directory(&directory()).await.expect("import");

    let mut expiring = new_token("hash-a", BA_DINH_COMMITTEE, vec![Role::Submitter, Role::Reviewer]);
    expiring.expires_at = Some(instant(90 * 24 * 60));
    let first = store.insert_token(&expiring).await.expect("insert");
    assert_eq!(
        (
            first.organ_id.as_str(),
            first.roles.as_slice(),
            first.label.as_str()
        ),
        (
            BA_DINH_COMMITTEE,
            [Role::Submitter, Role::Reviewer].as_slice(),
            "token hash-a"
        )
    );
    assert_eq!(
        (first.created_at, first.expires_at, first.revoked_at),
        (instant(0), Some(instant(90 * 24 * 60)), None)
    );
    let second = store
        .insert_token(&new_token(
            "hash-b",
            "01-city-office",
            vec![Role::Admin, Role::Analyst],
        ))
        .await
        .expect("insert");
    assert!(second.id > first.id);

    let duplicate = store.insert_token(&expiring).await.expect_err("same hash");
    assert!(
        matches!(
            duplicate,
            Error::AlreadyExists {
                kind: ResourceKind::Token,
                ..
            }
        ),
        "{duplicate:?}"
    );

    // Found with its organ in one read.
    let found = store.find_token("hash-a").await.expect("find").expect("stored");
    assert_eq!(found.record, first);
    assert_eq!(
        found.organ,
        store.get_organ(BA_DINH_COMMITTEE).await.expect("organ")
    );
    assert!(found.organ.is_some());
    assert_eq!(store.find_token("hash-c").await.expect("find"), None);
    assert_eq!(
        store.list_tokens().await.expect("list"),
        [first.clone(), second.clone()]
    );

    assert!(store.revoke_token(first.id, instant(5)).await.expect("revoke"));
    assert!(
        !store
            .revoke_token(first.id, instant(6))
            .await
            .expect("revoke again")
    );
    assert!(
        !store
            .revoke_token(first.id + 1000, instant(6))
            .await
            .expect("no such token")
    );
    let revoked = store
        .find_token("hash-a")
        .await
        .expect("find")
        .expect("still stored")
        .record;
    assert_eq!(revoked.revoked_at, Some(instant(5)));
    assert_eq!(
        store
            .find_token("hash-b")
            .await
            .expect("find")
            .expect("stored")
            .record
            .revoked_at,
        None
    );
}

#[tokio::test]
async fn forms_are_created_edited_and_published_in_numbered_versions() {
    let database = TestDatabase::fresh().await;
    let store = database.connect().await;
    store.import_directory(&directory()).await.expect("import");
    let form = Form {
        code: "b-form".to_owned(),
        draft: definition("Draft one", OWNER_DEPARTMENT),
        latest_version: 0,
        created_at: instant(0),
        updated_at: instant(0),
    };
    store.create_form(&form).await.expect("create");
    let taken = store.create_form(&form).await.expect_err("code taken");
    assert!(
        matches!(&taken, Error::AlreadyExists { kind: ResourceKind::Form, name, .. } if name == "b-form"),
        "{taken:?}"
    );
    assert_eq!(store.get_form("b-form").await.expect("get"), Some(form.clone()));
    assert_eq!(store.get_form("missing").await.expect("get"), None);

    let first = store.publish_form("b-form", instant(1)).await.expect("publish 1");
    assert_eq!((first.version, first.published_at), (1, instant(1)));
    assert_eq!(first.definition, form.draft);

    let edited_draft = definition("Draft two", "01-justice");
    let edited = store
        .update_form_draft("b-form", &edited_draft, instant(2))
        .await
        .expect("update");
    assert_eq!(
        (
            edited.latest_version,
            edited.created_at,
            edited.updated_at,
            &edited.draft
        ),
        (1, instant(0), instant(2), &edited_draft)
    );
    let missing = store
        .update_form_draft("missing", &edited_draft, instant(2))
        .await
        .expect_err("no such form");
    assert!(
        matches!(
            missing,
            Error::NotFound {
                kind: ResourceKind::Form,
                ..
            }
        ),
        "{missing:?}"
    );

    let second = store.publish_form("b-form", instant(3)).await.expect("publish 2");
    assert_eq!((second.version, &second.definition), (2, &edited_draft));
    assert_eq!(
        store
            .get_form("b-form")
            .await
            .expect("get")
            .expect("form")
            .latest_version,
        2
    );
    assert_eq!(
        store.get_form_version("b-form", 1).await.expect("get"),
        Some(first)
    );
    assert_eq!(
        store.get_form_version("b-form", 2).await.expect("get"),
        Some(second.clone())
    );
    assert_eq!(store.get_form_version("b-form", 3).await.expect("get"), None);
    let unknown = store
        .publish_form("missing", instant(4))
        .await
        .expect_err("no such form");
    assert!(
        matches!(
            unknown,
            Error::NotFound {
                kind: ResourceKind::Form,
                ..
            }
        ),
        "{unknown:?}"
    );

    // An unpublished form has no latest version; listing pages by code.
    let unpublished = Form {
        code: "a-form".to_owned(),
        ..form.clone()
    };
    store.create_form(&unpublished).await.expect("create");
    assert_eq!(store.latest_form_versions().await.expect("latest"), [second]);
    let codes = |forms: Vec<Form>| forms.into_iter().map(|form| form.code).collect::<Vec<_>>();
    assert_eq!(
        codes(store.list_forms(None, 1).await.expect("page 1")),
        ["a-form"]
    );
    assert_eq!(
        codes(store.list_forms(Some("a-form"), 1).await.expect("page 2")),
        ["b-form"]
    );
    assert!(
        store
            .list_forms(Some("b-form"), u32::MAX)
            .await
            .expect("page 3")
            .is_empty()
    );
}

/// How many tasks race in the concurrency tests: more than the two cores
/// of a small server, fewer than the pool's connections.
const CONTENDERS: i64 = 6;

/// Runs `attempts` as concurrent tasks and returns their outcomes.
async fn race<T: Send + 'static>(
    attempts: impl IntoIterator<Item = impl Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let tasks: Vec<_> = attempts.into_iter().map(tokio::spawn).collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("the task ran to completion"));
    }
    outcomes
}

/// Imports read the stored directory before writing: on SQLite that is the
/// case where a deferred transaction fails at once instead of waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_directory_imports_all_succeed() {
    let database = TestDatabase::fresh().await;
    let store = database.connect().await;
    let outcomes = race((0..CONTENDERS).map(|_| {
        let store = store.clone();
        async move { store.import_directory(&directory()).await }
    }))
    .await;
    for outcome in outcomes {
        outcome.expect("every import succeeds");
    }
    let organs = store
        .list_organs(&OrganFilter::default(), None, u32::MAX)
        .await
        .expect("list");
    assert_eq!(organs.len(), directory().organs.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publications_take_distinct_version_numbers() {
    let seeded = seeded().await;
    let outcomes = race((0..CONTENDERS).map(|index| {
        let store = seeded.store.clone();
        async move { store.publish_form(FORM_CODE, instant(10 + index)).await }
    }))
    .await;
    let mut versions: Vec<u32> = outcomes
        .into_iter()
        .map(|outcome| outcome.expect("every publication succeeds").version)
        .collect();
    versions.sort_unstable();
    // Version 1 was published while seeding.
    assert_eq!(versions, [2, 3, 4, 5, 6, 7]);
    let form = seeded
        .store
        .get_form(FORM_CODE)
        .await
        .expect("get")
        .expect("form");
    assert_eq!(form.latest_version, 7);
}

#[tokio::test]
async fn a_report_round_trips_with_values_of_every_kind() {
    let seeded = seeded().await;
    let store = &seeded.store;
    let report = new_report(BA_DINH_COMMITTEE, "00004", "2025-07", seeded.token_id);
    let report_id = store.insert_report(&report, &key("r1")).await.expect("insert");

    let stored = store.get_report(report_id).await.expect("get").expect("report");
    assert_eq!(
        (
            stored.organ_id.as_str(),
            stored.locality_code.as_str(),
            stored.form_code.as_str(),
            stored.period,
        ),
        (BA_DINH_COMMITTEE, "00004", FORM_CODE, period("2025-07"))
    );
    assert_eq!(
        (
            stored.status,
            stored.latest_revision,
            stored.late,
            stored.last_review.clone()
        ),
        (ReportStatus::Submitted, 1, true, None)
    );
    assert_eq!(
        (stored.deadline, stored.first_submitted_at, stored.updated_at),
        (report.deadline, instant(0), instant(0))
    );

    let first = store
        .get_revision(report_id, 1)
        .await
        .expect("get")
        .expect("revision");
    assert_eq!(
        first,
        ReportRevision {
            report_id,
            ..report.first_revision.clone()
        }
    );
    // Equal decimals may differ in scale; the stored one keeps it exactly.
    let texts = |values: &[IndicatorValue]| {
        values
            .iter()
            .map(|value| format!("{}={:?}", value.indicator_code, value.value))
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&first.values), texts(&values_of_every_kind()));
    assert!(texts(&first.values).contains(&"online_rate=Decimal(14.10)".to_owned()));

    assert_eq!(store.get_revision(report_id, 2).await.expect("get"), None);
    assert_eq!(store.get_report(report_id + 1000).await.expect("get"), None);
    let request = key("r1");
    assert_eq!(
        store
            .find_request(&request.scope, &request.request_id)
            .await
            .expect("find"),
        Some(StoredRequest {
            fingerprint: request.fingerprint.clone(),
            resource: format!("reports/{report_id}/revisions/1"),
        })
    );
    assert_eq!(
        store.find_request(&request.scope, "other").await.expect("find"),
        None
    );
}

#[tokio::test]
async fn a_revision_without_values_round_trips() {
    let seeded = seeded().await;
    let mut report = new_report(BA_DINH_COMMITTEE, "00004", "2025-07", seeded.token_id);
    report.first_revision.values.clear();
    let report_id = seeded
        .store
        .insert_report(&report, &key("r1"))
        .await
        .expect("insert");
    let stored = seeded
        .store
        .get_revision(report_id, 1)
        .await
        .expect("get")
        .expect("revision");
    assert!(stored.values.is_empty());
}

#[tokio::test]
async fn a_reused_idempotency_key_fails_and_leaves_nothing_behind() {
    let seeded = seeded().await;
    let store = &seeded.store;
    store
        .insert_report(
            &new_report(BA_DINH_COMMITTEE, "00004", "2025-07", seeded.token_id),
            &key("same"),
        )
        .await
        .expect("first");
    let reused = store
        .insert_report(
            &new_report(BA_DINH_COMMITTEE, "00004", "2025-08", seeded.token_id),
            &key("same"),
        )
        .await
        .expect_err("key taken");
    assert!(
        matches!(&reused, Error::AlreadyExists { kind: ResourceKind::IdempotencyKey, name, .. } if name == "same"),
        "{reused:?}"
    );
    let reports = store
        .list_reports(&ReportFilter::default(), None, u32::MAX)
        .await
        .expect("list");
    assert_eq!(reports.len(), 1, "the second report was rolled back");
}

#[tokio::test]
async fn a_second_report_for_the_same_organ_form_and_period_names_the_first() {
    let seeded = seeded().await;
    let store = &seeded.store;
    let report = new_report(BA_DINH_COMMITTEE, "00004", "2025-07", seeded.token_id);
    let report_id = store.insert_report(&report, &key("first")).await.expect("first");
    let second = store
        .insert_report(&report, &key("second"))
        .await
        .expect_err("duplicate");
    let Error::AlreadyExists { kind, name, reason } = &second else {
        panic!("expected AlreadyExists, got {second:?}");
    };
    assert_eq!(
        (*kind, name.as_str()),
        (ResourceKind::Report, format!("reports/{report_id}").as_str())
    );
    assert_eq!(
        reason,
        &format!(
            "organ {BA_DINH_COMMITTEE} already reported form {FORM_CODE} for period 2025-07; \
             amend that report instead"
        )
    );
    // The losing request's key was rolled back with it, so it can be retried.
    let lost = key("second");
    assert_eq!(
        store
            .find_request(&lost.scope, &lost.request_id)
            .await
            .expect("find"),
        None
    );
    // Another period or organ is another report.
    store
        .insert_report(
            &new_report(BA_DINH_COMMITTEE, "00004", "2025-08", seeded.token_id),
            &key("third"),
        )
        .await
        .expect("another period");
    store
        .insert_report(
            &new_report(NGOC_HA_COMMITTEE, "00008", "2025-07", seeded.token_id),
            &key("fourth"),
        )
        .await
        .expect("another organ");
}

fn concurrent_change(error: &Error) -> bool {
    matches!(
        error,
        Error::FailedPrecondition {
            violation_type: "CONCURRENT_CHANGE",
            ..
        }
    )
}

#[tokio::test]
async fn revisions_are_appended_only_onto_the_expected_revision_and_status() {
    let seeded = seeded().await;
    let store = &seeded.store;
    let report_id = store
        .insert_report(
            &new_report(BA_DINH_COMMITTEE, "00004", "2025-07", seeded.token_id),
            &key("r1"),
        )
        .await
        .expect("insert");

    let mut second = revision(report_id, 2, seeded.token_id, instant(30));
    second.values.truncate(2);
    second.form_version = 1;
    store
        .append_revision(&second, ReportStatus::Submitted, &key("r2"))
        .await
        .expect("append");
    let report = store.get_report(report_id).await.expect("get").expect("report");
    assert_eq!(
        (
            report.latest_revision,
            report.status,
            report.updated_at,
            report.first_submitted_at
        ),
        (2, ReportStatus::Submitted, instant(30), instant(0))
    );
    assert_eq!(
        store.get_revision(report_id, 2).await.expect("get"),
        Some(second.clone())
    );
    assert_eq!(
        store
            .get_revision(report_id, 1)
            .await
            .expect("get")
            .expect("first revision is kept")
            .values,
        values_of_every_kind()
    );
    let request = key("r2");
    assert_eq!(
        store
            .find_request(&request.scope, &request.request_id)
            .await
            .expect("find")
            .map(|stored| stored.resource),
        Some(format!("reports/{report_id}/revisions/2"))
    );

    // Revision 2 again: the report is at 2 already.
    let stale = store
        .append_revision(&second, ReportStatus::Submitted, &key("stale"))
        .await
        .expect_err("stale");
    assert!(concurrent_change(&stale), "{stale:?}");
    // Revision 3 expecting RETURNED while the report is SUBMITTED.
    let third = revision(report_id, 3, seeded.token_id, instant(40));
    let wrong_status = store
        .append_revision(&third, ReportStatus::Returned, &key("wrong-status"))
        .await
        .expect_err("wrong status");
    assert!(concurrent_change(&wrong_status), "{wrong_status:?}");
    // Neither failure kept its key.
    for failed in ["stale", "wrong-status"] {
        let failed = key(failed);
        assert_eq!(
            store
                .find_request(&failed.scope, &failed.request_id)
                .await
                .expect("find"),
            None
        );
    }
    // A reused key fails on the key, before the compare-and-set.
    let reused = store
        .append_revision(&third, ReportStatus::Submitted, &key("r2"))
        .await
        .expect_err("key taken");
    assert!(
        matches!(
            reused,
            Error::AlreadyExists {
                kind: ResourceKind::IdempotencyKey,
                ..
            }
        ),
        "{reused:?}"
    );
    let missing = store
        .append_revision(
            &revision(report_id + 1000, 2, seeded.token_id, instant(50)),
            ReportStatus::Submitted,
            &key("missing"),
        )
        .await
        .expect_err("no such report");
    assert!(
        matches!(
            missing,
            Error::NotFound {
                kind: ResourceKind::Report,
                ..
            }
        ),
        "{missing:?}"
    );
}

#[tokio::test]
async fn reviews_are_recorded_only_on_the_expected_revision_and_status() {
    let seeded = seeded().await;
    let store = &seeded.store;
    let report_id = store
        .insert_report(
            &new_report(BA_DINH_COMMITTEE, "00004", "2025-07", seeded.token_id),
            &key("r1"),
        )
        .await
        .expect("insert");
    let returned = NewReview {
        report_id,
        expected_revision: 1,
        expected_status: ReportStatus::Submitted,
        new_status: ReportStatus::Returned,
        review: Review {
            reviewer_organ: OWNER_DEPARTMENT.to_owned(),
            comment: "thiếu số liệu".to_owned(),
            reviewed_at: instant(60),
        },
    };
    store
        .record_review(&returned, &key("review-1"))
        .await
        .expect("review");
    let report = store.get_report(report_id).await.expect("get").expect("report");
    assert_eq!(
        (
            report.status,
            report.latest_revision,
            report.updated_at,
            report.last_review
        ),
        (
            ReportStatus::Returned,
            1,
            instant(60),
            Some(returned.review.clone())
        )
    );
    let request = key("review-1");
    assert_eq!(
        store
            .find_request(&request.scope, &request.request_id)
            .await
            .expect("find")
            .map(|stored| stored.resource),
        Some(format!("reports/{report_id}"))
    );

    // The same review again: the report is RETURNED now.
    let repeated = store
        .record_review(&returned, &key("review-2"))
        .await
        .expect_err("changed");
    assert!(concurrent_change(&repeated), "{repeated:?}");
    // Amending a returned report makes it SUBMITTED again, at revision 2.
    store
        .append_revision(
            &revision(report_id, 2, seeded.token_id, instant(70)),
            ReportStatus::Returned,
            &key("r2"),
        )
        .await
        .expect("amend");
    let stale_revision = NewReview {
        expected_revision: 1,
        new_status: ReportStatus::Accepted,
        ..returned.clone()
    };
    let stale = store
        .record_review(&stale_revision, &key("review-3"))
        .await
        .expect_err("stale");
    assert!(concurrent_change(&stale), "{stale:?}");
    let accepted = NewReview {
        expected_revision: 2,
        new_status: ReportStatus::Accepted,
        review: Review {
            comment: String::new(),
            reviewed_at: instant(80),
            ..returned.review.clone()
        },
        ..returned
    };
    store
        .record_review(&accepted, &key("review-4"))
        .await
        .expect("accept");
    let report = store.get_report(report_id).await.expect("get").expect("report");
    assert_eq!(
        (report.status, report.latest_revision, report.last_review),
        (ReportStatus::Accepted, 2, Some(accepted.review))
    );
}

#[tokio::test]
async fn reports_filter_and_page_in_id_order() {
    let seeded = seeded().await;
    let store = &seeded.store;
    // A second form owned by another department.
    store
        .create_form(&Form {
            code: "justice-form".to_owned(),
            draft: definition("Justice", "01-justice"),
            latest_version: 0,
            created_at: instant(0),
            updated_at: instant(0),
        })
        .await
        .expect("form");
    store
        .publish_form("justice-form", instant(1))
        .await
        .expect("publish");

    let mut ids = Vec::new();
    for (index, (organ_id, locality_code, period_id, form_code)) in [
        (BA_DINH_COMMITTEE, "00004", "2025-07", FORM_CODE),
        (BA_DINH_COMMITTEE, "00004", "2025-08", FORM_CODE),
        (NGOC_HA_COMMITTEE, "00008", "2025-07", FORM_CODE),
        (NGOC_HA_COMMITTEE, "00008", "2025-07", "justice-form"),
    ]
    .into_iter()
    .enumerate()
    {
        let report = NewReport {
            form_code: form_code.to_owned(),
            ..new_report(organ_id, locality_code, period_id, seeded.token_id)
        };
        ids.push(
            store
                .insert_report(&report, &key(&format!("r{index}")))
                .await
                .expect("insert"),
        );
    }
    store
        .record_review(
            &NewReview {
                report_id: ids[2],
                expected_revision: 1,
                expected_status: ReportStatus::Submitted,
                new_status: ReportStatus::Accepted,
                review: Review {
                    reviewer_organ: OWNER_DEPARTMENT.to_owned(),
                    comment: String::new(),
                    reviewed_at: instant(5),
                },
            },
            &key("review"),
        )
        .await
        .expect("review");

    let listed = |filter: ReportFilter, after: Option<i64>, limit: u32| {
        let store = store.clone();
        async move {
            store
                .list_reports(&filter, after, limit)
                .await
                .expect("list")
                .into_iter()
                .map(|report| report.id)
                .collect::<Vec<i64>>()
        }
    };
    assert_eq!(listed(ReportFilter::default(), None, u32::MAX).await, ids);
    assert_eq!(listed(ReportFilter::default(), None, 3).await, ids[..3]);
    assert_eq!(listed(ReportFilter::default(), Some(ids[2]), 3).await, ids[3..]);
    assert!(listed(ReportFilter::default(), Some(ids[3]), 3).await.is_empty());

    let by_form = ReportFilter {
        form_code: Some(FORM_CODE.to_owned()),
        ..ReportFilter::default()
    };
    assert_eq!(listed(by_form, None, 10).await, ids[..3]);
    let by_period = ReportFilter {
        period: Some(period("2025-07")),
        ..ReportFilter::default()
    };
    assert_eq!(listed(by_period, None, 10).await, [ids[0], ids[2], ids[3]]);
    let by_organ_and_period = ReportFilter {
        organ_id: Some(NGOC_HA_COMMITTEE.to_owned()),
        period: Some(period("2025-07")),
        ..ReportFilter::default()
    };
    assert_eq!(listed(by_organ_and_period, None, 10).await, ids[2..]);
    let by_locality = ReportFilter {
        locality_code: Some("00004".to_owned()),
        ..ReportFilter::default()
    };
    assert_eq!(listed(by_locality, None, 10).await, ids[..2]);
    let accepted = ReportFilter {
        status: Some(ReportStatus::Accepted),
        ..ReportFilter::default()
    };
    assert_eq!(listed(accepted, None, 10).await, [ids[2]]);
    let owned_by_justice = ReportFilter {
        form_owner: Some("01-justice".to_owned()),
        ..ReportFilter::default()
    };
    assert_eq!(listed(owned_by_justice, None, 10).await, [ids[3]]);

    // Ownership follows the latest published version, not the draft or an
    // older version.
    store
        .update_form_draft(
            "justice-form",
            &definition("Justice", OWNER_DEPARTMENT),
            instant(6),
        )
        .await
        .expect("update");
    let owned_by_centre = || ReportFilter {
        form_owner: Some(OWNER_DEPARTMENT.to_owned()),
        ..ReportFilter::default()
    };
    assert_eq!(listed(owned_by_centre(), None, 10).await, ids[..3]);
    store
        .publish_form("justice-form", instant(7))
        .await
        .expect("publish");
    assert_eq!(listed(owned_by_centre(), None, 10).await, ids);
    let owned_by_nobody = ReportFilter {
        form_owner: Some("01-justice".to_owned()),
        ..ReportFilter::default()
    };
    assert!(listed(owned_by_nobody, None, 10).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_first_reports_exactly_one_wins() {
    let seeded = seeded().await;
    let outcomes = race((0..CONTENDERS).map(|index| {
        let store = seeded.store.clone();
        let report = new_report(BA_DINH_COMMITTEE, "00004", "2025-07", seeded.token_id);
        async move {
            store
                .insert_report(&report, &key(&format!("contender-{index}")))
                .await
        }
    }))
    .await;
    let winners: Vec<i64> = outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().ok().copied())
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner = format!("reports/{}", winners[0]);
    let losers_name_the_winner = outcomes.iter().filter(|outcome| {
        matches!(outcome, Err(Error::AlreadyExists { kind: ResourceKind::Report, name, .. }) if *name == winner)
    });
    assert_eq!(losers_name_the_winner.count(), outcomes.len() - 1, "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_requests_with_one_key_the_others_fail_on_the_key() {
    let seeded = seeded().await;
    let outcomes = race((0..CONTENDERS).map(|_| {
        let store = seeded.store.clone();
        let report = new_report(BA_DINH_COMMITTEE, "00004", "2025-07", seeded.token_id);
        async move { store.insert_report(&report, &key("shared")).await }
    }))
    .await;
    assert_eq!(
        outcomes.iter().filter(|outcome| outcome.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    let key_conflicts = outcomes.iter().filter(|outcome| {
        matches!(
            outcome,
            Err(Error::AlreadyExists {
                kind: ResourceKind::IdempotencyKey,
                ..
            })
        )
    });
    assert_eq!(key_conflicts.count(), outcomes.len() - 1, "{outcomes:?}");
}

// The resolution register.

const BA_DINH_COUNCIL: &str = "00004-peoples-council";
const NGOC_HA_COUNCIL: &str = "00008-peoples-council";
const JUSTICE: &str = "01-justice";

fn resolution_key(request_id: &str) -> IdempotencyKey {
    IdempotencyKey {
        scope: format!("{BA_DINH_COUNCIL}:FileResolution"),
        request_id: request_id.to_owned(),
        fingerprint: format!("fingerprint of {request_id}"),
    }
}

/// A resolution of `organ_id` adopted on `adopted_on`, in force a week later.
fn new_resolution(
    organ_id: &str,
    locality_code: &str,
    symbol: &str,
    adopted_on: time::Date,
    token_id: i64,
) -> NewResolution {
    NewResolution {
        issuing_organ_id: organ_id.to_owned(),
        locality_code: locality_code.to_owned(),
        content: CheckedDraft {
            symbol: ResolutionSymbol::parse(symbol).expect("a valid symbol"),
            title: format!("Nghị quyết {symbol} về dự toán ngân sách"),
            adopted_on,
            effective_on: adopted_on + time::Duration::days(7),
            topic: "budget".to_owned(),
            summary: "Thông qua dự toán thu, chi ngân sách năm 2026.".to_owned(),
            full_text: "Điều 1. Thông qua dự toán.\nĐiều 2. Giao Ủy ban nhân dân tổ chức thực hiện."
                .to_owned(),
            budget_vnd: Some(45_000_000_000),
        },
        supersedes: None,
        filed_at: instant(0),
        filed_by_token: token_id,
    }
}

fn resolution_review(
    resolution_id: i64,
    expected_status: ResolutionStatus,
    sequence: u32,
    verdict: ResolutionVerdict,
    token_id: i64,
) -> NewResolutionReview {
    NewResolutionReview {
        resolution_id,
        expected_status,
        review: ResolutionReview {
            sequence,
            verdict,
            comment: format!("quyết định {sequence}"),
            reviewer_organ: JUSTICE.to_owned(),
            reviewed_by_token: token_id,
            reviewed_at: instant(100 + i64::from(sequence)),
        },
    }
}

fn is_already_superseded(error: &Error) -> bool {
    matches!(
        error,
        Error::FailedPrecondition {
            violation_type: "ALREADY_SUPERSEDED",
            ..
        }
    )
}

#[tokio::test]
async fn a_resolution_round_trips_with_its_full_text_and_key() {
    let seeded = seeded().await;
    let store = &seeded.store;
    let mut filed = new_resolution(
        BA_DINH_COUNCIL,
        "00004",
        "05/NQ-HĐND",
        time::macros::date!(2025 - 09 - 30),
        seeded.token_id,
    );
    filed.content.budget_vnd = Some(i64::MAX);
    let id = store
        .insert_resolution(&filed, &resolution_key("file-1"))
        .await
        .expect("insert");
    let resolution = store.get_resolution(id).await.expect("get").expect("resolution");
    assert_eq!(
        resolution,
        Resolution {
            id,
            issuing_organ_id: BA_DINH_COUNCIL.to_owned(),
            locality_code: "00004".to_owned(),
            symbol: "05/NQ-HĐND".to_owned(),
            title: filed.content.title.clone(),
            adopted_on: time::macros::date!(2025 - 09 - 30),
            effective_on: time::macros::date!(2025 - 10 - 07),
            topic: "budget".to_owned(),
            summary: filed.content.summary.clone(),
            budget_vnd: Some(i64::MAX),
            supersedes: None,
            superseded_by: None,
            status: ResolutionStatus::PendingReview,
            filed_at: instant(0),
            filed_by_token: seeded.token_id,
            updated_at: instant(0),
            reviews: Vec::new(),
        }
    );
    assert_eq!(
        store.get_resolution_full_text(id).await.expect("text"),
        Some(filed.content.full_text.clone())
    );
    let key = resolution_key("file-1");
    assert_eq!(
        store
            .find_request(&key.scope, &key.request_id)
            .await
            .expect("find")
            .map(|stored| stored.resource),
        Some(format!("resolutions/{id}"))
    );

    let mut without_budget = new_resolution(
        BA_DINH_COUNCIL,
        "00004",
        "06/NQ-HĐND",
        time::macros::date!(2025 - 09 - 30),
        seeded.token_id,
    );
    without_budget.content.budget_vnd = None;
    let other = store
        .insert_resolution(&without_budget, &resolution_key("file-2"))
        .await
        .expect("insert");
    let read = store
        .get_resolution(other)
        .await
        .expect("get")
        .expect("resolution");
    assert_eq!(read.budget_vnd, None);
    assert_eq!(store.get_resolution(other + 1000).await.expect("get"), None);
    assert_eq!(
        store.get_resolution_full_text(other + 1000).await.expect("text"),
        None
    );
}

#[tokio::test]
async fn a_symbol_is_unique_per_organ_and_year_and_the_conflict_names_the_first() {
    let seeded = seeded().await;
    let store = &seeded.store;
    let autumn = time::macros::date!(2025 - 09 - 30);
    let first = store
        .insert_resolution(
            &new_resolution(BA_DINH_COUNCIL, "00004", "05/NQ-HĐND", autumn, seeded.token_id),
            &resolution_key("first"),
        )
        .await
        .expect("insert");

    // Leading zeros and the Party style write the same symbol.
    for (index, same) in ["5/NQ-HĐND", "05-NQ/HĐND"].into_iter().enumerate() {
        let key = resolution_key(&format!("same-{index}"));
        let error = store
            .insert_resolution(
                &new_resolution(
                    BA_DINH_COUNCIL,
                    "00004",
                    same,
                    time::macros::date!(2025 - 12 - 01),
                    seeded.token_id,
                ),
                &key,
            )
            .await
            .expect_err("duplicate symbol");
        assert!(
            matches!(&error, Error::AlreadyExists { kind: ResourceKind::Resolution, name, .. }
                if *name == format!("resolutions/{first}")),
            "{error:?}"
        );
        // The failed filing kept nothing, not even its key.
        assert_eq!(
            store
                .find_request(&key.scope, &key.request_id)
                .await
                .expect("find"),
            None
        );
    }
    // Another year, the normative series, another organ: all free.
    for (index, (organ, locality, symbol, adopted_on)) in [
        (
            BA_DINH_COUNCIL,
            "00004",
            "05/NQ-HĐND",
            time::macros::date!(2026 - 01 - 05),
        ),
        (BA_DINH_COUNCIL, "00004", "05/2025/NQ-HĐND", autumn),
        (NGOC_HA_COUNCIL, "00008", "05/NQ-HĐND", autumn),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .insert_resolution(
                &new_resolution(organ, locality, symbol, adopted_on, seeded.token_id),
                &resolution_key(&format!("free-{index}")),
            )
            .await
            .unwrap_or_else(|error| panic!("{symbol} of {organ} on {adopted_on}: {error:?}"));
    }
    let all = store
        .list_resolutions(&ResolutionFilter::default(), None, u32::MAX)
        .await
        .expect("list");
    assert_eq!(all.len(), 4);
}

#[tokio::test]
async fn superseding_marks_the_replaced_resolution_once() {
    let seeded = seeded().await;
    let store = &seeded.store;
    let adopted_on = time::macros::date!(2025 - 09 - 30);
    let old = store
        .insert_resolution(
            &new_resolution(
                BA_DINH_COUNCIL,
                "00004",
                "05/NQ-HĐND",
                adopted_on,
                seeded.token_id,
            ),
            &resolution_key("old"),
        )
        .await
        .expect("insert");
    let replacing = |symbol: &str, supersedes: i64, minutes: i64| NewResolution {
        supersedes: Some(supersedes),
        filed_at: instant(minutes),
        ..new_resolution(BA_DINH_COUNCIL, "00004", symbol, adopted_on, seeded.token_id)
    };
    let new = store
        .insert_resolution(&replacing("09/NQ-HĐND", old, 20), &resolution_key("new"))
        .await
        .expect("supersede");
    let old_read = store.get_resolution(old).await.expect("get").expect("old");
    assert_eq!(
        (old_read.superseded_by, old_read.updated_at),
        (Some(new), instant(20))
    );
    let new_read = store.get_resolution(new).await.expect("get").expect("new");
    assert_eq!((new_read.supersedes, new_read.superseded_by), (Some(old), None));

    let twice = store
        .insert_resolution(&replacing("10/NQ-HĐND", old, 30), &resolution_key("twice"))
        .await
        .expect_err("already superseded");
    assert!(is_already_superseded(&twice), "{twice:?}");
    let missing = store
        .insert_resolution(
            &replacing("11/NQ-HĐND", new + 1000, 40),
            &resolution_key("missing"),
        )
        .await
        .expect_err("no such resolution");
    assert!(
        matches!(
            missing,
            Error::NotFound {
                kind: ResourceKind::Resolution,
                ..
            }
        ),
        "{missing:?}"
    );
    // Neither refusal left a resolution or a key behind.
    let all = store
        .list_resolutions(&ResolutionFilter::default(), None, u32::MAX)
        .await
        .expect("list");
    assert_eq!(
        all.iter().map(|resolution| resolution.id).collect::<Vec<_>>(),
        [old, new]
    );
    for refused in ["twice", "missing"] {
        let key = resolution_key(refused);
        assert_eq!(
            store
                .find_request(&key.scope, &key.request_id)
                .await
                .expect("find"),
            None
        );
    }
    // The newest one can be superseded in turn.
    let newest = store
        .insert_resolution(&replacing("12/NQ-HĐND", new, 50), &resolution_key("newest"))
        .await
        .expect("supersede the successor");
    assert_eq!(
        store
            .get_resolution(new)
            .await
            .expect("get")
            .expect("new")
            .superseded_by,
        Some(newest)
    );
}

#[tokio::test]
async fn resolution_reviews_are_recorded_only_on_the_expected_status_and_count() {
    let seeded = seeded().await;
    let store = &seeded.store;
    let id = store
        .insert_resolution(
            &new_resolution(
                BA_DINH_COUNCIL,
                "00004",
                "05/NQ-HĐND",
                time::macros::date!(2025 - 09 - 30),
                seeded.token_id,
            ),
            &resolution_key("file"),
        )
        .await
        .expect("insert");
    let first = resolution_review(
        id,
        ResolutionStatus::PendingReview,
        1,
        ResolutionVerdict::NeedsAmendment,
        seeded.token_id,
    );
    store
        .record_resolution_review(&first, &resolution_key("review-1"))
        .await
        .expect("review");
    let read = store.get_resolution(id).await.expect("get").expect("resolution");
    assert_eq!(
        (read.status, read.updated_at, read.reviews.clone()),
        (
            ResolutionStatus::NeedsAmendment,
            instant(101),
            vec![first.review.clone()]
        )
    );

    // The same decision again: the resolution has moved on.
    let repeated = store
        .record_resolution_review(&first, &resolution_key("review-2"))
        .await
        .expect_err("changed");
    assert!(concurrent_change(&repeated), "{repeated:?}");
    // The right status with a stale count of decisions.
    let stale_count = resolution_review(
        id,
        ResolutionStatus::NeedsAmendment,
        1,
        ResolutionVerdict::Lawful,
        seeded.token_id,
    );
    let stale = store
        .record_resolution_review(&stale_count, &resolution_key("review-3"))
        .await
        .expect_err("stale count");
    assert!(concurrent_change(&stale), "{stale:?}");
    for refused in ["review-2", "review-3"] {
        let key = resolution_key(refused);
        assert_eq!(
            store
                .find_request(&key.scope, &key.request_id)
                .await
                .expect("find"),
            None
        );
    }

    let lawful = resolution_review(
        id,
        ResolutionStatus::NeedsAmendment,
        2,
        ResolutionVerdict::Lawful,
        seeded.token_id,
    );
    store
        .record_resolution_review(&lawful, &resolution_key("review-4"))
        .await
        .expect("lawful");
    let annulled = resolution_review(
        id,
        ResolutionStatus::Lawful,
        3,
        ResolutionVerdict::Annulled,
        seeded.token_id,
    );
    store
        .record_resolution_review(&annulled, &resolution_key("review-5"))
        .await
        .expect("annulled");
    let read = store.get_resolution(id).await.expect("get").expect("resolution");
    assert_eq!(read.status, ResolutionStatus::Annulled);
    assert_eq!(read.reviews, [first.review, lawful.review, annulled.review]);

    let missing = store
        .record_resolution_review(
            &resolution_review(
                id + 1000,
                ResolutionStatus::PendingReview,
                1,
                ResolutionVerdict::Lawful,
                seeded.token_id,
            ),
            &resolution_key("review-missing"),
        )
        .await
        .expect_err("no such resolution");
    assert!(
        matches!(
            missing,
            Error::NotFound {
                kind: ResourceKind::Resolution,
                ..
            }
        ),
        "{missing:?}"
    );
}

#[tokio::test]
async fn resolutions_filter_search_and_page_in_id_order() {
    let seeded = seeded().await;
    let store = &seeded.store;
    let mut ids = Vec::new();
    for (index, (organ, locality, title, summary, topic, adopted_on)) in [
        (
            BA_DINH_COUNCIL,
            "00004",
            "Nghị quyết về dự toán ngân sách xã năm 2026",
            "Tổng thu ngân sách 45 tỷ đồng.",
            "budget",
            time::macros::date!(2025 - 07 - 10),
        ),
        (
            BA_DINH_COUNCIL,
            "00004",
            "Nghị quyết về biên chế công chức",
            "Giao 76 biên chế; tăng 100% so với kế hoạch_cũ.",
            "staffing",
            time::macros::date!(2025 - 08 - 15),
        ),
        (
            NGOC_HA_COUNCIL,
            "00008",
            "NGHỊ QUYẾT VỀ ĐẦU TƯ CÔNG",
            "Danh mục dự án mở rộng đường.",
            "public-investment",
            time::macros::date!(2025 - 09 - 20),
        ),
        (
            NGOC_HA_COUNCIL,
            "00008",
            "Nghị quyết về khai thác mỏ đá",
            "Quy hoạch khu vực mỏ.",
            "land",
            time::macros::date!(2025 - 10 - 01),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut resolution = new_resolution(
            organ,
            locality,
            &format!("{}/NQ-HĐND", index + 1),
            adopted_on,
            seeded.token_id,
        );
        resolution.content.title = title.to_owned();
        resolution.content.summary = summary.to_owned();
        resolution.content.topic = topic.to_owned();
        ids.push(
            store
                .insert_resolution(&resolution, &resolution_key(&format!("f{index}")))
                .await
                .expect("insert"),
        );
    }
    store
        .record_resolution_review(
            &resolution_review(
                ids[1],
                ResolutionStatus::PendingReview,
                1,
                ResolutionVerdict::Lawful,
                seeded.token_id,
            ),
            &resolution_key("review"),
        )
        .await
        .expect("review");

    let listed = |filter: ResolutionFilter, after: Option<i64>, limit: u32| {
        let store = store.clone();
        async move {
            store
                .list_resolutions(&filter, after, limit)
                .await
                .expect("list")
                .into_iter()
                .map(|resolution| resolution.id)
                .collect::<Vec<i64>>()
        }
    };
    assert_eq!(listed(ResolutionFilter::default(), None, u32::MAX).await, ids);
    assert_eq!(listed(ResolutionFilter::default(), None, 2).await, ids[..2]);
    assert_eq!(
        listed(ResolutionFilter::default(), Some(ids[1]), 2).await,
        ids[2..]
    );
    assert!(
        listed(ResolutionFilter::default(), Some(ids[3]), 2)
            .await
            .is_empty()
    );

    let by_organ = ResolutionFilter {
        issuing_organ_id: Some(NGOC_HA_COUNCIL.to_owned()),
        ..ResolutionFilter::default()
    };
    assert_eq!(listed(by_organ, None, 10).await, ids[2..]);
    let by_locality = ResolutionFilter {
        locality_code: Some("00004".to_owned()),
        ..ResolutionFilter::default()
    };
    assert_eq!(listed(by_locality, None, 10).await, ids[..2]);
    let by_topic = ResolutionFilter {
        topic: Some("land".to_owned()),
        ..ResolutionFilter::default()
    };
    assert_eq!(listed(by_topic, None, 10).await, [ids[3]]);
    let lawful = ResolutionFilter {
        status: Some(ResolutionStatus::Lawful),
        ..ResolutionFilter::default()
    };
    assert_eq!(listed(lawful, None, 10).await, [ids[1]]);
    // Both ends of the range are inclusive.
    let adopted_between = ResolutionFilter {
        adopted_from: Some(time::macros::date!(2025 - 08 - 15)),
        adopted_to: Some(time::macros::date!(2025 - 09 - 20)),
        ..ResolutionFilter::default()
    };
    assert_eq!(listed(adopted_between, None, 10).await, ids[1..3]);
    let adopted_since = ResolutionFilter {
        adopted_from: Some(time::macros::date!(2025 - 09 - 21)),
        ..ResolutionFilter::default()
    };
    assert_eq!(listed(adopted_since, None, 10).await, [ids[3]]);

    let searching = |query: &str| ResolutionFilter {
        terms: search_terms(query).expect("a valid query"),
        ..ResolutionFilter::default()
    };
    // With diacritics, in any case, matching the upper-case title too.
    assert_eq!(listed(searching("ĐẦU TƯ"), None, 10).await, [ids[2]]);
    assert_eq!(listed(searching("ngân sách"), None, 10).await, [ids[0]]);
    // Without diacritics: the words match whatever their marks.
    assert_eq!(listed(searching("ngan sach"), None, 10).await, [ids[0]]);
    assert_eq!(listed(searching("dau tu"), None, 10).await, [ids[2]]);
    // Marks typed are marks meant: "mở" (open) is not "mỏ" (mine).
    assert_eq!(listed(searching("mở"), None, 10).await, [ids[2]]);
    assert_eq!(listed(searching("mỏ"), None, 10).await, [ids[3]]);
    assert_eq!(listed(searching("mo"), None, 10).await, ids[2..]);
    // Every word must occur, in the title or the summary, in any order.
    assert_eq!(listed(searching("biên chế 76"), None, 10).await, [ids[1]]);
    assert!(listed(searching("biên chế đầu tư"), None, 10).await.is_empty());
    // Whole words only: part of a word finds nothing.
    assert!(listed(searching("ngâ"), None, 10).await.is_empty());
    assert_eq!(listed(searching("sach ngan"), None, 10).await, [ids[0]]);
    // Punctuation, LIKE's wildcards included, separates words and matches
    // nothing itself: "n%ch" is the words "n" and "ch", which no title has,
    // though as a pattern it would match "ngân sách".
    assert_eq!(listed(searching("100%"), None, 10).await, [ids[1]]);
    assert_eq!(listed(searching("hoạch_cũ"), None, 10).await, [ids[1]]);
    assert!(listed(searching("n%ch"), None, 10).await.is_empty());
    // Search combines with the other filters.
    let combined = ResolutionFilter {
        locality_code: Some("00008".to_owned()),
        ..searching("nghi quyet")
    };
    assert_eq!(listed(combined, None, 10).await, ids[2..]);

    // Columns in an older layout (the text as typed, as stored before
    // migration 0010) are computed again when a store opens the database.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&seeded.database.url)
        .await
        .expect("a second pool on the test database");
    sqlx::query(
        "UPDATE resolutions SET search_text = 'tổng thu ngân sách', search_folded = 'tong thu ngan sach', \
         search_layout = 1",
    )
    .execute(&pool)
    .await
    .expect("an older layout");
    pool.close().await;
    assert!(
        listed(searching("ngan sach"), None, 10).await.is_empty(),
        "no spaces around the words"
    );
    let reopened = seeded.database.connect().await;
    let found = reopened
        .list_resolutions(&searching("ngan sach"), None, 10)
        .await
        .expect("listed");
    assert_eq!(
        found.iter().map(|resolution| resolution.id).collect::<Vec<_>>(),
        [ids[0]]
    );
    assert_eq!(
        listed(searching("nghị quyết"), None, 10).await,
        ids,
        "every row is in the current layout again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_supersedings_of_one_resolution_exactly_one_wins() {
    let seeded = seeded().await;
    let adopted_on = time::macros::date!(2025 - 09 - 30);
    let old = seeded
        .store
        .insert_resolution(
            &new_resolution(BA_DINH_COUNCIL, "00004", "1/NQ-HĐND", adopted_on, seeded.token_id),
            &resolution_key("old"),
        )
        .await
        .expect("insert");
    let outcomes = race((0..CONTENDERS).map(|index| {
        let store = seeded.store.clone();
        let resolution = NewResolution {
            supersedes: Some(old),
            ..new_resolution(
                BA_DINH_COUNCIL,
                "00004",
                &format!("{}/NQ-HĐND", index + 2),
                adopted_on,
                seeded.token_id,
            )
        };
        async move {
            store
                .insert_resolution(&resolution, &resolution_key(&format!("contender-{index}")))
                .await
        }
    }))
    .await;
    let winners: Vec<i64> = outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().ok().copied())
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let refused = outcomes
        .iter()
        .filter(|outcome| outcome.as_ref().is_err_and(is_already_superseded));
    assert_eq!(refused.count(), outcomes.len() - 1, "{outcomes:?}");
    let old_read = seeded.store.get_resolution(old).await.expect("get").expect("old");
    assert_eq!(old_read.superseded_by, Some(winners[0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_reviews_of_one_resolution_exactly_one_wins() {
    let seeded = seeded().await;
    let id = seeded
        .store
        .insert_resolution(
            &new_resolution(
                BA_DINH_COUNCIL,
                "00004",
                "1/NQ-HĐND",
                time::macros::date!(2025 - 09 - 30),
                seeded.token_id,
            ),
            &resolution_key("file"),
        )
        .await
        .expect("insert");
    let outcomes = race((0..CONTENDERS).map(|index| {
        let store = seeded.store.clone();
        let verdict = if index % 2 == 0 {
            ResolutionVerdict::Lawful
        } else {
            ResolutionVerdict::Annulled
        };
        let review = resolution_review(id, ResolutionStatus::PendingReview, 1, verdict, seeded.token_id);
        async move {
            store
                .record_resolution_review(&review, &resolution_key(&format!("reviewer-{index}")))
                .await
        }
    }))
    .await;
    assert_eq!(
        outcomes.iter().filter(|outcome| outcome.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|outcome| outcome.as_ref().is_err_and(concurrent_change))
            .count(),
        outcomes.len() - 1,
        "{outcomes:?}"
    );
    let read = seeded
        .store
        .get_resolution(id)
        .await
        .expect("get")
        .expect("resolution");
    assert_eq!(read.reviews.len(), 1);
    assert_eq!(read.status, read.reviews[0].verdict.outcome());
}

#[tokio::test]
async fn reindexing_rebuilds_the_dedup_index_and_frequencies() {
    use lienthong_dedup::{Engine, NORM_VERSION};

    let seeded = seeded().await;
    let engine = Engine::default();
    let texts = [
        "Đề nghị Thành phố bổ sung biên chế công chức công nghệ thông tin cho phường.",
        "Đề nghị hướng dẫn công chức xử lý trụ sở, nhà đất dôi dư sau sắp xếp đơn vị hành chính.",
    ];
    let always_new = |_: &DedupContext| Decision::New;
    for (index, text) in texts.iter().enumerate() {
        let new = NewRecommendation {
            organ_id: BA_DINH_COMMITTEE.to_owned(),
            bloc: Bloc::Government,
            locality_code: "00004".to_owned(),
            text: (*text).to_owned(),
            topic: None,
            addressee: OWNER_DEPARTMENT.to_owned(),
            source: None,
            submitted_at: instant(10),
            received_at: instant(10),
            imported_by: None,
            analysis: engine.analyze(text),
        };
        let key = IdempotencyKey {
            scope: format!("{BA_DINH_COMMITTEE}:SubmitRecommendation"),
            request_id: format!("reindex-{index}"),
            fingerprint: format!("{index}"),
        };
        seeded
            .store
            .record_recommendation(&new, &always_new, limits(), &key)
            .await
            .expect("recorded");
    }
    let analyze = |text: &str| engine.analyze(text);
    assert_eq!(
        seeded
            .store
            .reindex_recommendations(NORM_VERSION, &analyze)
            .await
            .expect("reindex"),
        0,
        "nothing is stale"
    );
    // Pretend the engine moved on: every stored analysis is then stale.
    assert_eq!(
        seeded
            .store
            .reindex_recommendations(NORM_VERSION + 1, &analyze)
            .await
            .expect("reindex"),
        2
    );
    let probe = engine.analyze(texts[0]);
    let context = seeded
        .store
        .dedup_context(&probe, limits())
        .await
        .expect("context");
    assert_eq!(context.corpus.document_count, 2);
    assert!(
        context
            .candidates
            .iter()
            .any(|candidate| *candidate.analysis == as_stored(&probe)),
        "the re-indexed recommendation is found again by its band keys"
    );
    let shared_term = probe
        .terms
        .iter()
        .find(|term| engine.analyze(texts[1]).terms.contains(term))
        .expect("the two texts share a term");
    assert_eq!(context.corpus.document_frequencies.get(shared_term), Some(&2));

    // A version that adds a term counts it in; the next one, without it,
    // counts it out again, and the other frequencies stay as they were.
    const ADDED: &str = "#reindexadded";
    let with_term = |text: &str| {
        let mut analysis = engine.analyze(text);
        analysis.terms.push(ADDED.to_owned());
        analysis
    };
    // Probed with the term, so its frequency is read whatever the candidates.
    let probe_with_term = with_term(texts[0]);
    let frequencies = || async {
        seeded
            .store
            .dedup_context(&probe_with_term, limits())
            .await
            .expect("context")
            .corpus
    };
    assert_eq!(
        seeded
            .store
            .reindex_recommendations(NORM_VERSION + 2, &with_term)
            .await
            .expect("reindex"),
        2
    );
    assert_eq!(frequencies().await.document_frequencies.get(ADDED), Some(&2));
    assert_eq!(
        seeded
            .store
            .reindex_recommendations(NORM_VERSION + 3, &analyze)
            .await
            .expect("reindex"),
        2
    );
    let corpus = frequencies().await;
    assert_eq!(corpus.document_frequencies.get(ADDED), None);
    assert_eq!(corpus.document_frequencies.get(shared_term), Some(&2));
    assert_eq!(corpus.document_count, 2);
}

// Recommendations. The dedup decision is the domain's; here each test hands
// the store a fixed decision, so what is checked is how the store applies it.

mod recommendation_fixtures {
    use std::sync::LazyLock;

    use lienthong_dedup::{CandidateLimits, Decision, Engine, ScoredCandidate};
    use lienthong_domain::directory::Bloc;
    use lienthong_domain::recommendation::{
        ClusterAnswer, ClusterExpectation, ClusterStatus, DedupContext, NewRecommendation, Recommendation,
        RecordedRecommendation,
    };
    use lienthong_domain::store::{IdempotencyKey, Store};
    use time::macros::date;

    use super::instant;

    pub static ENGINE: LazyLock<Engine> = LazyLock::new(Engine::default);

    /// The engine's candidate limits, as the service passes them.
    pub fn limits() -> CandidateLimits {
        ENGINE.config().candidate_limits()
    }

    /// The department that answers, and the officer acting in these tests.
    pub const HOME_AFFAIRS: &str = "01-home-affairs";

    pub const STAFFING: &str = "Đề nghị Thành phố bổ sung biên chế công chức chuyên trách công nghệ thông tin \
         cho phường để vận hành phần mềm một cửa.";
    pub const PREMISES: &str = "Đề nghị sớm ban hành hướng dẫn xử lý trụ sở, nhà đất dôi dư sau khi sắp xếp đơn vị \
         hành chính để tránh lãng phí tài sản công.";
    pub const TRAFFIC: &str = "Đề nghị lắp đặt đèn tín hiệu giao thông tại nút giao trước cổng trường tiểu học để \
         bảo đảm an toàn cho học sinh.";
    pub const DRAINAGE: &str = "Đề nghị nạo vét kênh thoát nước khu dân cư vì mưa lớn thường xuyên gây ngập úng \
         kéo dài nhiều ngày.";
    pub const MARKET: &str = "Đề nghị hỗ trợ kinh phí cải tạo chợ dân sinh đã xuống cấp, mái che bị dột và lối đi \
         chật hẹp.";

    /// An organ that sends recommendations, with its bloc and locality.
    #[derive(Debug, Clone, Copy)]
    pub struct Sender {
        pub organ: &'static str,
        pub bloc: Bloc,
        pub locality: &'static str,
    }

    pub const BA_DINH_GOVERNMENT: Sender = Sender {
        organ: super::BA_DINH_COMMITTEE,
        bloc: Bloc::Government,
        locality: "00004",
    };
    pub const BA_DINH_FRONT: Sender = Sender {
        organ: "00004-front-committee",
        bloc: Bloc::Front,
        locality: "00004",
    };
    pub const NGOC_HA_PARTY: Sender = Sender {
        organ: "00008-party-committee",
        bloc: Bloc::Party,
        locality: "00008",
    };
    pub const NGOC_HA_GOVERNMENT: Sender = Sender {
        organ: super::NGOC_HA_COMMITTEE,
        bloc: Bloc::Government,
        locality: "00008",
    };

    /// A recommendation addressed to Home Affairs, analysed by the engine.
    pub fn submission(sender: Sender, text: &str, minutes: i64) -> NewRecommendation {
        NewRecommendation {
            organ_id: sender.organ.to_owned(),
            bloc: sender.bloc,
            locality_code: sender.locality.to_owned(),
            text: text.to_owned(),
            topic: None,
            addressee: HOME_AFFAIRS.to_owned(),
            source: None,
            submitted_at: instant(minutes),
            received_at: instant(minutes),
            imported_by: None,
            analysis: ENGINE.analyze(text),
        }
    }

    pub fn submission_key(organ: &str, request_id: &str) -> IdempotencyKey {
        IdempotencyKey {
            scope: format!("{organ}:SubmitRecommendation"),
            request_id: request_id.to_owned(),
            fingerprint: format!("fingerprint of {request_id}"),
        }
    }

    pub fn officer_key(operation: &str, request_id: &str) -> IdempotencyKey {
        IdempotencyKey {
            scope: format!("{HOME_AFFAIRS}:{operation}"),
            request_id: request_id.to_owned(),
            fingerprint: format!("fingerprint of {request_id}"),
        }
    }

    /// Records `new` with the given decision, keyed by `request_id`, and
    /// checks that where it and the recommendations it names stand, as
    /// recording returns it, is what a read returns.
    pub async fn record(
        store: &dyn Store,
        new: &NewRecommendation,
        decision: Decision,
        request_id: &str,
    ) -> Recommendation {
        let decide = move |_: &DedupContext| decision.clone();
        let RecordedRecommendation {
            recommendation,
            mut standings,
        } = store
            .record_recommendation(new, &decide, limits(), &submission_key(&new.organ_id, request_id))
            .await
            .expect("recorded");
        let named: Vec<i64> = std::iter::once(recommendation.id)
            .chain(
                recommendation
                    .matched
                    .iter()
                    .map(|matched| matched.recommendation_id),
            )
            .chain(
                recommendation
                    .pending_suggestions
                    .iter()
                    .map(|suggestion| suggestion.recommendation_id),
            )
            .collect();
        let mut read = store.recommendation_standings(&named).await.expect("standings");
        standings.sort_by_key(|standing| standing.recommendation_id);
        read.sort_by_key(|standing| standing.recommendation_id);
        assert_eq!(standings, read, "standings as recorded");
        recommendation
    }

    pub fn link(to: &Recommendation, score: f64) -> Decision {
        Decision::Link(ScoredCandidate {
            recommendation_id: to.id,
            cluster_id: to.cluster_id,
            score,
        })
    }

    pub fn review(of: &[(&Recommendation, f64)]) -> Decision {
        Decision::Review(
            of.iter()
                .map(|(candidate, score)| ScoredCandidate {
                    recommendation_id: candidate.id,
                    cluster_id: candidate.cluster_id,
                    score: *score,
                })
                .collect(),
        )
    }

    pub fn expect(cluster_id: i64, status: ClusterStatus) -> ClusterExpectation {
        ClusterExpectation { cluster_id, status }
    }

    pub fn answer(text: &str, minutes: i64) -> ClusterAnswer {
        ClusterAnswer {
            text: text.to_owned(),
            answering_organ: HOME_AFFAIRS.to_owned(),
            document: "2145/SNV-TCBC".to_owned(),
            document_date: date!(2025 - 10 - 20),
            answered_at: instant(minutes),
        }
    }

    /// The audit log of a cluster as (`action`, `recommendation_id`, `detail`).
    pub async fn decisions(store: &dyn Store, cluster_id: i64) -> Vec<(String, Option<i64>, String)> {
        store
            .cluster_decisions(cluster_id)
            .await
            .expect("cluster decisions")
            .into_iter()
            .map(|recorded| {
                (
                    recorded.decision.as_str().to_owned(),
                    recorded.recommendation_id,
                    recorded.detail,
                )
            })
            .collect()
    }
}

/// An analysis as the store gives it back: without its band keys, which
/// the band index holds.
fn as_stored(analysis: &lienthong_dedup::Analysis) -> lienthong_dedup::Analysis {
    let mut stored = analysis.clone();
    stored.band_keys.clear();
    stored
}

fn is_concurrent_change_of(error: &Error, cluster_id: i64) -> bool {
    matches!(
        error,
        Error::FailedPrecondition { violation_type: "CONCURRENT_CHANGE", subject, .. }
            if *subject == format!("clusters/{cluster_id}")
    )
}

fn is_key_conflict(error: &Error, request_id: &str) -> bool {
    matches!(
        error,
        Error::AlreadyExists { kind: ResourceKind::IdempotencyKey, name, .. } if name == request_id
    )
}

/// `(decision, recommendation, cluster, detail)` of each event.
fn described(events: &[RecommendationEvent]) -> Vec<(ClusterDecision, i64, i64, &str)> {
    events
        .iter()
        .map(|event| {
            (
                event.decision,
                event.recommendation_id,
                event.cluster_id,
                event.detail.as_str(),
            )
        })
        .collect()
}

fn ids(recommendations: &[Recommendation]) -> Vec<i64> {
    recommendations
        .iter()
        .map(|recommendation| recommendation.id)
        .collect()
}

#[tokio::test]
async fn recommendations_round_trip_with_the_decision_applied() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();

    let new = NewRecommendation {
        topic: Some("staffing".to_owned()),
        source: Some("Hội nghị tiếp xúc cử tri".to_owned()),
        ..submission(BA_DINH_GOVERNMENT, STAFFING, 10)
    };
    let opened = record(store, &new, Decision::New, "first").await;
    assert!(opened.id > 0 && opened.cluster_id > 0, "{opened:?}");
    assert_eq!(
        opened,
        Recommendation {
            id: opened.id,
            organ_id: BA_DINH_COMMITTEE.to_owned(),
            bloc: Bloc::Government,
            locality_code: "00004".to_owned(),
            text: STAFFING.to_owned(),
            topic: Some("staffing".to_owned()),
            addressee: HOME_AFFAIRS.to_owned(),
            source: Some("Hội nghị tiếp xúc cử tri".to_owned()),
            cluster_id: opened.cluster_id,
            outcome: DedupOutcome::NewCluster,
            submitted_at: instant(10),
            imported_by: None,
            matched: None,
            pending_suggestions: Vec::new(),
        }
    );
    assert_eq!(
        store.get_recommendation(opened.id).await.expect("get"),
        Some(opened.clone())
    );
    let cluster = store
        .get_cluster(opened.cluster_id)
        .await
        .expect("get")
        .expect("cluster");
    assert_eq!(cluster.status, ClusterStatus::Open);
    assert_eq!(
        (cluster.representative_id, cluster.representative_text.as_str()),
        (opened.id, STAFFING)
    );
    assert_eq!(cluster.topic.as_deref(), Some("staffing"));
    assert_eq!(cluster.addressee, HOME_AFFAIRS);
    assert_eq!(
        (
            &cluster.assigned_department,
            &cluster.answer,
            &cluster.escalation_proposal
        ),
        (&None, &None, &None)
    );
    assert_eq!(cluster.member_count, 1);
    assert_eq!(cluster.locality_codes, ["00004"]);
    assert_eq!(cluster.blocs, [Bloc::Government]);
    assert_eq!(
        (cluster.first_seen, cluster.last_seen),
        (instant(10), instant(10))
    );

    // A repeat from another bloc and ward joins the cluster.
    let joined = record(
        store,
        &submission(NGOC_HA_PARTY, STAFFING, 20),
        link(&opened, 0.9),
        "joined",
    )
    .await;
    assert_eq!(joined.outcome, DedupOutcome::JoinedCluster);
    assert_eq!(joined.cluster_id, opened.cluster_id);
    assert_eq!(
        joined.matched,
        Some(Suggestion {
            recommendation_id: opened.id,
            cluster_id: opened.cluster_id,
            score: 0.9,
        })
    );
    let cluster = store
        .get_cluster(opened.cluster_id)
        .await
        .expect("get")
        .expect("cluster");
    assert_eq!(cluster.member_count, 2);
    assert_eq!(cluster.representative_id, opened.id, "the first member stays");
    assert_eq!(cluster.locality_codes, ["00004", "00008"]);
    assert_eq!(cluster.blocs, [Bloc::Party, Bloc::Government]);
    assert_eq!(
        (cluster.first_seen, cluster.last_seen),
        (instant(10), instant(20))
    );

    // An uncertain match stands alone with its suggestions until reviewed.
    let uncertain = record(
        store,
        &submission(BA_DINH_FRONT, PREMISES, 30),
        review(&[(&opened, 0.45), (&joined, 0.41)]),
        "uncertain",
    )
    .await;
    assert_eq!(uncertain.outcome, DedupOutcome::NeedsReview);
    assert_ne!(uncertain.cluster_id, opened.cluster_id);
    assert_eq!(uncertain.matched, None);
    assert_eq!(
        uncertain.pending_suggestions,
        [
            Suggestion {
                recommendation_id: opened.id,
                cluster_id: opened.cluster_id,
                score: 0.45,
            },
            Suggestion {
                recommendation_id: joined.id,
                cluster_id: opened.cluster_id,
                score: 0.41,
            },
        ]
    );
    let own = store
        .get_cluster(uncertain.cluster_id)
        .await
        .expect("get")
        .expect("cluster");
    assert_eq!((own.member_count, own.representative_id), (1, uncertain.id));

    // Once the cluster is answered, a linked repeat is told so.
    store
        .act_on_cluster(
            opened.cluster_id,
            ClusterStatus::Open,
            &ClusterAction::Answer(answer("Đã giao biên chế.", 35)),
            HOME_AFFAIRS,
            instant(35),
            &officer_key("AnswerCluster", "answer"),
        )
        .await
        .expect("answered");
    let settled = record(
        store,
        &submission(NGOC_HA_GOVERNMENT, STAFFING, 40),
        link(&joined, 1.0),
        "settled",
    )
    .await;
    assert_eq!(settled.outcome, DedupOutcome::AlreadyAnswered);
    assert_eq!(settled.cluster_id, opened.cluster_id);
    // A live submission is answered by whatever answer is there when it is
    // recorded, even one given after its clock was read.
    let overtaken = record(
        store,
        &submission(BA_DINH_FRONT, STAFFING, 34),
        link(&joined, 1.0),
        "overtaken",
    )
    .await;
    assert_eq!(overtaken.outcome, DedupOutcome::AlreadyAnswered);

    // Imported from earlier records: submitted before the answer, so it was
    // not answered on arrival; it counts from its own time.
    let imported = record(
        store,
        &NewRecommendation {
            received_at: instant(45),
            imported_by: Some(HOME_AFFAIRS.to_owned()),
            ..submission(NGOC_HA_PARTY, STAFFING, 5)
        },
        link(&joined, 1.0),
        "imported",
    )
    .await;
    assert_eq!(imported.outcome, DedupOutcome::JoinedCluster);
    assert_eq!(
        (imported.submitted_at, imported.imported_by.as_deref()),
        (instant(5), Some(HOME_AFFAIRS))
    );
    let cluster = store
        .get_cluster(opened.cluster_id)
        .await
        .expect("get")
        .expect("cluster");
    assert_eq!((cluster.first_seen, cluster.last_seen), (instant(5), instant(40)));

    // What recording returns is what a read returns, whatever the outcome.
    for recorded in [&joined, &uncertain, &settled, &imported] {
        assert_eq!(
            store.get_recommendation(recorded.id).await.expect("get").as_ref(),
            Some(recorded)
        );
    }

    // Where each stands, read at once; unknown ids are left out.
    let mut standings = store
        .recommendation_standings(&[settled.id, uncertain.id, 999_999])
        .await
        .expect("standings");
    standings.sort_by_key(|standing| standing.recommendation_id);
    assert_eq!(
        standings,
        [
            RecommendationStanding {
                recommendation_id: uncertain.id,
                text: uncertain.text.clone(),
                cluster_id: uncertain.cluster_id,
                cluster_status: ClusterStatus::Open,
                answer: None,
            },
            RecommendationStanding {
                recommendation_id: settled.id,
                text: settled.text.clone(),
                cluster_id: opened.cluster_id,
                cluster_status: ClusterStatus::Answered,
                answer: Some(answer("Đã giao biên chế.", 35)),
            },
        ]
    );
    assert_eq!(store.recommendation_standings(&[]).await.expect("none"), []);

    // The key names what it produced; reusing it records nothing.
    let key = submission_key(BA_DINH_COMMITTEE, "first");
    assert_eq!(
        store
            .find_request(&key.scope, &key.request_id)
            .await
            .expect("find"),
        Some(StoredRequest {
            fingerprint: key.fingerprint.clone(),
            resource: format!("recommendations/{}", opened.id),
        })
    );
    let always_new = |_: &DedupContext| Decision::New;
    let reused = store
        .record_recommendation(
            &submission(BA_DINH_GOVERNMENT, TRAFFIC, 50),
            &always_new,
            limits(),
            &IdempotencyKey {
                fingerprint: "other content".to_owned(),
                ..key
            },
        )
        .await
        .expect_err("key taken");
    assert!(is_key_conflict(&reused, "first"), "{reused:?}");
    let listed = store
        .list_recommendations(BA_DINH_COMMITTEE, None, None, 100)
        .await
        .expect("list");
    assert_eq!(ids(&listed), [opened.id], "the reused key recorded nothing");
    let context = store
        .dedup_context(&ENGINE.analyze(TRAFFIC), limits())
        .await
        .expect("context");
    assert_eq!(context.corpus.document_count, 6, "nor was it counted");
}

/// The ids found under band key `key` alone, reading up to `per_band` of
/// its postings, ascending.
async fn found_under(store: &dyn Store, key: u64, per_band: usize) -> Vec<i64> {
    let mut probe = ENGINE.analyze(TRAFFIC);
    probe.band_keys = vec![key];
    let limits = CandidateLimits {
        max_candidates: 1_000,
        max_postings_per_band: per_band,
    };
    let mut found: Vec<i64> = store
        .dedup_context(&probe, limits)
        .await
        .expect("context")
        .candidates
        .iter()
        .map(|candidate| candidate.recommendation_id)
        .collect();
    found.sort_unstable();
    found
}

/// No lookup reads past the oldest [`MAX_POSTINGS_PER_BAND`] under a key,
/// so the index keeps no more, even for a lookup that asks for more; the
/// same recommendation's other keys are still indexed.
#[tokio::test]
async fn a_band_key_keeps_only_its_oldest_postings() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let (full, own_base) = (8_001_u64, 9_000_u64);
    let mut recorded = Vec::new();
    for index in 0..MAX_POSTINGS_PER_BAND + 2 {
        let mut analysis = ENGINE.analyze(STAFFING);
        let own = own_base + u64::try_from(index).expect("small");
        analysis.band_keys = vec![full, own];
        let new = NewRecommendation {
            analysis,
            ..submission(BA_DINH_GOVERNMENT, STAFFING, 0)
        };
        recorded.push(
            record(store, &new, Decision::New, &format!("full-{index}"))
                .await
                .id,
        );
    }
    assert_eq!(
        found_under(store, full, 1_000).await,
        recorded[..MAX_POSTINGS_PER_BAND]
    );
    let last = recorded.len() - 1;
    let own_of_last = own_base + u64::try_from(last).expect("small");
    assert_eq!(found_under(store, own_of_last, 1_000).await, [recorded[last]]);
}

/// A recommendation left out of a key its elders held full is indexed
/// there once a reindex moves one of them to other keys.
#[tokio::test]
async fn a_reindex_fills_a_band_key_its_elders_leave() {
    use lienthong_dedup::NORM_VERSION;

    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let (full, elders_new_key, own) = (8_101_u64, 8_102_u64, 8_103_u64);
    for index in 0..MAX_POSTINGS_PER_BAND {
        let mut analysis = ENGINE.analyze(STAFFING);
        analysis.band_keys = vec![full];
        analysis.norm_version = NORM_VERSION - 1;
        let new = NewRecommendation {
            analysis,
            ..submission(BA_DINH_GOVERNMENT, STAFFING, 0)
        };
        record(store, &new, Decision::New, &format!("elder-{index}")).await;
    }
    let mut analysis = ENGINE.analyze(MARKET);
    analysis.band_keys = vec![full, own];
    let younger = NewRecommendation {
        analysis,
        ..submission(NGOC_HA_PARTY, MARKET, 10)
    };
    let younger = record(store, &younger, Decision::New, "younger").await;
    assert!(
        !found_under(store, full, MAX_POSTINGS_PER_BAND)
            .await
            .contains(&younger.id),
        "held full by its elders"
    );

    // The elders' new analyses put them under another key.
    let analyze = |text: &str| {
        let mut analysis = ENGINE.analyze(text);
        analysis.band_keys = if text == STAFFING {
            vec![elders_new_key]
        } else {
            vec![full, own]
        };
        analysis
    };
    let reindexed = store
        .reindex_recommendations(NORM_VERSION, &analyze)
        .await
        .expect("reindex");
    assert_eq!(reindexed, u64::try_from(MAX_POSTINGS_PER_BAND).expect("small"));
    assert_eq!(
        found_under(store, full, MAX_POSTINGS_PER_BAND).await,
        [younger.id]
    );
    assert_eq!(
        found_under(store, elders_new_key, MAX_POSTINGS_PER_BAND)
            .await
            .len(),
        MAX_POSTINGS_PER_BAND
    );
    assert_eq!(found_under(store, own, MAX_POSTINGS_PER_BAND).await, [younger.id]);
}

#[tokio::test]
async fn each_band_key_yields_only_its_oldest_postings_ranked_by_keys_shared() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    // Four texts under a common key; the last two also share a rarer one.
    let (common, rare) = (7_001_u64, 7_002_u64);
    let mut recorded = Vec::new();
    for (index, text) in [STAFFING, PREMISES, TRAFFIC, DRAINAGE].into_iter().enumerate() {
        let mut analysis = ENGINE.analyze(text);
        analysis.band_keys = if index < 2 {
            vec![common]
        } else {
            vec![common, rare]
        };
        let minutes = 10 * i64::try_from(index).expect("small");
        let new = NewRecommendation {
            analysis,
            ..submission(BA_DINH_GOVERNMENT, text, minutes)
        };
        recorded.push(record(store, &new, Decision::New, &format!("band-{index}")).await);
    }
    let ids = |context: &DedupContext| {
        context
            .candidates
            .iter()
            .map(|candidate| candidate.recommendation_id)
            .collect::<Vec<_>>()
    };
    let mut probe = ENGINE.analyze(MARKET);
    probe.band_keys = vec![rare, common, common];
    let bounded = CandidateLimits {
        max_candidates: 10,
        max_postings_per_band: 2,
    };
    let mut found = ids(&store.dedup_context(&probe, bounded).await.expect("context"));
    found.sort_unstable();
    // The common key reads the two oldest, the rare key both of its own.
    let mut expected: Vec<i64> = recorded.iter().map(|recommendation| recommendation.id).collect();
    expected.sort_unstable();
    assert_eq!(found, expected);

    let one_each = CandidateLimits {
        max_candidates: 3,
        max_postings_per_band: 1,
    };
    let mut found = ids(&store.dedup_context(&probe, one_each).await.expect("context"));
    found.sort_unstable();
    assert_eq!(
        found,
        [recorded[0].id, recorded[2].id],
        "the oldest under each key"
    );

    // Over the candidate limit, those sharing more keys come first.
    let two = CandidateLimits {
        max_candidates: 2,
        max_postings_per_band: 4,
    };
    let mut found = ids(&store.dedup_context(&probe, two).await.expect("context"));
    found.sort_unstable();
    assert_eq!(found, [recorded[2].id, recorded[3].id]);

    // A member found without its cluster's canonical member still comes
    // with the canonical analysis.
    let mut member = ENGINE.analyze(MARKET);
    member.band_keys = vec![7_003];
    let joined = record(
        store,
        &NewRecommendation {
            analysis: member.clone(),
            ..submission(NGOC_HA_PARTY, MARKET, 60)
        },
        link(&recorded[0], 0.9),
        "band-member",
    )
    .await;
    member.exact_key ^= 1;
    let context = store.dedup_context(&member, limits()).await.expect("context");
    assert_eq!(ids(&context), [joined.id]);
    let candidate = context.candidates.first().expect("one candidate");
    assert_eq!(candidate.cluster_id, recorded[0].cluster_id);
    assert_eq!(candidate.cluster_canonical.terms, ENGINE.analyze(STAFFING).terms);
}

#[tokio::test]
async fn candidates_are_found_by_exact_and_band_keys_with_document_frequencies() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let staffing = record(
        store,
        &submission(BA_DINH_GOVERNMENT, STAFFING, 10),
        Decision::New,
        "staffing",
    )
    .await;
    let premises = record(
        store,
        &submission(BA_DINH_GOVERNMENT, PREMISES, 20),
        Decision::New,
        "premises",
    )
    .await;
    let repeat = record(
        store,
        &submission(NGOC_HA_GOVERNMENT, STAFFING, 30),
        link(&staffing, 1.0),
        "repeat",
    )
    .await;

    // Exact duplicates are found with the analysis as stored and their
    // cluster's representative analysis (in no particular order: the
    // engine ranks them itself).
    let probe = ENGINE.analyze(STAFFING);
    let context = store.dedup_context(&probe, limits()).await.expect("context");
    let exact: Vec<&StoredCandidate> = context
        .candidates
        .iter()
        .filter(|candidate| candidate.analysis.exact_key == probe.exact_key)
        .collect();
    let mut found: Vec<i64> = exact
        .iter()
        .map(|candidate| candidate.recommendation_id)
        .collect();
    found.sort_unstable();
    assert_eq!(found, [staffing.id, repeat.id]);
    for candidate in exact {
        assert_eq!(candidate.cluster_id, staffing.cluster_id);
        assert_eq!(*candidate.analysis, as_stored(&probe));
        assert_eq!(*candidate.cluster_canonical, as_stored(&probe));
    }
    assert!(
        context
            .candidates
            .iter()
            .all(|candidate| candidate.recommendation_id != premises.id
                || candidate.cluster_id == premises.cluster_id),
        "whatever else is found comes with its own cluster"
    );
    // Over the limit, exact duplicates are kept first, the oldest first (as
    // the batch clusterer ranks them).
    let one = CandidateLimits {
        max_candidates: 1,
        ..limits()
    };
    let limited = store.dedup_context(&probe, one).await.expect("context");
    assert_eq!(
        limited
            .candidates
            .iter()
            .map(|candidate| candidate.recommendation_id)
            .collect::<Vec<_>>(),
        [staffing.id]
    );

    // A text sharing one band key and no exact key is found by the band.
    let premises_bands = ENGINE.analyze(PREMISES).band_keys;
    let mut probe = ENGINE.analyze(TRAFFIC);
    probe.band_keys = vec![premises_bands[0]];
    probe.exact_key ^= 1;
    let context = store.dedup_context(&probe, limits()).await.expect("context");
    assert!(
        context
            .candidates
            .iter()
            .any(|candidate| candidate.recommendation_id == premises.id
                && candidate.cluster_id == premises.cluster_id),
        "{:?}",
        context.candidates
    );
    // Nothing shared, nothing found.
    let mut stranger = ENGINE.analyze(TRAFFIC);
    stranger.band_keys.clear();
    stranger.exact_key ^= 1;
    assert!(
        store
            .dedup_context(&stranger, limits())
            .await
            .expect("context")
            .candidates
            .is_empty()
    );

    // Document frequencies count the recommendations holding each term.
    let mut counted = ENGINE.analyze(DRAINAGE);
    counted.terms = vec!["alpha".to_owned(), "beta".to_owned()];
    record(
        store,
        &NewRecommendation {
            analysis: counted.clone(),
            ..submission(BA_DINH_FRONT, DRAINAGE, 40)
        },
        Decision::New,
        "alpha-beta",
    )
    .await;
    counted.terms = vec!["beta".to_owned(), "gamma".to_owned()];
    counted.exact_key ^= 1;
    record(
        store,
        &NewRecommendation {
            analysis: counted.clone(),
            ..submission(BA_DINH_FRONT, MARKET, 50)
        },
        Decision::New,
        "beta-gamma",
    )
    .await;
    let mut probe = counted;
    probe.terms = ["alpha", "beta", "gamma", "delta"].map(str::to_owned).to_vec();
    probe.band_keys.clear();
    probe.exact_key ^= 2;
    let corpus = store
        .dedup_context(&probe, limits())
        .await
        .expect("context")
        .corpus;
    assert_eq!(corpus.document_count, 5);
    let frequency = |term: &str| corpus.document_frequencies.get(term).copied();
    assert_eq!(
        [
            frequency("alpha"),
            frequency("beta"),
            frequency("gamma"),
            frequency("delta")
        ],
        [Some(1), Some(2), Some(1), None]
    );
    let shared = ENGINE.analyze(STAFFING).terms.into_iter().next().expect("a term");
    let corpus = store
        .dedup_context(&ENGINE.analyze(STAFFING), limits())
        .await
        .expect("context")
        .corpus;
    assert!(
        corpus.document_frequencies.get(&shared).copied() >= Some(2),
        "{shared} is in both staffing recommendations"
    );
}

#[tokio::test]
async fn cluster_actions_apply_only_from_the_expected_status() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let first = record(
        store,
        &submission(BA_DINH_GOVERNMENT, STAFFING, 10),
        Decision::New,
        "first",
    )
    .await;
    let cluster_id = first.cluster_id;
    let act = |expected: ClusterStatus, action: ClusterAction, minutes: i64, request_id: &'static str| {
        let operation = match &action {
            ClusterAction::Assign { .. } => "AssignCluster",
            ClusterAction::Answer(_) => "AnswerCluster",
            ClusterAction::Reopen { .. } => "ReopenCluster",
            ClusterAction::Escalate { .. } => "EscalateCluster",
        };
        let key = officer_key(operation, request_id);
        async move {
            store
                .act_on_cluster(
                    cluster_id,
                    expected,
                    &action,
                    HOME_AFFAIRS,
                    instant(minutes),
                    &key,
                )
                .await
        }
    };
    let status = || async {
        store
            .get_cluster(cluster_id)
            .await
            .expect("get")
            .expect("cluster")
    };

    act(
        ClusterStatus::Open,
        ClusterAction::Assign {
            department: HOME_AFFAIRS.to_owned(),
        },
        20,
        "assign",
    )
    .await
    .expect("assigned");
    let assigned = status().await;
    assert_eq!(assigned.status, ClusterStatus::Assigned);
    assert_eq!(assigned.assigned_department.as_deref(), Some(HOME_AFFAIRS));

    // Escalating what the caller read as OPEN fails: it is ASSIGNED now.
    let stale = act(
        ClusterStatus::Open,
        ClusterAction::Escalate {
            proposal: "Kiến nghị Trung ương".to_owned(),
        },
        25,
        "stale-escalate",
    )
    .await
    .expect_err("stale");
    assert!(is_concurrent_change_of(&stale, cluster_id), "{stale:?}");
    assert_eq!(status().await, assigned, "nothing changed");
    let lost = officer_key("EscalateCluster", "stale-escalate");
    assert_eq!(
        store
            .find_request(&lost.scope, &lost.request_id)
            .await
            .expect("find"),
        None,
        "the losing request's key was rolled back"
    );

    let answered_with = answer("Sở Nội vụ đã giao bổ sung biên chế.", 30);
    act(
        ClusterStatus::Assigned,
        ClusterAction::Answer(answered_with.clone()),
        30,
        "answer",
    )
    .await
    .expect("answered");
    let answered = status().await;
    assert_eq!(answered.status, ClusterStatus::Answered);
    assert_eq!(answered.answer, Some(answered_with.clone()));
    let twice = act(
        ClusterStatus::Assigned,
        ClusterAction::Answer(answer("Một câu trả lời khác.", 31)),
        31,
        "answer-again",
    )
    .await
    .expect_err("stale");
    assert!(is_concurrent_change_of(&twice, cluster_id), "{twice:?}");
    assert_eq!(status().await.answer, Some(answered_with.clone()));

    act(
        ClusterStatus::Answered,
        ClusterAction::Reopen {
            reason: "Chưa thực hiện".to_owned(),
        },
        40,
        "reopen",
    )
    .await
    .expect("reopened");
    let reopened = status().await;
    assert_eq!(reopened.status, ClusterStatus::Reopened);
    assert_eq!(reopened.answer, None, "the old answer no longer settles it");
    assert_eq!(reopened.assigned_department.as_deref(), Some(HOME_AFFAIRS));

    act(
        ClusterStatus::Reopened,
        ClusterAction::Escalate {
            proposal: "Đề nghị Bộ Nội vụ điều chỉnh định mức biên chế.".to_owned(),
        },
        50,
        "escalate",
    )
    .await
    .expect("escalated");
    let escalated = status().await;
    assert_eq!(escalated.status, ClusterStatus::EscalatedToCentral);
    assert_eq!(
        escalated.escalation_proposal.as_deref(),
        Some("Đề nghị Bộ Nội vụ điều chỉnh định mức biên chế.")
    );

    // A key already used is refused even on the right status.
    let reused = act(
        ClusterStatus::EscalatedToCentral,
        ClusterAction::Answer(answer("Trung ương đã trả lời.", 60)),
        60,
        "answer",
    )
    .await
    .expect_err("key taken");
    assert!(is_key_conflict(&reused, "answer"), "{reused:?}");

    let events = store
        .recommendation_events(BA_DINH_COMMITTEE, 0, 100)
        .await
        .expect("events");
    assert_eq!(
        described(&events),
        [
            (ClusterDecision::Assign, first.id, cluster_id, HOME_AFFAIRS),
            (
                ClusterDecision::Answer,
                first.id,
                cluster_id,
                "2145/SNV-TCBC: Sở Nội vụ đã giao bổ sung biên chế."
            ),
            (ClusterDecision::Reopen, first.id, cluster_id, "Chưa thực hiện"),
            (
                ClusterDecision::Escalate,
                first.id,
                cluster_id,
                "Đề nghị Bộ Nội vụ điều chỉnh định mức biên chế."
            ),
        ]
    );
    assert_eq!(
        events.iter().map(|event| event.occurred_at).collect::<Vec<_>>(),
        [instant(20), instant(30), instant(40), instant(50)]
    );
    let logged = store.cluster_decisions(cluster_id).await.expect("decisions");
    assert_eq!(
        logged
            .iter()
            .map(|recorded| (
                recorded.decision,
                recorded.recommendation_id,
                recorded.actor_organ.as_str()
            ))
            .collect::<Vec<_>>(),
        [
            (ClusterDecision::Assign, None, HOME_AFFAIRS),
            (ClusterDecision::Answer, None, HOME_AFFAIRS),
            (ClusterDecision::Reopen, None, HOME_AFFAIRS),
            (ClusterDecision::Escalate, None, HOME_AFFAIRS),
        ]
    );
    assert_eq!(
        logged
            .iter()
            .map(|recorded| recorded.decided_at)
            .collect::<Vec<_>>(),
        [instant(20), instant(30), instant(40), instant(50)]
    );
    assert_eq!(logged[0].detail, HOME_AFFAIRS, "the department assigned");
}

#[tokio::test]
async fn events_are_listed_per_organ_after_a_cursor_in_order() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let first = record(
        store,
        &submission(BA_DINH_GOVERNMENT, STAFFING, 10),
        Decision::New,
        "first",
    )
    .await;
    let second = record(
        store,
        &submission(NGOC_HA_PARTY, STAFFING, 20),
        link(&first, 1.0),
        "second",
    )
    .await;
    let other = record(
        store,
        &submission(BA_DINH_GOVERNMENT, PREMISES, 30),
        Decision::New,
        "other",
    )
    .await;
    assert_eq!(
        store
            .latest_recommendation_event(BA_DINH_COMMITTEE)
            .await
            .expect("latest"),
        0,
        "submissions alone are no events"
    );

    for (cluster_id, minutes, request_id) in [
        (first.cluster_id, 40, "assign-staffing"),
        (other.cluster_id, 50, "assign-premises"),
    ] {
        store
            .act_on_cluster(
                cluster_id,
                ClusterStatus::Open,
                &ClusterAction::Assign {
                    department: HOME_AFFAIRS.to_owned(),
                },
                HOME_AFFAIRS,
                instant(minutes),
                &officer_key("AssignCluster", request_id),
            )
            .await
            .expect("assigned");
    }
    store
        .act_on_cluster(
            first.cluster_id,
            ClusterStatus::Assigned,
            &ClusterAction::Answer(answer("Đã giao biên chế.", 60)),
            HOME_AFFAIRS,
            instant(60),
            &officer_key("AnswerCluster", "answer"),
        )
        .await
        .expect("answered");

    let ba_dinh = store
        .recommendation_events(BA_DINH_COMMITTEE, 0, 100)
        .await
        .expect("events");
    assert_eq!(
        described(&ba_dinh),
        [
            (ClusterDecision::Assign, first.id, first.cluster_id, HOME_AFFAIRS),
            (ClusterDecision::Assign, other.id, other.cluster_id, HOME_AFFAIRS),
            (
                ClusterDecision::Answer,
                first.id,
                first.cluster_id,
                "2145/SNV-TCBC: Đã giao biên chế."
            ),
        ]
    );
    assert!(
        ba_dinh.windows(2).all(|pair| pair[0].id < pair[1].id),
        "{ba_dinh:?}"
    );
    let ngoc_ha = store
        .recommendation_events(NGOC_HA_PARTY.organ, 0, 100)
        .await
        .expect("events");
    assert_eq!(
        described(&ngoc_ha),
        [
            (ClusterDecision::Assign, second.id, first.cluster_id, HOME_AFFAIRS),
            (
                ClusterDecision::Answer,
                second.id,
                first.cluster_id,
                "2145/SNV-TCBC: Đã giao biên chế."
            ),
        ],
        "a member of another organ hears of its cluster, not of other clusters"
    );
    assert_eq!(
        store
            .latest_recommendation_event(BA_DINH_COMMITTEE)
            .await
            .expect("latest"),
        ba_dinh[2].id
    );
    assert_eq!(
        store
            .latest_recommendation_event(NGOC_HA_GOVERNMENT.organ)
            .await
            .expect("latest"),
        0
    );

    // Resuming after a cursor gives exactly what came after it.
    let resumed = store
        .recommendation_events(BA_DINH_COMMITTEE, ba_dinh[0].id, 100)
        .await
        .expect("events");
    assert_eq!(resumed, ba_dinh[1..]);
    let limited = store
        .recommendation_events(BA_DINH_COMMITTEE, 0, 2)
        .await
        .expect("events");
    assert_eq!(limited, ba_dinh[..2]);
    assert!(
        store
            .recommendation_events(BA_DINH_COMMITTEE, ba_dinh[2].id, 100)
            .await
            .expect("events")
            .is_empty()
    );
}

#[tokio::test]
async fn merging_moves_every_member_and_keeps_the_clusters_consistent() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    // Target: Ba Đình's government and Ngọc Hà's Party committee.
    let first = record(
        store,
        &submission(BA_DINH_GOVERNMENT, STAFFING, 10),
        Decision::New,
        "first",
    )
    .await;
    let second = record(
        store,
        &submission(NGOC_HA_PARTY, STAFFING, 20),
        link(&first, 1.0),
        "second",
    )
    .await;
    // Source: Ba Đình's Front, in a cluster an officer finds to be the same matter.
    let source_member = record(
        store,
        &submission(BA_DINH_FRONT, PREMISES, 30),
        Decision::New,
        "source",
    )
    .await;
    // A review still pending that offers the source.
    let pending = record(
        store,
        &submission(NGOC_HA_GOVERNMENT, TRAFFIC, 40),
        review(&[(&source_member, 0.44)]),
        "pending",
    )
    .await;
    let target_id = first.cluster_id;
    let source_id = source_member.cluster_id;
    let merge = |target, source, minutes, request_id| {
        let key = officer_key("MergeClusters", request_id);
        async move {
            store
                .merge_clusters(target, source, HOME_AFFAIRS, instant(minutes), &key)
                .await
        }
    };

    // Stale expectations move nothing.
    let stale = merge(
        expect(target_id, ClusterStatus::Assigned),
        expect(source_id, ClusterStatus::Open),
        50,
        "stale",
    )
    .await
    .expect_err("stale target");
    assert!(is_concurrent_change_of(&stale, target_id), "{stale:?}");
    let stale = merge(
        expect(target_id, ClusterStatus::Open),
        expect(source_id, ClusterStatus::Answered),
        50,
        "stale-source",
    )
    .await
    .expect_err("stale source");
    assert!(is_concurrent_change_of(&stale, source_id), "{stale:?}");
    assert_eq!(
        ids(&store.cluster_members(source_id).await.expect("members")),
        [source_member.id]
    );

    merge(
        expect(target_id, ClusterStatus::Open),
        expect(source_id, ClusterStatus::Open),
        50,
        "merge",
    )
    .await
    .expect("merged");
    let target = store.get_cluster(target_id).await.expect("get").expect("target");
    assert_eq!(target.member_count, 3);
    assert_eq!(target.representative_id, first.id);
    assert_eq!(target.status, ClusterStatus::Open);
    assert_eq!(target.locality_codes, ["00004", "00008"]);
    assert_eq!(target.blocs, [Bloc::Party, Bloc::Government, Bloc::Front]);
    assert_eq!((target.first_seen, target.last_seen), (instant(10), instant(30)));
    assert_eq!(
        ids(&store.cluster_members(target_id).await.expect("members")),
        [first.id, second.id, source_member.id]
    );
    let source = store.get_cluster(source_id).await.expect("get").expect("source");
    assert_eq!(source.member_count, 0);
    assert!(source.locality_codes.is_empty() && source.blocs.is_empty());
    // The emptied source still reads OPEN, but a decision taken on that
    // status (as one racing the merge would be) no longer applies to it.
    let late = store
        .act_on_cluster(
            source_id,
            ClusterStatus::Open,
            &ClusterAction::Escalate {
                proposal: "Sửa quy định.".to_owned(),
            },
            HOME_AFFAIRS,
            instant(55),
            &officer_key("EscalateCluster", "late"),
        )
        .await
        .expect_err("emptied");
    assert!(is_concurrent_change_of(&late, source_id), "{late:?}");
    let late = merge(
        expect(source_id, ClusterStatus::Open),
        expect(target_id, ClusterStatus::Open),
        55,
        "late",
    )
    .await
    .expect_err("emptied");
    assert!(is_concurrent_change_of(&late, source_id), "{late:?}");
    assert_eq!(
        store.get_cluster(source_id).await.expect("get").expect("source"),
        source
    );
    let listed: Vec<i64> = store
        .list_clusters(&ClusterFilter::default(), None, 100)
        .await
        .expect("list")
        .iter()
        .map(|cluster| cluster.id)
        .collect();
    assert_eq!(
        listed,
        [pending.cluster_id, target_id],
        "the empty source is not listed"
    );
    assert_eq!(
        store
            .get_recommendation(source_member.id)
            .await
            .expect("get")
            .expect("moved")
            .cluster_id,
        target_id
    );
    assert_eq!(
        store
            .get_recommendation(pending.id)
            .await
            .expect("get")
            .expect("pending")
            .pending_suggestions,
        [Suggestion {
            recommendation_id: source_member.id,
            cluster_id: target_id,
            score: 0.44,
        }],
        "a pending review now offers the target"
    );

    // Every member, old and new, hears of the merge once.
    let detail = format!("1 members from clusters/{source_id}");
    for (organ, recommendation_id) in [
        (BA_DINH_COMMITTEE, first.id),
        (NGOC_HA_PARTY.organ, second.id),
        (BA_DINH_FRONT.organ, source_member.id),
    ] {
        let events = store.recommendation_events(organ, 0, 100).await.expect("events");
        assert_eq!(
            described(&events),
            [(
                ClusterDecision::Merge,
                recommendation_id,
                target_id,
                detail.as_str()
            )],
            "{organ}"
        );
    }
    assert_eq!(
        decisions(store, target_id).await,
        [("MERGE".to_owned(), None, detail.clone())]
    );
    assert_eq!(
        decisions(store, source_id).await,
        [("MERGED_INTO".to_owned(), None, format!("clusters/{target_id}"))]
    );

    // Two clusters answered differently are not merged.
    for (cluster_id, text, request_id) in [
        (target_id, "Đã giao biên chế.", "answer-target"),
        (pending.cluster_id, "Đã lắp đèn tín hiệu.", "answer-other"),
    ] {
        store
            .act_on_cluster(
                cluster_id,
                ClusterStatus::Open,
                &ClusterAction::Answer(answer(text, 60)),
                HOME_AFFAIRS,
                instant(60),
                &officer_key("AnswerCluster", request_id),
            )
            .await
            .expect("answered");
    }
    let conflicting = merge(
        expect(target_id, ClusterStatus::Answered),
        expect(pending.cluster_id, ClusterStatus::Answered),
        70,
        "conflicting",
    )
    .await
    .expect_err("answered differently");
    assert!(
        matches!(
            conflicting,
            Error::FailedPrecondition {
                violation_type: "CONFLICTING_ANSWERS",
                ..
            }
        ),
        "{conflicting:?}"
    );
    assert_eq!(
        store
            .get_cluster(pending.cluster_id)
            .await
            .expect("get")
            .expect("cluster")
            .member_count,
        1
    );
}

#[tokio::test]
async fn moving_a_recommendation_keeps_both_clusters_consistent() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let first = record(
        store,
        &submission(BA_DINH_GOVERNMENT, STAFFING, 10),
        Decision::New,
        "first",
    )
    .await;
    let wrongly_joined = record(
        store,
        &submission(NGOC_HA_PARTY, STAFFING, 20),
        link(&first, 0.6),
        "second",
    )
    .await;
    let third = record(
        store,
        &submission(BA_DINH_FRONT, STAFFING, 30),
        link(&first, 1.0),
        "third",
    )
    .await;
    let other = record(
        store,
        &submission(NGOC_HA_GOVERNMENT, PREMISES, 40),
        Decision::New,
        "other",
    )
    .await;
    let from = first.cluster_id;
    let to = other.cluster_id;

    let moved_to = store
        .move_recommendation(
            wrongly_joined.id,
            expect(from, ClusterStatus::Open),
            Some(expect(to, ClusterStatus::Open)),
            HOME_AFFAIRS,
            instant(50),
            &officer_key("MoveRecommendation", "move"),
        )
        .await
        .expect("moved");
    assert_eq!(moved_to, to);
    let source = store.get_cluster(from).await.expect("get").expect("cluster");
    assert_eq!(source.member_count, 2);
    assert_eq!(source.locality_codes, ["00004"]);
    assert_eq!(source.blocs, [Bloc::Government, Bloc::Front]);
    assert_eq!((source.first_seen, source.last_seen), (instant(10), instant(30)));
    let target = store.get_cluster(to).await.expect("get").expect("cluster");
    assert_eq!(target.member_count, 2);
    assert_eq!(target.representative_id, other.id);
    assert_eq!(target.locality_codes, ["00008"]);
    assert_eq!(target.blocs, [Bloc::Party, Bloc::Government]);
    assert_eq!((target.first_seen, target.last_seen), (instant(20), instant(40)));
    let events = store
        .recommendation_events(NGOC_HA_PARTY.organ, 0, 100)
        .await
        .expect("events");
    let out_detail = format!("to clusters/{to}");
    let in_detail = format!("from clusters/{from}");
    assert_eq!(
        described(&events),
        [
            // An event names the cluster the recommendation is in after it.
            (
                ClusterDecision::MoveOut,
                wrongly_joined.id,
                to,
                out_detail.as_str()
            ),
            (ClusterDecision::MoveIn, wrongly_joined.id, to, in_detail.as_str()),
        ]
    );
    assert!(
        store
            .recommendation_events(BA_DINH_COMMITTEE, 0, 100)
            .await
            .expect("events")
            .is_empty(),
        "members that stay are not told"
    );

    // The representative moved out into a cluster of its own: the oldest
    // member left represents the old cluster.
    let own = store
        .move_recommendation(
            first.id,
            expect(from, ClusterStatus::Open),
            None,
            HOME_AFFAIRS,
            instant(60),
            &officer_key("MoveRecommendation", "split"),
        )
        .await
        .expect("split");
    assert!(![from, to].contains(&own), "{own}");
    let split = store.get_cluster(own).await.expect("get").expect("cluster");
    assert_eq!(split.status, ClusterStatus::Open);
    assert_eq!((split.representative_id, split.member_count), (first.id, 1));
    assert_eq!(split.addressee, HOME_AFFAIRS);
    assert_eq!((split.first_seen, split.last_seen), (instant(10), instant(10)));
    let source = store.get_cluster(from).await.expect("get").expect("cluster");
    assert_eq!((source.representative_id, source.member_count), (third.id, 1));
    assert_eq!(source.representative_text, STAFFING);
    assert_eq!(source.blocs, [Bloc::Front]);

    // Stale or wrong expectations move nothing.
    let stale = store
        .move_recommendation(
            third.id,
            expect(from, ClusterStatus::Assigned),
            Some(expect(to, ClusterStatus::Open)),
            HOME_AFFAIRS,
            instant(70),
            &officer_key("MoveRecommendation", "stale"),
        )
        .await
        .expect_err("stale source");
    assert!(is_concurrent_change_of(&stale, from), "{stale:?}");
    let elsewhere = store
        .move_recommendation(
            third.id,
            expect(to, ClusterStatus::Open),
            Some(expect(own, ClusterStatus::Open)),
            HOME_AFFAIRS,
            instant(70),
            &officer_key("MoveRecommendation", "elsewhere"),
        )
        .await
        .expect_err("not in that cluster");
    assert!(is_concurrent_change_of(&elsewhere, to), "{elsewhere:?}");
    let stale_target = store
        .move_recommendation(
            third.id,
            expect(from, ClusterStatus::Open),
            Some(expect(own, ClusterStatus::Answered)),
            HOME_AFFAIRS,
            instant(70),
            &officer_key("MoveRecommendation", "stale-target"),
        )
        .await
        .expect_err("stale target");
    assert!(is_concurrent_change_of(&stale_target, own), "{stale_target:?}");
    assert_eq!(
        ids(&store.cluster_members(from).await.expect("members")),
        [third.id]
    );

    // Moving a recommendation awaiting review settles its suggestions.
    let uncertain = record(
        store,
        &submission(NGOC_HA_GOVERNMENT, TRAFFIC, 80),
        review(&[(&other, 0.42)]),
        "uncertain",
    )
    .await;
    let filler = record(
        store,
        &submission(NGOC_HA_GOVERNMENT, TRAFFIC, 81),
        link(&uncertain, 1.0),
        "filler",
    )
    .await;
    assert_eq!(filler.cluster_id, uncertain.cluster_id);
    store
        .move_recommendation(
            uncertain.id,
            expect(uncertain.cluster_id, ClusterStatus::Open),
            Some(expect(to, ClusterStatus::Open)),
            HOME_AFFAIRS,
            instant(90),
            &officer_key("MoveRecommendation", "settle"),
        )
        .await
        .expect("moved");
    let settled = store
        .get_recommendation(uncertain.id)
        .await
        .expect("get")
        .expect("recommendation");
    assert_eq!(settled.cluster_id, to);
    assert!(settled.pending_suggestions.is_empty());
    assert_eq!(
        store
            .get_cluster(uncertain.cluster_id)
            .await
            .expect("get")
            .expect("cluster")
            .representative_id,
        filler.id
    );
    let logged: Vec<(String, Option<i64>)> = decisions(store, from)
        .await
        .into_iter()
        .map(|(action, recommendation_id, _)| (action, recommendation_id))
        .collect();
    assert_eq!(
        logged,
        [
            ("MOVE_OUT".to_owned(), Some(wrongly_joined.id)),
            ("MOVE_OUT".to_owned(), Some(first.id)),
        ]
    );
}

#[tokio::test]
async fn a_review_confirms_out_of_an_answered_cluster_only_into_the_same_answer() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let first = record(
        store,
        &submission(BA_DINH_GOVERNMENT, STAFFING, 10),
        Decision::New,
        "first",
    )
    .await;
    let pending = record(
        store,
        &submission(NGOC_HA_PARTY, STAFFING, 20),
        review(&[(&first, 0.45)]),
        "pending",
    )
    .await;
    let answer_cluster = |cluster_id: i64, text: &'static str, request_id: &'static str| async move {
        store
            .act_on_cluster(
                cluster_id,
                ClusterStatus::Open,
                &ClusterAction::Answer(answer(text, 30)),
                HOME_AFFAIRS,
                instant(30),
                &officer_key("AnswerCluster", request_id),
            )
            .await
            .expect("answered");
    };
    answer_cluster(pending.cluster_id, "Đã giao biên chế.", "answer-own").await;
    let confirm = |request_id: &'static str| async move {
        store
            .resolve_review(
                pending.id,
                Some(first.cluster_id),
                HOME_AFFAIRS,
                instant(40),
                &officer_key("ResolveReview", request_id),
            )
            .await
    };
    let lost = confirm("into-open").await.expect_err("the answer would be lost");
    assert!(
        matches!(
            lost,
            Error::FailedPrecondition {
                violation_type: "ANSWERED_SOURCE",
                ..
            }
        ),
        "{lost:?}"
    );
    let unchanged = store
        .get_recommendation(pending.id)
        .await
        .expect("get")
        .expect("recommendation");
    assert_eq!(unchanged.cluster_id, pending.cluster_id);
    assert_eq!(unchanged.pending_suggestions.len(), 1, "still awaiting review");

    answer_cluster(first.cluster_id, "Đã giao biên chế.", "answer-first").await;
    confirm("into-same-answer").await.expect("confirmed");
    let moved = store
        .get_recommendation(pending.id)
        .await
        .expect("get")
        .expect("recommendation");
    assert_eq!(moved.cluster_id, first.cluster_id);
}

#[tokio::test]
async fn a_review_is_settled_once_by_confirming_or_keeping() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let first = record(
        store,
        &submission(BA_DINH_GOVERNMENT, STAFFING, 10),
        Decision::New,
        "first",
    )
    .await;
    let confirmed = record(
        store,
        &submission(NGOC_HA_PARTY, STAFFING, 20),
        review(&[(&first, 0.45)]),
        "confirmed",
    )
    .await;
    let kept = record(
        store,
        &submission(BA_DINH_FRONT, PREMISES, 30),
        review(&[(&first, 0.41)]),
        "kept",
    )
    .await;
    let provisional = confirmed.cluster_id;

    store
        .resolve_review(
            confirmed.id,
            Some(first.cluster_id),
            HOME_AFFAIRS,
            instant(40),
            &officer_key("ResolveReview", "confirm"),
        )
        .await
        .expect("confirmed");
    let after = store
        .get_recommendation(confirmed.id)
        .await
        .expect("get")
        .expect("recommendation");
    assert_eq!(after.cluster_id, first.cluster_id);
    assert!(after.pending_suggestions.is_empty());
    let joined = store
        .get_cluster(first.cluster_id)
        .await
        .expect("get")
        .expect("cluster");
    assert_eq!(joined.member_count, 2);
    assert_eq!(joined.blocs, [Bloc::Party, Bloc::Government]);
    assert_eq!(
        store
            .get_cluster(provisional)
            .await
            .expect("get")
            .expect("cluster")
            .member_count,
        0
    );
    let again = store
        .resolve_review(
            confirmed.id,
            None,
            HOME_AFFAIRS,
            instant(41),
            &officer_key("ResolveReview", "again"),
        )
        .await
        .expect_err("settled already");
    assert!(
        matches!(
            again,
            Error::FailedPrecondition {
                violation_type: "NO_PENDING_REVIEW",
                ..
            }
        ),
        "{again:?}"
    );

    store
        .resolve_review(
            kept.id,
            None,
            HOME_AFFAIRS,
            instant(50),
            &officer_key("ResolveReview", "keep"),
        )
        .await
        .expect("kept");
    let after = store
        .get_recommendation(kept.id)
        .await
        .expect("get")
        .expect("recommendation");
    assert_eq!(after.cluster_id, kept.cluster_id);
    assert!(after.pending_suggestions.is_empty());

    let confirm_detail = format!("moved from clusters/{provisional}");
    assert_eq!(
        described(
            &store
                .recommendation_events(NGOC_HA_PARTY.organ, 0, 100)
                .await
                .expect("events")
        ),
        [(
            ClusterDecision::ConfirmDuplicate,
            confirmed.id,
            first.cluster_id,
            confirm_detail.as_str()
        )]
    );
    assert_eq!(
        described(
            &store
                .recommendation_events(BA_DINH_FRONT.organ, 0, 100)
                .await
                .expect("events")
        ),
        [(ClusterDecision::KeepSeparate, kept.id, kept.cluster_id, "")]
    );
}

#[tokio::test]
async fn recommendations_and_clusters_filter_and_page() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let topical =
        |sender: Sender, text: &str, minutes: i64, topic: Option<&str>, addressee: &str| NewRecommendation {
            topic: topic.map(str::to_owned),
            addressee: addressee.to_owned(),
            ..submission(sender, text, minutes)
        };
    // Staffing, raised by two wards and two blocs, last active at 50.
    let staffing = record(
        store,
        &topical(BA_DINH_GOVERNMENT, STAFFING, 10, Some("staffing"), HOME_AFFAIRS),
        Decision::New,
        "staffing",
    )
    .await;
    let premises = record(
        store,
        &topical(BA_DINH_GOVERNMENT, PREMISES, 20, Some("premises"), "CENTRAL"),
        Decision::New,
        "premises",
    )
    .await;
    let traffic = record(
        store,
        &topical(BA_DINH_GOVERNMENT, TRAFFIC, 30, None, HOME_AFFAIRS),
        Decision::New,
        "traffic",
    )
    .await;
    let drainage = record(
        store,
        &topical(NGOC_HA_PARTY, DRAINAGE, 40, Some("staffing"), HOME_AFFAIRS),
        Decision::New,
        "drainage",
    )
    .await;
    // Last active at 40 too: ties are broken by id, newest first.
    let market = record(
        store,
        &topical(NGOC_HA_GOVERNMENT, MARKET, 40, None, HOME_AFFAIRS),
        Decision::New,
        "market",
    )
    .await;
    // Two wards but one bloc.
    let market_repeat = record(
        store,
        &topical(BA_DINH_GOVERNMENT, MARKET, 40, None, HOME_AFFAIRS),
        link(&market, 1.0),
        "market-repeat",
    )
    .await;
    let repeat = record(
        store,
        &topical(NGOC_HA_PARTY, STAFFING, 50, Some("staffing"), HOME_AFFAIRS),
        link(&staffing, 1.0),
        "repeat",
    )
    .await;
    store
        .act_on_cluster(
            premises.cluster_id,
            ClusterStatus::Open,
            &ClusterAction::Assign {
                department: HOME_AFFAIRS.to_owned(),
            },
            HOME_AFFAIRS,
            instant(60),
            &officer_key("AssignCluster", "assign"),
        )
        .await
        .expect("assigned");

    let list = |organ: &'static str, status: Option<ClusterStatus>, before: Option<i64>, limit: u32| async move {
        ids(&store
            .list_recommendations(organ, status, before, limit)
            .await
            .expect("list"))
    };
    assert_eq!(
        list(BA_DINH_COMMITTEE, None, None, 100).await,
        [market_repeat.id, traffic.id, premises.id, staffing.id]
    );
    assert_eq!(
        list(BA_DINH_COMMITTEE, None, None, 2).await,
        [market_repeat.id, traffic.id]
    );
    assert_eq!(
        list(BA_DINH_COMMITTEE, None, Some(premises.id), 100).await,
        [staffing.id]
    );
    assert_eq!(
        list(BA_DINH_COMMITTEE, Some(ClusterStatus::Assigned), None, 100).await,
        [premises.id]
    );
    assert_eq!(
        list(NGOC_HA_PARTY.organ, None, None, 100).await,
        [repeat.id, drainage.id]
    );
    assert_eq!(
        list(NGOC_HA_PARTY.organ, Some(ClusterStatus::Answered), None, 100).await,
        Vec::<i64>::new()
    );

    let clusters = |filter: ClusterFilter, after: Option<(OffsetDateTime, i64)>, limit: u32| async move {
        store
            .list_clusters(&filter, after, limit)
            .await
            .expect("list")
            .iter()
            .map(|cluster| cluster.id)
            .collect::<Vec<_>>()
    };
    let by_activity = [
        staffing.cluster_id,
        market.cluster_id,
        drainage.cluster_id,
        traffic.cluster_id,
        premises.cluster_id,
    ];
    assert_eq!(clusters(ClusterFilter::default(), None, 100).await, by_activity);
    assert_eq!(
        clusters(ClusterFilter::default(), None, 2).await,
        by_activity[..2]
    );
    assert_eq!(
        clusters(
            ClusterFilter::default(),
            Some((instant(40), market.cluster_id)),
            100
        )
        .await,
        by_activity[2..],
        "the page after a tie resumes within it"
    );
    assert_eq!(
        clusters(
            ClusterFilter {
                status: Some(ClusterStatus::Assigned),
                ..ClusterFilter::default()
            },
            None,
            100
        )
        .await,
        [premises.cluster_id]
    );
    assert_eq!(
        clusters(
            ClusterFilter {
                topic: Some("staffing".to_owned()),
                ..ClusterFilter::default()
            },
            None,
            100
        )
        .await,
        [staffing.cluster_id, drainage.cluster_id]
    );
    assert_eq!(
        clusters(
            ClusterFilter {
                addressee: Some("CENTRAL".to_owned()),
                ..ClusterFilter::default()
            },
            None,
            100
        )
        .await,
        [premises.cluster_id]
    );
    for filter in [
        ClusterFilter {
            min_distinct_blocs: 2,
            ..ClusterFilter::default()
        },
        ClusterFilter {
            topic: Some("staffing".to_owned()),
            addressee: Some(HOME_AFFAIRS.to_owned()),
            min_distinct_blocs: 2,
            min_distinct_localities: 2,
            status: Some(ClusterStatus::Open),
        },
    ] {
        assert_eq!(
            clusters(filter.clone(), None, 100).await,
            [staffing.cluster_id],
            "{filter:?}"
        );
    }
    assert_eq!(
        clusters(
            ClusterFilter {
                min_distinct_localities: 2,
                ..ClusterFilter::default()
            },
            None,
            100
        )
        .await,
        [staffing.cluster_id, market.cluster_id]
    );
    assert_eq!(
        clusters(
            ClusterFilter {
                min_distinct_blocs: 3,
                ..ClusterFilter::default()
            },
            None,
            100
        )
        .await,
        Vec::<i64>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_of_one_text_end_in_one_cluster() {
    let seeded = seeded().await;
    let senders = [
        BA_DINH_GOVERNMENT,
        BA_DINH_FRONT,
        NGOC_HA_PARTY,
        NGOC_HA_GOVERNMENT,
    ];
    let outcomes = race((0..CONTENDERS).map(|index| {
        let store = seeded.store.clone();
        let sender = senders[usize::try_from(index).expect("small") % senders.len()];
        async move {
            let new = submission(sender, STAFFING, 10 + index);
            // Joins whatever exact duplicate the store shows it, as the
            // engine would; opens a cluster when shown none.
            let exact_key = new.analysis.exact_key;
            let decide = move |context: &DedupContext| {
                context
                    .candidates
                    .iter()
                    .find(|candidate| candidate.analysis.exact_key == exact_key)
                    .map_or(Decision::New, |candidate| {
                        Decision::Link(lienthong_dedup::ScoredCandidate {
                            recommendation_id: candidate.recommendation_id,
                            cluster_id: candidate.cluster_id,
                            score: 1.0,
                        })
                    })
            };
            store
                .record_recommendation(
                    &new,
                    &decide,
                    limits(),
                    &submission_key(sender.organ, &format!("race-{index}")),
                )
                .await
                .map(|recorded| recorded.recommendation)
        }
    }))
    .await;
    let recorded: Vec<Recommendation> = outcomes
        .into_iter()
        .map(|outcome| outcome.expect("every submission is recorded"))
        .collect();
    let opened: Vec<&Recommendation> = recorded
        .iter()
        .filter(|recommendation| recommendation.outcome == DedupOutcome::NewCluster)
        .collect();
    assert_eq!(opened.len(), 1, "{recorded:?}");
    let cluster_id = opened[0].cluster_id;
    assert!(
        recorded
            .iter()
            .all(|recommendation| recommendation.cluster_id == cluster_id
                && (recommendation.outcome == DedupOutcome::NewCluster
                    || recommendation.outcome == DedupOutcome::JoinedCluster)),
        "{recorded:?}"
    );
    let cluster = seeded
        .store
        .get_cluster(cluster_id)
        .await
        .expect("get")
        .expect("cluster");
    assert_eq!(i64::from(cluster.member_count), CONTENDERS);
    assert_eq!(cluster.representative_id, opened[0].id);
    assert_eq!(cluster.blocs, [Bloc::Party, Bloc::Government, Bloc::Front]);
    let context = seeded
        .store
        .dedup_context(&ENGINE.analyze(STAFFING), limits())
        .await
        .expect("context");
    assert_eq!(context.corpus.document_count, CONTENDERS.unsigned_abs());
    assert_eq!(
        seeded
            .store
            .list_clusters(&ClusterFilter::default(), None, 100)
            .await
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test]
async fn a_review_cannot_confirm_into_a_cluster_merged_away_meanwhile() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let merged_away = record(
        store,
        &submission(BA_DINH_GOVERNMENT, STAFFING, 10),
        Decision::New,
        "merged-away",
    )
    .await;
    let survivor = record(
        store,
        &submission(BA_DINH_FRONT, PREMISES, 20),
        Decision::New,
        "survivor",
    )
    .await;
    let pending = record(
        store,
        &submission(NGOC_HA_PARTY, STAFFING, 30),
        review(&[(&merged_away, 0.45)]),
        "pending",
    )
    .await;
    // The officer read the review offering `merged_away`; another officer
    // merges that cluster away before the confirmation arrives.
    store
        .merge_clusters(
            expect(survivor.cluster_id, ClusterStatus::Open),
            expect(merged_away.cluster_id, ClusterStatus::Open),
            HOME_AFFAIRS,
            instant(40),
            &officer_key("MergeClusters", "merge"),
        )
        .await
        .expect("merged");
    let refused = store
        .resolve_review(
            pending.id,
            Some(merged_away.cluster_id),
            HOME_AFFAIRS,
            instant(50),
            &officer_key("ResolveReview", "late"),
        )
        .await
        .expect_err("the suggested cluster is gone");
    assert!(
        matches!(
            refused,
            Error::FailedPrecondition {
                violation_type: "SUGGESTION_CHANGED",
                ..
            }
        ),
        "{refused:?}"
    );
    let emptied = store
        .get_cluster(merged_away.cluster_id)
        .await
        .expect("get")
        .expect("cluster");
    assert_eq!(emptied.member_count, 0, "nothing moved into the emptied cluster");
    let unchanged = store
        .get_recommendation(pending.id)
        .await
        .expect("get")
        .expect("recommendation");
    assert_eq!(unchanged.cluster_id, pending.cluster_id);
    assert_eq!(
        unchanged
            .pending_suggestions
            .iter()
            .map(|suggestion| suggestion.cluster_id)
            .collect::<Vec<_>>(),
        [survivor.cluster_id],
        "the merge redirected the suggestion, and the refusal kept it"
    );
    store
        .resolve_review(
            pending.id,
            Some(survivor.cluster_id),
            HOME_AFFAIRS,
            instant(60),
            &officer_key("ResolveReview", "fresh"),
        )
        .await
        .expect("confirmed into the redirected suggestion");
}

#[tokio::test]
async fn joining_members_count_distinct_localities_and_blocs_and_widen_the_span() {
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let first = record(
        store,
        &submission(BA_DINH_GOVERNMENT, STAFFING, 20),
        Decision::New,
        "first",
    )
    .await;
    // Same ward, another bloc, submitted earlier than the first (an import
    // of older records): one locality, two blocs, the span reaches back.
    record(
        store,
        &submission(BA_DINH_FRONT, STAFFING, 10),
        link(&first, 0.9),
        "same-ward",
    )
    .await;
    // Another ward, a third bloc, later.
    record(
        store,
        &submission(NGOC_HA_PARTY, STAFFING, 30),
        link(&first, 0.8),
        "other-ward",
    )
    .await;
    // The same ward and bloc again: nothing new but the count.
    record(
        store,
        &submission(BA_DINH_GOVERNMENT, STAFFING, 25),
        link(&first, 0.95),
        "repeat",
    )
    .await;
    let cluster = store
        .get_cluster(first.cluster_id)
        .await
        .expect("get")
        .expect("cluster");
    assert_eq!(cluster.member_count, 4);
    assert_eq!(cluster.locality_codes, ["00004", "00008"]);
    assert_eq!(cluster.blocs, [Bloc::Party, Bloc::Government, Bloc::Front]);
    assert_eq!(
        (cluster.first_seen, cluster.last_seen),
        (instant(10), instant(30))
    );
    let listed = store
        .list_clusters(
            &ClusterFilter {
                min_distinct_localities: 2,
                min_distinct_blocs: 3,
                ..ClusterFilter::default()
            },
            None,
            10,
        )
        .await
        .expect("listed");
    assert_eq!(
        listed.iter().map(|cluster| cluster.id).collect::<Vec<_>>(),
        [first.cluster_id],
        "the stored distinct counts are what the filters read"
    );
    let narrower = store
        .list_clusters(
            &ClusterFilter {
                min_distinct_localities: 3,
                ..ClusterFilter::default()
            },
            None,
            10,
        )
        .await
        .expect("listed");
    assert!(narrower.is_empty());
}

/// A watch reads events after the last id it saw. If a transaction could
/// commit an event with a smaller id after a larger one was read, the watch
/// would skip it for good; officers acting on many clusters at once must
/// not make that happen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_following_events_misses_none_while_officers_act_concurrently() {
    const CLUSTERS: i64 = 64;
    let seeded = seeded().await;
    let store = seeded.store.as_ref();
    let mut clusters = Vec::new();
    for index in 0..CLUSTERS {
        let new = submission(BA_DINH_GOVERNMENT, &format!("{STAFFING} Lần {index}."), index);
        clusters.push(
            record(store, &new, Decision::New, &format!("cluster-{index}"))
                .await
                .cluster_id,
        );
    }
    let follower = {
        let store = seeded.store.clone();
        tokio::spawn(async move {
            let (mut after, mut seen) = (0, Vec::new());
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
            while seen.len() < usize::try_from(CLUSTERS).expect("small")
                && tokio::time::Instant::now() < deadline
            {
                for event in store
                    .recommendation_events(BA_DINH_COMMITTEE, after, 100)
                    .await
                    .expect("events")
                {
                    after = event.id;
                    seen.push(event.id);
                }
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    race(clusters.iter().map(|&cluster_id| {
        let store = seeded.store.clone();
        async move {
            store
                .act_on_cluster(
                    cluster_id,
                    ClusterStatus::Open,
                    &ClusterAction::Assign {
                        department: HOME_AFFAIRS.to_owned(),
                    },
                    HOME_AFFAIRS,
                    instant(100),
                    &officer_key("AssignCluster", &format!("assign-{cluster_id}")),
                )
                .await
                .expect("assigned");
        }
    }))
    .await;
    let seen = follower.await.expect("the follower ran");
    let all: Vec<i64> = store
        .recommendation_events(BA_DINH_COMMITTEE, 0, 100)
        .await
        .expect("events")
        .iter()
        .map(|event| event.id)
        .collect();
    assert_eq!(all.len(), clusters.len());
    assert_eq!(seen, all, "the follower saw every event, in order");
}
