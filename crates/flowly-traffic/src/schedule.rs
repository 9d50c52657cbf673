//! The open workload: operations arrive on a schedule drawn in advance (a Poisson process per
//! operation, merged), whatever the server's speed, so a slow server cannot slow the arrivals
//! down and hide its latency. Latency is measured from the planned start, not the actual one.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::profile::{Op, Profile};

/// Picks operations by rate and draws the gaps between arrivals.
pub struct Schedule {
    ops: Vec<(Op, f64)>,
    total: f64,
    rng: StdRng,
}

impl Schedule {
    /// The operations of `profile` at `scale`, divided among `shards` generator processes.
    /// `skip` leaves operations out (for example the assistant on a server without it).
    pub fn new(profile: &Profile, scale: f64, shards: u32, seed: u64) -> Schedule {
        let ops: Vec<(Op, f64)> = Op::ALL
            .into_iter()
            .map(|op| (op, profile.rate(op, scale) / f64::from(shards.max(1))))
            .filter(|(_, rate)| *rate > 0.0)
            .collect();
        Schedule::from_rates(ops, seed)
    }

    pub fn from_rates(ops: Vec<(Op, f64)>, seed: u64) -> Schedule {
        let total = ops.iter().map(|(_, r)| r).sum();
        Schedule {
            ops,
            total,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Arrivals per second of all operations together.
    pub fn total_rate(&self) -> f64 {
        self.total
    }

    /// Stops scheduling `op` from now on (the rest keep their rates).
    pub fn remove(&mut self, op: Op) {
        self.ops.retain(|(o, _)| *o != op);
        self.total = self.ops.iter().map(|(_, r)| r).sum();
    }

    /// The gap to the next arrival (exponential with the total rate), and which operation it is.
    /// `None` when nothing is scheduled.
    pub fn next_arrival(&mut self) -> Option<(Duration, Op)> {
        if self.total <= 0.0 || self.ops.is_empty() {
            return None;
        }
        let u: f64 = self.rng.r#gen::<f64>();
        // 1 - u is in (0, 1], so the logarithm is finite.
        let gap = -(1.0 - u).ln() / self.total;
        let mut pick = self.rng.r#gen::<f64>() * self.total;
        let mut chosen = self.ops[self.ops.len() - 1].0;
        for (op, rate) in &self.ops {
            if pick < *rate {
                chosen = *op;
                break;
            }
            pick -= rate;
        }
        Some((Duration::from_secs_f64(gap), chosen))
    }
}

/// Picks an index by weight; `None` when every weight is 0.
pub fn weighted(rng: &mut impl Rng, weights: &[f64]) -> Option<usize> {
    let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    if total <= 0.0 {
        return None;
    }
    let mut pick = rng.r#gen::<f64>() * total;
    let mut last = None;
    for (i, w) in weights.iter().enumerate() {
        if *w <= 0.0 {
            continue;
        }
        last = Some(i);
        if pick < *w {
            return Some(i);
        }
        pick -= w;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn arrivals_follow_the_rates() {
        let mut s = Schedule::from_rates(vec![(Op::History, 300.0), (Op::Me, 100.0)], 7);
        let mut elapsed = 0.0;
        let mut counts: HashMap<Op, u32> = HashMap::new();
        while elapsed < 100.0 {
            let (gap, op) = s.next_arrival().unwrap();
            elapsed += gap.as_secs_f64();
            *counts.entry(op).or_default() += 1;
        }
        // 100 s at 400/s: 40,000 arrivals; a Poisson count is within 2% here with this seed.
        let total: u32 = counts.values().sum();
        assert!((39_200..=40_800).contains(&total), "{total}");
        let share = f64::from(counts[&Op::History]) / f64::from(total);
        assert!((share - 0.75).abs() < 0.01, "{share}");
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let draw = |seed| {
            let mut s = Schedule::from_rates(vec![(Op::History, 5.0), (Op::Search, 1.0)], seed);
            (0..50)
                .map(|_| s.next_arrival().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn a_profile_is_split_among_shards_and_ops_can_be_removed() {
        let p = Profile::load("dau-150k").unwrap();
        let mut s = Schedule::new(&p, 1.0, 4, 0);
        assert!((s.total_rate() - 1350.0 / 4.0).abs() < 0.2);
        s.remove(Op::AssistantAsk);
        assert!((s.total_rate() - 1349.5 / 4.0).abs() < 0.2);
        for _ in 0..10_000 {
            assert_ne!(s.next_arrival().unwrap().1, Op::AssistantAsk);
        }
        let mut empty = Schedule::from_rates(vec![], 0);
        assert!(empty.next_arrival().is_none());
    }

    #[test]
    fn weighted_picks_skip_zero_weights() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut hits = [0u32; 3];
        for _ in 0..10_000 {
            hits[weighted(&mut rng, &[1.0, 0.0, 3.0]).unwrap()] += 1;
        }
        assert_eq!(hits[1], 0);
        assert!((2_300..=2_700).contains(&hits[0]), "{hits:?}");
        assert_eq!(weighted(&mut rng, &[0.0, 0.0]), None);
    }
}
