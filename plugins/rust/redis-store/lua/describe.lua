-- describe(store-id candidate): the store's id (set on first use), head and groups.
-- ARGV[3]: a fresh random id, kept only if the namespace has none yet.
redis.call('SET', P .. 'id', ARGV[3], 'NX')
return { 'ok', redis.call('GET', P .. 'id'), head(), redis.call('ZRANGE', K_GROUPS, 0, -1) }
