//! From raw text to an [`Analysis`]: tokens, numbers merged, abbreviations
//! expanded, formulaic openings and place names taken out, synonyms mapped,
//! stop words marked, then the normalised text, terms, numbers, places, exact
//! key and LSH band keys.

use crate::hashing::{EXACT_SEED, SHINGLE_SEED, band_keys, minhash, xxh64};
use crate::lexicon::{Lexicon, PhraseKind, Spelling, is_abbreviation_joiner};
use crate::scoring::LazyTermIndex;
use crate::tokens::{Gap, Origin, Token, tokenize};
use crate::{Engine, NORM_VERSION};

/// Marks a term computed on the accent-folded text, so folded and accented
/// terms never collide in document frequencies.
pub const FOLDED_TERM_PREFIX: char = '~';

/// Marks a semantic-field term (see `data/concepts.tsv`); such terms do not
/// depend on spelling and are compared in both modes.
pub const CONCEPT_TERM_PREFIX: char = '#';

/// Longest name taken after a unit word ("phường Ba Đình"): longer runs of
/// capitalised words are more likely a title-cased sentence than a name.
const MAX_NAME_WORDS: usize = 4;

/// Each semantic field enters the MinHash set this many times, so two
/// paraphrases naming the same things in other words still become
/// candidates: on the labelled set three copies raise the share of gold
/// pairs sharing a band from 46 % to 67 % while other pairs share one less
/// often.
const CONCEPT_SHINGLE_COPIES: usize = 3;

/// Passes after the first that normalisation may take to settle; each pass
/// only removes words, so it settles quickly.
const MAX_NORMALISATION_PASSES: usize = 3;

/// Longest formulaic opening, in tokens; anything longer is content.
const MAX_OPENING_TOKENS: usize = 24;

/// Everything the engine derives from one text. The server stores it; two
/// analyses are only ever compared when their `norm_version` is equal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Analysis {
    pub norm_version: u32,
    /// Canonical form: NFC with canonical tone placement, lower case,
    /// abbreviations expanded, synonyms mapped, formulaic openings and place
    /// names removed, clause and sentence breaks written as ", " and ". ".
    /// Normalising it again gives it back unchanged.
    pub normalized: String,
    /// `normalized` without diacritics, for text typed without them.
    pub folded: String,
    /// False when the text was typed without diacritics: it is then compared
    /// with anything only on folded terms.
    pub accented: bool,
    /// Distinct scoring terms, sorted: content syllables and pairs of
    /// adjacent content syllables ("công nghệ"), the same on the folded text
    /// prefixed with [`FOLDED_TERM_PREFIX`], and semantic fields prefixed
    /// with [`CONCEPT_TERM_PREFIX`]. Document frequencies are counted over
    /// these.
    pub terms: Vec<String>,
    /// XXH64 of `normalized`: equal keys are exact duplicates.
    pub exact_key: u64,
    /// LSH band keys of the MinHash signature of the folded content words;
    /// texts sharing any key are candidates of each other. Empty when the
    /// text has no content word. Left out of the serialised form, of which
    /// they were half: the store keeps them in its band index, and scoring
    /// never reads a candidate's. Deserialised, they are empty.
    #[serde(default, skip_serializing)]
    pub band_keys: Vec<u64>,
    /// Numbers in the text, canonical ("4.063,6" → "4063.6", "09" → "9").
    pub numbers: Vec<String>,
    /// Named places the matter is about (not the sender), folded
    /// ("phường Ba Đình" in the body → "ba dinh").
    pub places: Vec<String>,
    /// `terms` by hash, for scoring; built on first use, never stored.
    #[serde(skip)]
    pub(crate) term_index: LazyTermIndex,
}

impl Analysis {
    /// The band keys without repeats, ascending: two bands of one signature
    /// may hash alike, and a text is indexed once per key.
    pub fn distinct_band_keys(&self) -> Vec<u64> {
        sorted_distinct(self.band_keys.clone())
    }

    /// [`distinct_band_keys`](Self::distinct_band_keys), leaving none behind.
    pub(crate) fn take_distinct_band_keys(&mut self) -> Vec<u64> {
        sorted_distinct(std::mem::take(&mut self.band_keys))
    }
}

