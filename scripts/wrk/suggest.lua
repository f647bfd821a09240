-- wrk: GET <SUGGEST_PATH>?q=<random prefix from $QUERIES>&limit=10<SUGGEST_ARGS>
-- SUGGEST_PATH defaults to /v1/tries/users/suggest (the Go anchor uses /suggest);
-- SUGGEST_ARGS (default empty) is appended as is, e.g. "&order=score".
local path = os.getenv("QUERIES") or "target/bench-data/queries.txt"
local route = os.getenv("SUGGEST_PATH") or "/v1/tries/users/suggest"
local extra = os.getenv("SUGGEST_ARGS") or ""
local queries = {}
for line in io.lines(path) do
  queries[#queries + 1] = line:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end)
end
math.randomseed(42)

request = function()
  return wrk.format("GET", route .. "?q=" .. queries[math.random(#queries)] .. "&limit=10" .. extra)
end
