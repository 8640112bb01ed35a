#!/usr/bin/env python3
"""onnxruntime's half of `cargo xtask bench-ort`: one thread, the same .onnx file and the same
[1,1,64,64] input as tract (a file of 4096 little-endian f32 written by the forward_pass
example). Prints `median_us=X`, and with --compare the largest difference from tract's outputs
(probabilities then embedding, as forward_pass --save-output writes them)."""
import argparse
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("input")
    p.add_argument("--runs", type=int, default=3000)
    p.add_argument("--compare", help="tract's outputs, to check both ran the same thing")
    a = p.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(a.model, options, providers=["CPUExecutionProvider"])
    x = np.fromfile(a.input, dtype="<f4").reshape(1, 1, 64, 64)
    feed = {session.get_inputs()[0].name: x}
    outputs = session.run(None, feed)
    if a.compare:
        theirs = np.fromfile(a.compare, dtype="<f4")
        ours = np.concatenate([o.reshape(-1) for o in outputs])
        if theirs.shape != ours.shape:
            sys.exit(f"tract gave {theirs.size} output values, onnxruntime {ours.size}")
        print(f"max_abs_diff={np.abs(theirs - ours).max():.3g}")
    for _ in range(300):
        session.run(None, feed)
    times = []
    for _ in range(a.runs):
        start = time.perf_counter_ns()
        session.run(None, feed)
        times.append(time.perf_counter_ns() - start)
    print(f"median_us={np.median(times) / 1000:.2f}")


if __name__ == "__main__":
    main()
