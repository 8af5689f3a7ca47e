-- get-lock(lock): ARGV[3]. { 'ok', { lock, holders, waiters } } (State::lock_info).
return { 'ok', lock_record(ARGV[3]) }
