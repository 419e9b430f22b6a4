#!/usr/bin/python3
"""make_image_fixtures.py: writes tests/fixtures/image/, small JPEG and PNG files and the
pixels that MXNet 1.9.1 (the OpenCV 3.4.2 inside libmxnet) decodes and resizes them to;
tests/check_image.c compares src/data/image.c against them.

Run with Debian's python (PIL makes the images, numpy and zlib the odd PNGs):
    /usr/bin/python3 tests/peer/make_image_fixtures.py
It then runs itself under MXNet's python (MXTRAIN_PEER_PYTHON, default
.venv-mxnet/bin/python) with --mxnet for the reference pixels:
    mx.image.imdecode(buf, flag=1|0)        cv::imdecode, RGB order (flag 0: gray)
    mx.image.imresize(img, w, h, interp)    cv::resize(img, Size(w, h), 0, 0, interp)
DCT-scaled JPEG decodes have no OpenCV twin here; their reference is PIL's draft mode
(libjpeg-turbo's scale_denom with the same ISLOW IDCT and fancy upsampling).

Files: *.jpg, *.png (inputs), *.u8 (raw HWC bytes), manifest.txt, one case a line:
    decode <file> <channels> <min_side> <width> <height> <chans> <ref.u8> <max_diff> <source>
    resize <src.u8> <width> <height> <chans> <interp> <dst_w> <dst_h> <ref.u8> <source>
"""
import io
import os
import struct
import subprocess
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(TOP, "tests", "fixtures", "image")


