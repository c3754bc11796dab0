//! Resolutions (nghị quyết) adopted by People's Councils and Party
//! committees, the legality review of the city's Department of Justice, and
//! the storage port for both.
//!
//! A resolution is filed once, by the organ that adopted it, and then only
//! reviewed: the register keeps what was adopted, so amending a resolution
//! means adopting a new one that names the old one in `supersedes`. Filing is
//! validated as a whole so the filer learns every problem in one round trip.
//!
//! Text search has to work for Vietnamese, where SQLite's `LOWER()` is
//! ASCII-only and people often type without diacritics. So the searchable
//! text is computed here, in Rust, twice: lower-cased NFC (to match a query
//! typed with diacritics exactly) and with the diacritics removed (to match
//! one typed without them); the store only runs `LIKE` over those columns.
//! Both hold the words alone, each between single spaces, so a query word
//! matches whole words only: "an" finds "an ninh", not "ngân sách".

use async_trait::async_trait;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use unicode_normalization::UnicodeNormalization as _;
use unicode_normalization::char::is_combining_mark;

use crate::directory::{Locality, LocalityKind, OrganKind};
use crate::error::{Error, Result, Violations};
use crate::paging::PageLimits;
use crate::period::Period;
use crate::store::IdempotencyKey;
use crate::text::{check_free_text, free_text_problem};

/// The organ kinds that adopt resolutions: the People's Council (HĐND) and
/// the Party committee (Đảng ủy, Thành ủy), at commune and city level.
pub const ISSUING_ORGAN_KINDS: [OrganKind; 2] = [OrganKind::PeoplesCouncil, OrganKind::PartyCommittee];

/// Longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 500;
/// Longest summary accepted, in characters.
pub const MAX_SUMMARY_CHARS: usize = 4_000;
/// Longest full text accepted, in characters: a long resolution with its
/// annexes runs to some tens of pages, and the text must fit in one message.
pub const MAX_FULL_TEXT_CHARS: usize = 200_000;
/// Longest symbol accepted, in characters; real ones are under twenty.
pub const MAX_SYMBOL_CHARS: usize = 64;
/// Longest reviewer's comment accepted, in characters.
pub const MAX_REVIEW_COMMENT_CHARS: usize = 4_000;
/// Longest text search accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words a text search may have; each is one `LIKE` condition.
pub const MAX_QUERY_TERMS: usize = 8;
/// No resolution in the register can be older than the Democratic Republic
/// (People's Councils date from 1945); an earlier year is a typing mistake.
pub const EARLIEST_ADOPTION_YEAR: i32 = 1945;
/// Longest topic code, in characters.
const MAX_TOPIC_CHARS: usize = 40;
/// Most digits of a resolution number; a body adopts far fewer in a year.
const MAX_NUMBER_DIGITS: usize = 5;
/// Longest issuer abbreviation after `NQ-` or `NQ/`, e.g. `HĐND`, `ĐU`, `TU`.
const MAX_ISSUER_CHARS: usize = 20;

/// Page sizes of the resolution list.
pub const RESOLUTION_PAGES: PageLimits = PageLimits {
    default_size: 50,
    max_size: 200,
};

/// How a symbol must look, for error messages.
const SYMBOL_GRAMMAR: &str = "a symbol such as 12/NQ-HĐND, 3/2025/NQ-HĐND (legal normative resolutions \
     carry the year) or 05-NQ/ĐU (Party style)";

/// Resource name of a resolution.
pub fn resolution_name(resolution_id: i64) -> String {
    format!("resolutions/{resolution_id}")
}

/// Parses `resolutions/{id}`.
pub fn parse_resolution_name(name: &str) -> Option<i64> {
    name.strip_prefix("resolutions/")?.parse().ok()
}

/// The refusal to supersede a resolution that another one superseded first.
pub fn already_superseded(resolution_id: i64, successor_id: i64) -> Error {
    Error::FailedPrecondition {
        violation_type: "ALREADY_SUPERSEDED",
        subject: resolution_name(resolution_id),
        description: format!(
            "{} is already superseded by {}; supersede that one instead",
            resolution_name(resolution_id),
            resolution_name(successor_id)
        ),
    }
}

/// The department that reviews the legality of resolutions adopted in
/// `locality`: the Department of Justice of its province (`01-justice` in
/// Hanoi), so another province loaded into the directory reviews its own.
pub fn reviewing_department(locality: &Locality) -> String {
    let province_code = match locality.kind {
        LocalityKind::City => &locality.code,
        LocalityKind::Ward | LocalityKind::Commune => &locality.parent_code,
    };
    format!("{province_code}-justice")
}

