//! What the model's outputs mean to a person and to a scorer: the name of each label and of
//! each kind of detection (so the dashboard and the plugin say the same thing), the names
//! recordings carry their labels in ([`file_names`]), and how answers are counted
//! ([`confusion`]).

pub mod confusion;
pub mod file_names;

pub use crate::inference::model::{N_DIGITS, NOT_A_DIGIT};
pub use confusion::{ConfusionMatrix, N_LABELS, label_name};

use crate::streaming::recognizer::DetectionKind;

/// What a detection of this kind is called on screen.
pub fn kind_label(kind: DetectionKind) -> &'static str {
    match kind {
        DetectionKind::Early => "early",
        DetectionKind::Final => "final",
        DetectionKind::Unsure => "unsure",
        DetectionKind::Rejected => "not a digit",
    }
}
