/**
 * Lua scripts of the list store. Each change and its version bump run as one script, so a worker
 * never sees a version without its change. Entry values are `<addedAt> <JSON info>`: an entry
 * written again keeps its first addedAt and the info fields the write does not give (see
 * WRITE_ENTRIES); when that leaves the same JSON it is unchanged.
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

import { DELETE_STRUCTURE, SERVER_STAMP } from '../runtime/versioned-changelog.js';

/** Shared: appends records of the version being written (`start_log` first). */
const CHANGELOG = `${SERVER_STAMP}
local log_key, log_maxlen, log_version, log_seq, log_prev, log_stamp = nil, nil, nil, 0, nil, nil
local function start_log(key, maxlen, version, meta)
  log_key, log_maxlen, log_version = key, maxlen, version
  -- A log left by an earlier list of this name (deleted by hand, not by DELETE_LIST) would be ahead
  -- of this version: XADD would fail half-way through the script, after its writes.
  local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
  if top and tonumber(string.match(top[1], '^(%d+)')) >= version then redis.call('DEL', key) end
  log_prev = redis.call('HGET', meta, 'stamp') or ''
  log_stamp = server_stamp()
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

/**
 * Shared: an entry's info JSON (list-entry.ts encodeEntryInfo): the keys in its order, strings
 * escaped as JSON.stringify escapes them, so a re-write of the same info compares equal to the
 * stored string. `sources` are decoded infos in priority order: the first that has a key gives it;
 * an empty string clears it. Stored info that does not decode (a lone surrogate's escape, which
 * cjson refuses) reads as empty.
 */
const ENTRY_INFO = String.raw`
local INFO_KEYS = { 'label', 'reason', 'addedBy' }
local JSON_ESCAPES = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function json_string(s)
  local escaped = string.gsub(s, '[%z\1-\31"\\]', function(c) return JSON_ESCAPES[c] or string.format('\\u%04x', string.byte(c)) end)
  return '"' .. escaped .. '"'
end
local function decode_info(json)
  if json == nil or json == '' then return {} end
  local ok, info = pcall(cjson.decode, json)
  if ok and type(info) == 'table' then return info end
  return {}
