-- wrk script for the real-time API under load: addresses decided offline
-- (invalid syntax, disposable) or already cached, so the figures measure
-- Preflight itself, not a mail server.
-- Run: wrk -t2 -c64 -d15s --latency -s bench/verify.lua http://127.0.0.1:18080
-- With keys on, pass one: PREFLIGHT_KEY=$(cat preflight.key) wrk ...
local key = os.getenv("PREFLIGHT_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
local paths = {
  "/v1/verify?email=jane.doe%40mailinator.com",
  "/v1/verify?email=not-an-address",
  "/v1/verify?email=john%40guerrillamail.com",
  "/v1/verify?email=a%40%40b.example",
  "/v1/verify?email=cached%40example.com",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
