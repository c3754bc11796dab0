//! The bundled lexicon: abbreviations, opening vocabulary, synonyms, stop
//! words and the names of Hanoi's communes and wards. All of it is data
//! compiled into the binary, parsed once when an `Engine` is built; phrases
//! are normalised with the same word normaliser as the text they are matched
//! against, so the data files may use either tone placement or Unicode form.

use rustc_hash::FxHashMap;

use crate::tokens::{Token, normalize_word};

const ABBREVIATIONS: &str = include_str!("../data/abbreviations.tsv");
const PHRASES: &str = include_str!("../data/phrases.tsv");
const SYNONYMS: &str = include_str!("../data/synonyms.tsv");
const STOP_WORDS: &str = include_str!("../data/stopwords.txt");
const CONCEPTS: &str = include_str!("../data/concepts.tsv");
/// The city's directory of communes and wards, shared with the domain crate.
const HANOI_COMMUNES: &str = include_str!("../../../data/hanoi-communes-2025.tsv");

/// Words that open a locality's full name in the directory ("Phường Ba
/// Đình"); what follows them is the name itself.
const LOCALITY_KIND_PREFIXES: [&str; 3] = ["phường", "xã", "thị trấn"];

/// One word of a lexicon phrase, in both spellings a text may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) accented: String,
    pub(crate) folded: String,
}

impl Word {
    /// Accented text is matched on accented forms only, so "quan" (official)
    /// never passes for "quận" (district); text typed without diacritics can
    /// only be matched on folded forms.
    pub(crate) fn matches(&self, token: &Token, spelling: Spelling) -> bool {
        match spelling {
            Spelling::Accented => token.accented == self.accented,
            Spelling::Folded => token.folded == self.folded,
        }
    }
}

/// How a text is spelt, and so how it is matched and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// With diacritics (the normal case).
    Accented,
    /// Typed without any diacritic.
    Folded,
}

/// Splits a lexicon phrase into normalised words.
pub(crate) fn phrase_words(phrase: &str) -> Vec<Word> {
    phrase
        .split(|character: char| character.is_whitespace() || character == ',')
        .filter(|word| !word.is_empty())
        .map(|word| {
            let (accented, folded) = normalize_word(word);
            Word { accented, folded }
        })
        .collect()
}

/// Phrases with a payload, looked up by their first word (folded, so either
/// spelling finds the candidates) and matched longest first.
#[derive(Debug, Clone)]
pub(crate) struct PhraseTable<Payload> {
    by_first_word: FxHashMap<String, Vec<(Vec<Word>, Payload)>>,
}

impl<Payload> Default for PhraseTable<Payload> {
    fn default() -> Self {
        PhraseTable {
            by_first_word: FxHashMap::default(),
        }
    }
}

impl<Payload> PhraseTable<Payload> {
    pub(crate) fn insert(&mut self, words: Vec<Word>, payload: Payload) {
        let Some(first) = words.first() else {
            return;
        };
        let entries = self.by_first_word.entry(first.folded.clone()).or_default();
        // Keep the longest phrases first; among equals, the first listed wins.
        let position = entries.partition_point(|(existing, _)| existing.len() >= words.len());
        entries.insert(position, (words, payload));
    }

    /// The longest phrase that matches the tokens starting at `start`, with
    /// the number of tokens it covers. Phrases never span a clause or
    /// sentence break.
    pub(crate) fn longest_match(
        &self,
        tokens: &[Token],
        start: usize,
        spelling: Spelling,
    ) -> Option<(usize, &Payload)> {
        self.longest_match_where(tokens, start, spelling, |_| true)
    }

    /// Like `longest_match`, among the phrases whose payload is accepted (a
    /// phrase may be listed with several payloads, e.g. "thành phố" is both
    /// a unit and an addressee).
    pub(crate) fn longest_match_where(
        &self,
        tokens: &[Token],
        start: usize,
        spelling: Spelling,
        accept: impl Fn(&Payload) -> bool,
    ) -> Option<(usize, &Payload)> {
        let first = tokens.get(start)?;
        let entries = self.by_first_word.get(&first.folded)?;
        entries
            .iter()
            .filter(|(_, payload)| accept(payload))
            .find_map(|(words, payload)| {
                let candidate = tokens.get(start..start + words.len())?;
                let all_match = words
                    .iter()
                    .zip(candidate)
                    .enumerate()
                    .all(|(index, (word, token))| {
                        word.matches(token, spelling) && (index == 0 || token.gap_before.is_within_phrase())
                    });
                all_match.then_some((words.len(), payload))
            })
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.by_first_word.is_empty()
    }
}

