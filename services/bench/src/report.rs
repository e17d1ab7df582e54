//! The text a person reads. `--json` prints the same values as JSON instead.

use crate::workload::JOURNEY_LEN;
use crate::write::{Footer, Header, Level};

/// What was measured, on what, and how to measure it again.
pub fn header(h: &Header) -> String {
    let o = &h.options;
    let sync = if h.sync_always {
        "sync_interval: always (fsync before every ack, as in production)"
    } else {
        "sync_interval: server default (NOT fsynced before ack; not production)"
    };
    [
        "stod-bench write: the durable write path, with raw JetStream beside it".to_owned(),
        format!("  reproduce:   {}", h.reproduce),
        format!("  nats-server: {} ({}), {sync}", h.nats_server_version, h.nats_server_binary),
        format!("  machine:     {} cores, shared by nats-server, the command service and the clients", h.cores),
        format!("  store dir:   {}", h.store_dir.display()),
        format!(
            "  per level:   {} measured + {} warm-up operations for each path; C tasks, each awaiting every reply",
            o.commands, o.warmup
        ),
        format!(
            "  raw:         {}-byte payloads to stream BENCH_RAW (production settings), {JOURNEY_LEN} per subject, \
             with Nats-Msg-Id and Nats-Expected-Last-Subject-Sequence",
            o.payload_bytes
        ),
        format!(
            "  stod:        stod-client -> command service ({} in-process instance{}) -> STOD_EVENTS; \
             per case: intake, placement, assessment, placement",
            o.instances,
            if o.instances == 1 { "" } else { "s" }
        ),
    ]
    .join("\n")
}

const COLUMNS: [(&str, usize); 12] = [
    ("concurrency", 11),
    ("raw msg/s", 10),
    ("raw p50 ms", 10),
    ("raw p99 ms", 10),
    ("stod cmd/s", 10),
    ("stod p50 ms", 11),
    ("stod p99 ms", 11),
    ("stod/raw", 8),
    ("group cmd/s", 11),
    ("group p50 ms", 12),
    ("group p99 ms", 12),
    ("group/raw", 9),
];

/// The main table: throughput and latency of both paths, one row per level.
pub fn table_header() -> String {
    header_of(&COLUMNS)
}

pub fn table_row(l: &Level) -> String {
    let cells = [
        l.concurrency.to_string(),
        format!("{:.0}", l.raw.per_second),
        format!("{:.2}", l.raw.p50_ms),
        format!("{:.2}", l.raw.p99_ms),
        format!("{:.0}", l.stod.per_second),
        format!("{:.2}", l.stod.p50_ms),
        format!("{:.2}", l.stod.p99_ms),
        format!("{:.2}", l.ratio),
        l.stod_group.as_ref().map_or("-".into(), |g| format!("{:.0}", g.per_second)),
        l.stod_group.as_ref().map_or("-".into(), |g| format!("{:.2}", g.p50_ms)),
        l.stod_group.as_ref().map_or("-".into(), |g| format!("{:.2}", g.p99_ms)),
        l.group_ratio.map_or("-".into(), |r| format!("{r:.2}")),
    ];
    row_of(&cells, &COLUMNS)
}

const BREAKDOWN_COLUMNS: [(&str, usize); 5] = [
    ("concurrency", 11),
    ("intake p50 ms", 13),
    ("intake p99 ms", 13),
    ("follow-up p50 ms", 16),
    ("follow-up p99 ms", 16),
];

/// The stod latencies split by path: intakes (participant index) and the rest
/// (cached case).
pub fn breakdown_header() -> String {
    header_of(&BREAKDOWN_COLUMNS)
}

pub fn breakdown_row(l: &Level) -> String {
    let cells = [
        l.concurrency.to_string(),
        format!("{:.2}", l.stod_intake.p50_ms),
        format!("{:.2}", l.stod_intake.p99_ms),
        format!("{:.2}", l.stod_follow_up.p50_ms),
        format!("{:.2}", l.stod_follow_up.p99_ms),
    ];
    row_of(&cells, &BREAKDOWN_COLUMNS)
}

