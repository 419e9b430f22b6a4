#!/usr/bin/env python
"""make_imagerec_fixtures.py: writes tests/fixtures/imagerec/ with the real MXNet (1.9.1):
small .rec files of JPEG images and what mx.io.ImageRecordIter makes of them, so that
tests/check_imagerec.c compares the "imagerec" iterator with MXNet without MXNet.

Run with the MXNet virtualenv (it has OpenCV, which pack_img encodes with):
    .venv-mxnet/bin/python tests/peer/make_imagerec_fixtures.py

Files (all little-endian, no headers; the test knows the shapes):
  color.rec    10 colour JPEGs (quality 90), sizes 14x18 to 44x30, labels 0..9, ids 0..9;
               no .idx (so both readers scan it)
  color.lst    labels by id for label_width = 2 (id i: 1.5 i, 100 - i)
  multi.rec    6 colour JPEGs 20x20 with 3 packed labels each (flag = 3), ids 0..5
  gray.rec     8 gray JPEGs (one channel), 18x22 to 32x25, labels 0..7
  <case>.data  float32, every row of every batch of one epoch, as MXNet returns them
  <case>.label float32 labels of the same rows
Each case is one mx.io.ImageRecordIter call (batch_size 4, preprocess_threads 1, no random
augmentation), listed in CASES below; the pads are 2 for 10 images, 0 for 8, 2 for 6.
"""
import os

import cv2
import mxnet as mx
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "imagerec")

COLOR_SIZES = [(30, 40), (44, 30), (28, 28), (20, 36), (14, 18), (33, 25), (40, 40), (24, 41), (18, 14), (36, 22)]
GRAY_SIZES = [(18, 22), (25, 32), (20, 20), (32, 25), (22, 30), (28, 19), (24, 24), (21, 27)]

CASES = [
    # name, rec, keys
    ("resize_mean_std", "color.rec", dict(data_shape=(3, 16, 16), resize=20, mean_r=123.7, mean_g=116.3,
                                          mean_b=103.5, std_r=58.4, std_g=57.1, std_b=57.4, scale=1.0)),
    ("center_crop", "color.rec", dict(data_shape=(3, 16, 16))),
    ("scale_mirror", "color.rec", dict(data_shape=(3, 16, 16), resize=18, mirror=True, mean_r=10.0,
                                       scale=1.0 / 255)),
    ("as_gray", "color.rec", dict(data_shape=(1, 16, 16), resize=16)),
    ("gray", "gray.rec", dict(data_shape=(1, 16, 16), resize=17, scale=1.0 / 255)),
    ("lst", "color.rec", dict(data_shape=(3, 8, 8), resize=8, path_imglist="color.lst", label_width=2)),
    ("multi", "multi.rec", dict(data_shape=(3, 8, 8), resize=8, label_width=3)),
]


def picture(rng, h, w, channels):
    """A smooth picture with a few shapes and mild noise: like a photo, not like white noise
    (resizers differ most on noise)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        a, b, ph = rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3), rng.uniform(0, 6)
        img[:, :, c] = 128 + 90 * np.sin(a * x + b * y + ph)
    for _ in range(3):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(3, max(4, min(h, w) / 2))
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 4, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if channels == 1:
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return img


def write_rec(path, sizes, channels, rng, labels=None):
    rec = mx.recordio.MXRecordIO(path, "w")
    for i, (h, w) in enumerate(sizes):
        label = float(i) if labels is None else labels[i]
        header = mx.recordio.IRHeader(0, label, i, 0)
        rec.write(mx.recordio.pack_img(header, picture(rng, h, w, channels), quality=90, img_fmt=".jpg"))
    rec.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(20240501)
    write_rec(os.path.join(OUT, "color.rec"), COLOR_SIZES, 3, rng)
    write_rec(os.path.join(OUT, "gray.rec"), GRAY_SIZES, 1, rng)
    write_rec(os.path.join(OUT, "multi.rec"), [(20, 20)] * 6, 3, rng,
              labels=[np.array([i, 10 + i, 0.25 * i], np.float32) for i in range(6)])
    with open(os.path.join(OUT, "color.lst"), "w") as f:
        for i in range(len(COLOR_SIZES)):
            f.write("%d\t%f\t%f\timg_%d.jpg\n" % (i, 1.5 * i, 100 - i, i))

    for name, rec, keys in CASES:
        keys = dict(keys)
        if "path_imglist" in keys:
            keys["path_imglist"] = os.path.join(OUT, keys["path_imglist"])
        it = mx.io.ImageRecordIter(path_imgrec=os.path.join(OUT, rec), batch_size=4, preprocess_threads=1,
                                   shuffle=False, round_batch=True, verbose=False, **keys)
        data, label, pads = [], [], []
        for batch in it:
            data.append(batch.data[0].asnumpy().astype("<f4"))
            label.append(batch.label[0].asnumpy().astype("<f4"))
            pads.append(batch.pad)
        np.concatenate(data).tofile(os.path.join(OUT, name + ".data"))
        np.concatenate(label).tofile(os.path.join(OUT, name + ".label"))
        print(name, np.concatenate(data).shape, np.concatenate(label).shape, "pads", pads)


if __name__ == "__main__":
    main()
