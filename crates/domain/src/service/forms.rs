//! Creating, editing, publishing and reading report forms.

use std::sync::Arc;

use super::Clock;
use crate::auth::{Principal, Role};
use crate::directory::OrganKind;
use crate::error::{Error, ResourceKind, Result, Violations};
use crate::form::{Form, FormDefinition, FormVersion, is_form_code};
use crate::paging::{Page, PageRequest};
use crate::store::Store;

#[derive(Clone)]
pub struct FormService {
    store: Arc<dyn Store>,
    clock: Clock,
}

impl std::fmt::Debug for FormService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormService")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl FormService {
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Self {
        Self { store, clock }
    }

    pub async fn create_form(&self, caller: &Principal, code: &str, draft: FormDefinition) -> Result<Form> {
        require_admin(caller)?;
        let mut violations = Violations::new();
        if !is_form_code(code) {
            violations.add(
                "code",
                "2 to 64 lower-case letters, digits and hyphens, starting with a letter",
            );
        }
        violations.extend(self.check_definition(&draft).await?);
        violations.into_result()?;
        let now = (self.clock)();
        let form = Form {
            code: code.to_owned(),
            draft,
            latest_version: 0,
            created_at: now,
            updated_at: now,
        };
        self.store.create_form(&form).await?;
        Ok(form)
    }

    pub async fn update_form_draft(
        &self,
        caller: &Principal,
        code: &str,
        draft: FormDefinition,
    ) -> Result<Form> {
        require_admin(caller)?;
        self.check_definition(&draft).await?.into_result()?;
        self.store.update_form_draft(code, &draft, (self.clock)()).await
    }

    pub async fn publish_form(&self, caller: &Principal, code: &str) -> Result<FormVersion> {
        require_admin(caller)?;
        let form = self.get_form(caller, code).await?;
        // The draft was valid when saved, but the owner organ may have been
        // re-imported since; publishing freezes it, so check again.
        self.check_definition(&form.draft).await?.into_result()?;
        self.store.publish_form(code, (self.clock)()).await
    }

    pub async fn get_form(&self, _caller: &Principal, code: &str) -> Result<Form> {
        self.store
            .get_form(code)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::Form, code))
    }

    pub async fn list_forms(&self, _caller: &Principal, page: &PageRequest) -> Result<Page<Form>> {
        let fetched = self
            .store
            .list_forms(page.after.as_deref(), page.fetch_limit())
            .await?;
        Ok(Page::from_fetched(fetched, page, |form| form.code.clone()))
    }

    pub async fn get_form_version(
        &self,
        _caller: &Principal,
        code: &str,
        version: u32,
    ) -> Result<FormVersion> {
        self.store.get_form_version(code, version).await?.ok_or_else(|| {
            Error::not_found(
                ResourceKind::FormVersion,
                format!("forms/{code}/versions/{version}"),
            )
        })
    }

    async fn check_definition(&self, draft: &FormDefinition) -> Result<Violations> {
        let mut violations = draft.validate("draft");
        match self.store.get_organ(&draft.owner_organ).await? {
            Some(owner) if owner.kind == OrganKind::Department => {}
            Some(_) => violations.add(
                "draft.owner_organ",
                format!("{} is not a department", draft.owner_organ),
            ),
            None => violations.add("draft.owner_organ", format!("no organ {:?}", draft.owner_organ)),
        }
        Ok(violations)
    }
}

fn require_admin(caller: &Principal) -> Result<()> {
    if caller.has(Role::Admin) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "{} may not manage forms; the ADMIN role is needed",
            caller.describe()
        )))
    }
}