const GROUP_COLUMNS: [(&str, usize); 8] = [
    ("concurrency", 11),
    ("batches", 7),
    ("mean size", 9),
    ("in batches", 10),
    ("refused", 7),
    ("raw batch of", 12),
    ("raw batch msg/s", 15),
    ("raw batch/raw", 13),
];

/// What group commit did at each level, beside raw atomic batches of the size a
/// group could have had.
pub fn group_header() -> String {
    header_of(&GROUP_COLUMNS)
}

pub fn group_row(l: &Level) -> String {
    let counts = l.group_counts.unwrap_or_default();
    let events = counts.batched_events + counts.single_appends;
    let cells = [
        l.concurrency.to_string(),
        counts.batches.to_string(),
        if counts.batches > 0 {
            format!("{:.1}", counts.batched_events as f64 / counts.batches as f64)
        } else {
            "-".into()
        },
        if events > 0 { format!("{:.0}%", 100.0 * counts.batched_events as f64 / events as f64) } else { "-".into() },
        counts.refused_batches.to_string(),
        l.raw_batch.as_ref().map_or("-".into(), |b| b.size.to_string()),
        l.raw_batch.as_ref().map_or("-".into(), |b| format!("{:.0}", b.summary.per_second)),
        l.raw_batch.as_ref().map_or("-".into(), |b| format!("{:.2}", b.ratio)),
    ];
    row_of(&cells, &GROUP_COLUMNS)
}

fn header_of(columns: &[(&str, usize)]) -> String {
    let names: Vec<String> = columns.iter().map(|(name, width)| format!("{name:>width$}")).collect();
    let rules: Vec<String> = columns.iter().map(|(_, width)| "-".repeat(*width)).collect();
    format!("{}\n{}", names.join("  "), rules.join("  "))
}

fn row_of(cells: &[String], columns: &[(&str, usize)]) -> String {
    let cells: Vec<String> = cells.iter().zip(columns).map(|(cell, (_, width))| format!("{cell:>width$}")).collect();
    cells.join("  ")
}

pub fn footer(f: &Footer) -> String {
    format!(
        "stored per message (payload + subject + headers): raw {:.0} B over {} messages, stod {:.0} B over {} events",
        f.raw.bytes_per_message, f.raw.messages, f.stod.bytes_per_message, f.stod.messages
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::Summary;
    use crate::write::RawBatch;
    use stod_command::GroupCommitCounts;

    fn summary(per_second: f64, p50_ms: f64, p99_ms: f64) -> Summary {
        Summary { count: 1, seconds: 1.0, per_second, mean_ms: p50_ms, p50_ms, p90_ms: p99_ms, p99_ms, max_ms: p99_ms }
    }

    #[test]
    fn rows_line_up_under_the_header() {
        let level = Level {
            concurrency: 16,
            raw: summary(1234.4, 1.234, 9.9),
            stod: summary(617.2, 2.5, 20.0),
            stod_intake: summary(154.3, 4.0, 30.0),
            stod_follow_up: summary(462.9, 2.0, 10.0),
            ratio: 0.5,
            stod_group: Some(summary(3000.0, 1.0, 5.0)),
            group_ratio: Some(2.43),
            group_counts: Some(GroupCommitCounts {
                batches: 10,
                batched_events: 150,
                refused_batches: 1,
                single_appends: 50,
            }),
            raw_batch: Some(RawBatch { size: 16, summary: summary(4000.0, 3.0, 4.0), ratio: 3.24 }),
        };
        let width = |table: String| table.lines().next().map(str::len).unwrap_or(0);
        let row = table_row(&level);
        assert_eq!(row.len(), width(table_header()));
        assert_eq!(
            row.split_whitespace().collect::<Vec<_>>(),
            ["16", "1234", "1.23", "9.90", "617", "2.50", "20.00", "0.50", "3000", "1.00", "5.00", "2.43"]
        );
        let row = breakdown_row(&level);
        assert_eq!(row.len(), width(breakdown_header()));
        assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["16", "4.00", "30.00", "2.00", "10.00"]);
        let row = group_row(&level);
        assert_eq!(row.len(), width(group_header()));
        assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["16", "10", "15.0", "75%", "1", "16", "4000", "3.24"]);
    }
}
