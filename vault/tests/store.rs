//! The vault's logic against both real engines: every test runs on an embedded SQLite
//! file and on a private PostgreSQL server.

use audit_vault_api::{MatchOp, Owner, Revealed, TenantValues, TokenizeItem};
use vault::Key;
use vault::Keyring;
use vault::VaultError;
use vault::{MatchBounds, MatchQuery, Page, SearchFilter, Vault};
use vault::{Store, StoreLocation};

const MASTER: &str = "6d1c8a3f5b9e2d4c7a0f1e3b5d7c9a2e4f6b8d0c1a3e5f7b9d2c4e6a8f0b1d3c";

/// A store location of each engine, fresh for the calling test.
async fn locations(dir: &tempfile::TempDir) -> Vec<StoreLocation> {
    vec![
        StoreLocation::Sqlite(dir.path().join("vault.db")),
        StoreLocation::Postgres(testkit::postgres::fresh_database().await),
    ]
}

async fn open(location: &StoreLocation) -> Vault {
    let store = Store::open(location).await.expect("open store");
    Vault::new(store, Keyring::new(Key::from_hex(MASTER).unwrap()))
}

fn item(value: &str, owner: Option<&str>) -> TokenizeItem {
    TokenizeItem { value: value.into(), owner: Owner { id: owner.map(Into::into), ext_id: None } }
}

fn value_of(revealed: &Revealed) -> Option<&str> {
    match revealed {
        Revealed::Value { value } => Some(value),
        _ => None,
    }
}

#[tokio::test]
async fn one_value_one_token_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    for location in locations(&dir).await {
        let vault = open(&location).await;
        let batch = [
            item("alice@example.com", Some("1")),
            item("10.0.0.7", None),
            item("alice@example.com", Some("1")),
        ];
        let first = vault.tokenize("t1", &batch).await.unwrap();
        assert_eq!(first[0], first[2], "{location:?}: one value in one batch, one token");
        assert_ne!(first[0], first[1]);
        let parsed = uuid::Uuid::parse_str(&first[0]).unwrap();
        assert_eq!(parsed.get_version_num(), 4, "tokens are random uuids");
        let again = vault.tokenize("t1", &batch[..2]).await.unwrap();
        assert_eq!(again, first[..2], "{location:?}: later batches find the same tokens");
        let other_tenant = vault.tokenize("t2", &batch[..1]).await.unwrap();
        assert_ne!(other_tenant[0], first[0], "{location:?}: tenants never share tokens");

        let lookups = vault.lookup("t1", &["10.0.0.7".into(), "never@seen".into()]).await.unwrap();
        assert_eq!(lookups, vec![Some(first[1].clone()), None]);
        assert_eq!(vault.lookup("t9", &["10.0.0.7".into()]).await.unwrap(), vec![None]);
    }
}

#[tokio::test]
async fn one_batch_of_several_tenants_is_written_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for location in locations(&dir).await {
        let vault = open(&location).await;
        let known = vault.tokenize("t2", &[item("old@example.com", Some("5"))]).await.unwrap();
        let values = |tenant: &str, items: Vec<TokenizeItem>| TenantValues { tenant: tenant.into(), items };
        // A tenant may come twice, values repeat within and across tenants, subjects
        // are shared: every (tenant, value) still gets exactly one token.
        let batch = [
            values("t1", vec![item("bob@example.com", Some("7")), item("10.0.0.9", None)]),
            values("t2", vec![item("bob@example.com", Some("7")), item("old@example.com", Some("5"))]),
            values("t1", vec![item("bob@example.com", Some("7")), item("carol", Some("7"))]),
        ];
        let tokens = vault.tokenize_many(&batch).await.unwrap();
        assert_eq!(tokens.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 2], "{location:?}");
        assert_eq!(tokens[0][0], tokens[2][0], "{location:?}: a tenant listed twice, one token");
        assert_ne!(tokens[0][0], tokens[1][0], "{location:?}: tenants never share tokens");
        assert_eq!(tokens[1][1], known[0], "{location:?}: known values keep their token");
        let all: Vec<String> = [tokens[0].clone(), tokens[2].clone()].concat();
        let revealed = vault.detokenize("t1", &all).await.unwrap();
        let clear: Vec<Option<&str>> = revealed.iter().map(|entry| value_of(&entry.revealed)).collect();
        let expected = ["bob@example.com", "10.0.0.9", "bob@example.com", "carol"];
        assert_eq!(clear, expected.map(Some), "{location:?}");
        let tenants = ["t1".to_owned(), "t2".to_owned(), "t3".to_owned()];
        assert_eq!(vault.erasures(&tenants).await.unwrap(), vec![0, 0, 0], "{location:?}");
        assert_eq!(vault.erase("t1", &Owner { id: Some("7".into()), ext_id: None }).await.unwrap(), 2);
        vault.erase("t1", &Owner { id: Some("8".into()), ext_id: None }).await.unwrap();
        assert_eq!(
            vault.erasures(&tenants).await.unwrap(),
            vec![2, 0, 0],
            "{location:?}: counted per tenant"
        );
        let again = vault.tokenize("t1", &[item("bob@example.com", Some("7"))]).await.unwrap();
        assert_ne!(again[0], tokens[0][0], "{location:?}: an erased value tokenized again gets a new token");
        let t2 = vault.detokenize("t2", &tokens[1]).await.unwrap();
        assert_eq!(value_of(&t2[0].revealed), Some("bob@example.com"), "{location:?}: t2's subject 7 stays");
    }
}