/// Where a resolution stands in its legality review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ResolutionStatus {
    /// Filed; the reviewing department has not decided yet.
    PendingReview,
    /// Found lawful.
    Lawful,
    /// Found to need amendment by the issuing organ.
    NeedsAmendment,
    /// Annulled. Final.
    Annulled,
}

impl ResolutionStatus {
    pub const ALL: [ResolutionStatus; 4] = [
        ResolutionStatus::PendingReview,
        ResolutionStatus::Lawful,
        ResolutionStatus::NeedsAmendment,
        ResolutionStatus::Annulled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResolutionStatus::PendingReview => "PENDING_REVIEW",
            ResolutionStatus::Lawful => "LAWFUL",
            ResolutionStatus::NeedsAmendment => "NEEDS_AMENDMENT",
            ResolutionStatus::Annulled => "ANNULLED",
        }
    }

    pub fn parse(text: &str) -> Option<ResolutionStatus> {
        ResolutionStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// The verdicts a resolution in this status may still receive. A review
    /// only ever moves forward (pending → needs amendment → lawful →
    /// annulled, skipping steps allowed), so a status is never seen twice by
    /// one resolution and a compare-and-set on it cannot be fooled by a
    /// change and a change back.
    pub fn allowed_verdicts(self) -> &'static [ResolutionVerdict] {
        match self {
            ResolutionStatus::PendingReview => &[
                ResolutionVerdict::Lawful,
                ResolutionVerdict::NeedsAmendment,
                ResolutionVerdict::Annulled,
            ],
            ResolutionStatus::NeedsAmendment => &[ResolutionVerdict::Lawful, ResolutionVerdict::Annulled],
            ResolutionStatus::Lawful => &[ResolutionVerdict::Annulled],
            ResolutionStatus::Annulled => &[],
        }
    }

    pub fn allows(self, verdict: ResolutionVerdict) -> bool {
        self.allowed_verdicts().contains(&verdict)
    }
}

/// The reviewing department's decision on a resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ResolutionVerdict {
    Lawful,
    /// The issuing organ must amend it; the comment says what.
    NeedsAmendment,
    /// The resolution is unlawful and void; the comment says why.
    Annulled,
}

impl ResolutionVerdict {
    pub const ALL: [ResolutionVerdict; 3] = [
        ResolutionVerdict::Lawful,
        ResolutionVerdict::NeedsAmendment,
        ResolutionVerdict::Annulled,
    ];

    /// The status a resolution takes on this verdict.
    pub fn outcome(self) -> ResolutionStatus {
        match self {
            ResolutionVerdict::Lawful => ResolutionStatus::Lawful,
            ResolutionVerdict::NeedsAmendment => ResolutionStatus::NeedsAmendment,
            ResolutionVerdict::Annulled => ResolutionStatus::Annulled,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.outcome().as_str()
    }

    pub fn parse(text: &str) -> Option<ResolutionVerdict> {
        ResolutionVerdict::ALL
            .into_iter()
            .find(|verdict| verdict.as_str() == text)
    }

    /// Whether the issuing organ must be told why: it has to act on it.
    pub fn needs_comment(self) -> bool {
        matches!(
            self,
            ResolutionVerdict::NeedsAmendment | ResolutionVerdict::Annulled
        )
    }
}

/// A resolution's symbol (số, ký hiệu), parsed.
///
/// The grammar, with `N` a number of 1 to 5 digits (leading zeros allowed,
/// not zero), `YYYY` a year and `ISSUER` 1 to 20 upper-case letters
/// (Vietnamese ones included) or digits starting with a letter:
///
/// - `N/NQ-ISSUER`, the state style: `12/NQ-HĐND`, `05/NQ-ĐU`;
/// - `N/YYYY/NQ-ISSUER`, a legal normative resolution, numbered in a series
///   of its own and carrying its year: `3/2025/NQ-HĐND`;
/// - `N-NQ/ISSUER`, the Party style: `05-NQ/ĐU`, `15-NQ/TU`.
///
/// No spaces, and `NQ` in capitals. The issuer abbreviation is not matched
/// against the organ: abbreviations vary (`ĐU`, `TU`, `HĐND`, `TTHĐND`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolutionSymbol {
    /// The symbol as filed, in NFC.
    text: String,
    number: u32,
    year: Option<i32>,
    issuer: String,
}

