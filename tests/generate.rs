//! The history generator's recommendations: years of matters raised by the
//! communes, clustered, partly answered and escalated, and filling again
//! adds nothing.

mod common;

use common::*;
use lienthong::generate::{self, GeneratedForm, History, Options};
use lienthong_domain::period::Period;
use lienthong_domain::recommendation::{ClusterRanking, ClusterStatus, DedupOutcome};
use time::macros::datetime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_history_has_recommendations_clustered_answered_and_escalated() {
    let server = TestServer::start().await;
    let now = datetime!(2026-06-20 09:00 +7);
    let options = Options {
        history: History::Since(Period::Month { year: 2025, month: 7 }),
        through: None,
        seed: 7,
        forms: vec![GeneratedForm::Tthc],
        every_nth_commune: 2,
        concurrency: 4,
        recommendations: true,
    };
    let filled = generate::fill(server.store.clone(), &options, now)
        .await
        .expect("filled");
    let sent = filled.recommendations;
    // Each quarter of the span, about half of the 63 sampled communes.
    assert!((60..=160).contains(&sent.submitted), "{sent:?}");
    assert!(sent.clusters_answered > 0, "{sent:?}");

    let (from, until) = Period::Quarter {
        year: 2025,
        quarter: 3,
    }
    .calendar_span(Period::Quarter {
        year: 2026,
        quarter: 2,
    });
    let ranked = server
        .store
        .rank_clusters(
            &ClusterRanking {
                from,
                until,
                status: None,
                topics: Vec::new(),
                addressee: None,
                min_distinct_localities: 2,
            },
            500,
        )
        .await
        .expect("ranked");
    assert!(!ranked.is_empty(), "matters raised by several communes");
    assert!(
        ranked
            .iter()
            .any(|ranked| ranked.cluster.status == ClusterStatus::Answered),
        "some of them answered"
    );
    let outcomes = server.store.count_outcomes(from, until).await.expect("counted");
    let total: u64 = outcomes.iter().map(|count| count.count).sum();
    assert_eq!(total, sent.submitted);
    assert!(
        outcomes
            .iter()
            .any(|count| count.outcome == DedupOutcome::AlreadyAnswered && count.count > 0),
        "later submissions of answered matters are told so: {outcomes:?}"
    );

    let again = generate::fill(server.store.clone(), &options, now)
        .await
        .expect("filled again");
    let total_again: u64 = server
        .store
        .count_outcomes(from, until)
        .await
        .expect("counted")
        .iter()
        .map(|count| count.count)
        .sum();
    assert_eq!(total_again, total, "filling again adds no recommendation");
    assert_eq!(again.recommendations.submitted, sent.submitted);
    assert_eq!(
        (
            again.recommendations.clusters_answered,
            again.recommendations.clusters_escalated
        ),
        (0, 0),
        "nor decides anything new"
    );
}