#[tokio::test]
async fn tokens_reveal_their_values_in_their_tenant_only() {
    let dir = tempfile::tempdir().unwrap();
    for location in locations(&dir).await {
        let vault = open(&location).await;
        let tokens =
            vault.tokenize("t1", &[item("bob", Some("7")), item("Zoë@bücher.example", None)]).await.unwrap();
        let asked = vec![tokens[1].clone(), tokens[0].clone(), uuid::Uuid::new_v4().to_string()];
        let revealed = vault.detokenize("t1", &asked).await.unwrap();
        assert_eq!(value_of(&revealed[0].revealed), Some("Zoë@bücher.example"), "{location:?}");
        assert_eq!(value_of(&revealed[1].revealed), Some("bob"));
        assert_eq!(revealed[1].owner_id.as_deref(), Some("7"));
        assert!(revealed[2].revealed == Revealed::Unknown);
        let elsewhere = vault.detokenize("t2", &tokens).await.unwrap();
        assert!(elsewhere.iter().all(|entry| entry.revealed == Revealed::Unknown), "{location:?}");
    }
}

#[tokio::test]
async fn racing_writers_agree_on_one_token_per_value() {
    let dir = tempfile::tempdir().unwrap();
    for location in locations(&dir).await {
        // Two vaults with their own connections, as two replicas would be.
        let (left, right) = (open(&location).await, open(&location).await);
        let items: Vec<TokenizeItem> =
            (0..400).map(|n| item(&format!("user{n}@race.example"), Some(&format!("{}", n % 13)))).collect();
        let mut reversed = items.clone();
        reversed.reverse();
        let (a, b) = tokio::join!(left.tokenize("t1", &items), right.tokenize("t1", &reversed));
        let (a, mut b) = (a.unwrap(), b.unwrap());
        b.reverse();
        assert_eq!(a, b, "{location:?}: both writers got the winner's tokens");
        let unique: std::collections::HashSet<&String> = a.iter().collect();
        assert_eq!(unique.len(), items.len());
    }
}

#[tokio::test]
async fn erasure_destroys_one_subject_and_keeps_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    for location in locations(&dir).await {
        let vault = open(&location).await;
        let erased_owner = Owner { id: Some("11092".into()), ext_id: Some("admin@company.com".into()) };
        let items = [
            TokenizeItem { value: "admin@company.com".into(), owner: erased_owner.clone() },
            TokenizeItem { value: "10.7.252.38".into(), owner: erased_owner.clone() },
            item("other@company.com", Some("200")),
            item("192.0.2.1", None),
        ];
        let tokens = vault.tokenize("t1", &items).await.unwrap();
        assert_eq!(vault.erase("t1", &erased_owner).await.unwrap(), 2, "{location:?}");
        let revealed = vault.detokenize("t1", &tokens).await.unwrap();
        assert!(revealed[0].revealed == Revealed::Erased && revealed[1].revealed == Revealed::Erased);
        assert_eq!(value_of(&revealed[2].revealed), Some("other@company.com"), "others untouched");
        assert_eq!(value_of(&revealed[3].revealed), Some("192.0.2.1"));
        // The token stays a valid identifier of the subject's records...
        let filter = SearchFilter { owner_id: Some("11092".into()), ..SearchFilter::default() };
        let (total, _) = vault.search("t1", &filter, Page { offset: 0, limit: 10 }).await.unwrap();
        assert_eq!(total, 2);
        // ...but the value no longer leads to it, and a later record of it is new data.
        assert_eq!(vault.lookup("t1", &["admin@company.com".into()]).await.unwrap(), vec![None]);
        let later = vault.tokenize("t1", &items[..1]).await.unwrap();
        assert_ne!(later[0], tokens[0]);
        assert_eq!(vault.erase("t1", &erased_owner).await.unwrap(), 1, "erasing again erases the new value");
    }
}

