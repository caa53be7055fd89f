"""The sockets of a crowd-stall run (run.sh) that moved no byte between two snapshots two seconds
apart: their role, queues, TCP timer, backoff, and when they last sent, received and got an ACK."""
import glob
import re
import sys


def load(path):
    lines, sockets, i = open(path).read().split("\n"), {}, 0
    while i < len(lines) - 1:
        head = lines[i].split()
        if len(head) < 4:
            i += 1
            continue
        sockets[(head[2], head[3])] = (head[0], head[1], " ".join(head[4:]), lines[i + 1])
        i += 2
    return sockets


def field(name, info):
    m = re.search(name + r":(\d+)", info)
    return m.group(1) if m else "-"


def role(key, proxy_port, server_port):
    local, peer = key[0].rsplit(":", 1)[1], key[1].rsplit(":", 1)[1]
    if local == proxy_port:
        return "proxy, from client"
    if peer == proxy_port:
        return "client"
    if local == server_port:
        return "server"
    return "proxy, to server"


def main(out, proxy_port, server_port):
    stamps = sorted(int(p.rsplit(".", 1)[1]) for p in glob.glob(f"{out}/ss.*"))
    if len(stamps) < 3:
        print("stuck: fewer than 3 snapshots (the run ended early)")
        return
    before, after = load(f"{out}/ss.{stamps[-3]}"), load(f"{out}/ss.{stamps[-1]}")
    moved = ("bytes_acked", "bytes_received")
    stuck = [k for k, v in after.items() if k in before and all(field(f, before[k][3]) == field(f, v[3]) for f in moved)]
    print(f"stuck: {len(stuck)} sockets moved no byte between snapshots {stamps[-3]} and {stamps[-1]} s")
    for k in sorted(stuck, key=lambda k: (role(k, proxy_port, server_port), k)):
        rq, sq, timer, info = after[k]
        print(f"  {role(k, proxy_port, server_port):18s} {k[0]} -> {k[1]}  Recv-Q {rq} Send-Q {sq} {timer or 'no timer'} "
              f"backoff {field('backoff', info)} acked {field('bytes_acked', info)} received {field('bytes_received', info)} "
              f"snd_wnd {field('snd_wnd', info)} last send/recv/ack {field('lastsnd', info)}/{field('lastrcv', info)}/"
              f"{field('lastack', info)} ms")


if __name__ == "__main__":
    main(*sys.argv[1:4])
