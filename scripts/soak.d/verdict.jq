# The soak verdict, from the samples of the proxy's stats socket and the clients' summaries.
# jq -n --argjson meta M --slurpfile samples samples.ndjson --argjson client C --argjson stream S
#       --slurpfile churn churn.ndjson -f verdict.jq
# Each check: {name, ok: true | false | null (not enough data to judge), detail, ...numbers}.

def median: sort | if length == 0 then null
  elif length % 2 == 1 then .[(length - 1) / 2]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def round1: . * 10 | round / 10;
def round3: . * 1000 | round / 1000;
def mb: . / 1e6 | round1;
def mib: . / 1048576 | round1;
def num: type == "number";
def sum_of(f): map(f) | add // 0;
def sessionless_fds: .process.open_fds - 2 * .totals.connections_active;

($samples | map(select(.soak.phase == "run"))) as $run
| ($samples | map(select(.soak.phase == "final")) | last) as $final
| ($final // ($run | last)) as $last_snap
| ($run | map(select(.soak.t >= $meta.warmup_s))) as $steady
| $meta.tolerances as $tol

# ---- throughput: bytes_per_s > 0 in every interval but isolated ones -------------------------
| ($run | map(.totals.bytes_per_s)) as $rates
| ($rates | reduce .[] as $r ({cur: 0, longest: 0, zeros: 0};
    if $r > 0 then .cur = 0 else .cur += 1 | .zeros += 1 | .longest = ([.longest, .cur] | max) end)) as $stall
| (if ($run | length) >= 2 then
     (($run | last).totals.bytes - ($run | first).totals.bytes) / (($run | last).soak.t - ($run | first).soak.t)
   elif ($run | length) == 1 then $run[0].totals.bytes_per_s_avg else 0 end) as $avg_rate
| {name: "throughput never stalled",
   ok: (($run | length) >= 1 and $stall.longest <= 1 and ($rates | max // 0) > 0),
   detail: (if ($run | length) == 0 then "no samples"
     else "\($run | length) samples: \($stall.zeros) with 0 B/s (longest run \($stall.longest), limit 1);"
       + " MB/s min \($rates | min | mb), median \($rates | median | mb), max \($rates | max | mb), mean \($avg_rate | mb)" end),
   zero_intervals: $stall.zeros, longest_stall_intervals: $stall.longest,
   bytes_per_s: {min: ($rates | min), median: ($rates | median), max: ($rates | max), mean: ($avg_rate | round)}
  } as $c_throughput

# ---- clients: every byte verified, no error --------------------------------------------------
| (def client_ok($s; $rc): $s != null and $s.ok == true and ($s.errors.total // 1) == 0 and $rc == 0;
   def client_text($s; $rc; $what):
     if $s == null then "\($what): no summary (exit \($rc))"
     else "\($what): \($s.messages) msgs, \($s.errors.total) errors"
       + (if $s.latency_us != null then ", p50 \($s.latency_us.p50 | round1) us, p99 \($s.latency_us.p99 | round1) us" else "" end)
       + (if $rc != 0 then " (exit \($rc))" else "" end)
       + (if $s.first_error then " - first: \($s.first_error)" else "" end) end;
   ($churn | map(select(.ok != true))) as $bad
   | [ client_ok($client; $meta.exit_codes.client),
       ($meta.stream_connections == 0 or client_ok($stream; $meta.exit_codes.stream)),
       ($meta.churn_connections == 0 or (($churn | length) > 0 and ($bad | length) == 0)) ] as $oks
   | {name: "no mismatches or resets (clients)",
      ok: ($oks | all),
      detail: ([client_text($client; $meta.exit_codes.client; "ping-pong")]
        + (if $meta.stream_connections > 0 then [client_text($stream; $meta.exit_codes.stream; "stream")] else [] end)
        + (if $meta.churn_connections > 0 then
            ["churn: \($churn | length) rounds x \($meta.churn_connections) conns, \($bad | length) failed"
             + (if ($bad | length) > 0 then " - first: \($bad[0].first_error // "exit \($bad[0].rc)")" else "" end)]
           else [] end) | join("; ")),
      pingpong: ($client | if . == null then null else {messages, errors, latency_us, throughput} end),
      stream: ($stream | if . == null then null else {messages, errors, throughput} end),
      churn: {rounds: ($churn | length), failed: ($bad | length), messages: ($churn | sum_of(.messages))}}
  ) as $c_clients

# ---- proxy counters --------------------------------------------------------------------------
| (($last_snap.workers // []) | {resets: sum_of(.counters.resets), connect_failed: sum_of(.counters.connect_failed),
    connect_timeout: sum_of(.counters.connect_timeout), idle_timeouts: sum_of(.counters.idle_timeouts),
    rw_fallbacks: sum_of(.counters.rw_fallbacks)}) as $ctr
| (($last_snap.listeners // []) | sum_of(.refused)) as $refused
| {name: "no resets or failed connects (proxy)",
   ok: ($last_snap != null and $ctr.resets == 0 and $ctr.connect_failed == 0 and $ctr.connect_timeout == 0
        and $ctr.idle_timeouts == 0 and $refused == 0),
   detail: (if $last_snap == null then "no samples" else
     "resets \($ctr.resets), connect_failed \($ctr.connect_failed), connect_timeout \($ctr.connect_timeout),"
     + " idle_timeouts \($ctr.idle_timeouts), refused \($refused); rw_fallbacks \($ctr.rw_fallbacks) (not an error)" end),
   counters: ($ctr + {refused: $refused})} as $c_counters

# ---- open fds: flat after warm-up ------------------------------------------------------------
# Counted on the quiet samples: taken between two rounds of the churn client, once its sessions
# had closed, so only the long-lived connections were open and open_fds is exact. A sample where
# the held churn client's sessions were still open 3 s after it exited fails the check too.
| ($steady | map(select(.soak.quiet == true))) as $quiet
| ($steady | map(select(.soak.held == true and .soak.quiet != true)) | length) as $stuck
| ($quiet | map(sessionless_fds)) as $sfds
| ($quiet | map(.process.open_fds)) as $fds
| {name: "open fds flat after warm-up",
   ok: (if ($quiet | length) < 2 then (if $stuck > 0 then false else null end)
        else ($fds | max) - ($fds | min) <= $tol.fd_max_minus_min and $stuck == 0 end),
   detail: ((if ($quiet | length) < 2 then "only \($quiet | length) quiet samples after the \($meta.warmup_s) s warm-up: not judged"
     else "open_fds min \($fds | min), max \($fds | max) (limit max-min <= \($tol.fd_max_minus_min))"
       + " over \($quiet | length) quiet samples after \($meta.warmup_s) s;"
       + " without the sessions' sockets \($sfds | min)..\($sfds | max)" end)
     + (if $stuck > 0 then "; \($stuck) samples with sessions still open 3 s after the churn client exited" else "" end)
     + (if ($steady | length) > ($quiet | length) + $stuck then "; \(($steady | length) - ($quiet | length) - $stuck) samples not quiet (not used)" else "" end)),
   open_fds: {min: ($fds | min), max: ($fds | max)}, sessionless_fds: {min: ($sfds | min), max: ($sfds | max)},
   quiet_samples: ($quiet | length), stuck_samples: $stuck
  } as $c_fds

# ---- RSS: last quarter's median within the allowance of the first quarter's ----------------
| ($steady | map(.process.rss_bytes)) as $rss
| ($rss | length) as $n
| (($n / 4) | floor) as $q
| (if $q >= 1 then ($rss[0:$q] | median) else null end) as $rss_first
| (if $q >= 1 then ($rss[$n - $q:] | median) else null end) as $rss_last
| (if $q >= 1 then ([$rss_first * $tol.rss_growth_pct / 100, $tol.rss_growth_mib * 1048576] | max) else null end) as $rss_limit
| {name: "RSS flat after warm-up",
   ok: (if $q < 1 then null else ($rss_last - $rss_first) <= $rss_limit end),
   detail: (if $q < 1 then "only \($n) samples after the \($meta.warmup_s) s warm-up: not judged"
     else "median of the first quarter \($rss_first | mib) MiB, last quarter \($rss_last | mib) MiB:"
       + " \(if $rss_last >= $rss_first then "+" else "" end)\(($rss_last - $rss_first) / 1024 | round1) KiB"
       + " (\(($rss_last - $rss_first) / $rss_first * 100 | round1)%), limit +\($rss_limit | mib) MiB"
       + " (\($tol.rss_growth_pct)% or \($tol.rss_growth_mib) MiB); min \($rss | min | mib), max \($rss | max | mib) MiB" end),
   rss_bytes: {first_quarter_median: $rss_first, last_quarter_median: $rss_last, limit: $rss_limit,
               min: ($rss | min), max: ($rss | max), samples_per_quarter: $q}
  } as $c_rss

# ---- workers ---------------------------------------------------------------------------------
| ($last_snap.workers // []) as $w
| {name: "every worker got work",
   ok: (($w | length) >= 1 and ($meta.client_only or ($w | length) == $meta.workers)
        and ($w | all(.connections_total > 0 and .bytes > 0))),
   detail: (if ($w | length) == 0 then "no workers in the stats"
     else ($w | map("w\(.id): \(.connections_total) conns, \(.bytes / 1e9 | round3) GB") | join("; "))
       + (if ($meta.client_only | not) and ($w | length) != $meta.workers then " (expected \($meta.workers) workers)" else "" end) end),
   workers: ($w | map({id, connections_total, bytes}))} as $c_workers

# ---- CPU per worker --------------------------------------------------------------------------
| (def avg: if length == 0 then null else add / length | round1 end;
   ($steady | if length > 0 then . else $run end) as $win
   | ($w | map(. as $x | {id: $x.id, user_s: $x.cpu.user_s, sys_s: $x.cpu.sys_s,
        user_pct_mean: ($win | map(.workers[] | select(.id == $x.id) | .cpu.user_pct) | avg),
        sys_pct_mean: ($win | map(.workers[] | select(.id == $x.id) | .cpu.sys_pct) | avg)})) as $cpu
   | {name: "CPU reported per worker",
      ok: (($w | length) >= 1 and ($w | all(.cpu.user_s | num) and all(.cpu.sys_s | num)
           and all(.cpu.user_pct | num) and all(.cpu.sys_pct | num) and all(.cpu.user_s + .cpu.sys_s > 0))
           and ($run | all(.workers | all(.cpu.user_pct | num) and all(.cpu.sys_pct | num)))),
      detail: (if ($w | length) == 0 then "no workers in the stats"
        else $cpu | map("w\(.id): user \(.user_s | round1) s, sys \(.sys_s | round1) s"
          + " (mean \(.user_pct_mean)% + \(.sys_pct_mean)% of a core)") | join("; ") end),
      workers: $cpu,
      process: ($last_snap.process.cpu // null)}
  ) as $c_cpu

# ---- drain: every session closed, no descriptor left behind -------------------------------
| (($sfds | max) // ($run | map(sessionless_fds) | max)) as $fd_ref
| {name: "drained after the clients stopped",
   ok: ($meta.drain_s != null and $final != null and $final.process.open_fds <= $fd_ref + $tol.fd_max_minus_min),
   detail: (if $meta.drain_s == null then "connections_active still \($final.totals.connections_active // "unknown") 10 s after the clients stopped"
     else "connections_active 0 after \($meta.drain_s) s; open_fds \($final.process.open_fds)"
       + " (limit \($fd_ref + $tol.fd_max_minus_min): the sessionless fds under load + \($tol.fd_max_minus_min))" end),
   open_fds_idle: ($final.process.open_fds // null)} as $c_drain

# ---- stats socket and processes --------------------------------------------------------------
| {name: "stats socket answered",
   ok: (($run | length) >= 1 and $meta.stats_misses == 0),
   detail: "\($run | length) samples every \($meta.interval_s) s, \($meta.stats_misses) unanswered"} as $c_stats
| ($meta.exit_codes) as $rc
| {name: "processes ran to the end",
   ok: (($meta.stop_reason | startswith("exited early") | not)
        and ($meta.client_only or ($rc.proxy == 0 and $rc.server == 0))),
   detail: ("stopped by \($meta.stop_reason) after \($meta.run_s) s"
     + (if $meta.client_only then "" else "; exit codes after SIGTERM: proxy \($rc.proxy), server \($rc.server)" end))} as $c_procs

| [$c_throughput, $c_clients, $c_counters, $c_fds, $c_rss, $c_workers, $c_cpu, $c_drain, $c_stats, $c_procs] as $checks
| {ok: ($checks | all(.ok != false)),
   mode: $meta.mode, workers: $meta.workers, run_s: $meta.run_s, stop_reason: $meta.stop_reason,
   summary: {
     mean_bytes_per_s: ($avg_rate | round),
     bytes_total: ($last_snap.totals.bytes // null),
     connections_total: ($last_snap.totals.connections_total // null),
     open_fds: $c_fds.open_fds, sessionless_fds: $c_fds.sessionless_fds,
     rss_bytes: $c_rss.rss_bytes,
     cpu_workers: $c_cpu.workers,
     pingpong_messages: ($client.messages // null),
     pingpong_latency_us: ($client.latency_us // null)},
   checks: $checks,
   meta: $meta}
