//! `lienthong.v1.AnalyticsService`.

use lienthong_domain::analytics::ReportSelection;
use lienthong_domain::directory::Bloc;
use lienthong_domain::error::{Result, Violations};
use lienthong_domain::paging::PageRequest;
use lienthong_domain::period::Periodicity;
use lienthong_domain::service::{
    AggregateQuery, AggregateRow, AnalyticsService, BlocMatches, DossierService, GroupDimension,
    OUTLIER_PAGES, Outlier, OutlierReason, OutliersQuery, RATE_PAGES, RankClustersQuery, RatesQuery,
    ReportingRate, report_name,
};
use tonic::{Request, Response, Status};

use super::caller;
use super::convert::{
    aggregation_to_proto, bloc_filter, bloc_to_proto, cluster_status_filter, ranked_cluster_to_proto,
    timestamp,
};
use super::status::to_status;
use crate::proto;
use crate::proto::analytics_service_server::AnalyticsService as AnalyticsRpc;

/// Rows per message of StreamAggregateIndicators.
const STREAM_BATCH_ROWS: usize = 500;
/// Rows StreamAggregateIndicators computes at a time (whole periods): over
/// a year of a 32-indicator form for every commune. Smaller parts cost a
/// statement each; on the analytics bench, parts of 16k rows made the
/// 5-year stream slower than one whole part, parts of 64k about 15 %
/// faster.
const STREAM_PART_ROWS: usize = 65_536;
/// Messages computed ahead of the client.
const STREAM_QUEUED_BATCHES: usize = 2 * STREAM_PART_ROWS / STREAM_BATCH_ROWS;

type AggregateStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<proto::StreamAggregateIndicatorsResponse, Status>> + Send>,
>;

#[derive(Debug, Clone)]
pub struct AnalyticsApi {
    analytics: AnalyticsService,
    /// Rankings and figures over recommendation clusters.
    dossiers: DossierService,
    /// Most rows AggregateIndicators returns (`analytics_max_rows`).
    max_rows: usize,
}

impl AnalyticsApi {
    pub fn new(analytics: AnalyticsService, dossiers: DossierService, max_rows: usize) -> Self {
        Self {
            analytics,
            dossiers,
            max_rows,
        }
    }
}

/// The two aggregate requests carry the same fields; this reads either.
macro_rules! aggregate_query {
    ($request:expr) => {{
        let request = $request;
        let mut violations = Violations::new();
        let query = AggregateQuery {
            group_by: group_dimensions(&request.group_by, &mut violations),
            rollup: rollup(request.rollup, &mut violations),
            blocs: blocs(&request.blocs, &mut violations),
            selection: selection(request.selection, &mut violations),
            form_code: request.form_code,
            form_version: request.form_version,
            indicator_codes: request.indicator_codes,
            from_period: request.from_period,
            to_period: request.to_period,
            locality_codes: request.locality_codes,
        };
        violations.into_result().map(|()| query)
    }};
}

fn group_dimensions(values: &[i32], violations: &mut Violations) -> Vec<GroupDimension> {
    let mut dimensions = Vec::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        match proto::GroupDimension::try_from(*value) {
            Ok(proto::GroupDimension::Locality) => dimensions.push(GroupDimension::Locality),
            Ok(proto::GroupDimension::Bloc) => dimensions.push(GroupDimension::Bloc),
            Ok(proto::GroupDimension::Period) => dimensions.push(GroupDimension::Period),
            Ok(proto::GroupDimension::City) => dimensions.push(GroupDimension::City),
            Ok(proto::GroupDimension::Unspecified) | Err(_) => violations.add(
                format!("group_by[{index}]"),
                "choose LOCALITY, BLOC, PERIOD or CITY",
            ),
        }
    }
    dimensions
}

fn rollup(value: i32, violations: &mut Violations) -> Option<Periodicity> {
    match proto::Periodicity::try_from(value) {
        Ok(proto::Periodicity::Unspecified) => None,
        Ok(proto::Periodicity::Monthly) => Some(Periodicity::Monthly),
        Ok(proto::Periodicity::Quarterly) => Some(Periodicity::Quarterly),
        Ok(proto::Periodicity::Semiannual) => Some(Periodicity::Semiannual),
        Ok(proto::Periodicity::NineMonth) => Some(Periodicity::NineMonth),
        Ok(proto::Periodicity::Annual) => Some(Periodicity::Annual),
        Ok(proto::Periodicity::AdHoc) => {
            violations.add("rollup", "nothing rolls up into ad-hoc periods");
            None
        }
        Err(_) => {
            violations.add("rollup", "unknown periodicity");
            None
        }
    }
}