/// The role of a phrase in a formulaic opening (see `data/phrases.tsv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PhraseKind {
    Organ,
    Unit,
    Place,
    Connector,
    Verb,
    Addressee,
    Softener,
}

impl PhraseKind {
    fn parse(text: &str) -> Option<PhraseKind> {
        Some(match text {
            "organ" => PhraseKind::Organ,
            "unit" => PhraseKind::Unit,
            "place" => PhraseKind::Place,
            "connector" => PhraseKind::Connector,
            "verb" => PhraseKind::Verb,
            "addressee" => PhraseKind::Addressee,
            "softener" => PhraseKind::Softener,
            _ => return None,
        })
    }
}

/// Everything the normaliser looks words up in.
#[derive(Debug, Clone)]
pub(crate) struct Lexicon {
    /// Keyed by the lower-cased abbreviation, joiners included ("gd&đt").
    pub(crate) abbreviations: FxHashMap<String, Vec<Word>>,
    /// The longest abbreviation key, in tokens, so lookups stay bounded.
    pub(crate) longest_abbreviation_tokens: usize,
    pub(crate) phrases: PhraseTable<PhraseKind>,
    pub(crate) synonyms: PhraseTable<Vec<Word>>,
    pub(crate) stop_words: PhraseTable<()>,
    /// Semantic fields, by phrase (see `data/concepts.tsv`).
    pub(crate) concepts: PhraseTable<String>,
    /// Names of communes and wards without their kind ("ba đình").
    pub(crate) locality_names: PhraseTable<()>,
    /// Lines of the bundled data that could not be used; empty when the data
    /// is sound (a test checks it).
    pub(crate) problems: Vec<String>,
}

/// The non-comment, non-blank lines of a data file, with line numbers.
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

impl Lexicon {
    pub(crate) fn bundled() -> Lexicon {
        let mut lexicon = Lexicon {
            abbreviations: FxHashMap::default(),
            longest_abbreviation_tokens: 1,
            phrases: PhraseTable::default(),
            synonyms: PhraseTable::default(),
            stop_words: PhraseTable::default(),
            concepts: PhraseTable::default(),
            locality_names: PhraseTable::default(),
            problems: Vec::new(),
        };
        lexicon.load_abbreviations();
        lexicon.load_phrases();
        lexicon.load_synonyms();
        for (_, line) in data_lines(STOP_WORDS) {
            lexicon.stop_words.insert(phrase_words(line), ());
        }
        lexicon.load_concepts();
        lexicon.load_locality_names();
        lexicon
    }

    fn load_concepts(&mut self) {
        for (number, line) in data_lines(CONCEPTS) {
            match line.split_once('\t') {
                Some((concept, phrase)) if !concept.trim().is_empty() => {
                    self.concepts
                        .insert(phrase_words(phrase), concept.trim().to_owned());
                }
                _ => self
                    .problems
                    .push(format!("concepts.tsv:{number}: no concept or no tab")),
            }
        }
    }

    fn load_abbreviations(&mut self) {
        for (number, line) in data_lines(ABBREVIATIONS) {
            let Some((abbreviation, expansion)) = line.split_once('\t') else {
                self.problems.push(format!("abbreviations.tsv:{number}: no tab"));
                continue;
            };
            let key = abbreviation_key(abbreviation.trim());
            let tokens = key.split(is_abbreviation_joiner).count();
            self.longest_abbreviation_tokens = self.longest_abbreviation_tokens.max(tokens);
            let words = phrase_words(expansion);
            if words.is_empty() || self.abbreviations.insert(key, words).is_some() {
                self.problems
                    .push(format!("abbreviations.tsv:{number}: empty or duplicate"));
            }
        }
    }

