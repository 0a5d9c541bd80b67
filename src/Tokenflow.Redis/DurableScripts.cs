namespace Tokenflow.Redis;

/// <summary>
/// The Lua scripts of <see cref="RedisDurableStreamStore"/>. KEYS[1] is the base name of the durable
/// keys (<c>&lt;prefix&gt;:{durable}</c>): every key the scripts touch derives from it and shares its hash tag,
/// so a script (a fork reading its source, a delete cascading up a fork chain, the global counters) runs
/// atomically on one node. Per stream at path P: <c>:m:P</c> meta hash, <c>:d:P</c> Redis stream of entries
/// (entry id <c>&lt;end position&gt;-0</c>, field <c>d</c> = the data), <c>:p:P</c> producer states, <c>:f:P</c>
/// set of forks that hold it; globally <c>:g</c> (stream count <c>n</c>, bytes <c>b</c>, instance key counter
/// <c>k</c>) and <c>:x</c> (sorted set of expiry deadlines, ms). Results are arrays whose first element is a
/// <see cref="Tokenflow.Core.Durable.DurableOutcome"/> value.
/// </summary>
internal static class DurableScripts
{
    /// <summary>Outcome codes, as <see cref="Tokenflow.Core.Durable.DurableOutcome"/> numbers them.</summary>
    private const string Prelude = """
        local OK, CREATED, EXISTS, ACCEPTED, DUPLICATE, NOTFOUND, GONE, CONFLICT, CLOSED, INVALID, STALE, GAP, FULL = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
        local B = KEYS[1]
        local G = B .. ':g'
        local X = B .. ':x'
        local function mk(p) return B .. ':m:' .. p end
        local function dk(p) return B .. ':d:' .. p end
        local function pk(p) return B .. ':p:' .. p end
        local function fk(p) return B .. ':f:' .. p end
        local function ch(p) return B .. ':n:' .. p end

        -- Ordinal (byte-wise) comparison: Lua's string '<' follows the server's collation locale.
        local function cmp(a, b)
          local n = math.min(#a, #b)
          for i = 1, n do
            local x, y = string.byte(a, i), string.byte(b, i)
            if x ~= y then if x < y then return -1 else return 1 end end
          end
          if #a < #b then return -1 elseif #a > #b then return 1 else return 0 end
        end

        local function expired(p, now)
          local v = redis.call('HMGET', mk(p), 'exms', 'ttl', 'tu')
          if v[1] and tonumber(v[1]) <= now then return true end
          if v[2] and tonumber(v[3]) + tonumber(v[2]) * 1000 <= now then return true end
          return false
        end

        -- Deletes a stream, or soft-deletes it while forks hold it; cascades up the fork chain.
        local function retire(p)
          local m = mk(p)
          if redis.call('SCARD', fk(p)) > 0 then
            redis.call('HSET', m, 's', '1')
            redis.call('ZREM', X, p)
            redis.call('PUBLISH', ch(p), 'x')
            return
          end
          local v = redis.call('HMGET', m, 'b', 'ff')
          redis.call('DEL', m, dk(p), pk(p), fk(p))
          redis.call('HINCRBY', G, 'n', -1)
          redis.call('HINCRBY', G, 'b', 0 - tonumber(v[1] or '0'))
          redis.call('ZREM', X, p)
          redis.call('PUBLISH', ch(p), 'x')
          if v[2] and v[2] ~= '' then
            local src = v[2]
            redis.call('SREM', fk(src), p)
            if redis.call('HGET', mk(src), 's') == '1' and redis.call('SCARD', fk(src)) == 0 then
              retire(src)
            end
          end
        end

        -- nil (absent), 'soft' (deleted, kept for forks) or 'live'; retires the stream first when it expired.
        local function lookup(p, now)
          local s = redis.call('HGET', mk(p), 's')
          if not s then return nil end
          if s == '1' then return 'soft' end
          if expired(p, now) then
            retire(p)
            if redis.call('EXISTS', mk(p)) == 1 then return 'soft' end
            return nil
          end
          return 'live'
        end

        -- OK when the caller may use the stream, else NOTFOUND or GONE.
        local function find(p, owner, now)
          local st = lookup(p, now)
          if not st or redis.call('HGET', mk(p), 'o') ~= owner then return NOTFOUND end
          if st == 'soft' then return GONE end
          return OK
        end

        local function sweep(now)
          for _, p in ipairs(redis.call('ZRANGEBYSCORE', X, '-inf', now, 'LIMIT', 0, 256)) do
            if lookup(p, now) ~= 'live' then redis.call('ZREM', X, p) end
          end
        end

        local function touch(p, now)
          local v = redis.call('HMGET', mk(p), 'ttl', 'exms')
          redis.call('HSET', mk(p), 'tu', now)
          if v[1] then
            local d = now + tonumber(v[1]) * 1000
            if v[2] and tonumber(v[2]) < d then d = tonumber(v[2]) end
            redis.call('ZADD', X, d, p)
          end
        end

        -- {outcome, tail, closed, content type, ttl, expires-at ticks, producer epoch, producer seq, expected seq, received seq, message}
        local function result(code, p, message)
          local r = {code, '', '', '', '', '', '', '', '', '', message or ''}
          if p then
            local v = redis.call('HMGET', mk(p), 't', 'c', 'ct', 'ttl', 'ex')
            for i = 1, 5 do r[i + 1] = v[i] or '' end
          end
          return r
        end

        local function fail(code, message) return result(code, nil, message) end

        local function bytes_of(list, first)
          local n = 0
          for i = first, #list do n = n + #list[i] end
          return n
        end

        local function has_room(bytes, max, now)
          if tonumber(redis.call('HGET', G, 'b') or '0') + bytes <= max then return true end
          sweep(now)
          return tonumber(redis.call('HGET', G, 'b') or '0') + bytes <= max
        end

        """;

