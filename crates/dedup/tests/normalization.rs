//! Normalisation through the public API: Unicode forms, tone placement,
//! case, abbreviations, openings, folded text, idempotence, and hashes that
//! must never change between processes, machines or Rust versions.

use std::collections::HashMap;
use std::sync::LazyLock;

use lienthong_dedup::{Analysis, CorpusStats, Engine, NORM_VERSION};
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

/// Document frequencies over a handful of analyses, for similarity checks.
struct Fixture {
    frequencies: HashMap<String, u64>,
    documents: u64,
}

impl Fixture {
    fn new(analyses: &[&Analysis]) -> Fixture {
        let mut frequencies = HashMap::new();
        for analysis in analyses {
            for term in &analysis.terms {
                *frequencies.entry(term.clone()).or_insert(0) += 1;
            }
        }
        Fixture {
            frequencies,
            documents: analyses.len() as u64,
        }
    }
}

impl CorpusStats for Fixture {
    fn document_count(&self) -> u64 {
        self.documents
    }

    fn document_frequency(&self, term: &str) -> u64 {
        self.frequencies.get(term).copied().unwrap_or(0)
    }
}

const TEXT: &str =
    "Đề nghị Thành phố sớm hỗ trợ kinh phí số hóa hồ sơ lưu trữ cho xã, vì xã không đủ nguồn lực.";

#[test]
fn nfc_and_nfd_analyse_identically() {
    let engine = Engine::default();
    let nfd: String = TEXT.nfd().collect();
    assert_ne!(nfd, TEXT);
    assert_eq!(engine.analyze(&nfd), engine.analyze(TEXT));
    // Mixed within one text, too.
    let (head, tail) = TEXT.split_at(TEXT.len() / 2);
    let mixed = format!("{}{tail}", head.nfd().collect::<String>());
    assert_eq!(engine.analyze(&mixed), engine.analyze(TEXT));
}

#[test]
fn both_tone_placements_analyse_identically() {
    let engine = Engine::default();
    let tone_on_first_vowel = "Ủy ban đề nghị hỗ trợ số hóa, hòa giải và chăm sóc sức khỏe; thủy lợi; quý I.";
    let tone_on_second_vowel =
        "Uỷ ban đề nghị hỗ trợ số hoá, hoà giải và chăm sóc sức khoẻ; thuỷ lợi; qúy I.";
    assert_eq!(
        engine.analyze(tone_on_first_vowel).normalized,
        engine.analyze(tone_on_second_vowel).normalized
    );
    assert_eq!(
        engine.analyze(tone_on_first_vowel),
        engine.analyze(tone_on_second_vowel)
    );
}

#[test]
fn all_caps_is_lower_case() {
    let engine = Engine::default();
    let lower = engine.analyze("Đề nghị bổ sung công chức kế toán cho phường Ba Đình.");
    let upper = engine.analyze("ĐỀ NGHỊ BỔ SUNG CÔNG CHỨC KẾ TOÁN CHO PHƯỜNG BA ĐÌNH.");
    assert_eq!(lower, upper);
    assert_eq!(lower.places, vec!["ba dinh".to_owned()]);
}

#[test]
fn abbreviations_equal_their_expansions() {
    let engine = Engine::default();
    for (short, long) in [
        (
            "UBND xã đề nghị bổ sung CBCCVC làm CNTT, xây dựng CSDL về TTHC.",
            "Ủy ban nhân dân xã đề nghị bổ sung cán bộ công chức viên chức làm công nghệ thông tin, xây dựng cơ sở dữ liệu về thủ tục hành chính.",
        ),
        (
            "Đề nghị Sở GD&ĐT hướng dẫn; phát triển KT-XH.",
            "Đề nghị Sở giáo dục và đào tạo hướng dẫn; phát triển kinh tế xã hội.",
        ),
        (
            "De nghi HDND xa va Phong GD&DT",
            "De nghi hoi dong nhan dan xa va Phong giao duc va dao tao",
        ),
    ] {
        assert_eq!(
            engine.analyze(short).normalized,
            engine.analyze(long).normalized,
            "{short}"
        );
    }
}

