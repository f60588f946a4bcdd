-- The orchestration config schema and a small validator for it. The schema is documented
-- for users at the top of rigelfile.lua; this module is the machine-readable copy.
--
--   local schema = require "rigelk8s.schema"
--   local cfg, problems = schema.validate(raw, schema.orchestration, "jobs.x.with.orchestration")
--
-- validate() never raises for bad input: it returns the normalized value (defaults
-- filled in, strings coerced the way Rigel's pydantic models coerce them: "5" -> 5,
-- "yes" -> true) and a list of problems {path=, message=}, one per bad value.
--
-- It joins two parts: rigelk8s.schema_validate (the type constructors, the checks of
-- each kind, validate(), and checks usable on their own such as dns_label_problem) and
-- rigelk8s.schema_orchestration (orchestration, ros_graph, ros2, the ROS distributions).
local M = {}
for _, part in ipairs{"rigelk8s.schema_validate", "rigelk8s.schema_orchestration"} do
  for k, v in pairs(require(part)) do
    assert(M[k] == nil, "rigelk8s.schema: two parts define " .. k)
    M[k] = v
  end
end
return M
