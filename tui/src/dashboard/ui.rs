//! Pure rendering: [`render`] draws the whole dashboard from an [`App`] into a ratatui frame.
//! No I/O and no state changes, so every panel can be checked with ratatui's `TestBackend`.

use fsdd_core::DetectionKind;
use fsdd_core::inference::model::{N_DIGITS, NOT_A_DIGIT};
use fsdd_core::inference::saliency::{N_BANDS, N_SLICES};
use fsdd_core::labels::{N_LABELS, kind_label, label_name};
use fsdd_core::signal::mfcc::{FEATURE_LEN, N_FRAMES, N_MFCC};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, Widget, Wrap};

use crate::dashboard::app::{App, DIGIT_WORDS, LabelSource, LastDecision, NOT_A_DIGIT_LABEL, label_words};
use crate::dashboard::enrollment::EnrollmentStep;
use crate::dashboard::events::{FOOTER, KEY_HELP};

/// Smallest terminal the full dashboard fits in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Level meter range, dBFS.
const METER_MIN_DB: f32 = -90.0;

const ACCENT: Color = Color::Cyan;
const GOOD: Color = Color::Green;
const BAD: Color = Color::Red;
const DIM: Color = Color::DarkGray;

/// Draws the dashboard.
pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    render_into(app, area, buf);
}

/// Draws the dashboard into any buffer area (what [`render`] does for a frame).
pub fn render_into(app: &App, area: Rect, buf: &mut Buffer) {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "fsdd-tui needs at least {MIN_WIDTH}x{MIN_HEIGHT} (this terminal is {}x{}). q quits.",
            area.width, area.height
        );
        Paragraph::new(msg).wrap(Wrap { trim: true }).render(area, buf);
        return;
    }
    let [header, body, footer] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(10), Constraint::Length(1)]).areas(area);
    render_header(app, header, buf);
    render_footer(footer, buf);

    // Left: what the recognizer sees (MFCC, level) and the running score; right: what it
    // thinks now (bars), why (saliency), and what it decided (history).
    let left_width = (N_FRAMES as u16 + 2).min(body.width / 2);
    let [left, right] = Layout::horizontal([Constraint::Length(left_width), Constraint::Min(30)]).areas(body);
    let [heat, meter, voice, confusion] = Layout::vertical([
        Constraint::Min(6),
        Constraint::Length(3),
        Constraint::Length(4),
        Constraint::Length(N_LABELS as u16 + 4),
    ])
    .areas(left);
    render_heatmap(app, heat, buf);
    render_level(app, meter, buf);
    render_voice(app, voice, buf);
    render_confusion(app, confusion, buf);

    let [probs, saliency, history] =
        Layout::vertical([Constraint::Length(N_LABELS as u16 + 2), Constraint::Length(12), Constraint::Min(4)])
            .areas(right);
    render_probabilities(app, probs, buf);
    render_saliency(app, saliency, buf);
    render_history(app, history, buf);

    if app.enrollment.is_some() {
        render_enrollment(app, right, buf);
    }
    if app.show_help {
        render_help(area, buf);
    }
}

