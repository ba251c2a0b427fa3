//! The TokensVault search filter: `attribute eq value` conditions joined by `and`,
//! attributes `token`, `value`, `ownerId`, `ownerExtId` (case-insensitive), values
//! quoted (JSON string rules) or bare. Anything else is an `invalidFilter` error
//! that names the problem, never the value.

use crate::VaultError;
use crate::tokens::SearchFilter;

/// Longest filter accepted, in bytes.
const MAX_FILTER_BYTES: usize = 4096;

/// Parses `text` into the conditions of a search.
pub fn parse(text: &str) -> Result<SearchFilter, VaultError> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(invalid(format!("filter longer than {MAX_FILTER_BYTES} bytes")));
    }
    let words = words(text)?;
    let mut filter = SearchFilter::default();
    let mut position = 0;
    loop {
        let [attribute, operator, value] = words.get(position..position + 3).unwrap_or_default() else {
            return Err(invalid("expected: attribute eq value [and ...]".into()));
        };
        if !operator.text.eq_ignore_ascii_case("eq") || operator.quoted {
            return Err(invalid(format!("operator {} is not supported; use eq", operator.text)));
        }
        set(&mut filter, attribute, value.text.clone())?;
        position += 3;
        match words.get(position) {
            None => return Ok(filter),
            Some(join) if join.text.eq_ignore_ascii_case("and") && !join.quoted => position += 1,
            Some(join) => return Err(invalid(format!("expected and, found {}", join.text))),
        }
        if position == words.len() {
            return Err(invalid("filter ends with and".into()));
        }
    }
}

fn set(filter: &mut SearchFilter, attribute: &Word, value: String) -> Result<(), VaultError> {
    let slot = match attribute.text.to_ascii_lowercase().as_str() {
        "token" => &mut filter.token,
        "value" => &mut filter.value,
        "ownerid" => &mut filter.owner_id,
        "ownerextid" => &mut filter.owner_ext_id,
        _ => return Err(invalid(format!("unknown attribute {}", attribute.text))),
    };
    if slot.is_some() {
        return Err(invalid(format!("attribute {} given twice", attribute.text)));
    }
    *slot = Some(value);
    Ok(())
}

struct Word {
    text: String,
    quoted: bool,
}

/// Splits on whitespace, keeping JSON-quoted strings whole.
fn words(text: &str) -> Result<Vec<Word>, VaultError> {
    let mut words = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('"') {
            let end = closing_quote(rest).ok_or_else(|| invalid("unterminated quoted value".into()))?;
            let text: String =
                serde_json::from_str(&rest[..=end]).map_err(|_| invalid("malformed quoted value".into()))?;
            words.push(Word { text, quoted: true });
            rest = &rest[end + 1..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            words.push(Word { text: rest[..end].to_owned(), quoted: false });
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    if words.is_empty() {
        return Err(invalid("empty filter".into()));
    }
    Ok(words)
}

/// Byte position of the quote closing the string that opens `text`.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (position, byte) in text.bytes().enumerate().skip(1) {
        match byte {
            b'\\' if !escaped => escaped = true,
            b'"' if !escaped => return Some(position),
            _ => escaped = false,
        }
    }
    None
}

fn invalid(detail: String) -> VaultError {
    VaultError::InvalidRequest { scim_type: "invalidFilter", detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// token, value, ownerId, ownerExtId.
    type Conditions = [Option<String>; 4];

    fn parsed(text: &str) -> Result<Conditions, String> {
        parse(text).map(|f| [f.token, f.value, f.owner_id, f.owner_ext_id]).map_err(|error| error.to_string())
    }

    #[test]
    fn filters_parse_as_specified() {
        let some = |text: &str| Some(text.to_owned());
        let cases: Vec<(&str, Result<Conditions, &str>)> = vec![
            (r#"token eq "abc""#, Ok([some("abc"), None, None, None])),
            ("value eq admin@company.com", Ok([None, some("admin@company.com"), None, None])),
            (
                r#"VALUE EQ "a \"quoted\" and spaced""#,
                Ok([None, some("a \"quoted\" and spaced"), None, None]),
            ),
            ("ownerId eq 11092 and ownerExtId eq \"x y\"", Ok([None, None, some("11092"), some("x y")])),
            ("ownerid eq 1 AND token eq t", Ok([some("t"), None, some("1"), None])),
            ("", Err("empty filter")),
            ("token eq", Err("expected: attribute")),
            ("token co abc", Err("operator co")),
            ("token eq a or value eq b", Err("expected and, found or")),
            ("token eq a and", Err("ends with and")),
            ("token eq a and token eq b", Err("given twice")),
            ("secret eq a", Err("unknown attribute secret")),
            (r#"value eq "open"#, Err("unterminated")),
        ];
        for (text, expected) in cases {
            match (parsed(text), expected) {
                (Ok(found), Ok(expected)) => assert_eq!(found, expected, "{text}"),
                (Err(found), Err(expected)) => assert!(found.contains(expected), "{text}: {found}"),
                (found, expected) => panic!("{text}: {found:?} != {expected:?}"),
            }
        }
    }
}
