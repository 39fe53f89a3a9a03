-- wrk script: HTTP/1.1 pipelining. Usage: wrk ... -s bench/pipeline.lua URL -- DEPTH
-- init() builds DEPTH copies of the request once; request() sends them as one
-- write. wrk only writes the next batch after all DEPTH responses arrived, and
-- its "N requests in ..." line counts responses, so it stays comparable.

local req

init = function(args)
   local depth = tonumber(args[1]) or 1
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format()
   end
   req = table.concat(r)
end

request = function()
   return req
end
