//! `lienthong.v1.ResolutionService`, and the conversions only it needs.

use lienthong_domain::error::Result;
use lienthong_domain::paging::PageRequest;
use lienthong_domain::resolution::{
    RESOLUTION_PAGES, Resolution, ResolutionDraft, ResolutionReview, ResolutionStatus, ResolutionVerdict,
    resolution_name,
};
use lienthong_domain::service::{FileResolution, ResolutionSearch, ResolutionService, ResolutionView};
use tonic::{Request, Response, Status};

use super::caller;
use super::convert::{id_in_name, optional, timestamp, unknown_enum};
use super::status::to_status;
use crate::proto;
use crate::proto::resolution_service_server::ResolutionService as ResolutionRpc;

#[derive(Debug, Clone)]
pub struct ResolutionApi {
    resolutions: ResolutionService,
}

impl ResolutionApi {
    pub fn new(resolutions: ResolutionService) -> Self {
        Self { resolutions }
    }
}

/// Parses `resolutions/{id}` into the numeric id.
fn resolution_id(field: &str, name: &str) -> Result<i64> {
    id_in_name(field, name, "resolutions")
}

fn status_filter(field: &str, value: i32) -> Result<Option<ResolutionStatus>> {
    Ok(
        match proto::ResolutionStatus::try_from(value).map_err(|_| unknown_enum(field, value))? {
            proto::ResolutionStatus::Unspecified => None,
            proto::ResolutionStatus::PendingReview => Some(ResolutionStatus::PendingReview),
            proto::ResolutionStatus::Lawful => Some(ResolutionStatus::Lawful),
            proto::ResolutionStatus::NeedsAmendment => Some(ResolutionStatus::NeedsAmendment),
            proto::ResolutionStatus::Annulled => Some(ResolutionStatus::Annulled),
        },
    )
}

fn status_to_proto(status: ResolutionStatus) -> proto::ResolutionStatus {
    match status {
        ResolutionStatus::PendingReview => proto::ResolutionStatus::PendingReview,
        ResolutionStatus::Lawful => proto::ResolutionStatus::Lawful,
        ResolutionStatus::NeedsAmendment => proto::ResolutionStatus::NeedsAmendment,
        ResolutionStatus::Annulled => proto::ResolutionStatus::Annulled,
    }
}

fn verdict(field: &str, value: i32) -> Result<Option<ResolutionVerdict>> {
    Ok(
        match proto::ResolutionVerdict::try_from(value).map_err(|_| unknown_enum(field, value))? {
            proto::ResolutionVerdict::Unspecified => None,
            proto::ResolutionVerdict::Lawful => Some(ResolutionVerdict::Lawful),
            proto::ResolutionVerdict::NeedsAmendment => Some(ResolutionVerdict::NeedsAmendment),
            proto::ResolutionVerdict::Annulled => Some(ResolutionVerdict::Annulled),
        },
    )
}

fn verdict_to_proto(verdict: ResolutionVerdict) -> proto::ResolutionVerdict {
    match verdict {
        ResolutionVerdict::Lawful => proto::ResolutionVerdict::Lawful,
        ResolutionVerdict::NeedsAmendment => proto::ResolutionVerdict::NeedsAmendment,
        ResolutionVerdict::Annulled => proto::ResolutionVerdict::Annulled,
    }
}

fn view(field: &str, value: i32) -> Result<ResolutionView> {
    match proto::ResolutionView::try_from(value).map_err(|_| unknown_enum(field, value))? {
        proto::ResolutionView::Unspecified | proto::ResolutionView::Basic => Ok(ResolutionView::Basic),
        proto::ResolutionView::Full => Ok(ResolutionView::Full),
    }
}

fn review_to_proto(review: ResolutionReview) -> proto::ResolutionReview {
    proto::ResolutionReview {
        sequence: review.sequence,
        verdict: verdict_to_proto(review.verdict).into(),
        comment: review.comment,
        reviewer_organ: review.reviewer_organ,
        review_time: Some(timestamp(review.reviewed_at)),
    }
}

