//! Localities and organs: the directory import (an upsert that counts what
//! changed) and the directory reads.

use std::collections::HashMap;

use lienthong_domain::Result;
use lienthong_domain::directory::{Bloc, Directory, Locality, LocalityKind, Organ, OrganKind};
use lienthong_domain::store::{ImportSummary, LocalityFilter, OrganFilter};
use sqlx::{Any, Executor};

use crate::conversion::from_storage_name;
use crate::error::DatabaseResultExt as _;
use crate::numbered_query::NumberedQuery;
use crate::sql_store::{SqlStore, commit};

const LOCALITY_SELECT: &str = "SELECT code, name, kind, parent_code FROM localities";
const ORGAN_SELECT: &str = "SELECT id, name, kind, bloc, locality_code FROM organs";

#[derive(sqlx::FromRow)]
struct LocalityRow {
    code: String,
    name: String,
    kind: String,
    parent_code: String,
}

impl LocalityRow {
    fn into_locality(self) -> Result<Locality> {
        Ok(Locality {
            kind: from_storage_name(&self.kind, LocalityKind::parse, "locality kind")?,
            code: self.code,
            name: self.name,
            parent_code: self.parent_code,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrganRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) bloc: String,
    pub(crate) locality_code: String,
}

impl OrganRow {
    pub(crate) fn into_organ(self) -> Result<Organ> {
        Ok(Organ {
            kind: from_storage_name(&self.kind, OrganKind::parse, "organ kind")?,
            bloc: from_storage_name(&self.bloc, Bloc::parse, "bloc")?,
            id: self.id,
            name: self.name,
            locality_code: self.locality_code,
        })
    }
}

async fn fetch_localities<'connection>(
    executor: impl Executor<'connection, Database = Any>,
    query: NumberedQuery,
) -> Result<Vec<Locality>> {
    let (sql, arguments) = query.into_parts();
    sqlx::query_as_with::<_, LocalityRow, _>(sql, arguments)
        .fetch_all(executor)
        .await
        .or_database_failure("reading localities")?
        .into_iter()
        .map(LocalityRow::into_locality)
        .collect()
}

async fn fetch_organs<'connection>(
    executor: impl Executor<'connection, Database = Any>,
    query: NumberedQuery,
) -> Result<Vec<Organ>> {
    let (sql, arguments) = query.into_parts();
    sqlx::query_as_with::<_, OrganRow, _>(sql, arguments)
        .fetch_all(executor)
        .await
        .or_database_failure("reading organs")?
        .into_iter()
        .map(OrganRow::into_organ)
        .collect()
}

/// Whether an import adds a row, changes it, or finds it as it is.
fn classify_import<T: PartialEq>(stored: Option<&T>, imported: &T) -> Option<ImportChange> {
    match stored {
        None => Some(ImportChange::Added),
        Some(stored) if stored == imported => None,
        Some(_) => Some(ImportChange::Updated),
    }
}

enum ImportChange {
    Added,
    Updated,
}

