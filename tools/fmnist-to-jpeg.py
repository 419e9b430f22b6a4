#!/usr/bin/python3
"""fmnist-to-jpeg.py: turns the Fashion-MNIST idx files into folders of JPEG images, one
folder per class, for packing with im2rec(1).

usage: /usr/bin/python3 tools/fmnist-to-jpeg.py [--data DIR] [--quality Q] [--png] [--limit N] OUT

Writes OUT/train/<label>/<index>.jpg (60000 images) and OUT/test/<label>/<index>.jpg
(10000 images): 28x28 grayscale, JPEG quality 95 unless --quality says otherwise (--png
writes lossless .png files instead; --limit N converts only the first N images of each
split, for quick tests). <label> is the class number 0..9, so the folders sort
in class order and `im2rec --list --recursive` gives each folder its own class number as
label; <index> is the image's position in its idx file, five digits, so files sort in idx
order. Needs Debian's python3 with PIL (python3-pil); reads the .gz files of
dataset-fashion-mnist (default DIR: /usr/share/datasets/fashion-mnist).

Then, for example (keep the lists beside the image folders, not inside them: im2rec packs
every .lst of a folder that its prefix names):

    /usr/bin/python3 tools/fmnist-to-jpeg.py /tmp/fmnist
    im2rec --list --recursive /tmp/fmnist/fmnist_train /tmp/fmnist/train
    im2rec --list --recursive --no-shuffle /tmp/fmnist/fmnist_test /tmp/fmnist/test
    im2rec --pass-through --num-thread 2 /tmp/fmnist/fmnist_train /tmp/fmnist/train
    im2rec --pass-through --num-thread 2 /tmp/fmnist/fmnist_test /tmp/fmnist/test

which leaves /tmp/fmnist/fmnist_{train,test}.{lst,rec,idx}. The training list is shuffled
(as im2rec.py shuffles it), so its .rec is not sorted by class; the test list keeps idx
order (--no-shuffle), so its records follow the folders: class 0 first.
"""
import argparse
import gzip
import os
import struct
import sys

from PIL import Image

SPLITS = (("train", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          ("test", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))


def read_idx(path, want_magic):
    """The dimensions and bytes of an idx file (formats.md section 7)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    if magic != want_magic:
        sys.exit("%s: magic 0x%08x, want 0x%08x" % (path, magic, want_magic))
    ndim = magic & 0xFF
    dims = struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def convert(data_dir, out_dir, name, images_file, labels_file, quality, png, limit):
    (n, rows, cols), pixels = read_idx(os.path.join(data_dir, images_file), 0x00000803)
    (n_labels,), labels = read_idx(os.path.join(data_dir, labels_file), 0x00000801)
    if n != n_labels or len(pixels) != n * rows * cols or len(labels) != n:
        sys.exit("%s: %d images but %d labels, or a short file" % (name, n, n_labels))
    for label in sorted(set(labels)):
        os.makedirs(os.path.join(out_dir, name, str(label)), exist_ok=True)
    size = rows * cols
    if limit:
        n = min(n, limit)
    for i in range(n):
        img = Image.frombytes("L", (cols, rows), pixels[i * size:(i + 1) * size])
        path = os.path.join(out_dir, name, str(labels[i]), "%05d.%s" % (i, "png" if png else "jpg"))
        if png:
            img.save(path, "PNG")
        else:
            img.save(path, "JPEG", quality=quality)
    print("%s: %d images in %s" % (name, n, os.path.join(out_dir, name)))


def main():
    parser = argparse.ArgumentParser(description="Fashion-MNIST idx files to class folders of JPEG images.")
    parser.add_argument("out", help="output folder (train/ and test/ are made in it)")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist",
                        help="folder with the idx .gz files (default: %(default)s)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality (default: %(default)s)")
    parser.add_argument("--png", action="store_true", help="write lossless PNG files instead of JPEG")
    parser.add_argument("--limit", type=int, default=0, help="convert only the first N images of each split")
    args = parser.parse_args()
    for name, images_file, labels_file in SPLITS:
        convert(args.data, args.out, name, images_file, labels_file, args.quality, args.png, args.limit)


if __name__ == "__main__":
    main()
