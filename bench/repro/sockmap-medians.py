# The 1-worker medians and the kernel-relay goals of a run's summary.json, one line each, as
# bench/results/2026-12-01-vm-sockmap/NOTES.md quotes them.
#   python3 bench/repro/sockmap-medians.py bench/results/RUN/summary.json
import json, sys
s=json.load(open(sys.argv[1]))
for a in sorted(s['aggregates'], key=lambda a:(a['workload'], a['path'])):
    if a['workers']!=1: continue
    t=a.get('throughput') or {}
    m=a.get('machine_cpu_s_per_gb') or {}
    c=(a.get('cpu_s_per_gb') or {}).get('total') or {}
    lat=(a.get('latency_us') or {}).get('p99') or {}
    mcr=(a.get('machine_cpu_us_per_request') or {})
    print(f"{a['workload']:12} {a['path']:18} ok={a['ok']} failed={a['failed']} tp={t.get('median')} [{t.get('min')}-{t.get('max')}] proxycpu={c.get('median')} machine={m.get('median')} p99={lat.get('median') if isinstance(lat,dict) else lat} mcpu/req={mcr.get('median') if isinstance(mcr,dict) else mcr}")
for g in s.get('goals_issue15', []):
    print(g['goal'], g.get('peer'), g.get('median'), g.get('met'))