impl SqlStore {
    /// Reads what is stored first, in the same transaction, so only rows that
    /// differ are written and the summary says exactly what changed. The
    /// writes are upserts anyway, so a concurrent import cannot make this one
    /// fail on a key another inserted meanwhile.
    pub(crate) async fn import_directory_rows(&self, directory: &Directory) -> Result<ImportSummary> {
        let mut transaction = self.begin_write().await?;
        let mut summary = ImportSummary::default();

        let stored_localities: HashMap<String, Locality> =
            fetch_localities(&mut *transaction, NumberedQuery::new(LOCALITY_SELECT))
                .await?
                .into_iter()
                .map(|locality| (locality.code.clone(), locality))
                .collect();
        for locality in &directory.localities {
            match classify_import(stored_localities.get(&locality.code), locality) {
                None => continue,
                Some(ImportChange::Added) => summary.localities_added += 1,
                Some(ImportChange::Updated) => summary.localities_updated += 1,
            }
            sqlx::query(
                "INSERT INTO localities (code, name, kind, parent_code) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (code) DO UPDATE SET \
                 name = excluded.name, kind = excluded.kind, parent_code = excluded.parent_code",
            )
            .bind(&locality.code)
            .bind(&locality.name)
            .bind(locality.kind.as_str())
            .bind(&locality.parent_code)
            .execute(&mut *transaction)
            .await
            .or_database_failure("importing a locality")?;
        }

        // After the localities, which the organs reference.
        let stored_organs: HashMap<String, Organ> =
            fetch_organs(&mut *transaction, NumberedQuery::new(ORGAN_SELECT))
                .await?
                .into_iter()
                .map(|organ| (organ.id.clone(), organ))
                .collect();
        for organ in &directory.organs {
            match classify_import(stored_organs.get(&organ.id), organ) {
                None => continue,
                Some(ImportChange::Added) => summary.organs_added += 1,
                Some(ImportChange::Updated) => summary.organs_updated += 1,
            }
            sqlx::query(
                "INSERT INTO organs (id, name, kind, bloc, locality_code) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
                 bloc = excluded.bloc, locality_code = excluded.locality_code",
            )
            .bind(&organ.id)
            .bind(&organ.name)
            .bind(organ.kind.as_str())
            .bind(organ.bloc.as_str())
            .bind(&organ.locality_code)
            .execute(&mut *transaction)
            .await
            .or_database_failure("importing an organ")?;
        }

        commit(transaction).await?;
        if summary.organs_updated > 0 {
            self.note_principal_change();
        }
        Ok(summary)
    }

    pub(crate) async fn locality_by_code(&self, code: &str) -> Result<Option<Locality>> {
        let mut query = NumberedQuery::new(LOCALITY_SELECT);
        query.push_condition("code = {}", code)?;
        Ok(fetch_localities(&self.pool, query).await?.pop())
    }

    pub(crate) async fn localities_page(
        &self,
        filter: &LocalityFilter,
        after_code: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Locality>> {
        let mut query = NumberedQuery::new(LOCALITY_SELECT);
        if let Some(kind) = filter.kind {
            query.push_condition("kind = {}", kind.as_str())?;
        }
        if let Some(parent_code) = &filter.parent_code {
            query.push_condition("parent_code = {}", parent_code.as_str())?;
        }
        if let Some(after_code) = after_code {
            query.push_condition("code > {}", after_code)?;
        }
        query.push_order_and_limit("code", limit);
        fetch_localities(&self.pool, query).await
    }

    pub(crate) async fn organ_by_id(&self, id: &str) -> Result<Option<Organ>> {
        let mut query = NumberedQuery::new(ORGAN_SELECT);
        query.push_condition("id = {}", id)?;
        Ok(fetch_organs(&self.pool, query).await?.pop())
    }

    pub(crate) async fn organs_page(
        &self,
        filter: &OrganFilter,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Organ>> {
        let mut query = NumberedQuery::new(ORGAN_SELECT);
        if let Some(locality_code) = &filter.locality_code {
            query.push_condition("locality_code = {}", locality_code.as_str())?;
        }
        if let Some(bloc) = filter.bloc {
            query.push_condition("bloc = {}", bloc.as_str())?;
        }
        if let Some(kind) = filter.kind {
            query.push_condition("kind = {}", kind.as_str())?;
        }
        if let Some(after_id) = after_id {
            query.push_condition("id > {}", after_id)?;
        }
        query.push_order_and_limit("id", limit);
        fetch_organs(&self.pool, query).await
    }

    pub(crate) async fn commune_level_organs_of_kinds(&self, kinds: &[OrganKind]) -> Result<Vec<Organ>> {
        if kinds.is_empty() {
            // `kind IN ()` is not SQL; no kind means no organ.
            return Ok(Vec::new());
        }
        let commune_level_kinds = LocalityKind::ALL
            .into_iter()
            .filter(|kind| kind.is_commune_level())
            .map(LocalityKind::as_str);
        let mut query = NumberedQuery::new(ORGAN_SELECT);
        query
            .push_condition_in(
                "locality_code IN (SELECT code FROM localities WHERE kind IN ({}))",
                commune_level_kinds,
            )?
            .push_condition_in("kind IN ({})", kinds.iter().map(|kind| kind.as_str()))?
            .push_sql(" ORDER BY id");
        fetch_organs(&self.pool, query).await
    }
}
