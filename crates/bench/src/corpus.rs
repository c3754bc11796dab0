//! A synthetic corpus of recommendations (kiến nghị) with planted duplicates,
//! for the dedup benchmarks. Deterministic: the same seed and count give the
//! same texts in the same order.
//!
//! A *matter* is an action on an object within a topic ("bổ sung biên chế" ×
//! "công chức địa chính"), city-wide or about one named commune or ward
//! ("nâng cấp trạm y tế" × "xã Hòa Lạc"). Every text raises one matter, and
//! texts of one matter form a planted cluster. Texts are drawn matter by
//! matter at random, so copies of a matter arrive interleaved with others,
//! and each copy is written anew the way different communes write:
//!
//! - the sender and its formulaic opening ("Đảng ủy phường X kiến nghị:",
//!   "UBND xã Y đề nghị Thành phố", "Kính đề nghị Thành phố quan tâm"…);
//! - synonymous phrasings of the action and the object (bổ sung / tăng thêm /
//!   bố trí thêm biên chế…), chosen independently;
//! - zero to three context sentences from the topic's pool, before or after
//!   the request, and sometimes a closing courtesy;
//! - abbreviations written out or abbreviated (UBND, CNTT, TTHC, CSDL…);
//! - and, for some copies, old tone placement (hoá, uỷ), NFD, no diacritics
//!   at all, or capitals only.
//!
//! Matters of one topic share vocabulary and context sentences, and
//! place-bound matters differ from each other only by the place they name,
//! so the corpus has many near misses as well as true duplicates.

use std::fmt::Write as _;

use unicode_normalization::UnicodeNormalization as _;

/// SplitMix64: small, fast and good enough to vary texts; no external
/// randomness, so runs on any machine generate the same corpus.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform below `bound` (0 when `bound` is 0); the modulo bias is
    /// negligible for the small bounds used here.
    pub fn below(&mut self, bound: usize) -> usize {
        match u64::try_from(bound) {
            Ok(0) | Err(_) => 0,
            Ok(bound) => usize::try_from(self.next_u64() % bound).unwrap_or(0),
        }
    }

    /// True with probability `percent` %.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One generated recommendation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `t000001`, in generation order.
    pub id: String,
    pub text: String,
    /// The planted cluster: index of the matter the text raises.
    pub matter: usize,
    /// Whether the matter names a commune or ward (else it is city-wide).
    pub placed: bool,
    /// The sending organ, e.g. `00004-party-committee`.
    pub organ_id: String,
    /// The topic's label, e.g. `staffing`.
    pub topic: &'static str,
    /// The department the topic is addressed to.
    pub addressee: &'static str,
    /// Variations applied to this copy, in [`KINDS`] order.
    pub kinds: Vec<&'static str>,
}

/// Kinds of variation recorded per item.
pub const KINDS: [&str; 6] = [
    "opening",
    "abbreviation",
    "old_tone",
    "nfd",
    "no_diacritics",
    "all_caps",
];

/// A commune or ward: its directory code and its name as written in text
/// ("phường Ba Đình").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commune {
    pub code: String,
    pub name: String,
}

/// The communes and wards of the bundled Hanoi directory.
pub fn hanoi_communes() -> Vec<Commune> {
    lienthong_domain::directory::hanoi_directory()
        .localities
        .into_iter()
        .filter(|locality| !locality.parent_code.is_empty())
        .map(|locality| {
            // "Phường Ba Đình" is written "phường Ba Đình" inside a sentence.
            let mut characters = locality.name.chars();
            let name = match characters.next() {
                Some(first) => first.to_lowercase().chain(characters).collect(),
                None => String::new(),
            };
            Commune {
                code: locality.code,
                name,
            }
        })
        .collect()
}

/// A family of matters sharing vocabulary. Each action and object is a list
/// of phrasings that mean the same; the first is the plainest.
struct Topic {
    label: &'static str,
    addressee: &'static str,
    /// Matters of this topic name a commune or ward in the body.
    placed: bool,
    actions: &'static [&'static [&'static str]],
    objects: &'static [&'static [&'static str]],
    /// Context sentences any matter of the topic may carry are made of a
    /// subject and a predicate, so copies rarely share one word for word.
    subjects: &'static [&'static str],
    predicates: &'static [&'static str],
}

