package sqlite

import "database/sql"

// Pools exposes the store's write and read connections to the tests.
func Pools(db *DB) (write, read *sql.DB) { return db.write, db.read }
