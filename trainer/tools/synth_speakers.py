#!/usr/bin/env python3
"""Synthetic extra speakers for LOSO experiments (`trainer loso --extra-fit DIR`).

24 espeak-ng voices (random English accent x voice variant x pitch), each saying every digit
three times at random speeds, resampled to 8 kHz 16-bit mono and trimmed like FSDD, named
`{digit}_tts{speaker}_{take}.wav`. Needs espeak-ng and sox (apt). Deterministic (seed 5) except
for sox's dither in the last bit (+-2 LSB between runs).

    python3 trainer/tools/synth_speakers.py OUT_DIR
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
                    subprocess.run(["sox", "-V1", raw, "-r", "8000", "-c", "1", "-b", "16", out,
                                    "silence", "1", "0.01", "0.5%", "reverse",
                                    "silence", "1", "0.01", "0.5%", "reverse"], check=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