fn blocs(values: &[i32], violations: &mut Violations) -> Vec<Bloc> {
    let mut blocs = Vec::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        match bloc_filter("", *value) {
            Ok(Some(bloc)) => blocs.push(bloc),
            Ok(None) | Err(_) => violations.add(format!("blocs[{index}]"), "not a bloc"),
        }
    }
    blocs
}

fn selection(value: i32, violations: &mut Violations) -> ReportSelection {
    match proto::ReportSelection::try_from(value) {
        Ok(proto::ReportSelection::Unspecified | proto::ReportSelection::LatestRevision) => {
            ReportSelection::LatestRevision
        }
        Ok(proto::ReportSelection::AcceptedOnly) => ReportSelection::AcceptedOnly,
        Err(_) => {
            violations.add("selection", "unknown report selection");
            ReportSelection::LatestRevision
        }
    }
}

fn count(number: u32) -> i32 {
    i32::try_from(number).unwrap_or(i32::MAX)
}

fn aggregate_row_to_proto(row: AggregateRow) -> proto::AggregateRow {
    proto::AggregateRow {
        period: row
            .key
            .period
            .map(|period| period.to_string())
            .unwrap_or_default(),
        locality_code: row.key.locality_code.unwrap_or_default(),
        bloc: row
            .key
            .bloc
            .map_or(proto::Bloc::Unspecified, bloc_to_proto)
            .into(),
        indicator_code: row.indicator_code,
        aggregation: aggregation_to_proto(row.aggregation).into(),
        value: row.value,
        numerator_sum: row.ratio.map(|ratio| ratio.numerator),
        denominator_sum: row.ratio.map(|ratio| ratio.denominator),
        expected_reports: count(row.expected),
        contributing_reports: count(row.contributing),
        missing_reports: count(row.missing),
        periods_not_yet_open: count(row.periods_not_yet_open),
    }
}

fn rate_to_proto(rate: ReportingRate) -> proto::ReportingRate {
    let (late, reporting_rate, on_time_rate) = (rate.late(), rate.reporting_rate(), rate.on_time_rate());
    proto::ReportingRate {
        period: rate.period.to_string(),
        locality_code: rate.locality_code.unwrap_or_default(),
        deadline_time: Some(timestamp(rate.deadline)),
        deadline_passed: rate.deadline_passed,
        expected_reports: count(rate.expected),
        submitted_reports: count(rate.submitted),
        on_time_reports: count(rate.on_time),
        late_reports: count(late),
        accepted_reports: count(rate.accepted),
        reporting_rate,
        on_time_rate,
    }
}

fn outlier_to_proto(outlier: Outlier) -> proto::Outlier {
    proto::Outlier {
        report: report_name(outlier.report_id),
        revision: outlier.revision,
        organ: outlier.organ_id,
        locality_code: outlier.locality_code,
        period: outlier.period.to_string(),
        indicator_code: outlier.indicator_code,
        value: outlier.value,
        reasons: outlier
            .reasons
            .into_iter()
            .map(|reason| {
                match reason {
                    OutlierReason::BelowMinimum => proto::OutlierReason::BelowMinimum,
                    OutlierReason::AboveMaximum => proto::OutlierReason::AboveMaximum,
                    OutlierReason::FarFromHistory => proto::OutlierReason::FarFromHistory,
                }
                .into()
            })
            .collect(),
        modified_z_score: outlier.history.map(|history| history.score),
        history_median: outlier.history.map(|history| history.median),
        history_size: count(outlier.history_size),
        explanation: outlier.explanation,
    }
}

#[tonic::async_trait]
impl AnalyticsRpc for AnalyticsApi {
    type StreamAggregateIndicatorsStream = AggregateStream;

