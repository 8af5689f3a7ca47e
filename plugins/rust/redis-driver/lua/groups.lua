-- groups(): every group id, sorted by bytes.
return { 'ok', redis.call('ZRANGE', K_GROUPS, 0, -1) }
