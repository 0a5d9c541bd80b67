namespace Tokenflow.Redis;

/// <summary>
/// The Lua scripts of <see cref="RedisDurableStreamStore"/>. Each per-stream script touches one stream's keys
/// only, so on Redis Cluster it runs on the shard of that stream's hash tag: KEYS[1] is the stream's base name
/// <c>&lt;prefix&gt;:d:{@&lt;path&gt;}</c>, and its keys are <c>:m</c> (meta hash), <c>:d</c> (Redis stream of entries,
/// entry id <c>&lt;end position&gt;-0</c>, field <c>d</c> = the data), <c>:p</c> (producer states), <c>:f</c> (set of
/// the forks that hold it) and the pub/sub channel <c>:n</c>. The global keys sit under their own tag
/// (<c>&lt;prefix&gt;:{durable}</c>): <c>:g</c> (stream count <c>n</c>, bytes <c>b</c>) and <c>:x</c> (sorted set of expiry
/// deadlines in ms, member = path); only <see cref="Reserve"/>, <see cref="Charge"/> and <see cref="Deadline"/>
/// touch them, never in the same script as a stream's keys (that would be CROSSSLOT on a cluster).
/// </summary>
/// <remarks>
/// Every per-stream script returns an array: 1 outcome (a <see cref="Tokenflow.Core.Durable.DurableOutcome"/> value,
/// or <see cref="Absent"/>), 2 tail, 3 closed, 4 content type, 5 ttl, 6 expires-at ticks, 7 producer epoch,
/// 8 producer seq, 9 expected seq, 10 received seq, 11 message; then what the caller must apply to the global keys:
/// 12 streams retired, 13 their bytes, 14 the source of a retired fork (its hold is to be released: '' = none),
/// 15 the stream's new expiry deadline in ms ('' = unchanged); script-specific values from 16 on.
/// </remarks>
internal static class DurableScripts
{
    /// <summary>The outcome a probing create or append returns when it would have gone ahead.</summary>
    public const int Absent = -1;

    /// <summary>Index of the first script-specific value in a result (0-based).</summary>
    public const int Extra = 15;

    /// <summary>Outcome codes, as <see cref="Tokenflow.Core.Durable.DurableOutcome"/> numbers them.</summary>
    private const string Prelude = """
        local OK, CREATED, EXISTS, ACCEPTED, DUPLICATE, NOTFOUND, GONE, CONFLICT, CLOSED, INVALID, STALE, GAP, FULL = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
        local ABSENT = -1
        local B = KEYS[1]
        local M, D, P, FK, CH = B .. ':m', B .. ':d', B .. ':p', B .. ':f', B .. ':n'
        -- What the caller applies to the global keys after the script.
        local E = {n = 0, b = 0, src = ''}

        -- Ordinal (byte-wise) comparison: Lua's string '<' follows the server's collation locale.
        local function cmp(a, b)
          local n = math.min(#a, #b)
          for i = 1, n do
            local x, y = string.byte(a, i), string.byte(b, i)
            if x ~= y then if x < y then return -1 else return 1 end end
          end
          if #a < #b then return -1 elseif #a > #b then return 1 else return 0 end
        end

        -- The expiry deadline (ms) of the stream, or nil when it has none.
        local function deadline()
          local v = redis.call('HMGET', M, 'exms', 'ttl', 'tu')
          local d
          if v[2] then d = tonumber(v[3]) + tonumber(v[2]) * 1000 end
          if v[1] and (not d or tonumber(v[1]) < d) then d = tonumber(v[1]) end
          return d
        end

        -- Deletes the stream, or soft-deletes it while forks hold it. The caller releases its source's hold.
        local function retire()
          if redis.call('SCARD', FK) > 0 then
            redis.call('HSET', M, 's', '1')
            redis.call('PUBLISH', CH, 'x')
            return
          end
          local v = redis.call('HMGET', M, 'b', 'ff')
          redis.call('DEL', M, D, P, FK)
          E.n = E.n + 1
          E.b = E.b + tonumber(v[1] or '0')
          if v[2] and v[2] ~= '' then E.src = v[2] end
          redis.call('PUBLISH', CH, 'x')
        end

        -- nil (absent), 'soft' (deleted, kept for forks) or 'live'; retires the stream first when it expired.
        local function lookup(now)
          local s = redis.call('HGET', M, 's')
          if not s then return nil end
          if s == '1' then return 'soft' end
          local d = deadline()
          if d and d <= now then
            retire()
            if redis.call('EXISTS', M) == 1 then return 'soft' end
            return nil
          end
          return 'live'
        end

        -- OK when the caller may use the stream, else NOTFOUND or GONE.
        local function find(owner, now)
          local st = lookup(now)
          if not st or redis.call('HGET', M, 'o') ~= owner then return NOTFOUND end
          if st == 'soft' then return GONE end
          return OK
        end

        local function touch(now)
          redis.call('HSET', M, 'tu', now)
          if redis.call('HEXISTS', M, 'ttl') == 1 then E.dl = deadline() end
        end

        local function result(code, here, message)
          local r = {code, '', '', '', '', '', '', '', '', '', message or ''}
          if here then
            local v = redis.call('HMGET', M, 't', 'c', 'ct', 'ttl', 'ex')
            for i = 1, 5 do r[i + 1] = v[i] or '' end
          end
          r[12], r[13], r[14] = E.n, E.b, E.src
          if E.dl then r[15] = string.format('%d', E.dl) else r[15] = '' end
          return r
        end

        local function fail(code, message) return result(code, false, message) end

        """;

