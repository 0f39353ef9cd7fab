#!/usr/bin/env python3
"""Writes COUNT natural-looking JPEGs (about 500x375, quality 90) for bench/pipeline.sh:
smooth low-frequency colour fields with soft shapes and fine grain, so the JPEG coder sees
photo-like spectra rather than flat colour or white noise. Deterministic for a given seed.

usage: pipeline_images.py OUT_DIR [COUNT] [SEED]"""
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def one_image(rng):
    width = int(rng.integers(450, 521))
    height = int(rng.integers(333, 400))
    # Low-frequency colour field: a tiny random image upsampled bicubically.
    coarse = rng.integers(0, 256, size=(int(rng.integers(3, 7)), int(rng.integers(4, 9)), 3))
    base = Image.fromarray(coarse.astype(np.uint8)).resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(base)
    for _ in range(int(rng.integers(4, 12))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(20, width // 2)), int(rng.integers(20, height // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x0 + w, y0 + h), fill=colour)
    image = base.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(1.0, 3.0))))
    # Fine grain (texture) on top.
    pixels = np.asarray(image).astype(np.int16)
    pixels += rng.normal(0.0, 6.0, size=pixels.shape).astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        one_image(rng).save(os.path.join(out, "img_%05d.jpg" % i), quality=90)


if __name__ == "__main__":
    main()
