//! Classification metrics: confusion matrix, accuracy, macro-F1, per-digit recall.

use std::fmt;

pub const N_CLASSES: usize = 10;

/// Rows are the true digit, columns the predicted one.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfusionMatrix {
    pub counts: [[u32; N_CLASSES]; N_CLASSES],
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
        (0..N_CLASSES).map(|i| self.counts[i][i]).sum()
    }

    /// Fraction correct; 0 when empty.
    pub fn accuracy(&self) -> f64 {
        let total = self.total();
        if total == 0 { 0.0 } else { self.correct() as f64 / total as f64 }
    }

    /// Recall of each digit; `None` for a digit never seen.
    pub fn per_digit_recall(&self) -> [Option<f64>; N_CLASSES] {
        std::array::from_fn(|d| {
            let row: u32 = self.counts[d].iter().sum();
            (row > 0).then(|| self.counts[d][d] as f64 / row as f64)
        })
    }

    /// Mean F1 over the digits that occur as truth or prediction (0 for an empty matrix).
    pub fn macro_f1(&self) -> f64 {
        let mut sum = 0.0;
        let mut n = 0;
        for d in 0..N_CLASSES {
            let tp = self.counts[d][d] as f64;
            let row: u32 = self.counts[d].iter().sum();
            let col: u32 = (0..N_CLASSES).map(|r| self.counts[r][d]).sum();
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
        for r in 0..N_CLASSES {
            for c in 0..N_CLASSES {
                self.counts[r][c] += other.counts[r][c];
            }
        }
    }
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "true\\pred")?;
        for c in 0..N_CLASSES {
            write!(f, "{c:>5}")?;
        }
        writeln!(f)?;
        for (r, row) in self.counts.iter().enumerate() {
            write!(f, "{r:>9}")?;
            for v in row {
                write!(f, "{v:>5}")?;
            }
            writeln!(f)?;
        }
        write!(f, "accuracy {:.2}%  macro-F1 {:.4}", 100.0 * self.accuracy(), self.macro_f1())
    }
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
}
