//! Verifying the hash chains of the log, naming every problem.
//!
//! Input: every stored message in stream order, as (stream sequence, the case its
//! subject names, the bytes). Each event's last 32 bytes are
//! `SHA-256(previous chain hash of its case ‖ the bytes before them)`.
//!
//! What each kind of tampering looks like, and how it is told apart:
//!
//! - **changed**: the event's bytes no longer give its trailer from any predecessor,
//!   but the next event of the case still chains from the stored trailer;
//! - **removed**: the stream has a hole in its sequence numbers (JetStream numbers
//!   contiguously and the stream refuses deletes), and the next event of the case does
//!   not chain from the one before the hole;
//! - **inserted**: the event chains from nothing in the case, and its successor chains
//!   from the event before it, as if it were not there;
//! - **reordered**: events chain correctly, but from an event stored after them.
//!
//! The case's last event is covered only by a recorded chain head (see
//! [`crate::bundle`]): compare [`Verification::heads`] with the heads recorded earlier.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stod_events::codec;
use stod_events::ids::CaseId;
use stod_events::ChainHash;

/// One stored message.
#[derive(Clone, Debug)]
pub struct Record {
    pub stream_sequence: u64,
    /// The case the message's subject names.
    pub subject_case: CaseId,
    pub bytes: Vec<u8>,
}

/// A problem found, with where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// The bytes at this sequence were changed after they were written.
    Changed { stream_sequence: u64, case_id: CaseId },
    /// Stream sequences missing: events were removed here.
    Missing { after_sequence: u64, before_sequence: u64, count: u64 },
    /// An event that was never part of its case's chain.
    Inserted { stream_sequence: u64, case_id: CaseId },
    /// An event stored after the event it chains from... in the wrong order.
    Reordered { stream_sequence: u64, case_id: CaseId, chains_from_sequence: u64 },
    /// The event does not follow its case's previous event, for a reason the hashes
    /// alone cannot tell (e.g. several changes at once).
    BrokenLink { stream_sequence: u64, case_id: CaseId },
    /// The bytes do not decode as an event at all.
    Undecodable { stream_sequence: u64, detail: String },
    /// The event names another case than the subject it is stored under.
    WrongSubject { stream_sequence: u64, subject_case: CaseId, event_case: CaseId },
    /// A stream sequence appears after a higher one (or twice): records were moved.
    OutOfOrder { stream_sequence: u64, after_sequence: u64 },
    /// The case's chain does not end where the recorded chain head says.
    HeadMismatch { case_id: CaseId, expected_events: u64, found_events: u64 },
    /// A message an operator set aside (the quarantine list, with the digest of exactly
    /// these bytes): not an event, not part of any chain, and not an integrity error.
    SetAside { stream_sequence: u64, reason: String },
}

impl Finding {
    /// Swedish description for auditors.
    pub fn describe_sv(&self) -> String {
        match self {
            Finding::Changed { stream_sequence, case_id } => format!("händelse {stream_sequence} (ärende {case_id}) har ändrats efter att den skrevs"),
            Finding::Missing { after_sequence, before_sequence, count } => format!("{count} händelse(r) saknas mellan sekvens {after_sequence} och {before_sequence}"),
            Finding::Inserted { stream_sequence, case_id } => format!("händelse {stream_sequence} (ärende {case_id}) har lagts in i efterhand; den ingår inte i ärendets kedja"),
            Finding::Reordered { stream_sequence, case_id, chains_from_sequence } => format!("händelse {stream_sequence} (ärende {case_id}) står i fel ordning: den följer på händelse {chains_from_sequence}"),
            Finding::BrokenLink { stream_sequence, case_id } => format!("händelse {stream_sequence} (ärende {case_id}) följer inte på ärendets föregående händelse"),
            Finding::Undecodable { stream_sequence, detail } => format!("händelse {stream_sequence} går inte att läsa: {detail}"),
            Finding::WrongSubject { stream_sequence, subject_case, event_case } => format!("händelse {stream_sequence} ligger under ärende {subject_case} men gäller ärende {event_case}"),
            Finding::OutOfOrder { stream_sequence, after_sequence } => format!("sekvens {stream_sequence} står efter sekvens {after_sequence}: händelser har flyttats"),
            Finding::HeadMismatch { case_id, expected_events, found_events } => format!("ärende {case_id}: kedjans slut stämmer inte med det registrerade ({expected_events} händelser väntades, {found_events} finns)"),
            Finding::SetAside { stream_sequence, reason } => format!("sekvens {stream_sequence} är ingen händelse och är lagd åt sidan (karantän, skäl: {reason}); den ingår inte i någon kedja"),
        }
    }

