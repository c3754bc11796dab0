//! The three-way decision: paraphrases link, uncertain pairs go to review,
//! disagreeing numbers or places and hard negatives never link, and a
//! cluster cannot chain away from its canonical member.

use std::collections::HashMap;

use lienthong_dedup::evaluation::parse_labelled;
use lienthong_dedup::{Analysis, Candidate, CorpusStats, Decision, DedupConfig, Engine, terms_to_weigh};

/// Document frequencies come from the labelled set, so they look like
/// those of a real store: frame words ("bổ sung", "công chức", "hướng dẫn")
/// are common, the words naming a matter are not.
const LABELLED: &str = include_str!("../data/labelled/recommendations.jsonl");

fn background(engine: &Engine) -> Vec<Analysis> {
    parse_labelled(LABELLED)
        .expect("the labelled set parses")
        .iter()
        .map(|item| engine.analyze(&item.text))
        .collect()
}

struct Corpus {
    frequencies: HashMap<String, u64>,
    documents: u64,
}

impl Corpus {
    fn of(analyses: &[Analysis]) -> Corpus {
        let mut frequencies = HashMap::new();
        for analysis in analyses {
            for term in &analysis.terms {
                *frequencies.entry(term.clone()).or_insert(0) += 1;
            }
        }
        Corpus {
            frequencies,
            documents: analyses.len() as u64,
        }
    }
}

impl CorpusStats for Corpus {
    fn document_count(&self) -> u64 {
        self.documents
    }

    fn document_frequency(&self, term: &str) -> u64 {
        self.frequencies.get(term).copied().unwrap_or(0)
    }
}

/// Decides `new` against one stored recommendation that is its own
/// cluster's canonical member, over the background corpus plus that
/// recommendation.
fn decide_against(engine: &Engine, stored: &str, new: &str) -> Decision {
    let stored = engine.analyze(stored);
    let mut analyses = background(engine);
    analyses.push(stored.clone());
    let corpus = Corpus::of(&analyses);
    let candidate = Candidate {
        recommendation_id: 7,
        cluster_id: 3,
        analysis: &stored,
        cluster_canonical: &stored,
    };
    engine.decide(&engine.analyze(new), &[candidate], &corpus)
}

fn is_link(decision: &Decision) -> bool {
    matches!(decision, Decision::Link(_))
}

#[test]
fn paraphrases_link() {
    let engine = Engine::default();
    for (stored, new) in [
        (
            "UBND phường Ba Đình đề nghị bổ sung biên chế công chức CNTT cho phường.",
            "Đảng ủy phường Láng kiến nghị: đề nghị Thành phố bổ sung biên chế công chức công nghệ thông tin cho phường.",
        ),
        (
            "Đề nghị bố trí thêm kinh phí để số hoá hồ sơ hộ tịch của các xã cũ.",
            "DE NGHI BO SUNG KINH PHI DE SO HOA HO SO HO TICH CUA CAC XA CU.",
        ),
        (
            "Kính đề nghị Thành phố sớm bố trí nơi làm việc tập trung cho các cơ quan của phường.",
            "Ủy ban MTTQ phường Yên Sở đề nghị bố trí trụ sở tập trung cho các cơ quan của phường.",
        ),
    ] {
        let decision = decide_against(&engine, stored, new);
        let Decision::Link(link) = &decision else {
            panic!("expected a link for {new:?}, got {decision:?}");
        };
        assert_eq!((link.recommendation_id, link.cluster_id), (7, 3));
    }
}

#[test]
fn exact_duplicates_link_with_full_score() {
    let engine = Engine::default();
    let text = "Đề nghị cấp tài khoản phần mềm quản lý đảng viên cho đảng ủy xã.";
    let Decision::Link(link) =
        decide_against(&engine, text, &format!("Đảng ủy xã Kim Anh kiến nghị: {text}"))
    else {
        panic!("an exact duplicate after normalisation links");
    };
    assert_eq!(link.score, 1.0);
}

#[test]
fn borderline_goes_to_review() {
    let engine = Engine::default();
    let decision = decide_against(
        &engine,
        "Đề nghị hỗ trợ kinh phí số hóa hồ sơ lưu trữ của các xã cũ.",
        "Việc số hóa hồ sơ của xã chậm vì thiếu người làm, đề nghị hỗ trợ.",
    );
    let Decision::Review(suggestions) = &decision else {
        panic!("expected a review, got {decision:?}");
    };
    assert_eq!(suggestions.len(), 1);
    assert!(
        suggestions
            .iter()
            .all(|suggestion| suggestion.score < engine.config().link_threshold)
    );
}

