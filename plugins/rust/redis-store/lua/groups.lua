-- groups(): every group id, sorted by bytes (State::groups).
return { 'ok', redis.call('ZRANGE', K_GROUPS, 0, -1) }