    pub fn stream_sequence(&self) -> Option<u64> {
        match self {
            Finding::Changed { stream_sequence, .. }
            | Finding::Inserted { stream_sequence, .. }
            | Finding::Reordered { stream_sequence, .. }
            | Finding::BrokenLink { stream_sequence, .. }
            | Finding::Undecodable { stream_sequence, .. }
            | Finding::WrongSubject { stream_sequence, .. }
            | Finding::OutOfOrder { stream_sequence, .. }
            | Finding::SetAside { stream_sequence, .. } => Some(*stream_sequence),
            Finding::Missing { before_sequence, .. } => Some(*before_sequence),
            Finding::HeadMismatch { .. } => None,
        }
    }
}

/// The end of one case's chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub events: u64,
    pub last_sequence: u64,
    /// Hex SHA-256 chain hash of the case's last event.
    pub hash: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub events: u64,
    pub cases: u64,
    pub first_sequence: u64,
    pub last_sequence: u64,
    pub findings: Vec<Finding>,
    /// Chain head of every case as found.
    pub heads: BTreeMap<CaseId, ChainHead>,
    /// Events of a type or version this build cannot read (written by a newer stod).
    /// Their chains are still checked; they are not damage.
    #[serde(default)]
    pub newer_events: u64,
}

impl Verification {
    /// No finding but messages set aside.
    pub fn intact(&self) -> bool {
        self.findings.iter().all(|f| matches!(f, Finding::SetAside { .. }))
    }
}

struct Entry {
    seq: u64,
    bytes: Vec<u8>,
    trailer: ChainHash,
}

fn trailer(bytes: &[u8]) -> ChainHash {
    let mut h = [0u8; 32];
    if bytes.len() >= 32 {
        h.copy_from_slice(&bytes[bytes.len() - 32..]);
    }
    ChainHash(h)
}

/// Verifies every chain. `records` must be in stream order; `first_expected` is the
/// sequence the stream starts at (1 for a whole stream).
pub fn verify(records: impl IntoIterator<Item = Record>, first_expected: u64) -> Verification {
    verify_setting_aside(records, first_expected, &BTreeMap::new())
}

