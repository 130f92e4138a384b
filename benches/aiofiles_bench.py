#!/usr/bin/env python3
"""The python-aiofiles contender of `cargo bench --bench disk`.

Runs one measurement the way a Python user writes async disk I/O: asyncio
plus aiofiles (every call goes to the default thread-pool executor), and
prints one JSON line on stdout:

    {"iops": .., "mib_s": .., "ops": .., "elapsed_s": .., "p50_us": ..,
     "p99_us": .., "p999_us": .., "max_us": .., "cpu_us_per_op": ..,
     "aiofiles": "<version>", "python": "<version>"}

Modes (the same workloads as the Rust contenders):

- randread: INFLIGHT tasks, each with its own aiofiles file object, loop
  `await f.seek(off); await f.read(BS)` at random BS-aligned offsets.
- readfile: INFLIGHT tasks read whole files (`await f.read()`) from the
  list in FILE (a directory: every regular file in it, sorted), round robin.
- append: INFLIGHT tasks each append BS bytes to their own file in FILE (a
  directory) and `await f.flush(); await loop.run_in_executor(None,
  os.fdatasync, fd)` (aiofiles has no fsync), the log-writer pattern.

Latency percentiles come from the recorded per-op latencies (perf_counter_ns);
CPU time is getrusage(RUSAGE_SELF) over the measured interval, executor
threads included. Operations are counted and timed only between the end of
the warm-up and the deadline.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import time

import aiofiles


def aiofiles_version():
    try:
        from importlib.metadata import version

        return version("aiofiles")
    except Exception:  # noqa: BLE001 - only for the report
        return "unknown"


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Clock:
    """Warm-up then measurement window, shared by every task."""

    def __init__(self, warmup, duration):
        now = time.perf_counter_ns()
        self.start = now + int(warmup * 1e9)
        self.end = self.start + int(duration * 1e9)
        self.cpu0 = None
        self.t0 = None
        self.cpu1 = None
        self.t1 = None


async def controller(clock):
    await asyncio.sleep(max(0.0, (clock.start - time.perf_counter_ns()) / 1e9))
    clock.t0 = time.perf_counter_ns()
    clock.cpu0 = cpu_seconds()
    await asyncio.sleep(max(0.0, (clock.end - time.perf_counter_ns()) / 1e9))
    clock.t1 = time.perf_counter_ns()
    clock.cpu1 = cpu_seconds()


async def randread_task(path, bs, size, seed, clock, lat):
    rng = random.Random(seed)
    blocks = size // bs
    async with aiofiles.open(path, "rb") as f:
        while True:
            t0 = time.perf_counter_ns()
            if t0 >= clock.end:
                return
            await f.seek(rng.randrange(blocks) * bs)
            data = await f.read(bs)
            if len(data) != bs:
                raise RuntimeError(f"short read: {len(data)}")
            if t0 >= clock.start:
                lat.append(time.perf_counter_ns() - t0)


async def readfile_task(files, first, step, clock, lat, nbytes):
    i = first
    while True:
        t0 = time.perf_counter_ns()
        if t0 >= clock.end:
            return
        async with aiofiles.open(files[i % len(files)], "rb") as f:
            data = await f.read()
        i += step
        if t0 >= clock.start:
            lat.append(time.perf_counter_ns() - t0)
            nbytes[0] += len(data)


async def append_task(path, bs, clock, lat):
    loop = asyncio.get_running_loop()
    payload = os.urandom(bs)
    async with aiofiles.open(path, "ab") as f:
        fd = f.fileno()
        while True:
            t0 = time.perf_counter_ns()
            if t0 >= clock.end:
                return
            await f.write(payload)
            await loop.run_in_executor(None, os.fdatasync, fd)
            if t0 >= clock.start:
                lat.append(time.perf_counter_ns() - t0)


def percentile(sorted_ns, q):
    if not sorted_ns:
        return float("nan")
    k = min(len(sorted_ns) - 1, max(0, int(round(q * len(sorted_ns) + 0.5)) - 1))
    return sorted_ns[k] / 1000.0


async def main(args):
    clock = Clock(args.warmup, args.duration)
    lats = [[] for _ in range(args.inflight)]
    nbytes = [0]
    if args.mode == "randread":
        size = os.path.getsize(args.file)
        tasks = [
            randread_task(args.file, args.bs, size, args.seed + i, clock, lats[i])
            for i in range(args.inflight)
        ]
    elif args.mode == "readfile":
        files = sorted(
            os.path.join(args.file, n)
            for n in os.listdir(args.file)
            if os.path.isfile(os.path.join(args.file, n))
        )
        tasks = [
            readfile_task(files, i, args.inflight, clock, lats[i], nbytes)
            for i in range(args.inflight)
        ]
    elif args.mode == "append":
        tasks = [
            append_task(os.path.join(args.file, f"log-{i}"), args.bs, clock, lats[i])
            for i in range(args.inflight)
        ]
    else:
        raise SystemExit(f"unknown mode {args.mode}")
    await asyncio.gather(controller(clock), *tasks)
    lat = sorted(x for l in lats for x in l)
    elapsed = (clock.t1 - clock.t0) / 1e9
    ops = len(lat)
    if args.mode != "readfile":
        nbytes[0] = ops * args.bs
    cpu = clock.cpu1 - clock.cpu0
    out = {
        "iops": ops / elapsed,
        "mib_s": nbytes[0] / elapsed / (1 << 20),
        "ops": ops,
        "elapsed_s": elapsed,
        "p50_us": percentile(lat, 0.50),
        "p99_us": percentile(lat, 0.99),
        "p999_us": percentile(lat, 0.999),
        "max_us": lat[-1] / 1000.0 if lat else float("nan"),
        "cpu_us_per_op": cpu * 1e6 / ops if ops else float("nan"),
        "aiofiles": aiofiles_version(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", default="randread", choices=["randread", "readfile", "append"])
    p.add_argument("--file", required=True)
    p.add_argument("--bs", type=int, default=4096)
    p.add_argument("--inflight", type=int, default=32)
    p.add_argument("--duration", type=float, default=1.0)
    p.add_argument("--warmup", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=0x5EED)
    asyncio.run(main(p.parse_args()))
