-- Rollout policy on top of the C evaluation primitives (rigelk8s.rollout_core):
-- wait for many objects at once on one set of watches, follow the pods that belong to
-- each workload, diagnose failures the moment they show, and kubectl-style history,
-- undo, pause, resume and restart.
--
--   local rollout = require "rigelk8s.rollout"
--   local result = rollout.wait(client, objects, {timeout = 300, fail_fast = "any",
--                                                 on_progress = function(rows) end})
--   -- result.state: "ready" | "failed" | "timeout" | "interrupted"
--   -- result.targets[i]: {namespace, kind, name, state, message, diagnosis, terminal},
--   --   in the order of objects; state "ready" | "failed" | "timeout" | "interrupted" |
--   --   "pending" (not waited for to the end: the wait stopped on another target)
--   -- result.rows: the same targets as progress rows {name, kind, namespace, object,
--   --   state, message, short, reasons, revision, diagnosis}
--   -- result.diagnosis: every failure's full text (pod, container, reason, events)
--   -- result.elapsed: seconds the wait took
--
-- Terminal states: a target is ready, failed-terminal (a Job's Failed condition, a
-- Deployment's ProgressDeadlineExceeded, a claim whose StorageClass does not exist) or
-- failed-for-now (a pod in CrashLoopBackOff, a permanent pull error, Unschedulable with
-- no node to match: someone may still fix it). A transient pull error and an
-- Unschedulable pod that may still get a node are waited for (Tracker:judge_pod). A Job is failed only by its Failed condition (backoffLimit, activeDeadlineSeconds)
-- and ready on Complete; its failed pods are retries, shown as "attempt 2/3 running".

-- The parts, each defining into one table: rollout_tracker (the Tracker: verdicts per
-- target; with rollout_policy, the failure policy for pulls and Unschedulable pods),
-- rollout_wait (the wait loop) and rollout_undo (history, undo, pause, resume, restart).
local M = require "rigelk8s.rollout_tracker"
require "rigelk8s.rollout_wait"
require "rigelk8s.rollout_undo"

return M
