-- wrk script: every request POSTs the JSON body read from the file named by the first script
-- argument (bench/worker/run.sh writes there the exact body worker_bench sends).
-- Usage: wrk ... -s bench/worker/post.lua http://127.0.0.1:PORT/v1/completions -- BODY_FILE
function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = f:read("*a")
  f:close()
end
