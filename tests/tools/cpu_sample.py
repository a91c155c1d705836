"""CPU per process group (cspr, postgres, nats, python, other), in cores, each second, from
/proc; with machine idle %. Usage: python3 tests/tools/cpu_sample.py SECONDS OUT

Run beside a benchmark (e.g. `python3 tests/tools/cpu_sample.py 75 cpu.txt & ./target/release/cspr-bench read`)
to see what the cores are spent on; BENCHMARKS.md quotes such samples."""
import os, sys, time
HZ = os.sysconf('SC_CLK_TCK')
def procs():
    out = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit(): continue
        try:
            data = open(f'/proc/{pid}/stat').read()
            comm = data[data.index('(')+1:data.rindex(')')]
            fields = data[data.rindex(')')+2:].split()
            out[pid] = (comm, int(fields[11]) + int(fields[12]))
        except Exception: pass
    return out
def total():
    f = open('/proc/stat').readline().split()[1:]
    v = list(map(int, f)); return sum(v), v[3] + v[4]
def group(comm):
    for name in ('cspr', 'postgres', 'nats', 'python'):
        if name in comm: return name
    return 'other'
seconds, out = int(sys.argv[1]), open(sys.argv[2], 'w')
a, (t0, i0) = procs(), total()
for _ in range(seconds):
    time.sleep(1)
    b, (t1, i1) = procs(), total()
    use = {}
    for pid, (comm, ticks) in b.items():
        prev = a.get(pid, (comm, ticks))[1]
        use[group(comm)] = use.get(group(comm), 0) + (ticks - prev) / HZ
    idle = (i1 - i0) / max(t1 - t0, 1) * 100
    out.write(f"idle {idle:.0f}% | " + " ".join(f"{k} {v:.2f}" for k, v in sorted(use.items())) + "\n"); out.flush()
    a, t0, i0 = b, t1, i1
