//! Synthetic users for the demo and the benchmarks, generated from the census
//! name lists the project carries (`data/first.txt`, `data/last.txt`).
//!
//! First and last names are drawn independently, weighted by census frequency (names rounded to 0.000
//! get weight 0.000186, the census tail's real average), and the username is
//! `lowercase(first initial + last)` plus the smallest numeric suffix (2, 3, ...)
//! that makes it unique. It is deterministic for a seed (its own small PRNG,
//! splitmix64).
//!
//! Every user also has a popularity, [`User::followers`], that the demo and
//! the ranked benchmarks use as the score of all three of the user's keys.
//! It follows Zipf's law (rank-frequency, exponent [`ZIPF_S`] = 1): a user
//! draws a rank `r` uniformly from `1..=`[`FOLLOWER_RANKS`] and has
//! `floor(`[`TOP_FOLLOWERS`]` / r^s)` followers, so sorted by followers the
//! r-th of 1,000,000 users has about 10,000,000 / r. The draw is a hash of
//! the seed and the id, apart from the names' stream: the names do not
//! change with it, and a user's followers do not depend on how many users
//! are generated (`generate(n, seed)` is a prefix of `generate(m, seed)`).
//! Iid ranks rather than a permutation of `1..=count` are what keep that
//! prefix property; their sorted counts follow the same law, with ties.

use std::collections::{HashMap, HashSet};

const FIRST: &str = include_str!("../data/first.txt");
const LAST: &str = include_str!("../data/last.txt");
const ZERO_WEIGHT: f64 = 0.000186;

/// Followers of a user of rank 1.
pub const TOP_FOLLOWERS: f64 = 10_000_000.0;
/// How many ranks a user's rank is drawn from (uniformly).
pub const FOLLOWER_RANKS: u64 = 1_000_000;
/// The Zipf exponent: followers fall as `1 / rank^ZIPF_S`.
pub const ZIPF_S: f64 = 1.0;
/// Separates the followers' draws from the names' stream.
const FOLLOWERS_STREAM: u64 = 0x5EED_F011_0E25_0001;

/// One synthetic user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// 1-based id.
    pub id: u64,
    /// First name, capitalised ("Mary").
    pub first: String,
    /// Last name, capitalised ("Smith").
    pub last: String,
    /// Unique lowercase username ("msmith", "msmith2", ...).
    pub username: String,
    /// Popularity, Zipf-distributed (see the module docs): at least
    /// `TOP_FOLLOWERS / FOLLOWER_RANKS^ZIPF_S` (10), at most `TOP_FOLLOWERS`.
    pub followers: u64,
}

impl User {
    /// The three keys the index uses for a user: lowercase first name,
    /// lowercase last name and username.
    pub fn keys(&self) -> [String; 3] {
        [
            self.first.to_lowercase(),
            self.last.to_lowercase(),
            self.username.clone(),
        ]
    }

    /// The score each of the user's keys carries: its follower count.
    pub fn score(&self) -> f64 {
        self.followers as f64
    }
}

/// The follower count of user `id` for `seed`: a rank drawn uniformly from
/// `1..=FOLLOWER_RANKS` by a hash of the two, then Zipf's law.
pub fn followers(seed: u64, id: u64) -> u64 {
    let mut rng = SplitMix64(seed ^ FOLLOWERS_STREAM ^ id.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let rank = 1 + (rng.next_f64() * FOLLOWER_RANKS as f64) as u64;
    (TOP_FOLLOWERS / (rank.min(FOLLOWER_RANKS) as f64).powf(ZIPF_S)).floor() as u64
}

struct Names {
    names: Vec<&'static str>,
    cumulative: Vec<f64>,
}

impl Names {
    fn parse(text: &'static str) -> Self {
        let mut names = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        for line in text.lines() {
            let Some((name, freq)) = line.split_once('\t') else {
                continue;
            };
            let w: f64 = freq.trim().parse().unwrap_or(0.0);
            total += if w > 0.0 { w } else { ZERO_WEIGHT };
            names.push(name);
            cumulative.push(total);
        }
        Names { names, cumulative }
    }

    fn pick(&self, rng: &mut SplitMix64) -> &'static str {
        let total = *self.cumulative.last().expect("name list is not empty");
        let x = rng.next_f64() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.names[i.min(self.names.len() - 1)]
    }
}

