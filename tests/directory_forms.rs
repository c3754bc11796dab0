//! End-to-end: the directory and report forms.

mod common;

use common::*;
use lienthong::proto;
use lienthong_domain::auth::Role;
use tonic::Code;

#[tokio::test]
async fn directory_lists_pages_and_filters() {
    let server = TestServer::start().await;
    let token = server.token(WARD, &[Role::Submitter]).await;
    let mut directory = server.directory(Some(&token)).await;

    let mut codes = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = directory
            .list_localities(proto::ListLocalitiesRequest {
                page_size: 50,
                page_token,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        codes.extend(page.localities.into_iter().map(|locality| locality.code));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(codes.len(), 127, "126 communes and wards plus the city");
    assert!(codes.windows(2).all(|pair| pair[0] < pair[1]), "code order");

    let wards = directory
        .list_localities(proto::ListLocalitiesRequest {
            kind: proto::LocalityKind::Ward.into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .localities;
    assert_eq!(wards.len(), 51);

    let ba_dinh = directory
        .get_locality(proto::GetLocalityRequest {
            name: "localities/00004".to_owned(),
        })
        .await
        .expect("get")
        .into_inner()
        .locality
        .expect("locality");
    assert_eq!(ba_dinh.display_name, "Phường Ba Đình");
    assert_eq!(ba_dinh.kind(), proto::LocalityKind::Ward);

    let organs = directory
        .list_organs(proto::ListOrgansRequest {
            locality_code: "00004".to_owned(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .organs;
    assert_eq!(organs.len(), 4);
    let party_departments = directory
        .list_organs(proto::ListOrgansRequest {
            bloc: proto::Bloc::Party.into(),
            kind: proto::OrganKind::Department.into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .organs;
    assert_eq!(
        party_departments
            .iter()
            .map(|organ| organ.id.as_str())
            .collect::<Vec<_>>(),
        ["01-party-organisation"]
    );

    for (name, code) in [
        ("localities/99999", Code::NotFound),
        ("organs/x", Code::InvalidArgument),
    ] {
        let status = directory
            .get_locality(proto::GetLocalityRequest {
                name: name.to_owned(),
            })
            .await
            .expect_err("refused");
        assert_eq!(status.code(), code, "{name}");
    }
    let status = directory
        .get_organ(proto::GetOrganRequest {
            name: "organs/00004-nothing".to_owned(),
        })
        .await
        .expect_err("unknown organ");
    assert_eq!(status.code(), Code::NotFound);
}

fn simple_form() -> proto::FormDefinition {
    proto::FormDefinition {
        title: "Kiểm tra".to_owned(),
        description: String::new(),
        owner_organ: "01-justice".to_owned(),
        periodicity: proto::Periodicity::Quarterly.into(),
        window_rule: proto::WindowRule::Decree09.into(),
        deadline_days_after_cutoff: 10,
        reporting_organ_kinds: vec![proto::OrganKind::PeoplesCouncil.into()],
        first_period: "2025-Q3".to_owned(),
        indicators: vec![proto::Indicator {
            code: "resolutions_adopted".to_owned(),
            display_name: "Nghị quyết được thông qua".to_owned(),
            unit: "nghị quyết".to_owned(),
            value_type: proto::ValueType::Integer.into(),
            aggregation: proto::Aggregation::Sum.into(),
            required: true,
            min: "0".to_owned(),
            ..Default::default()
        }],
        rules: Vec::new(),
    }
}

#[tokio::test]
async fn forms_are_drafted_published_and_versioned() {
    let server = TestServer::start().await;
    let mut admin = server
        .forms(&server.token(ADMIN_ORGAN, &[Role::Admin]).await)
        .await;
    let created = admin
        .create_form(proto::CreateFormRequest {
            code: "council-quarterly".to_owned(),
            draft: Some(simple_form()),
        })
        .await
        .expect("created")
        .into_inner()
        .form
        .expect("form");
    assert_eq!(created.latest_version, 0);

    let status = admin
        .create_form(proto::CreateFormRequest {
            code: "council-quarterly".to_owned(),
            draft: Some(simple_form()),
        })
        .await
        .expect_err("duplicate");
    assert_eq!(status.code(), Code::AlreadyExists);

    // Reports cannot follow a form before it is published.
    let mut council = server.submitter("00004-peoples-council").await;
    let status = council
        .submit_report(proto::SubmitReportRequest {
            organ: "00004-peoples-council".to_owned(),
            form_code: "council-quarterly".to_owned(),
            period: "2025-Q3".to_owned(),
            values: vec![integer("resolutions_adopted", 4)],
            request_id: "early".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("unpublished");
    assert_eq!(status.code(), Code::FailedPrecondition);

    let v1 = admin
        .publish_form(proto::PublishFormRequest {
            name: "forms/council-quarterly".to_owned(),
        })
        .await
        .expect("published")
        .into_inner()
        .version
        .expect("version");
    assert_eq!(v1.name, "forms/council-quarterly/versions/1");

    let mut changed = simple_form();
    changed.indicators[0].max = "50".to_owned();
    admin
        .update_form_draft(proto::UpdateFormDraftRequest {
            name: "forms/council-quarterly".to_owned(),
            draft: Some(changed),
        })
        .await
        .expect("draft updated");
    let v2 = admin
        .publish_form(proto::PublishFormRequest {
            name: "forms/council-quarterly".to_owned(),
        })
        .await
        .expect("published")
        .into_inner()
        .version
        .expect("version");
    assert_eq!(v2.version, 2);

    // Version 1 is unchanged.
    let v1_again = admin
        .get_form_version(proto::GetFormVersionRequest {
            name: "forms/council-quarterly/versions/1".to_owned(),
        })
        .await
        .expect("get")
        .into_inner()
        .version
        .expect("version");
    assert_eq!(v1_again.definition, v1.definition);
    assert_eq!(v1_again.definition.expect("definition").indicators[0].max, "");

    // Reports name the version they follow.
    let revision = council
        .submit_report(proto::SubmitReportRequest {
            organ: "00004-peoples-council".to_owned(),
            form_code: "council-quarterly".to_owned(),
            form_version: 1,
            period: "2025-Q3".to_owned(),
            values: vec![integer("resolutions_adopted", 60)],
            request_id: "v1".to_owned(),
            ..Default::default()
        })
        .await
        .expect("valid under version 1")
        .into_inner()
        .revision
        .expect("revision");
    assert_eq!(revision.form_version, 1);

    let listed = admin
        .list_forms(proto::ListFormsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .forms;
    let codes: Vec<&str> = listed.iter().map(|form| form.code.as_str()).collect();
    assert_eq!(codes, ["council-quarterly", "staffing-quarterly", "tthc-monthly"]);
}

#[tokio::test]
async fn invalid_form_definitions_list_every_problem() {
    let server = TestServer::start().await;
    let mut admin = server
        .forms(&server.token(ADMIN_ORGAN, &[Role::Admin]).await)
        .await;
    let mut draft = simple_form();
    draft.title = String::new();
    draft.owner_organ = "00004-peoples-committee".to_owned();
    draft.first_period = "2025-07".to_owned();
    draft.indicators.push(proto::Indicator {
        code: "Bad Code".to_owned(),
        display_name: "x".to_owned(),
        value_type: proto::ValueType::Integer.into(),
        aggregation: proto::Aggregation::Sum.into(),
        ..Default::default()
    });
    let status = admin
        .create_form(proto::CreateFormRequest {
            code: "BAD".to_owned(),
            draft: Some(draft),
        })
        .await
        .expect_err("invalid");
    let fields: Vec<String> = field_violations(&status)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    for expected in [
        "code",
        "draft.title",
        "draft.owner_organ",
        "draft.first_period",
        "draft.indicators[1].code",
    ] {
        assert!(
            fields.iter().any(|field| field == expected),
            "{expected} missing from {fields:?}"
        );
    }

    // Shape errors (unset enums, bad decimals) are reported together too.
    let mut draft = simple_form();
    draft.periodicity = 0;
    draft.indicators[0].min = "zero".to_owned();
    draft.indicators[0].value_type = 0;
    let status = admin
        .create_form(proto::CreateFormRequest {
            code: "shape".to_owned(),
            draft: Some(draft),
        })
        .await
        .expect_err("invalid");
    assert_eq!(
        field_violations(&status).len(),
        3,
        "{:?}",
        field_violations(&status)
    );

    let status = admin
        .get_form(proto::GetFormRequest {
            name: "forms/none".to_owned(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
}
