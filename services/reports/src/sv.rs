//! The Swedish words for the domain's fixed values, in one place.
//!
//! Each value has two Swedish forms: the token a case worker types on the command line
//! (lower-case ASCII, e.g. `anstallning`) and the label shown in output (e.g.
//! "anställning"). Both come from the same table, so what `stod` accepts and what it
//! prints can never drift apart (the command line's value parsers are built on it).
//! Labels of event types and reference-data kinds live in `stod-events`
//! (`EventType::label_sv`, `CodeKind::label_sv`); this module adds what reports and the
//! command line need on top.

use stod_events::event::{
    AnonymityReason, Assessor, CorrectionReason, EventType, ExitOutcome, FollowUpPoint, FollowUpStatus, Gender,
    PlacementEndReason, RegionOfBirth, SusOutcomeGroup, TrainingDiscontinuedReason,
};
use stod_events::reference::CodeKind;

/// A fixed domain value with its Swedish command-line token and display label.
pub trait Term: Copy + PartialEq + Send + Sync + 'static {
    /// Every value: (value, token, label).
    const TERMS: &'static [(Self, &'static str, &'static str)];

    /// Other spellings accepted on the command line: (alias, token).
    const ALIASES: &'static [(&'static str, &'static str)] = &[];

    /// What a case worker types for this value.
    fn token(self) -> &'static str {
        Self::TERMS.iter().find(|(v, ..)| *v == self).map_or("?", |(_, t, _)| t)
    }

    /// How output shows this value.
    fn label(self) -> &'static str {
        Self::TERMS.iter().find(|(v, ..)| *v == self).map_or("?", |(.., l)| l)
    }

    fn from_token(token: &str) -> Option<Self> {
        let token = Self::ALIASES.iter().find(|(a, _)| *a == token).map_or(token, |(_, t)| t);
        Self::TERMS.iter().find(|(_, t, _)| *t == token).map(|(v, ..)| *v)
    }

    /// The tokens, comma separated, for messages that say what is valid.
    fn tokens() -> String {
        Self::TERMS.iter().map(|(_, t, _)| *t).collect::<Vec<_>>().join(", ")
    }
}

impl Term for Gender {
    const TERMS: &'static [(Self, &'static str, &'static str)] = &[
        (Gender::Woman, "kvinna", "kvinna"),
        (Gender::Man, "man", "man"),
        (Gender::Other, "annan", "annan/vill inte uppge"),
    ];
}

impl Term for AnonymityReason {
    const TERMS: &'static [(Self, &'static str, &'static str)] = &[
        (AnonymityReason::NoConsent, "inget-samtycke", "inget samtycke"),
        (AnonymityReason::ProtectedIdentity, "skyddad-identitet", "skyddad identitet"),
    ];
    // "samtycke" is neuter, so "inget"; the first release printed "ingen-samtycke",
    // which scripts may still send.
    const ALIASES: &'static [(&'static str, &'static str)] = &[("ingen-samtycke", "inget-samtycke")];
}

impl Term for RegionOfBirth {
    const TERMS: &'static [(Self, &'static str, &'static str)] = &[
        (RegionOfBirth::Sweden, "sverige", "född i Sverige"),
        (RegionOfBirth::Europe, "europa", "född i Europa utom Sverige"),
        (RegionOfBirth::OutsideEurope, "utanfor-europa", "född utanför Europa"),
    ];
}

impl Term for PlacementEndReason {
    const TERMS: &'static [(Self, &'static str, &'static str)] = &[
        (PlacementEndReason::Completed, "klar", "planerad period klar"),
        (PlacementEndReason::NewPlacement, "ny-praktik", "går vidare till ny praktik"),
        (PlacementEndReason::Employment, "anstallning", "anställning"),
        (PlacementEndReason::Studies, "studier", "studier"),
        (PlacementEndReason::Health, "halsa", "hälsoskäl"),
        (PlacementEndReason::Discontinued, "avbrutit", "deltagaren avbröt"),
        (PlacementEndReason::Other, "annat", "annat"),
    ];
}

