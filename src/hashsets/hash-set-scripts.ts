/**
 * The Lua scripts that change a hash set. Each runs atomically: it changes the entries, appends one
 * changelog record per changed entry with stream id <new version>-<n>, bumps the version once and
 * announces "<name> <version>" on the change channel, or, when nothing changed, does none of that.
 * A version's first record ends with `prev <stamp> stamp <stamp>` and the meta keeps the
 * version's stamp (see runtime/versioned-changelog.ts: a version written again after a failover).
 *
 * KEYS: meta, entries, info, ids, log, quarantine, packlive.  ARGV: changelog max length, channel,
 * set name, pack key prefix, then per script. Every change also writes the entry's slot in its pack
 * (see hash-set-keys.ts). Returns { version, count, ... } (see each script).
 *
 * Packs are freed by count: `packlive` holds, per bucket, its entries not removed (disabled ones
 * stay in their pack and are counted). An add counts its entry when the bucket is counted, that is
 * when it has a count or has no pack yet (nothing in it to count: a new bucket, or one emptied and
 * unlinked, which the next entry numbers of the last bucket start again); a bucket with a pack and
 * no count was begun before counts were kept (or by a writer that keeps none): left uncounted, its
 * pack is never unlinked. A removal takes its entry off the count; at 0 the pack's state bytes are
 * read, and the pack is unlinked only when none is left (else the count becomes what they hold: a
 * writer that keeps no counts added to a counted bucket). Changelog records are as before: a
 * replica applying them never reads packs, and a cold load skips missing ones.
 */

import { DELETE_STRUCTURE, SERVER_STAMP } from '../runtime/versioned-changelog.js';
import type { HashSetIncarnation } from './hash-set-config.js';

const PRELUDE = `${SERVER_STAMP}
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return redis.error_reply('hashset_not_found') end
version = tonumber(version)
local nextVersion = version + 1
local seq = 0
local stamp
local function log(...)
  if seq == 0 then
    stamp = server_stamp()
    local prev = redis.call('HGET', KEYS[1], 'stamp') or ''
    local fields = { ... }
    local n = #fields
    fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4] = 'prev', prev, 'stamp', stamp
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[1], nextVersion .. '-0', unpack(fields))
  else
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[1], nextVersion .. '-' .. seq, ...)
  end
  seq = seq + 1
end
local function finish()
  if seq == 0 then return version end
  redis.call('HSET', KEYS[1], 'version', nextVersion, 'stamp', stamp)
  redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ' .. nextVersion)
  return nextVersion
end
-- Writes the entry's state byte (0 absent, 1 enabled, 2 disabled) and, given, its hash into its pack.
local function pack(no, state, hashBytes, hash)
  redis.call('SETRANGE', ARGV[4] .. math.floor(no / 4096), (no % 4096) * (1 + hashBytes), string.char(state) .. (hash or ''))
end
local function entryNo(value)
  local a, b, c, d = string.byte(value, 1, 4)
  return ((a * 256 + b) * 256 + c) * 256 + d
end
-- Whether a bucket's entries are counted in packlive (asked before this script writes its pack).
local function counted(bucket)
  return redis.call('HEXISTS', KEYS[7], bucket) == 1 or redis.call('EXISTS', ARGV[4] .. bucket) == 0
end
-- Entries in a pack not removed, by its state bytes (slot: 1 + hash bytes).
local function live_in_pack(bucket, slot)
  local packed = redis.call('GET', ARGV[4] .. bucket)
  local live = 0
  if packed then
    for offset = 1, #packed, slot do
      if string.byte(packed, offset) ~= 0 then live = live + 1 end
    end
  end
  return live
end
`;

/**
 * ARGV[5..]: id, hash bytes, info JSON, '1' disabled / '0' enabled per entry (an import keeps an
 * export's disabled entries disabled: logged as an add and a disable in the same version). An id
 * already present is left alone: counted as unchanged when its hash is the same (re-imports are
 * no-ops), else returned as a conflict. Returns { version, added, unchanged, conflicting ids }.
 */
export const ADD_ENTRIES = `${PRELUDE}
local nextNo = tonumber(redis.call('HGET', KEYS[1], 'nextEntryNo'))
local added, unchanged, conflicts = 0, 0, {}
-- Per bucket: entries added to it here, or false when it is not counted.
local addedTo, buckets = {}, {}
for i = 5, #ARGV, 4 do
  local id, hash, disabled = ARGV[i], ARGV[i + 1], ARGV[i + 3] == '1'
  local existing = redis.call('HGET', KEYS[2], id)
  if existing then
    if string.sub(existing, 6) == hash then unchanged = unchanged + 1 else conflicts[#conflicts + 1] = id end
  else
    local no = nextNo
    nextNo = nextNo + 1
    local packed = string.char(math.floor(no / 16777216) % 256, math.floor(no / 65536) % 256, math.floor(no / 256) % 256, no % 256, disabled and 1 or 0)
    redis.call('HSET', KEYS[2], id, packed .. hash)
    redis.call('HSET', KEYS[3], id, ARGV[i + 2])
    redis.call('HSET', KEYS[4], no, id)
    local bucket = math.floor(no / 4096)
    if addedTo[bucket] == nil then
      addedTo[bucket] = counted(bucket) and 0
      buckets[#buckets + 1] = bucket
    end
    if addedTo[bucket] then addedTo[bucket] = addedTo[bucket] + 1 end
    pack(no, disabled and 2 or 1, #hash, hash)
    log('op', 'add', 'no', no, 'hash', hash)
    if disabled then log('op', 'disable', 'no', no) end
    added = added + 1
  end
end
if added > 0 then redis.call('HSET', KEYS[1], 'nextEntryNo', nextNo) end
for _, bucket in ipairs(buckets) do
  if addedTo[bucket] then redis.call('HINCRBY', KEYS[7], bucket, addedTo[bucket]) end
end
return { finish(), added, unchanged, conflicts }
`;