const TOPICS: [Topic; 6] = [
    Topic {
        label: "staffing",
        addressee: "01-home-affairs",
        placed: false,
        actions: &[
            &[
                "bổ sung biên chế",
                "tăng thêm biên chế",
                "bố trí thêm biên chế",
                "cấp thêm biên chế",
            ],
            &["sớm tuyển dụng", "tổ chức thi tuyển", "tổ chức tuyển dụng"],
            &[
                "tổ chức bồi dưỡng nghiệp vụ cho",
                "mở lớp tập huấn chuyên môn cho",
                "tổ chức đào tạo, bồi dưỡng cho",
            ],
            &["hướng dẫn bố trí, sắp xếp", "hướng dẫn việc sắp xếp, bố trí"],
            &["có chính sách thu hút", "ban hành chính sách thu hút, đãi ngộ"],
        ],
        objects: &[
            &[
                "công chức chuyên trách CNTT",
                "công chức chuyên trách công nghệ thông tin",
                "cán bộ CNTT",
            ],
            &["công chức địa chính", "cán bộ địa chính"],
            &["công chức tư pháp – hộ tịch", "công chức tư pháp, hộ tịch"],
            &["công chức kế toán ngân sách", "kế toán ngân sách"],
            &[
                "công chức quản lý xây dựng, đô thị",
                "cán bộ quản lý trật tự xây dựng, đô thị",
            ],
            &["công chức văn hóa – xã hội", "cán bộ văn hóa, xã hội"],
            &["giáo viên mầm non", "giáo viên bậc mầm non"],
            &[
                "giáo viên tiếng Anh, tin học bậc tiểu học",
                "giáo viên tin học, tiếng Anh ở các trường tiểu học",
            ],
            &["nhân viên y tế của trạm y tế", "nhân lực y tế cho trạm y tế"],
            &[
                "cán bộ chuyên trách công tác Mặt trận và đoàn thể",
                "người làm công tác Mặt trận, đoàn thể",
            ],
            &[
                "công chức phụ trách tài nguyên, môi trường",
                "cán bộ theo dõi tài nguyên và môi trường",
            ],
            &[
                "công chức phụ trách nông nghiệp, thủy lợi",
                "cán bộ nông nghiệp, thủy lợi",
            ],
            &[
                "công chức bộ phận một cửa",
                "nhân sự tiếp nhận hồ sơ tại bộ phận một cửa",
            ],
            &["chỉ huy trưởng quân sự", "cán bộ chỉ huy quân sự"],
        ],
        subjects: &[
            "khối lượng công việc của xã",
            "số hồ sơ phải giải quyết",
            "nhiệm vụ được giao cho cấp xã",
            "yêu cầu công việc hiện nay",
            "áp lực công việc của đội ngũ hiện có",
        ],
        predicates: &[
            "tăng gấp nhiều lần so với trước",
            "tăng mạnh sau khi sắp xếp đơn vị hành chính",
            "vượt quá khả năng của số người hiện có",
            "ngày càng lớn trong khi biên chế không tăng",
            "đòi hỏi người có chuyên môn sâu",
        ],
    },
    Topic {
        label: "digital",
        addressee: "01-science-technology",
        placed: false,
        actions: &[
            &["nâng cấp", "cải tiến, nâng cấp", "khắc phục lỗi của"],
            &[
                "cấp tài khoản truy cập",
                "cấp quyền khai thác",
                "phân quyền sử dụng",
            ],
            &[
                "trang bị máy tính, thiết bị để vận hành",
                "bổ sung trang thiết bị để vận hành",
                "cấp thêm thiết bị phục vụ vận hành",
            ],
            &[
                "tổ chức tập huấn sử dụng",
                "hướng dẫn cán bộ sử dụng",
                "đào tạo kỹ năng sử dụng",
            ],
            &[
                "kết nối, liên thông dữ liệu của",
                "đồng bộ dữ liệu giữa các hệ thống và",
            ],
        ],
        objects: &[
            &["phần mềm một cửa điện tử", "hệ thống một cửa điện tử"],
            &["cơ sở dữ liệu đất đai", "CSDL đất đai"],
            &["cơ sở dữ liệu hộ tịch điện tử", "CSDL hộ tịch"],
            &[
                "hệ thống hội nghị truyền hình trực tuyến",
                "hệ thống họp trực tuyến",
            ],
            &[
                "phần mềm quản lý văn bản và điều hành",
                "phần mềm quản lý văn bản, hồ sơ công việc",
            ],
            &["cổng dịch vụ công của Thành phố", "cổng dịch vụ công trực tuyến"],
            &["phần mềm kế toán ngân sách xã", "phần mềm kế toán"],
            &["cơ sở dữ liệu đảng viên", "phần mềm quản lý đảng viên"],
            &["hệ thống chữ ký số", "chứng thư số và chữ ký số"],
            &[
                "mạng truyền số liệu chuyên dùng",
                "đường truyền số liệu chuyên dùng",
            ],
        ],
        subjects: &[
            "hệ thống hiện tại",
            "phần mềm đang sử dụng",
            "thiết bị được cấp",
            "đường truyền của đơn vị",
            "việc khai thác dữ liệu",
        ],
        predicates: &[
            "thường xuyên bị lỗi, chập chờn",
            "không đáp ứng yêu cầu chuyển đổi số",
            "làm chậm việc giải quyết hồ sơ của người dân",
            "buộc công chức phải nhập lại dữ liệu nhiều lần",
            "chưa được hướng dẫn cụ thể",
        ],
    },
    Topic {
        label: "procedures",
        addressee: "01-justice",
        placed: false,
        actions: &[
            &[
                "sớm ban hành văn bản hướng dẫn",
                "ban hành hướng dẫn cụ thể về",
                "có văn bản hướng dẫn thống nhất về",
            ],
            &[
                "phân cấp, ủy quyền cho cấp xã giải quyết",
                "giao cấp xã thẩm quyền giải quyết",
                "ủy quyền cho UBND cấp xã thực hiện",
            ],
            &[
                "rút ngắn thời gian giải quyết",
                "đơn giản hóa quy trình giải quyết",
                "cắt giảm thời gian xử lý",
            ],
            &["ban hành quy trình nội bộ về", "xây dựng quy trình mẫu về"],
        ],
        objects: &[
            &["thủ tục hành chính lĩnh vực đất đai", "TTHC về đất đai"],
            &[
                "cấp giấy phép xây dựng nhà ở riêng lẻ",
                "cấp phép xây dựng nhà ở riêng lẻ",
            ],
            &["đăng ký hộ kinh doanh", "đăng ký kinh doanh hộ cá thể"],
            &[
                "chứng thực bản sao và chữ ký",
                "chứng thực bản sao, chứng thực chữ ký",
            ],
            &[
                "thu hồi đất, bồi thường giải phóng mặt bằng",
                "bồi thường, hỗ trợ giải phóng mặt bằng",
            ],
            &["đăng ký khai sinh, khai tử", "đăng ký hộ tịch khai sinh, khai tử"],
            &[
                "xử lý vi phạm trật tự xây dựng",
                "xử lý công trình vi phạm trật tự xây dựng",
            ],
            &[
                "quản lý chợ dân sinh sau khi tiếp nhận từ cấp huyện",
                "tiếp nhận, quản lý các chợ do huyện bàn giao",
            ],
            &[
                "chuyển sinh hoạt đảng cho đảng viên",
                "chuyển sinh hoạt đảng khi sáp nhập chi bộ",
            ],
            &["đơn thư khiếu nại, tố cáo", "khiếu nại, tố cáo của công dân"],
            &[
                "cấp giấy chứng nhận quyền sử dụng đất lần đầu",
                "cấp sổ đỏ lần đầu",
            ],
        ],
        subjects: &[
            "các văn bản hướng dẫn hiện hành",
            "quy trình đang áp dụng",
            "việc giải quyết hồ sơ",
            "cách làm của mỗi địa phương",
            "quy định hiện nay",
        ],
        predicates: &[
            "chưa thống nhất giữa các nơi",
            "còn nhiều bước trùng lặp",
            "khiến người dân phải đi lại nhiều lần",
            "chưa phù hợp với mô hình chính quyền hai cấp",
            "làm hồ sơ tồn đọng ngày càng nhiều",
        ],
    },
    Topic {
        label: "funding",
        addressee: "01-finance",
        placed: false,
        actions: &[
            &[
                "bổ sung kinh phí cho",
                "bố trí nguồn kinh phí cho",
                "hỗ trợ ngân sách cho",
                "cấp bổ sung kinh phí để thực hiện",
            ],
            &[
                "hướng dẫn cơ chế tài chính cho",
                "ban hành định mức chi cho",
                "hướng dẫn định mức kinh phí cho",
            ],
        ],
        objects: &[
            &["công tác số hóa hồ sơ hộ tịch", "việc số hóa sổ hộ tịch"],
            &[
                "công tác chỉnh lý tài liệu lưu trữ",
                "việc chỉnh lý, số hóa tài liệu lưu trữ",
            ],
            &[
                "lực lượng bảo vệ an ninh, trật tự ở cơ sở",
                "hoạt động của lực lượng tham gia bảo vệ an ninh trật tự cơ sở",
            ],
            &[
                "công tác thu gom, vận chuyển rác thải sinh hoạt",
                "việc thu gom rác thải sinh hoạt",
            ],
            &[
                "hoạt động của các tổ hòa giải ở cơ sở",
                "công tác hòa giải ở cơ sở",
            ],
            &[
                "công tác phòng cháy, chữa cháy ở khu dân cư",
                "phòng cháy chữa cháy tại khu dân cư",
            ],
            &[
                "chi trả chế độ cho người hoạt động không chuyên trách dôi dư",
                "chế độ đối với người hoạt động không chuyên trách dôi dư",
            ],
            &[
                "công tác chuyển đổi số cấp xã",
                "các nhiệm vụ chuyển đổi số của cấp xã",
            ],
            &[
                "hoạt động của ban công tác Mặt trận ở khu dân cư",
                "ban công tác Mặt trận khu dân cư",
            ],
            &[
                "các lớp bồi dưỡng lý luận chính trị",
                "việc mở lớp bồi dưỡng lý luận chính trị",
            ],
        ],
        subjects: &[
            "dự toán ngân sách năm nay",
            "nguồn thu của địa phương",
            "ngân sách xã",
            "kinh phí được giao đầu năm",
            "định mức chi hiện hành",
        ],
        predicates: &[
            "chưa bố trí cho nội dung này",
            "không đủ để thực hiện",
            "giảm mạnh sau khi sắp xếp",
            "chỉ đáp ứng được một phần nhu cầu",
            "chưa tính đến các nhiệm vụ mới phát sinh",
        ],
    },
    Topic {
        label: "infrastructure",
        addressee: "01-city-office",
        placed: true,
        actions: &[
            &[
                "đầu tư sửa chữa, cải tạo",
                "cải tạo, sửa chữa",
                "bố trí kinh phí sửa chữa",
            ],
            &["đầu tư xây dựng mới", "xây mới", "bố trí vốn xây dựng mới"],
            &["nâng cấp, mở rộng", "mở rộng, nâng cấp"],
            &["hướng dẫn bàn giao, quản lý", "sớm bàn giao và hướng dẫn quản lý"],
        ],
        objects: &[
            &["trụ sở làm việc", "nơi làm việc", "trụ sở cơ quan"],
            &["nhà văn hóa thôn", "nhà văn hóa khu dân cư"],
            &["trạm y tế", "cơ sở trạm y tế"],
            &["trường mầm non", "điểm trường mầm non"],
            &["hệ thống thoát nước", "hệ thống cống thoát nước"],
            &["đường giao thông nội đồng", "tuyến đường nội đồng"],
            &["chợ dân sinh", "chợ"],
            &["nghĩa trang nhân dân", "nghĩa trang"],
            &["sân thể thao", "khu thể thao"],
            &["trạm bơm tưới tiêu", "trạm bơm"],
            &["trường tiểu học", "điểm trường tiểu học"],
            &["cầu dân sinh", "cây cầu dân sinh"],
            &["hệ thống chiếu sáng công cộng", "đèn chiếu sáng công cộng"],
            &["kênh mương nội đồng", "hệ thống kênh mương"],
            &["điểm tập kết rác thải", "bãi tập kết rác"],
            &["nhà bia tưởng niệm liệt sĩ", "đài tưởng niệm liệt sĩ"],
        ],
        subjects: &[
            "công trình",
            "hạng mục này",
            "cơ sở vật chất hiện có",
            "khu vực này",
            "hiện trạng công trình",
        ],
        predicates: &[
            "đã xuống cấp nghiêm trọng",
            "tiềm ẩn nguy cơ mất an toàn",
            "không đáp ứng nhu cầu của người dân",
            "được xây dựng từ lâu, chưa được sửa chữa",
            "thường xuyên bị ngập úng khi mưa lớn",
        ],
    },
    Topic {
        label: "environment",
        addressee: "01-city-office",
        placed: true,
        actions: &[
            &[
                "xử lý dứt điểm tình trạng",
                "sớm có giải pháp xử lý",
                "chỉ đạo xử lý",
            ],
            &["tăng cường kiểm tra, giám sát", "kiểm tra, xử lý nghiêm"],
            &[
                "đánh giá, công bố kết quả quan trắc về",
                "quan trắc và thông tin cho người dân về",
            ],
        ],
        objects: &[
            &["ô nhiễm nguồn nước ở kênh mương", "nước kênh mương bị ô nhiễm"],
            &["ùn tắc giao thông giờ cao điểm", "tắc đường vào giờ cao điểm"],
            &["lấn chiếm vỉa hè, lòng đường", "lấn chiếm lòng đường, vỉa hè"],
            &["đổ trộm phế thải xây dựng", "đổ trộm rác thải, phế thải"],
            &[
                "khói bụi từ các cơ sở sản xuất",
                "ô nhiễm khói bụi từ cơ sở sản xuất",
            ],
            &["sạt lở bờ sông", "sạt lở đê, bờ sông"],
            &[
                "vi phạm trật tự xây dựng trên đất nông nghiệp",
                "xây dựng trái phép trên đất nông nghiệp",
            ],
            &["tiếng ồn từ các quán karaoke", "ô nhiễm tiếng ồn do quán karaoke"],
            &["đốt rơm rạ gây khói", "khói do đốt rơm rạ"],
            &["ngập úng cục bộ khi mưa lớn", "úng ngập cục bộ sau mưa lớn"],
        ],
        subjects: &[
            "tình trạng này",
            "sự việc",
            "vấn đề này",
            "hiện tượng này",
            "tình hình trên",
        ],
        predicates: &[
            "kéo dài nhiều năm nhưng chưa được xử lý",
            "ảnh hưởng nghiêm trọng đến đời sống của nhân dân",
            "đã được người dân phản ánh nhiều lần",
            "vượt quá khả năng xử lý của chính quyền cơ sở",
            "có chiều hướng ngày càng phức tạp",
        ],
    },
];