fn render_header(app: &App, area: Rect, buf: &mut Buffer) {
    let mode_style = Style::new().fg(ACCENT).add_modifier(Modifier::BOLD);
    let mut first = vec![
        Span::styled("fsdd-tui ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!("| {} ", app.source.description)),
        Span::raw("| mode "),
        Span::styled(app.mode.to_string(), mode_style),
        Span::raw(format!(" | early exit p>={:.2} x{} ", app.threshold, app.consecutive)),
    ];
    if app.voice.is_enrolled() {
        first.push(Span::styled("| your voice ", Style::new().fg(GOOD)));
    }
    first.push(Span::styled(
        format!("| {:.0} fps cpu {:.0}%", app.stats.fps, app.stats.cpu_percent),
        Style::new().fg(DIM),
    ));
    let mut second = Vec::new();
    if let Some(quiz) = &app.quiz {
        second.push(Span::styled(
            format!(" QUIZ: say \"{}\" ({}) ", DIGIT_WORDS[quiz.prompt as usize].to_uppercase(), quiz.prompt),
            Style::new().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
        if let Some((asked, heard)) = quiz.last_result {
            let (text, color) = if asked == heard {
                (format!(" last: {asked} right "), GOOD)
            } else if heard == NOT_A_DIGIT_LABEL {
                (format!(" last: asked {asked}, heard not a digit "), BAD)
            } else {
                (format!(" last: asked {asked}, heard {heard} "), BAD)
            };
            second.push(Span::styled(text, Style::new().fg(color)));
        }
        second.push(Span::raw(" "));
    }
    if app.input_finished {
        second.push(Span::styled("input finished ", Style::new().fg(GOOD)));
    }
    if let Some(status) = &app.status {
        second.push(Span::styled(status.clone(), Style::new().fg(Color::Yellow)));
    }
    Paragraph::new(vec![Line::from(first), Line::from(second)]).render(area, buf);
}

fn render_footer(area: Rect, buf: &mut Buffer) {
    Paragraph::new(Line::from(Span::styled(FOOTER, Style::new().fg(Color::Black).bg(Color::Gray)))).render(area, buf);
}

/// Value -> colour, a dark-blue .. yellow ramp (viridis-like).
pub fn heat_color(t: f32) -> Color {
    const STOPS: [(u8, u8, u8); 5] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 } * (STOPS.len() - 1) as f32;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f32;
    let lerp = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    Color::Rgb(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// Per-window colour scaling: coefficient 0 (overall energy) on its own range, the others on a
/// shared one, so the spectral shape stays visible whatever the loudness.
pub fn heat_scales(mfcc: &[f32; FEATURE_LEN]) -> [(f32, f32); 2] {
    let range = |vals: &mut dyn Iterator<Item = f32>| {
        let (mut lo, mut hi) = (f32::MAX, f32::MIN);
        for v in vals.filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi { (0.0, 1.0) } else { (lo, (hi - lo).max(1e-6)) }
    };
    [range(&mut mfcc[..N_FRAMES].iter().copied()), range(&mut mfcc[N_FRAMES..].iter().copied())]
}

/// The 64x64 MFCC window as a heat map: time left to right, coefficient 0 at the bottom; each
/// character cell shows two rows with a half block.
pub struct HeatMap<'a> {
    pub mfcc: &'a [f32; FEATURE_LEN],
}

impl Widget for HeatMap<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        let scales = heat_scales(self.mfcc);
        let pixel_rows = area.height as usize * 2;
        let value = |px: usize, py: usize| {
            let frame = px * N_FRAMES / area.width as usize;
            let coef = N_MFCC - 1 - (py * N_MFCC / pixel_rows).min(N_MFCC - 1);
            let (lo, span) = scales[(coef > 0) as usize];
            (self.mfcc[coef * N_FRAMES + frame] - lo) / span
        };
        for row in 0..area.height as usize {
            for col in 0..area.width as usize {
                let upper = heat_color(value(col, 2 * row));
                let lower = heat_color(value(col, 2 * row + 1));
                if let Some(cell) = buf.cell_mut((area.x + col as u16, area.y + row as u16)) {
                    cell.set_char('▀').set_fg(upper).set_bg(lower);
                }
            }
        }
    }
}

fn render_heatmap(app: &App, area: Rect, buf: &mut Buffer) {
    let title = match app.enrollment.as_ref().and_then(|e| e.reviewing()) {
        Some(c) => format!(" captured \"{}\": MFCC 64x64 ", DIGIT_WORDS[c.digit as usize]),
        None => " MFCC window 64 coef x 64 frames (1.024 s) ".to_string(),
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    HeatMap { mfcc: app.mfcc_to_show() }.render(inner, buf);
}

/// `width` cells filled to `fraction` with eighth blocks.
pub fn bar_string(fraction: f32, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (fraction.clamp(0.0, 1.0) * width as f32 * 8.0).round() as usize;
    let mut s: String = "█".repeat(eighths / 8);
    if eighths / 8 < width {
        s.push(PARTS[eighths % 8]);
    }
    while s.chars().count() < width {
        s.push(' ');
    }
    s
}

fn render_level(app: &App, area: Rect, buf: &mut Buffer) {
    let live = &app.live;
    let (vad_text, vad_style) = if live.speech {
        ("● SPEECH", Style::new().fg(Color::Black).bg(GOOD).add_modifier(Modifier::BOLD))
    } else {
        ("○ silence", Style::new().fg(DIM))
    };
    let title = if live.dropped > 0 {
        format!(" input level / VAD  (dropped {} samples) ", live.dropped)
    } else {
        " input level / VAD ".to_string()
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let label = format!("{:>4.0} dB ", live.level_db.max(METER_MIN_DB));
    let tail = format!(" floor {:>4.0} dB ", live.noise_floor_db);
    let bar_width = (inner.width as usize).saturating_sub(label.len() + tail.len() + vad_text.chars().count());
    let fraction = (live.level_db - METER_MIN_DB) / -METER_MIN_DB;
    let color = if live.level_db > -6.0 {
        BAD
    } else if live.speech {
        GOOD
    } else {
        ACCENT
    };
    let mut bar: Vec<char> = bar_string(fraction, bar_width).chars().collect();
    // Mark where the noise floor sits on the meter.
    let floor_pos =
        (((live.noise_floor_db - METER_MIN_DB) / -METER_MIN_DB).clamp(0.0, 1.0) * bar_width as f32) as usize;
    if floor_pos < bar.len() && bar[floor_pos] == ' ' {
        bar[floor_pos] = '┊';
    }
    let line = Line::from(vec![
        Span::raw(label),
        Span::styled(bar.into_iter().collect::<String>(), Style::new().fg(color)),
        Span::styled(tail, Style::new().fg(DIM)),
        Span::styled(vad_text, vad_style),
    ]);
    Paragraph::new(line).render(inner, buf);
}

/// Width of the probability bars' labels ("7 seven", "not a digit") with a space after.
const PROB_LABEL_WIDTH: usize = 12;

/// One line per digit: bar, probability, and the early-exit threshold marked with `┃`; then
/// "not a digit" (no marker: early exit only ever decides digits).
fn render_probabilities(app: &App, area: Rect, buf: &mut Buffer) {
    let probs = &app.live.probs;
    let top = fsdd_core::streaming::early_exit::top(probs).0 as usize;
    let any = probs.iter().any(|&p| p > 0.0);
    let block =
        Block::bordered().title(format!(" digit probabilities ({}; ┃ = early-exit {:.2}) ", app.mode, app.threshold));
    let inner = block.inner(area);
    block.render(area, buf);
    let bar_width = (inner.width as usize).saturating_sub(PROB_LABEL_WIDTH + 6).max(4);
    let marker = ((app.threshold * bar_width as f32).round() as usize).min(bar_width - 1);
    let mut lines: Vec<Line> = (0..N_DIGITS)
        .map(|d| {
            let p = probs[d];
            let is_top = any && d == top;
            let color = if is_top && p >= app.threshold {
                GOOD
            } else if is_top {
                Color::Yellow
            } else {
                ACCENT
            };
            let bar: Vec<char> = bar_string(p, bar_width).chars().collect();
            let (before, after) = bar.split_at(marker);
            let label_style = if is_top { Style::new().add_modifier(Modifier::BOLD) } else { Style::new() };
            Line::from(vec![
                Span::styled(format!("{:<PROB_LABEL_WIDTH$}", format!("{d} {}", DIGIT_WORDS[d])), label_style),
                Span::styled(before.iter().collect::<String>(), Style::new().fg(color)),
                Span::styled("┃", Style::new().fg(Color::Magenta)),
                Span::styled(after[1..].iter().collect::<String>(), Style::new().fg(color)),
                Span::styled(format!(" {p:.2}"), label_style),
            ])
        })
        .collect();
    let label = format!("{:<PROB_LABEL_WIDTH$}", "not a digit");
    lines.push(if app.model_rejects {
        let p = probs[NOT_A_DIGIT];
        let is_top = any && top == NOT_A_DIGIT;
        let (bar_style, label_style) = if is_top {
            (Style::new().fg(Color::LightRed), Style::new().add_modifier(Modifier::BOLD))
        } else {
            (Style::new().fg(Color::Gray), Style::new())
        };
        Line::from(vec![
            Span::styled(label, label_style),
            Span::styled(bar_string(p, bar_width), bar_style),
            Span::styled(format!(" {p:.2}"), label_style),
        ])
    } else {
        Line::from(Span::styled(
            format!("{label}(this model has no such output: it never rejects)"),
            Style::new().fg(DIM),
        ))
    });
    Paragraph::new(lines).render(inner, buf);
}

fn render_saliency(app: &App, area: Rect, buf: &mut Buffer) {
    let s = match &app.last_decision {
        Some(LastDecision::Digit(s)) => s,
        Some(LastDecision::Rejected { confidence, closest: (digit, p) }) => {
            let block = Block::bordered().title(" why: the last sound was not a digit ");
            let inner = block.inner(area);
            block.render(area, buf);
            let lines = vec![
                Line::from(Span::styled(
                    format!("not a digit (p {confidence:.2}): another word, or a noise"),
                    Style::new().add_modifier(Modifier::BOLD),
                )),
                Line::from(format!("closest digit: {digit} \"{}\" (p {p:.2})", label_words(*digit))),
                Line::from(""),
                Line::from(Span::styled("No saliency: it shows what made a digit that digit.", Style::new().fg(DIM))),
            ];
            Paragraph::new(lines).wrap(Wrap { trim: true }).render(inner, buf);
            return;
        }
        None => {
            let block = Block::bordered().title(" why: saliency of the last decision ");
            let inner = block.inner(area);
            block.render(area, buf);
            Paragraph::new(Span::styled("no decision yet", Style::new().fg(DIM))).render(inner, buf);
            return;
        }
    };
    // The relative view: what this word depended on more than on the typical band or moment.
    // The absolute drops saturate (several bands near 1 for most words), so words look alike.
    let r = s.relative();
    let block = Block::bordered().title(format!(" why \"{}\": what stood out ", DIGIT_WORDS[s.digit as usize]));
    let inner = block.inner(area);
    block.render(area, buf);
    let bar_width = (inner.width as usize).saturating_sub(22).max(4);
    let top_band = r.top_band();
    let band_hz = s.band_hz();
    let mut lines = Vec::with_capacity(N_BANDS + 2);
    // Highest band first, like a spectrogram. The number: how much more occluding the band
    // lowered the digit's log-odds than occluding the typical (median) band did.
    for b in (0..N_BANDS).rev() {
        let (lo, hi) = band_hz[b];
        let style = if Some(b) == top_band {
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(ACCENT)
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{lo:>4.0}-{hi:<4.0}Hz ")),
            Span::styled(bar_string(r.bands[b], bar_width), style),
            Span::raw(format!(" {:+.1}", r.band_excess[b])),
        ]));
    }
    lines.push(Line::from(vec![
        Span::raw("when: 0 ms "),
        Span::styled(time_strip(&r.frames, |t| s.slice_has_audio(t)), Style::new().fg(Color::Yellow)),
        Span::raw(" 1024 ms"),
    ]));
    lines.push(Line::from(Span::styled(
        standout_summary(top_band.map(|b| band_hz[b]), r.top_slice()),
        Style::new().add_modifier(Modifier::BOLD),
    )));
    Paragraph::new(lines).render(inner, buf);
}

/// One character per time slice: its relative importance as a block height, `·` where the slice
/// holds no audio (the zero padding after a short word: occluding it changes nothing).
fn time_strip(relative: &[f32; N_SLICES], has_audio: impl Fn(usize) -> bool) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    relative
        .iter()
        .enumerate()
        .map(|(t, &v)| if has_audio(t) { LEVELS[(v.clamp(0.0, 1.0) * 7.0).round() as usize] } else { '·' })
        .collect()
}

