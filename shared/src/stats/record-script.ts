/**
 * One Redis round trip records a whole pre-aggregated batch for one minute:
 * totals per kind, then counts per (kind, dimension, value) — counters are
 * per dimension, never per combination, so a batch costs O(distinct values).
 * Per-dimension, per-minute distinct values are capped: a value beyond the
 * cap is counted as OTHER, so random client values cannot grow Redis without
 * bound. Every touched key expires after the retention.
 *
 * Keys (m = minute index, ms / 60000):
 *   <p>:<m>:t            HASH received, bytes, persisted, error:<type>
 *   <p>:<m>:<k>:<dim>    HASH value -> count   (k: r received, p persisted, e errors)
 *   <p>:<m>:b:<dim>      HASH value -> bytes received
 *   <p>:<m>:v:<dim>      SET  admitted values (the cap)
 */
import { STATS_DIMENSIONS } from './dimensions.js';

// The dimension names come from STATS_DIMENSIONS (the record call sends their 1-based index).
export const RECORD_SCRIPT = `
local prefix = ARGV[1]
local ttl = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local base = prefix .. ':' .. ARGV[4]
local dims = {${STATS_DIMENSIONS.map((d) => `'${d}'`).join(', ')}}
local touched = {}
local admitted = {}
local function admit(d, value)
  local set = base .. ':v:' .. dims[d]
  touched[set] = true
  local memo = set .. '\\0' .. value
  if admitted[memo] then return admitted[memo] end
  local result = 'OTHER'
  if redis.call('SISMEMBER', set, value) == 1 then
    result = value
  elseif redis.call('SCARD', set) < cap then
    redis.call('SADD', set, value)
    result = value
  end
  admitted[memo] = result
  return result
end
local totals = base .. ':t'
touched[totals] = true
-- ARGV[5] = number of totals entries, each: kind, error type, count, bytes
local i = 6
for _ = 1, tonumber(ARGV[5]) do
  local kind = ARGV[i]
  local count = tonumber(ARGV[i + 2])
  if kind == 'r' then
    redis.call('HINCRBY', totals, 'received', count)
    redis.call('HINCRBY', totals, 'bytes', tonumber(ARGV[i + 3]))
  elseif kind == 'p' then
    redis.call('HINCRBY', totals, 'persisted', count)
  else
    redis.call('HINCRBY', totals, 'error:' .. ARGV[i + 1], count)
  end
  i = i + 4
end
-- then per dimension value: kind, dimension index (1-8, STATS_DIMENSIONS order), value, count, bytes
while i <= #ARGV do
  local kind = ARGV[i]
  local d = tonumber(ARGV[i + 1])
  local value = admit(d, ARGV[i + 2])
  local count = tonumber(ARGV[i + 3])
  local hash = base .. ':' .. kind .. ':' .. dims[d]
  touched[hash] = true
  redis.call('HINCRBY', hash, value, count)
  if kind == 'r' then
    local byteHash = base .. ':b:' .. dims[d]
    touched[byteHash] = true
    redis.call('HINCRBY', byteHash, value, tonumber(ARGV[i + 4]))
  end
  i = i + 5
end
for key, _ in pairs(touched) do redis.call('PEXPIRE', key, ttl) end
return 0`;