/// Senders by organ kind: the organ id suffix and how its title is written.
const SENDERS: [(&str, &[&str]); 4] = [
    ("party-committee", &["Đảng ủy", "Ban Thường vụ Đảng ủy"]),
    (
        "peoples-council",
        &["Thường trực HĐND", "Thường trực Hội đồng nhân dân", "HĐND"],
    ),
    ("peoples-committee", &["UBND", "Ủy ban nhân dân"]),
    (
        "front-committee",
        &[
            "Ủy ban MTTQ",
            "Ban Thường trực Ủy ban MTTQ Việt Nam",
            "Ủy ban Mặt trận Tổ quốc Việt Nam",
        ],
    ),
];

/// Openings after a sender ("Đảng ủy phường X" + one of these).
const SENDER_VERBS: [&str; 6] = [
    "kiến nghị Thành phố",
    "đề nghị UBND Thành phố",
    "đề xuất Thành phố",
    "kiến nghị: đề nghị Thành phố",
    "đề nghị các sở, ngành",
    "kính đề nghị Thành phố",
];

/// Openings without a sender.
const PLAIN_OPENINGS: [&str; 6] = [
    "Đề nghị Thành phố",
    "Kính đề nghị Thành phố quan tâm",
    "Đề nghị",
    "Kiến nghị Thành phố",
    "Đề nghị cấp có thẩm quyền",
    "Đề nghị các sở, ngành",
];