    /// <summary>
    /// PUT. ARGV: 1 path, 2 owner, 3 content type ('' = inherit/default), 4 its media type, 5 ttl s (''),
    /// 6 expires-at ticks (''), 7 expires-at ms (''), 8 close (1/0), 9 forked-from (''), 10 fork offset ('' = the
    /// source's tail), 11 fork sub-offset, 12 now ms, 13 the body's split error (''), 14 instance key, 15 probe (1: only
    /// look for an existing stream, answer <see cref="Absent"/> when there is none), 16 the source's content type and
    /// 17 its media type (forks), 18 ttl, 19 expires-at ticks, 20 expires-at ms the fork inherits, 21 the resolved fork
    /// offset, 22 N inherited entries, then N entry ids, N entry data, then the body's messages. The caller has charged
    /// the stream and its bytes to the global budget. Extra result: 16 the forked-from of a stream already at the path.
    /// </summary>
    public const string Create = Prelude + """
        local p, owner, ct, mt, ttl, ex, exms = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
        local close, ff, fo, fsub, now = ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11]), tonumber(ARGV[12])
        local st = lookup(now)
        if st then
          local r
          local v = redis.call('HMGET', M, 'mt', 'ff', 'fo', 'fs', 'ttl', 'ex', 'c', 'o')
          if st == 'soft' or v[8] ~= owner then
            r = fail(CONFLICT, 'A stream exists at this path.')
          else
            local same_type
            if ct == '' then same_type = ff ~= '' or v[1] == 'application/octet-stream' else same_type = mt == v[1] end
            local same_fork = ff == (v[2] or '') and (fo == '' or fo == v[3]) and tostring(fsub) == v[4]
            if same_type and same_fork and ttl == (v[5] or '') and ex == (v[6] or '') and close == v[7] then
              r = result(EXISTS, true)
            else
              r = fail(CONFLICT, 'A stream exists at this path with a different configuration.')
            end
          end
          r[16] = v[2] or ''
          return r
        end
        if ARGV[15] == '1' then return fail(ABSENT) end
        if ff ~= '' then
          if ct == '' then ct, mt = ARGV[16], ARGV[17] end
          if ttl == '' and ex == '' then ttl, ex, exms = ARGV[18], ARGV[19], ARGV[20] end
        end
        if ct == '' then ct, mt = 'application/octet-stream', 'application/octet-stream' end
        if ARGV[13] ~= '' then return fail(INVALID, ARGV[13]) end
        local json = mt == 'application/json'
        local n = tonumber(ARGV[22])
        local size, tail = 0, 0
        redis.call('DEL', D, P)
        for i = 23, 22 + n do
          tail = tonumber(ARGV[i])
          size = size + #ARGV[i + n]
          redis.call('XADD', D, string.format('%d-0', tail), 'd', ARGV[i + n])
        end
        for i = 23 + 2 * n, #ARGV do
          if json then tail = tail + 1 else tail = tail + #ARGV[i] end
          size = size + #ARGV[i]
          redis.call('XADD', D, string.format('%d-0', tail), 'd', ARGV[i])
        end
        local j = '0'
        if json then j = '1' end
        local offset = 0
        if ff ~= '' then offset = ARGV[21] end
        redis.call('HSET', M, 'k', ARGV[14], 'o', owner, 'ct', ct, 'mt', mt, 'j', j, 't', tail, 'b', size, 'c', close, 's', '0',
          'tu', now, 'ff', ff, 'fo', offset, 'fs', fsub)
        if ttl ~= '' then redis.call('HSET', M, 'ttl', ttl) end
        if ex ~= '' then redis.call('HSET', M, 'ex', ex, 'exms', exms) end
        E.dl = deadline()
        return result(CREATED, true)
        """;

