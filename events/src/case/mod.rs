//! The case rules as a pure core: [`decide`] holds every rule, [`CaseState::evolve`]
//! none. No I/O: the write path loads the events, calls `decide`, appends the result.

mod command;
mod decide;
mod rejection;
mod state;

pub use command::{Action, Command, TrainingRef};
pub use decide::{decide, Context, NewEvent, AGE_AT_INTAKE, PLACEMENT_HOURS, TRAINING_HOURS};
pub use rejection::{Rejection, RejectionKind};
pub use state::{CaseState, Exit, FactEntry, Intake, Placement, Summary, Training};
