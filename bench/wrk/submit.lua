-- wrk script of bench/ingest-path.ts: POSTs one body to Firefox-style
-- submission paths with a docId unique per thread and request.
--   wrk ... -s bench/wrk/submit.lua URL -- BODY_FILE ID_PREFIX [CONTENT_ENCODING] [MAX_REQUESTS THREADS [DONE_FILE]]
-- BODY_FILE: the body, sent as is (Content-Type: application/json).
-- ID_PREFIX: [A-Za-z0-9-], unique per run (docIds are ID_PREFIX-thread-counter).
-- CONTENT_ENCODING: sent as Content-Encoding when not empty (e.g. gzip).
-- MAX_REQUESTS: over all threads; a thread stops after its share (0 or absent:
--   run for the whole -d duration). Up to -c requests more may be in flight then.
-- THREADS: wrk's -t (the share of MAX_REQUESTS per thread needs it).
-- DONE_FILE: each thread appends a line to it when it stops after its share
--   (wrk itself runs on until -d or SIGINT: the bench interrupts it then).
-- done() prints one line "WRK_JSON {...}" (latencies in microseconds);
-- non-2xx are wrk's status errors (every status > 399): no response() hook,
-- which would make wrk parse every response for Lua.

local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  local file = assert(io.open(args[1], "rb"), "cannot open the body file")
  body = file:read("*a")
  file:close()
  id_prefix = args[2] or "wrk"
  headers = { ["Content-Type"] = "application/json" }
  if args[3] ~= nil and args[3] ~= "" then headers["Content-Encoding"] = args[3] end
  local max_requests = tonumber(args[4] or "0") or 0
  -- thread_count is not known here (setup runs in the main Lua state): the bench passes threads too.
  local threads = tonumber(args[5] or "1") or 1
  limit = 0
  if max_requests > 0 then
    limit = math.floor(max_requests / threads)
    if thread_id < max_requests % threads then limit = limit + 1 end
  end
  done_file = args[6]
  if done_file == "" then done_file = nil end
  path_head = "/submit/telemetry/" .. id_prefix .. "-" .. thread_id .. "-"
  path_tail = "/saved-session/Firefox/23.0.1/release/20130814063812"
  counter = 0
end

function request()
  counter = counter + 1
  if limit > 0 and counter == limit then
    wrk.thread:stop()
    if done_file then
      local file = io.open(done_file, "a")
      if file then
        file:write(thread_id, "\n")
        file:close()
      end
    end
  end
  return wrk.format("POST", path_head .. counter .. path_tail, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"p999Us":%d,"maxUs":%d,"meanUs":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
