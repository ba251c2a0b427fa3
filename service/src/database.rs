//! Where a service with its own database keeps it: an embedded SQLite file (one node)
//! or a PostgreSQL URL (several replicas sharing it). The one parser of the
//! `--database` flags; the URL may hold a password, so it is never shown by `Debug`.

use std::path::PathBuf;

/// A database location as `--database` gives it.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// An embedded SQLite database file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user:password@host:port/db`).
    Postgres(String),
}

impl std::fmt::Debug for DatabaseLocation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseLocation::Sqlite(path) => write!(formatter, "Sqlite({})", path.display()),
            DatabaseLocation::Postgres(_) => formatter.write_str("Postgres(<url redacted>)"),
        }
    }
}

impl DatabaseLocation {
    /// `sqlite:PATH` (or `sqlite://PATH`) or a `postgres://` / `postgresql://` URL.
    pub fn parse(database: &str) -> Result<DatabaseLocation, String> {
        if let Some(path) = database.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("database sqlite: needs a file path".into());
            }
            return Ok(DatabaseLocation::Sqlite(PathBuf::from(path)));
        }
        if database.starts_with("postgres://") || database.starts_with("postgresql://") {
            return Ok(DatabaseLocation::Postgres(database.to_owned()));
        }
        Err("database must be sqlite:PATH or a postgres:// url".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_parse_to_their_engine_and_a_url_is_never_shown() {
        let cases = [
            ("sqlite:data/vault.db", Ok(DatabaseLocation::Sqlite("data/vault.db".into()))),
            ("sqlite:///var/lib/vault.db", Ok(DatabaseLocation::Sqlite("/var/lib/vault.db".into()))),
            (
                "postgres://u:p@db:5432/vault",
                Ok(DatabaseLocation::Postgres("postgres://u:p@db:5432/vault".into())),
            ),
            ("sqlite:", Err(())),
            ("mysql://db/vault", Err(())),
        ];
        for (text, expected) in cases {
            assert_eq!(DatabaseLocation::parse(text).map_err(|_| ()), expected, "{text}");
        }
        let location = DatabaseLocation::parse("postgres://u:secret@db/vault").unwrap();
        assert!(!format!("{location:?}").contains("secret"));
    }
}