#[test]
fn formulaic_openings_are_stripped() {
    let engine = Engine::default();
    let matter = engine.analyze("Bổ sung biên chế công chức công nghệ thông tin cho phường.");
    for opening in [
        "Đảng ủy phường Ba Đình kiến nghị: ",
        "UBND xã Sóc Sơn đề nghị ",
        "Kính đề nghị Thành phố sớm xem xét ",
        "Thường trực HĐND phường Láng đề xuất UBND Thành phố ",
        "Ban Thường trực Ủy ban MTTQ xã Y đề nghị Thành phố ",
        "Đề xuất ",
    ] {
        let text = format!("{opening}bổ sung biên chế công chức công nghệ thông tin cho phường.");
        let analysis = engine.analyze(&text);
        assert_eq!(analysis.normalized, matter.normalized, "{opening}");
        assert_eq!(analysis.terms, matter.terms, "{opening}");
        // The sender is not a place the matter is about.
        assert!(analysis.places.is_empty(), "{opening}");
    }
    // Two matters from the same ward share nothing through the opening.
    let staff = engine.analyze("Đảng ủy phường Ba Đình kiến nghị: bổ sung công chức kế toán.");
    let premises = engine.analyze("Đảng ủy phường Ba Đình kiến nghị: sửa chữa trụ sở xuống cấp.");
    let shared: Vec<&String> = staff
        .terms
        .iter()
        .filter(|term| premises.terms.contains(term))
        .collect();
    assert!(shared.is_empty(), "shared terms: {shared:?}");
}

#[test]
fn places_in_the_body_are_kept_apart_from_the_text() {
    let engine = Engine::default();
    let analysis = engine.analyze("Đề nghị sửa chữa trụ sở xã Bất Bạt và nhà văn hóa thôn Đông.");
    assert_eq!(analysis.places, vec!["bat bat".to_owned(), "dong".to_owned()]);
    assert!(!analysis.normalized.contains("bạt"));
    // Lower-case words after a unit word are not names.
    assert!(engine.analyze("Đề nghị sáp nhập xã nhỏ.").places.is_empty());
}

#[test]
fn numbers_are_canonical() {
    let engine = Engine::default();
    let analysis =
        engine.analyze("Bổ sung 8–10 biên chế, chi 4.063,6 tỷ cho 1.800 người theo Nghị định 09/2019.");
    assert_eq!(analysis.numbers, vec!["10", "1800", "2019", "4063.6", "8", "9"]);
}

#[test]
fn text_without_diacritics_matches_its_accented_twin() {
    let engine = Engine::default();
    let accented =
        engine.analyze("Đề nghị tăng thêm biên chế công chức phụ trách công nghệ thông tin cho phường.");
    let folded =
        engine.analyze("De nghi tang them bien che cong chuc phu trach cong nghe thong tin cho phuong.");
    assert!(accented.accented);
    assert!(!folded.accented);
    assert_eq!(accented.folded, folded.folded);
    let unrelated = engine.analyze("Đề nghị sửa chữa trụ sở xã đã xuống cấp nghiêm trọng.");
    let corpus = Fixture::new(&[&accented, &unrelated]);
    let similarity = engine.similarity(&folded, &accented, &corpus);
    assert!(similarity.score > 0.95, "{similarity:?}");
    assert!(!similarity.vetoed);
}

#[test]
fn accented_texts_differing_only_in_tones_stay_different() {
    let engine = Engine::default();
    // "bán" (sell) and "bàn" (hand over) are different words.
    let sell = engine.analyze("Đề nghị cho phép bán trụ sở cũ.");
    let hand_over = engine.analyze("Đề nghị cho phép bàn trụ sở cũ.");
    assert_eq!(sell.folded, hand_over.folded);
    assert_ne!(sell.normalized, hand_over.normalized);
    let corpus = Fixture::new(&[&sell, &hand_over]);
    assert!(engine.similarity(&sell, &hand_over, &corpus).score < 0.9);
}

