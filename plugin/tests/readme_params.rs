//! The README's plugin parameter table says what the plugin really has.
//!
//! README.md holds one table whose header is `| Parameter | Range | Default | What it does |`.
//! Each row gives:
//! - Parameter: the name a host shows;
//! - Range: `MIN to MAX` for a number (`1 to 40 dB`: MIN may leave the unit to MAX), or every
//!   option in order, separated by ` / `, for a list (`Notes / CC / Notes + CC`);
//! - Default: the default as a host displays it; a number may drop trailing zeros (`13 dB` for
//!   the host's `13.0 dB`), but its unit must be there.
//!
//! Every parameter of the plugin must have a row and every row must be a parameter. The
//! parameters come from the plugin's own `Params::param_map()`, the list nice-plug's CLAP and
//! VST3 wrappers hand to a host, and are displayed with `normalized_value_to_string(.., true)`,
//! the text those wrappers give a host for a value. The plugin is the truth: when this test
//! fails, fix the README.

use std::path::PathBuf;

use fsdd_plugin::params::FsddParams;
use nice_plug::prelude::{ParamPtr, Params};

const HEADER: [&str; 4] = ["Parameter", "Range", "Default", "What it does"];

/// One row of the README's table.
#[derive(Clone, Debug)]
struct Row {
    /// 1-based line in README.md, for the messages.
    line: usize,
    name: String,
    range: String,
    default: String,
}

/// One parameter as a host sees it.
#[derive(Clone, Debug)]
struct Real {
    id: String,
    name: String,
    range: RealRange,
    default: String,
}

#[derive(Clone, Debug)]
enum RealRange {
    /// Displayed minimum and maximum of a number.
    Span { min: String, max: String },
    /// Every option of a list (enum or bool), in order.
    Options(Vec<String>),
}

fn readme_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md")
}

/// The parameters of a freshly made plugin, in the order the host gets them.
fn real_parameters() -> Vec<Real> {
    let params = FsddParams::default();
    params
        .param_map()
        .into_iter()
        .map(|(id, ptr, _group)| {
            // SAFETY: every pointer points into `params`, which outlives this closure.
            unsafe { describe(id, ptr) }
        })
        .collect()
}

/// # Safety
/// `ptr` must point to a live parameter.
unsafe fn describe(id: String, ptr: ParamPtr) -> Real {
    // SAFETY: the caller keeps the parameter alive.
    unsafe {
        let show = |normalized: f32| ptr.normalized_value_to_string(normalized, true);
        let range = match ptr {
            ParamPtr::EnumParam(_) | ParamPtr::BoolParam(_) => {
                let steps = ptr.step_count().expect("a list parameter has steps");
                RealRange::Options((0..=steps).map(|i| show(i as f32 / steps as f32)).collect())
            }
            ParamPtr::FloatParam(_) | ParamPtr::IntParam(_) => RealRange::Span { min: show(0.0), max: show(1.0) },
        };
        Real { id, name: ptr.name().to_string(), range, default: show(ptr.default_normalized_value()) }
    }
}

/// The cells of a markdown table line (`| a | b |`), trimmed, without backticks.
fn cells(line: &str) -> Vec<String> {
    let line = line.trim();
    let inner = line.strip_prefix('|').unwrap_or(line);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    inner.split('|').map(|cell| cell.trim().replace('`', "")).collect()
}

fn is_table_line(line: &str) -> bool {
    line.trim_start().starts_with('|')
}

fn is_separator(cells: &[String]) -> bool {
    cells.iter().all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
}