    /// <summary>
    /// The source half of a fork, on the source's shard: checks the source, records the fork's hold on it and returns
    /// what the fork inherits. ARGV: 1 fork path, 2 owner, 3 now ms, 4 the fork's media type ('' = inherit), 5 fork
    /// offset ('' = the tail), 6 fork sub-offset. Extra result: 16 content type, 17 media type, 18 ttl, 19 expires-at ticks,
    /// 20 expires-at ms, 21 the resolved fork offset, 22 N entries, then N entry ids and N entry data (the last one cut
    /// at the fork point for byte streams).
    /// </summary>
    public const string ForkSource = Prelude + """
        local fp, owner, now, mt, fo, fsub = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
        local st = lookup(now)
        if not st or redis.call('HGET', M, 'o') ~= owner then return fail(NOTFOUND, 'The source stream does not exist.') end
        if st == 'soft' then return fail(CONFLICT, 'The source stream was deleted.') end
        local sv = redis.call('HMGET', M, 'ct', 'mt', 'ttl', 'ex', 'exms', 't')
        if mt ~= '' and mt ~= sv[2] then return fail(CONFLICT, "A fork's content type must match its source's.") end
        local stail = tonumber(sv[6])
        local offset = stail
        if fo ~= '' then offset = tonumber(fo) end
        local target = offset + fsub
        if offset > stail or target > stail then return fail(INVALID, 'The fork offset is past the end of the source stream.') end
        local ids, data = {}, {}
        if target > 0 then
          for _, e in ipairs(redis.call('XRANGE', D, '-', string.format('%d-0', target))) do
            ids[#ids + 1] = tonumber(string.match(e[1], '^(%d+)'))
            data[#data + 1] = e[2][2]
          end
          local last = 0
          if #ids > 0 then last = ids[#ids] end
          if last < target then
            local e = redis.call('XRANGE', D, string.format('%d-0', target + 1), '+', 'COUNT', 1)[1]
            ids[#ids + 1] = target
            data[#data + 1] = string.sub(e[2][2], 1, target - last)
          end
        end
        redis.call('SADD', FK, fp)
        local r = fail(OK)
        for i = 1, 5 do r[15 + i] = sv[i] or '' end
        r[21] = offset
        r[22] = #ids
        for i = 1, #ids do r[22 + i] = string.format('%d', ids[i]) end
        for i = 1, #data do r[22 + #ids + i] = data[i] end
        return r
        """;

    /// <summary>
    /// Drops a fork's hold on its source (the fork is gone, or its create failed); retires the source when it was
    /// deleted and this was its last fork. ARGV: 1 fork path.
    /// </summary>
    public const string Release = Prelude + """
        redis.call('SREM', FK, ARGV[1])
        if redis.call('HGET', M, 's') == '1' and redis.call('SCARD', FK) == 0 then retire() end
        return fail(OK)
        """;

