-- The ROS graph gate without a cluster: the ros_graph schema (through rigelfile.from_config,
-- as a Rigelfile goes), what check() reports missing, the diagnosis text, and how the
-- orchestration's and the components' graphs merge. The gate against the real rosmaster is
-- tests/e2e/test_ros_graph.py.
local rigelfile = require "rigelk8s.rigelfile"
local rosgraph = require "rigelk8s.rosgraph"
local wf = require "rigelk8s.workflow"

local function cfg_of(orch) return rigelfile.from_config({orchestration = orch}, {source = "cfg.json"}) end

local function config_error(orch)
  local ok, e = pcall(cfg_of, orch)
  assert.is_false(ok, "the config was accepted")
  assert.equal(2, e.exit_code)
  return e.message
end

describe("ros_graph schema", function()
  it("is absent unless declared", function()
    assert.is_nil(cfg_of({}).ros_graph)
  end)

  it("fills defaults and reads durations", function()
    local g = cfg_of({ros_graph = {nodes = {"/talker"}, topics = {["/chatter"] = {subscribers = 2}}}}).ros_graph
    assert.same({"/talker"}, g.nodes)
    assert.same({["/chatter"] = {publishers = 0, subscribers = 2}}, g.topics)
    assert.same({}, g.services)
    assert.equal(60, g.timeout)
    assert.equal("ros-master", g.service)
    assert.equal(11311, g.port)
    assert.equal("job", g.on_unavailable)
    assert.equal(90, cfg_of({ros_graph = {timeout = "1m30s"}}).ros_graph.timeout)
    assert.equal(5, cfg_of({ros_graph = {timeout = 5}}).ros_graph.timeout)
  end)

  it("names the path and the fix for a relative ROS name, a bad duration and a typo", function()
    assert.matches("with.orchestration.ros_graph.nodes[1]: \"listener\" is not a global ROS name; " ..
                   "write it with a leading slash, e.g. /listener",
                   config_error({ros_graph = {nodes = {"/talker", "listener"}}}), 1, true)
    assert.matches("ros_graph.topics.chatter: \"chatter\" is not a global ROS name; write it with a leading slash, e.g. /chatter",
                   config_error({ros_graph = {topics = {chatter = {publishers = 1}}}}), 1, true)
    assert.matches("ros_graph.timeout: expected a positive duration such as 60s or 2m, got \"soon\"",
                   config_error({ros_graph = {timeout = "soon"}}), 1, true)
    assert.matches("ros_graph.topic: unknown key 'topic'; did you mean 'topics'?",
                   config_error({ros_graph = {topic = {}}}), 1, true)
    assert.matches("ros_graph.on_unavailable",
                   config_error({ros_graph = {on_unavailable = "ignore"}}), 1, true)
  end)

  it("is accepted per component and merged with the orchestration's graph", function()
    local cfg = cfg_of({ros_graph = {nodes = {"/talker"}, topics = {["/chatter"] = {publishers = 1}}, timeout = "5s"},
                        components = {{name = "planner", ros_graph = {nodes = {"/planner", "/talker"},
                          topics = {["/chatter"] = {subscribers = 1}}, services = {"/plan"}, timeout = "30s"}}}})
    local want = wf.wanted_graph(cfg)
    assert.same({"/talker", "/planner"}, want.nodes)
    assert.same({["/chatter"] = {publishers = 1, subscribers = 1}}, want.topics)
    assert.same({"/plan"}, want.services)
    assert.equal(30, want.timeout)
    assert.is_nil(wf.wanted_graph(cfg_of({components = {{name = "a"}}})))
  end)
end)

local GRAPH = {master = "ros-master:11311", namespace = "ns", nodes = {"/server", "/talker"},
               topics = {["/chatter"] = {publishers = {"/talker"}, subscribers = {}},
                         ["/rosout"] = {publishers = {"/server", "/talker"}, subscribers = {}}},
               services = {["/add_two_ints"] = {providers = {"/server"}}}}

describe("rosgraph.check", function()
  it("is empty when the graph holds (counts are minimums)", function()
    assert.same({}, rosgraph.check(GRAPH, {nodes = {"/talker"}, topics = {["/chatter"] = {publishers = 1}},
                                           services = {"/add_two_ints"}}))
  end)

  it("names every missing node, short topic and service", function()
    assert.same({"node /listener is not registered",
                 "topic /chatter has 1 publisher and 0 subscribers (wants at least 1 subscriber)",
                 "topic /scan has 0 publishers and 0 subscribers (wants at least 2 publishers and at least 1 subscriber)",
                 "service /reset is not advertised"},
                rosgraph.check(GRAPH, {nodes = {"/talker", "/listener"},
                                       topics = {["/chatter"] = {publishers = 1, subscribers = 1},
                                                 ["/scan"] = {publishers = 2, subscribers = 1}},
                                       services = {"/add_two_ints", "/reset"}}))
  end)
end)

