-- wrk script: POSTs the GraphQL request in BENCH_BODY, or, with BENCH_WRITE=1, a createBook for a
-- random author among the first BENCH_AUTHORS (BENCH_WRITE_TEMPLATE, a request body with `%d` for
-- the author, when the server names it otherwise); counts every response that is not a 200
-- without GraphQL errors; prints one RESULT line for bench/run.sh.
local body = os.getenv("BENCH_BODY") or ""
local authors = tonumber(os.getenv("BENCH_AUTHORS") or "1")
local write = os.getenv("BENCH_WRITE") == "1"
local template = os.getenv("BENCH_WRITE_TEMPLATE") or ""
if template == "" then
  template = '{"query":"mutation($a: ID!) { createBook(input: { authorId: $a, title: \\"Benchmark\\", publishedYear: 2000 }) { id } }","variables":{"a":"%d"}}'
end
local threads = {}

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = body

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  errors = 0
  math.randomseed(os.time() + #threads * 7919)
end

function request()
  if write then
    local mutation = string.format(template, math.random(1, authors))
    return wrk.format(nil, nil, nil, mutation)
  end
  return wrk.format()
end

function response(status, headers, response_body)
  if status ~= 200 or response_body:find('"errors"', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local failed = summary.errors.status
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("errors")
  end
  local socket = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, failed + socket))
end
