//! Page sizes and opaque page tokens for list calls. A token carries the sort
//! key of the last item returned (keyset paging), so pages stay stable while
//! new rows arrive; it is opaque to callers so the encoding may change.

use base64::Engine as _;

use crate::error::{Error, Result};

/// A validated page request: the key to continue after and how many to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<String>,
    pub size: u32,
}

/// Limits of one list call.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub default_size: u32,
    pub max_size: u32,
}

pub const DIRECTORY_PAGES: PageLimits = PageLimits {
    default_size: 100,
    max_size: 500,
};
pub const REPORT_PAGES: PageLimits = PageLimits {
    default_size: 50,
    max_size: 200,
};

const TOKEN_VERSION: &str = "v1:";

impl PageRequest {
    /// Checks `page_size` (0 means the default; above the maximum is lowered
    /// to it) and decodes `page_token`.
    pub fn parse(page_size: i32, page_token: &str, limits: PageLimits) -> Result<PageRequest> {
        let size = match page_size {
            size if size < 0 => return Err(Error::invalid("page_size", "must not be negative")),
            0 => limits.default_size,
            size => (size as u32).min(limits.max_size),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            Some(decode_token(page_token)?)
        };
        Ok(PageRequest { after, size })
    }

    /// The key as an integer id, for lists sorted by numeric id.
    pub fn after_id(&self) -> Result<Option<i64>> {
        self.after
            .as_deref()
            .map(|key| key.parse::<i64>().map_err(|_| invalid_token()))
            .transpose()
    }

    /// How many rows to fetch: one more than the page, to learn if another follows.
    pub fn fetch_limit(&self) -> u32 {
        self.size.saturating_add(1)
    }
}

/// A page of results and the token for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
}

impl<T> Page<T> {
    /// Cuts the extra fetched row off `items` and makes the next token from
    /// the key of the last row kept.
    pub fn from_fetched(mut items: Vec<T>, request: &PageRequest, key: impl Fn(&T) -> String) -> Page<T> {
        let has_more = items.len() > request.size as usize;
        items.truncate(request.size as usize);
        let next_page_token = match items.last() {
            Some(last) if has_more => encode_token(&key(last)),
            _ => String::new(),
        };
        Page {
            items,
            next_page_token,
        }
    }

    pub fn map<U>(self, convert: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(convert).collect(),
            next_page_token: self.next_page_token,
        }
    }
}

fn encode_token(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{TOKEN_VERSION}{key}"))
}

fn decode_token(token: &str) -> Result<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid_token())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid_token())?;
    text.strip_prefix(TOKEN_VERSION)
        .map(str::to_owned)
        .ok_or_else(invalid_token)
}

fn invalid_token() -> Error {
    Error::invalid("page_token", "not a token returned by this list call")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_default_clamp_and_reject_negatives() {
        assert_eq!(PageRequest::parse(0, "", DIRECTORY_PAGES).expect("ok").size, 100);
        assert_eq!(
            PageRequest::parse(10_000, "", DIRECTORY_PAGES).expect("ok").size,
            500
        );
        assert!(PageRequest::parse(-1, "", DIRECTORY_PAGES).is_err());
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_rejected() {
        let request = PageRequest { after: None, size: 2 };
        let page = Page::from_fetched(vec!["a", "b", "c"], &request, |item| (*item).to_owned());
        assert_eq!(page.items, ["a", "b"]);
        let next = PageRequest::parse(2, &page.next_page_token, DIRECTORY_PAGES).expect("ok");
        assert_eq!(next.after.as_deref(), Some("b"));
        let last = Page::from_fetched(vec!["c"], &next, |item| (*item).to_owned());
        assert!(last.next_page_token.is_empty());
        assert!(PageRequest::parse(2, "garbage!", DIRECTORY_PAGES).is_err());
        assert!(PageRequest::parse(2, "Zm9v", DIRECTORY_PAGES).is_err());
    }
}
