//! Driving the plugin window without a window system: egui frames run on a plain `Context`
//! with the editor's `show()`, clicks are synthetic pointer events, and what was painted is
//! read back as text. Plus a scratch folder per test.

use std::path::PathBuf;

use egui::{Pos2, Rect, vec2};
use fsdd_plugin::editor::{self, EditorAction, EditorInput, StatusView};

/// The editor's size in logical points (what `Editor::size` reports to the host).
pub const WINDOW: egui::Vec2 = vec2(editor::WIDTH as f32, editor::HEIGHT as f32);

/// A scratch folder per test, removed when the test ends.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("fsdd-plugin-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Headless egui

/// Every text egui painted in a frame, with where it was painted.
pub fn painted_texts(shapes: &[egui::epaint::ClippedShape]) -> Vec<(String, Rect)> {
    fn walk(shape: &egui::Shape, out: &mut Vec<(String, Rect)>) {
        match shape {
            egui::Shape::Text(text) => {
                out.push((text.galley.text().to_owned(), text.galley.rect.translate(text.pos.to_vec2())))
            }
            egui::Shape::Vec(shapes) => shapes.iter().for_each(|s| walk(s, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for clipped in shapes {
        walk(&clipped.shape, &mut out);
    }
    out
}

/// One editor window without a window system: egui runs frames on a plain `Context`.
pub struct HeadlessEditor {
    ctx: egui::Context,
    time: f64,
}

impl HeadlessEditor {
    pub fn new() -> Self {
        HeadlessEditor { ctx: egui::Context::default(), time: 0.0 }
    }

    /// Runs one frame of the window (`editor::show`: `draw` on its panel) with `events`;
    /// returns the painted texts and the action the frame produced.
    pub fn frame(
        &mut self,
        view: &StatusView,
        input: &mut EditorInput,
        events: Vec<egui::Event>,
    ) -> (Vec<(String, Rect)>, Option<EditorAction>) {
        self.time += 1.0 / 30.0;
        let raw = egui::RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, WINDOW)),
            time: Some(self.time),
            events,
            ..Default::default()
        };
        let mut action = None;
        let output = self.ctx.run_ui(raw, |ui| {
            if let Some(a) = editor::show(ui, view, input) {
                action = Some(a);
            }
        });
        let texts = painted_texts(&output.shapes);
        // Nothing renders here, so the font-atlas uploads are not applied anywhere.
        output.drop_without_applying_deltas();
        (texts, action)
    }

    /// A frame after layout has settled (egui sizes some widgets in a first pass).
    pub fn texts(&mut self, view: &StatusView, input: &mut EditorInput) -> Vec<String> {
        self.frame(view, input, vec![]);
        let (texts, _) = self.frame(view, input, vec![]);
        texts.into_iter().map(|(t, _)| t).collect()
    }

    /// Everything fits the window the plugin asks the host for, unscrolled.
    pub fn assert_fits(&mut self, view: &StatusView, input: &mut EditorInput) {
        let (placed, _) = self.frame(view, input, vec![]);
        let window = Rect::from_min_size(Pos2::ZERO, WINDOW);
        for (text, rect) in &placed {
            assert!(window.contains_rect(*rect), "{text:?} at {rect:?} is outside the {WINDOW:?} window");
        }
    }

    /// Clicks the widget whose label is `label` (press and release over it); the first one if
    /// several have it.
    pub fn click(&mut self, view: &StatusView, input: &mut EditorInput, label: &str) -> Option<EditorAction> {
        self.click_where(view, input, label, false)
    }

    /// The same, the last one with the label (the digit picker's "7" after the big "7").
    pub fn click_last(&mut self, view: &StatusView, input: &mut EditorInput, label: &str) -> Option<EditorAction> {
        self.click_where(view, input, label, true)
    }

    fn click_where(
        &mut self,
        view: &StatusView,
        input: &mut EditorInput,
        label: &str,
        last: bool,
    ) -> Option<EditorAction> {
        let (texts, _) = self.frame(view, input, vec![]);
        let mut found = texts.iter().filter(|(t, _)| t == label);
        let hit = if last { found.next_back() } else { found.next() };
        let (_, rect) = hit.unwrap_or_else(|| panic!("no {label:?} on screen: {texts:?}"));
        let pos = rect.center();
        let button = |pressed| egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: Default::default(),
        };
        let mut action = None;
        for events in [vec![egui::Event::PointerMoved(pos)], vec![button(true)], vec![button(false)], vec![]] {
            let (_, a) = self.frame(view, input, events);
            action = action.or(a);
        }
        action
    }
}

pub fn contains(texts: &[String], needle: &str) -> bool {
    texts.iter().any(|t| t.contains(needle))
}