impl Term for TrainingDiscontinuedReason {
    const TERMS: &'static [(Self, &'static str, &'static str)] = &[
        (TrainingDiscontinuedReason::Health, "halsa", "hälsoskäl"),
        (TrainingDiscontinuedReason::Employment, "anstallning", "anställning"),
        (TrainingDiscontinuedReason::NotSuitable, "passade-inte", "utbildningen passade inte"),
        (TrainingDiscontinuedReason::Discontinued, "avbrutit", "deltagaren avbröt"),
        (TrainingDiscontinuedReason::Other, "annat", "annat"),
    ];
}

impl Term for Assessor {
    const TERMS: &'static [(Self, &'static str, &'static str)] = &[
        (Assessor::Participant, "deltagare", "självskattning"),
        (Assessor::Staff, "personal", "personalens bedömning"),
        (Assessor::Joint, "gemensam", "gemensam bedömning"),
    ];
}

impl Term for ExitOutcome {
    const TERMS: &'static [(Self, &'static str, &'static str)] = &[
        (ExitOutcome::EmploymentUnsubsidised, "anstallning", "anställning utan stöd"),
        (ExitOutcome::EmploymentSubsidised, "anstallning-med-stod", "anställning med stöd"),
        (ExitOutcome::Studies, "studier", "studier"),
        (ExitOutcome::OtherProgramme, "annan-insats", "annan insats"),
        (ExitOutcome::MovedCloser, "narmare-arbetsmarknaden", "närmare arbetsmarknaden, arbetssökande"),
        (ExitOutcome::Health, "halsa", "hälsoskäl"),
        (ExitOutcome::Moved, "flyttat", "flyttat"),
        (ExitOutcome::Discontinued, "avbrutit", "avbröt insatsen"),
        (ExitOutcome::Other, "annat", "annat"),
    ];
}

impl Term for FollowUpPoint {
    const TERMS: &'static [(Self, &'static str, &'static str)] = &[
        (FollowUpPoint::Months3, "3", "3 månader"),
        (FollowUpPoint::Months6, "6", "6 månader"),
        (FollowUpPoint::Months12, "12", "12 månader"),
    ];
}

impl Term for FollowUpStatus {
    const TERMS: &'static [(Self, &'static str, &'static str)] = &[
        (FollowUpStatus::Employed, "anstalld", "anställd"),
        (FollowUpStatus::Studying, "studerar", "studerar"),
        (FollowUpStatus::NeitherEmployedNorStudying, "varken-eller", "varken arbete eller studier"),
        (FollowUpStatus::NoContact, "ingen-kontakt", "gick inte att nå"),
    ];
}

impl Term for CorrectionReason {
    const TERMS: &'static [(Self, &'static str, &'static str)] = &[
        (CorrectionReason::EntryError, "felregistrering", "felregistrering"),
        (CorrectionReason::WrongDate, "fel-datum", "fel datum"),
        (CorrectionReason::WrongCase, "fel-arende", "registrerat på fel ärende"),
        (CorrectionReason::Duplicate, "dubblett", "dubblett"),
        (CorrectionReason::LateInformation, "ny-information", "ny information"),
        (CorrectionReason::Other, "annat", "annat"),
    ];
}

/// Reference-data kinds keep their English names on the command line (they are also
/// the JSON names), with the Swedish label from `stod-events`.
impl Term for CodeKind {
    const TERMS: &'static [(Self, &'static str, &'static str)] = &[
        (CodeKind::Municipality, "municipality", "kommun"),
        (CodeKind::Referrer, "referrer", "remittent"),
        (CodeKind::Site, "site", "arbetsplats"),
        (CodeKind::WorkArea, "work_area", "arbetsområde"),
        (CodeKind::Course, "course", "utbildning"),
        (CodeKind::Provider, "provider", "anordnare"),
        (CodeKind::SupportSource, "support_source", "försörjningskälla"),
        (CodeKind::Instrument, "instrument", "bedömningsinstrument"),
    ];
}

