//! Free text arriving in requests (titles, narratives, comments, answers):
//! bounded in characters, and without control characters other than tab
//! and line breaks. PostgreSQL refuses NUL in text outright, so without
//! this check the same request would be stored on SQLite and fail with an
//! internal error on PostgreSQL; other controls are never meant either.

use crate::error::Violations;

/// The control character `text` must not contain, described, if it has one.
pub fn control_character_problem(text: &str) -> Option<String> {
    text.chars()
        .find(|character| character.is_control() && !matches!(character, '\t' | '\n' | '\r'))
        .map(|control| {
            format!(
                "contains the control character U+{:04X}; only tabs and line breaks are allowed",
                u32::from(control)
            )
        })
}

/// Why `text` is not acceptable free text of at most `max_chars`
/// characters, if it is not.
pub fn free_text_problem(text: &str, max_chars: usize) -> Option<String> {
    control_character_problem(text).or_else(|| {
        text.chars()
            .nth(max_chars)
            .map(|_| format!("at most {max_chars} characters"))
    })
}

/// Adds the problem of `text`, if any, as a violation of `field`.
pub fn check_free_text(field: &str, text: &str, max_chars: usize, violations: &mut Violations) {
    if let Some(problem) = free_text_problem(text, max_chars) {
        violations.add(field, problem);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_other_than_tabs_and_line_breaks_are_refused() {
        assert_eq!(free_text_problem("Dòng một\r\nDòng\thai", 20), None);
        assert_eq!(
            free_text_problem("a\u{0}b", 20).as_deref(),
            Some("contains the control character U+0000; only tabs and line breaks are allowed")
        );
        assert!(free_text_problem("a\u{1b}[31m", 20).is_some());
        assert!(free_text_problem("a\u{85}", 20).is_some(), "C1 controls too");
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(free_text_problem("đđđ", 3), None);
        assert_eq!(
            free_text_problem("đđđđ", 3).as_deref(),
            Some("at most 3 characters")
        );
    }
}
