# The verdict JSON (verdict.jq's output) as a table for people: jq -r -f table.jq verdict.json
def result: if .ok == true then "PASS" elif .ok == false then "FAIL" else "SKIP" end;
def pad($n): tostring | . + " " * ([$n - length, 0] | max);

"",
"soak verdict: \(if .ok then "PASS" else "FAIL" end)  (\(.mode), \(.workers) workers, \(.run_s) s, stopped by \(.stop_reason))",
"",
("check" | pad(38)) + "result  detail",
("-" * 37 + " ------  " + "-" * 40),
(.checks[] | (.name | pad(38)) + (result | pad(8)) + .detail),
""
