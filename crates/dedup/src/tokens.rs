//! Tokenisation: raw text → words and numbers in canonical Vietnamese form
//! (NFC, lower case, canonical tone placement) with their accent-folded
//! twin, their original casing, and the kind of break before each of them.
//! Breaks are kept so phrases never match across a comma, numbers written
//! "4.063,6" stay one number, and the normalised text can be re-tokenised
//! into the same structure.

use unicode_normalization::UnicodeNormalization;

use crate::vietnamese::{Letter, attach_mark, classify_mark, place_tone_canonically};

/// What separates a token from the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gap {
    /// The first token of the text.
    Start,
    /// Whitespace only (a spaced hyphen, as in "kinh tế - xã hội", too).
    Space,
    /// One joining character and no whitespace: "GD&ĐT", "KT-XH", "4.063",
    /// "12/2025".
    Joined(char),
    /// A comma, semicolon, bracket, dash or quote.
    Clause,
    /// A colon, which typically ends a formulaic opening.
    Colon,
    /// A full stop, question or exclamation mark, or a line break.
    Sentence,
}

impl Gap {
    /// Whether a phrase may continue across this gap.
    pub(crate) fn is_within_phrase(self) -> bool {
        matches!(self, Gap::Space)
    }

    /// How the gap is written in normalised text; re-tokenising that
    /// rendering gives the same gap back.
    pub(crate) fn rendering(self) -> &'static str {
        match self {
            Gap::Start => "",
            Gap::Space => " ",
            Gap::Joined('&') => "&",
            Gap::Joined('-') => "-",
            Gap::Joined('/') => "/",
            Gap::Joined('.') => ".",
            Gap::Joined(',') => ",",
            Gap::Joined(_) => "_",
            Gap::Clause => ", ",
            Gap::Colon => ": ",
            Gap::Sentence => ". ",
        }
    }

    /// The stronger of two gaps, used when the tokens between them are
    /// removed.
    pub(crate) fn strongest(self, other: Gap) -> Gap {
        fn rank(gap: Gap) -> u8 {
            match gap {
                Gap::Start => 5,
                Gap::Sentence => 4,
                Gap::Colon => 3,
                Gap::Clause => 2,
                Gap::Joined(_) => 1,
                Gap::Space => 0,
            }
        }
        if rank(other) > rank(self) { other } else { self }
    }
}

/// Where a token's words came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Typed in the text.
    Text,
    /// Expanded from an abbreviation or replaced by a synonym's canonical
    /// form: its diacritics say nothing about how the text was typed.
    Lexicon,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// NFC, lower case, canonical tone placement.
    pub(crate) accented: String,
    /// Without any diacritic, đ as d.
    pub(crate) folded: String,
    pub(crate) has_diacritic: bool,
    /// First letter upper case (proper names in mixed-case text).
    pub(crate) capitalized: bool,
    /// Every letter upper case (abbreviations, ALL-CAPS text).
    pub(crate) all_upper: bool,
    /// Only decimal digits (before number merging) or a merged number.
    pub(crate) numeric: bool,
    pub(crate) gap_before: Gap,
    pub(crate) origin: Origin,
}

impl Token {
    pub(crate) fn from_lexicon(accented: &str, folded: &str, gap_before: Gap) -> Token {
        Token {
            accented: accented.to_owned(),
            folded: folded.to_owned(),
            has_diacritic: accented != folded,
            capitalized: false,
            all_upper: false,
            numeric: false,
            gap_before,
            origin: Origin::Lexicon,
        }
    }

    /// Moves the token out, leaving empty words behind: the normalising
    /// steps pass most tokens through unchanged, and moving them saves
    /// copying two strings per token per step.
    pub(crate) fn take(&mut self) -> Token {
        Token {
            accented: std::mem::take(&mut self.accented),
            folded: std::mem::take(&mut self.folded),
            ..*self
        }
    }

    /// Whether the token has a letter (so is a word, not a number or mark).
    pub(crate) fn has_letter(&self) -> bool {
        self.folded.chars().any(char::is_alphabetic)
    }
}

/// Builds one token from its letters: canonical tone, NFC, folding, casing.
fn finish_token(letters: &mut [Letter], gap_before: Gap) -> Token {
    place_tone_canonically(letters);
    let mut accented = String::with_capacity(letters.len() * 2);
    let mut folded = String::with_capacity(letters.len());
    let mut has_diacritic = false;
    for letter in letters.iter() {
        letter.push_composed(&mut accented);
        folded.push(letter.folded());
        has_diacritic |= letter.has_diacritic();
    }
    let cased_letters = letters.iter().filter(|letter| letter.base.is_alphabetic());
    let all_upper = cased_letters.clone().count() > 0 && cased_letters.clone().all(|letter| letter.was_upper);
    Token {
        accented,
        folded,
        has_diacritic,
        capitalized: letters.first().is_some_and(|letter| letter.was_upper),
        all_upper,
        numeric: letters.iter().all(|letter| letter.base.is_ascii_digit()),
        gap_before,
        origin: Origin::Text,
    }
}

/// Accumulates the separator characters between two tokens.
#[derive(Debug, Default)]
struct Separators {
    count: usize,
    last: char,
    whitespace: bool,
    line_break: bool,
    sentence_mark: bool,
    colon: bool,
    clause_mark: bool,
}

impl Separators {
    fn push(&mut self, character: char) {
        self.count += 1;
        self.last = character;
        match character {
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => self.line_break = true,
            character if character.is_whitespace() => self.whitespace = true,
            '.' | '!' | '?' | '…' => self.sentence_mark = true,
            ':' => self.colon = true,
            // A spaced hyphen joins ("kinh tế - xã hội"); so does a joiner.
            '-' | '&' | '/' | '_' | '\'' | '’' => {}
            _ => self.clause_mark = true,
        }
    }