/// As [`verify`], passing over the messages of `set_aside` (sequence → the SHA-256 hex of
/// the bytes set aside, and the reason) whose bytes are exactly those: each is named as
/// [`Finding::SetAside`], and is in no chain. A message at such a sequence with other
/// bytes, or one that decodes as an event of the case its subject names (which no
/// operator can set aside), is judged like any other.
pub fn verify_setting_aside(
    records: impl IntoIterator<Item = Record>,
    first_expected: u64,
    set_aside: &BTreeMap<u64, (String, String)>,
) -> Verification {
    use sha2::{Digest as _, Sha256};
    let mut v = Verification { first_sequence: first_expected, ..Verification::default() };
    let mut cases: BTreeMap<CaseId, Vec<Entry>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut order: Vec<u64> = Vec::new();
    for r in records {
        v.events += 1;
        order.push(r.stream_sequence);
        seen.insert(r.stream_sequence);
        v.last_sequence = v.last_sequence.max(r.stream_sequence);
        if let Some((sha256, reason)) = set_aside.get(&r.stream_sequence) {
            let an_event = codec::decode(&r.bytes).is_ok_and(|e| e.event.case_id == r.subject_case);
            if !an_event && hex::encode(Sha256::digest(&r.bytes)) == *sha256 {
                v.events -= 1;
                v.findings.push(Finding::SetAside { stream_sequence: r.stream_sequence, reason: reason.clone() });
                continue;
            }
        }
        match codec::decode(&r.bytes) {
            Ok(sealed) if sealed.event.case_id != r.subject_case => v.findings.push(Finding::WrongSubject {
                stream_sequence: r.stream_sequence,
                subject_case: r.subject_case,
                event_case: sealed.event.case_id,
            }),
            Ok(_) => {}
            // Written by a newer stod: the chain is checked below like any other.
            Err(e) if e.kind() == codec::DecodeErrorKind::UnknownType => v.newer_events += 1,
            // An undecodable message may still have been a link: keep it in its chain,
            // so the events after it are judged fairly.
            Err(e) => {
                v.findings.push(Finding::Undecodable { stream_sequence: r.stream_sequence, detail: e.to_string() })
            }
        }
        let trailer = trailer(&r.bytes);
        cases.entry(r.subject_case).or_default().push(Entry { seq: r.stream_sequence, bytes: r.bytes, trailer });
    }
    v.cases = cases.len() as u64;
    // Records that moved: everything outside the longest strictly increasing run of
    // sequence numbers (one moved record is then named, not all it jumped over).
    let kept = longest_increasing(&order);
    for (i, seq) in order.iter().enumerate() {
        if !kept[i] {
            let after_sequence = if i == 0 { 0 } else { order[i - 1] };
            v.findings.push(Finding::OutOfOrder { stream_sequence: *seq, after_sequence });
        }
    }
    // Sequences that should be there and are not: (last present, next present).
    let mut holes: Vec<(u64, u64)> = Vec::new();
    let mut expected = first_expected;
    for &seq in &seen {
        if seq > expected {
            holes.push((expected - 1, seq));
            v.findings.push(Finding::Missing {
                after_sequence: expected - 1,
                before_sequence: seq,
                count: seq - expected,
            });
        }
        expected = seq + 1;
    }
    let hole_between = |a: u64, b: u64| holes.iter().any(|(last, next)| *last >= a && *next <= b);

    for (case_id, entries) in cases.iter_mut() {
        // The chain's order is the stream's order. Records moved in a file are named
        // above as out of order; judged by sequence, their chain still holds.
        entries.sort_by_key(|e| e.seq);
        // For each event, the index (within the case) of the event it chains from:
        // Some(None) = from the start of the chain, None = from nothing in the case.
        // The expected predecessor is tried first; only a broken link searches.
        let chains_from: Vec<Option<Option<usize>>> = (0..entries.len())
            .map(|i| {
                let e = &entries[i];
                let expected = if i == 0 { ChainHash::GENESIS } else { entries[i - 1].trailer };
                if codec::verify_link(&expected, &e.bytes) {
                    return Some(i.checked_sub(1));
                }
                if codec::verify_link(&ChainHash::GENESIS, &e.bytes) {
                    return Some(None);
                }
                entries.iter().position(|p| p.seq != e.seq && codec::verify_link(&p.trailer, &e.bytes)).map(Some)
            })
            .collect();
        let case_id: &CaseId = case_id;
        // Whether some event chains from it: a genuine event always has a successor
        // chaining from it (but the last); an inserted one never has.
        let is_predecessor: Vec<bool> = (0..entries.len()).map(|j| chains_from.contains(&Some(Some(j)))).collect();
        for (i, e) in entries.iter().enumerate() {
            let expected_pred = if i == 0 { None } else { Some(i - 1) };
            match chains_from[i] {
                Some(pred) if pred == expected_pred => {}
                // Chains from an event stored after it.
                Some(Some(p)) if p > i => v.findings.push(Finding::Reordered {
                    stream_sequence: e.seq,
                    case_id: *case_id,
                    chains_from_sequence: entries[p].seq,
                }),
                Some(pred) => {
                    // Chains from an earlier event than the one before it. A genuine
                    // chain never forks, so what lies between and that nothing chains
                    // from was added (even if its own hash was computed to chain: the
                    // chain is not keyed).
                    let skipped = match pred {
                        None => 0..i,
                        Some(p) => p + 1..i,
                    };
                    for s in skipped {
                        let already = v.findings.iter().any(|f| f.stream_sequence() == Some(entries[s].seq));
                        // A skipped event that others chain from is genuine but
                        // misplaced, and named by the reordering around it.
                        if !already && !is_predecessor[s] {
                            v.findings.push(Finding::Inserted { stream_sequence: entries[s].seq, case_id: *case_id });
                        }
                    }
                }
                None => {
                    let successor_trusts_it = chains_from.get(i + 1).is_some_and(|n| *n == Some(Some(i)));
                    let prev_seq = if i == 0 { 0 } else { entries[i - 1].seq };
                    if hole_between(prev_seq, e.seq) {
                        // Already named as Missing; e itself is intact but its
                        // predecessor is gone.
                    } else if successor_trusts_it || i + 1 == entries.len() {
                        v.findings.push(Finding::Changed { stream_sequence: e.seq, case_id: *case_id });
                    } else {
                        // Neither chained nor trusted: named as inserted by its
                        // successor's check if that one skips it; otherwise broken.
                        let skipped_by_successor = chains_from.get(i + 1).is_some_and(|n| match n {
                            Some(Some(p)) => *p < i,
                            Some(None) => true,
                            None => false,
                        });
                        if !skipped_by_successor {
                            v.findings.push(Finding::BrokenLink { stream_sequence: e.seq, case_id: *case_id });
                        }
                    }
                }
            }
        }
        if let Some(last) = entries.last() {
            v.heads.insert(
                *case_id,
                ChainHead { events: entries.len() as u64, last_sequence: last.seq, hash: last.trailer.to_hex() },
            );
        }
    }
    v.findings.sort_by_key(|f| f.stream_sequence().unwrap_or(u64::MAX));
    v.findings.dedup();
    v
}

