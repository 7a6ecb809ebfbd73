package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Pool exposes the store's connections to the tests.
func Pool(db *DB) *pgxpool.Pool { return db.pool }