/// The rows of the one table in `text` with [`HEADER`].
fn parse_table(text: &str) -> Result<Vec<Row>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let headers: Vec<usize> =
        (0..lines.len()).filter(|&i| is_table_line(lines[i]) && cells(lines[i]) == HEADER).collect();
    let start = match headers.as_slice() {
        [one] => *one,
        [] => {
            return Err(format!("README.md has no table with the header `| {} |`", HEADER.join(" | ")));
        }
        more => {
            return Err(format!(
                "README.md has {} tables with the header `| {} |` (lines {:?}); keep one",
                more.len(),
                HEADER.join(" | "),
                more.iter().map(|i| i + 1).collect::<Vec<_>>()
            ));
        }
    };
    match lines.get(start + 1) {
        Some(line) if is_table_line(line) && is_separator(&cells(line)) => {}
        _ => return Err(format!("README.md:{}: no separator row under the header", start + 2)),
    }
    let mut rows = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(start + 2) {
        if !is_table_line(line) {
            break;
        }
        let cells = cells(line);
        let [name, range, default, _what] = cells.as_slice() else {
            return Err(format!("README.md:{}: {} cells, the table has 4: {line}", i + 1, cells.len()));
        };
        rows.push(Row { line: i + 1, name: name.clone(), range: range.clone(), default: default.clone() });
    }
    if rows.is_empty() {
        return Err(format!("README.md:{}: the parameter table has no rows", start + 1));
    }
    Ok(rows)
}

/// A leading number and the (trimmed) rest: `-24.0 dB` -> (-24, "dB"); `C4` -> None.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let text = text.trim();
    let end = text.find(|c: char| !matches!(c, '+' | '-' | '.' | '0'..='9')).unwrap_or(text.len());
    let value = text[..end].parse::<f64>().ok()?;
    Some((value, text[end..].trim()))
}

/// Whether the README's `written` is the host's `shown`: the same number and unit, or the same
/// text when either is not a number.
fn same_value(written: &str, shown: &str) -> bool {
    match (split_number(written), split_number(shown)) {
        (Some((a, unit_a)), Some((b, unit_b))) => (a - b).abs() <= 1e-9 * b.abs().max(1.0) && unit_a == unit_b,
        (None, None) => written.trim() == shown.trim(),
        _ => false,
    }
}

