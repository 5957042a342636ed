/**
 * Lua scripts of the list store. Each change and its version bump run as one script, so a worker
 * never sees a version without its change. Entry values are `<addedAt> <JSON info>`: an entry
 * written again with the same JSON is unchanged and keeps its first addedAt.
 */

/** Shared: writes triples (field, info JSON, addedAt) from ARGV[first..] into `target`, comparing with `live`. */
const WRITE_TRIPLES = `
local function write_triples(target, live, first)
  local added, updated, unchanged = 0, 0, 0
  for i = first, #ARGV, 3 do
    local field, rest, at = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local old = redis.call('HGET', live, field)
    if old then
      local space = string.find(old, ' ', 1, true) or 0
      if string.sub(old, space + 1) == rest then
        unchanged = unchanged + 1
        if target ~= live then redis.call('HSET', target, field, old) end
      else
        updated = updated + 1
        redis.call('HSET', target, field, string.sub(old, 1, space - 1) .. ' ' .. rest)
      end
    else
      added = added + 1
      redis.call('HSET', target, field, at .. ' ' .. rest)
    end
  end
  return added, updated, unchanged
end
`;

/**
 * Shared: creates the meta hash if absent, applies role/action when given; returns 1 if a setting
 * changed. A new list records its creation time: a list deleted and made again restarts at version
 * 0, and replicas tell it from the old one by that time, not by the version number.
 */
const APPLY_SETTINGS = `
local function apply_settings(meta, names, name, role, action, now)
  local changed = 0
  if redis.call('EXISTS', meta) == 0 then
    redis.call('HSET', meta, 'version', 0, 'role', 'block', 'action', 'block', 'createdAt', now)
    redis.call('SADD', names, name)
    changed = 1
  end
  if role ~= '' and redis.call('HGET', meta, 'role') ~= role then redis.call('HSET', meta, 'role', role); changed = 1 end
  if action ~= '' and redis.call('HGET', meta, 'action') ~= action then redis.call('HSET', meta, 'action', action); changed = 1 end
  return changed
end
local function bump(meta, channel, name, now)
  local version = redis.call('HINCRBY', meta, 'version', 1)
  redis.call('HSET', meta, 'updatedAt', now)
  redis.call('PUBLISH', channel, name .. ' ' .. version)
  return version
end
`;

/**
 * Adds or removes entries as one change. KEYS: meta, entries, names. ARGV: name, channel, op
 * (`add` | `remove`), role or '', action or '', now, then triples (add) or fields (remove).
 * Returns [version, added, updated, unchanged, removed].
 */
export const MUTATE_LIST = `${WRITE_TRIPLES}${APPLY_SETTINGS}
local meta, entries, names = KEYS[1], KEYS[2], KEYS[3]
local name, channel, op, role, action, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
-- Removing from a list that does not exist changes nothing (and creates nothing).
if op == 'remove' and redis.call('EXISTS', meta) == 0 then return { 0, 0, 0, 0, 0 } end
local changed = apply_settings(meta, names, name, role, action, now)
local added, updated, unchanged, removed = 0, 0, 0, 0
if op == 'add' then
  added, updated, unchanged = write_triples(entries, entries, 7)
else
  for i = 7, #ARGV do removed = removed + redis.call('HDEL', entries, ARGV[i]) end
end
local version = tonumber(redis.call('HGET', meta, 'version'))
if changed == 1 or added + updated + removed > 0 then version = bump(meta, channel, name, now) end
return { version, added, updated, unchanged, removed }
`;

/**
 * Writes one batch of an import into the staging hash. KEYS: staging, entries. ARGV: triples.
 * Returns [added, updated, unchanged] relative to the live entries.
 */
export const STAGE_ENTRIES = `${WRITE_TRIPLES}
local added, updated, unchanged = write_triples(KEYS[1], KEYS[2], 1)
return { added, updated, unchanged }
`;

/**
 * Makes a staged import the list, atomically, if nothing else changed the list meanwhile.
 * KEYS: meta, entries, staging, names. ARGV: name, channel, expected version, entries changed
 * (0/1), role or '', action or '', now. Returns the version, or -1 when the list moved on.
 */
export const COMMIT_STAGING = `${APPLY_SETTINGS}
local meta, entries, staging, names = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local name, channel, expected, entries_changed, role, action, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if tonumber(redis.call('HGET', meta, 'version') or '0') ~= expected then
  redis.call('UNLINK', staging)
  return -1
end
local changed = apply_settings(meta, names, name, role, action, now)
if entries_changed == '1' then
  redis.call('UNLINK', entries)
  if redis.call('EXISTS', staging) == 1 then redis.call('RENAME', staging, entries) end
else
  redis.call('UNLINK', staging)
end
if changed == 1 or entries_changed == '1' then return bump(meta, channel, name, now) end
return tonumber(redis.call('HGET', meta, 'version'))
`;
