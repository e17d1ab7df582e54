//! The read models as they stood at a point in the past, and what changed since.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stod_events::ids::{CaseId, Timestamp};
use stod_events::RecordedEvent;
use stod_projections::{fold_all, CaseRecord};

/// A point in the log's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cutoff {
    /// Everything recorded at or before this instant (`recorded_at`): what was known then.
    RecordedBy(Timestamp),
    /// Everything up to and including this stream sequence.
    Sequence(u64),
}

impl Cutoff {
    pub fn includes(&self, sequence: u64, event: &RecordedEvent) -> bool {
        match self {
            Cutoff::RecordedBy(t) => event.recorded_at <= *t,
            Cutoff::Sequence(s) => sequence <= *s,
        }
    }
}

/// Case records as known at `cutoff`: a temporary, in-memory store that leaves the
/// live read models alone.
pub fn records_at<'a>(
    events: impl IntoIterator<Item = (u64, &'a RecordedEvent)>,
    cutoff: Cutoff,
) -> BTreeMap<CaseId, CaseRecord> {
    fold_all(events.into_iter().filter(|(seq, e)| cutoff.includes(*seq, e)))
}

/// One figure that differs between two reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// Where in the report, e.g. `exits_by_outcome.studies` or `months[3].intakes`.
    pub figure: String,
    pub then: serde_json::Value,
    pub now: serde_json::Value,
}

/// Figure-by-figure differences between two reports of the same kind.
pub fn compare<T: Serialize>(then: &T, now: &T) -> Vec<Difference> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &serde_json::to_value(then).unwrap_or_default(), &mut a);
    flatten("", &serde_json::to_value(now).unwrap_or_default(), &mut b);
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (
                a.get(k).cloned().unwrap_or(serde_json::Value::Null),
                b.get(k).cloned().unwrap_or(serde_json::Value::Null),
            );
            (x != y).then(|| Difference { figure: k.clone(), then: x, now: y })
        })
        .collect()
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, serde_json::Value>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_owned(), leaf.clone());
        }
    }
}
