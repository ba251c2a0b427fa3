//! The coordinator's rebalances, session expiry and answers, without a network.

use super::*;

const SESSION: Duration = Duration::from_secs(10);

fn join(member_id: &str) -> Join {
    Join {
        group: "g".into(),
        member_id: member_id.into(),
        client_id: "c".into(),
        session_timeout: SESSION,
        rebalance_timeout: Duration::from_secs(60),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"m"))],
    }
}

fn answered<T: std::fmt::Debug>(mut receiver: oneshot::Receiver<T>) -> T {
    receiver.try_recv().expect("answered")
}

fn sync(member_id: &str, generation: i32, assignments: &[(&str, &'static [u8])]) -> Sync {
    Sync {
        group: "g".into(),
        generation,
        member_id: member_id.into(),
        assignments: assignments
            .iter()
            .map(|(id, bytes)| ((*id).to_owned(), Bytes::from_static(bytes)))
            .collect(),
    }
}

/// One member joined and synced: (coordinator, member id, generation).
fn stable_single(now: Instant) -> (Coordinator, String, i32) {
    let coordinator = Coordinator::default();
    let joined = answered(coordinator.join(join(""), now));
    assert_eq!(joined.error, NONE);
    assert_eq!(joined.leader, joined.member_id);
    assert_eq!(joined.members.len(), 1);
    let synced = answered(
        coordinator.sync(sync(&joined.member_id, joined.generation, &[(&joined.member_id, b"all")]), now),
    );
    assert_eq!((synced.error, &synced.assignment[..]), (NONE, &b"all"[..]));
    (coordinator, joined.member_id, joined.generation)
}

#[test]
fn a_lone_member_joins_at_once_and_gets_its_assignment() {
    let now = Instant::now();
    let (coordinator, member, generation) = stable_single(now);
    assert_eq!(coordinator.heartbeat("g", &member, generation, now), NONE);
    assert_eq!(coordinator.may_commit("g", &member, generation), NONE);
    assert_eq!(
        coordinator.heartbeat("g", &member, generation + 1, now),
        code(ResponseError::IllegalGeneration)
    );
    assert_eq!(coordinator.heartbeat("g", "stranger", generation, now), code(ResponseError::UnknownMemberId));
}

#[test]
fn a_second_member_triggers_a_rebalance_both_rejoin() {
    let now = Instant::now();
    let (coordinator, first, generation) = stable_single(now);
    let mut second = coordinator.join(join(""), now);
    assert!(second.try_recv().is_err(), "waits for the first member to rejoin");
    assert_eq!(coordinator.heartbeat("g", &first, generation, now), code(ResponseError::RebalanceInProgress));
    assert_eq!(coordinator.may_commit("g", &first, generation), NONE, "commits allowed while revoking");
    let first_joined = answered(coordinator.join(join(&first), now));
    let second_joined = answered(second);
    assert_eq!(first_joined.generation, generation + 1);
    assert_eq!(first_joined.leader, first, "the leader stays");
    assert_eq!(first_joined.members.len(), 2);
    assert!(second_joined.members.is_empty());
    let next = first_joined.generation;
    let follower = coordinator.sync(sync(&second_joined.member_id, next, &[]), now);
    let leader = answered(
        coordinator.sync(sync(&first, next, &[(&first, b"a"), (&second_joined.member_id, b"b")]), now),
    );
    assert_eq!(&leader.assignment[..], b"a");
    assert_eq!(&answered(follower).assignment[..], b"b");
}

#[test]
fn a_crashed_member_is_expired_and_a_newcomer_gets_its_partitions() {
    let start = Instant::now();
    let (coordinator, crashed, _) = stable_single(start);
    // A replacement joins before the crashed member's session expired.
    let later = start + Duration::from_secs(2);
    let mut replacement = coordinator.join(join(""), later);
    coordinator.tick(later + Duration::from_secs(1));
    assert!(replacement.try_recv().is_err(), "the crashed member may still rejoin");
    coordinator.tick(start + SESSION + Duration::from_millis(1));
    let joined = replacement.try_recv().expect("rebalanced without the crashed member");
    assert_eq!(joined.error, NONE);
    assert_eq!(joined.leader, joined.member_id);
    assert_eq!(joined.members.len(), 1);
    assert_eq!(
        coordinator.heartbeat("g", &crashed, joined.generation, start),
        code(ResponseError::UnknownMemberId)
    );
}

#[test]
fn a_member_that_stops_heartbeating_is_expired() {
    let start = Instant::now();
    let coordinator = Coordinator::default();
    let joined = answered(coordinator.join(join(""), start));
    let mut waiting = coordinator.sync(sync(&joined.member_id, joined.generation, &[]), start);
    // The leader (itself) syncs with its assignment in the same call, so it is answered.
    assert_eq!(waiting.try_recv().unwrap().error, NONE);
    let mut rejoin = coordinator.join(join(&joined.member_id), start);
    assert_eq!(rejoin.try_recv().unwrap().generation, joined.generation + 1);
    coordinator.tick(start + SESSION * 3);
    assert_eq!(coordinator.lock()["g"].members.len(), 0, "expired once it stopped waiting and heartbeating");
}

#[test]
fn leaving_hands_partitions_over_at_once() {
    let now = Instant::now();
    let (coordinator, first, generation) = stable_single(now);
    let mut second = coordinator.join(join(""), now);
    assert_eq!(coordinator.leave("g", std::slice::from_ref(&first), now), [NONE]);
    let joined = second.try_recv().expect("the leaver is not waited for");
    assert_eq!(joined.generation, generation + 1);
    assert_eq!(joined.leader, joined.member_id);
    assert_eq!(coordinator.leave("g", &[first], now), [code(ResponseError::UnknownMemberId)]);
}

#[test]
fn refuses_what_kafka_refuses() {
    let now = Instant::now();
    let coordinator = Coordinator::default();
    let mut bad = join("");
    bad.group.clear();
    assert_eq!(answered(coordinator.join(bad, now)).error, code(ResponseError::InvalidGroupId));
    let mut bad = join("");
    bad.session_timeout = Duration::from_millis(10);
    assert_eq!(answered(coordinator.join(bad, now)).error, code(ResponseError::InvalidSessionTimeout));
    assert_eq!(answered(coordinator.join(join("ghost"), now)).error, code(ResponseError::UnknownMemberId));
    let (coordinator, _, _) = stable_single(now);
    let mut other = join("");
    other.protocols = vec![("roundrobin".into(), Bytes::new())];
    assert_eq!(answered(coordinator.join(other, now)).error, code(ResponseError::InconsistentGroupProtocol));
    assert_eq!(coordinator.may_commit("g", "x", -1), NONE, "commits without membership");
}