fn sorted_distinct(mut keys: Vec<u64>) -> Vec<u64> {
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Canonical form of a number written as digit groups separated by dots or
/// commas. Vietnamese writes thousands with dots and decimals with a comma;
/// groups of exactly three digits after one repeated separator are
/// thousands ("1.800", "12.345.678"), otherwise the last separator is the
/// decimal point ("4.063,6", "4,5"). Leading zeros go ("09" → "9").
fn canonical_number(groups: &[&str], separators: &[char]) -> String {
    fn without_leading_zeros(digits: &str) -> &str {
        let trimmed = digits.trim_start_matches('0');
        if trimmed.is_empty() { "0" } else { trimmed }
    }
    let all_thousands = separators.windows(2).all(|pair| pair.first() == pair.last())
        && groups.iter().skip(1).all(|group| group.len() == 3);
    let (integer_groups, decimal) = match groups.split_last() {
        Some((last, rest)) if !separators.is_empty() && !all_thousands => (rest, Some(*last)),
        _ => (groups, None),
    };
    let integer: String = integer_groups.concat();
    let mut number = without_leading_zeros(&integer).to_owned();
    if let Some(decimal) = decimal {
        number.push('.');
        number.push_str(decimal);
    }
    number
}

/// Merges digit tokens joined by '.' or ',' into one number token.
fn merge_numbers(mut tokens: Vec<Token>) -> Vec<Token> {
    let mut merged: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut index = 0;
    while let Some(token) = tokens.get(index) {
        if !token.numeric {
            if let Some(token) = tokens.get_mut(index) {
                merged.push(token.take());
            }
            index += 1;
            continue;
        }
        let mut groups = vec![token.accented.as_str()];
        let mut separators = Vec::new();
        let mut next = index + 1;
        while let Some(following) = tokens.get(next) {
            match following.gap_before {
                Gap::Joined(separator @ ('.' | ',')) if following.numeric => {
                    groups.push(following.accented.as_str());
                    separators.push(separator);
                    next += 1;
                }
                _ => break,
            }
        }
        let number = canonical_number(&groups, &separators);
        merged.push(Token {
            folded: number.clone(),
            accented: number,
            ..token.clone()
        });
        index = next;
    }
    merged
}

impl Engine {
    /// Analyses a text. Never fails: any string gives an analysis (an empty
    /// one has no terms and no band keys and so matches nothing but itself);
    /// use [`Engine::check_text`] to refuse unsuitable text first.
    pub fn analyze(&self, text: &str) -> Analysis {
        let mut normalised = self.normalise_once(text);
        // Taking out a sender or a place can leave an asking verb at the
        // start of a sentence, which the next pass takes out as an opening;
        // normalise until nothing changes, so normalising is idempotent.
        // Terms and signatures are built once, from the pass kept.
        for _ in 0..MAX_NORMALISATION_PASSES {
            let again = self.normalise_once(&normalised.normalized);
            if again.normalized == normalised.normalized {
                break;
            }
            let mut places = normalised.places;
            places.extend(again.places.iter().cloned());
            places.sort_unstable();
            places.dedup();
            normalised = Normalised { places, ..again };
        }
        normalised.into_analysis()
    }

    fn normalise_once(&self, text: &str) -> Normalised<'_> {
        let tokens = merge_numbers(tokenize(text));
        let tokens = expand_abbreviations(&self.lexicon, tokens);
        let cased = tokens
            .iter()
            .any(|token| token.origin == Origin::Text && token.has_letter() && !token.all_upper);
        let mut normaliser = Normaliser {
            lexicon: &self.lexicon,
            spelling: spelling_of(&tokens),
            cased,
        };
        // Openings are recognised in the text's spelling. If what is left has
        // no diacritic at all (an accented sender above a body typed without
        // them), the body is folded text: it is matched as such from here on,
        // and openings are looked for once more the folded way. That only
        // removes words, so the body stays folded and the spelling settles.
        let (mut tokens, mut places) = normaliser.remove_openings_and_places(tokens);
        if normaliser.spelling == Spelling::Accented && spelling_of(&tokens) == Spelling::Folded {
            normaliser.spelling = Spelling::Folded;
            let (refolded, refolded_places) = normaliser.remove_openings_and_places(tokens);
            tokens = refolded;
            places.extend(refolded_places);
            places.sort_unstable();
            places.dedup();
        }
        let tokens = normaliser.map_synonyms(tokens);
        let accented = normaliser.spelling == Spelling::Accented;
        let mut normalized = String::with_capacity(text.len());
        for token in &tokens {
            normalized.push_str(token.gap_before.rendering());
            normalized.push_str(if accented { &token.accented } else { &token.folded });
        }
        Normalised {
            normaliser,
            tokens,
            places,
            normalized,
        }
    }
}

