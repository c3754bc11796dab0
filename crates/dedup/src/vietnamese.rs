//! Vietnamese letters and syllables: a letter is a base letter, an optional
//! vowel modifier (circumflex, breve, horn) and an optional tone mark, which is
//! how NFD spells it. Working on that split lets one rule put the tone on the
//! canonical vowel of a syllable, so "hoá"/"hóa", "uỷ"/"ủy", "qúy"/"quý" and
//! NFC/NFD spellings all end up as the same NFC string.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::canonical_combining_class;

/// Combining circumflex (â, ê, ô).
const CIRCUMFLEX: char = '\u{0302}';
/// Combining breve (ă).
const BREVE: char = '\u{0306}';
/// Combining horn (ơ, ư).
const HORN: char = '\u{031B}';

/// The five Vietnamese tone marks as combining characters: huyền, sắc, hỏi,
/// ngã, nặng.
const TONE_MARKS: [char; 5] = ['\u{0300}', '\u{0301}', '\u{0309}', '\u{0303}', '\u{0323}'];

/// Final consonants a Vietnamese syllable may end with. A word whose tail is
/// anything else is not a Vietnamese syllable and keeps its tone where it is.
const FINAL_CONSONANTS: [&str; 9] = ["", "c", "ch", "m", "n", "ng", "nh", "p", "t"];

/// One letter of a word in decomposed form. `base` is already lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Letter {
    pub(crate) base: char,
    pub(crate) modifier: Option<char>,
    pub(crate) tone: Option<char>,
    pub(crate) was_upper: bool,
}

impl Letter {
    pub(crate) fn new(character: char) -> Letter {
        // Icelandic eth is a common look-alike of Vietnamese Đ in legacy text.
        let character = match character {
            'Ð' => 'Đ',
            'ð' => 'đ',
            other => other,
        };
        let was_upper = character.is_uppercase();
        // Multi-character lower-case mappings (e.g. 'İ') do not occur in
        // Vietnamese; their first character is a good enough stand-in.
        let base = character.to_lowercase().next().unwrap_or(character);
        Letter {
            base,
            modifier: None,
            tone: None,
            was_upper,
        }
    }

    fn is_vowel(self) -> bool {
        matches!(self.base, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
    }

    /// True for a letter that differs from its accent-folded form.
    pub(crate) fn has_diacritic(self) -> bool {
        self.modifier.is_some() || self.tone.is_some() || self.base == 'đ'
    }

    /// The letter without modifier or tone; đ folds to d.
    pub(crate) fn folded(self) -> char {
        if self.base == 'đ' { 'd' } else { self.base }
    }

    /// Appends the letter in NFC form to `out`.
    pub(crate) fn push_composed(self, out: &mut String) {
        if self.modifier.is_none() && self.tone.is_none() {
            out.push(self.base);
            return;
        }
        match self.composed_pairwise() {
            Some(letter) => out.push(letter),
            None => out.extend(
                std::iter::once(self.base)
                    .chain(self.modifier)
                    .chain(self.tone)
                    .nfc(),
            ),
        }
    }

    /// The letter as one precomposed character, composing its marks one by
    /// one in canonical order (horn, then dot below, then the rest; equal
    /// classes keep their order). That is what NFC does when each step has a
    /// composite, as it has for every Vietnamese letter; `None` otherwise.
    fn composed_pairwise(self) -> Option<char> {
        let (mut first, mut second) = (self.modifier, self.tone);
        if let (Some(modifier), Some(tone)) = (first, second)
            && canonical_combining_class(tone) < canonical_combining_class(modifier)
        {
            (first, second) = (Some(tone), Some(modifier));
        }
        [first, second]
            .into_iter()
            .flatten()
            .try_fold(self.base, unicode_normalization::char::compose)
    }
}

/// What a combining character does to the letter before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Modifier(char),
    Tone(char),
    /// Any other combining mark: not Vietnamese, dropped.
    Other,
}

pub(crate) fn classify_mark(character: char) -> Option<Mark> {
    if character.is_ascii() {
        None
    } else if matches!(character, CIRCUMFLEX | BREVE | HORN) {
        Some(Mark::Modifier(character))
    } else if TONE_MARKS.contains(&character) {
        Some(Mark::Tone(character))
    } else if unicode_normalization::char::is_combining_mark(character) {
        Some(Mark::Other)
    } else {
        None
    }
}

