-- rotate-tokens.lua: wrk sends a different bearer token on every request,
-- cycling through a file of pre-minted tokens (one per line), so the
-- proxy's token cache misses (it holds 4,096 per worker thread).
--
--   wrk -t1 -c64 -d10s -s rotate-tokens.lua URL -- TOKENS_FILE
local tokens = {}
local next_token = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  if #tokens == 0 then error("no tokens in " .. tostring(args[1])) end
end

function request()
  next_token = next_token % #tokens + 1
  wrk.headers["Authorization"] = "Bearer " .. tokens[next_token]
  return wrk.format()
end