const SOFTENERS: [&str; 3] = ["sớm", "quan tâm", "xem xét"];

const CLOSINGS: [&str; 3] = [
    "Kính mong Thành phố quan tâm, xem xét.",
    "Đề nghị sớm xem xét, giải quyết.",
    "Trân trọng đề nghị.",
];

/// How context sentences may start.
const CONTEXT_LEADS: [&str; 5] = [
    "",
    "Hiện nay, ",
    "Thực tế, ",
    "Qua rà soát, ",
    "Theo phản ánh của người dân, ",
];

/// How a commune is named where a placed matter is about it.
const PLACE_FORMS: [&str; 4] = ["tại", "trên địa bàn", "cho", "ở"];

/// Written-out forms and their abbreviations; both directions occur.
const ABBREVIATIONS: [(&str, &str); 7] = [
    ("Ủy ban nhân dân", "UBND"),
    ("Hội đồng nhân dân", "HĐND"),
    ("Mặt trận Tổ quốc", "MTTQ"),
    ("công nghệ thông tin", "CNTT"),
    ("thủ tục hành chính", "TTHC"),
    ("cơ sở dữ liệu", "CSDL"),
    ("Thành phố", "TP"),
];

/// New-style tone placement (on the second vowel of oa, oe, uy in an open
/// syllable) and its old style (on the first).
const OLD_TONES: [(&str, &str); 16] = [
    ("óa", "oá"),
    ("òa", "oà"),
    ("ỏa", "oả"),
    ("õa", "oã"),
    ("ọa", "oạ"),
    ("óe", "oé"),
    ("òe", "oè"),
    ("ỏe", "oẻ"),
    ("úy", "uý"),
    ("ùy", "uỳ"),
    ("ủy", "uỷ"),
    ("ũy", "uỹ"),
    ("ụy", "uỵ"),
    ("Úy", "Uý"),
    ("Ủy", "Uỷ"),
    ("Ùy", "Uỳ"),
];

