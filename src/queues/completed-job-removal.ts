/**
 * A Lua function, for scripts that remove a completed job ahead of BullMQ's own age trim (the
 * producer client replacing a job whose verdict expired, the worker's sweep of a quiet queue):
 * `remove_completed_job(completed, id, job)` takes the job out of the completed set and deletes
 * its hash and sub-keys, the keys BullMQ's trim (removeJobsByMaxAge) deletes. A child of a flow
 * stays (its parent's bookkeeping is BullMQ's). Returns whether the job went.
 */
export const REMOVE_COMPLETED_JOB = `
local function remove_completed_job(completed, id, job)
  if redis.call('HEXISTS', job, 'parentKey') == 1 then return false end
  redis.call('ZREM', completed, id)
  redis.call('DEL', job, job .. ':logs', job .. ':dependencies', job .. ':processed', job .. ':failed', job .. ':unsuccessful')
  return true
end
`;
