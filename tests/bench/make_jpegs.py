#!/usr/bin/python3
"""make_jpegs.py: writes N synthetic JPEGs of ImageNet-like size and weight into class folders.

Each image is 400x300 .. 640x480 (landscape or portrait, about 500x375 on average, like the
ImageNet training set), with natural-ish content: smooth colour fields, a few shapes with soft
edges, a patch of texture and sensor-like noise, saved at JPEG quality 90 with 4:2:0 chroma
subsampling. That makes files of 50-150 KB (about 95 KB on average; ImageNet's training JPEGs
average about 110 KB), so decoding costs about what it costs on real photos: the entropy
decoding part grows with the file size.

Deterministic: image i depends only on (seed, i), so a larger N keeps the first images.

    /usr/bin/python3 tests/bench/make_jpegs.py OUT_DIR [-n 1024] [--classes 10] [--seed 1] [-j JOBS]

Needs PIL and numpy (Debian: python3-pil, python3-numpy).
"""
import argparse
import multiprocessing
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZES = [(500, 375), (500, 333), (640, 480), (400, 300), (500, 400), (375, 500), (333, 500),
         (600, 450), (450, 600), (480, 360), (640, 427), (427, 640)]


def smooth_field(rng, w, h, cells):
	"""A smooth random field in [0, 1]: a small random grid upsampled bicubically."""
	gw, gh = max(2, w // cells), max(2, h // cells)
	grid = (rng.random((gh, gw)) * 255).astype(np.uint8)
	return np.asarray(Image.fromarray(grid).resize((w, h), Image.BICUBIC), dtype=np.float32) / 255


_tiles = {}


def noise_tile(seed):
	"""A 720x720 tile of standard normal noise, 4 planes (luminance, then 3 colour), per seed."""
	if seed not in _tiles:
		_tiles[seed] = np.random.default_rng([seed, 1 << 30]).standard_normal((720, 720, 4), dtype=np.float32)
	return _tiles[seed]


def make_image(seed, index):
	rng = np.random.default_rng([seed, index])
	w, h = SIZES[rng.integers(len(SIZES))]
	# Background: per-channel smooth fields at two scales and a global colour cast.
	img = np.empty((h, w, 3), np.float32)
	cast = rng.random(3) * 0.6 + 0.2
	for c in range(3):
		img[:, :, c] = 0.55 * smooth_field(rng, w, h, 90) + 0.25 * smooth_field(rng, w, h, 25)
		img[:, :, c] = img[:, :, c] * 0.8 + cast[c] * 0.3
	pil = Image.fromarray(np.clip(img * 255, 0, 255).astype(np.uint8))

	# Shapes: ellipses, rectangles and polygons of random colours, softened afterwards.
	draw = ImageDraw.Draw(pil)
	for _ in range(rng.integers(4, 12)):
		x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
		x1, y1 = x0 + int(rng.integers(20, w // 2)), y0 + int(rng.integers(20, h // 2))
		color = tuple(int(v) for v in rng.integers(0, 256, 3))
		kind = rng.integers(3)
		if kind == 0:
			draw.ellipse([x0, y0, x1, y1], fill=color)
		elif kind == 1:
			draw.rectangle([x0, y0, x1, y1], fill=color)
		else:
			pts = [(int(rng.integers(x0, x1)), int(rng.integers(y0, y1))) for _ in range(rng.integers(3, 7))]
			draw.polygon(pts, fill=color)
	pil = pil.filter(ImageFilter.BoxBlur(radius=float(rng.uniform(0.6, 1.6))))
	img = np.asarray(pil, dtype=np.float32)

	# Texture: a patch of oriented stripes (foliage, fabric, bricks...), modulated smoothly.
	yy, xx = np.ogrid[0:h, 0:w]
	angle, freq = rng.uniform(0, np.pi), rng.uniform(0.15, 0.6)
	stripes = np.sin((xx * np.float32(np.cos(angle) * freq) + yy * np.float32(np.sin(angle) * freq)).astype(np.float32))
	mask = smooth_field(rng, w, h, 120) ** 2
	img += (stripes * mask * rng.uniform(15, 40))[:, :, None]

	# Sensor-like noise: luminance noise plus a little chroma noise.
	# (Windows of one shared tile of Gaussian noise: drawing fresh noise took most of the time.)
	sigma = rng.uniform(10.0, 15.0)
	tile = noise_tile(seed)
	oy, ox = int(rng.integers(tile.shape[0] - h + 1)), int(rng.integers(tile.shape[1] - w + 1))
	noise = tile[oy:oy + h, ox:ox + w]
	img += noise[:, :, :1] * np.float32(sigma)
	img += noise[:, :, 1:] * np.float32(sigma / 3)
	return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def write_image(job):
	"""Writes image i of the set; returns its size in bytes."""
	out, classes, seed, quality, i = job
	path = os.path.join(out, "class_%02d" % (i % classes), "img_%06d.jpg" % i)
	make_image(seed, i).save(path, "JPEG", quality=quality, subsampling=2)
	return os.path.getsize(path)


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("out", help="output folder (class folders class_00, class_01, ... inside)")
	ap.add_argument("-n", "--num", type=int, default=1024, help="number of images (default 1024)")
	ap.add_argument("--classes", type=int, default=10, help="number of class folders (default 10)")
	ap.add_argument("--seed", type=int, default=1)
	ap.add_argument("--quality", type=int, default=90)
	ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
	args = ap.parse_args()
	if args.num < 1 or args.classes < 1:
		sys.exit("make_jpegs: -n and --classes must be positive")
	for c in range(min(args.classes, args.num)):
		os.makedirs(os.path.join(args.out, "class_%02d" % c), exist_ok=True)
	jobs = [(args.out, args.classes, args.seed, args.quality, i) for i in range(args.num)]
	if args.jobs > 1:
		with multiprocessing.Pool(args.jobs) as pool:
			total = sum(pool.imap_unordered(write_image, jobs, chunksize=16))
	else:
		total = sum(map(write_image, jobs))
	print("make_jpegs: %d images in %d classes, %.1f KB on average, in %s"
	      % (args.num, args.classes, total / args.num / 1024, args.out))


if __name__ == "__main__":
	main()