impl ResolutionSymbol {
    pub fn parse(text: &str) -> Result<ResolutionSymbol, String> {
        let text: String = text.nfc().collect();
        if text.is_empty() {
            return Err(format!("required: {SYMBOL_GRAMMAR}"));
        }
        if text.chars().count() > MAX_SYMBOL_CHARS {
            return Err(format!("at most {MAX_SYMBOL_CHARS} characters"));
        }
        if text.chars().any(char::is_whitespace) {
            return Err(format!("{text:?} has spaces; write {SYMBOL_GRAMMAR}"));
        }
        let not_a_symbol = || format!("{text:?} is not {SYMBOL_GRAMMAR}");
        let (number, year, issuer) = if let Some((number, issuer)) = text.split_once("-NQ/") {
            (number, None, issuer)
        } else if let Some((before, issuer)) = text.rsplit_once("/NQ-") {
            match before.split_once('/') {
                Some((number, year)) => (number, Some(year), issuer),
                None => (before, None, issuer),
            }
        } else {
            return Err(not_a_symbol());
        };
        let number = parse_symbol_number(number).ok_or_else(not_a_symbol)?;
        let year = match year {
            None => None,
            Some(year) if year.len() == 4 && year.bytes().all(|byte| byte.is_ascii_digit()) => {
                Some(year.parse::<i32>().map_err(|_| not_a_symbol())?)
            }
            Some(_) => return Err(not_a_symbol()),
        };
        if !is_issuer_abbreviation(issuer) {
            return Err(not_a_symbol());
        }
        Ok(ResolutionSymbol {
            issuer: issuer.to_owned(),
            text,
            number,
            year,
        })
    }

    /// The symbol as filed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn number(&self) -> u32 {
        self.number
    }

    /// The year a legal normative resolution's symbol carries.
    pub fn year(&self) -> Option<i32> {
        self.year
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// What makes two symbols the same within one organ and year: the
    /// number (so `05/NQ-ĐU` and `5/NQ-ĐU` collide), whether it is in the
    /// normative series, and the issuer; the state and Party styles of one
    /// number are the same symbol written two ways.
    pub fn key(&self) -> String {
        match self.year {
            Some(year) => format!("{}/{year}/NQ-{}", self.number, self.issuer),
            None => format!("{}/NQ-{}", self.number, self.issuer),
        }
    }
}

fn parse_symbol_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > MAX_NUMBER_DIGITS || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|number| *number >= 1)
}

fn is_issuer_abbreviation(text: &str) -> bool {
    let mut characters = text.chars();
    characters
        .next()
        .is_some_and(|first| first.is_alphabetic() && first.is_uppercase())
        && text.chars().count() <= MAX_ISSUER_CHARS
        && characters.all(|character| {
            (character.is_alphabetic() && character.is_uppercase()) || character.is_ascii_digit()
        })
}