/// The saliency panel's last line: the band and the moment that stood out, if any did.
fn standout_summary(band_hz: Option<(f32, f32)>, slice: Option<usize>) -> String {
    let slice_ms = 1024 / N_SLICES;
    let band = band_hz.map(|(lo, hi)| format!("{lo:.0}-{hi:.0} Hz"));
    let when = slice.map(|t| format!("{}-{} ms", t * slice_ms, (t + 1) * slice_ms));
    match (band, when) {
        (Some(band), Some(when)) => format!("stood out: {band}, {when}"),
        (Some(band), None) => format!("stood out: {band}, no moment"),
        (None, Some(when)) => format!("stood out: {when}, no band"),
        (None, None) => "nothing stood out: all alike".into(),
    }
}

/// How the history shows a label: the digit, or `—` for not a digit.
fn history_label(label: u8) -> String {
    if label == NOT_A_DIGIT_LABEL { "—".into() } else { label.to_string() }
}

/// An `--input` file name as the history shows it: without its `.wav`, to leave room for long
/// names (Speech Commands' `house_sc2aa787cf_0`).
fn source_label(name: Option<&str>) -> String {
    let name = name.unwrap_or_default();
    match name.len().checked_sub(4) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".wav") => name[..cut].to_string(),
        _ => name.to_string(),
    }
}