/// Accented unless no word typed in the text has a diacritic (expansions of
/// abbreviations do not count: "HĐND" says nothing about how the rest was
/// typed).
fn spelling_of(tokens: &[Token]) -> Spelling {
    if tokens
        .iter()
        .any(|token| token.origin == Origin::Text && token.has_diacritic)
    {
        Spelling::Accented
    } else {
        Spelling::Folded
    }
}

/// Replaces abbreviations ("UBND", "GD&ĐT", "KT-XH") by their expansion.
fn expand_abbreviations(lexicon: &Lexicon, mut tokens: Vec<Token>) -> Vec<Token> {
    let mut expanded = Vec::with_capacity(tokens.len() + 8);
    let mut key = String::new();
    let mut index = 0;
    while let Some(token) = tokens.get(index) {
        let mut matched = None;
        for length in (1..=lexicon.longest_abbreviation_tokens).rev() {
            let Some(parts) = tokens.get(index..index + length) else {
                continue;
            };
            key.clear();
            let mut joinable = true;
            for (position, part) in parts.iter().enumerate() {
                if position > 0 {
                    match part.gap_before {
                        Gap::Joined(joiner) if is_abbreviation_joiner(joiner) => key.push(joiner),
                        _ => joinable = false,
                    }
                }
                key.push_str(&part.accented);
            }
            if !joinable {
                continue;
            }
            if let Some(expansion) = lexicon.abbreviations.get(&key) {
                matched = Some((length, expansion));
                break;
            }
        }
        match matched {
            Some((length, expansion)) => {
                for (position, word) in expansion.iter().enumerate() {
                    let gap = if position == 0 {
                        token.gap_before
                    } else {
                        Gap::Space
                    };
                    expanded.push(Token::from_lexicon(&word.accented, &word.folded, gap));
                }
                index += length;
            }
            None => {
                if let Some(token) = tokens.get_mut(index) {
                    expanded.push(token.take());
                }
                index += 1;
            }
        }
    }
    expanded
}

/// One normalising pass over a text: what the next pass compares
/// (`normalized`) and what the analysis is built from.
struct Normalised<'a> {
    normaliser: Normaliser<'a>,
    tokens: Vec<Token>,
    places: Vec<String>,
    normalized: String,
}

impl Normalised<'_> {
    fn into_analysis(self) -> Analysis {
        let stop = self.normaliser.stop_marks(&self.tokens);
        let concepts = self.normaliser.concepts(&self.tokens);
        let accented = self.normaliser.spelling == Spelling::Accented;
        build_analysis(
            &self.tokens,
            &stop,
            &concepts,
            accented,
            self.places,
            self.normalized,
        )
    }
}

/// The lexicon steps of normalisation, for one text.
struct Normaliser<'a> {
    lexicon: &'a Lexicon,
    spelling: Spelling,
    /// The text has lower-case letters, so capitalisation marks names.
    cased: bool,
}