/// The plan of one matter: what every copy of it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Matter {
    topic: usize,
    action: usize,
    object: usize,
    place: Option<usize>,
}

/// How many matters a corpus of `count` texts has: about eight texts per
/// matter on average, city-wide matters raised by many communes and
/// place-bound ones by a few.
fn plan_matters(count: usize, communes: usize, random: &mut SplitMix64) -> Vec<Matter> {
    let target = (count / 8).max(1);
    let mut city_wide = Vec::new();
    let mut placed_cores = Vec::new();
    for (topic_index, topic) in TOPICS.iter().enumerate() {
        for action in 0..topic.actions.len() {
            for object in 0..topic.objects.len() {
                let core = (topic_index, action, object);
                if topic.placed {
                    placed_cores.push(core);
                } else {
                    city_wide.push(core);
                }
            }
        }
    }
    // A third of the matters city-wide (as many as there are), in a
    // seed-dependent order so small corpora still mix topics.
    shuffle(&mut city_wide, random);
    let city_count = city_wide.len().min(target / 3 + 1);
    let mut matters: Vec<Matter> = city_wide
        .into_iter()
        .take(city_count)
        .map(|(topic, action, object)| Matter {
            topic,
            action,
            object,
            place: None,
        })
        .collect();
    let capacity = placed_cores.len() * communes;
    let placed_count = target.saturating_sub(city_count).min(capacity);
    let mut chosen = std::collections::HashSet::with_capacity(placed_count);
    while chosen.len() < placed_count {
        let (topic, action, object) = *random.pick(&placed_cores);
        let matter = Matter {
            topic,
            action,
            object,
            place: Some(random.below(communes)),
        };
        if chosen.insert(matter) {
            matters.push(matter);
        }
    }
    matters
}