def pattern(h, w, c, seed):
    """Smooth gradients, an edge and some noise: something JPEG and resizing both show."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = [128 + 100 * np.sin(x / (3 + k) + y / (5 + 2 * k) + k) for k in range(c)]
    a = np.stack(planes, -1)
    a[h // 3: h // 2, w // 4: w // 2] = 250 - 40 * np.arange(c)
    a += rng.normal(0, 12, a.shape)
    return np.clip(a, 0, 255).astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path, rows, width, height, depth, color_type, interlace=False):
    """A PNG from sample rows (numpy, big-endian for 16 bits), filter 0, optional Adam7."""
    def raw(sub):
        return b"".join(b"\0" + r.tobytes() for r in sub)
    if interlace:
        data = b""
        for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                               (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)):
            sub = rows[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                data += raw(sub)
    else:
        data = raw(rows)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 1 if interlace else 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
                png_chunk(b"IDAT", zlib.compress(data, 9)) + png_chunk(b"IEND", b""))


def make_inputs():
    from PIL import Image
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.unlink(os.path.join(OUT, name))
    rgb = pattern(48, 64, 3, 1)
    small = pattern(23, 37, 3, 2)
    gray = pattern(23, 37, 1, 3)[:, :, 0]
    Image.fromarray(rgb).save(os.path.join(OUT, "rgb420.jpg"), quality=90)
    Image.fromarray(small).save(os.path.join(OUT, "rgb444.jpg"), quality=95, subsampling=0)
    Image.fromarray(small).save(os.path.join(OUT, "progressive.jpg"), quality=85,
                                progressive=True)
    Image.fromarray(gray).save(os.path.join(OUT, "gray.jpg"), quality=90)
    Image.fromarray(small).convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=95)
    Image.fromarray(small).save(os.path.join(OUT, "rgb.png"))
    Image.fromarray(gray).save(os.path.join(OUT, "gray.png"))
    Image.fromarray(gray).convert("1").save(os.path.join(OUT, "gray1.png"))
    pal = Image.fromarray(small).quantize(colors=13)
    pal.info["transparency"] = 3
    pal.save(os.path.join(OUT, "palette.png"), transparency=3)
    rgba = np.dstack([small, pattern(23, 37, 1, 4)])
    Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "rgba.png"))
    # 16-bit and interlaced files PIL does not write: by hand
    rgb16 = (small.astype(np.uint16) * 257 + np.arange(37, dtype=np.uint16)[None, :, None])
    write_png(os.path.join(OUT, "rgb16.png"), rgb16.astype(">u2"), 37, 23, 16, 2)
    ga16 = np.dstack([gray, gray[::-1]]).astype(np.uint16) * 250
    write_png(os.path.join(OUT, "graya16.png"), ga16.astype(">u2"), 37, 23, 16, 4)
    write_png(os.path.join(OUT, "interlaced.png"), small, 37, 23, 8, 2, interlace=True)
    # reference for DCT-scaled decoding: PIL's draft mode (libjpeg-turbo scale_denom)
    lines = []
    for denom, min_side in ((2, 24), (4, 12), (8, 6), (4, 7)):
        im = Image.open(os.path.join(OUT, "rgb420.jpg"))
        im.draft("RGB", ((64 + denom - 1) // denom, (48 + denom - 1) // denom))
        a = np.asarray(im.convert("RGB"))
        ref = "rgb420_scaled%d.u8" % denom
        a.tofile(os.path.join(OUT, ref))
        lines.append("decode rgb420.jpg 3 %d %d %d 3 %s 0 PIL-%s-draft-1/%d" %
                     (min_side, a.shape[1], a.shape[0], ref, Image.__version__, denom))
    return lines


DECODES = [  # file, channels flag for imdecode (1 color, 0 gray), our channels, max diff
    ("rgb420.jpg", 1, 3, 0), ("rgb420.jpg", 0, 1, 0), ("rgb444.jpg", 1, 3, 0),
    ("progressive.jpg", 1, 3, 0), ("gray.jpg", 1, 3, 0), ("gray.jpg", 0, 1, 0),
    ("cmyk.jpg", 1, 3, 0), ("cmyk.jpg", 0, 1, 0),
    ("rgb.png", 1, 3, 0), ("rgb.png", 0, 1, 0), ("gray.png", 1, 3, 0), ("gray.png", 0, 1, 0),
    ("gray1.png", 0, 1, 0), ("palette.png", 1, 3, 0), ("palette.png", 0, 1, 0), ("rgba.png", 1, 3, 0),
    ("rgb16.png", 1, 3, 0), ("graya16.png", 0, 1, 0), ("interlaced.png", 1, 3, 0),
]

RESIZES = [  # source (reference decode), sizes
    ("rgb420.jpg", 3, [(25, 19), (32, 24), (16, 12), (128, 9)]),  # odd, 2x, 4x, mixed
    ("rgb444.jpg", 3, [(45, 29)]),                                 # up
    ("gray.png", 1, [(13, 9), (74, 46), (90, 21), (37, 11)]),
]


def make_references():
    import mxnet as mx
    source = "mxnet-%s" % mx.__version__
    lines = []
    decoded = {}
    for name, flag, chans, tol in DECODES:
        with open(os.path.join(OUT, name), "rb") as f:
            img = mx.image.imdecode(f.read(), flag=flag).asnumpy()
        ref = "%s.%s.u8" % (name.replace(".", "_"), "rgb" if flag else "gray")
        img.tofile(os.path.join(OUT, ref))
        decoded[(name, chans)] = (img, ref)
        lines.append("decode %s %d 0 %d %d %d %s %d %s-imdecode-flag%d" %
                     (name, chans, img.shape[1], img.shape[0], img.shape[2], ref, tol, source, flag))
    for name, chans, sizes in RESIZES:
        img, ref = decoded[(name, chans)]
        for w, h in sizes:
            for interp in range(4):
                out = mx.image.imresize(mx.nd.array(img, dtype="uint8"), w, h, interp=interp)
                out = out.asnumpy().reshape(h, w, chans)
                dst = "resize_%s_%dx%d_i%d.u8" % (name.split(".")[0], w, h, interp)
                out.tofile(os.path.join(OUT, dst))
                lines.append("resize %s %d %d %d %d %d %d %s %s-imresize" %
                             (ref, img.shape[1], img.shape[0], chans, interp, w, h, dst, source))
    return lines


def main():
    if "--mxnet" in sys.argv:
        print("\n".join(make_references()))
        return
    lines = make_inputs()
    peer = os.environ.get("MXTRAIN_PEER_PYTHON", os.path.join(TOP, ".venv-mxnet", "bin", "python"))
    ref = subprocess.run([peer, os.path.abspath(__file__), "--mxnet"], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("# written by tests/peer/make_image_fixtures.py; see its docstring\n")
        f.write(ref.strip() + "\n" + "\n".join(lines) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("%s: %d files, %d bytes" % (OUT, len(os.listdir(OUT)), total))


if __name__ == "__main__":
    main()