    /// <summary>
    /// PUT. ARGV: path, owner, content type ('' = inherit/default), its media type, ttl s (''), expires-at ticks (''),
    /// expires-at ms (''), close (1/0), forked-from (''), fork offset ('' = tail), fork sub-offset, now ms, max streams,
    /// max bytes, the body's split error (''), then the body's messages.
    /// </summary>
    public const string Create = Prelude + """
        local p, owner, ct, mt, ttl, ex, exms = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
        local close, ff, fo, fsub, now = ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11]), tonumber(ARGV[12])
        local st = lookup(p, now)
        if st then
          if st == 'soft' or redis.call('HGET', mk(p), 'o') ~= owner then return fail(CONFLICT, 'A stream exists at this path.') end
          local v = redis.call('HMGET', mk(p), 'mt', 'ff', 'fo', 'fs', 'ttl', 'ex', 'c')
          local same_type
          if ct == '' then same_type = ff ~= '' or v[1] == 'application/octet-stream' else same_type = mt == v[1] end
          local same_fork = ff == (v[2] or '') and (fo == '' or fo == v[3]) and tostring(fsub) == v[4]
          if same_type and same_fork and ttl == (v[5] or '') and ex == (v[6] or '') and close == v[7] then return result(EXISTS, p) end
          return fail(CONFLICT, 'A stream exists at this path with a different configuration.')
        end
        if tonumber(redis.call('HGET', G, 'n') or '0') >= tonumber(ARGV[13]) then
          sweep(now)
          if tonumber(redis.call('HGET', G, 'n') or '0') >= tonumber(ARGV[13]) then
            return fail(FULL, 'The stream store holds its maximum number of streams.')
          end
        end
        local sv
        if ff ~= '' then
          local sst = lookup(ff, now)
          if not sst or redis.call('HGET', mk(ff), 'o') ~= owner then return fail(NOTFOUND, 'The source stream does not exist.') end
          if sst == 'soft' then return fail(CONFLICT, 'The source stream was deleted.') end
          sv = redis.call('HMGET', mk(ff), 'ct', 'mt', 'ttl', 'ex', 'exms', 'j', 't')
          if ct == '' then ct, mt = sv[1], sv[2] end
          if mt ~= sv[2] then return fail(CONFLICT, "A fork's content type must match its source's.") end
          if ttl == '' and ex == '' then ttl, ex, exms = sv[3] or '', sv[4] or '', sv[5] or '' end
        end
        if ct == '' then ct, mt = 'application/octet-stream', 'application/octet-stream' end
        if ARGV[15] ~= '' then return fail(INVALID, ARGV[15]) end
        local json = mt == 'application/json'
        -- Inherited entries: the source's up to the fork point, the last one cut for byte streams.
        local inherited, ids, offset = {}, {}, 0
        if ff ~= '' then
          local stail = tonumber(sv[7])
          if fo == '' then offset = stail else offset = tonumber(fo) end
          local target = offset + fsub
          if offset > stail or target > stail then return fail(INVALID, 'The fork offset is past the end of the source stream.') end
          if target > 0 then
            for _, e in ipairs(redis.call('XRANGE', dk(ff), '-', string.format('%d-0', target))) do
              ids[#ids + 1] = tonumber(string.match(e[1], '^(%d+)'))
              inherited[#inherited + 1] = e[2][2]
            end
            local last = 0
            if #ids > 0 then last = ids[#ids] end
            if last < target then
              local e = redis.call('XRANGE', dk(ff), string.format('%d-0', target + 1), '+', 'COUNT', 1)[1]
              ids[#ids + 1] = target
              inherited[#inherited + 1] = string.sub(e[2][2], 1, target - last)
            end
          end
        end
        local size = bytes_of(inherited, 1) + bytes_of(ARGV, 16)
        if not has_room(size, tonumber(ARGV[14]), now) then return fail(FULL, 'The stream store is full.') end
        local m, d = mk(p), dk(p)
        redis.call('DEL', d, pk(p))
        local tail = 0
        for i = 1, #inherited do
          tail = ids[i]
          redis.call('XADD', d, string.format('%d-0', tail), 'd', inherited[i])
        end
        for i = 16, #ARGV do
          if json then tail = tail + 1 else tail = tail + #ARGV[i] end
          redis.call('XADD', d, string.format('%d-0', tail), 'd', ARGV[i])
        end
        local key = redis.call('HINCRBY', G, 'k', 1)
        local j = '0'
        if json then j = '1' end
        redis.call('HSET', m, 'k', key, 'o', owner, 'ct', ct, 'mt', mt, 'j', j, 't', tail, 'b', size, 'c', close, 's', '0',
          'tu', now, 'ff', ff, 'fo', offset, 'fs', fsub)
        if ttl ~= '' then redis.call('HSET', m, 'ttl', ttl) end
        if ex ~= '' then redis.call('HSET', m, 'ex', ex, 'exms', exms) end
        if ttl ~= '' or ex ~= '' then
          local deadline
          if ttl ~= '' then deadline = now + tonumber(ttl) * 1000 end
          if ex ~= '' and (not deadline or tonumber(exms) < deadline) then deadline = tonumber(exms) end
          redis.call('ZADD', X, deadline, p)
        end
        redis.call('HINCRBY', G, 'n', 1)
        redis.call('HINCRBY', G, 'b', size)
        if ff ~= '' then redis.call('SADD', fk(ff), p) end
        return result(CREATED, p)
        """;