fn shuffle<T>(items: &mut [T], random: &mut SplitMix64) {
    for index in (1..items.len()).rev() {
        let other = random.below(index + 1);
        items.swap(index, other);
    }
}

/// `count` recommendations from `seed`, naming `communes` (at least one).
pub fn generate(count: usize, seed: u64, communes: &[Commune]) -> Vec<Item> {
    let mut random = SplitMix64::new(seed);
    let matters = plan_matters(count, communes.len().max(1), &mut random);
    let city_wide = matters.iter().filter(|matter| matter.place.is_none()).count();
    let mut items = Vec::with_capacity(count);
    for index in 0..count {
        // Four texts in ten raise a city-wide matter: there are few of them,
        // each raised by many communes.
        let matter_index = if city_wide > 0 && (city_wide == matters.len() || random.chance(40)) {
            random.below(city_wide)
        } else {
            city_wide + random.below(matters.len() - city_wide)
        };
        let matter = matters[matter_index];
        let (text, organ_id, kinds) = write(matter, communes, &mut random);
        let topic = &TOPICS[matter.topic];
        items.push(Item {
            id: format!("t{index:06}"),
            text,
            matter: matter_index,
            placed: matter.place.is_some(),
            organ_id,
            topic: topic.label,
            addressee: topic.addressee,
            kinds,
        });
    }
    items
}

