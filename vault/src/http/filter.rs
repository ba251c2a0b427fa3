//! The TokensVault search filter, read with the SCIM filter grammar every service
//! shares (`audit-scim`): `attribute eq value` comparisons joined by `and`, on the
//! attributes `token`, `value`, `ownerId` and `ownerExtId` (case-insensitive). A filter
//! the grammar refuses gets the very error the query-api gives; one it reads but the
//! vault cannot search by gets an `invalidFilter` naming the construct. Never a value.

use audit_scim::ScimType;
use audit_scim::filter::{self, CompareOp, Comparison, Filter};

use crate::VaultError;
use crate::tokens::SearchFilter;

/// Parses `text` into the conditions of a search.
pub fn parse(text: &str) -> Result<SearchFilter, VaultError> {
    let tree = filter::parse(text).map_err(|error| invalid(error.to_string()))?;
    let mut comparisons = Vec::new();
    conjuncts(&tree, &mut comparisons)?;
    let mut search = SearchFilter::default();
    for comparison in comparisons {
        set(&mut search, comparison)?;
    }
    Ok(search)
}

/// The comparisons of a conjunction, in order; anything else is refused.
fn conjuncts<'f>(filter: &'f Filter, found: &mut Vec<&'f Comparison>) -> Result<(), VaultError> {
    let unsupported = match filter {
        Filter::And(left, right) => {
            conjuncts(left, found)?;
            return conjuncts(right, found);
        }
        Filter::Compare(comparison) if comparison.op == CompareOp::Eq => {
            found.push(comparison);
            return Ok(());
        }
        Filter::Compare(comparison) => format!("operator {} is not supported; use eq", comparison.op.name()),
        Filter::Or(..) => "or is not supported; join conditions with and".to_owned(),
        Filter::Not(..) => "not is not supported".to_owned(),
        Filter::Present(..) => "pr is not supported".to_owned(),
        Filter::ValuePath { .. } => "value filters [ ] are not supported".to_owned(),
    };
    Err(invalid(unsupported))
}

fn set(filter: &mut SearchFilter, comparison: &Comparison) -> Result<(), VaultError> {
    let path = &comparison.path;
    let name = if path.schema.is_none() { path.dotted_lowercase() } else { String::new() };
    let slot = match name.as_str() {
        "token" => &mut filter.token,
        "value" => &mut filter.value,
        "ownerid" => &mut filter.owner_id,
        "ownerextid" => &mut filter.owner_ext_id,
        _ => return Err(invalid(format!("unknown attribute {path}"))),
    };
    if slot.is_some() {
        return Err(invalid(format!("attribute {path} given twice")));
    }
    *slot = Some(comparison.value.as_str().to_owned());
    Ok(())
}

fn invalid(detail: String) -> VaultError {
    VaultError::InvalidRequest { scim_type: ScimType::InvalidFilter, detail }
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
            ("(token eq t and value eq v) and ownerId eq 1", Ok([some("t"), some("v"), some("1"), None])),
            ("", Err("empty filter")),
            ("token eq", Err("expected a value after eq")),
            ("token co abc", Err("operator co")),
            ("token eq a or value eq b", Err("or is not supported")),
            ("not (token eq a)", Err("not is not supported")),
            ("token pr", Err("pr is not supported")),
            ("token eq a and", Err("expected a filter after and")),
            ("token eq a and token eq b", Err("given twice")),
            ("secret eq a", Err("unknown attribute secret")),
            ("value eq jane doe", Err("unexpected word")),
            (r#"value eq "open"#, Err("unterminated")),
        ];
        for (text, expected) in cases {
            if let Err(found) = parsed(text) {
                for value in ["abc", "admin", "open", "jane", " doe"] {
                    assert!(!found.contains(value), "{text}: the error repeats a value: {found}");
                }
            }
            match (parsed(text), expected) {
                (Ok(found), Ok(expected)) => assert_eq!(found, expected, "{text}"),
                (Err(found), Err(expected)) => assert!(found.contains(expected), "{text}: {found}"),
                (found, expected) => panic!("{text}: {found:?} != {expected:?}"),
            }
        }
    }
}
