module bulkhead.local/pause

go 1.24