/// One copy of `matter`: its text, sender and the variations applied.
fn write(
    matter: Matter,
    communes: &[Commune],
    random: &mut SplitMix64,
) -> (String, String, Vec<&'static str>) {
    let topic = &TOPICS[matter.topic];
    let mut kinds = Vec::new();
    // A place-bound matter is usually sent by the commune it is about.
    let sender_commune = match matter.place {
        Some(place) if random.chance(85) => place,
        _ => random.below(communes.len()),
    };
    let commune = &communes[sender_commune.min(communes.len().saturating_sub(1))];
    let (suffix, titles) = *random.pick(&SENDERS);
    let organ_id = format!("{}-{suffix}", commune.code);

    let opening = if random.chance(60) {
        kinds.push("opening");
        format!(
            "{} {} {}",
            random.pick(titles),
            commune.name,
            random.pick(&SENDER_VERBS)
        )
    } else {
        (*random.pick(&PLAIN_OPENINGS)).to_owned()
    };
    let mut request = opening;
    let action = *random.pick(topic.actions[matter.action]);
    let softener = *random.pick(&SOFTENERS);
    if random.chance(30) && !request.ends_with(softener) && !action.starts_with(softener) {
        let _ = write!(request, " {softener}");
    }
    let _ = write!(request, " {action} {}", random.pick(topic.objects[matter.object]));
    if let Some(place) = matter.place {
        let named = &communes[place.min(communes.len().saturating_sub(1))];
        let _ = write!(request, " {} {}", random.pick(&PLACE_FORMS), named.name);
    }
    request.push('.');

    // Context sentences: as many as drawn, then more while under 20 words,
    // fewer while over 50, never beyond five sentences in all.
    let mut reasons: Vec<String> = Vec::new();
    let wanted = random.below(3);
    let closing = random.chance(20).then(|| *random.pick(&CLOSINGS));
    let words = |reasons: &[String]| {
        word_count(&request)
            + reasons.iter().map(|reason| word_count(reason)).sum::<usize>()
            + closing.map_or(0, word_count)
    };
    while reasons.len() < 3 && (reasons.len() < wanted || words(&reasons) < 20) {
        reasons.push(context_sentence(topic, random));
    }
    while words(&reasons) > 50 && !reasons.is_empty() {
        reasons.pop();
    }
    let reasons_first = random.chance(40);
    let mut sentences: Vec<&str> = Vec::with_capacity(5);
    if reasons_first {
        sentences.extend(reasons.iter().map(String::as_str));
        sentences.push(&request);
    } else {
        sentences.push(&request);
        sentences.extend(reasons.iter().map(String::as_str));
    }
    if let Some(closing) = closing {
        sentences.push(closing);
    }
    let mut text = sentences.join(" ");

    // Abbreviations: write all out, abbreviate all, or leave as drawn.
    let before = text.clone();
    match random.below(10) {
        0..=2 => {
            for (full, short) in ABBREVIATIONS {
                text = replace_word(&text, short, full);
            }
        }
        3..=5 => {
            for (full, short) in ABBREVIATIONS {
                text = text.replace(full, short);
            }
        }
        _ => {}
    }
    if text != before {
        kinds.push("abbreviation");
    }
    if random.chance(15) {
        let old = old_tone_placement(&text);
        if old != text {
            kinds.push("old_tone");
            text = old;
        }
    }
    // At most one change of encoding or case per copy.
    match random.below(100) {
        0..=7 => {
            kinds.push("nfd");
            text = text.nfd().collect();
        }
        8..=15 => {
            kinds.push("no_diacritics");
            text = without_diacritics(&text);
        }
        16..=17 => {
            kinds.push("all_caps");
            text = text.to_uppercase();
        }
        _ => {}
    }
    (text, organ_id, kinds)
}

