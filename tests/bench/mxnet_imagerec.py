#!/usr/bin/env python3
"""mxnet_imagerec.py: Apache MXNet 1.9.1's mx.io.ImageRecordIter over a .rec, images/sec.

The MXNet side of bench_imagerec.sh: the same .rec and the same settings as the imagerec
conf that mxtrain --test-io runs (data_shape 3x224x224, resize 256, rand_crop, rand_mirror,
ImageNet mean/std, batch 64, preprocess_threads T, prefetch_buffer 4, no shuffle), iterating
E epochs without a network. Each batch's data array is waited on (wait_to_read); nothing else
is done with it. Each epoch is timed from its reset() to its last batch, as mxtrain --test-io
times its epochs, and the figure is over the epochs after the first (the first one pays for
starting threads and filling caches): images / seconds of epochs 1..E-1.

Images count batch_size for every batch. Every row of a batch is a decoded image: with
round_batch (MXNet's default) the rows past the end of the data are the first images of the
next epoch. (MXNet 1.9.1's batch.pad is not reliable after reset(): it reports pads on
batches in the middle of an epoch.) With a dataset that is a multiple of the batch size
there is no padding at all.

    .venv-mxnet/bin/python tests/bench/mxnet_imagerec.py --rec data.rec --threads 2

Prints a line per epoch, then one line, the last:
    mxnet-imagerec threads=T epochs=E images=N seconds=S images_per_sec=X cpu_seconds=C peak_rss_mb=M
cpu_seconds is the process's user + system time over the timed epochs (all threads).
MXNet itself logs "ImageRecordIOParser2: ..., use N threads for decoding.." to stderr
(verbose): how many decode threads it really used.
"""
import argparse
import resource
import sys
import time

import mxnet as mx


def cpu_seconds():
	"""User + system CPU time of the whole process (every thread) so far."""
	ru = resource.getrusage(resource.RUSAGE_SELF)
	return ru.ru_utime + ru.ru_stime


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--rec", required=True)
	ap.add_argument("--idx", default="", help=".idx (only needed with --shuffle)")
	ap.add_argument("--threads", type=int, default=1, help="preprocess_threads")
	ap.add_argument("--batch-size", type=int, default=64)
	ap.add_argument("--epochs", type=int, default=4, help="epochs; the first is not timed")
	ap.add_argument("--data-shape", default="3,224,224")
	ap.add_argument("--resize", type=int, default=256, help="-1: none")
	ap.add_argument("--prefetch", type=int, default=4, help="prefetch_buffer")
	ap.add_argument("--shuffle", action="store_true")
	ap.add_argument("--no-aug", action="store_true", help="no rand_crop/rand_mirror (center crop)")
	args = ap.parse_args()

	kwargs = dict(
		path_imgrec=args.rec,
		data_shape=tuple(int(v) for v in args.data_shape.split(",")),
		batch_size=args.batch_size,
		resize=args.resize,
		rand_crop=not args.no_aug,
		rand_mirror=not args.no_aug,
		mean_r=123.68, mean_g=116.779, mean_b=103.939,
		std_r=58.393, std_g=57.12, std_b=57.375,
		preprocess_threads=args.threads,
		prefetch_buffer=args.prefetch,
		shuffle=args.shuffle,
		seed=1,
		verbose=True,
	)
	if args.idx:
		kwargs["path_imgidx"] = args.idx
	it = mx.io.ImageRecordIter(**kwargs)

	images = 0
	seconds = 0.0
	cpu0 = cpu_seconds()
	for epoch in range(args.epochs):
		t = time.perf_counter()
		if epoch:
			it.reset()
		batches = 0
		for batch in it:
			batch.data[0].wait_to_read()
			batches += 1
		dt = time.perf_counter() - t
		n = batches * args.batch_size
		print("Epoch[%d] mxnet-imagerec: %d images in %d batches, %.3f s, %.1f images/sec"
		      % (epoch, n, batches, dt, n / dt if dt > 0 else 0.0), flush=True)
		if epoch or args.epochs == 1:
			images += n
			seconds += dt
		elif epoch == 0:
			cpu0 = cpu_seconds()   # the CPU time of the timed epochs only
	if images == 0 or seconds <= 0:
		sys.exit("mxnet_imagerec: nothing was timed")
	cpu = cpu_seconds() - cpu0
	peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
	print("mxnet-imagerec threads=%d epochs=%d images=%d seconds=%.3f images_per_sec=%.1f cpu_seconds=%.3f peak_rss_mb=%.1f"
	      % (args.threads, args.epochs, images, seconds, images / seconds, cpu, peak_rss_mb))


if __name__ == "__main__":
	main()
