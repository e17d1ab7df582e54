//! The command line's side of the Swedish terms (`stod_reports::sv`): clap value
//! parsers built from the same tables that reports print from.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
pub use stod_reports::sv::*;

/// A clap value parser that accepts exactly the tokens of `T` and lists them, with their
/// labels, in `--help`.
pub fn parser<T: Term + Clone>() -> impl TypedValueParser<Value = T> {
    let values = T::TERMS.iter().map(|(_, token, label)| {
        let aliases = T::ALIASES.iter().filter(|(_, t)| t == token).map(|(a, _)| *a);
        PossibleValue::new(*token).help(*label).aliases(aliases)
    });
    PossibleValuesParser::new(values).map(|token: String| {
        // PossibleValuesParser only lets listed tokens through.
        T::from_token(&token).unwrap_or(T::TERMS[0].0)
    })
}
