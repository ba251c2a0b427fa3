//! Who acts in generated traffic: either someone new in every event, the worst case
//! for anything that caches per value, or a fixed population per tenant whose
//! activity is skewed the way identity traffic is, with a few people and clients
//! behind most events.

use std::collections::HashMap;

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::{Client, Person};

/// Clients per tenant when the population is bounded.
const CLIENTS_PER_TENANT: usize = 8;

/// The people and clients of every tenant, empty when each event draws new ones.
pub(super) struct Population {
    tenants: HashMap<String, Members>,
}

struct Members {
    people: Vec<Person>,
    clients: Vec<Client>,
}

impl Population {
    /// `people_per_tenant` people for each tenant; 0 makes everyone new.
    pub(super) fn new(tenants: &[String], people_per_tenant: usize, seed: u64) -> Population {
        if people_per_tenant == 0 {
            return Population { tenants: HashMap::new() };
        }
        // Its own stream, so the events of a seed differ only in who acts.
        let mut rng = StdRng::seed_from_u64(seed.rotate_left(32) ^ 0x5eed);
        let tenants = tenants
            .iter()
            .map(|tenant| {
                let people = (0..people_per_tenant).map(|_| Person::random(&mut rng)).collect();
                let clients = (0..CLIENTS_PER_TENANT).map(|_| Client::random(&mut rng)).collect();
                (tenant.clone(), Members { people, clients })
            })
            .collect();
        Population { tenants }
    }

    /// The user an event of `tenant` is about.
    pub(super) fn person(&self, rng: &mut StdRng, tenant: &str) -> Person {
        match self.tenants.get(tenant) {
            Some(members) => members.people[skewed(rng, members.people.len())].clone(),
            None => Person::random(rng),
        }
    }

    /// The client acting in an event of `tenant`.
    pub(super) fn client(&self, rng: &mut StdRng, tenant: &str) -> Client {
        match self.tenants.get(tenant) {
            Some(members) => members.clients[skewed(rng, members.clients.len())].clone(),
            None => Client::random(rng),
        }
    }
}

/// An index below `len`, the low ones far more likely: squaring a uniform draw gives
/// the first tenth of the members about a third of the events.
fn skewed(rng: &mut StdRng, len: usize) -> usize {
    let draw: f64 = rng.random();
    ((draw * draw * len as f64) as usize).min(len - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_population_repeats_its_members_and_favours_a_few() {
        let tenants = vec!["ta".to_owned(), "tb".to_owned()];
        let population = Population::new(&tenants, 100, 7);
        let mut rng = StdRng::seed_from_u64(1);
        let mut seen = HashMap::<String, usize>::new();
        for _ in 0..10_000 {
            *seen.entry(population.person(&mut rng, "ta").username).or_default() += 1;
        }
        assert!(seen.len() <= 100, "{}", seen.len());
        let mut counts: Vec<usize> = seen.into_values().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top_tenth: usize = counts.iter().take(10).sum();
        assert!((2_500..4_500).contains(&top_tenth), "{top_tenth}");
        let other = population.person(&mut rng, "tb");
        assert!(population.tenants["tb"].people.iter().any(|person| person.email == other.email));
    }

    #[test]
    fn an_unbounded_population_draws_someone_new_each_time() {
        let population = Population::new(&["ta".to_owned()], 0, 7);
        let mut rng = StdRng::seed_from_u64(1);
        let emails: std::collections::HashSet<String> =
            (0..1_000).map(|_| population.person(&mut rng, "ta").email).collect();
        assert!(emails.len() > 900, "{}", emails.len());
    }
}
