-- rotate-tokens.lua: wrk sends a different bearer token on every request,
-- cycling through a file of pre-minted tokens (one per line), so the
-- proxy's token cache misses (it holds 4,096 per worker thread).
--
--   wrk -t1 -c64 -d10s -s rotate-tokens.lua URL -- TOKENS_FILE
--
-- Every request's bytes are formatted once, in init(): request() only picks
-- the next one. Formatting per request (wrk.format builds the whole head in
-- Lua) made the load generator itself a limit of the fresh-token scenario.
local requests = {}
local next_request = 0

function init(args)
  local count = 0
  for line in io.lines(args[1]) do
    if #line > 0 then
      count = count + 1
      -- The command line's headers (-H), with this token's Authorization.
      local headers = {}
      for name, value in pairs(wrk.headers) do headers[name] = value end
      headers["Authorization"] = "Bearer " .. line
      requests[count] = wrk.format(nil, nil, headers)
    end
  end
  if count == 0 then error("no tokens in " .. tostring(args[1])) end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end