    /// <summary>
    /// POST. ARGV: 1 path, 2 owner, 3 the request's media type, 4 has body (1/0), 5 close (1/0), 6 Stream-Seq (''),
    /// 7 producer id (''), 8 epoch, 9 seq, 10 now ms, 11 the body's split error (''), 12 probe (1: validate only, answer
    /// <see cref="Absent"/> when the append would go ahead), 13 the global counters key when the script is to charge the
    /// bytes itself (a single server, where any key is at hand: answers FULL when they do not fit), or '' when the caller
    /// has charged them, 14 max bytes, then the body's messages.
    /// </summary>
    public const string Append = Prelude + """
        local p, owner, mt, body, close, sseq, producer, epoch, seq, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], tonumber(ARGV[10])
        local code = find(owner, now)
        if code ~= OK then return fail(code) end
        if body == '0' and close == '0' then return fail(INVALID, 'An append needs a body (or Stream-Closed: true).') end
        local v = redis.call('HMGET', M, 'c', 'cb', 'mt', 'j', 'ls', 't')
        if v[1] == '1' then
          if producer ~= '' and v[2] == producer .. '\n' .. epoch .. '\n' .. seq then
            local r = result(DUPLICATE, true)
            r[7], r[8] = epoch, seq
            return r
          end
          if close == '1' and body == '0' then return result(OK, true) end
          return result(CLOSED, true, 'The stream is closed.')
        end
        if body == '1' and mt ~= v[3] then return fail(CONFLICT, 'The content type does not match the stream\'s.') end
        if producer ~= '' then
          local current = redis.call('HGET', P, producer)
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
                local r = result(DUPLICATE, true)
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
        if ARGV[11] ~= '' then return fail(INVALID, ARGV[11]) end
        if ARGV[12] == '1' then return fail(ABSENT) end
        local tail, json, size = tonumber(v[6]), v[4] == '1', 0
        for i = 15, #ARGV do size = size + #ARGV[i] end
        if ARGV[13] ~= '' and size > 0 then
          if tonumber(redis.call('HGET', ARGV[13], 'b') or '0') + size > tonumber(ARGV[14]) then return fail(FULL, 'The stream store is full.') end
          redis.call('HINCRBY', ARGV[13], 'b', size)
        end
        for i = 15, #ARGV do
          if json then tail = tail + 1 else tail = tail + #ARGV[i] end
          redis.call('XADD', D, string.format('%d-0', tail), 'd', ARGV[i])
        end
        redis.call('HSET', M, 't', tail)
        redis.call('HINCRBY', M, 'b', size)
        if producer ~= '' then redis.call('HSET', P, producer, epoch .. ' ' .. seq) end
        if sseq ~= '' then redis.call('HSET', M, 'ls', sseq) end
        if close == '1' then
          redis.call('HSET', M, 'c', '1')
          if producer ~= '' then redis.call('HSET', M, 'cb', producer .. '\n' .. epoch .. '\n' .. seq) else redis.call('HDEL', M, 'cb') end
        end
        touch(now)
        -- Waiters take a number as the new tail; anything else ('x') makes them look at the stream.
        if close == '1' then redis.call('PUBLISH', CH, 'x') else redis.call('PUBLISH', CH, string.format('%d', tail)) end
        if producer ~= '' then
          local r = result(ACCEPTED, true)
          r[7], r[8] = epoch, seq
          return r
        end
        return result(OK, true)
        """;