/// Compares the chain heads found with heads recorded for the same events (an export's
/// manifest): the only check that covers each case's last event and events removed
/// from a case's end.
pub fn compare_heads(found: &BTreeMap<CaseId, ChainHead>, recorded: &BTreeMap<CaseId, ChainHead>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (case_id, head) in recorded {
        // Count and hash: a renumbering after an insert moves every later
        // `last_sequence`, and is named where it happened.
        match found.get(case_id) {
            Some(now) if now.events == head.events && now.hash == head.hash => {}
            now => out.push(Finding::HeadMismatch {
                case_id: *case_id,
                expected_events: head.events,
                found_events: now.map_or(0, |n| n.events),
            }),
        }
    }
    for (case_id, now) in found {
        if !recorded.contains_key(case_id) {
            out.push(Finding::HeadMismatch { case_id: *case_id, expected_events: 0, found_events: now.events });
        }
    }
    out
}

/// Marks the elements of one longest strictly increasing subsequence.
fn longest_increasing(values: &[u64]) -> Vec<bool> {
    // Patience sorting: tails[k] = index of the smallest tail of a run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut parent: Vec<Option<usize>> = vec![None; values.len()];
    for (i, v) in values.iter().enumerate() {
        let k = tails.partition_point(|&t| values[t] < *v);
        parent[i] = k.checked_sub(1).map(|k| tails[k]);
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut keep = vec![false; values.len()];
    let mut at = tails.last().copied();
    while let Some(i) = at {
        keep[i] = true;
        at = parent[i];
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::longest_increasing;

    #[test]
    fn moved_records_are_the_ones_outside_the_longest_run() {
        let keep = longest_increasing(&[1, 2, 8, 4, 5, 6, 7, 3, 9]);
        let moved: Vec<usize> = keep.iter().enumerate().filter(|(_, k)| !**k).map(|(i, _)| i).collect();
        assert_eq!(moved, [2, 7]);
        assert!(longest_increasing(&[1, 2, 3]).iter().all(|k| *k));
        assert!(longest_increasing(&[]).is_empty());
    }
}