#[tokio::test]
async fn search_filters_by_token_value_and_owner_with_paging() {
    let dir = tempfile::tempdir().unwrap();
    for location in locations(&dir).await {
        let vault = open(&location).await;
        let owner = Owner { id: Some("42".into()), ext_id: Some("carol".into()) };
        let items: Vec<TokenizeItem> =
            (0..5).map(|n| TokenizeItem { value: format!("carol-{n}"), owner: owner.clone() }).collect();
        let tokens = vault.tokenize("t1", &items).await.unwrap();
        vault.tokenize("t1", &[item("dave", Some("43"))]).await.unwrap();
        let page = |offset, limit| Page { offset, limit };

        let by_ext = SearchFilter { owner_ext_id: Some("carol".into()), ..SearchFilter::default() };
        let (total, rows) = vault.search("t1", &by_ext, page(1, 2)).await.unwrap();
        assert_eq!((total, rows.len()), (5, 2), "{location:?}");
        let by_value =
            SearchFilter { value: Some("carol-3".into()), owner_id: Some("42".into()), ..Default::default() };
        let (total, rows) = vault.search("t1", &by_value, page(0, 10)).await.unwrap();
        assert_eq!(total, 1);
        assert_eq!(rows[0].token, tokens[3]);
        let by_token = SearchFilter {
            token: Some(tokens[0].clone()),
            owner_id: Some("43".into()),
            ..Default::default()
        };
        assert_eq!(
            vault.search("t1", &by_token, page(0, 10)).await.unwrap().0,
            0,
            "conditions are joined by and"
        );
        let all = vault.search("t1", &SearchFilter::default(), page(0, 100)).await.unwrap();
        assert_eq!(all.0, 6);
    }
}

#[tokio::test]
async fn matches_stay_within_their_bounds() {
    let dir = tempfile::tempdir().unwrap();
    for location in locations(&dir).await {
        let vault = open(&location).await.with_match_bounds(MatchBounds { scan: 3, results: 2 });
        let everything = MatchQuery::new(MatchOp::Eq, "*", 10);
        let one = MatchQuery::new(MatchOp::Sw, "a", 10);
        let items = [item("a1", Some("1")), item("b2", Some("2")), item("c3", None)];
        let tokens = vault.tokenize("t1", &items).await.unwrap();
        assert_eq!(vault.match_values("t1", &one).await.unwrap(), vec![tokens[0].clone()], "{location:?}");
        let Err(error) = vault.match_values("t1", &everything).await else { panic!("three values answered") };
        assert!(matches!(error, VaultError::MatchResultBound { limit: 2 }), "the vault caps the limit");

        vault.tokenize("t1", &[item("a4", Some("4"))]).await.unwrap();
        let Err(error) = vault.match_values("t1", &one).await else { panic!("{location:?}: scanned past") };
        assert_eq!(
            error.to_string(),
            "tenant has more than 3 tokenized values: pattern filters on tokenized attributes are not \
             available; use eq with a whole value"
        );
        vault.erase("t1", &Owner { id: Some("2".into()), ext_id: None }).await.unwrap();
        let mut expected =
            vec![tokens[0].clone(), vault.lookup("t1", &["a4".into()]).await.unwrap()[0].clone().unwrap()];
        expected.sort();
        assert_eq!(vault.match_values("t1", &one).await.unwrap(), expected, "erased values are not scanned");
        assert!(vault.match_values("t2", &everything).await.unwrap().is_empty(), "each tenant has its bound");
    }
}

#[tokio::test]
async fn a_wrong_master_key_reveals_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for location in locations(&dir).await {
        let tokens = open(&location).await.tokenize("t1", &[item("secret", None)]).await.unwrap();
        let store = Store::open(&location).await.unwrap();
        let impostor = Vault::new(store, Keyring::new(Key::generate()));
        let Err(error) = impostor.detokenize("t1", &tokens).await else { panic!("{location:?}: opened") };
        assert!(error.to_string().contains("does not open"), "{location:?}: {error}");
    }
}

#[tokio::test]
async fn the_sqlite_file_holds_no_clear_value() {
    let dir = tempfile::tempdir().unwrap();
    let location = StoreLocation::Sqlite(dir.path().join("vault.db"));
    let vault = open(&location).await;
    let values: Vec<String> = (0..200).map(|n| format!("person{n}@clear.example")).collect();
    let items: Vec<TokenizeItem> = values
        .iter()
        .map(|value| TokenizeItem {
            value: value.clone(),
            owner: Owner { id: None, ext_id: Some(value.clone()) },
        })
        .collect();
    vault.tokenize("t1", &items).await.unwrap();
    drop(vault);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(bytes.len() > 4096, "the database was written");
    for needle in values.iter().map(String::as_bytes).chain([b"clear.example".as_slice(), MASTER.as_bytes()])
    {
        assert!(
            !bytes.windows(needle.len()).any(|window| window == needle),
            "found {:?}",
            String::from_utf8_lossy(needle)
        );
    }
}