impl Normaliser<'_> {
    fn phrase(&self, tokens: &[Token], start: usize, kinds: &[PhraseKind]) -> Option<(usize, PhraseKind)> {
        self.lexicon
            .phrases
            .longest_match_where(tokens, start, self.spelling, |kind| kinds.contains(kind))
            .map(|(length, kind)| (length, *kind))
    }

    /// How many tokens from `start` form the name of a place: a commune or
    /// ward in the directory, or (in mixed-case text) a run of capitalised
    /// words. Zero when there is no name.
    fn name_length(&self, tokens: &[Token], start: usize) -> usize {
        if let Some((length, ())) = self
            .lexicon
            .locality_names
            .longest_match(tokens, start, self.spelling)
        {
            return length;
        }
        // Without case there is no telling a name from the next word; and in
        // text typed without diacritics unit words are ambiguous ("xa" is
        // also "far", "quan" also "official"), so only the directory counts.
        if !self.cased || self.spelling == Spelling::Folded {
            return 0;
        }
        let mut length = 0;
        while let Some(token) = tokens.get(start + length) {
            let continues = length == 0 || token.gap_before.is_within_phrase();
            let looks_like_name = token.origin == Origin::Text
                && token.capitalized
                && token.has_letter()
                && (!token.all_upper || token.folded.chars().count() == 1);
            let starts_phrase = self
                .lexicon
                .phrases
                .longest_match(tokens, start + length, self.spelling)
                .is_some();
            if !continues || !looks_like_name || starts_phrase || length == MAX_NAME_WORDS {
                break;
            }
            length += 1;
        }
        length
    }

    /// The length of an addressee or politeness phrase at `start` that
    /// continues the phrase before it.
    fn addressee_length(&self, tokens: &[Token], start: usize) -> Option<usize> {
        tokens
            .get(start)
            .filter(|token| token.gap_before.is_within_phrase())?;
        self.phrase(tokens, start, &[PhraseKind::Addressee, PhraseKind::Softener])
            .map(|(length, _)| length)
    }

    /// The length of the formulaic opening starting at `start`, if any:
    /// `[sender] verb [addressee|softener]*`, or a sender naming a unit
    /// ("Phường Ba Đình …", "UBND xã Y:") on its own.
    fn opening_length(&self, tokens: &[Token], start: usize) -> Option<usize> {
        let mut position = start;
        let mut has_sender = false;
        let mut names_unit = false;
        loop {
            if position > start {
                let gap = tokens.get(position)?.gap_before;
                if !matches!(gap, Gap::Space | Gap::Clause) {
                    break;
                }
            }
            let sender_part = self.phrase(
                tokens,
                position,
                &[PhraseKind::Organ, PhraseKind::Unit, PhraseKind::Connector],
            );
            match sender_part {
                Some((length, PhraseKind::Unit)) => {
                    let name = self.name_length(tokens, position + length);
                    names_unit |= name > 0;
                    position += length + name;
                    has_sender = true;
                }
                Some((length, PhraseKind::Connector)) if has_sender => position += length,
                Some((length, PhraseKind::Organ)) => {
                    position += length;
                    has_sender = true;
                }
                _ => break,
            }
            if position - start > MAX_OPENING_TOKENS {
                return None;
            }
        }
        let verb_gap_ok = position == start
            || tokens
                .get(position)
                .is_some_and(|token| matches!(token.gap_before, Gap::Space | Gap::Clause));
        if let Some((length, _)) = self
            .phrase(tokens, position, &[PhraseKind::Verb])
            .filter(|_| verb_gap_ok)
        {
            position += length;
            while let Some(length) = self.addressee_length(tokens, position) {
                position += length;
            }
            return Some(position - start);
        }
        let colon_follows = tokens
            .get(position)
            .is_some_and(|token| token.gap_before == Gap::Colon);
        (has_sender && (names_unit || colon_follows)).then_some(position - start)
    }

    /// The length of `organ+ unit Name` at `start`, if that is what is there.
    fn sender_mention_length(&self, tokens: &[Token], start: usize) -> Option<usize> {
        let mut position = start;
        while let Some((length, _)) = self.phrase(tokens, position, &[PhraseKind::Organ]).filter(|_| {
            position == start
                || tokens
                    .get(position)
                    .is_some_and(|token| token.gap_before.is_within_phrase())
        }) {
            position += length;
        }
        if position == start {
            return None;
        }
        let (unit, _) = self.phrase(tokens, position, &[PhraseKind::Unit]).filter(|_| {
            tokens
                .get(position)
                .is_some_and(|token| token.gap_before.is_within_phrase())
        })?;
        let name = self.name_length(tokens, position + unit);
        (name > 0).then_some(position + unit + name - start)
    }

    /// Takes out formulaic openings at the start of every sentence and the
    /// names after unit words in the body, which become `places`. Gaps of
    /// removed tokens carry over to the next kept token.
    fn remove_openings_and_places(&self, owned: Vec<Token>) -> (Vec<Token>, Vec<String>) {
        let tokens = owned.as_slice();
        let mut removed = vec![false; tokens.len()];
        let mut places = Vec::new();
        let mut index = 0;
        while let Some(token) = tokens.get(index) {
            if matches!(token.gap_before, Gap::Start | Gap::Sentence) {
                // Repeat until no opening is left, so normalising twice
                // changes nothing.
                let mut start = index;
                while let Some(length) = self.opening_length(tokens, start).filter(|length| *length > 0) {
                    removed
                        .iter_mut()
                        .skip(start)
                        .take(length)
                        .for_each(|flag| *flag = true);
                    start += length;
                }
                if start > index {
                    index = start;
                    continue;
                }
            }
            // An organ followed by its unit's name ("Ủy ban MTTQ xã Phượng
            // Dực" after "Qua giám sát,") names who speaks, not a place the
            // matter is about: it goes, and is not a place.
            if let Some(length) = self.sender_mention_length(tokens, index) {
                removed
                    .iter_mut()
                    .skip(index)
                    .take(length)
                    .for_each(|flag| *flag = true);
                index += length;
                continue;
            }
            match self.phrase(tokens, index, &[PhraseKind::Unit, PhraseKind::Place]) {
                Some((length, _)) => {
                    let name = self.name_length(tokens, index + length);
                    if name > 0 {
                        let words = tokens
                            .get(index + length..index + length + name)
                            .unwrap_or_default();
                        let place: Vec<&str> = words.iter().map(|word| word.folded.as_str()).collect();
                        places.push(place.join(" "));
                        removed
                            .iter_mut()
                            .skip(index + length)
                            .take(name)
                            .for_each(|flag| *flag = true);
                    }
                    index += length + name;
                }
                None => index += 1,
            }
        }
        places.sort_unstable();
        places.dedup();

        let mut kept: Vec<Token> = Vec::with_capacity(tokens.len());
        let mut pending_gap: Option<Gap> = None;
        for (mut token, removed) in owned.into_iter().zip(removed) {
            if removed {
                pending_gap =
                    Some(pending_gap.map_or(token.gap_before, |gap| gap.strongest(token.gap_before)));
                continue;
            }
            if let Some(gap) = pending_gap.take() {
                token.gap_before = gap.strongest(token.gap_before);
            }
            if kept.is_empty() {
                token.gap_before = Gap::Start;
            }
            kept.push(token);
        }
        (kept, places)
    }

    /// Replaces administrative synonyms by their canonical phrase.
    fn map_synonyms(&self, mut tokens: Vec<Token>) -> Vec<Token> {
        let mut mapped = Vec::with_capacity(tokens.len());
        let mut index = 0;
        while let Some(token) = tokens.get(index) {
            match self.lexicon.synonyms.longest_match(&tokens, index, self.spelling) {
                Some((length, canonical)) => {
                    for (position, word) in canonical.iter().enumerate() {
                        let gap = if position == 0 {
                            token.gap_before
                        } else {
                            Gap::Space
                        };
                        mapped.push(Token::from_lexicon(&word.accented, &word.folded, gap));
                    }
                    index += length;
                }
                None => {
                    if let Some(token) = tokens.get_mut(index) {
                        mapped.push(token.take());
                    }
                    index += 1;
                }
            }
        }
        mapped
    }

    /// The semantic fields named in the text.
    fn concepts(&self, tokens: &[Token]) -> Vec<&str> {
        let mut concepts = Vec::new();
        let mut index = 0;
        while index < tokens.len() {
            match self.lexicon.concepts.longest_match(tokens, index, self.spelling) {
                // Without tones one syllable is too ambiguous to name a field
                // ("cho" is "chợ" or "cho", "giam" "giảm" or "giám").
                Some((1, _)) if self.spelling == Spelling::Folded => index += 1,
                Some((length, concept)) => {
                    concepts.push(concept.as_str());
                    index += length;
                }
                None => index += 1,
            }
        }
        concepts
    }

    /// Marks stop words, and the addressee and politeness words that follow
    /// an asking verb anywhere ("đề nghị thành phố sớm …").
    fn stop_marks(&self, tokens: &[Token]) -> Vec<bool> {
        let mut stop = vec![false; tokens.len()];
        let mut index = 0;
        while index < tokens.len() {
            let mut length = match self.phrase(tokens, index, &[PhraseKind::Verb]) {
                Some((verb_length, _)) => {
                    let mut length = verb_length;
                    while let Some(following) = self.addressee_length(tokens, index + length) {
                        length += following;
                    }
                    length
                }
                None => 0,
            };
            if length == 0 {
                length = self
                    .lexicon
                    .stop_words
                    .longest_match(tokens, index, self.spelling)
                    .map_or(0, |(length, ())| length);
            }
            if length == 0 {
                index += 1;
            } else {
                stop.iter_mut()
                    .skip(index)
                    .take(length)
                    .for_each(|flag| *flag = true);
                index += length;
            }
        }
        stop
    }
}

