use super::*;

const DAY: Duration = Duration::from_secs(24 * 3_600);

fn policy() -> TopicPolicy {
    TopicPolicy {
        trail_retention: None,
        personal_data_retention: 7 * DAY,
        tokenized_retention: 7 * DAY,
        min_insync_replicas: 2,
    }
}

fn settings(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect())
}

/// A case: the topic, the cluster's settings, and a word each refusal and warning
/// must contain (none: the topic is as the policy wants).
type Case<'a> = (Topic<'a>, &'a [(&'a str, &'a str)], &'a [&'a str], &'a [&'a str]);

#[test]
fn topics_are_judged_by_what_they_hold() {
    let apache_defaults =
        [("cleanup.policy", "delete"), ("retention.ms", "604800000"), ("retention.bytes", "-1")];
    let cases: &[Case<'_>] = &[
        (Topic::trail("audit.signed"), &[("retention.ms", "-1"), ("min.insync.replicas", "2")], &[], &[]),
        (Topic::trail("audit.signed"), &apache_defaults, &["expire after 7 days"], &[]),
        (
            Topic::trail("audit.signed"),
            &[("cleanup.policy", "compact"), ("retention.ms", "-1")],
            &["compaction"],
            &[],
        ),
        (
            Topic::trail("audit.signed"),
            &[("retention.ms", "-1"), ("retention.bytes", "1073741824")],
            &["retention.bytes"],
            &[],
        ),
        (Topic::personal("audit.raw"), &apache_defaults, &[], &[]),
        (Topic::personal("audit.raw"), &[("retention.ms", "-1")], &[], &["forever"]),
        (Topic::tokenized("audit.tokenized"), &[("retention.ms", "86400000")], &[], &["1 days"]),
        (
            Topic::personal("audit.dlq"),
            &[("retention.ms", "604800000"), ("min.insync.replicas", "1")],
            &[],
            &["min.insync.replicas"],
        ),
    ];
    for (topic, cluster, refusals, warnings) in cases {
        let state = judge(*topic, settings(cluster), &policy());
        assert!(state.exists);
        assert_eq!(state.refusals.len(), refusals.len(), "{cluster:?}: {:?}", state.refusals);
        assert_eq!(state.warnings.len(), warnings.len(), "{cluster:?}: {:?}", state.warnings);
        for (found, word) in state.refusals.iter().zip(*refusals).chain(state.warnings.iter().zip(*warnings))
        {
            assert!(found.contains(word), "{found:?} should say {word:?}");
        }
    }
}

#[test]
fn a_configured_trail_retention_allows_that_long_and_no_less() {
    let policy = TopicPolicy { trail_retention: Some(3_650 * DAY), ..policy() };
    let ten_years = (3_650 * DAY).as_millis().to_string();
    assert!(judge(Topic::trail("t"), settings(&[("retention.ms", &ten_years)]), &policy).refusals.is_empty());
    assert!(judge(Topic::trail("t"), settings(&[("retention.ms", "-1")]), &policy).refusals.is_empty());
    let one_year = (365 * DAY).as_millis().to_string();
    assert_eq!(judge(Topic::trail("t"), settings(&[("retention.ms", &one_year)]), &policy).refusals.len(), 1);
}

#[test]
fn a_missing_topic_is_neither_refused_nor_warned() {
    let state = judge(Topic::trail("audit.signed"), None, &policy());
    assert!(!state.exists && state.refusals.is_empty() && state.warnings.is_empty());
}

#[test]
fn created_topics_get_the_settings_of_their_kind() {
    let trail = policy().settings(TopicKind::Trail);
    assert!(trail.contains(&("retention.ms", "-1".to_owned())));
    assert!(trail.contains(&("cleanup.policy", "delete".to_owned())));
    let personal = policy().settings(TopicKind::PersonalData);
    assert!(personal.contains(&("retention.ms", "604800000".to_owned())));
    assert!(personal.contains(&("retention.bytes", "-1".to_owned())));
    assert!(personal.contains(&("min.insync.replicas", "2".to_owned())));
}
