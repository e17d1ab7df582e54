//! What the benchmark's case workers do, and how work is split between them.
//!
//! Every task works through its own cases, one after another, with the same
//! short journey per case. A quarter of the commands are intakes, which take the
//! participant-index path (a key-value read and a compare-and-set write before
//! the append); the rest act on a case the service has just written, so they
//! take the cached-case path. The raw baseline follows the same shape, one
//! subject per case, so both sides write the same number of subjects.

use stod_events::case::{Action, Command};
use stod_events::event::{AreaScore, Assessor, EnrolmentDetails, Gender, RegionOfBirth, Registration};
use stod_events::ids::{Code, Date, ParticipantRef};

/// Commands per case: an intake and three follow-ups.
pub const JOURNEY_LEN: usize = 4;

/// The `step`th command of a case's journey (`step < JOURNEY_LEN`), with codes
/// from the default catalogue and dates in 2025, in order.
pub fn journey_step(step: usize, participant: ParticipantRef) -> (&'static str, Command) {
    match step % JOURNEY_LEN {
        0 => ("intake", at("2025-01-10", intake(participant))),
        1 => ("placement", at("2025-01-20", place("industrisparet"))),
        2 => ("assessment", at("2025-03-05", assess(6))),
        _ => ("placement", at("2025-04-01", place("vaderbacken"))),
    }
}

/// Splits `total` operations between `tasks` tasks as evenly as possible: the
/// first `total % tasks` tasks do one more.
pub fn split(total: usize, tasks: usize) -> Vec<usize> {
    if tasks == 0 {
        return Vec::new();
    }
    let (each, extra) = (total / tasks, total % tasks);
    (0..tasks).map(|i| each + usize::from(i < extra)).collect()
}

/// A payload of `len` bytes that does not compress to nothing, in case the
/// stream or the disk ever compresses: sealed events are bincode plus a
/// SHA-256 link, and look about this random.
pub fn payload(len: usize) -> Vec<u8> {
    // xorshift: deterministic, no dependency, good enough to defeat compression.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn at(date: &str, action: Action) -> Command {
    Command::Record { occurred_on: date_of(date), action }
}

fn date_of(s: &str) -> Date {
    s.parse().expect("the workload's dates are valid")
}

fn code(s: &str) -> Code {
    Code::parse(s).expect("the workload's codes are valid")
}

fn intake(participant: ParticipantRef) -> Action {
    Action::Enroll {
        participant,
        gender: Gender::Woman,
        registration: Registration::Consented(EnrolmentDetails {
            municipality: code("2084"),
            referrer: code("ame-ludvika"),
            support_at_start: code("forsorjningsstod"),
            birth_year: 1986,
            region_of_birth: Some(RegionOfBirth::OutsideEurope),
        }),
    }
}

fn place(site: &str) -> Action {
    Action::StartPlacement { site: code(site), work_area: code("montering"), hours_per_week: 20 }
}

fn assess(score: u8) -> Action {
    Action::AssessProgress {
        instrument: code("work-star"),
        assessor: Assessor::Joint,
        scores: vec![AreaScore { area: code("stability"), score }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_even_and_complete() {
        assert_eq!(split(10, 3), vec![4, 3, 3]);
        assert_eq!(split(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(split(2000, 64).iter().sum::<usize>(), 2000);
        assert!(split(5, 0).is_empty());
    }

    #[test]
    fn every_journey_step_builds() {
        let p = ParticipantRef::new();
        let names: Vec<_> = (0..JOURNEY_LEN).map(|s| journey_step(s, p).0).collect();
        assert_eq!(names, ["intake", "placement", "assessment", "placement"]);
    }

    #[test]
    fn payload_has_the_asked_length_and_varies() {
        let p = payload(200);
        assert_eq!(p.len(), 200);
        assert!(p.iter().collect::<std::collections::HashSet<_>>().len() > 100);
    }
}