/// "Hiện nay, khối lượng công việc của xã tăng gấp nhiều lần so với trước."
fn context_sentence(topic: &Topic, random: &mut SplitMix64) -> String {
    let lead = *random.pick(&CONTEXT_LEADS);
    let subject = *random.pick(topic.subjects);
    let predicate = *random.pick(topic.predicates);
    let sentence = format!("{lead}{subject} {predicate}.");
    let mut characters = sentence.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => sentence,
    }
}

fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// `text` with `word` replaced by `by` where it stands alone (so "TP" is not
/// replaced inside "TTHC").
fn replace_word(text: &str, word: &str, by: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric) {
            out.push_str(word);
        } else {
            out.push_str(by);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// Old tone placement in open syllables: "hóa" → "hoá", "ủy" → "uỷ".
fn old_tone_placement(text: &str) -> String {
    let mut out = text.to_owned();
    for (new, old) in OLD_TONES {
        let mut changed = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(new) {
            let after = rest[at + new.len()..].chars().next();
            changed.push_str(&rest[..at]);
            changed.push_str(if after.is_some_and(char::is_alphabetic) {
                new
            } else {
                old
            });
            rest = &rest[at + new.len()..];
        }
        changed.push_str(rest);
        out = changed;
    }
    out
}

/// The text as typed without diacritics: marks dropped, đ → d.
fn without_diacritics(text: &str) -> String {
    text.nfd()
        .filter(|character| !('\u{300}'..='\u{36f}').contains(character))
        .map(|character| match character {
            'đ' => 'd',
            'Đ' => 'D',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use lienthong_dedup::Engine;

    use super::*;

    fn communes() -> Vec<Commune> {
        hanoi_communes()
    }

    #[test]
    fn the_same_seed_gives_the_same_corpus_and_another_seed_another() {
        let communes = communes();
        assert_eq!(communes.len(), 126);
        assert_eq!(communes[0].name, "phường Ba Đình");
        let first = generate(2_000, 7, &communes);
        assert_eq!(first, generate(2_000, 7, &communes));
        assert_ne!(first, generate(2_000, 8, &communes));
        assert_eq!(first.len(), 2_000);
    }

    #[test]
    fn texts_are_valid_recommendations_with_planted_duplicates_and_every_variation() {
        let communes = communes();
        let items = generate(5_000, 1, &communes);
        let engine = Engine::default();
        let mut sizes: HashMap<usize, usize> = HashMap::new();
        let mut kinds: HashMap<&str, usize> = HashMap::new();
        for item in &items {
            assert!(engine.check_text(&item.text).is_ok(), "{}", item.text);
            let words = word_count(&item.text);
            assert!((12..=60).contains(&words), "{words} words: {}", item.text);
            *sizes.entry(item.matter).or_insert(0) += 1;
            for kind in &item.kinds {
                *kinds.entry(kind).or_insert(0) += 1;
            }
        }
        let repeated = sizes.values().filter(|size| **size > 1).count();
        assert!(
            repeated * 2 > sizes.len(),
            "{repeated} of {} matters repeat",
            sizes.len()
        );
        for kind in KINDS {
            assert!(kinds.get(kind).copied().unwrap_or(0) > 20, "{kind}: {kinds:?}");
        }
        assert!(items.iter().any(|item| item.placed) && items.iter().any(|item| !item.placed));
    }

    #[test]
    fn variations_rewrite_spelling_only() {
        assert_eq!(
            old_tone_placement("Ủy ban hòa giải, hoàn thành"),
            "Uỷ ban hoà giải, hoàn thành"
        );
        assert_eq!(
            without_diacritics("Đảng ủy phường Ba Đình"),
            "Dang uy phuong Ba Dinh"
        );
        assert_eq!(
            replace_word("TTHC của TP", "TP", "Thành phố"),
            "TTHC của Thành phố"
        );
    }
}
