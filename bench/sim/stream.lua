-- wrk script: every connection POSTs one long streaming vLLM completion, then another when it
-- ends. Usage: wrk ... -s bench/sim/stream.lua http://127.0.0.1:PORT/v1/completions -- TOKENS
-- TOKENS (default 2000) is the exact stream length (ignore_eos makes the sim emit exactly N).
local tokens = 2000

function init(args)
  if args[1] ~= nil then tokens = tonumber(args[1]) end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"model":"sim-model","prompt":"benchmark prompt with eight words in it","max_tokens":'
      .. tokens .. ',"ignore_eos":true,"stream":true}'
end
