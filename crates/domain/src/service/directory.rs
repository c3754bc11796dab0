//! Reading the directory, and importing one.

use std::sync::Arc;

use crate::auth::Principal;
use crate::directory::{Directory, Locality, Organ};
use crate::error::{Error, ResourceKind, Result};
use crate::paging::{Page, PageRequest};
use crate::store::{ImportSummary, LocalityFilter, OrganFilter, Store};

#[derive(Clone, Debug)]
pub struct DirectoryService {
    store: Arc<dyn Store>,
}

impl DirectoryService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Loads or updates localities and organs; administrators only, so it is
    /// reached from the command line on the database, not over the network.
    pub async fn import(&self, directory: &Directory) -> Result<ImportSummary> {
        self.store.import_directory(directory).await
    }

    pub async fn list_localities(
        &self,
        _caller: &Principal,
        filter: &LocalityFilter,
        page: &PageRequest,
    ) -> Result<Page<Locality>> {
        let fetched = self
            .store
            .list_localities(filter, page.after.as_deref(), page.fetch_limit())
            .await?;
        Ok(Page::from_fetched(fetched, page, |locality| {
            locality.code.clone()
        }))
    }

    pub async fn get_locality(&self, _caller: &Principal, code: &str) -> Result<Locality> {
        self.store
            .get_locality(code)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::Locality, code))
    }

    pub async fn list_organs(
        &self,
        _caller: &Principal,
        filter: &OrganFilter,
        page: &PageRequest,
    ) -> Result<Page<Organ>> {
        let fetched = self
            .store
            .list_organs(filter, page.after.as_deref(), page.fetch_limit())
            .await?;
        Ok(Page::from_fetched(fetched, page, |organ| organ.id.clone()))
    }

    pub async fn get_organ(&self, _caller: &Principal, id: &str) -> Result<Organ> {
        self.store
            .get_organ(id)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::Organ, id))
    }
}