    /// <summary>
    /// GET. ARGV: 1 path, 2 owner, 3 position ('' = the tail), 4 now ms, 5 max bytes to return.
    /// Extra result: 16 json (1/0), 17 instance key, 18 start, 19 next, then the data.
    /// </summary>
    public const string Read = Prelude + """
        local owner, pos, now, budget = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
        local code = find(owner, now)
        if code ~= OK then return fail(code) end
        touch(now)
        local v = redis.call('HMGET', M, 't', 'j', 'k')
        local tail, json = tonumber(v[1]), v[2] == '1'
        local start = tail
        if pos ~= '' then start = tonumber(pos) end
        if start < 0 or start > tail then return fail(INVALID, 'The offset is past the end of the stream.') end
        local r = result(OK, true)
        r[16], r[17], r[18], r[19] = v[2], v[3], start, start
        local nxt, cursor, first = start, start + 1, #r + 1
        while nxt < tail and (#r < first or budget > 0) do
          local entries = redis.call('XRANGE', D, string.format('%d-0', cursor), '+', 'COUNT', 256)
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
        r[19] = nxt
        return r
        """;

    /// <summary>HEAD. ARGV: 1 path, 2 owner, 3 now ms. Does not refresh a sliding TTL.</summary>
    public const string Info = Prelude + """
        local code = find(ARGV[2], tonumber(ARGV[3]))
        if code ~= OK then return fail(code) end
        return result(OK, true)
        """;

    /// <summary>DELETE. ARGV: 1 path, 2 owner, 3 now ms.</summary>
    public const string Delete = Prelude + """
        local st = lookup(tonumber(ARGV[3]))
        if not st or redis.call('HGET', M, 'o') ~= ARGV[2] then return fail(NOTFOUND) end
        if st == 'soft' then return fail(GONE) end
        retire()
        return fail(OK)
        """;

    /// <summary>
    /// The sweep's look at one stream whose deadline came: retires it when it expired. ARGV: 1 now ms. Extra result:
    /// 16 its real deadline ('' = it has none any more: gone, soft-deleted or without expiry).
    /// </summary>
    public const string Expire = Prelude + """
        local r
        if lookup(tonumber(ARGV[1])) == 'live' then
          local d = deadline()
          r = fail(OK)
          if d then r[16] = string.format('%d', d) else r[16] = '' end
        else
          r = fail(OK)
          r[16] = ''
        end
        return r
        """;

    /// <summary>
    /// Takes a new stream and/or bytes from the global budget, all or nothing. KEYS: 1 the counters hash, 2 the
    /// deadlines set. ARGV: 1 streams, 2 bytes, 3 max streams, 4 max bytes, 5 path, 6 its expiry deadline ms ('' = none),
    /// recorded (only ever earlier: <c>ZADD LT</c>) before the stream exists, so a process that dies after creating it
    /// still leaves it to the sweep. Returns 0, 1 (no stream left) or 2 (no bytes left).
    /// </summary>
    public const string Reserve = """
        local n, b = tonumber(ARGV[1]), tonumber(ARGV[2])
        if n > 0 and tonumber(redis.call('HGET', KEYS[1], 'n') or '0') + n > tonumber(ARGV[3]) then return 1 end
        if b > 0 and tonumber(redis.call('HGET', KEYS[1], 'b') or '0') + b > tonumber(ARGV[4]) then return 2 end
        if n ~= 0 then redis.call('HINCRBY', KEYS[1], 'n', n) end
        if b ~= 0 then redis.call('HINCRBY', KEYS[1], 'b', b) end
        if ARGV[6] ~= '' then redis.call('ZADD', KEYS[2], 'LT', ARGV[6], ARGV[5]) end
        return 0
        """;

    /// <summary>Gives streams and bytes back to the global budget (refunds and retirements). KEYS: 1 the counters hash. ARGV: 1 streams, 2 bytes.</summary>
    public const string Charge = """
        if ARGV[1] ~= '0' then redis.call('HINCRBY', KEYS[1], 'n', 0 - tonumber(ARGV[1])) end
        if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[1], 'b', 0 - tonumber(ARGV[2])) end
        return 0
        """;

    /// <summary>
    /// Settles a deadline the sweep looked at, unless someone moved it meanwhile. KEYS: 1 the deadlines set. ARGV: 1 path,
    /// 2 the score the sweep saw, 3 the real deadline ('' = remove).
    /// </summary>
    public const string Deadline = """
        local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if not s or tonumber(s) ~= tonumber(ARGV[2]) then return 0 end
        if ARGV[3] == '' then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
        return 1
        """;
}