/// SUS's outcome groups, in the order the funder's reports list them.
pub const SUS_GROUPS: [SusOutcomeGroup; 4] =
    [SusOutcomeGroup::Employment, SusOutcomeGroup::Studies, SusOutcomeGroup::JobSeeking, SusOutcomeGroup::Other];

/// How reports name a SUS outcome group.
pub fn sus_group_label(group: SusOutcomeGroup) -> &'static str {
    match group {
        SusOutcomeGroup::Employment => "förvärvsarbete",
        SusOutcomeGroup::Studies => "studier",
        SusOutcomeGroup::JobSeeking => "aktivt arbetssökande",
        SusOutcomeGroup::Other => "övriga",
    }
}

/// The Swedish label of an event type given by its English name (as the read models
/// store it); the name itself for a type this version does not know.
pub fn event_type_label(name: &str) -> &str {
    EventType::ALL.iter().find(|t| t.name() == name).map_or(name, |t| t.label_sv())
}

/// Headings for the reference-data sections.
pub fn kind_plural(kind: CodeKind) -> &'static str {
    match kind {
        CodeKind::Municipality => "Kommuner",
        CodeKind::Referrer => "Remittenter",
        CodeKind::Site => "Arbetsplatser",
        CodeKind::WorkArea => "Arbetsområden",
        CodeKind::Course => "Utbildningar",
        CodeKind::Provider => "Anordnare",
        CodeKind::SupportSource => "Försörjningskällor",
        CodeKind::Instrument => "Bedömningsinstrument",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens_unique_and_labelled<T: Term>() {
        let mut seen = std::collections::BTreeSet::new();
        for (value, token, label) in T::TERMS {
            assert!(seen.insert(*token), "duplicate token {token}");
            assert!(!label.is_empty());
            assert!(T::from_token(token) == Some(*value));
            assert_eq!(value.token(), *token);
        }
    }

    #[test]
    fn every_table_is_a_bijection() {
        tokens_unique_and_labelled::<Gender>();
        tokens_unique_and_labelled::<AnonymityReason>();
        tokens_unique_and_labelled::<RegionOfBirth>();
        tokens_unique_and_labelled::<PlacementEndReason>();
        tokens_unique_and_labelled::<TrainingDiscontinuedReason>();
        tokens_unique_and_labelled::<Assessor>();
        tokens_unique_and_labelled::<ExitOutcome>();
        tokens_unique_and_labelled::<FollowUpPoint>();
        tokens_unique_and_labelled::<FollowUpStatus>();
        tokens_unique_and_labelled::<CorrectionReason>();
        tokens_unique_and_labelled::<CodeKind>();
    }

    #[test]
    fn event_types_and_sus_groups_have_swedish_labels() {
        assert_eq!(event_type_label("placement_started"), "Praktik påbörjad");
        assert_eq!(event_type_label("from_the_future"), "from_the_future");
        let labels: std::collections::BTreeSet<_> = SUS_GROUPS.iter().map(|g| sus_group_label(*g)).collect();
        assert_eq!(labels.len(), 4);
        for outcome in ExitOutcome::ALL {
            assert!(SUS_GROUPS.contains(&outcome.sus_group()));
        }
    }

    #[test]
    fn the_grammatical_no_consent_token_is_primary() {
        assert_eq!(AnonymityReason::NoConsent.token(), "inget-samtycke");
        assert_eq!(AnonymityReason::from_token("ingen-samtycke"), Some(AnonymityReason::NoConsent));
    }

    #[test]
    fn every_exit_outcome_and_kind_has_a_token() {
        assert_eq!(ExitOutcome::TERMS.len(), ExitOutcome::ALL.len());
        assert_eq!(CodeKind::TERMS.len(), CodeKind::ALL.len());
        for kind in CodeKind::ALL {
            assert_eq!(kind.label(), kind.label_sv());
        }
    }
}
