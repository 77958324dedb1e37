-- KEYS: 1 a tenant's index, 2 its expiry set. Drops up to 1,000 expired jobs; returns how many.
--- @include "./includes/trim-index.lua"
return trimIndex(KEYS[1], KEYS[2])
