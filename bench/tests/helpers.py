"""Synthetic runs, shaped as the bench records them, for the aggregation and goal tests."""


def run(path, workload, rep, tp=None, cpu=None, machine=None, workers=1, status="ok", unit="gbit_per_s"):
    m = {unit: tp, "bytes_oneway": 10 ** 9, "latency_us": {}}
    if cpu is not None:
        m["cpu_s_per_gb"] = {"total": cpu, "user": cpu / 2, "sys": cpu / 2}
    if machine is not None:
        m["machine_cpu_s_per_gb"] = machine
    return {"id": f"{path}-{workload}-{rep}", "seq": rep, "path": path, "workload": workload, "workers": workers,
            "rep": rep, "status": status, "error": None if status == "ok" else "boom", "metrics": m}
