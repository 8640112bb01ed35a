//! What one dashboard redraw costs: a full frame of a busy dashboard (10 detections, a matrix,
//! saliency, a live MFCC window) into a 120x40 and a 200x60 buffer. At ~30 fps, CPU use of the
//! UI thread is about 30 x this time.

use criterion::{Criterion, criterion_group, criterion_main};
use fsdd_core::{Recognizer, RecognizerConfig, ScoringMode};
use fsdd_tui::dashboard::app::{App, SourceInfo};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

fn busy_app() -> App {
    let dir = std::env::var_os("FSDD_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fsdd/recordings"));
    let model = std::sync::Arc::new(fsdd_core::Model::embedded().expect("embedded model"));
    let mut recognizer = Recognizer::new(model, RecognizerConfig::default());
    let mut app = App::new(SourceInfo { description: "bench".into(), input_rate: 8000 }, ScoringMode::Base, 0.9, 2);
    app.toggle_quiz();
    for d in 0..10 {
        let clip = fsdd_core::signal::audio::read_wav(dir.join(format!("{d}_george_{d}.wav"))).expect("FSDD file");
        let mut audio = vec![0.0f32; 4000];
        audio.extend_from_slice(&clip.samples);
        audio.extend(std::iter::repeat_n(0.0, 4000));
        let mut found = Vec::new();
        recognizer.push(&audio, &mut |det| found.push(det));
        for det in found {
            app.on_live(recognizer.live().clone());
            app.on_detection(det);
        }
    }
    app
}

fn render(c: &mut Criterion) {
    let app = busy_app();
    for (w, h) in [(120u16, 40u16), (200, 60)] {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        c.bench_function(&format!("render_dashboard_{w}x{h}"), |b| {
            b.iter(|| {
                buf.reset();
                fsdd_tui::dashboard::ui::render_into(&app, area, &mut buf);
            })
        });
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