/// Attaches a combining mark to the letter it follows. A second modifier or
/// tone on the same letter is malformed input; the first one wins.
pub(crate) fn attach_mark(letter: &mut Letter, mark: Mark) {
    match mark {
        Mark::Modifier(modifier) if letter.modifier.is_none() => letter.modifier = Some(modifier),
        Mark::Tone(tone) if letter.tone.is_none() => letter.tone = Some(tone),
        _ => {}
    }
}

/// Moves the single tone mark of a Vietnamese syllable onto its canonical
/// vowel. Words that are not a well-formed syllable, or carry more than one
/// tone, are left as they are.
///
/// The canonical placement puts the tone of an open "oa", "oe", "uy" on the
/// first vowel ("hóa", "khỏe", "thủy", "ủy"), as most administrative text
/// does; "hoá", "khoẻ", "thuỷ", "uỷ" map to it. The rule:
/// - a vowel with a modifier takes the tone (the last one in "ươ": "người");
/// - otherwise a single vowel takes it;
/// - with a final consonant, the last vowel of the nucleus ("hoàn", "huỳnh");
/// - three vowels without a final: the middle one ("ngoài", "khuỷu");
/// - two vowels without a final: the first one ("hóa", "mùa", "thủy").
///
/// "qu" and "gi" before another vowel are consonants, so "qúy" becomes "quý"
/// and "giữa" keeps its tone on "ư".
pub(crate) fn place_tone_canonically(letters: &mut [Letter]) {
    let mut tone_positions = letters
        .iter()
        .enumerate()
        .filter(|(_, letter)| letter.tone.is_some());
    let Some((current_position, tone_letter)) = tone_positions.next() else {
        return;
    };
    if tone_positions.next().is_some() {
        return;
    }
    let tone = tone_letter.tone;
    let Some(target) = canonical_tone_position(letters) else {
        return;
    };
    if target != current_position {
        if let Some(letter) = letters.get_mut(current_position) {
            letter.tone = None;
        }
        if let Some(letter) = letters.get_mut(target) {
            letter.tone = tone;
        }
    }
}

