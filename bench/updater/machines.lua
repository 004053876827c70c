-- wrk script: update checks from 10,000 distinct machine ids, round robin.
local n = 0
request = function()
  n = n + 1
  local id = n % 10000
  return wrk.format("GET", "/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0&machine=m-" .. id)
end