end
local function encode_info(sources)
  local parts = {}
  for _, key in ipairs(INFO_KEYS) do
    for _, source in ipairs(sources) do
      local value = source[key]
      if value ~= nil then
        if type(value) == 'string' and value ~= '' then parts[#parts + 1] = '"' .. key .. '":' .. json_string(value) end
        break
      end
    end
  end
  return '{' .. table.concat(parts, ',') .. '}'
end
local function split_stored(value)
  local space = string.find(value, ' ', 1, true)
  if not space then return '', value end
  return string.sub(value, 1, space - 1), string.sub(value, space + 1)
end
`;

/**
 * Shared: writes entries from ARGV[first..], four arguments each (field, the other scheme's field
 * or '', patch JSON, addedAt for a new entry) into `target`, comparing with `live`. A write gives
 * only the info fields in its patch: the others keep their stored values (a re-add without a
 * label keeps the label), and `fill_json` (the writer's defaults, addedBy) fills a new entry's.
 * An http(s) URL entry is one entry under either scheme: written to the field it is stored under,
 * and when a list holds both (written before they were one entry) the twin is folded into it
 * (its info fills keys the entry lacks, the earlier addedAt is kept) and removed. Calls
 * `changed(field, value)` per added or updated entry, `dropped(field)` per folded twin; returns
 * added, updated, unchanged, folded. With `delta`, `target` holds only the change to make to
 * `live` (STAGE_CHANGE): an added or updated entry's value, `''` for a folded twin to remove, and
 * nothing for an unchanged entry.
 */
const WRITE_ENTRIES = `${ENTRY_INFO}
local function write_entries(target, live, first, fill_json, changed, dropped, delta)
  local fill = decode_info(fill_json)
  local added, updated, unchanged, folded = 0, 0, 0, 0
  for i = first, #ARGV, 4 do
    local field, twin, patch, at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local given = decode_info(patch)
    local old = redis.call('HGET', live, field)
    local twin_old = nil
    if twin ~= '' then twin_old = redis.call('HGET', live, twin) end
    if twin_old and not old then
      field, old, twin_old = twin, twin_old, nil
    end
    if old then
      local old_at, old_rest = split_stored(old)
      local sources = { given, decode_info(old_rest) }
      if twin_old then
        local twin_at, twin_rest = split_stored(twin_old)
        sources[3] = decode_info(twin_rest)
        if twin_at ~= '' and (old_at == '' or twin_at < old_at) then old_at = twin_at end
        if delta then
          redis.call('HSET', target, twin, '')
          folded = folded + 1
          dropped(twin)
        elseif redis.call('HDEL', target, twin) == 1 then
          folded = folded + 1
          dropped(twin)
        end
      end
      local rest = encode_info(sources)
      local value = old_at .. ' ' .. rest
      if value == old then
        unchanged = unchanged + 1
        if target ~= live and not delta then redis.call('HSET', target, field, old) end
      else
        updated = updated + 1
        redis.call('HSET', target, field, value)
        changed(field, value)
      end
    else
      added = added + 1
      local value = at .. ' ' .. encode_info({ given, fill })
      redis.call('HSET', target, field, value)
      changed(field, value)
    end
  end
  return added, updated, unchanged, folded
end
`;

/**
 * Shared: creates the meta hash if absent, applies role/action when given; returns 1 if a setting
 * changed. A new list starts at version 0, or, when a list of this name was deleted, at the last
 * version that one had (kept in the tombstones, see listTombstonesKey, and taken out of them): its
 * first change is the version after it, so a version number never names two lists' contents. It
 * records its creation time: replicas tell a list made again from the old one by that time and
 * its versions' stamps, not by the version number (a list deleted by a release that kept no
 * tombstones restarts at 0). Its changelog starts empty.
 */
const APPLY_SETTINGS = `
local function apply_settings(meta, names, log, tombstones, name, role, action, now)
  local changed = 0
  if redis.call('EXISTS', meta) == 0 then
    local version = redis.call('HGET', tombstones, name) or 0
    redis.call('HDEL', tombstones, name)
    redis.call('HSET', meta, 'version', version, 'role', 'block', 'action', 'block', 'createdAt', now)
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
 * Adds or removes entries as one change. KEYS: meta, entries, names, log, tombstones. ARGV: name, channel, op
 * (`add` | `remove`), role or '', action or '', now, changelog max length, fill JSON (add: info
 * for new entries, see WRITE_ENTRIES; '' for remove), then entries of four arguments (add) or
 * fields (remove). Returns [version, added, updated, unchanged, removed] (an add's removed: twins
 * folded into their entry).
 */
export const MUTATE_LIST = `${CHANGELOG}${WRITE_ENTRIES}${APPLY_SETTINGS}
local meta, entries, names, log, tombstones = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local name, channel, op, role, action, now, maxlen, fill = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
-- Removing from a list that does not exist changes nothing (and creates nothing).
if op == 'remove' and redis.call('EXISTS', meta) == 0 then return { 0, 0, 0, 0, 0 } end
local changed = apply_settings(meta, names, log, tombstones, name, role, action, now)
local version = tonumber(redis.call('HGET', meta, 'version'))
start_log(log, maxlen, version + 1, meta)
if changed == 1 then log_settings(meta) end
local added, updated, unchanged, removed = 0, 0, 0, 0
if op == 'add' then
  added, updated, unchanged, removed = write_entries(entries, entries, 9, fill,
    function(field, value) log_change('op', 'add', 'f', field, 'v', value) end,
    function(field) log_change('op', 'remove', 'f', field) end)
else
  for i = 9, #ARGV do
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
 * How long a staged change's keys outlive its last batch: a change interrupted (the CLI killed,
 * Redis gone mid-import) never commits nor removes its staging. Each batch renews it; a commit
 * that renames a staging hash onto the entries PERSISTs them.
 */
export const STAGING_TTL_MS = 60 * 60 * 1000;

/** Shared: renews the expiry of a staged import's keys (KEYS given), those that exist. */
const RENEW_STAGING = `
local function renew_staging(...)
  for _, key in ipairs({...}) do redis.call('PEXPIRE', key, ${STAGING_TTL_MS}) end
end
`;

/**
 * Writes one batch of an import into a staging hash that becomes the whole list at commit (a
 * replacement, or a list with no entries yet: COMMIT_STAGING renames it). KEYS: staging, entries,
 * staging log. ARGV: staging log limit (0: log nothing, the commit reloads), fill JSON, then
 * entries of four arguments (see WRITE_ENTRIES). Returns [added, updated, unchanged, folded]
 * relative to the live entries (folded: twins removed from the staging hash).
 */
export const STAGE_ENTRIES = `${STAGED_LOG}${WRITE_ENTRIES}${RENEW_STAGING}
local limit = tonumber(ARGV[1])
local added, updated, unchanged, folded = write_entries(KEYS[1], KEYS[2], 3, ARGV[2],
  function(field, value) record_staged(KEYS[3], limit, field, value) end,
  function(field) record_staged(KEYS[3], limit, field, '') end, false)
renew_staging(KEYS[1], KEYS[3])
return { added, updated, unchanged, folded }
`;

/**
 * Writes one batch of an import into a staged change: a hash of only what the import changes in
 * the live list (field -> new value, or '' for a field to remove), never a copy of the list, so
 * its cost and the commit's (COMMIT_CHANGE) follow the change, not the list. KEYS: change,
 * entries. ARGV: fill JSON, then entries of four arguments (see WRITE_ENTRIES). Returns [added,
 * updated, unchanged, folded] relative to the live entries.
 */
export const STAGE_CHANGE = `${WRITE_ENTRIES}${RENEW_STAGING}
local function ignore() end
local added, updated, unchanged, folded = write_entries(KEYS[1], KEYS[2], 2, ARGV[1], ignore, ignore, true)
renew_staging(KEYS[1])
return { added, updated, unchanged, folded }
`;

/**
 * Stages one batch of a removal: each field the live entries hold becomes '' (remove) in the
 * staged change. KEYS: change, entries. ARGV: fields. Returns the count staged for removal.
 */
export const STAGE_REMOVAL = `${RENEW_STAGING}
local removed = 0
for i = 1, #ARGV do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 and redis.call('HGET', KEYS[1], ARGV[i]) ~= '' then
    redis.call('HSET', KEYS[1], ARGV[i], '')
    removed = removed + 1
  end
end
renew_staging(KEYS[1])
return removed
`;

/** Shared: whether the list is still at the version (and its stamp) a staged change was computed against; unlinks the staged keys when not. */
const STILL_AT = `
local function still_at(meta, expected, expected_stamp, ...)
  if tonumber(redis.call('HGET', meta, 'version') or '0') ~= expected or (redis.call('HGET', meta, 'stamp') or '') ~= expected_stamp then
    redis.call('UNLINK', ...)
    return false
  end
  return true
end
`;

/**
 * Makes a staging hash the list's entries, atomically, if nothing else changed the list
 * meanwhile: a replacing import, an import into a list with no entries, or a large change applied
 * to a copy of the list (ListStore: the copy made page by page, not by COPY). The RENAME costs the
 * same whatever the list's size (the old entries are freed in the background).
 * KEYS: meta, entries, staging, names, log, staging log, tombstones. ARGV: name, channel, expected version,
 * entries changed (0/1), role or '', action or '', now, changelog max length, reload (0/1: log
 * `reload` whatever the staging log holds), expected stamp ('' for none: a list that does not
 * exist yet, or from before stamps).
 * Logs the staged entries' changes, or `reload` when asked or for an overflowing staging log.
 * Returns the version, or -1 when the list moved on.
 */
export const COMMIT_STAGING = `${CHANGELOG}${APPLY_SETTINGS}${STILL_AT}
local meta, entries, staging, names, log, staged_log, tombstones = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local name, channel, expected, entries_changed, role, action, now, maxlen, reload, expected_stamp = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
if not still_at(meta, expected, expected_stamp, staging, staged_log) then return -1 end
local changed = apply_settings(meta, names, log, tombstones, name, role, action, now)
local version = tonumber(redis.call('HGET', meta, 'version'))
start_log(log, maxlen, version + 1, meta)
if changed == 1 then log_settings(meta) end
if entries_changed == '1' then
  redis.call('UNLINK', entries)
  -- The staging's expiry goes with it: the list's entries keep no TTL.
  if redis.call('EXISTS', staging) == 1 then
    redis.call('RENAME', staging, entries)
    redis.call('PERSIST', entries)
  end
  if reload == '1' or redis.call('HEXISTS', staged_log, '!') == 1 or redis.call('EXISTS', staged_log) == 0 then
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

/**
 * Applies a staged change (STAGE_CHANGE, STAGE_REMOVAL) to the live entries, atomically, if
 * nothing else changed the list meanwhile: one version, as any change. Its cost follows the
 * change's size, which ListStore bounds (a larger change is applied to a copy, committed by
 * COMMIT_STAGING). KEYS: meta, entries, change, names, log, tombstones. ARGV: name, channel,
 * expected version, role or '', action or '', now, changelog max length, expected stamp, most
 * entries logged one by one (past it: `reload`). Returns the version, or -1 when the list moved on.
 */
export const COMMIT_CHANGE = `${CHANGELOG}${APPLY_SETTINGS}${STILL_AT}
local meta, entries, change, names, log, tombstones = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local name, channel, expected, role, action, now, maxlen, expected_stamp, log_limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9])
if not still_at(meta, expected, expected_stamp, change) then return -1 end
local changed = apply_settings(meta, names, log, tombstones, name, role, action, now)
local version = tonumber(redis.call('HGET', meta, 'version'))
start_log(log, maxlen, version + 1, meta)
if changed == 1 then log_settings(meta) end
local count = redis.call('HLEN', change)
if count > 0 then
  local each = count <= log_limit
  if not each then log_change('op', 'reload') end
  local flat = redis.call('HGETALL', change)
  for i = 1, #flat, 2 do
    local field, value = flat[i], flat[i + 1]
    if value == '' then
      redis.call('HDEL', entries, field)
      if each then log_change('op', 'remove', 'f', field) end
    else
      redis.call('HSET', entries, field, value)
      if each then log_change('op', 'add', 'f', field, 'v', value) end
    end
  end
end
redis.call('UNLINK', change)
if log_seq > 0 then return bump(meta, channel, name, now) end
return version
`;

/**
 * Deletes a list: meta, entries, changelog, and its name, announced as `<name> deleted` (see
 * DELETE_STRUCTURE), and keeps its last version in the tombstones (the highest, should one of a
 * list deleted earlier be there: a release that kept none made it again). Staged imports under
 * way have random ids: the store sweeps them afterwards (ListStore.delete). An import under way
 * fails its commit (the list moved on) and tries again: on an absent list, which it makes anew.
 * KEYS: meta, entries, log, names, tombstones. ARGV: name, channel.
 * Returns { last version, entries }, or false (nil) when no list of that name exists.
 */
export const DELETE_LIST = `${DELETE_STRUCTURE}
local meta, entries, log, names, tombstones = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local last = tonumber(redis.call('HGET', meta, 'version'))
if last and last > tonumber(redis.call('HGET', tombstones, ARGV[1]) or -1) then redis.call('HSET', tombstones, ARGV[1], last) end
return delete_structure(meta, entries, names, ARGV[1], ARGV[2], function()
  redis.call('UNLINK', meta, entries, log)
end)
`;