    fn gap(&self, first: bool) -> Gap {
        if first {
            Gap::Start
        } else if self.line_break || (self.sentence_mark && self.whitespace) {
            Gap::Sentence
        } else if self.count == 1 && !self.whitespace && "&-/.,_'’".contains(self.last) {
            Gap::Joined(self.last)
        } else if self.colon {
            Gap::Colon
        } else if self.clause_mark || self.sentence_mark {
            Gap::Clause
        } else {
            Gap::Space
        }
    }
}

/// Splits text into tokens. Letters and digits form tokens; combining marks
/// attach to the letter before them; everything else separates.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut letters: Vec<Letter> = Vec::with_capacity(16);
    let mut separators = Separators::default();
    for_each_nfd_char(text, |character| {
        if let Some(mark) = classify_mark(character) {
            // A mark with no letter before it (after a space, say) is noise.
            if let Some(last) = letters.last_mut() {
                attach_mark(last, mark);
            }
            return;
        }
        // Letters and digits together form one token ("10a", "covid19").
        if character.is_alphanumeric() {
            letters.push(Letter::new(character));
        } else {
            if !letters.is_empty() {
                let gap = separators.gap(tokens.is_empty());
                tokens.push(finish_token(&mut letters, gap));
                letters.clear();
                separators = Separators::default();
            }
            separators.push(character);
        }
    });
    if !letters.is_empty() {
        let gap = separators.gap(tokens.is_empty());
        tokens.push(finish_token(&mut letters, gap));
    }
    tokens
}

/// Calls `each` with the characters of `text` in NFD. An ASCII character is
/// its own decomposition and a starter, which canonical reordering never
/// moves a mark across, so only the runs between ASCII characters (most
/// Vietnamese letters are ASCII) go through the decomposition tables.
fn for_each_nfd_char(text: &str, mut each: impl FnMut(char)) {
    let mut rest = text;
    while !rest.is_empty() {
        // ASCII bytes never occur inside a multi-byte character, so both
        // splits fall on character boundaries.
        let ascii_len = rest
            .bytes()
            .position(|byte| !byte.is_ascii())
            .unwrap_or(rest.len());
        let Some((ascii, tail)) = rest.split_at_checked(ascii_len) else {
            break;
        };
        ascii.bytes().for_each(|byte| each(char::from(byte)));
        let other_len = tail
            .bytes()
            .position(|byte| byte.is_ascii())
            .unwrap_or(tail.len());
        let Some((other, tail)) = tail.split_at_checked(other_len) else {
            break;
        };
        other.nfd().for_each(&mut each);
        rest = tail;
    }
}

/// Normalises one lexicon word: (accented, folded).
pub(crate) fn normalize_word(word: &str) -> (String, String) {
    let mut accented = String::new();
    let mut folded = String::new();
    for token in tokenize(word) {
        accented.push_str(&token.accented);
        folded.push_str(&token.folded);
    }
    (accented, folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|token| token.accented).collect()
    }

    #[test]
    fn nfd_and_nfc_tokenize_alike() {
        let nfc = "Ủy ban nhân dân phường Hoàn Kiếm đề nghị số hóa hồ sơ";
        let nfd: String = nfc.nfd().collect();
        assert_eq!(tokenize(nfc), tokenize(&nfd));
    }

    #[test]
    fn gaps_are_classified() {
        let tokens = tokenize("UBND phường X kiến nghị: bổ sung GD&ĐT, KT-XH. Hết 4.063,6\nMới");
        let gaps: Vec<Gap> = tokens.iter().map(|token| token.gap_before).collect();
        assert_eq!(
            gaps,
            vec![
                Gap::Start,
                Gap::Space,
                Gap::Space,
                Gap::Space,
                Gap::Space,
                Gap::Colon,
                Gap::Space,
                Gap::Space,
                Gap::Joined('&'),
                Gap::Clause,
                Gap::Joined('-'),
                Gap::Sentence,
                Gap::Space,
                Gap::Joined('.'),
                Gap::Joined(','),
                Gap::Sentence,
            ]
        );
    }

    #[test]
    fn casing_is_recorded_and_folded() {
        let tokens = tokenize("Đình HĐND đình");
        assert!(
            tokens
                .iter()
                .all(|token| token.folded.starts_with('d') || token.folded == "hdnd")
        );
        assert!(tokens[0].capitalized && !tokens[0].all_upper);
        assert!(tokens[1].all_upper);
        assert!(!tokens[2].capitalized);
        assert_eq!(words("ĐÌNH Đình"), vec!["đình", "đình"]);
    }

    #[test]
    fn nfd_of_runs_between_ascii_is_nfd_of_the_whole() {
        // Marks around ASCII letters and in non-canonical order, precomposed
        // letters with further marks, and letters outside Vietnamese.
        let texts = [
            "Ủy ban nhân dân phường Hoàn Kiếm",
            "a\u{301}\u{323}b\u{323}\u{302}ậ\u{301} ơ\u{31b}\u{323}",
            "\u{301}x\u{301}\u{301}ÅΩ\u{345}\u{313}ñ ǅ ﬁ 한글 ĐÐð",
            "",
            "4.063,6 tỷ đồng – “số hóa”",
        ];
        for text in texts {
            let mut by_runs = String::new();
            for_each_nfd_char(text, |character| by_runs.push(character));
            assert_eq!(by_runs, text.nfd().collect::<String>(), "{text}");
        }
    }

    #[test]
    fn stray_marks_and_symbols_do_not_panic() {
        assert_eq!(words("\u{301}\u{301}a\u{301}\u{301}"), vec!["á"]);
        assert!(tokenize("!!! ... ---").is_empty());
    }
}
