//! Localities (the city and its communes and wards) and the organs in them.
//!
//! A commune-level locality always has the same four organs, so they are
//! derived from the locality rather than listed by hand; city departments are
//! listed explicitly in [`city_organs`].

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Violations};

/// The political-administrative bloc of an organ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Bloc {
    Party,
    Council,
    Government,
    Front,
}

impl Bloc {
    pub const ALL: [Bloc; 4] = [Bloc::Party, Bloc::Council, Bloc::Government, Bloc::Front];

    pub fn as_str(self) -> &'static str {
        match self {
            Bloc::Party => "PARTY",
            Bloc::Council => "COUNCIL",
            Bloc::Government => "GOVERNMENT",
            Bloc::Front => "FRONT",
        }
    }

    pub fn parse(text: &str) -> Option<Bloc> {
        Bloc::ALL.into_iter().find(|bloc| bloc.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LocalityKind {
    City,
    Ward,
    Commune,
}

impl LocalityKind {
    pub const ALL: [LocalityKind; 3] = [LocalityKind::City, LocalityKind::Ward, LocalityKind::Commune];

    pub fn as_str(self) -> &'static str {
        match self {
            LocalityKind::City => "CITY",
            LocalityKind::Ward => "WARD",
            LocalityKind::Commune => "COMMUNE",
        }
    }

    pub fn parse(text: &str) -> Option<LocalityKind> {
        LocalityKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    pub fn is_commune_level(self) -> bool {
        matches!(self, LocalityKind::Ward | LocalityKind::Commune)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrganKind {
    PartyCommittee,
    PeoplesCouncil,
    PeoplesCommittee,
    FrontCommittee,
    Department,
}

impl OrganKind {
    pub const ALL: [OrganKind; 5] = [
        OrganKind::PartyCommittee,
        OrganKind::PeoplesCouncil,
        OrganKind::PeoplesCommittee,
        OrganKind::FrontCommittee,
        OrganKind::Department,
    ];

    /// The four organs every commune-level locality has.
    pub const COMMUNE_ORGANS: [OrganKind; 4] = [
        OrganKind::PartyCommittee,
        OrganKind::PeoplesCouncil,
        OrganKind::PeoplesCommittee,
        OrganKind::FrontCommittee,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrganKind::PartyCommittee => "PARTY_COMMITTEE",
            OrganKind::PeoplesCouncil => "PEOPLES_COUNCIL",
            OrganKind::PeoplesCommittee => "PEOPLES_COMMITTEE",
            OrganKind::FrontCommittee => "FRONT_COMMITTEE",
            OrganKind::Department => "DEPARTMENT",
        }
    }

    pub fn parse(text: &str) -> Option<OrganKind> {
        OrganKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The bloc of a non-department organ; departments carry their own.
    fn default_bloc(self) -> Bloc {
        match self {
            OrganKind::PartyCommittee => Bloc::Party,
            OrganKind::PeoplesCouncil => Bloc::Council,
            OrganKind::PeoplesCommittee | OrganKind::Department => Bloc::Government,
            OrganKind::FrontCommittee => Bloc::Front,
        }
    }

    /// Suffix of the organ id, e.g. `00004-peoples-committee`.
    fn id_suffix(self) -> &'static str {
        match self {
            OrganKind::PartyCommittee => "party-committee",
            OrganKind::PeoplesCouncil => "peoples-council",
            OrganKind::PeoplesCommittee => "peoples-committee",
            OrganKind::FrontCommittee => "front-committee",
            OrganKind::Department => "department",
        }
    }

    /// Vietnamese name prefix, e.g. "Ủy ban nhân dân" + " Phường Ba Đình".
    fn vietnamese_title(self) -> &'static str {
        match self {
            OrganKind::PartyCommittee => "Đảng ủy",
            OrganKind::PeoplesCouncil => "Hội đồng nhân dân",
            OrganKind::PeoplesCommittee => "Ủy ban nhân dân",
            OrganKind::FrontCommittee => "Ủy ban Mặt trận Tổ quốc Việt Nam",
            OrganKind::Department => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locality {
    pub code: String,
    pub name: String,
    pub kind: LocalityKind,
    /// Empty for a province-level locality.
    pub parent_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organ {
    pub id: String,
    pub name: String,
    pub kind: OrganKind,
    pub bloc: Bloc,
    pub locality_code: String,
}

/// Whether `code` is a national administrative unit code: 2 digits for a
/// province, 5 for a commune or ward.
pub fn is_locality_code(code: &str) -> bool {
    matches!(code.len(), 2 | 5) && code.bytes().all(|byte| byte.is_ascii_digit())
}

/// Whether `id` is a well-formed organ id: lower-case ASCII letters, digits and
/// hyphens, 3 to 64 characters.
pub fn is_organ_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// The four standard organs of a commune-level locality.
pub fn commune_organs(locality: &Locality) -> Vec<Organ> {
    OrganKind::COMMUNE_ORGANS
        .into_iter()
        .map(|kind| Organ {
            id: format!("{}-{}", locality.code, kind.id_suffix()),
            name: format!("{} {}", kind.vietnamese_title(), locality.name),
            kind,
            bloc: kind.default_bloc(),
            locality_code: locality.code.clone(),
        })
        .collect()
}

/// Hanoi, the province-level locality.
pub fn hanoi() -> Locality {
    Locality {
        code: "01".to_owned(),
        name: "Thành phố Hà Nội".to_owned(),
        kind: LocalityKind::City,
        parent_code: String::new(),
    }
}

/// The city's own organs: its Party committee, People's Council, People's
/// Committee and Front committee, and the departments that own forms and
/// answer recommendations.
pub fn city_organs(city: &Locality) -> Vec<Organ> {
    let mut organs: Vec<Organ> = OrganKind::COMMUNE_ORGANS
        .into_iter()
        .map(|kind| Organ {
            id: format!("{}-{}", city.code, kind.id_suffix()),
            name: match kind {
                OrganKind::PartyCommittee => format!("Thành ủy {}", strip_city_prefix(&city.name)),
                _ => format!("{} {}", kind.vietnamese_title(), city.name),
            },
            kind,
            bloc: kind.default_bloc(),
            locality_code: city.code.clone(),
        })
        .collect();
    let departments = [
        ("home-affairs", "Sở Nội vụ", Bloc::Government),
        ("justice", "Sở Tư pháp", Bloc::Government),
        ("finance", "Sở Tài chính", Bloc::Government),
        ("education", "Sở Giáo dục và Đào tạo", Bloc::Government),
        ("science-technology", "Sở Khoa học và Công nghệ", Bloc::Government),
        (
            "public-service-centre",
            "Trung tâm Phục vụ hành chính công",
            Bloc::Government,
        ),
        (
            "city-office",
            "Văn phòng Ủy ban nhân dân Thành phố",
            Bloc::Government,
        ),
        ("party-organisation", "Ban Tổ chức Thành ủy", Bloc::Party),
    ];
    organs.extend(departments.into_iter().map(|(slug, name, bloc)| Organ {
        id: format!("{}-{slug}", city.code),
        name: name.to_owned(),
        kind: OrganKind::Department,
        bloc,
        locality_code: city.code.clone(),
    }));
    organs
}

fn strip_city_prefix(name: &str) -> &str {
    name.strip_prefix("Thành phố ").unwrap_or(name)
}

/// A directory as loaded from a file: localities and every organ in them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    pub localities: Vec<Locality>,
    pub organs: Vec<Organ>,
}

/// Parses a directory of communes and wards from TSV or CSV text with a header
/// row naming at least `code`, `full_name` and `province_code` (the format of
/// the national list). The kind follows the name: "Phường …" is a ward, "Xã …"
/// a commune. Each province named gets a city-level locality and city organs
/// only when it is Hanoi ("01"); other provinces get a plain province entry and
/// their commune organs, so another province can use the system.
pub fn parse_directory(text: &str) -> Result<Directory> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(Error::invalid("file", "the directory file is empty"));
    };
    let separator = if header.contains('\t') { '\t' } else { ',' };
    let columns: Vec<&str> = header.split(separator).map(str::trim).collect();
    let column = |name: &str| columns.iter().position(|column| *column == name);
    let (Some(code_at), Some(name_at), Some(province_at)) =
        (column("code"), column("full_name"), column("province_code"))
    else {
        return Err(Error::invalid(
            "file",
            "the header must name the columns code, full_name and province_code",
        ));
    };

    let mut violations = Violations::new();
    let mut directory = Directory::default();
    let mut provinces: Vec<String> = Vec::new();
    for (index, line) in lines {
        let line_number = index + 1;
        let cells: Vec<&str> = line.split(separator).map(str::trim).collect();
        let cell = |at: usize| cells.get(at).copied().unwrap_or("");
        let (code, name, province) = (cell(code_at), cell(name_at), cell(province_at));
        let field = format!("line {line_number}");
        if !is_locality_code(code) || code.len() != 5 {
            violations.add(&field, format!("code {code:?} is not a 5-digit commune code"));
            continue;
        }
        if !is_locality_code(province) || province.len() != 2 {
            violations.add(
                &field,
                format!("province_code {province:?} is not a 2-digit code"),
            );
            continue;
        }
        let kind = if name.starts_with("Phường") {
            LocalityKind::Ward
        } else if name.starts_with("Xã") || name.starts_with("Đặc khu") {
            LocalityKind::Commune
        } else {
            violations.add(&field, format!("cannot tell a ward from a commune in {name:?}"));
            continue;
        };
        if directory.localities.iter().any(|locality| locality.code == code) {
            violations.add(&field, format!("code {code} appears twice"));
            continue;
        }
        if !provinces.iter().any(|known| known == province) {
            provinces.push(province.to_owned());
        }
        let locality = Locality {
            code: code.to_owned(),
            name: name.to_owned(),
            kind,
            parent_code: province.to_owned(),
        };
        directory.organs.extend(commune_organs(&locality));
        directory.localities.push(locality);
    }
    violations.into_result()?;
    if directory.localities.is_empty() {
        return Err(Error::invalid("file", "the directory file lists no locality"));
    }

    for province in provinces {
        let city = if province == "01" {
            hanoi()
        } else {
            Locality {
                code: province.clone(),
                name: format!("Tỉnh/thành phố {province}"),
                kind: LocalityKind::City,
                parent_code: String::new(),
            }
        };
        directory.organs.extend(city_organs(&city));
        directory.localities.push(city);
    }
    directory
        .localities
        .sort_by(|left, right| left.code.cmp(&right.code));
    directory.organs.sort_by(|left, right| left.id.cmp(&right.id));
    Ok(directory)
}

/// The Hanoi directory shipped with lienthong (126 communes and wards from July 2025).
pub fn hanoi_directory() -> Directory {
    parse_directory(include_str!("../../../data/hanoi-communes-2025.tsv"))
        .expect("the bundled directory file is valid; a unit test guards it")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_hanoi_directory_has_126_communes_with_four_organs_each() {
        let directory = hanoi_directory();
        let wards = directory
            .localities
            .iter()
            .filter(|l| l.kind == LocalityKind::Ward)
            .count();
        let communes = directory
            .localities
            .iter()
            .filter(|l| l.kind == LocalityKind::Commune)
            .count();
        assert_eq!((wards, communes), (51, 75));
        assert!(
            directory
                .localities
                .iter()
                .any(|l| l.code == "01" && l.kind == LocalityKind::City)
        );
        let ba_dinh: Vec<_> = directory
            .organs
            .iter()
            .filter(|o| o.locality_code == "00004")
            .collect();
        assert_eq!(ba_dinh.len(), 4);
        let committee = directory
            .organs
            .iter()
            .find(|o| o.id == "00004-peoples-committee")
            .expect("Ba Đình People's Committee");
        assert_eq!(committee.bloc, Bloc::Government);
        assert_eq!(committee.name, "Ủy ban nhân dân Phường Ba Đình");
        let organisation = directory
            .organs
            .iter()
            .find(|o| o.id == "01-party-organisation")
            .expect("City Party Organisation Committee");
        assert_eq!(
            (organisation.kind, organisation.bloc),
            (OrganKind::Department, Bloc::Party)
        );
        assert!(directory.organs.iter().all(|organ| is_organ_id(&organ.id)));
    }

    #[test]
    fn csv_directory_is_accepted_and_bad_lines_are_all_reported() {
        let parsed =
            parse_directory("code,full_name,province_code\n00004,Phường Ba Đình,01\n").expect("valid csv");
        assert_eq!(parsed.localities.len(), 2);

        let error = parse_directory(
            "code\tfull_name\tprovince_code\n4\tPhường A\t01\n00005\tThôn B\t01\n00004\tXã C\t1\n",
        )
        .expect_err("three bad lines");
        let Error::InvalidArgument(violations) = error else {
            panic!("expected InvalidArgument");
        };
        assert_eq!(violations.len(), 3);
        assert_eq!(violations[0].field, "line 2");
    }

    #[test]
    fn header_without_required_columns_is_rejected() {
        assert!(parse_directory("id,name\n1,a\n").is_err());
        assert!(parse_directory("").is_err());
    }
}