#[test]
fn hashes_are_pinned() {
    // These values are stored by the server; if this test fails, the
    // normalisation or hashing changed and NORM_VERSION must be bumped (and
    // the pins updated), or the change undone.
    let analysis =
        Engine::default().analyze("Đề nghị bổ sung biên chế công chức công nghệ thông tin cho phường.");
    assert_eq!(NORM_VERSION, 3);
    assert_eq!(
        analysis.normalized,
        "bổ sung biên chế công chức công nghệ thông tin cho phường"
    );
    assert_eq!(analysis.exact_key, 6_723_473_957_362_209_027);
    assert_eq!(analysis.band_keys.len(), lienthong_dedup::BANDS);
    assert_eq!(
        analysis.band_keys.get(..3),
        Some(
            &[
                7_812_167_569_112_863_864,
                16_279_449_892_955_257_997,
                4_081_304_787_277_071_643
            ][..]
        )
    );
}

#[test]
fn analysis_is_deterministic_across_engines() {
    let first = Engine::default().analyze(TEXT);
    let second = Engine::default().analyze(TEXT);
    assert_eq!(first, second);
}

#[test]
fn analyses_round_trip_through_json_but_for_their_band_keys() {
    let analysis = Engine::default().analyze(TEXT);
    assert!(!analysis.band_keys.is_empty());
    let json = serde_json::to_string(&analysis).expect("serialises");
    assert!(!json.contains("band_keys"), "{json}");
    let back: Analysis = serde_json::from_str(&json).expect("deserialises");
    let mut without_keys = analysis.clone();
    without_keys.band_keys.clear();
    assert_eq!(back, without_keys);
    // Analyses stored with their band keys still read.
    let mut with_keys: serde_json::Value = serde_json::from_str(&json).expect("a JSON object");
    with_keys["band_keys"] = serde_json::json!(analysis.band_keys);
    let old: Analysis = serde_json::from_value(with_keys).expect("deserialises");
    assert_eq!(old, analysis);
}

/// Pieces real recommendations are made of, in every spelling the engine
/// must cope with, for generated texts.
const PIECES: &[&str] = &[
    "Đảng ủy phường Ba Đình kiến nghị:",
    "UBND xã Y đề nghị",
    "Kính đề nghị Thành phố sớm",
    "đề xuất",
    "bổ sung",
    "biên chế",
    "CNTT",
    "GD&ĐT",
    "KT-XH",
    "hoá",
    "hóa",
    "thuỷ",
    "qúy",
    "KHỎE",
    "nơi làm việc",
    "sáp nhập",
    "trụ sở",
    "xã Bất Bạt",
    "phường",
    "de nghi",
    "tang them",
    "4.063,6",
    "09/2019",
    "8-10",
    ",",
    ".",
    ":",
    ";",
    "(",
    "–",
    "\n",
    "xã",
    "Hà Nội",
    "thôn",
    "số",
];

fn generated_text() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(proptest::sample::select(PIECES), 0..24),
        any::<bool>(),
    )
        .prop_map(|(pieces, decompose)| {
            let text = pieces.join(" ");
            if decompose { text.nfd().collect() } else { text }
        })
}

/// Building an engine parses the lexicon; the properties share one.
static ENGINE: LazyLock<Engine> = LazyLock::new(Engine::default);

proptest! {
    #[test]
    fn normalising_twice_changes_nothing(text in generated_text()) {
        let engine = &*ENGINE;
        let once = engine.analyze(&text);
        let twice = engine.analyze(&once.normalized);
        prop_assert_eq!(&twice.normalized, &once.normalized);
        prop_assert_eq!(&twice.folded, &once.folded);
    }

    #[test]
    fn any_input_is_analysed_without_panicking(text in any::<String>()) {
        let engine = &*ENGINE;
        let _checked = engine.check_text(&text);
        let analysis = engine.analyze(&text);
        let again = engine.analyze(&analysis.normalized);
        prop_assert_eq!(again.normalized, analysis.normalized);
    }

    #[test]
    fn nfd_never_changes_the_analysis(text in generated_text()) {
        let engine = &*ENGINE;
        let nfc: String = text.nfc().collect();
        let nfd: String = text.nfd().collect();
        prop_assert_eq!(engine.analyze(&nfc), engine.analyze(&nfd));
    }
}

#[test]
fn an_opening_exposed_by_taking_out_a_sender_is_taken_out_too() {
    let engine = Engine::default();
    let once = engine.analyze("bổ sung phường \n Hà Nội Đảng ủy phường Ba Đình kiến nghị:");
    let twice = engine.analyze(&once.normalized);
    assert_eq!(once.normalized, twice.normalized);
}
