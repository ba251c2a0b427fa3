//! The group coordinator of Kafka's classic consumer group protocol: membership,
//! generations, the leader's assignment handed to every member.
//!
//! All state sits behind one mutex that is never held across an await, so a heartbeat
//! is answered in microseconds whatever the log is doing. Join and sync requests that
//! must wait for the rest of the group get a channel answered when the group moves on.
//! A member that stops heartbeating is removed once its session timeout has passed
//! (members waiting for a join or sync answer count as alive, as in Apache Kafka), and
//! the group rebalances among those left: a crashed consumer's partitions go to the
//! others one session timeout later, and a consumer that joins meanwhile is not left
//! without partitions.

use std::{
    collections::BTreeMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;
use tracing::info;

/// Shortest and longest session timeouts a member may ask for.
const SESSION_TIMEOUTS: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(3600);

const NONE: i16 = 0;

fn code(error: ResponseError) -> i16 {
    error.code()
}

/// A JoinGroup request, as the coordinator needs it.
#[derive(Debug, Clone)]
pub struct Join {
    /// Group id.
    pub group: String,
    /// Member id, empty for a new member.
    pub member_id: String,
    /// The client's id, prefix of a new member's id.
    pub client_id: String,
    /// How long the member may go without a heartbeat.
    pub session_timeout: Duration,
    /// How long a rebalance waits for members to rejoin.
    pub rebalance_timeout: Duration,
    /// "consumer" for consumers.
    pub protocol_type: String,
    /// Assignors the member supports with its metadata for each, in preference order.
    pub protocols: Vec<(String, Bytes)>,
}

/// The answer to a join.
#[derive(Debug, Clone, Default)]
pub struct Joined {
    /// Kafka error code.
    pub error: i16,
    /// The new generation.
    pub generation: i32,
    /// Protocol type of the group.
    pub protocol_type: Option<String>,
    /// The assignor chosen.
    pub protocol_name: Option<String>,
    /// Member id of the leader.
    pub leader: String,
    /// This member's id.
    pub member_id: String,
    /// For the leader only: every member with its metadata for the chosen assignor.
    pub members: Vec<(String, Bytes)>,
}

/// A SyncGroup request.
#[derive(Debug, Clone)]
pub struct Sync {
    /// Group id.
    pub group: String,
    /// Generation the member joined.
    pub generation: i32,
    /// Member id.
    pub member_id: String,
    /// From the leader: each member's assignment.
    pub assignments: Vec<(String, Bytes)>,
}

/// The answer to a sync.
#[derive(Debug, Clone, Default)]
pub struct Synced {
    /// Kafka error code.
    pub error: i16,
    /// Protocol type of the group.
    pub protocol_type: Option<String>,
    /// The assignor chosen.
    pub protocol_name: Option<String>,
    /// This member's assignment.
    pub assignment: Bytes,
}

impl Joined {
    fn error(error: ResponseError) -> Self {
        Joined { error: code(error), generation: -1, ..Joined::default() }
    }
}

impl Synced {
    fn error(error: ResponseError) -> Self {
        Synced { error: code(error), ..Synced::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

#[derive(Debug)]
struct Member {
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocols: Vec<(String, Bytes)>,
    last_seen: Instant,
    joined_order: u64,
    joining: Option<oneshot::Sender<Joined>>,
    syncing: Option<oneshot::Sender<Synced>>,
    assignment: Bytes,
}

impl Member {
    fn expired(&self, now: Instant) -> bool {
        self.joining.is_none() && self.syncing.is_none() && now > self.last_seen + self.session_timeout
    }
}

#[derive(Debug)]
struct Group {
    phase: Phase,
    generation: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    rebalance_deadline: Instant,
    joins: u64,
}

impl Group {
    fn new(now: Instant) -> Self {
        Group {
            phase: Phase::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            rebalance_deadline: now,
            joins: 0,
        }
    }

    /// Whether `protocols` shares an assignor with every current member but `except`.
    fn compatible(&self, protocol_type: &str, protocols: &[(String, Bytes)], except: &str) -> bool {
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(name, _)| {
                self.members
                    .iter()
                    .filter(|(id, _)| id.as_str() != except)
                    .all(|(_, member)| member.protocols.iter().any(|(other, _)| other == name))
            })
    }

    fn prepare_rebalance(&mut self, now: Instant) {
        if self.phase == Phase::PreparingRebalance {
            return;
        }
        self.phase = Phase::PreparingRebalance;
        let longest = self.members.values().map(|member| member.rebalance_timeout).max().unwrap_or_default();
        self.rebalance_deadline = now + longest;
        for member in self.members.values_mut() {
            if let Some(waiter) = member.syncing.take() {
                let _ = waiter.send(Synced::error(ResponseError::RebalanceInProgress));
            }
        }
    }

    /// Ends the join phase once every member rejoined, or at the deadline without those
    /// that did not.
    fn try_complete_join(&mut self, now: Instant) {
        if self.phase != Phase::PreparingRebalance {
            return;
        }
        let all_joined = self.members.values().all(|member| member.joining.is_some());
        if !all_joined && now < self.rebalance_deadline {
            return;
        }
        self.members.retain(|_, member| member.joining.is_some());
        self.generation += 1;
        if self.members.is_empty() {
            self.become_empty();
            return;
        }
        let protocol = self.choose_protocol();
        let leader = match &self.leader {
            Some(leader) if self.members.contains_key(leader) => leader.clone(),
            _ => self
                .members
                .iter()
                .min_by_key(|(_, member)| member.joined_order)
                .map(|(id, _)| id.clone())
                .expect("members"),
        };
        let roster: Vec<(String, Bytes)> = self
            .members
            .iter()
            .map(|(id, member)| (id.clone(), metadata_for(&member.protocols, &protocol)))
            .collect();
        for (id, member) in &mut self.members {
            member.last_seen = now;
            let members = if *id == leader { roster.clone() } else { Vec::new() };
            let joined = Joined {
                error: NONE,
                generation: self.generation,
                protocol_type: self.protocol_type.clone(),
                protocol_name: Some(protocol.clone()),
                leader: leader.clone(),
                member_id: id.clone(),
                members,
            };
            if let Some(waiter) = member.joining.take() {
                let _ = waiter.send(joined);
            }
        }
        info!(generation = self.generation, members = self.members.len(), "consumer group rebalanced");
        self.protocol_name = Some(protocol);
        self.leader = Some(leader);
        self.phase = Phase::CompletingRebalance;
    }

    /// The leader's first assignor that every member supports.
    fn choose_protocol(&self) -> String {
        let first = self.members.values().min_by_key(|member| member.joined_order).expect("members");
        first
            .protocols
            .iter()
            .map(|(name, _)| name)
            .find(|name| {
                self.members.values().all(|member| member.protocols.iter().any(|(other, _)| other == *name))
            })
            .unwrap_or(&first.protocols[0].0)
            .clone()
    }

    fn become_empty(&mut self) {
        self.phase = Phase::Empty;
        self.leader = None;
        self.protocol_name = None;
        self.protocol_type = None;
    }

    fn remove(&mut self, id: &str, now: Instant) -> bool {
        let Some(mut member) = self.members.remove(id) else { return false };
        if let Some(waiter) = member.joining.take() {
            let _ = waiter.send(Joined::error(ResponseError::UnknownMemberId));
        }
        if let Some(waiter) = member.syncing.take() {
            let _ = waiter.send(Synced::error(ResponseError::UnknownMemberId));
        }
        if self.members.is_empty() {
            self.generation += 1;
            self.become_empty();
        } else {
            self.prepare_rebalance(now);
            self.try_complete_join(now);
        }
        true
    }
}

fn metadata_for(protocols: &[(String, Bytes)], name: &str) -> Bytes {
    protocols
        .iter()
        .find(|(other, _)| other == name)
        .map(|(_, metadata)| metadata.clone())
        .unwrap_or_default()
}

/// Every consumer group of the broker.
#[derive(Debug, Default)]
pub struct Coordinator {
    groups: Mutex<BTreeMap<String, Group>>,
}

impl Coordinator {
    /// Joins a member; the answer comes once the group's join phase ends.
    pub fn join(&self, join: Join, now: Instant) -> oneshot::Receiver<Joined> {
        let (sender, receiver) = oneshot::channel();
        if let Err(error) = self.try_join(join, sender, now) {
            // `try_join` hands the sender back only with an error to answer at once.
            let (sender, error) = *error;
            let _ = sender.send(Joined::error(error));
        }
        receiver
    }

    #[allow(clippy::type_complexity)]
    fn try_join(
        &self,
        join: Join,
        sender: oneshot::Sender<Joined>,
        now: Instant,
    ) -> Result<(), Box<(oneshot::Sender<Joined>, ResponseError)>> {
        let fail = |sender, error| Err(Box::new((sender, error)));
        if join.group.is_empty() {
            return fail(sender, ResponseError::InvalidGroupId);
        }
        if !SESSION_TIMEOUTS.contains(&join.session_timeout) {
            return fail(sender, ResponseError::InvalidSessionTimeout);
        }
        if join.protocol_type.is_empty() || join.protocols.is_empty() {
            return fail(sender, ResponseError::InconsistentGroupProtocol);
        }
        let mut groups = self.lock();
        let group = groups.entry(join.group.clone()).or_insert_with(|| Group::new(now));
        if !join.member_id.is_empty() && !group.members.contains_key(&join.member_id) {
            return fail(sender, ResponseError::UnknownMemberId);
        }
        if !group.compatible(&join.protocol_type, &join.protocols, &join.member_id) {
            return fail(sender, ResponseError::InconsistentGroupProtocol);
        }
        let member_id = if join.member_id.is_empty() {
            format!("{}-{}", join.client_id, uuid::Uuid::new_v4())
        } else {
            join.member_id.clone()
        };
        group.joins += 1;
        let joined_order = group.joins;
        group.protocol_type = Some(join.protocol_type);
        let member = group.members.entry(member_id).or_insert_with(|| Member {
            session_timeout: join.session_timeout,
            rebalance_timeout: join.rebalance_timeout,
            protocols: Vec::new(),
            last_seen: now,
            joined_order,
            joining: None,
            syncing: None,
            assignment: Bytes::new(),
        });
        member.session_timeout = join.session_timeout;
        member.rebalance_timeout = join.rebalance_timeout;
        member.protocols = join.protocols;
        member.last_seen = now;
        if let Some(previous) = member.joining.replace(sender) {
            let _ = previous.send(Joined::error(ResponseError::RebalanceInProgress));
        }
        group.prepare_rebalance(now);
        group.try_complete_join(now);
        Ok(())
    }

    /// A member's sync: the leader hands out assignments, the others wait for theirs.
    pub fn sync(&self, sync: Sync, now: Instant) -> oneshot::Receiver<Synced> {
        let (sender, receiver) = oneshot::channel();
        let mut groups = self.lock();
        let Some(group) =
            groups.get_mut(&sync.group).filter(|group| group.members.contains_key(&sync.member_id))
        else {
            let _ = sender.send(Synced::error(ResponseError::UnknownMemberId));
            return receiver;
        };
        let answer = |group: &Group, assignment: Bytes| Synced {
            error: NONE,
            protocol_type: group.protocol_type.clone(),
            protocol_name: group.protocol_name.clone(),
            assignment,
        };
        if sync.generation != group.generation {
            let _ = sender.send(Synced::error(ResponseError::IllegalGeneration));
            return receiver;
        }
        match group.phase {
            Phase::PreparingRebalance | Phase::Empty => {
                let _ = sender.send(Synced::error(ResponseError::RebalanceInProgress));
            }
            Phase::Stable => {
                let assignment = group.members[&sync.member_id].assignment.clone();
                let _ = sender.send(answer(group, assignment));
            }
            Phase::CompletingRebalance => {
                let member = group.members.get_mut(&sync.member_id).expect("checked above");
                member.last_seen = now;
                member.syncing = Some(sender);
                if group.leader.as_deref() == Some(sync.member_id.as_str()) {
                    let mut assignments: BTreeMap<String, Bytes> = sync.assignments.into_iter().collect();
                    for (id, member) in &mut group.members {
                        member.assignment = assignments.remove(id).unwrap_or_default();
                    }
                    group.phase = Phase::Stable;
                    let answers: Vec<(String, Synced)> = group
                        .members
                        .iter()
                        .map(|(id, member)| (id.clone(), answer(group, member.assignment.clone())))
                        .collect();
                    for (id, synced) in answers {
                        let member = group.members.get_mut(&id).expect("member");
                        member.last_seen = now;
                        if let Some(waiter) = member.syncing.take() {
                            let _ = waiter.send(synced);
                        }
                    }
                }
            }
        }
        receiver
    }

    /// A heartbeat: keeps the member's session, and tells it to rejoin during a
    /// rebalance.
    pub fn heartbeat(&self, group_id: &str, member_id: &str, generation: i32, now: Instant) -> i16 {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else { return code(ResponseError::UnknownMemberId) };
        let Some(member) = group.members.get_mut(member_id) else {
            return code(ResponseError::UnknownMemberId);
        };
        if generation != group.generation {
            return code(ResponseError::IllegalGeneration);
        }
        member.last_seen = now;
        match group.phase {
            Phase::PreparingRebalance => code(ResponseError::RebalanceInProgress),
            _ => NONE,
        }
    }

    /// Members leaving: an error code for each.
    pub fn leave(&self, group_id: &str, member_ids: &[String], now: Instant) -> Vec<i16> {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return vec![code(ResponseError::UnknownMemberId); member_ids.len()];
        };
        member_ids
            .iter()
            .map(|id| if group.remove(id, now) { NONE } else { code(ResponseError::UnknownMemberId) })
            .collect()
    }

    /// Whether a member may commit offsets now. A generation below 0 is a client
    /// committing without group membership (manual assignment), which is allowed.
    pub fn may_commit(&self, group_id: &str, member_id: &str, generation: i32) -> i16 {
        if generation < 0 {
            return NONE;
        }
        let groups = self.lock();
        let Some(group) = groups.get(group_id) else { return code(ResponseError::IllegalGeneration) };
        if !group.members.contains_key(member_id) {
            return code(ResponseError::UnknownMemberId);
        }
        if generation != group.generation {
            return code(ResponseError::IllegalGeneration);
        }
        match group.phase {
            // Members commit in their revocation callback while the group prepares.
            Phase::CompletingRebalance => code(ResponseError::RebalanceInProgress),
            _ => NONE,
        }
    }

    /// Expires members whose session passed and ends join phases at their deadline.
    pub fn tick(&self, now: Instant) {
        let mut groups = self.lock();
        for (group_id, group) in groups.iter_mut() {
            let expired: Vec<String> = group
                .members
                .iter()
                .filter(|(_, member)| member.expired(now))
                .map(|(id, _)| id.clone())
                .collect();
            for member_id in expired {
                info!(group = %group_id, member = %member_id, "consumer group member session expired");
                group.remove(&member_id, now);
            }
            group.try_complete_join(now);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Group>> {
        self.groups.lock().expect("coordinator lock is never poisoned")
    }
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;
