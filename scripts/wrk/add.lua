-- wrk: POST /v1/tries/users/entries with $BATCH (default 1) entries
-- {"key": <random census last name, lowercased>, "value": <n>} per request.
-- Each connection waits $DELAY_MS (default 0) between a response and its next request.
-- ADD_FORMAT=go posts the Go anchor's /add {"key","value"} instead.
local path = os.getenv("LASTNAMES") or "data/last.txt"
local batch = tonumber(os.getenv("BATCH") or "1")
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local go = os.getenv("ADD_FORMAT") == "go"
local names = {}
for line in io.lines(path) do
  names[#names + 1] = string.lower(line:match("^([^\t]+)"))
end
local n = 0
local counter = 0

setup = function(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

init = function(args)
  math.randomseed(7 + (tid or 0))
  n = (tid or 0) * 1000000000
end

request = function()
  if go then
    n = n + 1
    local body = string.format('{"key":"%s","value":"w%d"}', names[math.random(#names)], n)
    return wrk.format("POST", "/add", { ["Content-Type"] = "application/json" }, body)
  end
  local parts = {}
  for i = 1, batch do
    n = n + 1
    parts[i] = string.format('{"key":"%s","value":%d}', names[math.random(#names)], 20000000 + n)
  end
  local body = '{"entries":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/v1/tries/users/entries", { ["Content-Type"] = "application/json" }, body)
end

response = function(status, headers, body)
  if status ~= 200 then
    io.stderr:write("add failed: " .. status .. " " .. body .. "\n")
  end
end

if delay_ms > 0 then
  delay = function()
    return delay_ms
  end
end