    /// <summary>
    /// POST. ARGV: path, owner, the request's media type, has body (1/0), close (1/0), Stream-Seq (''), producer id (''),
    /// epoch, seq, now ms, max bytes, the body's split error (''), then the body's messages.
    /// </summary>
    public const string Append = Prelude + """
        local p, owner, mt, body, close, sseq, producer, epoch, seq, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], tonumber(ARGV[10])
        local code = find(p, owner, now)
        if code ~= OK then return fail(code) end
        if body == '0' and close == '0' then return fail(INVALID, 'An append needs a body (or Stream-Closed: true).') end
        local m = mk(p)
        local v = redis.call('HMGET', m, 'c', 'cb', 'mt', 'j', 'ls', 't')
        if v[1] == '1' then
          if producer ~= '' and v[2] == producer .. '\n' .. epoch .. '\n' .. seq then
            local r = result(DUPLICATE, p)
            r[7], r[8] = epoch, seq
            return r
          end
          if close == '1' and body == '0' then return result(OK, p) end
          return result(CLOSED, p, 'The stream is closed.')
        end
        if body == '1' and mt ~= v[3] then return fail(CONFLICT, 'The content type does not match the stream\'s.') end
        if producer ~= '' then
          local current = redis.call('HGET', pk(p), producer)
          if current then
            local ce, cs = string.match(current, '^(%d+) (%d+)$')
            ce, cs = tonumber(ce), tonumber(cs)
            local e, s = tonumber(epoch), tonumber(seq)
            if e < ce then
              local r = fail(STALE, 'Stale producer epoch.')
              r[7] = ce
              return r
            end
            if e == ce then
              if s <= cs then
                local r = result(DUPLICATE, p)
                r[7], r[8] = ce, cs
                return r
              end
              if s ~= cs + 1 then
                local r = fail(GAP, 'Producer sequence gap.')
                r[9], r[10] = cs + 1, seq
                return r
              end
            elseif s ~= 0 then
              return fail(INVALID, 'A new producer epoch must start at Producer-Seq 0.')
            end
          elseif tonumber(seq) ~= 0 then
            local r = fail(GAP, 'Producer sequence gap.')
            r[9], r[10] = 0, seq
            return r
          end
        end
        if sseq ~= '' and v[5] and cmp(sseq, v[5]) <= 0 then return fail(CONFLICT, 'Stream-Seq must increase.') end
        if ARGV[12] ~= '' then return fail(INVALID, ARGV[12]) end
        local size = bytes_of(ARGV, 13)
        if size > 0 and not has_room(size, tonumber(ARGV[11]), now) then return fail(FULL, 'The stream store is full.') end
        local tail, d, json = tonumber(v[6]), dk(p), v[4] == '1'
        for i = 13, #ARGV do
          if json then tail = tail + 1 else tail = tail + #ARGV[i] end
          redis.call('XADD', d, string.format('%d-0', tail), 'd', ARGV[i])
        end
        redis.call('HSET', m, 't', tail)
        redis.call('HINCRBY', m, 'b', size)
        redis.call('HINCRBY', G, 'b', size)
        if producer ~= '' then redis.call('HSET', pk(p), producer, epoch .. ' ' .. seq) end
        if sseq ~= '' then redis.call('HSET', m, 'ls', sseq) end
        if close == '1' then
          redis.call('HSET', m, 'c', '1')
          if producer ~= '' then redis.call('HSET', m, 'cb', producer .. '\n' .. epoch .. '\n' .. seq) else redis.call('HDEL', m, 'cb') end
        end
        touch(p, now)
        -- Waiters take a number as the new tail; anything else ('x') makes them look at the stream.
        if close == '1' then redis.call('PUBLISH', ch(p), 'x') else redis.call('PUBLISH', ch(p), string.format('%d', tail)) end
        if producer ~= '' then
          local r = result(ACCEPTED, p)
          r[7], r[8] = epoch, seq
          return r
        end
        return result(OK, p)
        """;