/**
 * ARGV[5]: the flood counters' key prefix (hashSetKeys' floodPrefix),
 * ARGV[6..]: ids. A removed entry takes its flood-guard state with it: its quarantine (kept by id,
 * so an entry added again under the same id, a corrected hash, would start quarantined) and its
 * counters of the windows that can still exist (HLLs live two windows; one more each side for
 * workers' clocks). A pack left with no entry is unlinked (see the top of this file: counted buckets
 * only). Returns { version, removed, quarantines lifted }.
 */
export const REMOVE_ENTRIES = `${PRELUDE}
local removed, unquarantined = 0, 0
local config = cjson.decode(redis.call('HGET', KEYS[1], 'config') or '{}')
local windowSeconds = tonumber(type(config.flood) == 'table' and config.flood.windowSeconds or nil) or 3600
local window = math.floor(tonumber(redis.call('TIME')[1]) / windowSeconds)
-- Per bucket: entries removed from it here, and the slot size of its pack.
local removedFrom, buckets, slot = {}, {}, 0
for i = 6, #ARGV do
  local existing = redis.call('HGET', KEYS[2], ARGV[i])
  if existing then
    local no = entryNo(existing)
    pack(no, 0, #existing - 5)
    slot = #existing - 4
    local bucket = math.floor(no / 4096)
    if not removedFrom[bucket] then
      removedFrom[bucket] = 0
      buckets[#buckets + 1] = bucket
    end
    removedFrom[bucket] = removedFrom[bucket] + 1
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('HDEL', KEYS[4], no)
    unquarantined = unquarantined + redis.call('HDEL', KEYS[6], ARGV[i])
    for w = window - 2, window + 1 do redis.call('DEL', ARGV[5] .. no .. ':' .. w) end
    log('op', 'remove', 'no', no)
    removed = removed + 1
  end
end
for _, bucket in ipairs(buckets) do
  -- No count: begun before counts were kept, never unlinked.
  if redis.call('HEXISTS', KEYS[7], bucket) == 1 and redis.call('HINCRBY', KEYS[7], bucket, -removedFrom[bucket]) <= 0 then
    local live = live_in_pack(bucket, slot)
    if live == 0 then
      redis.call('UNLINK', ARGV[4] .. bucket)
      redis.call('HDEL', KEYS[7], bucket)
    else
      redis.call('HSET', KEYS[7], bucket, live)
    end
  end
end
return { finish(), removed, unquarantined }
`;

/**
 * ARGV[5]: id, ARGV[6]: '1' disable / '0' enable, ARGV[7]: reason, ARGV[8]: ISO time.
 * Returns { version, 1 changed / 0 unknown id or already in that state }.
 */
export const SET_DISABLED = `${PRELUDE}
local existing = redis.call('HGET', KEYS[2], ARGV[5])
if not existing then return { version, 0 } end
local disable = ARGV[6] == '1'
local flags = string.byte(existing, 5)
if (flags % 2 == 1) == disable then return { version, 0 } end
local no = entryNo(existing)
local hash = string.sub(existing, 6)
flags = disable and (flags + 1) or (flags - 1)
redis.call('HSET', KEYS[2], ARGV[5], string.sub(existing, 1, 4) .. string.char(flags) .. hash)
local info = cjson.decode(redis.call('HGET', KEYS[3], ARGV[5]) or '{}')
if disable then info.disabled = { reason = ARGV[7], at = ARGV[8] } else info.disabled = nil end
redis.call('HSET', KEYS[3], ARGV[5], cjson.encode(info))
pack(no, disable and 2 or 1, #hash)
if disable then log('op', 'disable', 'no', no) else log('op', 'enable', 'no', no, 'hash', hash) end
return { finish(), 1 }
`;

/**
 * Shared, for the scripts below (KEYS: meta, entries, info, ids, log, quarantine, packlive, names,
 * tombstones; ARGV: channel, set name, pack key prefix): `unlink_set()` unlinks every key of the set a script can
 * name: those in KEYS but the names, the tombstones and its packs (as many as entry numbers were handed out, those
 * unlinked already included). Its flood counters
 * (one per matched entry and window, expiring after two windows) are named at run time: the
 * store sweeps them (HashSetStore.delete, and create over a deleted set's leftovers).
 */
