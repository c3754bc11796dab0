//! `lienthong.v1.ReportService`.

use lienthong_domain::paging::{DIRECTORY_PAGES, PageRequest, REPORT_PAGES};
use lienthong_domain::period::Period;
use lienthong_domain::service::{
    AmendReport, ObligationsQuery, ReportService, ReportView, SubmitReport, report_name,
};
use lienthong_domain::store::ReportFilter;
use lienthong_domain::{Error, Result};
use tonic::{Request, Response, Status};

use super::caller;
use super::convert::{
    completeness_to_proto, from_timestamp, obligation_status_filter, obligation_to_proto, optional,
    report_id, report_or_revision, report_status_filter, report_to_proto, review_decision, revision_to_proto,
    timestamp, value_inputs,
};
use super::status::to_status;
use crate::proto;
use crate::proto::report_service_server::ReportService as ReportRpc;

#[derive(Debug, Clone)]
pub struct ReportApi {
    reports: ReportService,
}

impl ReportApi {
    pub fn new(reports: ReportService) -> Self {
        Self { reports }
    }
}

fn report_filter(request: &proto::ListReportsRequest) -> Result<ReportFilter> {
    let period = match optional(request.period.clone()) {
        None => None,
        Some(text) => Some(
            text.parse::<Period>()
                .map_err(|error| Error::invalid("period", error.to_string()))?,
        ),
    };
    Ok(ReportFilter {
        form_code: optional(request.form_code.clone()),
        period,
        organ_id: optional(request.organ.clone()),
        locality_code: optional(request.locality_code.clone()),
        status: report_status_filter("status", request.status)?,
        form_owner: None,
    })
}

#[tonic::async_trait]
impl ReportRpc for ReportApi {
    async fn submit_report(
        &self,
        request: Request<proto::SubmitReportRequest>,
    ) -> Result<Response<proto::SubmitReportResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let submitted = self
            .reports
            .submit(
                &caller,
                SubmitReport {
                    organ_id: request.organ,
                    form_code: request.form_code,
                    form_version: request.form_version,
                    period: request.period,
                    values: value_inputs(request.values),
                    narrative: request.narrative,
                    request_id: request.request_id,
                },
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::SubmitReportResponse {
            report: report_name(submitted.report_id),
            revision: Some(revision_to_proto(submitted.revision)),
            deadline_time: Some(timestamp(submitted.deadline)),
        }))
    }

    async fn amend_report(
        &self,
        request: Request<proto::AmendReportRequest>,
    ) -> Result<Response<proto::AmendReportResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let amended = self
            .reports
            .amend(
                &caller,
                AmendReport {
                    report_id: report_id("report", &request.report).map_err(to_status)?,
                    base_revision: request.base_revision,
                    form_version: request.form_version,
                    values: value_inputs(request.values),
                    narrative: request.narrative,
                    reason: request.reason,
                    request_id: request.request_id,
                },
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::AmendReportResponse {
            revision: Some(revision_to_proto(amended.revision)),
        }))
    }

    async fn review_report(
        &self,
        request: Request<proto::ReviewReportRequest>,
    ) -> Result<Response<proto::ReviewReportResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let report_id = report_id("report", &request.report).map_err(to_status)?;
        let decision = review_decision("decision", request.decision).map_err(to_status)?;
        let report = self
            .reports
            .review(
                &caller,
                report_id,
                request.revision,
                decision,
                request.comment,
                &request.request_id,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ReviewReportResponse {
            report: Some(report_to_proto(report, None)),
        }))
    }

    async fn get_report(
        &self,
        request: Request<proto::GetReportRequest>,
    ) -> Result<Response<proto::GetReportResponse>, Status> {
        let caller = caller(&request)?;
        let (report_id, revision) = report_or_revision("name", &request.get_ref().name).map_err(to_status)?;
        let (report, revision) = self
            .reports
            .get(&caller, report_id, revision)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::GetReportResponse {
            report: Some(report_to_proto(report, Some(revision))),
        }))
    }

    async fn list_reports(
        &self,
        request: Request<proto::ListReportsRequest>,
    ) -> Result<Response<proto::ListReportsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let filter = report_filter(&request).map_err(to_status)?;
        let view = match proto::ReportView::try_from(request.view) {
            Ok(proto::ReportView::Full) => ReportView::Full,
            Ok(proto::ReportView::Unspecified | proto::ReportView::Basic) => ReportView::Basic,
            Err(_) => return Err(to_status(Error::invalid("view", "unknown view"))),
        };
        let page =
            PageRequest::parse(request.page_size, &request.page_token, REPORT_PAGES).map_err(to_status)?;
        let page = self
            .reports
            .list(&caller, filter, view, &page)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListReportsResponse {
            reports: page
                .items
                .into_iter()
                .map(|(report, revision)| report_to_proto(report, revision))
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn list_obligations(
        &self,
        request: Request<proto::ListObligationsRequest>,
    ) -> Result<Response<proto::ListObligationsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let query = ObligationsQuery {
            organ_id: request.organ,
            form_code: optional(request.form_code),
            status: obligation_status_filter("status", request.status).map_err(to_status)?,
            as_of: request
                .as_of
                .map(|as_of| from_timestamp("as_of", &as_of))
                .transpose()
                .map_err(to_status)?,
        };
        let page =
            PageRequest::parse(request.page_size, &request.page_token, DIRECTORY_PAGES).map_err(to_status)?;
        let page = self
            .reports
            .obligations(&caller, &query, &page)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListObligationsResponse {
            obligations: page.items.into_iter().map(obligation_to_proto).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_completeness(
        &self,
        request: Request<proto::GetCompletenessRequest>,
    ) -> Result<Response<proto::GetCompletenessResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let completeness = self
            .reports
            .completeness(&caller, &request.form_code, &request.period)
            .await
            .map_err(to_status)?;
        Ok(Response::new(completeness_to_proto(completeness)))
    }
}
