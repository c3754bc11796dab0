//! Forms: the editable draft and its published, frozen versions.

use lienthong_domain::error::ResourceKind;
use lienthong_domain::form::{Form, FormDefinition, FormVersion};
use lienthong_domain::{Error, Result};
use time::OffsetDateTime;

use crate::conversion::{
    from_storage_json, from_storage_micros, from_storage_number, to_storage_json, to_storage_micros,
};
use crate::error::{DatabaseResultExt as _, database_failure, is_unique_violation};
use crate::numbered_query::NumberedQuery;
use crate::sql_store::{SqlStore, commit};

/// The columns of [`FormRow`], for every statement that reads a form.
macro_rules! form_columns {
    () => {
        "code, draft, latest_version, created_at, updated_at"
    };
}

/// The columns of [`FormVersionRow`], qualified because the latest versions
/// are read through a join with `forms`.
macro_rules! form_version_columns {
    () => {
        "form_versions.form_code, form_versions.version, form_versions.definition, form_versions.published_at"
    };
}

#[derive(sqlx::FromRow)]
struct FormRow {
    code: String,
    draft: String,
    latest_version: i64,
    created_at: i64,
    updated_at: i64,
}

impl FormRow {
    fn into_form(self) -> Result<Form> {
        Ok(Form {
            draft: from_storage_json(&self.draft)?,
            latest_version: from_storage_number(self.latest_version, "form version")?,
            created_at: from_storage_micros(self.created_at)?,
            updated_at: from_storage_micros(self.updated_at)?,
            code: self.code,
        })
    }
}

#[derive(sqlx::FromRow)]
struct FormVersionRow {
    form_code: String,
    version: i64,
    definition: String,
    published_at: i64,
}

impl FormVersionRow {
    fn into_form_version(self) -> Result<FormVersion> {
        Ok(FormVersion {
            version: from_storage_number(self.version, "form version")?,
            definition: from_storage_json(&self.definition)?,
            published_at: from_storage_micros(self.published_at)?,
            form_code: self.form_code,
        })
    }
}

/// What publishing reads back from the form it numbers.
#[derive(sqlx::FromRow)]
struct PublishedDraftRow {
    latest_version: i64,
    draft: String,
}

impl SqlStore {
    pub(crate) async fn insert_form_row(&self, form: &Form) -> Result<()> {
        let inserted = sqlx::query(
            "INSERT INTO forms (code, draft, latest_version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&form.code)
        .bind(to_storage_json(&form.draft)?)
        .bind(i64::from(form.latest_version))
        .bind(to_storage_micros(form.created_at)?)
        .bind(to_storage_micros(form.updated_at)?)
        .execute(self.writes())
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(error) if is_unique_violation(&error) => Err(Error::AlreadyExists {
                kind: ResourceKind::Form,
                name: form.code.clone(),
                reason: "the form code is taken; edit that form or choose another code".to_owned(),
            }),
            Err(error) => Err(database_failure("creating a form", &error)),
        }
    }

    pub(crate) async fn replace_form_draft(
        &self,
        code: &str,
        draft: &FormDefinition,
        at: OffsetDateTime,
    ) -> Result<Form> {
        sqlx::query_as::<_, FormRow>(concat!(
            "UPDATE forms SET draft = $1, updated_at = $2 WHERE code = $3 RETURNING ",
            form_columns!()
        ))
        .bind(to_storage_json(draft)?)
        .bind(to_storage_micros(at)?)
        .bind(code)
        .fetch_optional(self.writes())
        .await
        .or_database_failure("saving a form draft")?
        .ok_or_else(|| Error::not_found(ResourceKind::Form, code))?
        .into_form()
    }

    /// Numbers the version by incrementing `latest_version` in place: the
    /// update locks the form's row, so of two concurrent publications the
    /// second waits and takes the next number (both succeed, neither
    /// overwrites). The draft is read by the same statement, so the version
    /// freezes exactly the draft its number was taken with.
    pub(crate) async fn publish_form_draft(&self, code: &str, at: OffsetDateTime) -> Result<FormVersion> {
        let published_at = to_storage_micros(at)?;
        let mut transaction = self.begin_write().await?;
        let numbered = sqlx::query_as::<_, PublishedDraftRow>(
            "UPDATE forms SET latest_version = latest_version + 1, updated_at = $1 \
             WHERE code = $2 RETURNING latest_version, draft",
        )
        .bind(published_at)
        .bind(code)
        .fetch_optional(&mut *transaction)
        .await
        .or_database_failure("numbering a form version")?
        .ok_or_else(|| Error::not_found(ResourceKind::Form, code))?;
        let definition = from_storage_json(&numbered.draft)?;
        sqlx::query(
            "INSERT INTO form_versions (form_code, version, definition, owner_organ, published_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code)
        .bind(numbered.latest_version)
        .bind(&numbered.draft)
        .bind(&definition.owner_organ)
        .bind(published_at)
        .execute(&mut *transaction)
        .await
        .or_database_failure("publishing a form version")?;
        commit(transaction).await?;
        Ok(FormVersion {
            form_code: code.to_owned(),
            version: from_storage_number(numbered.latest_version, "form version")?,
            definition,
            published_at: from_storage_micros(published_at)?,
        })
    }

    pub(crate) async fn form_by_code(&self, code: &str) -> Result<Option<Form>> {
        let mut query = NumberedQuery::new(concat!("SELECT ", form_columns!(), " FROM forms"));
        query.push_condition("code = {}", code)?;
        Ok(self.fetch_forms(query).await?.pop())
    }

    pub(crate) async fn forms_page(&self, after_code: Option<&str>, limit: u32) -> Result<Vec<Form>> {
        let mut query = NumberedQuery::new(concat!("SELECT ", form_columns!(), " FROM forms"));
        if let Some(after_code) = after_code {
            query.push_condition("code > {}", after_code)?;
        }
        query.push_order_and_limit("code", limit);
        self.fetch_forms(query).await
    }

    async fn fetch_forms(&self, query: NumberedQuery) -> Result<Vec<Form>> {
        let (sql, arguments) = query.into_parts();
        sqlx::query_as_with::<_, FormRow, _>(sql, arguments)
            .fetch_all(&self.pool)
            .await
            .or_database_failure("reading forms")?
            .into_iter()
            .map(FormRow::into_form)
            .collect()
    }

    pub(crate) async fn form_version_by_number(
        &self,
        code: &str,
        version: u32,
    ) -> Result<Option<FormVersion>> {
        sqlx::query_as::<_, FormVersionRow>(concat!(
            "SELECT ",
            form_version_columns!(),
            " FROM form_versions WHERE form_code = $1 AND version = $2"
        ))
        .bind(code)
        .bind(i64::from(version))
        .fetch_optional(&self.pool)
        .await
        .or_database_failure("reading a form version")?
        .map(FormVersionRow::into_form_version)
        .transpose()
    }

    pub(crate) async fn latest_versions_of_published_forms(&self) -> Result<Vec<FormVersion>> {
        sqlx::query_as::<_, FormVersionRow>(concat!(
            "SELECT ",
            form_version_columns!(),
            " FROM form_versions JOIN forms \
             ON forms.code = form_versions.form_code AND forms.latest_version = form_versions.version \
             ORDER BY form_versions.form_code"
        ))
        .fetch_all(&self.pool)
        .await
        .or_database_failure("reading the latest form versions")?
        .into_iter()
        .map(FormVersionRow::into_form_version)
        .collect()
    }
}