/// Whether `code` is a topic code: 2 to 40 lower-case ASCII letters, digits
/// and inner hyphens, starting with a letter, e.g. `budget`, `staffing`,
/// `administrative-procedures`. Codes rather than free labels, so that a
/// filter by topic finds every resolution of it whatever its wording.
pub fn is_topic_code(code: &str) -> bool {
    (2..=MAX_TOPIC_CHARS).contains(&code.len())
        && code.starts_with(|first: char| first.is_ascii_lowercase())
        && !code.ends_with('-')
        && !code.contains("--")
        && code
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// Parses an ISO 8601 calendar date, `YYYY-MM-DD`, with the strictness of
/// period ids (four-digit year, zero-padded month and day, no spaces).
pub fn parse_iso_date(text: &str) -> Result<Date, String> {
    match text.parse::<Period>() {
        Ok(Period::Day(date)) => Ok(date),
        Ok(_) => Err(format!("{text:?} is not a date YYYY-MM-DD")),
        Err(error) => Err(format!("{text:?} is not a date YYYY-MM-DD ({})", error.kind())),
    }
}

/// Parses an optional date field, adding a violation when it is malformed.
pub fn check_optional_date(field: &str, text: Option<&str>, violations: &mut Violations) -> Option<Date> {
    parse_iso_date(text?)
        .map_err(|reason| violations.add(field, reason))
        .ok()
}

/// The form text and queries share for matching with diacritics:
/// lower case, Unicode NFC (so a decomposed "ệ" typed on one system matches
/// the precomposed one stored from another).
pub fn lower_case_nfc(text: &str) -> String {
    text.nfc().collect::<String>().to_lowercase().nfc().collect()
}

/// Text with its Vietnamese diacritics removed, lower case: tone and vowel
/// marks dropped and `đ` read as `d`, so "Ngân sách" becomes "ngan sach".
pub fn without_diacritics(text: &str) -> String {
    text.to_lowercase()
        .nfd()
        .filter(|character| !is_combining_mark(*character))
        .map(|character| if character == 'đ' { 'd' } else { character })
        .collect()
}

/// The words of a text as search matches them: lower-cased NFC, split at
/// every character that is not a letter, digit or combining mark ("12/NQ-HĐND"
/// is three words).
pub fn search_words(text: &str) -> Vec<String> {
    lower_case_nfc(text)
        .split(|character: char| !(character.is_alphanumeric() || is_combining_mark(character)))
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The two stored search columns of a resolution: the words of its title
/// and summary, each between single spaces (" nghị quyết về ngân sách "),
/// and the same without diacritics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchColumns {
    pub with_diacritics: String,
    pub without_diacritics: String,
}

impl SearchColumns {
    pub fn of(title: &str, summary: &str) -> SearchColumns {
        let mut searchable = String::from(" ");
        for word in search_words(title).into_iter().chain(search_words(summary)) {
            searchable.push_str(&word);
            searchable.push(' ');
        }
        SearchColumns {
            without_diacritics: without_diacritics(&searchable),
            with_diacritics: searchable,
        }
    }
}

/// One word of a text search, in the form it is matched in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    pub text: String,
    /// True when the word was typed without diacritics: it is then matched
    /// against the text without diacritics, so "ngan sach" finds "ngân
    /// sách". A word typed with them is matched exactly, so "mở" does not
    /// find "mỏ".
    pub ignores_diacritics: bool,
}

/// Splits a text search into words as [`search_words`] splits the stored
/// text; every word must occur in the title or summary, in any order.
pub fn search_terms(query: &str) -> Result<Vec<SearchTerm>, String> {
    if let Some(problem) = free_text_problem(query, MAX_QUERY_CHARS) {
        return Err(problem);
    }
    let terms: Vec<SearchTerm> = search_words(query)
        .into_iter()
        .map(|word| SearchTerm {
            ignores_diacritics: without_diacritics(&word) == word,
            text: word,
        })
        .collect();
    if terms.is_empty() && !query.trim().is_empty() {
        return Err("has no words to search for, only punctuation".to_owned());
    }
    if terms.len() > MAX_QUERY_TERMS {
        return Err(format!("at most {MAX_QUERY_TERMS} words"));
    }
    Ok(terms)
}

/// What a filer sends about a resolution, before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResolutionDraft {
    pub symbol: String,
    pub title: String,
    /// `YYYY-MM-DD`.
    pub adoption_date: String,
    /// `YYYY-MM-DD`.
    pub effective_date: String,
    pub topic: String,
    pub summary: String,
    pub full_text: String,
    pub budget_vnd: Option<i64>,
}

/// A draft that passed [`check_draft`], its texts in NFC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedDraft {
    pub symbol: ResolutionSymbol,
    pub title: String,
    pub adopted_on: Date,
    pub effective_on: Date,
    pub topic: String,
    pub summary: String,
    pub full_text: String,
    pub budget_vnd: Option<i64>,
}

