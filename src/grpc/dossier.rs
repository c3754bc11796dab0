//! `lienthong.v1.DossierService`.

use lienthong_domain::dossier::{Dossier, Evidence, Inclusion};
use lienthong_domain::service::{DossierQuery, DossierService};
use tonic::{Request, Response, Status};

use super::caller;
use super::convert::ranked_cluster_to_proto;
use super::status::to_status;
use crate::proto;
use crate::proto::dossier_service_server::DossierService as DossierRpc;

#[derive(Debug, Clone)]
pub struct DossierApi {
    dossiers: DossierService,
}

impl DossierApi {
    pub fn new(dossiers: DossierService) -> Self {
        Self { dossiers }
    }
}

fn inclusion_to_proto(inclusion: Inclusion) -> proto::DossierInclusion {
    match inclusion {
        Inclusion::Escalated => proto::DossierInclusion::Escalated,
        Inclusion::AddressedToCentral => proto::DossierInclusion::AddressedToCentral,
        Inclusion::WidelyRaised => proto::DossierInclusion::WidelyRaised,
    }
}

fn evidence_to_proto(evidence: Evidence) -> proto::DossierEvidence {
    let count = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
    proto::DossierEvidence {
        form_code: evidence.form_code,
        form_title: evidence.form_title,
        period: evidence.period.to_string(),
        indicator_code: evidence.indicator_code,
        indicator_name: evidence.indicator_name,
        unit: evidence.unit,
        value: evidence.value,
        contributing_reports: count(evidence.contributing_reports),
        missing_reports: count(evidence.missing_reports),
    }
}

fn dossier_to_proto(dossier: Dossier) -> proto::BuildRecommendationDossierResponse {
    let markdown = dossier.to_markdown();
    let distinct_localities = i32::try_from(dossier.distinct_localities()).unwrap_or(i32::MAX);
    proto::BuildRecommendationDossierResponse {
        matters: dossier
            .entries
            .into_iter()
            .map(|entry| proto::DossierMatter {
                ranked: Some(ranked_cluster_to_proto(entry.ranked)),
                inclusion: inclusion_to_proto(entry.inclusion).into(),
                localities: entry
                    .localities
                    .into_iter()
                    .map(|locality| proto::DossierLocality {
                        code: locality.code,
                        name: locality.name,
                    })
                    .collect(),
                evidence: entry.evidence.into_iter().map(evidence_to_proto).collect(),
            })
            .collect(),
        distinct_localities,
        markdown,
    }
}

#[tonic::async_trait]
impl DossierRpc for DossierApi {
    async fn build_recommendation_dossier(
        &self,
        request: Request<proto::BuildRecommendationDossierRequest>,
    ) -> Result<Response<proto::BuildRecommendationDossierResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let query = DossierQuery {
            from_period: request.from_period,
            to_period: request.to_period,
            min_distinct_localities: request.min_distinct_localities,
            topics: request.topics,
        };
        let dossier = self.dossiers.build(&caller, &query).await.map_err(to_status)?;
        Ok(Response::new(dossier_to_proto(dossier)))
    }
}
