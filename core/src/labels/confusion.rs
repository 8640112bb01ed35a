//! Classification metrics: confusion matrix, accuracy, macro-F1, per-digit recall.
//!
//! Labels are the model's outputs: digits 0-9 and [`NOT_A_DIGIT`] (10), so a rejected digit is
//! an error in its row and a non-digit word is right only when rejected.

use std::fmt;

use crate::inference::model::{N_DIGITS, NOT_A_DIGIT};

/// Labels: digits 0-9 and [`NOT_A_DIGIT`].
pub const N_LABELS: usize = crate::inference::model::N_OUTPUTS;

/// Rows are the true label, columns the predicted one.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfusionMatrix {
    pub counts: [[u32; N_LABELS]; N_LABELS],
}

impl ConfusionMatrix {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, truth: u8, predicted: u8) {
        self.counts[truth as usize][predicted as usize] += 1;
    }

    pub fn total(&self) -> u32 {
        self.counts.iter().flatten().sum()
    }

    pub fn correct(&self) -> u32 {
        (0..N_LABELS).map(|i| self.counts[i][i]).sum()
    }

    /// Fraction correct; 0 when empty.
    pub fn accuracy(&self) -> f64 {
        let total = self.total();
        if total == 0 { 0.0 } else { self.correct() as f64 / total as f64 }
    }

    /// Recall of each digit; `None` for a digit never seen.
    pub fn per_digit_recall(&self) -> [Option<f64>; N_DIGITS] {
        std::array::from_fn(|d| self.recall(d))
    }

    /// Share of label `truth`'s items predicted right; `None` if it never occurs. For
    /// [`NOT_A_DIGIT`] this is the rejection rate of non-digit sounds.
    pub fn recall(&self, truth: usize) -> Option<f64> {
        let row: u32 = self.counts[truth].iter().sum();
        (row > 0).then(|| self.counts[truth][truth] as f64 / row as f64)
    }

    /// Items of true label `truth` the model rejected as "not a digit".
    pub fn rejected(&self, truth: usize) -> u32 {
        self.counts[truth][NOT_A_DIGIT]
    }

    /// Items whose true label is a digit.
    pub fn digit_total(&self) -> u32 {
        self.counts[..N_DIGITS].iter().flatten().sum()
    }

    /// Mean F1 over the digits that occur as truth or prediction (0 for an empty matrix).
    pub fn macro_f1(&self) -> f64 {
        let mut sum = 0.0;
        let mut n = 0;
        for d in 0..N_LABELS {
            let tp = self.counts[d][d] as f64;
            let row: u32 = self.counts[d].iter().sum();
            let col: u32 = (0..N_LABELS).map(|r| self.counts[r][d]).sum();
            if row == 0 && col == 0 {
                continue;
            }
            let denom = row as f64 + col as f64;
            sum += if denom == 0.0 { 0.0 } else { 2.0 * tp / denom };
            n += 1;
        }
        if n == 0 { 0.0 } else { sum / n as f64 }
    }

    pub fn merge(&mut self, other: &ConfusionMatrix) {
        for r in 0..N_LABELS {
            for c in 0..N_LABELS {
                self.counts[r][c] += other.counts[r][c];
            }
        }
    }
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "true\\pred")?;
        for c in 0..N_LABELS {
            write!(f, "{:>5}", label_name(c))?;
        }
        writeln!(f)?;
        for (r, row) in self.counts.iter().enumerate() {
            write!(f, "{:>9}", label_name(r))?;
            for v in row {
                write!(f, "{v:>5}")?;
            }
            writeln!(f)?;
        }
        write!(f, "accuracy {:.2}%  macro-F1 {:.4}", 100.0 * self.accuracy(), self.macro_f1())
    }
}

/// A label as printed: the digit, or "not" for [`NOT_A_DIGIT`].
pub fn label_name(label: usize) -> String {
    if label == NOT_A_DIGIT { "not".into() } else { label.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_a_small_known_matrix() {
        let mut m = ConfusionMatrix::new();
        // digit 0: 3 right, 1 called 1; digit 1: 2 right.
        for _ in 0..3 {
            m.add(0, 0);
        }
        m.add(0, 1);
        m.add(1, 1);
        m.add(1, 1);
        assert_eq!(m.total(), 6);
        assert!((m.accuracy() - 5.0 / 6.0).abs() < 1e-12);
        let r = m.per_digit_recall();
        assert_eq!(r[0], Some(0.75));
        assert_eq!(r[1], Some(1.0));
        assert_eq!(r[2], None);
        // F1(0) = 2*3/(4+3) = 6/7; F1(1) = 2*2/(2+3) = 4/5.
        assert!((m.macro_f1() - (6.0 / 7.0 + 0.8) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn rejections_are_errors_for_digits_and_right_for_words() {
        let mut m = ConfusionMatrix::new();
        m.add(3, 3);
        m.add(3, NOT_A_DIGIT as u8); // a "three" rejected: wrong
        m.add(NOT_A_DIGIT as u8, NOT_A_DIGIT as u8); // a word rejected: right
        m.add(NOT_A_DIGIT as u8, 3); // a word heard as three: wrong
        assert_eq!((m.total(), m.correct(), m.digit_total()), (4, 2, 2));
        assert_eq!(m.rejected(3), 1);
        assert_eq!(m.recall(NOT_A_DIGIT), Some(0.5));
        assert_eq!(m.per_digit_recall()[3], Some(0.5));
        assert!(m.to_string().contains("not"));
    }
}
