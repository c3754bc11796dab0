//! `lienthong.v1.FormService`.

use lienthong_domain::paging::{DIRECTORY_PAGES, PageRequest};
use lienthong_domain::service::FormService;
use tonic::{Request, Response, Status};

use super::caller;
use super::convert::{
    definition_from_proto, form_to_proto, form_version_name, form_version_to_proto, name_id,
};
use super::status::to_status;
use crate::proto;
use crate::proto::form_service_server::FormService as FormRpc;

#[derive(Debug, Clone)]
pub struct FormApi {
    forms: FormService,
}

impl FormApi {
    pub fn new(forms: FormService) -> Self {
        Self { forms }
    }
}

#[tonic::async_trait]
impl FormRpc for FormApi {
    async fn create_form(
        &self,
        request: Request<proto::CreateFormRequest>,
    ) -> Result<Response<proto::CreateFormResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let draft = definition_from_proto("draft", request.draft).map_err(to_status)?;
        let form = self
            .forms
            .create_form(&caller, &request.code, draft)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::CreateFormResponse {
            form: Some(form_to_proto(form)),
        }))
    }

    async fn update_form_draft(
        &self,
        request: Request<proto::UpdateFormDraftRequest>,
    ) -> Result<Response<proto::UpdateFormDraftResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let code = name_id("name", &request.name, "forms").map_err(to_status)?;
        let draft = definition_from_proto("draft", request.draft).map_err(to_status)?;
        let form = self
            .forms
            .update_form_draft(&caller, code, draft)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::UpdateFormDraftResponse {
            form: Some(form_to_proto(form)),
        }))
    }

    async fn publish_form(
        &self,
        request: Request<proto::PublishFormRequest>,
    ) -> Result<Response<proto::PublishFormResponse>, Status> {
        let caller = caller(&request)?;
        let code = name_id("name", &request.get_ref().name, "forms").map_err(to_status)?;
        let version = self.forms.publish_form(&caller, code).await.map_err(to_status)?;
        Ok(Response::new(proto::PublishFormResponse {
            version: Some(form_version_to_proto(version)),
        }))
    }

    async fn get_form(
        &self,
        request: Request<proto::GetFormRequest>,
    ) -> Result<Response<proto::GetFormResponse>, Status> {
        let caller = caller(&request)?;
        let code = name_id("name", &request.get_ref().name, "forms").map_err(to_status)?;
        let form = self.forms.get_form(&caller, code).await.map_err(to_status)?;
        Ok(Response::new(proto::GetFormResponse {
            form: Some(form_to_proto(form)),
        }))
    }

    async fn list_forms(
        &self,
        request: Request<proto::ListFormsRequest>,
    ) -> Result<Response<proto::ListFormsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let page =
            PageRequest::parse(request.page_size, &request.page_token, DIRECTORY_PAGES).map_err(to_status)?;
        let page = self.forms.list_forms(&caller, &page).await.map_err(to_status)?;
        Ok(Response::new(proto::ListFormsResponse {
            forms: page.items.into_iter().map(form_to_proto).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_form_version(
        &self,
        request: Request<proto::GetFormVersionRequest>,
    ) -> Result<Response<proto::GetFormVersionResponse>, Status> {
        let caller = caller(&request)?;
        let (code, version) = form_version_name("name", &request.get_ref().name).map_err(to_status)?;
        let version = self
            .forms
            .get_form_version(&caller, &code, version)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::GetFormVersionResponse {
            version: Some(form_version_to_proto(version)),
        }))
    }
}
