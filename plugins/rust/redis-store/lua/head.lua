-- head(): the newest revision.
return { 'ok', head() }
