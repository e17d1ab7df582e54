//! The operator's requests the command service answers: extending the reference data
//! (`stod.ops.<user>.reference-load`) and setting a foreign message of the log aside
//! (`stod.ops.<user>.quarantine`). The operator writes no stream: the service checks
//! the request and writes it, under the operator's name.

use stod_events::codec;
use stod_events::ids::UserId;
use stod_events::reference::Catalogue;
use stod_protocol::ops::{QuarantineReply, QuarantineRequest, ReferenceLoadReply, ReferenceLoadRequest};
use stod_protocol::parse_body;
use stod_store::{EventStore, QuarantineList, Quarantined, ReferenceStore, StoreErrorKind};
use tracing::{info, warn};

/// `reference-load`: the extension applied with compare-and-set; every instance's watch
/// switches over.
pub async fn reference_load(reference: &ReferenceStore, user: &UserId, body: &[u8]) -> ReferenceLoadReply {
    let request: ReferenceLoadRequest = match parse_body(body) {
        Ok(r) => r,
        Err(e) => return ReferenceLoadReply::Invalid { message: e.to_string() },
    };
    let default = Catalogue::default_catalogue();
    let before = match reference.load_or_init(&default).await {
        Ok((catalogue, _)) => catalogue,
        Err(e) => return ReferenceLoadReply::Unavailable { message: e.to_string() },
    };
    // Checked first for a clear refusal; the store checks again under its
    // compare-and-set.
    let checked = match before.extend(request.extension.clone()) {
        Ok(c) => c,
        Err(e) => return ReferenceLoadReply::Invalid { message: format!("{e}; inget har ändrats") },
    };
    let after = if checked.to_file() == before.to_file() {
        before.clone()
    } else {
        match reference.extend(&default, &request.extension).await {
            Ok(after) => after,
            Err(e) if e.kind() == StoreErrorKind::Invalid => {
                return ReferenceLoadReply::Invalid { message: format!("{e}; inget har ändrats") }
            }
            Err(e) => return ReferenceLoadReply::Unavailable { message: e.to_string() },
        }
    };
    info!(%user, fingerprint = %after.fingerprint(), "reference data loaded");
    ReferenceLoadReply::Loaded {
        previous_fingerprint: before.fingerprint(),
        fingerprint: after.fingerprint(),
        before: Box::new(before.to_file()),
        after: Box::new(after.to_file()),
    }
}

fn ticket_ok(ticket: &str) -> bool {
    (1..=32).contains(&ticket.len()) && ticket.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `quarantine`: only a message that is not a valid event may be set aside; the
/// decision, with the digest of the bytes, is recorded before it is answered.
pub async fn quarantine(store: &EventStore, list: &QuarantineList, user: &UserId, body: &[u8]) -> QuarantineReply {
    let request: QuarantineRequest = match parse_body(body) {
        Ok(r) => r,
        Err(e) => return QuarantineReply::Invalid { message: e.to_string() },
    };
    if let Some(ticket) = &request.ticket {
        if !ticket_ok(ticket) {
            return QuarantineReply::Invalid {
                message: format!("ärendenumret {ticket:?} duger inte: 1–32 tecken bland A–Z, a–z, 0–9 och '-'"),
            };
        }
    }
    let seq = request.sequence;
    let msg = match store.raw(seq).await {
        Ok(Some(m)) => m,
        Ok(None) => return QuarantineReply::Refused { message: format!("händelseloggen har ingen sekvens {seq}") },
        Err(e) => return QuarantineReply::Unavailable { message: e.to_string() },
    };
    let names_case = msg.subject.rsplit('.').next().is_some_and(|t| t.parse::<stod_events::ids::CaseId>().is_ok());
    if names_case {
        if let Ok(sealed) = codec::decode(&msg.bytes) {
            if msg.subject.ends_with(&sealed.event.case_id.to_string()) {
                return QuarantineReply::Refused {
                    message: format!(
                        "sekvens {seq} är en giltig händelse i ärende {}; den kan inte läggas åt sidan (rätta eller makulera den i stället)",
                        sealed.event.case_id
                    ),
                };
            }
        }
    }
    let entry = Quarantined::new(user.clone(), seq, &msg.subject, &msg.bytes, request.reason.as_str(), request.ticket);
    match list.record(&entry).await {
        Ok(stored) => {
            warn!(%user, sequence = seq, sha256 = %stored.sha256, reason = %stored.reason, "message of the event log set aside");
            QuarantineReply::Quarantined { sequence: seq, already: stored.id != entry.id, sha256: stored.sha256 }
        }
        Err(e) => QuarantineReply::Unavailable { message: e.to_string() },
    }
}
