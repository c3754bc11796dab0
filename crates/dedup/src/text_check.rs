//! What a recommendation's text must look like before it is analysed: one to
//! five sentences of bounded length. Longer documents are dossiers, not
//! recommendations, and would dominate scoring.

use unicode_normalization::UnicodeNormalization;

use crate::Engine;

/// Longest accepted text, in characters after NFC composition (so NFD input
/// is not penalised for its combining marks).
pub const MAX_TEXT_CHARS: usize = 2_000;
/// Most sentences a recommendation may have.
pub const MAX_SENTENCES: usize = 5;

/// Why a text cannot be taken as a recommendation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextProblem {
    #[error("the text is empty")]
    Empty,
    #[error("the text has no letters or digits, only punctuation")]
    OnlyPunctuation,
    #[error("the text is longer than {max_chars} characters")]
    TooLong { max_chars: usize },
    #[error("the text has more than {max} sentences")]
    TooManySentences { max: usize },
}

/// Counts sentences: runs that contain a letter or digit, ended by . ! ? …
/// followed by whitespace, or by a line break. A dot inside a number or
/// abbreviation ("4.063", "TP.HCM") ends nothing.
fn count_sentences(text: &str) -> usize {
    let mut sentences = 0;
    let mut current_has_content = false;
    let mut after_terminal = false;
    for character in text.chars() {
        let ends_sentence = matches!(character, '\n' | '\r') || (after_terminal && character.is_whitespace());
        if ends_sentence && current_has_content {
            sentences += 1;
            current_has_content = false;
        }
        if character.is_alphanumeric() {
            current_has_content = true;
        }
        after_terminal = matches!(character, '.' | '!' | '?' | '…')
            || (after_terminal && !character.is_whitespace() && !character.is_alphanumeric());
    }
    if current_has_content {
        sentences += 1;
    }
    sentences
}

impl Engine {
    /// Checks that `text` can be taken as a recommendation.
    pub fn check_text(&self, text: &str) -> Result<(), TextProblem> {
        if text.trim().is_empty() {
            return Err(TextProblem::Empty);
        }
        if !text.chars().any(char::is_alphanumeric) {
            return Err(TextProblem::OnlyPunctuation);
        }
        // NFC has no more characters than the text has bytes.
        if text.len() > MAX_TEXT_CHARS && text.nfc().nth(MAX_TEXT_CHARS).is_some() {
            return Err(TextProblem::TooLong {
                max_chars: MAX_TEXT_CHARS,
            });
        }
        if count_sentences(text) > MAX_SENTENCES {
            return Err(TextProblem::TooManySentences { max: MAX_SENTENCES });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_counted_without_splitting_numbers() {
        assert_eq!(count_sentences("Một câu."), 1);
        assert_eq!(
            count_sentences("Chi 4.063,6 tỷ đồng cho TP.HCM. Câu hai! Câu ba?"),
            3
        );
        assert_eq!(count_sentences("Dòng một\nDòng hai\n\n"), 2);
        assert_eq!(count_sentences("Hết.) Tiếp theo"), 2);
        assert_eq!(count_sentences("... !!!"), 0);
    }

    #[test]
    fn problems_are_reported() {
        let engine = Engine::default();
        assert_eq!(engine.check_text("   "), Err(TextProblem::Empty));
        assert_eq!(engine.check_text(" ..!? "), Err(TextProblem::OnlyPunctuation));
        assert_eq!(
            engine.check_text(&"a".repeat(MAX_TEXT_CHARS + 1)),
            Err(TextProblem::TooLong {
                max_chars: MAX_TEXT_CHARS
            })
        );
        assert_eq!(
            engine.check_text("Một. Hai. Ba. Bốn. Năm. Sáu."),
            Err(TextProblem::TooManySentences { max: MAX_SENTENCES })
        );
        assert_eq!(engine.check_text("Một. Hai. Ba. Bốn. Năm."), Ok(()));
        assert_eq!(engine.check_text(&"a".repeat(MAX_TEXT_CHARS)), Ok(()));
    }
}
