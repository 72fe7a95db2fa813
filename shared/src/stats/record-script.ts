/**
 * One Redis round trip records a whole pre-aggregated batch for one minute,
 * into that minute's bucket and its 10-minute, hour and 6-hour rollups at once:
 * totals per kind, then counts per (kind, dimension, value) — counters are
 * per dimension, never per combination, so a batch costs O(distinct values).
 * Distinct values are capped per dimension and HOUR: a value beyond the cap
 * is counted as OTHER for the rest of that hour, in every bucket of it, so
 * random client values cannot grow Redis past cap × hours of retention.
 * Each key expires at its bucket's end plus its retention (PEXPIREAT: the
 * same deadline whichever writer touches it, and a late count for a bucket
 * already past it is dropped at once).
 *
 * Keys (r = 1m | 10m | 1h | 6h, i = bucket index: minute index / r's minutes):
 *   <p>:<r>:<i>:t          HASH received, bytes, persisted, error:<type>     (every resolution, STATS_RETENTION)
 *   <p>:<r>:<i>:c:<dim>    HASH r:<value> received, p:<value> persisted,
 *                               e:<value> errors                          (1m, 10m: STATS_DETAIL_RETENTION; 1h, 6h: STATS_RETENTION)
 *   <p>:<r>:<i>:b:<dim>    HASH <value> bytes received                      (as the counts; apart: queries read counts only)
 *   <p>:1h:<i>:v:<dim>     SET  the hour's admitted values (the cap)
 *
 * ARGV: prefix, cap, the number of buckets of the minute, then for each
 * (6h, 1h, 10m, 1m): resolution name, index, totals expire-at, counts expire-at;
 * then the number of totals entries and those entries (kind, error type,
 * count, bytes); then per dimension value: kind, dimension index (1-based,
 * STATS_DIMENSIONS order), value, count, bytes.
 */
import { STATS_DIMENSIONS } from './dimensions.js';

export const RECORD_SCRIPT = `
local prefix = ARGV[1]
local cap = tonumber(ARGV[2])
local dims = {${STATS_DIMENSIONS.map((d) => `'${d}'`).join(', ')}}
local nBuckets = tonumber(ARGV[3])
local buckets = {}
local hour
local i = 4
for b = 1, nBuckets do
  buckets[b] = { base = prefix .. ':' .. ARGV[i] .. ':' .. ARGV[i + 1], totalsAt = ARGV[i + 2], countsAt = ARGV[i + 3] }
  if ARGV[i] == '1h' then hour = buckets[b] end
  i = i + 4
end
local expireAt = {}
local admitted = {}
local function admit(d, value)
  local memo = d .. '\\0' .. value
  local known = admitted[memo]
  if known then return known end
  local set = hour.base .. ':v:' .. dims[d]
  expireAt[set] = hour.countsAt
  local result = 'OTHER'
  if value == 'OTHER' or redis.call('SISMEMBER', set, value) == 1 then
    result = value
  elseif redis.call('SCARD', set) < cap then
    redis.call('SADD', set, value)
    result = value
  end
  admitted[memo] = result
  return result
end
local totalsCount = tonumber(ARGV[i])
i = i + 1
for _ = 1, totalsCount do
  local kind = ARGV[i]
  local count = tonumber(ARGV[i + 2])
  for b = 1, nBuckets do
    local key = buckets[b].base .. ':t'
    expireAt[key] = buckets[b].totalsAt
    if kind == 'r' then
      redis.call('HINCRBY', key, 'received', count)
      redis.call('HINCRBY', key, 'bytes', tonumber(ARGV[i + 3]))
    elseif kind == 'p' then
      redis.call('HINCRBY', key, 'persisted', count)
    else
      redis.call('HINCRBY', key, 'error:' .. ARGV[i + 1], count)
    end
  end
  i = i + 4
end
while i <= #ARGV do
  local kind = ARGV[i]
  local d = tonumber(ARGV[i + 1])
  local value = admit(d, ARGV[i + 2])
  local count = tonumber(ARGV[i + 3])
  local bytes = tonumber(ARGV[i + 4])
  for b = 1, nBuckets do
    local key = buckets[b].base .. ':c:' .. dims[d]
    expireAt[key] = buckets[b].countsAt
    redis.call('HINCRBY', key, kind .. ':' .. value, count)
    if kind == 'r' then
      local byteKey = buckets[b].base .. ':b:' .. dims[d]
      expireAt[byteKey] = buckets[b].countsAt
      redis.call('HINCRBY', byteKey, value, bytes)
    end
  end
  i = i + 5
end
for key, at in pairs(expireAt) do redis.call('PEXPIREAT', key, at) end
return 0`;
