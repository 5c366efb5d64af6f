-- wrk script for tests/bench/run.sh: POST stop-and-cut with batchcut's exact body, rotating
-- through live videos lv{FIRST}..lv{FIRST+N-1} so that, like batchcut, every request cuts a
-- fresh video and gets a 200. Stops after N responses in total (split over wrk's threads),
-- then interrupts wrk's main sleep (SIGINT) so the run ends as soon as the work is done.
--
--   wrk -t T -c C -d 3600s -s wrk_post.lua URL -- N API_KEY PROJECT MARKER_DIR
-- URL is the base (http://127.0.0.1:PORT); MARKER_DIR is an empty directory for the
-- threads' "done" markers.

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local body = '{"dateTimeFrom":null,"dateTimeTo":null,"fromMilisecond":0,"toMilisecond":60000,"videoVisibilityOptionId":1}'
local next_video, quota, seen = 0, 0, 0
local marker_dir, prefix, nthreads = nil, nil, 1
local stopped = false

function init(args)
  local total = tonumber(args[1])
  local key = args[2]
  local project = args[3] or "proj1"
  marker_dir = args[4]
  nthreads = tonumber(args[5] or "1")
  -- Thread k takes videos [k*per, (k+1)*per) (the last takes the remainder).
  local per = math.floor(total / nthreads)
  next_video = id * per
  quota = (id == nthreads - 1) and (total - id * per) or per
  prefix = "/api/v2/" .. project .. "/live-videos/lv"
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
  local v = next_video
  next_video = next_video + 1
  -- Past the quota (requests sent while the last responses are in flight) the videos run
  -- on into the next thread's range or past N: run.sh gives the emulator N + slack videos.
  return wrk.format(nil, prefix .. v .. "/stop-and-cut")
end

local function finish()
  stopped = true
  wrk.thread:stop()
  if marker_dir then
    local f = io.open(marker_dir .. "/done." .. id, "w")
    if f then f:close() end
    local n = 0
    local p = io.popen("ls " .. marker_dir)
    for _ in p:lines() do n = n + 1 end
    p:close()
    if n >= nthreads then
      local s = io.open("/proc/self/stat")
      local pid = s:read("*n")
      s:close()
      -- Not os.execute: system() ignores SIGINT in the caller while the child runs.
      io.popen("kill -INT " .. pid):close()
    end
  end
end

function response(status, headers, body)
  seen = seen + 1
  if seen >= quota and not stopped then finish() end
end
