-- wrk script for bench/run.sh: sends the requests of the file named by
-- WECHAT_REQUESTS, one per line (`PATH?QUERY<TAB>BODY`), each once. When
-- the file runs out it asks for a path no server has, so the run fails
-- (non-2xx) rather than silently repeating a request the service would
-- de-duplicate. With WECHAT_REQUESTS_WRAP=1 (the bare server, which checks
-- nothing) it starts the file again instead: the client does the same work.
local path = os.getenv("WECHAT_REQUESTS")
local wrap = os.getenv("WECHAT_REQUESTS_WRAP") == "1"
local file
local headers = { ["Content-Type"] = "text/xml; charset=utf-8" }

init = function(args)
  file = assert(io.open(path, "r"))
end

request = function()
  local line = file:read("*l")
  if not line and wrap then
    file:seek("set", 0)
    line = file:read("*l")
  end
  if not line then
    return wrk.format("POST", "/requests-file-exhausted", headers, "")
  end
  local tab = line:find("\t", 1, true)
  return wrk.format("POST", line:sub(1, tab - 1), headers, line:sub(tab + 1))
end
