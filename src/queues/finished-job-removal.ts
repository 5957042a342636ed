/**
 * A Lua function, for scripts that remove a finished job ahead of BullMQ's own age trim (the
 * producer client replacing a completed job whose verdict expired, or a failed one past its dedup
 * window; the worker's sweep of a quiet queue): `remove_finished_job(finished, id, job)` takes the
 * job out of its finished set (the queue's completed or failed set, whichever holds it) and deletes
 * its hash and sub-keys, the keys BullMQ's trim (removeJobsByMaxAge) deletes. A child of a flow
 * stays (its parent's bookkeeping is BullMQ's). Returns whether the job went.
 */
export const REMOVE_FINISHED_JOB = `
local function remove_finished_job(finished, id, job)
  if redis.call('HEXISTS', job, 'parentKey') == 1 then return false end
  redis.call('ZREM', finished, id)
  redis.call('DEL', job, job .. ':logs', job .. ':dependencies', job .. ':processed', job .. ':failed', job .. ':unsuccessful')
  return true
end
`;
