#!/usr/bin/env python3
"""Synthetic extra speakers for training (`trainer --extra-fit DIR`, `trainer loso --extra-fit DIR`).

Two families, 8 kHz 16-bit mono, trimmed like FSDD, every digit three times per speaker:
- 24 espeak-ng voices (random English accent x voice variant x pitch, random speeds), named
  `{digit}_tts{speaker}_{take}.wav`;
- with --recorded-voices, 36 more from voices built on recordings of real people (flite's kal16,
  awb, rms and slt; festival's ked diphones and slt HTS), six pseudo-speakers each: a random pitch
  and formant shift (sox `pitch`, -350..+350 cents) and tempo, named `{digit}_{voice}{n}_{take}.wav`.

Needs espeak-ng and sox (apt), and for --recorded-voices flite, festival, festvox-kdlpc16k and
festvox-us-slt-hts. Deterministic: fixed seeds, and sox without dither (-D), so two runs with the
same synthesisers (espeak-ng 1.51, flite 2.2, festival 2.5) write identical files.

    python3 trainer/tools/synth_speakers.py OUT_DIR [--recorded-voices]
"""
import os
import random
import subprocess
import sys
import tempfile

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
LANGS = ["en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4"]


# (family, voice, short name): flite's built-in voices and festival's.
RECORDED_VOICES = [("flite", "kal16", "flkal"), ("flite", "awb", "flawb"), ("flite", "rms", "flrms"),
                   ("flite", "slt", "flslt"), ("festival", "voice_ked_diphone", "feked"),
                   ("festival", "voice_cmu_us_slt_arctic_hts", "feslt")]
TRIM = ["silence", "1", "0.01", "0.5%", "reverse", "silence", "1", "0.01", "0.5%", "reverse"]


def recorded_voices(out_dir: str) -> None:
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        for engine, voice, short in RECORDED_VOICES:
            for variant in range(6):
                cents = rng.randint(-350, 350)
                for digit, word in enumerate(WORDS):
                    for take in range(3):
                        tempo = rng.uniform(0.8, 1.25)
                        if engine == "flite":
                            subprocess.run(["flite", "-voice", voice, "-t", word, "-o", raw], check=True)
                        else:
                            subprocess.run(["text2wave", "-eval", f"({voice})", "-o", raw],
                                           input=word.encode(), check=True)
                        out = os.path.join(out_dir, f"{digit}_{short}{variant}_{take}.wav")
                        subprocess.run(["sox", "-V1", "-D", raw, "-r", "8000", "-c", "1", "-b", "16", out,
                                        "pitch", str(cents + rng.randint(-40, 40)), "tempo", f"{tempo:.3f}"]
                                       + TRIM, check=True)


def main(out_dir: str) -> None:
    random.seed(5)
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for speaker in range(24):
            lang, variant = random.choice(LANGS), random.choice(VARIANTS)
            pitch = random.randint(25, 75)
            for digit, word in enumerate(WORDS):
                for take in range(3):
                    speed = random.randint(130, 190)
                    p = pitch + random.randint(-8, 8)
                    raw = os.path.join(tmp, "raw.wav")
                    out = os.path.join(out_dir, f"{digit}_tts{speaker}_{take}.wav")
                    subprocess.run(["espeak-ng", "-v", f"{lang}+{variant}", "-p", str(p),
                                    "-s", str(speed), "-w", raw, word], check=True)
                    # Trim leading/trailing silence (FSDD files are trimmed), 8 kHz 16-bit mono.
                    subprocess.run(["sox", "-V1", "-D", raw, "-r", "8000", "-c", "1", "-b", "16", out,
                                    "silence", "1", "0.01", "0.5%", "reverse",
                                    "silence", "1", "0.01", "0.5%", "reverse"], check=True)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--recorded-voices"):
        sys.exit(__doc__)
    main(sys.argv[1])
    if len(sys.argv) == 3:
        recorded_voices(sys.argv[1])