/// Checks every field of a draft against the others and against `today`
/// (Vietnam's date), collecting every violation; field paths are the
/// request's field names.
pub fn check_draft(draft: &ResolutionDraft, today: Date) -> Result<CheckedDraft, Violations> {
    let mut violations = Violations::new();
    let symbol = ResolutionSymbol::parse(&draft.symbol)
        .map_err(|reason| violations.add("symbol", reason))
        .ok();
    let title = check_text("title", &draft.title, MAX_TITLE_CHARS, &mut violations);
    let summary = check_text("summary", &draft.summary, MAX_SUMMARY_CHARS, &mut violations);
    let full_text = check_text(
        "full_text",
        &draft.full_text,
        MAX_FULL_TEXT_CHARS,
        &mut violations,
    );

    let adopted_on = check_required_date("adoption_date", &draft.adoption_date, &mut violations);
    let effective_on = check_required_date("effective_date", &draft.effective_date, &mut violations);
    if let Some(adopted_on) = adopted_on {
        if adopted_on > today {
            violations.add(
                "adoption_date",
                format!("{adopted_on} is after today ({today}); file a resolution once it is adopted"),
            );
        }
        if adopted_on.year() < EARLIEST_ADOPTION_YEAR {
            violations.add(
                "adoption_date",
                format!("{adopted_on} is before {EARLIEST_ADOPTION_YEAR}"),
            );
        }
        if let Some(effective_on) = effective_on
            && effective_on < adopted_on
        {
            violations.add(
                "effective_date",
                format!("{effective_on} is before the adoption date {adopted_on}"),
            );
        }
        if let Some(symbol_year) = symbol.as_ref().and_then(ResolutionSymbol::year)
            && symbol_year != adopted_on.year()
        {
            violations.add(
                "symbol",
                format!(
                    "the symbol carries the year {symbol_year}, the adoption date the year {}",
                    adopted_on.year()
                ),
            );
        }
    }

    if draft.topic.is_empty() {
        violations.add("topic", "required: a topic code such as budget or staffing");
    } else if !is_topic_code(&draft.topic) {
        violations.add(
            "topic",
            format!(
                "{:?} is not a topic code: 2 to {MAX_TOPIC_CHARS} lower-case letters, digits and \
                 hyphens, such as administrative-procedures",
                draft.topic
            ),
        );
    }
    if draft.budget_vnd.is_some_and(|budget| budget < 0) {
        violations.add("budget_vnd", "must not be negative");
    }

    match (symbol, adopted_on, effective_on) {
        (Some(symbol), Some(adopted_on), Some(effective_on)) if violations.is_empty() => Ok(CheckedDraft {
            symbol,
            title,
            adopted_on,
            effective_on,
            topic: draft.topic.clone(),
            summary,
            full_text,
            budget_vnd: draft.budget_vnd,
        }),
        _ => Err(violations),
    }
}

/// A required, bounded text field in NFC.
fn check_text(field: &str, text: &str, max_chars: usize, violations: &mut Violations) -> String {
    let normalised: String = text.nfc().collect();
    if normalised.trim().is_empty() {
        violations.add(field, "required");
    } else {
        check_free_text(field, &normalised, max_chars, violations);
    }
    normalised
}

fn check_required_date(field: &str, text: &str, violations: &mut Violations) -> Option<Date> {
    if text.is_empty() {
        violations.add(field, "required: a date YYYY-MM-DD");
        return None;
    }
    check_optional_date(field, Some(text), violations)
}

/// One decision of the reviewing department, kept for good: who decided,
/// when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolutionReview {
    /// 1 for the first decision on the resolution, then 2, 3.
    pub sequence: u32,
    pub verdict: ResolutionVerdict,
    pub comment: String,
    pub reviewer_organ: String,
    /// The token that recorded the decision, for the audit trail.
    pub reviewed_by_token: i64,
    pub reviewed_at: OffsetDateTime,
}

/// A filed resolution, without its full text (which lists leave out and
/// [`ResolutionStore::get_resolution_full_text`] reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub id: i64,
    pub issuing_organ_id: String,
    pub locality_code: String,
    pub symbol: String,
    pub title: String,
    pub adopted_on: Date,
    pub effective_on: Date,
    pub topic: String,
    pub summary: String,
    pub budget_vnd: Option<i64>,
    /// The resolution this one replaces.
    pub supersedes: Option<i64>,
    /// The resolution that replaced this one.
    pub superseded_by: Option<i64>,
    pub status: ResolutionStatus,
    pub filed_at: OffsetDateTime,
    /// The token that filed it, for the audit trail.
    pub filed_by_token: i64,
    /// When it was filed, reviewed or superseded last.
    pub updated_at: OffsetDateTime,
    /// Every decision on it, oldest first.
    pub reviews: Vec<ResolutionReview>,
}

/// A resolution to create in PENDING_REVIEW.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResolution {
    pub issuing_organ_id: String,
    pub locality_code: String,
    pub content: CheckedDraft,
    pub supersedes: Option<i64>,
    pub filed_at: OffsetDateTime,
    pub filed_by_token: i64,
}

/// A decision to record, if the resolution is still as the reviewer saw it:
/// in `expected_status` with `review.sequence - 1` decisions before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResolutionReview {
    pub resolution_id: i64,
    pub expected_status: ResolutionStatus,
    pub review: ResolutionReview,
}