/// Compares `rows` with `real`; one message per difference.
fn differences(rows: &[Row], real: &[Real]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if rows[..i].iter().any(|earlier| earlier.name == row.name) {
            out.push(format!("README.md:{}: `{}` has two rows", row.line, row.name));
        }
        if !real.iter().any(|p| p.name == row.name) {
            out.push(format!(
                "README.md:{}: the plugin has no parameter `{}` (it has: {})",
                row.line,
                row.name,
                real.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for param in real {
        let Some(row) = rows.iter().find(|r| r.name == param.name) else {
            out.push(format!(
                "README.md: no row for the parameter `{}` (id `{}`; range {}, default {})",
                param.name,
                param.id,
                shown_range(&param.range),
                param.default
            ));
            continue;
        };
        if !same_value(&row.default, &param.default) {
            out.push(format!(
                "README.md:{}: `{}` defaults to `{}` in the README, `{}` in the plugin",
                row.line, param.name, row.default, param.default
            ));
        }
        if let Err(why) = range_matches(&row.range, &param.range) {
            out.push(format!(
                "README.md:{}: `{}` range `{}` in the README, `{}` in the plugin: {why}",
                row.line,
                param.name,
                row.range,
                shown_range(&param.range)
            ));
        }
    }
    out
}

fn shown_range(range: &RealRange) -> String {
    match range {
        RealRange::Span { min, max } => format!("{min} to {max}"),
        RealRange::Options(options) => options.join(" / "),
    }
}

fn range_matches(written: &str, real: &RealRange) -> Result<(), String> {
    match real {
        RealRange::Span { min, max } => {
            let Some((low, high)) = written.split_once(" to ") else {
                return Err("a number's range is written `MIN to MAX`".into());
            };
            // `1 to 40 dB`: the minimum takes the maximum's unit.
            let low = match (split_number(low), split_number(high)) {
                (Some((_, "")), Some((_, unit))) if !unit.is_empty() => format!("{low} {unit}"),
                _ => low.to_string(),
            };
            if !same_value(&low, min) {
                return Err(format!("minimum `{low}` is not `{min}`"));
            }
            if !same_value(high, max) {
                return Err(format!("maximum `{high}` is not `{max}`"));
            }
            Ok(())
        }
        RealRange::Options(options) => {
            let written: Vec<&str> = written.split(" / ").map(str::trim).collect();
            if written == *options {
                Ok(())
            } else {
                Err("a list's range names every option, in order, separated by ` / `".into())
            }
        }
    }
}

#[test]
fn the_readme_parameter_table_is_the_plugins() {
    let text = std::fs::read_to_string(readme_path()).expect("read README.md");
    let rows = parse_table(&text).unwrap_or_else(|e| panic!("{e}"));
    let real = real_parameters();
    let wrong = differences(&rows, &real);
    assert!(
        wrong.is_empty(),
        "the README's plugin parameter table does not match the plugin (the plugin is the \
         truth; fix README.md):\n{}",
        wrong.join("\n")
    );
}

/// The check is not vacuous: a changed default, a changed range, a missing row and a row that
/// is no parameter are each caught. Built from the plugin's own parameters, so this holds
/// whatever the README says.
#[test]
fn a_wrong_table_is_caught() {
    let real = real_parameters();
    assert!(!real.is_empty(), "the plugin has parameters");
    let exact: Vec<Row> = real
        .iter()
        .enumerate()
        .map(|(i, p)| Row {
            line: i + 3,
            name: p.name.clone(),
            range: shown_range(&p.range),
            default: p.default.clone(),
        })
        .collect();
    assert_eq!(differences(&exact, &real), Vec::<String>::new());

    for (i, param) in real.iter().enumerate() {
        // Another value the parameter can take, written as the host shows it.
        let other = match &param.range {
            RealRange::Span { min, max } => {
                if same_value(min, &param.default) {
                    max
                } else {
                    min
                }
            }
            RealRange::Options(options) => {
                options.iter().find(|o| **o != param.default).expect("a list has two options")
            }
        };
        let mut rows = exact.clone();
        rows[i].default = other.clone();
        let wrong = differences(&rows, &real);
        assert!(wrong.iter().any(|w| w.contains(&param.name)), "default {other} for {} not caught", param.name);

        let mut rows = exact.clone();
        rows[i].range = match &param.range {
            RealRange::Span { min, .. } => format!("{min} to {}", param.default),
            RealRange::Options(options) => options[1..].join(" / "),
        };
        if rows[i].range != exact[i].range {
            assert!(!differences(&rows, &real).is_empty(), "range {} for {} not caught", rows[i].range, param.name);
        }

        let mut rows = exact.clone();
        rows.remove(i);
        assert!(!differences(&rows, &real).is_empty(), "missing {} not caught", param.name);
    }

    let mut rows = exact.clone();
    rows.push(Row { line: 99, name: "Wet/dry".into(), range: "0 to 1".into(), default: "1".into() });
    assert!(!differences(&rows, &real).is_empty(), "a row that is no parameter not caught");
}

#[test]
fn values_compare_as_a_host_shows_them() {
    assert!(same_value("13 dB", "13.0 dB"));
    assert!(same_value("0.95", "0.950"));
    assert!(same_value("-24 dB", "-24.0 dB"));
    assert!(same_value("+24 dB", "24.0 dB"));
    assert!(same_value("C4", "C4"));
    assert!(!same_value("10 dB", "13.0 dB"));
    assert!(!same_value("13", "13.0 dB"));
    assert!(!same_value("13 ms", "13.0 dB"));
    assert!(!same_value("C5", "C4"));
    assert!(range_matches("1 to 40 dB", &RealRange::Span { min: "1.0 dB".into(), max: "40.0 dB".into() }).is_ok());
    assert!(range_matches("1 to 41 dB", &RealRange::Span { min: "1.0 dB".into(), max: "40.0 dB".into() }).is_err());
}
