/**
 * Lua scripts of the list store. Each change and its version bump run as one script, so a worker
 * never sees a version without its change. Entry values are `<addedAt> <JSON info>`: an entry
 * written again with the same JSON is unchanged and keeps its first addedAt.
 *
 * Changelog: the same script appends the change to the list's `log` stream, one record per changed
 * entry with id `<new version>-<n>`, so a replica at version N reads N+1.. and applies them
 * (ListStore.changesSince). Records: `op add f <field> v <value>`, `op remove f <field>`,
 * `op settings role <role> action <action>` (made, or role/action changed) and `op reload` (the
 * entries were replaced, or a staged change had too many entries to log: replicas load the list
 * whole). Every version has at least one record, so a version without records (a writer from
 * before the changelog) reads as a gap. The stream is capped (MAXLEN ~). A version's first record
 * ends with `prev <stamp> stamp <stamp>`, and the bump stores its stamp in the meta
 * (see runtime/versioned-changelog.ts: how a version written again after a failover is told apart).
 */

/** Shared: appends records of the version being written (`start_log` first). */
const CHANGELOG = `
local log_key, log_maxlen, log_version, log_seq, log_prev, log_stamp = nil, nil, nil, 0, nil, nil
local function start_log(key, maxlen, version, meta)
  log_key, log_maxlen, log_version = key, maxlen, version
  -- A log left by an earlier list of this name (deleted by hand) would be ahead of this version:
  -- XADD would fail half-way through the script, after its writes.
  local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
  if top and tonumber(string.match(top[1], '^(%d+)')) >= version then redis.call('DEL', key) end
  local now = redis.call('TIME')
  log_prev = redis.call('HGET', meta, 'stamp') or ''
  log_stamp = now[1] .. string.format('%06d', tonumber(now[2]))
end
local function log_change(...)
  local id = log_version .. '-' .. log_seq
  if log_seq == 0 then
    local fields = { ... }
    local n = #fields
    fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4] = 'prev', log_prev, 'stamp', log_stamp
    redis.call('XADD', log_key, 'MAXLEN', '~', log_maxlen, id, unpack(fields))
  else
    redis.call('XADD', log_key, 'MAXLEN', '~', log_maxlen, id, ...)
  end
  log_seq = log_seq + 1
end
`;

/** Shared: records a staged entry's change in the staging log (HASH), up to `limit` entries, then only the overflow mark `!`. */
const STAGED_LOG = `
local function record_staged(staged_log, limit, field, value)
  if redis.call('HEXISTS', staged_log, '!') == 1 then return end
  if redis.call('HLEN', staged_log) >= limit and redis.call('HEXISTS', staged_log, field) == 0 then
    redis.call('HSET', staged_log, '!', '1')
    return
  end
  redis.call('HSET', staged_log, field, value)
end
`;

/** Shared: writes triples (field, info JSON, addedAt) from ARGV[first..] into `target`, comparing with `live`; `changed(field, value)` per added or updated entry. */
const WRITE_TRIPLES = `
local function write_triples(target, live, first, changed)
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
        local value = string.sub(old, 1, space - 1) .. ' ' .. rest
        redis.call('HSET', target, field, value)
        changed(field, value)
      end
    else
      added = added + 1
      local value = at .. ' ' .. rest
      redis.call('HSET', target, field, value)
      changed(field, value)
    end
  end
  return added, updated, unchanged
end
`;

/**
 * Shared: creates the meta hash if absent, applies role/action when given; returns 1 if a setting
 * changed. A new list records its creation time: a list deleted and made again restarts at version
 * 0, and replicas tell it from the old one by that time, not by the version number. Its changelog
 * starts empty.
 */
const APPLY_SETTINGS = `
local function apply_settings(meta, names, log, name, role, action, now)
  local changed = 0
  if redis.call('EXISTS', meta) == 0 then
    redis.call('HSET', meta, 'version', 0, 'role', 'block', 'action', 'block', 'createdAt', now)
    redis.call('SADD', names, name)
    redis.call('DEL', log)
    changed = 1
  end
  if role ~= '' and redis.call('HGET', meta, 'role') ~= role then redis.call('HSET', meta, 'role', role); changed = 1 end
  if action ~= '' and redis.call('HGET', meta, 'action') ~= action then redis.call('HSET', meta, 'action', action); changed = 1 end
  return changed
end
local function log_settings(meta)
  local settings = redis.call('HMGET', meta, 'role', 'action')
  log_change('op', 'settings', 'role', settings[1], 'action', settings[2])
end
local function bump(meta, channel, name, now)
  local version = redis.call('HINCRBY', meta, 'version', 1)
  redis.call('HSET', meta, 'updatedAt', now, 'stamp', log_stamp)
  redis.call('PUBLISH', channel, name .. ' ' .. version)
  return version
end
`;

