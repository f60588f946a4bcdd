-- Message digests, from OpenSSL's libcrypto (loaded with the Kubernetes client plugin,
-- which links it for TLS already).
--
--   local hash = require "rigelk8s.hash"
--   hash.sha256("text")   -- "982d9e3e..." (64 lowercase hex digits)
local kube = require "rigelk8s.kube"

local M = {}

-- sha256(data) -> the SHA-256 of the string data, as 64 lowercase hex digits.
function M.sha256(data)
  if type(data) ~= "string" then
    require("rigelk8s.errors").usage("hash.sha256: expected a string, got %s", type(data))
  end
  return kube.hash.sha256(data)
end

return M