/// Which resolutions a list returns; the conditions combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolutionFilter {
    pub issuing_organ_id: Option<String>,
    pub locality_code: Option<String>,
    pub topic: Option<String>,
    /// Adopted on or after this date.
    pub adopted_from: Option<Date>,
    /// Adopted on or before this date.
    pub adopted_to: Option<Date>,
    pub status: Option<ResolutionStatus>,
    /// Every term must occur in the title or summary.
    pub terms: Vec<SearchTerm>,
}

/// The storage port of the resolution register. [`crate::store::Store`]
/// requires it, so one store serves every use case; idempotency keys are
/// read through `Store::find_request` like every other write's.
#[async_trait]
pub trait ResolutionStore: Send + Sync + std::fmt::Debug + 'static {
    /// Creates a resolution in PENDING_REVIEW and records `key`, in one
    /// transaction; when it supersedes another, marks that one
    /// `superseded_by` in the same transaction. `AlreadyExists` of kind
    /// `Resolution`, naming the existing one, when the organ already filed
    /// the symbol for that year; `FailedPrecondition` (`ALREADY_SUPERSEDED`)
    /// when the superseded resolution was superseded meanwhile; `NotFound`
    /// when it does not exist; `AlreadyExists` of kind `IdempotencyKey` when
    /// the key was recorded meanwhile.
    async fn insert_resolution(&self, resolution: &NewResolution, key: &IdempotencyKey) -> Result<i64>;
    /// Records a decision and the status it leads to if the resolution is
    /// still in `expected_status` with `review.sequence - 1` decisions;
    /// `FailedPrecondition` (`CONCURRENT_CHANGE`) if it changed meanwhile.
    async fn record_resolution_review(
        &self,
        review: &NewResolutionReview,
        key: &IdempotencyKey,
    ) -> Result<()>;
    async fn get_resolution(&self, id: i64) -> Result<Option<Resolution>>;
    /// The full text of a resolution; `None` if there is no such resolution.
    async fn get_resolution_full_text(&self, id: i64) -> Result<Option<String>>;
    /// Resolutions in id (filing) order after `after_id`, at most `limit`,
    /// each with its decisions.
    async fn list_resolutions(
        &self,
        filter: &ResolutionFilter,
        after_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Resolution>>;
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn symbol(text: &str) -> ResolutionSymbol {
        ResolutionSymbol::parse(text).unwrap_or_else(|reason| panic!("{text}: {reason}"))
    }

    #[test]
    fn symbols_of_each_style_parse() {
        let state = symbol("12/NQ-HĐND");
        assert_eq!((state.number(), state.year(), state.issuer()), (12, None, "HĐND"));
        let normative = symbol("3/2025/NQ-HĐND");
        assert_eq!(
            (normative.number(), normative.year(), normative.issuer()),
            (3, Some(2025), "HĐND")
        );
        let party = symbol("05-NQ/ĐU");
        assert_eq!((party.number(), party.year(), party.issuer()), (5, None, "ĐU"));
        assert_eq!(symbol("05/NQ-ĐU").as_str(), "05/NQ-ĐU");
        assert_eq!(symbol("15-NQ/TU").issuer(), "TU");
        assert_eq!(symbol("7/NQ-TTHĐND").issuer(), "TTHĐND");
        assert_eq!(symbol("1/NQ-UBTVQH15").issuer(), "UBTVQH15");
    }

    #[test]
    fn leading_zeros_and_style_do_not_change_the_key_but_the_normative_series_does() {
        assert_eq!(symbol("05/NQ-ĐU").key(), symbol("5/NQ-ĐU").key());
        assert_eq!(symbol("05-NQ/ĐU").key(), symbol("5/NQ-ĐU").key());
        assert_ne!(symbol("12/NQ-HĐND").key(), symbol("12/2025/NQ-HĐND").key());
        assert_ne!(symbol("12/NQ-HĐND").key(), symbol("12/NQ-TTHĐND").key());
    }

    #[test]
    fn a_decomposed_symbol_is_read_in_nfc() {
        // "Ư" written as U + combining horn.
        let decomposed = "4/NQ-U\u{031B}B";
        assert_eq!(symbol(decomposed).as_str(), "4/NQ-\u{01AF}B");
    }

    #[test]
    fn malformed_symbols_are_rejected() {
        for bad in [
            "",
            "12",
            "NQ-HĐND",
            "/NQ-HĐND",
            "0/NQ-HĐND",
            "00/NQ-HĐND",
            "123456/NQ-HĐND",
            "12/NQ-",
            "12/NQ-hđnd",
            "12/nq-HĐND",
            "12 /NQ-HĐND",
            "12/NQ-HĐND ",
            "12/25/NQ-HĐND",
            "12/2025a/NQ-HĐND",
            "12/2025/2/NQ-HĐND",
            "a12/NQ-HĐND",
            "12/QĐ-UBND",
            "12-NQ/",
            "12-NQ/1U",
            "12/NQ-HĐ-ND",
            "12/NQ-ABCDEFGHIJKLMNOPQRSTU",
        ] {
            assert!(ResolutionSymbol::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("1/NQ-{}", "A".repeat(MAX_SYMBOL_CHARS));
        assert!(
            ResolutionSymbol::parse(&long)
                .expect_err("too long")
                .contains("at most")
        );
    }

    #[test]
    fn topic_codes_are_short_lower_case_codes() {
        for good in ["budget", "administrative-procedures", "land-use-2030", "it"] {
            assert!(is_topic_code(good), "{good:?} refused");
        }
        for bad in [
            "",
            "b",
            "Budget",
            "ngân-sách",
            "-budget",
            "budget-",
            "a--b",
            "1budget",
            "a b",
        ] {
            assert!(!is_topic_code(bad), "{bad:?} accepted");
        }
        assert!(!is_topic_code(&"a".repeat(MAX_TOPIC_CHARS + 1)));
    }

    #[test]
    fn dates_are_strict_iso_calendar_dates() {
        assert_eq!(parse_iso_date("2025-09-30"), Ok(date!(2025 - 09 - 30)));
        for bad in [
            "2025-09-31",
            "2025-9-30",
            "2025-09",
            "30/09/2025",
            " 2025-09-30",
            "",
            "0025-01-01",
        ] {
            assert!(parse_iso_date(bad).is_err(), "{bad:?} accepted");
        }
    }

    fn draft() -> ResolutionDraft {
        ResolutionDraft {
            symbol: "12/NQ-HĐND".to_owned(),
            title: "Nghị quyết về dự toán ngân sách xã năm 2026".to_owned(),
            adoption_date: "2025-12-10".to_owned(),
            effective_date: "2026-01-01".to_owned(),
            topic: "budget".to_owned(),
            summary: "Thông qua dự toán thu, chi ngân sách".to_owned(),
            full_text: "Điều 1. Thông qua dự toán…".to_owned(),
            budget_vnd: Some(45_000_000_000),
        }
    }

    const TODAY: Date = date!(2025 - 12 - 20);

    fn violated_fields(draft: &ResolutionDraft) -> Vec<(String, String)> {
        let violations = check_draft(draft, TODAY).expect_err("invalid");
        let Err(Error::InvalidArgument(list)) = violations.into_result() else {
            panic!("expected violations");
        };
        list.into_iter()
            .map(|violation| (violation.field, violation.description))
            .collect()
    }

    #[test]
    fn a_valid_draft_is_checked_into_nfc_texts() {
        let mut decomposed = draft();
        decomposed.title = "Nghi\u{0323} quyê\u{0301}t".to_owned();
        let checked = check_draft(&decomposed, TODAY).expect("valid");
        assert_eq!(checked.title, "Nghị quyết");
        assert_eq!(checked.adopted_on, date!(2025 - 12 - 10));
        assert_eq!(checked.effective_on, date!(2026 - 01 - 01));
        assert_eq!(checked.symbol.key(), "12/NQ-HĐND");
    }

    #[test]
    fn effective_on_the_adoption_day_is_fine_but_before_it_is_not() {
        let mut same_day = draft();
        same_day.effective_date = same_day.adoption_date.clone();
        assert!(check_draft(&same_day, TODAY).is_ok());

        let mut before = draft();
        before.effective_date = "2025-12-09".to_owned();
        let fields = violated_fields(&before);
        assert_eq!(fields.len(), 1, "{fields:?}");
        assert_eq!(fields[0].0, "effective_date");
        assert!(fields[0].1.contains("before the adoption date"), "{fields:?}");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = ResolutionDraft {
            symbol: "12/2024/NQ-HĐND".to_owned(),
            title: " ".to_owned(),
            adoption_date: "2025-12-31".to_owned(),
            effective_date: "2026-02-30".to_owned(),
            topic: "Ngân sách".to_owned(),
            summary: "x".repeat(MAX_SUMMARY_CHARS + 1),
            full_text: String::new(),
            budget_vnd: Some(-1),
        };
        let fields: Vec<String> = violated_fields(&bad)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(
            fields,
            [
                "title",
                "summary",
                "full_text",
                "effective_date",
                "adoption_date",
                "symbol",
                "topic",
                "budget_vnd"
            ]
        );
        let nothing = violated_fields(&ResolutionDraft::default());
        let fields: Vec<&str> = nothing.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "symbol",
                "title",
                "summary",
                "full_text",
                "adoption_date",
                "effective_date",
                "topic"
            ]
        );
        let mut ancient = draft();
        ancient.adoption_date = "1930-02-03".to_owned();
        ancient.effective_date = "1930-02-03".to_owned();
        assert_eq!(violated_fields(&ancient)[0].0, "adoption_date");
    }

    #[test]
    fn transitions_only_move_forward_and_annulled_is_final() {
        use ResolutionStatus::*;
        use ResolutionVerdict as Verdict;
        let allowed = |from: ResolutionStatus| -> Vec<ResolutionStatus> {
            Verdict::ALL
                .into_iter()
                .filter(|verdict| from.allows(*verdict))
                .map(Verdict::outcome)
                .collect()
        };
        assert_eq!(allowed(PendingReview), [Lawful, NeedsAmendment, Annulled]);
        assert_eq!(allowed(NeedsAmendment), [Lawful, Annulled]);
        assert_eq!(allowed(Lawful), [Annulled]);
        assert!(allowed(Annulled).is_empty());
        for status in ResolutionStatus::ALL {
            assert_eq!(ResolutionStatus::parse(status.as_str()), Some(status));
        }
        for verdict in Verdict::ALL {
            assert_eq!(Verdict::parse(verdict.as_str()), Some(verdict));
        }
        assert!(!Verdict::Lawful.needs_comment());
        assert!(Verdict::NeedsAmendment.needs_comment() && Verdict::Annulled.needs_comment());
    }

    #[test]
    fn search_text_keeps_and_drops_diacritics() {
        let columns = SearchColumns::of("Nghị quyết về NGÂN SÁCH", "Đầu tư công (2025–2030).");
        assert_eq!(
            columns.with_diacritics,
            " nghị quyết về ngân sách đầu tư công 2025 2030 "
        );
        assert_eq!(
            columns.without_diacritics,
            " nghi quyet ve ngan sach dau tu cong 2025 2030 "
        );
        assert_eq!(search_words("Số 12/NQ-HĐND"), ["số", "12", "nq", "hđnd"]);
        // Decomposed marks stay inside their word.
        assert_eq!(search_words("Nga\u{0302}\u{0300}n sách"), ["ngần", "sách"]);
        // Decomposed input lands in the same form.
        assert_eq!(lower_case_nfc("Ngâ\u{0300}"), lower_case_nfc("Ngầ"));
    }

    #[test]
    fn search_terms_match_with_diacritics_only_when_typed_with_them() {
        let terms = search_terms("  NGÂN sach  Đầu ").expect("valid");
        assert_eq!(
            terms,
            [
                SearchTerm {
                    text: "ngân".to_owned(),
                    ignores_diacritics: false
                },
                SearchTerm {
                    text: "sach".to_owned(),
                    ignores_diacritics: true
                },
                SearchTerm {
                    text: "đầu".to_owned(),
                    ignores_diacritics: false
                },
            ]
        );
        // "đ" is a letter of its own, not a "d" with a mark, but typing "d" for it is common.
        assert!(!search_terms("đê").expect("valid")[0].ignores_diacritics);
        assert!(search_terms("").expect("valid").is_empty());
        assert!(search_terms(" %_/ ").is_err(), "punctuation alone");
        assert!(search_terms(&"a ".repeat(MAX_QUERY_TERMS + 1)).is_err());
        assert!(search_terms(&"a".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }

    #[test]
    fn the_justice_department_of_the_province_reviews() {
        let ward = Locality {
            code: "00004".to_owned(),
            name: "Phường Ba Đình".to_owned(),
            kind: LocalityKind::Ward,
            parent_code: "01".to_owned(),
        };
        assert_eq!(reviewing_department(&ward), "01-justice");
        assert_eq!(reviewing_department(&crate::directory::hanoi()), "01-justice");
    }

    #[test]
    fn resolution_names_round_trip() {
        assert_eq!(parse_resolution_name(&resolution_name(42)), Some(42));
        assert_eq!(parse_resolution_name("resolutions/x"), None);
        assert_eq!(parse_resolution_name("reports/1"), None);
    }
}