/// splitmix64: a tiny, well-known PRNG; good enough to draw names.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Generates `count` users with ids `1..=count`, deterministic for `seed`.
///
/// # Examples
/// ```
/// let a = typeahead::users::generate(100, 42);
/// assert_eq!(a, typeahead::users::generate(100, 42));
/// assert_eq!(a[0].id, 1);
/// ```
pub fn generate(count: usize, seed: u64) -> Vec<User> {
    let firsts = Names::parse(FIRST);
    let lasts = Names::parse(LAST);
    let mut rng = SplitMix64(seed);
    let mut next_suffix: HashMap<String, u64> = HashMap::new();
    let mut taken: HashSet<String> = HashSet::with_capacity(count);
    let mut users = Vec::with_capacity(count);
    for id in 1..=count as u64 {
        let first = firsts.pick(&mut rng);
        let last = lasts.pick(&mut rng);
        let base = format!("{}{}", first.chars().next().unwrap_or('x'), last).to_lowercase();
        let mut name = base.clone();
        if taken.contains(&name) {
            let mut n = next_suffix.get(&base).copied().unwrap_or(2);
            while taken.contains(&format!("{base}{n}")) {
                n += 1;
            }
            name = format!("{base}{n}");
            next_suffix.insert(base, n + 1);
        }
        taken.insert(name.clone());
        users.push(User {
            id,
            first: first.to_owned(),
            last: last.to_owned(),
            username: name,
            followers: followers(seed, id),
        });
    }
    users
}

/// Writes users as CSV `id,first,last,username,followers` with a header row.
pub fn write_csv(users: &[User], mut out: impl std::io::Write) -> std::io::Result<()> {
    writeln!(out, "id,first,last,username,followers")?;
    for u in users {
        writeln!(
            out,
            "{},{},{},{},{}",
            u.id, u.first, u.last, u.username, u.followers
        )?;
    }
    Ok(())
}

/// Writes `count` prefixes sampled as a person types, one per line: a
/// random user, a random field among lowercase first name, lowercase last
/// name and username, a prefix of 1 to 8 characters. Deterministic for a
/// `seed`.
pub fn write_queries(
    users: &[User],
    count: usize,
    seed: u64,
    mut out: impl std::io::Write,
) -> std::io::Result<()> {
    if users.is_empty() {
        return Ok(());
    }
    let mut x = seed;
    let mut next = || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize
    };
    for _ in 0..count {
        let u = &users[next() % users.len()];
        let keys = u.keys();
        let field = &keys[next() % 3];
        let n = field.chars().count().min(1 + next() % 8);
        writeln!(out, "{}", field.chars().take(n).collect::<String>())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_unique_and_derived_from_names() {
        let users = generate(20_000, 7);
        let names: HashSet<_> = users.iter().map(|u| &u.username).collect();
        assert_eq!(names.len(), users.len());
        for u in &users {
            let base = format!("{}{}", &u.first[..1], u.last).to_lowercase();
            assert!(u.username.starts_with(&base), "{u:?}");
        }
        // Weighted draw: the most frequent surname shows up far more than a rare one.
        let smiths = users.iter().filter(|u| u.last == "Smith").count();
        assert!(smiths > 100, "only {smiths} Smiths in 20k users");
    }

    #[test]
    fn a_smaller_run_is_a_prefix_of_a_bigger_one() {
        let big = generate(3_000, 11);
        assert_eq!(generate(1_000, 11)[..], big[..1_000]);
    }

    #[test]
    fn followers_follow_zipfs_law() {
        let users = generate(200_000, 42);
        let mut f: Vec<u64> = users.iter().map(|u| u.followers).collect();
        f.sort_unstable_by(|a, b| b.cmp(a));
        let min = (TOP_FOLLOWERS / (FOLLOWER_RANKS as f64).powf(ZIPF_S)) as u64;
        assert!(f.iter().all(|&x| (min..=TOP_FOLLOWERS as u64).contains(&x)));
        // Ranks are drawn from 1..=1M, so the r-th most followed of n users
        // has about TOP / (r * 1M / n): here 10M / (5 r).
        for r in [100usize, 1_000, 10_000] {
            let expected = TOP_FOLLOWERS / (r as f64 * FOLLOWER_RANKS as f64 / 200_000.0);
            let got = f[r - 1] as f64;
            assert!(
                (got / expected - 1.0).abs() < 0.3,
                "rank {r}: {got} followers, expected about {expected}"
            );
        }
        // A heavy head: the top 1% hold far more than the bottom half.
        let top: u64 = f[..2_000].iter().sum();
        let bottom: u64 = f[100_000..].iter().sum();
        assert!(top > 5 * bottom, "top 1% {top}, bottom half {bottom}");
    }

    #[test]
    fn followers_are_a_function_of_seed_and_id() {
        let users = generate(500, 3);
        for u in &users {
            assert_eq!(u.followers, followers(3, u.id));
        }
        assert_ne!(
            users.iter().map(|u| u.followers).collect::<Vec<_>>(),
            generate(500, 4)
                .iter()
                .map(|u| u.followers)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn different_seeds_differ() {
        assert_ne!(generate(50, 1), generate(50, 2));
    }
}