    async fn aggregate_indicators(
        &self,
        request: Request<proto::AggregateIndicatorsRequest>,
    ) -> Result<Response<proto::AggregateIndicatorsResponse>, Status> {
        let caller = caller(&request)?;
        let query = aggregate_query!(request.into_inner()).map_err(to_status)?;
        let aggregates = self
            .analytics
            .aggregate(&caller, &query, Some(self.max_rows))
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::AggregateIndicatorsResponse {
            form_code: aggregates.form_code,
            form_version: aggregates.form_version,
            rows: aggregates.rows.into_iter().map(aggregate_row_to_proto).collect(),
        }))
    }

    async fn stream_aggregate_indicators(
        &self,
        request: Request<proto::StreamAggregateIndicatorsRequest>,
    ) -> Result<Response<Self::StreamAggregateIndicatorsStream>, Status> {
        let caller = caller(&request)?;
        let query = aggregate_query!(request.into_inner()).map_err(to_status)?;
        let plan = self
            .analytics
            .plan_aggregate(&caller, &query, None)
            .await
            .map_err(to_status)?;
        let form_code = plan.form_code().to_owned();
        let form_version = plan.form_version();
        let parts = plan.into_parts(STREAM_PART_ROWS);
        let (sender, receiver) = tokio::sync::mpsc::channel(STREAM_QUEUED_BATCHES);
        let analytics = self.analytics.clone();
        // Parts are computed while earlier ones are on the wire, and a
        // long result is never held whole.
        tokio::spawn(async move {
            let batch = |rows: Vec<proto::AggregateRow>| proto::StreamAggregateIndicatorsResponse {
                form_code: form_code.clone(),
                form_version,
                rows,
            };
            // At least one message, so an empty result still names the version.
            let mut sent_any = false;
            for part in parts {
                let rows = match analytics.run_aggregate(&part).await {
                    Ok(rows) => rows,
                    Err(error) => {
                        let _ = sender.send(Err(to_status(error))).await;
                        return;
                    }
                };
                let mut rows = rows.into_iter().map(aggregate_row_to_proto).peekable();
                while rows.peek().is_some() {
                    let message = batch(rows.by_ref().take(STREAM_BATCH_ROWS).collect());
                    if sender.send(Ok(message)).await.is_err() {
                        return;
                    }
                    sent_any = true;
                }
            }
            if !sent_any {
                let _ = sender.send(Ok(batch(Vec::new()))).await;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    async fn get_reporting_rates(
        &self,
        request: Request<proto::GetReportingRatesRequest>,
    ) -> Result<Response<proto::GetReportingRatesResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let query = RatesQuery {
            blocs: blocs(&request.blocs, &mut violations),
            form_code: request.form_code,
            from_period: request.from_period,
            to_period: request.to_period,
            locality_codes: request.locality_codes,
        };
        violations.into_result().map_err(to_status)?;
        let page =
            PageRequest::parse(request.page_size, &request.page_token, RATE_PAGES).map_err(to_status)?;
        let rates = self
            .analytics
            .reporting_rates(&caller, &query, &page)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::GetReportingRatesResponse {
            form_code: rates.form_code,
            rates: rates.rates.items.into_iter().map(rate_to_proto).collect(),
            city_trend: rates.city_trend.into_iter().map(rate_to_proto).collect(),
            next_page_token: rates.rates.next_page_token,
        }))
    }

    async fn list_outliers(
        &self,
        request: Request<proto::ListOutliersRequest>,
    ) -> Result<Response<proto::ListOutliersResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let query = OutliersQuery {
            blocs: blocs(&request.blocs, &mut violations),
            selection: selection(request.selection, &mut violations),
            form_code: request.form_code,
            form_version: request.form_version,
            indicator_codes: request.indicator_codes,
            from_period: request.from_period,
            to_period: request.to_period,
            locality_codes: request.locality_codes,
            lookback_periods: request.lookback_periods,
            min_history: request.min_history,
            z_score_threshold: request.z_score_threshold,
        };
        violations.into_result().map_err(to_status)?;
        let page =
            PageRequest::parse(request.page_size, &request.page_token, OUTLIER_PAGES).map_err(to_status)?;
        let outliers = self
            .analytics
            .outliers(&caller, &query, &page)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListOutliersResponse {
            outliers: outliers.items.into_iter().map(outlier_to_proto).collect(),
            next_page_token: outliers.next_page_token,
        }))
    }

    async fn rank_clusters(
        &self,
        request: Request<proto::RankClustersRequest>,
    ) -> Result<Response<proto::RankClustersResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let query = RankClustersQuery {
            status: cluster_status_filter("status", request.status).map_err(to_status)?,
            from_period: request.from_period,
            to_period: request.to_period,
            topics: request.topics,
            addressee: request.addressee,
            min_distinct_localities: request.min_distinct_localities,
            limit: request.limit,
        };
        let ranked = self
            .dossiers
            .rank_clusters(&caller, &query)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::RankClustersResponse {
            clusters: ranked.into_iter().map(ranked_cluster_to_proto).collect(),
        }))
    }

    async fn get_answered_matches(
        &self,
        request: Request<proto::GetAnsweredMatchesRequest>,
    ) -> Result<Response<proto::GetAnsweredMatchesResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let matches = self
            .dossiers
            .answered_matches(&caller, &request.from_period, &request.to_period)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::GetAnsweredMatchesResponse {
            periods: matches
                .periods
                .into_iter()
                .map(|period| proto::PeriodAnsweredMatches {
                    period: period.period.to_string(),
                    blocs: period.blocs.into_iter().map(bloc_matches_to_proto).collect(),
                })
                .collect(),
            totals: matches.totals.into_iter().map(bloc_matches_to_proto).collect(),
        }))
    }
}

fn bloc_matches_to_proto(matches: BlocMatches) -> proto::BlocAnsweredMatches {
    let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    proto::BlocAnsweredMatches {
        bloc: bloc_to_proto(matches.bloc).into(),
        submitted: count(matches.submitted),
        already_answered: count(matches.already_answered),
    }
}