describe("rosgraph.describe", function()
  it("leads with what is missing, then the last error and the timeout", function()
    local r = {state = "incomplete", problems = {"node /listener is not registered"}, elapsed = 2.04}
    assert.equal("pods are Ready but the ROS graph is incomplete: node /listener is not registered " ..
                 "(waited 2.0s of ros_graph.timeout 2s)", rosgraph.describe(r, 2))
    r.error = {message = "the ROS master ros-master:11311 in namespace ns (through the API server's " ..
                         "service proxy) did not answer: error trying to reach service"}
    assert.matches("was incomplete at the last answer: node /listener is not registered; then the ROS master " ..
                   "ros-master:11311 in namespace ns", rosgraph.describe(r, 2), 1, true)
    r.problems = nil
    assert.matches("^pods are Ready but the ROS graph could not be checked: the ROS master", rosgraph.describe(r, 2))
  end)

  it("prints the graph for people and as a document", function()
    local text = rosgraph.text(GRAPH)
    assert.matches("  nodes (2):\n    /server\n    /talker\n", text, 1, true)
    assert.matches("    /chatter  1 publisher, 0 subscribers", text, 1, true)
    assert.matches("    /add_two_ints  (/server)", text, 1, true)
    local doc = rosgraph.document(GRAPH)
    assert.equal("/chatter", doc.topics[1].name)
    assert.same({"/talker"}, doc.topics[1].publishers)
  end)
end)

describe("rigelk8s.xmlrpc", function()
  local xmlrpc = require "rigelk8s.xmlrpc"
  it("returns faults and bad bodies as values, not raises", function()
    local v, err = xmlrpc.decode_response("<html>503</html>")
    assert.is_nil(v)
    assert.equal("InvalidResponse", err.reason)
    v, err = xmlrpc.decode_response("<methodResponse><fault><value><struct><member><name>faultCode</name>" ..
      "<value><int>2</int></value></member><member><name>faultString</name><value>no</value></member>" ..
      "</struct></value></fault></methodResponse>")
    assert.is_nil(v)
    assert.equal("Fault", err.reason)
    assert.equal(2, err.fault.faultCode)
    assert.equal("XML-RPC fault 2: no", err.message)
  end)
end)

describe("rosgraph_job (the check Job)", function()
  local graphjob = require "rigelk8s.rosgraph_job"
  it("parses the last marker line of the Job's log into the ROS 1 graph shape", function()
    local g = assert(graphjob.parse("noise\nRIGELK8S_ROS_GRAPH {\"nodes\":[],\"topics\":[]}\n" ..
      "[INFO] RIGELK8S_ROS_GRAPH {\"nodes\":[\"/b\",\"/a\"],\"topics\":[{\"name\":\"/t\",\"type\":\"x/msg/Y\"," ..
      "\"publishers\":[\"/a\"],\"subscribers\":[]}],\"services\":[{\"name\":\"/s\",\"providers\":[\"/b\"]}]}\n"))
    assert.same({"/a", "/b"}, g.nodes)
    assert.equal("x/msg/Y", g.topics["/t"].type)
    assert.same({"/a"}, g.topics["/t"].publishers)
    assert.same({"/b"}, g.services["/s"].providers)
    assert.same({"topic /t has 1 publisher and 0 subscribers (wants at least 1 subscriber)"},
                rosgraph.check(g, {topics = {["/t"] = {publishers = 1, subscribers = 1}}}))
  end)

  it("says what is wrong with output that is not the graph", function()
    local g, err = graphjob.parse("[emulator] started\nready\n")
    assert.is_nil(g)
    assert.equal("the check Job printed no RIGELK8S_ROS_GRAPH line", err)
    g, err = graphjob.parse("RIGELK8S_ROS_GRAPH {\"nodes\": 3}")
    assert.is_nil(g)
    assert.matches("is not the expected JSON", err, 1, true)
  end)

  it("names its Job within the 63 characters of a label value", function()
    local cfg = rigelfile.from_config({orchestration = {deployment_name = string.rep("a", 55)}},
                                      {vars = {distro = "humble"}})
    local name = graphjob.job_name(cfg)
    assert.is_true(#name <= 63, name)
    assert.matches("^a+%-graph%-check%-%x+$", name)
  end)
end)