/// Assembles the analysis from the final tokens.
fn build_analysis(
    tokens: &[Token],
    stop: &[bool],
    concepts: &[&str],
    accented: bool,
    places: Vec<String>,
    normalized: String,
) -> Analysis {
    let mut folded = String::with_capacity(normalized.len());
    for token in tokens {
        folded.push_str(token.gap_before.rendering());
        folded.push_str(&token.folded);
    }

    let mut numbers: Vec<String> = tokens
        .iter()
        .filter(|token| token.numeric)
        .map(|token| token.accented.clone())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();

    let mut terms = Vec::with_capacity(tokens.len() * 4 + concepts.len());
    let mut shingle_hashes = Vec::with_capacity(tokens.len() + concepts.len() * CONCEPT_SHINGLE_COPIES);
    let mut buffer = String::new();
    let mut previous_content: Option<&Token> = None;
    for (token, is_stop) in tokens.iter().zip(stop) {
        if !is_content(token, *is_stop) {
            previous_content = None;
            continue;
        }
        if accented {
            terms.push(token.accented.clone());
        }
        buffer.clear();
        buffer.push(FOLDED_TERM_PREFIX);
        buffer.push_str(&token.folded);
        terms.push(buffer.clone());
        shingle_hashes.push(xxh64(token.folded.as_bytes(), SHINGLE_SEED));
        // Vietnamese words are mostly two syllables ("công nghệ", "giáo
        // viên"); a pair of adjacent content syllables in one clause stands
        // for the word, which is far more specific than either syllable.
        if let Some(previous) = previous_content.filter(|_| token.gap_before.is_within_phrase()) {
            if accented {
                terms.push(format!("{} {}", previous.accented, token.accented));
            }
            terms.push(format!(
                "{FOLDED_TERM_PREFIX}{} {}",
                previous.folded, token.folded
            ));
        }
        previous_content = Some(token);
    }
    for concept in concepts {
        buffer.clear();
        buffer.push(CONCEPT_TERM_PREFIX);
        buffer.push_str(concept);
        for copy in 0..CONCEPT_SHINGLE_COPIES {
            shingle_hashes.push(xxh64(format!("{buffer}/{copy}").as_bytes(), SHINGLE_SEED));
        }
        terms.push(buffer.clone());
    }
    terms.sort_unstable();
    terms.dedup();
    shingle_hashes.sort_unstable();
    shingle_hashes.dedup();

    Analysis {
        norm_version: NORM_VERSION,
        exact_key: xxh64(normalized.as_bytes(), EXACT_SEED),
        normalized,
        folded,
        accented,
        terms,
        band_keys: minhash(&shingle_hashes).map_or_else(Vec::new, |signature| band_keys(&signature)),
        numbers,
        places,
        term_index: LazyTermIndex::default(),
    }
}

/// Whether a token carries meaning: not a stop word, not a number (numbers
/// are compared on their own), not a single letter.
fn is_content(token: &Token, is_stop: bool) -> bool {
    !is_stop && !token.numeric && token.has_letter() && token.folded.chars().nth(1).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_canonical() {
        assert_eq!(canonical_number(&["1", "800"], &['.']), "1800");
        assert_eq!(canonical_number(&["4", "063", "6"], &['.', ',']), "4063.6");
        assert_eq!(canonical_number(&["4", "5"], &[',']), "4.5");
        assert_eq!(canonical_number(&["09"], &[]), "9");
        assert_eq!(canonical_number(&["000"], &[]), "0");
        assert_eq!(canonical_number(&["12", "345", "678"], &['.', '.']), "12345678");
    }
}
