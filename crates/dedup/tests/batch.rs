//! Batch clustering end to end on a small fixture: the same matter in every
//! spelling clusters together, other matters stay apart, refused texts are
//! reported and left out.

use lienthong_dedup::{BatchClusterer, Decision, Engine, TextProblem};
use unicode_normalization::UnicodeNormalization;

#[test]
fn variants_of_one_matter_cluster_and_other_matters_do_not() {
    let engine = Engine::default();
    let mut clusterer = BatchClusterer::new(&engine);
    let base = "Đề nghị Thành phố hỗ trợ kinh phí số hóa hồ sơ lưu trữ cho xã.";
    let variants = [
        ("a1", base.to_owned()),
        ("a2", base.nfd().collect::<String>()),
        (
            "a3",
            "Đề nghị Thành phố hỗ trợ kinh phí số hoá hồ sơ lưu trữ cho xã.".to_owned(),
        ),
        (
            "a4",
            "ĐỀ NGHỊ THÀNH PHỐ HỖ TRỢ KINH PHÍ SỐ HÓA HỒ SƠ LƯU TRỮ CHO XÃ.".to_owned(),
        ),
        (
            "a5",
            "De nghi Thanh pho ho tro kinh phi so hoa ho so luu tru cho xa.".to_owned(),
        ),
        (
            "a6",
            "UBND xã Sóc Sơn đề nghị TP hỗ trợ ngân sách số hóa hồ sơ lưu trữ cho xã.".to_owned(),
        ),
        ("b1", "Đề nghị bổ sung công chức kế toán cho phường.".to_owned()),
        (
            "c1",
            "Đề nghị tập huấn phần mềm kế toán cho kế toán phường.".to_owned(),
        ),
        (
            "b2",
            "Đảng ủy phường Láng kiến nghị: bổ sung công chức kế toán cho phường.".to_owned(),
        ),
    ];
    for (id, text) in &variants {
        clusterer
            .add((*id).to_owned(), text)
            .expect("fixture texts are acceptable");
    }
    let assignments = clusterer.assignments();
    let cluster_of = |id: &str| {
        assignments
            .iter()
            .find(|(assigned, _)| assigned == id)
            .map(|(_, cluster)| cluster.clone())
    };
    for id in ["a2", "a3", "a4", "a5", "a6"] {
        assert_eq!(cluster_of(id), Some("a1".to_owned()), "{id}");
    }
    assert_eq!(cluster_of("b1"), Some("b1".to_owned()));
    assert_eq!(cluster_of("b2"), Some("b1".to_owned()));
    assert_eq!(cluster_of("c1"), Some("c1".to_owned()));
    let ids: Vec<&str> = assignments.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, vec!["a1", "a2", "a3", "a4", "a5", "a6", "b1", "c1", "b2"]);
}

#[test]
fn refused_texts_are_not_assigned() {
    let engine = Engine::default();
    let mut clusterer = BatchClusterer::new(&engine);
    assert_eq!(clusterer.add("empty".to_owned(), "  "), Err(TextProblem::Empty));
    assert_eq!(
        clusterer.add("long".to_owned(), "Một. Hai. Ba. Bốn. Năm. Sáu."),
        Err(TextProblem::TooManySentences { max: 5 })
    );
    assert!(clusterer.assignments().is_empty());
}

#[test]
fn decisions_name_batch_positions() {
    let engine = Engine::default();
    let mut clusterer = BatchClusterer::new(&engine);
    let first = clusterer
        .add_detailed(
            "x".to_owned(),
            "Đề nghị cấp chữ ký số cho công chức một cửa của phường.",
        )
        .expect("acceptable");
    assert_eq!(first.decision, Decision::New);
    let second = clusterer
        .add_detailed(
            "y".to_owned(),
            "Đề nghị cấp chữ ký số cho công chức một cửa của phường.",
        )
        .expect("acceptable");
    let Decision::Link(link) = second.decision else {
        panic!("an exact duplicate links");
    };
    assert_eq!(clusterer.document_id(link.recommendation_id), Some("x"));
    assert_eq!(second.cluster, "x");
    assert_eq!(clusterer.document_id(-1), None);
}

#[test]
fn band_keys_find_candidates_up_to_the_bound_and_exact_duplicates_regardless() {
    use lienthong_dedup::DedupConfig;
    let texts = [
        "Đề nghị Thành phố hỗ trợ kinh phí số hóa hồ sơ lưu trữ cho xã.",
        "Đề nghị Thành phố hỗ trợ kinh phí số hóa hồ sơ lưu trữ và mua máy quét cho xã.",
        "UBND xã Sóc Sơn đề nghị hỗ trợ kinh phí số hóa hồ sơ lưu trữ và mua máy quét tài liệu.",
        "Đề nghị Thành phố hỗ trợ kinh phí số hóa hồ sơ lưu trữ cho xã.",
    ];
    let linked_to = |max_postings_per_band: usize| {
        let engine = Engine::new(DedupConfig {
            max_postings_per_band,
            ..DedupConfig::default()
        });
        let mut clusterer = BatchClusterer::new(&engine);
        texts
            .iter()
            .enumerate()
            .map(|(index, text)| {
                match clusterer
                    .add_detailed(index.to_string(), text)
                    .expect("fixture texts are acceptable")
                    .decision
                {
                    Decision::Link(link) => Some(link.recommendation_id),
                    Decision::New | Decision::Review(_) => None,
                }
            })
            .collect::<Vec<_>>()
    };
    // No postings kept: only the exact duplicate is found.
    assert_eq!(linked_to(0), [None, None, None, Some(0)]);
    for bound in [1, 2, 64] {
        assert_eq!(linked_to(bound), [None, Some(0), Some(1), Some(0)], "{bound}");
    }
}
