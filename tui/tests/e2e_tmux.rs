//! The real binary in a real (tmux) terminal, driven as a person would: keys in with
//! `send-keys`, screen out with `capture-pane`. One test plays files with --input, one captures
//! through the real cpal/ALSA path from a file-backed ALSA device (HOME with an .asoundrc), one
//! checks that a panic leaves the terminal usable. No real terminal needs to be attached: each
//! test runs its own tmux server on a private socket.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bin, concatenate, fsdd_file, run, stderr};

struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` (a shell line) in a detached w x h session with `env` set.
    fn start(name: &str, command: &str, env: &[(&str, &str)], w: u16, h: u16) -> Self {
        let socket = format!("fsdd-tui-test-{name}-{}", std::process::id());
        let t = Tmux { socket };
        let mut args: Vec<String> =
            vec!["new-session".into(), "-d".into(), "-x".into(), w.to_string(), "-y".into(), h.to_string()];
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        args.push(command.into());
        let out = t.tmux(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "tmux new-session: {}", stderr(&out));
        t
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("-f")
            .arg("/dev/null")
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux is installed")
    }

    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success());
    }

    /// Polls the screen until `pred` holds; panics with the last screen after `timeout`.
    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// Runs the binary, then reports its exit code and whether the tty is back in cooked mode.
fn shell_line(args: &str) -> String {
    format!(
        "sh -c '\"{}\" {args}; echo \"EXIT=$?\"; stty -a | grep -o -- \"-*icanon\" | sed s/^/TTY=/; sleep 600'",
        bin().display()
    )
}

fn copy_fsdd(dir: &Path, names: &[&str]) {
    for n in names {
        std::fs::copy(fsdd_file(n), dir.join(n)).unwrap();
    }
}

#[test]
fn dashboard_plays_input_files_answers_keys_and_restores_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("words");
    std::fs::create_dir(&data).unwrap();
    let names = ["1_george_2.wav", "5_jackson_1.wav", "7_lucas_3.wav", "8_yweweler_0.wav"];
    copy_fsdd(&data, &names);
    let home = tmp.path().display().to_string();
    let t = Tmux::start(
        "input",
        &shell_line(&format!("--input {} --speed 2", data.display())),
        &[("HOME", &home), ("XDG_CONFIG_HOME", &home)],
        140,
        44,
    );
    let screen = t.wait_for("all files decided", Duration::from_secs(60), |s| s.contains("input finished"));
    assert!(screen.contains("digit probabilities") && screen.contains("MFCC window"), "{screen}");
    assert!(screen.contains("detections (4)"), "{screen}");
    for n in names {
        let digit = &n[..1];
        assert!(
            screen.contains(&format!("✓{digit}f")) || screen.contains(&format!("✗{digit}f")),
            "row for {n}:\n{screen}"
        );
    }
    let right = screen.matches('✓').count();
    assert!(right >= 3, "{right}/4 right:\n{screen}");
    assert!(screen.contains(&format!("acc {:.1}% ({right}/4)", 100.0 * right as f64 / 4.0)), "{screen}");

    t.keys(&["?"]);
    t.wait_for("help overlay", Duration::from_secs(5), |s| s.contains("help: keys"));
    t.keys(&["Space"]);
    t.wait_for("help closed", Duration::from_secs(5), |s| !s.contains("help: keys"));
    t.keys(&["t"]);
    t.wait_for("quiz prompt", Duration::from_secs(5), |s| s.contains("QUIZ: say"));
    // Correct the newest detection to 0: the matrix gains a 0 row entry.
    t.keys(&["0"]);
    t.wait_for("correction", Duration::from_secs(5), |s| s.contains("last detection labelled 0"));
    // n: it was not a digit at all; the matrix's "not" row takes it.
    t.keys(&["n"]);
    let screen = t.wait_for("not-a-digit correction", Duration::from_secs(5), |s| {
        s.contains("last detection labelled not a digit")
    });
    assert!(screen.contains("✓—u") || screen.contains("✗—u"), "history truth column:\n{screen}");

    // Resize: too small says so, big enough lays out again.
    assert!(t.tmux(&["resize-window", "-t", "0", "-x", "60", "-y", "16"]).status.success());
    t.wait_for("small-terminal notice", Duration::from_secs(5), |s| s.contains("needs at least 80x24"));
    assert!(t.tmux(&["resize-window", "-t", "0", "-x", "100", "-y", "30"]).status.success());
    let screen = t.wait_for("relayout", Duration::from_secs(5), |s| s.contains("digit probabilities"));
    assert!(screen.lines().all(|l| l.chars().count() <= 100), "{screen}");
    t.keys(&["q"]);
    let screen = t.wait_for("exit", Duration::from_secs(10), |s| s.contains("TTY="));
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("TTY=icanon"), "terminal back in cooked mode:\n{screen}");
    assert!(!screen.contains("digit probabilities"), "alternate screen left:\n{screen}");
}

#[test]
fn a_panic_inside_the_dashboard_restores_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    copy_fsdd(tmp.path(), &["3_theo_1.wav"]);
    let home = tmp.path().display().to_string();
    let wav = tmp.path().join("3_theo_1.wav");
    let t = Tmux::start(
        "panic",
        &shell_line(&format!("--input {} --debug-panic-after-ms 500", wav.display())),
        &[("HOME", &home), ("XDG_CONFIG_HOME", &home)],
        120,
        40,
    );
    let screen = t.wait_for("exit after the panic", Duration::from_secs(20), |s| s.contains("TTY="));
    assert!(screen.contains("panicked") && screen.contains("--debug-panic-after-ms"), "{screen}");
    assert!(screen.contains("EXIT=101"), "{screen}");
    assert!(screen.contains("TTY=icanon"), "{screen}");
}

#[test]
fn live_capture_through_cpal_and_alsa_from_a_file_device() {
    // The default ALSA capture device reads raw frames from a file (see FIELD-NOTES). Its "null"
    // slave has no clock, so a plain file would be swallowed in milliseconds; a FIFO written at
    // real-time pace makes it behave like a microphone: the capture thread blocks until the
    // next 10 ms of audio arrives.
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("in.raw");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // Holding it open read-write lets ALSA open it at once and never see end-of-file.
    // Non-blocking writes, so the feeder can stop even when nobody reads any more.
    let mut writer = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().read(true).write(true).custom_flags(libc::O_NONBLOCK).open(&fifo).unwrap()
    };
    std::fs::write(
        tmp.path().join(".asoundrc"),
        format!(
            "pcm.!default {{ type file; slave.pcm \"null\"; file \"/dev/null\"; infile \"{}\"; format \"raw\" }}\n",
            fifo.display()
        ),
    )
    .unwrap();
    let home = tmp.path().display().to_string();
    let env = [("HOME", home.as_str()), ("XDG_CONFIG_HOME", home.as_str())];

    // What does the device offer? --list-devices says, e.g. "48000 Hz, 2 ch, f32".
    let list = Command::new(bin()).arg("--list-devices").env("HOME", &home).output().unwrap();
    assert!(list.status.success(), "{}", stderr(&list));
    let listing = String::from_utf8_lossy(&list.stdout).into_owned();
    let default_line = listing.lines().find(|l| l.starts_with('*')).unwrap_or_else(|| panic!("{listing}"));
    let words: Vec<&str> = default_line.split_whitespace().collect();
    let after = |unit: &str| -> &str {
        let i = words.iter().position(|w| w.trim_end_matches(',') == unit).unwrap_or_else(|| panic!("{default_line}"));
        words[i - 1]
    };
    let rate: u32 = after("Hz").parse().unwrap();
    let channels: usize = after("ch").parse().unwrap();
    let format = words.last().unwrap().to_string();
    let frame_bytes = channels * if format == "i16" { 2 } else { 4 };

    let names = ["2_nicolas_0.wav", "6_george_3.wav", "9_theo_2.wav"];
    let files: Vec<_> = names.iter().map(|n| fsdd_file(n)).collect();
    let (audio, _) = concatenate(&files, 0.7);
    let audio = fsdd_core::signal::resample::resample(&audio, 8000, rate).unwrap();
    // Raw interleaved frames in the device's own format (the file plugin does no conversion).
    let encode = |s: f32, out: &mut Vec<u8>| {
        for _ in 0..channels {
            match format.as_str() {
                "f32" => out.extend_from_slice(&s.to_le_bytes()),
                "i16" => out.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes()),
                other => panic!("test does not write {other} samples: {default_line}"),
            }
        }
    };
    let mut bytes = Vec::new();
    for &s in &audio {
        encode(s, &mut bytes);
    }
    let mut quiet = Vec::new();
    for _ in 0..rate / 100 {
        encode(0.0005, &mut quiet);
    }

    let t = Tmux::start("alsa", &shell_line(""), &env, 140, 44);
    // 10 ms per write: whole frames, under PIPE_BUF, so every write arrives whole.
    let chunk = (rate as usize / 100) * frame_bytes;
    assert!(chunk <= 4096);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let start = Instant::now();
            let mut sent = 0usize;
            let mut pieces = bytes.chunks(chunk).map(<[u8]>::to_vec).chain(std::iter::repeat(quiet));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let due = start + Duration::from_millis(10 * sent as u64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let piece = pieces.next().unwrap();
                // A write of at most PIPE_BUF bytes is all or nothing: retry while the pipe is full.
                loop {
                    match writer.write(&piece) {
                        Ok(_) => break,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(e) => panic!("feeding the FIFO: {e}"),
                    }
                }
                sent += 1;
            }
        })
    };
    let screen = t.wait_for("three detections from the ALSA file device", Duration::from_secs(40), |s| {
        s.contains("detections (3)")
    });
    assert!(screen.contains(&format!("{rate} Hz")), "header names the device rate:\n{screen}");
    // The history (newest first) must say exactly what the engine says about the same samples
    // pushed directly at the same rate: the capture path delivers the audio intact and in order.
    // Digit rows say the digit, rejected rows "—" (and kind "not a digit").
    let heard: Vec<(Option<u8>, String)> = screen
        .lines()
        .filter_map(|l| {
            let at = l.find(" early ").or_else(|| l.find(" final ")).or_else(|| l.find(" not a digit "))?;
            let toks: Vec<&str> =
                l[..at].split(|c: char| c.is_whitespace() || c == '│').filter(|t| !t.is_empty()).collect();
            let digit = match toks[toks.len() - 2] {
                "—" => None,
                d => Some(d.parse().ok()?),
            };
            Some((digit, toks[toks.len() - 1].to_string()))
        })
        .rev()
        .collect();
    let reference = {
        let (engine, mut sender, mut receiver) =
            fsdd_core::Engine::start(common::model(), fsdd_core::EngineConfig::new(rate)).unwrap();
        let mut samples = audio.clone();
        samples.extend(std::iter::repeat_n(0.0005f32, rate as usize));
        for block in samples.chunks(rate as usize / 100) {
            while sender.free_frames() < block.len() {
                std::thread::sleep(Duration::from_millis(1));
            }
            sender.push(block);
        }
        engine.flush();
        assert!(engine.wait_until_drained(Duration::from_secs(30)));
        std::iter::from_fn(|| receiver.pop()).map(|d| (d.digit, format!("{:.2}", d.confidence))).collect::<Vec<_>>()
    };
    assert_eq!(reference.len(), 3, "{reference:?}");
    // And the words come out right after the trip through 48 kHz-style capture and resampling.
    let right = reference.iter().zip([2u8, 6, 9]).filter(|((d, _), want)| *d == Some(*want)).count();
    assert!(right >= 2, "{reference:?}");
    assert_eq!(heard, reference, "ALSA capture vs direct push:\n{screen}");
    assert!(!screen.contains("dropped"), "real-time capture drops nothing:\n{screen}");
    t.keys(&["C-c"]);
    let screen = t.wait_for("exit", Duration::from_secs(10), |s| s.contains("TTY="));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(screen.contains("EXIT=0") && screen.contains("TTY=icanon"), "{screen}");
    feeder.join().unwrap();
}

#[test]
fn no_usable_input_device_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    // An ALSA default device that cannot exist.
    std::fs::write(
        tmp.path().join(".asoundrc"),
        "pcm.!default { type hw; card 97 }\nctl.!default { type hw; card 97 }\n",
    )
    .unwrap();
    let out = Command::new(bin()).env("HOME", tmp.path()).env("XDG_CONFIG_HOME", tmp.path()).output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("--list-devices") && err.contains("--input"), "{err}");

    let out = run(&["--device", "no-such-device-anywhere"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no-such-device-anywhere") && err.contains("--list-devices") && err.contains("--input"),
        "{err}"
    );
}

#[test]
fn guided_enrollment_in_the_dashboard_saves_the_voice_and_switches_to_voice_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let words = tmp.path().join("words");
    std::fs::create_dir(&words).unwrap();
    // One take per digit, played in digit order (names sort 0..9).
    let names: Vec<String> = (0..10).map(|d| format!("{d}_yweweler_{}.wav", 10 + d)).collect();
    copy_fsdd(&words, &names.iter().map(String::as_str).collect::<Vec<_>>());
    let protos = tmp.path().join("me/voice.json");
    let home = tmp.path().display().to_string();
    let t = Tmux::start(
        "enroll",
        &shell_line(&format!(
            "--input {} --gap 1.2 --enroll --enroll-per-digit 1 --voice {}",
            words.display(),
            protos.display()
        )),
        &[("HOME", &home), ("XDG_CONFIG_HOME", &home)],
        120,
        40,
    );
    for (d, word) in fsdd_tui::dashboard::app::DIGIT_WORDS.iter().enumerate() {
        let screen = t.wait_for(&format!("capture of {word}"), Duration::from_secs(20), |s| {
            s.contains(&format!("Captured  {} ", word.to_uppercase())) && s.contains("Enter keep")
        });
        assert!(screen.contains(&format!("enrollment {d}/10")), "{screen}");
        assert!(screen.contains(&format!("captured \"{word}\": MFCC")), "captured window shown:\n{screen}");
        t.keys(&["Enter"]);
    }
    let screen = t.wait_for("enrollment saved", Duration::from_secs(10), |s| s.contains("enrolled 10 words"));
    assert!(screen.contains("mode voice") && screen.contains("your voice: 10 takes"), "{screen}");
    let voice = fsdd_core::Voice::load(&protos).expect("voice saved where --voice said");
    assert_eq!(voice.counts(), [1; 10]);
    t.keys(&["q"]);
    let screen = t.wait_for("exit", Duration::from_secs(10), |s| s.contains("TTY="));
    assert!(screen.contains("EXIT=0") && screen.contains("TTY=icanon"), "{screen}");
}

#[test]
fn correcting_a_detection_and_pressing_a_teaches_the_voice_and_u_undoes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let words = tmp.path().join("words");
    std::fs::create_dir(&words).unwrap();
    copy_fsdd(&words, &["3_theo_20.wav"]);
    let path = tmp.path().join("me/voice.json");
    let home = tmp.path().display().to_string();
    let t = Tmux::start(
        "teach",
        &shell_line(&format!("--input {} --voice {}", words.display(), path.display())),
        &[("HOME", &home), ("XDG_CONFIG_HOME", &home)],
        120,
        40,
    );
    t.wait_for("the word decided", Duration::from_secs(20), |s| s.contains("input finished"));
    // Say it was an 8: the word is offered, a adds it, and it is saved at once.
    t.keys(&["8"]);
    let screen = t.wait_for("offer", Duration::from_secs(10), |s| s.contains("press a to add"));
    assert!(screen.contains("a: add the last word as 8"), "{screen}");
    t.keys(&["a"]);
    let screen = t.wait_for("taught", Duration::from_secs(10), |s| s.contains("added that word to your voice as 8"));
    assert!(screen.contains("your voice: 1 takes") && screen.contains("mode voice"), "{screen}");
    let voice = fsdd_core::Voice::load(&path).expect("saved at once");
    assert_eq!(voice.counts()[8], 1);
    assert_eq!(voice.takes()[0].source, fsdd_core::TakeSource::Correction);
    // The saved take is the word the recognizer heard (about the clip's length, not a prefix).
    let clip = fsdd_core::signal::audio::read_wav(fsdd_file("3_theo_20.wav")).unwrap();
    let (heard, clip_len) = (voice.takes()[0].samples.len() as f32, clip.samples.len() as f32);
    assert!((0.6 * clip_len..=1.5 * clip_len).contains(&heard), "{heard} samples for a {clip_len}-sample clip");
    t.keys(&["u"]);
    let screen = t.wait_for("undone", Duration::from_secs(10), |s| s.contains("took the last 8 back out"));
    assert!(screen.contains("mode base"), "{screen}");
    assert!(fsdd_core::Voice::load(&path).unwrap().is_empty());
    t.keys(&["q"]);
    let screen = t.wait_for("exit", Duration::from_secs(10), |s| s.contains("TTY="));
    assert!(screen.contains("EXIT=0"), "{screen}");
}
