//! `lienthong.v1.DirectoryService`.

use lienthong_domain::paging::{DIRECTORY_PAGES, PageRequest};
use lienthong_domain::service::DirectoryService;
use lienthong_domain::store::{LocalityFilter, OrganFilter};
use tonic::{Request, Response, Status};

use super::caller;
use super::convert::{
    bloc_filter, locality_kind_filter, locality_to_proto, name_id, optional, organ_kind_filter,
    organ_to_proto,
};
use super::status::to_status;
use crate::proto;
use crate::proto::directory_service_server::DirectoryService as DirectoryRpc;

#[derive(Debug, Clone)]
pub struct DirectoryApi {
    directory: DirectoryService,
}

impl DirectoryApi {
    pub fn new(directory: DirectoryService) -> Self {
        Self { directory }
    }
}

#[tonic::async_trait]
impl DirectoryRpc for DirectoryApi {
    async fn list_localities(
        &self,
        request: Request<proto::ListLocalitiesRequest>,
    ) -> Result<Response<proto::ListLocalitiesResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let filter = LocalityFilter {
            kind: locality_kind_filter("kind", request.kind).map_err(to_status)?,
            parent_code: optional(request.parent_code),
        };
        let page =
            PageRequest::parse(request.page_size, &request.page_token, DIRECTORY_PAGES).map_err(to_status)?;
        let page = self
            .directory
            .list_localities(&caller, &filter, &page)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListLocalitiesResponse {
            localities: page.items.into_iter().map(locality_to_proto).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_locality(
        &self,
        request: Request<proto::GetLocalityRequest>,
    ) -> Result<Response<proto::GetLocalityResponse>, Status> {
        let caller = caller(&request)?;
        let code = name_id("name", &request.get_ref().name, "localities").map_err(to_status)?;
        let locality = self
            .directory
            .get_locality(&caller, code)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::GetLocalityResponse {
            locality: Some(locality_to_proto(locality)),
        }))
    }

    async fn list_organs(
        &self,
        request: Request<proto::ListOrgansRequest>,
    ) -> Result<Response<proto::ListOrgansResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let filter = OrganFilter {
            locality_code: optional(request.locality_code),
            bloc: bloc_filter("bloc", request.bloc).map_err(to_status)?,
            kind: organ_kind_filter("kind", request.kind).map_err(to_status)?,
        };
        let page =
            PageRequest::parse(request.page_size, &request.page_token, DIRECTORY_PAGES).map_err(to_status)?;
        let page = self
            .directory
            .list_organs(&caller, &filter, &page)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListOrgansResponse {
            organs: page.items.into_iter().map(organ_to_proto).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_organ(
        &self,
        request: Request<proto::GetOrganRequest>,
    ) -> Result<Response<proto::GetOrganResponse>, Status> {
        let caller = caller(&request)?;
        let id = name_id("name", &request.get_ref().name, "organs").map_err(to_status)?;
        let organ = self.directory.get_organ(&caller, id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetOrganResponse {
            organ: Some(organ_to_proto(organ)),
        }))
    }
}