    fn load_phrases(&mut self) {
        for (number, line) in data_lines(PHRASES) {
            let parsed = line
                .split_once('\t')
                .and_then(|(kind, phrase)| Some((PhraseKind::parse(kind.trim())?, phrase)));
            match parsed {
                Some((kind, phrase)) => self.phrases.insert(phrase_words(phrase), kind),
                None => self
                    .problems
                    .push(format!("phrases.tsv:{number}: bad kind or no tab")),
            }
        }
    }

    fn load_synonyms(&mut self) {
        for (number, line) in data_lines(SYNONYMS) {
            let Some((variant, canonical)) = line.split_once('\t') else {
                self.problems.push(format!("synonyms.tsv:{number}: no tab"));
                continue;
            };
            let canonical = phrase_words(canonical);
            if canonical.is_empty() {
                self.problems
                    .push(format!("synonyms.tsv:{number}: empty canonical"));
                continue;
            }
            self.synonyms.insert(phrase_words(variant), canonical);
        }
    }

    fn load_locality_names(&mut self) {
        let prefixes: Vec<Vec<Word>> = LOCALITY_KIND_PREFIXES
            .iter()
            .map(|prefix| phrase_words(prefix))
            .collect();
        // The first line is the header.
        for (number, line) in data_lines(HANOI_COMMUNES).skip(1) {
            let Some(full_name) = line.split('\t').nth(1) else {
                self.problems
                    .push(format!("hanoi-communes-2025.tsv:{number}: no name"));
                continue;
            };
            let words = phrase_words(full_name);
            let name = prefixes
                .iter()
                .find(|prefix| {
                    words.len() > prefix.len()
                        && prefix
                            .iter()
                            .zip(&words)
                            .all(|(prefix, word)| prefix.accented == word.accented)
                })
                .map_or(words.as_slice(), |prefix| {
                    words.get(prefix.len()..).unwrap_or_default()
                });
            self.locality_names.insert(name.to_vec(), ());
        }
    }
}

/// Characters that join the parts of an abbreviation written as one token
/// ("GD&ĐT", "KT-XH", "TN&MT").
pub(crate) fn is_abbreviation_joiner(character: char) -> bool {
    matches!(character, '&' | '-' | '.' | '/')
}

/// The lookup key of an abbreviation: its parts normalised like words (lower
/// case, NFC) and joined by the joiner that separated them.
pub(crate) fn abbreviation_key(abbreviation: &str) -> String {
    let mut key = String::new();
    let mut part = String::new();
    let flush = |part: &mut String, key: &mut String| {
        if !part.is_empty() {
            key.push_str(&normalize_word(part).0);
            part.clear();
        }
    };
    for character in abbreviation.chars() {
        if is_abbreviation_joiner(character) {
            flush(&mut part, &mut key);
            key.push(character);
        } else {
            part.push(character);
        }
    }
    flush(&mut part, &mut key);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_data_is_sound() {
        let lexicon = Lexicon::bundled();
        assert_eq!(lexicon.problems, Vec::<String>::new());
        assert!(lexicon.abbreviations.len() > 50);
        assert!(!lexicon.phrases.is_empty());
        assert!(!lexicon.synonyms.is_empty());
        assert!(!lexicon.stop_words.is_empty());
        assert!(!lexicon.concepts.is_empty());
        assert!(!lexicon.locality_names.is_empty());
    }

    #[test]
    fn abbreviation_keys_are_case_and_form_insensitive() {
        assert_eq!(abbreviation_key("GD&ĐT"), "gd&đt");
        assert_eq!(abbreviation_key("KT-XH"), "kt-xh");
        assert_eq!(abbreviation_key("HĐND"), abbreviation_key("hđnd"));
    }

    #[test]
    fn expansions_contain_no_abbreviation() {
        let lexicon = Lexicon::bundled();
        for (key, expansion) in &lexicon.abbreviations {
            for word in expansion {
                assert!(
                    !lexicon.abbreviations.contains_key(&word.accented),
                    "{key} expands to the abbreviation {}",
                    word.accented
                );
            }
        }
    }
}