#[test]
fn disagreeing_numbers_or_places_never_link() {
    let engine = Engine::default();
    for (stored, new) in [
        (
            "Đề nghị bổ sung 5 biên chế công chức công nghệ thông tin cho phường.",
            "Đề nghị bổ sung 10 biên chế công chức công nghệ thông tin cho phường.",
        ),
        (
            "Đề nghị hỗ trợ kinh phí sửa chữa trụ sở xã Bất Bạt đã xuống cấp nghiêm trọng.",
            "Đề nghị hỗ trợ kinh phí sửa chữa trụ sở xã Hạ Bằng đã xuống cấp nghiêm trọng.",
        ),
    ] {
        let decision = decide_against(&engine, stored, new);
        assert!(matches!(decision, Decision::Review(_)), "{new}: {decision:?}");
    }
    // One side naming no number is no disagreement.
    let decision = decide_against(
        &engine,
        "Đề nghị bổ sung 8-10 biên chế công chức công nghệ thông tin cho phường.",
        "Đề nghị bổ sung biên chế công chức công nghệ thông tin cho phường.",
    );
    assert!(is_link(&decision), "{decision:?}");
}

/// The hard negatives the domain notes name: same topic words, different ask.
#[test]
fn hard_negatives_never_link() {
    let engine = Engine::default();
    for (stored, new) in [
        (
            "Đề nghị tập huấn cho cán bộ xã.",
            "Đề nghị tập huấn phần mềm kế toán cho kế toán xã.",
        ),
        (
            "Đề nghị đầu tư xây dựng trụ sở mới cho phường.",
            "Đề nghị hướng dẫn xử lý trụ sở dôi dư của phường.",
        ),
        (
            "Đề nghị bổ sung giáo viên tiểu học do thiếu giáo viên.",
            "Đề nghị bổ sung công chức phụ trách giáo dục do thiếu công chức.",
        ),
    ] {
        let decision = decide_against(&engine, stored, new);
        assert!(!is_link(&decision), "{new}: {decision:?}");
    }
}

#[test]
fn links_need_the_canonical_member_to_agree() {
    let engine = Engine::default();
    let canonical = engine.analyze("Đề nghị mua máy chủ và thiết bị mạng cho bộ phận công nghệ thông tin.");
    let member = engine.analyze("Đề nghị đào tạo công chức công nghệ thông tin về an toàn thông tin mạng.");
    let new =
        engine.analyze("Đề nghị đào tạo công chức công nghệ thông tin về an toàn thông tin mạng cho phường.");
    let mut analyses = background(&engine);
    analyses.extend([canonical.clone(), member.clone()]);
    let corpus = Corpus::of(&analyses);
    let candidate = Candidate {
        recommendation_id: 2,
        cluster_id: 1,
        analysis: &member,
        cluster_canonical: &canonical,
    };
    let decision = engine.decide(&new, &[candidate], &corpus);
    assert!(matches!(decision, Decision::Review(_)), "{decision:?}");
    // The same member as its own canonical links.
    let alone = Candidate {
        cluster_canonical: &member,
        ..candidate
    };
    assert!(is_link(&engine.decide(&new, &[alone], &corpus)));
}

#[test]
fn nothing_close_is_new() {
    let engine = Engine::default();
    let decision = decide_against(
        &engine,
        "Đề nghị cấp chữ ký số cho lãnh đạo xã.",
        "Đề nghị đặt tên cho năm tuyến đường mới trên địa bàn phường.",
    );
    assert_eq!(decision, Decision::New);
    let corpus = Corpus::of(&[]);
    assert_eq!(
        engine.decide(&engine.analyze("Bất kỳ"), &[], &corpus),
        Decision::New
    );
}

#[test]
fn analyses_of_another_version_are_ignored() {
    let engine = Engine::default();
    let text = "Đề nghị cấp tài khoản phần mềm một cửa cho công chức mới.";
    let mut stored = engine.analyze(text);
    stored.norm_version += 1;
    let candidate = Candidate {
        recommendation_id: 1,
        cluster_id: 1,
        analysis: &stored,
        cluster_canonical: &stored,
    };
    let corpus = Corpus::of(std::slice::from_ref(&stored));
    assert_eq!(
        engine.decide(&engine.analyze(text), &[candidate], &corpus),
        Decision::New
    );
}

