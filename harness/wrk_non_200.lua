-- wrk counts only statuses outside 2xx and 3xx as errors: a redirect to a login page or to
-- https would pass as success. This counts every answer that is not a 200 and reports it
-- after wrk's own summary (also when wrk is stopped early with SIGINT).
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   non_200 = 0
end

function response(status, headers, body)
   if status ~= 200 then
      non_200 = non_200 + 1
   end
end

function done(summary, latency, requests)
   local total = 0
   for _, thread in ipairs(threads) do
      total = total + thread:get("non_200")
   end
   io.write(string.format("Non-200 responses: %d\n", total))
end