fn canonical_tone_position(letters: &[Letter]) -> Option<usize> {
    if letters
        .iter()
        .any(|letter| !letter.base.is_ascii_lowercase() && letter.base != 'đ')
    {
        return None;
    }
    let initial_end = letters.iter().position(|letter| letter.is_vowel())?;
    let mut nucleus_start = initial_end;
    let next_is_vowel = |index: usize| letters.get(index).is_some_and(|letter| letter.is_vowel());
    let plain = |index: usize, base: char| {
        letters
            .get(index)
            .is_some_and(|letter| letter.base == base && letter.modifier.is_none())
    };
    let initial_is = |expected: &str| {
        initial_end == expected.len()
            && letters
                .iter()
                .zip(expected.chars())
                .all(|(letter, base)| letter.base == base)
    };
    let consonantal_glide =
        (initial_is("q") && plain(nucleus_start, 'u')) || (initial_is("g") && plain(nucleus_start, 'i'));
    if consonantal_glide && next_is_vowel(nucleus_start + 1) {
        nucleus_start += 1;
    }
    let nucleus_length = letters
        .get(nucleus_start..)?
        .iter()
        .take_while(|letter| letter.is_vowel())
        .count();
    let final_start = nucleus_start + nucleus_length;
    let final_consonant: String = letters
        .get(final_start..)?
        .iter()
        .map(|letter| letter.base)
        .collect();
    if !(1..=3).contains(&nucleus_length) || !FINAL_CONSONANTS.contains(&final_consonant.as_str()) {
        return None;
    }
    let nucleus = letters.get(nucleus_start..final_start)?;
    let offset = if let Some(last_modified) = nucleus.iter().rposition(|letter| letter.modifier.is_some()) {
        last_modified
    } else if nucleus_length == 1 {
        0
    } else if !final_consonant.is_empty() {
        nucleus_length - 1
    } else if nucleus_length == 3 {
        1
    } else {
        0
    };
    Some(nucleus_start + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(word: &str) -> String {
        let mut letters: Vec<Letter> = Vec::new();
        for character in word.nfd() {
            match classify_mark(character) {
                Some(mark) => {
                    if let Some(last) = letters.last_mut() {
                        attach_mark(last, mark);
                    }
                }
                None => letters.push(Letter::new(character)),
            }
        }
        place_tone_canonically(&mut letters);
        let mut out = String::new();
        for letter in letters {
            letter.push_composed(&mut out);
        }
        out
    }

    #[test]
    fn every_vietnamese_letter_composes_pairwise() {
        let vowels = [
            ('a', None),
            ('a', Some(CIRCUMFLEX)),
            ('a', Some(BREVE)),
            ('e', None),
            ('e', Some(CIRCUMFLEX)),
            ('i', None),
            ('o', None),
            ('o', Some(CIRCUMFLEX)),
            ('o', Some(HORN)),
            ('u', None),
            ('u', Some(HORN)),
            ('y', None),
        ];
        for (base, modifier) in vowels {
            for tone in TONE_MARKS {
                let letter = Letter {
                    base,
                    modifier,
                    tone: Some(tone),
                    was_upper: false,
                };
                assert!(
                    letter.composed_pairwise().is_some(),
                    "{base} {modifier:?} {tone:?}"
                );
            }
        }
    }

    #[test]
    fn letters_compose_as_nfc_composes_them() {
        let modifiers = [None, Some(CIRCUMFLEX), Some(BREVE), Some(HORN)];
        let tones = std::iter::once(None).chain(TONE_MARKS.map(Some));
        for base in "aeiouydđqxz1ñ".chars() {
            for modifier in modifiers {
                for tone in tones.clone() {
                    let letter = Letter {
                        base,
                        modifier,
                        tone,
                        was_upper: false,
                    };
                    let mut composed = String::new();
                    letter.push_composed(&mut composed);
                    let expected: String = std::iter::once(base).chain(modifier).chain(tone).nfc().collect();
                    assert_eq!(composed, expected, "{base} {modifier:?} {tone:?}");
                }
            }
        }
    }

    #[test]
    fn both_tone_placements_meet() {
        for (canonical_form, other_form) in [
            ("hóa", "hoá"),
            ("hòa", "hoà"),
            ("thủy", "thuỷ"),
            ("ủy", "uỷ"),
            ("khỏe", "khoẻ"),
            ("quý", "qúy"),
            ("tùy", "tuỳ"),
            ("lũy", "luỹ"),
        ] {
            assert_eq!(canonical(canonical_form), canonical_form, "{canonical_form}");
            assert_eq!(canonical(other_form), canonical_form, "{other_form}");
        }
    }

    #[test]
    fn well_placed_tones_stay() {
        for word in [
            "người", "rượu", "giữa", "gì", "gìn", "hoàn", "huỳnh", "ngoài", "khuỷu", "thuyền", "thuở", "cửa",
            "của", "mùa", "kìa", "quyết", "nghị", "việc", "được", "hoặc", "xuân", "thuế", "gửi", "quản",
            "giá",
        ] {
            assert_eq!(canonical(word), word, "{word}");
        }
    }

    #[test]
    fn misplaced_tones_move() {
        assert_eq!(canonical("ngòai"), "ngoài");
        assert_eq!(canonical("hoàng"), "hoàng");
        assert_eq!(canonical("hòang"), "hoàng");
        assert_eq!(canonical("ngừơi"), "người");
        assert_eq!(canonical("gịa"), "giạ");
    }

    #[test]
    fn upper_case_and_eth_fold_to_lower_case_vietnamese() {
        assert_eq!(canonical("ĐÌNH"), "đình");
        assert_eq!(canonical("Ðình"), "đình");
        assert_eq!(canonical("ỦY"), "ủy");
        assert_eq!(canonical("UỶ"), "ủy");
    }

    #[test]
    fn non_syllables_keep_their_marks() {
        assert_eq!(canonical("café"), "café");
        assert_eq!(canonical("covid19"), "covid19");
    }
}