/**
 * Adds or removes entries as one change. KEYS: meta, entries, names, log. ARGV: name, channel, op
 * (`add` | `remove`), role or '', action or '', now, changelog max length, then triples (add) or
 * fields (remove). Returns [version, added, updated, unchanged, removed].
 */
export const MUTATE_LIST = `${CHANGELOG}${WRITE_TRIPLES}${APPLY_SETTINGS}
local meta, entries, names, log = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local name, channel, op, role, action, now, maxlen = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
-- Removing from a list that does not exist changes nothing (and creates nothing).
if op == 'remove' and redis.call('EXISTS', meta) == 0 then return { 0, 0, 0, 0, 0 } end
local changed = apply_settings(meta, names, log, name, role, action, now)
local version = tonumber(redis.call('HGET', meta, 'version'))
start_log(log, maxlen, version + 1, meta)
if changed == 1 then log_settings(meta) end
local added, updated, unchanged, removed = 0, 0, 0, 0
if op == 'add' then
  added, updated, unchanged = write_triples(entries, entries, 8, function(field, value) log_change('op', 'add', 'f', field, 'v', value) end)
else
  for i = 8, #ARGV do
    if redis.call('HDEL', entries, ARGV[i]) == 1 then
      removed = removed + 1
      log_change('op', 'remove', 'f', ARGV[i])
    end
  end
end
if log_seq > 0 then version = bump(meta, channel, name, now) end
return { version, added, updated, unchanged, removed }
`;

/**
 * Writes one batch of an import into the staging hash. KEYS: staging, entries, staging log.
 * ARGV: staging log limit (0: log nothing, the commit reloads), then triples. Returns
 * [added, updated, unchanged] relative to the live entries.
 */
export const STAGE_ENTRIES = `${STAGED_LOG}${WRITE_TRIPLES}
local limit = tonumber(ARGV[1])
local added, updated, unchanged = write_triples(KEYS[1], KEYS[2], 2, function(field, value) record_staged(KEYS[3], limit, field, value) end)
return { added, updated, unchanged }
`;

/** Removes one batch of fields from a staged copy of the entries. KEYS: staging, staging log. ARGV: staging log limit, fields. Returns the count removed. */
export const STAGE_REMOVAL = `${STAGED_LOG}
local limit, removed = tonumber(ARGV[1]), 0
for i = 2, #ARGV do
  if redis.call('HDEL', KEYS[1], ARGV[i]) == 1 then
    removed = removed + 1
    record_staged(KEYS[2], limit, ARGV[i], '')
  end
end
return removed
`;

/**
 * Makes a staged import the list, atomically, if nothing else changed the list meanwhile.
 * KEYS: meta, entries, staging, names, log, staging log. ARGV: name, channel, expected version,
 * entries changed (0/1), role or '', action or '', now, changelog max length, replace (0/1),
 * expected stamp ('' for none: a list that does not exist yet, or from before stamps).
 * Logs the staged entries' changes, or `reload` for a replacement or an overflowing staging log.
 * Returns the version, or -1 when the list moved on.
 */
export const COMMIT_STAGING = `${CHANGELOG}${APPLY_SETTINGS}
local meta, entries, staging, names, log, staged_log = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local name, channel, expected, entries_changed, role, action, now, maxlen, replace, expected_stamp = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
if tonumber(redis.call('HGET', meta, 'version') or '0') ~= expected or (redis.call('HGET', meta, 'stamp') or '') ~= expected_stamp then
  redis.call('UNLINK', staging, staged_log)
  return -1
end
local changed = apply_settings(meta, names, log, name, role, action, now)
local version = tonumber(redis.call('HGET', meta, 'version'))
start_log(log, maxlen, version + 1, meta)
if changed == 1 then log_settings(meta) end
if entries_changed == '1' then
  redis.call('UNLINK', entries)
  if redis.call('EXISTS', staging) == 1 then redis.call('RENAME', staging, entries) end
  if replace == '1' or redis.call('HEXISTS', staged_log, '!') == 1 or redis.call('EXISTS', staged_log) == 0 then
    log_change('op', 'reload')
  else
    local flat = redis.call('HGETALL', staged_log)
    for i = 1, #flat, 2 do
      if flat[i + 1] == '' then log_change('op', 'remove', 'f', flat[i]) else log_change('op', 'add', 'f', flat[i], 'v', flat[i + 1]) end
    end
  end
else
  redis.call('UNLINK', staging)
end
redis.call('UNLINK', staged_log)
if log_seq > 0 then return bump(meta, channel, name, now) end
return version
`;