#[test]
fn reviews_are_ranked_bounded_and_one_per_cluster() {
    let engine = Engine::new(DedupConfig {
        link_threshold: 2.0,
        review_threshold: 0.0,
        max_review_suggestions: 2,
        ..DedupConfig::default()
    });
    let analyses: Vec<Analysis> = [
        "Đề nghị bổ sung công chức công nghệ thông tin.",
        "Đề nghị bổ sung công chức công nghệ thông tin cho xã.",
        "Đề nghị bổ sung công chức kế toán.",
        "Đề nghị sửa chữa trụ sở.",
    ]
    .iter()
    .map(|text| engine.analyze(text))
    .collect();
    let corpus = Corpus::of(&analyses);
    let candidates: Vec<Candidate<'_>> = analyses
        .iter()
        .zip([(10, 1), (11, 1), (12, 2), (13, 3)])
        .map(|(analysis, (recommendation_id, cluster_id))| Candidate {
            recommendation_id,
            cluster_id,
            analysis,
            cluster_canonical: analysis,
        })
        .collect();
    let new = engine.analyze("Đề nghị bổ sung công chức công nghệ thông tin.");
    let Decision::Review(suggestions) = engine.decide(&new, &candidates, &corpus) else {
        panic!("everything is a review with these thresholds");
    };
    let ids: Vec<(i64, i64)> = suggestions
        .iter()
        .map(|suggestion| (suggestion.recommendation_id, suggestion.cluster_id))
        .collect();
    assert_eq!(ids, vec![(10, 1), (12, 2)]);
    assert!(suggestions.windows(2).all(|pair| pair[0].score >= pair[1].score));
}

#[test]
fn the_terms_to_weigh_are_all_a_decision_reads() {
    let engine = Engine::default();
    let analyses = background(&engine);
    let full = Corpus::of(&analyses);
    // Each text against the forty before it, some of them typed without
    // diacritics, so both the accented and the folded comparisons occur.
    let unaccented = engine.analyze("de nghi bo sung bien che cong chuc cong nghe thong tin cho phuong");
    for (position, new) in analyses.iter().enumerate().skip(1) {
        let mut others: Vec<&Analysis> = analyses[position.saturating_sub(40)..position].iter().collect();
        others.push(&unaccented);
        let candidates: Vec<Candidate<'_>> = others
            .iter()
            .enumerate()
            .map(|(index, other)| Candidate {
                recommendation_id: i64::try_from(index).expect("small"),
                cluster_id: i64::try_from(index).expect("small"),
                analysis: other,
                cluster_canonical: others[0],
            })
            .collect();
        let weighed: std::collections::HashSet<&str> =
            terms_to_weigh(new, others.iter().copied().chain([others[0]]))
                .into_iter()
                .collect();
        let restricted = Corpus {
            frequencies: full
                .frequencies
                .iter()
                .filter(|(term, _)| weighed.contains(term.as_str()))
                .map(|(term, count)| (term.clone(), *count))
                .collect(),
            documents: full.documents,
        };
        for candidates in [&candidates[..], &candidates[candidates.len() - 1..]] {
            assert_eq!(
                engine.decide(new, candidates, &restricted),
                engine.decide(new, candidates, &full),
                "text {position}"
            );
        }
    }
}

/// Similar texts for a submitter checking before sending: the cluster the
/// text would join comes first even when a candidate barred from a link (its
/// numbers disagree) scores higher; then the rest, best first.
#[test]
fn the_cluster_a_text_would_join_is_listed_first() {
    let engine = Engine::default();
    let new =
        engine.analyze("Đề nghị Thành phố bổ sung 02 biên chế công chức công nghệ thông tin cho phường.");
    let other_count =
        engine.analyze("Đề nghị Thành phố bổ sung 05 biên chế công chức công nghệ thông tin cho phường.");
    let paraphrase = engine.analyze(
        "Kiến nghị Thành phố giao thêm biên chế công chức CNTT cho phường, hiện chưa có người phụ trách.",
    );
    let mut analyses = background(&engine);
    analyses.extend([other_count.clone(), paraphrase.clone()]);
    let corpus = Corpus::of(&analyses);
    let candidates = [
        Candidate {
            recommendation_id: 1,
            cluster_id: 10,
            analysis: &other_count,
            cluster_canonical: &other_count,
        },
        Candidate {
            recommendation_id: 2,
            cluster_id: 20,
            analysis: &paraphrase,
            cluster_canonical: &paraphrase,
        },
    ];
    let Decision::Link(link) = engine.decide(&new, &candidates, &corpus) else {
        panic!("the paraphrase links");
    };
    assert_eq!(link.cluster_id, 20);
    let vetoed = engine.similarity(&new, &other_count, &corpus);
    assert!(
        vetoed.vetoed && vetoed.score > link.score,
        "{vetoed:?} against {link:?}"
    );

    let similar = engine.rank_similar(&new, &candidates, &corpus, 5);
    assert_eq!(
        similar.iter().map(|found| found.cluster_id).collect::<Vec<_>>(),
        [20, 10]
    );
    assert_eq!(engine.rank_similar(&new, &candidates, &corpus, 1).len(), 1);
}