fn render_history(app: &App, area: Rect, buf: &mut Buffer) {
    let header = Row::new(["dig", "conf", "kind", "vs end", "compute", "truth", "from"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    // "not a digit" is wider than early/final/unsure: the column grows only when one is shown.
    let kind_width =
        app.history.iter().map(|e| kind_label(e.detection.kind).chars().count()).fold(6, usize::max) as u16;
    let rows = app.history.iter().map(|e| {
        let d = &e.detection;
        let kind = kind_label(d.kind);
        let vs_end = match (e.decision_vs_end_ms(), d.end) {
            (Some(ms), Some(_)) => format!("{ms:+.0}ms"),
            (Some(ms), None) => format!("~{ms:+.0}ms"),
            (None, _) => "...".into(),
        };
        let truth = match e.truth {
            Some((t, src)) => {
                let tag = match src {
                    LabelSource::Quiz => "q",
                    LabelSource::FileName => "f",
                    LabelSource::User => "u",
                };
                let mark = if t == e.label() { "✓" } else { "✗" };
                format!("{mark}{}{tag}", history_label(t))
            }
            None => "-".into(),
        };
        let color = match e.is_correct() {
            Some(true) => GOOD,
            Some(false) => BAD,
            None => Color::Reset,
        };
        let kind_style = match d.kind {
            DetectionKind::Early => Style::new().fg(ACCENT),
            DetectionKind::Final => Style::new(),
            DetectionKind::Unsure => Style::new().fg(DIM),
            DetectionKind::Rejected => Style::new().fg(Color::LightRed),
        };
        Row::new(vec![
            ratatui::widgets::Cell::from(format!(" {}", history_label(e.label())))
                .style(Style::new().add_modifier(Modifier::BOLD)),
            ratatui::widgets::Cell::from(format!("{:.2}", d.confidence)),
            ratatui::widgets::Cell::from(kind).style(kind_style),
            ratatui::widgets::Cell::from(vs_end),
            ratatui::widgets::Cell::from(format!("{:.1}ms", d.compute_us as f32 / 1000.0)),
            ratatui::widgets::Cell::from(truth).style(Style::new().fg(color)),
            ratatui::widgets::Cell::from(source_label(e.source_name.as_deref())).style(Style::new().fg(DIM)),
        ])
    });
    let widths = [
        Constraint::Length(3),
        Constraint::Length(4),
        Constraint::Length(kind_width),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Min(0),
    ];
    Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(Block::bordered().title(format!(" detections ({}) newest first ", app.history.len())))
        .render(area, buf);
}

fn render_confusion(app: &App, area: Rect, buf: &mut Buffer) {
    let m = &app.confusion;
    let block = Block::bordered().title(" confusion (row true, col heard) ");
    let inner = block.inner(area);
    block.render(area, buf);
    // Digits 0-9 and "not" (not a digit); columns narrow to 3 cells in a narrow panel.
    let cell = if inner.width as usize >= 3 + 4 * N_LABELS { 4 } else { 3 };
    let mut lines = Vec::with_capacity(N_LABELS + 2);
    let mut head = vec![Span::styled("t\\h", Style::new().fg(DIM))];
    head.extend(
        (0..N_LABELS)
            .map(|c| Span::styled(format!("{:>cell$}", label_name(c)), Style::new().add_modifier(Modifier::BOLD))),
    );
    lines.push(Line::from(head));
    for (r, row) in m.counts.iter().enumerate() {
        let mut spans = vec![Span::styled(format!("{:>3}", label_name(r)), Style::new().add_modifier(Modifier::BOLD))];
        for (c, &v) in row.iter().enumerate() {
            let style = match (v, r == c) {
                (0, _) => Style::new().fg(DIM),
                (_, true) => Style::new().fg(GOOD).add_modifier(Modifier::BOLD),
                (_, false) => Style::new().fg(BAD).add_modifier(Modifier::BOLD),
            };
            let text = if v == 0 { format!("{:>cell$}", "·") } else { format!("{v:>cell$}") };
            spans.push(Span::styled(text, style));
        }
        lines.push(Line::from(spans));
    }
    let total = m.total();
    lines.push(Line::from(if total == 0 {
        Span::styled("no labelled detections (t quiz, 0-9/n correct)", Style::new().fg(DIM))
    } else {
        Span::styled(
            format!("acc {:.1}% ({}/{})  macro-F1 {:.2}", 100.0 * m.accuracy(), m.correct(), total, m.macro_f1()),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }));
    Paragraph::new(lines).render(inner, buf);
}

/// The enrolled voice: takes per digit, how many came from corrections, and what a key would
/// teach or undo now.
fn render_voice(app: &App, area: Rect, buf: &mut Buffer) {
    let v = &app.voice;
    let total: usize = v.counts.iter().sum();
    let block = Block::bordered().title(format!(" your voice: {total} takes "));
    let inner = block.inner(area);
    block.render(area, buf);
    let first = if v.is_enrolled() {
        let cells: Vec<String> = v.counts.iter().enumerate().map(|(d, n)| format!("{d}:{n}")).collect();
        Line::from(vec![
            Span::raw(cells.join(" ")),
            Span::styled(format!("  +{} corrected", v.corrections), Style::new().fg(DIM)),
        ])
    } else {
        Line::from(Span::styled("none enrolled: press e (or correct a detection, then a)", Style::new().fg(DIM)))
    };
    let second = match (&app.teach_offer, v.undoable) {
        (Some(offer), _) => Line::from(Span::styled(
            format!("a: add the last word as {} ({})", offer.digit, DIGIT_WORDS[offer.digit as usize]),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        )),
        (None, Some(digit)) => Line::from(Span::styled(
            format!("taught a {digit} ({}); u undoes", DIGIT_WORDS[digit as usize]),
            Style::new().fg(GOOD),
        )),
        (None, None) => Line::from(Span::styled("0-9 corrects a detection; a adds its word", Style::new().fg(DIM))),
    };
    Paragraph::new(vec![first, second]).render(inner, buf);
}

fn render_enrollment(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(e) = &app.enrollment else { return };
    let popup = area.centered(Constraint::Length(area.width.min(56)), Constraint::Length(area.height.min(13)));
    Clear.render(popup, buf);
    let counts = e.counts();
    let done: usize = counts.iter().sum();
    let block = Block::bordered()
        .title(format!(" enrollment {done}/{} ", 10 * e.per_digit()))
        .border_style(Style::new().fg(Color::Yellow));
    let inner = block.inner(popup);
    block.render(popup, buf);
    let big = Style::new().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    match e.step() {
        EnrollmentStep::Listening { digit, take, of } => {
            lines.push(Line::from(vec![
                Span::raw("Say  "),
                Span::styled(format!(" {} ", DIGIT_WORDS[digit as usize].to_uppercase()), big),
                Span::raw(format!("  (take {take} of {of})")),
            ]));
            lines.push(Line::from(if app.live.speech { "hearing you..." } else { "listening..." }));
        }
        EnrollmentStep::Reviewing { digit, take, of } => {
            let heard = e.reviewing_heard();
            lines.push(Line::from(vec![
                Span::raw("Captured "),
                Span::styled(format!(" {} ", DIGIT_WORDS[digit as usize].to_uppercase()), big),
                Span::raw(format!("  (take {take} of {of})")),
            ]));
            let ok = heard.is_some_and(|(h, _)| h == Some(digit));
            let said = match heard {
                Some((Some(h), confidence)) => {
                    format!("model heard \"{}\" ({confidence:.2})", label_words(h))
                }
                Some((None, confidence)) => format!("model heard not a digit ({confidence:.2})"),
                None => "model heard nothing sure".to_string(),
            };
            let length = e.reviewing().map_or(0.0, |t| t.duration_ms());
            lines.push(Line::from(Span::styled(
                format!("{said}; {length:.0} ms; MFCC shown on the left"),
                Style::new().fg(if ok { GOOD } else { Color::Yellow }),
            )));
            lines.push(Line::from(Span::styled("Enter keep   r redo", Style::new().add_modifier(Modifier::BOLD))));
        }
        EnrollmentStep::Done => lines.push(Line::from("done")),
    }
    lines.push(Line::from(""));
    let cells: Vec<Span> = (0..10)
        .flat_map(|d| {
            let filled = counts[d].min(e.per_digit());
            let marks = format!("{}{}", "■".repeat(filled), "□".repeat(e.per_digit() - filled));
            let style = if Some(d as u8) == e.prompt() { Style::new().fg(Color::Yellow) } else { Style::new() };
            [Span::styled(format!("{d}"), style.add_modifier(Modifier::BOLD)), Span::styled(format!("{marks} "), style)]
        })
        .collect();
    lines.push(Line::from(cells));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Esc cancels (nothing saved). Your voice is saved at the end.",
        Style::new().fg(DIM),
    )));
    Paragraph::new(lines).wrap(Wrap { trim: false }).render(inner, buf);
}

fn render_help(area: Rect, buf: &mut Buffer) {
    let height = KEY_HELP.len() as u16 + 5;
    let popup = area.centered(Constraint::Length(area.width.min(72)), Constraint::Length(height.min(area.height)));
    Clear.render(popup, buf);
    let block = Block::bordered().title(" help: keys (any key closes) ").border_style(Style::new().fg(ACCENT));
    let inner = block.inner(popup);
    block.render(popup, buf);
    let mut lines: Vec<Line> = KEY_HELP
        .iter()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::styled(format!("{keys:>13}  "), Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "History: vs end = decision time minus end of speech (~ = estimated).",
        Style::new().fg(DIM),
    )));
    lines.push(Line::from(Span::styled(
        "— = not a digit (another word or a noise); \"not\" in the matrix.",
        Style::new().fg(DIM),
    )));
    Paragraph::new(lines).render(inner, buf);
}