    /// <summary>
    /// GET. ARGV: path, owner, position ('' = the tail), now ms, max bytes to return.
    /// Returns {outcome, tail, closed, content type, json (1/0), instance key, ttl, expires-at ticks, start, next, message, data...};
    /// a failure has the layout of <c>fail</c> (message 11th).
    /// </summary>
    public const string Read = Prelude + """
        local p, owner, pos, now, budget = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
        local code = find(p, owner, now)
        if code ~= OK then return fail(code) end
        touch(p, now)
        local v = redis.call('HMGET', mk(p), 't', 'c', 'ct', 'j', 'k', 'ttl', 'ex')
        local tail, json = tonumber(v[1]), v[4] == '1'
        local start = tail
        if pos ~= '' then start = tonumber(pos) end
        if start < 0 or start > tail then return fail(INVALID, 'The offset is past the end of the stream.') end
        local r = {OK, v[1], v[2], v[3], v[4], v[5], v[6] or '', v[7] or '', start, start, ''}
        local nxt, cursor, d, first = start, start + 1, dk(p), #r + 1
        while nxt < tail and (#r < first or budget > 0) do
          local entries = redis.call('XRANGE', d, string.format('%d-0', cursor), '+', 'COUNT', 256)
          if #entries == 0 then break end
          for _, e in ipairs(entries) do
            if #r >= first and budget <= 0 then break end
            local stop, data = tonumber(string.match(e[1], '^(%d+)')), e[2][2]
            if json then
              nxt = stop
            else
              data = string.sub(data, nxt - (stop - #data) + 1)
              if #data > budget then data = string.sub(data, 1, math.max(budget, 1)) end
              nxt = nxt + #data
            end
            r[#r + 1] = data
            budget = budget - #data
            cursor = stop + 1
          end
        end
        r[10] = nxt
        return r
        """;

    /// <summary>HEAD. ARGV: path, owner, now ms. Returns the result array; does not refresh a sliding TTL.</summary>
    public const string Info = Prelude + """
        local code = find(ARGV[1], ARGV[2], tonumber(ARGV[3]))
        if code ~= OK then return fail(code) end
        return result(OK, ARGV[1])
        """;

    /// <summary>DELETE. ARGV: path, owner, now ms.</summary>
    public const string Delete = Prelude + """
        local p, now = ARGV[1], tonumber(ARGV[3])
        local st = lookup(p, now)
        if not st or redis.call('HGET', mk(p), 'o') ~= ARGV[2] then return fail(NOTFOUND) end
        if st == 'soft' then return fail(GONE) end
        retire(p)
        return fail(OK)
        """;

    /// <summary>Retires expired streams (up to 256 per call). ARGV: now ms. Returns how many deadlines remain due.</summary>
    public const string Sweep = Prelude + """
        local now = tonumber(ARGV[1])
        sweep(now)
        return redis.call('ZCOUNT', X, '-inf', now)
        """;
}