const UNLINK_SET = `${DELETE_STRUCTURE}
local function unlink_set()
  local nextEntryNo = redis.call('HGET', KEYS[1], 'nextEntryNo')
  for bucket = 0, math.ceil((tonumber(nextEntryNo) or 0) / 4096) - 1 do redis.call('UNLINK', ARGV[3] .. bucket) end
  redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
end
`;

/**
 * KEYS and ARGV as UNLINK_SET's, then ARGV[4]: config JSON, ARGV[5]: ISO time. Returns 1, or 0 when
 * the set exists. The new set starts at version 0, or, when a set of this name was deleted, at the
 * version after its last (kept in the tombstones, see hashSetTombstonesKey), taken out of them: a
 * version number never names two sets' contents. That version gets a stamp, which is also kept as
 * `createdStamp`, which no later write changes: with `createdAt` it names this incarnation of the
 * set (see SAME_INCARNATION), also when two incarnations were created in the same millisecond (or
 * by a release that kept no tombstones, at the same version). What a set deleted under this name
 * left (a flood-guard call without the incarnation, just then, counts its match in the meta) goes
 * first.
 */
export const CREATE_SET = `${SERVER_STAMP}${UNLINK_SET}
if redis.call('HEXISTS', KEYS[1], 'version') == 1 then return 0 end
unlink_set()
local version = 0
local buried = redis.call('HGET', KEYS[9], ARGV[2])
if buried then
  version = tonumber(buried) + 1
  redis.call('HDEL', KEYS[9], ARGV[2])
end
local stamp = server_stamp()
redis.call('HSET', KEYS[1], 'config', ARGV[4], 'version', version, 'nextEntryNo', 0, 'matches', 0, 'createdAt', ARGV[5], 'stamp', stamp, 'createdStamp', stamp)
redis.call('SADD', KEYS[8], ARGV[2])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. version)
return 1
`;

/**
 * Deletes the set, every key of it the script can name (see UNLINK_SET), and its name, announced
 * as `<name> deleted`, and keeps its last version in the tombstones (the highest, should one of a
 * set deleted earlier be there: a release that kept none created it again). KEYS and ARGV as
 * UNLINK_SET's. Returns { last version, entries }, or false (nil) when no set of that name exists
 * (leftovers of one are unlinked all the same).
 */
export const DELETE_SET = `${UNLINK_SET}
local last = tonumber(redis.call('HGET', KEYS[1], 'version'))
if last and last > tonumber(redis.call('HGET', KEYS[9], ARGV[2]) or -1) then redis.call('HSET', KEYS[9], ARGV[2], last) end
return delete_structure(KEYS[1], KEYS[2], KEYS[8], ARGV[2], ARGV[1], unlink_set)
`;

/**
 * Lua, shared by the scripts a worker's replica runs against the set it was loaded from
 * (DESCRIBE_ENTRIES, and the flood guard's): `same_incarnation(meta, createdAt, createdStamp)` is
 * true when the set exists and is the incarnation created at that time with that stamp (sets
 * created before `createdStamp` was recorded: ''). Entry numbers restart at 0 in a set deleted and
 * created again under the name, so a replica still holding the deleted one (until its sync finds
 * out) must not have its entry numbers read, nor its matches counted, in the new one.
 */
export const SAME_INCARNATION = `
local function same_incarnation(meta, createdAt, createdStamp)
  local held = redis.call('HMGET', meta, 'version', 'createdAt', 'createdStamp')
  return held[1] ~= false and (held[2] or '') == createdAt and (held[3] or '') == createdStamp
end
`;

/**
 * The ARGV of a SAME_INCARNATION check (DESCRIBE_ENTRIES, the flood guard's scripts): '1' and the
 * incarnation when one is given, else '0' (no check).
 */
export function incarnationArgs(incarnation: HashSetIncarnation | undefined): string[] {
  return incarnation ? ['1', incarnation.createdAt, incarnation.createdStamp] : ['0', '', ''];
}

/**
 * The ids and info JSON of entry numbers, read in one step with the incarnation check (a label
 * read after the set was created again could be another entry's under the same id).
 * KEYS: meta, ids, info. ARGV: '1' to check the incarnation ('0': read whatever set is there),
 * createdAt, createdStamp, then entry numbers. Returns nil when the check fails, else per entry
 * number its id and its info JSON (nil each for a removed entry).
 */
export const DESCRIBE_ENTRIES = `${SAME_INCARNATION}
if ARGV[1] == '1' and not same_incarnation(KEYS[1], ARGV[2], ARGV[3]) then return false end
local described = {}
for i = 4, #ARGV do
  local id = redis.call('HGET', KEYS[2], ARGV[i])
  described[#described + 1] = id
  described[#described + 1] = id and redis.call('HGET', KEYS[3], id)
end
return described
`;