/// A resolution on the wire; `full_text` is `None` in BASIC views.
fn resolution_to_proto(resolution: Resolution, full_text: Option<String>) -> proto::Resolution {
    proto::Resolution {
        name: resolution_name(resolution.id),
        organ: resolution.issuing_organ_id,
        locality_code: resolution.locality_code,
        symbol: resolution.symbol,
        title: resolution.title,
        adoption_date: resolution.adopted_on.to_string(),
        effective_date: resolution.effective_on.to_string(),
        topic: resolution.topic,
        summary: resolution.summary,
        full_text: full_text.unwrap_or_default(),
        budget_vnd: resolution.budget_vnd,
        supersedes: resolution.supersedes.map(resolution_name).unwrap_or_default(),
        superseded_by: resolution.superseded_by.map(resolution_name).unwrap_or_default(),
        status: status_to_proto(resolution.status).into(),
        file_time: Some(timestamp(resolution.filed_at)),
        update_time: Some(timestamp(resolution.updated_at)),
        reviews: resolution.reviews.into_iter().map(review_to_proto).collect(),
    }
}

fn file_request(request: proto::FileResolutionRequest) -> Result<FileResolution> {
    let supersedes = optional(request.supersedes)
        .map(|name| resolution_id("supersedes", &name))
        .transpose()?;
    Ok(FileResolution {
        organ_id: request.organ,
        draft: ResolutionDraft {
            symbol: request.symbol,
            title: request.title,
            adoption_date: request.adoption_date,
            effective_date: request.effective_date,
            topic: request.topic,
            summary: request.summary,
            full_text: request.full_text,
            budget_vnd: request.budget_vnd,
        },
        supersedes,
        request_id: request.request_id,
    })
}

fn search(request: &proto::ListResolutionsRequest) -> Result<ResolutionSearch> {
    Ok(ResolutionSearch {
        issuing_organ_id: optional(request.organ.clone()),
        locality_code: optional(request.locality_code.clone()),
        topic: optional(request.topic.clone()),
        adopted_from: optional(request.adopted_from.clone()),
        adopted_to: optional(request.adopted_to.clone()),
        status: status_filter("status", request.status)?,
        query: request.query.clone(),
    })
}

#[tonic::async_trait]
impl ResolutionRpc for ResolutionApi {
    async fn file_resolution(
        &self,
        request: Request<proto::FileResolutionRequest>,
    ) -> Result<Response<proto::FileResolutionResponse>, Status> {
        let caller = caller(&request)?;
        let filing = file_request(request.into_inner()).map_err(to_status)?;
        let (resolution, full_text) = self.resolutions.file(&caller, filing).await.map_err(to_status)?;
        Ok(Response::new(proto::FileResolutionResponse {
            resolution: Some(resolution_to_proto(resolution, Some(full_text))),
        }))
    }

    async fn get_resolution(
        &self,
        request: Request<proto::GetResolutionRequest>,
    ) -> Result<Response<proto::GetResolutionResponse>, Status> {
        let caller = caller(&request)?;
        let resolution_id = resolution_id("name", &request.get_ref().name).map_err(to_status)?;
        let (resolution, full_text) = self
            .resolutions
            .get(&caller, resolution_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::GetResolutionResponse {
            resolution: Some(resolution_to_proto(resolution, Some(full_text))),
        }))
    }

    async fn list_resolutions(
        &self,
        request: Request<proto::ListResolutionsRequest>,
    ) -> Result<Response<proto::ListResolutionsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let search = search(&request).map_err(to_status)?;
        let view = view("view", request.view).map_err(to_status)?;
        let page = PageRequest::parse(request.page_size, &request.page_token, RESOLUTION_PAGES)
            .map_err(to_status)?;
        let page = self
            .resolutions
            .list(&caller, search, view, &page)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListResolutionsResponse {
            resolutions: page
                .items
                .into_iter()
                .map(|(resolution, full_text)| resolution_to_proto(resolution, full_text))
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn review_resolution(
        &self,
        request: Request<proto::ReviewResolutionRequest>,
    ) -> Result<Response<proto::ReviewResolutionResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let resolution_id = resolution_id("resolution", &request.resolution).map_err(to_status)?;
        let verdict = verdict("verdict", request.verdict).map_err(to_status)?;
        let resolution = self
            .resolutions
            .review(
                &caller,
                resolution_id,
                verdict,
                request.comment,
                &request.request_id,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ReviewResolutionResponse {
            resolution: Some(resolution_to_proto(resolution, None)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_names_parse_strictly() {
        assert_eq!(resolution_id("name", "resolutions/7").ok(), Some(7));
        for bad in [
            "resolutions/x",
            "resolutions/",
            "resolution/7",
            "resolutions/7/reviews/1",
            "7",
        ] {
            assert!(resolution_id("name", bad).is_err(), "{bad:?} accepted");
        }
    }
}
