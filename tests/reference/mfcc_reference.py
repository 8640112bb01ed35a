#!/usr/bin/env python3
"""Independent MFCC reference for fsdd-core's MfccExtractor.

Run once to (re)generate the committed fixtures; the Rust test `mfcc_reference` compares
fsdd_core::signal::mfcc against them. Nothing here shares code with the Rust side: the filterbank is
librosa's, the window scipy's, the FFT numpy's, the DCT scipy's.

    python3 -m pip install numpy scipy librosa
    python3 tests/reference/mfcc_reference.py ../shared/fsdd/recordings tests/fixtures/mfcc

Definition (must match core/src/signal/mfcc.rs): 8 kHz, the first 8192 samples of the clip
(zero-padded), frame t = samples [t*128 - 64, t*128 + 192) (zeros outside), periodic Hann 256,
rfft n=512, power, librosa mel (htk, slaney norm, 64 bands, 0-4000 Hz),
10*log10(max(., 1e-10)), DCT-II ortho, 64 coefficients; stored coefficient-major float32 LE.
"""
import json
import sys
from pathlib import Path

import librosa
import numpy as np
import scipy.fft
import scipy.io.wavfile
import scipy.signal

SR, HOP, WIN, NFFT, NMELS, NMFCC, NFRAMES = 8000, 128, 256, 512, 64, 64, 64

# Short, typical and over-long utterances, several speakers and digits.
FILES = ["0_george_0.wav", "7_jackson_32.wav", "3_theo_4.wav", "9_yweweler_17.wav",
         "5_lucas_2.wav", "1_nicolas_40.wav", "9_theo_16.wav", "6_yweweler_3.wav"]


def mfcc(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)[: NFRAMES * HOP]
    padded = np.zeros(NFRAMES * HOP + WIN, dtype=np.float64)
    # Frame t starts at t*HOP - 64; shift by 64 so every frame index is >= 0.
    padded[64 : 64 + len(x)] = x
    window = scipy.signal.get_window("hann", WIN, fftbins=True)
    frames = np.stack([padded[t * HOP : t * HOP + WIN] * window for t in range(NFRAMES)])
    power = np.abs(np.fft.rfft(frames, n=NFFT, axis=1)) ** 2  # [64, 257]
    mel = librosa.filters.mel(sr=SR, n_fft=NFFT, n_mels=NMELS, fmin=0.0, fmax=SR / 2,
                              htk=True, norm="slaney")
    log_mel = 10.0 * np.log10(np.maximum(power @ mel.T, 1e-10))  # [64 frames, 64 bands]
    cep = scipy.fft.dct(log_mel, type=2, norm="ortho", axis=1)[:, :NMFCC]  # [frames, coefs]
    return cep.T.astype(np.float32)  # coefficient-major


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for name in FILES:
        sr, pcm = scipy.io.wavfile.read(data / name)
        assert sr == SR and pcm.dtype == np.int16, (name, sr, pcm.dtype)
        feats = mfcc(pcm / 32768.0)
        target = out / (Path(name).stem + ".f32")
        feats.astype("<f4").tofile(target)
        manifest.append({"wav": name, "samples": int(len(pcm)), "mfcc": target.name})
    (out / "manifest.json").write_text(json.dumps({
        "generator": "tests/reference/mfcc_reference.py",
        "librosa": librosa.__version__, "numpy": np.__version__,
        "layout": "float32 LE, [coef * 64 + frame]", "files": manifest}, indent=2) + "\n")


if __name__ == "__main__":
    main()
